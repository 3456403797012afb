/**
 * GradDrop: Chen, Ngiam, Huang, Luong, Kretzschmar, Chai & Anguelov, "Just Pick a Sign:
 * Optimizing Deep Multitask Models with Gradient Sign Dropout", NeurIPS 2020.
 *
 * At every shared parameter k, the task gradients g_tk may disagree in sign. GradDrop measures
 * their positive sign purity
 *
 *   P_k = 1/2 (1 + sum_t g_tk / sum_t |g_tk|)            (in [0, 1]; 1 when all are positive)
 *
 * draws U_k ~ Uniform(0, 1) and keeps only one sign: the positive components when P_k > U_k, the
 * negative ones when P_k < U_k. With the mask M_tk = [P_k > U_k][g_tk > 0] + [P_k < U_k][g_tk < 0]
 * and the leak l (the paper's leak parameters, one for all tasks here),
 *
 *   d_k = sum_t (l + (1 - l) M_tk) g_tk.
 *
 * So with l = 0 every coordinate of the update carries a single sign, chosen with probability
 * equal to the sign's share of the total gradient mass: a coordinate where all tasks agree is
 * never dropped, and E[d_k] = P_k pos_k + (1 - P_k) neg_k with pos_k, neg_k the sums of the
 * positive and negative components. l = 1 is plain summation.
 *
 * The paper applies GradDrop to the gradients at a layer's activations (summed over the batch
 * after multiplying by the sign of the inputs, as LibMTL does with representation gradients);
 * MultiTaskNet gives the gradients of the shared parameters, to which the same rule applies per
 * parameter. The draws come from the run's seeded generator (step.rng), one per shared parameter
 * and step. Head weights: 1 (each head receives its own task's gradient).
 */
import type { Matrix } from '../../core/matrix.js';
import { num, parseOptions } from '../../core/options.js';
import { GradientStrategy } from './base.js';
import { ones } from './linalg.js';
import type { StrategyResult, StrategyStep } from './strategy.js';

export interface GradDropOptions {
  /** Share of every gradient that passes whatever the sign (the paper's leak), in [0, 1]; default 0 (LibMTL's). */
  leak?: number;
}

export class GradDrop extends GradientStrategy {
  readonly name = 'graddrop';
  readonly leak: number;

  constructor(options?: GradDropOptions) {
    super('GradDrop');
    this.leak = parseOptions<Required<GradDropOptions>>('GradDrop', options, { leak: num({ default: 0, min: 0, max: 1 }) }).leak;
  }

  protected aggregate(g: Matrix<Float64Array>, _losses: Float64Array, step: StrategyStep): StrategyResult {
    return { weights: ones(this.numTasks), shared: gradDrop(g, this.leak, () => step.rng.uniform()) };
  }
}

/** The GradDrop update d (length S) of the T x S gradients, with U_k drawn by `uniform` in parameter order. */
export function gradDrop(g: Matrix<Float64Array>, leak: number, uniform: () => number): Float64Array {
  const T = g.rows;
  const S = g.cols;
  const d = new Float64Array(S);
  for (let k = 0; k < S; k++) {
    let sum = 0;
    let mass = 0;
    for (let t = 0; t < T; t++) {
      const v = g.data[t * S + k]!;
      sum += v;
      mass += Math.abs(v);
    }
    const u = uniform(); // drawn for every parameter, so the draws do not depend on the values
    if (mass === 0) continue;
    const purity = 0.5 * (1 + sum / mass);
    const keepPositive = purity > u;
    const keepNegative = purity < u;
    let dk = 0;
    for (let t = 0; t < T; t++) {
      const v = g.data[t * S + k]!;
      const kept = (keepPositive && v > 0) || (keepNegative && v < 0);
      dk += (kept ? 1 : leak) * v;
    }
    d[k] = dk;
  }
  return d;
}
