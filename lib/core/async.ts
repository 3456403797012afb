/**
 * Helpers for long loops that must keep a server responsive: yield to the event loop between
 * steps (setImmediate lets I/O callbacks run) and honour an AbortSignal.
 */
import { AbortError } from './errors.js';

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal.reason);
}

/**
 * The AbortError for a signal's reason: a plain abort() says only that; a timeout
 * (AbortSignal.timeout) says so; a reason of the caller's own is quoted. The reason is the cause.
 */
export function abortError(reason: unknown): AbortError {
  let why = '';
  if (reason instanceof Error || (reason !== null && typeof reason === 'object' && 'name' in reason)) {
    const r = reason as { name?: unknown; message?: unknown };
    if (r.name === 'TimeoutError') why = ': the signal timed out';
    else if (r.name !== 'AbortError' && typeof r.message === 'string' && r.message) why = `: ${r.message}`;
  } else if (reason !== undefined) why = `: ${String(reason)}`;
  return new AbortError(`The operation was aborted${why}`, { cause: reason });
}

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Calls `yieldToEventLoop` at most every `budgetMs` of work, so that tight loops yield often
 * enough (a few ms of event-loop delay) without paying a macrotask per tiny step.
 */
export class Yielder {
  private last = performance.now();
  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly budgetMs = 8,
  ) {
    throwIfAborted(signal);
  }
  async maybeYield(): Promise<void> {
    const now = performance.now();
    if (now - this.last >= this.budgetMs) {
      await yieldToEventLoop();
      this.last = performance.now();
    }
    throwIfAborted(this.signal);
  }
}
