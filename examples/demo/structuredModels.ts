/**
 * Demo part: the structured convex multi-task models (clustered, dirty, robust L2,1, low rank +
 * sparse, graph-regularised, temporal group lasso) against the baselines and the other convex
 * multi-task models, on two real data sets, with fit times.
 *
 * School (protocol of school.ts): 10 random 75/25 splits within each school, strengths chosen by
 * CV on the training part, explained variance 100 (1 - MSE / Var(y_test)) pooled over the test
 * students, mean +- sd over splits. The graph model's graph links each school to its 5 nearest
 * schools by intake (the school-level columns: free-meal and VR1 percentages, school gender and
 * denomination, standardised), computed from the training inputs.
 *
 * SARCOS with few labels per torque: 10 draws; in each, a random quarter of the 4,449 rows is the
 * test set and each of the 7 torques gets its own n random labelled rows from the rest (n = 20 and
 * n = 100). Inputs are standardised with the labelled rows, each torque with its own labelled rows
 * (so shared penalties weigh the torques alike). Score: 100 (1 - MSE_t / Var_t) on the test rows,
 * averaged over the torques, mean +- sd over draws. Graph and temporal models chain the joints in
 * arm order (joint i next to joint i + 1): a structural guess, not time.
 *
 * Run alone: node dist/examples/demo/structuredModels.js [school] [sarcos]   (default both)
 */
import { datasets, schoolFeatureNames } from '../../lib/data/school.js';
import { MultiTaskDataset } from '../../lib/data/dataset.js';
import { Rng } from '../../lib/core/rng.js';
import { backend } from '../../lib/kernels/index.js';
import { ClusteredRegression } from '../../lib/linear/clustered.js';
import { DirtyRegression } from '../../lib/linear/dirty.js';
import { GraphRegularizedRegression } from '../../lib/linear/graphRegularized.js';
import { L21Regression } from '../../lib/linear/l21.js';
import { LowRankSparseRegression } from '../../lib/linear/lowRankSparse.js';
import { MeanRegularizedRegression } from '../../lib/linear/meanRegularized.js';
import { IndependentRidge, PooledRidge } from '../../lib/linear/ridge.js';
import { RobustL21Regression } from '../../lib/linear/robustL21.js';
import { TemporalGroupRegression } from '../../lib/linear/temporalGroup.js';
import type { TaskLinearModel, Params } from '../../lib/linear/taskModel.js';
import type { TaskEdge } from '../../lib/linear/taskGraph.js';
import { TraceNormRegression } from '../../lib/linear/traceNorm.js';
import { loadSarcos } from './sarcos.js';
import { describeGrid, meanSd, models as schoolModels } from './school.js';

export const title = 'Structured convex multi-task models on School and SARCOS (few labels per torque): explained variance and fit times';

type Model = TaskLinearModel<Params>;
interface Spec {
  name: string;
  /** Solved by FISTA (its single-fit time is reported against the existing FISTA models). */
  fista: boolean;
  make: (seed: number, edges: TaskEdge[]) => Model;
}

// The FISTA models get 3-fold CV over their default grids (the path axis: 6 points from where the
// structure is zero down to 1e-2 of it; a second strength: 3 points), each path warm-started,
// tol 1e-6 for the final fit and 1e-5 along the CV path, as the L2,1 and trace-norm models of school.ts.
const cv = { cv: 3, cvTol: 1e-5 };
const fistaBaselines = { cv: 3, nAlphas: 6, eps: 1e-2, cvTol: 1e-5 };

const structured = (clusters: number): Spec[] => [
  { name: `ClusteredRegression (k=${clusters})`, fista: true, make: (seed) => new ClusteredRegression({ clusters, ...cv, seed }) },
  { name: 'DirtyRegression (L1,inf)', fista: true, make: (seed) => new DirtyRegression({ ...cv, seed }) },
  { name: 'RobustL21Regression', fista: true, make: (seed) => new RobustL21Regression({ ...cv, seed }) },
  { name: 'LowRankSparseRegression', fista: true, make: (seed) => new LowRankSparseRegression({ ...cv, seed }) },
  { name: 'LowRankSparse (outlier tasks)', fista: true, make: (seed) => new LowRankSparseRegression({ sparsity: 'tasks', ...cv, seed }) },
  { name: 'GraphRegularizedRegression', fista: true, make: (seed, edges) => new GraphRegularizedRegression({ edges, ...cv, seed }) },
];

