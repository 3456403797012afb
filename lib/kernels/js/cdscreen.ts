/**
 * The per-feature passes of the working-set elastic-net solver in plain TypeScript: the fallback
 * twin of native/src/kernels/cdscreen.cc. Each is one loop over the d features, run a few times
 * per outer iteration; as kernels they run compiled from a process's first fit on.
 *
 * With X~_j = [X_j; sqrt(l2Reg) e_j] (the elastic net as a group lasso on augmented data) and the
 * dual point theta = R~ / scale (Ndiaye, Fercoq, Gramfort & Salmon, "Gap safe screening rules for
 * sparsity enforcing penalties", JMLR 18, 2017, section 4):
 * - cdDualNorms: xi_j = ||X~_j^T R~|| = ||X_j^T R - l2Reg W_j||, exact where the correlations are
 *   fresh; for a zero row computed at an earlier residual R',
 *   ||X_j^T R|| <= ||X_j^T R'|| + ||X_j|| ||R - R'||_F (the drift bounds ||R - R'||).
 * - cdScreen: the sphere test xi_j / scale + r ||X~_j|| < 1 proves W*_j = 0.
 * - cdWorkingSet: the candidates are ranked by xi_j, largest first: for a zero row, its distance to
 *   the subdifferential of the penalty is max(0, xi_j - l1Reg), skglm's ranking (Bertrand et al.,
 *   NeurIPS 2022). Celer's distance to the dual constraint, (1 - xi_j / scale) / ||X~_j||, divides
 *   by the column's norm: on columns of unequal scales it preferred large columns far from their
 *   constraint to small ones beyond it and took two to three times the outer iterations. The set
 *   is the support and the best-ranked others, twice the support or, given the violation level,
 *   the support and twice its violators where that is less; from an empty support, twice the
 *   violators where that is less than minSize (at least FIRST_SET_FLOOR); after a full set, the
 *   support and twice its violators, from doubling up to the limit given.
 * - cdSetRows, cdSetCorrelations: a working set's new coefficients and correlations written into
 *   the solve's d x T state (as kernels, the per-row loops of every outer iteration run compiled
 *   from a process's first fit on, and V8 does not spend milliseconds optimising the solver's
 *   methods that held them).
 * - cdFlaggedFeatures, cdFlagPositive: lists and flags of features (the support, the screened
 *   features, the non-zero columns), so that the solver's TypeScript never loops over d itself.
 * Every value is a sum, product, quotient or square root of two doubles in a fixed order, so the
 * twins agree bit for bit.
 */
import { kthSmallestInPlace } from '../../core/select.js';
import { ShapeError } from '../../core/errors.js';
import type { Matrix } from '../../core/matrix.js';
import { checkIndices } from './checks.js';
import type { CdFeatureState, CdRowsSet, CdScreenArgs, CdWorkingSetArgs } from '../types.js';

export function cdDualNorms(s: CdFeatureState, l1Reg: number, l2Reg: number, xi: Float64Array): number {
  const { colNormSq: cn, corrNorm, corrVersion, corrDrift, nonZero, version, drift } = s;
  const corr = s.corr.data;
  const W = s.w.data;
  const T = s.w.cols;
  let scale = l1Reg;
  for (let j = 0; j < cn.length; j++) {
    const c = cn[j]!;
    if (!(c > 0)) continue;
    const at = corrVersion[j]!;
    let v: number;
    if (at === version) {
      if (l2Reg === 0 || !nonZero[j]) v = corrNorm[j]!;
      else {
        let q = 0;
        for (let t = 0; t < T; t++) {
          const e = corr[j * T + t]! - l2Reg * W[j * T + t]!;
          q += e * e;
        }
        v = Math.sqrt(q);
      }
    } else if (nonZero[j] || at < 0) v = Infinity;
    else v = corrNorm[j]! + Math.sqrt(c) * (drift - corrDrift[j]!);
    xi[j] = v;
    if (v > scale) scale = v;
  }
  return scale;
}

export function cdScreen(a: CdScreenArgs): number {
  const { active, nonZero, xi, colNormSq, scale, radius, l2Reg, threshold } = a;
  let removed = 0;
  for (let j = 0; j < active.length; j++) {
    if (active[j] && !nonZero[j] && xi[j]! / scale + radius * Math.sqrt(colNormSq[j]! + l2Reg) < threshold) {
      active[j] = 0;
      removed++;
    }
  }
  return removed;
}

