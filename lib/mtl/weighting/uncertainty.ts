/**
 * Uncertainty weighting: Kendall, Gal & Cipolla, "Multi-Task Learning Using Uncertainty to Weigh
 * Losses for Scene Geometry and Semantics", CVPR 2018.
 *
 *   L = sum_t exp(-s_t) L_t + s_t,     s_t = log sigma_t^2 (learned, one per task)
 *
 * The task weights are w_t = exp(-s_t). The log-variances get their own Adam step (lr option) on
 * dL/ds_t = 1 - exp(-s_t) L_t, whose fixed point is s_t = log L_t: a task's weight moves toward
 * 1 / L_t, so tasks with large (noisy) losses are down-weighted and the regulariser s_t keeps the
 * weights from collapsing to 0. The weights of a step are those before the update, as in a
 * PyTorch training step where the model and s_t are updated from the same loss.
 */
import { num, parseOptions } from '../../core/options.js';
import { adamStep } from '../../kernels/js/optim.js';
import { checkInit, stateArray, stateInt, stateObject, stateTasks, stepLosses } from './lossCommon.js';
import type { StrategyResult, StrategyStep, WeightingStrategy } from './strategy.js';

export interface UncertaintyWeightingOptions {
  /** Adam learning rate of the log-variances; default 1e-3 (the usual network lr, as LibMTL trains s_t with the model's optimiser). */
  lr?: number;
  /** Initial s_t (default 0: weights start at 1). */
  initLogVar?: number;
}

export class UncertaintyWeighting implements WeightingStrategy {
  readonly name = 'uncertainty';
  readonly needsGradients = false;
  readonly lr: number;
  readonly initLogVar: number;
  private numTasks = 0;
  private logVar: Float64Array = new Float64Array(0);
  private m: Float64Array = new Float64Array(0);
  private v: Float64Array = new Float64Array(0);
  private steps = 0;
  private restored = false;

  constructor(options?: UncertaintyWeightingOptions) {
    const o = parseOptions<Required<UncertaintyWeightingOptions>>('uncertainty weighting', options, {
      lr: num({ default: 1e-3, min: 0, exclusiveMin: true }),
      initLogVar: num({ default: 0 }),
    });
    this.lr = o.lr;
    this.initLogVar = o.initLogVar;
  }

  init(numTasks: number, numShared: number): void {
    checkInit('uncertainty weighting', numTasks, numShared);
    // A state restored by setState() since the last init (resume) is kept.
    if (this.restored && this.numTasks === numTasks) {
      this.restored = false;
      return;
    }
    this.restored = false;
    this.numTasks = numTasks;
    this.logVar = new Float64Array(numTasks).fill(this.initLogVar);
    this.m = new Float64Array(numTasks);
    this.v = new Float64Array(numTasks);
    this.steps = 0;
  }

  /** Current learned log-variances s_t (a copy). */
  get logVariances(): Float64Array {
    return this.logVar.slice();
  }

  combine(step: StrategyStep): StrategyResult {
    const losses = stepLosses('uncertainty weighting', step, this.numTasks);
    const T = this.numTasks;
    const weights = new Float64Array(T);
    const grad = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      weights[t] = Math.exp(-this.logVar[t]!);
      grad[t] = 1 - weights[t]! * losses[t]!;
    }
    // T numbers: the TypeScript kernel directly, a native call would cost more than the work.
    this.steps++;
    adamStep({ params: this.logVar, grad, m: this.m, v: this.v, lr: this.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupledWeightDecay: false, step: this.steps });
    return { weights };
  }

  getState(): unknown {
    return { numTasks: this.numTasks, logVar: Array.from(this.logVar), m: Array.from(this.m), v: Array.from(this.v), steps: this.steps };
  }

  setState(state: unknown): void {
    const owner = 'uncertainty weighting';
    const s = stateObject(owner, state);
    const n = stateTasks(owner, s, this.numTasks);
    const logVar = stateArray(owner, s.logVar, 'logVar', n);
    const m = stateArray(owner, s.m, 'm', n);
    const v = stateArray(owner, s.v, 'v', n);
    const steps = stateInt(owner, s.steps, 'steps');
    this.numTasks = n;
    this.logVar = logVar;
    this.m = m;
    this.v = v;
    this.steps = steps;
    this.restored = true;
  }
}
