/**
 * The inner solve of the working-set method for the multi-task elastic net, in plain TypeScript
 * (twin of native/src/kernels/cdsolve.cc): coordinate descent on the k features of a working set
 * with a gap check and an Anderson extrapolation every ANDERSON_K sweeps, kept only when it lowers
 * the objective, until the working-set duality gap is at most tol or maxSweeps sweeps have run.
 * Checks use the correlations (or residual) the sweeps keep up to date; a gap below tol is
 * confirmed from quantities recomputed from W, and the solve returns those exact ones.
 * Objective and gap (n-scaled, scikit-learn's enet_coordinate_descent_multi_task):
 *   P(W) = (1/2) ||Y - X_k W||_F^2 + l1Reg sum_j ||W_j||_2 + (l2Reg/2) ||W||_F^2,
 *   gap = (1/2)(1 + c^2) ||R||^2 + l1Reg sum_j ||W_j|| - c <R, Y> + (l2Reg/2)(1 + c^2) ||W||^2,
 *   c = min(1, l1Reg / max_j ||X_j^T R - l2Reg W_j||).
 * Two forms of the same iteration:
 * - Gram form (covariance updates, Friedman, Hastie & Tibshirani, J. Stat. Softw. 33, 2010,
 *   section 2.2): G = X_k^T X_k given, each sweep O(k^2 T) whatever n is; only H = X_k^T R is
 *   kept, and the gap's parts follow from it exactly (dW = W - W0, H0 and X_k^T Y = H0 + G W0
 *   from the start):  ||R||^2 = ||R0||^2 - <dW, H0 + H>,  <R, Y> = <R0, Y> - <dW, X_k^T Y>.
 * - Residual form: scikit-learn's sweep (mtenetSweep) on the gathered columns with the residual;
 *   cyclic sweeps on a large residual by blocks of features (residualBlock; the blocked sweep: the
 *   same iterates up to rounding, the residual read once or twice per block).
 * In both, the rows of w of all-zero columns are set to 0 first: such a feature does not change the
 * fit and its optimum is 0.
 * Large residual-form sweeps go as glmnet's active-set iteration (Friedman, Hastie & Tibshirani,
 * J. Stat. Softw. 33, 2010): the first sweep of a call and the first after every check visit every
 * row, the others only the rows of W that are non-zero as they start; every check is over all k
 * rows, so a row that should enter keeps the gap above tol until a full sweep takes it in. Where:
 * ACTIVE_SWEEPS_MIN_VALUES (the rule of cdsolve.h, where it was measured).
 */
import { ShapeError, ValueError } from '../../core/errors.js';
import type { Matrix } from '../../core/matrix.js';
import type { CdSweepResult, GramSolveArgs, InnerSolveResult, InnerSolveSettings, ResidualSolveArgs } from '../types.js';
import { cdResidual, mtenetBlockGram, mtenetGramSweep, mtenetSweep, residualParts } from './cd.js';
import { gemm } from './linalg.js';

/** Sweeps between two gap checks / extrapolations (skglm's default). */
export const ANDERSON_K = 5;

/**
 * The residual form's plain sweeps (cyclic, no blocks) go by active sets from this many values of
 * columns on (k n, 1 MiB): beyond a level-2 cache, where a row at zero costs a sweep a pass over
 * its column for nothing (the rule of native/src/kernels/cdsolve.h, where it was measured).
 */
export const ACTIVE_SWEEPS_MIN_VALUES = 1 << 17;

/**
 * The block size of the residual form's cyclic sweeps for T tasks and n samples, 0 for plain sweeps
 * (the rule of native/src/kernels/cdsolve.h, where it was measured): blocks once the T x n residual
 * outgrows a level-1 cache (4,096 values), of 32 features from 20 tasks, else of 4.
 */
export function residualBlock(T: number, n: number): number {
  if (T * n < 4096) return 0;
  return T >= 20 ? 32 : 4;
}