export function cdStaleFeatures(corrVersion: Int32Array, version: number, eligible: Uint8Array, xi: Float64Array, limit: number, out: Int32Array): number {
  let m = 0;
  for (let j = 0; j < xi.length; j++) if (eligible[j] && corrVersion[j] !== version && !(xi[j]! <= limit)) out[m++] = j;
  return m;
}

export function cdFlaggedFeatures(flags: Uint8Array, out: Int32Array, except?: Uint8Array): number {
  const d = flags.length;
  if (except !== undefined && except.length !== d) throw new ShapeError(`cdFlaggedFeatures: except has length ${except.length}, flags ${d}`);
  let m = 0;
  for (let j = 0; j < d; j++) {
    if (flags[j] && !(except !== undefined && except[j])) {
      if (m < out.length) out[m] = j;
      m++;
    }
  }
  return m;
}

export function cdFlagPositive(values: Float64Array, flags: Uint8Array): number {
  if (flags.length !== values.length) throw new ShapeError(`cdFlagPositive: flags has length ${flags.length}, values ${values.length}`);
  let m = 0;
  for (let j = 0; j < values.length; j++) {
    const positive = values[j]! > 0;
    flags[j] = positive ? 1 : 0;
    if (positive) m++;
  }
  return m;
}

export function cdWorkingSet(a: CdWorkingSetArgs): number {
  const { active, nonZero, xi, strong, violation, out } = a;
  if (violation !== undefined && Number.isNaN(violation)) throw new ShapeError('cdWorkingSet: violation is NaN; expected a level (Infinity allowed) or none');
  const limit = a.fullSetLimit;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 2147483647)) {
    throw new ShapeError(`cdWorkingSet: fullSetLimit must be an integer in [1, 2147483647] or none, got ${limit}`);
  }
  const level = violation ?? NaN; // no level: NaN, which no xi reaches
  const d = active.length;
  const chosen = new Uint8Array(d);
  let count = 0;
  let activeCount = 0;
  let nnz = 0;
  let violators = 0;
  for (let j = 0; j < d; j++) {
    if (!active[j]) continue;
    activeCount++;
    if (nonZero[j]) nnz++;
    else if (xi[j]! >= level) violators++;
    if (nonZero[j] || xi[j]! >= strong) {
      chosen[j] = 1;
      count++;
    }
  }
  const size = Math.min(activeCount, Math.max(targetSize(a.minSize, nnz, violators, activeCount, violation !== undefined, limit ?? 0), count));
  if (count < size) {
    // The (size - count) largest xi among the rest, as the smallest scores -xi: the threshold is
    // selected from a copy (linear time: a sort of thousands of scores cost more than the rest of
    // an outer iteration), ties broken by the lower index.
    const rest = activeCount - count;
    const scores = new Float64Array(rest);
    const ids = new Int32Array(rest);
    let q = 0;
    for (let j = 0; j < d; j++) {
      if (!active[j] || chosen[j]) continue;
      scores[q] = -xi[j]!;
      ids[q++] = j;
    }
    const need = size - count;
    const threshold = kthSmallestInPlace(scores.slice(), need - 1);
    let below = 0;
    for (let i = 0; i < rest; i++) if (scores[i]! < threshold) below++;
    let ties = need - below;
    for (let i = 0; i < rest; i++) {
      const v = scores[i]!;
      if (v < threshold || (v === threshold && ties-- > 0)) chosen[ids[i]!] = 1;
    }
  }
  let m = 0;
  for (let j = 0; j < d; j++) if (chosen[j]) out[m++] = j;
  return m;
}

/**
 * The working set's size from its support of nnz rows: twice the support, or, with a violation
 * level given, the support plus twice its violators (zero rows with xi at or above the level), at
 * least a quarter of the support, where that is less.
 */
function setGrowth(nnz: number, violators: number, levelGiven: boolean): number {
  if (!levelGiven) return 2 * nnz;
  return Math.min(2 * nnz, nnz + Math.max(2 * violators, Math.ceil(nnz / 4)));
}

/** Smallest first set from an empty support: Celer's and skglm's first working set. */
const FIRST_SET_FLOOR = 10;

