/**
 * Gap-safe screening for the L2,1-penalised per-task least squares solved by FISTA
 * (L21Regression):
 *   P(W) = f(W) + alpha sum_j ||W[:, j]||_2,   f(W) = sum_t scale_t (1/2) ||X_t w_t - y_t||^2 (+ const),
 * over the (compressed, centred) stacked task rows of fista.ts. With A_t = sqrt(scale_t) X_t and
 * y'_t = sqrt(scale_t) y_t this is a group lasso on the block-diagonal design A (group j = feature
 * j in every task), so the gap-safe sphere test of Ndiaye, Fercoq, Gramfort & Salmon (JMLR 18,
 * 2017, the group case) applies:
 *   r = y' - A w,  ||A_j^T r|| = ||G[:, j]||  (G = grad f(W), T x d),  theta = r / max(alpha, max_j ||G[:, j]||),
 *   gap = (1/2)(1 + c^2) ||r||^2 + alpha sum_j ||W[:, j]|| - c <y', r>,  c = alpha / max(alpha, max_j ||G[:, j]||),
 *   ||G[:, j]|| / s + (sqrt(2 gap) / alpha) ||A_j|| < 1  implies  W*[:, j] = 0,
 * where ||A_j|| = max_t ||A_t[:, j]|| (the group's columns lie in different blocks) and, f being
 * quadratic, ||r||^2 = 2 f(W), ||y'||^2 = 2 f(0) and <y', r> = 2 f(0) + <grad f(0), W>.
 */
import type { Matrix } from '../../core/matrix.js';
import type { Kernels } from '../../kernels/types.js';
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

export interface L21ScreenResult {
  /** The duality gap at W. */
  gap: number;
  /** Features not proven zero at the optimum, ascending. */
  keep: Int32Array;
}

/** f(W) (with the constant) and its gradient (T x d) at W. */
function smooth(K: Kernels, q: L21Rows, w: Matrix<Float64Array>): { f: number; g: Matrix<Float64Array> } {
  const T = q.scale.length;
  const g: Matrix<Float64Array> = { rows: T, cols: q.x.cols, data: new Float64Array(T * q.x.cols) };
  const l = K.taskLoss({ x: q.x, y: q.y, offsets: q.offsets, w, intercept: new Float64Array(T), scale: q.scale, loss: 'squared', gradW: g });
  let f = q.constant;
  for (const v of l) f += v;
  return { f, g };
}

/** ||A_j|| = max_t sqrt(scale_t ||X_t[:, j]||^2) per feature. */
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

/** The gap at W (T x d) and the features the sphere test cannot discard. */
export function screenL21(K: Kernels, q: L21Rows, alpha: number, w: Matrix<Float64Array>, norms: Float64Array, atZero: { f: number; g: Matrix<Float64Array> }): L21ScreenResult {
  const { rows: T, cols: d } = w;
  const { f, g } = smooth(K, q, w);
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
  const keep: number[] = [];
  for (let j = 0; j < d; j++) if (!provenZero(colNorm[j]!, scale, radius, norms[j]! ** 2, 0)) keep.push(j);
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

/** Per-row-set constants of the test (the group norms, f and grad f at 0), computed once per problem. */
const constants = new WeakMap<Float64Array, { norms: Float64Array; zero: { f: number; g: Matrix<Float64Array> } }>();

/**
 * FISTA after one gap-safe screening at its starting point (sequential screening, Ndiaye et al.
 * 2017 section 5: along a warm-started path the previous solution is close to the new optimum, so
 * the sphere is small and most features are discarded before the first iteration). When at least
 * a quarter of the features are discarded, FISTA runs on the restricted rows and the result is
 * expanded with zeros, which the test proves optimal; otherwise it runs on the whole problem.
 * `run` runs FISTA on given rows from a start.
 */
export function* screenedFista<P>(
  K: Kernels,
  q: L21Rows,
  alpha: number,
  w0: Matrix<Float64Array>,
  run: (rows: L21Rows, w: Matrix<Float64Array>) => Generator<P, StageResult, void>,
): Generator<P, StageResult, void> {
  const { rows: T, cols: d } = w0;
  if (!(alpha > 0)) return yield* run(q, w0);
  let c = constants.get(q.x.data);
  if (!c) constants.set(q.x.data, (c = { norms: groupNorms(q), zero: smoothAtZero(K, q, T) }));
  const { keep } = screenL21(K, q, alpha, w0, c.norms, c.zero);
  if (keep.length > 0.75 * d) return yield* run(q, w0);
  const r = yield* run(restrictColumns(q, keep), selectColumns(w0, keep));
  return { ...r, w: expandColumns(r.w, keep, d) };
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
