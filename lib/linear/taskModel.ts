/**
 * The shared base of the per-task linear models (IndependentRidge, PooledRidge,
 * MeanRegularizedRegression, L21Regression, L21Logistic, TraceNormRegression): task t has its own
 * rows (X_t, y_t) and its own linear model z = X_t w_t + b_t; the models differ only in how the
 * coefficient matrix W (T x d, row t = w_t) is regularised, i.e. in `solve`.
 *
 * This file holds everything they share, written once: input normalisation (a MultiTaskDataset
 * or a list of { name, X, y }), stacking tasks into one matrix with row offsets (the layout of
 * kernels().taskLoss), per-task centring (an unpenalised intercept b_t is the same as centring
 * each task's X and y, for squared loss), options, k-fold CV over a strength grid (taskCV.ts),
 * fit/fitSync over one generator (so the synchronous and the yielding paths are the same code),
 * predict/score, and save/load through lib/io/format.ts.
 */
import { BufferLease } from '../core/bufferLease.js';
import { ConfigError, FormatError, NotFittedError, ShapeError, ValueError } from '../core/errors.js';
import { describe, toMatrix, type Matrix } from '../core/matrix.js';
import { bool, custom, num, parseOptions, type OptionSpec } from '../core/options.js';
import { throwIfAborted, Yielder } from '../core/async.js';
import { parseFitOptions, parseSyncFitOptions, REMOTE_OPTION_SPEC, type Evaluation, type FitOptions, type Labels, type OnWorker, type RemoteOptions, type TaskMetrics } from '../core/estimator.js';
import { RESTORE, SNAPSHOT, type ModelSnapshot } from '../core/portable.js';
import { offload } from '../parallel/offload.js';
import { unknownName } from '../core/suggest.js';
import { MultiTaskDataset } from '../data/dataset.js';
import { classificationMetrics, evaluation, regressionMetrics } from '../metrics/task.js';
import { kernels } from '../kernels/index.js';
import { arrayFromState, fromDocument, matrixFromState, toDocument, type ModelDocument } from '../io/format.js';
import { PersistentModel } from './persistence.js';
import { crossValidate, type CvPath } from './taskCV.js';
import { stackTasks, taskRows, type FitProgress, type Params, type Solution, type TaskProblem, type Work, type WorkProgress } from './taskProblem.js';

export { selectRows, stackTasks, taskRows, type FitProgress, type Params, type Solution, type TaskProblem, type Work, type WorkProgress } from './taskProblem.js';

// ------------------------------------------------------------------------------------------------
// Work: a computation written as a generator that yields progress at safe points. fitSync runs it
// straight through; fit() yields to the event loop (and checks the AbortSignal) at those points.
// ------------------------------------------------------------------------------------------------

export function runSync<T>(work: Work<T>, onProgress?: (p: WorkProgress) => void): T {
  let r = work.next();
  while (!r.done) {
    onProgress?.(r.value);
    r = work.next();
  }
  return r.value;
}

export async function runAsync<T>(work: Work<T>, options: { signal?: AbortSignal; onProgress?: (p: WorkProgress) => void }): Promise<T> {
  const y = new Yielder(options.signal);
  let r = work.next();
  while (!r.done) {
    options.onProgress?.(r.value);
    await y.maybeYield();
    r = work.next();
  }
  return r.value;
}

/** Options of the per-task models' fit(): `signal` and `onProgress` (records: {@link FitProgress}). */
export type TaskFitOptions = FitOptions<FitProgress>;

// ------------------------------------------------------------------------------------------------
// Stacked problems (the stacked form itself is in taskProblem.ts)
// ------------------------------------------------------------------------------------------------

/** A problem centred per task, with the means needed to recover the intercepts. */
export interface Centred {
  /** Centred copy (x and, when `centreY`, y). */
  p: TaskProblem;
  /** T x d per-task feature means. */
  xMean: Matrix<Float64Array>;
  /** Per-task target means (zeros when y was not centred). */
  yMean: Float64Array;
}

