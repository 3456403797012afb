/**
 * Helpers shared by the weighting tests: small matrices written by hand and plain-loop linear
 * algebra that is independent of the code under test (the expected values of the tests are
 * computed with these, never with lib/mtl/weighting).
 */
import { expect } from 'chai';
import type { Matrix } from '../lib/core/matrix.js';

export type M = Matrix<Float64Array>;

export function mat(rows: number[][]): M {
  return { rows: rows.length, cols: rows[0]!.length, data: Float64Array.from(rows.flat()) };
}

export function rowOf(g: M, i: number): Float64Array {
  return g.data.slice(i * g.cols, (i + 1) * g.cols);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** G^T w by plain loops. */
export function combo(g: M, w: ArrayLike<number>): Float64Array {
  const out = new Float64Array(g.cols);
  for (let t = 0; t < g.rows; t++) for (let k = 0; k < g.cols; k++) out[k] = out[k]! + w[t]! * g.data[t * g.cols + k]!;
  return out;
}

/** G G^T by plain loops. */
export function naiveGram(g: M): Float64Array {
  const n = g.rows;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = dot(rowOf(g, i), rowOf(g, j));
  return out;
}

/** |actual - expected| <= tol * max(1, max |expected|), elementwise. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = 'value'): void {
  expect(actual.length, `${what} length`).to.equal(expected.length);
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`).to.be.at.most(tol * scale);
  }
}

/** Gaussian elimination with partial pivoting on number[][] (null when singular). */
export function solveDense(a: number[][], b: number[]): number[] | null {
  const n = b.length;
  const m = a.map((r, i) => [...r, b[i]!]);
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i]![k]!) > Math.abs(m[p]![k]!)) p = i;
    if (Math.abs(m[p]![k]!) < 1e-14) return null;
    [m[k], m[p]] = [m[p]!, m[k]!];
    for (let i = k + 1; i < n; i++) {
      const f = m[i]![k]! / m[k]![k]!;
      for (let j = k; j <= n; j++) m[i]![j] = m[i]![j]! - f * m[k]![j]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = m[i]![n]!;
    for (let j = i + 1; j < n; j++) s -= m[i]![j]! * x[j]!;
    x[i] = s / m[i]![i]!;
  }
  return x;
}

/** argmin of x^T A x over the simplex, by solving the KKT system on every face. */
export function bruteSimplexQP(a: Float64Array, n: number): Float64Array {
  let best = { x: new Float64Array(n), value: Infinity };
  for (let mask = 1; mask < 1 << n; mask++) {
    const idx = [...Array(n).keys()].filter((i) => mask & (1 << i));
    const k = idx.length;
    const sys = idx.map((i) => [...idx.map((j) => 2 * a[i * n + j]!), 1]);
    sys.push([...new Array<number>(k).fill(1), 0]);
    const sol = solveDense(sys, [...new Array<number>(k).fill(0), 1]);
    if (!sol || sol.slice(0, k).some((v) => v < -1e-12)) continue;
    const x = new Float64Array(n);
    idx.forEach((i, r) => (x[i] = Math.max(0, sol[r]!)));
    let value = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) value += x[i]! * a[i * n + j]! * x[j]!;
    if (value < best.value) best = { x, value };
  }
  return best.x;
}

/** Euclidean projection onto the simplex by bisection on the shift (independent of the sort-based one). */
export function projectByBisection(v: ArrayLike<number>): Float64Array {
  let lo = Math.min(...Array.from(v)) - 1;
  let hi = Math.max(...Array.from(v));
  for (let it = 0; it < 200; it++) {
    const mid = (lo + hi) / 2;
    const s = Array.from(v).reduce((acc, x) => acc + Math.max(0, x - mid), 0);
    if (s > 1) lo = mid;
    else hi = mid;
  }
  return Float64Array.from(v, (x) => Math.max(0, x - (lo + hi) / 2));
}
