/**
 * Multi-task MLP with hard parameter sharing:
 *   Linear(128, 256) - ReLU - Linear(256, 256) - ReLU - 8 heads Linear(256, 1),
 * loss = mean of the 8 task MSEs, Adam lr 1e-3, batch 128 shuffled, float32, from the initial weights
 * of the benchmark's data set (65,536 training rows, 8,192 test rows, 128 features, 8 regression targets).
 * metatask trains through the public MultiTaskNet (the figures include its batching, weighting and
 * optimiser), PyTorch (bench/peers/torch_mlp.py) with separate and with fused heads, TensorFlow.js
 * (core API, fused heads) on its WASM and CPU backends; on a CPU with AVX-512, metatask native also
 * capped at AVX2 (what CPUs without it run). Every row is --rounds fresh processes (three
 * by default), the rows taking turns. Beside them, two 1-thread native processes run at once: what
 * the machine's two cores give the workload when nothing is shared, the mark for the 2-thread row
 * (a note, not a table row).
 * Report: training samples/s, median (min-max) of the epochs after the first, the first (cold)
 * epoch beside it, and the test loss after the run. The TypeScript backend and TensorFlow.js run
 * shorter epochs (the first 64 batches of rows) because they are much slower.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Matrix } from '../lib/core/matrix.js';
import { availableBackends } from '../lib/kernels/index.js';
import { packageRoot } from '../lib/kernels/native.js';
import { MultiTaskNet } from '../lib/mtl/multiTaskNet.js';
import { compileNetwork } from '../lib/nn/spec.js';
import {
  benchOptions, chartPanel, inChild, inTurns, loadTfjs, narrowerSimd, progress, pythonWith, runPython, skippedNotes, speedTable,
  stats, turnsNote, twoProcessesNote, twoProcessesRow, apartFromTwoProcesses, useMetatask, type Metric, type Row, type WorkloadResult,
} from './harness.js';

const T = 8;
const D = 128;
const BATCH = 128;

export const title = 'Multi-task MLP, hard sharing (128-256-256 + 8 heads, Adam, batch 128, float32, 65,536 rows)';

const METRIC: Metric = { name: 'training samples/s', unit: 'samples/s', better: 'higher', cold: 'first epoch' };

/** One training run: epochs of `steps` batches over the first steps x 128 training rows. */
export interface TrainJob {
  epochs: number;
  steps: number;
}

function dataDir(): string {
  return join(packageRoot(), '..', 'shared', 'data', 'w2');
}

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

interface Data {
  Xtr: Matrix<Float32Array>;
  Ytr: Matrix<Float32Array>;
  Xte: Matrix<Float32Array>;
  Yte: Matrix<Float32Array>;
}

/** The data, the training part cut to the first `rows` rows. */
function loadData(rows: number): Data {
  const dir = dataDir();
  const m = (file: string, cols: number, keep?: number): Matrix<Float32Array> => {
    const all = readF32(join(dir, file));
    const data = keep === undefined ? all : all.subarray(0, keep * cols);
    return { rows: data.length / cols, cols, data };
  };
  return { Xtr: m('X_train.f32', D, rows), Ytr: m('Y_train.f32', T, rows), Xte: m('X_test.f32', D), Yte: m('Y_test.f32', T) };
}

/** The network through the public API, with the reference initial weights. */
function makeNet(): MultiTaskNet {
  const dir = dataDir();
  const net = new MultiTaskNet({
    inputSize: D,
    tasks: Array.from({ length: T }, (_, t) => ({ name: `y${t}`, type: 'regression' as const })),
    architecture: { type: 'hard-sharing', shared: [256, 256] },
    weighting: { type: 'fixed', weights: Array(T).fill(1 / T) },
    optimizer: { type: 'adam', lr: 1e-3 },
    seed: 0,
  });
  const c = compileNetwork(net.spec);
  const p = net.getParams();
  const put = (node: number, name: 'W' | 'b', values: ArrayLike<number>) => {
    const s = c.params.find((q) => q.node === node && q.name === name)!;
    for (let i = 0; i < values.length; i++) p[s.offset + i] = values[i]!;
  };
  const dense = net.spec.nodes.map((n, i) => (n.op === 'dense' ? i : -1)).filter((i) => i >= 0);
  put(dense[0]!, 'W', readF32(join(dir, 'W1.f32')));
  put(dense[0]!, 'b', readF32(join(dir, 'b1.f32')));
  put(dense[1]!, 'W', readF32(join(dir, 'W2.f32')));
  put(dense[1]!, 'b', readF32(join(dir, 'b2.f32')));
  const Wh = readF32(join(dir, 'Wh.f32'));
  const bh = readF32(join(dir, 'bh.f32'));
  net.spec.heads.forEach((h, t) => {
    // Head t's W is column t of Wh (256 x 8, [in, out]).
    put(h.node, 'W', Float32Array.from({ length: 256 }, (_, i) => Wh[i * T + t]!));
    put(h.node, 'b', [bh[t]!]);
  });
  net.setParams(p);
  return net;
}

