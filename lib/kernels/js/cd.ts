/**
 * Coordinate descent for the multi-task elastic net in plain TypeScript: the fallback twin of
 * native/src/kernels/cd.cc. One sweep of scikit-learn's enet_coordinate_descent_multi_task
 * (sklearn/linear_model/_cd_fast.pyx), which minimises
 *   (1/2) ||Y - X W||_F^2 + l1Reg sum_j ||W[j,:]||_2 + (l2Reg/2) ||W||_F^2
 * by exact block minimisation over one row W[j,:] at a time (block coordinate descent; Friedman,
 * Hastie & Tibshirani, J. Stat. Softw. 33, 2010; Obozinski, Taskar & Jordan 2010):
 *   tmp = X[:,j]^T R + ||X[:,j]||^2 W[j,:]          (R the residual before the update)
 *   W[j,:] = tmp max(0, 1 - l1Reg / ||tmp||) / (||X[:,j]||^2 + l2Reg)
 *   R -= X[:,j] (W[j,:]_new - W[j,:]_old)
 * X and R are stored transposed (xt d x n, rt T x n) so every dot product and residual update runs
 * along a contiguous row.
 */
import type { CdSweepArgs, CdSweepResult } from '../types.js';

export function mtenetSweep(args: CdSweepArgs): CdSweepResult {
  const { xt, rt, w, colNormSq, l1Reg, l2Reg, order } = args;
  const n = xt.cols;
  const T = w.cols;
  const X = xt.data;
  const R = rt.data;
  const W = w.data;
  const tmp = new Float64Array(T);
  const wOld = new Float64Array(T);
  let wMax = 0;
  let dwMax = 0;
  for (let o = 0; o < order.length; o++) {
    const j = order[o]!;
    const cj = colNormSq[j]!;
    // An all-zero feature has no effect on the fit; scikit-learn leaves its coefficients alone
    // and does not count it in wMax / dwMax.
    if (cj === 0) continue;
    const xBase = j * n;
    const wBase = j * T;
    let nrmSq = 0;
    for (let t = 0; t < T; t++) {
      const old = W[wBase + t]!;
      wOld[t] = old;
      const v = dot(X, xBase, R, t * n, n) + cj * old;
      tmp[t] = v;
      nrmSq += v * v;
    }
    const nrm = Math.sqrt(nrmSq);
    // Group soft-threshold then ridge shrinkage. `nrm > l1Reg` also covers nrm = 0 (no 0/0).
    const shrink = nrm > l1Reg ? (1 - l1Reg / nrm) / (cj + l2Reg) : 0;
    let dw = 0;
    let wa = 0;
    for (let t = 0; t < T; t++) {
      const next = tmp[t]! * shrink;
      W[wBase + t] = next;
      const delta = next - wOld[t]!;
      // Skipping unchanged tasks saves a pass over n samples per zero row, the common case
      // for sparse solutions.
      if (delta !== 0) {
        const rBase = t * n;
        for (let i = 0; i < n; i++) R[rBase + i]! -= X[xBase + i]! * delta;
      }
      dw = Math.max(dw, Math.abs(delta));
      wa = Math.max(wa, Math.abs(next));
    }
    dwMax = Math.max(dwMax, dw);
    wMax = Math.max(wMax, wa);
  }
  return { wMax, dwMax };
}

/**
 * x[xo..xo+n) . r[ro..ro+n) with four independent accumulators: V8 does not vectorise, and a
 * single running sum is bound by the latency of each addition (about 3x slower here).
 */
function dot(x: Float64Array, xo: number, r: Float64Array, ro: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += x[xo + i]! * r[ro + i]!;
    s1 += x[xo + i + 1]! * r[ro + i + 1]!;
    s2 += x[xo + i + 2]! * r[ro + i + 2]!;
    s3 += x[xo + i + 3]! * r[ro + i + 3]!;
  }
  for (; i < n; i++) s0 += x[xo + i]! * r[ro + i]!;
  return s0 + s1 + (s2 + s3);
}
