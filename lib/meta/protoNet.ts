/**
 * Prototypical networks (Snell, Swersky & Zemel 2017, "Prototypical Networks for Few-shot
 * Learning"). Each class k of an episode is represented by the mean embedding of its support
 * examples, c_k = (1/|S_k|) sum_{x in S_k} f(x); a query q gets
 *     p(y = k | q) = softmax_k(z_qk),   z_qk = -||f(q) - c_k||^2            (distance 'euclidean')
 *                                       z_qk = s cos(f(q), c_k)              (distance 'cosine')
 * and the episode loss is the mean cross-entropy over the queries.
 *
 * Squared euclidean distance is the paper's choice (a Bregman divergence, so the prototype is the
 * right class representative; section 2.3). Cosine logits lie in [-1, 1], which makes the softmax
 * nearly uniform, so they are multiplied by a scale s (Oreshkin et al. 2018, TADAM; Chen et al.
 * 2019): learned as s = exp(log s) when `learnScale` (default), else fixed at `scale`.
 *
 * Gradients w.r.t. the embeddings (G = dL/dZ = (softmax - onehot) / Q, rows sum to 0):
 *   euclidean: dL/df(q) = 2 sum_k G_qk c_k,     dL/dc_k = 2 sum_q G_qk (f(q) - c_k)
 *   cosine:    u = f/|f|, v = c/|c|;  dL/df(q) = (s/|f(q)|) (I - u u^T) sum_k G_qk v_k,
 *              dL/dc_k = (s/|c_k|) (I - v v^T) sum_q G_qk u_q,   dL/ds = sum G_qk u_q . v_k
 *   and dL/df(x) = dL/dc_k / |S_k| for a support example x of class k;
 * they are pushed through the network by one vector-Jacobian product (episodic.ts).
 */
import { ShapeError } from '../core/errors.js';
import type { Labels, TaskMetrics } from '../core/estimator.js';
import { classificationMetrics } from '../metrics/task.js';
import { describe, toMatrix, toVector, type Matrix } from '../core/matrix.js';
import { bool, num, oneOf, type OptionSpec } from '../core/options.js';
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

export type ProtoDistance = 'euclidean' | 'cosine';

/** Options of ProtoNet. */
export interface ProtoNetOptions extends EpisodicOptions {
  /** Default 'euclidean' (squared, as in the paper). */
  distance?: ProtoDistance;
  /** Cosine only: the logit scale s (its initial value when learned). Default 10. */
  scale?: number;
  /** Cosine only: learn s (as log s). Default true. */
  learnScale?: boolean;
}

/** @deprecated The name of {@link ProtoNetOptions} when that name meant the resolved options. */
export type ProtoNetInput = ProtoNetOptions;

const SPEC = {
  ...EPISODIC_OPTIONS,
  distance: oneOf(['euclidean', 'cosine'] as const, 'euclidean'),
  scale: num({ default: 10, min: 0, exclusiveMin: true }),
  learnScale: bool(true),
} satisfies Record<keyof ProtoNetOptions, OptionSpec>;

/** Norms never reach zero: |f| = sqrt(|f|^2 + eps^2), whose gradient is f / |f| (exactly). */
const NORM_EPS2 = 1e-12;

/** Class means of the support embeddings: N x D, and the class sizes. */
function prototypes(es: Float64Array, ys: Float64Array, N: number, D: number): { c: Float64Array; count: Float64Array } {
  const c = new Float64Array(N * D);
  const count = new Float64Array(N);
  for (let i = 0; i < ys.length; i++) {
    const k = ys[i]!;
    count[k]!++;
    for (let j = 0; j < D; j++) c[k * D + j]! += es[i * D + j]!;
  }
  for (let k = 0; k < N; k++) for (let j = 0; j < D; j++) c[k * D + j]! /= count[k]!;
  return { c, count };
}

/** Rows divided by their (eps-smoothed) norms; returns the unit rows and the norms. */
function normalizeRows(a: Float64Array, rows: number, D: number): { u: Float64Array; norm: Float64Array } {
  const u = new Float64Array(a.length);
  const norm = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let ss = NORM_EPS2;
    for (let j = 0; j < D; j++) ss += a[i * D + j]! ** 2;
    const n = Math.sqrt(ss);
    norm[i] = n;
    for (let j = 0; j < D; j++) u[i * D + j] = a[i * D + j]! / n;
  }
  return { u, norm };
}

