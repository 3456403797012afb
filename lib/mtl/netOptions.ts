/**
 * MultiTaskNet's public types (options, tasks, prediction types, epoch records) and the checks
 * that turn the options into the configuration the net holds: tasks resolved, the weighting
 * recognised as a registered name or a user's strategy object.
 */
import { ConfigError } from '../core/errors.js';
import type { Evaluation, Labels, Progress, RemoteOptions, TaskMetrics } from '../core/estimator.js';
import { describe, type DType, type FloatArray, type Matrix } from '../core/matrix.js';
import type { OptimizerOptions } from '../nn/optim.js';
import { didYouMean, unknownName } from '../core/suggest.js';
import type { MultiTaskDataset } from '../data/dataset.js';
import type { ActivationName } from '../kernels/types.js';
import type { ArchitectureOptions, ArchitectureType, TaskType } from './architectures.js';
import { knownStrategies } from './weighting/registry.js';
import type { WeightingStrategy } from './weighting/strategy.js';

/** The name errors and model files give the net. */
export const KIND = 'MultiTaskNet';

/** One task of a MultiTaskNet: its name (the key of its predictions) and type. */
export interface MultiTaskNetTask<N extends string = string, K extends TaskType = TaskType> {
  name: N;
  type: K;
  /** Multiclass: the number of classes C (labels 0..C-1) or the list of class labels. */
  classes?: number | readonly number[];
  /** This task's tower: hidden widths before its output layer (default: none). */
  head?: { hidden?: readonly number[]; activation?: ActivationName };
}

/** The value array of a network of this dtype: Float32Array (the default) or Float64Array. */
export type ValuesOf<D extends DType> = D extends 'float64' ? Float64Array : Float32Array;

/** What predict gives for a task of type K: values (regression) or labels (classification). */
export type PredictionOf<K extends TaskType, A extends FloatArray = Float32Array> = K extends 'regression' ? A : Labels;

/** What predictProba gives for a task of type K: P(y = 1) (binary) or an n x C Matrix (multiclass). */
export type ProbabilityOf<K extends TaskType, A extends FloatArray = Float32Array> = K extends 'binary' ? A : K extends 'multiclass' ? Matrix<A> : never;

/**
 * predict's result: one entry per task, keyed by name, typed by the task's type, so that with
 * tasks [{ name: 'score', type: 'regression' }] `net.predict(X).score` is a Float32Array.
 */
export type TaskPredictions<Ts extends readonly MultiTaskNetTask[] = readonly MultiTaskNetTask[], A extends FloatArray = Float32Array> = {
  [T in Ts[number] as T['name']]: PredictionOf<T['type'], A>;
};

/** predictProba's result: one entry per classification task, keyed by name. */
export type TaskProbabilities<Ts extends readonly MultiTaskNetTask[] = readonly MultiTaskNetTask[], A extends FloatArray = Float32Array> = {
  [T in Ts[number] as T['type'] extends 'regression' ? never : T['name']]: ProbabilityOf<T['type'], A>;
};

/** A registry name, { type (or name), ...options } (see lib/mtl/weighting/registry.ts), or your own strategy. */
export type WeightingOption = string | ({ type?: string; name?: string } & Record<string, unknown>) | WeightingStrategy;

