/**
 * The alpha-fair task weights of FairGrad (Ban & Ji, "Fair Resource Allocation in Multi-Task
 * Learning", ICML 2024), with Nash-MTL (Navon et al., "Multi-Task Learning as a Bargaining Game",
 * ICML 2022) as the case alpha = 1: the w > 0 with
 *
 *   (M w)_t = w_t^(-1/alpha)   for every task t,      M = G G^T,
 *
 * i.e. each task's first-order improvement <g_t, d> along d = G^T w is w_t^(-1/alpha).
 *
 * No external solver: the equation is exactly the stationarity condition of the strictly convex
 *
 *   phi(w) = 1/2 w^T M w - sum_t h(w_t),    h(w) = log w (alpha = 1),  w^(1 - 1/alpha) / (1 - 1/alpha) else,
 *
 * whose gradient is M w - w^(-1/alpha) and Hessian M + diag(w^(-1/alpha - 1) / alpha), positive
 * definite for w > 0. So the solution is phi's unique minimiser, which damped Newton finds: the
 * Newton step, cut to stay strictly inside w > 0 (fraction-to-the-boundary 0.99), then
 * backtracking until phi decreases sufficiently (Armijo) or, once phi is flat to rounding near
 * the solution, the residual decreases. Newton converges quadratically near the solution, so a
 * handful of T x T solves suffice. For a large alpha the barrier -h is weak (nearly linear), so
 * the Newton model can badly misjudge how far a small weight may shrink, and Newton may stall far
 * from the solution. It then restarts from cyclic coordinate descent -- each w_t minimises phi
 * exactly given the others, a monotone one-dimensional equation solved in log w_t, which converges
 * for any strictly convex phi -- and finishes with Newton from there.
 *
 * Stopping rule: max_t |w_t^(1/alpha) (M w)_t - 1| <= tol (the residual in relative form, which
 * does not depend on the gradients' scale), or maxIter Newton steps. The first step starts from
 * w_t = M_tt^(-alpha / (alpha + 1)), the exact answer for orthogonal gradients; later steps
 * warm-start from the previous step's weights.
 *
 * When no solution exists -- a non-zero w >= 0 with G^T w = 0, i.e. the task gradients cancel
 * exactly, which both papers exclude by assuming them linearly independent -- phi is unbounded
 * below and Newton does not converge. We then solve with a small ridge, M + eps I with
 * eps = 1e-6 mean_t M_tt, which always has a solution, and report it.
 */
import type { Matrix } from '../../core/matrix.js';
import { GradientStrategy, stateArray } from './base.js';
import { combineRows, gramMatrix, matVec, solveSmall } from './linalg.js';
import type { StrategyResult } from './strategy.js';

export interface FairSolution {
  weights: Float64Array;
  iterations: number;
  converged: boolean;
  /** The ridge that had to be added (0 when the exact equation was solved). */
  ridge: number;
}

/** Solve (M w)_t = w_t^(-1/alpha), w > 0, for a T x T Gram matrix M with positive diagonal. */
export function solveFair(m: Float64Array, n: number, alpha: number, start?: Float64Array, maxIter = 100, tol = 1e-10): FairSolution {
  const exact = solveExact(m, n, alpha, start, maxIter, tol);
  if (exact.converged) return { ...exact, ridge: 0 };
  let meanDiag = 0;
  for (let t = 0; t < n; t++) meanDiag += m[t * n + t]! / n;
  const ridge = 1e-6 * meanDiag;
  const mr = m.slice();
  for (let t = 0; t < n; t++) mr[t * n + t] = mr[t * n + t]! + ridge;
  return { ...solveExact(mr, n, alpha, undefined, maxIter, tol), ridge };
}

/** Newton; if it stalls, coordinate descent to near the solution and Newton again from there. */
function solveExact(m: Float64Array, n: number, alpha: number, start: Float64Array | undefined, maxIter: number, tol: number): Omit<FairSolution, 'ridge'> {
  const first = newton(m, n, alpha, start, maxIter, tol);
  if (first.converged) return first;
  const near = coordinateDescent(m, n, alpha, startingPoint(m, n, alpha, start), 1e-4);
  if (!near) return first;
  const polished = newton(m, n, alpha, near, maxIter, tol);
  return { ...polished, iterations: first.iterations + polished.iterations };
}

/** The previous weights when usable, else w_t = M_tt^(-alpha / (alpha + 1)) (exact for orthogonal gradients). */
function startingPoint(m: Float64Array, n: number, alpha: number, start: Float64Array | undefined): Float64Array {
  return start && start.length === n && start.every((v) => v > 0 && Number.isFinite(v))
    ? start.slice()
    : Float64Array.from({ length: n }, (_, t) => Math.pow(m[t * n + t]!, -alpha / (alpha + 1)));
}

