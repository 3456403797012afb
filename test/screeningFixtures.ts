/**
 * Problems and helpers shared by the screening tests: sparse multi-task problems, the support of
 * a coefficient matrix, and a problem's rows as the screening sees them.
 */
import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { PART_PENALTIES } from '../lib/linear/partPenalties.js';
import type { ColumnQuadratic, ScreenedPart, ScreenedProblem, ScreenRows } from '../lib/linear/solvers/featureScreening.js';
import type { TaskProblem } from '../lib/linear/taskProblem.js';

/** T tasks of their own rows, d features of which `support` are used by every task. */
export function sparseProblem(seed: number, sizes: number[], d: number, support: number): TaskProblem {
  const rng = new Rng(seed);
  const T = sizes.length;
  const offsets = new Int32Array(T + 1);
  sizes.forEach((s, t) => (offsets[t + 1] = offsets[t]! + s));
  const N = offsets[T]!;
  const x = new Float64Array(N * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const y = new Float64Array(N);
  const used = rng.permutation(d).subarray(0, support);
  for (let t = 0; t < T; t++) {
    const w = Array.from(used, () => 2 * rng.normal());
    for (let i = offsets[t]!; i < offsets[t + 1]!; i++) {
      let s = 0.5 * rng.normal() + t;
      used.forEach((j, c) => (s += x[i * d + j]! * w[c]!));
      y[i] = s;
    }
  }
  return { x: { rows: N, cols: d, data: x }, y, offsets, T, d };
}

export function support(coef: Matrix<Float64Array>): number[] {
  const out: number[] = [];
  for (let j = 0; j < coef.cols; j++) {
    let nz = false;
    for (let t = 0; t < coef.rows; t++) if (coef.data[t * coef.cols + j] !== 0) nz = true;
    if (nz) out.push(j);
  }
  return out;
}

/** The problem's rows as the screening sees them: centred per task, scale 1/n_t, no compression. */
export function rowsOf(p: TaskProblem): ScreenRows {
  const { d, T } = p;
  const x = p.x.data.slice();
  const y = p.y.slice();
  const scale = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const a = p.offsets[t]!;
    const b = p.offsets[t + 1]!;
    scale[t] = 1 / (b - a);
    for (let j = 0; j < d; j++) {
      let m = 0;
      for (let i = a; i < b; i++) m += x[i * d + j]!;
      m /= b - a;
      for (let i = a; i < b; i++) x[i * d + j]! -= m;
    }
    let m = 0;
    for (let i = a; i < b; i++) m += y[i]!;
    m /= b - a;
    for (let i = a; i < b; i++) y[i]! -= m;
  }
  return { x: { rows: p.x.rows, cols: d, data: x }, y, offsets: p.offsets, scale, constant: 0 };
}

/** A screened problem from its parts (penalties valued as the structured solver values them) and smooth term. */
export function screenedProblem(parts: readonly ScreenedPart[], smooth?: ColumnQuadratic): ScreenedProblem {
  const penalty = (v: Matrix<Float64Array>): number => {
    const T = v.rows / parts.length;
    let s = 0;
    parts.forEach((part, k) => {
      const block = { rows: T, cols: v.cols, data: v.data.subarray(k * T * v.cols, (k + 1) * T * v.cols) };
      s += part.strength * PART_PENALTIES[part.penalty].value(block);
    });
    return s;
  };
  return { parts, penalty, smooth };
}