/** Subtract each task's mean row (and mean target when centreY). Used for unpenalised intercepts. */
export function centrePerTask(p: TaskProblem, centreY: boolean): Centred {
  const { T, d } = p;
  const x = p.lease ? p.lease.copyOf(p.x.data) : p.x.data.slice();
  const y = p.lease ? p.lease.copyOf(p.y) : p.y.slice();
  const xMean = new Float64Array(T * d);
  const yMean = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const a = p.offsets[t]!;
    const b = p.offsets[t + 1]!;
    const n = b - a;
    if (n === 0) continue;
    for (let i = a; i < b; i++) for (let j = 0; j < d; j++) xMean[t * d + j]! += x[i * d + j]!;
    for (let j = 0; j < d; j++) xMean[t * d + j]! /= n;
    for (let i = a; i < b; i++) for (let j = 0; j < d; j++) x[i * d + j]! -= xMean[t * d + j]!;
    if (centreY) {
      let s = 0;
      for (let i = a; i < b; i++) s += y[i]!;
      yMean[t] = s / n;
      for (let i = a; i < b; i++) y[i]! -= yMean[t]!;
    }
  }
  const centred: TaskProblem = { x: { rows: p.x.rows, cols: d, data: x }, y, offsets: p.offsets, T, d, ...(p.lease ? { lease: p.lease } : {}) };
  return { p: centred, xMean: { rows: T, cols: d, data: xMean }, yMean };
}

/** b_t = yMean_t - xMean_t . w_t, the intercept that undoes the centring. */
export function interceptsFrom(coef: Matrix<Float64Array>, c: Centred, base?: Float64Array): Float64Array {
  const { rows: T, cols: d } = coef;
  const b = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let s = c.yMean[t]! + (base ? base[t]! : 0);
    for (let j = 0; j < d; j++) s -= c.xMean.data[t * d + j]! * coef.data[t * d + j]!;
    b[t] = s;
  }
  return b;
}

/** Per-task X_t^T X_t (d x d) and X_t^T y_t (d), through the kernels (in the problem's lease when it has one). */
export function taskGrams(p: TaskProblem): { grams: Matrix<Float64Array>[]; xty: Matrix<Float64Array>[] } {
  const K = kernels();
  const grams: Matrix<Float64Array>[] = [];
  const xty: Matrix<Float64Array>[] = [];
  // Both products overwrite their output; only a task without rows needs its zeros written.
  const buffer = (length: number): Float64Array => (p.lease ? p.lease.f64Uncleared(length) : new Float64Array(length));
  for (let t = 0; t < p.T; t++) {
    const xt = taskRows(p, t);
    const g = { rows: p.d, cols: p.d, data: buffer(p.d * p.d) };
    const c = { rows: p.d, cols: 1, data: buffer(p.d) };
    if (xt.rows === 0) {
      g.data.fill(0);
      c.data.fill(0);
    } else {
      K.gram(xt, g);
      const yt = { rows: xt.rows, cols: 1, data: p.y.subarray(p.offsets[t]!, p.offsets[t + 1]!) };
      K.gemm(xt, yt, c, { transA: true });
    }
    grams.push(g);
    xty.push(c);
  }
  return { grams, xty };
}

/** The mean diagonal of the Gram matrices, the natural unit of a ridge strength on this data. */
export function gramScale(grams: Matrix<Float64Array>[]): number {
  let s = 0;
  for (const g of grams) for (let j = 0; j < g.rows; j++) s += g.data[j * g.cols + j]!;
  const v = s / (grams.length * (grams[0]?.rows ?? 1));
  return v > 0 ? v : 1;
}

/** n points from hi down to lo, evenly spaced in log scale. */
export function logGrid(hi: number, lo: number, n: number): number[] {
  if (n === 1) return [hi];
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(hi * Math.pow(lo / hi, i / (n - 1)));
  return out;
}

// ------------------------------------------------------------------------------------------------
// Options shared by every per-task model
// ------------------------------------------------------------------------------------------------

export interface BaseOptions {
  /** Fit an unpenalised intercept per task (default true). */
  fitIntercept?: boolean;
  /** Choose the regularisation strength(s) by k-fold CV (folds within each task); off when absent. */
  cv?: number;
  /** Seed of the CV fold assignment (default 0). */
  seed?: number;
}

export const baseSpec = {
  fitIntercept: bool(true),
  cv: custom<number | undefined>('an integer >= 2 (the number of CV folds)', (v) => typeof v === 'number' && Number.isInteger(v) && v >= 2),
  seed: num({ default: 0 }),
};

