/**
 * `npm run bench`: runs the workloads of shared/BENCH.md and writes bench/results/<id>.json plus a
 * Markdown table per workload (ratios measured in the same run). Add a workload by writing
 * bench/<id>.ts that exports `run(): Promise<WorkloadResult>` and adding one line to WORKLOADS.
 * Usage: node dist/bench/run.js [ids...] [--option value ...]   (default: all workloads)
 * Options after the ids go to every workload that runs (each documents its own; e.g.
 * `node dist/bench/run.js omniglot-conv --train protonet --minutes 20`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { packageRoot } from '../lib/kernels/native.js';

/** What a workload module returns. */
export interface WorkloadResult {
  /** Short id, also the results file name (bench/results/<id>.json). */
  id: string;
  title: string;
  /** A Markdown table (with ratios) to print. */
  table: string;
  /** Lines printed under the table (skipped peers, quality notes). */
  notes: string[];
  /** JSON-able details written to the results file. */
  data: unknown;
  /** Further files written beside it (bench/results/<name>), e.g. a chart. */
  files?: { name: string; content: string }[];
}

export interface WorkloadModule {
  /** `args`: the command-line options after the workload ids. */
  run(args: string[]): Promise<WorkloadResult>;
}

/** The workloads, in run order: id and how to load its module. */
export const WORKLOADS: { id: string; load: () => Promise<WorkloadModule> }[] = [
  { id: 'w1', load: () => import('./w1.js') },
  { id: 'convex', load: () => import('./convex.js') },
  { id: 'w2', load: () => import('./w2.js') },
  { id: 'w3', load: () => import('./w3.js') },
  { id: 'omniglot', load: () => import('./omniglot.js') },
  { id: 'omniglot-conv', load: () => import('./omniglotConv.js') },
  { id: 'eventloop', load: () => import('./eventloop.js') },
  { id: 'serve', load: () => import('./serve.js') },
  { id: 'queue', load: () => import('./queue.js') },
  { id: 'metastep', load: () => import('./metastep.js') },
];

/** Median, min and max of a list of seconds. */
export function stats(xs: readonly number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median: m, min: s[0]!, max: s[s.length - 1]! };
}

/** A Markdown table from a header and rows. */
export function markdownTable(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]): string => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const firstOption = argv.findIndex((a) => a.startsWith('--'));
  const wanted = firstOption < 0 ? argv : argv.slice(0, firstOption);
  const options = firstOption < 0 ? [] : argv.slice(firstOption);
  const unknown = wanted.filter((w) => !WORKLOADS.some((x) => x.id === w));
  if (unknown.length) {
    console.error(`bench: unknown workload(s) ${unknown.join(', ')}; known: ${WORKLOADS.map((w) => w.id).join(', ')}`);
    process.exit(2);
  }
  const outDir = join(packageRoot(), 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  let failed = 0;
  for (const w of WORKLOADS) {
    if (wanted.length && !wanted.includes(w.id)) continue;
    try {
      const mod = await w.load();
      const r = await mod.run(options);
      const file = join(outDir, `${r.id}.json`);
      writeFileSync(file, JSON.stringify({ id: r.id, title: r.title, date: new Date().toISOString(), ...(r.data as object) }, null, 2) + '\n');
      console.log(`\n## ${r.title}\n\n${r.table}\n`);
      for (const n of r.notes) console.log(`- ${n}`);
      for (const f of r.files ?? []) {
        const path = join(outDir, f.name);
        writeFileSync(path, f.content);
        console.log(`- ${f.name}: ${path}`);
      }
      console.log(`\n(results: ${file})`);
    } catch (err) {
      failed++;
      console.error(`bench ${w.id} failed: ${err instanceof Error ? err.stack : String(err)}`);
    }
  }
  if (failed) process.exitCode = 1;
}

// Run only as the entry point (workload modules import the helpers above). No top-level await:
// the workload modules import this one, and awaiting here would make that import wait forever.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
