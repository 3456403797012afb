/**
 * Gap-safe screening of features for the per-task least squares solved by FISTA with sparse
 * penalties that act on each feature's column (L21Regression; TemporalGroupRegression,
 * GraphRegularizedRegression with its L1 term and DirtyRegression through structuredSolver.ts):
 *   P(V) = f(W) + s(W) + sum_k lambda_k g_k(V_k),   W = V_1 + ... + V_K,
 *   f(W) = sum_t scale_t (1/2) ||X_t w_t - y_t||^2 (+ const),
 * over the (compressed, centred) stacked task rows of fista.ts, each g_k one of
 *   'features'  sum_j ||V[:, j]||_2      (dual norm per feature: ||G[:, j]||_2)
 *   'l1'        sum_{t,j} |V_tj|         (per element: |G_tj|)
 *   'l1inf'     sum_j max_t |V_tj|       (per feature: sum_t |G_tj|)
 * and s an optional quadratic acting on each feature's column on its own (one part only),
 * s(W) = sum_j W[:, j]^T M W[:, j], M symmetric positive semi-definite (T x T; a task graph's or the
 * temporal chain's lambda Lap + lambdaRidge I; s = 0 for L2,1 and the dirty model).
 *
 * With A_t = sqrt(scale_t) X_t, y'_t = sqrt(scale_t) y_t and B = (2 M)^(1/2), P is a sparse
 * regression in the stacked vec(V) on the augmented design
 *   A = [blockdiag_t(A_t) acting on the rows w_t of W;  B acting on every column W[:, j]],  y~ = [y'; 0],
 * repeated once per part (every part sees the same W), since (1/2) ||B W[:, j]||^2 = s's term of
 * feature j. Its dual (Ndiaye, Fercoq, Gramfort & Salmon, "Gap safe screening rules for sparsity
 * enforcing penalties", JMLR 18, 2017; the dirty model's penalty is the infimal convolution of the
 * parts' norms, whose dual constraint is every part's at once) is
 *   D(theta) = (1/2) ||y~||^2 - (1/2) ||theta - y~||^2   s.t.  g_k*(A^T theta) <= lambda_k for every k,
 * 1-strongly concave, so the dual optimum lies within sqrt(2 gap) of any feasible theta. The
 * residual is rho = [y' - A_t w_t; -B W[:, j]] and A^T rho = -(grad f + grad s)(W) = -G (T x d).
 * With c = min(1, min_k lambda_k / g_k*(G)), theta = c rho is feasible and
 *   gap = P(V) - D(c rho) = (1/2)(1 + c^2) ||rho||^2 + sum_k lambda_k g_k(V_k) - c <y~, rho>,
 * and part k's block of feature j is zero at every optimum when its dual norm there is below
 * lambda_k, which holds when
 *   c g_kj(G) + sqrt(2 gap) b_kj < lambda_k,   b_kj >= sup_{||u|| <= 1} g_kj(A_j^T u)
 * (g_kj the part's dual norm restricted to feature j). Feature j leaves the solve when every part's
 * block of it is proven zero. f + s being quadratic,
 *   ||rho||^2 = 2 (f + s)(W),  ||y~||^2 = 2 f(0),  <y~, rho> = 2 f(0) + <grad f(0), W>
 * (s(0) = 0, grad s(0) = 0). Column (t, j) of A has ||A_tj||^2 = scale_t ||X_t[:, j]||^2 + (2 M)_tt
 * <= n_tj^2 + ||2 M|| (n_tj^2 = scale_t ||X_t[:, j]||^2; ||2 M|| the Lipschitz constant of grad s), so
 *   'features': b_j^2 = lambda_max(diag_t(n_tj^2) + 2 M) <= max_t n_tj^2 + ||2 M||,
 *   'l1':       b_tj^2 <= n_tj^2 + ||2 M||,
 *   'l1inf':    b_j <= sum_t sqrt(n_tj^2 + ||2 M||);
 * upper bounds keep the test safe. Compressing the rows (fista.ts) keeps f, its gradient and the
 * column norms of X_t, so the test reads the same on the compressed rows.
 *
 * The test runs at the start of a solve (sequential screening along a warm-started path) and at
 * checks during FISTA, spaced geometrically (dynamic screening, section 5 of the paper): the gap
 * shrinks as FISTA converges, so a cold fit discards the irrelevant features on the way.
 * Screening a problem already restricted to the kept features is safe: its optimum is the full
 * problem's optimum on those features, the others being zero.
 */
