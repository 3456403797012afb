/**
 * FairGrad: Ban & Ji, "Fair Resource Allocation in Multi-Task Learning", ICML 2024.
 *
 * The shared update d is a resource the tasks share; task t's utility is its first-order
 * improvement u_t = <g_t, d>. FairGrad allocates it alpha-fairly, maximising
 * sum_t u_t^(1 - alpha) / (1 - alpha) (sum_t log u_t for alpha = 1) under a bound on ||d||,
 * whose optimality conditions give d = G^T w with w > 0 solving
 *
 *   (G G^T w)_t = w_t^(-1/alpha)        i.e.  u_t = <g_t, d> = w_t^(-1/alpha) > 0 for every task.
 *
 * So every task improves to first order; alpha -> 0 favours the total improvement, alpha = 1 is
 * proportional fairness (Nash-MTL's bargaining solution), and alpha -> infinity max-min fairness:
 * the direction of d tends to the one that maximises the smallest improvement, min_t <g_t, d> /
 * ||d||, which is MGDA's min-norm direction. The equation is solved exactly (damped Newton on a
 * strictly convex function, see fairSolve.ts), where the paper's code hands it to a
 * least-squares solver from w = 1/T. Tasks with a zero gradient take no part (their head weight
 * is the mean weight of the others).
 *
 * Head weights: w, as in the paper's code, which weights each task's loss by w_t.
 */
import { num, parseOptions } from '../../core/options.js';
import { FairWeighting } from './fairSolve.js';

export interface FairGradOptions {
  /** Fairness alpha > 0 (default 1, LibMTL's FairGrad_alpha: proportional fairness). */
  alpha?: number;
  /** Newton iteration cap (default 100). */
  maxIter?: number;
  /** Tolerance on max_t |w_t^(1/alpha) (G G^T w)_t - 1| (default 1e-10). */
  tol?: number;
}

export class FairGrad extends FairWeighting {
  readonly name = 'fairgrad';
  readonly options: Required<FairGradOptions>;

  constructor(options?: FairGradOptions) {
    super('FairGrad', 'weights');
    this.options = parseOptions<Required<FairGradOptions>>('FairGrad', options, {
      alpha: num({ default: 1, min: 0, exclusiveMin: true }),
      maxIter: num({ default: 100, min: 1, integer: true }),
      tol: num({ default: 1e-10, min: 0, exclusiveMin: true, max: 1 }),
    });
  }

  protected solver(): Required<FairGradOptions> {
    return this.options;
  }
}
