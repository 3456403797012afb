/**
 * Task graphs of the graph-regularised models: an undirected weighted graph over the tasks,
 * given as edges or as a similarity matrix, and the smooth penalty
 *     lambdaGraph sum_{edges (s, t)} a_st ||w_s - w_t||^2 + lambdaRidge ||W||_F^2
 *       = lambdaGraph tr(W^T Lap W) + lambdaRidge ||W||_F^2,     Lap = D - A,
 * the graph Laplacian of the (symmetric) weights A (Evgeniou, Micchelli & Pontil, "Learning
 * multiple tasks with kernel methods", JMLR 6, 2005; the "graph-regularised" multi-task model).
 * Its gradient is 2 lambdaGraph Lap W + 2 lambdaRidge W (one gemm through the kernels), its
 * Lipschitz constant 2 lambdaGraph lambda_max(Lap) + 2 lambdaRidge.
 */
import { ConfigError, ShapeError, ValueError } from '../core/errors.js';
import { describe, toMatrix, type Matrix } from '../core/matrix.js';
import { closest } from '../core/options.js';
import { listNames } from '../data/dataset.js';
import { kernels } from '../kernels/index.js';
import type { SmoothPenalty } from './structuredSolver.js';

/** A task named by its name or by its index in the data's task order. */
export type TaskRef = string | number;
/** An undirected edge between two tasks, with a weight > 0 (default 1). */
export type TaskEdge = readonly [TaskRef, TaskRef] | readonly [TaskRef, TaskRef, number];

/** A task reference for messages: 'name' or index i. */
function refName(ref: unknown): string {
  return typeof ref === 'string' ? `'${ref}'` : typeof ref === 'number' ? `index ${ref}` : describe(ref);
}

/** Check an edge list given as an option (shape, endpoint types, weights). */
export function checkEdges(owner: string, edges: unknown): void {
  const where = `${owner}: option 'edges'`;
  if (!Array.isArray(edges)) throw new ConfigError(`${where} must be an array of [task, task, weight?] edges, got ${describe(edges)}`);
  edges.forEach((e, i) => {
    if (!Array.isArray(e) || e.length < 2 || e.length > 3) throw new ConfigError(`${where}: edge ${i} must be [task, task] or [task, task, weight], got ${describe(e)}`);
    for (const end of [e[0], e[1]]) {
      const ok = (typeof end === 'string' && end !== '') || (typeof end === 'number' && Number.isInteger(end) && end >= 0);
      if (!ok) throw new ConfigError(`${where}: edge ${i} names its tasks by name (a string) or by index (an integer >= 0), got ${describe(end)}`);
    }
    if (e[0] === e[1]) throw new ConfigError(`${where}: edge ${i} joins task ${refName(e[0])} to itself`);
    if (e.length === 3 && !(typeof e[2] === 'number' && Number.isFinite(e[2]) && e[2] > 0)) {
      throw new ConfigError(`${where}: the weight of edge ${i} must be a finite number > 0, got ${describe(e[2])}`);
    }
  });
}

