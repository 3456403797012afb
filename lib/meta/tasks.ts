/**
 * Few-shot tasks for meta-learning: a task is { support, query }, each
 * { X, y }; a TaskSampler draws tasks from its own seeded Rng, so a seed fixes the task stream.
 * - SinusoidTasks: Finn et al. 2017, section 5.1: y = A sin(x - phase), A ~ U[0.1, 5],
 *   phase ~ U[0, pi], x ~ U[-5, 5].
 * - TaskSplit: every task of a MultiTaskDataset becomes a few-shot task (K rows as support, the
 *   rest as query), so a model meta-learned over many schools adapts to a new one from K students.
 */
import { ConfigError, ValueError } from '../core/errors.js';
import { describe, takeRows, type Matrix } from '../core/matrix.js';
import { custom, num, parseOptions } from '../core/options.js';
import { Rng } from '../core/rng.js';
import { CALL_STATE, PORTABLE, REVIVE, SET_CALL_STATE, type PortableValue } from '../core/portable.js';
import { didYouMean, listKnown, quoteName, unknownName } from '../core/suggest.js';
import { FormatError } from '../core/errors.js';
import { decodeValue, encodeValue } from '../io/format.js';

/** One labelled set: X (n x d), y (n): a regression target or a class index. */
export interface TaskData {
  X: Matrix<Float64Array>;
  y: Float64Array;
}

export interface Task {
  support: TaskData;
  query: TaskData;
  /** What generated the task (SinusoidTasks: amplitude, phase; TaskSplit: the task's name). */
  info?: Record<string, number | string>;
}

/** A seeded stream of tasks (T: what a task is; few-shot tasks { support, query } by default). */
export interface TaskSampler<T = Task> {
  /** Width of X. */
  readonly inputSize: number;
  sample(): T;
  sampleBatch(k: number): T[];
  /** Back to the first task of the stream (the same seed gives the same tasks again). */
  reset(): void;
  /** An independent sampler of the same distribution with its own seed. */
  fork(seed: number): TaskSampler<T>;
}

/** A sampler as JSON: its class, its settings and data (typed arrays encoded), its random stream's state. */
export interface SamplerDocument {
  sampler: string;
  config: unknown;
  rng: number[];
}

/**
 * The base of the library's samplers: a seeded random stream over settings (and data) that the
 * sampler can describe, so that it can be rebuilt elsewhere in the same state: on a worker thread
 * (fit and evaluate with `worker`), in a queue worker process, or from its toJSON() document. A
 * sampler of your own (any object with sampleBatch) works for in-thread calls; to go to a worker
 * it must be one of these (SinusoidTasks, TaskSplit, MultiTaskSplit, FewShotTasks).
 */
export abstract class SeededSampler<T = Task> implements TaskSampler<T> {
  abstract readonly inputSize: number;
  abstract readonly options: Readonly<{ seed: number }>;
  protected rng!: Rng;

  abstract sample(): T;
  abstract fork(seed: number): TaskSampler<T>;
  /** What rebuilds this sampler (with a fresh stream at its seed): its settings and data. */
  protected abstract describe(): unknown;

  sampleBatch(k: number): T[] {
    return sampleMany(this, k);
  }

  reset(): void {
    this.rng = new Rng(this.options.seed);
  }

  /** The sampler as JSON: class, settings and data, and where its random stream is. */
  toJSON(): SamplerDocument {
    return { sampler: this.constructor.name, config: encodeValue(this.describe()), rng: this.rng.getState() };
  }

  /** A sampler from toJSON()'s document, at the same point of its stream. */
  static fromJSON<S extends SeededSampler<any>>(this: { name: string; [REVIVE](v: unknown): unknown }, doc: unknown): S {
    const d = doc as Partial<SamplerDocument> | null;
    if (!d || typeof d !== 'object' || d.sampler !== this.name || !Array.isArray(d.rng)) {
      throw new FormatError(`${this.name}.fromJSON: expected a ${this.name} document { sampler: '${this.name}', config, rng }, got ${describe(doc)}`);
    }
    const s = this[REVIVE](decodeValue(d.config)) as S;
    s.rng.setState(d.rng);
    return s;
  }

