/**
 * Working-set solver of the multi-task elastic net (n-scaled, see dualGap.ts):
 *   min_W (1/2) ||Y - X W||_F^2 + l1Reg sum_j ||W_j||_2 + (l2Reg/2) ||W||_F^2,
 * stopped by scikit-learn's rule, duality gap < tol ||Y||_F^2, so it reaches the same optimum as
 * scikit-learn's coordinate descent, usually far faster:
 * - Gap-safe screening (Fercoq, Gramfort & Salmon 2015; Ndiaye et al., JMLR 2017, the group case):
 *   at every gap check the features proven zero at the optimum are dropped for the rest of the solve.
 * - Working sets (Celer: Massias, Gramfort & Salmon, ICML 2018; skglm: Bertrand et al., NeurIPS 2022):
 *   coordinate descent runs on a small set of features (the current support, the features closest
 *   to violating the dual constraint, and the strong-rule candidates along a path), solved to a
 *   fraction of the tolerance by InnerSolver (inner.ts: Gram form, Anderson extrapolation); then the
 *   correlations X_j^T R of every remaining feature give the global gap, the next screening and the
 *   next working set. The set at least doubles with the support until the gap certifies the point.
 * - Sequential strong rule along a path (Tibshirani et al., "Strong rules for discarding predictors",
 *   JRSS B 74, 2012): after a solve at l1Reg', the features with ||X~_j^T R~|| >= 2 l1Reg - l1Reg'
 *   join the first working set at l1Reg.
 * - Correlations are not recomputed for features whose bound proves them irrelevant:
 *   ||X_j^T R|| <= ||X_j^T R'|| + ||X_j|| ||R - R'||_F for the residual R' at which they were last
 *   computed (EnetState keeps the running sum of ||R - R'||), which screens along a path without a
 *   product over all features.
 * The design X is read in place (never copied or transposed whole) through the cd kernels: its
 * columns centred on the fly, the working set's columns gathered per outer iteration.
 */
import type { Matrix } from '../../core/matrix.js';
import type { Rng } from '../../core/rng.js';
import type { CdDesign, Kernels } from '../../kernels/types.js';
import { dualityGapOf, normsOf, provenZero, safeRadius } from './dualGap.js';
import { ColumnPool } from './columnPool.js';
import { InnerSolver, residualParts, useGramForm, type InnerForm } from './inner.js';

/** Progress after one coordinate-descent sweep; dualGap (divided by n) when that sweep ended with a gap check. */
export interface ProgressInfo {
  /** 1-based sweep number. */
  iter: number;
  dualGap: number | null;
}

/** The training problem: the design (centred when fitting an intercept) and the centred targets. */
export interface EnetProblem {
  n: number;
  d: number;
  T: number;
  design: CdDesign;
  /** Y^T (centred), T x n. */
  yt: Matrix<Float64Array>;
  /** Target means (zeros when not fitting an intercept). */
  yMean: Float64Array;
  /** ||Y||_F^2 of the (centred) targets. */
  yNormSq: number;
}

export interface SolveSettings {
  l1Reg: number;
  l2Reg: number;
  tol: number;
  /** Budget of sweeps (over working sets) for this solve. */
  maxIter: number;
  selection: 'cyclic' | 'random';
  rng: Rng;
  /** l1Reg of the previous solve on this state (a path): enables the sequential strong rule. */
  previousL1Reg?: number;
  /** Form of the inner solves; default: the cheaper one for each working set (inner.ts, useGramForm). */
  innerForm?: InnerForm;
  /** Smallest working set; default MIN_WORKING_SET. */
  minWorkingSet?: number;
}

export interface SolveResult {
  /** Sweeps run (each over a working set). */
  nIter: number;
  /** Last duality gap of the n-scaled problem (scikit-learn's). */
  gap: number;
  /** tol ||Y||^2, the threshold the gap was compared with. */
  tolScaled: number;
  converged: boolean;
  /** The features screened out at the end (proven zero at the optimum), ascending. */
  screened: Int32Array;
}

