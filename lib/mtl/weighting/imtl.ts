/**
 * IMTL-G: "Towards Impartial Multi-task Learning", Liu, Li, Kuang, Xue, Chen, Yang, Liao &
 * Zhang, ICLR 2021 (the gradient-balance half of IMTL; the loss-scale half, IMTL-L, is a
 * loss-based strategy).
 *
 * Find weights alpha (sum alpha = 1) such that the aggregated gradient g = sum_t alpha_t g_t has
 * EQUAL projections onto every unit task gradient u_t = g_t / ||g_t||:  g . u_1 = g . u_t for all t.
 * With D = [g_1 - g_2, ..., g_1 - g_T]^T and U = [u_1 - u_2, ..., u_1 - u_T]^T, the closed form is
 *
 *   alpha_{2:T} = g_1 U^T (D U^T)^{-1},      alpha_1 = 1 - sum_{t >= 2} alpha_t.
 *
 * Every product involved is an inner product of task gradients, so the (T-1) x (T-1) system is
 * built from the Gram matrix M = G G^T and solved by Gaussian elimination with pivoting. When it
 * is singular (two tasks with parallel gradients, a zero gradient) the condition does not fix the
 * weights; we fall back to equal weights 1/T for that step.
 *
 * Scale: alpha sums to 1 (the paper's convention), so d is on the mean-gradient scale. alpha may
 * have negative entries: the paper does not constrain them.
 *
 * Head weights: 1. IMTL balances the gradients of the SHARED parameters; each task's own
 * parameters follow the gradient of its own loss (loss-scaled in full IMTL, where IMTL-L learns
 * the scales), as in the paper and LibMTL. Giving a head its alpha instead would make a head
 * with a negative alpha step UP its own loss. The alpha of the last step is `lastAlpha`.
 */
import type { Matrix } from '../../core/matrix.js';
import { parseOptions } from '../../core/options.js';
import { GradientStrategy } from './base.js';
import { combineRows, gramMatrix, ones, solveSmall } from './linalg.js';
import type { StrategyResult } from './strategy.js';

export interface IMTLOptions {}

/** The IMTL-G weights from the Gram matrix M (T x T); null when the system is singular. */
export function imtlWeights(m: Float64Array, n: number): Float64Array | null {
  if (n === 1) return Float64Array.of(1);
  const norm = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    norm[t] = Math.sqrt(Math.max(0, m[t * n + t]!));
    if (norm[t] === 0) return null;
  }
  const k = n - 1;
  // (D U^T)_{rs} = (g_1 - g_{r+1}) . (u_1 - u_{s+1});  (g_1 U^T)_s = g_1 . (u_1 - u_{s+1}).
  // g_a . u_b = M_ab / ||g_b||.
  const gu = (a: number, b: number): number => m[a * n + b]! / norm[b]!;
  const du = new Float64Array(k * k);
  const rhs = new Float64Array(k);
  for (let r = 0; r < k; r++) {
    for (let s = 0; s < k; s++) du[r * k + s] = gu(0, 0) - gu(0, s + 1) - gu(r + 1, 0) + gu(r + 1, s + 1);
  }
  for (let s = 0; s < k; s++) rhs[s] = gu(0, 0) - gu(0, s + 1);
  // alpha_rest is a row vector: alpha_rest (D U^T) = g_1 U^T  <=>  (D U^T)^T alpha_rest^T = rhs.
  const duT = new Float64Array(k * k);
  for (let r = 0; r < k; r++) for (let s = 0; s < k; s++) duT[s * k + r] = du[r * k + s]!;
  const rest = solveSmall(duT, rhs, k);
  if (!rest || !rest.every(Number.isFinite)) return null;
  const alpha = new Float64Array(n);
  let sum = 0;
  for (let t = 1; t < n; t++) {
    alpha[t] = rest[t - 1]!;
    sum += alpha[t]!;
  }
  alpha[0] = 1 - sum;
  return alpha;
}

export class IMTL extends GradientStrategy {
  readonly name = 'imtl';
  private alpha: Float64Array = new Float64Array(0);

  constructor(options?: IMTLOptions) {
    super('IMTL');
    parseOptions<IMTLOptions>('IMTL', options, {});
  }

  /** The shared-parameter weights alpha of the last step (a copy; empty before the first). */
  get lastAlpha(): Float64Array {
    return this.alpha.slice();
  }

  protected aggregate(g: Matrix<Float64Array>): StrategyResult {
    const n = this.numTasks;
    this.alpha = imtlWeights(gramMatrix(g), n) ?? new Float64Array(n).fill(1 / n);
    return { weights: ones(n), shared: combineRows(g, this.alpha) };
  }
}
