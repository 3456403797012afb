/**
 * MultiTaskNet's data: either shape (a MultiTaskDataset with per-task rows or shared inputs, or
 * { X, Y } with Y n x T in task order) normalised into inputs X and an n x T target matrix, NaN
 * where a task has no label (missing values, or another task's rows); class labels become class
 * indices. Also the validation hold-out and the fixed subsample the epoch metrics are taken on.
 */
import { ShapeError, ValueError } from '../core/errors.js';
import { allocate, describe, toMatrix, type FloatArray, type Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { didYouMean } from '../core/suggest.js';
import { MultiTaskDataset } from '../data/dataset.js';
import { KIND, type MultiTaskData, type NetConfig } from './netOptions.js';

/** Prepared data: inputs and an n x T target matrix (NaN = missing, class index for multiclass). */
export interface Prepared {
  X: Matrix<FloatArray>;
  Y: Matrix<FloatArray>;
  /** Labelled rows per task. */
  counts: Int32Array;
}

/** X checked against the net's input width, in its dtype. */
export function inputs(config: NetConfig, X: unknown, name: string): Matrix<FloatArray> {
  const x = toMatrix(X, name, { dtype: config.dtype });
  if (x.cols !== config.inputSize) {
    throw new ShapeError(`${KIND}: ${name} has ${x.cols} columns, but the network was built with inputSize ${config.inputSize}`);
  }
  return x;
}

/** Normalise either data shape into X and an n x T target matrix with NaN for missing labels. */
export function prepare(config: NetConfig, data: MultiTaskData, what: string): Prepared {
  const tasks = config.tasks;
  const T = tasks.length;
  const index = new Map(tasks.map((t, i) => [t.name, i]));
  const dtype = config.dtype;
  if (data instanceof MultiTaskDataset || (data !== null && typeof data === 'object' && Array.isArray((data as unknown as MultiTaskDataset).tasks))) {
    const ds = data as MultiTaskDataset;
    const cols = ds.tasks.map((dt) => {
      const t = index.get(dt.name);
      if (t === undefined) throw new ValueError(`${KIND}: ${what} has task '${dt.name}', which the network does not have${didYouMean(dt.name, config.tasks.map((x) => x.name))}; its tasks: ${config.tasks.map((x) => x.name).map((s) => `'${s}'`).join(', ')}`);
      if (dt.type !== tasks[t]!.type) throw new ValueError(`${KIND}: task '${dt.name}' is ${tasks[t]!.type} in the network but ${dt.type} in the ${what}`);
      return t;
    });
    if (ds.shared) {
      const X = inputs(config, ds.shared.X, `X of the ${what}`);
      const Y = allocate(dtype, X.rows * T).fill(NaN);
      const src = ds.shared.Y;
      cols.forEach((t, j) => {
        const missingClass = tasks[t]!.type !== 'regression';
        for (let i = 0; i < X.rows; i++) {
          const v = src.data[i * src.cols + j]!;
          if (Number.isNaN(v) || (missingClass && v === -1)) continue;
          Y[i * T + t] = label(config, t, v, i, what);
        }
      });
      return { X, Y: { rows: X.rows, cols: T, data: Y }, counts: countLabels(Y, T) };
    }
    const n = ds.tasks.reduce((s, dt) => s + dt.X.rows, 0);
    const d = ds.tasks[0]!.X.cols;
    if (d !== config.inputSize) throw new ShapeError(`${KIND}: the ${what} has ${d} features, but the network was built with inputSize ${config.inputSize}`);
    const X = allocate(dtype, n * d);
    const Y = allocate(dtype, n * T).fill(NaN);
    let r = 0;
    ds.tasks.forEach((dt, j) => {
      const t = cols[j]!;
      X.set(dt.X.data, r * d);
      for (let i = 0; i < dt.X.rows; i++) Y[(r + i) * T + t] = label(config, t, dt.y[i]!, i, what);
      r += dt.X.rows;
    });
    return { X: { rows: n, cols: d, data: X }, Y: { rows: n, cols: T, data: Y }, counts: countLabels(Y, T) };
  }
  if (data !== null && typeof data === 'object' && 'X' in data && 'Y' in data) {
    const X = inputs(config, data.X, `X of the ${what}`);
    // Read in the input's own precision: float32 targets need no float64 copy (the values read are
    // the same; the copy of 8 million targets took 180 ms, mostly its pages' first writes), and
    // float64 ones keep every digit for the label checks.
    const given = (data.Y as { data?: unknown } | null)?.data;
    const Yin = toMatrix(data.Y, `Y of the ${what}`, { allowNaN: true, dtype: given instanceof Float32Array ? 'float32' : 'float64' });
    if (Yin.rows !== X.rows) throw new ShapeError(`${KIND}: the ${what} has ${X.rows} rows in X but ${Yin.rows} in Y`);
    if (Yin.cols !== T) throw new ShapeError(`${KIND}: Y of the ${what} has ${Yin.cols} columns, expected one per task (${T})`);
    const Y = allocate(dtype, X.rows * T);
    // Regression targets are taken as they are (a missing one is NaN either way): one copy.
    if (tasks.every((t) => t.type === 'regression')) {
      Y.set(Yin.data);
      return { X, Y: { rows: X.rows, cols: T, data: Y }, counts: countLabels(Y, T) };
    }
    Y.fill(NaN);
    for (let i = 0; i < X.rows; i++) {
      for (let t = 0; t < T; t++) {
        const v = Yin.data[i * T + t]!;
        if (Number.isNaN(v) || (tasks[t]!.type !== 'regression' && v === -1)) continue;
        Y[i * T + t] = label(config, t, v, i, what);
      }
    }
    return { X, Y: { rows: X.rows, cols: T, data: Y }, counts: countLabels(Y, T) };
  }
  throw new ValueError(`${KIND}: the ${what} must be a MultiTaskDataset or { X, Y }, got ${describe(data)}`);
}

/** The target value the kernel sees: the value (regression), 0/1 (binary), the class index. */
export function label(config: NetConfig, t: number, v: number, row: number, what: string): number {
  const task = config.tasks[t]!;
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
export function holdOut(config: NetConfig, p: Prepared, fraction: number): [Prepared, Prepared] {
  const n = p.X.rows;
  const nVal = Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
  const perm = new Rng(config.seed ^ 0x5eed).permutation(n);
  const pick = (idx: Int32Array): Prepared => {
    const d = p.X.cols;
    const T = p.Y.cols;
    const X = allocate(config.dtype, idx.length * d);
    const Y = allocate(config.dtype, idx.length * T);
    idx.forEach((i, r) => {
      X.set(p.X.data.subarray(i * d, (i + 1) * d), r * d);
      Y.set(p.Y.data.subarray(i * T, (i + 1) * T), r * T);
    });
    return { X: { rows: idx.length, cols: d, data: X }, Y: { rows: idx.length, cols: T, data: Y }, counts: countLabels(Y, T) };
  };
  return [pick(perm.slice(nVal).sort()), pick(perm.slice(0, nVal).sort())];
}

export function subsample(p: Prepared, max: number): Prepared {
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

export function countLabels(Y: FloatArray, T: number): Int32Array {
  const c = new Int32Array(T);
  for (let i = 0; i < Y.length; i++) if (Y[i] === Y[i]) c[i % T]!++;
  return c;
}
