/**
 * MAML on sinusoids (Finn et al. 2017): MLP 1-40-40-1 ReLU, inner loop one SGD step (lr 0.01) on 10
 * support points, outer Adam lr 1e-3 on the mean query MSE of a meta-batch of 25 tasks.
 * Reports
 * - meta-iterations per second, second order (exact, by Hessian-vector products) and first order:
 *   median (min-max) of 3 runs of at least 200 and half a second each, after the first 20
 *   iterations of a fresh process (the cold figure) and one run of 200 that sets the runs' length
 *   (SpeedJob), for metatask native at 1 and 2 threads (on a CPU with AVX-512 also at 1 thread capped at
 *   AVX2, what CPUs without it run), the TypeScript backend, and PyTorch
 *   (bench/peers/torch_maml.py) looping over the tasks and batched over them, at 1 and 2 threads;
 *   each configuration in --rounds processes of its own (three by default), the configurations
 *   taking turns; beside them two 1-thread native processes at once, what the machine's two cores
 *   give the workload when nothing is shared, the mark for the 2-thread row (a note);
 * - quality: query MSE on 600 fresh tasks after 0, 1 and 10 SGD steps (lr 0.01), mean and 95% CI,
 *   after 10,000 meta-iterations, against a network pretrained on all tasks for as many steps (fewer
 *   iterations when the backend is too slow for that to take about a minute, and the notes say so;
 *   METATASK_MAML_ITERATIONS sets the count).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { availableBackends } from '../lib/kernels/index.js';
import { packageRoot } from '../lib/kernels/native.js';
import type { EvaluationRow } from '../lib/meta/learner.js';
import { MAML } from '../lib/meta/maml.js';
import { Pretrained } from '../lib/meta/pretrained.js';
import { SinusoidTasks } from '../lib/meta/tasks.js';
import {
  benchOptions, chartPanel, inChild, inTurns, markdownTable, narrowerSimd, progress, pythonWith, runPython, skippedNotes, speedTable, twoProcessesNote, twoProcessesRow, apartFromTwoProcesses,
  stats, timed, turnsNote, useMetatask, type Metric, type Row, type WorkloadResult,
} from './harness.js';

export const title = 'MAML on sinusoids (1-40-40-1 ReLU, meta-batch 25 tasks, 1 inner SGD step)';

const NET = { inputSize: 1, hidden: [40, 40], outputSize: 1, activation: 'relu' as const };
const COLD = 20;

export type Order = 'second' | 'first';

/**
 * A speed measurement: after COLD cold meta-iterations, one run of `iterations` sets the length of
 * the timed runs, then `runs` runs of at least `iterations` meta-iterations and `minSeconds`
 * seconds each (default 0: `iterations`). Both sides follow the rule: at a few thousand
 * iterations a second, 200 of them last 40-60 ms, which a pause of the machine moved by a third.
 */
export interface SpeedJob {
  order: Order;
  iterations: number;
  runs: number;
  minSeconds?: number;
}

function maml(order: Order, seed = 0): MAML {
  return new MAML({ network: NET, loss: 'mse', innerLr: 0.01, innerSteps: 1, firstOrder: order === 'first', metaBatchSize: 25, optimizer: { type: 'adam', lr: 1e-3 }, seed });
}

const metric = (order: Order): Metric => ({ name: `${order}-order meta-iterations/s`, unit: 'it/s', better: 'higher', cold: `first ${COLD} iterations` });

const CHECK_FILE = () => join(packageRoot(), '..', 'shared', 'data', 'w3', 'metagrad_check.json');

/**
 * The largest relative error of this backend's meta-gradients (both orders) against PyTorch's on
 * the reference meta-batch, per parameter tensor max |g - ref| / max |ref| (as the PyTorch peer
 * reports its own); undefined without the reference file.
 */
