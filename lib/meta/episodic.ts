/**
 * The shared base of the metric and closed-form meta-learners (ProtoNet, MetaRidge): an embedding
 * network f_theta, a few extra scalars of the episode's head (a scale, a ridge lambda), and an
 * episode loss computed in TypeScript from the embeddings:
 *
 *     E = f_theta([X_support; X_query])          one forward pass for a whole meta-batch
 *     L = mean over episodes of loss(E_s, y_s, E_q, y_q; extras)
 *     dL/dtheta = J_f(theta)^T dL/dE             one vector-Jacobian product (kernel `vjp`)
 *
 * Unlike MAML there is no inner loop over network weights: "adaptation" is a closed-form function
 * of the support embeddings (class means, a ridge solve), so the subclasses only supply the loss
 * and its gradient w.r.t. E and the extras. All heavy math goes through kernels(): the network
 * forward/vjp, and the small GEMMs and solves of the heads (float64).
 */
import { BackendError, ConfigError, ShapeError, ValueError } from '../core/errors.js';
import { throwIfAborted, Yielder } from '../core/async.js';
import { allocate, describe, toMatrix, toVector, type DType, type FloatArray, type Matrix } from '../core/matrix.js';
import { custom, num, oneOf, parseOptions, type OptionSpec } from '../core/options.js';
import { Rng } from '../core/rng.js';
import { kernels } from '../kernels/index.js';
import type { NetworkHandle, NetworkKernels, NetworkSpec, OptimKernels } from '../kernels/types.js';
import { ACTIVATIONS, compileNetwork, initParams, type CompiledNetwork } from '../nn/spec.js';
import { createOptimizer, type Optimizer, type OptimizerOptions } from '../nn/optim.js';
import { didYouMean } from '../core/suggest.js';
import type { NetworkBatch } from '../kernels/types.js';
import { conv4Spec, conv4Width, type Conv4Config } from '../nn/backbones.js';
import { RunningNormStats } from '../nn/normStats.js';
import { Budget, BUDGET_OPTIONS, type BudgetOptions } from './budget.js';
import { parseFitOptions, REMOTE_OPTION_SPEC, type FitOptions, type OnWorker, type RemoteOptions } from '../core/estimator.js';
import { offload } from '../parallel/offload.js';
import { softmaxRows, type EvaluationRow, type MetaProgress, type Resolved, type TaskDataLike, type TaskLike } from './learner.js';
import { checkMlp, MetaNetwork, mlpSpec, networkConfigOf, networkForm, type NetworkOption } from './metaNetwork.js';
import type { MultiTaskNet } from '../mtl/multiTaskNet.js';

export { softmaxRows };
/** @deprecated The name of {@link EpisodicHistory} when fit resolved to it. */
export type EpisodicFitResult = EpisodicHistory;
import { SavedLearner } from './savedLearner.js';
import type { TaskSampler } from './tasks.js';

/** Options every episodic learner (ProtoNet, MetaRidge) takes. */
export interface EpisodicOptions {
  /**
   * The embedding network: an MLP { inputSize, hidden, outputSize, activation? }, the conv-4
   * backbone { type: 'conv4', inputShape, outputSize? } (without outputSize the embedding is the
   * flattened last feature map), a one-head NetworkSpec, or a multi-task network ({ inputSize,
   * tasks, architecture? } or a MultiTaskNet: its heads' outputs together are the embedding).
   */
  network: NetworkOption;
  /** Episodes per meta-update. Default 1 (as Snell et al.). */
  metaBatchSize?: number;
  /** The optimiser. Default { type: 'adam', lr: 1e-3 }. */
  optimizer?: OptimizerOptions;
  /** Seeds initialisation. Default 0. */
  seed?: number;
  /** Element type of the network's parameters and activations. Default 'float32'. */
  dtype?: DType;
  /**
   * Batch normalisation (networks with batchnorm nodes, e.g. conv-4): 'transductive' (default)
   * normalises every pass by its own batch's statistics, so an episode's support and query
   * embeddings are normalised together in training and in evaluate() (Finn et al. 2017's
   * setting); 'running' trains the same way but keeps running averages of those statistics
   * (momentum 0.1, as PyTorch) and normalises every inference pass (evaluate, embed, adapt,
   * predict) with them, so an embedding does not depend on the rows embedded with it.
   */
  batchNorm?: 'transductive' | 'running';
}

