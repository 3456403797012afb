/**
 * metatask's metrics: regression and classification metrics on one task's
 * (yTrue, yPred), and two helpers for several tasks:
 *
 *   perTask(fn, tasks)  the metric of each task, in task order
 *   pooled(fn, tasks)   the metric of all tasks' samples pooled into one set (so a task with more
 *                       samples counts more, the convention of the School experiments)
 *
 *   import { metrics } from 'metatask';
 *   metrics.perTask(metrics.r2, [{ yTrue: y1, yPred: p1 }, { yTrue: y2, yPred: p2 }]);
 *   metrics.f1(y, p, { average: 'macro' });
 */
import { ShapeError, ValueError } from '../core/errors.js';
import { describe, toMatrix, type MatrixLike, type VectorLike } from '../core/matrix.js';
import { vector } from './check.js';

export { mse, rmse, mae, r2, explainedVariance, nmse } from './regression.js';
export { accuracy, precision, recall, f1, logLoss, rocAuc, type Average, type PrfOptions, type LogLossOptions } from './classification.js';

export interface TaskPredictions {
  /** Optional, for error messages. */
  name?: string;
  yTrue: VectorLike;
  /** A vector, or an n x C matrix of probabilities for a multiclass logLoss. */
  yPred: VectorLike | MatrixLike;
}

type Metric<O> = (yTrue: VectorLike, yPred: any, options?: O) => number;

/** The metric of each task (in order); an error names the task it came from. */
export function perTask<O>(fn: Metric<O>, tasks: readonly TaskPredictions[], options?: O): number[] {
  checkTasks(tasks, 'perTask');
  return tasks.map((t, i) => {
    try {
      return options === undefined ? fn(t.yTrue, t.yPred) : fn(t.yTrue, t.yPred, options);
    } catch (err) {
      if (err instanceof Error) err.message = `task ${taskLabel(t, i)}: ${err.message}`;
      throw err;
    }
  });
}

/** The metric over every task's samples together. */
export function pooled<O>(fn: Metric<O>, tasks: readonly TaskPredictions[], options?: O): number {
  checkTasks(tasks, 'pooled');
  const yTrue: number[] = [];
  for (let i = 0; i < tasks.length; i++) {
    for (const v of vector(tasks[i]!.yTrue, `pooled (task ${taskLabel(tasks[i]!, i)})`, 'yTrue')) yTrue.push(v);
  }
  const matrices = tasks.map((t) => isMatrixLike(t.yPred));
  if (matrices.every(Boolean)) {
    // Stack the rows of n_t x C probability matrices (multiclass logLoss).
    const parts = tasks.map((t, i) => toMatrix(t.yPred, `pooled: yPred of task ${taskLabel(t, i)}`));
    const cols = parts[0]!.cols;
    const data: number[] = [];
    parts.forEach((m, i) => {
      if (m.cols !== cols) {
        throw new ShapeError(`pooled: yPred of task ${taskLabel(tasks[i]!, i)} has ${m.cols} columns, task ${taskLabel(tasks[0]!, 0)} has ${cols}`);
      }
      for (const v of m.data) data.push(v);
    });
    const yPred = { rows: data.length / cols, cols, data: Float64Array.from(data) };
    return options === undefined ? fn(yTrue, yPred) : fn(yTrue, yPred, options);
  }
  if (matrices.some(Boolean)) throw new ShapeError('pooled: some tasks give yPred as a matrix and others as a vector; use one form');
  const yPred: number[] = [];
  for (let i = 0; i < tasks.length; i++) {
    const p = vector(tasks[i]!.yPred, `pooled (task ${taskLabel(tasks[i]!, i)})`, 'yPred');
    const n = (tasks[i]!.yTrue as ArrayLike<number>).length;
    if (p.length !== n) throw new ShapeError(`pooled: task ${taskLabel(tasks[i]!, i)} has ${n} values in yTrue but ${p.length} in yPred`);
    for (const v of p) yPred.push(v);
  }
  return options === undefined ? fn(yTrue, yPred) : fn(yTrue, yPred, options);
}

function checkTasks(tasks: unknown, where: string): void {
  if (!Array.isArray(tasks)) throw new ValueError(`${where}: tasks must be an array of { yTrue, yPred }, got ${describe(tasks)}`);
  if (tasks.length === 0) throw new ValueError(`${where}: tasks is empty; give at least one { yTrue, yPred }`);
  tasks.forEach((t, i) => {
    if (t === null || typeof t !== 'object' || !('yTrue' in t) || !('yPred' in t)) {
      throw new ValueError(`${where}: tasks[${i}] must be an object { yTrue, yPred }, got ${describe(t)}`);
    }
  });
}

function taskLabel(t: TaskPredictions, i: number): string {
  return t.name !== undefined ? `'${t.name}'` : String(i);
}

function isMatrixLike(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0 && (Array.isArray(v[0]) || ArrayBuffer.isView(v[0]));
  return v !== null && typeof v === 'object' && !ArrayBuffer.isView(v) && 'data' in (v as object);
}
