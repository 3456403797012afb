/**
 * GraphRegularizedRegression: the closed form without the L1 term (a dense solve of the stacked
 * normal equations with the Laplacian penalty), edges and similarity matrices naming the same
 * graph, optimality conditions with the L1 term, a planted graph of task groups exploited with
 * few rows per task, and the graph options' errors.
 */
import { expect } from 'chai';
import { ConfigError, ShapeError, ValueError } from '../lib/core/errors.js';
import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import type { MultiTaskDataset } from '../lib/data/dataset.js';
import { GraphRegularizedRegression } from '../lib/linear/graphRegularized.js';
import { IndependentRidge } from '../lib/linear/ridge.js';
import { relErr, throwsWith } from './helpers.js';
import { expectL1Kkt, minusLaplacianGradient, negLossGradient, plantedTasks, quadraticSolve } from './structuredFixtures.js';

/** Laplacian of a weighted edge list over T tasks (indices). */
function laplacianOf(T: number, edges: [number, number, number][]): number[][] {
  const L = Array.from({ length: T }, () => new Array<number>(T).fill(0));
  for (const [s, t, w] of edges) {
    L[s]![t]! -= w;
    L[t]![s]! -= w;
    L[s]![s]! += w;
    L[t]![t]! += w;
  }
  return L;
}

/** The quadratic penalty lambdaGraph tr(W^T Lap W) + lambdaRidge ||W||^2 as a Td x Td matrix (W row-major). */
function graphQuadratic(L: number[][], d: number, lambdaGraph: number, lambdaRidge: number) {
  return (i: number, k: number) => {
    const [t, j] = [Math.floor(i / d), i % d];
    const [s, l] = [Math.floor(k / d), k % d];
    return j === l ? lambdaGraph * L[t]![s]! + (t === s ? lambdaRidge : 0) : 0;
  };
}

