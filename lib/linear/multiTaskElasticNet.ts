/**
 * Multi-task elastic net and multi-task lasso for one shared design X (n x d) and targets Y (n x T),
 * with scikit-learn's objective
 *   (1/(2n)) ||Y - X W - 1 b^T||_F^2 + alpha l1Ratio sum_j ||W[j,:]||_2 + (alpha (1 - l1Ratio)/2) ||W||_F^2
 * solved by block coordinate descent over the rows of W (Friedman, Hastie & Tibshirani, "Regularization
 * paths for generalized linear models via coordinate descent", J. Stat. Softw. 33, 2010; Obozinski,
 * Taskar & Jordan 2010), exactly as scikit-learn's enet_coordinate_descent_multi_task
 * (sklearn/linear_model/_cd_fast.pyx, 1.2): the sweep itself is the `mtenetSweep` kernel; this file
 * holds the centring, the duality-gap stopping rule, the intercept and the public API.
 * With cyclic selection (and problems big enough, cdBlockSize) the sweep runs blocked: the block
 * Gram matrices of the fixed order are computed once per problem (mtenetBlockGram) and each sweep
 * gets X_b^T R for a whole block of features from one matrix product (CdSweepArgs.blockGram):
 * the same iterates as scikit-learn's up to rounding. Random selection draws a new order each
 * sweep and keeps the plain sweep.
 *
 * Duality gap (scikit-learn's, for the problem scaled by n: l1Reg = alpha l1Ratio n, l2Reg = alpha (1 - l1Ratio) n):
 *   XtA = X^T R - l2Reg W,  dual = max_j ||XtA[j,:]||,  c = min(1, l1Reg / dual)
 *   gap = (1/2)(||R||^2 + c^2 ||R||^2) + l1Reg sum_j ||W_j|| - c <R, Y> + (l2Reg/2)(1 + c^2) ||W||^2
 * checked after a sweep whose largest update dwMax / wMax < tol (or the last one); the fit stops when
 * gap < tol ||Y||_F^2 (Y centred when fitIntercept). The reported `dualGap` is gap / n, like sklearn's.
 */
import { ConfigError, FormatError, ShapeError } from '../core/errors.js';
import { describe, toMatrix, toVector, type Matrix, type MatrixLike } from '../core/matrix.js';
import { bool, num, parseOptions } from '../core/options.js';
import { throwIfAborted, Yielder } from '../core/async.js';
import { parseFitOptions } from '../core/estimator.js';
import { Rng } from '../core/rng.js';
import { kernels } from '../kernels/index.js';
import type { Kernels } from '../kernels/types.js';
import { arrayFromState, matrixFromState } from '../io/format.js';
import { parseLassoOptions, SELECTION_SPEC, SOLVER_SPEC } from './cdOptions.js';
import { CdEstimator, cdProgress, checkPredictX, checkSharedData, linearPredict, openDocument, toTargets, type CdFitOptions, type CdFitted } from './cdEstimator.js';

// Kept importable from here, where they were first defined (the CV estimators and tests use them).
export { checkPredictX, configFromDocument, linearPredict, toTargets, type CdProgress } from './cdEstimator.js';

// ------------------------------------------------------------------------------------------------
// Options
// ------------------------------------------------------------------------------------------------

/** Options of {@link MultiTaskElasticNet} (scikit-learn's parameters, camelCased). */
export interface MultiTaskElasticNetOptions {
  /** Constant that multiplies the penalty terms (>= 0). Default 1. */
  alpha?: number;
  /**
   * The elastic-net mixing parameter in [0, 1]: 1 is the L1/L2 (group lasso) penalty, 0 the
   * squared Frobenius (ridge) penalty. Default 0.5.
   */
  l1Ratio?: number;
  /** Fit an intercept per task (X and Y are centred). Default true. */
  fitIntercept?: boolean;
  /**
   * Tolerance of the optimisation: after a sweep whose largest coefficient change is below
   * tol times the largest coefficient, the duality gap is checked against tol ||Y||_F^2.
   * Default 1e-4.
   */
  tol?: number;
  /** Maximum number of coordinate-descent sweeps. Default 1000. */
  maxIter?: number;
  /** Start from the coefficients of the previous fit (when their shape fits). Default false. */
  warmStart?: boolean;
  /**
   * 'cyclic' visits the features in order; 'random' draws a random feature (with replacement, like
   * scikit-learn) at each step, which often converges faster when tol > 1e-4. Default 'cyclic'.
   */
  selection?: 'cyclic' | 'random';
  /** Seed of the generator used by selection 'random'. Default 0. */
  seed?: number;
}

