/**
 * ClusteredRegression / ClusteredLogistic: the closed form at k = T (M = I: a ridge per task),
 * the optimality condition (eta I + M) G = 2 c W with the learned M feasible, a brute-force
 * minimisation over M on a two-task problem, the optimal eigenvalues of M, and planted task
 * clusters recovered (adjusted Rand index >= 0.9).
 */
import { expect } from 'chai';
import { ConfigError, ValueError } from '../lib/core/errors.js';
import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { kernels } from '../lib/kernels/index.js';
import { ClusteredLogistic, ClusteredRegression, clusterEigenvalues } from '../lib/linear/clustered.js';
import { relErr, throwsWith } from './helpers.js';
import { adjustedRandIndex, expectNoDescent, lossValue, negLossGradient, plantedTasks, quadraticSolve } from './structuredFixtures.js';

/** T tasks in clusters (task t in cluster t % k): each cluster a centre, each task a small offset. */
function clusteredWeights(seed: number, T: number, k: number, d: number, spread: number, offset: number): number[][] {
  const rng = new Rng(seed);
  const centres = Array.from({ length: k }, () => Array.from({ length: d }, () => spread * rng.normal()));
  return Array.from({ length: T }, (_, t) => centres[t % k]!.map((c) => c + offset * rng.normal()));
}

/** (eta I + M) G = 2 c W, with M symmetric, trace k and eigenvalues in [0, 1]. */
function expectClusteredOptimality(G: Matrix<Float64Array>, W: Matrix<Float64Array>, M: Matrix<Float64Array>, lambdaCluster: number, lambdaRidge: number, k: number, tol: number): void {
  const T = W.rows;
  const eta = lambdaRidge / lambdaCluster;
  const c = lambdaCluster * eta * (1 + eta);
  const mg = { rows: T, cols: W.cols, data: new Float64Array(T * W.cols) };
  kernels().gemm(M, G, mg);
  mg.data.forEach((v, i) => expect(v + eta * G.data[i]!, `entry ${i}`).to.be.closeTo(2 * c * W.data[i]!, tol));
  let trace = 0;
  for (let t = 0; t < T; t++) {
    trace += M.data[t * T + t]!;
    for (let s = 0; s < T; s++) expect(M.data[t * T + s]).to.be.closeTo(M.data[s * T + t]!, 1e-12);
  }
  expect(trace).to.be.closeTo(k, 1e-9);
  for (const v of kernels().symEig(M).values) expect(v).to.be.within(-1e-9, 1 + 1e-9);
}