/**
 * Anderson extrapolation of a fixed-point iteration (Anderson, J. ACM 12, 1965), in the offline
 * form used for coordinate descent by Bertrand & Massias, "Anderson acceleration of coordinate
 * descent", AISTATS 2021 (and skglm, Bertrand et al., NeurIPS 2022): from the last K + 1 iterates
 * x_0 .. x_K, with U = [x_1 - x_0, ..., x_K - x_{K-1}],
 *   z = (U^T U + ridge I)^{-1} 1,   c = z / sum(z),   x_acc = sum_i c_i x_{i+1},
 * ridge = 1e-14 trace(U^T U) / K (nearly dependent differences stay solvable).
 */
export class Anderson {
  private readonly iterates: Float64Array[];
  private readonly diffs: Float64Array[];
  private count = 0;

  /** K (the number of differences) and the length of the iterates. */
  constructor(
    readonly K: number,
    readonly length: number,
  ) {
    this.iterates = Array.from({ length: K + 1 }, () => new Float64Array(length));
    this.diffs = Array.from({ length: K }, () => new Float64Array(length));
  }

  /** Record the next iterate (copied). */
  push(x: Float64Array): void {
    this.iterates[this.count % (this.K + 1)]!.set(x);
    this.count++;
  }

  /** K + 1 iterates have been recorded since the last reset. */
  get ready(): boolean {
    return this.count >= this.K + 1;
  }

  reset(): void {
    this.count = 0;
  }

  /**
   * Write the extrapolated point into `out`; false (and `out` untouched) when the differences are
   * numerically dependent (a converged or stalled sequence) or not enough iterates were recorded.
   */
  extrapolate(out: Float64Array): boolean {
    if (!this.ready) return false;
    const K = this.K;
    const L = this.length;
    // Iterates in chronological order: the oldest of the ring first.
    const first = this.count % (K + 1);
    const x = (i: number): Float64Array => this.iterates[(first + i) % (K + 1)]!;
    for (let i = 0; i < K; i++) {
      const a = x(i + 1);
      const b = x(i);
      const u = this.diffs[i]!;
      for (let p = 0; p < L; p++) u[p] = a[p]! - b[p]!;
    }
    const A = new Float64Array(K * K);
    for (let i = 0; i < K; i++) {
      for (let j = 0; j <= i; j++) {
        const ui = this.diffs[i]!;
        const uj = this.diffs[j]!;
        let s = 0;
        for (let p = 0; p < L; p++) s += ui[p]! * uj[p]!;
        A[i * K + j] = s;
        A[j * K + i] = s;
      }
    }
    const z = solveSpdOnes(A, K);
    if (z === null) return false;
    let sum = 0;
    for (let i = 0; i < K; i++) sum += z[i]!;
    if (!Number.isFinite(sum) || sum === 0) return false;
    out.fill(0);
    for (let i = 0; i < K; i++) {
      const c = z[i]! / sum;
      const xi = x(i + 1);
      for (let p = 0; p < L; p++) out[p]! += c * xi[p]!;
    }
    return true;
  }
}

/** Solve (A + ridge I) z = 1 (A K x K symmetric positive semi-definite) by Cholesky; null when A is 0 or the factorisation fails. */
function solveSpdOnes(A: Float64Array, K: number): Float64Array | null {
  let trace = 0;
  for (let i = 0; i < K; i++) trace += A[i * K + i]!;
  if (!(trace > 0) || !Number.isFinite(trace)) return null;
  const ridge = (1e-14 * trace) / K;
  const L = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * K + j]! + (i === j ? ridge : 0);
      for (let p = 0; p < j; p++) s -= L[i * K + p]! * L[j * K + p]!;
      if (i === j) {
        if (!(s > 0)) return null;
        L[i * K + i] = Math.sqrt(s);
      } else L[i * K + j] = s / L[j * K + j]!;
    }
  }
  const z = new Float64Array(K);
  for (let i = 0; i < K; i++) {
    let s = 1;
    for (let p = 0; p < i; p++) s -= L[i * K + p]! * z[p]!;
    z[i] = s / L[i * K + i]!;
  }
  for (let i = K - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let p = i + 1; p < K; p++) s -= L[p * K + i]! * z[p]!;
    z[i] = s / L[i * K + i]!;
  }
  return z;
}

