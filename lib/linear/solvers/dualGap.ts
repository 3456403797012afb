/**
 * Duality gap and gap-safe sphere of the multi-task elastic net, in the n-scaled form the
 * coordinate-descent kernels use:
 *   P(W) = (1/2) ||R||_F^2 + l1Reg sum_j ||W_j||_2 + (l2Reg/2) ||W||_F^2,   R = Y - X W.
 * The elastic net is a group lasso on the augmented data X~ = [X; sqrt(l2Reg) I], Y~ = [Y; 0],
 * whose residual is R~ = [R; -sqrt(l2Reg) W]; its dual is
 *   D(theta) = (1/2) ||Y||^2 - (l1Reg^2/2) ||theta - Y~/l1Reg||^2,  subject to ||X~_j^T theta|| <= 1,
 * with X~_j^T R~ = X_j^T R - l2Reg W_j (scikit-learn's XtA). The dual point is the rescaled residual
 *   theta = R~ / max(l1Reg, max_j ||X~_j^T R~||),
 * so that with c = min(1, l1Reg / max_j ||X~_j^T R~||) the gap P(W) - D(theta) is scikit-learn's
 * (sklearn/linear_model/_cd_fast.pyx, enet_coordinate_descent_multi_task):
 *   gap = (1/2)(1 + c^2) ||R||^2 + l1Reg sum_j ||W_j|| - c <R, Y> + (l2Reg/2)(1 + c^2) ||W||^2.
 *
 * Gap-safe screening (Fercoq, Gramfort & Salmon, "Mind the duality gap: safer rules for the lasso",
 * ICML 2015; Ndiaye, Fercoq, Gramfort & Salmon, "Gap safe screening rules for sparsity enforcing
 * penalties", JMLR 18, 2017, section 4 for the group / multi-task case): D is l1Reg^2-strongly
 * concave, so the dual optimum lies in the ball of radius r = sqrt(2 gap) / l1Reg around any
 * feasible theta, and
 *   ||X~_j^T theta|| + r ||X~_j|| < 1   implies   W*_j = 0,   with ||X~_j||^2 = ||X_j||^2 + l2Reg.
 */

/** The scalar parts of P and of the gap at one point W with residual R. */
export interface GapParts {
  /** ||R||_F^2. */
  rNormSq: number;
  /** <R, Y>. */
  ry: number;
  /** sum_j ||W_j||_2. */
  l21: number;
  /** ||W||_F^2. */
  wNormSq: number;
}

/** P(W) of the n-scaled problem. */
export function primalObjective(p: GapParts, l1Reg: number, l2Reg: number): number {
  return 0.5 * p.rNormSq + l1Reg * p.l21 + 0.5 * l2Reg * p.wNormSq;
}

/** scikit-learn's duality gap, given dualNorm = max_j ||X~_j^T R~|| over the features that can be non-zero. */
export function dualityGapOf(p: GapParts, dualNorm: number, l1Reg: number, l2Reg: number): number {
  const c = dualNorm > l1Reg ? l1Reg / dualNorm : 1;
  return 0.5 * (1 + c * c) * p.rNormSq + l1Reg * p.l21 - c * p.ry + 0.5 * l2Reg * (1 + c * c) * p.wNormSq;
}

/**
 * Radius of the gap-safe sphere, sqrt(2 gap) / l1Reg (Infinity without an l1 penalty). The gap is
 * computed from sums of order ||Y||^2, so it is floored at a few hundred ulps of yNormSq: rounding
 * can make a small gap look smaller than it is, never safer.
 */
export function safeRadius(gap: number, l1Reg: number, yNormSq: number): number {
  if (!(l1Reg > 0)) return Infinity;
  return Math.sqrt(2 * (Math.max(gap, 0) + 1e-13 * yNormSq)) / l1Reg;
}

/**
 * Relative slack of the sphere test: a feature is discarded only when
 * ||X~_j^T theta|| + r ||X~_j|| < 1 - SCREEN_MARGIN, far beyond the rounding of the correlations.
 */
export const SCREEN_MARGIN = 1e-9;

/**
 * The gap-safe sphere test for feature j: `xi` is ||X~_j^T R~|| (or an upper bound of it), `scale`
 * the dual scaling max(l1Reg, max_j ||X~_j^T R~||) (or an upper bound), so theta = R~ / scale;
 * true when W*_j = 0 is proven.
 */
export function provenZero(xi: number, scale: number, radius: number, colNormSq: number, l2Reg: number): boolean {
  return xi / scale + radius * Math.sqrt(colNormSq + l2Reg) < 1 - SCREEN_MARGIN;
}

/** sum_j ||W_j||_2 and ||W||_F^2 of W (rows x T, row-major), over the listed rows (all when omitted). */
export function normsOf(w: Float64Array, T: number, rows?: ArrayLike<number>): { l21: number; wNormSq: number } {
  let l21 = 0;
  let wNormSq = 0;
  const count = rows ? rows.length : w.length / T;
  for (let r = 0; r < count; r++) {
    const o = (rows ? rows[r]! : r) * T;
    let s = 0;
    for (let t = 0; t < T; t++) s += w[o + t]! * w[o + t]!;
    if (s > 0) {
      l21 += Math.sqrt(s);
      wNormSq += s;
    }
  }
  return { l21, wNormSq };
}
