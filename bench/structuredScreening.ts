/**
 * Fit times of the sparse FISTA models with and without gap-safe screening of features, on
 * multi-task regression with many irrelevant features (n rows per task, T tasks, d features of
 * which k are used by every task, Gaussian design):
 *   node dist/bench/structuredScreening.js [--n 50] [--T 10] [--d 2000] [--k 20] [--reps 3] [--backend native|js] [--ratio 0.3] [--nLambdas 6]
 * Each line: the model, screened or not, the median time of `reps` cold solves (W = 0 start) with
 * its strengths at `ratio` times their maximum (the smallest strength at which the part is zero),
 * with the features kept and the objective, and of `reps` warm-started paths of nLambdas strengths
 * from the maximum down to that (what a CV fold walks). The models: L21Regression;
 * TemporalGroupRegression (the same with lambdaTime 0.1, lambdaRidge 0.01); GraphRegularized with
 * its L1 term (the tasks on a ring, lambdaGraph 0.1, lambdaRidge 0.01); DirtyRegression (L1,inf
 * plus L1, lambdaSparse 1.2 times lambdaGroup's fraction). Then the whole fitSync of each model
 * (data checks, centring, the Lipschitz constant, the screened solve) on a fresh copy of the
 * tasks. Single-threaded, in one process.
 */
import { Rng } from '../lib/core/rng.js';
import { setBackend, setThreads } from '../lib/kernels/index.js';
import { DirtyRegression } from '../lib/linear/dirty.js';
import { alphaMax, solveProx } from '../lib/linear/fista.js';
import { GraphRegularizedRegression } from '../lib/linear/graphRegularized.js';
import { L21Regression } from '../lib/linear/l21.js';
import { PART_PENALTIES } from '../lib/linear/partPenalties.js';
import { TemporalGroupRegression } from '../lib/linear/temporalGroup.js';
import { lossGradientAtZero, solveStructured, type Structure } from '../lib/linear/structuredSolver.js';
import { adjacencyFromEdges, chainAdjacency, laplacian, laplacianPenalty, type TaskEdge } from '../lib/linear/taskGraph.js';
import { logGrid, runSync, type Solution, type TaskProblem } from '../lib/linear/taskModel.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

