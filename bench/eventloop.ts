/**
 * The server's event loop during a fit: how long the main thread's event loop stalls while a model
 * trains, in-thread and on a worker thread (`worker: pool`), measured as a server would see it,
 * with perf_hooks.monitorEventLoopDelay({ resolution: 1 }) enabled for the whole fit.
 *
 * Workload: the multi-task MLP benchmark's net and data (128 inputs; Linear(128, 256) - ReLU -
 * Linear(256, 256) - ReLU - 8 regression heads, Adam lr 1e-3, float32) on the first 32,768
 * training rows, 2 epochs, batch
 * 128, shuffled; onProgress set (as a server reporting progress would). The TypeScript backend
 * trains on the first 8,192 rows to keep the bench short. The worker pool is started before the
 * timing (a server keeps its pool). Both modes end with the same parameters (checked and
 * reported: the worker option's contract).
 * Report: event-loop delay p50, p99 and max in milliseconds, and the fit's wall time.
 * Goals: p99 <= 5 ms offloaded; p99 <= 20 ms in-thread on the native backend.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import type { Matrix } from '../lib/core/matrix.js';
import { availableBackends, backend, setBackend } from '../lib/kernels/index.js';
import { packageRoot } from '../lib/kernels/native.js';
import { MultiTaskNet } from '../lib/mtl/multiTaskNet.js';
import { WorkerPool } from '../lib/parallel/pool.js';
import { markdownTable, type WorkloadResult } from './run.js';

const T = 8;
const D = 128;
const ROWS = 32_768;
const JS_ROWS = 8_192;
const EPOCHS = 2;
const BATCH = 128;

interface Row {
  backend: 'native' | 'js' | '-';
  mode: 'in-thread' | 'worker' | 'no fit (idle, 1 s)';
  rows: number;
  p50: number;
  p99: number;
  max: number;
  seconds: number;
  loss: number;
  checksum: string;
}

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function makeNet(): MultiTaskNet {
  return new MultiTaskNet({
    inputSize: D,
    tasks: Array.from({ length: T }, (_, t) => ({ name: `y${t}`, type: 'regression' as const })),
    architecture: { type: 'hard-sharing', shared: [256, 256] },
    optimizer: { type: 'adam', lr: 1e-3 },
    seed: 0,
  });
}

async function measure(
  name: 'native' | 'js',
  mode: Row['mode'],
  data: { X: Matrix<Float32Array>; Y: Matrix<Float32Array> },
  pool: WorkerPool,
): Promise<Row> {
  const net = makeNet();
  let progress = 0;
  const h = monitorEventLoopDelay({ resolution: 1 });
  const t0 = performance.now();
  h.enable();
  await net.fit(data, { epochs: EPOCHS, batchSize: BATCH, onProgress: () => progress++, ...(mode === 'worker' ? { worker: pool } : {}) });
  h.disable();
  const seconds = (performance.now() - t0) / 1000;
  if (progress !== EPOCHS) throw new Error(`expected ${EPOCHS} progress records, got ${progress}`);
  const ms = (ns: number) => ns / 1e6;
  return {
    backend: name,
    mode,
    rows: data.X.rows,
    p50: ms(h.percentile(50)),
    p99: ms(h.percentile(99)),
    max: ms(h.max),
    seconds,
    loss: net.history.epochs.at(-1)!.loss,
    checksum: net.toJSON().checksum,
  };
}

/** The delays of an idle second: what the machine itself adds (a shared, loaded machine adds a lot). */
async function idle(): Promise<Row> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await new Promise((r) => setTimeout(r, 1000));
  h.disable();
  const ms = (ns: number) => ns / 1e6;
  return { backend: '-', mode: 'no fit (idle, 1 s)', rows: 0, p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), seconds: 1, loss: NaN, checksum: '' };
}

export async function run(): Promise<WorkloadResult> {
  const dir = join(packageRoot(), '..', 'shared', 'data', 'w2');
  const title = 'Event-loop delay during a fit (multi-task MLP 128-256-256 + 8 heads, 2 epochs, batch 128)';
  if (!existsSync(join(dir, 'X_train.f32'))) return { id: 'eventloop', title, table: '', notes: [`skipped: ${dir} is absent`], data: { skipped: true } };
  const X = readF32(join(dir, 'X_train.f32'));
  const Y = readF32(join(dir, 'Y_train.f32'));
  const take = (rows: number) => ({ X: { rows, cols: D, data: X.subarray(0, rows * D) }, Y: { rows, cols: T, data: Y.subarray(0, rows * T) } });
  const before = backend().name;
  const pool = new WorkerPool({ size: 1 });
  const rows: Row[] = [await idle()];
  const notes: string[] = [];
  try {
    for (const name of ['native', 'js'] as const) {
      if (!availableBackends().includes(name)) {
        notes.push(`${name}: skipped (the addon did not load)`);
        continue;
      }
      setBackend(name);
      const data = take(name === 'native' ? ROWS : JS_ROWS);
      // Start the pool's thread (and its copy of the library) before timing, as a server would.
      await makeNet().fit(take(256), { epochs: 1, batchSize: BATCH, worker: pool });
      const local = await measure(name, 'in-thread', data, pool);
      const remote = await measure(name, 'worker', data, pool);
      rows.push(local, remote);
      notes.push(`${name}: the fits in-thread and on the worker end with ${local.checksum === remote.checksum ? 'the same' : 'DIFFERENT'} model file checksum`);
    }
  } finally {
    await pool.terminate();
    setBackend(before);
  }
  notes.push('Goals: p99 <= 5 ms with the fit on a worker; p99 <= 20 ms in-thread on the native backend (default settings).');
  const f = (x: number) => x.toFixed(1);
  const table = markdownTable(
    ['backend', 'fit', 'rows', 'p50 ms', 'p99 ms', 'max ms', 'fit s', 'final loss'],
    rows.map((r) => [r.backend, r.mode, r.rows || '', f(r.p50), f(r.p99), f(r.max), r.rows ? r.seconds.toFixed(2) : '', r.rows ? r.loss.toFixed(4) : '']),
  );
  return { id: 'eventloop', title, table, notes, data: { rows } };
}
