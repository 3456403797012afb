/**
 * Nash-MTL: "Multi-Task Learning as a Bargaining Game", Navon, Shamsian, Achituve, Maron,
 * Kawaguchi, Chechik & Fetaya, ICML 2022.
 *
 * The Nash bargaining solution gives the update d = sum_t alpha_t g_t with alpha > 0 solving
 *
 *   G G^T alpha = 1 / alpha        (elementwise; the paper's Eq. 3: <g_t, d> = 1 / alpha_t).
 *
 * The paper solves it with a sequence of convex approximations handed to cvxpy. We use no
 * external solver: the equation is exactly the stationarity condition of the strictly convex
 * log-barrier function
 *
 *   phi(alpha) = 1/2 alpha^T M alpha - sum_t log alpha_t,      M = G G^T,
 *
 * whose gradient is M alpha - 1/alpha and Hessian M + diag(1/alpha^2) (positive definite for
 * alpha > 0). So the solution is phi's unique minimiser, which damped Newton finds: the Newton
 * step from the Hessian, cut to stay strictly inside alpha > 0 (fraction-to-the-boundary 0.99),
 * then backtracking until phi decreases sufficiently (Armijo) or, once phi is flat to rounding
 * near the solution, the residual below decreases. Newton converges quadratically
 * near the solution, so a handful of T x T solves suffice.
 *
 * Stopping rule: max_t |alpha_t (M alpha)_t - 1| <= tol (default 1e-10; the residual of the
 * defining equation in relative form, so it does not depend on the gradients' scale), or
 * maxIter Newton steps (default 100). The previous step's alpha is the starting point (as the
 * official code warm-starts from prvs_alpha); the first step starts from alpha_t = 1/||g_t||,
 * the exact answer for orthogonal gradients.
 *
 * When no solution exists -- a non-zero alpha >= 0 with G^T alpha = 0, i.e. the task gradients
 * cancel exactly, which the paper excludes by assuming them linearly independent -- phi is
 * unbounded below and Newton does not converge. We then solve with a small ridge,
 * M + eps I with eps = 1e-6 mean_t M_tt, which always has a solution, and report it.
 * Tasks whose gradient is exactly zero take no part in the bargaining (their alpha would be
 * infinite); their head weight is the mean alpha of the others.
 *
 * Scale. The exact solution has ||d||^2 = alpha^T M alpha = sum_t alpha_t (M alpha)_t = T
 * whatever the gradients' size, i.e. a normalised step that never shrinks near an optimum. The
 * official code therefore divides the Gram matrix by its Frobenius norm before solving
 * (`normalization_factor`), which makes alpha scale-free and d proportional to the gradients'
 * size; `normalizeGram: true` (default) does the same, i.e. solves (M / ||M||_F) alpha = 1/alpha.
 * With `normalizeGram: false` alpha solves the paper's equation M alpha = 1/alpha exactly.
 * The official code also clips the update's norm (max_norm = 1); use the optimizer's gradient
 * clipping for that. Head weights: alpha, as in the paper, which weights each task's loss by
 * alpha_t.
 */
import { bool, num, parseOptions } from '../../core/options.js';
import { checkInit, combineRows, gramMatrix, matVec, solveSmall, stateArray, stateObject, stateTasks, stepGrads } from './small.js';
import type { StrategyResult, StrategyStep, WeightingStrategy } from './strategy.js';

export interface NashMTLOptions {
  /** Newton iteration cap (default 100). */
  maxIter?: number;
  /** Tolerance on max_t |alpha_t (M alpha)_t - 1| (default 1e-10). */
  tol?: number;
  /** Divide G G^T by its Frobenius norm before solving, as the official code (default true). */
  normalizeGram?: boolean;
}

export interface NashSolution {
  alpha: Float64Array;
  iterations: number;
  converged: boolean;
  /** The ridge that had to be added (0 when the exact equation was solved). */
  ridge: number;
}

/** Solve M alpha = 1/alpha (alpha > 0) for a T x T Gram matrix M with positive diagonal. */
export function nashSolve(m: Float64Array, n: number, start?: Float64Array, maxIter = 100, tol = 1e-10): NashSolution {
  const first = newton(m, n, start, maxIter, tol);
  if (first.converged) return { ...first, ridge: 0 };
  let meanDiag = 0;
  for (let t = 0; t < n; t++) meanDiag += m[t * n + t]! / n;
  const ridge = 1e-6 * meanDiag;
  const mr = m.slice();
  for (let t = 0; t < n; t++) mr[t * n + t] = mr[t * n + t]! + ridge;
  return { ...newton(mr, n, undefined, maxIter, tol), ridge };
}

