/**
 * Gap-safe screening of features in the structured FISTA models (lib/linear/structuredSolver.ts
 * and lib/linear/solvers/featureScreening.ts): the temporal group lasso (L2,1 with the chain's
 * Laplacian), the graph-regularised lasso (L1 with a task graph's Laplacian) and the dirty model
 * (L1,inf or L2,1 plus L1, no smooth term). For each: the duality gap equals the primal minus a
 * feasible dual value on the explicitly augmented design (brute force on a tiny problem), the
 * column-norm bounds hold, the sphere test never discards a feature of the optimum's support,
 * screened and unscreened solves agree (cold and warm-started), and `screening: false` or a
 * smooth penalty that is not column-wise turns it off.
 */
import { expect } from 'chai';

import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { kernels } from '../lib/kernels/index.js';
import { PART_PENALTIES } from '../lib/linear/partPenalties.js';
import { screenFeatures, smoothAtZero, taskColumnNorms, type ScreenedPart, type ScreenRows } from '../lib/linear/solvers/featureScreening.js';
import { lossGradientAtZero, solveStructured, type SmoothPenalty, type Structure, type StructuredSolveOptions } from '../lib/linear/structuredSolver.js';
import { chainAdjacency, laplacian, laplacianPenalty } from '../lib/linear/taskGraph.js';
import { runSync, type Solution } from '../lib/linear/taskModel.js';
import type { TaskProblem } from '../lib/linear/taskProblem.js';
import { relErr } from './helpers.js';
import { rowsOf, screenedProblem, sparseProblem, support } from './screeningFixtures.js';

const last = (h: number[] | undefined): number => h![h!.length - 1]!;

function solve(p: TaskProblem, st: Structure, tol: number, screening: boolean, warm: Solution | null = null): Solution {
  const o: StructuredSolveOptions = { loss: 'squared', fitIntercept: true, tol, maxIter: 200_000, screening };
  return runSync(solveStructured(p, st, o, warm));
}

/** A task graph on T tasks: a ring with random weights plus one chord. */
function ringGraph(T: number, seed: number): Matrix<Float64Array> {
  const rng = new Rng(seed);
  const a = { rows: T, cols: T, data: new Float64Array(T * T) };
  const link = (s: number, t: number, w: number): void => {
    a.data[s * T + t] = w;
    a.data[t * T + s] = w;
  };
  for (let t = 0; t < T; t++) link(t, (t + 1) % T, 0.5 + rng.uniform());
  if (T > 3) link(0, 2, 0.3);
  return a;
}

/** One screened structure: its parts at given fractions of their W = 0 strengths, and its smooth term. */
interface Family {
  name: string;
  /** The parts' penalties, and each one's strength as a fraction of its value at which its part is zero. */
  penalties: ScreenedPart['penalty'][];
  fractions: (ratio: number) => number[];
  smooth?: (T: number, order: number[]) => SmoothPenalty;
}

const families: Family[] = [
  { name: 'temporal group lasso', penalties: ['features'], fractions: (r) => [r], smooth: (_T, order) => laplacianPenalty(laplacian(chainAdjacency(order)), 0.3, 0.01) },
  { name: 'graph-regularised lasso', penalties: ['l1'], fractions: (r) => [r], smooth: (T, order) => laplacianPenalty(laplacian(ringGraph(T, order[0]! + 7)), 0.2, 0.005) },
  // The dirty model's parts: the block part must be cheaper than T elementwise ones to be used.
  { name: 'dirty model, L1,inf + L1', penalties: ['l1inf', 'l1'], fractions: (r) => [r, 1.2 * r] },
  { name: 'dirty model, L2,1 + L1', penalties: ['features', 'l1'], fractions: (r) => [r, 1.5 * r] },
];

function structureOf(f: Family, p: TaskProblem, ratio: number, order: number[]): { st: Structure; parts: ScreenedPart[] } {
  const g = lossGradientAtZero(p, 'squared', true);
  const fr = f.fractions(ratio);
  const parts = f.penalties.map((penalty, k) => ({ penalty, strength: fr[k]! * PART_PENALTIES[penalty].dual(g) }));
  return { st: { parts: parts.map((x, k) => ({ name: `part${k}`, ...x })), smooth: f.smooth?.(p.T, order) }, parts };
}

