/**
 * The shared base of the gradient-based meta-learners (MAML, Meta-SGD, ANIL, iMAML, Reptile) and
 * the pretrained baseline: the network (a NetworkSpec built from { inputSize, hidden, outputSize,
 * activation }, or any single-head spec), its flat parameter vector theta, the outer optimiser,
 * the fit loop, fast adaptation, evaluation and save/load.
 *
 * learn2learn semantics: `adapt(support)` returns a new model for that one task; the meta-learner
 * itself is unchanged. Inner loops are plain SGD, theta_{i+1} = theta_i - a grad L_s(theta_i),
 * where L_s is the head's mean loss on the support set (subclasses change the step: a mask for
 * ANIL, per-parameter rates for Meta-SGD, a proximal term for iMAML).
 *
 * All heavy math goes through the network kernels (`kernels().network(spec, dtype)`): one
 * forward+backward or one exact Hessian-vector product per call. The per-parameter vector
 * arithmetic between those calls is O(P) and stays here.
 */
import { BackendError, ConfigError, ShapeError, ValueError } from '../core/errors.js';
import { Yielder } from '../core/async.js';
import { allocate, describe, toMatrix, toVector, type DType, type FloatArray, type Matrix } from '../core/matrix.js';
import { custom, num, oneOf, parseOptions, type OptionSpec } from '../core/options.js';
import { didYouMean } from '../core/suggest.js';
import { parseFitOptions, type FitOptions, type Labels, type Progress, type TaskMetrics } from '../core/estimator.js';
import { classificationMetrics, regressionMetrics } from '../metrics/task.js';
import { Rng } from '../core/rng.js';
import { kernels } from '../kernels/index.js';
import type { ActivationName, NetworkBatch, NetworkHandle, NetworkKernels, NetworkSpec, OptimKernels } from '../kernels/types.js';
import { ACTIVATIONS, compileNetwork, initParams, type CompiledNetwork } from '../nn/spec.js';
import { createOptimizer, type Optimizer, type OptimizerOptions } from '../nn/optim.js';
import { SavedLearner } from './savedLearner.js';
import type { TaskSampler } from './tasks.js';

/** The losses a meta-learner's single head may use. */
export type MetaLoss = 'mse' | 'softmax-ce' | 'bce-logits';
export const META_LOSSES: readonly MetaLoss[] = ['mse', 'softmax-ce', 'bce-logits'];

/** A multilayer perceptron: dense layers of `hidden` widths, each followed by `activation`. */
export interface NetworkConfig {
  inputSize: number;
  hidden: readonly number[];
  /** Width of the output layer. Default 1 (regression, bce-logits); softmax-ce needs one per class. */
  outputSize?: number;
  /** Default 'relu'. */
  activation?: ActivationName;
}

/** What users pass as the support or query set of adapt/predict. */
export interface TaskDataLike {
  X: unknown;
  y: unknown;
}

/**
 * Options every gradient-based meta-learner takes (each class adds its own). `L` is the loss, so
 * that what `adapt(...).predict` returns follows from it: values for 'mse', labels otherwise.
 */
export interface LearnerOptions<L extends MetaLoss = MetaLoss> {
  /** The network: an MLP { inputSize, hidden, outputSize?, activation? } or a one-head NetworkSpec. */
  network: NetworkConfig | NetworkSpec;
  /** The head's loss. Default 'mse' for an MLP; a NetworkSpec's head names its own. */
  loss?: L;
  /** Inner-loop (adaptation) learning rate. Default 0.01. */
  innerLr?: number;
  /** Inner-loop steps during meta-training and, by default, in adapt. Default 1. */
  innerSteps?: number;
  /** Tasks per meta-update. Default 25. */
  metaBatchSize?: number;
  /** The outer optimiser. Default { type: 'adam', lr: 1e-3 }. */
  optimizer?: OptimizerOptions;
  /** Seeds initialisation (and nothing else: tasks come from the sampler's own seed). Default 0. */
  seed?: number;
  /** Element type of parameters and activations. Default 'float32'. */
  dtype?: DType;
}