/**
 * Cyclic coordinate descent on phi: w_t <- the root of M_tt w + c_t = w^(-1/alpha), c_t = sum_{j != t} M_tj w_j,
 * solved for s = log w (increasing in s: safeguarded Newton inside a bracket). Stops when the
 * relative residual is below `tol`; null when it cannot get there (no solution, or too slow).
 */
function coordinateDescent(m: Float64Array, n: number, alpha: number, w0: Float64Array, tol: number): Float64Array | null {
  const w = w0.slice();
  for (let sweep = 0; sweep < 5000; sweep++) {
    let residual = 0;
    for (let t = 0; t < n; t++) {
      let c = 0;
      for (let j = 0; j < n; j++) if (j !== t) c += m[t * n + j]! * w[j]!;
      const mtt = m[t * n + t]!;
      residual = Math.max(residual, Math.abs((mtt * w[t]! + c) * Math.pow(w[t]!, 1 / alpha) - 1));
      const root = rootInLog(mtt, c, alpha, Math.log(w[t]!));
      if (root === null) return null;
      w[t] = Math.exp(root);
    }
    if (residual <= tol) return w;
  }
  return null;
}

/** The s with f(s) = a e^s + c - e^(-s / alpha) = 0 (f increasing), or null without a finite root. */
function rootInLog(a: number, c: number, alpha: number, s0: number): number | null {
  const f = (s: number): number => a * Math.exp(s) + c - Math.exp(-s / alpha);
  let lo = s0;
  let hi = s0;
  for (let step = 1; f(lo) > 0; step *= 2) if ((lo -= step) < -1e4) return null;
  for (let step = 1; f(hi) < 0; step *= 2) if ((hi += step) > 1e4) return null;
  let s = Math.min(Math.max(s0, lo), hi);
  for (let it = 0; it < 200 && hi - lo > 1e-15 * Math.max(1, Math.abs(s)); it++) {
    const v = f(s);
    if (v === 0) return s;
    if (v < 0) lo = s;
    else hi = s;
    const slope = a * Math.exp(s) + Math.exp(-s / alpha) / alpha;
    const next = s - v / slope;
    s = next > lo && next < hi ? next : (lo + hi) / 2; // Newton inside the bracket, else bisection
  }
  return s;
}

function newton(m: Float64Array, n: number, alpha: number, start: Float64Array | undefined, maxIter: number, tol: number): Omit<FairSolution, 'ridge'> {
  const p = 1 / alpha;
  // w^(-1/alpha), h(w) and h'' (w) = -w^(-1/alpha - 1) / alpha; alpha = 1 exactly as 1/w and log w.
  const inv = alpha === 1 ? (w: number) => 1 / w : (w: number) => Math.pow(w, -p);
  const h = alpha === 1 ? Math.log : (w: number) => Math.pow(w, 1 - p) / (1 - p);
  let w = startingPoint(m, n, alpha, start);
  const phi = (a: Float64Array, ma: Float64Array): number => {
    let s = 0;
    for (let t = 0; t < n; t++) s += 0.5 * a[t]! * ma[t]! - h(a[t]!);
    return s;
  };
  const residualOf = (a: Float64Array, ma: Float64Array): number => {
    let r = 0;
    for (let t = 0; t < n; t++) r = Math.max(r, Math.abs(ma[t]! / inv(a[t]!) - 1));
    return r;
  };
  let mw = matVec(m, w, n);
  let f = phi(w, mw);
  for (let it = 0; it < maxIter; it++) {
    if (residualOf(w, mw) <= tol) return { weights: w, iterations: it, converged: true };
    // Newton step: (M + diag(w^(-1/alpha - 1) / alpha)) delta = -(M w - w^(-1/alpha)).
    const hess = m.slice();
    const grad = new Float64Array(n);
    for (let t = 0; t < n; t++) {
      const iw = inv(w[t]!);
      hess[t * n + t] = hess[t * n + t]! + (p * iw) / w[t]!;
      grad[t] = mw[t]! - iw;
    }
    // Solved with the Hessian scaled to a unit diagonal: a tiny w_t has a huge curvature
    // w_t^(-1/alpha - 1) / alpha, which would otherwise look singular next to the other rows.
    const scale = Float64Array.from({ length: n }, (_, t) => 1 / Math.sqrt(hess[t * n + t]!));
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) hess[i * n + j] = hess[i * n + j]! * scale[i]! * scale[j]!;
    const scaled = solveSmall(hess, Float64Array.from(grad, (v, t) => -v * scale[t]!), n);
    if (!scaled) break;
    const delta = Float64Array.from(scaled, (v, t) => v * scale[t]!);
    // Largest step keeping w > 0, then backtrack on phi.
    let step = 1;
    for (let t = 0; t < n; t++) if (delta[t]! < 0) step = Math.min(step, (-0.99 * w[t]!) / delta[t]!);
    const slope = grad.reduce((s, v, t) => s + v * delta[t]!, 0);
    let moved = false;
    for (let tries = 0; tries < 60; tries++) {
      const next = Float64Array.from(w, (v, t) => v + step * delta[t]!);
      const mNext = matVec(m, next, n);
      const fNext = phi(next, mNext);
      // Armijo on phi; near the solution phi is flat to rounding, so also accept a step that
      // reduces the residual of the equation (the quantity the stopping rule measures).
      if (fNext <= f + 1e-4 * step * slope || residualOf(next, mNext) < (1 - 1e-4 * step) * residualOf(w, mw)) {
        w = next;
        mw = mNext;
        f = fNext;
        moved = true;
        break;
      }
      step /= 2;
    }
    if (!moved || !Number.isFinite(f)) break;
  }
  return { weights: w, iterations: maxIter, converged: residualOf(w, mw) <= tol && w.every(Number.isFinite) };
}

