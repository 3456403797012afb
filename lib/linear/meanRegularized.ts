/**
 * Mean-regularised multi-task learning (Evgeniou & Pontil, "Regularized multi-task learning",
 * KDD 2004): every task's weights are a shared part plus a task-specific offset, w_t = w0 + v_t,
 *     min_{w0, v, b}  sum_t ||X_t (w0 + v_t) + b_t - y_t||^2 + lambda1 sum_t ||v_t||^2 + lambda2 ||w0||^2
 * (plain sums of squares like IndependentRidge; b_t unpenalised, i.e. X_t and y_t centred per task).
 * lambda1 -> infinity gives PooledRidge with alpha = lambda2 (up to per-task intercepts);
 * lambda1 -> 0 gives IndependentRidge with alpha = lambda1.
 *
 * Closed form through the d x d Schur complement: for fixed w0, v_t = A_t^{-1} X_t^T (y_t - X_t w0)
 * with A_t = X_t^T X_t + lambda1 I; substituting back (X^T (I - X A^{-1} X^T) = lambda1 A^{-1} X^T),
 *     H w0 = rhs,  H = sum_t lambda1 (I - lambda1 A_t^{-1}) + lambda2 I,  rhs = sum_t lambda1 A_t^{-1} X_t^T y_t,
 * and w_t = w0 + v_t = A_t^{-1} X_t^T y_t + lambda1 A_t^{-1} w0.
 * Cost: T Cholesky solves of size d plus one more, independent of the number of rows.
 */
import { ValueError } from '../core/errors.js';
import { num } from '../core/options.js';
import { kernels } from '../kernels/index.js';
import {
  TaskLinearModel,
  baseSpec,
  centredGrams,
  gramScale,
  gridSpec,
  interceptsFrom,
  logGrid,
  type BaseOptions,
  type Solution,
  type TaskProblem,
  type Work,
} from './taskModel.js';

export interface MeanRegularizedOptions extends BaseOptions {
  /** Strength of the task-specific offsets v_t (> 0; default 1). */
  lambda1?: number;
  /** Strength of the shared part w0 (> 0; default 1). */
  lambda2?: number;
  /**
   * CV grid for lambda1 (default: nLambdas points from 1e5 s to 1e-3 s, log-spaced, s = mean
   * diagonal of X_t^T X_t). The top end is effectively pooled (v_t ~ 0), the bottom end
   * effectively independent ridge per task.
   */
  lambda1s?: number[];
  /**
   * CV grid for lambda2 (default: nLambdas points from 10 T s to 1e-7 T s). The bottom end leaves
   * the shared part w0 effectively unpenalised, where the CV error usually flattens out.
   */
  lambda2s?: number[];
  /** Size of each default CV grid (default 9, so 81 pairs: one point per decade of lambda1). */
  nLambdas?: number;
}

type MrParams = { lambda1: number; lambda2: number };

