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
import { ConfigError, ShapeError, ValueError } from '../core/errors.js';
import { Yielder } from '../core/async.js';
import { allocate, describe, type DType, type FloatArray } from '../core/matrix.js';
import { custom, num, oneOf, parseOptions, type OptionSpec } from '../core/options.js';
import { parseFitOptions, REMOTE_OPTION_SPEC, type FitOptions, type OnWorker, type Progress, type RemoteOptions } from '../core/estimator.js';
import { throwIfAborted } from '../core/async.js';
import { offload } from '../parallel/offload.js';
import { Rng } from '../core/rng.js';
import { kernels } from '../kernels/index.js';
import type { NetworkBatch, NetworkHandle, NetworkSpec, OptimKernels } from '../kernels/types.js';
import type { CompiledNetwork } from '../nn/spec.js';
import type { MultiTaskNet } from '../mtl/multiTaskNet.js';
import { RunningNormStats } from '../nn/normStats.js';
import { createOptimizer, type Optimizer, type OptimizerOptions } from '../nn/optim.js';
import { Budget, BUDGET_OPTIONS, type BudgetOptions } from './budget.js';
import { classesOf, META_LOSSES, type MetaLoss, type TaskDataLike } from './adaptedModel.js';
import { MetaNetwork, networkConfigOf, networkForm, type AdaptedOf, type NetworkOption, type SingleTaskNetwork } from './metaNetwork.js';
import { SavedLearner } from './savedLearner.js';
import type { TaskSampler } from './tasks.js';

export { AdaptedModel, META_LOSSES, softmaxRows, toBatch, type MetaLoss, type MetaPrediction, type MetaProbability, type TaskDataLike } from './adaptedModel.js';
export { mlpSpec, type AdaptedOf, type Immutable, type MultiTaskNetworkConfig, type NetworkConfig, type NetworkOption, type SingleTaskNetwork } from './metaNetwork.js';

/**
 * Options every gradient-based meta-learner takes (each class adds its own). `L` is the loss, so
 * that what `adapt(...).predict` returns follows from it: values for 'mse', labels otherwise.
 */
export interface LearnerOptions<L extends MetaLoss = MetaLoss, N extends NetworkOption = NetworkOption> {
  /**
   * The network: an MLP { inputSize, hidden, outputSize?, activation? }, a NetworkSpec, a
   * multi-task network { inputSize, tasks, architecture? } as MultiTaskNet takes it, or a
   * MultiTaskNet (its current parameters are the starting point). See MetaNetwork.
   */
  network: N;
  /** The head's loss for an MLP (default 'mse'); a NetworkSpec's heads and a multi-task network's tasks give their own. */
  loss?: L;
  /** Inner-loop (adaptation) learning rate. Default 0.01. */
  innerLr?: number;
  /** Inner-loop steps during meta-training and, by default, in adapt. Default 1. */
  innerSteps?: number;
  /** Tasks per meta-update. Default 25. */
  metaBatchSize?: number;
  /**
   * The outer optimiser. Default { type: 'adam', lr: 1e-3 }. Its `schedule`, if any, steps once
   * at the end of every completed `fit` call (an epoch of meta-training), so a budget split into
   * several fits can anneal the rate, e.g. { type: 'cosine', tMax: fits }.
   */
  optimizer?: OptimizerOptions;
  /** Seeds initialisation (and nothing else: tasks come from the sampler's own seed). Default 0. */
  seed?: number;
  /** Element type of parameters and activations. Default 'float32' (a MultiTaskNet's own). */
  dtype?: DType;
  /**
   * Batch normalisation (networks with batchnorm nodes, e.g. conv-4): 'transductive' (default,
   * Finn et al. 2017) normalises every support and query set by its own statistics, in training
   * and at test; 'running' trains the same way but also keeps running averages (momentum 0.1) of
   * the statistics of one support set per meta-iteration at the meta-parameters, and normalises
   * every pass of adapt, the adapted model and evaluate with them.
   */
  batchNorm?: 'transductive' | 'running';
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

/** Options of a meta-learner's fit: `iterations`, `timeLimit` or both (whichever comes first). */
export interface MetaFitOptions extends FitOptions<MetaProgress>, BudgetOptions {}

/** What a meta-learner's fit records, on `learner.history`. */
export interface MetaHistory {
  /** Meta-loss (mean query loss of the meta-batch, after adaptation) of every iteration run. */
  losses: Float64Array;
  /** Meta-iterations run (fewer than asked when the time limit ended training). */
  iterations: number;
  /** Seconds the fit took. */
  seconds: number;
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
export interface EvaluateOptions extends RemoteOptions {
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

/** Option specs shared by the learners; each class picks the ones it takes. */
export const COMMON_OPTIONS = {
  network: custom<NetworkOption>('{ inputSize, hidden, outputSize?, activation? }, a NetworkSpec, { inputSize, tasks, architecture? } or a MultiTaskNet', (v) => v !== null && typeof v === 'object'),
  loss: oneOf(META_LOSSES),
  innerLr: num({ default: 0.01, min: 0 }),
  innerSteps: num({ default: 1, min: 0, integer: true }),
  metaBatchSize: num({ default: 25, min: 1, integer: true }),
  optimizer: custom<OptimizerOptions>("an optimizer { type: 'adam' | 'sgd' | ..., lr }", (v) => v !== null && typeof v === 'object', { type: 'adam', lr: 1e-3 }),
  seed: num({ default: 0 }),
  dtype: oneOf(['float32', 'float64'] as const, 'float32'),
  batchNorm: oneOf(['transductive', 'running'] as const, 'transductive'),
} satisfies Record<keyof LearnerOptions, OptionSpec>;

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


/**
 * The gradient-based meta-learners' base: `fit(sampler)` meta-trains and resolves to the learner
 * (meta-losses on `history`), `adapt(support)` gives the model of one new task (an
 * {@link AdaptedModel}, or a MultiTaskNet for a multi-task network), `evaluate(sampler)` the
 * query loss after each number of adaptation steps. `O` is the resolved options type, `L` the
 * loss and `N` the network option's type (what adapt returns follows from them).
 */
export abstract class MetaLearner<O extends Resolved<LearnerOptions> = Resolved<LearnerOptions>, L extends MetaLoss = MetaLoss, N extends NetworkOption = SingleTaskNetwork> extends SavedLearner {
  /** The model-file kind of this class (format.ts). */
  static override readonly kind: string = 'MetaLearner';