export interface FairStepOptions {
  /** The previous step's weights (length T), or undefined on the first step. */
  start?: Float64Array;
  maxIter: number;
  tol: number;
  /** Solve for M / ||M||_F instead of M (Nash-MTL's scaled variant). */
  normalizeGram?: boolean;
}

/**
 * One step's weights from the full T x T Gram matrix M. Only tasks with a non-zero gradient take
 * part (a zero gradient would need an infinite weight): the others get the mean weight of the
 * rest as head weight and no share of the shared direction (coefficient 0). With every gradient
 * zero there is nothing to balance: weights 1, coefficients 0.
 */
export function fairStep(m: Float64Array, n: number, alpha: number, o: FairStepOptions): { weights: Float64Array; coef: Float64Array } {
  const active: number[] = [];
  for (let t = 0; t < n; t++) if (m[t * n + t]! > 0) active.push(t);
  const weights = new Float64Array(n);
  const coef = new Float64Array(n);
  if (active.length === 0) return { weights: weights.fill(1), coef };
  const k = active.length;
  const sub = new Float64Array(k * k);
  active.forEach((i, r) => active.forEach((j, c) => (sub[r * k + c] = m[i * n + j]!)));
  if (o.normalizeGram) {
    const frob = Math.sqrt(sub.reduce((s, v) => s + v * v, 0));
    for (let q = 0; q < sub.length; q++) sub[q] = sub[q]! / frob;
  }
  const start = o.start && o.start.length === n ? Float64Array.from(active, (t) => o.start![t]!) : undefined;
  const sol = solveFair(sub, k, alpha, start, o.maxIter, o.tol);
  let mean = 0;
  active.forEach((t, r) => {
    weights[t] = sol.weights[r]!;
    coef[t] = sol.weights[r]!;
    mean += sol.weights[r]! / k;
  });
  for (let t = 0; t < n; t++) if (m[t * n + t]! <= 0) weights[t] = mean;
  return { weights, coef };
}

/**
 * The alpha-fair weighting as a strategy (FairGrad, and Nash-MTL at alpha = 1): each step's
 * weights by fairStep, warm-started from the previous step's, which the state keeps under
 * `stateKey`. Head weights: w, which weights each task's loss by w_t as in both papers.
 */
export abstract class FairWeighting extends GradientStrategy {
  /** The last step's weights (warm start); empty before the first step. */
  private last: Float64Array = new Float64Array(0);

  protected constructor(
    label: string,
    private readonly stateKey: string,
  ) {
    super(label);
  }

  /** alpha and the solver's settings. */
  protected abstract solver(): { alpha: number } & Omit<FairStepOptions, 'start'>;

  protected override reset(): void {
    this.last = new Float64Array(0);
  }

  protected aggregate(g: Matrix<Float64Array>): StrategyResult {
    const { alpha, ...options } = this.solver();
    const start = this.last.length === this.numTasks ? this.last : undefined;
    const { weights, coef } = fairStep(gramMatrix(g), this.numTasks, alpha, { ...options, start });
    this.last = weights.slice();
    return { weights, shared: combineRows(g, coef) };
  }

  protected override saveState(): Record<string, unknown> {
    return { [this.stateKey]: Array.from(this.last) };
  }

  protected override loadState(s: Record<string, unknown>, n: number): void {
    const saved = s[this.stateKey];
    this.last = stateArray(this.label, saved, this.stateKey, Array.isArray(saved) && saved.length === 0 ? 0 : n);
  }
}
