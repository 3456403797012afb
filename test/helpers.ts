/**
 * Small helpers shared by the test files (random values and matrices, error measures, bitwise
 * comparison, error assertions), so that every test measures and generates data the same way.
 * Network fixtures are in network.cases.ts.
 */
import { expect } from 'chai';
import type { Matrix } from '../lib/core/matrix.js';
import type { Rng } from '../lib/core/rng.js';

/** A rows x cols matrix of independent N(0, scale^2) draws from `rng`, row by row. */
export function randMatrix(rng: Rng, rows: number, cols: number, scale = 1): Matrix<Float64Array> {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = scale * rng.normal();
  return { rows, cols, data };
}

/** `length` independent N(0, 1) draws from `rng`. */
export function randomValues(rng: Rng, length: number): Float64Array {
  return randMatrix(rng, 1, length).data;
}

/** Bitwise equality of two arrays (NaN equals NaN, 0 differs from -0); the first index that differs, or -1. */
export function firstDifference(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/**
 * ||a - b|| / max(||a||, ||b||, floor): relative error that treats both sides alike. `floor`
 * keeps it defined when both are zero; raise it where tiny norms are numerical noise.
 */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-30): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    na += a[i]! ** 2;
    nb += b[i]! ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(na), Math.sqrt(nb), floor);
}

/** max_i |a_i|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** `fn` throws an instance of `cls` whose message matches every pattern in `parts`. */
export function throwsWith(fn: () => unknown, cls: Function, ...parts: RegExp[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').to.be.instanceOf(cls);
  for (const p of parts) expect((err as Error).message).to.match(p);
}

/** Gaussian elimination with partial pivoting on a dense system (the reference solver of closed-form tests). */
export function solveDense(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((r, i) => [...r, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    [M[c], M[p]] = [M[p]!, M[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  return M.map((r, i) => r[n]! / r[i]!);
}

/** Every call of `bad` ([name, call]) throws a TypeError or RangeError (a binding's argument errors). */
export function expectBindingErrors(bad: readonly [string, () => unknown][]): void {
  for (const [name, f] of bad) {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(err instanceof TypeError || err instanceof RangeError, `${name}: ${String(err)}`).to.equal(true);
  }
}

/**
 * `svg` is a well-formed SVG document: one <svg xmlns=...> root, every tag closed in order,
 * attribute values quoted, no raw '<' or bare '&' in text, and no NaN or Infinity coordinate.
 * Returns the tag names in document order (for counting polylines, rects...).
 */
export function expectWellFormedSvg(svg: string): string[] {
  expect(svg.trimStart().startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), 'an <svg> root with its namespace').to.equal(true);
  const tags: string[] = [];
  const stack: string[] = [];
  const TAG = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (const m of svg.matchAll(TAG)) {
    const between = svg.slice(last, m.index);
    expect(between, `text before <${m[2]}>`).not.to.match(/<|&(?!(amp|lt|gt|quot|apos);)/);
    last = m.index! + m[0].length;
    const [, closing, name, attrs, selfClosing] = m;
    expect(attrs, `attributes of <${name}>`).not.to.match(/NaN|Infinity/);
    if (closing) expect(stack.pop(), `</${name}> closes the open tag`).to.equal(name);
    else {
      tags.push(name!);
      if (!selfClosing) stack.push(name!);
    }
  }
  expect(svg.slice(last).trim(), 'nothing after </svg>').to.equal('');
  expect(stack, 'every tag closed').to.deep.equal([]);
  expect(tags[0]).to.equal('svg');
  return tags;
}
