/**
 * MultiTaskNet: a deep multi-task network (issue 3). One network (lib/mtl/architectures.ts) with a
 * head per task, trained on the weighted sum of the task losses
 *
 *     L(theta) = sum_t w_t L_t(theta),   L_t = mean loss of task t over its labelled rows of the batch,
 *
 * where the weights w_t (and, for gradient strategies such as PCGrad or MGDA, the update direction
 * of the shared parameters) come from a WeightingStrategy (lib/mtl/weighting/). Missing labels are
 * masked inside the kernels, so per-task rows and shared inputs with holes are the same problem.
 * evaluate() reports the multi-task gain of Maninis et al. (CVPR 2019):
 *
 *     Delta_m = (1/T) sum_t (1/|M_t|) sum_{j in M_t} (-1)^{l_j} (M_mt,j - M_st,j) / M_st,j   (in %)
 *
 * with l_j = 1 when lower is better, so a positive Delta_m means the multi-task net is better.
 */
import { ConfigError, FormatError, NotFittedError, ShapeError, ValueError } from '../core/errors.js';
import { Yielder } from '../core/async.js';
import { allocate, describe, toMatrix, type DType, type FloatArray, type Matrix } from '../core/matrix.js';
import { bool, custom, num, oneOf, parseOptions } from '../core/options.js';
import { Rng } from '../core/rng.js';
import { MultiTaskDataset } from '../data/dataset.js';
import { fromDocument, readDocument, saveDocument, toDocument, type ModelDocument } from '../io/format.js';
import { kernels } from '../kernels/index.js';
import type { ActivationName, NetworkHandle, NetworkSpec } from '../kernels/types.js';
import { compileNetwork, dropoutMasks, initParams, type CompiledNetwork } from '../nn/spec.js';
import { RunningNormStats } from '../nn/normStats.js';
import { createOptimizer, type Optimizer, type OptimizerOptions } from '../nn/optim.js';
import {
  buildArchitecture,
  headShape,
  parameterOwners,
  type ArchitectureOptions,
  type ArchitectureType,
  type ParameterOwners,
  type TaskType,
} from './architectures.js';
import { createStrategy } from './weighting/registry.js';
import type { StrategyResult, WeightingStrategy } from './weighting/strategy.js';

export interface MultiTaskNetTask {
  name: string;
  type: TaskType;
  /** Multiclass: the number of classes C (labels 0..C-1) or the list of class labels. */
  classes?: number | readonly number[];
  /** This task's tower: hidden widths before its output layer (default: none). */
  head?: { hidden?: number[]; activation?: ActivationName };
}

/** A registry name, { type (or name), ...options } (see lib/mtl/weighting/registry.ts), or your own strategy. */
export type WeightingOption = string | ({ type?: string; name?: string } & Record<string, unknown>) | WeightingStrategy;

export interface MultiTaskNetOptions {
  /** Input features (columns of X). Give this or inputShape. */
  inputSize?: number;
  /**
   * [channels, height, width] when the rows of X are images (NCHW, C x H x W columns), instead
   * of inputSize; needed by a convolutional trunk (architecture.trunk, e.g. { type: 'conv4' }).
   */
  inputShape?: readonly [number, number, number];
  tasks: MultiTaskNetTask[];
  architecture: ArchitectureOptions | ArchitectureType;
  /** Registry name, { name, ...options }, or your own WeightingStrategy. Default 'equal'. */
  weighting?: WeightingOption;
  /** Default { type: 'adam', lr: 1e-3 }. */
  optimizer?: OptimizerOptions;
  /** Seeds initialisation, shuffles, dropout and random strategies. Default 0. */
  seed?: number;
  /** Parameter and batch dtype. Default 'float32' (float64 for gradient checks). */
  dtype?: DType;
}

/** Training data: a MultiTaskDataset (either shape), or { X, Y } with Y n x T in task order. */
export type MultiTaskData = MultiTaskDataset | { X: unknown; Y: unknown };

export interface EarlyStoppingOptions {
  /** Epochs without improvement before stopping. Default 5. */
  patience?: number;
  /** Default 'val_loss' when there is validation data, else 'loss'. */
  monitor?: 'loss' | 'val_loss';
  /** Put back the parameters of the best epoch when stopping or finishing. Default true. */
  restoreBest?: boolean;
  /** Smallest decrease that counts as an improvement. Default 0. */
  minDelta?: number;
}

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  /** Data to evaluate after each epoch, or a fraction of the training rows held out for it. */
  validation?: MultiTaskData | number;
  earlyStopping?: EarlyStoppingOptions | boolean;
  /** Called after each epoch (awaited when it returns a promise). */
  onEpoch?: (record: EpochRecord, net: MultiTaskNet) => void | Promise<void>;
  signal?: AbortSignal;
  /** Record per-epoch cosine similarities and norms of the tasks' shared-parameter gradients. */
  diagnostics?: boolean;
}

/** Metrics of one task: regression mse, mae, r2; binary and multiclass accuracy and logloss. */
export type TaskMetrics = Record<string, number> & { loss: number; n: number };

export interface GradientDiagnostics {
  /** cosine[s][t]: mean over steps of cos(g_s, g_t) of the shared-parameter gradients. */
  cosine: number[][];
  /** Fraction of steps with cos(g_s, g_t) < 0 (a conflict, in PCGrad's sense). */
  conflicts: number[][];
  /** Mean ||g_t|| over steps, by task name. */
  norms: Record<string, number>;
}

