/**
 * MultiTaskNet: a deep multi-task network. One network (lib/mtl/architectures.ts) with a head per
 * task, trained on the weighted sum of the task losses, the weights (and, for gradient strategies,
 * the shared update) from a WeightingStrategy (lib/mtl/weighting/). This file is the model's
 * surface; its parts are in the net*.ts files beside it: options and types (netOptions.ts), data
 * (netData.ts), the training loop (netTraining.ts), metrics and Delta_m (netMetrics.ts), gradient
 * diagnostics (netDiagnostics.ts) and the model file (netPersistence.ts).
 */
import { ConfigError, FormatError, NotFittedError, ShapeError, ValueError } from '../core/errors.js';
import { allocate, type DType, type FloatArray, type Matrix } from '../core/matrix.js';
import { bool, custom, num, oneOf, parseOptions } from '../core/options.js';
import { parseFitOptions, REMOTE_OPTION_SPEC, type FitOptions, type Labels, type OnWorker, type RemoteOptions } from '../core/estimator.js';
import { throwIfAborted, type Yielder } from '../core/async.js';
import { identityOf, RESTORE, SNAPSHOT, type ModelSnapshot, type SnapshotPurpose } from '../core/portable.js';
import { offload } from '../parallel/offload.js';
import { Rng } from '../core/rng.js';
import { readDocument, saveDocument, type ModelDocument } from '../io/format.js';
import { kernels } from '../kernels/index.js';
import type { Kernels, NetworkHandle, NetworkSpec } from '../kernels/types.js';
import { compileNetwork, initParams, type CompiledNetwork } from '../nn/spec.js';
import { RunningNormStats } from '../nn/normStats.js';
import { createOptimizer, type Optimizer } from '../nn/optim.js';
import { buildArchitecture, headShape, parameterOwners, type ArchitectureOptions, type ParameterOwners } from './architectures.js';
import { holdOut, inputs, prepare, type Prepared } from './netData.js';
import { deltaM, evaluateOutputs, sigmoid, softmaxRow } from './netMetrics.js';
import { netDocument, netState, readNetDocument, restoreNetState } from './netPersistence.js';
import {
  checkStrategyName,
  isCustom,
  isStrategy,
  KIND,
  resolveTasks,
  type EarlyStoppingOptions,
  type EpochRecord,
  type History,
  type MultiTaskData,
  type MultiTaskEvaluateOptions,
  type MultiTaskEvaluation,
  type MultiTaskNetOptions,
  type MultiTaskNetProgress,
  type MultiTaskNetTask,
  type NetConfig,
  type TaskPredictions,
  type TaskProbabilities,
  type ValuesOf,
  type WeightingOption,
} from './netOptions.js';
import { resolveEarlyStopping, runEpochs, type NetParts, type NetState } from './netTraining.js';
import { createStrategy } from './weighting/registry.js';
import type { WeightingStrategy } from './weighting/strategy.js';

export type {
  EarlyStoppingOptions,
  EpochRecord,
  GradientDiagnostics,
  History,
  MultiTaskData,
  MultiTaskEvaluateOptions,
  MultiTaskEvaluation,
  MultiTaskNetOptions,
  MultiTaskNetProgress,
  MultiTaskNetTask,
  PredictionOf,
  ProbabilityOf,
  TaskPredictions,
  TaskProbabilities,
  ValuesOf,
  WeightingOption,
} from './netOptions.js';
export type { TaskMetrics } from '../core/estimator.js';

export interface MultiTaskNetFitOptions extends FitOptions<MultiTaskNetProgress> {
  /** Passes over the training data. Default 10. */
  epochs?: number;
  /** Rows per step. Default 32. */
  batchSize?: number;
  /** Shuffle the rows every epoch. Default true. */
  shuffle?: boolean;
  /** Data to evaluate after each epoch, or a fraction of the training rows held out for it. */
  validation?: MultiTaskData | number;
  /** Stop when the monitored loss stops improving: true for the defaults, or options. Default off. */
  earlyStopping?: EarlyStoppingOptions | boolean;
  /** Called after each epoch with its full record (awaited when it returns a promise). */
  onEpoch?: (record: EpochRecord, net: MultiTaskNet<any, any>) => void | Promise<void>;
  /** Record per-epoch cosine similarities and norms of the tasks' shared-parameter gradients. Default false. */
  diagnostics?: boolean;
}

