/**
 * Random loss weighting (RLW): Lin, Ye, Xu, Shi & Zhang, "Reasonable Effectiveness of Random
 * Weighting: A Litmus Test for Multi-Task Learning", TMLR 2022.
 *
 *   w = T softmax(z),   z_t ~ N(0, 1) drawn afresh at every step
 *
 * The draws come from the training run's seeded generator (step.rng), so a seed fixes the weight
 * sequence. The factor T (LibMTL uses none) makes the weights sum to T like equal weighting, so
 * switching strategy does not silently change the effective learning rate.
 */
import { parseOptions } from '../../core/options.js';
import { checkInit, softmax, stateObject, stepLosses } from './lossCommon.js';
import type { StrategyResult, StrategyStep, WeightingStrategy } from './strategy.js';

export interface RandomLossWeightingOptions {}

export class RandomLossWeighting implements WeightingStrategy {
  readonly name = 'rlw';
  readonly needsGradients = false;
  private numTasks = 0;

  constructor(options?: RandomLossWeightingOptions) {
    parseOptions<RandomLossWeightingOptions>('RLW', options, {});
  }

  init(numTasks: number, numShared: number): void {
    checkInit('RLW', numTasks, numShared);
    this.numTasks = numTasks;
  }

  combine(step: StrategyStep): StrategyResult {
    stepLosses('RLW', step, this.numTasks);
    const z = new Float64Array(this.numTasks);
    for (let t = 0; t < z.length; t++) z[t] = step.rng.normal();
    const weights = softmax(z);
    for (let t = 0; t < z.length; t++) weights[t]! *= this.numTasks;
    return { weights };
  }

  /** Stateless: the randomness lives in the run's generator, which the run saves. */
  getState(): unknown {
    return {};
  }

  setState(state: unknown): void {
    stateObject('RLW', state);
  }
}
