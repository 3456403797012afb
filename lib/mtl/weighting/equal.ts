/**
 * Equal weighting: L = sum_t L_t, every task weight 1. The baseline every multi-task paper
 * compares against ("EW" in LibMTL; Lin et al., "Reasonable Effectiveness of Random Weighting",
 * TMLR 2022, show it is hard to beat).
 */
import { parseOptions } from '../../core/options.js';
import { LossStrategy } from './base.js';
import { ones } from './linalg.js';
import type { StrategyResult } from './strategy.js';

export interface EqualWeightingOptions {}

export class EqualWeighting extends LossStrategy {
  readonly name = 'equal';

  constructor(options?: EqualWeightingOptions) {
    super('equal weighting');
    parseOptions<EqualWeightingOptions>('equal weighting', options, {});
  }

  protected weigh(): StrategyResult {
    return { weights: ones(this.numTasks) };
  }
}