/** Smallest working set (Celer's and skglm's p0 is 10; larger sets cost little in Gram form and save outer iterations). */
export const MIN_WORKING_SET = 50;
/** The inner solves stop at this fraction of the global tolerance (skglm uses 0.3 of its criterion). */
export const INNER_TOL_FRACTION = 0.3;

/** Centre Y (when fitIntercept) into Y^T and build the design. X and Y are never modified. */
export function prepareProblem(K: Kernels, x: Matrix<Float64Array>, y: Matrix<Float64Array>, fitIntercept: boolean): EnetProblem {
  const n = x.rows;
  const T = y.cols;
  const yMean = new Float64Array(T);
  if (fitIntercept && n > 0) {
    for (let i = 0; i < n; i++) for (let t = 0; t < T; t++) yMean[t]! += y.data[i * T + t]!;
    for (let t = 0; t < T; t++) yMean[t]! /= n;
  }
  const yt = new Float64Array(T * n);
  let yNormSq = 0;
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < T; t++) {
      const v = y.data[i * T + t]! - yMean[t]!;
      yt[t * n + i] = v;
      yNormSq += v * v;
    }
  }
  return { n, d: x.cols, T, design: K.cdDesign(x, fitIntercept), yt: { rows: T, cols: n, data: yt }, yMean, yNormSq };
}

/**
 * The coefficients, residual and feature correlations of a solve, kept between the solves of a
 * path (warm starts): W (d x T), R^T (T x n), and for each feature the last X_j^T R computed, with
 * the residual drift since then.
 */
export class EnetState {
  readonly w: Matrix<Float64Array>;
  readonly rt: Matrix<Float64Array>;
  /** X_j^T R (row j), valid for the residual version corrVersion[j]. */
  readonly corr: Float64Array;
  readonly corrNorm: Float64Array;
  private readonly corrVersion: Int32Array;
  private readonly corrDrift: Float64Array;
  /** Incremented whenever rt changes. */
  private version = 0;
  /** rt at the last correlation product, its version, and the drift sum up to it. */
  private readonly snapshot: Float64Array;
  private snapshotVersion = 0;
  private drift = 0;
  private driftCache = { version: -1, value: 0 };
  /** The working sets' gathered columns and Gram matrix, kept along the solves of this state. */
  readonly pool: ColumnPool;

  constructor(
    private readonly K: Kernels,
    readonly p: EnetProblem,
    w0?: Float64Array,
  ) {
    const { d, T, n } = p;
    this.w = { rows: d, cols: T, data: w0 ? w0.slice() : new Float64Array(d * T) };
    this.rt = { rows: T, cols: n, data: p.yt.data.slice() };
    const support = supportOf(this.w.data, d, T);
    if (support.length > 0) {
      const xs: Matrix<Float64Array> = { rows: support.length, cols: n, data: new Float64Array(support.length * n) };
      K.cdGatherColumns(p.design, support, xs);
      K.gemm(rowsOf(this.w.data, support, T), xs, this.rt, { transA: true, alpha: -1, beta: 1 });
    }
    this.corr = new Float64Array(d * T);
    this.corrNorm = new Float64Array(d);
    this.corrVersion = new Int32Array(d).fill(-1);
    this.corrDrift = new Float64Array(d);
    this.snapshot = this.rt.data.slice();
    this.pool = new ColumnPool(K, p.design, n);
  }

  /** Whether X_j^T R is known at the current residual. */
  fresh(j: number): boolean {
    return this.corrVersion[j] === this.version;
  }

  /** An upper bound on ||X_j^T R|| at the current residual (exact when fresh; Infinity if never computed). */
  bound(j: number): number {
    if (this.corrVersion[j] === this.version) return this.corrNorm[j]!;
    if (this.corrVersion[j]! < 0) return Infinity;
    return this.corrNorm[j]! + Math.sqrt(this.p.design.colNormSq[j]!) * (this.driftNow() - this.corrDrift[j]!);
  }

  /** The running sum of ||R_e - R_{e-1}|| up to the current residual. */
  private driftNow(): number {
    if (this.version === this.snapshotVersion) return this.drift;
    if (this.driftCache.version !== this.version) {
      let s = 0;
      const r = this.rt.data;
      for (let i = 0; i < r.length; i++) s += (r[i]! - this.snapshot[i]!) ** 2;
      this.driftCache = { version: this.version, value: this.drift + Math.sqrt(s) };
    }
    return this.driftCache.value;
  }

