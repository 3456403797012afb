/**
 * LowRankSparseRegression: optimality conditions of the trace-norm part and of the sparse part
 * (entries and tasks), no descent direction on a tiny problem, the reduction to
 * TraceNormRegression when the sparse part is switched off, and a planted rank-one structure with
 * outlier tasks recovered.
 */
import { expect } from 'chai';
import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { kernels } from '../lib/kernels/index.js';
import { LowRankSparseRegression } from '../lib/linear/lowRankSparse.js';
import { TraceNormRegression } from '../lib/linear/traceNorm.js';
import { maxAbs } from './helpers.js';
import { expectGroupKkt, expectL1Kkt, expectNoDescent, lossValue, negLossGradient, plantedTasks } from './structuredFixtures.js';

/** Rank-one weights u_t v^T, plus dense weights of their own for the outlier tasks. */
function rankOneWeights(seed: number, T: number, d: number, outliers: number[]): number[][] {
  const rng = new Rng(seed);
  const u = Array.from({ length: T }, () => 1 + 0.5 * rng.normal());
  const v = Array.from({ length: d }, () => rng.normal());
  return Array.from({ length: T }, (_, t) => Array.from({ length: d }, (_, j) => u[t]! * v[j]! + (outliers.includes(t) ? 2 * rng.normal() : 0)));
}

/**
 * Optimality of lambda ||L||_*: with L = U S V^T (r singular values above rounding),
 * G = lambda (U V^T + N), U^T N = 0, N V = 0, ||N||_2 <= 1; so U^T G V = lambda I and
 * ||G||_2 <= lambda. Returns r.
 */
function expectTraceKkt(G: Matrix<Float64Array>, L: Matrix<Float64Array>, lambda: number, tol: number): number {
  const K = kernels();
  const { u, s, vt } = K.svd(L);
  const r = Array.from(s).filter((v) => v > 1e-9 * Math.max(1, s[0]!)).length;
  const gv = { rows: G.rows, cols: vt.rows, data: new Float64Array(G.rows * vt.rows) };
  K.gemm(G, vt, gv, { transB: true });
  const ugv = { rows: u.cols, cols: vt.rows, data: new Float64Array(u.cols * vt.rows) };
  K.gemm(u, gv, ugv, { transA: true });
  for (let a = 0; a < r; a++) for (let b = 0; b < r; b++) expect(ugv.data[a * vt.rows + b]!, `U^T G V (${a}, ${b})`).to.be.closeTo(a === b ? lambda : 0, tol);
  expect(K.svd(G).s[0]!, 'spectral norm of G').to.be.at.most(lambda + tol);
  return r;
}

describe('LowRankSparseRegression', () => {
  const ds = plantedTasks(6, rankOneWeights(5, 10, 8, [2, 6]), { rows: 40, noise: 0.3, intercepts: [1, 0, 0, -1, 0, 0, 2, 0, 0, 1] });

  it('satisfies the optimality conditions (sparse entries)', () => {
    const [lambdaRank, lambdaSparse] = [0.3, 0.1];
    const m = new LowRankSparseRegression({ lambdaRank, lambdaSparse, tol: 1e-13, maxIter: 200000 }).fitSync(ds);
    const G = negLossGradient(ds, m.coef, m.intercept, 'squared');
    const r = expectTraceKkt(G, m.lowRankPart, lambdaRank, 1e-7);
    expect(r).to.be.within(1, 4);
    expect(expectL1Kkt(G, m.sparsePart, lambdaSparse, 1e-7)).to.be.greaterThan(10);
  });

  it('satisfies the optimality conditions (outlier tasks) and recovers the planted structure', () => {
    const [lambdaRank, lambdaSparse] = [0.3, 0.2];
    const m = new LowRankSparseRegression({ sparsity: 'tasks', lambdaRank, lambdaSparse, tol: 1e-13, maxIter: 200000 }).fitSync(ds);
    const G = negLossGradient(ds, m.coef, m.intercept, 'squared');
    expect(expectTraceKkt(G, m.lowRankPart, lambdaRank, 1e-7), 'rank of L').to.equal(1);
    expect(expectGroupKkt(G, m.sparsePart, lambdaSparse, 'tasks', 1e-7)).to.equal(8);
    expect(m.outlierTasks).to.deep.equal(['task2', 'task6']);
  });

  it('no direction decreases the objective (tiny problem, brute force)', () => {
    const tiny = plantedTasks(7, rankOneWeights(8, 4, 3, [1]), { rows: 7, noise: 0.5 });
    const [lr, ls] = [0.2, 0.3];
    const m = new LowRankSparseRegression({ lambdaRank: lr, lambdaSparse: ls, tol: 1e-14, maxIter: 200000 }).fitSync(tiny);
    const [T, d] = [4, 3];
    const F = (v: Float64Array) => {
      const L = { rows: T, cols: d, data: v.slice(0, T * d) };
      const S = v.subarray(T * d, 2 * T * d);
      const W = { rows: T, cols: d, data: L.data.map((x, i) => x + S[i]!) };
      const nuclear = Array.from(kernels().svd(L).s).reduce((a, b) => a + b, 0);
      return lossValue(tiny, W, v.subarray(2 * T * d), 'squared') + lr * nuclear + ls * S.reduce((a, b) => a + Math.abs(b), 0);
    };
    expectNoDescent(F, Float64Array.from([...m.lowRankPart.data, ...m.sparsePart.data, ...m.intercept]), 9, 1e-9);
  });

  it('with the sparse part switched off it is TraceNormRegression', () => {
    const m = new LowRankSparseRegression({ lambdaRank: 0.2, lambdaSparse: 1e6, tol: 1e-12, maxIter: 200000 }).fitSync(ds);
    const tn = new TraceNormRegression({ alpha: 0.2, tol: 1e-12, maxIter: 200000 }).fitSync(ds);
    expect(maxAbs(m.sparsePart.data)).to.equal(0);
    m.coef.data.forEach((w, i) => expect(w).to.be.closeTo(tn.coef.data[i]!, 1e-6));
  });
});
