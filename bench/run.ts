/**
 * `npm run bench`: runs the benchmark workloads and prints a table per workload; with --report it
 * writes bench/results/ (a JSON file and an SVG chart per workload, with the machine) and rewrites
 * the Benchmarks section of README.md. See `npm run bench -- --help`.
 *
 * Add a workload: write bench/<file>.ts exporting `run(args): Promise<WorkloadResult>` (helpers in
 * bench/harness.ts; `args` are the command-line options the framework does not know, e.g.
 * `npm run bench -- omniglot-conv --train protonet --minutes 20`) and add one line to WORKLOADS.
 */
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { packageRoot } from '../lib/kernels/native.js';
import { DEFAULT_ROUNDS, conditionsLine, describeMachine, machineLine, type BenchOptions, type WorkloadModule } from './harness.js';
import { saveResult, writeReport, type SavedResult } from './report.js';

// Workload modules imported this module's helpers before they moved to harness.ts.
export { markdownTable, stats, type WorkloadModule, type WorkloadResult } from './harness.js';

export interface WorkloadEntry {
  /** Name on the command line and of the results files. */
  id: string;
  load: () => Promise<WorkloadModule>;
  /** Other names accepted on the command line. */
  aliases?: string[];
  /** Run only when asked for by name (or by its flag). */
  optIn?: boolean;
}

/** The workloads, in run order. */
export const WORKLOADS: WorkloadEntry[] = [
  { id: 'lasso', aliases: ['w1'], load: () => import('./lasso.js') },
  { id: 'convex', load: () => import('./convex.js') },
  { id: 'convex-sampled', aliases: ['sampled'], load: () => import('./convexSampled.js') },
  { id: 'mlp', aliases: ['w2'], load: () => import('./mlp.js') },
  { id: 'maml', aliases: ['w3'], load: () => import('./maml.js') },
  { id: 'omniglot', load: () => import('./omniglot.js') },
  { id: 'eventloop', load: () => import('./eventloop.js') },
  // Opt-in, to keep the default run within about 15 minutes on 2 cores: minutes of training, or
  // deployment figures that need redis-server or autocannon.
  { id: 'omniglot-conv', optIn: true, load: () => import('./omniglotConv.js') },
  { id: 'serve', optIn: true, load: () => import('./serve.js') },
  { id: 'queue', optIn: true, load: () => import('./queue.js') },
  { id: 'metastep', optIn: true, load: () => import('./metastep.js') },
  { id: 'dispatch', optIn: true, load: () => import('./dispatch.js') },
];

const HELP = `Usage: npm run bench -- [options] [workload...]

Runs the benchmarks of metatask against PyTorch, scikit-learn and TensorFlow.js (those installed)
on this machine and prints a table per workload. Every row names its backend, SIMD level and
threads; a ratio compares rows of the same run.

Workloads (default: all but the opt-in ones):
${WORKLOADS.map((w) => `  ${w.id.padEnd(10)}${w.aliases?.length ? ` (also ${w.aliases.join(', ')})` : ''}${w.optIn ? ' opt-in' : ''}`).join('\n')}

Options:
  --report                 write bench/results/<workload>.json and .svg, bench/results/README.md,
                           and the Benchmarks section of README.md
  --out <dir>              write the report there instead (README.md is left alone)
  --quick                  smoke-test sizes (a minute or two); the figures mean nothing
  --no-peers               do not run PyTorch, scikit-learn or TensorFlow.js
  --rounds <n>             fresh processes per configuration, the configurations taking turns
                           (default ${DEFAULT_ROUNDS}; 1 with --quick)
  --compare-march-native   also run 'dispatch': the portable build against one compiled with
                           -march=native, on the lasso, MLP and MAML workloads, same run
  --list                   list the workloads
  --help
Other options go to the workloads that run (e.g. omniglot-conv --train protonet --minutes 20).

Peers, all optional (a missing one is skipped with a line saying how to install it):
  apt-get install python3-torch python3-sklearn
  npm install --prefix bench/peers @tensorflow/tfjs @tensorflow/tfjs-backend-wasm
Environment: METATASK_BENCH_PYTHON (the Python to run the peers with), METATASK_SIMD (cap metatask's
SIMD level, e.g. avx2, to compare with a peer at the same level).`;

interface Cli extends BenchOptions {
  report: boolean;
  out?: string;
  workloads: WorkloadEntry[];
  /** Options for the workloads: from the first option the framework does not know. */
  args: string[];
}

const FLAGS = ['--report', '--out', '--quick', '--no-peers', '--rounds', '--compare-march-native', '--list', '--help'];

