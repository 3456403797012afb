/**
 * The two baselines every multi-task comparison needs (closed forms, Hoerl & Kennard 1970):
 * - IndependentRidge: one ridge per task,
 *     min_{w_t, b_t} ||X_t w_t + b_t - y_t||^2 + alpha ||w_t||^2,
 *     w_t = (X_tc^T X_tc + alpha I)^{-1} X_tc^T y_tc   (X_tc, y_tc centred per task; b_t unpenalised).
 * - PooledRidge: one ridge for all tasks pooled (every task gets the same w and the same b),
 *     min_{w, b} sum_t ||X_t w + b - y_t||^2 + alpha ||w||^2.
 * The loss is the plain sum of squares (scikit-learn's Ridge), so alpha is in units of X^T X.
 */
import type { Matrix } from '../core/matrix.js';
import { num } from '../core/options.js';
import { ValueError } from '../core/errors.js';
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

export interface RidgeOptions extends BaseOptions {
  /** Ridge strength (>= 0; default 1), used when `cv` is off. */
  alpha?: number;
  /** CV grid of alphas (default: nAlphas points from 1e3 s down to 1e-3 s, s = mean diagonal of X_t^T X_t). */
  alphas?: number[];
  /** Size of the default CV grid (default 13). */
  nAlphas?: number;
}

const ridgeSpec = { ...baseSpec, alpha: num({ default: 1, min: 0 }), alphas: gridSpec(), nAlphas: num({ default: 13, min: 1, integer: true }) };

/** Solve (G + alpha I) w = c; a singular system (alpha 0 with collinear features) is a ValueError. */
export function ridgeSolve(g: Matrix<Float64Array>, c: Matrix<Float64Array>, alpha: number, owner: string): Matrix<Float64Array> {
  const d = g.rows;
  const a = { rows: d, cols: d, data: g.data.slice() };
  for (let j = 0; j < d; j++) a.data[j * d + j]! += alpha;
  try {
    return kernels().choleskySolve(a, c);
  } catch (err) {
    if (err instanceof ValueError) {
      throw new ValueError(`${owner}: X^T X + alpha I is singular at alpha = ${alpha} (collinear or constant features); use alpha > 0`);
    }
    throw err;
  }
}

function defaultAlphas(scale: number, n: number): { alpha: number }[] {
  return logGrid(1e3 * scale, 1e-3 * scale, n).map((alpha) => ({ alpha }));
}

/** One ridge regression per task, each with its own unpenalised intercept. */
export class IndependentRidge extends TaskLinearModel<{ alpha: number }, RidgeOptions> {
  protected readonly loss = 'squared' as const;
  constructor(options?: RidgeOptions) {
    super(options, ridgeSpec);
  }
  protected params() {
    return { alpha: this.config.alpha! };
  }
  protected grid(p: TaskProblem) {
    if (this.config.alphas) return [...this.config.alphas].sort((a, b) => b - a).map((alpha) => ({ alpha }));
    return defaultAlphas(gramScale(centredGrams(p, this.config.fitIntercept).grams), this.config.nAlphas!);
  }
  protected *solve(p: TaskProblem, params: { alpha: number }): Work<Solution> {
    const { c, grams, xty } = centredGrams(p, this.config.fitIntercept);
    const coef = { rows: p.T, cols: p.d, data: new Float64Array(p.T * p.d) };
    for (let t = 0; t < p.T; t++) {
      coef.data.set(ridgeSolve(grams[t]!, xty[t]!, params.alpha, 'IndependentRidge').data, t * p.d);
      if (t % 16 === 15) yield { phase: 'fit' };
    }
    return { coef, intercept: c ? interceptsFrom(coef, c) : new Float64Array(p.T) };
  }
}

const pooledCache = new WeakMap<TaskProblem, TaskProblem>();

/** One ridge regression on all tasks pooled: the same w and intercept for every task. */
export class PooledRidge extends TaskLinearModel<{ alpha: number }, RidgeOptions> {
  protected readonly loss = 'squared' as const;
  constructor(options?: RidgeOptions) {
    super(options, ridgeSpec);
  }
  protected params() {
    return { alpha: this.config.alpha! };
  }
  /** The pooled problem: every row in one task. */
  private pooled(p: TaskProblem): TaskProblem {
    let q = pooledCache.get(p);
    if (!q) pooledCache.set(p, (q = { ...p, T: 1, offsets: Int32Array.of(0, p.x.rows) }));
    return q;
  }
  protected grid(p: TaskProblem) {
    if (this.config.alphas) return [...this.config.alphas].sort((a, b) => b - a).map((alpha) => ({ alpha }));
    const q = this.pooled(p);
    return defaultAlphas(gramScale(centredGrams(q, this.config.fitIntercept).grams), this.config.nAlphas!);
  }
  protected *solve(p: TaskProblem, params: { alpha: number }): Work<Solution> {
    const q = this.pooled(p);
    const { c, grams, xty } = centredGrams(q, this.config.fitIntercept);
    const w = ridgeSolve(grams[0]!, xty[0]!, params.alpha, 'PooledRidge');
    const b = c ? interceptsFrom({ rows: 1, cols: p.d, data: w.data }, c)[0]! : 0;
    const coef = { rows: p.T, cols: p.d, data: new Float64Array(p.T * p.d) };
    for (let t = 0; t < p.T; t++) coef.data.set(w.data, t * p.d);
    return { coef, intercept: new Float64Array(p.T).fill(b) };
  }
}
