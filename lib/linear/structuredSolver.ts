/**
 * The solver of the structured per-task models: the coefficient matrix is a sum of K parts,
 * W = V_1 + ... + V_K (each T x d; K = 1 for a single structure, K = 2 for the "shared part plus
 * deviations" models), and
 *     min_{V, b}  sum_t (1/n_t) loss_t(X_t w_t + b_t, y_t) + s(V) + sum_k lambda_k g_k(V_k)
 * with loss_t = (1/2) ||.||^2 (squared) or the logistic loss, s a smooth penalty (graph Laplacian,
 * ridge, the clustered penalty) and each g_k one of partPenalties.ts. Solved by FISTA with restart
 * (fista.ts) on the stacked variable [V_1; ...; V_K] (K T x d): the gradient of the loss term with
 * respect to every part is the same G = grad_W f, so its Lipschitz constant is K L_f (L_f exact for
 * squared loss, from fista.ts's `prepared`), plus the one of grad s; the prox is separable over
 * parts. With squared loss, features are screened out of the solve (gap-safe,
 * solvers/featureScreening.ts) when every part's penalty is separable over features ('features',
 * 'l1', 'l1inf') and the smooth penalty, if any, acts on each feature's column on its own with a
 * single part. Intercepts are unpenalised, as in every per-task model: squared loss centres each
 * task, logistic loss optimises them from each task's log-odds.
 */
import type { Matrix } from '../core/matrix.js';
import { kernels } from '../kernels/index.js';
import { fista, prepared, type FistaOptions, type FistaSpec } from './fista.js';
import { PART_PENALTIES, type PartPenaltyName } from './partPenalties.js';
import { screenable, screenedFista, sumOfParts, type ScreenedPart } from './solvers/featureScreening.js';
import { interceptsFrom, type Solution, type TaskProblem, type Work } from './taskModel.js';

/** One part of W: its penalty and strength. */
export interface PartSpec {
  /** The name under which the fitted part is kept (Solution.parts). */
  name: string;
  penalty: PartPenaltyName;
  /** lambda_k >= 0. */
  strength: number;
}

/** A smooth penalty s(V) on the stacked parts. */
export interface SmoothPenalty {
  /** s(V); adds grad s(V) into `grad` when given. */
  value(v: Matrix<Float64Array>, grad: Matrix<Float64Array> | null): number;
  /** A Lipschitz constant of grad s. */
  lipschitz: number;
  /** s is quadratic (its gradient is affine). */
  quadratic: boolean;
  /**
   * s(V) = sum_j V[:, j]^T M V[:, j] for one part V (M positive semi-definite, T x T): s acts on
   * each feature's column on its own, for any number of columns, and `lipschitz` bounds ||2 M||.
   * A single sparse part can then be screened (solvers/featureScreening.ts).
   */
  columnwise?: boolean;
}

export interface Structure {
  /** The parts of W (none: W itself, with the smooth penalty only). */
  parts: PartSpec[];
  smooth?: SmoothPenalty;
}

export interface StructuredSolveOptions {
  loss: 'squared' | 'logistic';
  fitIntercept: boolean;
  tol: number;
  maxIter: number;
  /**
   * Gap-safe screening of features where the structure allows it (squared loss, parts penalised by
   * 'features', 'l1' or 'l1inf', and a column-wise smooth penalty with one part or none; default
   * true; off only to compare in tests and benchmarks).
   */
  screening?: boolean;
}

/** The solver state kept for warm starts. */
interface StructuredWarm {
  v: Matrix<Float64Array>;
  b: Float64Array;
  lipschitz: number;
  problem: TaskProblem;
}

/** Part k of the stack (a view). */
export function partView(v: Matrix<Float64Array>, k: number, T: number): Matrix<Float64Array> {
  return { rows: T, cols: v.cols, data: v.data.subarray(k * T * v.cols, (k + 1) * T * v.cols) };
}

/**
 * grad_W of the loss term at W = 0 (intercepts at their optimum for W = 0): the dual norm of each
 * part's penalty at it is the strength from which that part is zero (the top of its path).
 */
export function lossGradientAtZero(p: TaskProblem, loss: 'squared' | 'logistic', fitIntercept: boolean): Matrix<Float64Array> {
  const { q, b0, scale } = prepared(p, loss, fitIntercept);
  const gw = { rows: p.T, cols: p.d, data: new Float64Array(p.T * p.d) };
  kernels().taskLoss({ x: q.x, y: q.y, offsets: q.offsets, w: { rows: p.T, cols: p.d, data: new Float64Array(p.T * p.d) }, intercept: b0, scale, loss, gradW: gw });
  return gw;
}

/**
 * The Lipschitz constant of the loss gradient, and the mean diagonal of the loss Hessian: the
 * natural unit of a smooth penalty's strength on this data (about 1 for standardised features).
 */
