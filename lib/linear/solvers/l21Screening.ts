/**
 * Gap-safe screening for the L2,1-penalised per-task least squares solved by FISTA
 * (L21Regression, and TemporalGroupRegression through structuredSolver.ts):
 *   P(W) = f(W) + s(W) + alpha sum_j ||W[:, j]||_2,   f(W) = sum_t scale_t (1/2) ||X_t w_t - y_t||^2 (+ const),
 * over the (compressed, centred) stacked task rows of fista.ts, with s an optional quadratic that
 * acts on each feature's column on its own, s(W) = sum_j W[:, j]^T M W[:, j] with M symmetric
 * positive semi-definite (T x T; the temporal chain lambdaTime Lap + lambdaRidge I; s = 0 for L2,1).
 *
 * With A_t = sqrt(scale_t) X_t, y'_t = sqrt(scale_t) y_t and B = (2 M)^(1/2), P is a group lasso in
 * vec(W) (group j = feature j in every task) on the augmented design
 *   A = [blockdiag_t(A_t) acting on the rows w_t of W;  B acting on every column W[:, j]],  y~ = [y'; 0],
 * since (1/2) ||B W[:, j]||^2 = s's term of feature j. The gap-safe sphere test of Ndiaye, Fercoq,
 * Gramfort & Salmon ("Gap safe screening rules for sparsity enforcing penalties", JMLR 18, 2017,
 * the group case) then applies. The residual is rho = [y' - A_t w_t; -B W[:, j]], and
 *   A_j^T rho = -(grad f + grad s)(W)[:, j] = -G[:, j],  G = grad (f + s)(W) (T x d),
 *   theta = rho / max(alpha, max_j ||G[:, j]||),  c = alpha / max(alpha, max_j ||G[:, j]||),
 *   gap = P(W) - D(theta) = (1/2)(1 + c^2) ||rho||^2 + alpha sum_j ||W[:, j]|| - c <y~, rho>,
 *   ||G[:, j]|| / max(alpha, max_j ||G[:, j]||) + (sqrt(2 gap) / alpha) ||A_j|| < 1  implies  W*[:, j] = 0,
 * with D(theta) = (1/2) ||y~||^2 - (alpha^2 / 2) ||theta - y~ / alpha||^2. f + s being quadratic,
 *   ||rho||^2 = 2 (f + s)(W),  ||y~||^2 = 2 f(0),  <y~, rho> = 2 f(0) + <grad f(0), W>
 * (s(0) = 0, grad s(0) = 0), and the column norm (spectral norm of the group's T columns) is
 *   ||A_j||^2 = lambda_max(diag_t(scale_t ||X_t[:, j]||^2) + 2 M) <= max_t scale_t ||X_t[:, j]||^2 + ||2 M||,
 * where ||2 M|| is the Lipschitz constant of grad s (2 lambdaRidge + 2 lambdaTime lambda_max(Lap) for
 * the chain); an upper bound of ||A_j|| keeps the test safe. Compressing the rows (fista.ts) keeps
 * f, its gradient and the column norms of X_t, so the test reads the same on the compressed rows.
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
import { dualityGapOf, provenZero, safeRadius } from './dualGap.js';

/** The stacked task rows of a squared-loss FISTA problem (fista.ts's compressed problem). */
export interface L21Rows {
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

export interface L21ScreenResult {
  /** The duality gap at W. */
  gap: number;
  /** Features not proven zero at the optimum, ascending. */
  keep: Int32Array;
}

/** (f + s)(W) (with f's constant) and its gradient (T x d) at W. */
function smooth(K: Kernels, q: L21Rows, w: Matrix<Float64Array>, s?: ColumnQuadratic): { f: number; g: Matrix<Float64Array> } {
  const T = q.scale.length;
  const g: Matrix<Float64Array> = { rows: T, cols: q.x.cols, data: new Float64Array(T * q.x.cols) };
  const l = K.taskLoss({ x: q.x, y: q.y, offsets: q.offsets, w, intercept: new Float64Array(T), scale: q.scale, loss: 'squared', gradW: g });
  let f = q.constant;
  for (const v of l) f += v;
  if (s) f += s.value(w, g);
  return { f, g };
}

/** max_t sqrt(scale_t ||X_t[:, j]||^2) per feature: ||A_j|| without s. */
export function groupNorms(q: L21Rows): Float64Array {
  const d = q.x.cols;
  const T = q.scale.length;
  const out = new Float64Array(d);
  const col = new Float64Array(d);
  for (let t = 0; t < T; t++) {
    col.fill(0);
    for (let i = q.offsets[t]!; i < q.offsets[t + 1]!; i++) for (let j = 0; j < d; j++) col[j]! += q.x.data[i * d + j]! ** 2;
    for (let j = 0; j < d; j++) out[j] = Math.max(out[j]!, Math.sqrt(q.scale[t]! * col[j]!));
  }
  return out;
}

/**
 * The gap at W (T x d) and the features the sphere test cannot discard. `norms` are groupNorms(q),
 * `atZero` f and grad f at W = 0, `s` the column quadratic (none for L2,1 alone).
 */
export function screenL21(
  K: Kernels,
  q: L21Rows,
  alpha: number,
  w: Matrix<Float64Array>,
  norms: Float64Array,
  atZero: { f: number; g: Matrix<Float64Array> },
  s?: ColumnQuadratic,
): L21ScreenResult {
  const { rows: T, cols: d } = w;
  const { f, g } = smooth(K, q, w, s);
  const colNorm = new Float64Array(d);
  let l21 = 0;
  let dual = 0;
  let g0w = 0;
  for (let j = 0; j < d; j++) {
    let gs = 0;
    let ws = 0;
    for (let t = 0; t < T; t++) {
      gs += g.data[t * d + j]! ** 2;
      ws += w.data[t * d + j]! ** 2;
      g0w += atZero.g.data[t * d + j]! * w.data[t * d + j]!;
    }
    colNorm[j] = Math.sqrt(gs);
    dual = Math.max(dual, colNorm[j]!);
    l21 += Math.sqrt(ws);
  }
  const rNormSq = 2 * f;
  const gap = dualityGapOf({ rNormSq, ry: 2 * atZero.f + g0w, l21, wNormSq: 0 }, dual, alpha, 0);
  const radius = safeRadius(gap, alpha, 2 * atZero.f);
  const scale = Math.max(alpha, dual);
  const extra = s?.lipschitz ?? 0;
  const keep: number[] = [];
  for (let j = 0; j < d; j++) if (!provenZero(colNorm[j]!, scale, radius, norms[j]! ** 2, extra)) keep.push(j);
  return { gap, keep: Int32Array.from(keep) };
}

/** f and grad f at W = 0 (T x d). */
export function smoothAtZero(K: Kernels, q: L21Rows, T: number): { f: number; g: Matrix<Float64Array> } {
  return smooth(K, q, { rows: T, cols: q.x.cols, data: new Float64Array(T * q.x.cols) });
}

/** The rows restricted to the listed columns (a copy). */
export function restrictColumns(q: L21Rows, keep: Int32Array): L21Rows {
  const N = q.x.rows;
  const d = q.x.cols;
  const k = keep.length;
  const x = new Float64Array(N * k);
  for (let i = 0; i < N; i++) for (let c = 0; c < k; c++) x[i * k + c] = q.x.data[i * d + keep[c]!]!;
  return { ...q, x: { rows: N, cols: k, data: x } };
}

/** What one FISTA run returns (fista.ts's FistaResult). */
export interface StageResult {
  w: Matrix<Float64Array>;
  b: Float64Array;
  history: number[];
  nIter: number;
  lipschitz: number;
  converged: boolean;
  restarts: number;
}

/** Features below which screening is not worth its pass over the rows. */
export const L21_SCREEN_MIN_FEATURES = 32;

/**
 * The first check during FISTA is after this many iterations; each next one after a quarter more
 * (at least SCREEN_CHECK_STEP more), so the checks cost a few per cent of the iterations.
 */
const SCREEN_FIRST_CHECK = 16;
const SCREEN_CHECK_STEP = 8;

/** Per-row-set constants of the test (the group norms, f and grad f at 0), computed once per problem. */
const constants = new WeakMap<Float64Array, { norms: Float64Array; zero: { f: number; g: Matrix<Float64Array> } }>();

export interface ScreenedFistaOptions {
  /** The iteration limit of the whole solve (over all runs). */
  maxIter: number;
  /** The column quadratic s of the problem (none for L2,1 alone). */
  smooth?: ColumnQuadratic;
}

/** FISTA on given rows from a start, for at most maxIter iterations, with fista.ts's `pause` hook. */
export type FistaRun = (
  rows: L21Rows,
  w: Matrix<Float64Array>,
  maxIter: number,
  pause: (w: Matrix<Float64Array>, iter: number) => boolean,
) => Work<StageResult>;

/**
 * FISTA with gap-safe screening at its start and at checks during the solve (see the file
 * comment). A screening that discards at least a quarter of the remaining features stops FISTA
 * there and restarts it from the same point on the rows of the others (a failed check leaves
 * FISTA running undisturbed); the result is expanded with zeros, which the test proves optimal.
 */
export function* screenedFista(K: Kernels, q: L21Rows, alpha: number, w0: Matrix<Float64Array>, run: FistaRun, o: ScreenedFistaOptions): Work<StageResult> {
  const { rows: T, cols: d } = w0;
  let c = constants.get(q.x.data);
  if (!c) constants.set(q.x.data, (c = { norms: groupNorms(q), zero: smoothAtZero(K, q, T) }));
  // The current problem: rows restricted to the features `cols` (all while null), and its start.
  let cols: Int32Array | null = null;
  let rows = q;
  let norms = c.norms;
  let zero = c.zero;
  /** The features of the current problem to keep, when a screening discards enough of them. */
  const screen = (w: Matrix<Float64Array>): Int32Array | null => {
    if (!(alpha > 0) || w.cols < L21_SCREEN_MIN_FEATURES) return null;
    const { keep } = screenL21(K, rows, alpha, w, norms, zero, o.smooth);
    return keep.length <= 0.75 * w.cols ? keep : null;
  };
  const history: number[] = [];
  let nIter = 0;
  let restarts = 0;
  let nextCheck = SCREEN_FIRST_CHECK;
  let keep = screen(w0);
  let w = w0;
  for (;;) {
    if (keep) {
      rows = restrictColumns(rows, keep);
      w = selectColumns(w, keep);
      const prevNorms = norms;
      norms = Float64Array.from(keep, (j) => prevNorms[j]!);
      zero = { f: zero.f, g: selectColumns(zero.g, keep) };
      const prev: Int32Array | null = cols;
      cols = prev ? keep.map((j) => prev[j]!) : keep;
      keep = null;
    }
    const done = nIter;
    const pause = (x: Matrix<Float64Array>, iter: number): boolean => {
      const total = done + iter;
      if (total < nextCheck) return false;
      nextCheck = Math.max(total + SCREEN_CHECK_STEP, Math.ceil(1.25 * total));
      keep = screen(x);
      return keep !== null;
    };
    const r = yield* offsetIterations(run(rows, w, o.maxIter - nIter, pause), nIter);
    // Each run's history starts at the previous run's last objective (no spread: it may be long).
    for (let i = history.length > 0 ? 1 : 0; i < r.history.length; i++) history.push(r.history[i]!);
    nIter += r.nIter;
    restarts += r.restarts;
    if (!keep || nIter >= o.maxIter) return { ...r, w: cols ? expandColumns(r.w, cols, d) : r.w, history, nIter, restarts };
    w = r.w;
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
