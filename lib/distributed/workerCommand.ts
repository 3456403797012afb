/**
 * `metatask worker --redis redis://host:6379 --queue NAME [--concurrency N] [--threads N] [--lock-ms MS]`:
 * a queue worker process (lib/distributed/worker.ts) that runs until SIGINT or SIGTERM, then
 * finishes its running jobs and exits.
 */
import { parseArgs } from 'node:util';

import { backend, setThreads } from '../kernels/index.js';
import { runWorker } from './worker.js';

export const workerUsage = `usage: metatask worker --redis redis://host:6379 --queue NAME [--concurrency N] [--threads N] [--lock-ms MS]

Runs the jobs that crossValidate and fitMany submit to the queue NAME (with { queue }).
  --redis        the Redis server (redis://[user:password@]host[:port][/db], rediss:// for TLS)
  --queue        the queue's name
  --concurrency  jobs at once in this process (default 1)
  --threads      threads of the native kernels (default: the cores; 1 when several workers share a machine)
  --lock-ms      how long a job of a worker that died stays locked before another worker takes it (default 30000)
Needs the optional package bullmq (npm install bullmq). Stops on SIGINT or SIGTERM after its running jobs.`;

export async function workerCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { redis: { type: 'string' }, queue: { type: 'string' }, concurrency: { type: 'string' }, threads: { type: 'string' }, 'lock-ms': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    console.error(`metatask worker: ${(err as Error).message}\n${workerUsage}`);
    return 2;
  }
  if (values.help) {
    console.log(workerUsage);
    return 0;
  }
  if (typeof values.redis !== 'string' || typeof values.queue !== 'string') {
    console.error(`metatask worker: --redis and --queue are required\n${workerUsage}`);
    return 2;
  }
  const int = (v: unknown, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${String(v)}`);
    return n;
  };
  try {
    const concurrency = int(values.concurrency, 'concurrency');
    const lock = int(values['lock-ms'], 'lock-ms');
    const threads = int(values.threads, 'threads');
    if (threads) setThreads(threads);
    const worker = await runWorker({
      redis: values.redis,
      queue: values.queue,
      ...(concurrency ? { concurrency } : {}),
      ...(lock ? { lockDurationMs: lock } : {}),
      onJob: (j) =>
        console.log(`${new Date().toISOString()} ${j.event} ${j.label}${j.attempt ? ` (try ${j.attempt + 1})` : ''}${j.ms !== undefined ? ` (${Math.round(j.ms)} ms)` : ''}${j.error ? `: ${j.error}` : ''}`),
    });
    console.log(`metatask worker: queue '${values.queue}' on ${values.redis.replace(/\/\/[^@/]*@/, '//***@')}, backend ${backend().name} (${backend().threads} threads), pid ${process.pid}; waiting for jobs`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        console.log('metatask worker: stopping after the running jobs');
        void worker.close().then(resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  } catch (err) {
    console.error(`metatask worker: ${(err as Error).message}`);
    return 1;
  }
}