  /** Compute X_j^T R for the listed features (one cdCorrelations call). */
  refresh(cols: Int32Array): void {
    if (cols.length === 0) return;
    const T = this.p.T;
    const out: Matrix<Float64Array> = { rows: cols.length, cols: T, data: new Float64Array(cols.length * T) };
    this.K.cdCorrelations(this.p.design, this.rt, cols, out);
    this.setCorrelations(cols, out.data);
  }

  /** Record X_j^T R (rows of values, cols.length x T) of the listed features at the current residual. */
  setCorrelations(cols: ArrayLike<number>, values: Float64Array): void {
    const T = this.p.T;
    // The drift sum must run through the residual these values belong to.
    if (this.version !== this.snapshotVersion) {
      this.drift = this.driftNow();
      this.snapshot.set(this.rt.data);
      this.snapshotVersion = this.version;
    }
    for (let c = 0; c < cols.length; c++) {
      const j = cols[c]!;
      let s = 0;
      for (let t = 0; t < T; t++) {
        const v = values[c * T + t]!;
        this.corr[j * T + t] = v;
        s += v * v;
      }
      this.corrNorm[j] = Math.sqrt(s);
      this.corrVersion[j] = this.version;
      this.corrDrift[j] = this.drift;
    }
  }

  /** Record that rt was changed in place. */
  residualChanged(): void {
    this.version++;
  }
}

/** Indices of the non-zero rows of W (d x T). */
function supportOf(w: Float64Array, d: number, T: number): Int32Array {
  const out: number[] = [];
  for (let j = 0; j < d; j++) if (rowIsNonZero(w, j, T)) out.push(j);
  return Int32Array.from(out);
}

function rowIsNonZero(w: Float64Array, j: number, T: number): boolean {
  for (let t = 0; t < T; t++) if (w[j * T + t] !== 0) return true;
  return false;
}

/** The listed rows of W (d x T) as a rows.length x T matrix. */
function rowsOf(w: Float64Array, rows: Int32Array, T: number): Matrix<Float64Array> {
  const out = new Float64Array(rows.length * T);
  for (let c = 0; c < rows.length; c++) out.set(w.subarray(rows[c]! * T, (rows[c]! + 1) * T), c * T);
  return { rows: rows.length, cols: T, data: out };
}

/** ||X~_j^T R~|| = ||X_j^T R - l2Reg W_j|| for a feature whose correlation is fresh. */
function dualCorrelation(st: EnetState, j: number, T: number, l2Reg: number): number {
  if (l2Reg === 0) return st.corrNorm[j]!;
  let s = 0;
  for (let t = 0; t < T; t++) {
    const v = st.corr[j * T + t]! - l2Reg * st.w.data[j * T + t]!;
    s += v * v;
  }
  return Math.sqrt(s);
}

/**
 * Solve at (l1Reg, l2Reg) from the state's coefficients, updating the state. A generator that
 * yields after every sweep (fit() awaits the event loop there; fitSync runs it through).
 *
 * Each outer iteration: (1) the gap from what is known, exact correlations where fresh and bounds
 * elsewhere (along a path, or right after an inner solve whose working set held every feature
 * near its constraint, this certifies the point without any product); (2) gap-safe screening with
 * those bounds; (3) the correlations of the remaining stale features (one product) and the gap
 * again; (4) gap-safe screening with the exact values; (5) the next working set and its inner solve.
 * The scale of the dual point always covers every feature, screened ones by their bounds, so each
 * gap is a duality gap of the whole problem, at least scikit-learn's near the optimum.
 */
