/**
 * The contract every model of metatask follows (docs/models.md has it as a table):
 *
 * - `fit(data, options?)` returns a Promise of the model itself; what the fit recorded step by
 *   step is on `model.history`. Options always include `signal` (an AbortSignal: the fit rejects
 *   with an AbortError and the model keeps its previous state) and `onProgress`, called with one
 *   record shape, {@link Progress}, by every model (models add fields of their own to it).
 * - `predict` gives values for regression and labels (Int32Array) for classification, in one shape
 *   per data layout: one shared X gives an n x T Matrix; a model of one task, or a per-task model
 *   asked about one task, gives that task's vector; a MultiTaskNet gives an object keyed by task.
 * - `predictProba` on every classifier: P(y = 1) per row for a binary task, an n x C Matrix of
 *   class probabilities (columns in the order of the classes) for a multiclass one.
 * - `score` is higher-is-better everywhere: R^2 for regression, accuracy for classification.
 *   Losses (lower is better) come from `evaluate`.
 *
 * This module holds the types and checks that contract shares; it sits in core so every layer
 * can use it.
 */
import { ConfigError } from './errors.js';
import { custom, parseOptions, type OptionSpec } from './options.js';
import { isWorkerOption, type WorkerOption } from './portable.js';

export type { WorkerOption } from './portable.js';

/** The record every fit passes to `onProgress` (models extend it with fields of their own). */
export interface Progress {
  /** 'fit' while fitting the model, 'cv' while cross-validating it (the models with a `cv` option). */
  phase: 'fit' | 'cv';
  /**
   * Units of work done in this phase, from 1: solver sweeps or iterations, epochs, meta-iterations;
   * during 'cv', the fits of the cross-validation path done so far.
   */
  step: number;
  /**
   * The number of units this phase plans, when known: epochs, meta-iterations, the fits of the
   * CV path, or a solver's iteration cap (`maxIter`; it may stop sooner when it converges).
   */
  total?: number;
  /** The training loss or objective after this step, when the fit computes one (lower is better). */
  loss?: number;
}

/** The options every `fit` accepts (models add their own, e.g. `epochs` or `iterations`). */
export interface FitOptions<P extends Progress = Progress> {
  /** Abort the fit: it rejects with an AbortError and the model keeps its previous state. */
  signal?: AbortSignal;
  /** Called with a {@link Progress} record after every step of the fit. */
  onProgress?: (progress: P) => void;
  /**
   * Fit on a worker thread instead of this one: true for the library's default WorkerPool, a
   * WorkerPool, or { pool?, transfer? }. The fitted state comes back into this model, exactly as
   * an in-thread fit would leave it; progress and the signal work across. Default false.
   */
  worker?: WorkerOption;
}

/** The options of the methods that may run on a worker thread besides fit (evaluate, predictAsync). */
export interface RemoteOptions {
  /** Run on a worker thread: true for the default WorkerPool, a WorkerPool, or { pool?, transfer? }. */
  worker?: WorkerOption;
  /** Cancel the call (AbortError). */
  signal?: AbortSignal;
}

/** The options of a call that runs on a worker thread (the overloads that return a Promise). */
export interface OnWorker {
  worker: Exclude<WorkerOption, false>;
}

const WORKER_SPEC = custom<WorkerOption>('true, false, a WorkerPool or { pool?, transfer?: \'copy\' | \'move\' }', isWorkerOption);
const SIGNAL_SPEC = custom<AbortSignal>('an AbortSignal', (v) => v instanceof AbortSignal);

/** Checks of the options in {@link FitOptions}, to spread into a model's own fit option spec. */
export const FIT_OPTION_SPEC = {
  signal: SIGNAL_SPEC,
  onProgress: custom<(p: Progress) => void>('a function (progress) => void', (v) => typeof v === 'function'),
  worker: WORKER_SPEC,
} satisfies Record<keyof FitOptions, OptionSpec>;

/** Checks of {@link RemoteOptions}, to spread into an evaluate's or a predictAsync's option spec. */
export const REMOTE_OPTION_SPEC = {
  worker: WORKER_SPEC,
  signal: SIGNAL_SPEC,
} satisfies Record<keyof RemoteOptions, OptionSpec>;

/**
 * Check a fit's options: the shared ones of {@link FitOptions} plus the model's `extra` specs.
 * An unknown option, or a value of the wrong type, is a ConfigError naming `owner`.
 */
export function parseFitOptions<T extends FitOptions<any>>(owner: string, options: unknown, extra: Record<string, OptionSpec> = {}): T {
  return parseOptions<T>(owner, options, { ...FIT_OPTION_SPEC, ...extra } as never);
}

/**
 * The options of a synchronous fit (fitSync): those of {@link FitOptions} but `worker`, which
 * needs fit's promise.
 */
export function parseSyncFitOptions<T extends FitOptions<any>>(owner: string, options: unknown, extra: Record<string, OptionSpec> = {}): T {
  const o = parseFitOptions<T>(owner, options, extra);
  if (o.worker) throw new ConfigError(`${owner}: option 'worker' needs fit(), which returns a promise; ${owner.split('.').pop()} runs in this thread`);
  return o;
}

/** Class labels of a classifier's `predict`. */
export type Labels = Int32Array;

/**
 * Metrics of one task: always `loss` (the training loss: mean squared error, or cross-entropy)
 * and `n` (labelled rows); regression adds mse, mae, r2; classification adds accuracy, logloss.
 */
export type TaskMetrics = Record<string, number> & { loss: number; n: number };

/** What `evaluate` returns for a model of several tasks. */
export interface Evaluation {
  /** Mean over the tasks (with labels) of their losses. */
  loss: number;
  /** Metrics by task name. */
  tasks: Record<string, TaskMetrics>;
}
