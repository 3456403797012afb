/**
 * GradNorm: "GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep Multitask
 * Networks", Chen, Badrinarayanan, Lee & Rabinovich, ICML 2018.
 *
 * Learned loss weights w_t (start at 1). With G_t = ||w_t g_t|| the norm of task t's weighted
 * gradient, G_avg their mean, L~_t = L_t / L_t(0) the loss ratio to the initial loss and
 * r_t = L~_t / mean(L~) the relative inverse training rate, the gradnorm loss is
 *
 *   L_grad = sum_t | G_t - G_avg * r_t^alpha |          (alpha default 1.5)
 *
 * with the target G_avg r_t^alpha held constant (the paper's Section 3.2). Each step uses the
 * current weights for the update of the network, then updates the weights from dL_grad/dw_t =
 * sign(G_t - target_t) ||g_t||. Two conventions:
 *
 * - 'paper' (default): w itself takes a gradient step at rate lr, is floored at a tiny positive
 *   value and renormalised so that sum_t w_t = T (the paper's renormalisation); L_t(0) is the
 *   first step's loss.
 * - 'libmtl': LibMTL's form. w = T softmax(xi) (so sum w = T by construction) and the logits xi
 *   take an Adam step at rate lr on dL_grad/dxi_j = T z_j (a_j - sum_t z_t a_t), z = softmax(xi),
 *   a_t = sign(G_t - target_t) ||g_t||. L_t(0) is the mean training loss of the first epoch
 *   (given by onEpochEnd), and during that first epoch the weights stay 1 and are not learned.
 *   (LibMTL trains xi with the network's optimiser and learning rate: give that lr here.)
 *
 * Which gradients: the paper measures G_t on the last shared layer to save the extra backward
 * passes. Here G already holds every task's gradient of ALL shared parameters (the training
 * loop computes it for every gradient strategy), so we measure the norms on all of them, as
 * LibMTL does: no extra cost, and no dependence on which layer happens to be "last" in
 * MMoE/PLE-like architectures where there is no single one.
 *
 * Shared direction d = sum_t w_t g_t; head weights w_t (the paper weights the whole loss).
 */
import type { Matrix } from '../../core/matrix.js';
import { ValueError } from '../../core/errors.js';
import { num, oneOf, parseOptions } from '../../core/options.js';
import { AdamVector } from './adamVector.js';
import { GradientStrategy, stateArray, stateArrayOrNull } from './base.js';
import { combineRows, gramMatrix, ones, softmax } from './linalg.js';
import type { StrategyResult } from './strategy.js';

export interface GradNormOptions {
  /** Asymmetry: how strongly slow tasks are pushed (default 1.5). */
  alpha?: number;
  /** Learning rate of the weights' update (default 0.025). */
  lr?: number;
  /** 'paper' (default): gradient step on w, renormalised; 'libmtl': Adam on softmax logits, first epoch as L(0). */
  convention?: 'paper' | 'libmtl';
}

/** Weights never fall below this before renormalisation (keeps every task alive). */
const MIN_WEIGHT = 1e-6;

export class GradNorm extends GradientStrategy {
  readonly name = 'gradnorm';
  readonly alpha: number;
  readonly lr: number;
  readonly convention: 'paper' | 'libmtl';
  /** 'paper': the weights themselves. */
  private weights: Float64Array = new Float64Array(0);
  /** 'libmtl': the logits. */
  private logits = new AdamVector(0);
  private initialLosses: Float64Array | null = null;

  constructor(options?: GradNormOptions) {
    super('GradNorm');
    const o = parseOptions<Required<GradNormOptions>>('GradNorm', options, {
      alpha: num({ default: 1.5, min: 0 }),
      lr: num({ default: 0.025, min: 0, exclusiveMin: true }),
      convention: oneOf(['paper', 'libmtl'] as const, 'paper'),
    });
    this.alpha = o.alpha;
    this.lr = o.lr;
    this.convention = o.convention;
  }

  protected override reset(): void {
    const T = this.numTasks;
    this.weights = ones(T);
    this.logits = new AdamVector(T);
    this.initialLosses = null;
  }

