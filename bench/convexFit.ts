/**
 * One side of a convex benchmark, in a process of its own so that its first fit is a real cold
 * fit (fresh JIT, fresh allocations), as a user's first fit would be:
 *   node dist/bench/convexFit.js <job.json>
 * The job names the data folder (X.f64 n x d, Y.f64 n x T, row-major float64), the backend, the
 * model and its options, and how many warm fits follow the cold one (moreWarmFits). Runs with setThreads(1). Prints one JSON
 * line: { backend, simd, threads, times and cpuTimes (wall-clock and process CPU seconds of each fit,
 * the first is the cold fit), coldGc (the garbage collector's pauses inside the cold fit), objective,
 * nIter, nonZeroRows, alpha? (CV) }.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

// The package's entry point, as a user imports it (its exports map allows no other): importing
// only the solvers' modules left V8's heap under its first full collection's threshold, and that
// collection (5-15 ms) then fell in the cold fit, where a user's import of the package takes it.
import { backend, MultiTaskElasticNet, MultiTaskElasticNetCV, MultiTaskLasso, MultiTaskLassoCV, setBackend, setThreads, type Matrix } from '../lib/index.js';
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
  /** Warm fits after the cold one: at least warmRuns, then more (see moreWarmFits). */
  warmRuns: number;
  /** Fit on until the warm fits took this many wall-clock seconds together (default 0: warmRuns fits). */
  warmSeconds?: number;
  /** But at most this many warm fits (default warmRuns). */
  maxWarmRuns?: number;
}

/**
 * Whether a process runs another warm fit after `done` of them, which took `seconds` together: at
 * least warmRuns, then until they took warmSeconds, at most maxWarmRuns. A small problem's first
 * fits still run the solver as V8 compiles it (200 x 50 x 2: fits 2-6 took 0.27 ms a fit, fits 200
 * to 400 0.08 ms): fitting on for a fixed time makes the warm median the steady one whatever the
 * problem's size. bench/peers/sklearn_convex.py applies the same rule.
 */
export function moreWarmFits(job: Pick<ConvexJob, 'warmRuns' | 'warmSeconds' | 'maxWarmRuns'>, done: number, seconds: number): boolean {
  if (done < job.warmRuns) return true;
  return done < (job.maxWarmRuns ?? job.warmRuns) && seconds < (job.warmSeconds ?? 0);
}

export interface ConvexSideResult {
  backend: string;
  simd: string;
  threads: number;
  /** Wall-clock seconds of each fit; the first is the cold fit. */
  times: number[];
  /** CPU seconds of the process (every thread: user + system) during each fit. */
  cpuTimes: number[];
  /**
   * V8's garbage-collection pauses inside the cold fit, in seconds, and whether one of them was a
   * full (mark-compact) collection: a process's first one, which a fit can trigger, costs several
   * milliseconds whatever the fit. Node only (scikit-learn's side leaves them out).
   */
  coldGc?: { seconds: number; full: boolean };
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

/** The garbage-collection pauses that overlap [from, to) (performance.now() times): their seconds, and whether one was full. */
function gcWithin(entries: readonly PerformanceEntry[], from: number, to: number): { seconds: number; full: boolean } {
  let ms = 0;
  let full = false;
  for (const e of entries) {
    const overlap = Math.min(to, e.startTime + e.duration) - Math.max(from, e.startTime);
    if (overlap <= 0) continue;
    ms += overlap;
    if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) full = true;
  }
  return { seconds: ms / 1000, full };
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ConvexJob;
  const gcs: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  setBackend(job.backend);
  setThreads(1);
  const X: Matrix<Float64Array> = { rows: job.n, cols: job.d, data: readF64(join(job.folder, 'X.f64')) };
  const Y: Matrix<Float64Array> = { rows: job.n, cols: job.T, data: readF64(join(job.folder, 'Y.f64')) };
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let m = makeModel(job);
  let cold: [number, number] = [0, 0];
  const warmSeconds = (): number => times.slice(1).reduce((s, t) => s + t, 0);
  for (let r = 0; r === 0 || moreWarmFits(job, r - 1, warmSeconds()); r++) {
    m = makeModel(job);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    m.fitSync(X, Y);
    const t1 = performance.now();
    if (r === 0) cold = [t0, t1];
    times.push((t1 - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpuTimes.push((c.user + c.system) / 1e6);
  }
  await new Promise((resolve) => setTimeout(resolve, 0)); // the observer's entries arrive asynchronously
  observer.disconnect();
  const cv = m instanceof MultiTaskElasticNetCV;
  const { alpha, l1Ratio } = m instanceof MultiTaskElasticNetCV ? m : m.options;
  const info = backend();
  const out: ConvexSideResult = {
    backend: info.name,
    simd: simdLabel(info),
    threads: info.name === 'native' ? info.threads : 1,
    times,
    cpuTimes,
    coldGc: gcWithin(gcs, cold[0], cold[1]),
    objective: objectiveOf(m, X, Y, alpha, l1Ratio),
    nIter: m.nIter,
    nonZeroRows: nonZeroRows(m.coef),
    ...(cv ? { alpha, l1Ratio } : {}),
  };
  console.log(JSON.stringify(out));
}

// Run only as the entry point (the workload modules import the helpers above).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
