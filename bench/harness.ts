/**
 * What every benchmark shares: the result a workload returns, the row that names who ran on which
 * resources, statistics and tables, child processes (each configuration starts cold and alone, or
 * beside copies of itself to measure what the machine's cores give it), the
 * Python and TensorFlow.js peers (skipped with one line saying how to install them) and the
 * description of the machine written beside the results.
 *
 * A workload is a module bench/<file>.ts exporting `run(options): Promise<WorkloadResult>`, listed
 * in bench/run.ts. The rules its rows follow: each names its threads, SIMD level and backend; a
 * ratio compares rows of the same run; warm figures are medians with min and max, and the cold
 * first measurement of a fresh process stands beside them. Each configuration runs in --rounds fresh
 * processes, the configurations taking turns (inTurns), so that a change of the machine's load
 * during the run does not fall on one row only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch, availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { availableBackends, backend, setBackend, setThreads } from '../lib/kernels/index.js';
import { packageRoot } from '../lib/kernels/native.js';
import type { BackendInfo } from '../lib/kernels/types.js';

// ------------------------------------------------------------------------------------------------
// Options and results
// ------------------------------------------------------------------------------------------------

/** How the bench was asked to run (bench/run.ts sets them in the environment, so children see them too). */
export interface BenchOptions {
  /** Smoke-test sizes: seconds instead of minutes; the figures mean nothing. */
  quick: boolean;
  /** Run the peers (PyTorch, scikit-learn, TensorFlow.js) that are installed. */
  peers: boolean;
  /** Fresh processes per configuration, the configurations taking turns (inTurns). */
  rounds: number;
}

/** Fresh processes per configuration unless --rounds says otherwise (one with --quick). */
export const DEFAULT_ROUNDS = 3;

export function benchOptions(): BenchOptions {
  const quick = process.env.METATASK_BENCH_QUICK === '1';
  const rounds = Number(process.env.METATASK_BENCH_ROUNDS);
  return {
    quick,
    peers: process.env.METATASK_BENCH_PEERS !== '0',
    rounds: Number.isInteger(rounds) && rounds > 0 ? rounds : quick ? 1 : DEFAULT_ROUNDS,
  };
}

/** What a workload module returns. */
export interface WorkloadResult {
  /** Short id (the workload modules' own; bench/run.ts names the result files). */
  id: string;
  title: string;
  /** Markdown tables (with ratios) to print and to put in the report. */
  table: string;
  /** Lines printed under the table (skipped peers, resources that differ, quality notes). */
  notes: string[];
  /** JSON-able details written to the results file. */
  data: unknown;
  /** Charts for the report, one SVG each (bench/report.ts draws them). */
  charts?: Chart[];
  /** Files of its own written beside the results with --report (an SVG is shown in the report). */
  files?: { name: string; content: string }[];
}

export interface WorkloadModule {
  /** `args`: the command-line options the framework does not know (each workload documents its own). Read benchOptions() for --quick and --no-peers. */
  run(args: string[]): Promise<WorkloadResult>;
}

/** One configuration that was measured (or skipped): who ran, on what, and what it measured. */
export interface Row {
  /** Who ran: 'metatask', 'PyTorch 1.13.1 (fused heads)', 'TensorFlow.js 4.22.0'. */
  impl: string;
  /** That implementation's backend: 'native', 'TypeScript', 'WASM', 'CPU', 'eager'... */
  backend: string;
  /** The vector instructions it ran with (metatask: backend().simd; PyTorch: ATen level and BLAS kernels). */
  simd: string;
  /** The threads it was allowed (metatask: setThreads; PyTorch: set_num_threads and OMP/MKL/OpenBLAS). */
  threads: number;
  /** Why this row's resources differ from the others' (shown beside its threads). */
  resources?: string;
  /** Warm measurements, one per run, in the metric's unit. */
  values?: number[];
  /** The first measurement of a fresh process (first fit, first epoch, first iterations). */
  cold?: number;
  /** CPU time over wall time during the warm runs: how many cores were really busy. */
  coresBusy?: number;
  /** What was learned (objective, test loss...), by column name. */
  quality?: Record<string, string | number>;
  /** Why it did not run, and how to make it run: one line. */
  skipped?: string;
}

