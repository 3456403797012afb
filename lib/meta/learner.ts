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
import { Rng } from '../core/rng.js';
import { kernels } from '../kernels/index.js';
import type { ActivationName, NetworkBatch, NetworkHandle, NetworkKernels, NetworkSpec, OptimKernels } from '../kernels/types.js';
import { conv4Spec, isBackbone, type Conv4Config } from '../nn/backbones.js';
import { ACTIVATIONS, compileNetwork, initParams, type CompiledNetwork } from '../nn/spec.js';
import { RunningNormStats } from '../nn/normStats.js';
import { createOptimizer, type Optimizer, type OptimizerOptions } from '../nn/optim.js';
import { Budget, BUDGET_OPTIONS } from './budget.js';
import { SavedLearner } from './savedLearner.js';
import type { TaskSampler } from './tasks.js';

/** The losses a meta-learner's single head may use. */
export type MetaLoss = 'mse' | 'softmax-ce' | 'bce-logits';
export const META_LOSSES: readonly MetaLoss[] = ['mse', 'softmax-ce', 'bce-logits'];

/** A multilayer perceptron: dense layers of `hidden` widths, each followed by `activation`. */
export interface NetworkConfig {
  inputSize: number;
  hidden: number[];
  outputSize: number;
  activation: ActivationName;
}

/** What users pass as the support or query set of adapt/predict. */
export interface TaskDataLike {
  X: unknown;
  y: unknown;
}

/** Options every learner shares (each class adds its own and lists exactly the ones it takes). */
export interface LearnerOptions {
  /** An MLP, the conv-4 backbone ({ type: 'conv4', inputShape, outputSize }) or any one-head spec. */
  network: NetworkConfig | Conv4Config | NetworkSpec;
  loss: MetaLoss;
  innerLr: number;
  innerSteps: number;
  metaBatchSize: number;
  optimizer: OptimizerOptions;
  seed: number;
  /** Element type of parameters and activations (default float32). */
  dtype: DType;
  /**
   * Batch normalisation (networks with batchnorm nodes, e.g. conv-4): 'transductive' (default,
   * Finn et al. 2017) normalises every support and query set by its own statistics, in training
   * and at test; 'running' trains the same way but also keeps running averages (momentum 0.1) of
   * the statistics of one support set per meta-iteration at the meta-parameters, and normalises
   * every pass of adapt, predict, score and evaluate with them.
   */
  batchNorm: 'transductive' | 'running';
}

export interface FitOptions {
  /** Meta-iterations to run (at least one of iterations and timeLimit). */
  iterations?: number;
  /**
   * Seconds of training: no iteration starts after this much time, and the fit keeps what it
   * learned. With iterations too, training stops at whichever comes first.
   */
  timeLimit?: number;
  /** After every iteration; `iterations` is NaN when only a time limit bounds the fit. */
  onProgress?: (p: { iteration: number; iterations: number; loss: number }) => void;
  signal?: AbortSignal;
}

export interface FitResult {
  /** Meta-loss (mean query loss of the meta-batch, after adaptation) of every iteration run. */
  losses: Float64Array;
  /** Meta-iterations run (fewer than asked when the time limit ended training). */
  iterations: number;
  /** Seconds the fit took. */
  seconds: number;
}

export interface AdaptOptions {
  steps?: number;
  /** Inner learning rate (default: the learner's own, or Meta-SGD's learned rates). */
  lr?: number;
}

export interface EvaluateOptions {
  /** Number of test tasks. */
  tasks: number;
  /** Adaptation step counts to report (default [0, 1, 10]). */
  steps?: number[];
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
    nodes.push({ op: 'activation', input: nodes.length - 1, fn: net.activation });
  }
  nodes.push({ op: 'dense', input: nodes.length - 1, units: net.outputSize });
  return { nodes, heads: [{ node: nodes.length - 1, loss, target: 0 }] };
}

const isPosInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 1;

