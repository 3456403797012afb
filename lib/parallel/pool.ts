/**
 * WorkerPool: worker threads that run the library's fits, evaluations and batch predictions off
 * the caller's event loop. Models use it through the `worker` option of fit, evaluate and
 * predictAsync (lib/parallel/offload.ts); `worker: true` takes the library's default pool.
 *
 * - Threads start on demand, up to `size`, and each runs one call at a time; further calls wait
 *   in order. An idle thread does not keep the process alive.
 * - A thread keeps the last models it evaluated or predicted with (keyed by the model and a
 *   fingerprint of its state), so serving predictions sends only the inputs.
 * - A thread that dies (an uncaught error, a heap limit, terminate()) rejects its call with a
 *   WorkerError and is replaced; the other calls go on.
 */
import { availableParallelism } from 'node:os';
import { Worker, type ResourceLimits } from 'node:worker_threads';

import { abortError } from '../core/async.js';
import { reviveError, WorkerError } from '../core/errors.js';
import { num, parseOptions, custom } from '../core/options.js';
import { WORKER_POOL } from '../core/portable.js';
import type { CallMessage, DoneMessage, FromThread, RemoteCall, ThreadData } from './protocol.js';
import type { Packed } from './transfer.js';

export interface WorkerPoolOptions {
  /** Worker threads at most. Default: the cores available (os.availableParallelism()). */
  size?: number;
  /** Threads each worker's native kernels may use. Default: the cores divided by `size`, at least 1. */
  threadsPerWorker?: number;
  /** Models each thread keeps for evaluate and predictAsync. Default 8. */
  cachedModels?: number;
  /** Heap limits of each worker (worker_threads' resourceLimits). */
  resourceLimits?: ResourceLimits;
}

/** One call as the pool runs it (built by lib/parallel/offload.ts). */
export interface PoolCall {
  /** What the call is, for messages ("MAML.fit"). */
  label: string;
  backend: 'native' | 'js';
  /** The calls on the model, packed; `transfer` lists their buffers. */
  calls: RemoteCall[];
  transfer: ArrayBuffer[];
  /** Answer with the model's snapshot after the calls. */
  returnModel: boolean;
  model: {
    /** The caller's model id (to drop a thread's older copy of it). */
    id: number;
    /** Cache key of the model's state at the call, or null for a call whose thread must not keep it (fit). */
    key: string | null;
    /** The model packed for a thread that lacks `key`, with the key of what was packed. */
    take(): { key: string | null; packed: Packed };
  };
  onProgress?: (record: unknown) => void;
  signal?: AbortSignal;
}

interface Job {
  call: PoolCall;
  /** The cache key the thread holds the model under, once dispatched. */
  key?: string | null;
  resolve(m: DoneMessage): void;
  reject(e: Error): void;
  onAbort?: () => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  /** The job's id on this worker. */
  jobId: number;
  /** Keys of the models the thread holds, least recently used first. */
  cache: Map<string, true>;
  /** Key of each caller model the thread holds. */
  keyOf: Map<number, string>;
  /** Keys to tell the thread to drop with the next call. */
  evict: string[];
  /** Whether the thread has loaded the library (a thread that dies before is not replaced). */
  ready: boolean;
  /** The last error the thread reported through its 'error' event. */
  error?: Error;
}

/** The program each thread runs (lib/distributed/thread.ts: the library and its classes). */
const THREAD_ENTRY = new URL('../distributed/thread.js', import.meta.url);

let nextJobId = 1;

export class WorkerPool {
  readonly [WORKER_POOL] = true;
  /** Worker threads at most. */
  readonly size: number;
  /** Kernel threads of each worker. */
  readonly threadsPerWorker: number;
  private readonly cachedModels: number;
  private readonly resourceLimits: ResourceLimits | undefined;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private terminated = false;

