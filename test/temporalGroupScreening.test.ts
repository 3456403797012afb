/**
 * Gap-safe screening of the temporal group lasso (TemporalGroupRegression's FISTA solve through
 * lib/linear/structuredSolver.ts and lib/linear/solvers/l21Screening.ts): the duality gap equals
 * the primal minus a feasible dual value on the explicitly augmented design (brute force on a
 * tiny problem), the column-norm bound holds, the sphere test never discards a feature of the
 * optimum's support, screened and unscreened solves agree (cold and warm-started), and
 * `screening: false` turns it off.
 */
import { expect } from 'chai';

import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { kernels } from '../lib/kernels/index.js';
import { PART_PENALTIES } from '../lib/linear/partPenalties.js';
import { groupNorms, screenL21, smoothAtZero, type L21Rows } from '../lib/linear/solvers/l21Screening.js';
import { lossGradientAtZero, solveStructured, type SmoothPenalty, type Structure, type StructuredSolveOptions } from '../lib/linear/structuredSolver.js';
import { chainAdjacency, laplacian, laplacianPenalty } from '../lib/linear/taskGraph.js';
import { runSync, type Solution } from '../lib/linear/taskModel.js';
import type { TaskProblem } from '../lib/linear/taskProblem.js';
import { relErr } from './helpers.js';
import { rowsOf, sparseProblem, support } from './screeningFixtures.js';

const last = (h: number[] | undefined): number => h![h!.length - 1]!;

function structure(smooth: SmoothPenalty, lambdaGroup: number): Structure {
  return { parts: [{ name: 'w', penalty: 'features', strength: lambdaGroup }], smooth };
}

function solve(p: TaskProblem, st: Structure, tol: number, screening: boolean, warm: Solution | null = null): Solution {
  const o: StructuredSolveOptions = { loss: 'squared', fitIntercept: true, tol, maxIter: 200_000, screening };
  return runSync(solveStructured(p, st, o, warm));
}

/** The smallest lambdaGroup at which W = 0 (the smooth penalty has zero gradient at 0). */
function groupMax(p: TaskProblem): number {
  return PART_PENALTIES.features.dual(lossGradientAtZero(p, 'squared', true));
}