function resolveSpec(owner: string, network: unknown, loss: MetaLoss | undefined): NetworkSpec {
  if (network === null || typeof network !== 'object') {
    throw new ConfigError(`${owner}: option 'network' is required: { inputSize, hidden, outputSize, activation }, { type: 'conv4', inputShape, outputSize } or a NetworkSpec { nodes, heads }`);
  }
  if (isBackbone(network)) {
    const out = (network as Partial<Conv4Config>).outputSize;
    if (out === undefined) throw new ConfigError(`${owner}: network.outputSize is required (the classifier's width: N for N-way episodes, 1 for regression)`);
    const l = loss ?? (out >= 2 ? 'softmax-ce' : 'mse');
    if (l === 'softmax-ce' ? out < 2 : out !== 1) {
      throw new ConfigError(`${owner}: loss '${l}' needs ${l === 'softmax-ce' ? 'outputSize >= 2 (one logit per class)' : 'outputSize 1'}, got ${out}`);
    }
    return conv4Spec(owner, network, l);
  }
  if ('nodes' in network) {
    const spec = network as NetworkSpec;
    if (!Array.isArray(spec.heads) || spec.heads.length !== 1) {
      throw new ConfigError(`${owner}: a meta-learner's network needs exactly one head, got ${describe(spec.heads)}`);
    }
    const headLoss = spec.heads[0]!.loss;
    if (!META_LOSSES.includes(headLoss as MetaLoss)) throw new ConfigError(`${owner}: head loss must be one of ${META_LOSSES.join(', ')}, got ${describe(headLoss)}`);
    if (loss !== undefined && loss !== headLoss) throw new ConfigError(`${owner}: option 'loss' is '${loss}' but the network's head uses '${headLoss}'`);
    return spec;
  }
  const n = network as Partial<NetworkConfig>;
  const known = ['inputSize', 'hidden', 'outputSize', 'activation'];
  for (const k of Object.keys(n)) if (!known.includes(k)) throw new ConfigError(`${owner}: unknown network option '${k}'; known: ${known.join(', ')}`);
  if (!isPosInt(n.inputSize)) throw new ConfigError(`${owner}: network.inputSize must be a positive integer, got ${describe(n.inputSize)}`);
  if (!Array.isArray(n.hidden) || !n.hidden.every(isPosInt)) throw new ConfigError(`${owner}: network.hidden must be an array of positive integers, got ${describe(n.hidden)}`);
  const l = loss ?? 'mse';
  const outputSize = n.outputSize ?? 1;
  if (!isPosInt(outputSize)) throw new ConfigError(`${owner}: network.outputSize must be a positive integer, got ${describe(n.outputSize)}`);
  if (l === 'softmax-ce' ? outputSize < 2 : outputSize !== 1) {
    throw new ConfigError(`${owner}: loss '${l}' needs ${l === 'softmax-ce' ? 'outputSize >= 2 (one logit per class)' : 'outputSize 1'}, got ${outputSize}`);
  }
  const activation = n.activation ?? 'relu';
  if (!ACTIVATIONS.includes(activation)) throw new ConfigError(`${owner}: network.activation must be one of ${ACTIVATIONS.join(', ')}, got ${describe(activation)}`);
  return mlpSpec({ inputSize: n.inputSize!, hidden: n.hidden as number[], outputSize, activation }, l);
}