/** A spec entry for a strength grid: a non-empty array of finite numbers >= 0. */
export function gridSpec(): OptionSpec {
  return custom<number[] | undefined>(
    'a non-empty array of finite numbers >= 0',
    (v) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0),
  );
}

interface FittedState<P extends Params> {
  coef: Matrix<Float64Array>;
  intercept: Float64Array;
  taskNames: string[];
  chosen: P;
  cvPath: CvPath<P> | undefined;
  history: number[];
  nIter: number;
  parts: Record<string, Matrix<Float64Array>>;
}

/** One task as fit() accepts it: a name, X (any matrix form) and y (any vector form). */
export interface TaskInput {
  name: string;
  X: unknown;
  y: unknown;
  type?: 'regression' | 'binary' | 'multiclass';
}

/** What fit() accepts: a MultiTaskDataset or a list of tasks { name, X, y }. */
export type TaskData = MultiTaskDataset | readonly TaskInput[];

/** What predict returns for one task: values (regression models) or labels 0/1 (logistic models). */
export type TaskPrediction = Float64Array | Labels;

/**
 * Base class of the per-task linear models. Subclasses give the loss, the strengths taken from
 * the options, a default CV grid, and `solve` (one fit at given strengths, optionally warm-started).
 * `Y` is what predict returns: Float64Array values (regression, the default) or Int32Array labels
 * (a subclass with the logistic loss declares Int32Array).
 */
export abstract class TaskLinearModel<P extends Params, C extends BaseOptions = BaseOptions, Y extends TaskPrediction = Float64Array> extends PersistentModel {
  /** The checked options, defaults filled in. */
  readonly config: Readonly<Required<Pick<C, 'fitIntercept' | 'seed'>> & C>;
  private state: FittedState<P> | undefined;

  /** 'squared' (regression) or 'logistic' (binary classification). */
  protected abstract readonly loss: 'squared' | 'logistic';
  /** True when solve benefits from a warm start (iterative solvers): CV then walks the grid in order. */
  protected readonly warmStarts: boolean = false;

  protected constructor(options: unknown, spec: Record<string, OptionSpec>) {
    super();
    this.config = Object.freeze(parseOptions(this.constructor.name, options, spec as never)) as never;
  }

  /** The strengths given in the options (used when cv is off). */
  protected abstract params(): P;
  /** The CV grid, largest strength first (the user's grid when given, else a default from the data). */
  protected abstract grid(p: TaskProblem): P[];
  /**
   * Fit at strengths `params` on a stacked problem; `phase` says whether the fit is one of the CV
   * path ('cv') or the model's final fit ('fit'), for solvers whose tolerance differs between them.
   */
  protected abstract solve(p: TaskProblem, params: P, warm: Solution | null, phase: 'cv' | 'fit'): Work<Solution>;

  // ---- fitting ----

  /** Fit synchronously (blocks the event loop; fine for small problems and scripts). */
  fitSync(data: TaskData, options: Pick<TaskFitOptions, 'onProgress'> = {}): this {
    const o = parseSyncFitOptions<TaskFitOptions>(`${this.constructor.name}.fitSync`, this.checkSecondArgument('fitSync', data, options));
    const { p, names } = this.prepare(data);
    this.commit(runSync(this.work(p), this.progress(o.onProgress)), names);
    // The fitted state holds copies only (coef, intercept, parts): the problem's memory goes back.
    p.lease?.release();
    return this;
  }

  /**
   * Fit, yielding to the event loop between solver steps; resolves to the model. `signal` aborts
   * (AbortError) and leaves the model as it was; `onProgress` receives {@link FitProgress} records.
   */
  async fit(data: TaskData, options?: TaskFitOptions): Promise<this> {
    const o = parseFitOptions<TaskFitOptions>(`${this.constructor.name}.fit`, this.checkSecondArgument('fit', data, options));
    if (o.worker) return offload(this, 'fit', `${this.constructor.name}.fit`, [data], options as Record<string, unknown>);
    const { p, names } = this.prepare(data);
    const result = await runAsync(this.work(p), { signal: o.signal, onProgress: this.progress(o.onProgress) });
    this.commit(result, names);
    p.lease?.release();
    return this;
  }