  [PORTABLE](): PortableValue {
    return { type: this.constructor.name, value: this.describe() };
  }

  [CALL_STATE](): unknown {
    return this.rng.getState();
  }

  [SET_CALL_STATE](state: unknown): void {
    this.rng.setState(state as number[]);
  }
}

const interval = (lo: number, hi: number) =>
  custom<[number, number]>(
    `a pair [lo, hi] of finite numbers with lo <= hi (default [${lo}, ${hi}])`,
    (v) => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x)) && v[0] <= v[1],
    [lo, hi],
  );

/** SinusoidTasks' settings as it holds them (every default filled in). */
export interface SinusoidConfig {
  /** Support points per task. */
  shots: number;
  /** Query points per task. Default 10. */
  queries: number;
  /** Seed of the task stream. Default 0. */
  seed: number;
  /** Range of the amplitude A. Default [0.1, 5]. */
  amplitude: [number, number];
  /** Range of the phase. Default [0, pi]. */
  phase: [number, number];
  /** Range of x. Default [-5, 5]. */
  x: [number, number];
}

/** Options of SinusoidTasks: `shots` and any of the other settings. */
export interface SinusoidOptions extends Partial<SinusoidConfig> {
  shots: number;
}

/**
 * n points x ~ U[lo, hi) of y = A sin(x - p), x drawn in order from rng, written into `buf` from
 * `at` (X then y) and returned as views of it: one allocation serves a whole batch of tasks.
 */
function drawSinusoid(rng: Rng, n: number, A: number, p: number, lo: number, hi: number, buf: Float64Array, at: number): TaskData {
  const X = buf.subarray(at, at + n);
  const y = buf.subarray(at + n, at + 2 * n);
  for (let i = 0; i < n; i++) {
    const v = rng.range(lo, hi);
    X[i] = v;
    y[i] = A * Math.sin(v - p);
  }
  return { X: { rows: n, cols: 1, data: X }, y };
}

/** y = A sin(x - phase): Finn et al. 2017's regression benchmark. */
export class SinusoidTasks extends SeededSampler {
  readonly inputSize = 1;
  readonly options: Readonly<SinusoidConfig>;

  constructor(options: SinusoidOptions) {
    super();
    this.options = parseOptions<SinusoidConfig>('SinusoidTasks', options, {
      shots: num({ min: 1, integer: true }),
      queries: num({ min: 1, integer: true, default: 10 }),
      seed: num({ default: 0 }),
      amplitude: interval(0.1, 5),
      phase: interval(0, Math.PI),
      x: interval(-5, 5),
    });
    if (this.options.shots === undefined) throw new ConfigError(`SinusoidTasks: option 'shots' is required (support points per task)`);
    this.rng = new Rng(this.options.seed);
  }

  sample(): Task {
    return this.sampleBatch(1)[0]!;
  }

  override sampleBatch(k: number): Task[] {
    checkBatchSize(k);
    const o = this.options;
    const rng = this.rng;
    const per = 2 * (o.shots + o.queries);
    const buf = new Float64Array(k * per);
    const out: Task[] = [];
    for (let t = 0; t < k; t++) {
      const A = rng.range(o.amplitude[0], o.amplitude[1]);
      const p = rng.range(o.phase[0], o.phase[1]);
      const support = drawSinusoid(rng, o.shots, A, p, o.x[0], o.x[1], buf, t * per);
      const query = drawSinusoid(rng, o.queries, A, p, o.x[0], o.x[1], buf, t * per + 2 * o.shots);
      out.push({ support, query, info: { amplitude: A, phase: p } });
    }
    return out;
  }

  fork(seed: number): SinusoidTasks {
    return new SinusoidTasks({ ...this.options, seed });
  }

  protected describe(): unknown {
    return { options: this.options };
  }

  static [REVIVE](v: unknown): SinusoidTasks {
    return new SinusoidTasks((v as { options: SinusoidOptions }).options);
  }

  /** The true curve of a task drawn by this sampler (for plots). */
  static truth(task: Task, x: number): number {
    const A = Number(task.info?.amplitude);
    const p = Number(task.info?.phase);
    return A * Math.sin(x - p);
  }
}