/** Rows per forward call at inference (bounds memory). */
const CHUNK = 4096;
/**
 * Rows per forward call of the evaluations during a fit, with a chance to yield between calls
 * (a few ms of work each for nets of this library's usual sizes). Row outputs do not depend on
 * the rows computed with them, so the chunk size does not change any value.
 */
const YIELD_CHUNK = 512;

/**
 * A deep multi-task network: `fit` trains it on a MultiTaskDataset or { X, Y } and resolves to the
 * net (epoch records on `history`); `predict(X)` gives each task's values or labels by task name,
 * `predictProba(X)` each classification task's probabilities, `score` the mean over tasks of R^2
 * or accuracy, `evaluate` per-task metrics and losses. The type parameters carry the tasks and
 * the dtype, so the result types follow from the options.
 */
export class MultiTaskNet<const Ts extends readonly MultiTaskNetTask[] = readonly MultiTaskNetTask[], D extends DType = 'float32'> {
  readonly config: Readonly<NetConfig>;
  readonly spec: NetworkSpec;
  private readonly compiled: CompiledNetwork;
  private readonly handle: NetworkHandle<FloatArray>;
  private readonly kernels: Kernels;
  private readonly owners: ParameterOwners;
  private readonly headCols: Int32Array;
  private readonly optimizer: Optimizer;
  private readonly strategy: WeightingStrategy;
  private readonly rng: Rng;
  /** Batchnorm running statistics (networks with batchnorm nodes). */
  private readonly norm: RunningNormStats;
  /** Parameters, counters and the last step's weights: what training changes. */
  private readonly state: NetState;
  private busy = false;
  private lastHistory: History = { epochs: [], stoppedEarly: false };