  /** fit(X, Y), the call of the shared-X models, gets a message saying what this model takes. */
  private checkSecondArgument(method: string, data: unknown, options: unknown): unknown {
    if (Array.isArray(options) || ArrayBuffer.isView(options) || (options !== null && typeof options === 'object' && 'rows' in options && 'data' in options)) {
      throw new ValueError(
        `${this.constructor.name}.${method}(data, options): the second argument is options { signal, onProgress }, got ${describe(options)}. ` +
          `This model fits tasks that each have their own rows: pass a MultiTaskDataset or an array of tasks { name, X, y }; ` +
          `for one shared X and a target matrix Y use MultiTaskDataset.fromShared(X, Y, { names }), or MultiTaskLasso / MultiTaskElasticNet, which take fit(X, Y)`,
      );
    }
    void data;
    return options;
  }

  /** Turn the work's records into FitProgress records for `onProgress` (null: no callback). */
  private progress(onProgress: ((p: FitProgress) => void) | undefined): ((w: WorkProgress) => void) | undefined {
    if (!onProgress) return undefined;
    let fitSteps = 0;
    const maxIter = (this.config as { maxIter?: unknown }).maxIter;
    return (w) => {
      const { step, total, ...rest } = w;
      const r: FitProgress =
        w.phase === 'cv'
          ? { ...rest, step: step ?? 0, ...(total !== undefined ? { total } : {}) }
          : { ...rest, step: w.iter ?? ++fitSteps, ...(typeof maxIter === 'number' ? { total: maxIter } : {}) };
      if (w.objective !== undefined) r.loss = w.objective;
      onProgress(r);
    };
  }

  private prepare(data: TaskData): { p: TaskProblem; names: string[] } {
    const owner = this.constructor.name;
    let ds: MultiTaskDataset;
    if (data instanceof MultiTaskDataset) ds = data;
    else if (Array.isArray(data) && data.length > 0 && (Array.isArray(data[0]) || typeof data[0] === 'number' || ArrayBuffer.isView(data[0]))) {
      throw new ValueError(
        `${owner}.fit: data must be a MultiTaskDataset or an array of tasks { name, X, y }, got a matrix (an array of ${Array.isArray(data[0]) || ArrayBuffer.isView(data[0]) ? 'rows' : 'numbers'}). ` +
          `This model fits tasks that each have their own rows; for one shared X and a target matrix Y use MultiTaskDataset.fromShared(X, Y, { names })`,
      );
    } else if (Array.isArray(data)) {
      const type = this.loss === 'logistic' ? 'binary' : 'regression';
      ds = new MultiTaskDataset(data.map((t) => (t && typeof t === 'object' ? { type, ...t } : t)));
    } else throw new ValueError(`${owner}.fit: data must be a MultiTaskDataset or an array of tasks { name, X, y }, got ${describe(data)}`);
    for (const t of ds.tasks) {
      if (t.type === 'multiclass') throw new ValueError(`${owner}.fit: task '${t.name}' is multiclass; this model handles ${this.loss === 'logistic' ? 'binary' : 'regression'} tasks`);
      if (this.loss === 'logistic') {
        for (let i = 0; i < t.y.length; i++) {
          if (t.y[i] !== 0 && t.y[i] !== 1) throw new ValueError(`${owner}.fit: task '${t.name}', row ${i}: label ${t.y[i]} is not 0 or 1`);
        }
      }
    }
    return { p: stackTasks(ds, new BufferLease()), names: ds.names };
  }