// ---------------------------------------------------------------------------------------------
// The shared loop
// ---------------------------------------------------------------------------------------------

/** ||R||^2, <R, Y>, sum_j ||W_j|| and ||W||^2 at one point. */
interface Parts {
  rNormSq: number;
  ry: number;
  l21: number;
  wNormSq: number;
}

function primal(p: Parts, l1Reg: number, l2Reg: number): number {
  return 0.5 * p.rNormSq + l1Reg * p.l21 + 0.5 * l2Reg * p.wNormSq;
}

function gapOf(p: Parts, dualNorm: number, l1Reg: number, l2Reg: number): number {
  const c = dualNorm > l1Reg ? l1Reg / dualNorm : 1;
  return 0.5 * (1 + c * c) * p.rNormSq + l1Reg * p.l21 - c * p.ry + 0.5 * l2Reg * (1 + c * c) * p.wNormSq;
}

/** Sets p.l21 and p.wNormSq from w (k x T). */
function setNorms(w: Float64Array, k: number, T: number, p: Parts): void {
  let l21 = 0;
  let wNormSq = 0;
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let t = 0; t < T; t++) s += w[j * T + t]! * w[j * T + t]!;
    if (s > 0) {
      l21 += Math.sqrt(s);
      wNormSq += s;
    }
  }
  p.l21 = l21;
  p.wNormSq = wNormSq;
}

/** max_j ||H_j - l2Reg W_j|| over the k rows (H k x T, or T x k when hTransposed). */
function dualNormOf(h: Float64Array, hTransposed: boolean, w: Float64Array, k: number, T: number, l2Reg: number): number {
  let m = 0;
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let t = 0; t < T; t++) {
      const v = (hTransposed ? h[t * k + j]! : h[j * T + t]!) - l2Reg * w[j * T + t]!;
      s += v * v;
    }
    if (s > m) m = s;
  }
  return Math.sqrt(m);
}

/** The rows j of w (k x T) with a non-zero entry, in increasing order, into rows; returns their number. */
function nonZeroRows(w: Float64Array, k: number, T: number, rows: Int32Array): number {
  let count = 0;
  for (let j = 0; j < k; j++) {
    let nonZero = false;
    for (let t = 0; t < T && !nonZero; t++) nonZero = w[j * T + t] !== 0;
    if (nonZero) rows[count++] = j;
  }
  return count;
}

/**
 * What one form gives the loop: a sweep; a check at the current point, from the state the sweeps
 * keep (cheap) or recomputed from W (exact); a candidate's objective and the move to it.
 */
interface Form {
  /** Whether a cyclic sweep may visit some rows only (the non-zero ones, between checks). */
  readonly activeSweeps: boolean;
  /** Whether a cheap check reads kept state only (the Gram form's k T correlations), not the data. */
  readonly cheapChecks: boolean;
  /** Whether a call that another continues may end on a check of the kept state (InnerSolveSettings.continues). */
  readonly mayEndOnKeptState: boolean;
  sweep(order: Int32Array): CdSweepResult;
  /** Parts at the current coefficients, and returns the dual norm. */
  check(p: Parts, exact: boolean): number;
  tryPoint(w: Float64Array): number;
  accept(): void;
  /** ||R_end - R_start||_F. */
  residualChange(): number;
}

/**
 * The loop both forms share. A cheap check that finds the gap below tol is confirmed by an exact
 * one, and the solve ends on an exact check (or, where the form allows it and another call
 * continues, on one of the state the sweeps kept).
 */
