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
 * Yields to the event loop between steps of work so that no slice of work between two yields
 * runs much past `budgetMs` (default 8 ms: a server's timers and I/O wait at most about that).
 * Called before each step: it yields when the time since the last yield plus the length of the
 * last step would cross the budget, so slices stay near the budget even when steps are a few ms
 * long, and tiny steps do not pay a macrotask each. A single step longer than the budget (one
 * large batch) cannot be split here: it is one slice.
 */
export class Yielder {
  private last = performance.now();
  private stepStart = this.last;
  private lastStep = 0;
  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly budgetMs = 8,
  ) {
    throwIfAborted(signal);
  }
  async maybeYield(): Promise<void> {
    const now = performance.now();
    this.lastStep = now - this.stepStart;
    if (now - this.last + this.lastStep >= this.budgetMs) {
      await yieldToEventLoop();
      this.last = performance.now();
    }
    this.stepStart = performance.now();
    throwIfAborted(this.signal);
  }
}
