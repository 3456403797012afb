/**
 * Low-rank multi-task regression (trace-norm regularisation; Ji & Ye, "An accelerated gradient
 * method for trace norm minimization", ICML 2009; Pong, Tseng, Ji & Ye 2010):
 *     min_{W, b}  sum_t (1/(2 n_t)) ||X_t w_t + b_t - y_t||^2 + alpha ||W||_*,
 * ||W||_* the sum of the singular values of the T x d W: the tasks' weight vectors are pushed
 * into a low-dimensional shared subspace. Solved by FISTA (fista.ts) with singular-value
 * thresholding as prox; intercepts unpenalised.
 * Optimality: with G the gradient of the smooth part, -G = alpha (U V^T + N), U^T N = 0, N V = 0,
 * ||N||_2 <= 1 (W = U S V^T); equivalently W is a fixed point of W -> svt(W - G/L, alpha/L).
 */
import { ProxTaskModel, proxSpec, type ProxModelOptions } from './proxModel.js';

export type TraceNormOptions = ProxModelOptions;

/** Multi-task regression with the trace-norm penalty (low-rank W). */
export class TraceNormRegression extends ProxTaskModel {
  protected readonly loss = 'squared' as const;
  protected readonly kind = 'trace' as const;
  constructor(options?: TraceNormOptions) {
    super(options, proxSpec);
  }
}
