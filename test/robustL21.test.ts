/**
 * RobustL21Regression / RobustL21Logistic: optimality conditions of both parts at the solution,
 * the reduction to L21Regression when the outlier part is switched off, no descent direction of
 * the objective on a tiny problem, and the planted outlier tasks found.
 */
import { expect } from 'chai';
import { Rng } from '../lib/core/rng.js';
import { L21Regression } from '../lib/linear/l21.js';
import { RobustL21Logistic, RobustL21Regression } from '../lib/linear/robustL21.js';
import { maxAbs } from './helpers.js';
import { columnNorms, expectGroupKkt, expectNoDescent, lossValue, negLossGradient, plantedTasks, rowNormsOf } from './structuredFixtures.js';

/** T tasks on d features: the regular ones use features 0..2 (shared weights + a little noise), the outliers dense weights of their own. */
function outlierWeights(seed: number, T: number, d: number, outliers: number[], scale = 1): number[][] {
  const rng = new Rng(seed);
  const base = [2, -1.5, 1];
  return Array.from({ length: T }, (_, t) =>
    Array.from({ length: d }, (_, j) => {
      if (outliers.includes(t)) return scale * 2 * rng.normal();
      return j < 3 ? scale * (base[j]! + 0.1 * rng.normal()) : 0;
    }),
  );
}

describe('RobustL21Regression', () => {
  const ds = plantedTasks(1, outlierWeights(2, 8, 9, [2, 5]), { rows: [30, 40, 25], noise: 0.3, intercepts: [1, -1, 0, 2, 0, 0, 1, 1] });

  it('satisfies the optimality conditions of both parts', () => {
    const lambdaGroup = 0.2;
    const lambdaOutlier = 0.2;
    const m = new RobustL21Regression({ lambdaGroup, lambdaOutlier, tol: 1e-13, maxIter: 100000 }).fitSync(ds);
    const G = negLossGradient(ds, m.coef, m.intercept, 'squared');
    const zeroFeatures = expectGroupKkt(G, m.sharedPart, lambdaGroup, 'features', 1e-7);
    const zeroTasks = expectGroupKkt(G, m.outlierPart, lambdaOutlier, 'tasks', 1e-7);
    expect(zeroFeatures, 'the features no regular task uses are dropped from P').to.equal(5);
    expect(zeroTasks, 'only the outliers have rows in Q').to.equal(6);
    expect(m.outlierTasks).to.deep.equal(['task2', 'task5']);
    // W = P + Q, and the objective trace never increases.
    m.coef.data.forEach((w, i) => expect(w).to.be.closeTo(m.sharedPart.data[i]! + m.outlierPart.data[i]!, 1e-12));
    for (let i = 1; i < m.history.length; i++) expect(m.history[i]!).to.be.at.most(m.history[i - 1]!);
    // The last objective is the formula's value at the fitted parts.
    const F = lossValue(ds, m.coef, m.intercept, 'squared') + lambdaGroup * sum(columnNorms(m.sharedPart)) + lambdaOutlier * sum(rowNormsOf(m.outlierPart));
    expect(m.history[m.history.length - 1]!).to.be.closeTo(F, 1e-9 * F);
  });

  it('no direction decreases the objective (tiny problem, brute force)', () => {
    const tiny = plantedTasks(3, outlierWeights(4, 3, 6, [1]), { rows: 8, noise: 0.5 });
    const [lg, lo] = [0.3, 0.6];
    const m = new RobustL21Regression({ lambdaGroup: lg, lambdaOutlier: lo, tol: 1e-14, maxIter: 100000 }).fitSync(tiny);
    const T = 3;
    const d = 6;
    // x = [P, Q, b]
    const x = Float64Array.from([...m.sharedPart.data, ...m.outlierPart.data, ...m.intercept]);
    const F = (v: Float64Array) => {
      const P = { rows: T, cols: d, data: v.subarray(0, T * d) };
      const Q = { rows: T, cols: d, data: v.subarray(T * d, 2 * T * d) };
      const W = { rows: T, cols: d, data: P.data.map((p, i) => p + Q.data[i]!) };
      return lossValue(tiny, W, v.subarray(2 * T * d), 'squared') + lg * sum(columnNorms(P)) + lo * sum(rowNormsOf(Q));
    };
    expectNoDescent(F, x, 5);
  });

  it('with the outlier part switched off it is L21Regression', () => {
    const robust = new RobustL21Regression({ lambdaGroup: 0.1, lambdaOutlier: 1e6, tol: 1e-12, maxIter: 100000 }).fitSync(ds);
    const l21 = new L21Regression({ alpha: 0.1, tol: 1e-12, maxIter: 100000 }).fitSync(ds);
    expect(maxAbs(robust.outlierPart.data)).to.equal(0);
    expect(robust.outlierTasks).to.deep.equal([]);
    robust.coef.data.forEach((w, i) => expect(w).to.be.closeTo(l21.coef.data[i]!, 1e-6));
    robust.intercept.forEach((b, t) => expect(b).to.be.closeTo(l21.intercept[t]!, 1e-6));
  });

  it('finds the planted outlier tasks', () => {
    const big = plantedTasks(7, outlierWeights(8, 12, 10, [3, 7, 10]), { rows: 40, noise: 0.3 });
    // Strong enough that the regular tasks' unused features are zero in P, so that an outlier's
    // own weights cost less in Q than in P.
    const m = new RobustL21Regression({ lambdaGroup: 0.4, lambdaOutlier: 0.4 }).fitSync(big);
    expect(m.outlierTasks).to.deep.equal(['task3', 'task7', 'task10']);
    // The shared part keeps the regular tasks' features and drops the rest.
    const norms = columnNorms(m.sharedPart);
    for (const j of [0, 1, 2]) expect(norms[j]!).to.be.above(1);
    // Cross-validated for prediction, Q takes more tasks, but the outliers have its largest rows.
    const cv = new RobustL21Regression({ cv: 3, seed: 1 }).fitSync(big);
    const byNorm = rowNormsOf(cv.outlierPart).map((v, t) => [v, t] as const).sort((a, b) => b[0] - a[0]);
    expect(byNorm.slice(0, 3).map(([, t]) => t).sort((a, b) => a - b)).to.deep.equal([3, 7, 10]);
    expect(cv.score(big)).to.be.above(0.95);
  });
});

