/**
 * The fitted-model side shared by MultiTaskElasticNet and MultiTaskElasticNetCV: both end with one
 * coordinate-descent fit on the whole data (coef, intercept, nIter, dualGap), so the accessors,
 * predict, the JSON document and the reading of a saved document are written once here. Fitting,
 * score and the extra CV attributes stay with each estimator.
 */
import { FormatError, MetataskError, NotFittedError, ShapeError, ValueError } from '../core/errors.js';
import { REMOTE_OPTION_SPEC, type Evaluation, type FitOptions, type OnWorker, type Progress, type RemoteOptions, type TaskMetrics } from '../core/estimator.js';
import { parseOptions } from '../core/options.js';
import { throwIfAborted } from '../core/async.js';
import { RESTORE, SNAPSHOT, type ModelSnapshot } from '../core/portable.js';
import { offload } from '../parallel/offload.js';
import { toMatrix, toVector, type Matrix, type MatrixLike } from '../core/matrix.js';
import { evaluation, regressionMetrics } from '../metrics/task.js';
import type { Kernels } from '../kernels/types.js';
import { kernels } from '../kernels/index.js';
import { fromDocument, toDocument, type ModelDocument } from '../io/format.js';
import { PersistentModel } from './persistence.js';

/** What every coordinate-descent estimator holds after fit. */
export interface CdFitted {
  coef: Matrix<Float64Array>;
  intercept: Float64Array;
  nIter: number;
  dualGap: number;
}

/** The progress record of the shared-X models: a solver sweep and its duality gap. */
export interface CdProgress extends Progress {
  /** 1-based sweep number of the current solve. */
  iter: number;
  /** The duality gap (divided by n, like the `dualGap` attribute) when this sweep checked it, else null. */
  dualGap: number | null;
}

/** Options of the shared-X models' fit: `signal` and `onProgress` (records: {@link CdProgress}). */
export type CdFitOptions = FitOptions<CdProgress>;

/**
 * Progress records and the history of the final fit from the solver's per-sweep { iter, dualGap }.
 * The first `pathSolves` solves (a CV path: each starts again at iter 1) are phase 'cv', step =
 * the solve, total = pathSolves; then the final fit is phase 'fit', step = the sweep, total = maxIter.
 * `history` collects the final fit's duality gaps.
 */
export function cdProgress(maxIter: number, pathSolves: number, onProgress?: (p: CdProgress) => void): { record(info: { iter: number; dualGap: number | null }): void; history: number[] } {
  const history: number[] = [];
  let solves = 0;
  return {
    history,
    record(info) {
      if (info.iter === 1) solves++;
      const cv = solves <= pathSolves;
      if (!cv && info.dualGap !== null) history.push(info.dualGap);
      onProgress?.(cv ? { phase: 'cv', step: solves, total: pathSolves, ...info } : { phase: 'fit', step: info.iter, total: maxIter, ...info });
    },
  };
}

/**
 * The checks of fit(X, Y) that come before X and Y are read: a dataset, or a missing Y, gets a
 * message that says what these models take and where a dataset of per-task rows belongs.
 */
export function checkSharedData(owner: string, X: unknown, Y: unknown): void {
  if (X !== null && typeof X === 'object' && Array.isArray((X as { tasks?: unknown }).tasks)) {
    throw new ValueError(
      `${owner}.fit(X, Y) takes one shared X (n x d) and targets Y (n x T), got a dataset of tasks. ` +
        `For tasks that each have their own rows use L21Regression, TraceNormRegression or IndependentRidge; ` +
        `a dataset built with MultiTaskDataset.fromShared keeps its X and Y in dataset.shared`,
    );
  }
  if (Y === undefined) throw new ValueError(`${owner}.fit(X, Y): Y is missing; give the targets, n x T (one column per task) or a vector for one task`);
}

/**
 * Y as a matrix; a vector (array of numbers or typed array) is one task, n x 1. Its values are
 * checked finite unless `checkFinite` is false (the caller then checks them).
 */
export function toTargets(Y: unknown, name: string, options: { checkFinite?: boolean } = {}): Matrix<Float64Array> {
  if (ArrayBuffer.isView(Y) || (Array.isArray(Y) && Y.length > 0 && !Array.isArray(Y[0]) && !ArrayBuffer.isView(Y[0]))) {
    const v = toVector(Y, name, options) as Float64Array;
    if (v.length === 0) throw new ShapeError(`${name} has no rows; expected at least one`);
    return { rows: v.length, cols: 1, data: v };
  }
  return toMatrix(Y, name, options);
}

/** X coef^T + 1 b^T (n x T). */
export function linearPredict(k: Kernels, x: Matrix<Float64Array>, coef: Matrix<Float64Array>, intercept: Float64Array): Matrix<Float64Array> {
  const T = coef.rows;
  const out: Matrix<Float64Array> = { rows: x.rows, cols: T, data: new Float64Array(x.rows * T) };
  k.gemm(x, coef, out, { transB: true });
  for (let i = 0; i < x.rows; i++) for (let t = 0; t < T; t++) out.data[i * T + t]! += intercept[t]!;
  return out;
}

/** The shared checks of predict/score inputs. */
export function checkPredictX(X: unknown, owner: string, method: string, d: number): Matrix<Float64Array> {
  const x = toMatrix(X, `${owner}.${method}: X`);
  if (x.cols !== d) {
    throw new ShapeError(`${owner}.${method}: X has ${x.cols} columns but the model was fitted on ${d} features`);
  }
  return x;
}

/** Wrap errors from decoding a saved config into FormatErrors. */
export function configFromDocument<T>(kind: string, make: () => T): T {
  try {
    return make();
  } catch (err) {
    if (err instanceof MetataskError && !(err instanceof FormatError)) {
      throw new FormatError(`model file: the ${kind} configuration is invalid: ${err.message}`);
    }
    throw err;
  }
}

