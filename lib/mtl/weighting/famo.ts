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
import { FormatError } from '../../core/errors.js';
import { custom, num, parseOptions } from '../../core/options.js';
import { adamStep } from '../../kernels/js/optim.js';
import { ConfigError } from '../../core/errors.js';
import { checkInit, checkPositive, softmax, stateArray, stateInt, stateObject, stateTasks, stepLosses } from './lossCommon.js';
import type { StrategyResult, StrategyStep, WeightingStrategy } from './strategy.js';

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

export class Famo implements WeightingStrategy {
  readonly name = 'famo';
  readonly needsGradients = false;
  readonly lr: number;
  readonly weightDecay: number;
  readonly eps: number;
  private readonly minLossesOption: readonly number[] | undefined;
  private minLosses: Float64Array = new Float64Array(0);
  private numTasks = 0;
  private logits: Float64Array = new Float64Array(0);
  private m: Float64Array = new Float64Array(0);
  private v: Float64Array = new Float64Array(0);
  private steps = 0;
  private prev: Float64Array | null = null;
  private restored = false;

  constructor(options?: FamoOptions) {
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

  init(numTasks: number, numShared: number): void {
    checkInit('FAMO', numTasks, numShared);
    if (this.minLossesOption && this.minLossesOption.length !== numTasks) {
      throw new ConfigError(`FAMO: 'minLosses' has ${this.minLossesOption.length} values but there are ${numTasks} tasks`);
    }
    this.minLosses = this.minLossesOption ? Float64Array.from(this.minLossesOption) : new Float64Array(numTasks);
    if (this.restored && this.numTasks === numTasks) {
      this.restored = false;
      return;
    }
    this.restored = false;
    this.numTasks = numTasks;
    this.logits = new Float64Array(numTasks);
    this.m = new Float64Array(numTasks);
    this.v = new Float64Array(numTasks);
    this.steps = 0;
    this.prev = null;
  }

  /** Current softmax of the logits (a copy). */
  get taskProbabilities(): Float64Array {
    return softmax(this.logits);
  }

  combine(step: StrategyStep): StrategyResult {
    const losses = stepLosses('FAMO', step, this.numTasks);
    checkPositive('FAMO', losses);
    const T = this.numTasks;
    const logD = new Float64Array(T);
    for (let t = 0; t < T; t++) logD[t] = Math.log(Math.max(losses[t]! - this.minLosses[t]!, 0) + this.eps);
    if (this.prev) {
      const z = softmax(this.logits);
      const delta = new Float64Array(T);
      let zDelta = 0;
      for (let t = 0; t < T; t++) {
        delta[t] = this.prev[t]! - logD[t]!;
        zDelta += z[t]! * delta[t]!;
      }
      const grad = new Float64Array(T);
      for (let t = 0; t < T; t++) grad[t] = z[t]! * (delta[t]! - zDelta);
      this.steps++;
      // T numbers: the TypeScript kernel directly (PyTorch Adam with weight_decay, as in the paper's code).
      adamStep({ params: this.logits, grad, m: this.m, v: this.v, lr: this.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: this.weightDecay, decoupledWeightDecay: false, step: this.steps });
    }
    this.prev = logD;
    const z = softmax(this.logits);
    const weights = new Float64Array(T);
    let sum = 0;
    for (let t = 0; t < T; t++) {
      weights[t] = z[t]! / Math.exp(logD[t]!);
      sum += weights[t]!;
    }
    for (let t = 0; t < T; t++) weights[t]! /= sum;
    return { weights };
  }

  getState(): unknown {
    return {
      numTasks: this.numTasks,
      logits: Array.from(this.logits),
      m: Array.from(this.m),
      v: Array.from(this.v),
      steps: this.steps,
      prev: this.prev ? Array.from(this.prev) : null,
    };
  }

  setState(state: unknown): void {
    const s = stateObject('FAMO', state);
    const n = stateTasks('FAMO', s, this.numTasks);
    const logits = stateArray('FAMO', s.logits, 'logits', n);
    const m = stateArray('FAMO', s.m, 'm', n);
    const v = stateArray('FAMO', s.v, 'v', n);
    const steps = stateInt('FAMO', s.steps, 'steps');
    if (s.prev !== null && s.prev !== undefined && !Array.isArray(s.prev) && !(s.prev instanceof Float64Array)) {
      throw new FormatError('FAMO: state.prev must be null or an array of log-losses');
    }
    const prev = s.prev === null || s.prev === undefined ? null : stateArray('FAMO', s.prev, 'prev', n);
    this.numTasks = n;
    this.logits = logits;
    this.m = m;
    this.v = v;
    this.steps = steps;
    this.prev = prev;
    this.restored = true;
  }
}