function solveLoop(form: Form, w: Float64Array, k: number, T: number, s: InnerSolveSettings): InnerSolveResult {
  const anderson = new Anderson(ANDERSON_K, k * T);
  const candidate = new Float64Array(k * T);
  const cyclic = new Int32Array(k);
  for (let j = 0; j < k; j++) cyclic[j] = j;
  const r: InnerSolveResult = { sweeps: 0, gap: Infinity, rNormSq: 0, ry: 0, l21: 0, wNormSq: 0, dualNorm: 0, residualChange: 0, converged: false };
  const p: Parts = { rNormSq: 0, ry: 0, l21: 0, wNormSq: 0 };
  let objectiveAtCheck = Infinity;
  let exactHere = false;
  const check = (exact: boolean): boolean => {
    const dualNorm = form.check(p, exact);
    r.gap = gapOf(p, dualNorm, s.l1Reg, s.l2Reg);
    r.rNormSq = p.rNormSq;
    r.ry = p.ry;
    r.l21 = p.l21;
    r.wNormSq = p.wNormSq;
    r.dualNorm = dualNorm;
    objectiveAtCheck = primal(p, s.l1Reg, s.l2Reg);
    exactHere = exact;
    r.converged = r.gap <= s.tol;
    return r.converged;
  };
  const converged = (): boolean => check(false) && check(true);
  // The starting point is the first iterate: the first extrapolation then comes with the first
  // check, K sweeps in, so a solve split into calls of K sweeps (long solves are, so that fit()
  // can yield) is extrapolated as one call is.
  anderson.push(w);
  let lastCheck = 0;
  let earlyWait = 1;
  const nonZero = new Int32Array(form.activeSweeps ? k : 0);
  while (r.sweeps < s.maxSweeps) {
    // Cyclic sweeps where the form allows it: the first of the call and the first after every check
    // visit every row, the others only the rows of W that are non-zero when they start.
    let order = s.orders !== undefined ? s.orders.subarray(r.sweeps * k, (r.sweeps + 1) * k) : cyclic;
    if (s.orders === undefined && form.activeSweeps && r.sweeps !== lastCheck) order = nonZero.subarray(0, nonZeroRows(w, k, T, nonZero));
    const st = form.sweep(order);
    r.sweeps++;
    exactHere = false;
    anderson.push(w);
    // Check after every K sweeps, and before that once the coefficients stop moving (small problems
    // converge in fewer sweeps than K). Where a check is a pass over the data (cheapChecks false),
    // those early checks back off: each waits twice as many sweeps as the last one did, as a solve
    // near its optimum moves little at every sweep (a check after each cost as much as the sweeps).
    const due = r.sweeps % ANDERSON_K === 0;
    const stopped = st.dwMax <= 1e-3 * st.wMax || st.wMax === 0;
    const early = !due && stopped && r.sweeps - lastCheck >= earlyWait;
    if (!due && !early) continue;
    if (early && !form.cheapChecks) earlyWait *= 2;
    lastCheck = r.sweeps;
    if (converged()) break;
    if (anderson.ready && anderson.extrapolate(candidate)) {
      if (form.tryPoint(candidate) < objectiveAtCheck) {
        form.accept();
        if (converged()) break;
      }
      anderson.reset();
      anderson.push(w);
    }
  }
  if (!exactHere) check(!(form.mayEndOnKeptState && s.continues === true));
  r.residualChange = form.residualChange();
  return r;
}

// ---------------------------------------------------------------------------------------------
// Gram form
// ---------------------------------------------------------------------------------------------

class GramForm implements Form {
  readonly activeSweeps = false;
  readonly cheapChecks = true;
  /** The next call starts from the returned correlations: they must be exact. */
  readonly mayEndOnKeptState = false;
  private readonly k: number;
  private readonly T: number;
  private readonly w0: Float64Array;
  private readonly h0: Float64Array;
  private readonly xty: Float64Array;
  /** (G w)^T, T x k. */
  private readonly gwT: Float64Array;
  private readonly candW: Float64Array;
  private readonly candHt: Float64Array;