export const EPISODIC_OPTIONS = {
  network: custom<NetworkOption>('{ inputSize, hidden, outputSize, activation? }, a NetworkSpec, { inputSize, tasks, architecture? } or a MultiTaskNet', (v) => v !== null && typeof v === 'object'),
  metaBatchSize: num({ default: 1, min: 1, integer: true }),
  optimizer: custom<OptimizerOptions>("an optimizer { type: 'adam' | 'sgd' | ..., lr }", (v) => v !== null && typeof v === 'object', { type: 'adam', lr: 1e-3 }),
  seed: num({ default: 0 }),
  dtype: oneOf(['float32', 'float64'] as const, 'float32'),
  batchNorm: oneOf(['transductive', 'running'] as const, 'transductive'),
} satisfies Record<keyof EpisodicOptions, OptionSpec>;

/** An episode ready for the loss: labels mapped to 0..N-1 (classification) or raw targets. */
export interface Episode {
  xs: Matrix<FloatArray>;
  xq: Matrix<FloatArray>;
  /** Class indices 0..N-1 (classification) or targets (regression). */
  ys: Float64Array;
  yq: Float64Array;
  /** Number of classes (0 for regression). */
  ways: number;
}

/** Gradients of an episode loss w.r.t. the support and query embeddings and the extras. */
export interface EpisodeGrads {
  es: Float64Array;
  eq: Float64Array;
  extras: Float64Array;
}

export interface EpisodeResult {
  loss: number;
  /** Fraction of query rows classified correctly (classification only). */
  accuracy?: number;
}

/** What an episodic learner's fit records, on `learner.history`. */
export interface EpisodicHistory {
  /** Mean query loss of each meta-batch. */
  losses: Float64Array;
  /** Meta-iterations run (fewer than asked when the time limit ended training). */
  iterations: number;
  /** Seconds the fit took. */
  seconds: number;
  /** Mean query accuracy of each meta-batch (classification). */
  accuracies?: Float64Array;
}

/** The episodic learners' progress record: a {@link MetaProgress} and, for classification, the meta-batch's accuracy. */
export interface EpisodicProgress extends MetaProgress {
  accuracy?: number;
}

/** Options of an episodic learner's fit: `iterations` (meta-batches of episodes), `timeLimit` (seconds) or both. */
export interface EpisodicFitOptions extends FitOptions<EpisodicProgress>, BudgetOptions {}

export interface EpisodicEvaluateOptions extends RemoteOptions {
  /** Number of test episodes. */
  tasks: number;
}

const isPosInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 1;

/**
 * The embedding network: the MLP shorthand (linear last layer), a one-head spec, or a multi-task
 * network ({ inputSize, tasks, architecture? } or a MultiTaskNet, whose heads' outputs together
 * are the embedding, starting from the net's parameters).
 */
export function embeddingNetwork(owner: string, network: unknown, dtype: DType | undefined, seed: number): { spec: NetworkSpec; init?: FloatArray; dtype?: DType } {
  const form = networkForm(network);
  if (form === 'net' || form === 'tasks') {
    const net = new MetaNetwork(owner, network, { dtype, seed });
    return { spec: net.spec, init: net.init(new Rng(seed)), dtype: net.dtype };
  }
  if (form === undefined) {
    throw new ConfigError(`${owner}: option 'network' is required: { inputSize, hidden, outputSize, activation? }, a NetworkSpec { nodes, heads }, { inputSize, tasks, architecture? } or a MultiTaskNet; got ${describe(network)}`);
  }
  if (form === 'backbone') {
    // The head's loss is never evaluated; mse needs one column, softmax-ce two or more.
    return { spec: conv4Spec(owner, network as Conv4Config, conv4Width(owner, network as Conv4Config) >= 2 ? 'softmax-ce' : 'mse') };
  }
  if (form === 'spec') {
    const spec = network as NetworkSpec;
    if (!Array.isArray(spec.heads) || spec.heads.length !== 1) throw new ConfigError(`${owner}: the embedding network needs exactly one head (its output is the embedding), got ${describe(spec.heads)}`);
    return { spec };
  }
  const n = checkMlp(owner, network as object);
  if (!isPosInt(n.outputSize)) throw new ConfigError(`${owner}: network.outputSize (the embedding width) must be a positive integer, got ${describe(n.outputSize)}`);
  // The head's loss is never evaluated (the episode loss lives here); it only has to be one the
  // compiler accepts for that width.
  return { spec: mlpSpec(n, n.outputSize >= 2 ? 'softmax-ce' : 'mse') };
}