/** out_i = (s / norm_i) (I - u_i u_i^T) w_i, row by row (the Jacobian of f -> f/|f|, transposed). */
function projectBack(u: Float64Array, norm: Float64Array, w: Float64Array, s: number, rows: number, D: number, out: Float64Array): void {
  for (let i = 0; i < rows; i++) {
    let dot = 0;
    for (let j = 0; j < D; j++) dot += u[i * D + j]! * w[i * D + j]!;
    const a = s / norm[i]!;
    for (let j = 0; j < D; j++) out[i * D + j] = a * (w[i * D + j]! - dot * u[i * D + j]!);
  }
}

const mat = (rows: number, cols: number, data: Float64Array): Matrix<Float64Array> => ({ rows, cols, data });

/** Logits z (nq x N) of queries against prototypes; with `gz` given, back-propagates into grads. */
function protoLogits(
  distance: ProtoDistance,
  scale: number,
  eq: Float64Array,
  nq: number,
  c: Float64Array,
  N: number,
  D: number,
): { z: Float64Array; back: (gz: Float64Array) => { dq: Float64Array; dc: Float64Array; dScale: number } } {
  if (distance === 'euclidean') {
    const qc = mm(mat(nq, D, eq), mat(N, D, c), false, true).data;
    const cc = new Float64Array(N);
    for (let k = 0; k < N; k++) for (let j = 0; j < D; j++) cc[k]! += c[k * D + j]! ** 2;
    const z = new Float64Array(nq * N);
    for (let i = 0; i < nq; i++) {
      let qq = 0;
      for (let j = 0; j < D; j++) qq += eq[i * D + j]! ** 2;
      for (let k = 0; k < N; k++) z[i * N + k] = -(qq - 2 * qc[i * N + k]! + cc[k]!);
    }
    return {
      z,
      back: (gz) => {
        // dL/dq = -2 sum_k G_qk (q - c_k) = 2 G C - 2 q rowsum(G)  (rowsum is 0 for softmax-CE, kept for generality)
        const dq = mm(mat(nq, N, gz), mat(N, D, c)).data;
        const dc = mm(mat(nq, N, gz), mat(nq, D, eq), true).data;
        for (let i = 0; i < nq; i++) {
          let rs = 0;
          for (let k = 0; k < N; k++) rs += gz[i * N + k]!;
          for (let j = 0; j < D; j++) dq[i * D + j] = 2 * dq[i * D + j]! - 2 * rs * eq[i * D + j]!;
        }
        for (let k = 0; k < N; k++) {
          let cs = 0;
          for (let i = 0; i < nq; i++) cs += gz[i * N + k]!;
          for (let j = 0; j < D; j++) dc[k * D + j] = 2 * dc[k * D + j]! - 2 * cs * c[k * D + j]!;
        }
        return { dq, dc, dScale: 0 };
      },
    };
  }
  const Q = normalizeRows(eq, nq, D);
  const C = normalizeRows(c, N, D);
  const cos = mm(mat(nq, D, Q.u), mat(N, D, C.u), false, true).data;
  const z = cos.map((v) => scale * v);
  return {
    z,
    back: (gz) => {
      let dScale = 0;
      for (let k = 0; k < gz.length; k++) dScale += gz[k]! * cos[k]!;
      const wq = mm(mat(nq, N, gz), mat(N, D, C.u)).data;
      const wc = mm(mat(nq, N, gz), mat(nq, D, Q.u), true).data;
      const dq = new Float64Array(nq * D);
      const dc = new Float64Array(N * D);
      projectBack(Q.u, Q.norm, wq, scale, nq, D, dq);
      projectBack(C.u, C.norm, wc, scale, N, D, dc);
      return { dq, dc, dScale };
    },
  };
}

/**
 * Prototypical networks: `fit(sampler)` learns the embedding from episodes, `adapt(support)` gives
 * a {@link ProtoModel} (nearest class prototype) for one new task.
 */
export class ProtoNet extends EpisodicLearner<Resolved<ProtoNetOptions>> {
  static override readonly kind: string = 'ProtoNet';

  constructor(options: ProtoNetOptions) {
    // extras: [log s] for a learned cosine scale, none otherwise.
    super(new.target.kind, options, SPEC, (o) => (o.distance === 'cosine' && o.learnScale ? [Math.log(o.scale)] : []));
  }

  protected get classification(): boolean {
    return true;
  }

  /** The cosine logit scale in use (learned or fixed); 1 for euclidean. */
  get scale(): number {
    const o = this.options;
    if (o.distance !== 'cosine') return 1;
    return o.learnScale ? Math.exp(this.params[this.P]!) : o.scale;
  }

  private scaleOf(extras: Float64Array): number {
    const o = this.options;
    return o.distance === 'cosine' ? (o.learnScale ? Math.exp(extras[0]!) : o.scale) : 1;
  }

