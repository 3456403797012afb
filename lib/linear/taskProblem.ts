/**
 * The stacked form every per-task linear model solves (task t owns rows offsets[t]..offsets[t+1]-1
 * of one matrix), the solution of one solve, and Work: a computation written as a generator that
 * yields progress at safe points. taskModel.ts (the models) and taskCV.ts (cross-validation) both
 * build on these, so they live below both.
 */
import type { BufferLease } from '../core/bufferLease.js';
import type { Progress } from '../core/estimator.js';
import type { Matrix } from '../core/matrix.js';
import type { MultiTaskDataset } from '../data/dataset.js';

/**
 * What a Work generator yields at each safe point: the phase, the CV position, and a solver's
 * iteration and objective when it has them. fit() turns these into {@link FitProgress} records.
 */
export interface WorkProgress {
  /** 'cv' while cross-validating, 'fit' for the final fit. */
  phase: 'cv' | 'fit';
  /** CV fold (0-based) during 'cv'. */
  fold?: number;
  /** Index into the strength grid (cvPath.grid). */
  gridIndex?: number;
  /** Solver iteration (iterative solvers). */
  iter?: number;
  /** Objective value at that iteration. */
  objective?: number;
  /** During 'cv': fits of the CV path done so far, and how many it has. */
  step?: number;
  total?: number;
}

/**
 * The progress record of the per-task models' fit: the common {@link Progress} fields (step,
 * total, loss = the solver's objective) and the CV position and solver iteration.
 */
export interface FitProgress extends Progress {
  /** CV fold (0-based) during 'cv'. */
  fold?: number;
  /** Index into the strength grid (cvPath.grid). */
  gridIndex?: number;
  /** Solver iteration (iterative solvers). */
  iter?: number;
  /** Objective value at that iteration (also in `loss`). */
  objective?: number;
}

export type Work<T> = Generator<WorkProgress, T, void>;

/** Run `work`, reporting each record it yields with `fields` laid over it (e.g. a phase). */
export function* relabel<T>(work: Work<T>, fields: Partial<WorkProgress>): Work<T> {
  let r = work.next();
  while (!r.done) {
    yield { ...r.value, ...fields };
    r = work.next();
  }
  return r.value;
}

/** Tasks stacked: task t owns rows offsets[t]..offsets[t+1]-1 of x and y. */
export interface TaskProblem {
  readonly x: Matrix<Float64Array>;
  readonly y: Float64Array;
  readonly offsets: Int32Array;
  readonly T: number;
  readonly d: number;
  /** Task names (in task order), for models whose options name tasks (e.g. a task graph). */
  readonly names?: readonly string[];
  /**
   * The fit's lease when the problem's memory is lent for one fit (the problem a model fits, not
   * its CV folds): the copies derived from it (centred, compressed) are lent by it too, and the
   * fit gives them all back when it ends, so the next fit's copies reuse the memory instead of
   * faulting in fresh pages (on a 20-task 400 x 300 problem, 15,000-20,000 faults, a third of a fit).
   */
  readonly lease?: BufferLease;
}

/** The tasks of a dataset stacked in one matrix, in memory of `lease` when given. */
export function stackTasks(data: MultiTaskDataset, lease?: BufferLease): TaskProblem {
  const T = data.nTasks;
  const d = data.nFeatures;
  const offsets = new Int32Array(T + 1);
  data.tasks.forEach((t, i) => (offsets[i + 1] = offsets[i]! + t.X.rows));
  const N = offsets[T]!;
  // Every row is written below.
  const x = lease ? lease.f64Uncleared(N * d) : new Float64Array(N * d);
  const y = lease ? lease.f64Uncleared(N) : new Float64Array(N);
  data.tasks.forEach((t, i) => {
    x.set(t.X.data, offsets[i]! * d);
    y.set(t.y, offsets[i]!);
  });
  return { x: { rows: N, cols: d, data: x }, y, offsets, T, d, names: data.names, ...(lease ? { lease } : {}) };
}

/** The rows of `p` whose mask entry is true, keeping the task structure (a task may become empty). */
export function selectRows(p: TaskProblem, keep: (row: number) => boolean): TaskProblem {
  const { d, T } = p;
  const offsets = new Int32Array(T + 1);
  const rows: number[] = [];
  for (let t = 0; t < T; t++) {
    for (let i = p.offsets[t]!; i < p.offsets[t + 1]!; i++) if (keep(i)) rows.push(i);
    offsets[t + 1] = rows.length;
  }
  const x = new Float64Array(rows.length * d);
  const y = new Float64Array(rows.length);
  rows.forEach((r, k) => {
    x.set(p.x.data.subarray(r * d, (r + 1) * d), k * d);
    y[k] = p.y[r]!;
  });
  return { x: { rows: rows.length, cols: d, data: x }, y, offsets, T, d, names: p.names };
}

/** Task t's rows as a Matrix view (no copy). */
export function taskRows(p: TaskProblem, t: number): Matrix<Float64Array> {
  const a = p.offsets[t]!;
  const b = p.offsets[t + 1]!;
  return { rows: b - a, cols: p.d, data: p.x.data.subarray(a * p.d, b * p.d) };
}

/** The result of one solve at one point of the strength grid. */
export interface Solution {
  coef: Matrix<Float64Array>;
  intercept: Float64Array;
  history?: number[];
  nIter?: number;
  /** Solver state for warm starts along the path (model-specific). */
  warm?: unknown;
  /**
   * Further fitted matrices a model exposes and saves with itself (the components of W of a
   * model with W = P + Q, a learned task similarity...), by name.
   */
  parts?: Record<string, Matrix<Float64Array>>;
}

export type Params = Record<string, number>;
