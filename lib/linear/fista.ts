/**
 * FISTA with backtracking (Beck & Teboulle, "A fast iterative shrinkage-thresholding algorithm
 * for linear inverse problems", SIAM J. Imaging Sci. 2, 2009) for
 *     min_{W, b}  F(W, b) = f(W, b) + g(W)
 * with f smooth (per-task losses through kernels().taskLoss) and g a penalty with a cheap prox
 * (groupSoftThreshold for L2,1, svt for the trace norm). The intercepts b are unpenalised: their
 * prox is the identity, and they are only updated when `optimizeIntercept` is set.
 *
 * Iteration k (step 1/L):  Z = prox_{g/L}(Y - grad f(Y) / L), with L doubled until
 *     f(Z) <= f(Y) + <grad f(Y), Z - Y> + (L/2) ||Z - Y||^2      (the backtracking test),
 * then t' = (1 + sqrt(1 + 4 t^2)) / 2 and Y = Z + ((t - 1)/t') (Z - X_prev).
 * When F(Z) > F(X_prev) the momentum is reset (t = 1, Y = X_prev; adaptive restart of O'Donoghue &
 * Candes 2015), which makes the iterates monotone and the convergence linear on strongly convex
 * problems, without changing the O(1/k^2) guarantee.
 * Stops when |F_k - F_{k-1}| <= tol max(|F_k|, 1e-300) after a non-restart step, or at maxIter.
 */
import { transpose, type Matrix } from '../core/matrix.js';
import { kernels } from '../kernels/index.js';
import { centrePerTask, interceptsFrom, type Solution, type TaskProblem, type Work } from './taskModel.js';

export interface FistaSpec {
  /** f(W, b); when gw/gb are given, writes the gradient into them. */
  smooth(w: Matrix<Float64Array>, b: Float64Array, gw: Matrix<Float64Array> | null, gb: Float64Array | null): number;
  /** In place: W <- prox_{step g}(W); returns g(W) at the result. */
  prox(w: Matrix<Float64Array>, step: number): number;
  /** g(W). */
  penalty(w: Matrix<Float64Array>): number;
  /** Update the intercepts (unpenalised) too. */
  optimizeIntercept: boolean;
}

export interface FistaOptions {
  tol: number;
  maxIter: number;
  /** Initial Lipschitz estimate (e.g. the final one of the previous point of a path). Default 1. */
  lipschitz?: number;
}

export interface FistaResult {
  w: Matrix<Float64Array>;
  b: Float64Array;
  /** F at the start and after every iteration. */
  history: number[];
  nIter: number;
  /** The final Lipschitz estimate (for warm starts). */
  lipschitz: number;
  converged: boolean;
}