  /** The weights the next step will use (a copy). */
  currentWeights(): Float64Array {
    return this.convention === 'paper' ? this.weights.slice() : this.softmaxWeights();
  }

  private softmaxWeights(): Float64Array {
    const w = softmax(this.logits.values);
    for (let t = 0; t < w.length; t++) w[t]! *= w.length;
    return w;
  }

  protected aggregate(g: Matrix<Float64Array>, losses: Float64Array): StrategyResult {
    const n = this.numTasks;
    if (this.convention === 'paper') {
      // Record L(0) on the first step; a zero loss would make the ratio undefined, so floor it.
      this.initialLosses ??= Float64Array.from(losses, (l) => Math.max(l, 1e-12));
    } else if (!this.initialLosses) {
      return { weights: ones(n), shared: combineRows(g, ones(n)) }; // the first epoch: L(0) is being measured
    }
    const w = this.currentWeights();
    const a = this.signedNorms(gramMatrix(g), losses, w, this.initialLosses);
    if (this.convention === 'paper') {
      let sum = 0;
      for (let t = 0; t < n; t++) {
        this.weights[t] = Math.max(MIN_WEIGHT, w[t]! - this.lr * a[t]!);
        sum += this.weights[t]!;
      }
      for (let t = 0; t < n; t++) this.weights[t] = (this.weights[t]! * n) / sum;
    } else {
      // Chain rule through w = T softmax(xi): dL/dxi_j = T z_j (a_j - z . a).
      const z = softmax(this.logits.values);
      let za = 0;
      for (let t = 0; t < n; t++) za += z[t]! * a[t]!;
      const grad = Float64Array.from(z, (zj, j) => n * zj * (a[j]! - za));
      this.logits.step(grad, this.lr);
    }
    return { weights: w, shared: combineRows(g, w) };
  }

  /** dL_grad/dw_t = sign(G_t - target_t) ||g_t|| for the weights w. */
  private signedNorms(m: Float64Array, losses: Float64Array, w: Float64Array, l0: Float64Array): Float64Array {
    const n = this.numTasks;
    const norms = new Float64Array(n);
    const ratio = new Float64Array(n);
    let gAvg = 0;
    let ratioMean = 0;
    for (let t = 0; t < n; t++) {
      norms[t] = Math.sqrt(Math.max(0, m[t * n + t]!));
      gAvg += (w[t]! * norms[t]!) / n;
      ratio[t] = losses[t]! / l0[t]!;
      ratioMean += ratio[t]! / n;
    }
    return Float64Array.from(norms, (nt, t) => {
      const r = ratioMean > 0 ? ratio[t]! / ratioMean : 1;
      return Math.sign(w[t]! * nt - gAvg * Math.pow(r, this.alpha)) * nt;
    });
  }

  /** 'libmtl': the first epoch's mean losses become L(0). */
  onEpochEnd(epochLosses: Float64Array, _epoch: number): void {
    if (this.convention !== 'libmtl' || this.initialLosses) return;
    if (this.numTasks <= 0) throw new ValueError('GradNorm: onEpochEnd() was called before init(numTasks, numShared)');
    // A task without labels in the first epoch has a NaN mean: it keeps ratio 1 until measured.
    this.initialLosses = Float64Array.from({ length: this.numTasks }, (_, t) => {
      const l = epochLosses[t]!;
      return Number.isFinite(l) && l > 0 ? l : 1e-12;
    });
  }

  protected override saveState(): Record<string, unknown> {
    const initialLosses = this.initialLosses ? Array.from(this.initialLosses) : null;
    return this.convention === 'paper'
      ? { weights: Array.from(this.weights), initialLosses }
      : { ...this.logits.save('logits'), initialLosses };
  }

  protected override loadState(s: Record<string, unknown>, n: number): void {
    const initialLosses = stateArrayOrNull(this.label, s.initialLosses, 'initialLosses', n);
    if (this.convention === 'paper') {
      this.weights = stateArray(this.label, s.weights, 'weights', n);
    } else {
      this.logits = AdamVector.load(this.label, s, 'logits', n);
    }
    this.initialLosses = initialLosses;
  }
}
