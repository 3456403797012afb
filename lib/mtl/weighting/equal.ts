/**
 * Equal weighting: L = sum_t L_t, every task weight 1. The baseline every multi-task paper
 * compares against ("EW" in LibMTL; Lin et al., "Reasonable Effectiveness of Random Weighting",
 * TMLR 2022, show it is hard to beat).
 */
import { parseOptions } from '../../core/options.js';
import { checkInit, ones, stateObject, stepLosses } from './lossCommon.js';
import type { StrategyResult, StrategyStep, WeightingStrategy } from './strategy.js';

export interface EqualWeightingOptions {}

export class EqualWeighting implements WeightingStrategy {
  readonly name = 'equal';
  readonly needsGradients = false;
  private numTasks = 0;

  constructor(options?: EqualWeightingOptions) {
    parseOptions<EqualWeightingOptions>('equal weighting', options, {});
  }

  init(numTasks: number, numShared: number): void {
    checkInit('equal weighting', numTasks, numShared);
    this.numTasks = numTasks;
  }

  combine(step: StrategyStep): StrategyResult {
    stepLosses('equal weighting', step, this.numTasks);
    return { weights: ones(this.numTasks) };
  }

  getState(): unknown {
    return {};
  }

  setState(state: unknown): void {
    stateObject('equal weighting', state);
  }
}