/** T tasks of n rows, d features of which the first k carry task-specific weights. */
function sparseTasks(seed: number, n: number, T: number, d: number, k: number): TaskProblem {
  const rng = new Rng(seed);
  const N = n * T;
  const x = new Float64Array(N * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const used = rng.permutation(d).subarray(0, k);
  const y = new Float64Array(N);
  const offsets = new Int32Array(T + 1);
  for (let t = 0; t < T; t++) {
    offsets[t + 1] = (t + 1) * n;
    const w = Array.from(used, () => 1 + 0.3 * rng.normal());
    for (let i = t * n; i < (t + 1) * n; i++) {
      let s = 0.5 * rng.normal();
      used.forEach((j, c) => (s += x[i * d + j]! * w[c]!));
      y[i] = s;
    }
  }
  return { x: { rows: N, cols: d, data: x }, y, offsets, T, d };
}

function nonZeroColumns(s: Solution): number {
  const { rows: T, cols: d, data } = s.coef;
  let c = 0;
  for (let j = 0; j < d; j++) for (let t = 0; t < T; t++) if (data[t * d + j] !== 0) { c++; break; }
  return c;
}

function main(): void {
  const [n, T, d, k, reps] = ['n', 'T', 'd', 'k', 'reps'].map((a, i) => Number(arg(a, ['50', '10', '2000', '20', '3'][i]!)));
  const ratio = Number(arg('ratio', '0.3'));
  setBackend(arg('backend', 'native') as 'native' | 'js');
  setThreads(1);
  const p = sparseTasks(1, n!, T!, d!, k!);
  const nLambdas = Number(arg('nLambdas', '6'));
  const tol = 1e-6;
  const g0 = lossGradientAtZero(p, 'squared', true);
  const top = { l21: alphaMax(p, 'squared', 'l21', true), l1: PART_PENALTIES.l1.dual(g0), l1inf: PART_PENALTIES.l1inf.dual(g0) };
  const chain = laplacian(chainAdjacency(Array.from({ length: T! }, (_, t) => t)));
  const ringEdges: TaskEdge[] = Array.from({ length: T! }, (_, t) => [t, (t + 1) % T!]);
  const ring = laplacian(adjacencyFromEdges('bench', ringEdges, Array.from({ length: T! }, (_, t) => `task${t}`)));
  const structured = (st: (fraction: number) => Structure) => (fraction: number, screening: boolean, warm: Solution | null): Solution =>
    runSync(solveStructured(p, st(fraction), { loss: 'squared', fitIntercept: true, tol, maxIter: 100_000, screening }, warm));
  /** Each model's solve at `fraction` of the strength(s) at which its coefficients are zero. */
  const sides: [string, (fraction: number, screening: boolean, warm: Solution | null) => Solution][] = [
    ['L21Regression', (f, screening, warm) => runSync(solveProx(p, { loss: 'squared', kind: 'l21', alpha: f * top.l21, fitIntercept: true, tol, maxIter: 100_000, screening }, warm))],
    ['TemporalGroupRegression', structured((f) => ({ parts: [{ name: 'w', penalty: 'features', strength: f * top.l21 }], smooth: laplacianPenalty(chain, 0.1, 0.01) }))],
    ['GraphRegularized (L1)', structured((f) => ({ parts: [{ name: 'w', penalty: 'l1', strength: f * top.l1 }], smooth: laplacianPenalty(ring, 0.1, 0.01) }))],
    [
      'DirtyRegression',
      structured((f) => ({
        parts: [
          { name: 'group', penalty: 'l1inf', strength: f * top.l1inf },
          { name: 'sparse', penalty: 'l1', strength: 1.2 * f * top.l1 },
        ],
      })),
    ],
  ];
  // The path: nLambdas points from the top down to `ratio` times it, each warm-started from the last.
  const path = logGrid(1, ratio, nLambdas!);
  console.log(`n ${n} per task, T ${T}, d ${d}, ${k} relevant; strengths = ${ratio} of their maximum; path of ${nLambdas} down to it; tol ${tol}; median of ${reps}`);
  for (const [name, solve] of sides) {
    for (const screening of [false, true]) {
      const median = (run: () => Solution): { time: number; last: Solution } => {
        run(); // warm-up (JIT; the prepared rows are cached per problem)
        const times: number[] = [];
        let last: Solution | null = null;
        for (let r = 0; r < reps!; r++) {
          const t0 = performance.now();
          last = run();
          times.push((performance.now() - t0) / 1000);
        }
        times.sort((x, y) => x - y);
        return { time: times[times.length >> 1]!, last: last! };
      };
      const one = median(() => solve(ratio, screening, null));
      let pathIters = 0;
      const walk = median(() => {
        pathIters = 0;
        let warm: Solution | null = null;
        for (const f of path) {
          warm = solve(f, screening, warm);
          pathIters += warm.nIter ?? 0;
        }
        return warm!;
      });
      const h = one.last.history!;
      console.log(
        `${name.padEnd(24)} screening ${String(screening).padEnd(5)} one fit ${one.time.toFixed(3)} s (nIter ${String(one.last.nIter).padStart(4)}, features ${nonZeroColumns(one.last)}, objective ${h[h.length - 1]!.toPrecision(10)})  path ${walk.time.toFixed(3)} s (nIter ${pathIters})`,
      );
    }
  }
  const tasks = () =>
    Array.from({ length: T! }, (_, t) => {
      const a = p.offsets[t]!;
      const b = p.offsets[t + 1]!;
      return { name: `task${t}`, X: { rows: b - a, cols: d!, data: p.x.data.slice(a * d!, b * d!) }, y: p.y.slice(a, b) };
    });
  const models: [string, () => { fitSync(data: ReturnType<typeof tasks>): unknown }][] = [
    ['L21Regression', () => new L21Regression({ alpha: ratio * top.l21, tol })],
    ['TemporalGroupRegression', () => new TemporalGroupRegression({ lambdaGroup: ratio * top.l21, lambdaTime: 0.1, lambdaRidge: 0.01, tol })],
    ['GraphRegularized (L1)', () => new GraphRegularizedRegression({ edges: ringEdges, lambdaSparse: ratio * top.l1, lambdaGraph: 0.1, lambdaRidge: 0.01, tol })],
    ['DirtyRegression', () => new DirtyRegression({ lambdaGroup: ratio * top.l1inf, lambdaSparse: 1.2 * ratio * top.l1, tol })],
  ];
  for (const [name, make] of models) {
    const times: number[] = [];
    for (let r = 0; r < reps!; r++) {
      const data = tasks();
      const t0 = performance.now();
      make().fitSync(data);
      times.push((performance.now() - t0) / 1000);
    }
    times.sort((a, b) => a - b);
    console.log(`${name.padEnd(24)} fitSync            ${times[times.length >> 1]!.toFixed(3)} s`);
  }
}

main();