  constructor(private readonly a: GramSolveArgs) {
    const k = (this.k = a.gram.rows);
    const T = (this.T = a.w.cols);
    for (let j = 0; j < k; j++) if (a.gram.data[j * k + j] === 0) a.w.data.fill(0, j * T, (j + 1) * T);
    this.w0 = a.w.data.slice();
    this.h0 = new Float64Array(k * T);
    const H = a.ht.data;
    for (let j = 0; j < k; j++) for (let t = 0; t < T; t++) this.h0[j * T + t] = H[t * k + j]!;
    this.gwT = new Float64Array(T * k);
    this.xty = new Float64Array(k * T);
    if (a.xty !== undefined) {
      // Given (checked, then copied), or formed: a product of the Gram matrix (cdsolve.cc).
      checkXty(a.xty, k, T);
      this.xty.set(a.xty.data);
    } else {
      // X_k^T Y = H0 + G W0.
      this.multiplyGram(this.w0);
      for (let j = 0; j < k; j++) for (let t = 0; t < T; t++) this.xty[j * T + t] = this.h0[j * T + t]! + this.gwT[t * k + j]!;
    }
    this.candW = new Float64Array(k * T);
    this.candHt = new Float64Array(k * T);
  }

  sweep(order: Int32Array): CdSweepResult {
    const a = this.a;
    return mtenetGramSweep({ gram: a.gram, ht: a.ht, w: a.w, l1Reg: a.l1Reg, l2Reg: a.l2Reg, order });
  }

  check(p: Parts, exact: boolean): number {
    if (exact) this.exactHt(this.a.w.data, this.a.ht.data);
    this.partsAt(this.a.w.data, this.a.ht.data, p);
    return dualNormOf(this.a.ht.data, true, this.a.w.data, this.k, this.T, this.a.l2Reg);
  }

  tryPoint(w: Float64Array): number {
    this.candW.set(w);
    this.exactHt(this.candW, this.candHt);
    const p: Parts = { rNormSq: 0, ry: 0, l21: 0, wNormSq: 0 };
    this.partsAt(this.candW, this.candHt, p);
    return primal(p, this.a.l1Reg, this.a.l2Reg);
  }

  accept(): void {
    this.a.w.data.set(this.candW);
    this.a.ht.data.set(this.candHt);
  }

  /**
   * ||X_k dW|| = sqrt(<dW, G dW>) with G dW = H0 - H (ht exact), dW = W - W0; the rounding of
   * H0 - H is added (4 eps sum |dW| (|H0| + |H|)) so that the result bounds the true change.
   */
  residualChange(): number {
    const { k, T } = this;
    const W = this.a.w.data;
    const H = this.a.ht.data;
    let s = 0;
    let err = 0;
    for (let j = 0; j < k; j++) {
      for (let t = 0; t < T; t++) {
        const dw = W[j * T + t]! - this.w0[j * T + t]!;
        if (dw === 0) continue;
        const h0 = this.h0[j * T + t]!;
        const h = H[t * k + j]!;
        s += dw * (h0 - h);
        err += Math.abs(dw) * (Math.abs(h0) + Math.abs(h));
      }
    }
    return Math.sqrt(Math.max(s, 0) + 4 * Number.EPSILON * err);
  }