/** Options of {@link MultiTaskLasso}: those of the elastic net without `l1Ratio` (fixed at 1). */
export type MultiTaskLassoOptions = Omit<MultiTaskElasticNetOptions, 'l1Ratio'>;

/** Options of `fit` (the models' shared {@link CdFitOptions}, under the name this file always used). */
export type FitOptions = CdFitOptions;

/** What the solver yields after each sweep; fit() reports it to onProgress as a {@link CdProgress}. */
export interface ProgressInfo {
  /** 1-based sweep number. */
  iter: number;
  dualGap: number | null;
}

interface ResolvedOptions {
  alpha: number;
  l1Ratio: number;
  fitIntercept: boolean;
  tol: number;
  maxIter: number;
  warmStart: boolean;
  selection: 'cyclic' | 'random';
  seed: number | undefined;
}

export const ENET_SPEC = {
  alpha: num({ default: 1, min: 0 }),
  l1Ratio: num({ default: 0.5, min: 0, max: 1 }),
  ...SOLVER_SPEC,
  warmStart: bool(false),
  selection: SELECTION_SPEC,
  seed: num(),
};

// ------------------------------------------------------------------------------------------------
// Shared machinery (also used by the CV estimators)
// ------------------------------------------------------------------------------------------------

/** The training problem, centred when fitIntercept, in the sweep kernel's layout. */
export interface CdProblem {
  n: number;
  d: number;
  T: number;
  /** X^T (centred), d x n. */
  xt: Matrix<Float64Array>;
  /** Y^T (centred), T x n. */
  yt: Matrix<Float64Array>;
  colNormSq: Float64Array;
  /** Column means (zeros when not fitIntercept). */
  xMean: Float64Array;
  yMean: Float64Array;
  /** ||Y||_F^2 of the (centred) targets. */
  yNormSq: number;
  /**
   * The block Gram matrices of the cyclic order (mtenetBlockGram), computed by the first blocked
   * solveCd on this problem and reused by later ones (the CV path fits one problem many times).
   */
  blockGram?: { blockSize: number; gram: Float64Array };
}

/** Validate X (n x d, finite) and Y (n x T, or a vector as n x 1) with matching rows. */
export function checkXY(X: unknown, Y: unknown, owner: string): { x: Matrix<Float64Array>; y: Matrix<Float64Array> } {
  const x = toMatrix(X, `${owner}.fit: X`);
  if (x.cols === 0) throw new ShapeError(`${owner}.fit: X has no columns; expected at least one feature`);
  const y = toTargets(Y, `${owner}.fit: Y`);
  if (y.cols === 0) throw new ShapeError(`${owner}.fit: Y has no columns; expected at least one task`);
  if (x.rows !== y.rows) {
    throw new ShapeError(`${owner}.fit: X has ${x.rows} rows but Y has ${y.rows}; X and Y need one row per sample`);
  }
  return { x, y };
}

/**
 * The X^T buffer of the last finished fit, held weakly for the next one: a fresh Float64Array of
 * d n values pays a page fault per 4 KiB on first touch (about 6 ms for W1's 16 MB, a tenth of
 * the native fit), a reused one does not. The garbage collector may still take it at any time.
 */
let spareXt: WeakRef<Float64Array> | undefined;

function xtBuffer(length: number): Float64Array {
  const b = spareXt?.deref();
  if (b !== undefined && b.length === length) {
    spareXt = undefined;
    return b;
  }
  return new Float64Array(length);
}

/** Offer p's X^T buffer to the next prepare; p must not be used afterwards. */
export function releaseProblem(p: CdProblem): void {
  spareXt = new WeakRef(p.xt.data);
}

