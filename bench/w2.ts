/**
 * W2 of shared/BENCH.md: a multi-task MLP with hard parameter sharing,
 *   Linear(128, 256) - ReLU - Linear(256, 256) - ReLU - 8 heads Linear(256, 1),
 * loss = mean of the 8 task MSEs (fixed weights 1/8), Adam lr 1e-3, batch 128 shuffled, 512 steps
 * per epoch, float32, from the initial weights in ../shared/data/w2. Trained through the public
 * MultiTaskNet (so the figures include its batching, strategy and optimiser overhead) on each
 * backend; PyTorch (bench/peers/torch_w2.py, separate and fused heads) and TensorFlow.js (if
 * `@tensorflow/tfjs` resolves) run in the same bench.
 * Report: training samples/s, median (min-max) of 3 epochs after a warm-up epoch, and test loss
 * after 5 epochs. The js backend runs shorter epochs (64 steps) because it is much slower; its
 * samples/s are still per-step throughput on the same batches.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type { Matrix } from '../lib/core/matrix.js';
import { availableBackends, backend, setBackend, setThreads } from '../lib/kernels/index.js';
import { packageRoot } from '../lib/kernels/native.js';
import { MultiTaskNet } from '../lib/mtl/multiTaskNet.js';
import { compileNetwork } from '../lib/nn/spec.js';
import { markdownTable, stats, type WorkloadResult } from './run.js';

const T = 8;
const D = 128;
const BATCH = 128;
const STEPS = 512;
const JS_STEPS = 64;

interface Row {
  impl: string;
  threads: number;
  rates?: number[];
  testLoss?: number;
  epochs?: number;
  note?: string;
}

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function mat(data: Float32Array, cols: number): Matrix<Float32Array> {
  return { rows: data.length / cols, cols, data };
}

/** The W2 network through the public API, with the reference initial weights. */
function makeNet(dir: string): MultiTaskNet {
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

async function runOurs(dir: string, data: Data, name: 'native' | 'js', threads: number, epochs: number, rows: number): Promise<Row> {
  setBackend(name);
  if (name === 'native') setThreads(threads);
  const net = makeNet(dir);
  const train = rows === data.Xtr.rows ? { X: data.Xtr, Y: data.Ytr } : { X: mat(data.Xtr.data.subarray(0, rows * D), D), Y: mat(data.Ytr.data.subarray(0, rows * T), T) };
  const h = (await net.fit(train, { epochs, batchSize: BATCH, shuffle: true, validation: { X: data.Xte, Y: data.Yte } })).history;
  const rates = h.epochs.slice(1, 4).map((e) => rows / e.trainSeconds);
  const row: Row = { impl: `metatask ${name}`, threads, rates, epochs };
  if (epochs >= 5) row.testLoss = h.epochs[4]!.valLoss;
  return row;
}

interface Data {
  Xtr: Matrix<Float32Array>;
  Ytr: Matrix<Float32Array>;
  Xte: Matrix<Float32Array>;
  Yte: Matrix<Float32Array>;
}

function runTorch(dir: string, threads: number, mode: 'separate' | 'fused'): Row {
  const script = join(packageRoot(), 'bench', 'peers', 'torch_w2.py');
  const r = spawnSync('/usr/bin/python3', [script, dir, String(threads), mode], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) },
    timeout: 600_000,
  });
  const impl = `PyTorch (${mode} heads)`;
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    return { impl, threads, note: `skipped: ${why}` };
  }
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { samplesPerSec: number[]; testLoss: number; version: string };
  return { impl: `PyTorch ${out.version} (${mode} heads)`, threads, rates: out.samplesPerSec, testLoss: out.testLoss, epochs: 5 };
}

/**
 * TensorFlow.js core API on one of its Node backends ('wasm' or 'cpu'), only when the peer
 * packages are installed in bench/peers (they are never dependencies of metatask):
 *   npm install --prefix bench/peers @tensorflow/tfjs @tensorflow/tfjs-backend-wasm
 */