  /**
   * gwT (T x k) = (G w)^T = w^T G (G symmetric): row t is the sum over the rows p of w that are
   * not zero of w[p, t] G[p, :], in order (as the native twin): the working set's members that
   * are still zero cost nothing, and each row of G is read once for the tasks.
   */
  private multiplyGram(w: Float64Array): void {
    const { k, T } = this;
    const G = this.a.gram.data;
    const out = this.gwT;
    out.fill(0);
    for (let p = 0; p < k; p++) {
      let zero = true;
      for (let t = 0; t < T && zero; t++) zero = w[p * T + t] === 0;
      if (zero) continue;
      const g = p * k;
      let t = 0;
      for (; t + 2 <= T; t += 2) {
        const c0 = w[p * T + t]!;
        const c1 = w[p * T + t + 1]!;
        if (c0 === 0 || c1 === 0) {
          addRow(out, t * k, c0, G, g, k);
          addRow(out, (t + 1) * k, c1, G, g, k);
          continue;
        }
        const o0 = t * k;
        const o1 = o0 + k;
        for (let q = 0; q < k; q++) {
          const v = G[g + q]!;
          out[o0 + q]! += c0 * v;
          out[o1 + q]! += c1 * v;
        }
      }
      if (t < T) addRow(out, t * k, w[p * T + t]!, G, g, k);
    }
  }

  /** out (T x k) = (X_k^T Y - G w)^T. */
  private exactHt(w: Float64Array, out: Float64Array): void {
    const { k, T } = this;
    this.multiplyGram(w);
    const gwT = this.gwT;
    for (let j = 0; j < k; j++) for (let t = 0; t < T; t++) out[t * k + j] = this.xty[j * T + t]! - gwT[t * k + j]!;
  }

  private partsAt(w: Float64Array, ht: Float64Array, p: Parts): void {
    const { k, T, w0, h0, xty } = this;
    let dh = 0;
    let dy = 0;
    for (let j = 0; j < k; j++) {
      for (let t = 0; t < T; t++) {
        const dw = w[j * T + t]! - w0[j * T + t]!;
        if (dw === 0) continue;
        dh += dw * (h0[j * T + t]! + ht[t * k + j]!);
        dy += dw * xty[j * T + t]!;
      }
    }
    p.rNormSq = this.a.r0NormSq - dh;
    p.ry = this.a.r0y - dy;
    setNorms(w, k, T, p);
  }
}

export function mtenetGramSolve(args: GramSolveArgs): InnerSolveResult {
  return solveLoop(new GramForm(args), args.w.data, args.gram.rows, args.w.cols, args);
}

// ---------------------------------------------------------------------------------------------
// Residual form
// ---------------------------------------------------------------------------------------------

class ResidualForm implements Form {
  readonly activeSweeps: boolean;
  readonly cheapChecks = false;
  /** The next call copies the residual as returned; the last call's exact end removes its rounding. */
  readonly mayEndOnKeptState = true;
  private readonly k: number;
  private readonly T: number;
  private readonly colNormSq: Float64Array;
  private readonly candW: Matrix<Float64Array>;
  private readonly candRt: Matrix<Float64Array>;
  private readonly rt0: Float64Array;
  private blockGram: Float64Array | undefined; // of the cyclic order, at the first blocked sweep