describe('RobustL21Logistic', () => {
  it('satisfies the optimality conditions, finds an outlier task, and gives probabilities', () => {
    const W = outlierWeights(11, 6, 7, [4], 2);
    const ds = plantedTasks(12, W, { rows: 200, logistic: true, intercepts: [0.5, 0, -0.5, 0, 0, 0.3] });
    const [lambdaGroup, lambdaOutlier] = [0.1, 0.15];
    const m = new RobustL21Logistic({ lambdaGroup, lambdaOutlier, tol: 1e-13, maxIter: 200000 }).fitSync(ds);
    const G = negLossGradient(ds, m.coef, m.intercept, 'logistic');
    expectGroupKkt(G, m.sharedPart, lambdaGroup, 'features', 1e-7);
    expectGroupKkt(G, m.outlierPart, lambdaOutlier, 'tasks', 1e-7);
    // The unpenalised intercepts: every task's residuals sum to zero.
    ds.tasks.forEach((task) => {
      const p = m.predictProba(task.name, task.X);
      expect(Math.abs(sum(Array.from(p, (v, i) => v - task.y[i]!)))).to.be.below(1e-6 * task.y.length);
      p.forEach((v) => expect(v).to.be.within(0, 1));
    });
    expect(m.outlierTasks).to.deep.equal(['task4']);
    expect(m.score(ds)).to.be.above(0.8);
  });
});

function sum(v: number[]): number {
  return v.reduce((a, b) => a + b, 0);
}
