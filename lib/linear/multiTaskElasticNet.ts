/**
 * Multi-task elastic net and multi-task lasso for one shared design X (n x d) and targets Y (n x T),
 * with scikit-learn's objective
 *   (1/(2n)) ||Y - X W - 1 b^T||_F^2 + alpha l1Ratio sum_j ||W[j,:]||_2 + (alpha (1 - l1Ratio)/2) ||W||_F^2
 * solved by block coordinate descent over the rows of W (Friedman, Hastie & Tibshirani, "Regularization
 * paths for generalized linear models via coordinate descent", J. Stat. Softw. 33, 2010; Obozinski,
 * Taskar & Jordan 2010) with gap-safe screening, working sets, glmnet's active-set sweeps on large
 * ones and Anderson extrapolation (solvers/workingSet.ts and the kernels' inner solves), stopped
 * by scikit-learn's rule: the duality gap of the problem scaled by n
 * (l1Reg = alpha l1Ratio n, l2Reg = alpha (1 - l1Ratio) n; solvers/dualGap.ts)
 *   gap = (1/2)(1 + c^2) ||R||^2 + l1Reg sum_j ||W_j|| - c <R, Y> + (l2Reg/2)(1 + c^2) ||W||^2,
 *   c = min(1, l1Reg / max_j ||X_j^T R - l2Reg W_j||),
 * below tol ||Y||_F^2 (Y centred when fitIntercept): the optimum of scikit-learn's
 * MultiTaskElasticNet (sklearn/linear_model/_cd_fast.pyx, enet_coordinate_descent_multi_task).
 * The reported `dualGap` is gap / n, like sklearn's. This file holds the centring, the intercept
 * and the public API.
 */
import { BufferLease } from '../core/bufferLease.js';
import { FormatError, ShapeError } from '../core/errors.js';
import { toMatrix, type Matrix, type MatrixLike } from '../core/matrix.js';
import { bool, num, parseOptions } from '../core/options.js';
import { throwIfAborted, Yielder } from '../core/async.js';
import { parseFitOptions, parseSyncFitOptions } from '../core/estimator.js';
import { offload } from '../parallel/offload.js';
import { Rng } from '../core/rng.js';
import { kernels } from '../kernels/index.js';
import type { Kernels } from '../kernels/types.js';
import { arrayFromState, matrixFromState } from '../io/format.js';
import { EnetState, prepareProblem, solveEnet, type EnetProblem, type ProgressInfo, type SolveResult, type SolveSettings } from './solvers/workingSet.js';
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
export type { ProgressInfo } from './solvers/workingSet.js';

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

/**
 * Validate the shapes of X (n x d) and Y (n x T, or a vector as n x 1), with matching rows. Their
 * values are checked finite by prepareProblem (the kernels that read them report a NaN or an
 * infinity, and it is then named), with these names.
 */
export function checkXY(X: unknown, Y: unknown, owner: string): { x: Matrix<Float64Array>; y: Matrix<Float64Array>; names: { x: string; y: string } } {
  const names = { x: `${owner}.fit: X`, y: `${owner}.fit: Y` };
  const x = toMatrix(X, names.x, { checkFinite: false });
  if (x.cols === 0) throw new ShapeError(`${owner}.fit: X has no columns; expected at least one feature`);
  const y = toTargets(Y, names.y, { checkFinite: false });
  if (y.cols === 0) throw new ShapeError(`${owner}.fit: Y has no columns; expected at least one task`);
  if (x.rows !== y.rows) {
    throw new ShapeError(`${owner}.fit: X has ${x.rows} rows but Y has ${y.rows}; X and Y need one row per sample`);
  }
  return { x, y, names };
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

/**
 * Intercept b = yMean - xMean^T W and the public coef (T x d) from the support of W: its features
 * (ascending) and their rows (|S| x T), as EnetState.supportRows gives them (only those rows are
 * read, so a sparse model of many features costs its support, not d x T). By kernel: in a process's
 * first fits V8 ran this loop in its interpreter, milliseconds on tens of tasks.
 */
export function finish(K: Kernels, p: EnetProblem, support: { cols: Int32Array; w: Matrix<Float64Array> }): { coef: Matrix<Float64Array>; intercept: Float64Array } {
  const coef: Matrix<Float64Array> = { rows: p.T, cols: p.d, data: new Float64Array(p.T * p.d) };
  const intercept = new Float64Array(p.T);
  K.cdCoefficients(support.cols, support.w, p.design.mean, p.yMean, coef, intercept);
  return { coef, intercept };
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
    if (fo.worker) return offload(this, 'fit', `${this.kindName}.fit`, [X, Y], options as Record<string, unknown>);
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
    const fo = parseSyncFitOptions<FitOptions>(`${this.kindName}.fitSync`, options);
    const { gen, done } = this.start(X, Y);
    const progress = cdProgress(this.options.maxIter, 0, fo.onProgress);
    done(runSync(gen, progress.record));
    this.fitHistory = progress.history;
    return this;
  }

  private start(X: unknown, Y: unknown): { gen: Generator<ProgressInfo, SolveResult, void>; done: (r: SolveResult) => void } {
    const o = this.options;
    checkSharedData(this.kindName, X, Y);
    const { x, y, names } = checkXY(X, Y, this.kindName);
    const k = kernels();
    // The problem's and the solver's large buffers, given back once finish() has read W.
    const lease = new BufferLease();
    const p = prepareProblem(k, x, y, o.fitIntercept, names, lease);
    let w0: Float64Array | undefined;
    const prev = this.fitted;
    if (o.warmStart && prev && prev.coef.rows === p.T && prev.coef.cols === p.d) {
      w0 = new Float64Array(p.d * p.T);
      for (let t = 0; t < p.T; t++) for (let j = 0; j < p.d; j++) w0[j * p.T + t] = prev.coef.data[t * p.d + j]!;
    }
    const state = new EnetState(k, p, w0, lease);
    const settings: SolveSettings = {
      l1Reg: o.alpha * o.l1Ratio * p.n,
      l2Reg: o.alpha * (1 - o.l1Ratio) * p.n,
      tol: o.tol,
      maxIter: o.maxIter,
      selection: o.selection,
      rng: new Rng(o.seed ?? 0),
    };
    const gen = solveEnet(k, p, state, settings);
    const done = (r: SolveResult): void => {
      if (!r.converged) {
        convergenceWarning(
          `${this.kindName}: objective did not converge in ${o.maxIter} sweeps; you might want to increase maxIter. ` +
            `Duality gap: ${r.gap}, tolerance: ${r.tolScaled}`,
        );
      }
      const { coef, intercept } = finish(k, p, state.supportRows());
      lease.release();
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