/**
 * The first half of every fromJSON: the model rebuilt from the document's config (a bad config
 * is a FormatError) and the document's state object, which the caller decodes.
 */
export function openDocument<M>(cls: { new (options?: any): M; kind: string }, doc: unknown): { model: M; state: Record<string, any> } {
  const { config, state } = fromDocument(doc, cls.kind);
  const model = configFromDocument(cls.kind, () => new cls(config ?? {}));
  if (!state || typeof state !== 'object') throw new FormatError(`model file: the ${cls.kind} state is missing`);
  return { model, state };
}

export abstract class CdEstimator<F extends CdFitted> extends PersistentModel {
  /** The options as given (saved with the model). */
  protected abstract readonly config: Record<string, unknown>;
  protected fitted: F | undefined;
  protected fitHistory: number[] = [];

  protected get kindName(): string {
    return (this.constructor as unknown as { kind: string }).kind;
  }

  protected need(what: string): F {
    if (!this.fitted) throw new NotFittedError(this.kindName, what);
    return this.fitted;
  }

  /** Whether fit has completed at least once. */
  get isFitted(): boolean {
    return this.fitted !== undefined;
  }
  /** Coefficients, T x d (row t = task t, like scikit-learn's coef_). */
  get coef(): Matrix<Float64Array> {
    return this.need('coef').coef;
  }
  /** Intercepts, length T (zeros when fitIntercept is false). */
  get intercept(): Float64Array {
    return this.need('intercept').intercept;
  }
  /** Number of coordinate-descent sweeps of the (final) fit. */
  get nIter(): number {
    return this.need('nIter').nIter;
  }
  /** Final duality gap of the (final) fit (divided by n, like scikit-learn's dual_gap_). */
  get dualGap(): number {
    return this.need('dualGap').dualGap;
  }

  /**
   * The duality gaps (divided by n) of the sweeps of the last fit that checked it, in order (for
   * a CV model, those of the final refit). Empty for a model read from a file.
   */
  get history(): number[] {
    this.need('history');
    return this.fitHistory;
  }

  /**
   * Per-task metrics on X and Y (n x T): mse (= loss), mae and r2 of each task, keyed '0', '1',
   * ... by column of Y; `loss` is the mean of the task MSEs. With `worker`, computed on a worker
   * thread (a Promise).
   */
  evaluate(X: MatrixLike, Y: MatrixLike | ArrayLike<number>, options?: RemoteOptions & { worker?: false }): Evaluation;
  evaluate(X: MatrixLike, Y: MatrixLike | ArrayLike<number>, options: RemoteOptions & OnWorker): Promise<Evaluation>;
  evaluate(X: MatrixLike, Y: MatrixLike | ArrayLike<number>, options?: RemoteOptions): Evaluation | Promise<Evaluation> {
    const o = parseOptions<RemoteOptions>(`${this.kindName}.evaluate`, options, REMOTE_OPTION_SPEC);
    if (o.worker) return offload(this, 'evaluate', `${this.kindName}.evaluate`, [X, Y], o as Record<string, unknown>);
    throwIfAborted(o.signal);
    const f = this.need('evaluate');
    const x = checkPredictX(X, this.kindName, 'evaluate', f.coef.cols);
    const y = toTargets(Y, `${this.kindName}.evaluate: Y`);
    if (y.rows !== x.rows || y.cols !== f.coef.rows) {
      throw new ShapeError(`${this.kindName}.evaluate: Y is ${y.rows} x ${y.cols}, expected ${x.rows} x ${f.coef.rows} (rows of X x tasks)`);
    }
    const pred = linearPredict(kernels(), x, f.coef, f.intercept);
    const T = y.cols;
    const tasks: Record<string, TaskMetrics> = {};
    for (let t = 0; t < T; t++) {
      const yt = Float64Array.from({ length: y.rows }, (_, i) => y.data[i * T + t]!);
      const pt = Float64Array.from({ length: y.rows }, (_, i) => pred.data[i * T + t]!);
      tasks[String(t)] = regressionMetrics(yt, pt);
    }
    return evaluation(tasks);
  }

  /** Predictions X coef^T + intercept, n x T. */
  predict(X: MatrixLike): Matrix<Float64Array> {
    const f = this.need('predict');
    const x = checkPredictX(X, this.kindName, 'predict', f.coef.cols);
    return linearPredict(kernels(), x, f.coef, f.intercept);
  }

  /** predict as a Promise; with `worker`, computed on a worker thread. */
  async predictAsync(X: MatrixLike, options?: RemoteOptions): Promise<Matrix<Float64Array>> {
    const o = parseOptions<RemoteOptions>(`${this.kindName}.predictAsync`, options, REMOTE_OPTION_SPEC);
    if (o.worker) return offload(this, 'predictAsync', `${this.kindName}.predictAsync`, [X], o as Record<string, unknown>);
    throwIfAborted(o.signal);
    return this.predict(X);
  }

  /** The options as given and the fitted state (lib/core/portable.ts). */
  [SNAPSHOT](): ModelSnapshot {
    return { kind: this.kindName, options: this.config, state: this.fitted, history: this.fitHistory };
  }

  [RESTORE](s: ModelSnapshot): void {
    this.fitted = s.state as F | undefined;
    this.fitHistory = (s.history as number[] | undefined) ?? [];
  }

  /** The model as a versioned JSON document (format metatask/1): the config as given and the fitted state. */
  override toJSON(): ModelDocument {
    return toDocument(this.kindName, this.config, { ...this.need('toJSON') });
  }
}