  constructor(options: MultiTaskNetOptions<Ts, D>) {
    const o = parseOptions<Required<MultiTaskNetOptions>>(KIND, options, {
      inputSize: num({ integer: true, min: 1 }),
      inputShape: custom(
        '[channels, height, width] of positive integers',
        (v) => Array.isArray(v) && v.length === 3 && v.every((x) => Number.isInteger(x) && x >= 1),
      ),
      tasks: custom('a non-empty array of tasks { name, type, classes?, head? }', (v) => Array.isArray(v) && v.length > 0),
      architecture: custom("an object { type, ... } or an architecture name", (v) => typeof v === 'string' || (v !== null && typeof v === 'object' && !Array.isArray(v)), 'hard-sharing'),
      weighting: custom('a strategy name, { name, ...options } or a WeightingStrategy object', (v) => typeof v === 'string' || (v !== null && typeof v === 'object'), 'equal'),
      optimizer: custom('an object { type, lr, ... }', (v) => v !== null && typeof v === 'object' && !Array.isArray(v), { type: 'adam', lr: 1e-3 }),
      seed: num({ default: 0 }),
      dtype: oneOf(['float32', 'float64'] as const, 'float32'),
    });
    const shape = o.inputShape ? ([o.inputShape[0], o.inputShape[1], o.inputShape[2]] as const) : undefined;
    if (shape && o.inputSize !== undefined && o.inputSize !== shape[0] * shape[1] * shape[2]) {
      throw new ConfigError(`${KIND}: inputSize ${o.inputSize} disagrees with inputShape ${shape.join(' x ')} (${shape[0] * shape[1] * shape[2]} values); give one of them`);
    }
    if (shape) o.inputSize = shape[0] * shape[1] * shape[2];
    if (o.inputSize === undefined) throw new ConfigError(`${KIND}: option 'inputSize' (the number of input features) or 'inputShape' (images) is required`);
    if (o.tasks === undefined) throw new ConfigError(`${KIND}: option 'tasks' is required, e.g. [{ name: 'y', type: 'regression' }]`);
    const tasks = resolveTasks(o.tasks);
    const architecture = (typeof o.architecture === 'string' ? { type: o.architecture } : { ...o.architecture }) as ArchitectureOptions;

    this.spec = buildArchitecture(
      o.inputSize,
      tasks.map((t) => ({ name: t.name, type: t.type, classes: t.labels?.length, head: t.head })),
      architecture,
      shape,
    );
    this.compiled = compileNetwork(this.spec);
    this.owners = parameterOwners(this.spec, this.compiled.params, this.compiled.paramCount);
    const widths = tasks.map((t) => headShape({ name: t.name, type: t.type, classes: t.labels?.length }).width);
    this.headCols = Int32Array.from([0, ...widths.map((_, i) => widths.slice(0, i + 1).reduce((a, b) => a + b, 0))]);

    const k = kernels();
    this.kernels = k;
    this.handle = o.dtype === 'float32' ? k.network(this.spec, 'float32') : k.network(this.spec, 'float64');
    this.optimizer = createOptimizer(o.optimizer, { kernels: k });

    let weighting: string | Record<string, unknown>;
    if (isStrategy(o.weighting)) {
      this.strategy = o.weighting;
      weighting = { name: o.weighting.name, custom: true };
    } else {
      checkStrategyName(o.weighting);
      this.strategy = createStrategy(o.weighting as never) as WeightingStrategy;
      weighting = typeof o.weighting === 'string' ? o.weighting : { ...(o.weighting as Record<string, unknown>) };
    }
    this.strategy.init(tasks.length, this.owners.shared.length);

    this.rng = new Rng(o.seed);
    this.norm = new RunningNormStats(this.compiled);
    this.state = {
      params: initParams(this.compiled, this.rng, o.dtype),
      epoch: 0,
      stepCount: 0,
      lastWeights: new Float64Array(tasks.length).fill(1),
      weightsStable: true,
      fitted: false,
    };
    this.config = { inputSize: o.inputSize, ...(shape ? { inputShape: shape } : {}), tasks, architecture, weighting, optimizer: { ...o.optimizer }, seed: o.seed, dtype: o.dtype };
  }

  /** The parts the training loop and the model file read. */
  private get parts(): NetParts {
    return { config: this.config, compiled: this.compiled, handle: this.handle, kernels: this.kernels, owners: this.owners, optimizer: this.optimizer, strategy: this.strategy, rng: this.rng, norm: this.norm };
  }

  get taskNames(): string[] {
    return this.config.tasks.map((t) => t.name);
  }
  get paramCount(): number {
    return this.compiled.paramCount;
  }
  /** Number of parameters shared between tasks (the columns a gradient strategy sees). */
  get sharedParamCount(): number {
    return this.owners.shared.length;
  }
  /** Completed training epochs. */
  get epochs(): number {
    return this.state.epoch;
  }
  /** A copy of the flat parameter vector (layout: compileNetwork(net.spec).params). */
  getParams(): FloatArray {
    return this.state.params.slice();
  }
  /**
   * Replace the parameters (same length, converted to the net's dtype), e.g. to start from given
   * weights. A net given its parameters can predict: it counts as fitted.
   */
  setParams(p: ArrayLike<number>): void {
    if (p.length !== this.state.params.length) throw new ShapeError(`${KIND}.setParams: got ${p.length} values, expected ${this.state.params.length}`);
    const next = allocate(this.config.dtype, p.length);
    for (let i = 0; i < p.length; i++) next[i] = p[i]!;
    for (let i = 0; i < next.length; i++) if (!Number.isFinite(next[i]!)) throw new ValueError(`${KIND}.setParams: value ${i} is ${next[i]}`);
    this.state.params = next;
    this.state.fitted = true;
  }