/** The structure TaskSplit reads from a MultiTaskDataset (lib/data/dataset.ts). */
export interface TaskSource {
  readonly tasks: readonly {
    readonly name: string;
    readonly X: Matrix<Float64Array>;
    readonly y: Float64Array;
    readonly type?: string;
    readonly classes?: readonly number[];
  }[];
}

/** TaskSplit's settings as it holds them (every default filled in). */
export interface TaskSplitConfig {
  /** Support rows per task. */
  shots: number;
  /** Seed of the task stream. Default 0. */
  seed: number;
  /** Which tasks to draw from (names or indices), e.g. the meta-training schools. Default all. */
  tasks: readonly (string | number)[] | undefined;
  /** Cap on query rows (default: all rows that are not support). */
  queries: number | undefined;
}

/** Options of TaskSplit: `shots` and any of the other settings. */
export interface TaskSplitOptions extends Partial<TaskSplitConfig> {
  shots: number;
}

/** The settings TaskSplit and MultiTaskSplit share. */
const SPLIT_OPTIONS = {
  shots: num({ min: 1, integer: true }),
  seed: num({ default: 0 }),
  tasks: custom('an array of task names or indices', (v) => Array.isArray(v) && v.length > 0),
  queries: num({ min: 1, integer: true }),
};

/**
 * Each task of a multi-task dataset as a few-shot task: a task is picked uniformly, its labelled
 * rows shuffled, the first `shots` become the support set and the rest (up to `queries`) the
 * query set. Multiclass labels are mapped to their index in `classes`.
 */
export class TaskSplit extends SeededSampler {
  readonly inputSize: number;
  readonly options: Readonly<TaskSplitConfig>;
  private readonly pool: PoolTask[];

  constructor(
    private readonly dataset: TaskSource,
    options: TaskSplitOptions,
  ) {
    super();
    this.options = parseOptions<TaskSplitConfig>('TaskSplit', options, SPLIT_OPTIONS);
    if (this.options.shots === undefined) throw new ConfigError(`TaskSplit: option 'shots' is required (support rows per task)`);
    this.pool = taskPool('TaskSplit', dataset, this.options.tasks, this.options.shots);
    this.inputSize = this.pool[0]!.X.cols;
    this.rng = new Rng(this.options.seed);
  }

  /** Names of the tasks this sampler draws from. */
  get taskNames(): string[] {
    return this.pool.map((t) => t.name);
  }

  sample(): Task {
    return this.split(this.pool[this.rng.int(this.pool.length)]!);
  }

  /** A few-shot split of one named task (evaluation on a chosen school). */
  sampleFrom(name: string): Task {
    const t = this.pool.find((x) => x.name === name);
    if (!t) throw new ValueError(`TaskSplit.sampleFrom: no task named ${quoteName(name)} in this sampler${didYouMean(name, this.taskNames)}; its tasks: ${listKnown(this.taskNames)}`);
    return this.split(t);
  }

  private split(t: PoolTask): Task {
    const { support, query } = splitRows(t, this.rng, this.options.shots, this.options.queries);
    return { support, query, info: { task: t.name } };
  }

  fork(seed: number): TaskSplit {
    return new TaskSplit(this.dataset, { ...this.options, seed });
  }

  protected describe(): unknown {
    return { dataset: sourceOf(this.dataset), options: this.options };
  }

  static [REVIVE](v: unknown): TaskSplit {
    const { dataset, options } = v as { dataset: TaskSource; options: TaskSplitOptions };
    return new TaskSplit(dataset, options);
  }
}

/** One labelled set of a multi-task problem: shared rows X and one column of Y per task (NaN: not that task's row). */
export interface SharedTaskData {
  X: Matrix<Float64Array>;
  Y: Matrix<Float64Array>;
}

/** A few-shot multi-task problem: support and query sets over the same tasks. */
export interface MultiTaskProblem {
  support: SharedTaskData;
  query: SharedTaskData;
  /** The dataset's tasks behind the columns of Y, in column order (comma-separated). */
  info?: Record<string, number | string>;
}