function newton(m: Float64Array, n: number, start: Float64Array | undefined, maxIter: number, tol: number): Omit<NashSolution, 'ridge'> {
  let alpha: Float64Array =
    start && start.length === n && start.every((v) => v > 0 && Number.isFinite(v))
      ? start.slice()
      : Float64Array.from({ length: n }, (_, t) => 1 / Math.sqrt(m[t * n + t]!));
  const phi = (a: Float64Array, ma: Float64Array): number => {
    let s = 0;
    for (let t = 0; t < n; t++) s += 0.5 * a[t]! * ma[t]! - Math.log(a[t]!);
    return s;
  };
  const residualOf = (a: Float64Array, ma: Float64Array): number => {
    let r = 0;
    for (let t = 0; t < n; t++) r = Math.max(r, Math.abs(a[t]! * ma[t]! - 1));
    return r;
  };
  let ma = matVec(m, alpha, n);
  let f = phi(alpha, ma);
  for (let it = 0; it < maxIter; it++) {
    let residual = 0;
    for (let t = 0; t < n; t++) residual = Math.max(residual, Math.abs(alpha[t]! * ma[t]! - 1));
    if (residual <= tol) return { alpha, iterations: it, converged: true };
    // Newton step: (M + diag(1/alpha^2)) delta = -(M alpha - 1/alpha).
    const h = m.slice();
    const grad = new Float64Array(n);
    for (let t = 0; t < n; t++) {
      h[t * n + t] = h[t * n + t]! + 1 / (alpha[t]! * alpha[t]!);
      grad[t] = ma[t]! - 1 / alpha[t]!;
    }
    const delta = solveSmall(h, Float64Array.from(grad, (v) => -v), n);
    if (!delta) break;
    // Largest step keeping alpha > 0, then backtrack on phi.
    let step = 1;
    for (let t = 0; t < n; t++) if (delta[t]! < 0) step = Math.min(step, (-0.99 * alpha[t]!) / delta[t]!);
    const slope = grad.reduce((s, v, t) => s + v * delta[t]!, 0);
    let moved = false;
    for (let tries = 0; tries < 60; tries++) {
      const next = Float64Array.from(alpha, (v, t) => v + step * delta[t]!);
      const mNext = matVec(m, next, n);
      const fNext = phi(next, mNext);
      // Armijo on phi; near the solution phi is flat to rounding, so also accept a step that
      // reduces the residual of the equation (the quantity the stopping rule measures).
      if (fNext <= f + 1e-4 * step * slope || residualOf(next, mNext) < (1 - 1e-4 * step) * residualOf(alpha, ma)) {
        alpha = next;
        ma = mNext;
        f = fNext;
        moved = true;
        break;
      }
      step /= 2;
    }
    if (!moved || !Number.isFinite(f)) break;
  }
  let residual = 0;
  for (let t = 0; t < n; t++) residual = Math.max(residual, Math.abs(alpha[t]! * ma[t]! - 1));
  return { alpha, iterations: maxIter, converged: residual <= tol && alpha.every(Number.isFinite) };
}

export class NashMTL implements WeightingStrategy {
  readonly name = 'nashmtl';
  readonly needsGradients = true;
  readonly options: Required<NashMTLOptions>;
  private numTasks = 0;
  private numShared = 0;
  /** The last step's alpha (warm start); empty before the first step. */
  private alpha: Float64Array = new Float64Array(0);
  private restored = false;

  constructor(options?: NashMTLOptions) {
    this.options = parseOptions<Required<NashMTLOptions>>('NashMTL', options, {
      maxIter: num({ default: 100, min: 1, integer: true }),
      tol: num({ default: 1e-10, min: 0, exclusiveMin: true, max: 1 }),
      normalizeGram: bool(true),
    });
  }

  init(numTasks: number, numShared: number): void {
    checkInit('NashMTL', numTasks, numShared);
    this.numTasks = numTasks;
    this.numShared = numShared;
    if (!(this.restored && this.alpha.length === numTasks)) this.alpha = new Float64Array(0);
    this.restored = false;
  }

  combine(step: StrategyStep): StrategyResult {
    const g = stepGrads('NashMTL', step, this.numTasks, this.numShared);
    const n = this.numTasks;
    const m = gramMatrix(g);
    // Only tasks with a non-zero gradient bargain.
    const active: number[] = [];
    for (let t = 0; t < n; t++) if (m[t * n + t]! > 0) active.push(t);
    const weights = new Float64Array(n);
    const coef = new Float64Array(n);
    if (active.length > 0) {
      const k = active.length;
      const sub = new Float64Array(k * k);
      active.forEach((i, r) => active.forEach((j, c) => (sub[r * k + c] = m[i * n + j]!)));
      if (this.options.normalizeGram) {
        const frob = Math.sqrt(sub.reduce((s, v) => s + v * v, 0));
        for (let q = 0; q < sub.length; q++) sub[q] = sub[q]! / frob;
      }
      const prev = this.alpha.length === n ? Float64Array.from(active, (t) => this.alpha[t]!) : undefined;
      const { alpha } = nashSolve(sub, k, prev, this.options.maxIter, this.options.tol);
      let mean = 0;
      active.forEach((t, r) => {
        weights[t] = alpha[r]!;
        coef[t] = alpha[r]!;
        mean += alpha[r]! / k;
      });
      for (let t = 0; t < n; t++) if (m[t * n + t]! <= 0) weights[t] = mean;
    } else {
      weights.fill(1); // every gradient is zero: nothing to bargain over
    }
    this.alpha = weights.slice();
    return { weights, shared: combineRows(g, coef) };
  }

  getState(): unknown {
    return { numTasks: this.numTasks, alpha: Array.from(this.alpha) };
  }

  setState(state: unknown): void {
    const s = stateObject('NashMTL', state);
    const n = stateTasks('NashMTL', s, this.numTasks);
    const len = Array.isArray(s.alpha) && s.alpha.length === 0 ? 0 : n;
    this.alpha = stateArray('NashMTL', s.alpha, 'alpha', len);
    this.restored = this.numTasks === 0;
  }
}