/** The stacked parts of a solution (the solver's warm state). */
const stackOf = (s: Solution): Matrix<Float64Array> => (s.warm as { v: Matrix<Float64Array> }).v;

describe('gap-safe screening of features in the structured FISTA models', function () {
  this.timeout(180_000);

  for (const f of families) {
    describe(f.name, () => {
      it('the gap is the primal minus a feasible dual value on the augmented design (brute force), and the column-norm bounds hold', () => {
        // Tiny uncentred rows: T = 3 tasks of 5, 6 and 4 rows, d = 4 features, K parts.
        const rng = new Rng(11);
        const sizes = [5, 6, 4];
        const [T, d, K] = [3, 4, f.penalties.length];
        const offsets = Int32Array.from([0, 5, 11, 15]);
        const N = 15;
        const x = Float64Array.from({ length: N * d }, () => rng.normal());
        const y = Float64Array.from({ length: N }, () => rng.normal());
        const scale = Float64Array.from(sizes, (n) => 1 / n);
        const q: ScreenRows = { x: { rows: N, cols: d, data: x }, y, offsets, scale, constant: 0 };
        const s = f.smooth?.(T, [1, 0, 2]);
        // B = (2 M)^(1/2) with M the smooth term's matrix (s(W) = sum_j W[:, j]^T M W[:, j]), read off s itself.
        const M = new Float64Array(T * T);
        if (s) {
          for (let a = 0; a < T; a++) {
            const e = { rows: T, cols: 1, data: new Float64Array(T) };
            e.data[a] = 1;
            const grad = { rows: T, cols: 1, data: new Float64Array(T) };
            s.value(e, grad);
            for (let b = 0; b < T; b++) M[b * T + a] = grad.data[b]! / 2;
          }
        }
        const { values, vectors: V } = kernels().symEig({ rows: T, cols: T, data: M });
        const B = new Float64Array(T * T);
        for (let a = 0; a < T; a++) for (let b = 0; b < T; b++) for (let k = 0; k < T; k++) B[a * T + b]! += V.data[a * T + k]! * Math.sqrt(2 * Math.max(values[k]!, 0)) * V.data[b * T + k]!;
        // The augmented design A ((N + T d) x T d; column j T + t is W[t, j]) and y~; every part sees A.
        const rowsA = N + T * d;
        const A = new Float64Array(rowsA * T * d);
        const yt = new Float64Array(rowsA);
        for (let t = 0; t < T; t++) {
          for (let i = offsets[t]!; i < offsets[t + 1]!; i++) {
            for (let j = 0; j < d; j++) A[i * T * d + j * T + t] = Math.sqrt(scale[t]!) * x[i * d + j]!;
            yt[i] = Math.sqrt(scale[t]!) * y[i]!;
          }
        }
        for (let j = 0; j < d; j++) for (let a = 0; a < T; a++) for (let b = 0; b < T; b++) A[(N + j * T + a) * T * d + j * T + b] = B[a * T + b]!;
        /** A^T r as T x d (row t, column j). */
        const correlations = (r: Float64Array): Matrix<Float64Array> => {
          const out = { rows: T, cols: d, data: new Float64Array(T * d) };
          for (let j = 0; j < d; j++) for (let t = 0; t < T; t++) for (let i = 0; i < rowsA; i++) out.data[t * d + j]! += A[i * T * d + j * T + t]! * r[i]!;
          return out;
        };
        const strengths = f.penalties.map((_, k) => 0.3 + 0.2 * k);
        const problem = screenedProblem(f.penalties.map((penalty, k) => ({ penalty, strength: strengths[k]! })), s);
        const norms = taskColumnNorms(q);
        const zero = smoothAtZero(kernels(), q, T);
        const zeroV = { rows: K * T, cols: d, data: new Float64Array(K * T * d) };
        const randomV = { rows: K * T, cols: d, data: Float64Array.from({ length: K * T * d }, () => 0.5 * rng.normal()) };
        for (const v of [zeroV, randomV]) {
          const W = new Float64Array(T * d);
          for (let k = 0; k < K; k++) for (let i = 0; i < T * d; i++) W[i]! += v.data[k * T * d + i]!;
          const rho = yt.slice();
          for (let i = 0; i < rowsA; i++) for (let j = 0; j < d; j++) for (let t = 0; t < T; t++) rho[i]! -= A[i * T * d + j * T + t]! * W[t * d + j]!;
          const corr = correlations(rho);
          const c = Math.min(1, ...f.penalties.map((pen, k) => strengths[k]! / PART_PENALTIES[pen].dual(corr)));
          const theta = rho.map((r) => c * r);
          const thetaCorr = correlations(theta);
          f.penalties.forEach((pen, k) => expect(PART_PENALTIES[pen].dual(thetaCorr), `part ${k} dual constraint`).to.be.at.most(strengths[k]! * (1 + 1e-12)));
          let penalty = 0;
          f.penalties.forEach((pen, k) => (penalty += strengths[k]! * PART_PENALTIES[pen].value({ rows: T, cols: d, data: v.data.slice(k * T * d, (k + 1) * T * d) })));
          const primal = 0.5 * rho.reduce((a, r) => a + r * r, 0) + penalty;
          const dual = 0.5 * yt.reduce((a, r) => a + r * r, 0) - 0.5 * theta.reduce((a, r, i) => a + (r - yt[i]!) ** 2, 0);
          const { gap } = screenFeatures(kernels(), q, problem, v, norms, zero);
          expect(gap).to.be.closeTo(primal - dual, 1e-12 * Math.max(1, primal));
          expect(primal - dual).to.be.above(0);
        }
        // Each penalty's bound b_j >= sup_{||u|| <= 1} g_j(A_j^T u), against the exact value.
        const L = s?.lipschitz ?? 0;
        for (let j = 0; j < d; j++) {
          const col = (t: number): Float64Array => Float64Array.from({ length: rowsA }, (_, i) => A[i * T * d + j * T + t]!);
          const dot = (a: Float64Array, b: Float64Array): number => a.reduce((acc, v, i) => acc + v * b[i]!, 0);
          const n2 = (t: number): number => norms.data[t * d + j]! ** 2;
          for (const pen of f.penalties) {
            if (pen === 'l1') {
              for (let t = 0; t < T; t++) expect(Math.sqrt(dot(col(t), col(t)))).to.be.at.most(Math.sqrt(n2(t) + L) * (1 + 1e-12));
            } else if (pen === 'features') {
              const G = { rows: T, cols: T, data: new Float64Array(T * T) };
              for (let a = 0; a < T; a++) for (let b = 0; b < T; b++) G.data[a * T + b] = dot(col(a), col(b));
              const exact = Math.sqrt(kernels().symEig(G).values[T - 1]!);
              const bound = Math.sqrt(Math.max(...Array.from({ length: T }, (_, t) => n2(t))) + L);
              expect(exact, `feature ${j}`).to.be.at.most(bound * (1 + 1e-12));
              expect(exact).to.be.above(0.5 * bound);
            } else {
              // sup_{||u|| <= 1} sum_t |A_tj^T u| = max over signs sigma of ||sum_t sigma_t A_tj||.
              let exact = 0;
              for (let m = 0; m < 1 << T; m++) {
                const u = new Float64Array(rowsA);
                for (let t = 0; t < T; t++) col(t).forEach((v, i) => (u[i]! += (m >> t) & 1 ? v : -v));
                exact = Math.max(exact, Math.sqrt(dot(u, u)));
              }
              let bound = 0;
              for (let t = 0; t < T; t++) bound += Math.sqrt(n2(t) + L);
              expect(exact, `feature ${j}`).to.be.at.most(bound * (1 + 1e-12));
            }
          }
        }
      });

      // Planted sparse problems (few of 80 features used) and one whose targets ignore the features.
      const cases = [
        { seed: 1, sizes: [30, 40, 25, 35], support: 5, order: [0, 1, 2, 3] },
        { seed: 3, sizes: [45, 25, 35], support: 8, order: [2, 0, 1] },
        { seed: 4, sizes: [30, 30, 30, 30], support: 0, order: [0, 1, 2, 3] },
      ];
      for (const c of cases) {
        for (const ratio of [0.5, 0.15]) {
          it(`problem ${c.seed} (${c.support} planted features), strengths ${ratio} of their maximum: the sphere test keeps the optimum's support, and screened and unscreened solves agree`, () => {
            const p = sparseProblem(c.seed, c.sizes, 80, c.support);
            const { st, parts } = structureOf(f, p, ratio, c.order);
            const plain = solve(p, st, 1e-12, false);
            const screened = solve(p, st, 1e-12, true);
            const keepSupport = support(plain.coef);
            expect(support(screened.coef)).to.deep.equal(keepSupport);
            expect(Math.abs(last(screened.history) - last(plain.history))).to.be.at.most(1e-10 * Math.abs(last(plain.history)));
            expect(relErr(screened.coef.data, plain.coef.data)).to.be.below(1e-6);
            // The test at V = 0, at loose solves and at the optimum never discards a support feature.
            const q = rowsOf(p);
            const problem = screenedProblem(parts, st.smooth);
            const norms = taskColumnNorms(q);
            const zero = smoothAtZero(kernels(), q, p.T);
            const points: Matrix<Float64Array>[] = [{ rows: parts.length * p.T, cols: p.d, data: new Float64Array(parts.length * p.T * p.d) }];
            for (const tol of [1e-1, 1e-2, 1e-4]) points.push(stackOf(solve(p, st, tol, false)));
            points.push(stackOf(plain));
            let keptAtOptimum = 0;
            for (const v of points) {
              const { keep } = screenFeatures(kernels(), q, problem, v, norms, zero);
              for (const j of keepSupport) expect(Array.from(keep), `support feature ${j}`).to.include(j);
              keptAtOptimum = keep.length;
            }
            // At the optimum the sphere is tiny: little beyond the support is kept.
            expect(keptAtOptimum).to.be.at.most(keepSupport.length + 0.1 * p.d);
          });
        }
      }

      it('a warm-started solve along the path equals the unscreened one, screened from its first iteration', () => {
        const p = sparseProblem(5, [40, 30, 35, 45], 120, 6);
        const order = [0, 1, 2, 3];
        const previous = solve(p, structureOf(f, p, 0.55, order).st, 1e-12, false);
        const { st, parts } = structureOf(f, p, 0.5, order);
        const q = rowsOf(p);
        const { keep } = screenFeatures(kernels(), q, screenedProblem(parts, st.smooth), stackOf(previous), taskColumnNorms(q), smoothAtZero(kernels(), q, p.T));
        expect(keep.length).to.be.below(0.75 * p.d);
        const plain = solve(p, st, 1e-12, false, previous);
        const screened = solve(p, st, 1e-12, true, previous);
        expect(support(screened.coef)).to.deep.equal(support(plain.coef));
        expect(relErr(screened.coef.data, plain.coef.data)).to.be.below(1e-6);
        expect(Math.abs(last(screened.history) - last(plain.history))).to.be.at.most(1e-10 * Math.abs(last(plain.history)));
      });
    });
  }

  it('screening: false runs plain FISTA (as a smooth penalty that is not column-wise does), screening: true does not', () => {
    const p = sparseProblem(6, [30, 30, 30], 64, 4);
    for (const f of [families[0]!, families[1]!]) {
      const { st } = structureOf(f, p, 0.3, [0, 1, 2]);
      const off = solve(p, st, 1e-8, false);
      const coupled = solve(p, { ...st, smooth: { ...st.smooth!, columnwise: false } }, 1e-8, true);
      const on = solve(p, st, 1e-8, true);
      expect(off.history).to.deep.equal(coupled.history);
      expect(Array.from(off.coef.data)).to.deep.equal(Array.from(coupled.coef.data));
      // Screening restarts FISTA on fewer features: another sequence of iterates, the same optimum.
      expect(on.history, f.name).to.not.deep.equal(off.history);
      expect(relErr(on.coef.data, off.coef.data)).to.be.below(1e-4);
    }
  });

  it('a part without a separable sparse penalty (trace norm, task groups) or with strength 0 is solved unscreened', () => {
    const p = sparseProblem(7, [30, 30, 30], 64, 4);
    const g = lossGradientAtZero(p, 'squared', true);
    const lam = 0.3 * PART_PENALTIES.l1.dual(g);
    for (const parts of [
      [{ name: 'a', penalty: 'features' as const, strength: lam }, { name: 'b', penalty: 'tasks' as const, strength: lam }],
      [{ name: 'a', penalty: 'l1' as const, strength: 0 }, { name: 'b', penalty: 'features' as const, strength: lam }],
    ]) {
      const off = solve(p, { parts }, 1e-8, false);
      const on = solve(p, { parts }, 1e-8, true);
      expect(on.history).to.deep.equal(off.history);
    }
  });
});