const schoolSpecs: Spec[] = [...schoolModels.map((m) => ({ name: m.name, fista: /L21|TraceNorm/.test(m.name), make: (seed: number) => m.make(seed) })), ...structured(3)];

const sarcosSpecs: Spec[] = [
  { name: 'PooledRidge', fista: false, make: (seed) => new PooledRidge({ cv: 5, seed }) },
  { name: 'IndependentRidge', fista: false, make: (seed) => new IndependentRidge({ cv: 5, seed }) },
  { name: 'MeanRegularizedRegression', fista: false, make: (seed) => new MeanRegularizedRegression({ cv: 5, seed }) },
  { name: 'L21Regression', fista: true, make: (seed) => new L21Regression({ ...fistaBaselines, seed }) },
  { name: 'TraceNormRegression', fista: true, make: (seed) => new TraceNormRegression({ ...fistaBaselines, seed }) },
  ...structured(2),
  { name: 'TemporalGroupRegression', fista: true, make: (seed) => new TemporalGroupRegression({ ...cv, seed }) },
];

/** Each school's intake (school-level columns, averaged over its students), standardised; edges to its 5 nearest schools. */
function schoolGraph(train: MultiTaskDataset): TaskEdge[] {
  const cols = ['fsm_pct', 'vr1_pct', 'school_gender_0', 'school_gender_1', 'school_gender_2', 'school_denom_0', 'school_denom_1', 'school_denom_2'];
  const all = schoolFeatureNames();
  const idx = cols.map((c) => all.indexOf(c));
  const z = train.tasks.map((t) => idx.map((j) => {
    let s = 0;
    for (let i = 0; i < t.X.rows; i++) s += t.X.data[i * t.X.cols + j]!;
    return s / t.X.rows;
  }));
  for (let j = 0; j < cols.length; j++) {
    const [m, sd] = meanSd(z.map((r) => r[j]!));
    for (const r of z) r[j] = sd > 0 ? (r[j]! - m) / sd : 0;
  }
  const edges = new Set<string>();
  z.forEach((a, s) => {
    const near = z.map((b, t) => [t, a.reduce((acc, v, j) => acc + (v - b[j]!) ** 2, 0)] as const).filter(([t]) => t !== s).sort((p, q) => p[1] - q[1]);
    for (const [t] of near.slice(0, 5)) edges.add(s < t ? `${s},${t}` : `${t},${s}`);
  });
  return [...edges].map((e) => e.split(',').map(Number) as [number, number]);
}

interface Row {
  spec: Spec;
  scores: number[];
  seconds: number;
  first?: Model;
}

function table(rows: Row[], header: string): string[] {
  const w = Math.max(...rows.map((r) => r.spec.name.length));
  const out = [`| ${'model'.padEnd(w)} | ${header} | fit time (s, all splits, with CV) |`, `| ${'-'.repeat(w)} | --- | --- |`];
  for (const r of rows) {
    const [m, sd] = meanSd(r.scores);
    out.push(`| ${r.spec.name.padEnd(w)} | ${m.toFixed(1)} +- ${sd.toFixed(1)} | ${r.seconds.toFixed(1)} |`);
  }
  return out;
}

/** Median time of 3 refits of the FISTA models at the strengths CV chose on the first split. */
function fitTimes(rows: Row[], train: MultiTaskDataset, log: (line: string) => void): void {
  log('\nSingle fit at the strengths CV chose on split 1 (median of 3; same data, same run):\n');
  log('| model | iterations | ms per fit | us per iteration |');
  log('| --- | --- | --- | --- |');
  for (const r of rows) {
    if (!r.spec.fista || !r.first) continue;
    const C = r.first.constructor as new (o: unknown) => Model;
    const options: Record<string, unknown> = { ...(r.first.config as Record<string, unknown>), ...r.first.chosen };
    delete options.cv;
    delete options.grid;
    const ms: number[] = [];
    let iters = 0;
    for (let k = 0; k < 3; k++) {
      const t0 = performance.now();
      iters = new C(options).fitSync(train).nIter;
      ms.push(performance.now() - t0);
    }
    const med = ms.sort((a, b) => a - b)[1]!;
    log(`| ${r.spec.name} | ${iters} | ${med.toFixed(0)} | ${((1000 * med) / Math.max(1, iters)).toFixed(0)} |`);
  }
}

