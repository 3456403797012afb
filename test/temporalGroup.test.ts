/**
 * TemporalGroupRegression: the closed form without the group term (chain Laplacian plus ridge;
 * `order` permutes the chain), optimality conditions with it, a planted disease-progression-like
 * problem (weights drifting smoothly over time points, a few features used at every time point)
 * whose features are recovered, and the `order` option's errors.
 */
import { expect } from 'chai';
import { ConfigError, ShapeError, ValueError } from '../lib/core/errors.js';
import { Rng } from '../lib/core/rng.js';
import { MultiTaskDataset } from '../lib/data/dataset.js';
import { TemporalGroupRegression } from '../lib/linear/temporalGroup.js';
import { relErr, throwsWith } from './helpers.js';
import { columnNorms, expectGroupKkt, minusLaplacianGradient, negLossGradient, plantedTasks, quadraticSolve } from './structuredFixtures.js';

/** The quadratic penalty lambdaTime sum_i ||w_(i) - w_(i+1)||^2 + lambdaRidge ||W||^2 over the chain `order`. */
function chainQuadratic(order: number[], T: number, d: number, lambdaTime: number, lambdaRidge: number) {
  const L = Array.from({ length: T }, () => new Array<number>(T).fill(0));
  for (let i = 0; i + 1 < order.length; i++) {
    const [s, t] = [order[i]!, order[i + 1]!];
    L[s]![s]! += 1;
    L[t]![t]! += 1;
    L[s]![t]! -= 1;
    L[t]![s]! -= 1;
  }
  return {
    L,
    q: (i: number, k: number) => {
      const [t, j] = [Math.floor(i / d), i % d];
      const [s, l] = [Math.floor(k / d), k % d];
      return j === l ? lambdaTime * L[t]![s]! + (t === s ? lambdaRidge : 0) : 0;
    },
  };
}

/** Weights over T time points: features 0..3 drift smoothly, the others are 0. */
function driftWeights(seed: number, T: number, d: number): number[][] {
  const rng = new Rng(seed);
  const start = Array.from({ length: 4 }, () => 1 + rng.normal());
  const slope = Array.from({ length: 4 }, () => 0.2 * rng.normal());
  return Array.from({ length: T }, (_, t) => Array.from({ length: d }, (_, j) => (j < 4 ? start[j]! + slope[j]! * t : 0)));
}