  episodeLoss(e: { es: Float64Array; eq: Float64Array; ys: Float64Array; yq: Float64Array; ways: number }, extras: Float64Array, grads: EpisodeGrads | null): EpisodeResult {
    const D = this.embeddingSize;
    const N = e.ways;
    const ns = e.ys.length;
    const nq = e.yq.length;
    const s = this.scaleOf(extras);
    const { c, count } = prototypes(e.es, e.ys, N, D);
    const { z, back } = protoLogits(this.options.distance, s, e.eq, nq, c, N, D);
    const gz = grads ? new Float64Array(nq * N) : null;
    const { loss, correct } = softmaxCrossEntropy(z, nq, N, e.yq, gz);
    if (grads && gz) {
      const { dq, dc, dScale } = back(gz);
      grads.eq.set(dq);
      for (let i = 0; i < ns; i++) {
        const k = e.ys[i]!;
        for (let j = 0; j < D; j++) grads.es[i * D + j] = dc[k * D + j]! / count[k]!;
      }
      // d/d(log s) = s d/ds.
      if (grads.extras.length) grads.extras[0] = s * dScale;
    }
    return { loss, accuracy: correct / nq };
  }

  /** A classifier for one new task: the prototypes of its support set. The learner is unchanged. */
  adapt(support: TaskDataLike): ProtoModel {
    if (support === null || typeof support !== 'object' || !('X' in support) || !('y' in support)) {
      throw new ShapeError(`ProtoNet.adapt(support): expected { X, y }, got ${describe(support)}`);
    }
    const E = this.embed(support.X);
    const y = toVector(support.y, 'ProtoNet.adapt(support).y') as Float64Array;
    if (y.length !== E.rows) throw new ShapeError(`ProtoNet.adapt(support): y has ${y.length} values, X has ${E.rows} rows`);
    const { classes, index } = classIndex(y, 'ProtoNet.adapt(support).y');
    const { c } = prototypes(E.data, y.map((v) => index.get(v)!), classes.length, E.cols);
    return new ProtoModel(this, classes, { rows: classes.length, cols: E.cols, data: c });
  }
}

/**
 * Nearest-prototype classification of one task: predict gives labels, predictProba class
 * probabilities, score the accuracy, evaluate the cross-entropy loss and accuracy.
 */
export class ProtoModel {
  constructor(
    private readonly net: ProtoNet,
    /** The support set's class labels, ascending: column k of predictProba is classes[k]. */
    readonly classes: readonly number[],
    /** N x D class prototypes in embedding space. */
    readonly prototypes: Matrix<Float64Array>,
  ) {}

  /** Logits z (n x N): minus squared distances, or scaled cosines. */
  decisionFunction(X: unknown): Matrix<Float64Array> {
    const x = toMatrix(X, 'ProtoModel: X', { dtype: this.net.dtype });
    const E = this.net.embed(x);
    const N = this.classes.length;
    const { z } = protoLogits(this.net.options.distance, this.net.scale, E.data, E.rows, this.prototypes.data, N, E.cols);
    return { rows: E.rows, cols: N, data: z };
  }

  /** The logits (the name decisionFunction had first). */
  logits(X: unknown): Matrix<Float64Array> {
    return this.decisionFunction(X);
  }

  /** Class probabilities (n x N, columns in `classes` order). */
  predictProba(X: unknown): Matrix<Float64Array> {
    const z = this.decisionFunction(X);
    softmaxRows(z.data, z.rows, z.cols);
    return z;
  }

  /** The label of the nearest prototype for each row (labels 0..N-1 for FewShotTasks episodes). */
  predict(X: unknown): Labels {
    const z = this.decisionFunction(X);
    const out = new Int32Array(z.rows);
    for (let i = 0; i < z.rows; i++) {
      let best = 0;
      for (let k = 1; k < z.cols; k++) if (z.data[i * z.cols + k]! > z.data[i * z.cols + best]!) best = k;
      out[i] = this.classes[best]!;
    }
    return out;
  }

  /** Accuracy on a labelled set { X, y } (labels among the support's classes): higher is better. */
  score(data: TaskDataLike): number {
    return this.evaluate(data).accuracy!;
  }

  /** Cross-entropy (= loss, logloss) and accuracy on a labelled set { X, y }. */
  evaluate(data: TaskDataLike): TaskMetrics {
    const { X, y } = labelledSet(data, 'ProtoModel.evaluate(data)');
    return classificationMetrics(classIndices(y, this.classes, 'ProtoModel.evaluate(data)'), this.predictProba(X));
  }
}
