/**
 * Few-shot tasks for meta-learning (DESIGN.md section 2): a task is { support, query }, each
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
import { didYouMean, listKnown, quoteName, unknownName } from '../core/suggest.js';

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

export interface TaskSampler {
  /** Width of X. */
  readonly inputSize: number;
  sample(): Task;
  sampleBatch(k: number): Task[];
  /** Back to the first task of the stream (the same seed gives the same tasks again). */
  reset(): void;
  /** An independent sampler of the same distribution with its own seed. */
  fork(seed: number): TaskSampler;
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

/** y = A sin(x - phase): Finn et al. 2017's regression benchmark. */
export class SinusoidTasks implements TaskSampler {
  readonly inputSize = 1;
  readonly options: Readonly<SinusoidConfig>;
  private rng: Rng;

  constructor(options: SinusoidOptions) {
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
    const { amplitude, phase, x, shots, queries } = this.options;
    const A = this.rng.range(amplitude[0], amplitude[1]);
    const p = this.rng.range(phase[0], phase[1]);
    const draw = (n: number): TaskData => {
      const X = new Float64Array(n);
      const y = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        X[i] = this.rng.range(x[0], x[1]);
        y[i] = A * Math.sin(X[i]! - p);
      }
      return { X: { rows: n, cols: 1, data: X }, y };
    };
    const support = draw(shots);
    return { support, query: draw(queries), info: { amplitude: A, phase: p } };
  }

  sampleBatch(k: number): Task[] {
    return sampleMany(this, k);
  }

  reset(): void {
    this.rng = new Rng(this.options.seed);
  }

  fork(seed: number): SinusoidTasks {
    return new SinusoidTasks({ ...this.options, seed });
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

/**
 * Each task of a multi-task dataset as a few-shot task: a task is picked uniformly, its labelled
 * rows shuffled, the first `shots` become the support set and the rest (up to `queries`) the
 * query set. Multiclass labels are mapped to their index in `classes`.
 */
export class TaskSplit implements TaskSampler {
  readonly inputSize: number;
  readonly options: Readonly<TaskSplitConfig>;
  private readonly pool: { name: string; X: Matrix<Float64Array>; y: Float64Array }[];
  private rng: Rng;

  constructor(
    private readonly dataset: TaskSource,
    options: TaskSplitOptions,
  ) {
    this.options = parseOptions<TaskSplitConfig>('TaskSplit', options, {
      shots: num({ min: 1, integer: true }),
      seed: num({ default: 0 }),
      tasks: custom('an array of task names or indices', (v) => Array.isArray(v) && v.length > 0),
      queries: num({ min: 1, integer: true }),
    });
    if (this.options.shots === undefined) throw new ConfigError(`TaskSplit: option 'shots' is required (support rows per task)`);
    if (!dataset || !Array.isArray(dataset.tasks) || dataset.tasks.length === 0) {
      throw new ValueError(`TaskSplit: expected a MultiTaskDataset with at least one task, got ${describe(dataset)}`);
    }
    const all = dataset.tasks;
    const chosen: TaskSource['tasks'] = this.options.tasks
      ? this.options.tasks.map((t) => {
          const i = typeof t === 'number' ? t : all.findIndex((x) => x.name === t);
          if (!Number.isInteger(i) || i < 0 || i >= all.length) {
            throw new ValueError(typeof t === 'number' ? `TaskSplit: task index ${t} is out of range; the dataset has tasks 0..${all.length - 1}` : unknownName('TaskSplit', 'task', t, all.map((x) => x.name)));
          }
          return all[i]!;
        })
      : all;
    const shots = this.options.shots;
    this.pool = chosen.map((t) => {
      // Labelled rows only: NaN (regression) or negative (classes) marks a missing label.
      const keep: number[] = [];
      for (let i = 0; i < t.y.length; i++) if (!Number.isNaN(t.y[i]!) && !(t.type !== 'regression' && t.type !== undefined && t.y[i]! < 0)) keep.push(i);
      if (keep.length <= shots) {
        throw new ValueError(`TaskSplit: task '${t.name}' has ${keep.length} labelled rows; it needs more than shots = ${shots} (support plus at least one query row)`);
      }
      const X: Matrix<Float64Array> = takeRows(t.X, keep);
      const y = Float64Array.from(keep, (i) => t.y[i]!);
      if (t.type === 'multiclass' && t.classes) {
        const index = new Map(t.classes.map((c, k) => [c, k]));
        for (let i = 0; i < y.length; i++) y[i] = index.get(y[i]!) ?? -1;
      }
      return { name: t.name, X, y };
    });
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

  private split(t: { name: string; X: Matrix<Float64Array>; y: Float64Array }): Task {
    const perm = this.rng.permutation(t.y.length);
    const shots = this.options.shots;
    const end = Math.min(t.y.length, shots + (this.options.queries ?? Infinity));
    const part = (idx: Int32Array): TaskData => ({ X: takeRows(t.X, idx), y: Float64Array.from(idx, (i) => t.y[i]!) });
    return { support: part(perm.subarray(0, shots)), query: part(perm.subarray(shots, end)), info: { task: t.name } };
  }

  sampleBatch(k: number): Task[] {
    return sampleMany(this, k);
  }

  reset(): void {
    this.rng = new Rng(this.options.seed);
  }

  fork(seed: number): TaskSplit {
    return new TaskSplit(this.dataset, { ...this.options, seed });
  }
}

function sampleMany(s: TaskSampler, k: number): Task[] {
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`sampleBatch(k): k must be a positive integer, got ${describe(k)}`);
  const out: Task[] = [];
  for (let i = 0; i < k; i++) out.push(s.sample());
  return out;
}
