/**
 * One side of a convex benchmark, in a process of its own so that its first fit is a real cold
 * fit (fresh JIT, fresh allocations), as a user's first fit would be:
 *   node dist/bench/convexFit.js <job.json>
 * The job names the data folder (X.f64 n x d, Y.f64 n x T, row-major float64), the backend, the
 * model and its options, and the number of warm runs. Runs with setThreads(1). Prints one JSON
 * line: { backend, simd, threads, times and cpuTimes (wall-clock and process CPU seconds of each fit,
 * the first is the cold fit), objective, nIter, nonZeroRows, alpha? (CV) }.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type { Matrix } from '../lib/core/matrix.js';
import { backend, setBackend, setThreads } from '../lib/kernels/index.js';
import { MultiTaskElasticNet, MultiTaskLasso } from '../lib/linear/multiTaskElasticNet.js';
import { MultiTaskElasticNetCV, MultiTaskLassoCV } from '../lib/linear/multiTaskElasticNetCV.js';
import { simdLabel } from './harness.js';

export type ConvexModel = 'lasso' | 'enet' | 'lassoCV' | 'enetCV';

export interface ConvexJob {
  folder: string;
  n: number;
  d: number;
  T: number;
  backend: 'native' | 'js';
  model: ConvexModel;
  /** Options of the model (scikit-learn's names camelCased). */
  options: Record<string, unknown>;
  warmRuns: number;
}

export interface ConvexSideResult {
  backend: string;
  simd: string;
  threads: number;
  /** Wall-clock seconds of each fit; the first is the cold fit. */
  times: number[];
  /** CPU seconds of the process (every thread: user + system) during each fit. */
  cpuTimes: number[];
  objective: number;
  nIter: number;
  nonZeroRows: number;
  /** The alpha and l1Ratio chosen (CV). */
  alpha?: number;
  l1Ratio?: number;
}

export function readF64(path: string): Float64Array {
  const b = readFileSync(path);
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/**
 * scikit-learn's objective of a fitted model (1/(2n)) ||Y - X W - b||^2 + alpha l1Ratio sum_j ||W_j|| +
 * (alpha (1 - l1Ratio) / 2) ||W||^2, with the residual from predict.
 */
export function objectiveOf(m: { predict(x: Matrix<Float64Array>): Matrix<Float64Array>; coef: Matrix<Float64Array> }, X: Matrix<Float64Array>, Y: Matrix<Float64Array>, alpha: number, l1Ratio: number): number {
  const P = m.predict(X);
  let rss = 0;
  for (let i = 0; i < P.data.length; i++) rss += (Y.data[i]! - P.data[i]!) ** 2;
  const { rows: T, cols: d, data: c } = m.coef;
  let l21 = 0;
  let fro = 0;
  for (let j = 0; j < d; j++) {
    let s = 0;
    for (let t = 0; t < T; t++) s += c[t * d + j]! ** 2;
    l21 += Math.sqrt(s);
    fro += s;
  }
  return rss / (2 * X.rows) + alpha * l1Ratio * l21 + ((alpha * (1 - l1Ratio)) / 2) * fro;
}

export function nonZeroRows(coef: Matrix<Float64Array>): number {
  const { rows: T, cols: d, data: c } = coef;
  let nz = 0;
  for (let j = 0; j < d; j++) {
    for (let t = 0; t < T; t++) {
      if (c[t * d + j] !== 0) {
        nz++;
        break;
      }
    }
  }
  return nz;
}

function makeModel(job: ConvexJob): MultiTaskElasticNet | MultiTaskElasticNetCV {
  const o = job.options as never;
  switch (job.model) {
    case 'lasso':
      return new MultiTaskLasso(o);
    case 'enet':
      return new MultiTaskElasticNet(o);
    case 'lassoCV':
      return new MultiTaskLassoCV(o);
    case 'enetCV':
      return new MultiTaskElasticNetCV(o);
  }
}

function main(): void {
  const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ConvexJob;
  setBackend(job.backend);
  setThreads(1);
  const X: Matrix<Float64Array> = { rows: job.n, cols: job.d, data: readF64(join(job.folder, 'X.f64')) };
  const Y: Matrix<Float64Array> = { rows: job.n, cols: job.T, data: readF64(join(job.folder, 'Y.f64')) };
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let m = makeModel(job);
  for (let r = 0; r <= job.warmRuns; r++) {
    m = makeModel(job);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    m.fitSync(X, Y);
    times.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpuTimes.push((c.user + c.system) / 1e6);
  }
  const cv = m instanceof MultiTaskElasticNetCV;
  const { alpha, l1Ratio } = m instanceof MultiTaskElasticNetCV ? m : m.options;
  const info = backend();
  const out: ConvexSideResult = {
    backend: info.name,
    simd: simdLabel(info),
    threads: info.name === 'native' ? info.threads : 1,
    times,
    cpuTimes,
    objective: objectiveOf(m, X, Y, alpha, l1Ratio),
    nIter: m.nIter,
    nonZeroRows: nonZeroRows(m.coef),
    ...(cv ? { alpha, l1Ratio } : {}),
  };
  console.log(JSON.stringify(out));
}

// Run only as the entry point (the workload modules import the helpers above).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