  /**
   * A new net of the same configuration holding `params` (e.g. adapted by a meta-learner), ready
   * to predict or to train further. This net is unchanged. A custom weighting strategy object is
   * not shared: the copy trains with 'equal'.
   */
  withParams(params: ArrayLike<number>): MultiTaskNet<Ts, D> {
    const net = MultiTaskNet.fromConfig(this.config, isCustom(this.config.weighting) ? 'equal' : (this.config.weighting as WeightingOption));
    net.setParams(params);
    if (this.norm.active) net.norm.restore(this.norm.values.slice(), KIND);
    return net as unknown as MultiTaskNet<Ts, D>;
  }

  /** A net from a resolved configuration (the tasks' labels become their classes again). */
  private static fromConfig(c: NetConfig, weighting: WeightingOption): MultiTaskNet<readonly MultiTaskNetTask[], DType> {
    return new MultiTaskNet(MultiTaskNet.optionsOf(c, weighting));
  }

  /** The constructor options of a resolved configuration. */
  private static optionsOf(c: NetConfig, weighting: WeightingOption): MultiTaskNetOptions<readonly MultiTaskNetTask[], DType> {
    const tasks: MultiTaskNetTask[] = c.tasks.map((t) => ({
      name: t.name,
      type: t.type,
      ...(t.labels ? { classes: t.labels } : {}),
      ...(t.head ? { head: t.head } : {}),
    }));
    const input = c.inputShape ? { inputShape: c.inputShape } : { inputSize: c.inputSize };
    return { ...input, tasks, architecture: c.architecture, weighting, optimizer: c.optimizer, seed: c.seed, dtype: c.dtype };
  }
  /** Which task owns each parameter (-1 shared), and the shared / per-task index lists. */
  get parameterOwners(): ParameterOwners {
    return this.owners;
  }

  // ---------------------------------------------------------------------------------------------
  // training

  /** The epoch records of the last fit (empty before the first). */
  get history(): History {
    return this.lastHistory;
  }