export function lossScale(p: TaskProblem, loss: 'squared' | 'logistic', fitIntercept: boolean): { lipschitz: number; hessianDiagonal: number } {
  const pr = prepared(p, loss, fitIntercept);
  const { q, scale } = pr;
  let s = 0;
  let tasks = 0;
  for (let t = 0; t < p.T; t++) {
    const a = q.offsets[t]!;
    const e = q.offsets[t + 1]!;
    if (e === a) continue;
    let ss = 0;
    for (let i = a * p.d; i < e * p.d; i++) ss += q.x.data[i]! * q.x.data[i]!;
    s += (ss * scale[t]!) / Math.max(1, p.d);
    tasks++;
  }
  const h = tasks > 0 ? (loss === 'logistic' ? 0.25 : 1) * (s / tasks) : 1;
  return { lipschitz: pr.lipschitz, hessianDiagonal: h > 0 ? h : 1 };
}

/** Solve the structured problem at one point of the strength grid, warm-started when possible. */
export function* solveStructured(p: TaskProblem, st: Structure, o: StructuredSolveOptions, warm: Solution | null): Work<Solution> {
  const pr = prepared(p, o.loss, o.fitIntercept);
  const { c, q, b0, scale, constant } = pr;
  const K = kernels();
  const { T, d } = p;
  // A structure without a non-smooth part (smooth penalty only) still has W as its one part.
  const nParts = Math.max(1, st.parts.length);
  const optimizeIntercept = o.loss === 'logistic' && o.fitIntercept;
  // W and its gradient, sized for the columns of the current problem (fewer once features are screened out).
  let w = { rows: T, cols: d, data: new Float64Array(T * d) };
  let gw = { rows: T, cols: d, data: new Float64Array(T * d) };
  const sumParts = (v: Matrix<Float64Array>): Matrix<Float64Array> => {
    if (nParts > 1 && w.cols !== v.cols) {
      w = { rows: T, cols: v.cols, data: new Float64Array(T * v.cols) };
      gw = { rows: T, cols: v.cols, data: new Float64Array(T * v.cols) };
    }
    return sumOfParts(v, nParts, w);
  };
  /** sum_k lambda_k g_k(V_k) at the stacked parts. */
  const penalty = (v: Matrix<Float64Array>): number => {
    let s = 0;
    st.parts.forEach((part, k) => {
      if (part.strength > 0) s += part.strength * PART_PENALTIES[part.penalty].value(partView(v, k, T));
    });
    return s;
  };
  const specFor = (rows: { x: Matrix<Float64Array>; y: Float64Array; offsets: Int32Array }): FistaSpec => ({
    smooth(v, b, gv, gb) {
      const wv = sumParts(v);
      const g = gv ? (nParts === 1 ? gv : gw) : undefined;
      const l = K.taskLoss({ x: rows.x, y: rows.y, offsets: rows.offsets, w: wv, intercept: b, scale, loss: o.loss, gradW: g, gradIntercept: gb ?? undefined });
      if (gv && nParts > 1) for (let k = 0; k < nParts; k++) gv.data.set(gw.data, k * T * v.cols);
      let s = constant;
      for (const x of l) s += x;
      if (st.smooth) s += st.smooth.value(v, gv);
      return s;
    },
    prox(v, step) {
      let s = 0;
      st.parts.forEach((part, k) => {
        if (part.strength > 0) s += part.strength * PART_PENALTIES[part.penalty].prox(partView(v, k, T), part.strength * step);
      });
      return s;
    },
    penalty,
    optimizeIntercept,
    quadratic: o.loss === 'squared' && (st.smooth?.quadratic ?? true),
  });
  const sw = warm?.warm as StructuredWarm | undefined;
  const fits = sw && sw.v.rows === nParts * T && sw.v.cols === d && sw.b.length === T;
  const v0 = fits ? sw.v : { rows: nParts * T, cols: d, data: new Float64Array(nParts * T * d) };
  const start = fits ? sw.b : b0;
  const lipschitz = Math.max(nParts * pr.lipschitz + (st.smooth?.lipschitz ?? 0), fits && sw.problem === p ? sw.lipschitz : 0);
  const run = (rows: { x: Matrix<Float64Array>; y: Float64Array; offsets: Int32Array }, v: Matrix<Float64Array>, maxIter = o.maxIter, pause?: FistaOptions['pause']) =>
    fista(specFor(rows), v, start, { tol: o.tol, maxIter, lipschitz, pause });
  // Squared loss, sparse parts separable over features and a column-wise (or no) smooth penalty:
  // a sparse regression on an augmented design, screened feature by feature (solvers/featureScreening.ts).
  const screened = (o.screening ?? true) && o.loss === 'squared' && screenable(st.parts, st.smooth, d);
  const problem = { parts: st.parts as ScreenedPart[], penalty, smooth: st.smooth };
  const r = screened
    ? yield* screenedFista(K, { x: q.x, y: q.y, offsets: q.offsets, scale, constant }, problem, v0, run, { maxIter: o.maxIter })
    : yield* run(q, v0);
  const coef = { rows: T, cols: d, data: sumParts(r.w).data.slice() };
  const intercept = c ? interceptsFrom(coef, c, optimizeIntercept ? r.b : undefined) : r.b.slice();
  const parts: Record<string, Matrix<Float64Array>> = {};
  if (nParts > 1) st.parts.forEach((part, k) => (parts[part.name] = { rows: T, cols: d, data: partView(r.w, k, T).data.slice() }));
  return {
    coef,
    intercept,
    history: r.history,
    nIter: r.nIter,
    parts,
    warm: { v: r.w, b: r.b, lipschitz: r.lipschitz, problem: p } satisfies StructuredWarm,
  };
}