/** Centre (when fitIntercept) and transpose into the kernel layout. Never modifies x or y. */
export function prepare(x: Matrix<Float64Array>, y: Matrix<Float64Array>, fitIntercept: boolean, k: Kernels = kernels()): CdProblem {
  const n = x.rows;
  const d = x.cols;
  const T = y.cols;
  const xMean = new Float64Array(d);
  const yMean = new Float64Array(T);
  if (fitIntercept) {
    for (let i = 0; i < n; i++) {
      const xo = i * d;
      for (let j = 0; j < d; j++) xMean[j]! += x.data[xo + j]!;
      const yo = i * T;
      for (let t = 0; t < T; t++) yMean[t]! += y.data[yo + t]!;
    }
    for (let j = 0; j < d; j++) xMean[j]! /= n;
    for (let t = 0; t < T; t++) yMean[t]! /= n;
  }
  const xt = xtBuffer(d * n); // every value is overwritten by the transpose
  const colNormSq = new Float64Array(d);
  k.transpose(x, { rows: d, cols: n, data: xt });
  for (let j = 0; j < d; j++) {
    const o = j * n;
    const m = xMean[j]!;
    if (m !== 0) for (let i = 0; i < n; i++) xt[o + i]! -= m;
    // Four independent sums: a single one is bound by the latency of each addition.
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = 0;
    for (; i + 3 < n; i += 4) {
      s0 += xt[o + i]! * xt[o + i]!;
      s1 += xt[o + i + 1]! * xt[o + i + 1]!;
      s2 += xt[o + i + 2]! * xt[o + i + 2]!;
      s3 += xt[o + i + 3]! * xt[o + i + 3]!;
    }
    for (; i < n; i++) s0 += xt[o + i]! * xt[o + i]!;
    colNormSq[j] = s0 + s1 + (s2 + s3);
  }
  const yt = new Float64Array(T * n);
  let yNormSq = 0;
  for (let i = 0; i < n; i++) {
    const yo = i * T;
    for (let t = 0; t < T; t++) {
      const v = y.data[yo + t]! - yMean[t]!;
      yt[t * n + i] = v;
      yNormSq += v * v;
    }
  }
  return {
    n, d, T,
    xt: { rows: d, cols: n, data: xt },
    yt: { rows: T, cols: n, data: yt },
    colNormSq, xMean, yMean, yNormSq,
  };
}

export interface SolveSettings {
  l1Reg: number;
  l2Reg: number;
  tol: number;
  maxIter: number;
  selection: 'cyclic' | 'random';
  rng: Rng;
  /**
   * Block size of the blocked sweep (CdSweepArgs.blockGram), 0 for the plain sweep; default
   * {@link cdBlockSize}. Only cyclic selection runs blocked: random selection draws a new order
   * every sweep, whose block Grams would cost more than the sweep saves.
   */
  blockSize?: number;
}

/**
 * Features per block of the blocked sweep, per backend (measured on W1): the native sweep is
 * fastest at 32 (its block Grams, d B n / 2 multiply-adds once per problem, are cheap); the TS
 * sweep runs as fast at 16 and its Grams cost half.
 */
export const CD_BLOCK_SIZE = { native: 32, js: 16 } as const;

/**
 * The block size solveCd uses by default: CD_BLOCK_SIZE[backend] when the blocked sweep pays off,
 * else 0 (plain). The block Grams cost about B / (2T) plain sweeps once per problem, and the
 * blocked sweep gains most with several tasks (T dot products per feature become one matrix
 * product), so it runs with T >= 4, at least 64 features and n >= 64 samples.
 */
export function cdBlockSize(p: Pick<CdProblem, 'n' | 'd' | 'T'>, backendName: Kernels['name']): number {
  return p.T >= 4 && p.d >= 64 && p.n >= 64 ? CD_BLOCK_SIZE[backendName] : 0;
}

export interface SolveResult {
  /** Sweeps run. */
  nIter: number;
  /** Last duality gap of the n-scaled problem (NaN if never computed). */
  gap: number;
  /** tol ||Y||^2, the threshold the gap was compared with. */
  tolScaled: number;
  converged: boolean;
}

/**
 * The duality gap of the n-scaled problem at W (d x T) with residual R^T (T x n).
 * Also usable on its own (tests, benchmarks).
 */
