/**
 * A network adapted to one task (what a meta-learner's `adapt` returns for a one-head network):
 * its own parameters over the meta-learner's architecture, with the model contract of
 * docs/models.md: predict gives values (loss 'mse') or labels, predictProba class probabilities,
 * score R^2 or accuracy, evaluate the training loss and metrics. Also the checks of one labelled
 * set { X, y } for a one-head network (toBatch), shared with the learners.
 */
import { ConfigError, ShapeError, ValueError } from '../core/errors.js';
import type { Labels, TaskMetrics } from '../core/estimator.js';
import { describe, toMatrix, toVector, type DType, type FloatArray, type Matrix } from '../core/matrix.js';
import type { NetworkBatch, NetworkHandle } from '../kernels/types.js';
import { classificationMetrics, regressionMetrics } from '../metrics/task.js';

/** The losses a meta-learner's single head may use. */
export type MetaLoss = 'mse' | 'softmax-ce' | 'bce-logits';
export const META_LOSSES: readonly MetaLoss[] = ['mse', 'softmax-ce', 'bce-logits'];

/**
 * A labelled set as users pass it to adapt, step and metaGradient: { X, y } (any matrix and vector
 * forms), or { X, Y } with one column per task for a multi-task network.
 */
export type TaskDataLike = { X: unknown; y: unknown } | { X: unknown; Y: unknown };

const ONE = new Float64Array([1]);

/** Convert and check one labelled set for a network of this input width and loss. */
export function toBatch(data: unknown, name: string, inputSize: number, loss: MetaLoss, classes: number, dtype: DType): NetworkBatch<FloatArray> {
  if (data === null || typeof data !== 'object' || !('X' in data) || !('y' in data)) {
    throw new ShapeError(`${name} must be { X, y }, got ${describe(data)}`);
  }
  const d = data as { X: unknown; y: unknown };
  const x = toMatrix(d.X, `${name}.X`, { dtype });
  if (x.cols !== inputSize) throw new ShapeError(`${name}.X has ${x.cols} columns, the network expects inputSize = ${inputSize}`);
  const yv = d.y !== null && typeof d.y === 'object' && 'data' in d.y ? toMatrix(d.y, `${name}.y`, { dtype }).data : toVector(d.y, `${name}.y`, { dtype });
  if (yv.length !== x.rows) throw new ShapeError(`${name}.y has ${yv.length} values, X has ${x.rows} rows`);
  if (loss !== 'mse') {
    for (let i = 0; i < yv.length; i++) {
      const v = yv[i]!;
      const ok = loss === 'bce-logits' ? v === 0 || v === 1 : Number.isInteger(v) && v >= 0 && v < classes;
      if (!ok) throw new ValueError(`${name}.y[${i}] is ${v}; ${loss} needs ${loss === 'bce-logits' ? 'labels 0 or 1' : `class indices 0..${classes - 1}`}`);
    }
  }
  return { x, y: { rows: x.rows, cols: 1, data: yv } };
}

/** What predict gives for a head with loss L: values ('mse') or labels (classification losses). */
export type MetaPrediction<L extends MetaLoss = MetaLoss> = [L] extends ['mse'] ? Float64Array : [L] extends ['softmax-ce' | 'bce-logits'] ? Labels : Float64Array | Labels;

/** What predictProba gives for a head with loss L: P(y = 1) ('bce-logits') or an n x C Matrix ('softmax-ce'). */
export type MetaProbability<L extends MetaLoss = MetaLoss> = [L] extends ['bce-logits'] ? Float64Array : [L] extends ['softmax-ce'] ? Matrix<Float64Array> : Float64Array | Matrix<Float64Array>;

/**
 * A network adapted to one task: its own parameters, the meta-learner's architecture. predict
 * gives values (loss 'mse') or labels (class indices; 0/1 for 'bce-logits'), predictProba class
 * probabilities, score R^2 or accuracy, evaluate the loss and metrics on a labelled set.
 */
export class AdaptedModel<L extends MetaLoss = MetaLoss> {
  constructor(
    private readonly handle: NetworkHandle<FloatArray>,
    /** The adapted parameters (flat, in the network's layout). */
    readonly params: FloatArray,
    private readonly inputSize: number,
    readonly loss: L,
    private readonly classes: number,
    /** Batchnorm running statistics to normalise with (a learner's 'running' mode); else each batch's own. */
    private readonly running?: FloatArray,
  ) {}

