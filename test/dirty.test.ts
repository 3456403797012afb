/**
 * DirtyRegression: optimality conditions of the block part (L1,inf and L2,1) and of the sparse
 * part, no descent direction on a tiny problem, the reduction to per-task lassos (checked against
 * the coordinate-descent MultiTaskLasso on each task alone) when the block part is switched off,
 * and the planted split of a support into shared features and task-specific entries.
 */
import { expect } from 'chai';
import { Rng } from '../lib/core/rng.js';
import { DirtyRegression } from '../lib/linear/dirty.js';
import { MultiTaskLasso } from '../lib/linear/multiTaskElasticNet.js';
import { maxAbs } from './helpers.js';
import { columnNorms, expectGroupKkt, expectL1Kkt, expectNoDescent, lossValue, negLossGradient, plantedTasks } from './structuredFixtures.js';
import type { Matrix } from '../lib/core/matrix.js';

/** Features 0..3 used by every task (values of its own), and task t also uses feature 4 + t. */
function dirtyWeights(seed: number, T: number, d: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: T }, (_, t) => Array.from({ length: d }, (_, j) => (j < 4 ? 1.5 + 0.5 * rng.normal() : j === 4 + t ? 2 : 0)));
}

/**
 * Optimality of lambda sum_j ||P[:, j]||_inf: on a non-zero column, sum_t |G_tj| = lambda, G_tj = 0
 * where |P_tj| is below the column's maximum and sign(G_tj) = sign(P_tj) where it attains it; on
 * a zero column, sum_t |G_tj| <= lambda. Returns the zero columns.
 */
function expectL1InfKkt(G: Matrix<Float64Array>, P: Matrix<Float64Array>, lambda: number, tol: number): number {
  const { rows: T, cols: d } = P;
  let zero = 0;
  for (let j = 0; j < d; j++) {
    let top = 0;
    let g1 = 0;
    for (let t = 0; t < T; t++) {
      top = Math.max(top, Math.abs(P.data[t * d + j]!));
      g1 += Math.abs(G.data[t * d + j]!);
    }
    if (top === 0) {
      zero++;
      expect(g1, `zero column ${j}`).to.be.at.most(lambda + tol);
      continue;
    }
    expect(g1, `column ${j}`).to.be.closeTo(lambda, tol);
    for (let t = 0; t < T; t++) {
      const p = P.data[t * d + j]!;
      const g = G.data[t * d + j]!;
      if (Math.abs(p) < top) expect(g, `(${t}, ${j}) below the maximum`).to.be.closeTo(0, tol);
      else expect(g * Math.sign(p), `(${t}, ${j}) at the maximum`).to.be.at.least(-tol);
    }
  }
  return zero;
}

describe('DirtyRegression', () => {
  const ds = plantedTasks(4, dirtyWeights(3, 6, 12), { rows: 40, noise: 0.3, intercepts: [0, 1, 0, -1, 2, 0] });

  it('satisfies the optimality conditions with the L1,inf block norm', () => {
    const [lambdaGroup, lambdaSparse] = [0.4, 0.2];
    const m = new DirtyRegression({ lambdaGroup, lambdaSparse, tol: 1e-13, maxIter: 200000 }).fitSync(ds);
    const G = negLossGradient(ds, m.coef, m.intercept, 'squared');
    const zeroColumns = expectL1InfKkt(G, m.groupPart, lambdaGroup, 1e-7);
    const zeroEntries = expectL1Kkt(G, m.sparsePart, lambdaSparse, 1e-7);
    expect(zeroColumns).to.be.greaterThan(0);
    expect(zeroEntries).to.be.greaterThan(36);
    for (let i = 1; i < m.history.length; i++) expect(m.history[i]!).to.be.at.most(m.history[i - 1]!);
  });

  it('satisfies the optimality conditions with the L2,1 block norm', () => {
    const [lambdaGroup, lambdaSparse] = [0.2, 0.1];
    const m = new DirtyRegression({ groupNorm: 'l21', lambdaGroup, lambdaSparse, tol: 1e-13, maxIter: 200000 }).fitSync(ds);
    const G = negLossGradient(ds, m.coef, m.intercept, 'squared');
    expect(expectGroupKkt(G, m.groupPart, lambdaGroup, 'features', 1e-7)).to.be.greaterThan(0);
    expectL1Kkt(G, m.sparsePart, lambdaSparse, 1e-7);
  });

  it('no direction decreases the objective (tiny problem, brute force)', () => {
    const tiny = plantedTasks(5, dirtyWeights(6, 3, 6), { rows: 9, noise: 0.5 });
    const [lg, ls] = [0.5, 0.3];
    const m = new DirtyRegression({ lambdaGroup: lg, lambdaSparse: ls, tol: 1e-14, maxIter: 200000 }).fitSync(tiny);
    const [T, d] = [3, 6];
    const F = (v: Float64Array) => {
      const P = v.subarray(0, T * d);
      const Q = v.subarray(T * d, 2 * T * d);
      const W = { rows: T, cols: d, data: P.map((p, i) => p + Q[i]!) };
      let block = 0;
      for (let j = 0; j < d; j++) block += Math.max(...Array.from({ length: T }, (_, t) => Math.abs(P[t * d + j]!)));
      return lossValue(tiny, W, v.subarray(2 * T * d), 'squared') + lg * block + ls * Q.reduce((a, b) => a + Math.abs(b), 0);
    };
    expectNoDescent(F, Float64Array.from([...m.groupPart.data, ...m.sparsePart.data, ...m.intercept]), 7);
  });

  it('with the block part switched off it is a lasso per task (checked against coordinate descent)', () => {
    const lambdaSparse = 0.15;
    const m = new DirtyRegression({ lambdaGroup: 1e6, lambdaSparse, tol: 1e-13, maxIter: 200000 }).fitSync(ds);
    expect(maxAbs(m.groupPart.data)).to.equal(0);
    ds.tasks.forEach((task, t) => {
      // One task alone: (1/(2n)) ||y - X w - b||^2 + alpha ||w||_1, the same objective.
      const lasso = new MultiTaskLasso({ alpha: lambdaSparse, tol: 1e-14, maxIter: 100000 }).fitSync(task.X, task.y);
      for (let j = 0; j < ds.nFeatures; j++) expect(m.coef.data[t * ds.nFeatures + j]!, `task ${t}, feature ${j}`).to.be.closeTo(lasso.coef.data[j]!, 1e-6);
    });
  });

  it('splits a planted support into shared features and task-specific entries', () => {
    const m = new DirtyRegression({ groupNorm: 'l21', lambdaGroup: 0.2, lambdaSparse: 0.1 }).fitSync(ds);
    const shared = columnNorms(m.groupPart).flatMap((v, j) => (v > 0 ? [j] : []));
    expect(shared, 'the block part holds exactly the shared features').to.deep.equal([0, 1, 2, 3]);
    const d = ds.nFeatures;
    for (let t = 0; t < 6; t++) expect(Math.abs(m.sparsePart.data[t * d + 4 + t]!), `task ${t}'s own feature`).to.be.above(1);
    // No false task-specific feature: outside the shared features, Q is zero but for noise of a few hundredths (against planted entries of 2).
    const wrong = Array.from(m.sparsePart.data).filter((v, i) => i % d >= 4 && i % d !== 4 + Math.floor(i / d));
    expect(maxAbs(wrong)).to.be.below(0.05);
    // Features nobody uses stay (nearly) out of W.
    for (const j of [10, 11]) for (let t = 0; t < 6; t++) expect(Math.abs(m.coef.data[t * d + j]!)).to.be.below(0.05);
  });
});