export function meanCi95(values: readonly number[]): [number, number] {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return [mean, NaN];
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return [mean, (1.96 * Math.sqrt(variance)) / Math.sqrt(n)];
}

/** Row-wise log-softmax cross-entropy: returns the mean loss, fills G = dL/dZ and counts hits. */
export function softmaxCrossEntropy(z: Float64Array, rows: number, cols: number, y: Float64Array, g: Float64Array | null): { loss: number; correct: number } {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let max = -Infinity;
    let arg = 0;
    for (let k = 0; k < cols; k++) if (z[o + k]! > max) [max, arg] = [z[o + k]!, k];
    let sum = 0;
    for (let k = 0; k < cols; k++) sum += Math.exp(z[o + k]! - max);
    const lse = max + Math.log(sum);
    const t = y[i]!;
    loss += lse - z[o + t]!;
    if (arg === t) correct++;
    if (g) for (let k = 0; k < cols; k++) g[o + k] = (Math.exp(z[o + k]! - lse) - (k === t ? 1 : 0)) / rows;
  }
  return { loss: loss / rows, correct };
}

/** A labelled set { X, y } as a model of one task reads it (X any matrix form, y a vector of X.rows values). */
export function labelledSet(data: unknown, where: string): { X: Matrix<Float64Array>; y: Float64Array } {
  if (data === null || typeof data !== 'object' || !('X' in data) || !('y' in data)) throw new ShapeError(`${where}: expected { X, y }, got ${describe(data)}`);
  const d = data as { X: unknown; y: unknown };
  const X = toMatrix(d.X, `${where}: X`);
  const y = toVector(d.y, `${where}: y`) as Float64Array;
  if (y.length !== X.rows) throw new ShapeError(`${where}: y has ${y.length} values, X has ${X.rows} rows`);
  return { X, y };
}

/** Labels as indices into `classes` (a label the model does not know is a ValueError). */
export function classIndices(y: Float64Array, classes: readonly number[], where: string): Float64Array {
  const index = new Map(classes.map((c, k) => [c, k]));
  return y.map((v, i) => {
    const k = index.get(v);
    if (k === undefined) throw new ValueError(`${where}: y[${i}] is ${v}, a class the model was not adapted to (its classes: ${classes.slice(0, 10).join(', ')})`);
    return k;
  });
}

/** C = op(A) op(B) in float64 through the kernels. */
export function mm(a: Matrix<Float64Array>, b: Matrix<Float64Array>, transA = false, transB = false): Matrix<Float64Array> {
  const rows = transA ? a.cols : a.rows;
  const cols = transB ? b.rows : b.cols;
  const c = { rows, cols, data: new Float64Array(rows * cols) };
  kernels().gemm(a, b, c, { transA, transB });
  return c;
}

/** Map labels to indices of their sorted distinct values (the support defines the classes). */
export function classIndex(support: Float64Array, what: string): { classes: number[]; index: Map<number, number> } {
  const classes = [...new Set(support)].sort((a, b) => a - b);
  for (const c of classes) if (!Number.isInteger(c)) throw new ValueError(`${what}: class label ${c} is not an integer`);
  return { classes, index: new Map(classes.map((c, k) => [c, k])) };
}


/**
 * The base of the episodic learners: `fit(sampler)` meta-trains and resolves to the learner
 * (losses on `history`), `adapt(support)` gives a model of one new task in closed form,
 * `evaluate(sampler)` its query loss and accuracy over test episodes.
 */
