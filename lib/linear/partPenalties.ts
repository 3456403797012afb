/**
 * The non-smooth penalties of the structured multi-task models, each on a T x d coefficient block
 * (row t = task t, column j = feature j), with its value, its proximal operator and its dual norm
 * (the dual norm of the loss gradient at W = 0 is the strength from which the block is zero: the
 * top of a regularisation path).
 *
 *   'l1'       sum_{t,j} |W_tj|                 prox: soft-thresholding (Tibshirani 1996)
 *   'features' sum_j ||W[:, j]||_2  (L2,1)       prox: group soft-thresholding per feature (Yuan & Lin 2006)
 *   'tasks'    sum_t ||W[t, :]||_2              prox: group soft-thresholding per task
 *   'l1inf'    sum_j max_t |W_tj|   (L1,inf)     prox: per feature, v - proj_{||.||_1 <= thr}(v)
 *                                               = clip(v, -theta, theta) (Moreau; Duchi et al., ICML 2008)
 *   'trace'    sum of singular values           prox: singular-value thresholding (Cai, Candes & Shen 2010)
 *
 * The group and trace proxes run through the kernels (groupSoftThreshold, gram/symEig/gemm); the
 * elementwise and L1,inf ones are O(T d) passes over W, the same order of work as FISTA's own
 * vector updates, and stay here.
 */
import type { Matrix } from '../core/matrix.js';
import { kernels } from '../kernels/index.js';
import { dualNorm, penaltyProx, penaltyValue } from './fista.js';

export type PartPenaltyName = 'l1' | 'features' | 'tasks' | 'l1inf' | 'trace';

export interface PartPenalty {
  /** g(W). */
  value(w: Matrix<Float64Array>): number;
  /** In place W <- prox_{threshold g}(W); returns g at the result. */
  prox(w: Matrix<Float64Array>, threshold: number): number;
  /** The dual norm g*(G): g's strength from which W = 0 is optimal when G is the loss gradient at 0. */
  dual(g: Matrix<Float64Array>): number;
}

export const PART_PENALTIES: Readonly<Record<PartPenaltyName, PartPenalty>> = {
  l1: {
    value: (w) => sumAbs(w.data),
    prox: (w, thr) => softThreshold(w.data, thr),
    dual: (g) => maxAbs(g.data),
  },
  features: {
    value: (w) => penaltyValue('l21', w),
    prox: (w, thr) => penaltyProx('l21', w, thr),
    dual: (g) => dualNorm('l21', g),
  },
  tasks: {
    value: (w) => rowNorms(w).reduce((a, b) => a + b, 0),
    prox: (w, thr) => {
      kernels().groupSoftThreshold(w, thr);
      return rowNorms(w).reduce((a, b) => a + b, 0);
    },
    dual: (g) => Math.max(0, ...rowNorms(g)),
  },
  l1inf: {
    value: l1InfNorm,
    prox: l1InfProx,
    dual: (g) => {
      // The dual of sum_j max_t |.| is max_j sum_t |.|.
      let m = 0;
      for (let j = 0; j < g.cols; j++) {
        let s = 0;
        for (let t = 0; t < g.rows; t++) s += Math.abs(g.data[t * g.cols + j]!);
        m = Math.max(m, s);
      }
      return m;
    },
  },
  trace: {
    value: (w) => penaltyValue('trace', w),
    prox: (w, thr) => penaltyProx('trace', w, thr),
    dual: (g) => dualNorm('trace', g),
  },
};

/** ||W[t, :]||_2 for every task t. */
export function rowNorms(w: Matrix<Float64Array>): number[] {
  const out: number[] = [];
  for (let t = 0; t < w.rows; t++) {
    let s = 0;
    for (let j = 0; j < w.cols; j++) s += w.data[t * w.cols + j]! ** 2;
    out.push(Math.sqrt(s));
  }
  return out;
}

function sumAbs(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += Math.abs(v[i]!);
  return s;
}

function maxAbs(v: Float64Array): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!));
  return m;
}

/** In place v_i <- sign(v_i) max(|v_i| - thr, 0); returns ||v||_1 after. */
export function softThreshold(v: Float64Array, thr: number): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]!) - thr;
    if (a > 0) {
      v[i] = v[i]! > 0 ? a : -a;
      s += a;
    } else v[i] = 0;
  }
  return s;
}

/** sum over features j of max_t |W_tj|. */
export function l1InfNorm(w: Matrix<Float64Array>): number {
  let s = 0;
  for (let j = 0; j < w.cols; j++) {
    let m = 0;
    for (let t = 0; t < w.rows; t++) m = Math.max(m, Math.abs(w.data[t * w.cols + j]!));
    s += m;
  }
  return s;
}

/**
 * Prox of thr * sum_j ||W[:, j]||_inf, feature by feature. By Moreau's decomposition,
 * prox_{thr ||.||_inf}(v) = v - P(v) with P the projection onto the L1 ball of radius thr: zero when
 * ||v||_1 <= thr, else P(v) = sign(v) max(|v| - theta, 0) with sum_i max(|v_i| - theta, 0) = thr, so
 * the prox clips v to [-theta, theta]. theta comes from the sorted magnitudes (Duchi, Shalev-Shwartz,
 * Singer & Chandra, "Efficient projections onto the l1-ball", ICML 2008). Returns the norm after.
 */
export function l1InfProx(w: Matrix<Float64Array>, thr: number): number {
  const { rows: T, cols: d, data } = w;
  const u = new Float64Array(T);
  let norm = 0;
  for (let j = 0; j < d; j++) {
    let l1 = 0;
    for (let t = 0; t < T; t++) {
      u[t] = Math.abs(data[t * d + j]!);
      l1 += u[t]!;
    }
    if (l1 <= thr) {
      for (let t = 0; t < T; t++) data[t * d + j] = 0;
      continue;
    }
    if (!(thr > 0)) {
      let m = 0;
      for (let t = 0; t < T; t++) m = Math.max(m, u[t]!);
      norm += m;
      continue;
    }
    u.sort().reverse();
    // The largest r with u_r > (sum_{i<=r} u_i - thr) / r gives theta = (sum_{i<=r} u_i - thr) / r.
    let cum = 0;
    let theta = 0;
    for (let r = 0; r < T; r++) {
      cum += u[r]!;
      const th = (cum - thr) / (r + 1);
      if (u[r]! > th) theta = th;
      else break;
    }
    for (let t = 0; t < T; t++) {
      const v = data[t * d + j]!;
      if (v > theta) data[t * d + j] = theta;
      else if (v < -theta) data[t * d + j] = -theta;
    }
    norm += theta;
  }
  return norm;
}
