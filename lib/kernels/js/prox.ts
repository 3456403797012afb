/**
 * Proximal operators in plain TypeScript: the fallback twin of native/src/kernels/prox.cc.
 *
 * - groupSoftThreshold: prox of threshold * sum_j ||W[j,:]||_2 (the l2,1 norm), row-wise
 *   W[j,:] <- max(0, 1 - threshold / ||W[j,:]||) W[j,:] (Yuan & Lin 2006; Parikh & Boyd,
 *   "Proximal Algorithms", 2014, sec. 6.5.4).
 * - svt: prox of threshold * ||W||_* (trace norm), singular-value thresholding
 *   U max(S - threshold, 0) V^T (Cai, Candes & Shen, SIAM J. Optim. 20, 2010).
 */
import type { Matrix } from '../../core/matrix.js';
import type { SvtResult } from '../types.js';
import { svd } from './linalg.js';

export function groupSoftThreshold(w: Matrix<Float64Array>, threshold: number): number {
  const { rows, cols, data } = w;
  let nonZero = 0;
  for (let j = 0; j < rows; j++) {
    const base = j * cols;
    let ss = 0;
    for (let t = 0; t < cols; t++) ss += data[base + t]! * data[base + t]!;
    const nrm = Math.sqrt(ss);
    // `nrm > threshold` is false for an all-zero row even at threshold 0, which avoids 0/0.
    if (nrm > threshold) {
      const shrink = 1 - threshold / nrm;
      for (let t = 0; t < cols; t++) data[base + t]! *= shrink;
      nonZero++;
    } else {
      data.fill(0, base, base + cols);
    }
  }
  return nonZero;
}

export function svt(w: Matrix<Float64Array>, threshold: number): SvtResult {
  const { rows: m, cols: n } = w;
  const { u, s, vt } = svd(w);
  const k = s.length;
  // s is descending, so the kept singular values are a prefix.
  let rank = 0;
  let nuclearNorm = 0;
  const shrunk = new Float64Array(k);
  for (let l = 0; l < k; l++) {
    if (s[l]! > threshold) {
      shrunk[l] = s[l]! - threshold;
      nuclearNorm += shrunk[l]!;
      rank++;
    }
  }
  // result = U[:, :rank] diag(shrunk) V^T[:rank, :], accumulated row by row (i-l-j order so the
  // inner loop runs along contiguous rows of V^T and of the result).
  const out = new Float64Array(m * n);
  const U = u.data;
  const Vt = vt.data;
  for (let i = 0; i < m; i++) {
    const oBase = i * n;
    for (let l = 0; l < rank; l++) {
      const coef = U[i * k + l]! * shrunk[l]!;
      const vBase = l * n;
      for (let j = 0; j < n; j++) out[oBase + j]! += coef * Vt[vBase + j]!;
    }
  }
  return { result: { rows: m, cols: n, data: out }, rank, nuclearNorm };
}
