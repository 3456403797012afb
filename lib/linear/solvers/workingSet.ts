/**
 * Working-set solver of the multi-task elastic net (n-scaled, see dualGap.ts):
 *   min_W (1/2) ||Y - X W||_F^2 + l1Reg sum_j ||W_j||_2 + (l2Reg/2) ||W||_F^2,
 * stopped by scikit-learn's rule, duality gap < tol ||Y||_F^2, so it reaches the same optimum as
 * scikit-learn's coordinate descent, usually far faster:
 * - Gap-safe screening (Fercoq, Gramfort & Salmon 2015; Ndiaye et al., JMLR 2017, the group case):
 *   at every gap check the features proven zero at the optimum are dropped for the rest of the solve.
 * - Working sets (Celer: Massias, Gramfort & Salmon, ICML 2018; skglm: Bertrand et al., NeurIPS 2022):
 *   coordinate descent runs on a small set of features (the current support, the features whose
 *   optimality conditions are most violated, and the strong-rule candidates along a path), solved to a
 *   fraction of the tolerance by one kernel call (inner.ts: Gram or residual form, Anderson
 *   extrapolation); then the correlations X_j^T R of every remaining feature give the global gap,
 *   the next screening and the next working set. The first set holds minWorkingSetFor(n, d, T)
 *   features (50, fewer when their Gram matrix would cost more than another outer iteration), or,
 *   when that leaves features out, twice those violating their optimality conditions at W = 0
 *   where that is fewer (at least 10: few violators foretell a small support); then
 *   the set doubles the support (after a set that filled up, adds twice the features still
 *   violating their optimality conditions, up to four times the support), or, near the optimum,
 *   holds the support and twice the features still violating their optimality conditions when
 *   those are few, until the gap certifies the point; when the sets fill up and reach half the
 *   features (a dense solution), it takes every active feature at once.
 * - Sequential strong rule along a path (Tibshirani et al., "Strong rules for discarding predictors",
 *   JRSS B 74, 2012): after a solve at l1Reg', the features with ||X~_j^T R~|| >= 2 l1Reg - l1Reg'
 *   join the first working set at l1Reg.
 * - Correlations are not recomputed for features whose bound proves them irrelevant:
 *   ||X_j^T R|| <= ||X_j^T R'|| + ||X_j|| ||R - R'||_F for the residual R' at which they were last
 *   computed (EnetState keeps the running sum of ||R - R'||), which screens along a path without a
 *   product over all features.
 * - For many solves of one problem (a CV fold's path) the whole Gram matrix may be computed once
 *   (withGram): correlations are then X_j^T Y - G_j W over the support, and X is not read again.
 * The design X is read in place (never copied or transposed whole) through the cd kernels, and the
 * passes over the d features (dual norms, screening, stale lists, working sets) are kernels too
 * (cdscreen): what runs in TypeScript per outer iteration is proportional to the working set.
 */
import { BufferLease } from '../../core/bufferLease.js';
import { ShapeError, ValueError } from '../../core/errors.js';
import { assertFinite, type Matrix } from '../../core/matrix.js';
import type { Rng } from '../../core/rng.js';
import type { CdDesign, CdFeatureState, Kernels } from '../../kernels/types.js';
import { dualityGapOf, safeRadius, SCREEN_MARGIN } from './dualGap.js';
import { ColumnPool } from './columnPool.js';
import { ANDERSON_K, innerSolve, useGramForm, type InnerForm } from './inner.js';

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
  /** Xc^T Yc, d x T: the correlations at W = 0, where every fit without a warm start begins. */
  xty: Matrix<Float64Array>;
  /** The norms of xty's rows, length d. */
  xtyNorms: Float64Array;
  /**
   * The whole Gram matrix, when computed once for many solves (withGram). Always present, if
   * undefined: one object shape for both kinds of problem keeps V8's compiled solver code valid.
   */
  gram: PrecomputedGram | undefined;
}

/**
 * Xc^T Xc of a problem, computed once: every correlation is then read from it and the problem's
 * xty over the support (cdGramCorrelations, |S| T multiply-adds per feature instead of n T, no
 * residual) and every working set's Gram matrix is copied out of it.
 */
export interface PrecomputedGram {
  /** Xc^T Xc, d x d. */
  gram: Matrix<Float64Array>;
}

/** Most features for which the whole Gram matrix is kept: 2048^2 doubles are 32 MiB. */
export const MAX_GRAM_FEATURES = 2048;

/**
 * Whether computing the whole Gram matrix (n d^2 multiply-adds) pays for `solves` solves of one
 * problem (a regularisation path): without it each solve reads X at least twice for the
 * correlations (2 n d T), so it pays when d < 2 T solves, i.e. when a path's passes over X cost
 * more than one pass per task of every feature's Gram row. Kept within MAX_GRAM_FEATURES.
 */
export function gramPays(d: number, T: number, solves: number): boolean {
  return d <= MAX_GRAM_FEATURES && d < 2 * T * solves;
}

/**
 * The problem with its whole Gram matrix computed, from X in place (cdGramColumns computes the
 * symmetric matrix from its diagonal on and mirrors it), in a buffer of `lease`.
 */