export function dualityGap(k: Kernels, p: CdProblem, w: Matrix<Float64Array>, rt: Matrix<Float64Array>, l1Reg: number, l2Reg: number): number {
  const { d, T } = p;
  const xtr: Matrix<Float64Array> = { rows: d, cols: T, data: new Float64Array(d * T) };
  k.gemm(p.xt, rt, xtr, { transB: true });
  let dualNorm = 0;
  let l21 = 0;
  let wNormSq = 0;
  for (let j = 0; j < d; j++) {
    let a = 0;
    let b = 0;
    for (let t = 0; t < T; t++) {
      const wv = w.data[j * T + t]!;
      const v = xtr.data[j * T + t]! - l2Reg * wv;
      a += v * v;
      b += wv * wv;
    }
    dualNorm = Math.max(dualNorm, Math.sqrt(a));
    l21 += Math.sqrt(b);
    wNormSq += b;
  }
  let rNormSq = 0;
  let ry = 0;
  const R = rt.data;
  const Yc = p.yt.data;
  for (let i = 0; i < R.length; i++) {
    rNormSq += R[i]! * R[i]!;
    ry += R[i]! * Yc[i]!;
  }
  let c: number;
  let gap: number;
  if (dualNorm > l1Reg) {
    c = l1Reg / dualNorm;
    gap = 0.5 * (rNormSq + rNormSq * c * c);
  } else {
    c = 1;
    gap = rNormSq;
  }
  gap += l1Reg * l21 - c * ry + 0.5 * l2Reg * (1 + c * c) * wNormSq;
  return gap;
}

/** R^T = Y^T - W^T X^T for the given W (d x T). */
export function residual(k: Kernels, p: CdProblem, w: Matrix<Float64Array>): Matrix<Float64Array> {
  const rt: Matrix<Float64Array> = { rows: p.T, cols: p.n, data: p.yt.data.slice() };
  let any = false;
  for (let i = 0; i < w.data.length; i++) if (w.data[i] !== 0) { any = true; break; }
  if (any) k.gemm(w, p.xt, rt, { transA: true, alpha: -1, beta: 1 });
  return rt;
}

/**
 * Coordinate descent on `p` from W (d x T, updated in place): scikit-learn's loop. A generator that
 * yields after every sweep, so one implementation serves fitSync (run to the end) and fit (await
 * the event loop between sweeps).
 */
export function* solveCd(k: Kernels, p: CdProblem, w: Matrix<Float64Array>, s: SolveSettings): Generator<ProgressInfo, SolveResult, void> {
  const rt = residual(k, p, w);
  const tolScaled = s.tol * p.yNormSq;
  const order = new Int32Array(p.d);
  if (s.selection === 'cyclic') for (let j = 0; j < p.d; j++) order[j] = j;
  // Blocked sweeps for cyclic selection: the block Grams of the fixed order, once per problem.
  const blockSize = s.selection === 'cyclic' ? (s.blockSize ?? cdBlockSize(p, k.name)) : 0;
  let blockGram: Float64Array | undefined;
  if (blockSize > 0) {
    if (p.blockGram?.blockSize !== blockSize) p.blockGram = { blockSize, gram: k.mtenetBlockGram(p.xt, order, blockSize) };
    blockGram = p.blockGram.gram;
  }
  const args = { xt: p.xt, rt, w, colNormSq: p.colNormSq, l1Reg: s.l1Reg, l2Reg: s.l2Reg, order, ...(blockGram ? { blockGram, blockSize } : {}) };
  let gap = NaN;
  for (let iter = 0; iter < s.maxIter; iter++) {
    if (s.selection === 'random') for (let j = 0; j < p.d; j++) order[j] = s.rng.int(p.d);
    const { wMax, dwMax } = k.mtenetSweep(args);
    let checked = false;
    if (wMax === 0 || dwMax / wMax < s.tol || iter === s.maxIter - 1) {
      gap = dualityGap(k, p, w, rt, s.l1Reg, s.l2Reg);
      checked = true;
    }
    const stop = checked && gap < tolScaled;
    yield { iter: iter + 1, dualGap: checked ? gap / p.n : null };
    if (stop) return { nIter: iter + 1, gap, tolScaled, converged: true };
  }
  return { nIter: s.maxIter, gap, tolScaled, converged: false };
}

/** Run a solver generator synchronously. */
export function runSync<R>(gen: Generator<ProgressInfo, R, void>, onProgress?: (info: ProgressInfo) => void): R {
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
    onProgress?.(r.value);
  }
}

/** Run a solver generator, yielding to the event loop between steps and honouring the signal. */
export async function runAsync<R>(gen: Generator<ProgressInfo, R, void>, options: { signal?: AbortSignal; onProgress?: (info: ProgressInfo) => void }): Promise<R> {
  const yielder = new Yielder(options.signal);
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
    options.onProgress?.(r.value);
    await yielder.maybeYield();
  }
}

export function checkFitOptions(owner: string, o: unknown): FitOptions {
  return parseFitOptions<FitOptions>(`${owner}.fit`, o);
}

