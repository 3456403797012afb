/**
 * Fixtures of the structured-model tests: planted multi-task problems, the loss and its gradient
 * at a fitted model written out from their formulas (independent of the solver), a "no descent
 * direction" check of a convex objective, a dense linear solver, and the adjusted Rand index.
 */
import { expect } from 'chai';
import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { MultiTaskDataset } from '../lib/data/dataset.js';
import { solveDense } from './helpers.js';

/** Tasks with rows X ~ N(0, 1), y = X w_t + b_t + noise (squared) or y ~ Bernoulli(sigmoid(.)) (logistic). */
export function plantedTasks(
  seed: number,
  W: number[][],
  options: { rows: number | number[]; noise?: number; intercepts?: number[]; logistic?: boolean; names?: string[] },
): MultiTaskDataset {
  const rng = new Rng(seed);
  const d = W[0]!.length;
  return new MultiTaskDataset(
    W.map((w, t) => {
      const n = Array.isArray(options.rows) ? options.rows[t % options.rows.length]! : options.rows;
      const X = Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal()));
      const y = X.map((r) => {
        const z = r.reduce((s, v, j) => s + v * w[j]!, options.intercepts?.[t] ?? 0);
        if (options.logistic) return rng.uniform() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
        return z + (options.noise ?? 0.1) * rng.normal();
      });
      return { name: options.names?.[t] ?? `task${t}`, X, y, type: options.logistic ? ('binary' as const) : ('regression' as const) };
    }),
  );
}

/** Per-task mean losses sum_t (1/n_t) l_t at (W, b): (1/2) squared error or the logistic loss. */
export function lossValue(ds: MultiTaskDataset, coef: Matrix<Float64Array>, intercept: ArrayLike<number>, loss: 'squared' | 'logistic'): number {
  let total = 0;
  ds.tasks.forEach((task, t) => {
    const { rows: n, cols: d, data } = task.X;
    let s = 0;
    for (let i = 0; i < n; i++) {
      let z = intercept[t]!;
      for (let j = 0; j < d; j++) z += data[i * d + j]! * coef.data[t * d + j]!;
      s += loss === 'squared' ? 0.5 * (z - task.y[i]!) ** 2 : Math.log1p(Math.exp(-Math.abs(z))) + Math.max(z, 0) - task.y[i]! * z;
    }
    total += s / n;
  });
  return total;
}

/** G = -grad_W of sum_t (1/n_t) l_t at (W, b): G[t, j] = X_t[:, j]^T (y_t - prediction) / n_t. */
export function negLossGradient(ds: MultiTaskDataset, coef: Matrix<Float64Array>, intercept: ArrayLike<number>, loss: 'squared' | 'logistic'): Matrix<Float64Array> {
  const T = ds.nTasks;
  const d = ds.nFeatures;
  const G = new Float64Array(T * d);
  ds.tasks.forEach((task, t) => {
    const n = task.X.rows;
    for (let i = 0; i < n; i++) {
      let z = intercept[t]!;
      for (let j = 0; j < d; j++) z += task.X.data[i * d + j]! * coef.data[t * d + j]!;
      const pred = loss === 'squared' ? z : 1 / (1 + Math.exp(-z));
      const r = task.y[i]! - pred;
      for (let j = 0; j < d; j++) G[t * d + j]! += (task.X.data[i * d + j]! * r) / n;
    }
  });
  return { rows: T, cols: d, data: G };
}

/**
 * A convex F is minimal at x iff no direction decreases it: F(x + e D) >= F(x) - slack for
 * random directions D (and every coordinate direction, both signs) at several step sizes e.
 */
export function expectNoDescent(F: (x: Float64Array) => number, x: Float64Array, seed: number, slack = 1e-10): void {
  const rng = new Rng(seed);
  const f0 = F(x);
  const tol = slack * Math.max(1, Math.abs(f0));
  const dirs: Float64Array[] = [];
  for (let i = 0; i < x.length; i++) for (const s of [1, -1]) dirs.push(Float64Array.from({ length: x.length }, (_, k) => (k === i ? s : 0)));
  for (let r = 0; r < 40; r++) dirs.push(Float64Array.from({ length: x.length }, () => rng.normal()));
  for (const D of dirs) {
    for (const e of [1e-2, 1e-4]) {
      const y = x.map((v, k) => v + e * D[k]!);
      expect(F(y), `F decreases along a direction at step ${e}`).to.be.at.least(f0 - tol);
    }
  }
}

/**
 * The squared-loss problem min sum_t (1/(2 n_t)) ||X_t w_t + b_t - y_t||^2 + vec(W)^T Q vec(W)
 * for a quadratic penalty Q (Td x Td, W row-major), b_t unpenalised, solved as one dense linear
 * system over [vec(W), b].
 */