export function withGram(K: Kernels, p: EnetProblem, lease = new BufferLease()): EnetProblem {
  const { d } = p;
  const all = Int32Array.from({ length: d }, (_, j) => j);
  const gram: Matrix<Float64Array> = { rows: d, cols: d, data: lease.f64(d * d) };
  K.cdGramColumns(p.design, all, all, gram);
  // One literal, the shape of prepareProblem's (a spread copy is another hidden class to V8).
  const { n, T, design, yt, yMean, yNormSq, xty, xtyNorms } = p;
  return { n, d, T, design, yt, yMean, yNormSq, xty, xtyNorms, gram: { gram } };
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
  /**
   * Smallest working set; default minWorkingSetFor(n, d, T). A set from an empty support that
   * would leave features out anyway holds twice the features violating their conditions where
   * that is fewer (at least 10; kernel cdWorkingSet).
   */
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

/**
 * The smallest working set on most problems (Celer's and skglm's p0 is 10; larger sets cost little
 * in Gram form and save outer iterations); minWorkingSetFor starts below it where the Gram matrix
 * of so many columns would cost more.
 */
export const MIN_WORKING_SET = 50;
/** The smallest working set on any problem (Celer's and skglm's p0; cdWorkingSet's first set from an empty support has the same floor). */
export const MIN_WORKING_SET_FLOOR = 10;

/**
 * The smallest working set for a problem of n samples, d features and T tasks: MIN_WORKING_SET,
 * unless its Gram matrix costs more than the outer iteration a smaller set may add. The Gram
 * matrix of k columns costs n k^2 / 2 multiply-adds; a set found too small costs one more outer
 * iteration, a pass over X for the correlations (about n d (T + 4) multiply-adds' worth: its
 * products and the reading of X) and the iteration's fixed cost (about 10^6 of them). Many samples
 * of few features and tasks (20000 x 50 x 2: the 50 columns are the whole design) start at the
 * k where the two balance, down to MIN_WORKING_SET_FLOOR; 20000 x 50 x 2 ran 15-20% faster.
 */
export function minWorkingSetFor(n: number, d: number, T: number): number {
  const balance = Math.round(Math.sqrt(2 * (d * (T + 4) + 1e6 / Math.max(n, 1))));
  return Math.max(MIN_WORKING_SET_FLOOR, Math.min(MIN_WORKING_SET, balance));
}
/**
 * The inner solves stop at this fraction of the global tolerance, or of the current duality gap
 * (solveEnet; skglm uses 0.3 of its criterion, Celer of its gap).
 */
export const INNER_TOL_FRACTION = 0.3;
/** The share of the current gap that bounds an inner solve's tolerance from below (solveEnet). */
const INNER_GAP_FLOOR = 1e-3;
/** An inner solve of this many sweeps marks a slow problem: its later residual-form solves stop at 0.3 of the gap (solveEnet). */
const SLOW_INNER_SWEEPS = 20;

/**
 * EnetState's reused row buffers (rowRoom): a working set's rows of W and of X^T R, the Gram form's
 * transposed X^T R, the support's rows of W, the rows a pending residual is rebuilt from, a
 * working set's column norms and its rows of X^T Y.
 */
const ROW_W = 0;
const ROW_H = 1;
const ROW_HT = 2;
const ROW_SUPPORT = 3;
const ROW_PENDING = 4;
const ROW_NORMS = 5;
const ROW_XTY = 6;
const EMPTY_ROWS = new Float64Array(0);

/**
 * The design and the centred targets of X (n x d) and Y (n x T), checked: the kernels that read
 * them anyway report a NaN or an infinity, and the value is then found and named (`names` are the
 * argument names of the messages). X and Y are never modified.
 */
export function prepareProblem(
  K: Kernels,
  x: Matrix<Float64Array>,
  y: Matrix<Float64Array>,
  fitIntercept: boolean,
  names: { x: string; y: string } = { x: 'X', y: 'Y' },
  /** Where Y^T, X^T Y and the design's memory go: the caller releases it when it no longer reads the problem. */
  lease = new BufferLease(),
): EnetProblem {
  if (y.rows !== x.rows) throw new ShapeError(`${names.x} has ${x.rows} rows but ${names.y} has ${y.rows}`);
  const d = x.cols;
  const T = y.cols;
  const { yt, yMean, yNormSq } = K.cdTargets(y, fitIntercept, { rows: T, cols: y.rows, data: lease.f64(T * y.rows) });
  const xty: Matrix<Float64Array> = { rows: d, cols: T, data: lease.f64(d * T) };
  const xtyNorms = lease.f64(d);
  // The design's own memory (its column statistics; the TypeScript kernels' copy of X) is the lease's too.
  const design = K.cdDesignCorrelations(x, fitIntercept, yt, xty, xtyNorms, (length, source) => lease.f64From(source, length));
  if (!design.finite) nonFinite(x, names.x);
  if (!Number.isFinite(yNormSq)) nonFinite(y, names.y);
  return { n: x.rows, d, T, design, yt, yMean, yNormSq, xty, xtyNorms, gram: undefined };
}

/** Name the first NaN or infinity of a, or, when every value is finite, the overflow. */
function nonFinite(a: Matrix<Float64Array>, name: string): never {
  assertFinite(a.data, name, a.cols);
  throw new ValueError(`${name} has values too large for the solver (a column's sum of squares overflows); rescale it`);
}

/**
 * The coefficients, residual and feature correlations of a solve, kept between the solves of a
 * path (warm starts): W (d x T), R^T (T x n), and for each feature the last X_j^T R computed, with
 * the residual drift since then; also ||R||^2, <R, Y>, sum_j ||W_j||, ||W||^2 and the support.
 */
export class EnetState {
  readonly w: Matrix<Float64Array>;
  /**
   * R^T = (Y - X W)^T, T x n; null while W = 0, when R = Y is read from the targets: a fit that
   * ends without needing its residual (one Gram-form solve certified by its gap) never fills the
   * n x T buffer, whose fresh pages cost about as much as a pass over X on n-heavy problems.
   */
  private residualT: Matrix<Float64Array> | null = null;
  /**
   * After a Gram-form solve the residual is rebuilt only when read (the gap needs only its parts,
   * which the solve returns): the features and coefficients it is rebuilt from (X read in place).
   */
  private pendingResidual: { cols: Int32Array; w: Matrix<Float64Array> } | null = null;
  /** X_j^T R (row j), valid for the residual version corrVersion[j]. */
  readonly corr: Float64Array;
  readonly corrNorm: Float64Array;
  /** nonZero[j] = 1 when row j of W is not zero. */
  readonly nonZero: Uint8Array;
  /** The number of non-zero rows of W (the support's size). */
  supportSize = 0;
  private readonly corrVersion: Int32Array;
  /** The state as the screening kernels read it (the arrays above, the residual version and drift). */
  private readonly scan: CdFeatureState;
  /** 1 for the features of non-zero columns (the ones that can be non-zero at an optimum). */
  readonly columns: Uint8Array;
  /** The number of non-zero columns. */
  readonly columnCount: number;
  /** Room for a list of features (staleAbove, staleActive). */
  private readonly list: Int32Array;
  /** refresh()'s output for lists of features that are not consecutive (allocated on first use). */
  private scratch: { out: Float64Array; norms: Float64Array } | null = null;
  /** 0, 1, ..., d - 1: refresh()'s spans of features are views of it (filled on first use). */
  private features: Int32Array | null = null;
  /** solveEnet's per-feature arrays, kept for the next solve of a path (allocated on first use). */
  private solveArrays: { active: Uint8Array; xi: Float64Array; setRoom: Int32Array } | null = null;
  /** supportRows()' value while W is unchanged. */
  private supportCache: { cols: Int32Array; w: Matrix<Float64Array> } | null = null;
  /** rowRoom()'s buffers by slot (ROW_*), grown from the lease as needed. */
  private readonly rowBuffers: Float64Array[] = [EMPTY_ROWS, EMPTY_ROWS, EMPTY_ROWS, EMPTY_ROWS, EMPTY_ROWS, EMPTY_ROWS, EMPTY_ROWS];
  rNormSq: number;
  ry: number;
  l21 = 0;
  wNormSq = 0;
  /** The working sets' gathered columns and Gram matrix, kept along the solves of this state. */
  readonly pool: ColumnPool;

  constructor(
    private readonly K: Kernels,
    readonly p: EnetProblem,
    w0?: Float64Array,
    /** Where the state's arrays come from: the caller releases it once it has read W (finish). */
    readonly lease = new BufferLease(),
  ) {
    const { d, T, n } = p;
    this.w = { rows: d, cols: T, data: w0 ? lease.copyOf(w0) : lease.f64(d * T) };
    this.rNormSq = p.yNormSq;
    this.ry = p.yNormSq;
    this.corr = lease.f64(d * T);
    this.corrNorm = lease.f64(d);
    this.nonZero = lease.u8(d);
    this.corrVersion = lease.i32(d).fill(-1);
    this.list = lease.i32(d);
    // version: incremented whenever rt changes; drift: the running sum of ||R_e - R_{e-1}||.
    this.scan = {
      colNormSq: p.design.colNormSq, corr: { rows: d, cols: T, data: this.corr }, corrNorm: this.corrNorm, corrVersion: this.corrVersion,
      corrDrift: lease.f64(d), nonZero: this.nonZero, w: this.w, version: 0, drift: 0,
    };
    this.columns = lease.u8(d);
    this.columnCount = K.cdFlagPositive(p.design.colNormSq, this.columns);
    this.pool = new ColumnPool(K, p.design, n, p.gram?.gram, lease);
    if (w0) {
      this.setStart();
    } else {
      // W = 0: the residual is Y, whose correlations the problem holds.
      this.corr.set(p.xty.data);
      this.corrNorm.set(p.xtyNorms);
      this.markFresh(0, d);
    }
  }

  /**
   * A warm start: the support, the norms of W and its residual Y - X_S W_S. Rows of all-zero
   * (centred) columns are set to 0: such a feature has no effect on the fit and its optimum is 0.
   */
  private setStart(): void {
    const { T } = this.p;
    const W = this.w.data;
    const cn = this.p.design.colNormSq;
    for (let j = 0; j < this.p.d; j++) {
      if (!(cn[j]! > 0)) W.fill(0, j * T, (j + 1) * T);
      let s = 0;
      for (let t = 0; t < T; t++) s += W[j * T + t]! * W[j * T + t]!;
      if (s > 0) {
        this.nonZero[j] = 1;
        this.supportSize++;
        this.l21 += Math.sqrt(s);
        this.wNormSq += s;
      }
    }
    const { cols, w } = this.supportRows();
    if (cols.length > 0) this.setResidual(cols, w);
  }

  /**
   * The residual R^T = (Y - X W)^T, T x n, to read only (it is the targets themselves while
   * W = 0); rebuilt here when a Gram-form solve left it pending.
   */
  get rt(): Matrix<Float64Array> {
    const pending = this.pendingResidual;
    if (pending !== null) {
      this.pendingResidual = null;
      this.K.cdResidualColumns(this.p.design, pending.cols, pending.w, this.p.yt, this.residualBuffer());
    }
    return this.residualT ?? this.p.yt;
  }

  /** The residual, to be updated in place (by a residual-form inner solve). */
  writableRt(): Matrix<Float64Array> {
    const rt = this.rt;
    if (this.residualT !== null) return rt;
    this.residualT = { rows: this.p.T, cols: this.p.n, data: this.lease.copyOf(this.p.yt.data) };
    return this.residualT;
  }

  /** The residual's own buffer, allocated (unfilled) on first use. */
  private residualBuffer(): Matrix<Float64Array> {
    return (this.residualT ??= { rows: this.p.T, cols: this.p.n, data: this.lease.f64(this.p.T * this.p.n) });
  }

  /** Whether X_j^T R is known at the current residual. */
  fresh(j: number): boolean {
    return this.corrVersion[j] === this.scan.version;
  }

  /**
   * The first of the listed features whose X_j^T R is not known at the current residual, or -1
   * (one loop, no call per feature: a cross-validation's solves check some 80,000 features a fit).
   */
  firstStale(cols: Int32Array): number {
    const version = this.scan.version;
    for (let c = 0; c < cols.length; c++) if (this.corrVersion[cols[c]!] !== version) return cols[c]!;
    return -1;
  }

  /**
   * xi[j] = ||X~_j^T R~|| = ||X_j^T R - l2Reg W_j|| for every non-zero column (exact where fresh,
   * else its bound; Infinity when never computed, or for a stale non-zero row) and the dual scale
   * max(l1Reg, max_j xi[j]) (kernel cdDualNorms).
   */
  dualNorms(xi: Float64Array, l2Reg: number, l1Reg: number): number {
    return this.K.cdDualNorms(this.scan, l1Reg, l2Reg, xi);
  }

  /**
   * The stale features of non-zero columns (active or screened) whose xi, a bound, exceeds
   * `limit`, ascending (a view, valid until the next staleAbove or staleActive).
   */
  staleAbove(xi: Float64Array, limit: number): Int32Array {
    return this.list.subarray(0, this.K.cdStaleFeatures(this.corrVersion, this.scan.version, this.columns, xi, limit, this.list));
  }

  /** The active features whose correlations are stale, ascending (a view, as staleAbove's). */
  staleActive(active: Uint8Array, xi: Float64Array): Int32Array {
    return this.list.subarray(0, this.K.cdStaleFeatures(this.corrVersion, this.scan.version, active, xi, -Infinity, this.list));
  }

  /**
   * A solve's per-feature arrays, zeroed but for `active`, a copy of `columns`: a path's solves
   * (one at a time on a state) share them.
   */
  solveBuffers(): { active: Uint8Array; xi: Float64Array; setRoom: Int32Array } {
    const d = this.p.d;
    if (this.solveArrays === null) {
      this.solveArrays = { active: this.lease.u8(d), xi: this.lease.f64(d), setRoom: this.lease.i32(d) };
    } else {
      this.solveArrays.xi.fill(0);
      this.solveArrays.setRoom.fill(0);
    }
    this.solveArrays.active.set(this.columns);
    return this.solveArrays;
  }

  /**
   * The rows of W of a working set that holds the whole support (rows of values, order.length x T),
   * with the support flags, sum_j ||W_j|| and ||W||^2 they give.
   */
  setRows(order: Int32Array, values: Float64Array): void {
    this.supportCache = null;
    const r = this.K.cdSetRows(this.w, this.nonZero, order, { rows: order.length, cols: this.p.T, data: values });
    this.supportSize += r.supportChange;
    this.l21 = r.l21;
    this.wNormSq = r.normSq;
  }

  /** Compute X_j^T R for the listed features (one cdCorrelations call); false when there are none. */
  refresh(cols: Int32Array): boolean {
    const m = cols.length;
    if (m === 0) return false;
    const T = this.p.T;
    const first = cols[0]!;
    const span = cols[m - 1]! - first + 1;
    if (span - m <= m >> 3) {
      // Consecutive features, or nearly (every feature but the working set, after an inner solve):
      // the whole span, the few features between computed again, in one product written straight
      // into the state's rows, with no copy.
      const range = span === m ? cols : (this.features ??= everyFeature(this.K, this.lease, this.p.d)).subarray(first, first + span);
      const out: Matrix<Float64Array> = { rows: span, cols: T, data: this.corr.subarray(first * T, (first + span) * T) };
      this.correlate(range, out, this.corrNorm.subarray(first, first + span));
      this.markFresh(first, first + span);
      return true;
    }
    // Otherwise into scratch kept by the state (a fresh d x T temporary cost its page faults on
    // every call), then written to their rows (cdSetCorrelations).
    if (this.scratch === null) this.scratch = { out: this.lease.f64Room(this.p.d * T), norms: this.lease.f64(this.p.d) };
    const { out, norms } = this.scratch;
    const values: Matrix<Float64Array> = { rows: m, cols: T, data: out.subarray(0, m * T) };
    this.lease.prefaultView(values.data);
    const valueNorms = norms.subarray(0, m);
    this.correlate(cols, values, valueNorms);
    this.K.cdSetCorrelations(this.scan, cols, values, valueNorms);
    return true;
  }

  /**
   * X_j^T R of the listed features into out, with their norms; when a Gram-form solve left the
   * residual pending, it is rebuilt in the same pass over X (cdResidualCorrelations).
   */
  private correlate(cols: Int32Array, out: Matrix<Float64Array>, norms: Float64Array): void {
    const g = this.p.gram;
    if (g) {
      // From the whole Gram matrix: the residual is not read (nor rebuilt).
      this.K.cdGramCorrelations(g.gram, this.p.xty, this.w, this.supportRows().cols, cols, out, norms);
      return;
    }
    const pending = this.pendingResidual;
    if (pending === null) {
      this.K.cdCorrelations(this.p.design, this.rt, cols, out, norms);
      return;
    }
    this.pendingResidual = null;
    this.K.cdResidualCorrelations(this.p.design, pending.cols, pending.w, this.p.yt, this.residualBuffer(), cols, out, norms);
  }

  /**
   * The support (non-zero rows of W, ascending) and those rows (|S| x T), kept until W changes (the
   * rows are overwritten then: a caller reads them at once).
   */
  supportRows(): { cols: Int32Array; w: Matrix<Float64Array> } {
    if (this.supportCache !== null) return this.supportCache;
    const cols = flaggedFeatures(this.K, this.nonZero, this.supportSize);
    this.supportCache = { cols, w: rowsInto(this.K, this.w, cols, this.rowRoom(ROW_SUPPORT, cols.length * this.p.T)) };
    return this.supportCache;
  }

  /** Room for a working set's rows of W and of X^T R (k x T each, `length` values), overwritten by the next working set's. */
  workingSetRows(length: number): { w: Float64Array; h: Float64Array } {
    return { w: this.rowRoom(ROW_W, length), h: this.rowRoom(ROW_H, length) };
  }

  /** Room for the Gram form's (X_k^T R)^T (T x k, `length` values) during an inner solve. */
  transposedRoom(length: number): Float64Array {
    return this.rowRoom(ROW_HT, length);
  }

  /**
   * The squared norms of the design's columns `features`, in that order: the residual form's inner
   * solve takes them instead of a pass over the gathered columns to compute them.
   */
  columnNormsOf(features: Int32Array): Float64Array {
    const out = this.rowRoom(ROW_NORMS, features.length);
    const cn = this.p.design.colNormSq;
    for (let c = 0; c < features.length; c++) out[c] = cn[features[c]!]!;
    return out;
  }

  /**
   * The rows of X^T Y of the design's features `features`, in that order (k x T): the Gram form's
   * inner solve takes them instead of forming them with a product of the Gram matrix.
   */
  targetCorrelationsOf(features: Int32Array): Matrix<Float64Array> {
    return rowsInto(this.K, this.p.xty, features, this.rowRoom(ROW_XTY, features.length * this.p.T));
  }

  /**
   * `length` values of slot's buffer, of any contents. The buffers are the state's for all its
   * solves and come from its lease (so from the last fit's, after the first): a new array per outer
   * iteration was fresh memory, each page faulted in on first write (about 10 us where freed pages
   * go back to the host), in every fit.
   */
  private rowRoom(slot: number, length: number): Float64Array {
    let b = this.rowBuffers[slot]!;
    if (b.length < length) this.rowBuffers[slot] = b = this.lease.f64Room(Math.max(length, 2 * b.length));
    const rows = b.subarray(0, length);
    this.lease.prefaultView(rows);
    return rows;
  }

  /** Features [from, to) now hold X_j^T R at the current residual. */
  private markFresh(from: number, to: number): void {
    this.corrVersion.fill(this.scan.version, from, to);
    this.scan.corrDrift.fill(this.scan.drift, from, to);
  }

  /** Record X_j^T R (rows of values, cols.length x T) of the listed features at the current residual. */
  setCorrelations(cols: Int32Array, values: Float64Array): void {
    this.K.cdSetCorrelations(this.scan, cols, { rows: cols.length, cols: this.p.T, data: values });
  }

  /** rt = Y - X_S W_S for the support S (its features) and their coefficients, with its parts. */
  setResidual(cols: Int32Array, ws: Matrix<Float64Array>): void {
    this.pendingResidual = null;
    const r = this.K.cdResidualColumns(this.p.design, cols, ws, this.p.yt, this.residualBuffer());
    this.rNormSq = r.rNormSq;
    this.ry = r.ry;
  }

  /**
   * The residual is Y - X_S W_S for these features and coefficients (kept unchanged until the
   * next read of rt), with these parts: it is rebuilt from X when next read.
   */
  setPendingResidual(cols: Int32Array, ws: Matrix<Float64Array>, rNormSq: number, ry: number): void {
    // A copy: the caller's rows (workingSetRows) are the next working set's before the residual is read.
    const w = this.rowRoom(ROW_PENDING, ws.data.length);
    w.set(ws.data);
    this.pendingResidual = { cols, w: { rows: ws.rows, cols: ws.cols, data: w } };
    this.rNormSq = rNormSq;
    this.ry = ry;
  }

  /** Record that rt moved by `change` (its Frobenius norm, or a bound of it). */
  residualChanged(change: number): void {
    this.scan.version++;
    this.scan.drift += change;
  }
}

/**
 * The features flagged in `flags` and not in `except`, ascending (kernel cdFlaggedFeatures: a loop
 * over d in TypeScript ran in V8's interpreter through a process's first fits, then cost
 * milliseconds of optimising in the background). `expected`, their number when known, sizes the
 * list; a wrong guess costs a second pass.
 */
function flaggedFeatures(K: Kernels, flags: Uint8Array, expected: number, except?: Uint8Array): Int32Array {
  const out = new Int32Array(Math.max(0, expected));
  const m = K.cdFlaggedFeatures(flags, out, except);
  if (m === out.length) return out;
  if (m < out.length) return out.subarray(0, m);
  const all = new Int32Array(m);
  K.cdFlaggedFeatures(flags, all, except);
  return all;
}

/** 0, 1, ..., d - 1 in a buffer of the lease: the flagged features of all-ones flags (by kernel, as above). */
function everyFeature(K: Kernels, lease: BufferLease, d: number): Int32Array {
  const out = lease.i32(d);
  K.cdFlaggedFeatures(lease.u8(d).fill(1), out);
  return out;
}

/**
 * The listed rows of a as a rows.length x a.cols matrix, in a buffer of `lease` when given (else a
 * new array) (kernel gatherRows: a JavaScript loop here ran unoptimised, at about 100 ns a value,
 * through a process's first fits).
 */
export function rowsOf(K: Kernels, a: Matrix<Float64Array>, rows: Int32Array, lease?: BufferLease): Matrix<Float64Array> {
  const length = rows.length * a.cols;
  return rowsInto(K, a, rows, lease ? lease.f64Uncleared(length) : new Float64Array(length));
}

/** The listed rows of a as a rows.length x a.cols matrix over `data` (exactly that many values), overwritten. */
function rowsInto(K: Kernels, a: Matrix<Float64Array>, rows: Int32Array, data: Float64Array): Matrix<Float64Array> {
  const out: Matrix<Float64Array> = { rows: rows.length, cols: a.cols, data };
  K.gatherRows(a, rows, out);
  return out;
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
  const { l1Reg, l2Reg } = s;
  const tolScaled = s.tol * p.yNormSq;
  // active[j]: j may be non-zero at the optimum (a non-zero column not screened at this l1Reg);
  // xi[j]: ||X~_j^T R~||, or an upper bound where not fresh; setRoom: cdWorkingSet's output.
  const { active, xi, setRoom } = st.solveBuffers();
  let activeCount = st.columnCount;
  let lastSetSize = 0;
  let slowInner = false; // an inner solve has taken SLOW_INNER_SWEEPS or more
  let lastInnerSweeps = ANDERSON_K; // the last inner solve's sweeps: the cost model's estimate of the next one's
  let sweeps = 0;
  let gap = NaN;
  let pendingSweep = false; // the last sweep's progress waits for the gap that follows it
  const done = (): SolveResult => ({
    nIter: sweeps, gap, tolScaled, converged: gap < tolScaled, screened: flaggedFeatures(K, st.columns, st.columnCount - activeCount, active),
  });
  for (;;) {
    // (1) The gap from exact values and bounds.
    let scale = st.dualNorms(xi, l2Reg, l1Reg);
    gap = dualityGapOf(st, scale, l1Reg, l2Reg);
    if (pendingSweep) {
      pendingSweep = false;
      yield { iter: sweeps, dualGap: gap / n };
    }
    if (sweeps > 0 && gap < tolScaled) return done();
    // (2) Screening with the bounds.
    activeCount -= screen(K, active, st.nonZero, xi, scale, safeRadius(gap, l1Reg, p.yNormSq), cn, l2Reg);
    // (3) Exact values for the stale features whose bounds exceed l1Reg (screened ones included):
    // the others cannot set the scale, so the gap is then exact. Along a path, or after a small
    // move of the residual, these are few and the gap often certifies the point here.
    if (st.refresh(st.staleAbove(xi, l1Reg))) {
      scale = st.dualNorms(xi, l2Reg, l1Reg);
      gap = dualityGapOf(st, scale, l1Reg, l2Reg);
      if (sweeps > 0 && gap < tolScaled) return done();
    }
    if (sweeps >= s.maxIter) return done();
    // (4) Another inner solve is needed: exact values for the other stale active features (they
    // rank the candidates of the working set: bounds would pick larger sets), and screening with
    // the exact values.
    if (st.refresh(st.staleActive(active, xi))) scale = st.dualNorms(xi, l2Reg, l1Reg);
    activeCount -= screen(K, active, st.nonZero, xi, scale, safeRadius(gap, l1Reg, p.yNormSq), cn, l2Reg);

    // (5) The working set and its inner solve.
    // A dense solution's minSize of d takes every active feature whatever the limit.
    const minSize = denseSolution(st.supportSize, lastSetSize, activeCount) ? d : (s.minWorkingSet ?? minWorkingSetFor(n, d, T));
    const ws = withPooled(K, workingSet(K, active, st.nonZero, xi, s, minSize, afterFullSet(st.supportSize, lastSetSize, n), setRoom), st.pool, active, 2 * st.supportSize);
    const k = ws.length;
    lastSetSize = k;
    // The inner solve starts from X_ws^T R: every member is fresh (the active ones were refreshed
    // above); a stale one would make it solve another problem.
    const stale = st.firstStale(ws);
    if (stale >= 0) throw new Error(`working-set solver: feature ${stale} joined the working set with stale correlations`);

    // The cost model runs whether or not the choice needs it (k reads of an index): a CV path's
    // solves all have p.gram, its refit does not, and a first run there, after V8 had optimised this
    // function on the path's solves, threw the optimised code away.
    const gramPreferred = useGramForm(k, st.pool.gramEntriesToFill(ws), n, T, lastInnerSweeps);
    const gramForm = s.innerForm ? s.innerForm === 'gram' : p.gram !== undefined || gramPreferred;
    // The pool may hand the set out in its own order (as views): rows follow `order`.
    const { features: order, xws, gram } = st.pool.take(ws, gramForm ? 'gram' : 'columns');
    const room = st.workingSetRows(k * T);
    const w = rowsInto(K, st.w, order, room.w);
    const h = rowsInto(K, { rows: d, cols: T, data: st.corr }, order, room.h);
    const maxSweeps = s.maxIter - sweeps;
    // The inner tolerance: a fraction of the final one, or of the current gap while the set leaves
    // active features out (the next outer iteration re-solves on a larger set anyway: Celer's and
    // skglm's rule). The whole gap in the residual form once an inner solve has been slow: a sweep
    // there costs 2 n k T, as much as the outer iteration's pass over X once k nears d / 2 (338 x
    // 2904 x 4, 776 non-zero rows: 525 sweeps in all, 261 so). Elsewhere a thousandth of it: a few
    // tight sweeps cost less than the extra outer iteration a loose solve often brings (1000 x 1000
    // x 3: 30 % more, in Gram rows), but a final tolerance of 0 must not keep the first set's solve
    // from ever ending (it took every sweep of maxIter).
    const gapShare = k >= activeCount || !Number.isFinite(gap) ? 0 : !gramForm && slowInner ? 1 : INNER_GAP_FLOOR;
    const innerTol = INNER_TOL_FRACTION * Math.max(tolScaled, gapShare * gap);
    // One shape of problem object for both forms (the unused fields undefined): a literal spread
    // from either form gave solveEnet's optimised code a shape it had not seen at the first set of
    // the other form, and V8 compiled this long generator again (about 19 ms, in a CV fit).
    const inner = innerSolve(
      K,
      {
        n, T, xws, gram,
        htRoom: gram ? st.transposedRoom(k * T) : undefined,
        rt: gram ? undefined : st.writableRt(),
        colNormSq: gram ? undefined : st.columnNormsOf(order),
        xty: gram ? st.targetCorrelationsOf(order) : undefined,
        yt: p.yt, w, h, rNormSq: st.rNormSq, ry: st.ry,
      },
      { l1Reg, l2Reg, tol: innerTol, maxSweeps, selection: s.selection, rng: s.rng },
    );
    const start = sweeps;
    let r;
    for (;;) {
      const next = inner.next();
      if (next.done) {
        r = next.value;
        break;
      }
      for (let i = 0; i < next.value; i++) yield { iter: ++sweeps, dualGap: null };
    }
    if (r.sweeps >= SLOW_INNER_SWEEPS) slowInner = true;
    lastInnerSweeps = Math.max(1, r.sweeps);
    // The last call's sweeps: all but the last are reported now, the last waits for the gap.
    const end = start + r.sweeps;
    while (sweeps < end - 1) yield { iter: ++sweeps, dualGap: null };
    sweeps = end;
    pendingSweep = true;
    // The new coefficients and support of the working set, then the residual and its correlations.
    st.setRows(order, w.data);
    // The Gram form leaves the residual to be rebuilt when next needed (often never: the gap
    // that follows needs its parts only, and certifies the point); the residual form updated it.
    if (gram) st.setPendingResidual(order, w, r.rNormSq, r.ry);
    else {
      st.rNormSq = r.rNormSq;
      st.ry = r.ry;
    }
    st.residualChanged(r.residualChange);
    st.setCorrelations(order, h.data);
  }
}

/**
 * Pooled features are handed out as views of the pool only when the working set holds every one
 * of them; for any other set the pool copies the set's columns and Gram entries (on a 1000 x 1000
 * problem a working set of 196 beside a pool of 197 cost a quarter of the fit). So a working set
 * also takes the pooled features it left out when they are few (at most a quarter of the set) and
 * all still active (each then has fresh correlations: step 4 refreshed every active feature); it
 * is then a larger working set of the same kind, features near their constraint. It takes more of
 * them while the set stays within `room` (the solver gives twice the support, the size doubling
 * would have chosen): near the optimum the kernel's set, the support and its few violators, is
 * smaller than the pool of the sets before, and a copy of its columns cost more than solving over
 * the pool (2785 x 1312 x 2: 200 pooled, a set of 158 copied, its cold fit 1.4 to 1.6 times as long).
 * Ascending. (Exported for its test.)
 */
export function withPooled(K: Kernels, ws: Int32Array, pool: ColumnPool, active: Uint8Array, room = 0): Int32Array {
  const pooled = pool.pooled();
  if (pooled.length === 0) return ws;
  const inSet = new Uint8Array(active.length);
  for (let c = 0; c < ws.length; c++) inSet[ws[c]!] = 1;
  const most = Math.max(1, ws.length >> 2, room - ws.length);
  let extra = 0;
  for (let s = 0; s < pooled.length; s++) {
    const j = pooled[s]!;
    if (inSet[j]) continue;
    if (!active[j] || ++extra > most) return ws;
    inSet[j] = 1;
  }
  if (extra === 0) return ws;
  return flaggedFeatures(K, inSet, ws.length + extra);
}

/** Gap-safe screening of the active zero rows whose xi (exact or bound) passes the sphere test (dualGap.ts provenZero); returns how many it removed. */
function screen(K: Kernels, active: Uint8Array, nonZero: Uint8Array, xi: Float64Array, scale: number, radius: number, cn: Float64Array, l2Reg: number): number {
  if (!Number.isFinite(radius)) return 0;
  return K.cdScreen({ active, nonZero, xi, colNormSq: cn, scale, radius, l2Reg, threshold: 1 - SCREEN_MARGIN });
}


/** A working set is full when at least this fraction of its features ended non-zero. */
export const FULL_WORKING_SET = 0.9;

/**
 * Whether the solution looks dense, so that the next working set should hold every active
 * feature: the last set was full (FULL_WORKING_SET of it non-zero after its solve) and doubling
 * the support would reach half the active features. Doubling from there costs a solve at every
 * step, each to the inner tolerance, and on a solution with most rows non-zero (400 x 400 x 2 at
 * 0.005 alpha_max: sets of 50, 100, 200, 390 then 400, 83 sweeps) those solves cost twice
 * scikit-learn's plain sweeps over every feature; a set that was not full says the support is
 * settling, and doubling goes on. (Exported for its test.)
 */
export function denseSolution(supportSize: number, lastSetSize: number, activeCount: number): boolean {
  return lastSetSize > 0 && supportSize >= FULL_WORKING_SET * lastSetSize && 4 * supportSize >= activeCount;
}

/** How many times the support the set after a full one holds (doubling otherwise). */
export const FULL_SET_GROWTH = 4;

/**
 * The largest next working set after the last one when that was full, FULL_SET_GROWTH times the
 * support, else 0 (the kernel's doubling of the support and the first set's size decide); the
 * kernel takes the support and twice its violators up to it, at least doubling (cdWorkingSet's
 * fullSetLimit). A full set says only that the support is at least its size: doubling from there took
 * an outer iteration per doubling, a pass over X and a solve each (2785 x 1312 x 2: sets of 50,
 * 100 and 200, the first two full, then 305 for a support of 131; 829 x 600 x 8: 50 and 100 full,
 * then 200). The growth stops at n features (and twice the support): past n the restricted problem
 * is rank-deficient, coordinate descent on it slow, and a larger set costs more sweeps than the
 * outer iteration it saves (338 x 2904 x 4: 32 % slower grown to 800, 10 % bounded). On 40
 * sampled shapes, 15 took another path: 10 ran 8-41 % faster, 2 the same, 3 slower by 6-15 %
 * (338 x 2904 x 4, 559 x 4226 x 39, 668 x 814 x 11). (Exported for its test.)
 */
export function afterFullSet(supportSize: number, lastSetSize: number, n: number): number {
  if (!(lastSetSize > 0 && supportSize >= FULL_WORKING_SET * lastSetSize)) return 0;
  return Math.min(FULL_SET_GROWTH * supportSize, Math.max(2 * supportSize, n));
}

/**
 * The next working set, in increasing feature order: the support, the strong-rule candidates and
 * the active features of largest ||X~_j^T R~|| (the most violated optimality conditions: skglm's
 * ranking, not Celer's distance to the constraint, which divides by ||X~_j|| and so ranks badly
 * when the columns' scales differ); at least minSize features and twice the support, or the
 * support and twice its violators (zero rows with ||X~_j^T R~|| >= l1Reg) where that is less: on
 * sampled problems the last set of a solve held a few violators beside a support of hundreds
 * (2785 x 1312 x 2: a support of 126 and 5 violators; doubling took 252 features), and the
 * inner solve's sweeps cost in proportion to the set. All the active ones when minSize is d
 * (kernel cdWorkingSet; `room` has length d).
 */
function workingSet(K: Kernels, active: Uint8Array, nonZero: Uint8Array, xi: Float64Array, s: SolveSettings, minSize: number, fullSetLimit: number, room: Int32Array): Int32Array {
  // Without an l1 penalty every feature is in the model: the working set is everything active.
  const strong = !(s.l1Reg > 0) ? -Infinity : s.previousL1Reg !== undefined ? 2 * s.l1Reg - s.previousL1Reg : Infinity;
  const violation = s.l1Reg > 0 ? s.l1Reg : undefined;
  const m = K.cdWorkingSet({ active, nonZero, xi, strong, minSize, violation, fullSetLimit: fullSetLimit > 0 ? fullSetLimit : undefined, out: room });
  return room.slice(0, m);
}