/** Options as a learner holds them: every default filled in (`loss` is the head's). */
export type Resolved<O> = { readonly [K in keyof O]-?: Exclude<O[K], undefined> };

/** The meta-learners' progress record: one per meta-iteration (loss = the meta-loss). */
export interface MetaProgress extends Progress {
  /** 1-based meta-iteration of this fit (= step). */
  iteration: number;
  /** Meta-iterations this fit runs (= total). */
  iterations: number;
  loss: number;
}

/** Options of a meta-learner's fit. */
export interface MetaFitOptions extends FitOptions<MetaProgress> {
  /** Meta-iterations (meta-batches) to run. */
  iterations: number;
}

/** What a meta-learner's fit records, on `learner.history`. */
export interface MetaHistory {
  /** Meta-loss (mean query loss of the meta-batch, after adaptation) of every iteration. */
  losses: Float64Array;
}

/** The names these types had before every model shared one fit contract. */
export type { MetaFitOptions as FitOptions, MetaHistory as FitResult };

/** Options of adapt. */
export interface AdaptOptions {
  /** Adaptation steps. Default: the learner's innerSteps. */
  steps?: number;
  /** Inner learning rate (default: the learner's own, or Meta-SGD's learned rates). */
  lr?: number;
}

/** Options of a meta-learner's evaluate. */
export interface EvaluateOptions {
  /** Number of test tasks. */
  tasks: number;
  /** Adaptation step counts to report (default [0, 1, 10]). */
  steps?: number[];
  /** Inner learning rate of the adaptation (default: the learner's). */
  lr?: number;
}

export interface EvaluationRow {
  steps: number;
  /** Mean query loss over the tasks, and 1.96 sd / sqrt(n). */
  loss: number;
  lossCi95: number;
  accuracy?: number;
  accuracyCi95?: number;
}

/** A task as users may pass it to step()/metaGradient(): any matrix and vector forms. */
export interface TaskLike {
  support: TaskDataLike;
  query: TaskDataLike;
}

/** The per-task batches of one meta-iteration, in the learner's dtype. */
export interface PreparedTask {
  support: NetworkBatch<FloatArray>;
  query: NetworkBatch<FloatArray>;
}

/** A single-head spec from the MLP shorthand. */
export function mlpSpec(net: NetworkConfig, loss: MetaLoss): NetworkSpec {
  const nodes: NetworkSpec['nodes'] = [{ op: 'input', size: net.inputSize }];
  for (const units of net.hidden) {
    nodes.push({ op: 'dense', input: nodes.length - 1, units });
    nodes.push({ op: 'activation', input: nodes.length - 1, fn: net.activation ?? 'relu' });
  }
  nodes.push({ op: 'dense', input: nodes.length - 1, units: net.outputSize ?? 1 });
  return { nodes, heads: [{ node: nodes.length - 1, loss, target: 0 }] };
}

const isPosInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 1;

