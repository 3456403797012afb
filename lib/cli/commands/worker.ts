/**
 * `metatask worker --redis URL --queue NAME`: a queue worker process (lib/distributed/worker.ts)
 * that runs the jobs crossValidate and fitMany send to the queue until SIGINT or SIGTERM, then
 * finishes its running jobs and exits. It logs each job's start and end for a person on stderr,
 * or one JSON object per line on stdout with --json.
 */
import { backend, setThreads } from '../../kernels/index.js';
import { runWorker } from '../../distributed/worker.js';
import { numberOption, Output, positionals, stringOption, UsageError, type Command } from '../command.js';

export const worker: Command = {
  name: 'worker',
  summary: 'run the jobs of a queue on Redis (crossValidate and fitMany with { queue })',
  usage: 'metatask worker --redis <url> --queue <name> [options]',
  description: `Takes the jobs that crossValidate and fitMany submit to the queue <name> on the Redis server <url>
and runs them, on the backend of whoever submitted them. Run one per machine, or one per core
with --threads 1; add as many as you like, on any machines that reach the Redis server. A job
whose worker dies is run again by another once its lock lapses (--lock-ms). Needs the optional
package bullmq (npm install bullmq). SIGINT or SIGTERM stop it after its running jobs.`,
  options: {
    redis: { type: 'string', value: '<url>', description: 'the Redis server: redis://[user:password@]host[:port][/db], rediss:// for TLS' },
    queue: { type: 'string', value: '<name>', description: 'the queue to take jobs from' },
    concurrency: { type: 'string', value: '<n>', description: 'jobs at once in this process (default 1)' },
    threads: { type: 'string', value: '<n>', description: 'threads of the native kernels (default: the cores)' },
    'lock-ms': { type: 'string', value: '<ms>', description: "how long a dead worker's job stays locked before another takes it (default 30000)" },
  },
  examples: ['metatask worker --redis redis://127.0.0.1:6379 --queue models', 'metatask worker --redis redis://redis.internal:6379 --queue models --threads 1 --json'],
  async run(args, io) {
    positionals(args, []);
    const out = new Output(io, args);
    const redis = stringOption(args, 'redis');
    const queue = stringOption(args, 'queue');
    if (redis === undefined || queue === undefined) throw new UsageError('--redis and --queue are required');
    const concurrency = numberOption(args, 'concurrency', { integer: true, min: 1 });
    const threads = numberOption(args, 'threads', { integer: true, min: 1, max: 256 });
    const lock = numberOption(args, 'lock-ms', { integer: true, min: 500 });
    if (threads !== undefined) setThreads(threads);
    const running = await runWorker({
      redis,
      queue,
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(lock !== undefined ? { lockDurationMs: lock } : {}),
      onJob: (j) => {
        if (out.json) io.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...j })}\n`);
        else out.note(`${new Date().toISOString()} ${j.event} ${j.label}${j.attempt ? ` (try ${j.attempt + 1})` : ''}${j.ms !== undefined ? ` (${Math.round(j.ms)} ms)` : ''}${j.error ? `: ${j.error}` : ''}`);
      },
    });
    const b = backend();
    out.note(`metatask worker: queue '${queue}' on ${redis.replace(/\/\/[^@/]*@/, '//***@')}, backend ${b.name} (${b.threads} threads), pid ${process.pid}; waiting for jobs`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        out.note('metatask worker: stopping after the running jobs');
        void running.close().then(resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
