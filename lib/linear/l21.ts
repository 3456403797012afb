/**
 * Joint feature selection across tasks (Argyriou, Evgeniou & Pontil, "Convex multi-task feature
 * learning", Machine Learning 73, 2008; Obozinski, Taskar & Jordan 2010):
 *     min_{W, b}  sum_t (1/n_t) loss_t(X_t w_t + b_t, y_t) + alpha ||W||_{2,1},
 *     ||W||_{2,1} = sum_j ||W[:, j]||_2   (W is T x d, so group j = feature j across all tasks),
 * with the squared loss (1/2)||.||^2 (L21Regression) or the logistic loss (L21Logistic, labels 0/1).
 * A feature is either used by every task or by none. Solved by FISTA (fista.ts) with the row-wise
 * group soft-threshold as prox; intercepts unpenalised.
 * Optimality (squared loss): with R_t = y_t - X_t w_t - b_t and G[t, j] = X_t[:, j]^T R_t / n_t,
 * G[:, j] = alpha W[:, j] / ||W[:, j]|| for a non-zero column, ||G[:, j]|| <= alpha for a zero one.
 */
import { ProxTaskModel, proxSpec, type ProxModelOptions } from './proxModel.js';

export type L21Options = ProxModelOptions;

/** Multi-task regression with the L2,1 penalty (shared sparsity pattern). */
export class L21Regression extends ProxTaskModel {
  protected readonly loss = 'squared' as const;
  protected readonly kind = 'l21' as const;
  constructor(options?: L21Options) {
    super(options, proxSpec);
  }
}

/**
 * Multi-task logistic regression (binary tasks, labels 0/1) with the L2,1 penalty. predict gives
 * labels (Int32Array), predictProba P(y = 1), score the accuracy.
 */
export class L21Logistic extends ProxTaskModel<Int32Array> {
  protected readonly loss = 'logistic' as const;
  protected readonly kind = 'l21' as const;
  constructor(options?: L21Options) {
    super(options, proxSpec);
  }

  /** P(y = 1 | x) for the task called `taskName`. */
  predictProba(taskName: string, X: unknown): Float64Array {
    return this.probability('predictProba', taskName, X);
  }
}