/** MultiTaskSplit's settings as it holds them (every default filled in). */
export interface MultiTaskSplitConfig {
  /** Tasks per problem (the columns of Y), drawn without replacement. */
  groupSize: number;
  /** Support rows per task. */
  shots: number;
  /** Seed of the problem stream. Default 0. */
  seed: number;
  /** Which tasks to draw from (names or indices), e.g. the meta-training schools. Default all. */
  tasks: readonly (string | number)[] | undefined;
  /** Cap on query rows per task (default: all rows that are not support). */
  queries: number | undefined;
}

/** Options of MultiTaskSplit: `groupSize`, `shots` and any of the other settings. */
export interface MultiTaskSplitOptions extends Partial<MultiTaskSplitConfig> {
  groupSize: number;
  shots: number;
}

/**
 * Groups of tasks of a multi-task dataset as few-shot multi-task problems, for meta-learning a
 * multi-task model: each problem draws `groupSize` tasks at random (e.g. five schools), splits
 * each task's rows into `shots` support rows and query rows as TaskSplit does, and stacks them
 * into the shared-input form { X, Y } with column g of Y for the g-th task drawn (NaN on the other
 * tasks' rows). A multi-task network with `groupSize` tasks learns from these problems an
 * initialisation that adapts to a new group from a few rows of each.
 */
export class MultiTaskSplit extends SeededSampler<MultiTaskProblem> {
  readonly inputSize: number;
  readonly options: Readonly<MultiTaskSplitConfig>;
  private readonly pool: PoolTask[];

  constructor(
    private readonly dataset: TaskSource,
    options: MultiTaskSplitOptions,
  ) {
    super();
    this.options = parseOptions<MultiTaskSplitConfig>('MultiTaskSplit', options, { groupSize: num({ min: 1, integer: true }), ...SPLIT_OPTIONS });
    for (const k of ['groupSize', 'shots'] as const) {
      if (this.options[k] === undefined) throw new ConfigError(`MultiTaskSplit: option '${k}' is required (${k === 'shots' ? 'support rows per task' : 'tasks per problem'})`);
    }
    this.pool = taskPool('MultiTaskSplit', dataset, this.options.tasks, this.options.shots);
    if (this.options.groupSize > this.pool.length) {
      throw new ConfigError(`MultiTaskSplit: groupSize ${this.options.groupSize} is more than the ${this.pool.length} tasks it draws from`);
    }
    this.inputSize = this.pool[0]!.X.cols;
    this.rng = new Rng(this.options.seed);
  }

  /** Names of the tasks this sampler draws from. */
  get taskNames(): string[] {
    return this.pool.map((t) => t.name);
  }

  sample(): MultiTaskProblem {
    const perm = this.rng.permutation(this.pool.length);
    return this.problem(Array.from(perm.subarray(0, this.options.groupSize), (i) => this.pool[i]!));
  }

  /** A problem over the named tasks, in that order (evaluation on a chosen group). */
  sampleFrom(names: readonly string[]): MultiTaskProblem {
    if (!Array.isArray(names) || names.length !== this.options.groupSize) {
      throw new ValueError(`MultiTaskSplit.sampleFrom: expected ${this.options.groupSize} task names (groupSize), got ${describe(names)}`);
    }
    return this.problem(
      names.map((name) => {
        const t = this.pool.find((x) => x.name === name);
        if (!t) throw new ValueError(`MultiTaskSplit.sampleFrom: no task named ${quoteName(name)} in this sampler${didYouMean(name, this.taskNames)}; its tasks: ${listKnown(this.taskNames)}`);
        return t;
      }),
    );
  }

  private problem(group: PoolTask[]): MultiTaskProblem {
    const parts = group.map((t) => splitRows(t, this.rng, this.options.shots, this.options.queries));
    const stack = (sets: TaskData[]): SharedTaskData => {
      const G = sets.length;
      const d = this.inputSize;
      const n = sets.reduce((s, p) => s + p.X.rows, 0);
      const X = new Float64Array(n * d);
      const Y = new Float64Array(n * G).fill(NaN);
      let r = 0;
      sets.forEach((p, g) => {
        X.set(p.X.data, r * d);
        for (let i = 0; i < p.X.rows; i++) Y[(r + i) * G + g] = p.y[i]!;
        r += p.X.rows;
      });
      return { X: { rows: n, cols: d, data: X }, Y: { rows: n, cols: G, data: Y } };
    };
    return {
      support: stack(parts.map((p) => p.support)),
      query: stack(parts.map((p) => p.query)),
      info: { tasks: group.map((t) => t.name).join(',') },
    };
  }

