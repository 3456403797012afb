/**
 * Convex multi-task models on shapes of the family n 200..20,000, d 50..5,000, T 2..50 (with and
 * without intercept), and their cross-validated versions: metatask native, metatask TypeScript
 * and scikit-learn (on a CPU with AVX-512 also metatask native capped at AVX2, what CPUs without it
 * run), each in fresh processes of its own (bench/convexFit.ts,
 * bench/peers/sklearn_convex.py) on the same data and options, one thread each (setThreads(1);
 * OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = 1). Each side runs in --rounds processes (three by
 * default), the sides taking turns (each once, then again), so that a change
 * of the machine's load during the run reaches every side alike. Per side: the cold first fits of
 * its processes (median, min, max), the median of each process's first five warm fits, the median /
 * min / max of all the warm fits after them (at least five, then on until they took a quarter of a
 * second: the steady time, after V8 has compiled the solver), the sweeps,
 * the non-zero rows and the objective reached, against a tight reference (metatask at tol 1e-12). Ratios are of medians,
 * measured in this one run, of CPU time (process CPU seconds, every thread, which a loaded machine
 * does not inflate) and of wall-clock time. METATASK_BENCH_SHAPES=0,3 runs a few shapes only.
 * Data: X ~ N(0, 1) (one shape's columns scaled by 1, 2, 3 in turn; plus column offsets when an
 * intercept is fitted), a planted support of s rows
 * of W ~ N(0, 4), Y = X W + N(0, 0.25) noise (seeded); alpha a fraction of alpha_max.
 * Also exported: the driver that lasso.ts uses for the multi-task lasso data set.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { availableBackends, kernels, setBackend } from '../lib/kernels/index.js';
import { packageRoot } from '../lib/kernels/native.js';
import { alphaMax } from '../lib/linear/alphaGrid.js';
import { MultiTaskElasticNet } from '../lib/linear/multiTaskElasticNet.js';
import { prepareProblem } from '../lib/linear/solvers/workingSet.js';
import type { ConvexJob, ConvexModel, ConvexSideResult } from './convexFit.js';
import { objectiveOf } from './convexFit.js';
import { benchOptions, narrowerSimd, pythonWith, takeTurns, type ChartPanel } from './harness.js';
import { markdownTable, stats, type WorkloadResult } from './run.js';

export interface ConvexCase {
  /** Plain description of the problem (used as the table title). */
  title: string;
  folder: string;
  n: number;
  d: number;
  T: number;
  model: ConvexModel;
  options: Record<string, unknown>;
  /** Warm fits per process: at least this many, then until WARM_SECONDS (convexFit.ts moreWarmFits). */
  warmRuns: number;
  /** Fresh processes per side, the sides taking turns; default: the bench's --rounds. */
  rounds?: number;
  /** The metatask backends to run (default both; the native one also capped at AVX2 on an AVX-512 CPU). */
  backends?: readonly ('native' | 'js')[];
}

export interface SideRow {
  impl: string;
  threads?: string;
  /** Processes the figures come from (each: one cold fit, then the warm fits). */
  processes?: number;
  /** Wall-clock seconds: the median of the processes' cold first fits, and their spread. */
  cold?: number;
  coldSpread?: { median: number; min: number; max: number };
  /** Of the processes' cold fits, how many a full V8 garbage collection fell into, and its median seconds there. */
  coldFullGc?: { processes: number; seconds: number };
  /** The warm fits of every process, pooled. */
  warm?: { median: number; min: number; max: number };
  /** CPU seconds of each process's first EARLY_FITS warm fits, pooled: what a few fits in a process see. */
  cpuEarly?: { median: number; min: number; max: number };
  /** Process CPU seconds (every thread) of the same fits: a fair ratio even on a loaded machine. */
  cpuCold?: number;
  cpuColdSpread?: { median: number; min: number; max: number };
  cpuWarm?: { median: number; min: number; max: number };
  objective?: number;
  nIter?: number;
  nonZeroRows?: number;
  alpha?: number;
  l1Ratio?: number;
  skipped?: string;
}

