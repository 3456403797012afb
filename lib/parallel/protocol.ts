/**
 * The messages between a WorkerPool (lib/parallel/pool.ts) and its threads
 * (lib/parallel/thread.ts). One call at a time per thread; progress records stream back during
 * it; an abort message cancels it through the AbortSignal the thread passes to the method.
 */
import type { SerializedError } from '../core/errors.js';
import type { ModelSnapshot } from '../core/portable.js';

/** The methods a model may run on a worker thread or a queue worker. */
export type RemoteMethod = 'fit' | 'evaluate' | 'predictAsync' | 'score';

export const REMOTE_METHODS: readonly RemoteMethod[] = ['fit', 'evaluate', 'predictAsync', 'score'];

/** One method call on the model (arguments and options packed, lib/parallel/transfer.ts). */
export interface RemoteCall {
  method: RemoteMethod;
  /** The arguments before the options. */
  args: unknown;
  /** The options without `worker`, `signal` and `onProgress` (fit and evaluate get their own). */
  options: unknown;
}

/** How the thread finds the model a call runs on. */
export interface ModelRef {
  /** The model's key in the thread's cache (its id and a fingerprint of its state), or null: do not keep it. */
  key: string | null;
  /** The model, when the thread does not hold `key` yet (or when key is null). */
  snapshot?: ModelSnapshot;
}

export interface CallMessage {
  type: 'call';
  id: number;
  /** The caller's backend ('native' or 'js'), so the thread computes exactly as the caller would. */
  backend: 'native' | 'js';
  model: ModelRef;
  /** Calls on the model, in order (a fit, then a score of held-out data, for a CV fold). */
  calls: RemoteCall[];
  /** Answer with the model's snapshot after the calls (a fit's result). */
  returnModel: boolean;
  /** Forward the fit's onProgress records. */
  progress: boolean;
  /** Cache keys the thread may drop (the pool decides what each thread keeps). */
  evict: string[];
}

export interface AbortMessage {
  type: 'abort';
  id: number;
  /** The signal's reason as text (the caller rebuilds the AbortError from its own signal). */
  reason: string;
}

export type ToThread = CallMessage | AbortMessage;

export interface ProgressMessage {
  type: 'progress';
  id: number;
  record: unknown;
}

export interface DoneMessage extends CallResult {
  type: 'done';
  id: number;
}

/** What a run of calls gives back. */
export interface CallResult {
  /** With returnModel: the model's snapshot after the calls (a fitted model, for the caller's object). */
  snapshot?: ModelSnapshot;
  /** Each call's result (undefined for fit, whose result is the model). */
  values: unknown[];
  /** The new call state of the arguments that report one (task samplers), by slot over all calls. */
  states: unknown[];
}

export interface ErrorMessage {
  type: 'error';
  id: number;
  error: SerializedError;
}

/** Sent once when a thread has loaded the library and can take calls. */
export interface ReadyMessage {
  type: 'ready';
}

export type FromThread = ProgressMessage | DoneMessage | ErrorMessage | ReadyMessage;

/** What the pool passes to each thread at start. */
export interface ThreadData {
  /** Kernel threads for this worker (setThreads). */
  threads: number;
}