import type { Matrix } from '../../core/matrix.js';
import type { Kernels } from '../../kernels/types.js';
import type { Work } from '../taskProblem.js';
import { provenZero, safeRadius } from './dualGap.js';

/** The stacked task rows of a squared-loss FISTA problem (fista.ts's compressed problem). */
export interface ScreenRows {
  x: Matrix<Float64Array>;
  y: Float64Array;
  offsets: Int32Array;
  /** 1 / n_t per task. */
  scale: Float64Array;
  /** The constant the compression dropped from f. */
  constant: number;
}

/** s(W) = sum_j W[:, j]^T M W[:, j]: a quadratic acting on each feature's column on its own. */
export interface ColumnQuadratic {
  /** s(W) for W with any number of columns; adds grad s(W) into `grad` when given. */
  value(w: Matrix<Float64Array>, grad: Matrix<Float64Array> | null): number;
  /** ||2 M||, the Lipschitz constant of grad s (or an upper bound of it). */
  lipschitz: number;
}

/** The penalties the test handles: sparse norms separable over features (see the file comment). */
export type ScreenedPenalty = 'features' | 'l1' | 'l1inf';

/** One part of the stacked coefficients: its penalty and strength (> 0). */
export interface ScreenedPart {
  penalty: ScreenedPenalty;
  strength: number;
}

export interface ScreenResult {
  /** The duality gap at V. */
  gap: number;
  /** Features not proven zero at the optimum, ascending. */
  keep: Int32Array;
}

/** The part penalties and the smooth quadratic of a screened problem. */
export interface ScreenedProblem {
  parts: readonly ScreenedPart[];
  /** sum_k lambda_k g_k(V_k) at the stacked parts (any number of columns): the solver's own penalty. */
  penalty(v: Matrix<Float64Array>): number;
  /** The column quadratic s (none for L2,1 or the dirty model); only with a single part. */
  smooth?: ColumnQuadratic;
}

/** W = V_1 + ... + V_K of the stacked parts (V itself for one part), into `out` (T x cols) when given. */
export function sumOfParts(v: Matrix<Float64Array>, K: number, out?: Matrix<Float64Array>): Matrix<Float64Array> {
  if (K === 1) return v;
  const T = v.rows / K;
  const n = T * v.cols;
  const w = out ?? { rows: T, cols: v.cols, data: new Float64Array(n) };
  w.data.set(v.data.subarray(0, n));
  for (let k = 1; k < K; k++) {
    const src = v.data.subarray(k * n, (k + 1) * n);
    for (let i = 0; i < n; i++) w.data[i]! += src[i]!;
  }
  return w;
}

/** (f + s)(W) (with f's constant) and its gradient (T x d) at W. */
function smooth(K: Kernels, q: ScreenRows, w: Matrix<Float64Array>, s?: ColumnQuadratic): { f: number; g: Matrix<Float64Array> } {
  const T = q.scale.length;
  const g: Matrix<Float64Array> = { rows: T, cols: q.x.cols, data: new Float64Array(T * q.x.cols) };
  const l = K.taskLoss({ x: q.x, y: q.y, offsets: q.offsets, w, intercept: new Float64Array(T), scale: q.scale, loss: 'squared', gradW: g });
  let f = q.constant;
  for (const v of l) f += v;
  if (s) f += s.value(w, g);
  return { f, g };
}