const trainingCell = (j: TrainJob) => `${j.epochs} x ${j.steps} steps`;

/** Child process: metatask on one backend and thread count (also the -march=native comparison's probe). */
export async function metatask(job: TrainJob & { backend: 'native' | 'js'; threads: number }): Promise<Row> {
  const row = useMetatask(job.backend, job.threads);
  const data = loadData(job.steps * BATCH);
  const net = makeNet();
  // Cores busy over the warm epochs: CPU time and wall time between the ends of epochs 1 and N.
  let c0: NodeJS.CpuUsage | undefined;
  let t0 = 0;
  let coresBusy = 0;
  const { history } = await net.fit(
    { X: data.Xtr, Y: data.Ytr },
    {
      epochs: job.epochs,
      batchSize: BATCH,
      shuffle: true,
      validation: { X: data.Xte, Y: data.Yte },
      onEpoch: (e) => {
        if (e.epoch === 0) [c0, t0] = [process.cpuUsage(), performance.now()];
        else if (e.epoch === job.epochs - 1 && c0) {
          const c = process.cpuUsage(c0);
          coresBusy = (c.user + c.system) / 1000 / (performance.now() - t0);
        }
      },
    },
  );
  const rates = history.epochs.map((e) => data.Xtr.rows / e.trainSeconds);
  return {
    ...row,
    cold: rates[0],
    values: rates.slice(1),
    coresBusy,
    quality: { training: trainingCell(job), 'test loss': history.epochs.at(-1)!.valLoss! },
  };
}

/** The PyTorch peer, separate or fused heads. */
function torch(job: TrainJob, threads: number, heads: 'separate' | 'fused'): Row {
  const base: Row = { impl: `PyTorch (${heads} heads)`, backend: 'eager', simd: '-', threads };
  const py = pythonWith('torch');
  if ('skipped' in py) return { ...base, skipped: py.skipped };
  try {
    const out = runPython<{ samplesPerSec: number[]; cpu: number | null; testLoss: number; version: string; threads: number; simd: string }>(
      py.python, 'torch_mlp.py', [dataDir(), threads, heads, job.epochs, job.steps], threads,
    );
    return {
      ...base,
      impl: `PyTorch ${out.version} (${heads} heads)`,
      simd: out.simd,
      threads: out.threads,
      cold: out.samplesPerSec[0],
      values: out.samplesPerSec.slice(1),
      coresBusy: out.cpu ?? undefined,
      quality: { training: trainingCell(job), 'test loss': out.testLoss },
    };
  } catch (err) {
    return { ...base, skipped: `PyTorch (${heads} heads, ${threads} threads) failed: ${(err as Error).message}` };
  }
}

/** Does this runtime validate a WebAssembly SIMD module (the check TensorFlow.js's WASM backend makes)? */
function wasmSimd(): boolean {
  const probe = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11];
  return WebAssembly.validate(new Uint8Array(probe));
}

/**
 * Child process: TensorFlow.js (core API, the heads fused into one 256 x 8 layer, which is what a
 * TensorFlow.js user writes) on one of its Node backends, the same shuffled epochs as the others.
 */