function metaGradientError(): number | undefined {
  if (!existsSync(CHECK_FILE())) return undefined;
  const d = JSON.parse(readFileSync(CHECK_FILE(), 'utf8')) as {
    init_params: number[][];
    x_support: number[][];
    y_support: number[][];
    x_query: number[][];
    y_query: number[][];
  } & Record<'second_order' | 'first_order', { grads: number[][] }>;
  const tasks = d.x_support.map((xs, t) => ({
    support: { X: xs.map((v) => [v]), y: d.y_support[t]! },
    query: { X: d.x_query[t]!.map((v) => [v]), y: d.y_query[t]! },
  }));
  let worst = 0;
  for (const order of ['second', 'first'] as const) {
    const m = maml(order);
    m.params.set(d.init_params.flat()); // PyTorch's [in, out] layout, W then b per layer, is the network's flat layout
    const { grad } = m.metaGradient(tasks);
    let offset = 0;
    for (const ref of d[`${order}_order`].grads) {
      let diff = 0;
      let scale = 1e-12;
      ref.forEach((r, i) => {
        diff = Math.max(diff, Math.abs(grad[offset + i]! - r));
        scale = Math.max(scale, Math.abs(r));
      });
      worst = Math.max(worst, diff / scale);
      offset += ref.length;
    }
  }
  return worst;
}

/** Child process: metatask on one backend and thread count (also the -march=native comparison's probe). */
export async function metatask(job: SpeedJob & { backend: 'native' | 'js'; threads: number }): Promise<Row> {
  const row = useMetatask(job.backend, job.threads);
  const m = maml(job.order);
  const tasks = new SinusoidTasks({ shots: 10, queries: 10, seed: 1 });
  const cold = await timed(() => m.fit(tasks, { iterations: COLD }));
  const first = await timed(() => m.fit(tasks, { iterations: job.iterations }));
  const n = Math.max(job.iterations, Math.ceil(((job.minSeconds ?? 0) * job.iterations) / first.seconds));
  const values: number[] = [];
  let busy = 0;
  for (let r = 0; r < job.runs; r++) {
    const t = await timed(() => m.fit(tasks, { iterations: n }));
    values.push(n / t.seconds);
    busy += t.coresBusy / job.runs;
  }
  const error = metaGradientError(); // after the timing, so that the cold figure is cold
  return { ...row, cold: COLD / cold.seconds, values, coresBusy: busy, quality: error === undefined ? {} : { 'meta-gradient error': error } };
}

/** The PyTorch peer: a loop over the tasks, or the tasks batched. */
function torch(job: SpeedJob, threads: number, mode: 'loop' | 'batched'): Row {
  const base: Row = { impl: `PyTorch (${mode === 'loop' ? 'loop over tasks' : 'batched over tasks'})`, backend: 'eager', simd: '-', threads };
  const py = pythonWith('torch');
  if ('skipped' in py) return { ...base, skipped: py.skipped };
  progress(`MAML: ${base.impl}, ${job.order} order, ${threads} thread(s)`);
  try {
    const check = CHECK_FILE();
    const out = runPython<{ cold: number; rates: number[]; cpu: number; version: string; threads: number; simd: string; checkError?: number }>(
      py.python, 'torch_maml.py', [threads, mode, job.order, job.iterations, job.runs, job.minSeconds ?? 0, ...(existsSync(check) ? [check] : [])], threads,
    );
    return {
      ...base,
      impl: `PyTorch ${out.version} (${mode === 'loop' ? 'loop over tasks' : 'batched over tasks'})`,
      simd: out.simd,
      threads: out.threads,
      cold: out.cold,
      values: out.rates,
      coresBusy: out.cpu,
      quality: out.checkError === undefined ? {} : { 'meta-gradient error': out.checkError },
    };
  } catch (err) {
    return { ...base, skipped: `${base.impl}, ${threads} threads, failed: ${(err as Error).message}` };
  }
}

function ours(job: SpeedJob, backend: 'native' | 'js', threads: number, simd?: string): Row {
  const describe: Row = { impl: 'metatask', backend: backend === 'js' ? 'TypeScript' : 'native', simd: simd ?? '-', threads };
  progress(`MAML: metatask ${describe.backend}${simd ? ` at ${simd}` : ''}, ${job.order} order, ${threads} thread(s)`);
  try {
    return inChild<Row>('maml', 'metatask', { ...job, backend, threads }, simd ? { METATASK_SIMD: simd } : {});
  } catch (err) {
    return { ...describe, skipped: `metatask ${describe.backend} (${threads} threads) failed: ${(err as Error).message}` };
  }
}