/** n_tj = sqrt(scale_t ||X_t[:, j]||^2) per task and feature (T x d). */
export function taskColumnNorms(q: ScreenRows): Matrix<Float64Array> {
  const d = q.x.cols;
  const T = q.scale.length;
  const out = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    const col = out.subarray(t * d, (t + 1) * d);
    for (let i = q.offsets[t]!; i < q.offsets[t + 1]!; i++) for (let j = 0; j < d; j++) col[j]! += q.x.data[i * d + j]! ** 2;
    for (let j = 0; j < d; j++) col[j] = Math.sqrt(q.scale[t]! * col[j]!);
  }
  return { rows: T, cols: d, data: out };
}

/** Each penalty's dual norm at G restricted to feature j (the block the test reads). */
const FEATURE_DUAL: Record<ScreenedPenalty, (g: Float64Array, T: number, d: number, j: number) => number> = {
  features(g, T, d, j) {
    let c = 0;
    for (let t = 0; t < T; t++) c += g[t * d + j]! ** 2;
    return Math.sqrt(c);
  },
  l1(g, T, d, j) {
    let m = 0;
    for (let t = 0; t < T; t++) m = Math.max(m, Math.abs(g[t * d + j]!));
    return m;
  },
  l1inf(g, T, d, j) {
    let s = 0;
    for (let t = 0; t < T; t++) s += Math.abs(g[t * d + j]!);
    return s;
  },
};

/** Whether part `penalty`'s block of feature j is proven zero (see the file comment). */
function blockProvenZero(penalty: ScreenedPenalty, g: Float64Array, norms: Float64Array, T: number, d: number, j: number, scale: number, radius: number, extra: number): boolean {
  if (penalty === 'l1') {
    for (let t = 0; t < T; t++) if (!provenZero(Math.abs(g[t * d + j]!), scale, radius, norms[t * d + j]! ** 2, extra)) return false;
    return true;
  }
  if (penalty === 'features') {
    let m = 0;
    for (let t = 0; t < T; t++) m = Math.max(m, norms[t * d + j]!);
    return provenZero(FEATURE_DUAL.features(g, T, d, j), scale, radius, m * m, extra);
  }
  let bound = 0;
  for (let t = 0; t < T; t++) bound += Math.sqrt(norms[t * d + j]! ** 2 + extra);
  return provenZero(FEATURE_DUAL.l1inf(g, T, d, j), scale, radius, bound * bound, 0);
}

/**
 * The gap at the stacked parts V (K T x d) and the features the sphere test cannot discard.
 * `norms` are taskColumnNorms(q), `atZero` f and grad f at W = 0.
 */
export function screenFeatures(
  K: Kernels,
  q: ScreenRows,
  problem: ScreenedProblem,
  v: Matrix<Float64Array>,
  norms: Matrix<Float64Array>,
  atZero: { f: number; g: Matrix<Float64Array> },
): ScreenResult {
  const { parts } = problem;
  const nParts = parts.length;
  const d = v.cols;
  const T = v.rows / nParts;
  const w = sumOfParts(v, nParts);
  const { f, g } = smooth(K, q, w, problem.smooth);
  // c = min(1, min_k lambda_k / g_k*(G)), the penalty sum_k lambda_k g_k(V_k), and <grad f(0), W>.
  let c = 1;
  for (const part of parts) {
    const dualAt = FEATURE_DUAL[part.penalty];
    let dual = 0;
    for (let j = 0; j < d; j++) dual = Math.max(dual, dualAt(g.data, T, d, j));
    if (dual > part.strength) c = Math.min(c, part.strength / dual);
  }
  const penalty = problem.penalty(v);
  let g0w = 0;
  for (let i = 0; i < T * d; i++) g0w += atZero.g.data[i]! * w.data[i]!;
  const rNormSq = 2 * f;
  const gap = 0.5 * (1 + c * c) * rNormSq + penalty - c * (2 * atZero.f + g0w);
  const extra = problem.smooth?.lipschitz ?? 0;
  // Part k's test, c g_kj + sqrt(2 gap) b_kj < lambda_k, as provenZero reads it: scale lambda_k / c, radius sqrt(2 gap) / lambda_k.
  const tests = parts.map((part) => ({ penalty: part.penalty, scale: part.strength / c, radius: safeRadius(gap, part.strength, 2 * atZero.f) }));
  const keep: number[] = [];
  for (let j = 0; j < d; j++) {
    if (!tests.every((r) => blockProvenZero(r.penalty, g.data, norms.data, T, d, j, r.scale, r.radius, extra))) keep.push(j);
  }
  return { gap, keep: Int32Array.from(keep) };
}