/** Intercept b = yMean - xMean^T W and the public coef (T x d) from W (d x T). */
export function finish(p: CdProblem, w: Matrix<Float64Array>): { coef: Matrix<Float64Array>; intercept: Float64Array } {
  const { d, T } = p;
  const coef = new Float64Array(T * d);
  const intercept = p.yMean.slice();
  for (let j = 0; j < d; j++) {
    const xm = p.xMean[j]!;
    for (let t = 0; t < T; t++) {
      const v = w.data[j * T + t]!;
      coef[t * d + j] = v;
      intercept[t]! -= xm * v;
    }
  }
  return { coef: { rows: T, cols: d, data: coef }, intercept };
}

/** Mean over tasks of the coefficient of determination (scikit-learn's r2_score, uniform average). */
export function meanR2(yTrue: Matrix<Float64Array>, yPred: Matrix<Float64Array>): number {
  const { rows: n, cols: T } = yTrue;
  let total = 0;
  for (let t = 0; t < T; t++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += yTrue.data[i * T + t]!;
    mean /= n;
    let ssRes = 0;
    let ssTot = 0;
    for (let i = 0; i < n; i++) {
      const y = yTrue.data[i * T + t]!;
      const e = y - yPred.data[i * T + t]!;
      ssRes += e * e;
      ssTot += (y - mean) * (y - mean);
    }
    // scikit-learn's force_finite: a constant target scores 1 if predicted exactly, else 0.
    total += ssTot === 0 ? (ssRes === 0 ? 1 : 0) : 1 - ssRes / ssTot;
  }
  return total / T;
}

export function convergenceWarning(message: string): void {
  process.emitWarning(message, { type: 'ConvergenceWarning', code: 'METATASK_CONVERGENCE' });
}

// ------------------------------------------------------------------------------------------------
// Public estimators
// ------------------------------------------------------------------------------------------------

/**
 * Multi-task elastic net: a linear model for T tasks sharing one design X, trained with a mixed
 * L1/L2 (group lasso over the rows of W) and squared Frobenius penalty, so that the tasks select the
 * same features. Minimises
 *
 *   (1/(2n)) ||Y - X W - 1 b^T||_F^2 + alpha l1Ratio sum_j ||W[j,:]||_2 + (alpha (1 - l1Ratio)/2) ||W||_F^2
 *
 * by block coordinate descent with scikit-learn's duality-gap stopping rule
 * (sklearn.linear_model.MultiTaskElasticNet).
 *
 * Attributes after fit: `coef` (T x d, row t = task t), `intercept` (length T), `nIter` (sweeps
 * run), `dualGap` (the final duality gap, divided by n).
 */
export class MultiTaskElasticNet extends CdEstimator<CdFitted> {
  static readonly kind: string = 'MultiTaskElasticNet';
  /** The resolved options (defaults filled in). */
  readonly options: Readonly<ResolvedOptions>;
  /** The options as given (saved with the model). */
  protected override readonly config: Record<string, unknown>;

  constructor(options: MultiTaskElasticNetOptions = {}) {
    super();
    const name = (new.target as { kind?: string }).kind ?? 'MultiTaskElasticNet';
    this.options = Object.freeze(this.parse(name, options));
    this.config = { ...(options as Record<string, unknown>) };
    for (const key of Object.keys(this.config)) if (this.config[key] === undefined) delete this.config[key];
  }

  protected parse(name: string, options: unknown): ResolvedOptions {
    return parseOptions<ResolvedOptions>(name, options, ENET_SPEC);
  }

  /**
   * Fit on X (n x d) and Y (n x T, or a vector for one task), yielding to the event loop between
   * sweeps; resolves to the model. onProgress gets a {@link CdProgress} record after every sweep.
   */
  async fit(X: MatrixLike, Y: MatrixLike | ArrayLike<number>, options: FitOptions = {}): Promise<this> {
    const fo = checkFitOptions(this.kindName, options);
    throwIfAborted(fo.signal);
    const { gen, done } = this.start(X, Y);
    const progress = cdProgress(this.options.maxIter, 0, fo.onProgress);
    const r = await runAsync(gen, { signal: fo.signal, onProgress: progress.record });
    done(r);
    this.fitHistory = progress.history;
    return this;
  }

  /** Fit synchronously (blocks the event loop; for small problems). */
  fitSync(X: MatrixLike, Y: MatrixLike | ArrayLike<number>, options: Pick<FitOptions, 'onProgress'> = {}): this {
    const fo = parseFitOptions<FitOptions>(`${this.kindName}.fitSync`, options);
    const { gen, done } = this.start(X, Y);
    const progress = cdProgress(this.options.maxIter, 0, fo.onProgress);
    done(runSync(gen, progress.record));
    this.fitHistory = progress.history;
    return this;
  }