  constructor(options: WorkerPoolOptions = {}) {
    const cores = availableParallelism();
    const o = parseOptions<WorkerPoolOptions>('WorkerPool', options, {
      size: num({ integer: true, min: 1, max: 256, default: cores }),
      threadsPerWorker: num({ integer: true, min: 1, max: 256 }),
      cachedModels: num({ integer: true, min: 1, default: 8 }),
      resourceLimits: custom('an object of worker_threads resource limits', (v) => v !== null && typeof v === 'object'),
    });
    this.size = o.size!;
    this.threadsPerWorker = o.threadsPerWorker ?? Math.max(1, Math.floor(cores / this.size));
    this.cachedModels = o.cachedModels!;
    this.resourceLimits = o.resourceLimits;
  }

  /** The live worker threads (for monitoring: terminating one rejects its call with a WorkerError and it is replaced). */
  get workers(): readonly Worker[] {
    return this.slots.map((s) => s.worker);
  }

  /** Calls running now. */
  get running(): number {
    return this.slots.filter((s) => s.job).length;
  }

  /** Calls waiting for a thread. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Stop every thread. Running and waiting calls reject with a WorkerError; later calls too.
   * The default pool starts afresh at its next use.
   */
  async terminate(): Promise<void> {
    this.terminated = true;
    for (const job of this.queue.splice(0)) this.settle(job, null, new WorkerError('the WorkerPool was terminated before this call could run'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    if (defaultPool === this) defaultPool = undefined;
  }

  /** Run one call on a thread (lib/parallel/offload.ts builds it). */
  run(call: PoolCall): Promise<DoneMessage> {
    return new Promise<DoneMessage>((resolve, reject) => {
      if (this.terminated) return reject(new WorkerError('the WorkerPool was terminated; create a new one'));
      if (call.signal?.aborted) return reject(abortError(call.signal.reason));
      const job: Job = { call, resolve, reject };
      const slot = this.idleSlot(call.model.key);
      if (call.signal) {
        const signal = call.signal;
        job.onAbort = () => {
          const i = this.queue.indexOf(job);
          if (i >= 0) {
            this.queue.splice(i, 1);
            this.settle(job, null, abortError(signal.reason));
            return;
          }
          const running = this.slots.find((s) => s.job === job);
          running?.worker.postMessage({ type: 'abort', id: running.jobId, reason: String(signal.reason) });
        };
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      if (slot) this.dispatch(slot, job);
      else {
        this.queue.push(job);
        this.pump();
      }
    });
  }

  private holds(slot: Slot, key: string | null): boolean {
    return key !== null && slot.cache.has(key);
  }

  /** An idle thread, preferably one that holds `key`. */
  private idleSlot(key: string | null): Slot | undefined {
    const idle = this.slots.filter((s) => !s.job);
    return idle.find((s) => this.holds(s, key)) ?? idle[0];
  }

  private pump(): void {
    while (this.queue.length > 0 && !this.terminated) {
      let slot = this.idleSlot(this.queue[0]!.call.model.key);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      this.dispatch(slot, this.queue.shift()!);
    }
  }

  private spawn(): Slot {
    const data: ThreadData = { threads: this.threadsPerWorker };
    const worker = new Worker(THREAD_ENTRY, { workerData: data, ...(this.resourceLimits ? { resourceLimits: this.resourceLimits } : {}) });
    worker.unref();
    const slot: Slot = { worker, job: null, jobId: 0, cache: new Map(), keyOf: new Map(), evict: [], ready: false };
    this.slots.push(slot);
    worker.on('message', (m: FromThread) => this.onMessage(slot, m));
    worker.on('error', (err: unknown) => {
      slot.error = err instanceof Error ? err : new Error(String(err));
    });
    worker.on('exit', (code) => this.onExit(slot, code));
    return slot;
  }

  private dispatch(slot: Slot, job: Job): void {
    const { call } = job;
    const evict = slot.evict.splice(0);
    let model: Packed | undefined;
    let key = call.model.key;
    if (key === null || !slot.cache.has(key)) {
      const taken = call.model.take();
      model = taken.packed;
      key = taken.key;
      if (key !== null) {
        const old = slot.keyOf.get(call.model.id);
        if (old !== undefined && slot.cache.delete(old)) evict.push(old);
        slot.cache.set(key, true);
        slot.keyOf.set(call.model.id, key);
        for (const k of slot.cache.keys()) {
          if (slot.cache.size <= this.cachedModels) break;
          slot.cache.delete(k);
          evict.push(k);
          for (const [id, kk] of slot.keyOf) if (kk === k) slot.keyOf.delete(id);
        }
      }
    } else {
      slot.cache.delete(key);
      slot.cache.set(key, true);
    }
    slot.job = job;
    job.key = key;
    slot.jobId = nextJobId++;
    slot.worker.ref();
    const message: CallMessage = {
      type: 'call',
      id: slot.jobId,
      backend: call.backend,
      model: { key, ...(model ? { snapshot: model.value as CallMessage['model']['snapshot'] } : {}) },
      calls: call.calls,
      returnModel: call.returnModel,
      progress: call.onProgress !== undefined,
      evict,
    };
    // A buffer moved for two arguments (training data that is also the validation data) is listed once.
    const transfer = [...new Set([...call.transfer, ...(model?.transfer ?? [])])];
    try {
      slot.worker.postMessage(message, transfer);
    } catch (err) {
      this.forget(slot, key);
      this.finish(slot);
      this.settle(job, null, err as Error);
    }
  }

  private onMessage(slot: Slot, m: FromThread): void {
    if (m.type === 'ready') {
      slot.ready = true;
      return;
    }
    const job = slot.job;
    if (!job || m.id !== slot.jobId) return;
    if (m.type === 'progress') {
      job.call.onProgress?.(m.record);
      return;
    }
    this.finish(slot);
    if (m.type === 'done') this.settle(job, m, null);
    else {
      this.forget(slot, job.key ?? null);
      const signal = job.call.signal;
      const err = m.error.name === 'AbortError' && signal?.aborted ? abortError(signal.reason) : reviveError(m.error, 'in a worker thread');
      this.settle(job, null, err);
    }
    this.pump();
  }

  /** After a failed call the thread may not hold the model: drop it from what the pool believes. */
  private forget(slot: Slot, key: string | null): void {
    if (key !== null && slot.cache.delete(key)) slot.evict.push(key);
  }

  private finish(slot: Slot): void {
    slot.job = null;
    slot.worker.unref();
  }

  private onExit(slot: Slot, code: number): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    const job = slot.job;
    slot.job = null;
    if (job) {
      const why = this.terminated ? 'the WorkerPool was terminated' : slot.error ? `it failed: ${slot.error.message}` : `it exited with code ${code}`;
      this.settle(job, null, new WorkerError(`the worker thread running ${job.call.label}() stopped before it finished: ${why}`, { cause: slot.error }));
    }
    if (this.terminated) return;
    if (!slot.ready) {
      // A thread that could not even start would fail again: report it to the waiting calls.
      const why = slot.error ? slot.error.message : `it exited with code ${code}`;
      for (const j of this.queue.splice(0)) this.settle(j, null, new WorkerError(`a worker thread could not start: ${why}`, { cause: slot.error }));
      return;
    }
    if (this.slots.length < this.size) this.spawn();
    this.pump();
  }

  private settle(job: Job, done: DoneMessage | null, err: Error | null): void {
    if (job.onAbort) job.call.signal?.removeEventListener('abort', job.onAbort);
    if (err) job.reject(err);
    else job.resolve(done!);
  }
}

let defaultPool: WorkerPool | undefined;

/** The library's own pool (`worker: true`), created at first use with the default options. */
export function defaultWorkerPool(): WorkerPool {
  defaultPool ??= new WorkerPool();
  return defaultPool;
}
