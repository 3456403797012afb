/**
 * The messages between a WorkerPool (lib/parallel/pool.ts) and its threads
 * (lib/parallel/thread.ts). One call at a time per thread; progress records stream back during
 * it; an abort message cancels it through the AbortSignal the thread passes to the method.
 */
import type { SerializedError } from '../core/errors.js';
import type { ModelSnapshot } from '../core/portable.js';

/** The methods a model may run on a worker thread. */
export type RemoteMethod = 'fit' | 'evaluate' | 'predictAsync';

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
  method: RemoteMethod;
  /** The method's arguments before its options (packed, lib/parallel/transfer.ts). */
  args: unknown;
  /** The method's options without `worker`, `signal` and `onProgress` (packed). */
  options: unknown;
  /** Forward onProgress records. */
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

export interface DoneMessage {
  type: 'done';
  id: number;
  /** fit: the fitted model's snapshot, which the caller's object takes. */
  snapshot?: ModelSnapshot;
  /** evaluate, predictAsync: the method's result (packed). */
  value?: unknown;
  /** The new call state of the arguments that report one (task samplers), by slot. */
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