async function school(log: (line: string) => void): Promise<void> {
  const SPLITS = 10;
  const data = datasets.school();
  log(`School: ${data.nTasks} schools, ${data.nRows} students; ${SPLITS} random 75/25 splits; backend ${backend().name}`);
  const rows: Row[] = schoolSpecs.map((spec) => ({ spec, scores: [], seconds: 0 }));
  let firstTrain: MultiTaskDataset | undefined;
  for (let s = 0; s < SPLITS; s++) {
    const { train, test } = data.split({ testFraction: 0.25, seed: 1000 + s });
    firstTrain ??= train;
    const edges = schoolGraph(train);
    for (const r of rows) {
      const t0 = performance.now();
      const model = await r.spec.make(s, edges).fit(train);
      r.seconds += (performance.now() - t0) / 1000;
      r.scores.push(100 * model.score(test));
      if (s === 0) {
        r.first = model;
        log(`  ${r.spec.name}: ${describeGrid(model)}`);
      }
    }
    log(`  split ${s + 1}/${SPLITS} done`);
  }
  log('\nSchool, explained variance % (mean +- sd over 10 splits):\n');
  for (const l of table(rows, 'explained variance %')) log(l);
  fitTimes(rows, firstTrain!, log);
}

async function sarcos(log: (line: string) => void): Promise<void> {
  const loaded = loadSarcos();
  if ('missing' in loaded) {
    log(`SARCOS: skipped (${loaded.missing} not found; the package does not ship this data set)`);
    return;
  }
  const { X, Y, n, inputs, names } = loaded;
  const d = inputs.length;
  const T = names.length;
  const DRAWS = 10;
  const chain: TaskEdge[] = names.slice(1).map((_, t) => [t, t + 1]);
  for (const labels of [20, 100]) {
    log(`\nSARCOS: ${labels} labelled rows per torque (each torque its own rows), test on a quarter of the ${n} rows; ${DRAWS} draws; backend ${backend().name}`);
    const rows: Row[] = sarcosSpecs.map((spec) => ({ spec, scores: [], seconds: 0 }));
    let firstTrain: MultiTaskDataset | undefined;
    for (let s = 0; s < DRAWS; s++) {
      const rng = new Rng(100 + s);
      const perm = rng.permutation(n);
      const nTest = Math.floor(n / 4);
      const test = Array.from(perm.subarray(0, nTest));
      const pool = perm.subarray(nTest);
      const rowsOf = names.map(() => Array.from(rng.permutation(pool.length).subarray(0, labels), (k) => pool[k]!));
      // Standardise the inputs with the labelled rows, each torque with its own labelled rows.
      const used = [...new Set(rowsOf.flat())];
      const xs = Array.from({ length: d }, (_, j) => meanSd(used.map((i) => X[i * d + j]!)));
      const row = (i: number) => Array.from({ length: d }, (_, j) => (X[i * d + j]! - xs[j]![0]) / (xs[j]![1] || 1));
      const ys = rowsOf.map((r, t) => meanSd(r.map((i) => Y[i * T + t]!)));
      const train = new MultiTaskDataset(rowsOf.map((r, t) => ({ name: names[t]!, X: r.map(row), y: r.map((i) => (Y[i * T + t]! - ys[t]![0]) / ys[t]![1]) })));
      firstTrain ??= train;
      const Xtest = test.map(row);
      for (const r of rows) {
        const t0 = performance.now();
        const model = await r.spec.make(s, chain).fit(train);
        r.seconds += (performance.now() - t0) / 1000;
        if (s === 0) r.first = model;
        let ev = 0;
        names.forEach((name, t) => {
          const yt = test.map((i) => (Y[i * T + t]! - ys[t]![0]) / ys[t]![1]);
          const p = model.predict(name, Xtest);
          const [m] = meanSd(yt);
          let sse = 0;
          let v = 0;
          yt.forEach((y, k) => {
            sse += (p[k]! - y) ** 2;
            v += (y - m) ** 2;
          });
          ev += (1 - sse / v) / T;
        });
        r.scores.push(100 * ev);
      }
    }
    log(`\nSARCOS, ${labels} labels per torque: explained variance % averaged over the 7 torques (mean +- sd over ${DRAWS} draws):\n`);
    for (const l of table(rows, 'explained variance %')) log(l);
    if (labels === 20) fitTimes(rows, firstTrain!, log);
  }
}

export async function run(log: (line: string) => void = console.log): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => a === 'school' || a === 'sarcos');
  if (wanted.length === 0 || wanted.includes('school')) await school(log);
  if (wanted.length === 0 || wanted.includes('sarcos')) await sarcos(log);
}

// Run on its own: node dist/examples/demo/structuredModels.js [school] [sarcos]
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  run().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