export function* fista(spec: FistaSpec, w0: Matrix<Float64Array>, b0: Float64Array, o: FistaOptions): Work<FistaResult> {
  const { rows, cols } = w0;
  const nw = rows * cols;
  const T = b0.length;
  const mk = (): Matrix<Float64Array> => ({ rows, cols, data: new Float64Array(nw) });
  // x: current iterate, y: extrapolated point, z: candidate.
  const x = { rows, cols, data: w0.data.slice() };
  const bx = b0.slice();
  const y = { rows, cols, data: w0.data.slice() };
  const by = b0.slice();
  const z = mk();
  const bz = new Float64Array(T);
  const gw = mk();
  const gb = new Float64Array(T);
  let L = o.lipschitz && o.lipschitz > 0 ? o.lipschitz : 1;
  let t = 1;
  let Fx = spec.smooth(x, bx, null, null) + spec.penalty(x);
  const history = [Fx];
  let iter = 0;
  let converged = false;
  let restarted = false;
  while (iter < o.maxIter) {
    iter++;
    const fy = spec.smooth(y, by, gw, spec.optimizeIntercept ? gb : null);
    let fz = 0;
    let gz = 0;
    for (let bt = 0; ; bt++) {
      const step = 1 / L;
      for (let i = 0; i < nw; i++) z.data[i] = y.data[i]! - step * gw.data[i]!;
      gz = spec.prox(z, step);
      if (spec.optimizeIntercept) for (let i = 0; i < T; i++) bz[i] = by[i]! - step * gb[i]!;
      else bz.set(by);
      fz = spec.smooth(z, bz, null, null);
      let lin = 0;
      let sq = 0;
      for (let i = 0; i < nw; i++) {
        const dlt = z.data[i]! - y.data[i]!;
        lin += gw.data[i]! * dlt;
        sq += dlt * dlt;
      }
      if (spec.optimizeIntercept) {
        for (let i = 0; i < T; i++) {
          const dlt = bz[i]! - by[i]!;
          lin += gb[i]! * dlt;
          sq += dlt * dlt;
        }
      }
      // A relative slack of a few ulps keeps rounding from doubling L forever near the optimum.
      if (fz <= fy + lin + 0.5 * L * sq + 1e-12 * Math.abs(fy) || sq === 0 || bt >= 60) break;
      L *= 2;
    }
    const Fz = fz + gz;
    if (Fz > Fx) {
      // Two restarts in a row: even a plain step from x cannot decrease F, so x is optimal up to
      // rounding.
      if (restarted) {
        converged = true;
        break;
      }
      restarted = true;
      // Restart: drop the momentum and take a plain proximal-gradient step from x next time.
      t = 1;
      y.data.set(x.data);
      by.set(bx);
      history.push(Fx);
      yield { phase: 'fit', iter, objective: Fx };
      continue;
    }
    restarted = false;
    const tNext = (1 + Math.sqrt(1 + 4 * t * t)) / 2;
    const mom = (t - 1) / tNext;
    for (let i = 0; i < nw; i++) {
      const zi = z.data[i]!;
      y.data[i] = zi + mom * (zi - x.data[i]!);
      x.data[i] = zi;
    }
    for (let i = 0; i < T; i++) {
      const zi = bz[i]!;
      by[i] = zi + mom * (zi - bx[i]!);
      bx[i] = zi;
    }
    t = tNext;
    const change = Math.abs(Fx - Fz);
    Fx = Fz;
    history.push(Fx);
    yield { phase: 'fit', iter, objective: Fx };
    if (change <= o.tol * Math.max(Math.abs(Fx), 1e-300)) {
      converged = true;
      break;
    }
  }
  return { w: x, b: bx, history, nIter: iter, lipschitz: L, converged };
}

// ------------------------------------------------------------------------------------------------
// The adapter used by L21Regression, L21Logistic and TraceNormRegression: per-task losses over
// stacked rows, each task's loss scaled by 1/n_t (so the smooth part is the sum over tasks of the
// task's mean loss: sum_t (1/(2 n_t)) ||X_t w_t + b_t - y_t||^2 for squared loss, which is
// scikit-learn's MultiTaskLasso data term when all tasks share their rows), plus alpha g(W).
// ------------------------------------------------------------------------------------------------

export type PenaltyKind = 'l21' | 'trace';

/** g(W) for W T x d: L2,1 = sum over features j of ||W[:, j]||_2; trace = sum of singular values. */
export function penaltyValue(kind: PenaltyKind, w: Matrix<Float64Array>): number {
  if (kind === 'trace') {
    if (w.rows === 0 || w.cols === 0) return 0;
    let s = 0;
    for (const v of kernels().svd(w).s) s += v;
    return s;
  }
  const { rows: T, cols: d, data } = w;
  let s = 0;
  for (let j = 0; j < d; j++) {
    let ss = 0;
    for (let t = 0; t < T; t++) ss += data[t * d + j]! * data[t * d + j]!;
    s += Math.sqrt(ss);
  }
  return s;
}

/** In place prox of threshold * g. L2,1 groups are features (columns of the T x d W). */
export function penaltyProx(kind: PenaltyKind, w: Matrix<Float64Array>, threshold: number): number {
  if (kind === 'trace') {
    const r = kernels().svt(w, threshold);
    w.data.set(r.result.data);
    return r.nuclearNorm;
  }
  // groupSoftThreshold works on rows: work on W^T (d x T, row j = feature j across tasks).
  const wt = transpose(w);
  kernels().groupSoftThreshold(wt, threshold);
  const back = transpose(wt);
  w.data.set(back.data);
  return penaltyValue('l21', w);
}

/** Dual norm of g at a gradient G: max_j ||G[:, j]|| (L2,1) or the spectral norm (trace). */
export function dualNorm(kind: PenaltyKind, g: Matrix<Float64Array>): number {
  if (kind === 'trace') return kernels().svd(g).s[0] ?? 0;
  const { rows: T, cols: d, data } = g;
  let m = 0;
  for (let j = 0; j < d; j++) {
    let ss = 0;
    for (let t = 0; t < T; t++) ss += data[t * d + j]! * data[t * d + j]!;
    m = Math.max(m, Math.sqrt(ss));
  }
  return m;
}

