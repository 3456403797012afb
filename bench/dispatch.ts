/**
 * What the portable build costs: the addon as installed (only its SIMD-level units compiled above
 * the baseline, the level chosen at load) against one built for this CPU alone with -march=native
 * on every unit (METATASK_MARCH_NATIVE=1, scripts/native-flags.cjs), on the multi-task lasso, MLP
 * and MAML workloads, in the same run.
 *
 * The -march=native addon is built once into build/march-native/ (never over build/Release) and
 * rebuilt when the native sources change. Each measurement is a fresh process, the -march=native
 * ones loading that addon through METATASK_ADDON; the two builds alternate (A B B A A B) so that a
 * drift in the machine's load falls on both. One thread each, so that only the code differs.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';

import type { Matrix } from '../lib/core/matrix.js';
import { availableBackends, nativeStatus } from '../lib/kernels/index.js';
import { packageRoot } from '../lib/kernels/native.js';
import { MultiTaskLasso } from '../lib/linear/multiTaskElasticNet.js';
import {
  benchOptions, chartPanel, inChild, markdownTable, progress, speedTable, stats, useMetatask, type Metric, type Row,
  type WorkloadResult,
} from './harness.js';

export const title = 'Portable build (SIMD level chosen at load) against a -march=native build';

const BUILD_DIR = () => join(packageRoot(), 'build', 'march-native');
const ADDON = () => join(BUILD_DIR(), 'build', 'Release', 'metatask.node');

// ------------------------------------------------------------------------------------------------
// The -march=native addon
// ------------------------------------------------------------------------------------------------

/** A hash of what the native build reads: its sources, build files, flags script and Node version. */
function sourceStamp(): string {
  const root = packageRoot();
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) h.update(relative(root, p)).update(readFileSync(p));
    }
  };
  walk(join(root, 'native'));
  for (const f of ['binding.gyp', join('scripts', 'native-flags.cjs')]) h.update(f).update(readFileSync(join(root, f)));
  return h.update(process.version).digest('hex');
}

