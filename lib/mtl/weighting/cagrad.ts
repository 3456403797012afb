/**
 * CAGrad: "Conflict-Averse Gradient Descent for Multi-task Learning", Liu, Liu, Jin, Stone & Liu,
 * NeurIPS 2021.
 *
 * With g0 = (1/T) sum_t g_t the average gradient and c in [0, 1), CAGrad picks the update d that
 * maximises the worst-case local improvement within a ball around g0:
 *
 *   max_d min_t <g_t, d>   s.t.  ||d - g0|| <= c ||g0||.
 *
 * Its dual over the simplex (the paper's Eq. 4, with phi = c^2 ||g0||^2 and g_w = sum_t w_t g_t)
 *
 *   min_{w in simplex}  F(w) = <g_w, g0> + sqrt(phi) ||g_w||
 *
 * is a T-dimensional convex problem on the Gram matrix M: <g_w, g0> = w^T M 1/T and
 * ||g_w||^2 = w^T M w. We solve it by projected gradient descent on the simplex with
 * backtracking (Beck & Teboulle's sufficient-decrease test) and a growing step, which finds
 * the support and w to ~1e-8, then polish with Newton's method on the KKT equations of that
 * support (kept only when it verifies the KKT conditions), which gives w to rounding; then
 *
 *   d = g0 + (sqrt(phi) / ||g_w||) g_w,     returned as d / (1 + c^2)
 *
 * the rescaling of the official implementation (rescale=1), which keeps the step size of
 * c = 0 (plain averaging) comparable. By strong duality min_t <g_t, d> = F(w*) before the
 * rescale, which the tests use as an optimality certificate.
 *
 * Scale: d is on the scale of the MEAN gradient, as in the paper. Head weights: the coefficients
 * of d, (1/T + lambda w_t) / (1 + c^2), so heads and shared part move on the same scale.
 */
import { bool, num, parseOptions } from '../../core/options.js';
import type { Matrix } from '../../core/matrix.js';
import { GradientStrategy } from './base.js';
import { combineRows, gramMatrix, matVec, projectSimplex, solveSmall } from './linalg.js';
import type { StrategyResult } from './strategy.js';

export interface CAGradOptions {
  /** Radius of the ball around g0, relative to ||g0|| (default 0.5). */
  c?: number;
  /** Divide the direction by 1 + c^2 as in the official code (default true). */
  rescale?: boolean;
  /** Iteration cap of the dual solver's projected-gradient phase (default 1000). */
  maxIter?: number;
}

export interface CAGradSolution {
  /** Dual weights on the simplex. */
  w: Float64Array;
  /** Coefficients a of d = G^T a, before the 1/(1 + c^2) rescale. */
  coef: Float64Array;
  /** The dual objective F(w). */
  dualValue: number;
}

/** Solve CAGrad's dual on the Gram matrix M (T x T) for radius c. */
export function cagradSolve(m: Float64Array, n: number, c: number, maxIter = 1000): CAGradSolution {
  const b = new Float64Array(n).fill(1 / n);
  const mb = matVec(m, b, n); // M b: <g_w, g0> = w . Mb
  const g0sq = Math.max(0, mb.reduce((s, v) => s + v / n, 0));
  const sqrtPhi = c * Math.sqrt(g0sq);
  const value = (w: Float64Array, mw: Float64Array): number => {
    let lin = 0;
    let q = 0;
    for (let i = 0; i < n; i++) {
      lin += w[i]! * mb[i]!;
      q += w[i]! * mw[i]!;
    }
    return lin + sqrtPhi * Math.sqrt(Math.max(0, q));
  };
  let w: Float64Array = b.slice();
  let mw: Float64Array = matVec(m, w, n);
  let f = value(w, mw);
  // Step sizes start at 1/trace(M), a bound on 1/||M||; backtracking corrects the rest.
  let trace = 0;
  for (let i = 0; i < n; i++) trace += m[i * n + i]!;
  if (trace <= 0 || sqrtPhi === 0) {
    // c = 0 or g0 = 0: the ball is the single point d = g0, whatever w. The dual optimum is then
    // the vertex with the smallest <g_t, g0> (kept so that dualValue stays the certificate).
    let best = 0;
    for (let i = 1; i < n; i++) if (mb[i]! < mb[best]!) best = i;
    w = new Float64Array(n);
    w[best] = 1;
    return { w, coef: b.slice(), dualValue: mb[best]! };
  }
  let eta = 1 / trace;
  for (let it = 0; it < maxIter; it++) {
    const q = Math.sqrt(Math.max(0, quadFrom(w, mw)));
    const grad = new Float64Array(n);
    for (let i = 0; i < n; i++) grad[i] = mb[i]! + (q > 0 ? (sqrtPhi * mw[i]!) / q : 0);
    let accepted = false;
    let next = w;
    let mNext = mw;
    let fNext = f;
    for (let tries = 0; tries < 60; tries++) {
      next = projectSimplex(Float64Array.from(w, (v, i) => v - eta * grad[i]!));
      mNext = matVec(m, next, n);
      fNext = value(next, mNext);
      let lin = 0;
      let dist = 0;
      for (let i = 0; i < n; i++) {
        const d = next[i]! - w[i]!;
        lin += grad[i]! * d;
        dist += d * d;
      }
      if (fNext <= f + lin + dist / (2 * eta) + 1e-15 * Math.abs(f)) {
        accepted = true;
        break;
      }
      eta /= 2;
    }
    if (!accepted) break;
    let change = 0;
    for (let i = 0; i < n; i++) change = Math.max(change, Math.abs(next[i]! - w[i]!));
    w = next;
    mw = mNext;
    f = fNext;
    if (change < 1e-14) break;
    eta *= 1.5;
  }
  // Function-value line searches cannot resolve w below ~sqrt(machine epsilon) (F is flat to
  // first order at its minimum), so finish with Newton on the KKT equations of the support.
  // Two guesses of the support: entries above 1e-10, then above 1e-6 (a zero weight that the
  // projected gradient left at ~1e-8).
  const polished = polishKkt(m, n, mb, sqrtPhi, w, 1e-10) ?? polishKkt(m, n, mb, sqrtPhi, w, 1e-6);
  if (polished) {
    w = polished;
    mw = matVec(m, w, n);
    f = value(w, mw);
  }
  const normGw = Math.sqrt(Math.max(0, quadFrom(w, mw)));
  // ||g_w|| = 0 means 0 is in the convex hull: no direction improves every task; fall back to g0.
  const lambda = normGw > 0 ? sqrtPhi / normGw : 0;
  const coef = Float64Array.from(b, (v, i) => v + lambda * w[i]!);
  return { w, coef, dualValue: f };
}