  /** The batchnorm statistics of every pass. */
  private stats(): Pick<NetworkBatch<FloatArray>, 'stats'> {
    return this.running ? { stats: { running: this.running } } : {};
  }

  /** Raw outputs, n x outputSize: values (mse) or logits (classification). */
  decisionFunction(X: unknown): Matrix<Float64Array> {
    const x = toMatrix(X, 'AdaptedModel: X', { dtype: this.handle.dtype });
    if (x.cols !== this.inputSize) throw new ShapeError(`AdaptedModel: X has ${x.cols} columns, the network expects ${this.inputSize}`);
    const out = this.handle.forward(this.params, { x, ...this.stats() });
    return { rows: out.rows, cols: out.cols, data: Float64Array.from(out.data) };
  }

  /** Predicted values (loss 'mse', one per row) or class labels (classification losses). */
  predict(X: unknown): MetaPrediction<L> {
    const z = this.decisionFunction(X);
    return (this.loss === 'mse' ? z.data : classesOf(z, this.loss)) as MetaPrediction<L>;
  }

  /** Predicted class indices (classification losses only); the same as predict. */
  predictClass(X: unknown): Labels {
    if (this.loss === 'mse') throw new ConfigError('AdaptedModel.predictClass: a regression model (loss mse) has no classes; use predict');
    return classesOf(this.decisionFunction(X), this.loss);
  }

  /** P(y = 1) per row ('bce-logits') or an n x C Matrix of class probabilities ('softmax-ce'). */
  predictProba(X: unknown): MetaProbability<L> {
    if (this.loss === 'mse') throw new ConfigError('AdaptedModel.predictProba: a regression model (loss mse) has no class probabilities; use predict');
    return probabilities(this.decisionFunction(X), this.loss) as MetaProbability<L>;
  }

  /** R^2 (loss 'mse') or accuracy on a labelled set { X, y }: higher is better. */
  score(data: TaskDataLike): number {
    const m = this.evaluate(data);
    return this.loss === 'mse' ? m.r2! : m.accuracy!;
  }

  /**
   * The loss the network trains on (mean over rows) and metrics on a labelled set { X, y }:
   * mse, mae, r2 (loss 'mse') or logloss, accuracy (classification).
   */
  evaluate(data: TaskDataLike): TaskMetrics {
    const b = toBatch(data, 'AdaptedModel.evaluate(data)', this.inputSize, this.loss, this.classes, this.handle.dtype);
    const loss = this.handle.lossGrad(this.params, { ...b, ...this.stats() }, ONE, null)[0]!;
    const z = this.decisionFunction(b.x);
    const y = b.y!.data;
    if (this.loss === 'mse') return { ...regressionMetrics(y, z.data), loss };
    const m = classificationMetrics(y, probabilities(z, this.loss));
    return { ...m, loss, logloss: loss };
  }
}

/** Class probabilities from raw outputs: sigmoid (bce-logits) or row-wise softmax (softmax-ce). */
function probabilities(z: Matrix<Float64Array>, loss: MetaLoss): Float64Array | Matrix<Float64Array> {
  if (loss === 'bce-logits') return z.data.map((v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v))));
  softmaxRows(z.data, z.rows, z.cols);
  return z;
}

/** Row-wise softmax in place. */
export function softmaxRows(z: Float64Array, rows: number, cols: number): void {
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let max = -Infinity;
    for (let k = 0; k < cols; k++) max = Math.max(max, z[o + k]!);
    let sum = 0;
    for (let k = 0; k < cols; k++) sum += z[o + k] = Math.exp(z[o + k]! - max);
    for (let k = 0; k < cols; k++) z[o + k] = z[o + k]! / sum;
  }
}

/** Class indices from raw outputs: z > 0 (bce-logits) or the largest logit (softmax-ce). */
export function classesOf(out: Matrix<FloatArray>, loss: MetaLoss): Int32Array {
  const r = new Int32Array(out.rows);
  for (let i = 0; i < out.rows; i++) {
    if (loss === 'bce-logits') r[i] = out.data[i]! > 0 ? 1 : 0;
    else {
      let best = 0;
      for (let c = 1; c < out.cols; c++) if (out.data[i * out.cols + c]! > out.data[i * out.cols + best]!) best = c;
      r[i] = best;
    }
  }
  return r;
}