  /**
   * Train for `epochs` passes over `data` (a MultiTaskDataset of either shape, or { X, Y } with Y
   * n x T in task order, NaN / -1 for a missing label); resolves to the net, whose `history` then
   * holds the epoch records. `signal` aborts between steps (AbortError; the parameters keep the
   * steps already taken); `onProgress` gets one {@link MultiTaskNetProgress} per epoch.
   */
  async fit(data: MultiTaskData, options: MultiTaskNetFitOptions = {}): Promise<this> {
    const o = parseFitOptions<Required<MultiTaskNetFitOptions>>(`${KIND}.fit`, options, {
      epochs: num({ integer: true, min: 1, default: 10 }),
      batchSize: num({ integer: true, min: 1, default: 32 }),
      shuffle: bool(true),
      validation: custom('a MultiTaskDataset, { X, Y } or a fraction in (0, 1)', (v) => (typeof v === 'number' ? v > 0 && v < 1 : v !== null && typeof v === 'object')),
      earlyStopping: custom('{ patience, monitor, restoreBest, minDelta } or a boolean', (v) => typeof v === 'boolean' || (v !== null && typeof v === 'object')),
      onEpoch: custom('a function', (v) => typeof v === 'function'),
      diagnostics: bool(false),
    });
    if (this.busy) throw new ConfigError(`${KIND}.fit: this model is already training; await the running fit() first`);
    if (o.worker) {
      if (options.onEpoch) throw new ConfigError(`${KIND}.fit: option 'onEpoch' cannot run on a worker thread (it receives the net); use onProgress, whose records cross over, and read net.history after the fit`);
      return offload(this, 'fit', `${KIND}.fit`, [data], options as Record<string, unknown>);
    }
    let train = prepare(this.config, data, 'training data');
    let val: Prepared | undefined;
    if (typeof o.validation === 'number') [train, val] = holdOut(this.config, train, o.validation);
    else if (o.validation !== undefined) val = prepare(this.config, o.validation as MultiTaskData, 'validation data');
    if (train.counts.every((c) => c === 0)) throw new ValueError(`${KIND}.fit: the training data has no labels for any task`);
    const es = resolveEarlyStopping(o.earlyStopping, val !== undefined);

    this.busy = true;
    try {
      const onEpoch = o.onEpoch;
      const trainOptions = { epochs: o.epochs, batchSize: o.batchSize, shuffle: o.shuffle, diagnostics: o.diagnostics, signal: o.signal, onProgress: o.onProgress, ...(onEpoch ? { onEpoch: (r: EpochRecord) => onEpoch(r, this) } : {}) };
      this.lastHistory = await runEpochs(this.parts, this.state, train, val, trainOptions, es, (p, yielder) => this.evaluatePreparedAsync(p, yielder));
      return this;
    } finally {
      this.busy = false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // inference

  /**
   * Predictions by task name: values (a Float32Array, or Float64Array with dtype 'float64') for a
   * regression task, labels (Int32Array) for a classification task: 0/1 for binary, the class
   * labels for multiclass.
   */
  predict(X: unknown): TaskPredictions<Ts, ValuesOf<D>> {
    const { x, out } = this.outputs('predict', X);
    const W = out.cols;
    const res: Record<string, FloatArray | Labels> = {};
    this.config.tasks.forEach((task, t) => {
      const c0 = this.headCols[t]!;
      const C = this.headCols[t + 1]! - c0;
      if (task.type === 'regression') {
        const v = allocate(this.config.dtype, x.rows);
        for (let i = 0; i < x.rows; i++) v[i] = out.data[i * W + c0]!;
        res[task.name] = v;
      } else if (task.type === 'binary') {
        const v = new Int32Array(x.rows);
        for (let i = 0; i < x.rows; i++) v[i] = out.data[i * W + c0]! > 0 ? 1 : 0;
        res[task.name] = v;
      } else {
        const v = new Int32Array(x.rows);
        for (let i = 0; i < x.rows; i++) {
          let best = 0;
          for (let c = 1; c < C; c++) if (out.data[i * W + c0 + c]! > out.data[i * W + c0 + best]!) best = c;
          v[i] = task.labels![best]!;
        }
        res[task.name] = v;
      }
    });
    return res as TaskPredictions<Ts, ValuesOf<D>>;
  }

  /**
   * Class probabilities of the classification tasks, by task name: P(y = 1) per row for a binary
   * task, an n x C Matrix for a multiclass task (columns in the order of the task's classes).
   * Regression tasks have no entry.
   */
  predictProba(X: unknown): TaskProbabilities<Ts, ValuesOf<D>> {
    const { x, out } = this.outputs('predictProba', X);
    const W = out.cols;
    const res: Record<string, FloatArray | Matrix<FloatArray>> = {};
    this.config.tasks.forEach((task, t) => {
      const c0 = this.headCols[t]!;
      const C = this.headCols[t + 1]! - c0;
      if (task.type === 'multiclass') {
        const p = allocate(this.config.dtype, x.rows * C);
        for (let i = 0; i < x.rows; i++) softmaxRow(out.data, i * W + c0, C, p, i * C);
        res[task.name] = { rows: x.rows, cols: C, data: p };
      } else if (task.type === 'binary') {
        const v = allocate(this.config.dtype, x.rows);
        for (let i = 0; i < x.rows; i++) v[i] = sigmoid(out.data[i * W + c0]!);
        res[task.name] = v;
      }
    });
    return res as TaskProbabilities<Ts, ValuesOf<D>>;
  }

  /** predict as a Promise; with `worker`, computed on a worker thread. */
  async predictAsync(X: unknown, options?: RemoteOptions): Promise<TaskPredictions<Ts, ValuesOf<D>>> {
    const o = parseOptions<RemoteOptions>(`${KIND}.predictAsync`, options, REMOTE_OPTION_SPEC);
    if (!this.state.fitted) throw new NotFittedError(KIND, 'predictAsync');
    if (o.worker) return offload(this, 'predictAsync', `${KIND}.predictAsync`, [X], o as Record<string, unknown>);
    throwIfAborted(o.signal);
    return this.predict(X);
  }

  private outputs(method: string, X: unknown): { x: Matrix<FloatArray>; out: Matrix<FloatArray> } {
    if (!this.state.fitted) throw new NotFittedError(KIND, method);
    const x = inputs(this.config, X, 'X');
    return { x, out: this.forwardAll(x) };
  }

  /**
   * The mean over tasks (with labelled rows in `data`) of R^2 (regression) or accuracy
   * (classification): higher is better. Per-task values and losses: evaluate.
   */
  score(data: MultiTaskData): number {
    if (!this.state.fitted) throw new NotFittedError(KIND, 'score');
    const ev = this.evaluatePrepared(prepare(this.config, data, 'scoring data'));
    let s = 0;
    let k = 0;
    this.config.tasks.forEach((task) => {
      const m = ev.tasks[task.name]!;
      if (m.n === 0) return;
      s += task.type === 'regression' ? m.r2! : m.accuracy!;
      k++;
    });
    if (k === 0) throw new ValueError(`${KIND}.score: the data has no labels for any task`);
    return s / k;
  }

  /**
   * Per-task metrics on labelled rows; with `baselines` (single-task metrics by task name, e.g. from
   * evaluate() of single-task nets) also Delta_m over every metric the baselines give.
   */
  evaluate(data: MultiTaskData, options?: MultiTaskEvaluateOptions & { worker?: false }): MultiTaskEvaluation;
  evaluate(data: MultiTaskData, options: MultiTaskEvaluateOptions & OnWorker): Promise<MultiTaskEvaluation>;
  evaluate(data: MultiTaskData, options: MultiTaskEvaluateOptions = {}): MultiTaskEvaluation | Promise<MultiTaskEvaluation> {
    const o = parseOptions<MultiTaskEvaluateOptions>(`${KIND}.evaluate`, options, {
      baselines: custom('an object { taskName: { metric: value } }', (v) => v !== null && typeof v === 'object' && !Array.isArray(v)),
      ...REMOTE_OPTION_SPEC,
    });
    if (!this.state.fitted) throw new NotFittedError(KIND, 'evaluate');
    if (o.worker) return offload(this, 'evaluate', `${KIND}.evaluate`, [data], o as Record<string, unknown>);
    throwIfAborted(o.signal);
    const ev: MultiTaskEvaluation = this.evaluatePrepared(prepare(this.config, data, 'evaluation data'));
    if (o.baselines) ev.deltaM = deltaM(ev.tasks, o.baselines);
    return ev;
  }

  private evaluatePrepared(p: Prepared): MultiTaskEvaluation {
    return evaluateOutputs(this.config, this.headCols, this.forwardAll(p.X), p);
  }

  /** evaluatePrepared during a fit: the forward passes in short calls, yielding between them. */
  private async evaluatePreparedAsync(p: Prepared, yielder: Yielder): Promise<MultiTaskEvaluation> {
    const chunks = this.forwardChunks(p.X, YIELD_CHUNK);
    let r = chunks.next();
    while (!r.done) {
      await yielder.maybeYield();
      r = chunks.next();
    }
    return evaluateOutputs(this.config, this.headCols, r.value, p);
  }

  /** Raw head outputs for all rows, in chunks to bound memory. */
  private forwardAll(x: Matrix<FloatArray>): Matrix<FloatArray> {
    const chunks = this.forwardChunks(x, CHUNK);
    let r = chunks.next();
    while (!r.done) r = chunks.next();
    return r.value;
  }

  /** Raw head outputs for all rows, `chunk` rows per forward call, pausing (yield) between calls. */
  private *forwardChunks(x: Matrix<FloatArray>, chunk: number): Generator<void, Matrix<FloatArray>, void> {
    const W = this.headCols[this.headCols.length - 1]!;
    const out = allocate(this.config.dtype, x.rows * W);
    const d = x.cols;
    for (let s = 0; s < x.rows; s += chunk) {
      if (s > 0) yield;
      const nb = Math.min(chunk, x.rows - s);
      const xb = { rows: nb, cols: d, data: x.data.subarray(s * d, (s + nb) * d) as FloatArray };
      // Predictions normalise with the running statistics: a row's output is its own.
      const r = this.handle.forward(this.state.params, { x: xb, ...(this.norm.active ? { stats: { running: this.norm.running(this.config.dtype) } } : {}) });
      out.set(r.data, s * W);
    }
    return { rows: x.rows, cols: W, data: out };
  }

  // ---------------------------------------------------------------------------------------------
  // save / load

  /**
   * The constructor options and the state a model file keeps (lib/core/portable.ts); for
   * predictions only the parameters. A custom weighting strategy object cannot be rebuilt elsewhere.
   */
  [SNAPSHOT](purpose: SnapshotPurpose): ModelSnapshot {
    if (isCustom(this.config.weighting)) {
      throw new ConfigError(`${KIND}: a net with a custom weighting strategy object ('${this.strategy.name}') cannot run on a worker thread (functions stay in their thread); fit it in this thread`);
    }
    const options = MultiTaskNet.optionsOf(this.config, this.config.weighting as WeightingOption);
    // For predictions: the parameters, and the batchnorm running statistics they normalise with.
    const state =
      purpose === 'predict'
        ? { params: this.state.params, fitted: this.state.fitted, ...(this.norm.active ? { normStats: this.norm.values } : {}) }
        : netState(this.parts, this.state);
    // The parameters (and running statistics) change in place only by training steps (counted)
    // and are replaced otherwise; no method hands them out (getParams copies), so this names the state.
    const version = `${identityOf(this.state.params)}.${this.state.stepCount}.${this.state.fitted}`;
    return { kind: KIND, options, state, history: this.lastHistory, version };
  }

  [RESTORE](s: ModelSnapshot): void {
    const state = s.state as Record<string, unknown>;
    if (state.optimizer === undefined) {
      // A snapshot for predictions: the parameters and running statistics only.
      this.state.params = state.params as FloatArray;
      this.state.fitted = state.fitted === true;
      if (this.norm.active && state.normStats !== undefined) this.norm.restore(state.normStats, KIND);
    } else restoreNetState(this.parts, this.state, state);
    if (s.history) this.lastHistory = s.history as History;
  }

  /** The versioned model document: config, parameters, optimizer, strategy and RNG state. */
  toJSON(): ModelDocument {
    return netDocument(this.parts, this.state);
  }

  /** Rebuild a model from toJSON()'s document; pass `weighting` for a custom strategy object. */
  static fromJSON(doc: unknown, options: { weighting?: WeightingStrategy } = {}): MultiTaskNet<readonly MultiTaskNetTask[], DType> {
    const { config, state, weighting } = readNetDocument(doc, options.weighting);
    let net: MultiTaskNet<readonly MultiTaskNetTask[], DType>;
    try {
      net = MultiTaskNet.fromConfig(config, weighting);
    } catch (err) {
      if (err instanceof ConfigError) throw new FormatError(`${KIND} model file: its config is not valid here: ${err.message}`);
      throw err;
    }
    restoreNetState(net.parts, net.state, state);
    return net;
  }

  async save(path: string): Promise<void> {
    await saveDocument(path, this.toJSON());
  }

  static async load(path: string, options: { weighting?: WeightingStrategy } = {}): Promise<MultiTaskNet<readonly MultiTaskNetTask[], DType>> {
    return MultiTaskNet.fromJSON(await readDocument(path), options);
  }
}