const ONE_THREAD = { OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };

/**
 * A process fits on after its first EARLY_FITS warm fits and warmRuns more until its warm fits took
 * this long (wall-clock), at most MAX_WARM_RUNS of them; the warm median pools the fits after the
 * first EARLY_FITS, which keep a column of their own. The warm median is then the steady time,
 * after V8 has compiled the solver, on small problems too. A quarter of a second was too short for
 * the TypeScript kernels on the benchmark data set (16 ms fits): V8 still compiled them through a
 * process's 13th fit (its CPU time up to 1.7 times the fit's wall-clock time). A second was too
 * short for cross-validation (120 ms fits), counted from the first warm fit: V8 compiled its
 * functions again and again through the 9th (traced compile times of 17, 49, 15, 6, 4, 13, 0 and
 * 5 ms in fits 2 to 9, none after; CPU 118-164 ms a fit in fits 2 to 8, 114-125 ms after), and a
 * median of the first eight warm fits was a tenth above the steady time. (--quick: warmRuns fits
 * only, all pooled.)
 */
const WARM_SECONDS = 1;
const MAX_WARM_RUNS = 200;
/** The first warm fits of a process, reported on their own (SideRow.cpuEarly). */
export const EARLY_FITS = 5;

function runJob(cmd: string, args: string[], job: ConvexJob, env: NodeJS.ProcessEnv): ConvexSideResult & { version?: string } {
  const dir = mkdtempSync(join(tmpdir(), 'metatask-job-'));
  try {
    const file = join(dir, 'job.json');
    writeFileSync(file, JSON.stringify(job));
    const r = spawnSync(cmd, [...args, file], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 22, timeout: 600_000 });
    if (r.error || r.status !== 0) throw new Error(r.error ? r.error.message : (r.stderr || '').trim().split('\n').slice(-3).join(' '));
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as ConvexSideResult & { version?: string };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One side's row from the results of its processes: the median of their cold fits, their first
 * EARLY_FITS warm fits pooled, and their later warm fits pooled (all of a process's warm fits where
 * it ran no more than EARLY_FITS). The sweeps, rows and objective are the last process's (every
 * side is deterministic: its processes agree).
 */
export function toRow(impl: string, threads: string, results: readonly ConvexSideResult[]): SideRow {
  const colds = results.map((r) => r.times[0]!);
  const cpuColds = results.map((r) => r.cpuTimes[0]!);
  const steady = (fits: number[]) => (fits.length > 1 + EARLY_FITS ? fits.slice(1 + EARLY_FITS) : fits.slice(1));
  const warm = results.flatMap((r) => steady(r.times));
  const cpuWarm = results.flatMap((r) => steady(r.cpuTimes));
  const cpuEarly = results.flatMap((r) => r.cpuTimes.slice(1, 1 + EARLY_FITS));
  const coldSpread = stats(colds);
  const cpuColdSpread = stats(cpuColds);
  const r = results[results.length - 1]!;
  const fullGc = results.filter((q) => q.coldGc?.full).map((q) => q.coldGc!.seconds);
  return {
    impl,
    threads,
    processes: results.length,
    cold: coldSpread.median,
    coldSpread,
    ...(fullGc.length ? { coldFullGc: { processes: fullGc.length, seconds: stats(fullGc).median } } : {}),
    warm: stats(warm.length ? warm : colds),
    cpuCold: cpuColdSpread.median,
    cpuColdSpread,
    cpuWarm: stats(cpuWarm.length ? cpuWarm : cpuColds),
    cpuEarly: stats(cpuEarly.length ? cpuEarly : cpuColds),
    objective: r.objective, nIter: r.nIter, nonZeroRows: r.nonZeroRows,
    ...(r.alpha !== undefined ? { alpha: r.alpha, l1Ratio: r.l1Ratio! } : {}),
  };
}

