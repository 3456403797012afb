/**
 * Helpers for long loops that must keep a server responsive: yield to the event loop between
 * steps (setImmediate lets I/O callbacks run) and honour an AbortSignal.
 */
import { AbortError } from './errors.js';

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    const reason = signal.reason;
    throw new AbortError(reason instanceof Error ? `The operation was aborted: ${reason.message}` : 'The operation was aborted');
  }
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
