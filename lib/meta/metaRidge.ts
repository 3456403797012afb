/**
 * MetaRidge: R2-D2 (Bertinetto, Henriques, Torr & Vedaldi 2019, "Meta-learning with differentiable
 * closed-form solvers"). A network f embeds the examples; each episode fits a ridge regression
 * from the support embeddings to the support targets in closed form, and the query loss is
 * differentiated through that solve into the network and the head's own hyperparameters.
 *
 * With S = [f(X_s), 1] (n x (D+1), a bias column as in the paper), Y the one-hot support labels
 * (classification) or the targets (regression), and Q = [f(X_q), 1]:
 *     A = S S^T + lambda I            (n x n: Woodbury form, since n = ways * shots << D)
 *     B = A^{-1} Y,   W = S^T B       (= (S^T S + lambda I)^{-1} S^T Y)
 *     Z = alpha Q W + beta            (logits or predictions)
 * lambda = exp(log lambda) is learned; alpha and beta (scalars) are learned for classification,
 * where they calibrate the regression outputs into softmax logits (the paper's "adjust" layer);
 * for regression they stay 1 and 0. Loss: softmax cross-entropy (classification) or mean squared
 * error (regression) over the queries.
 *
 * Adjoint (G = dL/dZ):
 *     dL/dalpha = sum G o (Q W),   dL/dbeta = sum G,   Gw = dL/dW = alpha Q^T G,   dL/dQ = alpha G W^T
 *     C = A^{-1} S Gw                                  (A symmetric: dL/dB = S Gw, dL/dA = -C B^T)
 *     dL/dS = B Gw^T - (C B^T + B C^T) S = B (Gw^T - C^T S) - C (B^T S)
 *     dL/dlambda = tr(dL/dA) = -sum C o B,             dL/dlog lambda = lambda dL/dlambda
 * The embedding gradients are the first D columns of dL/dS and dL/dQ; both solves use one
 * Cholesky factorisation each (kernels().choleskySolve), the products kernels().gemm.
 */
import { ConfigError, ShapeError } from '../core/errors.js';
import type { Labels, TaskMetrics } from '../core/estimator.js';
import { classificationMetrics, regressionMetrics } from '../metrics/task.js';
import { describe, toVector, type Matrix } from '../core/matrix.js';
import { num, oneOf, type OptionSpec } from '../core/options.js';
import { kernels } from '../kernels/index.js';
import {
  classIndex,
  classIndices,
  EPISODIC_OPTIONS,
  EpisodicLearner,
  mm,
  softmaxCrossEntropy,
  softmaxRows,
  type EpisodeGrads,
  type EpisodeResult,
  type EpisodicOptions,
  labelledSet,
} from './episodic.js';
import type { Resolved, TaskDataLike } from './learner.js';

/** The losses of MetaRidge: classification ('softmax-ce') or regression ('mse'). */
export type MetaRidgeLoss = 'softmax-ce' | 'mse';

/** Options of MetaRidge; `L` is the loss, so that what adapted models predict follows from it. */
export interface MetaRidgeOptions<L extends MetaRidgeLoss = MetaRidgeLoss> extends EpisodicOptions {
  /** 'softmax-ce' (classification, default) or 'mse' (regression). */
  loss?: L;
  /** Initial ridge penalty (learned as log lambda). Default 1. */
  lambda?: number;
  /** Classification: initial output scale alpha. Default 1. */
  scale?: number;
}

/** @deprecated The name of {@link MetaRidgeOptions} when that name meant the resolved options. */
export type MetaRidgeInput<L extends MetaRidgeLoss = MetaRidgeLoss> = MetaRidgeOptions<L>;

/** What RidgeModel.predict gives: labels (classification) or values (regression). */
export type RidgePrediction<L extends MetaRidgeLoss = MetaRidgeLoss> = [L] extends ['mse'] ? Float64Array : [L] extends ['softmax-ce'] ? Labels : Float64Array | Labels;

const SPEC = {
  ...EPISODIC_OPTIONS,
  loss: oneOf(['softmax-ce', 'mse'] as const, 'softmax-ce'),
  lambda: num({ default: 1, min: 0, exclusiveMin: true }),
  scale: num({ default: 1 }),
} satisfies Record<keyof MetaRidgeOptions, OptionSpec>;

const mat = (rows: number, cols: number, data: Float64Array): Matrix<Float64Array> => ({ rows, cols, data });

/** [E, 1]: embeddings with the bias column appended. */
function withBias(e: Float64Array, rows: number, D: number): Matrix<Float64Array> {
  const out = new Float64Array(rows * (D + 1));
  for (let i = 0; i < rows; i++) {
    out.set(e.subarray(i * D, (i + 1) * D), i * (D + 1));
    out[i * (D + 1) + D] = 1;
  }
  return mat(rows, D + 1, out);
}