export function* solveEnet(K: Kernels, p: EnetProblem, st: EnetState, s: SolveSettings): Generator<ProgressInfo, SolveResult, void> {
  const { d, T, n } = p;
  const cn = p.design.colNormSq;
  const W = st.w.data;
  const { l1Reg, l2Reg } = s;
  const tolScaled = s.tol * p.yNormSq;
  // active[j]: j may be non-zero at the optimum (a non-zero column not screened at this l1Reg).
  const active = new Uint8Array(d);
  for (let j = 0; j < d; j++) {
    if (cn[j]! > 0) active[j] = 1;
    else W.fill(0, j * T, (j + 1) * T); // an all-zero column has no effect on the fit: its optimum is 0
  }
  const xi = new Float64Array(d); // ||X~_j^T R~||, or an upper bound where not fresh
  let sweeps = 0;
  let gap = NaN;
  let pendingSweep = false; // the last sweep's progress waits for the gap that follows it
  const done = (): SolveResult => ({ nIter: sweeps, gap, tolScaled, converged: gap < tolScaled, screened: screenedOf(active, cn) });
  for (;;) {
    const parts = { ...residualParts(st.rt.data, p.yt.data), ...normsOf(W, T) };
    // (1) The gap from exact values and bounds.
    let scale = knownCorrelations(st, W, xi, l2Reg, l1Reg);
    gap = dualityGapOf(parts, scale, l1Reg, l2Reg);
    if (pendingSweep) {
      pendingSweep = false;
      yield { iter: sweeps, dualGap: gap / n };
    }
    if (sweeps > 0 && gap < tolScaled) return done();
    // (2) Screening with the bounds, then (3) the product for the stale active features.
    screen(active, xi, scale, safeRadius(gap, l1Reg, p.yNormSq), W, cn, l2Reg, T);
    const stale: number[] = [];
    for (let j = 0; j < d; j++) if (active[j] && !st.fresh(j)) stale.push(j);
    st.refresh(Int32Array.from(stale));
    // Screened features whose bounds dominate the scale get exact values (they stay screened).
    const exactScale = tightenScreened(st, active, xi, knownCorrelations(st, W, xi, l2Reg, l1Reg), l1Reg, W, l2Reg);
    if (exactScale !== scale) {
      scale = exactScale;
      gap = dualityGapOf(parts, scale, l1Reg, l2Reg);
      if (sweeps > 0 && gap < tolScaled) return done();
    }
    if (sweeps >= s.maxIter) return done();
    // (4) Screening with the exact correlations.
    screen(active, xi, scale, safeRadius(gap, l1Reg, p.yNormSq), W, cn, l2Reg, T);

    // (5) The working set and its inner solve.
    const ws = workingSet(active, xi, scale, W, cn, s);
    const k = ws.length;
    const gramForm = s.innerForm ? s.innerForm === 'gram' : useGramForm(k, st.pool.missing(ws), n, T);
    const { xws, gram } = st.pool.take(ws, gramForm);
    const inner = new InnerSolver(
      K,
      { xws, ...(gram ? { gram } : {}), yt: p.yt, w0: rowsOf(W, ws, T).data, rt0: st.rt, h0: rowsOf(st.corr, ws, T).data, r0NormSq: parts.rNormSq, r0y: parts.ry, l1Reg, l2Reg },
      { tol: INNER_TOL_FRACTION * tolScaled, selection: s.selection, rng: s.rng },
    );
    for (;;) {
      const finished = inner.step();
      sweeps++;
      if (finished || sweeps >= s.maxIter) break;
      yield { iter: sweeps, dualGap: null };
    }
    pendingSweep = true;
    const h = inner.correlations();
    for (let c = 0; c < k; c++) W.set(inner.w.data.subarray(c * T, (c + 1) * T), ws[c]! * T);
    inner.residual(st.rt);
    st.residualChanged();
    st.setCorrelations(ws, h);
  }
}

/**
 * xi[j] = ||X~_j^T R~|| for every non-zero column (exact where fresh, else its bound; Infinity when
 * never computed) and the dual scale max(l1Reg, max_j xi[j]).
 */
function knownCorrelations(st: EnetState, W: Float64Array, xi: Float64Array, l2Reg: number, l1Reg: number): number {
  const cn = st.p.design.colNormSq;
  const T = st.p.T;
  let scale = l1Reg;
  for (let j = 0; j < xi.length; j++) {
    if (!(cn[j]! > 0)) continue;
    const v = st.fresh(j) ? dualCorrelation(st, j, T, l2Reg) : rowIsNonZero(W, j, T) ? Infinity : st.bound(j);
    xi[j] = v;
    if (v > scale) scale = v;
  }
  return scale;
}