/** Option specs shared by the learners; each class picks the ones it takes. */
export const COMMON_OPTIONS = {
  network: custom<NetworkConfig>("{ inputSize, hidden, outputSize, activation }, { type: 'conv4', inputShape, outputSize } or a NetworkSpec", (v) => v !== null && typeof v === 'object'),
  loss: oneOf(META_LOSSES),
  innerLr: num({ default: 0.01, min: 0 }),
  innerSteps: num({ default: 1, min: 0, integer: true }),
  metaBatchSize: num({ default: 25, min: 1, integer: true }),
  optimizer: custom<OptimizerOptions>("an optimizer { type: 'adam' | 'sgd' | ..., lr }", (v) => v !== null && typeof v === 'object', { type: 'adam', lr: 1e-3 }),
  seed: num({ default: 0 }),
  dtype: oneOf(['float32', 'float64'] as const, 'float32'),
  batchNorm: oneOf(['transductive', 'running'] as const, 'transductive'),
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

/** A network adapted to one task: its own parameters, the meta-learner's architecture. */
export class AdaptedModel {
  constructor(
    private readonly handle: NetworkHandle<FloatArray>,
    /** The adapted parameters (flat, in the network's layout). */
    readonly params: FloatArray,
    private readonly inputSize: number,
    readonly loss: MetaLoss,
    private readonly classes: number,
    /** Batchnorm running statistics to normalise with (the learner's 'running' mode), else none. */
    private readonly running: FloatArray | null = null,
  ) {}

  private stats(): Pick<NetworkBatch<FloatArray>, 'stats'> {
    return this.running ? { stats: { running: this.running } } : {};
  }

  /** Raw outputs, n x outputSize: values (mse) or logits (classification). */
  predict(X: unknown): Matrix<Float64Array> {
    const x = toMatrix(X, 'predict(X)', { dtype: this.handle.dtype });
    if (x.cols !== this.inputSize) throw new ShapeError(`predict(X): X has ${x.cols} columns, the network expects ${this.inputSize}`);
    const out = this.handle.forward(this.params, { x, ...this.stats() });
    return { rows: out.rows, cols: out.cols, data: Float64Array.from(out.data) };
  }

  /** Predicted class indices (classification losses only). */
  predictClass(X: unknown): Int32Array {
    if (this.loss === 'mse') throw new ConfigError('predictClass() needs a classification loss (softmax-ce or bce-logits)');
    return classesOf(this.predict(X), this.loss);
  }

  /** Mean loss on a labelled set. */
  score(data: TaskDataLike): number {
    const b = toBatch(data, 'score(data)', this.inputSize, this.loss, this.classes, this.handle.dtype);
    return this.handle.lossGrad(this.params, { ...b, ...this.stats() }, ONE, null)[0]!;
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


export abstract class MetaLearner<O extends LearnerOptions = LearnerOptions> extends SavedLearner {
  /** The model-file kind of this class (format.ts). */
  static override readonly kind: string = 'MetaLearner';

  readonly options: Readonly<O>;
  readonly spec: NetworkSpec;
  readonly compiled: CompiledNetwork;
  readonly loss: MetaLoss;
  /** The meta-learned initialisation theta (flat, in the network's layout). */
  params: FloatArray;
  /** Completed meta-iterations. */
  protected readonly handle: NetworkHandle<FloatArray>;
  protected readonly optimizer: Optimizer;
  protected readonly rng: Rng;
  protected readonly P: number;
  protected readonly classes: number;
  /** Batchnorm running statistics (batchNorm 'running'). */
  protected readonly norm: RunningNormStats;

  protected constructor(owner: string, input: unknown, spec: { [K in keyof O]-?: OptionSpec }) {
    super();
    this.options = parseOptions<O>(owner, input, spec);
    this.spec = resolveSpec(owner, this.options.network, (input as Partial<LearnerOptions> | undefined)?.loss);
    this.compiled = compileNetwork(this.spec);
    this.loss = this.spec.heads[0]!.loss as MetaLoss;
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
    this.norm = new RunningNormStats(this.compiled);
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

  async fit(sampler: TaskSampler, options: FitOptions): Promise<FitResult> {
    const o = parseOptions<FitOptions>(`${this.kind}.fit`, options, {
      ...BUDGET_OPTIONS,
      onProgress: custom('a function', (v) => typeof v === 'function'),
      signal: custom('an AbortSignal', (v) => v instanceof AbortSignal),
    });
    const budget = new Budget(`${this.kind}.fit`, o.iterations, o.timeLimit);
    this.checkSampler(sampler);
    const yielder = new Yielder(o.signal);
    const losses: number[] = [];
    while (budget.next()) {
      const tasks = this.prepare(sampler.sampleBatch(this.options.metaBatchSize));
      const loss = this.metaStep(tasks);
      if (!Number.isFinite(loss)) throw new ValueError(`${this.kind}.fit: the meta-loss became ${loss} at iteration ${this.iteration}; lower the learning rates`);
      losses.push(loss);
      this.iteration++;
      this.trackNorm(tasks);
      o.onProgress?.({ iteration: budget.done, iterations: budget.total, loss });
      await yielder.maybeYield();
    }
    return { losses: Float64Array.from(losses), iterations: losses.length, seconds: budget.seconds };
  }

  /** One meta-update on given tasks, synchronously (tests, custom loops). Returns the meta-loss. */
  step(tasks: readonly TaskLike[]): number {
    const prepared = this.prepare(tasks);
    const loss = this.metaStep(prepared);
    this.iteration++;
    this.trackNorm(prepared);
    return loss;
  }

  // ---- batchnorm running statistics ('running' mode) -------------------------------------------

  private get runningMode(): boolean {
    return this.options.batchNorm === 'running' && this.norm.active;
  }

  /** After a meta-update: fold the statistics of the first task's support set at the new theta into the running averages. */
  private trackNorm(tasks: PreparedTask[]): void {
    if (!this.runningMode || tasks.length === 0) return;
    const x = tasks[0]!.support.x;
    this.handle.forward(this.theta, { x, stats: { batchOut: this.norm.batch } });
    this.norm.update(x.rows);
  }

  /** A batch of an inference pass: with the running statistics in 'running' mode. */
  protected inferenceBatch(b: NetworkBatch<FloatArray>): NetworkBatch<FloatArray> {
    return this.runningMode ? { ...b, stats: { running: this.norm.running(this.dtype) } } : b;
  }

  protected override extraState(): Record<string, unknown> {
    return this.norm.active ? { normStats: this.norm.values.slice() } : {};
  }

  protected override restoreExtra(state: Record<string, unknown>): void {
    if (this.norm.active && state.normStats !== undefined) this.norm.restore(state.normStats, `${this.kind} model file`);
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
  adapt(support: TaskDataLike, options?: AdaptOptions): AdaptedModel {
    const { steps, lr } = this.adaptOptions(options, 'adapt');
    const b = this.inferenceBatch(toBatch(support, 'adapt(support)', this.inputSize, this.loss, this.classes, this.dtype));
    return new AdaptedModel(this.handle, this.adaptParams(b, steps, lr), this.inputSize, this.loss, this.classes, this.runningCopy());
  }

  /** The un-adapted network (theta) as a model. */
  model(): AdaptedModel {
    return new AdaptedModel(this.handle, this.theta.slice() as FloatArray, this.inputSize, this.loss, this.classes, this.runningCopy());
  }

  /** A copy of the running statistics for a model that outlives later training ('running' mode), else null. */
  private runningCopy(): FloatArray | null {
    return this.runningMode ? (this.norm.running(this.dtype).slice() as FloatArray) : null;
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
    if (o.tasks === undefined) throw new ConfigError(`${this.kind}.evaluate: option 'tasks' is required (number of test tasks)`);
    this.checkSampler(sampler);
    const stepsList = o.steps!;
    const maxSteps = Math.max(...stepsList);
    const losses = stepsList.map(() => [] as number[]);
    const accs = stepsList.map(() => [] as number[]);
    for (let t = 0; t < o.tasks; t++) {
      const [prepared] = this.prepare([sampler.sample()]);
      const task = { support: this.inferenceBatch(prepared!.support), query: this.inferenceBatch(prepared!.query) };
      this.adaptParams(task.support, maxSteps, o.lr ?? null, (i, phi) => {
        stepsList.forEach((s, k) => {
          if (s !== i) return;
          losses[k]!.push(this.lossGrad(phi, task.query, null));
          if (this.loss !== 'mse') {
            const pred = classesOf(this.handle.forward(phi, { x: task.query.x, stats: task.query.stats }), this.loss);
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