  private *work(p: TaskProblem): Work<FittedState<P> & { names?: never }> {
    const k = this.config.cv as number | undefined;
    let chosen: P;
    let cvPath: CvPath<P> | undefined;
    let sol: Solution;
    if (k !== undefined) {
      const grid = this.grid(p);
      // The last fold's solutions: its model at the chosen strength, fitted on (k-1)/k of the
      // rows, is a close warm start for the refit on all of them.
      const lastFold: Solution[] = [];
      cvPath = yield* crossValidate(p, grid, {
        k,
        seed: this.config.seed ?? 0,
        warmStarts: this.warmStarts,
        solve: (train, params, warm) => this.solve(train, params, warm, 'cv'),
        error: (s, val) => this.validationError(s, val),
        metric: this.loss === 'squared' ? 'mse' : 'logloss',
        onSolution: (f, g, s) => {
          if (this.warmStarts && f === k - 1) lastFold[g] = s;
        },
      });
      chosen = grid[cvPath.chosenIndex]!;
      // Refit on all the training data at the chosen strength (warm-started when that helps).
      const last = cvPath.chosenIndex;
      sol = yield* this.solve(p, grid[last]!, this.warmStarts ? (lastFold[last] ?? null) : null, 'fit');
      yield { phase: 'fit', gridIndex: last };
    } else {
      chosen = this.params();
      sol = yield* this.solve(p, chosen, null, 'fit');
    }
    for (const v of sol.coef.data) if (!Number.isFinite(v)) throw new ValueError(`${this.constructor.name}.fit: the solver diverged (non-finite coefficients); check the data scale and the strengths`);
    return { coef: sol.coef, intercept: sol.intercept, taskNames: [], chosen: { ...chosen }, cvPath, history: sol.history ?? [], nIter: sol.nIter ?? 0, parts: sol.parts ?? {} };
  }

  private commit(s: FittedState<P>, names: string[]): void {
    this.state = { ...s, taskNames: names };
  }

  /** Mean validation loss of a solution on held-out rows (MSE, or mean logistic loss). */
  protected validationError(s: Solution, val: TaskProblem): number {
    const n = val.x.rows;
    if (n === 0) return 0;
    const losses = kernels().taskLoss({
      x: val.x,
      y: val.y,
      offsets: val.offsets,
      w: s.coef,
      intercept: s.intercept,
      scale: new Float64Array(val.T).fill(1),
      loss: this.loss,
    });
    let sum = 0;
    for (const l of losses) sum += l;
    return this.loss === 'squared' ? (2 * sum) / n : sum / n;
  }

  // ---- fitted attributes ----

  private fitted(method: string): FittedState<P> {
    if (!this.state) throw new NotFittedError(this.constructor.name, method);
    return this.state;
  }
  get isFitted(): boolean {
    return this.state !== undefined;
  }
  /** T x d coefficients, row t = task t (in taskNames order). */
  get coef(): Matrix<Float64Array> {
    return this.fitted('coef').coef;
  }
  /** Per-task intercepts (length T; zeros when fitIntercept is false). */
  get intercept(): Float64Array {
    return this.fitted('intercept').intercept;
  }
  get taskNames(): string[] {
    return this.fitted('taskNames').taskNames;
  }
  /** The strengths the final model was fitted with (chosen by CV when `cv` is set). */
  get chosen(): Readonly<P> {
    return this.fitted('chosen').chosen;
  }
  /** The CV error path (grid, mean error per grid point, per-fold errors), when `cv` is set. */
  get cvPath(): CvPath<P> | undefined {
    return this.fitted('cvPath').cvPath;
  }
  /** Objective values per iteration of the final fit (iterative solvers; empty for closed forms). */
  get history(): number[] {
    return this.fitted('history').history;
  }
  /** Iterations of the final fit (0 for closed forms). */
  get nIter(): number {
    return this.fitted('nIter').nIter;
  }
  /** A fitted matrix of Solution.parts, for the subclass's named getters. */
  protected part(name: string): Matrix<Float64Array> {
    const m = this.fitted(name).parts[name];
    if (!m) throw new NotFittedError(this.constructor.name, name);
    return m;
  }

  // ---- prediction ----

  private taskIndex(method: string, taskName: unknown): number {
    const s = this.fitted(method);
    const t = typeof taskName === 'string' ? s.taskNames.indexOf(taskName) : -1;
    if (t < 0) throw new ValueError(unknownName(`${this.constructor.name}.${method}`, 'task', taskName, s.taskNames));
    return t;
  }

  /** X w_t + b_t for the task called `taskName`. */
  decisionFunction(taskName: string, X: unknown): Float64Array {
    return this.linear('decisionFunction', taskName, X);
  }