export async function tfjs(job: TrainJob & { backend: 'wasm' | 'cpu' }): Promise<Row> {
  const base: Row = {
    impl: 'TensorFlow.js (fused heads)',
    backend: job.backend === 'wasm' ? 'WASM' : 'CPU (JavaScript)',
    simd: job.backend === 'wasm' ? (wasmSimd() ? 'wasm simd128' : 'none') : 'none',
    threads: 1,
    resources: job.backend === 'wasm' ? 'its WASM backend cannot use threads in Node' : 'single-threaded JavaScript',
  };
  const loaded = await loadTfjs(job.backend);
  if ('skipped' in loaded) return { ...base, skipped: loaded.skipped };
  const { tf, version } = loaded;
  const dir = dataDir();
  const data = loadData(job.steps * BATCH);
  const v = (a: Float32Array, shape: number[]) => tf.variable(tf.tensor(a, shape));
  const W1 = v(readF32(join(dir, 'W1.f32')), [D, 256]);
  const b1 = v(readF32(join(dir, 'b1.f32')), [256]);
  const W2 = v(readF32(join(dir, 'W2.f32')), [256, 256]);
  const b2 = v(readF32(join(dir, 'b2.f32')), [256]);
  const Wh = v(readF32(join(dir, 'Wh.f32')), [256, T]);
  const bh = v(readF32(join(dir, 'bh.f32')), [T]);
  const opt = tf.train.adam(1e-3);
  const f = (x: any) => tf.relu(tf.relu(x.matMul(W1).add(b1)).matMul(W2).add(b2)).matMul(Wh).add(bh);
  const rows = data.Xtr.rows;
  const xb = new Float32Array(BATCH * D);
  const yb = new Float32Array(BATCH * T);
  const rates: number[] = [];
  let c0 = process.cpuUsage();
  let t1 = 0;
  for (let e = 0; e < job.epochs; e++) {
    const perm = Uint32Array.from({ length: rows }, (_, i) => i);
    for (let i = rows - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    const t0 = performance.now();
    if (e === 1) [c0, t1] = [process.cpuUsage(), t0];
    for (let s = 0; s < job.steps; s++) {
      for (let k = 0; k < BATCH; k++) {
        const r = perm[s * BATCH + k]!;
        xb.set(data.Xtr.data.subarray(r * D, (r + 1) * D), k * D);
        yb.set(data.Ytr.data.subarray(r * T, (r + 1) * T), k * T);
      }
      const x = tf.tensor(xb, [BATCH, D]);
      const y = tf.tensor(yb, [BATCH, T]);
      tf.dispose(opt.minimize(() => tf.mean(tf.square(f(x).sub(y))), true));
      tf.dispose([x, y]);
    }
    rates.push(rows / ((performance.now() - t0) / 1000));
  }
  const c = process.cpuUsage(c0);
  const coresBusy = (c.user + c.system) / 1000 / (performance.now() - t1);
  const testLoss = tf.tidy(() => tf.mean(tf.square(f(tf.tensor(data.Xte.data, [data.Xte.rows, D])).sub(tf.tensor(data.Yte.data, [data.Yte.rows, T])))).dataSync()[0]);
  return { ...base, impl: `TensorFlow.js ${version} (fused heads)`, cold: rates[0], values: rates.slice(1), coresBusy, quality: { training: trainingCell(job), 'test loss': testLoss } };
}

function child(fn: 'metatask' | 'tfjs', job: object, describe: Row, env: NodeJS.ProcessEnv = {}): Row {
  const at = env.METATASK_SIMD ? ` at ${env.METATASK_SIMD}` : '';
  progress(`multi-task MLP: ${describe.impl} ${describe.backend}${at}, ${describe.threads} thread(s)`);
  try {
    return inChild<Row>('mlp', fn, job, env);
  } catch (err) {
    return { ...describe, skipped: `${describe.impl} ${describe.backend} (${describe.threads} threads) failed: ${(err as Error).message}` };
  }
}

export async function run(): Promise<WorkloadResult> {
  const options = benchOptions();
  if (!existsSync(join(dataDir(), 'X_train.f32'))) {
    return { id: 'mlp', title, table: '(skipped)', notes: [`skipped: no data at ${dataDir()}`], data: { skipped: true } };
  }
  const full: TrainJob = options.quick ? { epochs: 3, steps: 16 } : { epochs: 5, steps: 512 };
  const short: TrainJob = options.quick ? { epochs: 3, steps: 8 } : { epochs: 4, steps: 64 };
  const ours = (backend: 'native' | 'js', threads: number, job: TrainJob, simd?: string) => (): Row => {
    const describe: Row = { impl: 'metatask', backend: backend === 'js' ? 'TypeScript' : 'native', simd: simd ?? '-', threads };
    if (!availableBackends().includes(backend)) return { ...describe, skipped: 'metatask native skipped: the addon is not built or did not load (npx metatask info says why)' };
    return child('metatask', { ...job, backend, threads }, describe, simd ? { METATASK_SIMD: simd } : {});
  };
  const configs: (() => Row)[] = [ours('native', 1, full), ours('native', 2, full)];
  // Two 1-thread processes at once: what the machine's two cores give this workload with nothing shared.
  if (availableBackends().includes('native')) configs.push(() => twoProcessesRow('multi-task MLP', 'mlp', full));
  const narrower = narrowerSimd();
  if (narrower) configs.push(ours('native', 1, full, narrower), ours('native', 2, full, narrower));
  for (const threads of [1, 2]) {
    for (const heads of ['separate', 'fused'] as const) {
      configs.push(() => {
        progress(`multi-task MLP: PyTorch ${heads} heads, ${threads} thread(s)`);
        return torch(full, threads, heads);
      });
    }
  }
  configs.push(ours('js', 1, short));
  for (const b of ['wasm', 'cpu'] as const) {
    configs.push(() => child('tfjs', { ...short, backend: b }, { impl: 'TensorFlow.js', backend: b === 'wasm' ? 'WASM' : 'CPU (JavaScript)', simd: '-', threads: 1 }));
  }
  const { rows, pair: pairRow } = apartFromTwoProcesses(inTurns(configs));

  const median = (r: Row | undefined) => (r?.values?.length ? stats(r.values).median : undefined);
  const torchRows = rows.filter((r) => r.impl.startsWith('PyTorch') && r.values?.length);
  const fastestTorch = torchRows.sort((a, b) => median(b)! - median(a)!)[0];
  const table = speedTable(METRIC, rows, {
    ratios: [{ header: 'vs fastest PyTorch', baseline: () => fastestTorch }],
    quality: ['training', 'test loss'],
  });
  const notes = skippedNotes(rows);
  const find = (impl: string, backend: string, threads: number, simd?: string) =>
    rows.find((r) => r.impl.startsWith(impl) && r.backend === backend && r.threads === threads && r.values?.length && (simd === undefined || r.simd === simd));
  const n1 = find('metatask', 'native', 1);
  const n2 = find('metatask', 'native', 2, n1?.simd);
  if (n1 && n2) {
    const same = n1.quality?.['test loss'] === n2.quality?.['test loss'];
    notes.push(`metatask native, 2 threads over 1 thread: ${(median(n2)! / median(n1)!).toFixed(2)}x; test losses ${same ? 'bit-identical' : 'DIFFERENT'} at 1 and 2 threads`);
  }
  const two = n1 && n2 && pairRow && twoProcessesNote(n1, n2, pairRow);
  if (two) notes.push(two);
  const c1 = narrower && find('metatask', 'native', 1, narrower);
  const c2 = narrower && find('metatask', 'native', 2, narrower);
  if (c1 && c2 && fastestTorch) {
    notes.push(
      `metatask native capped at ${narrower} (METATASK_SIMD=${narrower}, the kernels a CPU without AVX-512 runs), against the fastest PyTorch: ` +
        `${(median(c1)! / median(fastestTorch)!).toFixed(2)}x at 1 thread, ${(median(c2)! / median(fastestTorch)!).toFixed(2)}x at 2` +
        (n1 ? ` (at 1 thread ${(median(c1)! / median(n1)!).toFixed(2)}x the speed of the ${n1.simd} row)` : ''),
    );
  }
  const ts = find('metatask', 'TypeScript', 1);
  const wasm = find('TensorFlow.js', 'WASM', 1);
  if (ts && wasm) notes.push(`metatask TypeScript over TensorFlow.js WASM, same short epochs: ${(median(ts)! / median(wasm)!).toFixed(2)}x`);
  if (fastestTorch) notes.push(`fastest PyTorch configuration in this run: ${fastestTorch.impl}, ${fastestTorch.threads} thread(s)`);
  notes.push(
    `${turnsNote()}; samples/s: median (min-max) of the epochs after the first, timing the training steps only; cold = the first epoch of a fresh process; ` +
      `cores busy = CPU time / wall time over the warm epochs; test loss = mean of the 8 task MSEs on the 8,192 test rows after the run`,
  );
  return {
    id: 'mlp',
    title,
    table,
    notes,
    data: { jobs: { full, short }, rows, ...(pairRow ? { twoProcesses: pairRow } : {}) },
    charts: [{ title, panels: [chartPanel('training samples per second', METRIC, rows)] }],
  };
}