export abstract class EpisodicLearner<O extends Resolved<EpisodicOptions> = Resolved<EpisodicOptions>> extends SavedLearner {
  static override readonly kind: string = 'EpisodicLearner';

  readonly options: Readonly<O>;
  readonly spec: NetworkSpec;
  readonly compiled: CompiledNetwork;
  /** [theta (network, P values) | extras], in the network's dtype: what the optimiser updates. */
  params: FloatArray;
  /** Completed meta-iterations. */
  protected readonly handle: NetworkHandle<FloatArray>;
  protected readonly optimizer: Optimizer;
  protected readonly rng: Rng;
  /** Network parameter count. */
  protected readonly P: number;
  /** Embedding width. */
  readonly embeddingSize: number;
  /** Batchnorm running statistics (batchNorm 'running'). */
  protected readonly norm: RunningNormStats;

  protected constructor(owner: string, input: unknown, spec: { [K in keyof O]-?: OptionSpec }, extras: (o: O) => number[]) {
    super();
    const parsed = parseOptions<O>(owner, input, spec);
    const embedding = embeddingNetwork(owner, parsed.network, (input as { dtype?: DType } | undefined)?.dtype, parsed.seed);
    this.options = embedding.dtype ? { ...parsed, dtype: embedding.dtype } : parsed;
    this.spec = embedding.spec;
    this.compiled = compileNetwork(this.spec);
    this.P = this.compiled.paramCount;
    this.embeddingSize = this.compiled.outputWidth;
    const k = kernels() as unknown as Partial<NetworkKernels & OptimKernels>;
    if (typeof k.network !== 'function') throw new BackendError(`the ${kernels().name} backend has no network kernels; ${owner} needs them`, 'ERR_BACKEND');
    const dtype = this.options.dtype ?? 'float32';
    this.handle = k.network(this.spec, dtype as 'float64') as unknown as NetworkHandle<FloatArray>;
    this.rng = new Rng(this.options.seed);
    const theta = embedding.init ?? initParams(this.compiled, this.rng, dtype);
    const ex = extras(this.options);
    this.params = allocate(dtype, this.P + ex.length);
    this.params.set(theta);
    this.params.set(ex, this.P);
    this.norm = new RunningNormStats(this.compiled);
    this.optimizer = createOptimizer(this.options.optimizer ?? { type: 'adam', lr: 1e-3 }, typeof k.adamStep === 'function' ? { kernels: k as OptimKernels } : {});
  }

  get dtype(): DType {
    return this.handle.dtype;
  }

  /** A MultiTaskNet given as the network is saved as the configuration it can be rebuilt from. */
  protected override savedOptions(): unknown {
    const n = this.options.network;
    return networkForm(n) === 'net' ? { ...this.options, network: networkConfigOf(n as MultiTaskNet<any, any>) } : this.options;
  }

  get inputSize(): number {
    return this.compiled.inputSize;
  }

  /** The network's parameters (a view into params). */
  get theta(): FloatArray {
    return this.params.subarray(0, this.P) as FloatArray;
  }

  /** The head's scalars (a float64 copy). */
  get extras(): Float64Array {
    return Float64Array.from(this.params.subarray(this.P));
  }

  /** Whether the loss is a classification loss (labels are classes). */
  protected abstract get classification(): boolean;

  /**
   * The episode loss from embeddings (row-major float64: es ns x D, eq nq x D). With `grads`,
   * fills dL/des, dL/deq and dL/dextras (overwritten).
   */
  abstract episodeLoss(episode: { es: Float64Array; eq: Float64Array; ys: Float64Array; yq: Float64Array; ways: number }, extras: Float64Array, grads: EpisodeGrads | null): EpisodeResult;

  // ---- embeddings and the vjp ----------------------------------------------------------------

  /** Embeddings of X (n x D, float64). */
  embed(X: unknown): Matrix<Float64Array> {
    const x = toMatrix(X, 'embed(X)', { dtype: this.dtype });
    if (x.cols !== this.inputSize) throw new ShapeError(`embed(X): X has ${x.cols} columns, the network expects inputSize = ${this.inputSize}`);
    const out = this.handle.forward(this.theta, { x, ...this.normStats(false) });
    return { rows: out.rows, cols: out.cols, data: Float64Array.from(out.data) };
  }