export function quadraticSolve(ds: MultiTaskDataset, penalty: (i: number, k: number) => number): { coef: Float64Array; intercept: Float64Array } {
  const T = ds.nTasks;
  const d = ds.nFeatures;
  const p = T * d + T;
  const A = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  const b = new Array<number>(p).fill(0);
  ds.tasks.forEach((task, t) => {
    const n = task.X.rows;
    for (let i = 0; i < n; i++) {
      const z = new Map<number, number>();
      for (let j = 0; j < d; j++) z.set(t * d + j, task.X.data[i * d + j]!);
      z.set(T * d + t, 1);
      for (const [k, v] of z) {
        b[k]! += (v * task.y[i]!) / n;
        for (const [l, u] of z) A[k]![l]! += (v * u) / n;
      }
    }
  });
  // d/dW of vec^T Q vec is 2 Q vec (Q symmetric).
  for (let i = 0; i < T * d; i++) for (let k = 0; k < T * d; k++) A[i]![k]! += 2 * penalty(i, k);
  const theta = solveDense(A, b);
  return { coef: Float64Array.from(theta.slice(0, T * d)), intercept: Float64Array.from(theta.slice(T * d)) };
}

/** Adjusted Rand index of two labelings (Hubert & Arabie 1985): 1 for the same partition, about 0 by chance. */
export function adjustedRandIndex(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const pairs = (m: number) => (m * (m - 1)) / 2;
  const joint = new Map<string, number>();
  const ca = new Map<number, number>();
  const cb = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    joint.set(`${a[i]},${b[i]}`, (joint.get(`${a[i]},${b[i]}`) ?? 0) + 1);
    ca.set(a[i]!, (ca.get(a[i]!) ?? 0) + 1);
    cb.set(b[i]!, (cb.get(b[i]!) ?? 0) + 1);
  }
  let index = 0;
  for (const v of joint.values()) index += pairs(v);
  let sa = 0;
  let sb = 0;
  for (const v of ca.values()) sa += pairs(v);
  for (const v of cb.values()) sb += pairs(v);
  const expected = (sa * sb) / pairs(n);
  const max = (sa + sb) / 2;
  return max === expected ? 1 : (index - expected) / (max - expected);
}

/** Column norms ||W[:, j]|| and row norms ||W[t, :]|| of a T x d matrix. */
export function columnNorms(w: Matrix<Float64Array>): number[] {
  return Array.from({ length: w.cols }, (_, j) => Math.sqrt(Array.from({ length: w.rows }, (_, t) => w.data[t * w.cols + j]! ** 2).reduce((a, b) => a + b, 0)));
}
export function rowNormsOf(w: Matrix<Float64Array>): number[] {
  return Array.from({ length: w.rows }, (_, t) => Math.sqrt(Array.from(w.data.subarray(t * w.cols, (t + 1) * w.cols), (v) => v * v).reduce((a, b) => a + b, 0)));
}

/**
 * Optimality of a group-norm part lambda sum_g ||V_g|| (groups: feature columns or task rows) at
 * the negative gradient G: G_g = lambda V_g / ||V_g|| on a non-zero group, ||G_g|| <= lambda on a
 * zero one. Returns how many groups are zero.
 */
export function expectGroupKkt(G: Matrix<Float64Array>, V: Matrix<Float64Array>, lambda: number, groups: 'features' | 'tasks', tol: number): number {
  const { rows: T, cols: d } = V;
  const idx = (g: number, i: number) => (groups === 'features' ? i * d + g : g * d + i);
  const n = groups === 'features' ? d : T;
  const len = groups === 'features' ? T : d;
  let zero = 0;
  for (let g = 0; g < n; g++) {
    let vn = 0;
    let gn = 0;
    for (let i = 0; i < len; i++) {
      vn += V.data[idx(g, i)]! ** 2;
      gn += G.data[idx(g, i)]! ** 2;
    }
    vn = Math.sqrt(vn);
    if (vn > 0) for (let i = 0; i < len; i++) expect(G.data[idx(g, i)]!, `group ${g}`).to.be.closeTo((lambda * V.data[idx(g, i)]!) / vn, tol);
    else {
      zero++;
      expect(Math.sqrt(gn), `zero group ${g}`).to.be.at.most(lambda + tol);
    }
  }
  return zero;
}

/** Optimality of lambda ||V||_1: G = lambda sign(V) where V != 0, |G| <= lambda elsewhere. Returns the zeros. */
export function expectL1Kkt(G: Matrix<Float64Array>, V: Matrix<Float64Array>, lambda: number, tol: number): number {
  let zero = 0;
  V.data.forEach((v, i) => {
    if (v !== 0) expect(G.data[i]!, `entry ${i}`).to.be.closeTo(lambda * Math.sign(v), tol);
    else {
      zero++;
      expect(Math.abs(G.data[i]!), `zero entry ${i}`).to.be.at.most(lambda + tol);
    }
  });
  return zero;
}

/**
 * G minus the gradient of the smooth penalty lambdaGraph tr(W^T L W) + lambdaRidge ||W||^2, i.e.
 * G - 2 lambdaGraph L W - 2 lambdaRidge W: what the non-smooth part's subgradient must equal.
 */
export function minusLaplacianGradient(G: Matrix<Float64Array>, W: Matrix<Float64Array>, L: number[][], lambdaGraph: number, lambdaRidge: number): Matrix<Float64Array> {
  const { rows: T, cols: d } = W;
  const rest = { rows: T, cols: d, data: G.data.slice() };
  for (let t = 0; t < T; t++)
    for (let j = 0; j < d; j++) {
      let lw = 0;
      for (let s = 0; s < T; s++) lw += L[t]![s]! * W.data[s * d + j]!;
      rest.data[t * d + j]! -= 2 * lambdaGraph * lw + 2 * lambdaRidge * W.data[t * d + j]!;
    }
  return rest;
}
