/**
 * MoDo: Chen, Fernando, Ying & Chen, "Three-Way Trade-Off in Multi-Objective Learning:
 * Optimization, Generalization and Conflict-Avoidance", NeurIPS 2023 (Algorithm 1, "MoDo",
 * multi-objective gradient with double sampling).
 *
 * MGDA's weights lambda minimise 1/2 ||G^T lambda||^2 over the simplex. With stochastic gradients,
 * G G^T from ONE batch is a biased estimate of the true Gram matrix (its noise adds a positive
 * semi-definite term), so MoDo takes a projected stochastic-gradient step on lambda whose
 * gradient uses two INDEPENDENT batches, G_a G_b^T lambda, unbiased, and moves the model along a
 * third one, G_c^T lambda:
 *
 *   lambda <- Proj_simplex(lambda - gamma (G_a G_b^T lambda + rho lambda)),     d = G_c^T lambda.
 *
 * A training loop gives one batch per step, so the three samples are taken from consecutive
 * steps, which are independent batches: step k moves along d_k = G_k^T lambda_k -- lambda_k
 * depends only on earlier batches, so it is independent of G_k as the paper's third sample --
 * and then updates lambda with the previous and the current batch,
 *
 *   lambda_{k+1} = Proj_simplex(lambda_k - gamma (G_{k-1} G_k^T lambda_k + rho lambda_k)),
 *
 * which needs one product G_{k-1} d_k and the previous step's gradients (kept in the state).
 * lambda starts at 1/T; the first step only records its gradients. Defaults are LibMTL's
 * (gamma 1e-3, rho 0.1); gamma is in units of the gradients' squared size, so scale it with them.
 *
 * Scale: lambda sums to 1, so d is on the mean-gradient scale, as MGDA. Head weights: lambda.
 */
import type { Matrix } from '../../core/matrix.js';
import { num, parseOptions } from '../../core/options.js';
import { GradientStrategy, stateArray, stateArrayOrNull } from './base.js';
import { applyRows, combineRows, projectSimplex } from './linalg.js';
import type { StrategyResult } from './strategy.js';

export interface MoDoOptions {
  /** Step size of the weights lambda (default 1e-3). */
  gamma?: number;
  /** l2 regularisation of lambda's problem (default 0.1). */
  rho?: number;
}

export class MoDo extends GradientStrategy {
  readonly name = 'modo';
  readonly gamma: number;
  readonly rho: number;
  private lambda: Float64Array = new Float64Array(0);
  /** The previous step's T x S gradients (null before the first step). */
  private previous: Float64Array | null = null;

  constructor(options?: MoDoOptions) {
    super('MoDo');
    const o = parseOptions<Required<MoDoOptions>>('MoDo', options, {
      gamma: num({ default: 1e-3, min: 0, exclusiveMin: true }),
      rho: num({ default: 0.1, min: 0 }),
    });
    this.gamma = o.gamma;
    this.rho = o.rho;
  }

  protected override reset(): void {
    this.lambda = new Float64Array(this.numTasks).fill(1 / this.numTasks);
    this.previous = null;
  }

  /** The weights the next step will use (a copy). */
  currentWeights(): Float64Array {
    return this.lambda.slice();
  }

  protected aggregate(g: Matrix<Float64Array>): StrategyResult {
    const weights = this.lambda.slice();
    const d = combineRows(g, weights);
    if (this.previous) {
      // G_{k-1} G_k^T lambda_k = G_{k-1} d_k.
      const u = applyRows({ rows: g.rows, cols: g.cols, data: this.previous }, d);
      this.lambda = projectSimplex(Float64Array.from(weights, (l, t) => l - this.gamma * (u[t]! + this.rho * l)));
    }
    this.previous = g.data.slice();
    return { weights, shared: d };
  }

  protected override saveState(): Record<string, unknown> {
    // The T x S gradients as a Float64Array: compact and exact in the model format.
    return { numShared: this.numShared, lambda: Array.from(this.lambda), previous: this.previous ? this.previous.slice() : null };
  }

  protected override loadState(s: Record<string, unknown>, n: number, numShared: number): void {
    const previous = stateArrayOrNull(this.label, s.previous, 'previous', n * numShared);
    this.lambda = stateArray(this.label, s.lambda, 'lambda', n);
    this.previous = previous;
  }
}
