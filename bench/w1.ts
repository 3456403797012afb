/**
 * W1 of shared/BENCH.md: the multi-task lasso
 *   min_W (1/(2n)) ||Y - X W||_F^2 + alpha sum_j ||W[j,:]||_2,  alpha = 0.6093889149314188, no intercept,
 * on ../shared/data/w1 (X 2000 x 1000, Y 2000 x 20; optimum 124.869862908929), solved by
 * MultiTaskLasso (block coordinate descent with scikit-learn's duality-gap rule; scikit-learn's
 * enet_coordinate_descent_multi_task, Friedman, Hastie & Tibshirani 2010) at tol 1e-8 on each backend,
 * against scikit-learn's MultiTaskLasso(alpha, fit_intercept=False, tol=1e-8) run in the same bench
 * (bench/peers/sklearn_w1.py, one BLAS thread). Reports the time of a whole fit (which stops at an
 * objective within 1e-6 of the optimum; checked and reported), median/min/max of 5 runs after a
 * warm-up, the sweeps and the non-zero rows.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Matrix } from '../lib/core/matrix.js';
import { availableBackends, backend, setBackend } from '../lib/kernels/index.js';
import { packageRoot } from '../lib/kernels/native.js';
import { MultiTaskLasso } from '../lib/linear/multiTaskElasticNet.js';
import { markdownTable, stats, type WorkloadResult } from './run.js';

const ALPHA = 0.6093889149314188;
const OPTIMUM = 124.869862908929;
const TOL = 1e-8;
const RUNS = 5;

interface Row {
  impl: string;
  version?: string;
  times?: number[];
  median?: number;
  min?: number;
  max?: number;
  objective?: number;
  relErr?: number;
  reached?: boolean;
  nIter?: number;
  nonZeroRows?: number;
  skipped?: string;
}

function readF64(path: string): Float64Array {
  const b = readFileSync(path);
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function objectiveOf(m: MultiTaskLasso, X: Matrix<Float64Array>, Y: Matrix<Float64Array>): number {
  const P = m.predict(X);
  let rss = 0;
  for (let i = 0; i < P.data.length; i++) rss += (Y.data[i]! - P.data[i]!) ** 2;
  const { rows: T, cols: d, data: c } = m.coef;
  let l21 = 0;
  for (let j = 0; j < d; j++) {
    let s = 0;
    for (let t = 0; t < T; t++) s += c[t * d + j]! ** 2;
    l21 += Math.sqrt(s);
  }
  return rss / (2 * X.rows) + ALPHA * l21;
}

function nonZeroRows(m: MultiTaskLasso): number {
  const { rows: T, cols: d, data: c } = m.coef;
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

function runBackend(name: 'native' | 'js', X: Matrix<Float64Array>, Y: Matrix<Float64Array>): Row {
  const before = backend().name;
  try {
    setBackend(name);
    const info = backend();
    const fit = (): MultiTaskLasso => new MultiTaskLasso({ alpha: ALPHA, fitIntercept: false, tol: TOL }).fitSync(X, Y);
    let m: MultiTaskLasso;
    try {
      m = fit(); // warm-up (and a check that every kernel exists on this backend)
    } catch (err) {
      return { impl: `metatask ${name}`, skipped: `the ${name} backend cannot run W1 yet: ${(err as Error).message.split('\n')[0]}` };
    }
    const times: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now();
      m = fit();
      times.push((performance.now() - t0) / 1000);
    }
    const objective = objectiveOf(m, X, Y);
    const relErr = Math.abs(objective - OPTIMUM) / OPTIMUM;
    return {
      impl: `metatask ${name}`,
      version: info.version,
      times,
      ...stats(times),
      objective,
      relErr,
      reached: relErr <= 1e-6,
      nIter: m.nIter,
      nonZeroRows: nonZeroRows(m),
    };
  } finally {
    setBackend(before);
  }
}

function findPython(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import sklearn, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

function runSklearn(folder: string): Row {
  const py = findPython();
  if (!py) return { impl: 'scikit-learn', skipped: 'scikit-learn peer skipped: no python3 that can import sklearn (Debian: apt-get install python3-sklearn)' };
  const script = join(packageRoot(), 'bench', 'peers', 'sklearn_w1.py');
  const threads = { OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  const r = spawnSync(py, [script, folder, String(ALPHA), String(RUNS), String(TOL)], {
    encoding: 'utf8',
    env: { ...process.env, ...threads },
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) return { impl: 'scikit-learn', skipped: `scikit-learn peer failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n').pop()}` };
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { version: string; times: number[]; objective: number; nIter: number; nonZeroRows: number };
  const relErr = Math.abs(out.objective - OPTIMUM) / OPTIMUM;
  return {
    impl: 'scikit-learn',
    version: `${out.version} (${py}, 1 BLAS thread)`,
    times: out.times,
    ...stats(out.times),
    objective: out.objective,
    relErr,
    reached: relErr <= 1e-6,
    nIter: out.nIter,
    nonZeroRows: out.nonZeroRows,
  };
}

export async function run(): Promise<WorkloadResult> {
  const folder = join(packageRoot(), '..', 'shared', 'data', 'w1');
  const title = 'W1: multi-task lasso (X 2000 x 1000, Y 2000 x 20, tol 1e-8)';
  if (!existsSync(join(folder, 'X.f64'))) {
    return { id: 'w1', title, table: '(skipped)', notes: [`W1 skipped: no data at ${folder}`], data: { skipped: true } };
  }
  const X: Matrix<Float64Array> = { rows: 2000, cols: 1000, data: readF64(join(folder, 'X.f64')) };
  const Y: Matrix<Float64Array> = { rows: 2000, cols: 20, data: readF64(join(folder, 'Y.f64')) };
  const rows: Row[] = [];
  for (const b of ['native', 'js'] as const) {
    if (!availableBackends().includes(b)) rows.push({ impl: `metatask ${b}`, skipped: `the ${b} backend is not available (addon not built)` });
    else rows.push(runBackend(b, X, Y));
  }
  rows.push(runSklearn(folder));

  const sk = rows.find((r) => r.impl === 'scikit-learn' && r.median !== undefined);
  const nat = rows.find((r) => r.impl === 'metatask native' && r.median !== undefined);
  const fmt = (s: number | undefined): string => (s === undefined ? '-' : s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(3)} s`);
  const ratio = (a: Row, b: Row | undefined): string => (b && a.median !== undefined ? `${(a.median / b.median!).toFixed(2)}x` : '-');
  const ran = rows.filter((r) => r.median !== undefined);
  const table = markdownTable(
    ['implementation', 'median', 'min', 'max', 'sweeps', 'non-zero rows', 'objective', 'rel. error', 'within 1e-6', 'time / scikit-learn', 'time / native'],
    ran.map((r) => [
      r.impl,
      fmt(r.median),
      fmt(r.min),
      fmt(r.max),
      r.nIter ?? '-',
      r.nonZeroRows ?? '-',
      r.objective!.toFixed(9),
      r.relErr!.toExponential(1),
      r.reached ? 'yes' : 'NO',
      ratio(r, sk),
      ratio(r, nat),
    ]),
  );
  const notes = rows.filter((r) => r.skipped).map((r) => r.skipped!);
  notes.push(`time of a whole fit (validation, transpose, sweeps, duality gaps), median of ${RUNS} runs after a warm-up; optimum ${OPTIMUM}`);
  return { id: 'w1', title, table, notes, data: { alpha: ALPHA, optimum: OPTIMUM, tol: TOL, runs: RUNS, rows } };
}