  /** The batchnorm statistics of a pass: a training pass reports its batch's, an inference pass uses the running ones ('running' mode only). */
  protected normStats(train: boolean): Pick<NetworkBatch<FloatArray>, 'stats'> {
    if (this.options.batchNorm !== 'running' || !this.norm.active) return {};
    return { stats: train ? { batchOut: this.norm.batch } : { running: this.norm.running(this.dtype) } };
  }

  protected override extraState(): Record<string, unknown> {
    return this.norm.active ? { normStats: this.norm.values.slice() } : {};
  }

  protected override restoreExtra(state: Record<string, unknown>): void {
    if (this.norm.active && state.normStats !== undefined) this.norm.restore(state.normStats, `${this.kind} model file`);
  }

  /** J^T outGrad at the activations of the forward pass just made with these theta and batch. */
  private vjp(theta: FloatArray, batch: NetworkBatch<FloatArray>, outGrad: Matrix<FloatArray>, grad: FloatArray): void {
    const h = this.handle;
    if (typeof h.vjp !== 'function') {
      throw new BackendError(`the ${kernels().name} backend's network kernels have no vjp yet; ${this.kind} needs it to push the episode gradient through the network`, 'ERR_BACKEND');
    }
    h.vjp(theta, batch, outGrad, grad, true);
  }

  // ---- episodes ------------------------------------------------------------------------------

  /** Convert and check one task; classification labels are mapped to 0..N-1 by the support set. */
  protected prepare(task: unknown, name: string): Episode {
    if (task === null || typeof task !== 'object' || !('support' in task) || !('query' in task)) {
      throw new ShapeError(`${name} must be { support: { X, y }, query: { X, y } }, got ${describe(task)}`);
    }
    const t = task as TaskLike;
    const part = (d: TaskDataLike, what: string): { x: Matrix<FloatArray>; y: Float64Array } => {
      if (d === null || typeof d !== 'object' || !('X' in d) || !('y' in d)) throw new ShapeError(`${name} ${what} must be { X, y }, got ${describe(d)}`);
      const x = toMatrix(d.X, `${name} ${what}.X`, { dtype: this.dtype });
      if (x.cols !== this.inputSize) throw new ShapeError(`${name} ${what}.X has ${x.cols} columns, the network expects inputSize = ${this.inputSize}`);
      const y = toVector(d.y, `${name} ${what}.y`) as Float64Array;
      if (y.length !== x.rows) throw new ShapeError(`${name} ${what}.y has ${y.length} values, X has ${x.rows} rows`);
      return { x, y };
    };
    const s = part(t.support, 'support');
    const q = part(t.query, 'query');
    if (!this.classification) return { xs: s.x, xq: q.x, ys: s.y, yq: q.y, ways: 0 };
    const { classes, index } = classIndex(s.y, `${name} support.y`);
    if (classes.length < 2) throw new ValueError(`${name}: the support set has ${classes.length} class; an episode needs at least 2`);
    const ys = s.y.map((v) => index.get(v)!);
    const yq = q.y.map((v, i) => {
      const k = index.get(v);
      if (k === undefined) throw new ValueError(`${name} query.y[${i}] is ${v}, a class with no support example (support classes: ${classes.slice(0, 10).join(', ')})`);
      return k;
    });
    return { xs: s.x, xq: q.x, ys, yq, ways: classes.length };
  }