function invCounts(p: TaskProblem): Float64Array {
  const s = new Float64Array(p.T);
  for (let t = 0; t < p.T; t++) {
    const n = p.offsets[t + 1]! - p.offsets[t]!;
    s[t] = n > 0 ? 1 / n : 0;
  }
  return s;
}

/** The internal (centred-space) state kept for warm starts. */
interface ProxWarm {
  w: Matrix<Float64Array>;
  b: Float64Array;
  lipschitz: number;
}

/**
 * The problem a prox model solves: X centred per task when fitIntercept (for squared loss y too,
 * so the intercepts drop out; for logistic loss the intercepts stay in and are optimised
 * unpenalised, starting from the log-odds of each task).
 */
function prepared(p: TaskProblem, loss: 'squared' | 'logistic', fitIntercept: boolean) {
  const c = fitIntercept ? centrePerTask(p, loss === 'squared') : null;
  const q = c ? c.p : p;
  const b0 = new Float64Array(p.T);
  if (loss === 'logistic' && fitIntercept) {
    for (let t = 0; t < p.T; t++) {
      let s = 0;
      const a = p.offsets[t]!;
      const e = p.offsets[t + 1]!;
      for (let i = a; i < e; i++) s += p.y[i]!;
      // Clamped so that a task with one class gives a large finite log-odds, not Infinity.
      const m = Math.min(Math.max(e > a ? s / (e - a) : 0.5, 1e-6), 1 - 1e-6);
      b0[t] = Math.log(m / (1 - m));
    }
  }
  return { c, q, b0, scale: invCounts(p) };
}

/** The smallest alpha whose solution is W = 0: the dual norm of the gradient at W = 0. */
export function alphaMax(p: TaskProblem, loss: 'squared' | 'logistic', kind: PenaltyKind, fitIntercept: boolean): number {
  const { q, b0, scale } = prepared(p, loss, fitIntercept);
  const gw = { rows: p.T, cols: p.d, data: new Float64Array(p.T * p.d) };
  kernels().taskLoss({ x: q.x, y: q.y, offsets: q.offsets, w: { rows: p.T, cols: p.d, data: new Float64Array(p.T * p.d) }, intercept: b0, scale, loss, gradW: gw });
  return dualNorm(kind, gw);
}

export interface ProxSolveOptions {
  loss: 'squared' | 'logistic';
  kind: PenaltyKind;
  alpha: number;
  fitIntercept: boolean;
  tol: number;
  maxIter: number;
}

/** Solve min sum_t (1/n_t) loss_t + alpha g(W) by FISTA, warm-started from `warm` when given. */
export function* solveProx(p: TaskProblem, o: ProxSolveOptions, warm: Solution | null): Work<Solution> {
  const { c, q, b0, scale } = prepared(p, o.loss, o.fitIntercept);
  const K = kernels();
  const optimizeIntercept = o.loss === 'logistic' && o.fitIntercept;
  const spec: FistaSpec = {
    smooth(w, b, gw, gb) {
      const l = K.taskLoss({ x: q.x, y: q.y, offsets: q.offsets, w, intercept: b, scale, loss: o.loss, gradW: gw ?? undefined, gradIntercept: gb ?? undefined });
      let s = 0;
      for (const v of l) s += v;
      return s;
    },
    prox: (w, step) => o.alpha * penaltyProx(o.kind, w, o.alpha * step),
    penalty: (w) => o.alpha * penaltyValue(o.kind, w),
    optimizeIntercept,
  };
  const pw = warm?.warm as ProxWarm | undefined;
  const w0 = pw && pw.w.rows === p.T && pw.w.cols === p.d ? pw.w : { rows: p.T, cols: p.d, data: new Float64Array(p.T * p.d) };
  const start = pw && pw.b.length === p.T ? pw.b : b0;
  const r = yield* fista(spec, w0, start, { tol: o.tol, maxIter: o.maxIter, lipschitz: pw?.lipschitz });
  const intercept = c ? interceptsFrom(r.w, c, optimizeIntercept ? r.b : undefined) : r.b.slice();
  return {
    coef: { rows: p.T, cols: p.d, data: r.w.data.slice() },
    intercept,
    history: r.history,
    nIter: r.nIter,
    warm: { w: r.w, b: r.b, lipschitz: r.lipschitz } satisfies ProxWarm,
  };
}