  private start(X: unknown, Y: unknown): { gen: Generator<ProgressInfo, SolveResult, void>; done: (r: SolveResult) => void } {
    const o = this.options;
    checkSharedData(this.kindName, X, Y);
    const { x, y } = checkXY(X, Y, this.kindName);
    const k = kernels();
    const p = prepare(x, y, o.fitIntercept, k);
    const w: Matrix<Float64Array> = { rows: p.d, cols: p.T, data: new Float64Array(p.d * p.T) };
    const prev = this.fitted;
    if (o.warmStart && prev && prev.coef.rows === p.T && prev.coef.cols === p.d) {
      for (let t = 0; t < p.T; t++) for (let j = 0; j < p.d; j++) w.data[j * p.T + t] = prev.coef.data[t * p.d + j]!;
    }
    const settings: SolveSettings = {
      l1Reg: o.alpha * o.l1Ratio * p.n,
      l2Reg: o.alpha * (1 - o.l1Ratio) * p.n,
      tol: o.tol,
      maxIter: o.maxIter,
      selection: o.selection,
      rng: new Rng(o.seed ?? 0),
    };
    const gen = solveCd(k, p, w, settings);
    const done = (r: SolveResult): void => {
      if (!r.converged) {
        convergenceWarning(
          `${this.kindName}: objective did not converge in ${o.maxIter} sweeps; you might want to increase maxIter. ` +
            `Duality gap: ${r.gap}, tolerance: ${r.tolScaled}`,
        );
      }
      const { coef, intercept } = finish(p, w);
      releaseProblem(p);
      this.fitted = { coef, intercept, nIter: r.nIter, dualGap: r.gap / p.n };
    };
    return { gen, done };
  }

  /** Mean coefficient of determination R^2 over the tasks (scikit-learn's uniform average). */
  score(X: MatrixLike, Y: MatrixLike | ArrayLike<number>): number {
    const f = this.need('score');
    const x = checkPredictX(X, this.kindName, 'score', f.coef.cols);
    const y = toTargets(Y, `${this.kindName}.score: Y`);
    if (y.rows !== x.rows) throw new ShapeError(`${this.kindName}.score: X has ${x.rows} rows but Y has ${y.rows}`);
    if (y.cols !== f.coef.rows) {
      throw new ShapeError(`${this.kindName}.score: Y has ${y.cols} columns but the model was fitted on ${f.coef.rows} tasks`);
    }
    return meanR2(y, linearPredict(kernels(), x, f.coef, f.intercept));
  }

  /** Rebuild a fitted model from `toJSON()`'s document; throws FormatError when it is corrupted or foreign. */
  static fromJSON<M extends MultiTaskElasticNet>(this: { new (options?: any): M; kind: string }, doc: unknown): M {
    const { model, state } = openDocument(this, doc);
    const coef = matrixFromState(state.coef, 'coef');
    const intercept = arrayFromState(state.intercept, 'intercept', Float64Array, coef.rows);
    if (typeof state.nIter !== 'number' || typeof state.dualGap !== 'number') {
      throw new FormatError(`model file: the ${this.kind} state lacks nIter or dualGap`);
    }
    (model as MultiTaskElasticNet).fitted = { coef, intercept, nIter: state.nIter, dualGap: state.dualGap };
    return model;
  }
}

/**
 * Multi-task lasso: the multi-task elastic net with l1Ratio = 1, i.e. least squares with the
 * L1/L2 mixed norm sum_j ||W[j,:]||_2 as regulariser, which selects the same features for every task:
 *
 *   (1/(2n)) ||Y - X W - 1 b^T||_F^2 + alpha sum_j ||W[j,:]||_2
 *
 * (sklearn.linear_model.MultiTaskLasso). Passing `l1Ratio` is a ConfigError.
 */
export class MultiTaskLasso extends MultiTaskElasticNet {
  static override readonly kind: string = 'MultiTaskLasso';

  constructor(options: MultiTaskLassoOptions = {}) {
    super(options);
  }

  protected override parse(name: string, options: unknown): ResolvedOptions {
    return parseLassoOptions<ResolvedOptions>(name, options, ENET_SPEC, 'MultiTaskElasticNet');
  }
}

