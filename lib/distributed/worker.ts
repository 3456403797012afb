/**
 * A queue worker: takes the jobs of a BullMQ queue (lib/distributed/queue.ts) and runs them with
 * the same executor as a WorkerPool thread (lib/parallel/execute.ts), on the backend the submitter
 * used. `metatask worker --redis URL --queue NAME` runs one (lib/distributed/workerCommand.ts).
 *
 * A job whose input is bad fails at once (no retry) with the library's error, which the submitter
 * receives typed; any other error is retried by BullMQ. A worker killed mid-job leaves its job
 * locked until the lock lapses (`lockDurationMs`); another worker then takes it again.
 */
import { abortError } from '../core/async.js';
import { MetataskError, serializeError } from '../core/errors.js';
import { custom, num, parseOptions } from '../core/options.js';
import { SNAPSHOT, type ModelSnapshot } from '../core/portable.js';
import { backend, setBackend } from '../kernels/index.js';
import { executeCalls, rebuildModel } from '../parallel/execute.js';
import type { RemoteCall } from '../parallel/protocol.js';
import { unpack } from '../parallel/transfer.js';
import { connectionOf, loadBullMQ, type BullJob, type BullWorker } from './bullmq.js';
import { foldArgs, type Family } from './folds.js';
import { decodePayload, encodePayload } from './payload.js';
import { ERROR_PREFIX, type QueuedJob } from './queue.js';
import { classRegistry } from './registry.js';

export interface WorkerOptions {
  /** The Redis server: redis://host:6379. */
  redis: string;
  /** The queue to take jobs from. */
  queue: string;
  /** Jobs run at once by this process. Default 1 (a job's kernels use the process's threads). */
  concurrency?: number;
  /** How long a job stays locked to a worker that stopped answering (killed) before another takes it. Default 30,000 ms. */
  lockDurationMs?: number;
  /** Redis key prefix of BullMQ's keys. Default 'bull'. */
  prefix?: string;
  /** Called when a job starts and when it ends, with its label and outcome (the CLI logs it). */
  onJob?: (info: JobEvent) => void;
}

export interface JobEvent {
  event: 'start' | 'done' | 'failed';
  label: string;
  /** Starts before this one (a job another worker left behind, or that failed before, has at least 1). */
  attempt: number;
  /** Milliseconds the job took (done, failed). */
  ms?: number;
  error?: string;
}

export interface QueueWorker {
  /** Jobs finished by this worker (completed or failed). */
  readonly processed: number;
  /** Stop taking jobs; wait for the running ones (force: drop them; BullMQ gives them to another worker). */
  close(force?: boolean): Promise<void>;
}

/** The marker of a CV fold's arguments (resolved here, from the job's data, by lib/distributed/folds.ts). */
export interface FoldMarker {
  $metatask: 'fold';
  family: Family;
  data: unknown;
  ids: Int32Array;
  owner: string;
}

function resolveFold(args: unknown): unknown[] {
  const m = args as Partial<FoldMarker> | null;
  if (m && typeof m === 'object' && !Array.isArray(m) && m.$metatask === 'fold') return foldArgs(m.family!, m.data, m.ids!, m.owner!);
  return args as unknown[];
}

/** Run one queued job: the calls' values, the new states of stateful arguments, the model when asked. */
async function runJob(job: QueuedJob, signal: AbortSignal): Promise<unknown> {
  const registry = classRegistry();
  if (backend().name !== job.backend) setBackend(job.backend);
  const snapshot = unpack(await decodePayload(job.model), registry.portables).value as ModelSnapshot;
  const model = rebuildModel(registry, snapshot);
  const calls = (await decodePayload(job.calls)) as RemoteCall[];
  const { values, states } = await executeCalls(registry, model, calls, { signal, resolveArgs: resolveFold });
  return encodePayload({ ...(job.returnModel ? { snapshot: model[SNAPSHOT]('train') } : {}), values, states }, 'the job result');
}

/** Start a queue worker in this process (see the module comment). */
export async function runWorker(options: WorkerOptions): Promise<QueueWorker> {
  const o = parseOptions<Required<WorkerOptions>>('runWorker', options, {
    redis: custom<string>('a redis:// URL', (v) => typeof v === 'string'),
    queue: custom<string>('a queue name', (v) => typeof v === 'string' && v.length > 0),
    concurrency: num({ integer: true, min: 1, default: 1 }),
    lockDurationMs: num({ integer: true, min: 500, default: 30_000 }),
    prefix: custom<string>('a string', (v) => typeof v === 'string' && v.length > 0, 'bull'),
    onJob: custom('a function', (v) => typeof v === 'function'),
  });
  const { Worker, UnrecoverableError } = await loadBullMQ();
  const closing = new AbortController();
  let processed = 0;
  const processor = async (job: BullJob): Promise<unknown> => {
    const data = job.data as QueuedJob;
    const t0 = performance.now();
    const attempt = Math.max(job.attemptsMade, (job.attemptsStarted ?? 1) - 1);
    o.onJob?.({ event: 'start', label: data.label, attempt });
    try {
      if (closing.signal.aborted) throw abortError(closing.signal.reason);
      const result = await runJob(data, closing.signal);
      o.onJob?.({ event: 'done', label: data.label, attempt, ms: performance.now() - t0 });
      return result;
    } catch (err) {
      o.onJob?.({ event: 'failed', label: data.label, attempt, ms: performance.now() - t0, error: (err as Error).message });
      // The library's errors say the input is wrong: trying again elsewhere cannot help. A
      // shutdown (AbortError from closing) is not the job's fault: let BullMQ retry it.
      if (err instanceof MetataskError && !closing.signal.aborted) throw new UnrecoverableError(ERROR_PREFIX + JSON.stringify(serializeError(err)));
      throw err;
    } finally {
      processed++;
    }
  };
  const worker: BullWorker = new Worker(o.queue, processor, {
    connection: connectionOf(o.redis),
    prefix: o.prefix,
    concurrency: o.concurrency,
    lockDuration: o.lockDurationMs,
    stalledInterval: Math.max(250, Math.floor(o.lockDurationMs / 2)),
    maxStalledCount: 2,
  });
  worker.on('error', (err: Error) => console.error(`metatask worker: ${err.message}`));
  await worker.waitUntilReady();
  return {
    get processed() {
      return processed;
    },
    async close(force = false) {
      if (force) closing.abort(new Error('the worker is closing'));
      await worker.close(force);
    },
  };
}
