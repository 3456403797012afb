/**
 * The stopping rule of a meta-learner's fit: a number of iterations, a time limit in seconds, or
 * both (whichever comes first). The clock starts when the budget is made; the iteration that is
 * running when the time runs out completes, so a fit never throws away work it has done.
 */
import { ConfigError } from '../core/errors.js';
import { num } from '../core/options.js';

export interface BudgetOptions {
  /** Meta-iterations to run. */
  iterations?: number;
  /** Seconds of training after which no new iteration starts. */
  timeLimit?: number;
}

/** The option specs of iterations and timeLimit, for a fit's parseOptions. */
export const BUDGET_OPTIONS = {
  iterations: num({ min: 0, integer: true }),
  timeLimit: num({ min: 0, exclusiveMin: true }),
};

export class Budget {
  /** Iterations started so far. */
  done = 0;
  private readonly start = performance.now();

  constructor(
    owner: string,
    /** The iteration cap (Infinity without one). */
    readonly iterations: number | undefined,
    /** Seconds (Infinity without a limit). */
    readonly timeLimit: number | undefined,
  ) {
    if (iterations === undefined && timeLimit === undefined) {
      throw new ConfigError(`${owner}: give 'iterations' (meta-iterations to run), 'timeLimit' (seconds), or both (training stops at whichever comes first)`);
    }
  }

  /** Whether another iteration may start; counts it when it may. */
  next(): boolean {
    if (this.iterations !== undefined && this.done >= this.iterations) return false;
    if (this.timeLimit !== undefined && this.done > 0 && this.seconds >= this.timeLimit) return false;
    this.done++;
    return true;
  }

  /** Seconds since the budget was made. */
  get seconds(): number {
    return (performance.now() - this.start) / 1000;
  }

  /** Whether the time limit (rather than the iteration count) ended training. */
  get timedOut(): boolean {
    return this.timeLimit !== undefined && (this.iterations === undefined || this.done < this.iterations);
  }

  /** The total to report in progress events: the iteration cap, or NaN when only time bounds the fit. */
  get total(): number {
    return this.iterations ?? NaN;
  }
}
