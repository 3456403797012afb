/**
 * Geometric loss strategy (GLS): Chennupati, Sistu, Yogamani & Rawashdeh, "MultiNet++: Multi-Stream
 * Feature Aggregation and Geometric Loss Strategy for Multi-Task Learning", CVPR Workshops 2019.
 *
 *   L = (prod_t L_t)^(1/T)    so    dL/dtheta = sum_t w_t dL_t/dtheta,   w_t = (prod L)^(1/T) / (T L_t)
 *
 * The geometric mean is invariant to the scale of each loss, so a task whose loss is 100x larger
 * does not dominate. The product is formed as exp(mean log L_t), which neither over- nor
 * underflows for many tasks; losses at 0 are floored at `eps` (default 1e-12) to keep w finite.
 */
import { num, parseOptions } from '../../core/options.js';
import { LossStrategy, checkPositive } from './base.js';
import type { StrategyResult } from './strategy.js';

export interface GeometricLossOptions {
  /** Floor of the losses (default 1e-12). */
  eps?: number;
}

export class GeometricLossStrategy extends LossStrategy {
  readonly name = 'gls';
  readonly eps: number;

  constructor(options?: GeometricLossOptions) {
    super('GLS');
    this.eps = parseOptions<Required<GeometricLossOptions>>('GLS', options, { eps: num({ default: 1e-12, min: 0, exclusiveMin: true }) }).eps;
  }

  protected weigh(losses: Float64Array): StrategyResult {
    checkPositive(this.label, losses);
    const T = this.numTasks;
    let meanLog = 0;
    for (let t = 0; t < T; t++) meanLog += Math.log(Math.max(losses[t]!, this.eps));
    const geo = Math.exp(meanLog / T);
    const weights = new Float64Array(T);
    for (let t = 0; t < T; t++) weights[t] = geo / (T * Math.max(losses[t]!, this.eps));
    return { weights };
  }
}