  /**
   * Loss (and, with `grad` of length params.length, its gradient) of a meta-batch of episodes:
   * one forward pass and one vjp (reusing that pass) over all their rows stacked. `train`: a
   * meta-update's pass (batchnorm running statistics learn from it), else an inference pass.
   */
  protected batchLoss(episodes: Episode[], grad: Float64Array | null, train = false): { loss: number; accuracy: number } {
    const d = this.inputSize;
    const D = this.embeddingSize;
    let rows = 0;
    for (const e of episodes) rows += e.xs.rows + e.xq.rows;
    const x = { rows, cols: d, data: allocate(this.dtype, rows * d) };
    let r = 0;
    for (const e of episodes) {
      x.data.set(e.xs.data, r * d);
      x.data.set(e.xq.data, (r + e.xs.rows) * d);
      r += e.xs.rows + e.xq.rows;
    }
    // One theta view and one batch object for the forward pass and the vjp that reuses it.
    const theta = this.theta;
    const batch: NetworkBatch<FloatArray> = { x, ...this.normStats(train) };
    const E = this.handle.forward(theta, batch);
    if (train && batch.stats) this.norm.update(rows);
    const dE = grad ? { rows, cols: D, data: allocate(this.dtype, rows * D) } : null;
    const extras = this.extras;
    const nEx = extras.length;
    const T = episodes.length;
    let loss = 0;
    let accuracy = 0;
    r = 0;
    for (const e of episodes) {
      const ns = e.xs.rows;
      const nq = e.xq.rows;
      const es = Float64Array.from(E.data.subarray(r * D, (r + ns) * D));
      const eq = Float64Array.from(E.data.subarray((r + ns) * D, (r + ns + nq) * D));
      const g = grad ? { es: new Float64Array(ns * D), eq: new Float64Array(nq * D), extras: new Float64Array(nEx) } : null;
      const res = this.episodeLoss({ es, eq, ys: e.ys, yq: e.yq, ways: e.ways }, extras, g);
      loss += res.loss / T;
      accuracy += (res.accuracy ?? NaN) / T;
      if (g && dE && grad) {
        for (let k = 0; k < ns * D; k++) dE.data[r * D + k] = g.es[k]! / T;
        for (let k = 0; k < nq * D; k++) dE.data[(r + ns) * D + k] = g.eq[k]! / T;
        for (let k = 0; k < nEx; k++) grad[this.P + k] = grad[this.P + k]! + g.extras[k]! / T;
      }
      r += ns + nq;
    }
    if (grad && dE) {
      const gTheta = allocate(this.dtype, this.P);
      this.vjp(theta, batch, dE, gTheta);
      for (let k = 0; k < this.P; k++) grad[k] = gTheta[k]!;
    }
    return { loss, accuracy };
  }

  /** The mean episode loss over `tasks` and its gradient w.r.t. params, without updating (tests, custom loops). */
  metaGradient(tasks: readonly TaskLike[]): { loss: number; grad: Float64Array } {
    const grad = new Float64Array(this.params.length);
    const { loss } = this.batchLoss(tasks.map((t, i) => this.prepare(t, `task ${i}`)), grad);
    return { loss, grad };
  }

  /** The mean episode loss over `tasks` (no gradient). */
  loss(tasks: readonly TaskLike[]): number {
    return this.batchLoss(tasks.map((t, i) => this.prepare(t, `task ${i}`)), null).loss;
  }

  private update(episodes: Episode[]): { loss: number; accuracy: number } {
    const g = new Float64Array(this.params.length);
    const res = this.batchLoss(episodes, g, true);
    if (!Number.isFinite(res.loss)) throw new ValueError(`${this.kind}.fit: the episode loss became ${res.loss} at iteration ${this.iteration}; lower the learning rate`);
    const grad = allocate(this.dtype, g.length);
    grad.set(g);
    this.optimizer.step(this.params, grad);
    this.iteration++;
    return res;
  }

  /** One meta-update on given tasks, synchronously. Returns the loss before the update. */
  step(tasks: readonly TaskLike[]): number {
    return this.update(tasks.map((t, i) => this.prepare(t, `task ${i}`))).loss;
  }

  protected checkSampler(sampler: unknown, method: string): asserts sampler is TaskSampler {
    const s = sampler as Partial<TaskSampler> | null;
    if (!s || typeof s.sampleBatch !== 'function' || typeof s.sample !== 'function') {
      throw new ConfigError(`${this.kind}.${method}: expected a TaskSampler (FewShotTasks, TaskSplit, ...), got ${describe(sampler)}`);
    }
    if (s.inputSize !== undefined && s.inputSize !== this.inputSize) {
      throw new ShapeError(`${this.kind}.${method}: the sampler's tasks have ${s.inputSize} input columns, the network expects ${this.inputSize}`);
    }
  }

  private lastHistory: EpisodicHistory = { losses: new Float64Array(0), iterations: 0, seconds: 0 };

