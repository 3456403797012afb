/**
 * FAMO: Liu, Liu, Jin, Stone & Liu, "FAMO: Fast Adaptive Multitask Optimization", NeurIPS 2023.
 *
 * Learned logits xi (one per task), z = softmax(xi). The network follows the gradient of
 * sum_t z_t log L_t, rescaled so the weights sum to 1 (the paper's Algorithm 1):
 *
 *   w_t = c z_t / D_t,   D_t = L_t - minLoss_t + eps,   c = 1 / sum_s (z_s / D_s)
 *
 * and after every step the logits move toward tasks whose log-loss decreased least:
 *
 *   delta_t = log D_t(prev step) - log D_t(this step)            (decrease of the log-loss)
 *   d = J_softmax(xi)^T delta,  i.e. d_t = z_t (delta_t - sum_s z_s delta_s)
 *   xi <- Adam(xi, grad d, lr 0.025, L2 weight decay 1e-3)        (the paper's defaults)
 *
 * Minimising z . delta shifts weight to the slowest-improving task, which balances the rates of
 * improvement at O(1) cost per step, without per-task gradients. The paper's code re-evaluates
 * the batch after the update to get delta; here delta compares the losses of consecutive steps
 * (consecutive batches), so one forward pass per step suffices and the strategy needs nothing but
 * the losses the training loop already has. The first step only records its losses.
 */
import { ConfigError } from '../../core/errors.js';
import { custom, num, parseOptions } from '../../core/options.js';
import { AdamVector } from './adamVector.js';
import { LossStrategy, checkPositive, stateArrayOrNull } from './base.js';
import { softmax } from './linalg.js';
import type { StrategyResult } from './strategy.js';

export interface FamoOptions {
  /** Adam lr of the logits (default 0.025, the paper's). */
  lr?: number;
  /** L2 weight decay of the logits (the paper's gamma, default 1e-3). */
  weightDecay?: number;
  /** Known lower bounds of the losses (default 0 for every task). */
  minLosses?: readonly number[];
  /** Keeps D_t positive (default 1e-8). */
  eps?: number;
}

export class Famo extends LossStrategy {
  readonly name = 'famo';
  readonly lr: number;
  readonly weightDecay: number;
  readonly eps: number;
  private readonly minLossesOption: readonly number[] | undefined;
  private minLosses: Float64Array = new Float64Array(0);
  private logits = new AdamVector(0);
  private prev: Float64Array | null = null;

  constructor(options?: FamoOptions) {
    super('FAMO');
    const o = parseOptions<FamoOptions>('FAMO', options, {
      lr: num({ default: 0.025, min: 0, exclusiveMin: true }),
      weightDecay: num({ default: 1e-3, min: 0 }),
      minLosses: custom('an array of finite numbers (one per task)', (v) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x))),
      eps: num({ default: 1e-8, min: 0, exclusiveMin: true }),
    });
    this.lr = o.lr!;
    this.weightDecay = o.weightDecay!;
    this.eps = o.eps!;
    this.minLossesOption = o.minLosses;
  }

  override init(numTasks: number, numShared: number): void {
    if (this.minLossesOption && this.minLossesOption.length !== numTasks && Number.isInteger(numTasks) && numTasks > 0) {
      throw new ConfigError(`FAMO: 'minLosses' has ${this.minLossesOption.length} values but there are ${numTasks} tasks`);
    }
    super.init(numTasks, numShared);
    this.minLosses = this.minLossesOption ? Float64Array.from(this.minLossesOption) : new Float64Array(numTasks);
  }

  protected override reset(): void {
    this.logits = new AdamVector(this.numTasks);
    this.prev = null;
  }

  /** Current softmax of the logits (a copy). */
  get taskProbabilities(): Float64Array {
    return softmax(this.logits.values);
  }

  protected weigh(losses: Float64Array): StrategyResult {
    checkPositive(this.label, losses);
    const T = this.numTasks;
    const logD = new Float64Array(T);
    for (let t = 0; t < T; t++) logD[t] = Math.log(Math.max(losses[t]! - this.minLosses[t]!, 0) + this.eps);
    if (this.prev) {
      const z = softmax(this.logits.values);
      const delta = new Float64Array(T);
      let zDelta = 0;
      for (let t = 0; t < T; t++) {
        delta[t] = this.prev[t]! - logD[t]!;
        zDelta += z[t]! * delta[t]!;
      }
      const grad = new Float64Array(T);
      for (let t = 0; t < T; t++) grad[t] = z[t]! * (delta[t]! - zDelta);
      // PyTorch Adam with weight_decay, as in the paper's code.
      this.logits.step(grad, this.lr, this.weightDecay);
    }
    this.prev = logD;
    const z = softmax(this.logits.values);
    const weights = new Float64Array(T);
    let sum = 0;
    for (let t = 0; t < T; t++) {
      weights[t] = z[t]! / Math.exp(logD[t]!);
      sum += weights[t]!;
    }
    for (let t = 0; t < T; t++) weights[t]! /= sum;
    return { weights };
  }

  protected override saveState(): Record<string, unknown> {
    return { ...this.logits.save('logits'), prev: this.prev ? Array.from(this.prev) : null };
  }

  protected override loadState(s: Record<string, unknown>, n: number): void {
    const prev = stateArrayOrNull(this.label, s.prev, 'prev', n);
    this.logits = AdamVector.load(this.label, s, 'logits', n);
    this.prev = prev;
  }
}