/** Targets as a matrix: one-hot (n x N) for classification, n x 1 for regression. */
function targets(y: Float64Array, ways: number): Matrix<Float64Array> {
  if (ways === 0) return mat(y.length, 1, Float64Array.from(y));
  const out = new Float64Array(y.length * ways);
  for (let i = 0; i < y.length; i++) out[i * ways + y[i]!] = 1;
  return mat(y.length, ways, out);
}

/** The closed-form ridge head of one support set: A = S S^T + lambda I, B = A^{-1} Y, W = S^T B. */
function ridge(S: Matrix<Float64Array>, Y: Matrix<Float64Array>, lambda: number): { A: Matrix<Float64Array>; B: Matrix<Float64Array>; W: Matrix<Float64Array> } {
  const A = mm(S, S, false, true);
  for (let i = 0; i < A.rows; i++) A.data[i * A.rows + i]! += lambda;
  const B = kernels().choleskySolve(A, Y);
  return { A, B, W: mm(S, B, true) };
}

/**
 * R2-D2 meta-learner: `fit(sampler)` learns the embedding (and lambda, scale, bias), `adapt(support)`
 * fits the ridge head of one new task in closed form and returns a {@link RidgeModel}.
 * The loss defaults to 'softmax-ce' (classification); pass it to type what adapted models predict.
 */
export class MetaRidge<L extends MetaRidgeLoss = MetaRidgeLoss> extends EpisodicLearner<Resolved<MetaRidgeOptions>> {
  static override readonly kind: string = 'MetaRidge';

  constructor(options: MetaRidgeOptions<L>) {
    // extras: [log lambda, alpha, beta].
    super(new.target.kind, options, SPEC, (o) => [Math.log(o.lambda), o.loss === 'mse' ? 1 : o.scale, 0]);
  }

  protected get classification(): boolean {
    return this.options.loss !== 'mse';
  }

  /** The learned ridge penalty. */
  get lambda(): number {
    return Math.exp(this.params[this.P]!);
  }

  /** The learned output scale and bias (1 and 0 for regression). */
  get adjust(): { scale: number; bias: number } {
    return { scale: this.params[this.P + 1]!, bias: this.params[this.P + 2]! };
  }

  episodeLoss(e: { es: Float64Array; eq: Float64Array; ys: Float64Array; yq: Float64Array; ways: number }, extras: Float64Array, grads: EpisodeGrads | null): EpisodeResult {
    const D = this.embeddingSize;
    const ns = e.ys.length;
    const nq = e.yq.length;
    const classify = this.classification;
    const lambda = Math.exp(extras[0]!);
    const alpha = classify ? extras[1]! : 1;
    const beta = classify ? extras[2]! : 0;
    const S = withBias(e.es, ns, D);
    const Q = withBias(e.eq, nq, D);
    const Y = targets(e.ys, classify ? e.ways : 0);
    const K = Y.cols;
    const { A, B, W } = ridge(S, Y, lambda);
    const QW = mm(Q, W);
    const z = QW.data.map((v) => alpha * v + beta);
    const gz = grads ? new Float64Array(nq * K) : null;
    let loss: number;
    let accuracy: number | undefined;
    if (classify) {
      const r = softmaxCrossEntropy(z, nq, K, e.yq, gz);
      loss = r.loss;
      accuracy = r.correct / nq;
    } else {
      loss = 0;
      for (let i = 0; i < nq; i++) {
        const d = z[i]! - e.yq[i]!;
        loss += (d * d) / nq;
        if (gz) gz[i] = (2 * d) / nq;
      }
    }
    if (!grads || !gz) return accuracy === undefined ? { loss } : { loss, accuracy };

    const G = mat(nq, K, gz);
    let dAlpha = 0;
    let dBeta = 0;
    for (let k = 0; k < gz.length; k++) {
      dAlpha += gz[k]! * QW.data[k]!;
      dBeta += gz[k]!;
    }
    const Gw = mm(Q, G, true); // (D+1) x K, times alpha below
    for (let k = 0; k < Gw.data.length; k++) Gw.data[k]! *= alpha;
    const dQ = mm(G, W, false, true); // nq x (D+1), times alpha
    const C = kernels().choleskySolve(A, mm(S, Gw)); // ns x K
    const BtS = mm(B, S, true); // K x (D+1)
    const M = mm(C, S, true); // K x (D+1): C^T S, then Gw^T - C^T S
    for (let k = 0; k < K; k++) for (let j = 0; j <= D; j++) M.data[k * (D + 1) + j] = Gw.data[j * K + k]! - M.data[k * (D + 1) + j]!;
    const dS = mm(B, M);
    const CBtS = mm(C, BtS);
    for (let k = 0; k < dS.data.length; k++) dS.data[k]! -= CBtS.data[k]!;
    let dLambda = 0;
    for (let k = 0; k < C.data.length; k++) dLambda -= C.data[k]! * B.data[k]!;

    for (let i = 0; i < ns; i++) for (let j = 0; j < D; j++) grads.es[i * D + j] = dS.data[i * (D + 1) + j]!;
    for (let i = 0; i < nq; i++) for (let j = 0; j < D; j++) grads.eq[i * D + j] = alpha * dQ.data[i * (D + 1) + j]!;
    grads.extras[0] = lambda * dLambda;
    grads.extras[1] = classify ? dAlpha : 0;
    grads.extras[2] = classify ? dBeta : 0;
    return accuracy === undefined ? { loss } : { loss, accuracy };
  }