async function runTfjs(dir: string, data: Data, tfBackend: 'wasm' | 'cpu'): Promise<Row> {
  const peers = createRequire(join(packageRoot(), 'bench', 'peers', 'package.json'));
  let tf: any;
  try {
    tf = await import(pathToFileURL(peers.resolve('@tensorflow/tfjs')).href);
    if (tfBackend === 'wasm') await import(pathToFileURL(peers.resolve('@tensorflow/tfjs-backend-wasm')).href);
  } catch {
    return {
      impl: `TensorFlow.js (${tfBackend})`,
      threads: 1,
      note: 'skipped: not installed (optional peer: npm install --prefix bench/peers @tensorflow/tfjs @tensorflow/tfjs-backend-wasm)',
    };
  }
  if (!(await tf.setBackend(tfBackend))) return { impl: `TensorFlow.js (${tfBackend})`, threads: 1, note: `skipped: the ${tfBackend} backend did not initialise` };
  const v = (a: Float32Array, shape: number[]) => tf.variable(tf.tensor(a, shape));
  const W1 = v(readF32(join(dir, 'W1.f32')), [D, 256]);
  const b1 = v(readF32(join(dir, 'b1.f32')), [256]);
  const W2 = v(readF32(join(dir, 'W2.f32')), [256, 256]);
  const b2 = v(readF32(join(dir, 'b2.f32')), [256]);
  const Wh = v(readF32(join(dir, 'Wh.f32')), [256, T]);
  const bh = v(readF32(join(dir, 'bh.f32')), [T]);
  const opt = tf.train.adam(1e-3);
  const f = (x: any) => tf.relu(tf.relu(x.matMul(W1).add(b1)).matMul(W2).add(b2)).matMul(Wh).add(bh);
  const steps = 64;
  const rates: number[] = [];
  for (let e = 0; e < 4; e++) {
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) {
      const i = Math.floor(Math.random() * (data.Xtr.rows / BATCH)) * BATCH;
      const x = tf.tensor(data.Xtr.data.subarray(i * D, (i + BATCH) * D), [BATCH, D]);
      const y = tf.tensor(data.Ytr.data.subarray(i * T, (i + BATCH) * T), [BATCH, T]);
      opt.minimize(() => tf.mean(tf.square(f(x).sub(y))));
      tf.dispose([x, y]);
    }
    if (e > 0) rates.push((steps * BATCH) / ((performance.now() - t0) / 1000));
  }
  return { impl: `TensorFlow.js ${tf.version?.tfjs ?? ''} (${tf.getBackend()}, ${steps}-step epochs)`, threads: 1, rates };
}

export async function run(): Promise<WorkloadResult> {
  const dir = join(packageRoot(), '..', 'shared', 'data', 'w2');
  const title = 'W2: multi-task MLP, hard sharing (128-256-256 + 8 heads, Adam, batch 128, float32)';
  if (!existsSync(join(dir, 'X_train.f32'))) {
    return { id: 'w2', title, table: '', notes: [`skipped: ${dir} is absent`], data: { skipped: true } };
  }
  const data: Data = {
    Xtr: mat(readF32(join(dir, 'X_train.f32')), D),
    Ytr: mat(readF32(join(dir, 'Y_train.f32')), T),
    Xte: mat(readF32(join(dir, 'X_test.f32')), D),
    Yte: mat(readF32(join(dir, 'Y_test.f32')), T),
  };
  const before = backend().name;
  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    if (availableBackends().includes('native')) {
      rows.push(await runOurs(dir, data, 'native', 1, 5, STEPS * BATCH));
      rows.push(await runOurs(dir, data, 'native', 2, 4, STEPS * BATCH));
      setThreads(1);
    } else notes.push('metatask native: skipped (the addon did not load)');
    rows.push(await runOurs(dir, data, 'js', 1, 4, JS_STEPS * BATCH));
    notes.push(`metatask js runs ${JS_STEPS}-step epochs (the first ${JS_STEPS * BATCH} training rows) to keep the bench short; no test loss for it.`);
  } finally {
    setBackend(before);
  }
  for (const threads of [1, 2]) for (const mode of ['separate', 'fused'] as const) rows.push(runTorch(dir, threads, mode));
  rows.push(await runTfjs(dir, data, 'wasm'));
  rows.push(await runTfjs(dir, data, 'cpu'));

  const torchBest = Math.max(...rows.filter((r) => r.impl.startsWith('PyTorch') && r.rates).map((r) => stats(r.rates!).median), 0);
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const table = markdownTable(
    ['implementation', 'threads', 'samples/s median (min-max)', 'x best PyTorch', 'test loss after 5 epochs'],
    rows.map((r) => {
      if (!r.rates) return [r.impl, r.threads, 'skipped (see below)', '', ''];
      const s = stats(r.rates);
      return [r.impl, r.threads, `${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)})`, torchBest ? (s.median / torchBest).toFixed(2) : '', r.testLoss !== undefined ? r.testLoss.toFixed(4) : 'n/a'];
    }),
  );
  for (const r of rows) if (r.note) notes.push(`${r.impl} (${r.threads} thread${r.threads > 1 ? 's' : ''}): ${r.note}`);
  notes.push('Reference (BENCH.md): PyTorch 1 thread 61,000 samples/s separate heads, 89,000 fused; test loss 0.0366.');
  return { id: 'w2', title, table, notes, data: { rows } };
}