/**
 * When bounds of screened features exceed every exact value (and l1Reg), compute those features
 * exactly so that the scale, hence the gap, is not inflated by stale bounds; returns the new scale.
 */
function tightenScreened(st: EnetState, active: Uint8Array, xi: Float64Array, scale: number, l1Reg: number, W: Float64Array, l2Reg: number): number {
  const cn = st.p.design.colNormSq;
  let exactMax = l1Reg;
  for (let j = 0; j < xi.length; j++) if (cn[j]! > 0 && st.fresh(j) && xi[j]! > exactMax) exactMax = xi[j]!;
  if (!(scale > exactMax)) return scale;
  const loose: number[] = [];
  for (let j = 0; j < xi.length; j++) if (!active[j] && cn[j]! > 0 && !st.fresh(j) && xi[j]! > exactMax) loose.push(j);
  st.refresh(Int32Array.from(loose));
  return knownCorrelations(st, W, xi, l2Reg, l1Reg);
}

/** Gap-safe screening of the active zero rows whose xi (exact or bound) passes the sphere test. */
function screen(active: Uint8Array, xi: Float64Array, scale: number, radius: number, W: Float64Array, cn: Float64Array, l2Reg: number, T: number): void {
  if (!Number.isFinite(radius)) return;
  for (let j = 0; j < active.length; j++) {
    if (active[j] && provenZero(xi[j]!, scale, radius, cn[j]!, l2Reg) && !rowIsNonZero(W, j, T)) active[j] = 0;
  }
}

function screenedOf(active: Uint8Array, cn: Float64Array): Int32Array {
  const out: number[] = [];
  for (let j = 0; j < active.length; j++) if (!active[j] && cn[j]! > 0) out.push(j);
  return Int32Array.from(out);
}

/** Bring back screened features whose bound exceeds `threshold` (so that the gap is scikit-learn's). */
function reactivate(st: EnetState, active: Uint8Array, threshold: number): boolean {
  const cn = st.p.design.colNormSq;
  let any = false;
  for (let j = 0; j < active.length; j++) {
    if (!active[j] && cn[j]! > 0 && st.bound(j) > threshold) {
      active[j] = 1;
      any = true;
    }
  }
  return any;
}

/**
 * The next working set, in increasing feature order: the support, the strong-rule candidates and
 * the active features closest to their dual constraint, by Celer's score
 * (1 - ||X~_j^T theta||) / ||X~_j||; at least MIN_WORKING_SET features and twice the support.
 */
function workingSet(active: Uint8Array, xi: Float64Array, scale: number, W: Float64Array, cn: Float64Array, s: SolveSettings): Int32Array {
  const d = active.length;
  const T = W.length / d;
  const chosen = new Uint8Array(d);
  const rest: number[] = [];
  let count = 0;
  let activeCount = 0;
  let nnz = 0;
  const strong = s.previousL1Reg !== undefined ? 2 * s.l1Reg - s.previousL1Reg : Infinity;
  for (let j = 0; j < d; j++) {
    if (!active[j]) continue;
    activeCount++;
    const nz = rowIsNonZero(W, j, T);
    if (nz) nnz++;
    // No l1 penalty: every feature is in the model, the working set is everything active.
    if (nz || xi[j]! >= strong || !(s.l1Reg > 0)) {
      chosen[j] = 1;
      count++;
    } else rest.push(j);
  }
  const size = Math.min(activeCount, Math.max(s.minWorkingSet ?? MIN_WORKING_SET, 2 * nnz, count));
  if (count < size) {
    const score = (j: number): number => (1 - xi[j]! / scale) / Math.sqrt(cn[j]! + s.l2Reg);
    rest.sort((a, b) => score(a) - score(b) || a - b);
    for (let i = 0; i < size - count; i++) chosen[rest[i]!] = 1;
  }
  const out: number[] = [];
  for (let j = 0; j < d; j++) if (chosen[j]) out.push(j);
  return Int32Array.from(out);
}
