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
 * active-set polish (nonnegQP in small.ts). Its KKT conditions say (M w_i)_j >= 0 for every j,
 * i.e. <g_j, pi(g_i)> >= 0: each projection, hence their average, conflicts with no task.
 *
 * The reference implementation (torchjd) regularises M by 1e-4 I after normalising it; we solve
 * the exact problem, which the active-set polish handles even for a singular M.
 *
 * Scale: the average of T projections, on the mean-gradient scale (torchjd's default preference
 * vector 1/T). Head weights: 1 for every task (torchjd's mtl_backward aggregates the shared
 * parameters only; each head gets its own task's gradient).
 */
import { parseOptions } from '../../core/options.js';
import { checkInit, combineRows, gramMatrix, nonnegQP, ones, stateObject, stepGrads } from './small.js';
import type { StrategyResult, StrategyStep, WeightingStrategy } from './strategy.js';

export interface UPGradOptions {}

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

export class UPGrad implements WeightingStrategy {
  readonly name = 'upgrad';
  readonly needsGradients = true;
  private numTasks = 0;
  private numShared = 0;

  constructor(options?: UPGradOptions) {
    parseOptions<UPGradOptions>('UPGrad', options, {});
  }

  init(numTasks: number, numShared: number): void {
    checkInit('UPGrad', numTasks, numShared);
    this.numTasks = numTasks;
    this.numShared = numShared;
  }

  combine(step: StrategyStep): StrategyResult {
    const g = stepGrads('UPGrad', step, this.numTasks, this.numShared);
    const coef = upgradWeights(gramMatrix(g), this.numTasks);
    return { weights: ones(this.numTasks), shared: combineRows(g, coef) };
  }

  getState(): unknown {
    return {};
  }

  setState(state: unknown): void {
    stateObject('UPGrad', state);
  }
}