/** A side of a case: how to start one of its processes, or why it does not run. */
type Side = { impl: string; run: () => ConvexSideResult & { version?: string }; threads: (r: ConvexSideResult) => string } | { impl: string; skipped: string };

function sidesOf(c: ConvexCase): Side[] {
  const job = (backend: 'native' | 'js'): ConvexJob => ({
    folder: c.folder, n: c.n, d: c.d, T: c.T, backend, model: c.model, options: c.options,
    warmRuns: benchOptions().quick ? c.warmRuns : EARLY_FITS + c.warmRuns, warmSeconds: benchOptions().quick ? 0 : WARM_SECONDS, maxWarmRuns: MAX_WARM_RUNS,
  });
  const sides: Side[] = [];
  for (const b of c.backends ?? (['native', 'js'] as const)) {
    const impl = `metatask ${b === 'js' ? 'TypeScript' : 'native'}`;
    if (!availableBackends().includes(b)) sides.push({ impl, skipped: `${impl} skipped: the addon is not built` });
    else {
      sides.push({
        impl,
        run: () => runJob(process.execPath, [join(packageRoot(), 'dist', 'bench', 'convexFit.js')], job(b), {}),
        threads: (r) => (b === 'native' ? `${r.threads} (${r.simd})` : `1 (${r.simd === 'none' ? 'no SIMD' : r.simd})`),
      });
    }
  }
  const narrower = narrowerSimd();
  if (narrower && (c.backends ?? ['native']).includes('native')) {
    sides.push({
      impl: `metatask native at ${narrower}`,
      run: () => runJob(process.execPath, [join(packageRoot(), 'dist', 'bench', 'convexFit.js')], job('native'), { METATASK_SIMD: narrower }),
      threads: (r) => `${r.threads} (${r.simd}, capped)`,
    });
  }
  const py = pythonWith('sklearn');
  if ('skipped' in py) sides.push({ impl: 'scikit-learn', skipped: py.skipped });
  else {
    sides.push({
      impl: 'scikit-learn',
      run: () => runJob(py.python, [join(packageRoot(), 'bench', 'peers', 'sklearn_convex.py')], job('native'), ONE_THREAD),
      threads: () => '1 BLAS thread',
    });
  }
  return sides;
}

/**
 * Run metatask (each available backend) and scikit-learn on one case: `rounds` fresh processes per
 * side, the sides taking turns, so that the machine's load during the run weighs on each alike.
 */
export function runCase(c: ConvexCase): SideRow[] {
  type Run = (ConvexSideResult & { version?: string }) | { failed: string };
  const sides = sidesOf(c);
  const attempt = (side: Side) => (): Run => {
    if ('skipped' in side) return { failed: side.skipped };
    try {
      return side.run();
    } catch (err) {
      return { failed: `${side.impl} failed: ${(err as Error).message}` };
    }
  };
  const runs = takeTurns(sides.map(attempt), c.rounds ?? benchOptions().rounds, (r) => 'failed' in r);
  return sides.map((side, s): SideRow => {
    if ('skipped' in side) return side;
    const failed = runs[s]!.find((r): r is { failed: string } => 'failed' in r);
    if (failed) return { impl: side.impl, skipped: failed.failed };
    const results = runs[s] as (ConvexSideResult & { version?: string })[];
    const version = results[0]!.version;
    return toRow(version ? `${side.impl} ${version}` : side.impl, side.threads(results[0]!), results);
  });
}

const CONVEX_TITLE = 'Convex multi-task models on several shapes (single fits and CV), metatask vs scikit-learn';

/** A chart panel of one case: a bar per side (warm median, whisker min-max). */
export function casePanel(title: string, rows: SideRow[]): ChartPanel {
  return {
    title,
    unit: 's',
    better: 'lower',
    bars: rows.filter((r) => r.warm).map((r) => ({ label: `${r.impl}, threads ${r.threads}`, value: r.warm!.median, min: r.warm!.min, max: r.warm!.max, ours: r.impl.startsWith('metatask') })),
  };
}