  /** What the last fit recorded: the loss (and accuracy) of every meta-batch. */
  get history(): EpisodicHistory {
    return this.lastHistory;
  }

  protected setHistory(history: unknown): void {
    this.lastHistory = history as EpisodicHistory;
  }

  /** The losses of the last fit (the same as history.losses; the name fit's result had). */
  get losses(): Float64Array {
    return this.lastHistory.losses;
  }

  /** The accuracies of the last fit, for classification (history.accuracies). */
  get accuracies(): Float64Array | undefined {
    return this.lastHistory.accuracies;
  }

  /**
   * Meta-train on episodes drawn from `sampler` for `iterations` meta-batches, or for `timeLimit`
   * seconds, or until the first of the two; resolves to the learner (losses, iterations run and
   * seconds on `history`). `signal` aborts between iterations (AbortError); `onProgress` gets an
   * {@link EpisodicProgress} per iteration (`total` NaN when only a time limit bounds the fit).
   */
  async fit(sampler: TaskSampler, options: EpisodicFitOptions): Promise<this> {
    const o = parseFitOptions<EpisodicFitOptions>(`${this.kind}.fit`, options, BUDGET_OPTIONS);
    const budget = new Budget(`${this.kind}.fit`, o.iterations, o.timeLimit);
    this.checkSampler(sampler, 'fit');
    if (o.worker) return offload(this, 'fit', `${this.kind}.fit`, [sampler], options as unknown as Record<string, unknown>);
    const yielder = new Yielder(o.signal);
    const losses: number[] = [];
    const accuracies: number[] = [];
    const record = (): void => {
      const done = { losses: Float64Array.from(losses), iterations: losses.length, seconds: budget.seconds };
      this.lastHistory = this.classification ? { ...done, accuracies: Float64Array.from(accuracies) } : done;
    };
    // The history holds what ran, also when an abort or an error ends the fit.
    try {
      while (budget.next()) {
        const episodes = sampler.sampleBatch(this.options.metaBatchSize).map((t, i) => this.prepare(t, `task ${i}`));
        const { loss, accuracy } = this.update(episodes);
        losses.push(loss);
        accuracies.push(accuracy);
        o.onProgress?.({ phase: 'fit', step: budget.done, total: budget.total, loss, iteration: budget.done, iterations: budget.total, ...(this.classification ? { accuracy } : {}) });
        await yielder.maybeYield();
      }
    } finally {
      record();
    }
    return this;
  }

  /**
   * Mean query loss (and accuracy) over `tasks` episodes from `sampler` with 95% confidence
   * intervals, in the MAML family's format: one row, steps 0 (adaptation is closed-form).
   */
  evaluate(sampler: TaskSampler, options: EpisodicEvaluateOptions & { worker?: false }): EvaluationRow[];
  evaluate(sampler: TaskSampler, options: EpisodicEvaluateOptions & OnWorker): Promise<EvaluationRow[]>;
  evaluate(sampler: TaskSampler, options: EpisodicEvaluateOptions): EvaluationRow[] | Promise<EvaluationRow[]> {
    const o = parseOptions<EpisodicEvaluateOptions>(`${this.kind}.evaluate`, options, { tasks: num({ min: 1, integer: true }), ...REMOTE_OPTION_SPEC });
    if (o.tasks === undefined) throw new ConfigError(`${this.kind}.evaluate: option 'tasks' is required (the number of test episodes)`);
    this.checkSampler(sampler, 'evaluate');
    if (o.worker) return offload(this, 'evaluate', `${this.kind}.evaluate`, [sampler], options as unknown as Record<string, unknown>);
    throwIfAborted(o.signal);
    const losses: number[] = [];
    const accs: number[] = [];
    for (let t = 0; t < o.tasks; t++) {
      const r = this.batchLoss([this.prepare(sampler.sample(), `task ${t}`)], null);
      losses.push(r.loss);
      accs.push(r.accuracy);
    }
    const [loss, lossCi95] = meanCi95(losses);
    const row: EvaluationRow = { steps: 0, loss, lossCi95 };
    if (this.classification) [row.accuracy, row.accuracyCi95] = meanCi95(accs);
    return [row];
  }
}