  fork(seed: number): MultiTaskSplit {
    return new MultiTaskSplit(this.dataset, { ...this.options, seed });
  }

  protected describe(): unknown {
    return { dataset: sourceOf(this.dataset), options: this.options };
  }

  static [REVIVE](v: unknown): MultiTaskSplit {
    const { dataset, options } = v as { dataset: TaskSource; options: MultiTaskSplitOptions };
    return new MultiTaskSplit(dataset, options);
  }
}

/** The tasks of a source as plain data (a MultiTaskDataset's tasks without the class). */
function sourceOf(dataset: TaskSource): TaskSource {
  return {
    tasks: dataset.tasks.map((t) => ({
      name: t.name,
      X: t.X,
      y: t.y,
      ...(t.type !== undefined ? { type: t.type } : {}),
      ...(t.classes !== undefined ? { classes: t.classes } : {}),
    })),
  };
}

/** A task of a sampler's pool: its labelled rows (multiclass labels as class indices). */
interface PoolTask {
  name: string;
  X: Matrix<Float64Array>;
  y: Float64Array;
}

/**
 * The tasks a sampler draws from (`tasks`: names or indices, default all), each keeping its
 * labelled rows (NaN, or a negative class, marks a missing label); every task needs more than
 * `shots` of them.
 */
function taskPool(owner: string, dataset: TaskSource, tasks: readonly (string | number)[] | undefined, shots: number): PoolTask[] {
  if (!dataset || !Array.isArray(dataset.tasks) || dataset.tasks.length === 0) {
    throw new ValueError(`${owner}: expected a MultiTaskDataset with at least one task, got ${describe(dataset)}`);
  }
  const all = dataset.tasks;
  const chosen: TaskSource['tasks'] = tasks
    ? tasks.map((t) => {
        const i = typeof t === 'number' ? t : all.findIndex((x) => x.name === t);
        if (!Number.isInteger(i) || i < 0 || i >= all.length) {
          throw new ValueError(typeof t === 'number' ? `${owner}: task index ${t} is out of range; the dataset has tasks 0..${all.length - 1}` : unknownName(owner, 'task', t, all.map((x) => x.name)));
        }
        return all[i]!;
      })
    : all;
  return chosen.map((t) => {
    const keep: number[] = [];
    for (let i = 0; i < t.y.length; i++) if (!Number.isNaN(t.y[i]!) && !(t.type !== 'regression' && t.type !== undefined && t.y[i]! < 0)) keep.push(i);
    if (keep.length <= shots) {
      throw new ValueError(`${owner}: task '${t.name}' has ${keep.length} labelled rows; it needs more than shots = ${shots} (support plus at least one query row)`);
    }
    const X: Matrix<Float64Array> = takeRows(t.X, keep);
    const y = Float64Array.from(keep, (i) => t.y[i]!);
    if (t.type === 'multiclass' && t.classes) {
      const index = new Map(t.classes.map((c, k) => [c, k]));
      for (let i = 0; i < y.length; i++) y[i] = index.get(y[i]!) ?? -1;
    }
    return { name: t.name, X, y };
  });
}

/** A task's rows shuffled: the first `shots` are the support set, the rest (up to `queries`) the query set. */
function splitRows(t: PoolTask, rng: Rng, shots: number, queries: number | undefined): { support: TaskData; query: TaskData } {
  const perm = rng.permutation(t.y.length);
  const end = Math.min(t.y.length, shots + (queries ?? Infinity));
  const part = (idx: Int32Array): TaskData => ({ X: takeRows(t.X, idx), y: Float64Array.from(idx, (i) => t.y[i]!) });
  return { support: part(perm.subarray(0, shots)), query: part(perm.subarray(shots, end)) };
}

function checkBatchSize(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`sampleBatch(k): k must be a positive integer, got ${describe(k)}`);
}

function sampleMany<T>(s: TaskSampler<T>, k: number): T[] {
  checkBatchSize(k);
  const out: T[] = [];
  for (let i = 0; i < k; i++) out.push(s.sample());
  return out;
}