/** Check a similarity matrix given as an option: square, finite, >= 0, symmetric. */
export function checkSimilarity(owner: string, similarity: unknown): Matrix<Float64Array> {
  const where = `${owner}: option 'similarity'`;
  let m: Matrix<Float64Array>;
  try {
    m = toMatrix(similarity, `${where}`);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const n = m.rows;
  if (m.cols !== n) throw new ConfigError(`${where} must be square (tasks x tasks), got ${m.rows} x ${m.cols}`);
  for (let s = 0; s < n; s++) {
    for (let t = 0; t < n; t++) {
      const v = m.data[s * n + t]!;
      if (v < 0) throw new ConfigError(`${where}: entry (${s}, ${t}) is ${v}; similarities must be >= 0`);
      if (v !== m.data[t * n + s]) throw new ConfigError(`${where} must be symmetric: entry (${s}, ${t}) is ${v} but (${t}, ${s}) is ${m.data[t * n + s]}`);
    }
  }
  return m;
}

/** Index of a task reference among `names`; a ValueError names the edge and suggests a name. */
function resolve(owner: string, ref: TaskRef, names: readonly string[], where: string): number {
  if (typeof ref === 'number') {
    if (ref >= names.length) throw new ValueError(`${owner}: ${where} refers to task index ${ref}, but the data has ${names.length} tasks`);
    return ref;
  }
  const i = names.indexOf(ref);
  if (i < 0) {
    const hint = closest(ref, [...names]);
    throw new ValueError(`${owner}: ${where} names an unknown task '${ref}'${hint ? ` (did you mean '${hint}'?)` : ''}; known tasks: ${listNames(names)}`);
  }
  return i;
}

/** The symmetric T x T weight matrix of an edge list (repeated edges add up). */
export function adjacencyFromEdges(owner: string, edges: readonly TaskEdge[], names: readonly string[]): Matrix<Float64Array> {
  const T = names.length;
  const a = new Float64Array(T * T);
  edges.forEach((e, i) => {
    const s = resolve(owner, e[0], names, `edge ${i}`);
    const t = resolve(owner, e[1], names, `edge ${i}`);
    if (s === t) throw new ValueError(`${owner}: edge ${i} joins task '${names[s]}' to itself`);
    const w = e[2] ?? 1;
    a[s * T + t]! += w;
    a[t * T + s]! += w;
  });
  return { rows: T, cols: T, data: a };
}

/** The weights of a similarity matrix for T tasks (its diagonal is ignored). */
export function adjacencyFromSimilarity(owner: string, similarity: Matrix<Float64Array>, T: number): Matrix<Float64Array> {
  if (similarity.rows !== T) throw new ShapeError(`${owner}: option 'similarity' is ${similarity.rows} x ${similarity.rows}, but the data has ${T} tasks`);
  const a = similarity.data.slice();
  for (let t = 0; t < T; t++) a[t * T + t] = 0;
  return { rows: T, cols: T, data: a };
}

/** The weights of a chain t_0 - t_1 - ... in the given order (order[i] = task index), weight 1. */
export function chainAdjacency(order: readonly number[]): Matrix<Float64Array> {
  const T = order.length;
  const a = new Float64Array(T * T);
  for (let i = 0; i + 1 < T; i++) {
    a[order[i]! * T + order[i + 1]!] = 1;
    a[order[i + 1]! * T + order[i]!] = 1;
  }
  return { rows: T, cols: T, data: a };
}

/** A Laplacian with its largest eigenvalue and mean degree (the units of a graph strength). */
export interface Laplacian {
  lap: Matrix<Float64Array>;
  lambdaMax: number;
  meanDegree: number;
}

/** Lap = D - A, its largest eigenvalue (symEig through the kernels) and the mean degree. */
export function laplacian(a: Matrix<Float64Array>): Laplacian {
  const T = a.rows;
  const lap = new Float64Array(T * T);
  let total = 0;
  for (let s = 0; s < T; s++) {
    let deg = 0;
    for (let t = 0; t < T; t++) {
      deg += a.data[s * T + t]!;
      lap[s * T + t] = -a.data[s * T + t]!;
    }
    lap[s * T + s] = deg;
    total += deg;
  }
  const m = { rows: T, cols: T, data: lap };
  const lambdaMax = T > 0 ? Math.max(0, kernels().symEig(m).values[T - 1]!) : 0;
  return { lap: m, lambdaMax, meanDegree: T > 0 ? total / T : 0 };
}

/** lambdaGraph tr(W^T Lap W) + lambdaRidge ||W||_F^2 as a smooth penalty on W (T x d). */
export function laplacianPenalty(g: Laplacian, lambdaGraph: number, lambdaRidge: number): SmoothPenalty {
  const K = kernels();
  return {
    value(w, grad) {
      let s = 0;
      if (lambdaGraph > 0) {
        const lw = { rows: w.rows, cols: w.cols, data: new Float64Array(w.data.length) };
        K.gemm(g.lap, w, lw);
        let q = 0;
        for (let i = 0; i < w.data.length; i++) q += w.data[i]! * lw.data[i]!;
        s += lambdaGraph * q;
        if (grad) for (let i = 0; i < w.data.length; i++) grad.data[i]! += 2 * lambdaGraph * lw.data[i]!;
      }
      if (lambdaRidge > 0) {
        let q = 0;
        for (let i = 0; i < w.data.length; i++) q += w.data[i]! * w.data[i]!;
        s += lambdaRidge * q;
        if (grad) for (let i = 0; i < w.data.length; i++) grad.data[i]! += 2 * lambdaRidge * w.data[i]!;
      }
      return s;
    },
    lipschitz: 2 * lambdaGraph * g.lambdaMax + 2 * lambdaRidge,
    quadratic: true,
    // lambdaGraph tr(W^T Lap W) + lambdaRidge ||W||^2 = sum_j W[:, j]^T (lambdaGraph Lap + lambdaRidge I) W[:, j].
    columnwise: true,
  };
}