export interface QualityJob {
  backend: 'native' | 'js';
  iterations: number;
  testTasks: number;
}

export interface QualityResult {
  backend: string;
  simd: string;
  threads: number;
  iterations: number;
  trainSeconds: number;
  maml: EvaluationRow[];
  pretrained: EvaluationRow[];
}

/** Child process: MAML and the pretrained baseline, trained and evaluated on fresh tasks. */
export async function quality(job: QualityJob): Promise<QualityResult> {
  const row = useMetatask(job.backend, 1);
  const m = maml('second');
  const p = new Pretrained({ network: NET, loss: 'mse', innerLr: 0.01, metaBatchSize: 25, optimizer: { type: 'adam', lr: 1e-3 }, seed: 0 });
  const t = await timed(() => m.fit(new SinusoidTasks({ shots: 10, queries: 10, seed: 1 }), { iterations: job.iterations }));
  await p.fit(new SinusoidTasks({ shots: 10, queries: 10, seed: 1 }), { iterations: job.iterations });
  const test = () => new SinusoidTasks({ shots: 10, queries: 10, seed: 2 });
  return {
    backend: row.backend,
    simd: row.simd,
    threads: row.threads,
    iterations: job.iterations,
    trainSeconds: t.seconds,
    maml: m.evaluate(test(), { tasks: job.testTasks, steps: [0, 1, 10] }),
    pretrained: p.evaluate(test(), { tasks: job.testTasks, steps: [0, 1, 10] }),
  };
}

const fmtMse = (r: EvaluationRow) => `${r.loss.toFixed(3)} ± ${r.lossCi95.toFixed(3)}`;