  constructor(private readonly a: ResidualSolveArgs) {
    const k = (this.k = a.xs.rows);
    const T = (this.T = a.w.cols);
    const n = a.xs.cols;
    const X = a.xs.data;
    this.activeSweeps = residualBlock(T, n) === 0 && k * n >= ACTIVE_SWEEPS_MIN_VALUES;
    // Given (checked, then copied), or computed: a pass over xs (cdsolve.cc).
    const given = a.colNormSq;
    if (given !== undefined) checkColNormSq(given, k);
    this.colNormSq = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      let v = 0;
      if (given !== undefined) v = given[j]!;
      else for (let i = j * n; i < (j + 1) * n; i++) v += X[i]! * X[i]!;
      this.colNormSq[j] = v;
      if (v === 0) a.w.data.fill(0, j * T, (j + 1) * T);
    }
    this.candW = { rows: k, cols: T, data: new Float64Array(k * T) };
    this.candRt = { rows: T, cols: n, data: new Float64Array(T * n) };
    this.rt0 = a.rt.data.slice();
  }

  sweep(order: Int32Array): CdSweepResult {
    const a = this.a;
    const args = { xt: a.xs, rt: a.rt, w: a.w, colNormSq: this.colNormSq, l1Reg: a.l1Reg, l2Reg: a.l2Reg, order };
    const blockSize = residualBlock(this.T, a.xs.cols);
    if (a.orders !== undefined || blockSize === 0) return mtenetSweep(args);
    // Cyclic order: the block Grams of 0..k-1 serve every sweep of the call.
    this.blockGram ??= mtenetBlockGram(a.xs, order, blockSize);
    return mtenetSweep({ ...args, blockGram: this.blockGram, blockSize });
  }

  /** Cheap: the residual as the sweeps kept it; exact: recomputed as Y - X_k W. */
  check(p: Parts, exact: boolean): number {
    const a = this.a;
    const parts = exact ? cdResidual(a.xs, a.w, a.yt, a.rt) : residualParts(a.rt.data, a.yt.data);
    p.rNormSq = parts.rNormSq;
    p.ry = parts.ry;
    if (this.k > 0 && a.xs.cols > 0) gemm(a.xs, a.rt, a.h, { transB: true });
    else a.h.data.fill(0);
    setNorms(a.w.data, this.k, this.T, p);
    return dualNormOf(a.h.data, false, a.w.data, this.k, this.T, a.l2Reg);
  }

  tryPoint(w: Float64Array): number {
    this.candW.data.set(w);
    const parts = cdResidual(this.a.xs, this.candW, this.a.yt, this.candRt);
    const p: Parts = { rNormSq: parts.rNormSq, ry: parts.ry, l21: 0, wNormSq: 0 };
    setNorms(this.candW.data, this.k, this.T, p);
    return primal(p, this.a.l1Reg, this.a.l2Reg);
  }

  accept(): void {
    this.a.w.data.set(this.candW.data);
    this.a.rt.data.set(this.candRt.data);
  }

  residualChange(): number {
    const R = this.a.rt.data;
    let s = 0;
    for (let q = 0; q < R.length; q++) s += (R[q]! - this.rt0[q]!) ** 2;
    return Math.sqrt(s);
  }
}

export function mtenetResidualSolve(args: ResidualSolveArgs): InnerSolveResult {
  return solveLoop(new ResidualForm(args), args.w.data, args.xs.rows, args.w.cols, args);
}

/** A Gram solve's given X_k^T Y: k x T, every value finite (the binding's checks). */
function checkXty(xty: Matrix<Float64Array>, k: number, T: number): void {
  if (xty.rows !== k || xty.cols !== T || xty.data.length !== k * T) {
    throw new ShapeError(`mtenetGramSolve: xty is ${xty.rows} x ${xty.cols} (${xty.data.length} values), expected ${k} x ${T}`);
  }
  for (let q = 0; q < k * T; q++) {
    if (!Number.isFinite(xty.data[q]!)) throw new ValueError(`mtenetGramSolve: xty must hold finite values (index ${q} is ${xty.data[q]})`);
  }
}

/** A residual solve's given column norms: k values, each finite and >= 0 (the binding's checks). */
function checkColNormSq(colNormSq: Float64Array, k: number): void {
  if (colNormSq.length !== k) throw new ShapeError(`mtenetResidualSolve: colNormSq has ${colNormSq.length} elements, expected ${k}`);
  for (let j = 0; j < k; j++) {
    const v = colNormSq[j]!;
    if (!(v >= 0) || !Number.isFinite(v)) throw new ValueError(`mtenetResidualSolve: colNormSq must hold finite values >= 0 (index ${j} is ${v})`);
  }
}

/** out[o .. o + k) += c G[g .. g + k), skipped when c is 0. */
function addRow(out: Float64Array, o: number, c: number, G: Float64Array, g: number, k: number): void {
  if (c === 0) return;
  for (let q = 0; q < k; q++) out[o + q]! += c * G[g + q]!;
}