  private linear(method: string, taskName: string, X: unknown): Float64Array {
    const t = this.taskIndex(method, taskName);
    const s = this.state!;
    const d = s.coef.cols;
    const m = toMatrix(X, `X for task '${taskName}'`);
    if (m.cols !== d) throw new ShapeError(`${this.constructor.name}.${method}: X for task '${taskName}' has ${m.cols} columns, the model was fitted on ${d}`);
    const out = { rows: m.rows, cols: 1, data: new Float64Array(m.rows) };
    kernels().gemm(m, { rows: d, cols: 1, data: s.coef.data.subarray(t * d, (t + 1) * d) }, out);
    const b = s.intercept[t]!;
    for (let i = 0; i < m.rows; i++) out.data[i]! += b;
    return out.data;
  }

  /** Predictions for the task called `taskName`: values (regression) or labels 0/1 (logistic, Int32Array). */
  predict(taskName: string, X: unknown): Y {
    const z = this.linear('predict', taskName, X);
    if (this.loss !== 'logistic') return z as Y;
    const labels = new Int32Array(z.length);
    for (let i = 0; i < z.length; i++) labels[i] = z[i]! > 0 ? 1 : 0;
    return labels as Y;
  }

  /** predict as a Promise; with `worker`, computed on a worker thread. */
  async predictAsync(taskName: string, X: unknown, options?: RemoteOptions): Promise<Y> {
    const owner = `${this.constructor.name}.predictAsync`;
    const o = parseOptions<RemoteOptions>(owner, options, REMOTE_OPTION_SPEC);
    if (o.worker) return offload(this, 'predictAsync', owner, [taskName, X], o as Record<string, unknown>);
    throwIfAborted(o.signal);
    return this.predict(taskName, X);
  }

  /** P(y = 1) for each row (logistic models): the sigmoid of decisionFunction. */
  protected probability(method: string, taskName: string, X: unknown): Float64Array {
    if (this.loss !== 'logistic') throw new ConfigError(`${this.constructor.name}.${method}: a regression model has no class probabilities; use predict`);
    const z = this.linear(method, taskName, X);
    for (let i = 0; i < z.length; i++) z[i] = z[i]! >= 0 ? 1 / (1 + Math.exp(-z[i]!)) : Math.exp(z[i]!) / (1 + Math.exp(z[i]!));
    return z;
  }

  /**
   * Per-task metrics on `data` (every task must be known to the model): mse, mae, r2 with
   * loss = mse (regression), or logloss, accuracy with loss = logloss (logistic); `loss` is the
   * mean of the task losses.
   */
  evaluate(data: TaskData, options?: RemoteOptions & { worker?: false }): Evaluation;
  evaluate(data: TaskData, options: RemoteOptions & OnWorker): Promise<Evaluation>;
  evaluate(data: TaskData, options?: RemoteOptions): Evaluation | Promise<Evaluation> {
    const owner = `${this.constructor.name}.evaluate`;
    const o = parseOptions<RemoteOptions>(owner, options, REMOTE_OPTION_SPEC);
    if (o.worker) return offload(this, 'evaluate', owner, [data], o as Record<string, unknown>);
    throwIfAborted(o.signal);
    const ds = this.asDataset('evaluate', data);
    const tasks: Record<string, TaskMetrics> = {};
    for (const t of ds.tasks) {
      tasks[t.name] = this.loss === 'logistic' ? classificationMetrics(t.y, this.probability('evaluate', t.name, t.X)) : regressionMetrics(t.y, this.linear('evaluate', t.name, t.X));
    }
    return evaluation(tasks);
  }

  private asDataset(method: string, data: TaskData): MultiTaskDataset {
    if (data instanceof MultiTaskDataset) return data;
    if (data !== null && typeof data === 'object' && !Array.isArray(data) && 'X' in data) data = [data as unknown as TaskInput];
    if (!Array.isArray(data)) throw new ValueError(`${this.constructor.name}.${method}: data must be a MultiTaskDataset or an array of tasks { name, X, y }, got ${describe(data)}`);
    const type = this.loss === 'logistic' ? 'binary' : 'regression';
    return new MultiTaskDataset(data.map((t) => (t && typeof t === 'object' && !Array.isArray(t) ? { type, ...t } : t)));
  }