  readonly options: Readonly<O>;
  /** The network resolved and compiled (shared with the functional API). */
  readonly net: MetaNetwork;
  readonly spec: NetworkSpec;
  readonly compiled: CompiledNetwork;
  /** The head's loss (one-head networks; 'mse' stands for a multi-task network's several losses). */
  readonly loss: L;
  /** The meta-learned initialisation theta (flat, in the network's layout). */
  params: FloatArray;
  protected readonly handle: NetworkHandle<FloatArray>;
  protected readonly optimizer: Optimizer;
  protected readonly rng: Rng;
  protected readonly P: number;
  protected readonly classes: number;
  /** Batchnorm running statistics (batchNorm 'running'). */
  protected readonly norm: RunningNormStats;

  private lastHistory: MetaHistory = { losses: new Float64Array(0), iterations: 0, seconds: 0 };

  protected constructor(owner: string, input: unknown, spec: { [K in keyof O]-?: OptionSpec }) {
    super();
    const parsed = parseOptions<O>(owner, input, spec);
    const given = input as Partial<LearnerOptions> | undefined;
    this.net = new MetaNetwork(owner, parsed.network, { loss: given?.loss, dtype: given?.dtype, seed: parsed.seed });
    this.spec = this.net.spec;
    this.compiled = this.net.compiled;
    this.loss = this.net.loss as L;
    this.options = { ...parsed, loss: this.loss, dtype: this.net.dtype };
    this.classes = this.net.classes;
    this.P = this.compiled.paramCount;
    this.handle = this.net.handle;
    this.rng = new Rng(this.options.seed);
    this.params = this.initialParams(this.net.init(this.rng));
    this.norm = new RunningNormStats(this.compiled);
    const k = kernels() as unknown as Partial<OptimKernels>;
    this.optimizer = createOptimizer(this.optimizerOptions(), typeof k.adamStep === 'function' ? { kernels: k as OptimKernels } : {});
  }

