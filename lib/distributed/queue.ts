/**
 * The submitting side of the job queue (BullMQ over Redis): `connectQueue({ redis, name })` gives
 * a JobQueue that crossValidate and fitMany (lib/distributed/fanout.ts) send their jobs to; any
 * number of `metatask worker` processes on any machines that reach the Redis server run them
 * (lib/distributed/worker.ts).
 *
 * Delivery: every job has an id of its run and index; results are gathered by index, so a job that
 * ran twice (its worker was killed after it started, and BullMQ gave it to another worker) counts
 * once and none is missing. A job that fails with the library's error (bad input) fails at once,
 * with that error, typed, on the submitter's side; any other failure is retried (`attempts`).
 */
import { randomUUID } from 'node:crypto';

import { abortError } from '../core/async.js';
import { ConfigError, reviveError, WorkerError, type SerializedError } from '../core/errors.js';
import { num, parseOptions, custom } from '../core/options.js';
import { decodeValue } from '../io/format.js';
import type { CallResult } from '../parallel/protocol.js';
import { connectionOf, loadBullMQ, type BullQueue, type BullQueueEvents } from './bullmq.js';

export interface QueueOptions {
  /** The Redis server: redis://[user:password@]host[:port][/db] (rediss:// for TLS). */
  redis: string;
  /** The queue's name (workers started with --queue NAME take its jobs). */
  name: string;
  /** Largest job, in bytes of JSON; larger data must travel by reference (saveData). Default 1 MiB. */
  inlineLimit?: number;
  /** Tries of a job that fails for another reason than the library's errors. Default 3. */
  attempts?: number;
  /** Redis key prefix of BullMQ's keys. Default 'bull'. */
  prefix?: string;
}

/** A job as it is queued (JSON): the model, the calls on it, what to return. */
export interface QueuedJob {
  /** Names the job in BullMQ's tools ("MAML.fit", "MultiTaskLasso fold 3"). */
  label: string;
  /** The submitter's backend: the worker computes on the same one. */
  backend: 'native' | 'js';
  model: unknown;
  calls: unknown;
  returnModel: boolean;
}

/** A failed job's reason when it is one of the library's errors (a worker writes it so). */
export const ERROR_PREFIX = 'metatask-error:';

export class JobQueue {
  readonly name: string;
  private readonly inlineLimit: number;
  private readonly attempts: number;

  private constructor(
    options: Required<Omit<QueueOptions, 'prefix' | 'redis'>>,
    private readonly queue: BullQueue,
    private readonly events: BullQueueEvents,
  ) {
    this.name = options.name;
    this.inlineLimit = options.inlineLimit;
    this.attempts = options.attempts;
  }

  /** Connect to the queue `name` on the Redis server `redis` (needs the optional package bullmq). */
  static async connect(options: QueueOptions): Promise<JobQueue> {
    const o = parseOptions<Required<QueueOptions>>('connectQueue', options, {
      redis: custom<string>('a redis:// URL', (v) => typeof v === 'string'),
      name: custom<string>('a queue name (a non-empty string without ":")', (v) => typeof v === 'string' && v.length > 0 && !v.includes(':')),
      inlineLimit: num({ integer: true, min: 1024, default: 1024 * 1024 }),
      attempts: num({ integer: true, min: 1, default: 3 }),
      prefix: custom<string>('a string', (v) => typeof v === 'string' && v.length > 0, 'bull'),
    });
    if (o.redis === undefined || o.name === undefined) throw new ConfigError(`connectQueue: options 'redis' (a redis:// URL) and 'name' are required`);
    const { Queue, QueueEvents } = await loadBullMQ();
    const connection = connectionOf(o.redis);
    const queue = new Queue(o.name, { connection, prefix: o.prefix });
    const events = new QueueEvents(o.name, { connection, prefix: o.prefix });
    // Each job waited for listens on both until it finishes: a run of many jobs is not a leak.
    queue.setMaxListeners(0);
    events.setMaxListeners(0);
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return new JobQueue({ name: o.name, inlineLimit: o.inlineLimit, attempts: o.attempts }, queue, events);
  }

  /**
   * Queue `jobs` and resolve to their results, in order. `onDone(i)` is called as each job
   * completes; the signal rejects with an AbortError (jobs not started yet are removed).
   */
  async run(jobs: QueuedJob[], hooks: { onDone?: (index: number) => void; signal?: AbortSignal } = {}): Promise<CallResult[]> {
    if (hooks.signal?.aborted) throw abortError(hooks.signal.reason);
    const run = randomUUID();
    const entries = jobs.map((job, i) => {
      const bytes = Buffer.byteLength(JSON.stringify(job));
      if (bytes > this.inlineLimit) {
        throw new ConfigError(
          `${job.label}: the job is ${(bytes / 1048576).toFixed(1)} MiB of JSON, over the queue's inlineLimit of ${(this.inlineLimit / 1048576).toFixed(1)} MiB. ` +
            `Save the data where the workers can read it (const ref = await saveData(path, data)) and pass ref instead of the data, or raise inlineLimit`,
        );
      }
      return {
        name: job.label,
        data: job,
        opts: { jobId: `${run}-${i}`, attempts: this.attempts, backoff: { type: 'fixed', delay: 200 }, removeOnComplete: { age: 3600 }, removeOnFail: { age: 86400 } },
      };
    });
    const added = await this.queue.addBulk(entries);
    const results = new Array<CallResult | undefined>(jobs.length);
    const waits = added.map((job, i) =>
      job.waitUntilFinished(this.events).then(
        (value) => {
          results[i] ??= decodeValue(value) as CallResult;
          hooks.onDone?.(i);
        },
        (err: unknown) => {
          throw failure(err, jobs[i]!.label);
        },
      ),
    );
    const all = Promise.all(waits);
    if (hooks.signal) {
      const signal = hooks.signal;
      const aborted = new Promise<never>((_, reject) => {
        signal.addEventListener('abort', () => reject(abortError(signal.reason)), { once: true });
      });
      try {
        await Promise.race([all, aborted]);
      } catch (err) {
        all.catch(() => undefined);
        await Promise.all(added.map((j) => j.remove().catch(() => undefined)));
        throw err;
      }
    } else await all;
    return results as CallResult[];
  }

  async close(): Promise<void> {
    await Promise.all([this.queue.close(), this.events.close()]);
  }
}

/** The submitter's error for a failed job: the library's own, typed, or a plain one naming the job. */
function failure(err: unknown, label: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  if (message.startsWith(ERROR_PREFIX)) {
    try {
      return reviveError(JSON.parse(message.slice(ERROR_PREFIX.length)) as SerializedError, `in a queue worker, running ${label}`);
    } catch {
      // fall through: not one of ours after all
    }
  }
  return new WorkerError(`${label}: the job failed in the queue worker: ${message}`, { cause: err });
}

/** Connect to a job queue (see JobQueue). */
export function connectQueue(options: QueueOptions): Promise<JobQueue> {
  return JobQueue.connect(options);
}
