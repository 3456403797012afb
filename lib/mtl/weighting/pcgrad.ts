/**
 * PCGrad: "Gradient Surgery for Multi-Task Learning", Yu, Kumar, Gupta, Levine, Hausman & Finn,
 * NeurIPS 2020.
 *
 * For each task i, visit the other tasks j in a random order; whenever the (already projected)
 * gradient conflicts with the ORIGINAL gradient of task j, remove the conflicting component:
 *
 *   if g_i' . g_j < 0:   g_i' <- g_i' - (g_i' . g_j / ||g_j||^2) g_j
 *
 * and update the shared parameters along d = sum_i g_i'.
 *
 * Every projected gradient stays a linear combination of the original ones, g_i' = G^T c_i, and
 * every inner product it needs is c_i^T M e_j with M = G G^T. So the whole procedure runs on the
 * T x T Gram matrix (one gemm), and d = G^T (sum_i c_i) is a second gemm: no S-length vector is
 * touched T^2 times.
 *
 * Guarantee: for two tasks, the two projected gradients never have a negative inner product.
 * For three or more, each projection can re-create a conflict removed by an earlier one, as in
 * the paper; PCGrad does not promise more.
 *
 * Head weights: 1 for every task. The surgery concerns the shared parameters; each head only
 * receives its own task's gradient, as in the paper's and LibMTL's implementations.
 */
import { parseOptions } from '../../core/options.js';
import type { Matrix } from '../../core/matrix.js';
import { GradientStrategy } from './base.js';
import { combineRows, gramMatrix, ones } from './linalg.js';
import { sequentialSurgery, sumRows } from './surgery.js';
import type { StrategyResult, StrategyStep } from './strategy.js';

export interface PCGradOptions {}

export class PCGrad extends GradientStrategy {
  readonly name = 'pcgrad';

  constructor(options?: PCGradOptions) {
    super('PCGrad');
    parseOptions<PCGradOptions>('PCGrad', options, {});
  }

  protected aggregate(g: Matrix<Float64Array>, _losses: Float64Array, step: StrategyStep): StrategyResult {
    const coef = pcgradCoefficients(gramMatrix(g), this.numTasks, step.rng);
    return { weights: ones(this.numTasks), shared: combineRows(g, coef) };
  }
}

/** The coefficients w with d = G^T w (the sum of the projected gradients), from M = G G^T. */
export function pcgradCoefficients(m: Float64Array, n: number, rng: { permutation(n: number): Int32Array }): Float64Array {
  return sumRows(pcgradProjections(m, n, rng), n);
}

/** Each projected gradient as its coefficient vector c_i (g_i' = G^T c_i), in task order. */
export function pcgradProjections(m: Float64Array, n: number, rng: { permutation(n: number): Int32Array }): Float64Array[] {
  return sequentialSurgery(n, rng, (c, _i, j) => {
    const njj = m[j * n + j]!;
    if (njj <= 0) return; // a zero gradient conflicts with nothing
    let gij = 0; // g_i' . g_j = c^T M e_j
    for (let k = 0; k < n; k++) gij += c[k]! * m[k * n + j]!;
    if (gij < 0) c[j] = c[j]! - gij / njj;
  });
}
