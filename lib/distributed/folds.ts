/**
 * K-fold splits of the data every kind of model fits, and the arguments of fit and score on the
 * rows of a fold, computed the same way wherever a fold runs (in this thread, on a worker thread,
 * in a queue worker), so that every runner gives the same scores.
 *
 * - Shared-design models (fit(X, Y): MultiTaskLasso, MultiTaskElasticNet, their CV) and a
 *   MultiTaskNet on { X, Y } or a dataset built with fromShared: folds of the rows of X
 *   (scikit-learn's KFold).
 * - Models of per-task rows (fit(dataset): the TaskLinearModel family) and a MultiTaskNet on a
 *   dataset of per-task rows: each task's rows are split into k folds (so every fold holds rows
 *   of every task), and fold f joins the f-th folds of all tasks.
 */
import { ConfigError, ValueError } from '../core/errors.js';
import { describe, takeRows, toMatrix, type Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';
import { MultiTaskDataset, type TaskInput } from '../data/dataset.js';
import { CdEstimator, toTargets } from '../linear/cdEstimator.js';
import { kFold } from '../linear/multiTaskElasticNetCV.js';
import { TaskLinearModel } from '../linear/taskModel.js';
import { MultiTaskNet } from '../mtl/multiTaskNet.js';

/** How a model takes its data: fit(X, Y), fit(dataset), or a MultiTaskNet's fit(data). */
export type Family = 'xy' | 'tasks' | 'net';

export interface Fold {
  train: Int32Array;
  test: Int32Array;
}

/** The data as rows to split: one design (X, Y), or tasks of their own rows. */
type Rows = { kind: 'xy'; X: Matrix<Float64Array>; Y: Matrix<Float64Array> } | { kind: 'tasks'; ds: MultiTaskDataset };

export function familyOf(model: unknown, owner: string): Family {
  if (model instanceof CdEstimator) return 'xy';
  if (model instanceof TaskLinearModel) return 'tasks';
  if (model instanceof MultiTaskNet) return 'net';
  throw new ConfigError(`${owner}: cross-validation splits rows of data, for the multi-task linear models and MultiTaskNet; got ${describe(model)} (meta-learners are evaluated on held-out tasks: evaluate(sampler))`);
}

function rowsOf(family: Family, data: unknown, owner: string): Rows {
  if (family === 'tasks' || (family === 'net' && data instanceof MultiTaskDataset && !data.shared)) {
    if (data instanceof MultiTaskDataset) return { kind: 'tasks', ds: data };
    if (Array.isArray(data)) return { kind: 'tasks', ds: new MultiTaskDataset(data as TaskInput[]) };
    throw new ValueError(`${owner}: data must be a MultiTaskDataset or an array of tasks { name, X, y }, got ${describe(data)}`);
  }
  const d = (data instanceof MultiTaskDataset ? data.shared : data) as { X?: unknown; Y?: unknown } | null;
  if (!d || typeof d !== 'object' || !('X' in d) || !('Y' in d)) throw new ValueError(`${owner}: data must be { X, Y }${family === 'net' ? ' or a MultiTaskDataset' : ''}, got ${describe(data)}`);
  const X = toMatrix(d.X, `${owner}: X`);
  const Y = family === 'xy' ? toTargets(d.Y, `${owner}: Y`) : toMatrix(d.Y, `${owner}: Y`, { allowNaN: true });
  if (X.rows !== Y.rows) throw new ValueError(`${owner}: X has ${X.rows} rows but Y has ${Y.rows}`);
  return { kind: 'xy', X, Y };
}

/** The k folds of `data` (row ids: rows of X, or the tasks' rows numbered one task after another). */
export function foldsOf(family: Family, data: unknown, k: number, shuffle: boolean, seed: number, owner: string): Fold[] {
  const rows = rowsOf(family, data, owner);
  const rng = new Rng(seed);
  if (rows.kind === 'xy') {
    if (rows.X.rows < k) throw new ValueError(`${owner}: cannot split ${rows.X.rows} rows into ${k} folds`);
    return kFold(rows.X.rows, k, shuffle, rng);
  }
  const parts = Array.from({ length: k }, () => ({ train: [] as number[], test: [] as number[] }));
  let offset = 0;
  for (const t of rows.ds.tasks) {
    if (t.X.rows < k) throw new ValueError(`${owner}: task '${t.name}' has ${t.X.rows} rows; ${k} folds need at least ${k}`);
    kFold(t.X.rows, k, shuffle, rng.fork()).forEach((f, i) => {
      for (const r of f.train) parts[i]!.train.push(offset + r);
      for (const r of f.test) parts[i]!.test.push(offset + r);
    });
    offset += t.X.rows;
  }
  return parts.map((p) => ({ train: Int32Array.from(p.train), test: Int32Array.from(p.test) }));
}

/** The arguments of fit and score on the rows `ids` of `data`. */
export function foldArgs(family: Family, data: unknown, ids: Int32Array, owner: string): unknown[] {
  const rows = rowsOf(family, data, owner);
  if (rows.kind === 'xy') {
    const X = takeRows(rows.X, ids);
    const Y = takeRows(rows.Y, ids);
    return family === 'xy' ? [X, Y] : [{ X, Y }];
  }
  let offset = 0;
  const tasks = rows.ds.tasks.map((t) => {
    const local: number[] = [];
    for (const id of ids) if (id >= offset && id < offset + t.X.rows) local.push(id - offset);
    offset += t.X.rows;
    return { name: t.name, type: t.type, X: takeRows(t.X, local), y: Float64Array.from(local, (i) => t.y[i]!), ...(t.classes ? { classes: t.classes } : {}) };
  });
  return [new MultiTaskDataset(tasks)];
}
