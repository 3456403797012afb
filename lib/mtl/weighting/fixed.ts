/**
 * Fixed weighting: L = sum_t w_t L_t with weights the user chooses (the "hand-tuned weights"
 * baseline of Kendall, Gal & Cipolla 2018 and most multi-task papers).
 */
import { ConfigError } from '../../core/errors.js';
import { custom, parseOptions } from '../../core/options.js';
import { LossStrategy } from './base.js';
import type { StrategyResult } from './strategy.js';

export interface FixedWeightingOptions {
  /** One non-negative weight per task, in task order (required). */
  weights: readonly number[] | Float64Array;
}

export class FixedWeighting extends LossStrategy {
  readonly name = 'fixed';
  readonly weights: Float64Array;

  constructor(options: FixedWeightingOptions) {
    super('fixed weighting');
    const o = parseOptions<FixedWeightingOptions>('fixed weighting', options, {
      weights: custom(
        'a non-empty array of finite non-negative numbers (one weight per task)',
        (v) =>
          (Array.isArray(v) || v instanceof Float64Array) &&
          v.length > 0 &&
          Array.prototype.every.call(v, (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0),
      ),
    });
    if (o.weights === undefined) throw new ConfigError("fixed weighting: option 'weights' is required (one weight per task)");
    this.weights = Float64Array.from(o.weights);
  }

  override init(numTasks: number, numShared: number): void {
    if (numTasks !== this.weights.length && Number.isInteger(numTasks) && numTasks > 0) {
      throw new ConfigError(`fixed weighting: 'weights' has ${this.weights.length} values but there are ${numTasks} tasks; give one weight per task`);
    }
    super.init(numTasks, numShared);
  }

  protected weigh(): StrategyResult {
    return { weights: this.weights.slice() };
  }
}