  /**
   * Pooled over every row of every task in `data`: explained variance 1 - MSE / Var(y)
   * (regression) or accuracy (logistic). Every task of `data` must be known to the model.
   */
  score(data: TaskData): number {
    const ds = this.asDataset('score', data);
    let sse = 0;
    let correct = 0;
    let n = 0;
    let sum = 0;
    let sumSq = 0;
    for (const t of ds.tasks) {
      const pred = this.predict(t.name, t.X);
      for (let i = 0; i < pred.length; i++) {
        const r = pred[i]! - t.y[i]!;
        sse += r * r;
        if (r === 0) correct++;
        sum += t.y[i]!;
        sumSq += t.y[i]! * t.y[i]!;
      }
      n += pred.length;
    }
    if (this.loss === 'logistic') return correct / n;
    const mean = sum / n;
    const variance = sumSq / n - mean * mean;
    return variance > 0 ? 1 - sse / n / variance : sse === 0 ? 1 : -Infinity;
  }

  // ---- persistence ----

  /** The checked options and the fitted state (lib/core/portable.ts). */
  [SNAPSHOT](): ModelSnapshot {
    return { kind: this.constructor.name, options: this.config, state: this.state };
  }

  [RESTORE](s: ModelSnapshot): void {
    this.state = s.state as FittedState<P> | undefined;
  }

  /** The versioned model document (format metatask/1). */
  override toJSON(): ModelDocument {
    const s = this.fitted('toJSON');
    return toDocument(this.constructor.name, this.config, {
      coef: s.coef,
      intercept: s.intercept,
      taskNames: s.taskNames,
      chosen: s.chosen,
      cvPath: s.cvPath,
      history: Float64Array.from(s.history),
      nIter: s.nIter,
      parts: s.parts,
    });
  }

  /** Rebuild a model from toJSON() output; a corrupted or foreign document gives a FormatError. */
  static fromJSON<M extends TaskLinearModel<Params>>(this: new (options?: any) => M, doc: unknown): M {
    const { config, state } = fromDocument(doc, this.name);
    const model = new this(config);
    const s = state as Record<string, unknown>;
    if (!s || typeof s !== 'object') throw new FormatError(`model file: ${this.name} has no state`);
    const coef = matrixFromState(s.coef, 'coef');
    const intercept = arrayFromState(s.intercept, 'intercept', Float64Array, coef.rows);
    const names = s.taskNames;
    if (!Array.isArray(names) || names.length !== coef.rows || !names.every((n) => typeof n === 'string')) {
      throw new FormatError(`model file: 'taskNames' must list ${coef.rows} task names`);
    }
    const history = arrayFromState(s.history, 'history', Float64Array);
    if (typeof s.chosen !== 'object' || s.chosen === null) throw new FormatError(`model file: 'chosen' is missing`);
    const parts: Record<string, Matrix<Float64Array>> = {};
    if (s.parts !== undefined) {
      if (typeof s.parts !== 'object' || s.parts === null) throw new FormatError(`model file: 'parts' must be an object of matrices`);
      for (const [k, v] of Object.entries(s.parts)) parts[k] = matrixFromState(v, `parts.${k}`);
    }
    (model as unknown as { state: FittedState<Params> }).state = {
      coef,
      intercept,
      taskNames: names as string[],
      chosen: s.chosen as Params,
      cvPath: s.cvPath as CvPath<Params> | undefined,
      history: Array.from(history),
      nIter: typeof s.nIter === 'number' ? s.nIter : 0,
      parts,
    };
    return model;
  }
}

const gramCache = new WeakMap<TaskProblem, Map<string, { c: Centred | null; grams: Matrix<Float64Array>[]; xty: Matrix<Float64Array>[] }>>();

/**
 * Per-task Grams of the problem, centred per task when `centre` (cached per problem object, so
 * a CV grid or a path re-uses them instead of recomputing them at every point).
 */
export function centredGrams(p: TaskProblem, centre: boolean): { c: Centred | null; grams: Matrix<Float64Array>[]; xty: Matrix<Float64Array>[] } {
  let m = gramCache.get(p);
  if (!m) gramCache.set(p, (m = new Map()));
  const key = centre ? 'c' : 'r';
  let v = m.get(key);
  if (!v) {
    const c = centre ? centrePerTask(p, true) : null;
    v = { c, ...taskGrams(c ? c.p : p) };
    m.set(key, v);
  }
  return v;
}