/**
 * The size the set aims at before the features that join in any case: from an empty support with
 * a violation level, when minSize leaves active features out anyway (so a pass over the others
 * follows the solve whatever the set), twice the violators within [FIRST_SET_FLOOR, minSize]: few
 * features violating their conditions at W = 0 foretell a small support, and a set of minSize would
 * cost its Gram matrix for nothing (1671 x 72 x 5, one violator: half the fit's time). After a full
 * set (fullSetLimit > 0), the support plus twice its violators within [2 nnz, fullSetLimit]: the
 * violators after a solve on the first set estimate what the support still lacks (1791 x 348 x 3:
 * a full set of 50, 29 violators, a support of 76 at the optimum; a set of 200 cost a fifth of
 * the fit more than one of 108). Without a level, the limit. Else the growth from the support. At
 * least minSize but for the first set.
 */
function targetSize(minSize: number, nnz: number, violators: number, activeCount: number, levelGiven: boolean, fullSetLimit: number): number {
  if (levelGiven && nnz === 0 && minSize < activeCount) return Math.min(minSize, Math.max(2 * violators, FIRST_SET_FLOOR));
  if (fullSetLimit > 0) return Math.max(minSize, levelGiven ? Math.min(fullSetLimit, Math.max(2 * nnz, nnz + 2 * violators)) : fullSetLimit);
  return Math.max(minSize, setGrowth(nnz, violators, levelGiven));
}

/** values must be rows x cols. */
function checkValues(fn: string, values: Matrix<Float64Array>, rows: number, cols: number): void {
  if (values.rows !== rows || values.cols !== cols || values.data.length < rows * cols) {
    throw new ShapeError(`${fn}: values is ${values.rows} x ${values.cols}, expected ${rows} x ${cols}`);
  }
}

/** a must have `length` elements (one per feature). */
function checkLength(fn: string, name: string, a: ArrayLike<number>, length: number): void {
  if (a.length !== length) throw new ShapeError(`${fn}: ${name} has ${a.length} elements, expected ${length}`);
}

/** dst[to .. to + T) = src[from .. from + T); returns the sum of their squares, in order. */
function copyRow(src: Float64Array, from: number, dst: Float64Array, to: number, T: number): number {
  let q = 0;
  for (let t = 0; t < T; t++) {
    const x = src[from + t]!;
    dst[to + t] = x;
    q += x * x;
  }
  return q;
}

export function cdSetRows(w: Matrix<Float64Array>, nonZero: Uint8Array, rows: Int32Array, values: Matrix<Float64Array>): CdRowsSet {
  const T = w.cols;
  checkIndices('cdSetRows', 'rows', rows, w.rows);
  checkValues('cdSetRows', values, rows.length, T);
  checkLength('cdSetRows', 'nonZero', nonZero, w.rows);
  const W = w.data;
  const v = values.data;
  let supportChange = 0;
  let l21 = 0;
  let normSq = 0;
  for (let c = 0; c < rows.length; c++) {
    const j = rows[c]!;
    const q = copyRow(v, c * T, W, j * T, T);
    const now = q > 0 ? 1 : 0;
    supportChange += now - nonZero[j]!;
    nonZero[j] = now;
    if (q > 0) {
      l21 += Math.sqrt(q);
      normSq += q;
    }
  }
  return { supportChange, l21, normSq };
}

export function cdSetCorrelations(s: CdFeatureState, cols: Int32Array, values: Matrix<Float64Array>, norms?: Float64Array): void {
  const T = s.corr.cols;
  checkIndices('cdSetCorrelations', 'cols', cols, s.corr.rows);
  checkValues('cdSetCorrelations', values, cols.length, T);
  checkLength('cdSetCorrelations', 'corrNorm', s.corrNorm, s.corr.rows);
  checkLength('cdSetCorrelations', 'corrVersion', s.corrVersion, s.corr.rows);
  checkLength('cdSetCorrelations', 'corrDrift', s.corrDrift, s.corr.rows);
  if (norms !== undefined && norms.length !== 0 && norms.length !== cols.length) {
    throw new ShapeError(`cdSetCorrelations: norms has ${norms.length} elements, expected 0 or ${cols.length}`);
  }
  const given = norms !== undefined && norms.length > 0 ? norms : null;
  const corr = s.corr.data;
  const v = values.data;
  for (let c = 0; c < cols.length; c++) {
    const j = cols[c]!;
    const q = copyRow(v, c * T, corr, j * T, T);
    s.corrNorm[j] = given !== null ? given[c]! : Math.sqrt(q);
    s.corrVersion[j] = s.version;
    s.corrDrift[j] = s.drift;
  }
}
