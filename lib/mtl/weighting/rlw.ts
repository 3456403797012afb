/**
 * Random loss weighting (RLW): Lin, Ye, Xu, Shi & Zhang, "Reasonable Effectiveness of Random
 * Weighting: A Litmus Test for Multi-Task Learning", TMLR 2022.
 *
 *   w = T softmax(z)   (scale 'tasks', default)   or   w = softmax(z)   (scale 'simplex'),
 *   z_t ~ N(0, 1) drawn afresh at every step
 *
 * The draws come from the training run's seeded generator (step.rng), so a seed fixes the weight
 * sequence. With the default scale the weights sum to T like equal weighting, so switching
 * strategy does not silently change the effective learning rate; scale 'simplex' is the paper's
 * and LibMTL's plain softmax (weights summing to 1), for comparisons with published numbers.
 */
import { oneOf, parseOptions } from '../../core/options.js';
import { LossStrategy } from './base.js';
import { softmax } from './linalg.js';
import type { StrategyResult, StrategyStep } from './strategy.js';

export interface RandomLossWeightingOptions {
  /** 'tasks' (default): weights sum to T; 'simplex': weights sum to 1, as the paper and LibMTL. */
  scale?: 'tasks' | 'simplex';
}

export class RandomLossWeighting extends LossStrategy {
  readonly name = 'rlw';
  readonly scale: 'tasks' | 'simplex';

  constructor(options?: RandomLossWeightingOptions) {
    super('RLW');
    this.scale = parseOptions<Required<RandomLossWeightingOptions>>('RLW', options, {
      scale: oneOf(['tasks', 'simplex'] as const, 'tasks'),
    }).scale;
  }

  /** Stateless: the randomness lives in the run's generator, which the run saves. */
  protected weigh(_losses: Float64Array, step: StrategyStep): StrategyResult {
    const T = this.numTasks;
    const z = new Float64Array(T);
    for (let t = 0; t < T; t++) z[t] = step.rng.normal();
    const weights = softmax(z);
    if (this.scale === 'tasks') for (let t = 0; t < T; t++) weights[t]! *= T;
    return { weights };
  }
}