function resolveSpec(owner: string, network: unknown, loss: MetaLoss | undefined): NetworkSpec {
  if (network === null || typeof network !== 'object') {
    throw new ConfigError(`${owner}: option 'network' is required: { inputSize, hidden, outputSize, activation } or a NetworkSpec { nodes, heads }`);
  }
  if ('nodes' in network) {
    const spec = network as NetworkSpec;
    if (!Array.isArray(spec.heads) || spec.heads.length !== 1) {
      throw new ConfigError(`${owner}: a meta-learner's network needs exactly one head, got ${describe(spec.heads)}`);
    }
    const headLoss = spec.heads[0]!.loss;
    if (!META_LOSSES.includes(headLoss as MetaLoss)) throw new ConfigError(`${owner}: head loss must be one of ${META_LOSSES.join(', ')}, got ${describe(headLoss)}${didYouMean(headLoss, META_LOSSES)}`);
    if (loss !== undefined && loss !== headLoss) throw new ConfigError(`${owner}: option 'loss' is '${loss}' but the network's head uses '${headLoss}'`);
    return spec;
  }
  const n = network as Partial<NetworkConfig>;
  const known = ['inputSize', 'hidden', 'outputSize', 'activation'];
  for (const k of Object.keys(n)) if (!known.includes(k)) throw new ConfigError(`${owner}: unknown network option '${k}'${didYouMean(k, known)}; known: ${known.join(', ')}`);
  if (!isPosInt(n.inputSize)) throw new ConfigError(`${owner}: network.inputSize must be a positive integer, got ${describe(n.inputSize)}`);
  if (!Array.isArray(n.hidden) || !n.hidden.every(isPosInt)) throw new ConfigError(`${owner}: network.hidden must be an array of positive integers, got ${describe(n.hidden)}`);
  const l = loss ?? 'mse';
  const outputSize = n.outputSize ?? 1;
  if (!isPosInt(outputSize)) throw new ConfigError(`${owner}: network.outputSize must be a positive integer, got ${describe(n.outputSize)}`);
  if (l === 'softmax-ce' ? outputSize < 2 : outputSize !== 1) {
    throw new ConfigError(`${owner}: loss '${l}' needs ${l === 'softmax-ce' ? 'outputSize >= 2 (one logit per class)' : 'outputSize 1'}, got ${outputSize}`);
  }
  const activation = n.activation ?? 'relu';
  if (!ACTIVATIONS.includes(activation)) throw new ConfigError(`${owner}: network.activation must be one of ${ACTIVATIONS.join(', ')}, got ${describe(activation)}${didYouMean(activation, ACTIVATIONS)}`);
  return mlpSpec({ inputSize: n.inputSize!, hidden: n.hidden as number[], outputSize, activation }, l);
}

/** Option specs shared by the learners; each class picks the ones it takes. */
export const COMMON_OPTIONS = {
  network: custom<NetworkConfig>('{ inputSize, hidden, outputSize, activation } or a NetworkSpec', (v) => v !== null && typeof v === 'object'),
  loss: oneOf(META_LOSSES),
  innerLr: num({ default: 0.01, min: 0 }),
  innerSteps: num({ default: 1, min: 0, integer: true }),
  metaBatchSize: num({ default: 25, min: 1, integer: true }),
  optimizer: custom<OptimizerOptions>("an optimizer { type: 'adam' | 'sgd' | ..., lr }", (v) => v !== null && typeof v === 'object', { type: 'adam', lr: 1e-3 }),
  seed: num({ default: 0 }),
  dtype: oneOf(['float32', 'float64'] as const, 'float32'),
} satisfies Record<keyof LearnerOptions, OptionSpec>;

const ONE = new Float64Array([1]);

/** Add `a * x` to `y` in place. */
export function axpy(a: number, x: ArrayLike<number>, y: { [i: number]: number; length: number }): void {
  for (let j = 0; j < y.length; j++) y[j] = y[j]! + a * x[j]!;
}

function meanCi(values: number[]): [number, number] {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return [mean, NaN];
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return [mean, (1.96 * Math.sqrt(variance)) / Math.sqrt(n)];
}

