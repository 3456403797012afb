/**
 * MultiTaskDataset: a list of tasks, each with its own rows
 * { name, X (n_t x d), y (n_t), type }. Two shapes are first-class:
 * - per-task data (School: one task per school), built with `new MultiTaskDataset(list)`;
 * - shared inputs (one X, one target column per task, missing labels = NaN for regression and
 *   -1 for classes), built with `MultiTaskDataset.fromShared`, which keeps the shared form in
 *   `shared` for models that read it (multi-task networks) while `tasks` holds each task's
 *   labelled rows.
 * Everything is validated here once, so models can trust a dataset.
 */
import { ShapeError, ValueError } from '../core/errors.js';
import { describe, takeRows, toMatrix, toVector, type Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { PORTABLE, REVIVE, type PortableValue } from '../core/portable.js';
import { didYouMean, listKnown, unknownName } from '../core/suggest.js';
import { readCSV } from './csv.js';

export type TaskType = 'regression' | 'binary' | 'multiclass';

/** One validated task. */
export interface Task {
  readonly name: string;
  readonly X: Matrix<Float64Array>;
  readonly y: Float64Array;
  readonly type: TaskType;
  /** Class labels of a multiclass task (sorted); binary tasks use labels 0 and 1. */
  readonly classes?: readonly number[];
}

/** What the constructor accepts for one task (X as any matrix form, y as any vector). */
export interface TaskInput {
  name: string;
  X: unknown;
  y: unknown;
  /** Default 'regression'. */
  type?: TaskType;
  classes?: readonly number[];
}

/** Shared-input form: X (n x d) and Y (n x T), missing labels NaN (regression) or -1 (classes). */
export interface SharedData {
  readonly X: Matrix<Float64Array>;
  readonly Y: Matrix<Float64Array>;
}

const TYPES: readonly TaskType[] = ['regression', 'binary', 'multiclass'];

function validateTask(input: unknown, index: number): Task {
  if (input === null || typeof input !== 'object') {
    throw new ValueError(`task ${index} must be an object { name, X, y }, got ${describe(input)}`);
  }
  const t = input as Partial<TaskInput>;
  if (typeof t.name !== 'string' || t.name === '') {
    throw new ValueError(`task ${index} needs a non-empty string 'name', got ${describe(t.name)}`);
  }
  const where = `task '${t.name}'`;
  const type = t.type ?? 'regression';
  if (!TYPES.includes(type)) throw new ValueError(`${where}: type must be 'regression', 'binary' or 'multiclass', got ${describe(type)}${didYouMean(type, TYPES)}`);
  if (t.X === undefined) throw new ShapeError(`${where} has no X`);
  if (Array.isArray(t.X) && t.X.length === 0) throw new ValueError(`${where} has no rows (X is empty); every task needs at least one row`);
  const X = toMatrix(t.X, `X of ${where}`, { copy: true, allowEmpty: true });
  if (X.rows === 0) throw new ValueError(`${where} has no rows (X is empty); every task needs at least one row`);
  if (X.cols === 0) throw new ShapeError(`${where}: X has no columns`);
  if (t.y === undefined) throw new ShapeError(`${where} has no y`);
  const y = toVector(t.y, `y of ${where}`) as Float64Array;
  if (y.length !== X.rows) throw new ShapeError(`${where}: X has ${X.rows} rows but y has ${y.length} values`);
  let classes: number[] | undefined;
  if (type === 'binary') {
    for (let i = 0; i < y.length; i++) {
      if (y[i] !== 0 && y[i] !== 1) throw new ValueError(`${where}: binary label y[${i}] (row ${i}) is ${y[i]}, expected 0 or 1`);
    }
  } else if (type === 'multiclass') {
    if (t.classes !== undefined) {
      if (!Array.isArray(t.classes) || t.classes.length < 2 || !t.classes.every((c) => Number.isInteger(c))) {
        throw new ValueError(`${where}: classes must be an array of at least 2 integers, got ${describe(t.classes)}`);
      }
      classes = [...t.classes].sort((a, b) => a - b);
    } else {
      classes = [...new Set(y)].sort((a, b) => a - b);
    }
    const allowed = new Set(classes);
    for (let i = 0; i < y.length; i++) {
      if (!Number.isInteger(y[i]) || !allowed.has(y[i]!)) {
        throw new ValueError(`${where}: label y[${i}] (row ${i}) is ${y[i]}, expected one of the classes ${classes.join(', ')}`);
      }
    }
  }
  return classes ? { name: t.name, X, y, type, classes } : { name: t.name, X, y, type };
}

/** A fitted pooled standardiser: (x - mean) / scale per column; constant columns pass unchanged. */
export class StandardScaler {
  constructor(
    readonly mean: Float64Array,
    readonly scale: Float64Array,
  ) {}

  /** Standardise any matrix of the fitted width (returns a new Matrix). */
  transform(X: unknown): Matrix<Float64Array> {
    const m = toMatrix(X, 'X');
    const d = this.mean.length;
    if (m.cols !== d) throw new ShapeError(`StandardScaler.transform: X has ${m.cols} columns, the scaler was fitted on ${d}`);
    const out = new Float64Array(m.data.length);
    for (let i = 0; i < m.rows; i++) for (let j = 0; j < d; j++) out[i * d + j] = (m.data[i * d + j]! - this.mean[j]!) / this.scale[j]!;
    return { rows: m.rows, cols: d, data: out };
  }

  /** Undo transform. */
  inverseTransform(X: unknown): Matrix<Float64Array> {
    const m = toMatrix(X, 'X');
    const d = this.mean.length;
    if (m.cols !== d) throw new ShapeError(`StandardScaler.inverseTransform: X has ${m.cols} columns, the scaler was fitted on ${d}`);
    const out = new Float64Array(m.data.length);
    for (let i = 0; i < m.rows; i++) for (let j = 0; j < d; j++) out[i * d + j] = m.data[i * d + j]! * this.scale[j]! + this.mean[j]!;
    return { rows: m.rows, cols: d, data: out };
  }
}

export interface SplitOptions {
  /** Fraction of each task's rows that go to the test set, in (0, 1). */
  testFraction: number;
  /** Seed of the shuffle (default 0). */
  seed?: number;
}

export interface FromCSVOptions {
  /** Column whose value names the task of each row (its text is the task name). */
  taskColumn: string;
  /** Target column. */
  target: string;
  /** Feature columns (default: every other column, in file order). */
  features?: readonly string[];
  /** Type of every task (default 'regression'). */
  type?: TaskType;
}

export interface FromSharedOptions {
  /** One name per target column of Y. */
  names: readonly string[];
  /** One type per task, or one for all (default 'regression'). */
  types?: TaskType | readonly TaskType[];
}

/** A validated collection of tasks; immutable by convention (methods return new datasets). */
export class MultiTaskDataset {
  readonly tasks: readonly Task[];
  /** The shared-input form when the dataset was built with fromShared (else undefined). */
  readonly shared?: SharedData;
  private readonly index: Map<string, number>;

  /**
   * Validate a list of tasks: names unique and non-empty, every X finite, non-empty and of one
   * width, y of matching length, binary labels 0/1, multiclass labels among `classes`.
   */
  constructor(tasks: readonly (TaskInput | Task)[], shared?: SharedData) {
    if (!Array.isArray(tasks)) throw new ValueError(`MultiTaskDataset needs an array of tasks { name, X, y }, got ${describe(tasks)}`);
    if (tasks.length === 0) throw new ValueError('MultiTaskDataset needs at least one task, got an empty list');
    const list = tasks.map((t, i) => validateTask(t, i));
    this.index = new Map();
    list.forEach((t, i) => {
      if (this.index.has(t.name)) throw new ValueError(`duplicate task name '${t.name}' (tasks ${this.index.get(t.name)} and ${i}); task names must be unique`);
      this.index.set(t.name, i);
    });
    const d = list[0]!.X.cols;
    for (const t of list) {
      if (t.X.cols !== d) {
        throw new ShapeError(`tasks of different widths: task '${t.name}' has ${t.X.cols} features, task '${list[0]!.name}' has ${d}`);
      }
    }
    this.tasks = list;
    if (shared) this.shared = shared;
  }

  /** Same as the constructor. */
  static from(tasks: readonly (TaskInput | Task)[]): MultiTaskDataset {
    return new MultiTaskDataset(tasks);
  }

  /**
   * The dataset as plain data, to rebuild it on a worker thread or process (lib/core/portable.ts):
   * its shared form when it has one (the per-task rows follow from it), else its tasks.
   */
  [PORTABLE](): PortableValue {
    const value = this.shared
      ? { shared: this.shared, names: this.names, types: this.tasks.map((t) => t.type) }
      : { tasks: this.tasks.map((t) => ({ name: t.name, X: t.X, y: t.y, type: t.type, ...(t.classes ? { classes: t.classes } : {}) })) };
    return { type: 'MultiTaskDataset', value };
  }

  static [REVIVE](v: unknown): MultiTaskDataset {
    const o = v as { shared?: SharedData; names?: string[]; types?: TaskType[]; tasks?: TaskInput[] };
    return o.shared ? MultiTaskDataset.fromShared(o.shared.X, o.shared.Y, { names: o.names!, types: o.types! }) : new MultiTaskDataset(o.tasks!);
  }

  get nTasks(): number {
    return this.tasks.length;
  }
  get nFeatures(): number {
    return this.tasks[0]!.X.cols;
  }
  get names(): string[] {
    return this.tasks.map((t) => t.name);
  }
  /** Total number of rows over all tasks. */
  get nRows(): number {
    return this.tasks.reduce((s, t) => s + t.X.rows, 0);
  }

  /** The task called `name`; an unknown name gives a ValueError listing the known ones. */
  task(name: string): Task {
    const i = this.index.get(name);
    if (i === undefined) throw new ValueError(unknownName('MultiTaskDataset.task', 'task', name, this.names));
    return this.tasks[i]!;
  }

  /**
   * Split every task's rows at random into train and test (a fraction `testFraction` of each
   * task, at least one row, while the task keeps at least one training row). A task with a
   * single row stays in train only, so `test` may have fewer tasks. A shared-input dataset is
   * split by shared rows (the same permutation for every task) and keeps its shared form.
   */
  split(options: SplitOptions): { train: MultiTaskDataset; test: MultiTaskDataset } {
    if (options === null || typeof options !== 'object') throw new ValueError(`split() needs { testFraction, seed }, got ${describe(options)}`);
    const f = options.testFraction;
    if (typeof f !== 'number' || !(f > 0 && f < 1)) throw new ValueError(`split(): testFraction must be a number in (0, 1), got ${describe(f)}`);
    const seed = options.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new ValueError(`split(): seed must be a finite number, got ${describe(seed)}`);
    const rng = new Rng(seed);
    if (this.shared) {
      const n = this.shared.X.rows;
      const perm = rng.permutation(n);
      const nTest = Math.min(n - 1, Math.max(1, Math.round(n * f)));
      const testIdx = perm.slice(0, nTest).sort();
      const trainIdx = perm.slice(nTest).sort();
      const names = this.names;
      const types = this.tasks.map((t) => t.type);
      const part = (idx: Int32Array) =>
        MultiTaskDataset.fromShared(takeRows(this.shared!.X, idx), takeRows(this.shared!.Y, idx), { names, types });
      return { train: part(trainIdx), test: part(testIdx) };
    }
    const train: Task[] = [];
    const test: Task[] = [];
    for (const t of this.tasks) {
      const n = t.X.rows;
      const perm = rng.permutation(n);
      const nTest = n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(n * f)));
      // Sorted indices keep the original row order inside each part.
      const testIdx = perm.slice(0, nTest).sort();
      const trainIdx = perm.slice(nTest).sort();
      train.push(subTask(t, trainIdx));
      if (nTest > 0) test.push(subTask(t, testIdx));
    }
    return { train: new MultiTaskDataset(train), test: new MultiTaskDataset(test) };
  }

  /**
   * Standardise features with the mean and standard deviation of all rows pooled over tasks.
   * Constant columns (a bias column, a one-hot level that never occurs) are left unchanged.
   */
  standardize(): { dataset: MultiTaskDataset; scaler: StandardScaler } {
    const d = this.nFeatures;
    const mean = new Float64Array(d);
    const sq = new Float64Array(d);
    let n = 0;
    for (const t of this.tasks) {
      for (let i = 0; i < t.X.rows; i++) for (let j = 0; j < d; j++) mean[j]! += t.X.data[i * d + j]!;
      n += t.X.rows;
    }
    for (let j = 0; j < d; j++) mean[j]! /= n;
    for (const t of this.tasks) {
      for (let i = 0; i < t.X.rows; i++)
        for (let j = 0; j < d; j++) {
          const c = t.X.data[i * d + j]! - mean[j]!;
          sq[j]! += c * c;
        }
    }
    const scale = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      const sd = Math.sqrt(sq[j]! / n);
      // Relative test: a column equal to a constant up to rounding counts as constant.
      if (!(sd > 1e-12 * Math.max(1, Math.abs(mean[j]!)))) {
        mean[j] = 0;
        scale[j] = 1;
      } else scale[j] = sd;
    }
    const scaler = new StandardScaler(mean, scale);
    const tasks = this.tasks.map((t) => ({ ...t, X: scaler.transform(t.X) }));
    const shared = this.shared ? { X: scaler.transform(this.shared.X), Y: this.shared.Y } : undefined;
    return { dataset: new MultiTaskDataset(tasks, shared), scaler };
  }

  /**
   * Read a CSV file (header line, comma-separated, numeric; see lib/data/csv.ts) with one row per
   * example and a column naming its task. Tasks appear in order of first occurrence.
   */
  static fromCSV(path: string, options: FromCSVOptions): MultiTaskDataset {
    if (typeof path !== 'string') throw new ValueError(`fromCSV(path): path must be a string, got ${describe(path)}`);
    if (options === null || typeof options !== 'object') throw new ValueError(`fromCSV() needs options { taskColumn, target }, got ${describe(options)}`);
    const { taskColumn, target } = options;
    if (typeof taskColumn !== 'string') throw new ValueError(`fromCSV(): taskColumn must be a column name, got ${describe(taskColumn)}`);
    if (typeof target !== 'string') throw new ValueError(`fromCSV(): target must be a column name, got ${describe(target)}`);
    const table = readCSV(path, { keepText: [taskColumn] });
    const col = (name: string, what: string) => {
      const j = table.header.indexOf(name);
      if (j < 0) throw new ValueError(`fromCSV(${path}): ${what} column '${name}' is not in the header${didYouMean(name, table.header)} (${table.header.join(', ')})`);
      return j;
    };
    const tj = col(taskColumn, 'task');
    const yj = col(target, 'target');
    const features = options.features ?? table.header.filter((h) => h !== taskColumn && h !== target);
    if (!Array.isArray(features) || features.length === 0) throw new ValueError(`fromCSV(${path}): no feature columns`);
    const fj = features.map((f) => col(f, 'feature'));
    if (fj.includes(tj) || fj.includes(yj)) throw new ValueError(`fromCSV(${path}): the task and target columns cannot also be features`);
    const w = table.header.length;
    const taskText = table.text.get(taskColumn)!;
    const groups = new Map<string, number[]>();
    for (let i = 0; i < table.rows; i++) {
      const key = taskText[i]!;
      if (key === '') throw new ValueError(`fromCSV(${path}): line ${i + 2} has an empty task column '${taskColumn}'`);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push(i);
    }
    void tj;
    const d = fj.length;
    const tasks: TaskInput[] = [];
    for (const [name, rows] of groups) {
      const X = new Float64Array(rows.length * d);
      const y = new Float64Array(rows.length);
      rows.forEach((r, i) => {
        for (let k = 0; k < d; k++) X[i * d + k] = table.data[r * w + fj[k]!]!;
        y[i] = table.data[r * w + yj]!;
      });
      tasks.push({ name, X: { rows: rows.length, cols: d, data: X }, y, type: options.type ?? 'regression' });
    }
    if (tasks.length === 0) throw new ValueError(`fromCSV(${path}): the file has no data rows`);
    return new MultiTaskDataset(tasks);
  }

  /**
   * Shared inputs: X (n x d) for every task and Y (n x T) with one target column per task.
   * Missing labels are NaN (regression) or -1 (binary, multiclass); `tasks` holds each task's
   * labelled rows, `shared` keeps X and Y as given.
   */
  static fromShared(X: unknown, Y: unknown, options: FromSharedOptions): MultiTaskDataset {
    const x = toMatrix(X, 'X', { copy: true });
    const yM = toMatrix(Y, 'Y', { copy: true, allowNaN: true });
    if (yM.rows !== x.rows) throw new ShapeError(`fromShared: X has ${x.rows} rows but Y has ${yM.rows}`);
    if (options === null || typeof options !== 'object' || !Array.isArray(options.names)) {
      throw new ValueError(`fromShared: options.names must list one task name per column of Y`);
    }
    const T = yM.cols;
    if (options.names.length !== T) throw new ShapeError(`fromShared: Y has ${T} columns but ${options.names.length} task names were given`);
    const types = options.types ?? 'regression';
    if (Array.isArray(types) && types.length !== T) throw new ShapeError(`fromShared: ${types.length} types given for ${T} tasks`);
    const tasks: TaskInput[] = [];
    for (let t = 0; t < T; t++) {
      const name = options.names[t]!;
      const type = (Array.isArray(types) ? types[t] : types) as TaskType;
      const idx: number[] = [];
      for (let i = 0; i < x.rows; i++) {
        const v = yM.data[i * T + t]!;
        const missing = type === 'regression' ? Number.isNaN(v) : v === -1;
        if (!missing) {
          if (Number.isNaN(v)) throw new ValueError(`fromShared: task '${name}' (a ${type} task) has NaN at row ${i}; missing class labels are -1`);
          idx.push(i);
        }
      }
      if (idx.length === 0) throw new ValueError(`fromShared: task '${name}' has no rows (every label of column ${t} is missing)`);
      const y = Float64Array.from(idx, (i) => yM.data[i * T + t]!);
      tasks.push({ name, X: takeRows(x, idx), y, type });
    }
    return new MultiTaskDataset(tasks, { X: x, Y: yM });
  }
}

function subTask(t: Task, idx: ArrayLike<number>): Task {
  const y = Float64Array.from({ length: idx.length }, (_, i) => t.y[idx[i]!]!);
  return t.classes ? { name: t.name, X: takeRows(t.X, idx), y, type: t.type, classes: t.classes } : { name: t.name, X: takeRows(t.X, idx), y, type: t.type };
}

/** A list of names for error messages, shortened when long. */
export const listNames = listKnown;
