/**
 * Uncertainty weighting: Kendall, Gal & Cipolla, "Multi-Task Learning Using Uncertainty to Weigh
 * Losses for Scene Geometry and Semantics", CVPR 2018.
 *
 * Each task learns a log-variance s_t = log sigma_t^2 and the network trains on
 *
 *   convention 'simplified' (default):  L = sum_t exp(-s_t) L_t + s_t,              s_t = 0 at start
 *   convention 'libmtl':                L = sum_t L_t / (2 exp(s_t)) + s_t / 2,     s_t = -0.5 at start
 *
 * The second is the paper's Gaussian-likelihood form L / (2 sigma^2) + log sigma, as LibMTL
 * implements it (including its start at s = -0.5); the first is twice that, the form most code
 * uses, whose weights start at 1 like equal weighting. Both have the same fixed point: the task
 * weight moves toward 1 / L_t (exp(-s_t) = 1 / L_t, resp. 1 / (2 exp(s_t)) = 1 / (2 L_t)), so tasks
 * with large (noisy) losses are down-weighted, and the s_t term keeps the weights from
 * collapsing to 0.
 *
 * The weights of a step are those before the update, as in a PyTorch training step where the
 * model and s_t are updated from the same loss. The log-variances take an Adam step (lr option,
 * PyTorch's Adam defaults) on dL/ds_t: 1 - exp(-s_t) L_t, resp. 1/2 - L_t / (2 exp(s_t)).
 */
import { num, oneOf, parseOptions } from '../../core/options.js';
import { AdamVector } from './adamVector.js';
import { LossStrategy } from './base.js';
import type { StrategyResult } from './strategy.js';

export interface UncertaintyWeightingOptions {
  /** Adam learning rate of the log-variances; default 1e-3 (the usual network lr, as LibMTL trains s_t with the model's optimiser). */
  lr?: number;
  /** Initial s_t (default 0 with convention 'simplified', -0.5 with 'libmtl'). */
  initLogVar?: number;
  /** 'simplified' (default): exp(-s) L + s; 'libmtl': L / (2 exp(s)) + s / 2, LibMTL's form and start. */
  convention?: 'simplified' | 'libmtl';
}

export class UncertaintyWeighting extends LossStrategy {
  readonly name = 'uncertainty';
  readonly lr: number;
  readonly initLogVar: number;
  readonly convention: 'simplified' | 'libmtl';
  /** The log-variances s_t. */
  private logVar = new AdamVector(0);

  constructor(options?: UncertaintyWeightingOptions) {
    super('uncertainty weighting');
    const o = parseOptions<UncertaintyWeightingOptions>('uncertainty weighting', options, {
      lr: num({ default: 1e-3, min: 0, exclusiveMin: true }),
      initLogVar: num(),
      convention: oneOf(['simplified', 'libmtl'] as const, 'simplified'),
    });
    this.lr = o.lr!;
    this.convention = o.convention!;
    this.initLogVar = o.initLogVar ?? (this.convention === 'libmtl' ? -0.5 : 0);
  }

  protected override reset(): void {
    this.logVar = new AdamVector(this.numTasks, this.initLogVar);
  }

  /** Current learned log-variances s_t (a copy). */
  get logVariances(): Float64Array {
    return this.logVar.values.slice();
  }

  protected weigh(losses: Float64Array): StrategyResult {
    const T = this.numTasks;
    // 'libmtl' is half of 'simplified' in both terms: weights exp(-s) / 2, gradient halved.
    const half = this.convention === 'libmtl' ? 0.5 : 1;
    const weights = new Float64Array(T);
    const grad = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      weights[t] = half * Math.exp(-this.logVar.values[t]!);
      grad[t] = half - weights[t]! * losses[t]!;
    }
    this.logVar.step(grad, this.lr);
    return { weights };
  }

  protected override saveState(): Record<string, unknown> {
    return this.logVar.save('logVar');
  }

  protected override loadState(s: Record<string, unknown>, n: number): void {
    this.logVar = AdamVector.load(this.label, s, 'logVar', n);
  }
}