/** node-gyp: npm's own (as the install script uses it), or one on the PATH. */
function nodeGyp(): string[] | null {
  const candidates = [process.env.npm_config_node_gyp, join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  for (const c of candidates) if (c && existsSync(c)) return [process.execPath, c];
  return spawnSync('node-gyp', ['--version'], { stdio: 'ignore' }).status === 0 ? ['node-gyp'] : null;
}

/**
 * Build (or reuse) the -march=native addon in build/march-native: a folder whose binding.gyp is a
 * copy of the package's and whose native/, scripts/ and node_modules/ link to the package's, so
 * node-gyp writes its build/ there. Returns the addon file, or why there is none.
 */
export function buildMarchNative(): { file: string } | { skipped: string } {
  const root = packageRoot();
  const dir = BUILD_DIR();
  const stampFile = join(dir, 'sources.sha256');
  const stamp = sourceStamp();
  if (existsSync(ADDON()) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return { file: ADDON() };
  const gyp = nodeGyp();
  if (!gyp) return { skipped: 'the -march=native comparison needs node-gyp (run it through npm run bench, which provides npm\'s own)' };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(root, 'binding.gyp'), join(dir, 'binding.gyp'));
  for (const d of ['native', 'scripts', 'node_modules']) symlinkSync(join(root, d), join(dir, d), 'dir');
  progress(`building the -march=native addon into ${relative(root, dir)} (a few minutes, once; log in ${relative(root, join(dir, 'build.log'))})`);
  const log = openSync(join(dir, 'build.log'), 'w');
  const jobs = String(Math.max(1, cpus().length));
  // The headers of the running Node: npm passes them (npm_config_nodedir); run directly, take the
  // ones installed beside the node binary, so that node-gyp never tries to download them.
  const prefix = join(dirname(process.execPath), '..');
  const nodedir = process.env.npm_config_nodedir ?? (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
  const r = spawnSync(gyp[0]!, [...gyp.slice(1), 'rebuild', `--jobs=${jobs}`, ...(nodedir ? [`--nodedir=${nodedir}`] : [])], {
    cwd: dir,
    env: { ...process.env, METATASK_MARCH_NATIVE: '1' },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  if (r.status !== 0 || !existsSync(ADDON())) return { skipped: `the -march=native build failed (exit ${r.status}); see ${join(dir, 'build.log')}` };
  writeFileSync(stampFile, stamp);
  return { file: ADDON() };
}

// ------------------------------------------------------------------------------------------------
// Probes (child processes)
// ------------------------------------------------------------------------------------------------

/** The addon file this process loaded, relative to the package. */
function loadedAddon(): string {
  const path = nativeStatus().path;
  return path ? relative(packageRoot(), path) : '(none)';
}

const LASSO = { alpha: 0.6093889149314188, optimum: 124.869862908929, tol: 1e-8 };

function readF64(path: string): Float64Array {
  const b = readFileSync(path);
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Child process: the multi-task lasso (2000 x 1000, 20 tasks) fitted `runs` times after a cold fit. */
export async function lasso(job: { runs: number }): Promise<Row & { addon: string }> {
  const row = useMetatask('native', 1);
  const dir = join(packageRoot(), '..', 'shared', 'data', 'w1');
  const X: Matrix<Float64Array> = { rows: 2000, cols: 1000, data: readF64(join(dir, 'X.f64')) };
  const Y: Matrix<Float64Array> = { rows: 2000, cols: 20, data: readF64(join(dir, 'Y.f64')) };
  const times: number[] = [];
  let m: MultiTaskLasso | undefined;
  for (let r = 0; r <= job.runs; r++) {
    const t0 = performance.now();
    m = new MultiTaskLasso({ alpha: LASSO.alpha, fitIntercept: false, tol: LASSO.tol }).fitSync(X, Y);
    times.push((performance.now() - t0) / 1000);
  }
  const P = m!.predict(X);
  let rss = 0;
  for (let i = 0; i < P.data.length; i++) rss += (Y.data[i]! - P.data[i]!) ** 2;
  const { rows: T, cols: d, data: c } = m!.coef;
  let l21 = 0;
  for (let j = 0; j < d; j++) {
    let s = 0;
    for (let t = 0; t < T; t++) s += c[t * d + j]! ** 2;
    l21 += Math.sqrt(s);
  }
  const objective = rss / (2 * X.rows) + LASSO.alpha * l21;
  return { ...row, cold: times[0], values: times.slice(1), quality: { 'objective rel. error': Math.abs(objective - LASSO.optimum) / LASSO.optimum }, addon: loadedAddon() };
}

/** Child process: the MLP probe, and which addon file served it. */
export async function mlp(job: { epochs: number; steps: number }): Promise<Row & { addon: string }> {
  const mlp = await import('./mlp.js');
  const row = await mlp.metatask({ ...job, backend: 'native', threads: 1 });
  return { ...row, addon: loadedAddon() };
}

/** Child process: the MAML probe, and which addon file served it. */
export async function maml(job: { iterations: number; runs: number }): Promise<Row & { addon: string }> {
  const maml = await import('./maml.js');
  const row = await maml.metatask({ ...job, order: 'second', backend: 'native', threads: 1 });
  return { ...row, addon: loadedAddon() };
}

// ------------------------------------------------------------------------------------------------
// The comparison
// ------------------------------------------------------------------------------------------------

interface Probe {
  name: string;
  fn: 'lasso' | 'mlp' | 'maml';
  metric: Metric;
  job: object;
  available: () => boolean;
}

function probes(quick: boolean): Probe[] {
  const data = (d: string, f: string) => () => existsSync(join(packageRoot(), '..', 'shared', 'data', d, f));
  return [
    {
      name: 'multi-task lasso (2000 x 1000, 20 tasks), time of a fit',
      fn: 'lasso',
      metric: { name: 'fit time', unit: 's', better: 'lower', cold: 'first fit' },
      job: { runs: quick ? 1 : 5 },
      available: data('w1', 'X.f64'),
    },
    {
      name: 'multi-task MLP (128-256-256 + 8 heads, batch 128)',
      fn: 'mlp',
      metric: { name: 'training samples/s', unit: 'samples/s', better: 'higher', cold: 'first epoch' },
      job: quick ? { epochs: 2, steps: 8 } : { epochs: 4, steps: 256 },
      available: data('w2', 'X_train.f32'),
    },
    {
      name: 'MAML sinusoid, second order (25 tasks)',
      fn: 'maml',
      metric: { name: 'meta-iterations/s', unit: 'it/s', better: 'higher', cold: 'first 20 iterations' },
      job: quick ? { iterations: 10, runs: 1 } : { iterations: 200, runs: 3 },
      available: () => true,
    },
  ];
}

export async function run(): Promise<WorkloadResult> {
  const options = benchOptions();
  const skip = (why: string): WorkloadResult => ({ id: 'dispatch', title, table: '(skipped)', notes: [why], data: { skipped: why } });
  if (!availableBackends().includes('native')) return skip('skipped: the native addon is not built or did not load (npx metatask info says why)');
  const built = buildMarchNative();
  if ('skipped' in built) return skip(built.skipped);

  const dispatchedName = 'metatask, portable build';
  const nativeName = 'metatask, -march=native build';
  // A B B A A B: each build as often first as second.
  const order: ('portable' | 'native')[] = options.quick ? ['portable', 'native'] : ['portable', 'native', 'native', 'portable', 'portable', 'native'];
  const sections: string[] = [];
  const summary: (string | number)[][] = [];
  const panels = [];
  const addons = new Set<string>();
  const data: unknown[] = [];
  for (const p of probes(options.quick)) {
    if (!p.available()) {
      summary.push([p.name, '-', '-', 'skipped: no data']);
      continue;
    }
    const runs: Record<'portable' | 'native', (Row & { addon: string })[]> = { portable: [], native: [] };
    try {
      for (const side of order) {
        progress(`${p.name}: ${side === 'native' ? '-march=native' : 'portable'} build`);
        runs[side].push(inChild<Row & { addon: string }>('dispatch', p.fn, p.job, side === 'native' ? { METATASK_ADDON: built.file } : {}));
      }
    } catch (err) {
      summary.push([p.name, '-', '-', `failed: ${(err as Error).message}`]);
      continue;
    }
    // Pool each build's warm values; its cold figure is the median of its processes' first ones.
    const pool = (side: 'portable' | 'native', impl: string): Row => {
      const rs = runs[side];
      for (const r of rs) addons.add(`${impl}: ${r.addon}`);
      return { ...rs[0]!, impl, values: rs.flatMap((r) => r.values ?? []), cold: stats(rs.map((r) => r.cold!)).median, coresBusy: undefined };
    };
    const rows = [pool('portable', dispatchedName), pool('native', nativeName)];
    const nativeRow = rows[1]!;
    sections.push(`${p.name}:\n\n${speedTable(p.metric, rows, { ratios: [{ header: 'vs -march=native', baseline: () => nativeRow }], quality: p.fn === 'lasso' ? ['objective rel. error'] : [] })}`);
    const [a, b] = rows.map((r) => stats(r.values!).median) as [number, number];
    // Time of the portable build over time of the -march=native one.
    const timeRatio = p.metric.better === 'lower' ? a / b : b / a;
    summary.push([p.name, timeRatio.toFixed(3), `${((timeRatio - 1) * 100).toFixed(1)} %`, timeRatio <= 1.05 ? 'yes' : 'NO']);
    panels.push(chartPanel(p.name, p.metric, rows));
    data.push({ probe: p.name, job: p.job, rows, runs, timeRatio });
  }
  const table = [
    markdownTable(['workload', 'time portable / time -march=native', 'portable slower by', 'within 5 %'], summary),
    ...sections,
  ].join('\n\n');
  const notes = [
    `${order.length / 2} fresh process${order.length === 2 ? '' : 'es'} per build and workload, alternating ${order.map((s) => (s === 'native' ? 'N' : 'P')).join(' ')}; warm values pooled per build, median (min-max); 1 thread each`,
    `addon files loaded by the processes: ${[...addons].join('; ')}`,
  ];
  return {
    id: 'dispatch',
    title,
    table,
    notes,
    data: { order, probes: data },
    charts: [{ title, panels }],
  };
}
