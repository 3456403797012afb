/**
 * Load on the example prediction service (examples/serve/): requests per second and latency p50 /
 * p99 on loopback, for batches of 1 and 64 rows, with the models on the event loop and on a
 * WorkerPool of one thread (this machine has 2 cores: the server's event loop, the pool's thread
 * and the load generator share them).
 *
 * - /v1/net/predict: a MultiTaskNet 128 - 256 - 256 - 8 heads, float32, `batch` rows per request.
 * - /v1/meta/predict: MAML (1-40-40-1) adapts to a posted support set of 10 points (1 SGD step),
 *   then predicts `batch` query points.
 *
 * The load generator is autocannon (a well-kept Node HTTP benchmarking tool), an optional peer in
 * bench/peers (never a dependency of metatask): npm install --prefix bench/peers. Each server runs
 * in its own process, so the load generator does not share its event loop. 8 connections, 4 s per
 * row after 1 s of warm-up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { Rng } from '../lib/core/rng.js';
import { backend } from '../lib/kernels/index.js';
import { packageRoot } from '../lib/kernels/native.js';
import { INPUTS, trainModels } from '../examples/serve/models.js';
import { markdownTable, type WorkloadResult } from './run.js';

const CONNECTIONS = 8;
const SECONDS = 4;

interface Row {
  server: string;
  route: string;
  batch: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

type Autocannon = (o: Record<string, unknown>) => Promise<{ requests: { average: number }; latency: { p50: number; p99: number }; errors: number; non2xx: number; timeouts: number }>;

async function loadAutocannon(): Promise<Autocannon | null> {
  try {
    const peers = createRequire(join(packageRoot(), 'bench', 'peers', 'package.json'));
    const mod = (await import(pathToFileURL(peers.resolve('autocannon')).href)) as { default: Autocannon };
    return mod.default;
  } catch {
    return null;
  }
}

/** Start the example service in a child process; resolves to its URL. */
function startServer(models: string, pool: number): Promise<{ url: string; child: ChildProcess }> {
  const main = join(packageRoot(), 'dist', 'examples', 'serve', 'main.js');
  const child = spawn(process.execPath, [main, '--port', '0', '--pool', String(pool), '--models', models], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, METATASK_BACKEND: backend().name },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve({ url: m[1]!, child });
    });
    child.on('exit', (code) => reject(new Error(`the service exited with code ${code} before listening`)));
  });
}

function bodies(batch: number): Record<string, string> {
  const rng = new Rng(batch);
  const num = () => Number(rng.normal().toFixed(4));
  const X = Array.from({ length: batch }, () => Array.from({ length: INPUTS }, num));
  const support = { X: Array.from({ length: 10 }, (_, i) => [-5 + i]), y: Array.from({ length: 10 }, (_, i) => 2 * Math.sin(-5 + i - 0.5)) };
  const q = Array.from({ length: batch }, (_, i) => [-5 + (10 * i) / Math.max(1, batch - 1)]);
  return { '/v1/net/predict': JSON.stringify({ X }), '/v1/meta/predict': JSON.stringify({ support, X: q, steps: 1 }) };
}

export async function run(): Promise<WorkloadResult> {
  const title = 'Prediction service on loopback (examples/serve): requests/s and latency, batch 1 and 64';
  const autocannon = await loadAutocannon();
  if (!autocannon) {
    return { id: 'serve', title, table: '', notes: ['skipped: autocannon is not installed (optional peer: npm install --prefix bench/peers)'], data: { skipped: true } };
  }
  const models = mkdtempSync(join(tmpdir(), 'metatask-serve-bench-'));
  const rows: Row[] = [];
  try {
    await trainModels(models);
    for (const pool of [0, 1]) {
      const { url, child } = await startServer(models, pool);
      try {
        for (const batch of [1, 64]) {
          for (const [route, body] of Object.entries(bodies(batch))) {
            const request = { url: url + route, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: CONNECTIONS };
            await autocannon({ ...request, duration: 1 });
            const r = await autocannon({ ...request, duration: SECONDS });
            rows.push({ server: pool ? `WorkerPool (${pool} thread)` : 'event loop', route, batch, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx + r.timeouts });
          }
        }
      } finally {
        child.kill();
      }
    }
  } finally {
    rmSync(models, { recursive: true, force: true });
  }
  const table = markdownTable(
    ['models on', 'route', 'batch', 'requests/s', 'p50 ms', 'p99 ms', 'errors'],
    rows.map((r) => [r.server, r.route, r.batch, Math.round(r.rps), r.p50.toFixed(1), r.p99.toFixed(1), r.errors]),
  );
  const notes = [
    `backend ${backend().name}; ${CONNECTIONS} connections, ${SECONDS} s per row; server, worker thread and load generator share the machine's cores.`,
    'With the models on the event loop every request waits for the ones before it; on the pool the event loop only parses, routes and answers.',
  ];
  return { id: 'serve', title, table, notes, data: { rows } };
}