  /** The ridge head fitted on one new task's support set. The learner is unchanged. */
  adapt(support: TaskDataLike): RidgeModel<L> {
    if (support === null || typeof support !== 'object' || !('X' in support) || !('y' in support)) {
      throw new ShapeError(`MetaRidge.adapt(support): expected { X, y }, got ${describe(support)}`);
    }
    const E = this.embed(support.X);
    const y = toVector(support.y, 'MetaRidge.adapt(support).y') as Float64Array;
    if (y.length !== E.rows) throw new ShapeError(`MetaRidge.adapt(support): y has ${y.length} values, X has ${E.rows} rows`);
    let classes: number[] = [];
    let Y: Matrix<Float64Array>;
    if (this.classification) {
      const ci = classIndex(y, 'MetaRidge.adapt(support).y');
      classes = ci.classes;
      Y = targets(y.map((v) => ci.index.get(v)!), classes.length);
    } else Y = targets(y, 0);
    const { W } = ridge(withBias(E.data, E.rows, E.cols), Y, this.lambda);
    const { scale, bias } = this.classification ? this.adjust : { scale: 1, bias: 0 };
    return new RidgeModel(this, classes, W, scale, bias);
  }
}

/**
 * One task's ridge head on the meta-learned features: predict gives labels (classification) or
 * values (regression), predictProba class probabilities, score accuracy or R^2, evaluate the loss.
 */
export class RidgeModel<L extends MetaRidgeLoss = MetaRidgeLoss> {
  constructor(
    private readonly net: MetaRidge<L>,
    /** Classification: the support labels, ascending (column k of the outputs is classes[k]). Empty for regression. */
    readonly classes: readonly number[],
    /** (D+1) x K ridge weights (last row: the bias). */
    readonly weights: Matrix<Float64Array>,
    readonly scale: number,
    readonly bias: number,
  ) {}

  /** Raw outputs Z = alpha [f(X), 1] W + beta: logits (n x N) or predictions (n x 1). */
  decisionFunction(X: unknown): Matrix<Float64Array> {
    const E = this.net.embed(X);
    const Z = mm(withBias(E.data, E.rows, E.cols), this.weights);
    for (let k = 0; k < Z.data.length; k++) Z.data[k] = this.scale * Z.data[k]! + this.bias;
    return Z;
  }

  /** Class probabilities (classification). */
  /** The raw outputs (the name decisionFunction had first). */
  decision(X: unknown): Matrix<Float64Array> {
    return this.decisionFunction(X);
  }

  predictProba(X: unknown): Matrix<Float64Array> {
    if (this.classes.length === 0) throw new ConfigError('RidgeModel.predictProba: a regression MetaRidge (loss mse) has no class probabilities; use predict');
    const Z = this.decisionFunction(X);
    softmaxRows(Z.data, Z.rows, Z.cols);
    return Z;
  }

  /** Class labels (classification, Int32Array) or predicted values (regression, Float64Array). */
  predict(X: unknown): RidgePrediction<L> {
    const Z = this.decisionFunction(X);
    if (this.classes.length === 0) return Float64Array.from(Z.data) as RidgePrediction<L>;
    const out = new Int32Array(Z.rows);
    for (let i = 0; i < Z.rows; i++) {
      let best = 0;
      for (let k = 1; k < Z.cols; k++) if (Z.data[i * Z.cols + k]! > Z.data[i * Z.cols + best]!) best = k;
      out[i] = this.classes[best]!;
    }
    return out as RidgePrediction<L>;
  }

  /** Accuracy (classification) or R^2 (regression) on a labelled set { X, y }: higher is better. */
  score(data: TaskDataLike): number {
    const m = this.evaluate(data);
    return this.classes.length === 0 ? m.r2! : m.accuracy!;
  }

  /**
   * Metrics on a labelled set { X, y } (labels among the support's classes): logloss (= loss) and
   * accuracy, or mse (= loss), mae, r2.
   */
  evaluate(data: TaskDataLike): TaskMetrics {
    const { X, y } = labelledSet(data, 'RidgeModel.evaluate(data)');
    if (this.classes.length === 0) return regressionMetrics(y, this.decisionFunction(X).data);
    return classificationMetrics(classIndices(y, this.classes, 'RidgeModel.evaluate(data)'), this.predictProba(X));
  }
}
