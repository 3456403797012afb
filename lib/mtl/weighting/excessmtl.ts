/**
 * ExcessMTL: He, Zhou, Zhang, Yun, Xu, Zeng, Chilimbi & Zhao, "Robust Multi-Task Learning with
 * Excess Risks", ICML 2024.
 *
 * Loss-based weightings give large weights to tasks with large losses, which under label noise
 * are the noisy tasks (large Bayes error, nothing left to learn). ExcessMTL weights tasks by
 * their EXCESS risk L_t(theta) - L_t(theta*), the distance to convergence, estimated by a
 * second-order Taylor expansion around the current point with a diagonal curvature estimate
 * (as the authors' code: the square root of the accumulated squared gradients, AdaGrad's):
 *
 *   A_t <- A_t + g_t^2                         (elementwise, over the steps so far)
 *   e_t = sum_k g_tk^2 / sqrt(A_tk + 1e-7)      (~ g_t^T H_t^(-1) g_t; the Taylor factor 1/2 cancels below)
 *
 * Each estimate is divided by the task's first one (e_t / e_t(1)), which makes tasks of
 * different loss scales comparable, and the weights take an exponentiated-gradient (multiplicative
 * weights) step of the min-max problem max_w sum_t w_t (L_t - L_t*), renormalised to sum to T:
 *
 *   w_t <- w_t exp(stepSize * e_t / e_t(1)),    w <- T w / sum w          (w = 1 at start)
 *
 * The first step only records e(1) and keeps w = 1; every step trains with the weights after its
 * update (as the authors' code). A task whose gradient is still zero has no estimate yet; its
 * first non-zero estimate becomes its reference. Weighting the whole loss: head weights w_t and
 * shared direction sum_t w_t g_t.
 */
import type { Matrix } from '../../core/matrix.js';
import { num, parseOptions } from '../../core/options.js';
import { GradientStrategy, stateArray, stateArrayOrNull } from './base.js';
import { combineRows, ones } from './linalg.js';
import type { StrategyResult } from './strategy.js';

export interface ExcessMTLOptions {
  /** Step size of the multiplicative weight update (default 0.01, LibMTL's robust_step_size). */
  stepSize?: number;
}

export class ExcessMTL extends GradientStrategy {
  readonly name = 'excessmtl';
  readonly stepSize: number;
  /** T x S accumulated squared gradients, row-major. */
  private squares: Float64Array = new Float64Array(0);
  /** Each task's first non-zero excess-risk estimate (0 until there is one); null before the first step. */
  private reference: Float64Array | null = null;
  private weights: Float64Array = new Float64Array(0);

  constructor(options?: ExcessMTLOptions) {
    super('ExcessMTL');
    this.stepSize = parseOptions<Required<ExcessMTLOptions>>('ExcessMTL', options, {
      stepSize: num({ default: 0.01, min: 0, exclusiveMin: true }),
    }).stepSize;
  }

  protected override reset(): void {
    this.squares = new Float64Array(this.numTasks * this.numShared);
    this.reference = null;
    this.weights = ones(this.numTasks);
  }

  /** The weights of the last step (a copy). */
  currentWeights(): Float64Array {
    return this.weights.slice();
  }

  protected aggregate(g: Matrix<Float64Array>): StrategyResult {
    const T = this.numTasks;
    const S = this.numShared;
    const excess = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      let e = 0;
      for (let j = t * S; j < (t + 1) * S; j++) {
        const v = g.data[j]!;
        this.squares[j] = this.squares[j]! + v * v;
        e += (v * v) / Math.sqrt(this.squares[j]! + 1e-7);
      }
      excess[t] = e;
    }
    if (!this.reference) {
      this.reference = excess;
    } else {
      let sum = 0;
      for (let t = 0; t < T; t++) {
        if (this.reference[t] === 0) this.reference[t] = excess[t]!; // the first estimate of a task that had none
        const ratio = this.reference[t]! > 0 ? excess[t]! / this.reference[t]! : 0;
        this.weights[t] = this.weights[t]! * Math.exp(this.stepSize * ratio);
        sum += this.weights[t]!;
      }
      for (let t = 0; t < T; t++) this.weights[t] = (T * this.weights[t]!) / sum;
    }
    const weights = this.weights.slice();
    return { weights, shared: combineRows(g, weights) };
  }

  protected override saveState(): Record<string, unknown> {
    // The T x S accumulator as a Float64Array: compact and exact in the model format.
    return {
      numShared: this.numShared,
      squares: this.squares.slice(),
      reference: this.reference ? Array.from(this.reference) : null,
      weights: Array.from(this.weights),
    };
  }

  protected override loadState(s: Record<string, unknown>, n: number, numShared: number): void {
    const squares = stateArray(this.label, s.squares, 'squares', n * numShared);
    const reference = stateArrayOrNull(this.label, s.reference, 'reference', n);
    this.weights = stateArray(this.label, s.weights, 'weights', n);
    this.squares = squares;
    this.reference = reference;
  }
}