export async function run(): Promise<WorkloadResult> {
  const options = benchOptions();
  const backends = availableBackends();
  const sizes = options.quick ? { iterations: 10, runs: 2, minSeconds: 0 } : { iterations: 200, runs: 3, minSeconds: 0.5 };
  const narrower = narrowerSimd();
  const rows: Record<Order, Row[]> = { second: [], first: [] };
  const pairs: Partial<Record<Order, Row>> = {};
  for (const order of ['second', 'first'] as const) {
    const job: SpeedJob = { order, ...sizes };
    const configs: (() => Row)[] = [];
    // Two 1-thread processes at once: what the machine's two cores give this workload with nothing shared.
    if (backends.includes('native')) configs.push(() => twoProcessesRow(`MAML, ${order} order`, 'maml', job));
    for (const threads of [1, 2]) {
      if (backends.includes('native')) configs.push(() => ours(job, 'native', threads));
      else configs.push(() => ({ impl: 'metatask', backend: 'native', simd: '-', threads, skipped: 'metatask native skipped: the addon is not built or did not load (npx metatask info says why)' }));
      configs.push(() => torch(job, threads, 'loop'), () => torch(job, threads, 'batched'));
    }
    // On a CPU with AVX-512, also the kernels a CPU without it runs.
    if (narrower) configs.push(() => ours(job, 'native', 1, narrower));
    configs.push(() => ours(job, 'js', 1));
    const { rows: measured, pair } = apartFromTwoProcesses(inTurns(configs));
    rows[order] = measured;
    pairs[order] = pair;
  }

  const sameThreads = (mode: 'loop' | 'batched', order: Order) => (r: Row) =>
    rows[order].find((q) => q.impl.startsWith('PyTorch') && q.impl.includes(mode === 'loop' ? 'loop' : 'batched') && q.threads === r.threads && q.values?.length);
  const tables = (['second', 'first'] as const).map((order) =>
    speedTable(metric(order), rows[order], {
      ratios: [
        { header: 'vs PyTorch loop, same threads', baseline: sameThreads('loop', order) },
        { header: 'vs PyTorch batched, same threads', baseline: sameThreads('batched', order) },
      ],
      quality: order === 'second' ? ['meta-gradient error'] : [],
    }),
  );

  // Quality, on the fastest backend here; 10,000 iterations when they take about a minute at the
  // rate just measured, else as many thousands as do (at least 1,000).
  const qb = backends.includes('native') ? 'native' : 'js';
  const measured = rows.second.find((r) => r.impl === 'metatask' && r.backend === (qb === 'js' ? 'TypeScript' : 'native') && r.threads === 1 && r.simd !== narrower && r.values);
  const affordable = measured ? Math.max(1000, Math.floor((stats(measured.values!).median * 60) / 1000) * 1000) : 1000;
  const envIt = Number(process.env.METATASK_MAML_ITERATIONS);
  const iterations = Number.isInteger(envIt) && envIt > 0 ? envIt : options.quick ? 50 : Math.min(10_000, affordable);
  progress(`MAML: quality after ${iterations} meta-iterations (${qb})`);
  const notes = skippedNotes([...rows.second, ...rows.first]);
  const testTasks = options.quick ? 50 : 600;
  let q: QualityResult | undefined;
  try {
    q = inChild<QualityResult>('maml', 'quality', { backend: qb, iterations, testTasks } satisfies QualityJob);
  } catch (err) {
    notes.push(`adaptation quality failed: ${(err as Error).message}`);
  }
  const qualityTable = q
    ? markdownTable(
        ['model', 'MSE before adapting', 'MSE after 1 step', 'MSE after 10 steps'],
        [
          [`MAML second order, ${iterations.toLocaleString('en-US')} meta-iterations`, ...q.maml.map(fmtMse)],
          [`pretrained on all tasks, ${iterations.toLocaleString('en-US')} steps`, ...q.pretrained.map(fmtMse)],
        ],
      )
    : '(failed, see the notes)';

  const n = (order: Order, threads: number) => rows[order].find((r) => r.impl === 'metatask' && r.backend === 'native' && r.threads === threads && r.simd !== narrower && r.values);
  for (const order of ['second', 'first'] as const) {
    const [a, b] = [n(order, 1), n(order, 2)];
    if (a && b) notes.push(`metatask native ${order} order, 2 threads over 1 thread: ${(stats(b.values!).median / stats(a.values!).median).toFixed(2)}x`);
    const two = a && b && pairs[order] && twoProcessesNote(a, b, pairs[order]!);
    if (two) notes.push(`${order} order: ${two}`);
  }
  notes.push(
    `${turnsNote()}; meta-iterations/s: median (min-max) of ${sizes.runs} runs per process, each of at least ${sizes.iterations} meta-iterations` +
      (sizes.minSeconds > 0 ? ` and ${sizes.minSeconds} s (as many as one run of ${sizes.iterations} says take that long)` : '') +
      `, after its first ${COLD} iterations (cold) and that run; ` +
      `task sampling included on both sides; cores busy = CPU time / wall time over the warm runs; ` +
      `meta-gradient error: the largest relative error of each side's meta-gradients (both orders, float32) against the reference ones of PyTorch on a fixed meta-batch, checked after the timing`,
  );
  if (q) {
    notes.push(
      `quality: ${q.backend} backend (${q.simd}, ${q.threads} thread), MAML trained in ${q.trainSeconds.toFixed(1)} s; MSE on ${testTasks} fresh tasks after SGD steps of lr 0.01, mean ± 95% CI` +
        (iterations < 10_000 && !options.quick ? `; ${iterations} meta-iterations, not 10,000, because this backend is slow (METATASK_MAML_ITERATIONS=10000 for the full run)` : ''),
    );
  }
  return {
    id: 'maml',
    title,
    table: `Second order:\n\n${tables[0]}\n\nFirst order:\n\n${tables[1]}\n\nAdaptation on fresh tasks:\n\n${qualityTable}`,
    notes,
    data: { sizes, rows, twoProcesses: pairs, quality: q },
    charts: [
      {
        title,
        panels: (['second', 'first'] as const).map((order) => chartPanel(`${order}-order meta-iterations per second`, metric(order), rows[order])),
      },
    ],
  };
}
