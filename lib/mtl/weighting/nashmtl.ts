/**
 * Nash-MTL: "Multi-Task Learning as a Bargaining Game", Navon, Shamsian, Achituve, Maron,
 * Kawaguchi, Chechik & Fetaya, ICML 2022.
 *
 * The Nash bargaining solution gives the update d = sum_t alpha_t g_t with alpha > 0 solving
 *
 *   G G^T alpha = 1 / alpha        (elementwise; the paper's Eq. 3: <g_t, d> = 1 / alpha_t).
 *
 * The paper solves it with a sequence of convex approximations handed to cvxpy. We solve the
 * equation itself by damped Newton on a strictly convex function whose minimiser it defines
 * (solveFair in fairSolve.ts, the alpha = 1 case of FairGrad's alpha-fair weights), to a relative
 * residual max_t |alpha_t (M alpha)_t - 1| <= tol (default 1e-10), warm-started from the previous
 * step's alpha as the official code warm-starts from prvs_alpha. Tasks whose gradient is exactly
 * zero take no part in the bargaining (their alpha would be infinite); their head weight is the
 * mean alpha of the others. When the gradients cancel exactly (no solution exists) a tiny ridge
 * is added, see fairSolve.ts.
 *
 * The official code divides the Gram matrix by its Frobenius norm N before solving, but the same
 * factor enters its constraint (alpha_t N (M alpha / N)_t >= 1), so it cancels: its alpha solves
 * the paper's M alpha = 1/alpha, and so does ours by default. `normalizeGram: true` is a variant:
 * it solves (M / N) alpha' = 1/alpha', i.e. alpha' = sqrt(N) alpha, whose direction is
 * proportional to the gradients' size (the exact solution has ||d||^2 = alpha^T M alpha = T
 * whatever their size, a normalised step that does not shrink near an optimum).
 *
 * Where the official code's linearised sub-problem has no finite optimum (one task opposing the
 * sum of the others at alpha = 1), it falls back to equal weights for that step; the
 * Newton solution here is the exact Nash solution in that case too, which we keep. The official
 * code also clips the update's norm (max_norm = 1); use the optimizer's gradient clipping for
 * that. Head weights: alpha, as in the paper, which weights each task's loss by alpha_t.
 */
import { bool, num, parseOptions } from '../../core/options.js';
import { FairWeighting, solveFair } from './fairSolve.js';

export interface NashMTLOptions {
  /** Newton iteration cap (default 100). */
  maxIter?: number;
  /** Tolerance on max_t |alpha_t (M alpha)_t - 1| (default 1e-10). */
  tol?: number;
  /** Solve for G G^T / ||G G^T||_F instead of G G^T: alpha scaled by ||G G^T||_F^(1/2) (default false, the paper's equation). */
  normalizeGram?: boolean;
}

export interface NashSolution {
  alpha: Float64Array;
  iterations: number;
  converged: boolean;
  /** The ridge that had to be added (0 when the exact equation was solved). */
  ridge: number;
}

/** Solve M alpha = 1/alpha (alpha > 0) for a T x T Gram matrix M with positive diagonal. */
export function nashSolve(m: Float64Array, n: number, start?: Float64Array, maxIter = 100, tol = 1e-10): NashSolution {
  const { weights, ...rest } = solveFair(m, n, 1, start, maxIter, tol);
  return { alpha: weights, ...rest };
}

export class NashMTL extends FairWeighting {
  readonly name = 'nashmtl';
  readonly options: Required<NashMTLOptions>;

  constructor(options?: NashMTLOptions) {
    super('NashMTL', 'alpha');
    this.options = parseOptions<Required<NashMTLOptions>>('NashMTL', options, {
      maxIter: num({ default: 100, min: 1, integer: true }),
      tol: num({ default: 1e-10, min: 0, exclusiveMin: true, max: 1 }),
      normalizeGram: bool(false),
    });
  }

  protected solver(): Required<NashMTLOptions> & { alpha: number } {
    return { ...this.options, alpha: 1 };
  }
}