/** Convert and check one labelled set for a network of this input width and loss. */
export function toBatch(data: unknown, name: string, inputSize: number, loss: MetaLoss, classes: number, dtype: DType): NetworkBatch<FloatArray> {
  if (data === null || typeof data !== 'object' || !('X' in data) || !('y' in data)) {
    throw new ShapeError(`${name} must be { X, y }, got ${describe(data)}`);
  }
  const d = data as TaskDataLike;
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
  ) {}

  /** Raw outputs, n x outputSize: values (mse) or logits (classification). */
  decisionFunction(X: unknown): Matrix<Float64Array> {
    const x = toMatrix(X, 'AdaptedModel: X', { dtype: this.handle.dtype });
    if (x.cols !== this.inputSize) throw new ShapeError(`AdaptedModel: X has ${x.cols} columns, the network expects ${this.inputSize}`);
    const out = this.handle.forward(this.params, { x });
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
    const loss = this.handle.lossGrad(this.params, b, ONE, null)[0]!;
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

function classesOf(out: Matrix<FloatArray>, loss: MetaLoss): Int32Array {
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


/**
 * The gradient-based meta-learners' base: `fit(sampler)` meta-trains and resolves to the learner
 * (meta-losses on `history`), `adapt(support)` gives an {@link AdaptedModel} for one new task,
 * `evaluate(sampler)` the query loss after each number of adaptation steps. `O` is the resolved
 * options type, `L` the loss (what adapted models predict follows from it).
 */
export abstract class MetaLearner<O extends Resolved<LearnerOptions> = Resolved<LearnerOptions>, L extends MetaLoss = MetaLoss> extends SavedLearner {
  /** The model-file kind of this class (format.ts). */
  static override readonly kind: string = 'MetaLearner';

  readonly options: Readonly<O>;
  readonly spec: NetworkSpec;
  readonly compiled: CompiledNetwork;
  readonly loss: L;
  /** The meta-learned initialisation theta (flat, in the network's layout). */
  params: FloatArray;
  /** Completed meta-iterations. */
  protected readonly handle: NetworkHandle<FloatArray>;
  protected readonly optimizer: Optimizer;
  protected readonly rng: Rng;
  protected readonly P: number;
  protected readonly classes: number;

  private lastHistory: MetaHistory = { losses: new Float64Array(0) };

  protected constructor(owner: string, input: unknown, spec: { [K in keyof O]-?: OptionSpec }) {
    super();
    const parsed = parseOptions<O>(owner, input, spec);
    this.spec = resolveSpec(owner, parsed.network, (input as Partial<LearnerOptions> | undefined)?.loss);
    this.compiled = compileNetwork(this.spec);
    this.loss = this.spec.heads[0]!.loss as L;
    this.options = { ...parsed, loss: this.loss };
    this.classes = this.compiled.headOffsets[1]!;
    this.P = this.compiled.paramCount;
    const k = kernels() as unknown as Partial<NetworkKernels & OptimKernels>;
    if (typeof k.network !== 'function') {
      throw new BackendError(`the ${kernels().name} backend has no network kernels yet; meta-learners need them`, 'ERR_BACKEND');
    }
    const dtype = this.options.dtype ?? 'float32';
    this.handle = k.network(this.spec, dtype as 'float64') as unknown as NetworkHandle<FloatArray>;
    this.rng = new Rng(this.options.seed);
    this.params = this.initialParams(initParams(this.compiled, this.rng, dtype));
    this.optimizer = createOptimizer(this.optimizerOptions(), typeof k.adamStep === 'function' ? { kernels: k as OptimKernels } : {});
  }

  /** The outer optimiser (Reptile replaces it by SGD of rate epsilon). */
  protected optimizerOptions(): OptimizerOptions {
    return this.options.optimizer ?? { type: 'adam', lr: 1e-3 };
  }

  /** The vector the outer optimiser updates (Meta-SGD extends it with its learning rates). */
  protected initialParams(theta: FloatArray): FloatArray {
    return theta;
  }

  get dtype(): DType {
    return this.handle.dtype;
  }

  get inputSize(): number {
    return this.compiled.inputSize;
  }

  /** Parameter count of the network. */
  get paramCount(): number {
    return this.P;
  }

  // ---- kernels ------------------------------------------------------------------------------

  /** L(params) on a batch; fills `grad` when given. */
  protected lossGrad(params: FloatArray, batch: NetworkBatch<FloatArray>, grad: FloatArray | null): number {
    return this.handle.lossGrad(params, batch, ONE, grad)[0]!;
  }

  /** out = H(params) v, the exact Hessian of the batch loss times v. */
  protected hvp(params: FloatArray, batch: NetworkBatch<FloatArray>, v: FloatArray, out: FloatArray): void {
    this.handle.hvp(params, batch, ONE, v, out);
  }

  protected alloc(): FloatArray {
    return allocate(this.dtype, this.P);
  }

  // ---- the inner loop (overridden by ANIL, Meta-SGD, iMAML) ----------------------------------

  /** The gradient the inner loop follows from `phi` (iMAML adds its proximal term). Returns L_s(phi). */
  protected innerGrad(phi: FloatArray, batch: NetworkBatch<FloatArray>, grad: FloatArray, _theta: FloatArray): number {
    return this.lossGrad(phi, batch, grad);
  }

  /** out = phi - lr * grad (lr null: the learner's own rate). */
  protected innerStep(phi: FloatArray, grad: FloatArray, out: FloatArray, lr: number | null): void {
    const a = lr ?? this.options.innerLr;
    for (let j = 0; j < this.P; j++) out[j] = phi[j]! - a * grad[j]!;
  }

  /** The initialisation the inner loop starts from (the first P entries of the optimised vector). */
  protected get theta(): FloatArray {
    return this.params.length === this.P ? this.params : this.params.subarray(0, this.P);
  }

  // ---- meta-training --------------------------------------------------------------------------

  /** One meta-update from a meta-batch; returns the meta-loss. */
  protected abstract metaStep(tasks: PreparedTask[]): number;

  /** Convert and check the tasks of a meta-batch. */
  protected prepare(tasks: readonly TaskLike[]): PreparedTask[] {
    return tasks.map((t, i) => ({
      support: toBatch(t.support, `task ${i} support`, this.inputSize, this.loss, this.classes, this.dtype),
      query: toBatch(t.query, `task ${i} query`, this.inputSize, this.loss, this.classes, this.dtype),
    }));
  }

  /** What the last fit recorded: the meta-loss of every iteration. */
  get history(): MetaHistory {
    return this.lastHistory;
  }

  /** The meta-losses of the last fit (the same as history.losses; the name fit's result had). */
  get losses(): Float64Array {
    return this.lastHistory.losses;
  }

  /**
   * Meta-train on tasks drawn from `sampler` for `iterations` meta-batches; resolves to the
   * learner, whose `history.losses` then holds the meta-loss of every iteration. `signal` aborts
   * between iterations (AbortError; the updates already made stay); `onProgress` gets a
   * {@link MetaProgress} per iteration.
   */
  async fit(sampler: TaskSampler, options: MetaFitOptions): Promise<this> {
    const o = parseFitOptions<MetaFitOptions>(`${this.kind}.fit`, options, {
      iterations: num({ min: 0, integer: true }),
    });
    if (o.iterations === undefined) throw new ConfigError(`${this.kind}.fit: option 'iterations' is required (the number of meta-batches to train on)`);
    const iterations = o.iterations;
    this.checkSampler(sampler);
    const yielder = new Yielder(o.signal);
    const losses = new Float64Array(iterations);
    this.lastHistory = { losses };
    for (let it = 0; it < iterations; it++) {
      const tasks = this.prepare(sampler.sampleBatch(this.options.metaBatchSize));
      const loss = this.metaStep(tasks);
      if (!Number.isFinite(loss)) throw new ValueError(`${this.kind}.fit: the meta-loss became ${loss} at iteration ${this.iteration}; lower the learning rates`);
      losses[it] = loss;
      this.iteration++;
      o.onProgress?.({ phase: 'fit', step: it + 1, total: iterations, loss, iteration: it + 1, iterations });
      await yielder.maybeYield();
    }
    return this;
  }

  /** One meta-update on given tasks, synchronously (tests, custom loops). Returns the meta-loss. */
  step(tasks: readonly TaskLike[]): number {
    const loss = this.metaStep(this.prepare(tasks));
    this.iteration++;
    return loss;
  }

  protected checkSampler(sampler: unknown): asserts sampler is TaskSampler {
    const s = sampler as Partial<TaskSampler> | null;
    if (!s || typeof s.sampleBatch !== 'function') throw new ConfigError(`${this.kind}.fit: expected a TaskSampler (SinusoidTasks, TaskSplit, ...), got ${describe(sampler)}`);
    if (s.inputSize !== undefined && s.inputSize !== this.inputSize) {
      throw new ShapeError(`${this.kind}.fit: the sampler's tasks have ${s.inputSize} input columns, the network expects ${this.inputSize}`);
    }
  }

  // ---- adaptation and evaluation --------------------------------------------------------------

  /** Run `steps` inner steps from theta on a prepared support batch; `onStep(i, phi)` after each. */
  protected adaptParams(support: NetworkBatch<FloatArray>, steps: number, lr: number | null, onStep?: (i: number, phi: FloatArray) => void): FloatArray {
    const theta = this.theta;
    let phi = theta.slice() as FloatArray;
    let next = this.alloc();
    const g = this.alloc();
    onStep?.(0, phi);
    for (let i = 0; i < steps; i++) {
      this.innerGrad(phi, support, g, theta);
      this.innerStep(phi, g, next, lr);
      [phi, next] = [next, phi];
      onStep?.(i + 1, phi);
    }
    return phi;
  }

  private adaptOptions(options: AdaptOptions | undefined, what: string): { steps: number; lr: number | null } {
    const o = parseOptions<AdaptOptions>(`${this.kind}.${what}`, options, {
      steps: num({ min: 0, integer: true }),
      lr: num({ min: 0 }),
    });
    return { steps: o.steps ?? this.options.innerSteps, lr: o.lr ?? null };
  }

  /** A model for one new task, fitted from its support set; the meta-learner is unchanged. */
  adapt(support: TaskDataLike, options?: AdaptOptions): AdaptedModel<L> {
    const { steps, lr } = this.adaptOptions(options, 'adapt');
    const b = toBatch(support, `${this.kind}.adapt(support)`, this.inputSize, this.loss, this.classes, this.dtype);
    return new AdaptedModel(this.handle, this.adaptParams(b, steps, lr), this.inputSize, this.loss, this.classes);
  }

  /** The un-adapted network (theta) as a model. */
  model(): AdaptedModel<L> {
    return new AdaptedModel(this.handle, this.theta.slice() as FloatArray, this.inputSize, this.loss, this.classes);
  }

  /**
   * Query loss (and accuracy for classification) after each number of adaptation steps, as the
   * mean over `tasks` tasks drawn from `sampler` with its 95% confidence interval.
   */
  evaluate(sampler: TaskSampler, options: EvaluateOptions): EvaluationRow[] {
    const o = parseOptions<EvaluateOptions>(`${this.kind}.evaluate`, options, {
      tasks: num({ min: 1, integer: true }),
      steps: custom('an array of non-negative integers', (v) => Array.isArray(v) && v.length > 0 && v.every((s) => Number.isInteger(s) && s >= 0), [0, 1, 10]),
      lr: num({ min: 0 }),
    });
    if (o.tasks === undefined) throw new ConfigError(`${this.kind}.evaluate: option 'tasks' is required (the number of test tasks)`);
    this.checkSampler(sampler);
    const stepsList = o.steps!;
    const maxSteps = Math.max(...stepsList);
    const losses = stepsList.map(() => [] as number[]);
    const accs = stepsList.map(() => [] as number[]);
    for (let t = 0; t < o.tasks; t++) {
      const [task] = this.prepare([sampler.sample()]);
      this.adaptParams(task!.support, maxSteps, o.lr ?? null, (i, phi) => {
        stepsList.forEach((s, k) => {
          if (s !== i) return;
          losses[k]!.push(this.lossGrad(phi, task!.query, null));
          if (this.loss !== 'mse') {
            const pred = classesOf(this.handle.forward(phi, { x: task!.query.x }), this.loss);
            const y = task!.query.y!.data;
            let hit = 0;
            for (let r = 0; r < pred.length; r++) if (pred[r] === y[r]) hit++;
            accs[k]!.push(hit / pred.length);
          }
        });
      });
    }
    return stepsList.map((steps, k) => {
      const [loss, lossCi95] = meanCi(losses[k]!);
      const row: EvaluationRow = { steps, loss, lossCi95 };
      if (this.loss !== 'mse') [row.accuracy, row.accuracyCi95] = meanCi(accs[k]!);
      return row;
    });
  }
}