/**
 * The note that says how a case's figures were measured; `warmFits` says how many warm fits each
 * process runs at least, `rounds` how many processes each side runs in.
 */
export function processNote(warmFits: string, rounds: number = benchOptions().rounds): string {
  const more = benchOptions().quick ? '' : `, then more until they took ${WARM_SECONDS} s, at most ${MAX_WARM_RUNS}`;
  return (
    `each side runs in ${rounds === 1 ? 'one fresh process' : `${rounds} fresh processes, the sides taking turns (each once, then again)`}, ` +
    `1 thread each: "cold first fit" is a process's first fit, after it imported the package and read the data (the median of the processes'); "first ${EARLY_FITS} warm fits" are each process's first ones after it, ` +
    `which still run the solver while V8 compiles it, pooled; the warm fits (${warmFits}${more}) follow those and are pooled; ` +
    `a process's early fits also write to memory it has not used before (each fit's coefficients, the JavaScript heap while it grows), at the cost per 4 KiB the machine line gives, until the garbage collector first frees earlier fits' memory; ` +
    `"full GC in k of n": in k processes the cold fit held a full V8 garbage collection (the process's first, whose cost is the heap's, not the fit's), its median time there`
  );
}

const fmt = (s: number | undefined): string => (s === undefined ? '-' : s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`);

/** a / b, the ratio of two sides' times; undefined when either is missing (or b is not positive). */
export function timeRatio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}

/** A ratio as the tables write it, "0.42x", or "-" when there is none. */
export function formatRatio(x: number | undefined): string {
  return x === undefined ? '-' : `${x.toFixed(2)}x`;
}

/**
 * The TypeScript kernels' time over the native ones in the same run (warm and cold medians, CPU
 * then wall-clock), or undefined when either side is missing. CPU counts V8's compiler threads,
 * which optimise the TypeScript kernels during a process's first fits: the two ratios differ most
 * there.
 */
export function backendRatioNote(rows: readonly SideRow[]): string | undefined {
  const native = rows.find((r) => r.impl === 'metatask native' && r.warm);
  const ts = rows.find((r) => r.impl === 'metatask TypeScript' && r.warm);
  if (!native || !ts) return undefined;
  const over = (time: (r: SideRow) => number | undefined): string => formatRatio(timeRatio(time(ts), time(native)));
  return (
    `metatask TypeScript over native, same run, one thread each: warm ${over((r) => r.cpuWarm?.median)} CPU (${over((r) => r.warm?.median)} wall), ` +
    `cold ${over((r) => r.cpuCold)} CPU (${over((r) => r.cold)} wall)`
  );
}

/**
 * The Markdown table of one case; `reference` is the tight objective the rows are compared with.
 * Times are given as CPU time of the process (every thread) and wall-clock time; the ratios to
 * scikit-learn are of CPU times first (fair on a loaded machine, both sides run one thread), then
 * of wall-clock times.
 */
export function caseTable(rows: SideRow[], reference: number, cv: boolean): string {
  const sk = rows.find((r) => r.impl.startsWith('scikit-learn') && r.warm);
  const ratio = (a: number | undefined, b: number | undefined): string => formatRatio(timeRatio(a, b));
  const spread = (s: { median: number; min: number; max: number }): string => `${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)})`;
  return markdownTable(
    [
      'side',
      'threads',
      'cold first fit, median CPU (min-max) / wall',
      `first ${EARLY_FITS} warm fits, median CPU`,
      'warm median CPU (min-max)',
      'warm median wall (min-max)',
      'sweeps',
      'non-zero rows',
      ...(cv ? ['alpha (l1Ratio) chosen'] : []),
      'objective',
      'rel. to reference',
      'warm / sklearn, CPU (wall)',
      'cold / sklearn cold, CPU (wall)',
    ],
    rows
      .filter((r) => r.warm)
      .map((r) => {
        const rel = (r.objective! - reference) / Math.abs(reference);
        return [
          r.impl,
          r.threads!,
          `${spread(r.cpuColdSpread!)} / ${fmt(r.cold)}` +
            (r.coldFullGc ? `; full GC in ${r.coldFullGc.processes} of ${r.processes} (${fmt(r.coldFullGc.seconds)})` : ''),
          fmt(r.cpuEarly?.median),
          spread(r.cpuWarm!),
          spread(r.warm!),
          r.nIter!,
          r.nonZeroRows!,
          ...(cv ? [`${r.alpha!.toPrecision(6)} (${r.l1Ratio})`] : []),
          r.objective!.toPrecision(12),
          `${rel >= 0 ? '+' : ''}${rel.toExponential(1)}${Math.abs(rel) <= 1e-6 ? '' : ' (NOT within 1e-6)'}`,
          `${ratio(r.cpuWarm!.median, sk?.cpuWarm!.median)} (${ratio(r.warm!.median, sk?.warm!.median)})`,
          `${ratio(r.cpuCold, sk?.cpuCold)} (${ratio(r.cold, sk?.cold)})`,
        ];
      }),
  );
}

/** A tight reference objective of a case: metatask native (else TypeScript) at tol 1e-12. */
export function referenceObjective(X: Matrix<Float64Array>, Y: Matrix<Float64Array>, c: ConvexCase, alpha: number, l1Ratio: number): number {
  setBackend(availableBackends().includes('native') ? 'native' : 'js');
  const o = c.options;
  const m = new MultiTaskElasticNet({ alpha, l1Ratio, fitIntercept: o.fitIntercept as boolean, tol: 1e-12, maxIter: 1_000_000 }).fitSync(X, Y);
  return objectiveOf(m, X, Y, alpha, l1Ratio);
}

// ------------------------------------------------------------------------------------------------
// The shapes
// ------------------------------------------------------------------------------------------------

/** What generate() needs of a shape. */
export interface ProblemShape {
  n: number;
  d: number;
  T: number;
  /** Rows of W planted non-zero. */
  support: number;
  fitIntercept: boolean;
  /**
   * Column j of X multiplied by 1 + (j mod 3): features on unequal scales, as a user's unstandardised
   * data has them (the other shapes' columns all have unit variance).
   */
  unequalScales?: boolean;
}

interface Shape extends ProblemShape {
  model: ConvexModel;
  /** alpha / alpha_max (single fits). */
  alphaFraction?: number;
  l1Ratio?: number | number[];
  cvOptions?: Record<string, unknown>;
  /**
   * Fits after the cold one, each side, at least (then on until WARM_SECONDS); their median is the
   * warm figure. The cold fit and the first EARLY_FITS warm fits are reported on their own.
   */
  warmRuns: number;
}

const SHAPES: Shape[] = [
  { n: 1500, d: 800, T: 15, support: 40, fitIntercept: true, model: 'lasso', alphaFraction: 0.1, warmRuns: 5 },
  { n: 20000, d: 100, T: 5, support: 20, fitIntercept: true, model: 'lasso', alphaFraction: 0.05, warmRuns: 5 },
  { n: 300, d: 5000, T: 30, support: 30, fitIntercept: false, model: 'lasso', alphaFraction: 0.2, warmRuns: 5 },
  { n: 200, d: 50, T: 2, support: 5, fitIntercept: false, model: 'lasso', alphaFraction: 0.05, warmRuns: 5 },
  { n: 1500, d: 800, T: 15, support: 40, fitIntercept: true, model: 'enet', alphaFraction: 0.1, l1Ratio: 0.7, warmRuns: 5 },
  { n: 200, d: 2000, T: 2, support: 10, fitIntercept: true, model: 'lasso', alphaFraction: 0.2, warmRuns: 5 },
  { n: 10000, d: 50, T: 50, support: 10, fitIntercept: false, model: 'lasso', alphaFraction: 0.05, warmRuns: 5 },
  { n: 1000, d: 1000, T: 3, support: 100, fitIntercept: true, model: 'lasso', alphaFraction: 0.02, warmRuns: 5 },
  { n: 4000, d: 1000, T: 40, support: 50, fitIntercept: false, model: 'enet', alphaFraction: 0.1, l1Ratio: 0.9, warmRuns: 3 },
  { n: 5000, d: 300, T: 4, support: 30, fitIntercept: true, model: 'lasso', alphaFraction: 0.01, unequalScales: true, warmRuns: 5 },
  { n: 600, d: 300, T: 6, support: 15, fitIntercept: true, model: 'lassoCV', cvOptions: { cv: 5, nAlphas: 100 }, warmRuns: 5 },
  { n: 600, d: 300, T: 6, support: 15, fitIntercept: true, model: 'enetCV', l1Ratio: [0.5, 0.9], cvOptions: { cv: 5, nAlphas: 50 }, warmRuns: 5 },
  // A dense solution (most rows of W non-zero at 0.005 alpha_max): the working sets' weak case (last, so that the
  // other shapes keep their seeds).
  { n: 400, d: 400, T: 2, support: 20, fitIntercept: true, model: 'lasso', alphaFraction: 0.005, warmRuns: 5 },
];

const MODEL_NAMES: Record<ConvexModel, string> = {
  lasso: 'MultiTaskLasso',
  enet: 'MultiTaskElasticNet',
  lassoCV: 'MultiTaskLassoCV',
  enetCV: 'MultiTaskElasticNetCV',
};

/** The problem of a shape (see the module comment), from a seeded generator. */
export function generate(s: ProblemShape, seed: number): { X: Matrix<Float64Array>; Y: Matrix<Float64Array> } {
  const rng = new Rng(seed);
  const { n, d, T } = s;
  const X = new Float64Array(n * d);
  for (let i = 0; i < X.length; i++) X[i] = rng.normal();
  if (s.unequalScales) for (let i = 0; i < X.length; i++) X[i]! *= 1 + ((i % d) % 3);
  if (s.fitIntercept) for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) X[i * d + j]! += (j % 5) - 2;
  const Y = new Float64Array(n * T);
  for (let i = 0; i < Y.length; i++) Y[i] = 0.5 * rng.normal() + (s.fitIntercept ? 1 : 0);
  const support = rng.permutation(d).subarray(0, s.support);
  const w = new Float64Array(T);
  for (const j of support) {
    for (let t = 0; t < T; t++) w[t] = 2 * rng.normal();
    for (let i = 0; i < n; i++) {
      const x = X[i * d + j]!;
      for (let t = 0; t < T; t++) Y[i * T + t]! += x * w[t]!;
    }
  }
  return { X: { rows: n, cols: d, data: X }, Y: { rows: n, cols: T, data: Y } };
}

function shapeTitle(s: Shape, options: Record<string, unknown>): string {
  const parts = [`${MODEL_NAMES[s.model]}, n ${s.n}, d ${s.d}, T ${s.T}, ${s.fitIntercept ? 'with' : 'no'} intercept`];
  if (s.unequalScales) parts.push('columns on scales 1, 2, 3');
  if (options.alpha !== undefined) parts.push(`alpha ${(options.alpha as number).toPrecision(4)} (${s.alphaFraction} alpha_max)`);
  if (options.l1Ratio !== undefined) parts.push(`l1Ratio ${JSON.stringify(options.l1Ratio)}`);
  if (options.cv !== undefined) parts.push(`${options.cv} folds, ${options.nAlphas} alphas`);
  parts.push(`tol ${options.tol}`);
  return parts.join(', ');
}

/**
 * The shapes to run: all, or those whose positions in SHAPES (0-based) are listed in the
 * environment variable METATASK_BENCH_SHAPES (comma-separated), to rerun a few.
 */
function selectedShapes(): number[] {
  const all = SHAPES.map((_, i) => i);
  const env = process.env.METATASK_BENCH_SHAPES;
  if (!env) return all;
  const picked = env.split(',').map((v) => Number(v.trim()));
  const bad = picked.filter((i) => !all.includes(i));
  if (bad.length) throw new Error(`METATASK_BENCH_SHAPES: no shape ${bad.join(', ')}; shapes are 0..${SHAPES.length - 1}`);
  return picked;
}

export async function run(): Promise<WorkloadResult> {
  const root = mkdtempSync(join(tmpdir(), 'metatask-convex-'));
  const sections: string[] = [];
  const data: unknown[] = [];
  const panels: ChartPanel[] = [];
  const notes = new Set<string>();
  try {
    // --quick: the first two of the selected shapes, one warm fit each.
    const picked = selectedShapes();
    const chosen = benchOptions().quick ? picked.slice(0, 2) : picked;
    chosen.forEach((i) => {
      const s = benchOptions().quick ? { ...SHAPES[i]!, warmRuns: 1 } : SHAPES[i]!;
      const folder = join(root, `shape${i}`);
      mkdirSync(folder);
      const { X, Y } = generate(s, 1000 + i);
      writeFileSync(join(folder, 'X.f64'), X.data);
      writeFileSync(join(folder, 'Y.f64'), Y.data);
      const cv = s.model.endsWith('CV');
      const l1 = typeof s.l1Ratio === 'number' ? s.l1Ratio : 1;
      const options: Record<string, unknown> = { fitIntercept: s.fitIntercept, tol: 1e-4 };
      if (!cv) {
        setBackend(availableBackends().includes('native') ? 'native' : 'js');
        options.alpha = s.alphaFraction! * alphaMax(prepareProblem(kernels(), X, Y, s.fitIntercept), l1);
        if (s.model === 'enet') options.l1Ratio = s.l1Ratio;
      } else {
        Object.assign(options, s.cvOptions);
        if (s.model === 'enetCV') options.l1Ratio = s.l1Ratio;
      }
      const c: ConvexCase = { title: shapeTitle(s, options), folder, n: s.n, d: s.d, T: s.T, model: s.model, options, warmRuns: s.warmRuns };
      const rows = runCase(c);
      // The reference: the single-fit optimum at the alpha (and l1Ratio) fitted, or for CV at the
      // alpha and l1Ratio metatask chose (scikit-learn's choice is in the table beside it).
      const chosen = rows.find((r) => r.alpha !== undefined);
      const [refAlpha, refL1] = cv ? [chosen?.alpha ?? NaN, chosen?.l1Ratio ?? NaN] : [options.alpha as number, l1];
      const reference = Number.isFinite(refAlpha) ? referenceObjective(X, Y, c, refAlpha, refL1) : NaN;
      for (const r of rows) if (r.skipped) notes.add(r.skipped);
      const table = caseTable(rows, reference, cv);
      sections.push(`### ${c.title}\n\n${table}`);
      data.push({ title: c.title, options, reference, rows });
      panels.push(casePanel(c.title, rows));
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  notes.add(processNote('at least five per process, three on the 4000 x 1000 elastic net'));
  notes.add("CPU: process CPU time (user + system, every thread, those of V8's compiler and garbage collector included: in the first fits of a process CPU exceeds wall time while V8 optimises the solver on another core) during the fit; the ratios to scikit-learn hold on a loaded machine, the wall-clock ones do not");
  notes.add('objective: scikit-learn\'s (1/(2n))||Y - XW - b||^2 + alpha l1Ratio sum_j ||W_j|| + alpha (1 - l1Ratio)/2 ||W||^2; reference: metatask at tol 1e-12 (CV: refitted at the alpha and l1Ratio metatask chose)');
  return {
    id: 'convex',
    title: CONVEX_TITLE,
    table: sections.join('\n\n'),
    notes: [...notes],
    data: { cases: data },
    charts: [{ title: CONVEX_TITLE, panels }],
  };
}