export interface MultiTaskNetOptions<Ts extends readonly MultiTaskNetTask[] = readonly MultiTaskNetTask[], D extends DType = DType> {
  /** The number of input features. Give this or inputShape. */
  inputSize?: number;
  /**
   * [channels, height, width] when the rows of X are images (NCHW, C x H x W columns), instead
   * of inputSize; needed by a convolutional trunk (architecture.trunk, e.g. { type: 'conv4' }).
   */
  inputShape?: readonly [number, number, number];
  /** The tasks, each with a head of its own: [{ name, type, classes?, head? }]. */
  tasks: Ts;
  /**
   * How the tasks share the network: a type name or { type, ...options } (see ArchitectureOptions).
   * Default 'hard-sharing' (a shared trunk of [64, 64] and one output layer per task, the baseline
   * of most papers).
   */
  architecture?: ArchitectureOptions | ArchitectureType;
  /** Registry name, { name, ...options }, or your own WeightingStrategy. Default 'equal'. */
  weighting?: WeightingOption;
  /** Default { type: 'adam', lr: 1e-3 }. */
  optimizer?: OptimizerOptions;
  /** Seeds initialisation, shuffles, dropout and random strategies. Default 0. */
  seed?: number;
  /** Parameter and batch dtype. Default 'float32' (float64 for gradient checks). */
  dtype?: D;
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

/** MultiTaskNet's progress record: one per epoch (step = epochs done in this fit, of total). */
export interface MultiTaskNetProgress extends Progress {
  /** The epoch's index over the model's whole training (as EpochRecord.epoch). */
  epoch: number;
  /** The epoch's validation loss, when there is validation data. */
  valLoss?: number;
}

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

export interface MultiTaskEvaluation extends Evaluation {
  /** Multi-task gain in percent, when baselines were given. */
  deltaM?: number;
}

/** Options of MultiTaskNet.evaluate. */
export interface MultiTaskEvaluateOptions extends RemoteOptions {
  /** Single-task metrics by task name (e.g. evaluate() of single-task nets): adds deltaM. */
  baselines?: Record<string, Record<string, number>>;
}

/** A task as the net holds it (classes resolved to labels). */
export interface ResolvedTask {
  name: string;
  type: TaskType;
  /** Multiclass: the class labels, index = output column. */
  labels?: number[];
  head?: { hidden?: number[]; activation?: ActivationName };
}

/** The net's configuration as it holds and saves it (defaults filled in). */
export interface NetConfig {
  inputSize: number;
  /** Image inputs: [channels, height, width] (inputSize is their product). */
  inputShape?: readonly [number, number, number];
  tasks: ResolvedTask[];
  architecture: ArchitectureOptions;
  weighting: string | Record<string, unknown>;
  optimizer: OptimizerOptions;
  seed: number;
  dtype: DType;
}

export function isStrategy(v: unknown): v is WeightingStrategy {
  return v !== null && typeof v === 'object' && typeof (v as WeightingStrategy).combine === 'function';
}

/** Whether a saved weighting is the record of a user's strategy object (which cannot be rebuilt). */
export function isCustom(w: unknown): boolean {
  return typeof w === 'object' && w !== null && (w as { custom?: unknown }).custom === true;
}

/** A weighting given by name (or { type | name }) must be a registered strategy. */
export function checkStrategyName(w: unknown): void {
  const name = typeof w === 'string' ? w : w !== null && typeof w === 'object' ? ((w as { type?: unknown; name?: unknown }).type ?? (w as { name?: unknown }).name) : undefined;
  if (typeof name === 'string' && !knownStrategies().includes(name)) throw new ConfigError(unknownName(`${KIND}: weighting`, 'strategy', name, knownStrategies(), 'strategies'));
}

export function resolveTasks(input: readonly unknown[]): ResolvedTask[] {
  const seen = new Set<string>();
  return input.map((raw, i) => {
    const where = `${KIND}: tasks[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where} must be an object { name, type, classes?, head? }, got ${describe(raw)}`);
    const t = raw as Record<string, unknown>;
    for (const k of Object.keys(t)) {
      if (!['name', 'type', 'classes', 'head'].includes(k)) throw new ConfigError(`${where}: unknown option '${k}'${didYouMean(k, ['name', 'type', 'classes', 'head'])}; known options: name, type, classes, head`);
    }
    if (typeof t.name !== 'string' || t.name === '') throw new ConfigError(`${where}: 'name' must be a non-empty string, got ${describe(t.name)}`);
    if (seen.has(t.name)) throw new ConfigError(`${where}: duplicate task name '${t.name}'`);
    seen.add(t.name);
    if (t.type !== 'regression' && t.type !== 'binary' && t.type !== 'multiclass') {
      throw new ConfigError(`${where} ('${t.name}'): type must be 'regression', 'binary' or 'multiclass', got ${describe(t.type)}${didYouMean(t.type, ['regression', 'binary', 'multiclass'])}`);
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
    if (t.head !== undefined) {
      const h = t.head as MultiTaskNetTask['head'] & object;
      out.head = h !== null && typeof h === 'object' && Array.isArray(h.hidden) ? { ...h, hidden: [...h.hidden] } : (h as ResolvedTask['head']);
    }
    return out;
  });
}