/** f and grad f at W = 0 (T x d). */
export function smoothAtZero(K: Kernels, q: ScreenRows, T: number): { f: number; g: Matrix<Float64Array> } {
  return smooth(K, q, { rows: T, cols: q.x.cols, data: new Float64Array(T * q.x.cols) });
}

/** The rows restricted to the listed columns (a copy). */
export function restrictColumns(q: ScreenRows, keep: Int32Array): ScreenRows {
  const N = q.x.rows;
  const d = q.x.cols;
  const k = keep.length;
  const x = new Float64Array(N * k);
  for (let i = 0; i < N; i++) for (let c = 0; c < k; c++) x[i * k + c] = q.x.data[i * d + keep[c]!]!;
  return { ...q, x: { rows: N, cols: k, data: x } };
}

/** What the screening reads of one FISTA run's result (fista.ts's FistaResult has more; it is passed through). */
export interface StageResult {
  w: Matrix<Float64Array>;
  history: number[];
  nIter: number;
  restarts: number;
}

/** Features below which screening is not worth its pass over the rows. */
export const SCREEN_MIN_FEATURES = 32;

/**
 * Whether a squared-loss problem on d features can be screened: at least SCREEN_MIN_FEATURES
 * features, every part's penalty handled with a strength > 0, and a smooth penalty only with a
 * single part and only when it acts on each feature's column on its own.
 */
export function screenable(parts: readonly { penalty: string; strength: number }[], smooth: { columnwise?: boolean } | undefined, d: number): boolean {
  const partsOk = parts.length > 0 && parts.every((p) => p.penalty in FEATURE_DUAL && p.strength > 0);
  return d >= SCREEN_MIN_FEATURES && partsOk && (!smooth || (parts.length === 1 && smooth.columnwise === true));
}

/**
 * The first check during FISTA is after this many iterations; each next one after a quarter more
 * (at least SCREEN_CHECK_STEP more), so the checks cost a few per cent of the iterations.
 */
const SCREEN_FIRST_CHECK = 16;
const SCREEN_CHECK_STEP = 8;

/**
 * Per-row-set constants of the test (the column norms, f and grad f at 0), computed once per
 * problem: keyed by the rows' matrix object, which a problem keeps for its life (its data array may
 * be memory lent to one fit and lent again, with other values, to the next).
 */
const constants = new WeakMap<Matrix<Float64Array>, { norms: Matrix<Float64Array>; zero: { f: number; g: Matrix<Float64Array> } }>();

export interface ScreenedFistaOptions {
  /** The iteration limit of the whole solve (over all runs). */
  maxIter: number;
}

/** FISTA on given rows from a start, for at most maxIter iterations, with fista.ts's `pause` hook. */
export type FistaRun<R extends StageResult> = (
  rows: ScreenRows,
  v: Matrix<Float64Array>,
  maxIter: number,
  pause: (v: Matrix<Float64Array>, iter: number) => boolean,
) => Work<R>;