describe('TemporalGroupRegression', () => {
  const names = ['m06', 'm12', 'm24', 'm36', 'm48'];
  const ds = plantedTasks(1, driftWeights(2, 5, 6), { rows: [8, 12, 10, 7, 9], noise: 0.4, names, intercepts: [0, 1, 2, 3, 4] });

  it('without the group term it is the closed form of the stacked normal equations, in any order', () => {
    const [lambdaTime, lambdaRidge] = [0.5, 0.01];
    const inOrder = new TemporalGroupRegression({ lambdaGroup: 0, lambdaTime, lambdaRidge, tol: 1e-14, maxIter: 100000 }).fitSync(ds);
    const ref = quadraticSolve(ds, chainQuadratic([0, 1, 2, 3, 4], 5, 6, lambdaTime, lambdaRidge).q);
    expect(relErr(inOrder.coef.data, ref.coef)).to.be.below(1e-7);
    expect(relErr(inOrder.intercept, ref.intercept)).to.be.below(1e-7);
    const order = ['m24', 'm06', 'm48', 'm12', 'm36'];
    const shuffled = new TemporalGroupRegression({ order, lambdaGroup: 0, lambdaTime, lambdaRidge, tol: 1e-14, maxIter: 100000 }).fitSync(ds);
    const ref2 = quadraticSolve(ds, chainQuadratic([2, 0, 4, 1, 3], 5, 6, lambdaTime, lambdaRidge).q);
    expect(relErr(shuffled.coef.data, ref2.coef)).to.be.below(1e-7);
    expect(relErr(shuffled.coef.data, inOrder.coef.data)).to.be.above(1e-3);
  });

  it('satisfies the optimality conditions with the group term', () => {
    const [lambdaGroup, lambdaTime, lambdaRidge] = [0.8, 0.5, 0.01];
    const m = new TemporalGroupRegression({ lambdaGroup, lambdaTime, lambdaRidge, tol: 1e-14, maxIter: 200000 }).fitSync(ds);
    const G = negLossGradient(ds, m.coef, m.intercept, 'squared');
    const { L } = chainQuadratic([0, 1, 2, 3, 4], 5, 6, lambdaTime, lambdaRidge);
    const rest = minusLaplacianGradient(G, m.coef, L, lambdaTime, lambdaRidge);
    expect(expectGroupKkt(rest, m.coef, lambdaGroup, 'features', 1e-7)).to.equal(2);
  });

  it('satisfies the optimality conditions on a wide problem, where its solve screens features', () => {
    // 48 features (screening needs at least 32), 4 of them used: most are discarded.
    const [lambdaGroup, lambdaTime, lambdaRidge] = [0.3, 0.5, 0.01];
    const wide = plantedTasks(3, driftWeights(4, 5, 48), { rows: [30, 25, 35, 30, 28], noise: 0.3 });
    const m = new TemporalGroupRegression({ lambdaGroup, lambdaTime, lambdaRidge, tol: 1e-13, maxIter: 200000 }).fitSync(wide);
    const G = negLossGradient(wide, m.coef, m.intercept, 'squared');
    const { L } = chainQuadratic([0, 1, 2, 3, 4], 5, 48, lambdaTime, lambdaRidge);
    const rest = minusLaplacianGradient(G, m.coef, L, lambdaTime, lambdaRidge);
    expect(expectGroupKkt(rest, m.coef, lambdaGroup, 'features', 1e-7)).to.be.at.least(40);
  });

  it('recovers the features of a planted progression', () => {
    const W = driftWeights(5, 8, 12);
    const train = plantedTasks(6, W, { rows: 20, noise: 0.3 });
    const m = new TemporalGroupRegression({ lambdaGroup: 0.5, lambdaTime: 0.5 }).fitSync(train);
    expect(columnNorms(m.coef).flatMap((v, j) => (v > 0 ? [j] : []))).to.deep.equal([0, 1, 2, 3]);
  });

  it('with few rows per time point, the temporal term (chosen by CV) brings the weights closer to the truth', () => {
    const W = driftWeights(5, 8, 12);
    const train = plantedTasks(6, W, { rows: 10, noise: 0.5 });
    const m = new TemporalGroupRegression({ cv: 3, seed: 2 }).fitSync(train);
    expect(m.chosen.lambdaTime).to.be.above(0);
    const truth = Float64Array.from(W.flat());
    const noTime = new TemporalGroupRegression({ lambdaGroup: m.chosen.lambdaGroup, lambdaTime: 0 }).fitSync(train);
    expect(relErr(m.coef.data, truth)).to.be.below(0.7 * relErr(noTime.coef.data, truth));
  });

  it('reads shared-input data with missing targets (each time point its labelled rows)', () => {
    const rng = new Rng(9);
    const X = Array.from({ length: 30 }, () => Array.from({ length: 3 }, () => rng.normal()));
    const Y = X.map((r, i) => [r[0]!, i % 3 === 0 ? NaN : r[0]! + 0.1 * r[1]!, i % 2 === 0 ? NaN : r[0]! + 0.2 * r[1]!]);
    const shared = MultiTaskDataset.fromShared(X, Y, { names: ['v1', 'v2', 'v3'] });
    const m = new TemporalGroupRegression({ lambdaGroup: 0.01, lambdaTime: 0.1 }).fitSync(shared);
    expect(m.taskNames).to.deep.equal(['v1', 'v2', 'v3']);
    expect(m.score(shared)).to.be.above(0.95);
  });

  it('order: unknown names (with a suggestion), missing tasks, repeats', () => {
    throwsWith(() => new TemporalGroupRegression({ order: ['m06', 'm06'] }), ConfigError, /'order' must be an array of task names.*without repeats/);
    throwsWith(() => new TemporalGroupRegression({ order: 'm06' as never }), ConfigError, /'order'/);
    throwsWith(() => new TemporalGroupRegression({ order: ['m06', 'm21', 'm24', 'm36', 'm48'] }).fitSync(ds), ValueError, /unknown task 'm21' \(did you mean 'm24'\?\)|unknown task 'm21' \(did you mean 'm12'\?\)/, /known tasks: 'm06'/);
    throwsWith(() => new TemporalGroupRegression({ order: ['m06', 'm12'] }).fitSync(ds), ShapeError, /lists 2 tasks but the data has 5/, /missing: 'm24', 'm36', 'm48'/);
  });
});
