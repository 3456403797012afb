/**
 * Correlations of the working-set solver from a precomputed Gram matrix, in plain TypeScript: the
 * fallback twin of native/src/kernels/cdgram.cc.
 *
 * With G = Xc^T Xc (d x d) and Xc^T Y (d x T) computed once, the correlations with the residual
 * R = Y - Xc W are X_j^T R = (Xc^T Y)_j - sum_{s in S} G[j, s] W_s over the support S (the non-zero
 * rows of W): |S| T multiply-adds per feature instead of n T, and no residual at all (the Gram
 * variant of coordinate descent; Friedman, Hastie & Tibshirani, J. Stat. Softw. 33, 2010, section
 * 2.2, "covariance updates"). Every value is a difference, product or square root of two doubles
 * in a fixed order (support order, then tasks), so the twins agree bit for bit.
 */
import type { Matrix } from '../../core/matrix.js';

export function cdGramCorrelations(
  gram: Matrix<Float64Array>,
  xty: Matrix<Float64Array>,
  w: Matrix<Float64Array>,
  support: Int32Array,
  cols: Int32Array,
  out: Matrix<Float64Array>,
  norms?: Float64Array,
): void {
  const d = gram.cols;
  const T = xty.cols;
  const G = gram.data;
  const C = xty.data;
  const W = w.data;
  const O = out.data;
  const m = support.length;
  for (let c = 0; c < cols.length; c++) {
    const j = cols[c]!;
    const row = j * d;
    const o = c * T;
    for (let t = 0; t < T; t++) O[o + t] = C[j * T + t]!;
    for (let s = 0; s < m; s++) {
      const k = support[s]!;
      const g = G[row + k]!;
      const ws = k * T;
      for (let t = 0; t < T; t++) O[o + t] = O[o + t]! - g * W[ws + t]!;
    }
    if (norms) {
      let q = 0;
      for (let t = 0; t < T; t++) q += O[o + t]! * O[o + t]!;
      norms[c] = Math.sqrt(q);
    }
  }
}