describe('ClusteredRegression', () => {
  const ds = plantedTasks(1, clusteredWeights(2, 9, 3, 5, 1.5, 0.2), { rows: [15, 20, 12], noise: 0.4, intercepts: [0, 1, 2, 0, 1, 2, 0, 1, 2] });

  it('with as many clusters as tasks it is a ridge per task (closed form)', () => {
    const lambdaRidge = 0.3;
    const m = new ClusteredRegression({ clusters: 9, lambdaCluster: 2, lambdaRidge, tol: 1e-14, maxIter: 100000 }).fitSync(ds);
    const ref = quadraticSolve(ds, (i, k) => (i === k ? lambdaRidge : 0));
    expect(relErr(m.coef.data, ref.coef)).to.be.below(1e-7);
    expect(relErr(m.intercept, ref.intercept)).to.be.below(1e-7);
  });

  it('satisfies the optimality condition, with a feasible learned similarity', () => {
    const [lambdaCluster, lambdaRidge] = [1, 0.05];
    const m = new ClusteredRegression({ clusters: 3, lambdaCluster, lambdaRidge, tol: 1e-14, maxIter: 100000 }).fitSync(ds);
    const G = negLossGradient(ds, m.coef, m.intercept, 'squared');
    expectClusteredOptimality(G, m.coef, m.taskSimilarity, lambdaCluster, lambdaRidge, 3, 1e-7);
    for (let i = 1; i < m.history.length; i++) expect(m.history[i]!).to.be.at.most(m.history[i - 1]! * (1 + 1e-15));
  });

  it('brute force over M on two tasks: the same penalty, and no direction decreases the objective', () => {
    const tiny = plantedTasks(3, clusteredWeights(4, 2, 2, 2, 1, 0.5), { rows: 6, noise: 0.3 });
    const [lambdaCluster, lambdaRidge] = [0.7, 0.2];
    const eta = lambdaRidge / lambdaCluster;
    const c = lambdaCluster * eta * (1 + eta);
    // M = gamma u u^T + (1 - gamma) v v^T, u = (cos th, sin th), v perpendicular: for fixed th the
    // best gamma of a / (eta + gamma) + b / (eta + 1 - gamma) is where the derivative vanishes
    // (clipped to [0, 1]); th by a grid search refined by golden sections.
    const h = (W: Float64Array) => {
      const A = [W[0]! ** 2 + W[1]! ** 2, W[0]! * W[2]! + W[1]! * W[3]!, W[2]! ** 2 + W[3]! ** 2];
      const at = (th: number) => {
        const [co, si] = [Math.cos(th), Math.sin(th)];
        const a = co * co * A[0]! + 2 * co * si * A[1]! + si * si * A[2]!;
        const b = si * si * A[0]! - 2 * co * si * A[1]! + co * co * A[2]!;
        const [ra, rb] = [Math.sqrt(Math.max(a, 0)), Math.sqrt(Math.max(b, 0))];
        const g = ra + rb > 0 ? Math.min(1, Math.max(0, (ra * (eta + 1) - rb * eta) / (ra + rb))) : 0.5;
        return a / (eta + g) + b / (eta + 1 - g);
      };
      let best = 0;
      const N = 2000;
      for (let i = 1; i < N; i++) if (at((Math.PI * i) / N) < at((Math.PI * best) / N)) best = i;
      let [lo, hi] = [(Math.PI * (best - 1)) / N, (Math.PI * (best + 1)) / N];
      for (let it = 0; it < 100; it++) {
        const m1 = lo + 0.382 * (hi - lo);
        const m2 = lo + 0.618 * (hi - lo);
        if (at(m1) < at(m2)) hi = m2;
        else lo = m1;
      }
      return c * at((lo + hi) / 2);
    };
    const m = new ClusteredRegression({ clusters: 1, lambdaCluster, lambdaRidge, tol: 1e-15, maxIter: 100000 }).fitSync(tiny);
    const F = (v: Float64Array) => lossValue(tiny, { rows: 2, cols: 2, data: v.subarray(0, 4) }, v.subarray(4), 'squared') + h(v.subarray(0, 4));
    const x = Float64Array.from([...m.coef.data, ...m.intercept]);
    // The objective the solver reports is the brute-force one (up to the loss's constant: compare differences).
    expect(h(m.coef.data)).to.be.closeTo(m.history[m.history.length - 1]! - lossValue(tiny, m.coef, m.intercept, 'squared'), 1e-9);
    expectNoDescent(F, x, 3, 1e-9);
  });

  it('clusterEigenvalues: feasible, and no transfer between two eigenvalues lowers the penalty', () => {
    const cases: [number[], number, number][] = [
      [[3, 2, 1, 0.5, 0.1, 0], 0.1, 2],
      [[5, 0, 0, 0], 0.3, 2],
      [[0, 0, 0], 1, 1],
      [[1, 1, 1, 1], 0.5, 3],
      [[10, 9, 0.01, 0.01], 0.05, 3],
    ];
    for (const [sigma, eta, k] of cases) {
      const g = clusterEigenvalues(sigma, eta, k);
      expect(g.reduce((a, b) => a + b, 0), `${sigma}`).to.be.closeTo(k, 1e-12);
      g.forEach((v) => expect(v).to.be.within(0, 1));
      const pen = (gam: ArrayLike<number>) => sigma.reduce((s, v, i) => s + (v * v) / (eta + gam[i]!), 0);
      for (let i = 0; i < sigma.length; i++)
        for (let j = 0; j < sigma.length; j++) {
          if (i === j) continue;
          const e = Math.min(1e-4, 1 - g[i]!, g[j]!);
          if (e <= 0) continue;
          const moved = g.slice();
          moved[i]! += e;
          moved[j]! -= e;
          expect(pen(moved), `${sigma}: ${i} <- ${j}`).to.be.at.least(pen(g) - 1e-12);
        }
    }
  });

  it('recovers planted task clusters (adjusted Rand index >= 0.9), strengths chosen by CV', () => {
    const truth = Array.from({ length: 12 }, (_, t) => t % 3);
    const planted = plantedTasks(5, clusteredWeights(6, 12, 3, 6, 1.5, 0.2), { rows: 20, noise: 0.5 });
    const m = new ClusteredRegression({ clusters: 3, cv: 3, seed: 1 }).fitSync(planted);
    expect(adjustedRandIndex(m.clusterAssignment, truth)).to.be.at.least(0.9);
    expect(m.clusterMembers.map((c) => c.length).sort()).to.deep.equal([4, 4, 4]);
    // The similarity is high within a cluster and low across.
    const M = m.taskSimilarity;
    expect(M.data[0 * 12 + 3]!).to.be.above(M.data[0 * 12 + 1]! + 0.1);
  });

  it('bad input: clusters out of range, strengths that must be positive', () => {
    throwsWith(() => new ClusteredRegression({ clusters: 0 }), ConfigError, /'clusters' must be >= 1/);
    throwsWith(() => new ClusteredRegression({ clusters: 2.5 }), ConfigError, /'clusters' must be an integer/);
    throwsWith(() => new ClusteredRegression({ lambdaRidge: 0 }), ConfigError, /'lambdaRidge' must be > 0/);
    throwsWith(() => new ClusteredRegression({ grid: { lambdaRidge: [1, 0] } }), ConfigError, /'grid'.*'lambdaRidge' must be > 0/);
    const m = new ClusteredRegression({ clusters: 10 });
    throwsWith(() => m.fitSync(ds), ValueError, /'clusters' is 10, but the data has only 9 tasks/);
    expect(m.isFitted).to.equal(false);
  });
});

describe('ClusteredLogistic', () => {
  it('satisfies the optimality condition and recovers planted clusters of binary tasks', () => {
    const truth = Array.from({ length: 8 }, (_, t) => t % 2);
    const ds = plantedTasks(7, clusteredWeights(8, 8, 2, 4, 2, 0.2), { rows: 150, logistic: true });
    const [lambdaCluster, lambdaRidge] = [0.2, 0.002];
    const m = new ClusteredLogistic({ clusters: 2, lambdaCluster, lambdaRidge, tol: 1e-14, maxIter: 100000 }).fitSync(ds);
    const G = negLossGradient(ds, m.coef, m.intercept, 'logistic');
    expectClusteredOptimality(G, m.coef, m.taskSimilarity, lambdaCluster, lambdaRidge, 2, 1e-7);
    expect(adjustedRandIndex(m.clusterAssignment, truth)).to.be.at.least(0.9);
    const p = m.predictProba('task0', ds.tasks[0]!.X);
    p.forEach((v) => expect(v).to.be.within(0, 1));
    expect(m.score(ds)).to.be.above(0.8);
  });
});
