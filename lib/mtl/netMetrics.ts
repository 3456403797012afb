/**
 * MultiTaskNet's metrics from raw head outputs: per-task metrics (regression mse, mae, r2; binary
 * and multiclass accuracy and logloss from logits, numerically stable), their evaluation, and the
 * multi-task gain of Maninis et al. (CVPR 2019):
 *
 *     Delta_m = (1/T) sum_t (1/|M_t|) sum_{j in M_t} (-1)^{l_j} (M_mt,j - M_st,j) / M_st,j   (in %)
 *
 * with l_j = 1 when lower is better, so a positive Delta_m means the multi-task net is better.
 */
import { ValueError } from '../core/errors.js';
import type { TaskMetrics } from '../core/estimator.js';
import { describe, type FloatArray, type Matrix } from '../core/matrix.js';
import { didYouMean } from '../core/suggest.js';
import type { TaskType } from './architectures.js';
import type { Prepared } from './netData.js';
import { KIND, type MultiTaskEvaluation, type NetConfig } from './netOptions.js';

/** Direction of each metric: true when lower is better. */
export const LOWER_IS_BETTER: Record<string, boolean> = { mse: true, mae: true, rmse: true, loss: true, logloss: true, r2: false, accuracy: false };

/** Per-task metrics of prepared data from the raw outputs `out` (n x width; headCols[t]..headCols[t+1] are task t's columns). */
export function evaluateOutputs(config: NetConfig, headCols: Int32Array, out: Matrix<FloatArray>, p: Prepared): MultiTaskEvaluation {
  const W = out.cols;
  const T = config.tasks.length;
  const tasks: Record<string, TaskMetrics> = {};
  const losses: number[] = [];
  // One pair of buffers for every task's labelled rows: arrays grown by a push per row and task took
  // 130 ms for 4096 rows and 1,024 tasks (an epoch's metrics), the buffers 50 ms.
  const n = p.X.rows;
  const rowBuf = new Int32Array(n);
  const yBuf = new Float64Array(n);
  config.tasks.forEach((task, t) => {
    const c0 = headCols[t]!;
    const C = headCols[t + 1]! - c0;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const v = p.Y.data[i * T + t]!;
      if (v === v) {
        yBuf[k] = v;
        rowBuf[k++] = i;
      }
    }
    const m = taskMetrics(task.type, out.data, W, c0, C, rowBuf.subarray(0, k), yBuf.subarray(0, k));
    tasks[task.name] = m;
    if (m.n > 0) losses.push(m.loss);
  });
  return { loss: losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : NaN, tasks };
}

export function byName(names: string[], v: ArrayLike<number>): Record<string, number> {
  return Object.fromEntries(names.map((n, i) => [n, v[i]!]));
}

export function meanDefined(v: Float64Array): number {
  let s = 0;
  let k = 0;
  for (const x of v) if (x === x) (s += x), k++;
  return k ? s / k : NaN;
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

export function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

export function softmaxRow(src: FloatArray, s0: number, C: number, dst: FloatArray, d0: number): void {
  let m = -Infinity;
  for (let c = 0; c < C; c++) m = Math.max(m, src[s0 + c]!);
  let z = 0;
  for (let c = 0; c < C; c++) z += Math.exp(src[s0 + c]! - m);
  for (let c = 0; c < C; c++) dst[d0 + c] = Math.exp(src[s0 + c]! - m) / z;
}

/** Metrics of one task from raw outputs; the loss is the training loss (mse, or cross-entropy from logits). */
export function taskMetrics(type: TaskType, out: FloatArray, W: number, c0: number, C: number, rows: Int32Array, y: Float64Array): TaskMetrics {
  const n = rows.length;
  if (n === 0) return { loss: NaN, n: 0 } as TaskMetrics;
  if (type === 'regression') {
    let se = 0;
    let ae = 0;
    let mean = 0;
    for (let k = 0; k < n; k++) mean += y[k]!;
    mean /= n;
    let ss = 0;
    for (let k = 0; k < n; k++) {
      const e = out[rows[k]! * W + c0]! - y[k]!;
      se += e * e;
      ae += Math.abs(e);
      ss += (y[k]! - mean) ** 2;
    }
    const mse = se / n;
    return { loss: mse, n, mse, mae: ae / n, r2: ss > 0 ? 1 - se / ss : se === 0 ? 1 : 0 } as TaskMetrics;
  }
  let ll = 0;
  let correct = 0;
  for (let k = 0; k < n; k++) {
    const base = rows[k]! * W + c0;
    if (type === 'binary') {
      const z = out[base]!;
      ll += softplus(z) - y[k]! * z;
      if ((z > 0 ? 1 : 0) === y[k]) correct++;
    } else {
      let m = -Infinity;
      let arg = 0;
      for (let c = 0; c < C; c++) if (out[base + c]! > m) (m = out[base + c]!), (arg = c);
      let z = 0;
      for (let c = 0; c < C; c++) z += Math.exp(out[base + c]! - m);
      ll += m + Math.log(z) - out[base + y[k]!]!;
      if (arg === y[k]) correct++;
    }
  }
  return { loss: ll / n, n, logloss: ll / n, accuracy: correct / n } as TaskMetrics;
}

/** Delta_m of Maninis et al. 2019 in percent over the metrics the baselines give. */
export function deltaM(tasks: Record<string, TaskMetrics>, baselines: Record<string, Record<string, number>>): number {
  let total = 0;
  let nTasks = 0;
  for (const [name, base] of Object.entries(baselines)) {
    const mine = tasks[name];
    if (!mine) throw new ValueError(`${KIND}.evaluate: baselines name task '${name}', which the network does not have${didYouMean(name, Object.keys(tasks))}`);
    if (base === null || typeof base !== 'object') throw new ValueError(`${KIND}.evaluate: baselines['${name}'] must be an object of metrics, got ${describe(base)}`);
    let s = 0;
    let k = 0;
    for (const [metric, b] of Object.entries(base)) {
      if (!(metric in LOWER_IS_BETTER) || metric === 'loss' && 'mse' in base) continue;
      const m = mine[metric];
      if (typeof m !== 'number' || typeof b !== 'number' || !Number.isFinite(b) || b === 0) continue;
      const sign = LOWER_IS_BETTER[metric] ? -1 : 1;
      s += (sign * (m - b)) / Math.abs(b);
      k++;
    }
    if (k === 0) throw new ValueError(`${KIND}.evaluate: baselines['${name}'] has no usable metric (known: ${Object.keys(LOWER_IS_BETTER).join(', ')}, non-zero)`);
    total += s / k;
    nTasks++;
  }
  if (nTasks === 0) throw new ValueError(`${KIND}.evaluate: baselines is empty`);
  return (100 * total) / nTasks;
}
