/**
 * MGDA with the min-norm solver: "Multi-Task Learning as Multi-Objective Optimization", Sener &
 * Koltun, NeurIPS 2018.
 *
 * The common descent direction of the Multiple Gradient Descent Algorithm (Desideri 2012) is the
 * min-norm point of the convex hull of the task gradients:
 *
 *   alpha* = argmin_{alpha in simplex} || sum_t alpha_t g_t ||^2,    d = sum_t alpha*_t g_t
 *
 * solved on the T x T Gram matrix by the Frank-Wolfe solver of the paper's Algorithm 2 (exact
 * 2-point line search, started from the best pair as in their MinNormSolver), with away steps
 * added so that it converges linearly to the exact point (see minNormSimplex in linalg.ts).
 * The paper's MGDA-UB applies this to the gradients w.r.t. the shared representation; here G is
 * whatever the training loop passes (the shared parameters), the solver is the same.
 *
 * Gradient normalisation (the official code and LibMTL's `mgda_gn`), g_t <- g_t / n_t with
 *   'none': n_t = 1;  'l2': n_t = ||g_t||;  'loss': n_t = L_t;  'loss+': n_t = L_t ||g_t||.
 * The min-norm problem is solved on the normalised gradients and d is their alpha-combination,
 * as in LibMTL.
 *
 * Scale: alpha sums to 1, so d is on the scale of the MEAN task gradient, as in the paper and
 * LibMTL (which does not rescale by T). `scale: 'tasks'` multiplies alpha (and d) by T, which puts
 * MGDA on the scale of equal weighting with weight 1 per task, so a learning rate tuned for
 * 'equal' carries over.
 *
 * Head weights: alpha (times T with scale 'tasks'), as in the paper's code, which scales each
 * task's whole loss by alpha_t.
 */
import { num, oneOf, parseOptions } from '../../core/options.js';
import type { Matrix } from '../../core/matrix.js';
import { GradientStrategy } from './base.js';
import { combineRows, gramMatrix, minNormSimplex } from './linalg.js';
import type { StrategyResult } from './strategy.js';

export type MGDANormalization = 'none' | 'l2' | 'loss' | 'loss+';

export interface MGDAOptions {
  /** Gradient normalisation before the min-norm solve (default 'none'). */
  normalization?: MGDANormalization;
  /** 'simplex' (default): weights sum to 1; 'tasks': weights sum to T. */
  scale?: 'simplex' | 'tasks';
  /** Frank-Wolfe iteration cap (default 1000; a T x T problem, microseconds). */
  maxIter?: number;
}

export class MGDA extends GradientStrategy {
  readonly name = 'mgda';
  readonly options: Required<MGDAOptions>;

  constructor(options?: MGDAOptions) {
    super('MGDA');
    this.options = parseOptions<Required<MGDAOptions>>('MGDA', options, {
      normalization: oneOf(['none', 'l2', 'loss', 'loss+'] as const, 'none'),
      scale: oneOf(['simplex', 'tasks'] as const, 'simplex'),
      maxIter: num({ default: 1000, min: 1, integer: true }),
    });
  }

  protected aggregate(g: Matrix<Float64Array>, losses: Float64Array): StrategyResult {
    const n = this.numTasks;
    const m = gramMatrix(g);
    // Normaliser n_t for each task; a zero normaliser (zero gradient or zero loss) leaves the
    // gradient as is rather than dividing by zero.
    const inv = new Float64Array(n);
    for (let t = 0; t < n; t++) {
      const norm = Math.sqrt(Math.max(0, m[t * n + t]!));
      const loss = losses[t]!;
      let nt = 1;
      switch (this.options.normalization) {
        case 'l2': nt = norm; break;
        case 'loss': nt = loss; break;
        case 'loss+': nt = loss * norm; break;
        case 'none': break;
      }
      inv[t] = nt > 0 && Number.isFinite(nt) ? 1 / nt : 1;
    }
    const mn = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) mn[i * n + j] = m[i * n + j]! * inv[i]! * inv[j]!;
    const { alpha } = minNormSimplex(mn, n, this.options.maxIter);
    const factor = this.options.scale === 'tasks' ? n : 1;
    const weights = Float64Array.from(alpha, (a) => a * factor);
    // d = sum_t weights_t (g_t / n_t) = G^T (weights / n).
    const coef = Float64Array.from(weights, (w, t) => w * inv[t]!);
    return { weights, shared: combineRows(g, coef) };
  }
}