export interface EpochRecord {
  /** 0-based epoch index over the model's whole training (continues across fit calls). */
  epoch: number;
  /** Mean over tasks of the epoch's training losses. */
  loss: number;
  /** Each task's training loss (mean over its labelled rows of the epoch, with the parameters of each step). */
  taskLosses: Record<string, number>;
  /** Each task's strategy weight, averaged over the epoch's steps. */
  weights: Record<string, number>;
  /** Per-task metrics at the end of the epoch on the validation data if any, else on the training data (at most 4096 evenly spaced rows). */
  metrics: Record<string, TaskMetrics>;
  valLoss?: number;
  valTaskLosses?: Record<string, number>;
  lr: number;
  diagnostics?: GradientDiagnostics;
  /** Wall time of the epoch, and of its training steps alone. */
  seconds: number;
  trainSeconds: number;
}

export interface History {
  epochs: EpochRecord[];
  stoppedEarly: boolean;
  /** Epoch index whose parameters the model holds after restoreBest, if it restored. */
  bestEpoch?: number;
}

export interface Evaluation {
  /** Mean over tasks of the task losses. */
  loss: number;
  tasks: Record<string, TaskMetrics>;
  /** Multi-task gain in percent, when baselines were given. */
  deltaM?: number;
}

/** Direction of each metric: true when lower is better. */
const LOWER_IS_BETTER: Record<string, boolean> = { mse: true, mae: true, rmse: true, loss: true, logloss: true, r2: false, accuracy: false };

interface ResolvedTask {
  name: string;
  type: TaskType;
  /** Multiclass: the class labels, index = output column. */
  labels?: number[];
  head?: { hidden?: number[]; activation?: ActivationName };
}

interface NetConfig {
  inputSize: number;
  inputShape?: readonly [number, number, number];
  tasks: ResolvedTask[];
  architecture: ArchitectureOptions;
  weighting: string | Record<string, unknown>;
  optimizer: OptimizerOptions;
  seed: number;
  dtype: DType;
}

/** Prepared data: inputs and an n x T target matrix (NaN = missing, class index for multiclass). */
interface Prepared {
  X: Matrix<FloatArray>;
  Y: Matrix<FloatArray>;
  /** Labelled rows per task. */
  counts: Int32Array;
}

const KIND = 'MultiTaskNet';
const CHUNK = 4096;
const METRIC_ROWS = 4096;

function isStrategy(v: unknown): v is WeightingStrategy {
  return v !== null && typeof v === 'object' && typeof (v as WeightingStrategy).combine === 'function';
}

export class MultiTaskNet {
  readonly config: Readonly<NetConfig>;
  readonly spec: NetworkSpec;
  private readonly compiled: CompiledNetwork;
  private readonly handle: NetworkHandle<FloatArray>;
  private readonly owners: ParameterOwners;
  private readonly headCols: Int32Array;
  private params: FloatArray;
  private readonly optimizer: Optimizer;
  private readonly strategy: WeightingStrategy;
  private readonly rng: Rng;
  /** Batchnorm running statistics: training steps update them, predictions normalise with them. */
  private readonly norm: RunningNormStats;
  private epoch = 0;
  private stepCount = 0;
  /** The weights of the previous step: if a step's weights repeat them, one pass suffices. */
  private lastWeights: Float64Array;
  private weightsStable = true;
  private fitted = false;
  private busy = false;