/**
 * FISTA with gap-safe screening at its start and at checks during the solve (see the file
 * comment). A screening that discards at least a quarter of the remaining features stops FISTA
 * there and restarts it from the same point on the rows of the others (a failed check leaves
 * FISTA running undisturbed); the result is expanded with zeros, which the test proves optimal.
 */
export function* screenedFista<R extends StageResult>(K: Kernels, q: ScreenRows, problem: ScreenedProblem, v0: Matrix<Float64Array>, run: FistaRun<R>, o: ScreenedFistaOptions): Work<R> {
  const d = v0.cols;
  const T = q.scale.length;
  let c = constants.get(q.x);
  if (!c) constants.set(q.x, (c = { norms: taskColumnNorms(q), zero: smoothAtZero(K, q, T) }));
  // The current problem: rows restricted to the features `cols` (all while null), and its start.
  let cols: Int32Array | null = null;
  let rows = q;
  let norms = c.norms;
  let zero = c.zero;
  /** The features of the current problem to keep, when a screening discards enough of them. */
  const screen = (v: Matrix<Float64Array>): Int32Array | null => {
    if (v.cols < SCREEN_MIN_FEATURES) return null;
    const { keep } = screenFeatures(K, rows, problem, v, norms, zero);
    return keep.length <= 0.75 * v.cols ? keep : null;
  };
  const history: number[] = [];
  let nIter = 0;
  let restarts = 0;
  let nextCheck = SCREEN_FIRST_CHECK;
  let keep = screen(v0);
  let v = v0;
  for (;;) {
    if (keep) {
      rows = restrictColumns(rows, keep);
      v = selectColumns(v, keep);
      norms = selectColumns(norms, keep);
      zero = { f: zero.f, g: selectColumns(zero.g, keep) };
      const prev: Int32Array | null = cols;
      cols = prev ? keep.map((j) => prev[j]!) : keep;
      keep = null;
    }
    const done = nIter;
    const pause = (x: Matrix<Float64Array>, iter: number): boolean => {
      const total = done + iter;
      if (total < nextCheck) return false;
      keep = screen(x);
      // A check that discards nothing says the gap is still wide: wait longer for the next one.
      nextCheck = Math.max(total + SCREEN_CHECK_STEP, Math.ceil((keep ? 1.25 : 1.5) * total));
      return keep !== null;
    };
    const r = yield* offsetIterations(run(rows, v, o.maxIter - nIter, pause), nIter);
    // Each run's history starts at the previous run's last objective (no spread: it may be long).
    for (let i = history.length > 0 ? 1 : 0; i < r.history.length; i++) history.push(r.history[i]!);
    nIter += r.nIter;
    restarts += r.restarts;
    if (!keep || nIter >= o.maxIter) return { ...r, w: cols ? expandColumns(r.w, cols, d) : r.w, history, nIter, restarts };
    v = r.w;
  }
}

/** `work` with the iteration numbers of its progress records shifted by `offset`. */
function* offsetIterations<T>(work: Work<T>, offset: number): Work<T> {
  let r = work.next();
  while (!r.done) {
    yield r.value.iter !== undefined ? { ...r.value, iter: r.value.iter + offset } : r.value;
    r = work.next();
  }
  return r.value;
}

function selectColumns(w: Matrix<Float64Array>, keep: Int32Array): Matrix<Float64Array> {
  const { rows: T, cols: d } = w;
  const k = keep.length;
  const out = new Float64Array(T * k);
  for (let t = 0; t < T; t++) for (let c = 0; c < k; c++) out[t * k + c] = w.data[t * d + keep[c]!]!;
  return { rows: T, cols: k, data: out };
}

function expandColumns(w: Matrix<Float64Array>, keep: Int32Array, d: number): Matrix<Float64Array> {
  const T = w.rows;
  const k = keep.length;
  const out = new Float64Array(T * d);
  for (let t = 0; t < T; t++) for (let c = 0; c < k; c++) out[t * d + keep[c]!] = w.data[t * k + c]!;
  return { rows: T, cols: d, data: out };
}
