/**
 * The fitted-model side shared by MultiTaskElasticNet and MultiTaskElasticNetCV: both end with one
 * coordinate-descent fit on the whole data (coef, intercept, nIter, dualGap), so the accessors,
 * predict, the JSON document and the reading of a saved document are written once here. Fitting,
 * score and the extra CV attributes stay with each estimator.
 */
import { FormatError, MetataskError, NotFittedError, ShapeError } from '../core/errors.js';
import { toMatrix, type Matrix, type MatrixLike } from '../core/matrix.js';
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

  /** Predictions X coef^T + intercept, n x T. */
  predict(X: MatrixLike): Matrix<Float64Array> {
    const f = this.need('predict');
    const x = checkPredictX(X, this.kindName, 'predict', f.coef.cols);
    return linearPredict(kernels(), x, f.coef, f.intercept);
  }

  /** The model as a versioned JSON document (format metatask/1): the config as given and the fitted state. */
  override toJSON(): ModelDocument {
    return toDocument(this.kindName, this.config, { ...this.need('toJSON') });
  }
}
