/**
 * The shared part of the models solved by FISTA (L21Regression, L21Logistic, TraceNormRegression):
 *     min_{W, b}  sum_t (1/n_t) loss_t(X_t w_t + b_t, y_t) + alpha g(W)
 * with loss_t = (1/2) ||.||^2 (squared) or the logistic loss, and g the L2,1 or trace norm.
 * Options, the default alpha grid (from alpha_max, where W = 0 becomes optimal, down to
 * eps alpha_max, log-spaced, as in glmnet and scikit-learn), and warm starts along it.
 */
import { num } from '../core/options.js';
import { alphaMax, solveProx, type PenaltyKind } from './fista.js';
import { TaskLinearModel, baseSpec, gridSpec, logGrid, type BaseOptions, type Solution, type TaskPrediction, type TaskProblem, type Work } from './taskModel.js';

export interface ProxModelOptions extends BaseOptions {
  /** Penalty strength (>= 0; default 1), used when `cv` is off. */
  alpha?: number;
  /** CV grid (default: nAlphas points from alpha_max down to eps alpha_max, log-spaced). */
  alphas?: number[];
  /** Size of the default CV grid (default 10). */
  nAlphas?: number;
  /** Smallest alpha of the default grid relative to alpha_max (default 1e-3). */
  eps?: number;
  /**
   * FISTA stops when both the gradient-mapping step and the objective change are small relative
   * to the solution: ||W+ - Y||_F <= tol max(1, ||W+||_F) and |F+ - F| <= tol max(1, |F+|)
   * (default 1e-6; on School, tightening it to 1e-8 moves the test explained variance by less
   * than 0.1 point).
   */
  tol?: number;
  /**
   * FISTA tolerance for the fits of the CV path (default: tol). The path only has to rank the grid
   * points; the final fit always uses tol. On School, 1e-5 here picks the same alpha as 1e-6 at
   * half the work.
   */
  cvTol?: number;
  /** FISTA iteration limit per fit (default 10000). */
  maxIter?: number;
}

export const proxSpec = {
  ...baseSpec,
  alpha: num({ default: 1, min: 0 }),
  alphas: gridSpec(),
  nAlphas: num({ default: 10, min: 1, integer: true }),
  eps: num({ default: 1e-3, min: 0, max: 1, exclusiveMin: true }),
  tol: num({ default: 1e-6, min: 0 }),
  cvTol: num({ min: 0 }),
  maxIter: num({ default: 10000, min: 1, integer: true }),
};

export abstract class ProxTaskModel<Y extends TaskPrediction = Float64Array> extends TaskLinearModel<{ alpha: number }, ProxModelOptions, Y> {
  protected abstract readonly kind: PenaltyKind;
  protected override readonly warmStarts = true;

  protected params() {
    return { alpha: this.config.alpha! };
  }
  protected grid(p: TaskProblem) {
    if (this.config.alphas) return [...this.config.alphas].sort((a, b) => b - a).map((alpha) => ({ alpha }));
    const hi = alphaMax(p, this.loss, this.kind, this.config.fitIntercept) || 1;
    return logGrid(hi, hi * this.config.eps!, this.config.nAlphas!).map((alpha) => ({ alpha }));
  }
  protected solve(p: TaskProblem, params: { alpha: number }, warm: Solution | null, phase: 'cv' | 'fit'): Work<Solution> {
    const tol = phase === 'cv' ? (this.config.cvTol ?? this.config.tol!) : this.config.tol!;
    return solveProx(
      p,
      { loss: this.loss, kind: this.kind, alpha: params.alpha, fitIntercept: this.config.fitIntercept, tol, maxIter: this.config.maxIter! },
      warm,
    );
  }
}