describe('gap-safe screening of the temporal group lasso', function () {
  this.timeout(120_000);

  it('the gap is the primal minus a feasible dual value of the augmented group lasso (brute force), and ||A_j|| is within its bound', () => {
    // Tiny uncentred rows: T = 3 tasks of 5, 6 and 4 rows, d = 4 features.
    const rng = new Rng(11);
    const sizes = [5, 6, 4];
    const [T, d] = [3, 4];
    const offsets = Int32Array.from([0, 5, 11, 15]);
    const N = 15;
    const x = Float64Array.from({ length: N * d }, () => rng.normal());
    const y = Float64Array.from({ length: N }, () => rng.normal());
    const scale = Float64Array.from(sizes, (n) => 1 / n);
    const q: L21Rows = { x: { rows: N, cols: d, data: x }, y, offsets, scale, constant: 0 };
    const [lambdaTime, lambdaRidge] = [0.7, 0.05];
    const chain = laplacian(chainAdjacency([1, 0, 2]));
    const s = laplacianPenalty(chain, lambdaTime, lambdaRidge);
    // B = (2 M)^(1/2), M = lambdaTime Lap + lambdaRidge I, by its eigendecomposition.
    const M = { rows: T, cols: T, data: chain.lap.data.map((v, i) => lambdaTime * v + (i % (T + 1) === 0 ? lambdaRidge : 0)) };
    const { values, vectors: V } = kernels().symEig(M);
    const B = new Float64Array(T * T);
    for (let a = 0; a < T; a++) for (let b = 0; b < T; b++) for (let k = 0; k < T; k++) B[a * T + b]! += V.data[a * T + k]! * Math.sqrt(2 * Math.max(values[k]!, 0)) * V.data[b * T + k]!;
    // The augmented design A ((N + T d) x T d; column j T + t is W[t, j]) and y~.
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
    const groupProducts = (r: Float64Array): number[] =>
      Array.from({ length: d }, (_, j) => {
        let ss = 0;
        for (let t = 0; t < T; t++) {
          let v = 0;
          for (let i = 0; i < rowsA; i++) v += A[i * T * d + j * T + t]! * r[i]!;
          ss += v * v;
        }
        return Math.sqrt(ss);
      });
    const norms = groupNorms(q);
    const zero = smoothAtZero(kernels(), q, T);
    const alpha = 0.3;
    const zeroW = { rows: T, cols: d, data: new Float64Array(T * d) };
    const randomW = { rows: T, cols: d, data: Float64Array.from({ length: T * d }, () => 0.5 * rng.normal()) };
    for (const W of [zeroW, randomW]) {
      const rho = yt.slice();
      for (let i = 0; i < rowsA; i++) for (let j = 0; j < d; j++) for (let t = 0; t < T; t++) rho[i]! -= A[i * T * d + j * T + t]! * W.data[t * d + j]!;
      const corr = groupProducts(rho);
      const theta = rho.map((v) => v / Math.max(alpha, ...corr));
      expect(Math.max(...groupProducts(theta))).to.be.at.most(1 + 1e-12);
      let l21 = 0;
      for (let j = 0; j < d; j++) l21 += Math.sqrt(Array.from({ length: T }, (_, t) => W.data[t * d + j]! ** 2).reduce((a, b) => a + b, 0));
      const primal = 0.5 * rho.reduce((a, v) => a + v * v, 0) + alpha * l21;
      const dual = 0.5 * yt.reduce((a, v) => a + v * v, 0) - 0.5 * alpha * alpha * theta.reduce((a, v, i) => a + (v - yt[i]! / alpha) ** 2, 0);
      const { gap } = screenL21(kernels(), q, alpha, W, norms, zero, s);
      expect(gap).to.be.closeTo(primal - dual, 1e-12 * Math.max(1, primal));
      expect(primal - dual).to.be.above(0);
    }
    // ||A_j|| (the spectral norm of the group's T columns) against the bound sqrt(norms_j^2 + ||2 M||).
    for (let j = 0; j < d; j++) {
      const G = { rows: T, cols: T, data: new Float64Array(T * T) };
      for (let a = 0; a < T; a++) for (let b = 0; b < T; b++) for (let i = 0; i < rowsA; i++) G.data[a * T + b]! += A[i * T * d + j * T + a]! * A[i * T * d + j * T + b]!;
      const exact = Math.sqrt(kernels().symEig(G).values[T - 1]!);
      const bound = Math.sqrt(norms[j]! ** 2 + s.lipschitz);
      expect(exact, `feature ${j}`).to.be.at.most(bound * (1 + 1e-12));
      expect(exact).to.be.above(0.5 * bound);
    }
  });

  // Planted sparse problems (5 of 80 features used) and one whose targets ignore the features.
  const cases = [
    { seed: 1, sizes: [30, 40, 25, 35], support: 5, order: [0, 1, 2, 3] },
    { seed: 2, sizes: [20, 20, 20, 20, 20], support: 5, order: [3, 1, 4, 0, 2] },
    { seed: 3, sizes: [45, 25, 35], support: 8, order: [2, 0, 1] },
    { seed: 4, sizes: [30, 30, 30, 30], support: 0, order: [0, 1, 2, 3] },
  ];
  for (const c of cases) {
    for (const ratio of [0.5, 0.15]) {
      it(`problem ${c.seed} (${c.support} planted features), lambdaGroup ${ratio} of its maximum: the sphere test keeps the optimum's support, and screened and unscreened solves agree`, () => {
        const p = sparseProblem(c.seed, c.sizes, 80, c.support);
        const s = laplacianPenalty(laplacian(chainAdjacency(c.order)), 0.3, 0.01);
        const lambda = ratio * groupMax(p);
        const st = structure(s, lambda);
        const plain = solve(p, st, 1e-12, false);
        const screened = solve(p, st, 1e-12, true);
        const keepSupport = support(plain.coef);
        expect(support(screened.coef)).to.deep.equal(keepSupport);
        expect(Math.abs(last(screened.history) - last(plain.history))).to.be.at.most(1e-10 * Math.abs(last(plain.history)));
        expect(relErr(screened.coef.data, plain.coef.data)).to.be.below(1e-6);
        // The test at W = 0, at loose solves and at the optimum never discards a support feature.
        const q = rowsOf(p);
        const norms = groupNorms(q);
        const zero = smoothAtZero(kernels(), q, p.T);
        const points: Matrix<Float64Array>[] = [{ rows: p.T, cols: p.d, data: new Float64Array(p.T * p.d) }];
        for (const tol of [1e-1, 1e-2, 1e-4]) points.push(solve(p, st, tol, false).coef);
        points.push(plain.coef);
        let keptAtOptimum = 0;
        for (const w of points) {
          const { keep } = screenL21(kernels(), q, lambda, w, norms, zero, s);
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
    const s = laplacianPenalty(laplacian(chainAdjacency([0, 1, 2, 3])), 0.2, 0);
    const lambda = 0.5 * groupMax(p);
    const previous = solve(p, structure(s, 1.1 * lambda), 1e-12, false);
    const q = rowsOf(p);
    const pw = (previous.warm as { v: Matrix<Float64Array> }).v;
    const { keep } = screenL21(kernels(), q, lambda, pw, groupNorms(q), smoothAtZero(kernels(), q, p.T), s);
    expect(keep.length).to.be.below(0.75 * p.d);
    const plain = solve(p, structure(s, lambda), 1e-12, false, previous);
    const screened = solve(p, structure(s, lambda), 1e-12, true, previous);
    expect(support(screened.coef)).to.deep.equal(support(plain.coef));
    expect(relErr(screened.coef.data, plain.coef.data)).to.be.below(1e-6);
    expect(Math.abs(last(screened.history) - last(plain.history))).to.be.at.most(1e-10 * Math.abs(last(plain.history)));
  });

  it('screening: false runs plain FISTA (as a smooth penalty that is not column-wise does), screening: true does not', () => {
    const p = sparseProblem(6, [30, 30, 30], 64, 4);
    const s = laplacianPenalty(laplacian(chainAdjacency([0, 1, 2])), 0.3, 0.01);
    const lambda = 0.3 * groupMax(p);
    const off = solve(p, structure(s, lambda), 1e-8, false);
    const coupled = solve(p, structure({ ...s, columnwise: false }, lambda), 1e-8, true);
    const on = solve(p, structure(s, lambda), 1e-8, true);
    expect(off.history).to.deep.equal(coupled.history);
    expect(Array.from(off.coef.data)).to.deep.equal(Array.from(coupled.coef.data));
    // Screening restarts FISTA on fewer features: another sequence of iterates, the same optimum.
    expect(on.history).to.not.deep.equal(off.history);
    expect(relErr(on.coef.data, off.coef.data)).to.be.below(1e-4);
  });
});