  /**
   * A MultiTaskNet given as the network is saved as the { inputSize, tasks, architecture, dtype }
   * it was built from (its parameters are the learner's own, saved with the state); the loss is
   * saved only where the option applies (one-head networks).
   */
  protected override savedOptions(): unknown {
    const o: Record<string, unknown> = { ...this.options };
    if (this.net.template || this.net.heads > 1) delete o.loss;
    if (networkForm(o.network) === 'net') o.network = networkConfigOf(o.network as MultiTaskNet<any, any>);
    return o;
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

  /** L(params) on a batch (the sum of the heads' mean losses); fills `grad` when given. */
  protected lossGrad(params: FloatArray, batch: NetworkBatch<FloatArray>, grad: FloatArray | null): number {
    return this.net.lossGrad(params, batch, grad);
  }

  /** out = H(params) v, the exact Hessian of the batch loss times v. */
  protected hvp(params: FloatArray, batch: NetworkBatch<FloatArray>, v: FloatArray, out: FloatArray): void {
    this.net.hvp(params, batch, v, out);
  }

  protected alloc(): FloatArray {
    return allocate(this.dtype, this.P);
  }

  /**
   * The per-task loop of the meta-gradients: grad <- the mean over `tasks` of what `each` adds
   * into it (grad is zeroed first); returns the mean of what `each` returns (the query losses).
   */
  protected meanOverTasks(tasks: readonly PreparedTask[], grad: Float64Array, each: (task: PreparedTask, acc: Float64Array) => number): number {
    grad.fill(0);
    let loss = 0;
    for (const t of tasks) loss += each(t, grad);
    for (let j = 0; j < grad.length; j++) grad[j] = grad[j]! / tasks.length;
    return loss / tasks.length;
  }

  /** One step of the outer optimiser along `grad` (as long as params), in the params' dtype. */
  protected stepAlong(grad: Float64Array): void {
    const g = allocate(this.dtype, this.params.length);
    g.set(grad);
    this.optimizer.step(this.params, g);
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

  /**
   * The meta-update of `tasks` in two halves: this call starts it, the function it returns
   * completes it and returns the meta-loss. fit draws and prepares the next meta-batch in between,
   * so a learner whose kernel runs on worker threads (MAML's, native backend) overlaps the two.
   * By default the whole update runs here.
   */
  protected startMetaStep(tasks: PreparedTask[]): () => number {
    const loss = this.metaStep(tasks);
    return () => loss;
  }

  /** Convert and check the tasks of a meta-batch. */
  protected prepare(tasks: readonly TaskLike[]): PreparedTask[] {
    return tasks.map((t, i) => {
      if (t === null || typeof t !== 'object' || !('support' in t) || !('query' in t)) throw new ShapeError(`task ${i} must be { support, query }, got ${describe(t)}`);
      return { support: this.net.batch(t.support, `task ${i} support`), query: this.net.batch(t.query, `task ${i} query`) };
    });
  }

  /** What the last fit recorded: the meta-loss of every iteration. */
  get history(): MetaHistory {
    return this.lastHistory;
  }

  protected setHistory(history: unknown): void {
    this.lastHistory = history as MetaHistory;
  }

  protected override adaptOptionSpec(): Record<string, OptionSpec> {
    return { steps: num({ min: 0, integer: true }), lr: num({ min: 0 }) };
  }

  /** The meta-losses of the last fit (the same as history.losses; the name fit's result had). */
  get losses(): Float64Array {
    return this.lastHistory.losses;
  }

  /**
   * Meta-train on tasks drawn from `sampler` for `iterations` meta-batches, or for `timeLimit`
   * seconds, or until the first of the two; resolves to the learner, whose `history` then holds
   * the meta-loss of every iteration run, their count and the seconds taken. `signal` aborts
   * between iterations (AbortError; the updates already made stay); `onProgress` gets a
   * {@link MetaProgress} per iteration (`total` NaN when only a time limit bounds the fit).
   *
   * The next meta-batch is drawn from `sampler` while the current one's meta-gradient runs (on
   * the worker threads of the native backend), before `onProgress` hears of the current one; the
   * sampler still gives its batches in the same order, one per iteration run, except that a fit
   * ended by `signal` or by an error has drawn the batch of the iteration it did not run.
   */
  async fit(sampler: TaskSampler<TaskLike>, options: MetaFitOptions): Promise<this> {
    const o = parseFitOptions<MetaFitOptions>(`${this.kind}.fit`, options, BUDGET_OPTIONS);
    const budget = new Budget(`${this.kind}.fit`, o.iterations, o.timeLimit);
    this.checkSampler(sampler);
    if (o.worker) return offload(this, 'fit', `${this.kind}.fit`, [sampler], options as unknown as Record<string, unknown>);
    const yielder = new Yielder(o.signal);
    const losses: number[] = [];
    const record = (): void => {
      this.lastHistory = { losses: Float64Array.from(losses), iterations: losses.length, seconds: budget.seconds };
    };
    // The history holds what ran, also when an abort or an error ends the fit.
    const draw = (): PreparedTask[] | null => (budget.next() ? this.prepare(sampler.sampleBatch(this.options.metaBatchSize)) : null);
    try {
      let tasks = draw();
      while (tasks) {
        const step = budget.done;
        const finish = this.startMetaStep(tasks);
        // The next meta-batch, drawn while this one's meta-gradient runs. An error while drawing
        // it ends the fit after this iteration has completed, as it would have without the overlap.
        let next: PreparedTask[] | null = null;
        let drawError: { error: unknown } | null = null;
        try {
          next = draw();
        } catch (error) {
          drawError = { error };
        }
        const loss = finish();
        if (!Number.isFinite(loss)) throw new ValueError(`${this.kind}.fit: the meta-loss became ${loss} at iteration ${this.iteration}; lower the learning rates`);
        losses.push(loss);
        this.iteration++;
        this.trackNorm(tasks);
        o.onProgress?.({ phase: 'fit', step, total: budget.total, loss, iteration: step, iterations: budget.total });
        await yielder.maybeYield();
        if (drawError) throw drawError.error;
        tasks = next;
      }
      // A completed fit call is one epoch of the outer optimiser's learning-rate schedule.
      this.optimizer.epochEnd();
    } finally {
      record();
    }
    return this;
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

  /** A copy of the running statistics for a model that outlives later training ('running' mode), else undefined. */
  private runningCopy(): FloatArray | undefined {
    return this.runningMode ? (this.norm.running(this.dtype).slice() as FloatArray) : undefined;
  }

  protected override extraState(): Record<string, unknown> {
    return this.norm.active ? { normStats: this.norm.values.slice() } : {};
  }

  protected override restoreExtra(state: Record<string, unknown>): void {
    if (this.norm.active && state.normStats !== undefined) this.norm.restore(state.normStats, `${this.kind} model file`);
  }

  protected checkSampler(sampler: unknown): asserts sampler is TaskSampler<TaskLike> {
    const s = sampler as Partial<TaskSampler<TaskLike>> | null;
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

  /**
   * The model of one new task, fitted from its support set ({ X, y }; a multi-task network takes
   * { X, Y } with one column per task): an AdaptedModel, or a MultiTaskNet for a multi-task
   * network. The meta-learner is unchanged.
   */
  adapt(support: TaskDataLike, options?: AdaptOptions): AdaptedOf<N, L> {
    const { steps, lr } = this.adaptOptions(options, 'adapt');
    const b = this.inferenceBatch(this.net.batch(support, `${this.kind}.adapt(support)`));
    return this.net.model(this.adaptParams(b, steps, lr), this.runningCopy()) as AdaptedOf<N, L>;
  }

  /** The un-adapted network (theta) as a model. */
  model(): AdaptedOf<N, L> {
    return this.net.model(this.theta.slice() as FloatArray, this.runningCopy()) as AdaptedOf<N, L>;
  }

  /**
   * Query loss (and accuracy for classification) after each number of adaptation steps, as the
   * mean over `tasks` tasks drawn from `sampler` with its 95% confidence interval.
   */
  evaluate(sampler: TaskSampler<TaskLike>, options: EvaluateOptions & { worker?: false }): EvaluationRow[];
  evaluate(sampler: TaskSampler<TaskLike>, options: EvaluateOptions & OnWorker): Promise<EvaluationRow[]>;
  evaluate(sampler: TaskSampler<TaskLike>, options: EvaluateOptions): EvaluationRow[] | Promise<EvaluationRow[]> {
    const o = parseOptions<EvaluateOptions>(`${this.kind}.evaluate`, options, {
      tasks: num({ min: 1, integer: true }),
      steps: custom('an array of non-negative integers', (v) => Array.isArray(v) && v.length > 0 && v.every((s) => Number.isInteger(s) && s >= 0), [0, 1, 10]),
      lr: num({ min: 0 }),
      ...REMOTE_OPTION_SPEC,
    });
    if (o.tasks === undefined) throw new ConfigError(`${this.kind}.evaluate: option 'tasks' is required (the number of test tasks)`);
    this.checkSampler(sampler);
    if (o.worker) return offload(this, 'evaluate', `${this.kind}.evaluate`, [sampler], options as unknown as Record<string, unknown>);
    throwIfAborted(o.signal);
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
          if (this.net.heads === 1 && !this.net.template && this.loss !== 'mse') {
            const pred = classesOf(this.handle.forward(phi, { x: task.query.x, stats: task.query.stats }), this.loss);
            const y = task.query.y!.data;
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
      if (accs[k]!.length > 0) [row.accuracy, row.accuracyCi95] = meanCi(accs[k]!);
      return row;
    });
  }
}
