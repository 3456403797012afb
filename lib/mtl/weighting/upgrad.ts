/**
 * UPGrad: "Jacobian Descent for Multi-Objective Optimization", Quinton & Rey, 2024
 * (arXiv:2406.16232), the Unconflicting Projection of Gradients aggregator.
 *
 * Project each task gradient onto the dual cone of the rows of G (the vectors with a
 * non-negative inner product with every task gradient) and average the projections:
 *
 *   d = (1/T) sum_i pi(g_i),     pi(x) = argmin_{v : G v >= 0} || v - x ||^2.
 *
 * For x = G^T u in the row space of G, the projection is G^T w with w solving the small dual
 * problem (the paper's Proposition 1)
 *
 *   w = argmin_{v >= u} v^T M v,      M = G G^T,
 *
 * so pi(g_i) = G^T w_i with w_i from u = e_i. Substituting v = e_i + z makes it a non-negative
 * QP, min_{z >= 0} 1/2 z^T M z + (M e_i)^T z, solved by coordinate descent with an exact
 * active-set polish (nonnegQP in linalg.ts). Its KKT conditions say (M w_i)_j >= 0 for every j,
 * i.e. <g_j, pi(g_i)> >= 0: each projection, hence their average, conflicts with no task.
 *
 * By default we solve the exact problem, which the active-set polish handles even for a singular
 * M. The reference implementation (torchjd, and LibMTL's copy of it) solves it for
 * M / tr(M) + 1e-4 I instead, a ridge that makes M positive definite for its QP solver but pulls
 * the projections toward the unprojected gradients; `ridge: 1e-4` reproduces it. (The reference
 * also treats a Gram matrix of trace below 1e-4 as zero, i.e. returns the mean gradient for tiny
 * gradients; we do not.) The ridge does not change the scale of d: w is the same for M and cM.
 *
 * Scale: the average of T projections, on the mean-gradient scale (torchjd's default preference
 * vector 1/T). Head weights: 1 for every task (torchjd's mtl_backward aggregates the shared
 * parameters only; each head gets its own task's gradient).
 */
import type { Matrix } from '../../core/matrix.js';
import { num, parseOptions } from '../../core/options.js';
import { GradientStrategy } from './base.js';
import { combineRows, gramMatrix, nonnegQP, ones } from './linalg.js';
import type { StrategyResult } from './strategy.js';

export interface UPGradOptions {
  /** Added to the diagonal of M / tr(M) before solving: 0 (default) solves the exact problem; the reference uses 1e-4. */
  ridge?: number;
}

/** M / tr(M) + ridge I (M itself when ridge is 0). */
export function ridgedGram(m: Float64Array, n: number, ridge: number): Float64Array {
  if (ridge === 0) return m;
  let trace = 0;
  for (let i = 0; i < n; i++) trace += m[i * n + i]!;
  const out = trace > 0 ? m.map((v) => v / trace) : new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = out[i * n + i]! + ridge;
  return out;
}

/** The coefficients w with d = G^T w, from the Gram matrix M. */
export function upgradWeights(m: Float64Array, n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const q = new Float64Array(n); // M e_i: the linear term of (e_i + z)^T M (e_i + z) / 2
    for (let j = 0; j < n; j++) q[j] = m[j * n + i]!;
    const z = nonnegQP(m, q, n);
    for (let j = 0; j < n; j++) w[j] = w[j]! + (z[j]! + (j === i ? 1 : 0)) / n;
  }
  return w;
}

export class UPGrad extends GradientStrategy {
  readonly name = 'upgrad';
  readonly ridge: number;

  constructor(options?: UPGradOptions) {
    super('UPGrad');
    this.ridge = parseOptions<Required<UPGradOptions>>('UPGrad', options, { ridge: num({ default: 0, min: 0 }) }).ridge;
  }

  protected aggregate(g: Matrix<Float64Array>): StrategyResult {
    const n = this.numTasks;
    const coef = upgradWeights(ridgedGram(gramMatrix(g), n, this.ridge), n);
    return { weights: ones(n), shared: combineRows(g, coef) };
  }
}
