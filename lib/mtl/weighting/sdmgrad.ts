/**
 * SDMGrad: Xiao, Ban & Ji, "Direction-oriented Multi-objective Learning: Simple and Provable
 * Stochastic Algorithms", NeurIPS 2023.
 *
 * The direction-oriented problem keeps MGDA's worst-case improvement but regularises the update
 * toward a target direction, the average gradient g0 = (1/T) sum_t g_t:
 *
 *   max_d  min_t <g_t, d> - 1/2 ||d||^2 - (lambda / 2) ||d - g0||^2.
 *
 * Its dual over the simplex is min_{w in simplex} 1/2 ||G^T w + lambda g0||^2, and the update is
 *
 *   d = (G^T w* + lambda g0) / (1 + lambda).
 *
 * lambda = 0 is MGDA's min-norm direction and lambda -> infinity plain averaging (g0). The dual is
 * itself a min-norm problem: since sum w = 1, G^T w + lambda g0 = (1 + lambda) G^T B w with
 * B = (I + (lambda / T) 1 1^T) / (1 + lambda), so w* is the min-norm point of the convex hull of
 * the shifted gradients h_t = (g_t + lambda g0) / (1 + lambda), found exactly by MGDA's solver on
 * their Gram matrix B M B (M = G G^T), and d is that min-norm point.
 *
 * The paper's stochastic algorithm approximates w* with a few projected SGD steps on
 * double-sampled (two-batch) Gram products, warm-started across steps, as LibMTL does (20 steps,
 * lambda 0.3); here w* is solved exactly on the step's gradients -- the direction the paper
 * defines, without the inner iterations. MoDo ('modo') is the double-sampling algorithm.
 *
 * Scale: the coefficients (w* + lambda / T) / (1 + lambda) sum to 1, so d is on the
 * mean-gradient scale. Head weights: those coefficients, as CAGrad's.
 */
import type { Matrix } from '../../core/matrix.js';
import { num, parseOptions } from '../../core/options.js';
import { GradientStrategy } from './base.js';
import { combineRows, gramMatrix, minNormSimplex } from './linalg.js';
import type { StrategyResult } from './strategy.js';

export interface SDMGradOptions {
  /** Pull toward the average gradient, lambda >= 0 (default 0.3, LibMTL's SDMGrad_lamda). */
  lambda?: number;
  /** Iteration cap of the min-norm solver (default 1000; a T x T problem). */
  maxIter?: number;
}

/** The coefficients c of d = G^T c (sum c = 1) and the dual weights w*, from the Gram matrix M. */
export function sdmgradSolve(m: Float64Array, n: number, lambda: number, maxIter = 1000): { coef: Float64Array; w: Float64Array } {
  // B = (I + (lambda / n) 1 1^T) / (1 + lambda); (B M B)_ij = (M_ij + a r_i + a r_j + a^2 s) / (1 + lambda)^2
  // with a = lambda / n, r = M 1 (row sums), s = 1^T M 1.
  const a = lambda / n;
  const r = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) r[i] = r[i]! + m[i * n + j]!;
    total += r[i]!;
  }
  const f = 1 / ((1 + lambda) * (1 + lambda));
  const shifted = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) shifted[i * n + j] = f * (m[i * n + j]! + a * r[i]! + a * r[j]! + a * a * total);
  }
  const { alpha: w } = minNormSimplex(shifted, n, maxIter);
  const coef = Float64Array.from(w, (wt) => (wt + a) / (1 + lambda));
  return { coef, w };
}

export class SDMGrad extends GradientStrategy {
  readonly name = 'sdmgrad';
  readonly lambda: number;
  readonly maxIter: number;

  constructor(options?: SDMGradOptions) {
    super('SDMGrad');
    const o = parseOptions<Required<SDMGradOptions>>('SDMGrad', options, {
      lambda: num({ default: 0.3, min: 0 }),
      maxIter: num({ default: 1000, min: 1, integer: true }),
    });
    this.lambda = o.lambda;
    this.maxIter = o.maxIter;
  }

  protected aggregate(g: Matrix<Float64Array>): StrategyResult {
    const { coef } = sdmgradSolve(gramMatrix(g), this.numTasks, this.lambda, this.maxIter);
    return { weights: coef, shared: combineRows(g, coef) };
  }
}