/** w_t = w0 + v_t with ridge penalties on both parts (closed form; see the file comment). */
export class MeanRegularizedRegression extends TaskLinearModel<MrParams, MeanRegularizedOptions> {
  protected readonly loss = 'squared' as const;
  constructor(options?: MeanRegularizedOptions) {
    super(options, {
      ...baseSpec,
      lambda1: num({ default: 1, min: 0, exclusiveMin: true }),
      lambda2: num({ default: 1, min: 0, exclusiveMin: true }),
      lambda1s: gridSpec(),
      lambda2s: gridSpec(),
      nLambdas: num({ default: 9, min: 1, integer: true }),
    });
    const zero = [...(this.config.lambda1s ?? []), ...(this.config.lambda2s ?? [])].some((v) => v <= 0);
    if (zero) throw new ValueError('MeanRegularizedRegression: lambda1s and lambda2s must be > 0');
  }
  protected params(): MrParams {
    return { lambda1: this.config.lambda1!, lambda2: this.config.lambda2! };
  }
  protected grid(p: TaskProblem): MrParams[] {
    const s = gramScale(centredGrams(p, this.config.fitIntercept).grams);
    const n = this.config.nLambdas!;
    // Wide on purpose: on School the CV error is flat beyond 1e2 s in lambda1 and below 1e-5 T s in
    // lambda2, and a narrower grid (1e3 s .. 1e-2 s, 10 T s .. 1e-4 T s) had its optimum on the edge.
    const l1 = this.config.lambda1s ? [...this.config.lambda1s].sort((a, b) => b - a) : logGrid(1e5 * s, 1e-3 * s, n);
    const l2 = this.config.lambda2s ? [...this.config.lambda2s].sort((a, b) => b - a) : logGrid(10 * p.T * s, 1e-7 * p.T * s, n);
    const out: MrParams[] = [];
    for (const lambda1 of l1) for (const lambda2 of l2) out.push({ lambda1, lambda2 });
    return out;
  }
  protected *solve(p: TaskProblem, { lambda1, lambda2 }: MrParams): Work<Solution> {
    const K = kernels();
    const d = p.d;
    const { c } = centredGrams(p, this.config.fitIntercept);
    // The grid is walked lambda1-major, so the per-task inverses (the expensive part) are cached
    // for the last lambda1 of each problem and re-used for every lambda2.
    let cached = invCache.get(p);
    if (!cached || cached.lambda1 !== lambda1 || cached.fitIntercept !== this.config.fitIntercept) {
      cached = yield* this.inverses(p, lambda1);
      invCache.set(p, cached);
    }
    const { inv, u } = cached;
    const H = { rows: d, cols: d, data: cached.H.slice() };
    const rhs = { rows: d, cols: 1, data: cached.rhs.slice() };
    for (let i = 0; i < d; i++) H.data[i * d + i]! += lambda2;
    // Symmetrise: A_t^{-1} from a Cholesky solve is symmetric only up to rounding.
    for (let i = 0; i < d; i++)
      for (let j = 0; j < i; j++) {
        const v = 0.5 * (H.data[i * d + j]! + H.data[j * d + i]!);
        H.data[i * d + j] = v;
        H.data[j * d + i] = v;
      }
    const w0 = K.choleskySolve(H, rhs).data;
    const coef = { rows: p.T, cols: d, data: new Float64Array(p.T * d) };
    for (let t = 0; t < p.T; t++) {
      const Ai = inv[t]!;
      for (let i = 0; i < d; i++) {
        let s = u[t]![i]!;
        for (let j = 0; j < d; j++) s += lambda1 * Ai[i * d + j]! * w0[j]!;
        coef.data[t * d + i] = s;
      }
    }
    return { coef, intercept: c ? interceptsFrom(coef, c) : new Float64Array(p.T) };
  }

  /** A_t^{-1}, A_t^{-1} X_t^T y_t, and the lambda2-free parts of H and rhs, for one lambda1. */
  private *inverses(p: TaskProblem, lambda1: number): Work<InvCache> {
    const K = kernels();
    const d = p.d;
    const { grams, xty } = centredGrams(p, this.config.fitIntercept);
    const H = { rows: d, cols: d, data: new Float64Array(d * d) };
    const rhs = { rows: d, cols: 1, data: new Float64Array(d) };
    const inv: Float64Array[] = [];
    const u: Float64Array[] = [];
    for (let t = 0; t < p.T; t++) {
      // One solve gives both A_t^{-1} (first d columns) and A_t^{-1} X_t^T y_t (last column).
      const A = { rows: d, cols: d, data: grams[t]!.data.slice() };
      for (let j = 0; j < d; j++) A.data[j * d + j]! += lambda1;
      const B = { rows: d, cols: d + 1, data: new Float64Array(d * (d + 1)) };
      for (let j = 0; j < d; j++) {
        B.data[j * (d + 1) + j] = 1;
        B.data[j * (d + 1) + d] = xty[t]!.data[j]!;
      }
      const S = K.choleskySolve(A, B);
      const Ai = new Float64Array(d * d);
      const ut = new Float64Array(d);
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) Ai[i * d + j] = S.data[i * (d + 1) + j]!;
        ut[i] = S.data[i * (d + 1) + d]!;
      }
      inv.push(Ai);
      u.push(ut);
      for (let i = 0; i < d * d; i++) H.data[i]! -= lambda1 * lambda1 * Ai[i]!;
      for (let i = 0; i < d; i++) {
        H.data[i * d + i]! += lambda1;
        rhs.data[i]! += lambda1 * ut[i]!;
      }
      if (t % 32 === 31) yield { phase: 'fit' };
    }
    return { lambda1, fitIntercept: this.config.fitIntercept, inv, u, H: H.data, rhs: rhs.data };
  }
}

interface InvCache {
  lambda1: number;
  fitIntercept: boolean;
  inv: Float64Array[];
  u: Float64Array[];
  H: Float64Array;
  rhs: Float64Array;
}
const invCache = new WeakMap<TaskProblem, InvCache>();