  constructor(options: MultiTaskNetOptions) {
    const o = parseOptions<Required<MultiTaskNetOptions>>(KIND, options, {
      inputSize: num({ integer: true, min: 1 }),
      inputShape: custom(
        '[channels, height, width] of positive integers',
        (v) => Array.isArray(v) && v.length === 3 && v.every((x) => Number.isInteger(x) && x >= 1),
      ),
      tasks: custom('a non-empty array of tasks { name, type, classes?, head? }', (v) => Array.isArray(v) && v.length > 0),
      architecture: custom("an object { type, ... } or an architecture name", (v) => typeof v === 'string' || (v !== null && typeof v === 'object' && !Array.isArray(v))),
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
    if (o.architecture === undefined) throw new ConfigError(`${KIND}: option 'architecture' is required, e.g. { type: 'hard-sharing', shared: [64, 64] }`);
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
    this.handle = o.dtype === 'float32' ? k.network(this.spec, 'float32') : k.network(this.spec, 'float64');
    this.optimizer = createOptimizer(o.optimizer, { kernels: k });

    let weighting: string | Record<string, unknown>;
    if (isStrategy(o.weighting)) {
      this.strategy = o.weighting;
      weighting = { name: o.weighting.name, custom: true };
    } else {
      this.strategy = createStrategy(o.weighting as never) as WeightingStrategy;
      weighting = typeof o.weighting === 'string' ? o.weighting : { ...(o.weighting as Record<string, unknown>) };
    }
    this.strategy.init(tasks.length, this.owners.shared.length);

    this.rng = new Rng(o.seed);
    this.params = initParams(this.compiled, this.rng, o.dtype);
    this.norm = new RunningNormStats(this.compiled);
    this.lastWeights = new Float64Array(tasks.length).fill(1);
    this.config = { inputSize: o.inputSize, ...(shape ? { inputShape: shape } : {}), tasks, architecture, weighting, optimizer: { ...o.optimizer }, seed: o.seed, dtype: o.dtype };
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
    return this.epoch;
  }
  /** A copy of the flat parameter vector (layout: compileNetwork(net.spec).params). */
  getParams(): FloatArray {
    return this.params.slice();
  }
  /** Replace the parameters (same length and dtype), e.g. to start from given weights. */
  setParams(p: ArrayLike<number>): void {
    if (p.length !== this.params.length) throw new ShapeError(`${KIND}.setParams: got ${p.length} values, expected ${this.params.length}`);
    const next = allocate(this.config.dtype, p.length);
    for (let i = 0; i < p.length; i++) next[i] = p[i]!;
    for (let i = 0; i < next.length; i++) if (!Number.isFinite(next[i]!)) throw new ValueError(`${KIND}.setParams: value ${i} is ${next[i]}`);
    this.params = next;
  }
  /** Which task owns each parameter (-1 shared), and the shared / per-task index lists. */
  get parameterOwners(): ParameterOwners {
    return this.owners;
  }

  // ---------------------------------------------------------------------------------------------
  // training

  async fit(data: MultiTaskData, options: FitOptions = {}): Promise<History> {
    const o = parseOptions<Required<FitOptions>>(`${KIND}.fit`, options, {
      epochs: num({ integer: true, min: 1, default: 10 }),
      batchSize: num({ integer: true, min: 1, default: 32 }),
      shuffle: bool(true),
      validation: custom('a MultiTaskDataset, { X, Y } or a fraction in (0, 1)', (v) => (typeof v === 'number' ? v > 0 && v < 1 : v !== null && typeof v === 'object')),
      earlyStopping: custom('{ patience, monitor, restoreBest, minDelta } or a boolean', (v) => typeof v === 'boolean' || (v !== null && typeof v === 'object')),
      onEpoch: custom('a function', (v) => typeof v === 'function'),
      signal: custom('an AbortSignal', (v) => v !== null && typeof v === 'object' && typeof (v as AbortSignal).aborted === 'boolean'),
      diagnostics: bool(false),
    });
    if (this.busy) throw new ConfigError(`${KIND}.fit: this model is already training; await the running fit() first`);
    let train = this.prepare(data, 'training data');
    let val: Prepared | undefined;
    if (typeof o.validation === 'number') [train, val] = this.holdOut(train, o.validation);
    else if (o.validation !== undefined) val = this.prepare(o.validation as MultiTaskData, 'validation data');
    if (train.counts.every((c) => c === 0)) throw new ValueError(`${KIND}.fit: the training data has no labels for any task`);
    const es = resolveEarlyStopping(o.earlyStopping, val !== undefined);

    this.busy = true;
    try {
      return await this.runEpochs(train, val, o, es);
    } finally {
      this.busy = false;
    }
  }

  private async runEpochs(
    train: Prepared,
    val: Prepared | undefined,
    o: Required<FitOptions>,
    es: Required<EarlyStoppingOptions> | null,
  ): Promise<History> {
    const T = this.config.tasks.length;
    const P = this.compiled.paramCount;
    const S = this.owners.shared.length;
    const n = train.X.rows;
    const d = train.X.cols;
    const dtype = this.config.dtype;
    const bs = Math.min(o.batchSize, n);
    const yielder = new Yielder(o.signal);
    const needGrads = this.strategy.needsGradients;
    const diag = o.diagnostics;
    const grad = allocate(dtype, P);
    const G: Matrix<FloatArray> | null = needGrads || diag ? { rows: T, cols: P, data: allocate(dtype, T * P) } : null;
    const gShared: Matrix<Float64Array> | null = needGrads || diag ? { rows: T, cols: S, data: new Float64Array(T * S) } : null;
    const xFull = allocate(dtype, bs * d);
    const yFull = allocate(dtype, bs * T);
    const history: History = { epochs: [], stoppedEarly: false };
    let best = Infinity;
    let bestParams: FloatArray | null = null;
    let bestNorm: Float64Array | null = null;
    let bestEpoch = -1;
    let bad = 0;
    let metricRows: Prepared | undefined;

    for (let e = 0; e < o.epochs; e++) {
      const t0 = performance.now();
      const order = o.shuffle ? this.rng.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
      const lossSum = new Float64Array(T);
      const countSum = new Float64Array(T);
      const weightSum = new Float64Array(T);
      let steps = 0;
      const cos = diag ? new Float64Array(T * T) : null;
      const neg = diag ? new Float64Array(T * T) : null;
      const pairs = diag ? new Float64Array(T * T) : null;
      const normSum = diag ? new Float64Array(T) : null;
      const normCount = diag ? new Float64Array(T) : null;
      let trainMs = 0;

      for (let start = 0; start < n; start += bs) {
        await yielder.maybeYield();
        const s0 = performance.now();
        const nb = Math.min(bs, n - start);
        // Full batches reuse one pair of buffers; only a last, shorter batch allocates.
        const x = nb === bs ? xFull : allocate(dtype, nb * d);
        const y = nb === bs ? yFull : allocate(dtype, nb * T);
        const cnt = new Float64Array(T);
        for (let r = 0; r < nb; r++) {
          const i = order[start + r]!;
          x.set(train.X.data.subarray(i * d, (i + 1) * d), r * d);
          for (let t = 0; t < T; t++) {
            const v = train.Y.data[i * T + t]!;
            y[r * T + t] = v;
            if (v === v) cnt[t]!++;
          }
        }
        const masks = this.compiled.dropoutNodes.length > 0 ? dropoutMasks(this.compiled, this.rng, nb, dtype) : undefined;
        const batch = {
          x: { rows: nb, cols: d, data: x },
          y: { rows: nb, cols: T, data: y },
          ...(masks ? { masks } : {}),
          // Batchnorm trains on the batch's statistics and reports them for the running averages.
          ...(this.norm.active ? { stats: { batchOut: this.norm.batch } } : {}),
        };

        let losses: Float64Array;
        let res: StrategyResult;
        if (needGrads) {
          losses = this.handle.headGrads(this.params, batch, G!);
          this.gatherShared(G!, gShared!);
          res = this.strategy.combine({ losses, grads: gShared!, epoch: this.epoch, step: this.stepCount, rng: this.rng });
          this.checkResult(res, T, S);
          this.assemble(G!, res, grad);
        } else {
          // Loss-based strategies need this batch's losses before they can give its weights. When
          // the weights did not change last step (equal, fixed) assume they repeat and compute the
          // gradient in the same pass; otherwise take the losses from a forward pass first.
          const guess = this.lastWeights;
          if (this.weightsStable) {
            losses = this.handle.lossGrad(this.params, batch, guess, grad);
            res = this.strategy.combine({ losses, epoch: this.epoch, step: this.stepCount, rng: this.rng });
            this.checkResult(res, T, S);
            if (!sameWeights(res.weights, guess)) {
              this.handle.lossGrad(this.params, batch, res.weights, grad);
              this.weightsStable = false;
            }
          } else {
            losses = this.handle.lossGrad(this.params, batch, guess, null);
            res = this.strategy.combine({ losses, epoch: this.epoch, step: this.stepCount, rng: this.rng });
            this.checkResult(res, T, S);
            this.handle.lossGrad(this.params, batch, res.weights, grad);
            this.weightsStable = sameWeights(res.weights, guess);
          }
          if (res.shared) throw new ConfigError(`weighting '${this.strategy.name}' returned a shared direction but does not declare needsGradients`);
          if (diag) {
            this.handle.headGrads(this.params, batch, G!);
            this.gatherShared(G!, gShared!);
          }
        }
        this.lastWeights = Float64Array.from(res.weights);
        if (this.norm.active) this.norm.update(nb);
        // Checking the T losses (not the P gradient entries) keeps this O(T) per step; a diverged
        // run shows up in its losses first.
        if (!losses.every(Number.isFinite)) {
          throw new ValueError(`${KIND}.fit: a task loss became non-finite at epoch ${this.epoch}, step ${this.stepCount} (losses ${Array.from(losses).join(', ')}); lower the learning rate or check the data`);
        }
        this.optimizer.step(this.params, grad);
        this.stepCount++;
        steps++;
        for (let t = 0; t < T; t++) {
          lossSum[t]! += losses[t]! * cnt[t]!;
          countSum[t]! += cnt[t]!;
          weightSum[t]! += res.weights[t]!;
        }
        if (diag) accumulateDiagnostics(gShared!, cos!, neg!, pairs!, normSum!, normCount!);
        trainMs += performance.now() - s0;
      }

      const taskLoss = Float64Array.from(lossSum, (s, t) => (countSum[t]! > 0 ? s / countSum[t]! : NaN));
      this.strategy.onEpochEnd?.(taskLoss, this.epoch);
      this.fitted = true;
      const names = this.taskNames;
      // Without validation data, metrics come from a fixed subsample of the training rows (every
      // k-th row, at most METRIC_ROWS), so they cost a small part of an epoch and no randomness.
      const ev = this.evaluatePrepared(val ?? (metricRows ??= subsample(train, METRIC_ROWS)));
      const trainLoss = meanDefined(taskLoss);
      const record: EpochRecord = {
        epoch: this.epoch,
        loss: trainLoss,
        taskLosses: byName(names, taskLoss),
        weights: byName(names, Float64Array.from(weightSum, (w) => w / Math.max(1, steps))),
        metrics: ev.tasks,
        lr: this.optimizer.lr,
        seconds: 0,
        trainSeconds: trainMs / 1000,
      };
      if (val) {
        record.valLoss = ev.loss;
        record.valTaskLosses = Object.fromEntries(names.map((nm) => [nm, ev.tasks[nm]!.loss]));
      }
      if (diag) record.diagnostics = finishDiagnostics(names, cos!, neg!, pairs!, normSum!, normCount!);
      const monitorValue = val ? ev.loss : trainLoss;
      this.optimizer.epochEnd(monitorValue);
      this.epoch++;
      record.seconds = (performance.now() - t0) / 1000;
      history.epochs.push(record);
      if (o.onEpoch) await o.onEpoch(record, this);

      if (es) {
        const m = es.monitor === 'val_loss' ? record.valLoss! : record.loss;
        if (m < best - es.minDelta) {
          best = m;
          bad = 0;
          bestEpoch = record.epoch;
          if (es.restoreBest) {
            bestParams = this.params.slice();
            bestNorm = this.norm.values.slice();
          }
        } else if (++bad >= es.patience) {
          history.stoppedEarly = true;
          break;
        }
      }
    }
    if (es?.restoreBest && bestParams && bestEpoch !== this.epoch - 1) {
      this.params = bestParams;
      if (bestNorm) this.norm.restore(bestNorm, KIND);
      history.bestEpoch = bestEpoch;
    }
    return history;
  }

  /** The T x S matrix of shared-parameter gradients, in float64 for the strategies. */
  private gatherShared(G: Matrix<FloatArray>, out: Matrix<Float64Array>): void {
    const sh = this.owners.shared;
    const P = G.cols;
    const S = sh.length;
    for (let t = 0; t < G.rows; t++) {
      const src = t * P;
      const dst = t * S;
      for (let k = 0; k < S; k++) out.data[dst + k] = G.data[src + sh[k]!]!;
    }
  }

  /** grad = the strategy's direction on shared parameters, w_t g_t on task t's own parameters. */
  private assemble(G: Matrix<FloatArray>, res: StrategyResult, grad: FloatArray): void {
    const P = G.cols;
    const w = res.weights;
    const sh = this.owners.shared;
    if (res.shared) {
      for (let k = 0; k < sh.length; k++) grad[sh[k]!] = res.shared[k]!;
    } else {
      for (let k = 0; k < sh.length; k++) {
        const i = sh[k]!;
        let s = 0;
        for (let t = 0; t < G.rows; t++) s += w[t]! * G.data[t * P + i]!;
        grad[i] = s;
      }
    }
    this.owners.own.forEach((idx, t) => {
      const wt = w[t]!;
      for (let k = 0; k < idx.length; k++) grad[idx[k]!] = wt * G.data[t * P + idx[k]!]!;
    });
  }

  private checkResult(res: StrategyResult, T: number, S: number): void {
    if (!res || !(res.weights instanceof Float64Array || Array.isArray(res.weights)) || res.weights.length !== T) {
      throw new ConfigError(`weighting '${this.strategy.name}' must return { weights } with ${T} values`);
    }
    if (res.shared !== undefined && res.shared.length !== S) {
      throw new ConfigError(`weighting '${this.strategy.name}' returned a shared direction of length ${res.shared.length}, expected ${S}`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // inference

  /**
   * Predictions by task name: a Float32Array (Float64Array with dtype float64) of n values for a
   * regression task, of probabilities for a binary task; an n x C Matrix of class probabilities
   * for a multiclass task (columns in the order of the task's classes).
   */
  predict(X: unknown): Record<string, FloatArray | Matrix<FloatArray>> {
    if (!this.fitted) throw new NotFittedError(KIND, 'predict');
    const x = this.inputs(X, 'X');
    const out = this.forwardAll(x);
    const W = out.cols;
    const res: Record<string, FloatArray | Matrix<FloatArray>> = {};
    this.config.tasks.forEach((task, t) => {
      const c0 = this.headCols[t]!;
      const C = this.headCols[t + 1]! - c0;
      if (task.type === 'multiclass') {
        const p = allocate(this.config.dtype, x.rows * C);
        for (let i = 0; i < x.rows; i++) softmaxRow(out.data, i * W + c0, C, p, i * C);
        res[task.name] = { rows: x.rows, cols: C, data: p };
      } else {
        const v = allocate(this.config.dtype, x.rows);
        for (let i = 0; i < x.rows; i++) {
          const z = out.data[i * W + c0]!;
          v[i] = task.type === 'binary' ? sigmoid(z) : z;
        }
        res[task.name] = v;
      }
    });
    return res;
  }

  /**
   * Per-task metrics on labelled rows; with `baselines` (single-task metrics by task name, e.g. from
   * evaluate() of single-task nets) also Delta_m over every metric the baselines give.
   */
  evaluate(data: MultiTaskData, options: { baselines?: Record<string, Record<string, number>> } = {}): Evaluation {
    if (!this.fitted) throw new NotFittedError(KIND, 'evaluate');
    const o = parseOptions<{ baselines?: Record<string, Record<string, number>> }>(`${KIND}.evaluate`, options, {
      baselines: custom('an object { taskName: { metric: value } }', (v) => v !== null && typeof v === 'object' && !Array.isArray(v)),
    });
    const ev = this.evaluatePrepared(this.prepare(data, 'evaluation data'));
    if (o.baselines) ev.deltaM = deltaM(ev.tasks, o.baselines);
    return ev;
  }

  private evaluatePrepared(p: Prepared): Evaluation {
    const out = this.forwardAll(p.X);
    const W = out.cols;
    const T = this.config.tasks.length;
    const tasks: Record<string, TaskMetrics> = {};
    const losses: number[] = [];
    this.config.tasks.forEach((task, t) => {
      const c0 = this.headCols[t]!;
      const C = this.headCols[t + 1]! - c0;
      const yt: number[] = [];
      const rows: number[] = [];
      for (let i = 0; i < p.X.rows; i++) {
        const v = p.Y.data[i * T + t]!;
        if (v === v) {
          yt.push(v);
          rows.push(i);
        }
      }
      const m = taskMetrics(task.type, out.data, W, c0, C, rows, yt);
      tasks[task.name] = m;
      if (m.n > 0) losses.push(m.loss);
    });
    return { loss: losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : NaN, tasks };
  }

  /** Raw head outputs for all rows, in chunks to bound memory. */
  private forwardAll(x: Matrix<FloatArray>): Matrix<FloatArray> {
    const W = this.headCols[this.headCols.length - 1]!;
    const out = allocate(this.config.dtype, x.rows * W);
    const d = x.cols;
    for (let s = 0; s < x.rows; s += CHUNK) {
      const nb = Math.min(CHUNK, x.rows - s);
      const xb = { rows: nb, cols: d, data: x.data.subarray(s * d, (s + nb) * d) as FloatArray };
      // Predictions normalise with the running statistics: a row's output is its own.
      const r = this.handle.forward(this.params, { x: xb, ...(this.norm.active ? { stats: { running: this.norm.running(this.config.dtype) } } : {}) });
      out.set(r.data, s * W);
    }
    return { rows: x.rows, cols: W, data: out };
  }

  // ---------------------------------------------------------------------------------------------
  // data

  private inputs(X: unknown, name: string): Matrix<FloatArray> {
    const x = toMatrix(X, name, { dtype: this.config.dtype });
    if (x.cols !== this.config.inputSize) {
      throw new ShapeError(`${KIND}: ${name} has ${x.cols} columns, but the network was built with inputSize ${this.config.inputSize}`);
    }
    return x;
  }

  /** Normalise either data shape into X and an n x T target matrix with NaN for missing labels. */
  private prepare(data: MultiTaskData, what: string): Prepared {
    const tasks = this.config.tasks;
    const T = tasks.length;
    const index = new Map(tasks.map((t, i) => [t.name, i]));
    const dtype = this.config.dtype;
    if (data instanceof MultiTaskDataset || (data !== null && typeof data === 'object' && Array.isArray((data as unknown as MultiTaskDataset).tasks))) {
      const ds = data as MultiTaskDataset;
      const cols = ds.tasks.map((dt) => {
        const t = index.get(dt.name);
        if (t === undefined) throw new ValueError(`${KIND}: ${what} has task '${dt.name}', which the network does not have; its tasks: ${this.taskNames.map((s) => `'${s}'`).join(', ')}`);
        if (dt.type !== tasks[t]!.type) throw new ValueError(`${KIND}: task '${dt.name}' is ${tasks[t]!.type} in the network but ${dt.type} in the ${what}`);
        return t;
      });
      if (ds.shared) {
        const X = this.inputs(ds.shared.X, `X of the ${what}`);
        const Y = allocate(dtype, X.rows * T).fill(NaN);
        const src = ds.shared.Y;
        cols.forEach((t, j) => {
          const missingClass = tasks[t]!.type !== 'regression';
          for (let i = 0; i < X.rows; i++) {
            const v = src.data[i * src.cols + j]!;
            if (Number.isNaN(v) || (missingClass && v === -1)) continue;
            Y[i * T + t] = this.label(t, v, i, what);
          }
        });
        return { X, Y: { rows: X.rows, cols: T, data: Y }, counts: countLabels(Y, T) };
      }
      const n = ds.tasks.reduce((s, dt) => s + dt.X.rows, 0);
      const d = ds.tasks[0]!.X.cols;
      if (d !== this.config.inputSize) throw new ShapeError(`${KIND}: the ${what} has ${d} features, but the network was built with inputSize ${this.config.inputSize}`);
      const X = allocate(dtype, n * d);
      const Y = allocate(dtype, n * T).fill(NaN);
      let r = 0;
      ds.tasks.forEach((dt, j) => {
        const t = cols[j]!;
        X.set(dt.X.data, r * d);
        for (let i = 0; i < dt.X.rows; i++) Y[(r + i) * T + t] = this.label(t, dt.y[i]!, i, what);
        r += dt.X.rows;
      });
      return { X: { rows: n, cols: d, data: X }, Y: { rows: n, cols: T, data: Y }, counts: countLabels(Y, T) };
    }
    if (data !== null && typeof data === 'object' && 'X' in data && 'Y' in data) {
      const X = this.inputs(data.X, `X of the ${what}`);
      const Yin = toMatrix(data.Y, `Y of the ${what}`, { allowNaN: true });
      if (Yin.rows !== X.rows) throw new ShapeError(`${KIND}: the ${what} has ${X.rows} rows in X but ${Yin.rows} in Y`);
      if (Yin.cols !== T) throw new ShapeError(`${KIND}: Y of the ${what} has ${Yin.cols} columns, expected one per task (${T})`);
      const Y = allocate(dtype, X.rows * T).fill(NaN);
      for (let i = 0; i < X.rows; i++) {
        for (let t = 0; t < T; t++) {
          const v = Yin.data[i * T + t]!;
          if (Number.isNaN(v) || (tasks[t]!.type !== 'regression' && v === -1)) continue;
          Y[i * T + t] = this.label(t, v, i, what);
        }
      }
      return { X, Y: { rows: X.rows, cols: T, data: Y }, counts: countLabels(Y, T) };
    }
    throw new ValueError(`${KIND}: the ${what} must be a MultiTaskDataset or { X, Y }, got ${describe(data)}`);
  }

  /** The target value the kernel sees: the value (regression), 0/1 (binary), the class index. */
  private label(t: number, v: number, row: number, what: string): number {
    const task = this.config.tasks[t]!;
    if (task.type === 'regression') return v;
    if (task.type === 'binary') {
      if (v !== 0 && v !== 1) throw new ValueError(`${KIND}: binary task '${task.name}' has label ${v} at row ${row} of the ${what}; expected 0, 1 (or -1 / NaN for missing)`);
      return v;
    }
    const c = task.labels!.indexOf(v);
    if (c < 0) throw new ValueError(`${KIND}: multiclass task '${task.name}' has label ${v} at row ${row} of the ${what}; expected one of ${task.labels!.join(', ')} (or -1 / NaN for missing)`);
    return c;
  }

  /** Hold out the last `fraction` of a fixed permutation (drawn from the seed, not the training RNG). */
  private holdOut(p: Prepared, fraction: number): [Prepared, Prepared] {
    const n = p.X.rows;
    const nVal = Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
    const perm = new Rng(this.config.seed ^ 0x5eed).permutation(n);
    const pick = (idx: Int32Array): Prepared => {
      const d = p.X.cols;
      const T = p.Y.cols;
      const X = allocate(this.config.dtype, idx.length * d);
      const Y = allocate(this.config.dtype, idx.length * T);
      idx.forEach((i, r) => {
        X.set(p.X.data.subarray(i * d, (i + 1) * d), r * d);
        Y.set(p.Y.data.subarray(i * T, (i + 1) * T), r * T);
      });
      return { X: { rows: idx.length, cols: d, data: X }, Y: { rows: idx.length, cols: T, data: Y }, counts: countLabels(Y, T) };
    };
    return [pick(perm.slice(nVal).sort()), pick(perm.slice(0, nVal).sort())];
  }

  // ---------------------------------------------------------------------------------------------
  // save / load

  /** The versioned model document: config, parameters, optimizer, strategy and RNG state. */
  toJSON(): ModelDocument {
    const state = {
      params: this.params.slice(),
      optimizer: this.optimizer.getState(),
      strategy: this.strategy.getState(),
      rng: this.rng.getState(),
      epoch: this.epoch,
      step: this.stepCount,
      lastWeights: this.lastWeights,
      weightsStable: this.weightsStable,
      fitted: this.fitted,
      ...(this.norm.active ? { normStats: this.norm.values.slice() } : {}),
    };
    return toDocument(KIND, this.config, state);
  }

  /** Rebuild a model from toJSON()'s document; pass `weighting` for a custom strategy object. */
  static fromJSON(doc: unknown, options: { weighting?: WeightingStrategy } = {}): MultiTaskNet {
    const { config, state } = fromDocument(doc, KIND);
    const c = config as NetConfig;
    if (!c || typeof c !== 'object' || !Array.isArray(c.tasks) || !state || typeof state !== 'object') throw new FormatError(`${KIND} model file: config or state is missing`);
    let weighting: WeightingOption | undefined = options.weighting;
    if (!weighting) {
      if (typeof c.weighting === 'object' && c.weighting !== null && c.weighting.custom) {
        throw new FormatError(`${KIND} model file: it was trained with a custom weighting strategy '${String(c.weighting.name)}'; pass it as load(path, { weighting })`);
      }
      weighting = c.weighting as WeightingOption;
    }
    const tasks: MultiTaskNetTask[] = c.tasks.map((t) => ({
      name: t.name,
      type: t.type,
      ...(t.labels ? { classes: t.labels } : {}),
      ...(t.head ? { head: t.head } : {}),
    }));
    let net: MultiTaskNet;
    try {
      net = new MultiTaskNet({ inputSize: c.inputSize, ...(c.inputShape ? { inputShape: c.inputShape } : {}), tasks, architecture: c.architecture, weighting, optimizer: c.optimizer, seed: c.seed, dtype: c.dtype });
    } catch (err) {
      if (err instanceof ConfigError) throw new FormatError(`${KIND} model file: its config is not valid here: ${err.message}`);
      throw err;
    }
    const s = state as Record<string, unknown>;
    const Arr = c.dtype === 'float64' ? Float64Array : Float32Array;
    if (!(s.params instanceof Arr) || s.params.length !== net.params.length) {
      throw new FormatError(`${KIND} model file: 'params' must be a ${Arr.name} of length ${net.params.length}`);
    }
    net.params = s.params;
    net.optimizer.setState(s.optimizer);
    net.strategy.setState(s.strategy);
    if (!Array.isArray(s.rng)) throw new FormatError(`${KIND} model file: 'rng' state is missing`);
    net.rng.setState(s.rng as number[]);
    net.epoch = Number(s.epoch) || 0;
    net.stepCount = Number(s.step) || 0;
    if (s.lastWeights instanceof Float64Array && s.lastWeights.length === tasks.length) net.lastWeights = s.lastWeights;
    net.weightsStable = s.weightsStable !== false;
    net.fitted = s.fitted === true;
    if (net.norm.active) net.norm.restore(s.normStats, `${KIND} model file`);
    return net;
  }

  async save(path: string): Promise<void> {
    await saveDocument(path, this.toJSON());
  }

  static async load(path: string, options: { weighting?: WeightingStrategy } = {}): Promise<MultiTaskNet> {
    return MultiTaskNet.fromJSON(await readDocument(path), options);
  }
}

// -----------------------------------------------------------------------------------------------
// helpers

function resolveTasks(input: unknown[]): ResolvedTask[] {
  const seen = new Set<string>();
  return input.map((raw, i) => {
    const where = `${KIND}: tasks[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where} must be an object { name, type, classes?, head? }, got ${describe(raw)}`);
    const t = raw as Record<string, unknown>;
    for (const k of Object.keys(t)) {
      if (!['name', 'type', 'classes', 'head'].includes(k)) throw new ConfigError(`${where}: unknown option '${k}'; known options: name, type, classes, head`);
    }
    if (typeof t.name !== 'string' || t.name === '') throw new ConfigError(`${where}: 'name' must be a non-empty string, got ${describe(t.name)}`);
    if (seen.has(t.name)) throw new ConfigError(`${where}: duplicate task name '${t.name}'`);
    seen.add(t.name);
    if (t.type !== 'regression' && t.type !== 'binary' && t.type !== 'multiclass') {
      throw new ConfigError(`${where} ('${t.name}'): type must be 'regression', 'binary' or 'multiclass', got ${describe(t.type)}`);
    }
    const out: ResolvedTask = { name: t.name, type: t.type };
    if (t.type === 'multiclass') {
      const c = t.classes;
      if (typeof c === 'number' && Number.isInteger(c) && c >= 2) out.labels = Array.from({ length: c }, (_, k) => k);
      else if (Array.isArray(c) && c.length >= 2 && c.every((v) => Number.isInteger(v) && v >= 0) && new Set(c).size === c.length) out.labels = [...(c as number[])];
      else throw new ConfigError(`${where} ('${t.name}'): a multiclass task needs classes, a count >= 2 or a list of distinct non-negative integer labels, got ${describe(c)}`);
    } else if (t.classes !== undefined) {
      throw new ConfigError(`${where} ('${t.name}'): classes applies only to multiclass tasks`);
    }
    if (t.head !== undefined) out.head = t.head as ResolvedTask['head'];
    return out;
  });
}

function resolveEarlyStopping(v: unknown, hasVal: boolean): Required<EarlyStoppingOptions> | null {
  if (v === undefined || v === false) return null;
  const o = parseOptions<Required<EarlyStoppingOptions>>(`${KIND}.fit: earlyStopping`, v === true ? {} : v, {
    patience: num({ integer: true, min: 1, default: 5 }),
    monitor: oneOf(['loss', 'val_loss'] as const, hasVal ? 'val_loss' : 'loss'),
    restoreBest: bool(true),
    minDelta: num({ min: 0, default: 0 }),
  });
  if (o.monitor === 'val_loss' && !hasVal) throw new ConfigError(`${KIND}.fit: earlyStopping monitors 'val_loss' but no validation data was given`);
  return o;
}

function subsample(p: Prepared, max: number): Prepared {
  if (p.X.rows <= max) return p;
  const d = p.X.cols;
  const T = p.Y.cols;
  const X = new (p.X.data.constructor as new (n: number) => FloatArray)(max * d);
  const Y = new (p.Y.data.constructor as new (n: number) => FloatArray)(max * T);
  for (let r = 0; r < max; r++) {
    const i = Math.floor((r * p.X.rows) / max);
    X.set(p.X.data.subarray(i * d, (i + 1) * d), r * d);
    Y.set(p.Y.data.subarray(i * T, (i + 1) * T), r * T);
  }
  return { X: { rows: max, cols: d, data: X }, Y: { rows: max, cols: T, data: Y }, counts: countLabels(Y, T) };
}

function countLabels(Y: FloatArray, T: number): Int32Array {
  const c = new Int32Array(T);
  for (let i = 0; i < Y.length; i++) if (Y[i] === Y[i]) c[i % T]!++;
  return c;
}

function sameWeights(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function byName(names: string[], v: ArrayLike<number>): Record<string, number> {
  return Object.fromEntries(names.map((n, i) => [n, v[i]!]));
}

function meanDefined(v: Float64Array): number {
  let s = 0;
  let k = 0;
  for (const x of v) if (x === x) (s += x), k++;
  return k ? s / k : NaN;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

function softmaxRow(src: FloatArray, s0: number, C: number, dst: FloatArray, d0: number): void {
  let m = -Infinity;
  for (let c = 0; c < C; c++) m = Math.max(m, src[s0 + c]!);
  let z = 0;
  for (let c = 0; c < C; c++) z += Math.exp(src[s0 + c]! - m);
  for (let c = 0; c < C; c++) dst[d0 + c] = Math.exp(src[s0 + c]! - m) / z;
}

/** Metrics of one task from raw outputs; the loss is the training loss (mse, or cross-entropy from logits). */
function taskMetrics(type: TaskType, out: FloatArray, W: number, c0: number, C: number, rows: number[], y: number[]): TaskMetrics {
  const n = rows.length;
  if (n === 0) return { loss: NaN, n: 0 } as TaskMetrics;
  if (type === 'regression') {
    let se = 0;
    let ae = 0;
    let mean = 0;
    for (const v of y) mean += v;
    mean /= n;
    let ss = 0;
    rows.forEach((i, k) => {
      const e = out[i * W + c0]! - y[k]!;
      se += e * e;
      ae += Math.abs(e);
      ss += (y[k]! - mean) ** 2;
    });
    const mse = se / n;
    return { loss: mse, n, mse, mae: ae / n, r2: ss > 0 ? 1 - se / ss : se === 0 ? 1 : 0 } as TaskMetrics;
  }
  let ll = 0;
  let correct = 0;
  rows.forEach((i, k) => {
    const base = i * W + c0;
    if (type === 'binary') {
      const z = out[base]!;
      ll += softplus(z) - y[k]! * z;
      if ((z > 0 ? 1 : 0) === y[k]) correct++;
    } else {
      let m = -Infinity;
      let arg = 0;
      for (let c = 0; c < C; c++) if (out[base + c]! > m) (m = out[base + c]!), (arg = c);
      let z = 0;
      for (let c = 0; c < C; c++) z += Math.exp(out[base + c]! - m);
      ll += m + Math.log(z) - out[base + y[k]!]!;
      if (arg === y[k]) correct++;
    }
  });
  return { loss: ll / n, n, logloss: ll / n, accuracy: correct / n } as TaskMetrics;
}

/** Delta_m of Maninis et al. 2019 in percent over the metrics the baselines give. */
function deltaM(tasks: Record<string, TaskMetrics>, baselines: Record<string, Record<string, number>>): number {
  let total = 0;
  let nTasks = 0;
  for (const [name, base] of Object.entries(baselines)) {
    const mine = tasks[name];
    if (!mine) throw new ValueError(`${KIND}.evaluate: baselines name task '${name}', which the network does not have`);
    if (base === null || typeof base !== 'object') throw new ValueError(`${KIND}.evaluate: baselines['${name}'] must be an object of metrics, got ${describe(base)}`);
    let s = 0;
    let k = 0;
    for (const [metric, b] of Object.entries(base)) {
      if (!(metric in LOWER_IS_BETTER) || metric === 'loss' && 'mse' in base) continue;
      const m = mine[metric];
      if (typeof m !== 'number' || typeof b !== 'number' || !Number.isFinite(b) || b === 0) continue;
      const sign = LOWER_IS_BETTER[metric] ? -1 : 1;
      s += (sign * (m - b)) / Math.abs(b);
      k++;
    }
    if (k === 0) throw new ValueError(`${KIND}.evaluate: baselines['${name}'] has no usable metric (known: ${Object.keys(LOWER_IS_BETTER).join(', ')}, non-zero)`);
    total += s / k;
    nTasks++;
  }
  if (nTasks === 0) throw new ValueError(`${KIND}.evaluate: baselines is empty`);
  return (100 * total) / nTasks;
}

function accumulateDiagnostics(g: Matrix<Float64Array>, cos: Float64Array, neg: Float64Array, pairs: Float64Array, normSum: Float64Array, normCount: Float64Array): void {
  const T = g.rows;
  const S = g.cols;
  const norms = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let k = 0; k < S; k++) s += g.data[t * S + k]! ** 2;
    norms[t] = Math.sqrt(s);
    // A task without labels in the batch has a zero gradient: it says nothing about conflicts.
    if (norms[t]! > 0) {
      normSum[t]! += norms[t]!;
      normCount[t]!++;
    }
  }
  for (let a = 0; a < T; a++) {
    for (let b = a; b < T; b++) {
      if (!(norms[a]! > 0 && norms[b]! > 0)) continue;
      let dot = 0;
      for (let k = 0; k < S; k++) dot += g.data[a * S + k]! * g.data[b * S + k]!;
      const c = dot / (norms[a]! * norms[b]!);
      for (const [i, j] of [[a, b], [b, a]] as const) {
        cos[i * T + j]! += c;
        if (c < 0) neg[i * T + j]!++;
        pairs[i * T + j]!++;
        if (a === b) break;
      }
    }
  }
}

function finishDiagnostics(names: string[], cos: Float64Array, neg: Float64Array, pairs: Float64Array, normSum: Float64Array, normCount: Float64Array): GradientDiagnostics {
  const T = names.length;
  const mat = (src: Float64Array) => Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => (pairs[i * T + j]! > 0 ? src[i * T + j]! / pairs[i * T + j]! : NaN)));
  return {
    cosine: mat(cos),
    conflicts: mat(neg),
    norms: byName(names, Float64Array.from(normSum, (s, t) => (normCount[t]! > 0 ? s / normCount[t]! : NaN))),
  };
}