function parseArgs(argv: string[]): Cli | string {
  const cli: Cli = { quick: false, peers: true, rounds: 0, report: false, workloads: [], args: [] };
  const named: WorkloadEntry[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return HELP;
    if (a === '--list') return WORKLOADS.map((w) => w.id).join('\n');
    if (a === '--report') cli.report = true;
    else if (a === '--quick') cli.quick = true;
    else if (a === '--no-peers') cli.peers = false;
    else if (a === '--compare-march-native') named.push(WORKLOADS.find((w) => w.id === 'dispatch')!);
    else if (a === '--rounds') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 20) throw new UsageError(`--rounds needs a whole number from 1 to 20, got ${argv[i] ?? 'nothing'}`);
      cli.rounds = n;
    } else if (a === '--out') {
      const dir = argv[++i];
      if (!dir || dir.startsWith('--')) throw new UsageError('--out needs a folder');
      cli.out = dir;
    } else if (cli.args.length || a.startsWith('-')) {
      // A near miss of the framework's own options is a typo, not a workload's option.
      const near = cli.args.length === 0 ? suggest(a, FLAGS) : '';
      if (near) throw new UsageError(`unknown option ${a}${near}`);
      cli.args.push(a);
    } else {
      const w = WORKLOADS.find((x) => x.id === a || x.aliases?.includes(a));
      if (!w) throw new UsageError(`unknown workload '${a}'${suggest(a, WORKLOADS.flatMap((x) => [x.id, ...(x.aliases ?? [])]))}; known: ${WORKLOADS.map((x) => x.id).join(', ')}`);
      named.push(w);
    }
  }
  if (cli.rounds === 0) cli.rounds = cli.quick ? 1 : DEFAULT_ROUNDS;
  if (cli.quick && cli.report && !cli.out) throw new UsageError('--quick figures mean nothing: with --report, give --out <dir> so they stay out of bench/results and README.md');
  const onlyFlags = named.every((w) => w.id === 'dispatch') && !argv.some((a) => a === 'dispatch');
  const defaults = WORKLOADS.filter((w) => !w.optIn);
  const wanted = new Set([...(named.length === 0 || onlyFlags ? defaults : []), ...named]);
  cli.workloads = WORKLOADS.filter((w) => wanted.has(w));
  return cli;
}

class UsageError extends Error {}

/** ", did you mean 'x'?" for the closest candidate within two edits, else ''. */
function suggest(input: string, candidates: string[]): string {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)] as number[]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length]![b.length]!;
  };
  const best = candidates.map((c) => [c, dist(input, c)] as const).sort((a, b) => a[1] - b[1])[0];
  return best && best[1] <= 2 ? `, did you mean '${best[0]}'?` : '';
}

async function main(): Promise<void> {
  let cli: Cli | string;
  try {
    cli = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`bench: ${err.message} (npm run bench -- --help)`);
    process.exitCode = 2;
    return;
  }
  if (typeof cli === 'string') {
    console.log(cli);
    return;
  }
  // Children (one process per configuration) read the options from the environment.
  process.env.METATASK_BENCH_QUICK = cli.quick ? '1' : '0';
  process.env.METATASK_BENCH_PEERS = cli.peers ? '1' : '0';
  process.env.METATASK_BENCH_ROUNDS = String(cli.rounds);
  if (!existsSync(join(packageRoot(), 'dist', 'bench', 'child.js'))) throw new Error('bench: run it through `npm run bench` (dist/bench is not built)');

  const root = packageRoot();
  const outDir = cli.out ? resolve(cli.out) : join(root, 'bench', 'results');
  const machine = describeMachine();
  console.log(`metatask benchmarks on ${machineLine(machine)}; ${conditionsLine(machine)}${cli.quick ? '; --quick: smoke-test sizes, the figures mean nothing' : ''}`);
  if (machine.loadAverage > machine.cpus * 0.5) console.log(`(the machine is busy: load average ${machine.loadAverage} on ${machine.cpus} CPUs; figures will be noisy)`);
  let failed = 0;
  const started = performance.now();
  for (const w of cli.workloads) {
    const t0 = performance.now();
    try {
      const mod = await w.load();
      const r = await mod.run(cli.args);
      const seconds = (performance.now() - t0) / 1000;
      console.log(`\n## ${r.title}\n\n${r.table}\n`);
      for (const n of r.notes) console.log(`- ${n}`);
      console.log(`\n(${w.id}: ${seconds.toFixed(0)} s)`);
      if (cli.report) {
        const saved: SavedResult = { ...r, id: w.id, machine, quick: cli.quick, seconds };
        saveResult(outDir, saved);
      }
    } catch (err) {
      failed++;
      console.error(`bench ${w.id} failed: ${err instanceof Error ? err.stack : String(err)}`);
    }
  }
  if (cli.report) {
    const readme = cli.out ? undefined : { file: join(root, 'README.md'), imageDir: relative(root, outDir) };
    writeReport(outDir, WORKLOADS.map((w) => w.id), readme);
    console.log(`\nreport: ${outDir}${readme ? ' and the Benchmarks section of README.md' : ''}`);
  }
  console.log(`\nbench: ${((performance.now() - started) / 1000 / 60).toFixed(1)} min`);
  if (failed) process.exitCode = 1;
}

// Run only as the entry point (modules may import the helpers above). No top-level await: a
// workload module importing this one would wait for it forever.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