describe('GraphRegularizedRegression', () => {
  const rng = new Rng(1);
  const W = Array.from({ length: 5 }, (_, t) => Array.from({ length: 4 }, () => (t < 3 ? 1 : -1) + 0.3 * rng.normal()));
  const ds = plantedTasks(2, W, { rows: [6, 9, 12, 5, 8], noise: 0.3, intercepts: [0, 1, 2, 0, -1] });
  const edges: [number, number, number][] = [
    [0, 1, 1],
    [1, 2, 0.5],
    [0, 2, 2],
    [3, 4, 1.5],
  ];

  it('without the L1 term it is the closed form of the stacked normal equations', () => {
    const [lambdaGraph, lambdaRidge] = [0.4, 0.05];
    const m = new GraphRegularizedRegression({ edges: edges.map(([s, t, w]) => [`task${s}`, `task${t}`, w]), lambdaGraph, lambdaRidge, tol: 1e-14, maxIter: 100000 }).fitSync(ds);
    const ref = quadraticSolve(ds, graphQuadratic(laplacianOf(5, edges), 4, lambdaGraph, lambdaRidge));
    expect(relErr(m.coef.data, ref.coef)).to.be.below(1e-7);
    expect(relErr(m.intercept, ref.intercept)).to.be.below(1e-7);
    expect(m.history.length).to.equal(m.nIter + 1);
  });

  it('edges by name or index, repeated edges and a similarity matrix give the same graph', () => {
    const o = { lambdaGraph: 0.4, tol: 1e-12, maxIter: 100000 };
    const byIndex = new GraphRegularizedRegression({ edges, ...o }).fitSync(ds);
    // [0, 2, 2] as two edges of weight 1.
    const repeated = edges.flatMap(([s, t, w]): [number, number, number][] => (w === 2 ? [[s, t, 1], [t, s, 1]] : [[s, t, w]]));
    const split = new GraphRegularizedRegression({ edges: repeated, ...o }).fitSync(ds);
    const S = Array.from({ length: 5 }, () => new Array<number>(5).fill(0));
    for (const [s, t, w] of edges) S[s]![t] = S[t]![s] = w;
    S[2]![2] = 7; // the diagonal is ignored
    const bySimilarity = new GraphRegularizedRegression({ similarity: S, ...o }).fitSync(ds);
    expect(relErr(split.coef.data, byIndex.coef.data)).to.be.below(1e-10);
    expect(relErr(bySimilarity.coef.data, byIndex.coef.data)).to.be.below(1e-10);
  });

  it('satisfies the optimality conditions with the L1 term', () => {
    const [lambdaGraph, lambdaRidge, lambdaSparse] = [0.3, 0.02, 0.5];
    const m = new GraphRegularizedRegression({ edges, lambdaGraph, lambdaRidge, lambdaSparse, tol: 1e-14, maxIter: 200000 }).fitSync(ds);
    const G = negLossGradient(ds, m.coef, m.intercept, 'squared');
    // G - 2 lambdaGraph Lap W - 2 lambdaRidge W in lambdaSparse d||W||_1.
    const rest = minusLaplacianGradient(G, m.coef, laplacianOf(5, edges), lambdaGraph, lambdaRidge);
    expect(expectL1Kkt(rest, m.coef, lambdaSparse, 1e-7)).to.be.greaterThan(0);
  });

  it('with few rows per task, the true graph of task groups beats independent ridge', () => {
    // Three groups of four tasks, each group one weight vector; 6 rows per task for 8 features.
    const r = new Rng(3);
    const centres = [0, 1, 2].map(() => Array.from({ length: 8 }, () => r.normal()));
    const Wg = Array.from({ length: 12 }, (_, t) => centres[t % 3]!.map((c) => c + 0.05 * r.normal()));
    const train = plantedTasks(4, Wg, { rows: 6, noise: 0.5 });
    const test = plantedTasks(5, Wg, { rows: 50, noise: 0.5 });
    const groupEdges: [number, number][] = [];
    for (let s = 0; s < 12; s++) for (let t = s + 1; t < 12; t++) if (s % 3 === t % 3) groupEdges.push([s, t]);
    const graph = new GraphRegularizedRegression({ edges: groupEdges, cv: 3 }).fitSync(train);
    const ridge = new IndependentRidge({ cv: 3 }).fitSync(train);
    const coefError = (m: { coef: Matrix<Float64Array> }) => relErr(m.coef.data, Float64Array.from(Wg.flat()));
    expect(coefError(graph)).to.be.below(0.5 * coefError(ridge));
    expect(graph.score(test)).to.be.above(ridge.score(test) + 0.05);
  });

  describe('graph options', () => {
    const tasks = (ds as MultiTaskDataset).tasks;
    it('the graph is required once', () => {
      throwsWith(() => new GraphRegularizedRegression(), ConfigError, /exactly one of the options 'edges'.*'similarity'/);
      throwsWith(() => new GraphRegularizedRegression({ edges: [], similarity: [[0]] }), ConfigError, /exactly one/);
    });
    it('edges: shape, endpoints, self-loops, weights', () => {
      throwsWith(() => new GraphRegularizedRegression({ edges: 'a-b' as never }), ConfigError, /'edges' must be an array/);
      throwsWith(() => new GraphRegularizedRegression({ edges: [['a']] as never }), ConfigError, /edge 0 must be \[task, task\]/);
      throwsWith(() => new GraphRegularizedRegression({ edges: [['a', 1.5]] }), ConfigError, /edge 0 names its tasks by name.*or by index/, /1\.5/);
      throwsWith(() => new GraphRegularizedRegression({ edges: [[0, 1], ['b', 'b']] }), ConfigError, /edge 1 joins task 'b' to itself/);
      throwsWith(() => new GraphRegularizedRegression({ edges: [[0, 1, -2]] }), ConfigError, /weight of edge 0 must be a finite number > 0/);
      throwsWith(() => new GraphRegularizedRegression({ edges: [[0, 1, NaN]] }), ConfigError, /weight of edge 0/);
    });
    it('edges naming unknown tasks fail at fit, with a suggestion, and leave the model as it was', () => {
      const m = new GraphRegularizedRegression({ edges: [['task0', 'tsak1']] });
      throwsWith(() => m.fitSync(ds), ValueError, /edge 0 names an unknown task 'tsak1' \(did you mean 'task1'\?\)/, /known tasks: 'task0'/);
      throwsWith(() => new GraphRegularizedRegression({ edges: [[0, 9]] }).fitSync(ds), ValueError, /edge 0 refers to task index 9, but the data has 5 tasks/);
      // [0, 'task0'] is a self-loop once the names are resolved.
      throwsWith(() => new GraphRegularizedRegression({ edges: [[0, 'task0']] }).fitSync(ds), ValueError, /edge 0 joins task 'task0' to itself/);
      expect(m.isFitted).to.equal(false);
      expect(tasks.length).to.equal(5);
    });
    it('similarity: square, symmetric, >= 0, one row per task', () => {
      throwsWith(() => new GraphRegularizedRegression({ similarity: [[0, 1]] }), ConfigError, /must be square/, /1 x 2/);
      throwsWith(() => new GraphRegularizedRegression({ similarity: [[0, 1], [2, 0]] }), ConfigError, /symmetric/, /\(0, 1\) is 1 but \(1, 0\) is 2/);
      throwsWith(() => new GraphRegularizedRegression({ similarity: [[0, -1], [-1, 0]] }), ConfigError, /\(0, 1\) is -1.*>= 0/);
      throwsWith(() => new GraphRegularizedRegression({ similarity: [[0, NaN], [NaN, 0]] }), ConfigError, /similarity/);
      throwsWith(() => new GraphRegularizedRegression({ similarity: [[0, 1], [1, 0]] }).fitSync(ds), ShapeError, /2 x 2, but the data has 5 tasks/);
    });
  });
});
