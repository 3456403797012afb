/**
 * GradNorm: "GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep Multitask
 * Networks", Chen, Badrinarayanan, Lee & Rabinovich, ICML 2018.
 *
 * Learned loss weights w_t (start at 1). With G_t = ||w_t g_t|| the norm of task t's weighted
 * gradient, G_avg their mean, L~_t = L_t / L_t(0) the loss ratio to the first step's loss and
 * r_t = L~_t / mean(L~) the relative inverse training rate, the gradnorm loss is
 *
 *   L_grad = sum_t | G_t - G_avg * r_t^alpha |          (alpha default 1.5)
 *
 * with the target G_avg r_t^alpha held constant (the paper's Section 3.2). Its gradient w.r.t.
 * w_t is sign(G_t - target_t) * ||g_t||. Each step uses the current weights for the update of
 * the network, then takes one gradient step on w with GradNorm's own learning rate, floors the
 * weights at a tiny positive value and renormalises them so that sum_t w_t = T (the paper's
 * renormalisation).
 *
 * Which gradients: the paper measures G_t on the last shared layer to save the extra backward
 * passes. Here G already holds every task's gradient of ALL shared parameters (the training
 * loop computes it for every gradient strategy), so we measure the norms on all of them: no
 * extra cost, and no dependence on which layer happens to be "last" in MMoE/PLE-like
 * architectures where there is no single one.
 *
 * Shared direction d = sum_t w_t g_t; head weights w_t (the paper weights the whole loss).
 */
import { num, parseOptions } from '../../core/options.js';
import { checkInit, combineRows, gramMatrix, ones, stateArray, stateObject, stateTasks, stepGrads } from './small.js';
import type { StrategyResult, StrategyStep, WeightingStrategy } from './strategy.js';

export interface GradNormOptions {
  /** Asymmetry: how strongly slow tasks are pushed (default 1.5). */
  alpha?: number;
  /** Learning rate of the weights' gradient step (default 0.025). */
  lr?: number;
}

/** Weights never fall below this before renormalisation (keeps every task alive). */
const MIN_WEIGHT = 1e-6;

export class GradNorm implements WeightingStrategy {
  readonly name = 'gradnorm';
  readonly needsGradients = true;
  readonly alpha: number;
  readonly lr: number;
  private numTasks = 0;
  private numShared = 0;
  private weights: Float64Array = new Float64Array(0);
  private initialLosses: Float64Array | null = null;
  private restored = false;

  constructor(options?: GradNormOptions) {
    const o = parseOptions<Required<GradNormOptions>>('GradNorm', options, {
      alpha: num({ default: 1.5, min: 0 }),
      lr: num({ default: 0.025, min: 0, exclusiveMin: true }),
    });
    this.alpha = o.alpha;
    this.lr = o.lr;
  }

  init(numTasks: number, numShared: number): void {
    checkInit('GradNorm', numTasks, numShared);
    this.numTasks = numTasks;
    this.numShared = numShared;
    if (!(this.restored && this.weights.length === numTasks)) {
      this.weights = ones(numTasks);
      this.initialLosses = null;
    }
    this.restored = false;
  }

  /** The current weights (a copy). */
  currentWeights(): Float64Array {
    return this.weights.slice();
  }

  combine(step: StrategyStep): StrategyResult {
    const g = stepGrads('GradNorm', step, this.numTasks, this.numShared);
    const n = this.numTasks;
    const w = this.weights.slice();
    const shared = combineRows(g, w);

    // Record L(0) on the first step; a zero loss would make the ratio undefined, so floor it.
    if (!this.initialLosses) this.initialLosses = Float64Array.from(step.losses, (l) => Math.max(l, 1e-12));
    const m = gramMatrix(g);
    const norms = new Float64Array(n);
    const ratio = new Float64Array(n);
    let gAvg = 0;
    let ratioMean = 0;
    for (let t = 0; t < n; t++) {
      norms[t] = Math.sqrt(Math.max(0, m[t * n + t]!));
      gAvg += (w[t]! * norms[t]!) / n;
      ratio[t] = step.losses[t]! / this.initialLosses[t]!;
      ratioMean += ratio[t]! / n;
    }
    let sum = 0;
    for (let t = 0; t < n; t++) {
      const r = ratioMean > 0 ? ratio[t]! / ratioMean : 1;
      const target = gAvg * Math.pow(r, this.alpha);
      const gradW = Math.sign(w[t]! * norms[t]! - target) * norms[t]!;
      this.weights[t] = Math.max(MIN_WEIGHT, w[t]! - this.lr * gradW);
      sum += this.weights[t]!;
    }
    for (let t = 0; t < n; t++) this.weights[t] = (this.weights[t]! * n) / sum;
    return { weights: w, shared };
  }

  getState(): unknown {
    return {
      numTasks: this.numTasks,
      weights: Array.from(this.weights),
      initialLosses: this.initialLosses ? Array.from(this.initialLosses) : null,
    };
  }

  setState(state: unknown): void {
    const s = stateObject('GradNorm', state);
    const n = stateTasks('GradNorm', s, this.numTasks);
    this.weights = stateArray('GradNorm', s.weights, 'weights', n);
    this.initialLosses = s.initialLosses === null ? null : stateArray('GradNorm', s.initialLosses, 'initialLosses', n);
    this.restored = this.numTasks === 0;
  }
}