/** What a table column of measurements is. */
export interface Metric {
  name: string;
  /** 's' (shown in ms or s), or a rate such as 'samples/s', 'it/s'. */
  unit: string;
  better: 'higher' | 'lower';
  /** What the cold figure is, e.g. 'first epoch' (it is in the same unit). */
  cold?: string;
}

// ------------------------------------------------------------------------------------------------
// Statistics and formatting
// ------------------------------------------------------------------------------------------------

/** Median, min and max. */
export function stats(xs: readonly number[]): { median: number; min: number; max: number } {
  if (xs.length === 0) throw new Error('stats: no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median: m, min: s[0]!, max: s[s.length - 1]! };
}

/** A quality value as a table shows it: numbers to four significant digits. */
function qualityCell(v: string | number | undefined): string {
  return v === undefined ? '-' : typeof v === 'number' ? v.toPrecision(4) : v;
}

/**
 * The runs of one configuration (each a fresh process) as one row: their warm values pooled, the
 * median of their cold values and of their cores busy; a quality that differs between the runs
 * shows every run's value. The first run that was skipped or failed stands for them all.
 */
export function mergeRuns(runs: readonly Row[]): Row {
  const first = runs[0];
  if (!first) throw new Error('mergeRuns: no runs');
  const skipped = runs.find((r) => r.skipped);
  if (skipped || runs.length === 1) return skipped ?? first;
  const cold = runs.flatMap((r) => (r.cold === undefined ? [] : [r.cold]));
  const busy = runs.flatMap((r) => (r.coresBusy === undefined ? [] : [r.coresBusy]));
  const quality: Record<string, string | number> = {};
  for (const key of Object.keys(first.quality ?? {})) {
    const values = runs.map((r) => r.quality?.[key]);
    quality[key] = values.every((v) => v === values[0]) ? values[0]! : values.map(qualityCell).join(' / ');
  }
  const merged: Row = { ...first, values: runs.flatMap((r) => r.values ?? []) };
  if (cold.length) merged.cold = stats(cold).median;
  if (busy.length) merged.coresBusy = stats(busy).median;
  if (first.quality) merged.quality = quality;
  return merged;
}

/**
 * Run every configuration `rounds` times, the configurations taking turns (a b c, a b c, ...): a
 * change of the machine's load during the run then weighs on each alike, where one configuration
 * after another would hand it to whichever ran at the time. Each call of a configuration is one
 * fresh process; its runs merge into one row (mergeRuns). A configuration skipped or failed is not
 * run again.
 */
export function inTurns(configs: readonly (() => Row)[], rounds: number = benchOptions().rounds): Row[] {
  return takeTurns(configs, rounds, (r) => r.skipped !== undefined).map(mergeRuns);
}

/**
 * The turns of inTurns for any kind of run: `rounds` calls of each configuration, a b c, a b c, ...;
 * a configuration whose run `ends` is not called again. Returns each configuration's runs.
 */
export function takeTurns<R>(configs: readonly (() => R)[], rounds: number, ends: (run: R) => boolean): R[][] {
  const runs: R[][] = configs.map(() => []);
  for (let round = 0; round < rounds; round++) {
    configs.forEach((run, c) => {
      if (runs[c]!.some(ends)) return;
      runs[c]!.push(run());
    });
  }
  return runs;
}

/** The note that says how the rows of a speed table were measured, for `rounds` runs per row. */
export function turnsNote(rounds: number = benchOptions().rounds): string {
  return rounds === 1
    ? 'each row is one fresh process'
    : `each row is ${rounds} fresh processes, the rows taking turns (all once, then again), their warm values pooled and their cold values' median shown`;
}

/** A Markdown table from a header and rows. */
export function markdownTable(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]): string => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A value in a unit: seconds as ms or s, rates with three significant digits and thousands separators. */
export function formatValue(x: number, unit: string): string {
  if (!Number.isFinite(x)) return '-';
  if (unit === 's') return x < 1 ? `${(x * 1000).toPrecision(3)} ms` : `${x.toPrecision(3)} s`;
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function formatRange(values: readonly number[], unit: string): string {
  const s = stats(values);
  return `${formatValue(s.median, unit)} (${formatValue(s.min, unit)}-${formatValue(s.max, unit)})`;
}

/** a over b as "1.23x", where more than 1 means a is better (faster). */
export function speedup(a: number, b: number, metric: Metric): string {
  const r = metric.better === 'higher' ? a / b : b / a;
  return `${r.toFixed(2)}x`;
}

export function threadsCell(r: Row): string {
  return r.resources ? `${r.threads} (${r.resources})` : String(r.threads);
}

export function rowLabel(r: Row): string {
  return [r.impl, ...(r.backend && r.backend !== '-' ? [r.backend] : []), `${r.threads} thread${r.threads === 1 ? '' : 's'}`].join(', ');
}

export interface SpeedTableOptions {
  /** Ratio columns: a header, and the row each row is compared with (none: '-'). */
  ratios?: { header: string; baseline: (r: Row) => Row | undefined }[];
  /** Quality columns, in order (values from Row.quality). */
  quality?: string[];
}

/**
 * The table every speed comparison uses: implementation, backend, SIMD, threads, warm median
 * (min-max), cold first, cores busy, ratios, then quality columns. Skipped rows are left out
 * (their line goes in the notes: see skippedNotes).
 */
export function speedTable(metric: Metric, rows: readonly Row[], o: SpeedTableOptions = {}): string {
  const ran = rows.filter((r) => r.values && r.values.length);
  const header = ['implementation', 'backend', 'SIMD', 'threads', `${metric.name}, median (min-max)`];
  if (metric.cold) header.push(`cold: ${metric.cold}`);
  header.push('cores busy');
  for (const q of o.ratios ?? []) header.push(q.header);
  header.push(...(o.quality ?? []));
  return markdownTable(
    header,
    ran.map((r) => {
      const cells: (string | number)[] = [r.impl, r.backend, r.simd, threadsCell(r), formatRange(r.values!, metric.unit)];
      if (metric.cold) cells.push(r.cold === undefined ? '-' : formatValue(r.cold, metric.unit));
      cells.push(r.coresBusy === undefined ? '-' : r.coresBusy.toFixed(1));
      for (const q of o.ratios ?? []) {
        const b = q.baseline(r);
        cells.push(b?.values?.length && b !== r ? speedup(stats(r.values!).median, stats(b.values).median, metric) : '-');
      }
      for (const q of o.quality ?? []) cells.push(qualityCell(r.quality?.[q]));
      return cells;
    }),
  );
}

/** The one-line reasons of the skipped rows, without repeats. */
export function skippedNotes(rows: readonly Row[]): string[] {
  return [...new Set(rows.filter((r) => r.skipped).map((r) => r.skipped!))];
}

// ------------------------------------------------------------------------------------------------
// Charts (drawn by bench/report.ts)
// ------------------------------------------------------------------------------------------------

export interface Bar {
  label: string;
  value: number;
  min?: number;
  max?: number;
  /** metatask's own bars are drawn in the accent colour, peers in grey. */
  ours: boolean;
}

export interface ChartPanel {
  title: string;
  unit: string;
  better: 'higher' | 'lower';
  bars: Bar[];
}

export interface Chart {
  title: string;
  panels: ChartPanel[];
}

/** A chart panel of the rows that ran: bar = warm median, whisker = min-max. */
export function chartPanel(title: string, metric: Metric, rows: readonly Row[]): ChartPanel {
  return {
    title,
    unit: metric.unit,
    better: metric.better,
    bars: rows
      .filter((r) => r.values && r.values.length)
      .map((r) => {
        const s = stats(r.values!);
        return { label: rowLabel(r), value: s.median, min: s.min, max: s.max, ours: r.impl.startsWith('metatask') };
      }),
  };
}

// ------------------------------------------------------------------------------------------------
// metatask's own rows
// ------------------------------------------------------------------------------------------------

/**
 * Switch this process to a backend and thread count, and describe it as a row (the row's values
 * are filled in by the caller). The TypeScript kernels run on one thread.
 */
export function useMetatask(name: 'native' | 'js', threads: number): Row {
  if (!availableBackends().includes(name)) throw new Error(`the ${name} backend is not available here`);
  setBackend(name);
  if (name === 'native') setThreads(threads);
  const info = backend();
  return {
    impl: 'metatask',
    backend: name === 'js' ? 'TypeScript' : 'native',
    simd: simdLabel(info),
    threads: name === 'native' ? info.threads : 1,
  };
}

/** The SIMD a backend runs: the native level, or for the TypeScript kernels whether their products run in WebAssembly SIMD. */
export function simdLabel(info: BackendInfo): string {
  if (info.name === 'native') return info.simd;
  return info.wasmSimd ? 'wasm simd128' : 'none';
}

/** Time `work` and the CPU it used: returns wall seconds and cores busy (CPU time / wall time). */
export async function timed(work: () => unknown): Promise<{ seconds: number; coresBusy: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await work();
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { seconds, coresBusy: (c.user + c.system) / 1e6 / seconds };
}

// ------------------------------------------------------------------------------------------------
// Child processes
// ------------------------------------------------------------------------------------------------

const RESULT_MARK = '@@metatask-bench-result ';

/** The command that runs `fn(arg)` of bench/<module>.js in a child (bench/child.ts). */
function childArgs(module: string, fn: string, arg: unknown): string[] {
  return [join(packageRoot(), 'dist', 'bench', 'child.js'), module, fn, JSON.stringify(arg ?? null)];
}

/** A child's result from its output, or an error with the end of its stderr. */
function childResult<T>(module: string, fn: string, out: { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; error?: Error }): T {
  const line = out.stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
  if (out.status !== 0 || !line) {
    const why = out.error?.message ?? (out.stderr.trim().split('\n').slice(-4).join(' | ') || `exit ${out.status}, signal ${out.signal}`);
    throw new Error(`${module}.${fn} in a child process failed: ${why}`);
  }
  return JSON.parse(line.slice(RESULT_MARK.length)) as T;
}

/**
 * Run `fn(arg)` of bench/<module>.js in a fresh Node process and return its result: every
 * configuration starts cold (its first fit is a user's first fit) and alone (its thread count and
 * addon are its own). `env` is added to this process's environment. When the child fails, the end
 * of its stderr is in the error.
 */
export function inChild<T>(module: string, fn: string, arg: unknown, env: NodeJS.ProcessEnv = {}): T {
  const r = spawnSync(process.execPath, childArgs(module, fn, arg), {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  return childResult<T>(module, fn, { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ...(r.error ? { error: r.error } : {}) });
}

/** inChild without waiting: the child runs while the caller goes on. */
function inChildAsync<T>(module: string, fn: string, arg: unknown, env: NodeJS.ProcessEnv = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, childArgs(module, fn, arg), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      try {
        resolve(childResult<T>(module, fn, { status, signal, stdout, stderr }));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** What `concurrently` runs: `count` copies of one child, started together. */
export interface ConcurrentJob {
  module: string;
  fn: string;
  arg: unknown;
  count: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Child process: `count` copies of inChild(module, fn, arg, env) at the same time, each a process of
 * its own; their results in launch order. Processes share nothing but the machine (no thread pool,
 * no barrier between threads, no heap), so what they do together is what the machine's cores give
 * the workload: the ceiling for one process's threads on this machine, and what running one
 * 1-thread process per core (queue workers, `metatask worker --threads 1`) gets.
 */
export async function concurrently(job: ConcurrentJob): Promise<unknown[]> {
  if (!Number.isInteger(job.count) || job.count < 1) throw new Error(`concurrently: count must be a positive integer, got ${job.count}`);
  return Promise.all(Array.from({ length: job.count }, () => inChildAsync(job.module, job.fn, job.arg, job.env ?? {})));
}

/**
 * The rows of processes that ran at the same time (concurrently) as one row of what they did
 * together: run i's values summed over the processes (the i-th warm measurement of each, taken
 * while the others took theirs), the cold values summed, cores busy summed; quality from the first
 * process (the same seeds give the same quality in each). `impl` and `resources` name the row.
 */
export function combinedRow(rows: readonly Row[], impl: string, resources: string): Row {
  const first = rows[0];
  if (!first) throw new Error('combinedRow: no rows');
  const skipped = rows.find((r) => r.skipped);
  if (skipped) return { ...skipped, impl, resources };
  const runs = Math.min(...rows.map((r) => r.values?.length ?? 0));
  const values = Array.from({ length: runs }, (_, i) => rows.reduce((s, r) => s + r.values![i]!, 0));
  const sum = (f: (r: Row) => number | undefined) => (rows.every((r) => f(r) !== undefined) ? rows.reduce((s, r) => s + f(r)!, 0) : undefined);
  const cold = sum((r) => r.cold);
  const coresBusy = sum((r) => r.coresBusy);
  const { cold: _cold, coresBusy: _busy, ...rest } = first;
  return { ...rest, impl, resources, values, ...(cold === undefined ? {} : { cold }), ...(coresBusy === undefined ? {} : { coresBusy }) };
}

/** The impl of the row twoProcessesRow gives (a note, not a table row). */
export const TWO_PROCESSES = 'metatask, two processes at once';

/**
 * Two 1-thread native processes of `module`'s `metatask(arg)` child at the same time (concurrently),
 * run from a child process of their own, as one row (combinedRow, impl TWO_PROCESSES); a skipped row
 * saying why when they fail. `label` names the workload in the progress line.
 */
export function twoProcessesRow(label: string, module: string, arg: object): Row {
  progress(`${label}: metatask native, two 1-thread processes at once`);
  try {
    const job: ConcurrentJob = { module, fn: 'metatask', arg: { ...arg, backend: 'native', threads: 1 }, count: 2 };
    return combinedRow(inChild<Row[]>('harness', 'concurrently', job), TWO_PROCESSES, 'two processes of 1 thread at once');
  } catch (err) {
    return { impl: TWO_PROCESSES, backend: 'native', simd: '-', threads: 1, skipped: `two metatask processes at once failed: ${(err as Error).message}` };
  }
}

/** The rows of a workload's turns without the twoProcessesRow, and that row (a note's, not the table's). */
export function apartFromTwoProcesses(measured: readonly Row[]): { rows: Row[]; pair: Row | undefined } {
  return { rows: measured.filter((r) => r.impl !== TWO_PROCESSES), pair: measured.find((r) => r.impl === TWO_PROCESSES) };
}

/**
 * The note that sets a process at two threads beside two 1-thread processes run at once (combinedRow
 * of `concurrently`), both against one process at one thread, from the medians of a rate (higher is
 * better): how much of what two cores give the workload one process's threads reach. Undefined when
 * a row has no values.
 */
export function twoProcessesNote(one: Row, two: Row, pair: Row): string | undefined {
  if (!one.values?.length || !two.values?.length || !pair.values?.length) return undefined;
  const m1 = stats(one.values).median;
  const threads = stats(two.values).median / m1;
  const processes = stats(pair.values).median / m1;
  // The share of the gain means something only when the processes gained.
  const share = processes > 1 ? `${((100 * (threads - 1)) / (processes - 1)).toFixed(0)}% of the processes' gain` : 'the processes gained nothing';
  return (
    `${one.impl} ${one.backend}, two 1-thread processes at the same time: together ${processes.toFixed(2)}x one process alone ` +
    `(each at about ${(processes / 2).toFixed(2)}x its speed alone); one process at 2 threads: ${threads.toFixed(2)}x, ` +
    `${share}. The processes share nothing but the machine; ` +
    `a process's threads meet at the end of every step, so a thread the system pauses (for another process, or for V8's own threads) holds the other up`
  );
}

/** The child's side of inChild: print the result where the parent looks for it. */
export function reportToParent(value: unknown): void {
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(value)}\n`);
}

/** Progress on stderr (stdout carries the tables). */
export function progress(message: string): void {
  process.stderr.write(`  ... ${message}\n`);
}

// ------------------------------------------------------------------------------------------------
// Peers
// ------------------------------------------------------------------------------------------------

export const INSTALL_PYTHON_PEERS = 'apt-get install python3-torch python3-sklearn (Debian/Ubuntu; elsewhere pip install torch scikit-learn)';
export const INSTALL_TFJS = 'npm install --prefix bench/peers @tensorflow/tfjs @tensorflow/tfjs-backend-wasm';

const pythonChecked = new Map<string, { python: string } | { skipped: string }>();

/**
 * A Python that can import `module` ('torch', 'sklearn'): METATASK_BENCH_PYTHON if set, else
 * /usr/bin/python3 or python3 on the PATH; or the one line saying how to install it.
 */
export function pythonWith(module: 'torch' | 'sklearn'): { python: string } | { skipped: string } {
  const known = pythonChecked.get(module);
  if (known) return known;
  const name = module === 'torch' ? 'PyTorch' : 'scikit-learn';
  let found: { python: string } | { skipped: string };
  if (!benchOptions().peers) found = { skipped: `${name} peer not run (--no-peers)` };
  else {
    const candidates = process.env.METATASK_BENCH_PYTHON ? [process.env.METATASK_BENCH_PYTHON] : ['/usr/bin/python3', 'python3'];
    const python = candidates.find((py) => spawnSync(py, ['-c', `import ${module}, numpy`], { stdio: 'ignore' }).status === 0);
    found = python ? { python } : { skipped: `${name} peer skipped: ${candidates.join(' or ')} cannot import ${module}; to install it: ${INSTALL_PYTHON_PEERS}` };
  }
  pythonChecked.set(module, found);
  return found;
}

/**
 * Run bench/peers/<script> with `threads` threads (its own set_num_threads, and OMP, MKL and
 * OpenBLAS through the environment) and return the JSON of its last stdout line.
 */
export function runPython<T>(python: string, script: string, args: (string | number)[], threads: number): T {
  const n = String(threads);
  const r = spawnSync(python, [join(packageRoot(), 'bench', 'peers', script), ...args.map(String)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 16 << 20,
  });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.error?.message ?? ((r.stderr ?? '').trim().split('\n').pop() || `exit ${r.status}`)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}

/**
 * TensorFlow.js from bench/peers (never a dependency of metatask), with one of its Node backends
 * set; or the one line saying how to install it.
 */
export async function loadTfjs(tfBackend: 'wasm' | 'cpu'): Promise<{ tf: any; version: string } | { skipped: string }> {
  if (!benchOptions().peers) return { skipped: 'TensorFlow.js peer not run (--no-peers)' };
  const peers = createRequire(join(packageRoot(), 'bench', 'peers', 'package.json'));
  let tf: any;
  try {
    tf = await import(pathToFileURL(peers.resolve('@tensorflow/tfjs')).href);
    if (tfBackend === 'wasm') await import(pathToFileURL(peers.resolve('@tensorflow/tfjs-backend-wasm')).href);
  } catch {
    return { skipped: `TensorFlow.js peer skipped: not installed; to install it: ${INSTALL_TFJS}` };
  }
  if (!(await tf.setBackend(tfBackend))) return { skipped: `TensorFlow.js peer skipped: its ${tfBackend} backend did not start` };
  await tf.ready();
  return { tf, version: String(tf.version?.tfjs ?? tf.version_core ?? '?') };
}

// ------------------------------------------------------------------------------------------------
// The machine
// ------------------------------------------------------------------------------------------------

export interface Machine {
  cpu: string;
  /** Logical CPUs this process may use. */
  cpus: number;
  /** The SIMD level metatask's native kernels chose here, and the levels this CPU supports. */
  simd: string;
  simdAvailable: string[];
  memoryGiB: number;
  os: string;
  node: string;
  metatask: string;
  /** 1-minute load average when the bench started: above the CPU count, figures are noisy. */
  loadAverage: number;
  /**
   * Microseconds per 4 KiB of the first write to memory the system had not yet given the process
   * (firstTouchMicros); absent from results saved before it was measured.
   */
  firstTouchMicros?: number;
  date: string;
}

/**
 * Bytes of each fresh buffer firstTouchMicros writes to, and how many it writes: more than the
 * largest size the C library's allocator serves from memory it keeps (glibc's highest mmap
 * threshold is 32 MiB), so that each is memory the system maps anew, however many buffers the
 * process has freed before.
 */
const FIRST_TOUCH_BYTES = 40 << 20;
const FIRST_TOUCH_BUFFERS = 2;

/**
 * What the first write to fresh memory costs here: microseconds per 4 KiB page, the lower of two
 * fresh 40 MiB buffers with one byte written per page. The system zeroes a page and maps it on that
 * first write (a page fault): typically a microsecond or less on a bare-metal Linux machine, ten
 * times that and more on some virtual machines. Every benchmark pays it for memory a process uses for the
 * first time: the public results of a fit (its coefficients), the JavaScript heap while it grows
 * over a process's first fits or iterations, V8's compiler; so it is part of the machine line.
 */
export function firstTouchMicros(): number {
  let best = Infinity;
  for (let b = 0; b < FIRST_TOUCH_BUFFERS; b++) {
    // An ArrayBuffer this large is memory the system has just mapped (its zeroed contents are the
    // system's, not written by the allocator), until this loop writes to it.
    const bytes = new Uint8Array(new ArrayBuffer(FIRST_TOUCH_BYTES));
    const t0 = performance.now();
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = 1;
    best = Math.min(best, ((performance.now() - t0) * 1000) / (bytes.length / 4096));
  }
  return Math.round(best * 100) / 100;
}

/** The native backend's description (its SIMD levels), leaving the current backend as it was; undefined without the addon. */
function nativeInfo(): BackendInfo | undefined {
  if (!availableBackends().includes('native')) return undefined;
  const before = backend().name;
  const info = setBackend('native');
  setBackend(before);
  return info;
}

export function describeMachine(): Machine {
  const info = nativeInfo();
  const simd = info?.simd ?? 'none (native addon not loaded)';
  const simdAvailable = info?.simdAvailable ?? [];
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: packageRoot(), encoding: 'utf8' });
  return {
    cpu: (cpus()[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim(),
    cpus: availableParallelism(),
    simd,
    simdAvailable,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    metatask: commit.status === 0 ? `${pkg.version} (${commit.stdout.trim()})` : pkg.version,
    loadAverage: Math.round(loadavg()[0]! * 100) / 100,
    firstTouchMicros: firstTouchMicros(),
    date: new Date().toISOString(),
  };
}

/**
 * The level a second set of native rows runs at, capped through METATASK_SIMD, when this CPU has
 * AVX-512: 'avx2', what the same code runs on the many x86-64 CPUs without AVX-512, so that a
 * table shows the lead that does not depend on AVX-512 beside the one that does. Undefined
 * elsewhere (the native rows already run at the best level the CPU has).
 */
export function narrowerSimd(): 'avx2' | undefined {
  const info = nativeInfo();
  return info?.simd === 'avx512' && info.simdAvailable.includes('avx2') ? 'avx2' : undefined;
}

/** The machine's state when the bench started: its load average (`when` follows it) and, where measured, the first-write cost. */
export function conditionsLine(m: Machine, when = ''): string {
  const load = `load average ${m.loadAverage}${when}`;
  return m.firstTouchMicros === undefined ? load : `${load}; a first write to fresh memory ${m.firstTouchMicros} us per 4 KiB`;
}

/** One line: CPU, cores, SIMD, memory, Node, date. */
export function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cpus} CPU${m.cpus === 1 ? '' : 's'}, metatask SIMD ${m.simd}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, ${m.date.slice(0, 10)}`;
}