/**
 * Newton's method on the KKT conditions of min F over the simplex restricted to the support F
 * of w:  (Mb)_F + sqrtPhi (M w)_F / ||g_w|| = lambda 1,  sum w_F = 1.  Returns the refined w
 * when Newton converges to a point that is feasible and satisfies the KKT conditions off the
 * support ((grad F)_j >= lambda), else null (the projected-gradient answer is kept).
 */
function polishKkt(m: Float64Array, n: number, mb: Float64Array, sqrtPhi: number, w0: Float64Array, threshold: number): Float64Array | null {
  const support: number[] = [];
  for (let i = 0; i < n; i++) if (w0[i]! > threshold) support.push(i);
  const k = support.length;
  if (k <= 1) return null;
  const mff = new Float64Array(k * k);
  support.forEach((i, r) => support.forEach((j, c) => (mff[r * k + c] = m[i * n + j]!)));
  let x = Float64Array.from(support, (i) => w0[i]!);
  let lambda = 0;
  let scale = 0;
  for (const v of mb) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < n; i++) scale = Math.max(scale, m[i * n + i]!);
  for (let it = 0; it < 30; it++) {
    const u = new Float64Array(k);
    for (let r = 0; r < k; r++) for (let c = 0; c < k; c++) u[r] = u[r]! + mff[r * k + c]! * x[c]!;
    const q = Math.sqrt(Math.max(0, u.reduce((s, v, r) => s + v * x[r]!, 0)));
    if (!(q > 0)) return null;
    if (it === 0) lambda = support.reduce((s, i, r) => s + mb[i]! + (sqrtPhi * u[r]!) / q, 0) / k;
    // Bordered Jacobian [[H, -1], [1^T, 0]], H = sqrtPhi (M_FF / q - u u^T / q^3).
    const j = new Float64Array((k + 1) * (k + 1));
    const res = new Float64Array(k + 1);
    for (let r = 0; r < k; r++) {
      for (let c = 0; c < k; c++) j[r * (k + 1) + c] = sqrtPhi * (mff[r * k + c]! / q - (u[r]! * u[c]!) / (q * q * q));
      j[r * (k + 1) + k] = -1;
      j[k * (k + 1) + r] = 1;
      res[r] = -(mb[support[r]!]! + (sqrtPhi * u[r]!) / q - lambda);
    }
    res[k] = -(x.reduce((s, v) => s + v, 0) - 1);
    const norm = res.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
    if (norm <= 1e-15 * Math.max(1, scale) && it > 0) break;
    const delta = solveSmall(j, res, k + 1);
    if (!delta) return null;
    x = Float64Array.from(x, (v, r) => v + delta[r]!);
    lambda += delta[k]!;
    if (it === 29) return null;
  }
  if (!x.every((v) => v > 0)) return null;
  const w = new Float64Array(n);
  support.forEach((i, r) => (w[i] = x[r]!));
  // KKT off the support: (grad F)_j >= lambda.
  const mw = matVec(m, w, n);
  const q = Math.sqrt(Math.max(0, quadFrom(w, mw)));
  for (let i = 0; i < n; i++) {
    if (w[i]! > 0) continue;
    if (mb[i]! + (sqrtPhi * mw[i]!) / q < lambda - 1e-10 * Math.max(1, scale)) return null;
  }
  return w;
}

function quadFrom(w: Float64Array, mw: Float64Array): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i]! * mw[i]!;
  return s;
}

export class CAGrad extends GradientStrategy {
  readonly name = 'cagrad';
  readonly options: Required<CAGradOptions>;

  constructor(options?: CAGradOptions) {
    super('CAGrad');
    this.options = parseOptions<Required<CAGradOptions>>('CAGrad', options, {
      c: num({ default: 0.5, min: 0, max: 1, exclusiveMax: true }),
      rescale: bool(true),
      maxIter: num({ default: 1000, min: 1, integer: true }),
    });
  }

  protected aggregate(g: Matrix<Float64Array>): StrategyResult {
    const { c, rescale, maxIter } = this.options;
    const sol = cagradSolve(gramMatrix(g), this.numTasks, c, maxIter);
    const factor = rescale ? 1 / (1 + c * c) : 1;
    const weights = Float64Array.from(sol.coef, (v) => v * factor);
    return { weights, shared: combineRows(g, weights) };
  }
}
