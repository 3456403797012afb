/**
 * The native binding never crashes, whatever JavaScript calls it: every export of the raw addon is called with wrong argument counts, wrong types,
 * wrong lengths, non-finite or negative scalars, out-of-range indices and outputs aliasing
 * inputs, and each call must throw a TypeError or RangeError. A worker thread that loads the
 * addon and is terminated mid-work, twenty times, must not abort the process.
 * Skipped when the native addon is not available.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { availableBackends, rawAddon } from '../lib/kernels/index.js';
import { packageRoot, type Addon } from '../lib/kernels/native.js';
import { compileNetwork, encodeProgram } from '../lib/kernels/networkSpec.js';

type Fn = (...args: unknown[]) => unknown;

const mat = (rows: number, cols: number, fill = 1) => ({ rows, cols, data: new Float64Array(rows * cols).fill(fill) });
const mat32 = (rows: number, cols: number) => ({ rows, cols, data: new Float32Array(rows * cols).fill(1) });

/** Argument kinds, each with the wrong values a robust binding must refuse. */
type Kind =
  | 'matrix' | 'matrix-any-dtype' | 'f64' | 'vector-any-dtype' | 'i32' | 'u8' | 'number' | 'nonneg' | 'ordered' | 'opt-ordered' | 'opt-count' | 'nonneg-or-inf' | 'bool' | 'string'
  | 'opt-matrix' | 'opt-f64' | 'opt-u8' | 'arraybuffer' | 'f64-any-length';

function badValues(kind: Kind, valid: unknown): unknown[] {
  const notObjects = [undefined, 1, 'x', true, Symbol('s'), 10n];
  switch (kind) {
    case 'matrix':
    case 'matrix-any-dtype':
    case 'opt-matrix': {
      const m = valid as { rows: number; cols: number; data: Float64Array };
      const out: unknown[] = [
        ...notObjects,
        [],
        [[1]],
        new Float64Array(4),
        () => 0,
        {},
        { rows: m.rows, cols: m.cols },
        { ...m, data: Array.from(m.data) },
        { ...m, data: new Int8Array(m.data.length) },
        { ...m, data: new Float64Array(m.data.length + 1) },
        { ...m, data: null },
        { ...m, rows: -1 },
        { ...m, rows: 1.5 },
        { ...m, rows: NaN },
        { ...m, rows: Infinity },
        { ...m, rows: '2' },
        { ...m, cols: -m.cols - 1 },
        { ...m, rows: 2 ** 40 },
      ];
      if (kind !== 'matrix-any-dtype') out.push({ ...m, data: new Float32Array(m.data.length) });
      if (kind !== 'opt-matrix') out.push(null);
      return out;
    }
    case 'f64':
    case 'opt-f64':
    case 'f64-any-length': {
      const v = valid as Float64Array;
      const out: unknown[] = [...notObjects, [], Array.from(v), new Float32Array(v.length), new Int8Array(v.length), {}];
      if (kind !== 'f64-any-length') out.push(new Float64Array(v.length + 1));
      if (kind !== 'opt-f64') out.push(null);
      return out;
    }
    case 'vector-any-dtype': {
      const v = valid as Float64Array;
      return [...notObjects, null, [], Array.from(v), new Int8Array(v.length), new Int32Array(v.length), new Uint8Array(v.length), {}];
    }
    case 'i32': {
      const v = valid as Int32Array;
      return [...notObjects, null, Array.from(v), new Float64Array(v.length), new Uint32Array(v.length), new Int8Array(v.length), {}];
    }
    case 'u8':
    case 'opt-u8': {
      const v = valid as Uint8Array;
      const out: unknown[] = [...notObjects, Array.from(v), new Int8Array(v.length), new Uint8ClampedArray(v.length), new Float64Array(v.length), new Uint8Array(v.length + 1), {}];
      if (kind === 'u8') out.push(null);
      return out;
    }
    case 'number':
      return [undefined, null, '1', NaN, Infinity, -Infinity, {}, [1], 1n, new Float64Array(1)];
    // A number that may be infinite (a bound), never NaN.
    case 'ordered':
      return [undefined, null, '1', NaN, {}, [1], 1n, new Float64Array(1)];
    // The same, or undefined (an optional level).
    case 'opt-ordered':
      return [null, '1', NaN, {}, [1], 1n, new Float64Array(1)];
    // A positive integer, or undefined (an optional limit).
    case 'opt-count':
      return [null, '1', NaN, 0, -1, 2.5, Infinity, {}, [1], 1n];
    case 'nonneg-or-inf':
      return [undefined, null, '1', NaN, -Infinity, -1, -1e-300, {}, [1], 1n];
    case 'nonneg':
      return [undefined, null, '1', NaN, Infinity, -Infinity, -1, -1e-300, {}, [1], 1n];
    case 'bool':
      return [undefined, null, 1, 0, 'true', {}];
    case 'string':
      return [undefined, null, 1, {}, 'hinge', ''];
    case 'arraybuffer':
      return [...notObjects, null, {}, [], new Float64Array(8), new DataView(new ArrayBuffer(8)), new SharedArrayBuffer(64)];
  }
}

interface Case {
  /** A valid call's arguments, built fresh each time (the kernels work in place). */
  args: () => unknown[];
  kinds: Kind[];
  /** Further calls that must throw: wrong shapes against the other arguments, bad ranges, aliasing. */
  extra: [string, () => unknown[]][];
}

const d = 4;
const n = 6;
const T = 3;

function sweepArgs(): unknown[] {
  return [mat(d, n), mat(T, n), mat(d, T, 0), new Float64Array(d).fill(n), 0.1, 0.01, Int32Array.from([0, 1, 2, 3])];
}
function blockedArgs(): unknown[] {
  // order [0, 1, 2, 3] in blocks of 3: two blocks, 2 * 3 * 3 Gram values.
  return [...sweepArgs(), new Float64Array(18).fill(1), 3];
}
function blockGramArgs(): unknown[] {
  return [mat(d, n), Int32Array.from([0, 1, 2, 3]), 3, new Float64Array(18)];
}
/** x n x d with distinct values (so aliasing and range checks are meaningful), mean length d. */
function designArgs(): [ReturnType<typeof mat>, Float64Array] {
  const x = mat(n, d);
  x.data.forEach((_, i) => (x.data[i] = i % 5));
  return [x, new Float64Array(d).fill(0.5)];
}
function correlationArgs(): unknown[] {
  return [...designArgs(), new Float64Array(d).fill(2), mat(T, n), Int32Array.from([0, 2, 3]), mat(3, T), new Float64Array(3)];
}
function statsCorrelationArgs(): unknown[] {
  return [designArgs()[0], true, new Float64Array(d), new Float64Array(d), mat(T, n), mat(d, T), new Float64Array(d)];
}
function targetArgs(): unknown[] {
  return [mat(n, T), true, mat(T, n), new Float64Array(T)];
}
/** A support of 2 features. */
function coefficientArgs(): unknown[] {
  return [Int32Array.from([0, 2]), mat(2, T), new Float64Array(d).fill(0.5), new Float64Array(T), mat(T, d, 0), new Float64Array(T)];
}
/** k = 2 gathered columns. */
function residualArgs(): unknown[] {
  return [mat(2, n), mat(2, T), mat(T, n), mat(T, n)];
}
function gramSolveArgs(): unknown[] {
  return [...gramSweepArgs().slice(0, 3), 10, 10, 0.1, 0.01, 1e-6, 7, new Int32Array(0), mat(3, T)];
}
function residualSolveArgs(): unknown[] {
  return [mat(2, n), mat(T, n), mat(T, n), mat(2, T, 0), mat(2, T), 0.1, 0.01, 1e-6, 2, Int32Array.from([0, 1, 1, 0]), true, Float64Array.from([n, n])];
}
function gatherArgs(): unknown[] {
  return [...designArgs(), Int32Array.from([3, 1]), mat(2, n)];
}
/** Gram entries of columns [3, 1] against [0, 1, 3]. */
function gramColumnsArgs(): unknown[] {
  return [...designArgs(), Int32Array.from([3, 1]), Int32Array.from([0, 1, 3]), mat(2, 3)];
}
/** The residual of columns [3, 1] read in place. */
function residualColumnsArgs(): unknown[] {
  return [...designArgs(), Int32Array.from([3, 1]), mat(2, T), mat(T, n), mat(T, n)];
}
/** The residual of columns [3, 1], then the correlations of columns [0, 2, 3] with it. */
function residualCorrelationsArgs(): unknown[] {
  return [...designArgs(), new Float64Array(d).fill(2), Int32Array.from([3, 1]), mat(2, T), mat(T, n), mat(T, n), Int32Array.from([0, 2, 3]), mat(3, T), new Float64Array(3)];
}
/** Correlations of columns [0, 2, 3] from the d x d Gram matrix (distinct entries), support [3, 1]. */
function gramCorrelationsArgs(): unknown[] {
  const g = mat(d, d);
  g.data.forEach((_, i) => (g.data[i] = 1 + (i % 5)));
  return [g, mat(d, T), mat(d, T, 0.5), Int32Array.from([3, 1]), Int32Array.from([0, 2, 3]), mat(3, T), new Float64Array(3)];
}
function gramSweepArgs(): unknown[] {
  return [{ rows: 3, cols: 3, data: Float64Array.from([4, 1, 0, 1, 4, 1, 0, 1, 4]) }, mat(T, 3), mat(3, T, 0), 0.1, 0.01, Int32Array.from([0, 1, 2])];
}
/** The state of d features that cdDualNorms reads: rows 0 and 2 fresh (version 2), 1 stale, 3 never computed. */
function dualNormsArgs(): unknown[] {
  return [
    Float64Array.from([1, 2, 0, 3]), mat(d, T, 0.5), new Float64Array(d).fill(0.9), Int32Array.from([2, 1, 2, -1]), new Float64Array(d).fill(0.1),
    Uint8Array.from([1, 0, 0, 0]), mat(d, T, 0.2), 2, 0.3, 0.1, 0.01, new Float64Array(d),
  ];
}
function screenArgs(): unknown[] {
  return [Uint8Array.from([1, 1, 0, 1]), Uint8Array.from([1, 0, 0, 0]), Float64Array.from([1, 0.1, 0.2, 0.5]), new Float64Array(d).fill(2), 1.2, 0.05, 0.01, 1 - 1e-9];
}
function staleArgs(): unknown[] {
  return [Int32Array.from([2, 1, 2, -1]), 2, Uint8Array.from([1, 1, 0, 1]), Float64Array.from([1, 0.1, 0.2, 0.5]), 0.3, new Int32Array(d)];
}
/** Features 0 and 3 flagged, 3 excepted. */
function flaggedArgs(): unknown[] {
  return [Uint8Array.from([1, 0, 0, 1]), new Int32Array(d), Uint8Array.from([0, 0, 0, 1])];
}
/** Rows [3, 1] of a d x T matrix written from a 2 x T one (the second row zero). */
function setRowsArgs(): unknown[] {
  return [mat(d, T), Uint8Array.from([1, 0, 0, 1]), Int32Array.from([3, 1]), { rows: 2, cols: T, data: Float64Array.from({ length: 2 * T }, (_, i) => (i < T ? 1 : 0)) }];
}
/** The correlations of features [3, 1] recorded at version 4, drift 0.5, with their norms. */
function setCorrelationsArgs(): unknown[] {
  return [mat(d, T), new Float64Array(d), new Int32Array(d), new Float64Array(d), 4, 0.5, Int32Array.from([3, 1]), mat(2, T, 0.3), new Float64Array(2).fill(1)];
}
function workingSetArgs(): unknown[] {
  return [Uint8Array.from([1, 1, 0, 1]), Uint8Array.from([1, 0, 0, 0]), Float64Array.from([1, 0.1, 0.2, 0.5]), Infinity, 2, new Int32Array(d), 0.3, 3];
}
function lossArgs(): unknown[] {
  return [mat(n, d), new Float64Array(n), Int32Array.from([0, 2, 2, 6]), mat(T, d), new Float64Array(T), new Float64Array(T).fill(1), 'squared', mat(T, d), new Float64Array(T), new Float64Array(T)];
}

const cases: Record<string, Case> = {
  setThreads: { args: () => [2], kinds: ['number'], extra: [['0 threads', () => [0]], ['1.5 threads', () => [1.5]], ['1000 threads', () => [1000]]] },
  // The level the addon picked at load is always one the CPU runs, so setting it again is valid.
  setSimd: { args: () => [currentSimd()], kinds: ['string'], extra: [['an unknown level', () => ['avx9000']], ['a level of another architecture', () => [foreignSimd()]]] },
  // The setting the process has (so that the valid call changes nothing).
  setHugePages: { args: () => [rawAddon()!.info().hugePages], kinds: ['bool'], extra: [] },
  hugePageSpan: { args: () => [new ArrayBuffer(64)], kinds: ['arraybuffer'], extra: [] },
  prefaultPages: { args: () => [new Float64Array(1024)], kinds: ['f64-any-length'], extra: [] },
  gemm: {
    args: () => [mat(2, 3), mat(3, 4), mat(2, 4), false, false, 1, 0],
    kinds: ['matrix-any-dtype', 'matrix-any-dtype', 'matrix-any-dtype', 'bool', 'bool', 'number', 'number'],
    extra: [
      ['inner dimensions differ', () => [mat(2, 3), mat(2, 4), mat(2, 4), false, false, 1, 0]],
      ['c of the wrong shape', () => [mat(2, 3), mat(3, 4), mat(4, 2), false, false, 1, 0]],
      ['transA makes the shapes wrong', () => [mat(2, 3), mat(3, 4), mat(2, 4), true, false, 1, 0]],
      ['mixed dtypes', () => [mat32(2, 3), mat(3, 4), mat(2, 4), false, false, 1, 0]],
      ['mixed dtypes (c)', () => [mat(2, 3), mat(3, 4), mat32(2, 4), false, false, 1, 0]],
      ['c aliases a', () => {
        const a = mat(2, 2);
        return [a, mat(2, 2), a, false, false, 1, 0];
      }],
      ['c overlaps b through a view', () => {
        const buf = new Float64Array(12);
        return [mat(2, 2), { rows: 2, cols: 2, data: buf.subarray(0, 4) }, { rows: 2, cols: 2, data: buf.subarray(2, 6) }, false, false, 1, 0];
      }],
    ],
  },
  gatherBlock: {
    args: () => [mat(5, 4), Int32Array.from([4, 0, 4]), Int32Array.from([3, 1]), mat(3, 2)],
    kinds: ['matrix', 'i32', 'i32', 'matrix'],
    extra: [
      ['rows entry 5', () => [mat(5, 4), Int32Array.from([5]), Int32Array.from([0]), mat(1, 1)]],
      ['cols entry -1', () => [mat(5, 4), Int32Array.from([0]), Int32Array.from([-1]), mat(1, 1)]],
      ['out with 3 columns', () => [mat(5, 4), Int32Array.from([4, 0, 4]), Int32Array.from([3, 1]), mat(3, 3)]],
      ['out aliases a', () => {
        const a = mat(5, 4);
        return [a, Int32Array.from([0, 1]), Int32Array.from([0, 1]), { rows: 2, cols: 2, data: a.data.subarray(4, 8) }];
      }],
    ],
  },
  setBlock: {
    args: () => [mat(5, 4), 1, 2, mat(3, 2)],
    kinds: ['matrix', 'number', 'number', 'matrix'],
    extra: [
      ['a too tall for out at its row', () => [mat(5, 4), 3, 0, mat(3, 2)]],
      ['a too wide for out at its column', () => [mat(5, 4), 0, 3, mat(3, 2)]],
      ['row -1', () => [mat(5, 4), -1, 0, mat(1, 1)]],
      ['row 6', () => [mat(5, 4), 6, 0, mat(0, 1)]],
      ['column 2.5', () => [mat(5, 4), 0, 2.5, mat(1, 1)]],
      ['a aliases out', () => {
        const out = mat(5, 4);
        return [out, 0, 0, { rows: 1, cols: 2, data: out.data.subarray(6, 8) }];
      }],
    ],
  },
  transpose: {
    args: () => [mat(5, 3), mat(3, 5)],
    kinds: ['matrix', 'matrix'],
    extra: [
      ['out of the same (not transposed) shape', () => [mat(5, 3), mat(5, 3)]],
      ['out aliases a', () => {
        const a = mat(4, 4);
        return [a, a];
      }],
      ['out overlaps a through a view', () => {
        const buf = new Float64Array(20);
        return [{ rows: 2, cols: 5, data: buf.subarray(0, 10) }, { rows: 5, cols: 2, data: buf.subarray(5, 15) }];
      }],
    ],
  },
  gatherRows: {
    args: () => [mat(5, 3), Int32Array.from([4, 0, 4]), mat(3, 3)],
    kinds: ['matrix-any-dtype', 'i32', 'matrix-any-dtype'],
    extra: [
      ['rows entry 5 of a 5-row matrix', () => [mat(5, 3), Int32Array.from([0, 5]), mat(2, 3)]],
      ['rows entry -1', () => [mat(5, 3), Int32Array.from([-1]), mat(1, 3)]],
      ['out with one row too many', () => [mat(5, 3), Int32Array.from([0, 1]), mat(3, 3)]],
      ['out with another column count', () => [mat(5, 3), Int32Array.from([0, 1]), mat(2, 4)]],
      ['mixed dtypes', () => [mat(5, 3), Int32Array.from([0, 1]), mat32(2, 3)]],
      ['out aliases a', () => {
        const a = mat(5, 3);
        return [a, Int32Array.from([0, 1]), { rows: 2, cols: 3, data: a.data.subarray(3, 9) }];
      }],
    ],
  },
  fillMask: {
    args: () => [Int32Array.from([1, 2, 3, 4]), new Float32Array(10), 0.3, 2],
    kinds: ['i32', 'vector-any-dtype', 'number', 'number'],
    extra: [
      ['a state of 3 words', () => [Int32Array.from([1, 2, 3]), new Float32Array(10), 0.3, 2]],
      ['a state of 5 words', () => [Int32Array.from([1, 2, 3, 4, 5]), new Float64Array(10), 0.3, 2]],
      ['rate below 0', () => [Int32Array.from([1, 2, 3, 4]), new Float32Array(10), -0.5, 2]],
      ['rate above 1', () => [Int32Array.from([1, 2, 3, 4]), new Float32Array(10), 1.5, 2]],
      ['out over the state', () => {
        const buf = new ArrayBuffer(64);
        return [new Int32Array(buf, 0, 4), new Float32Array(buf, 8, 4), 0.3, 2];
      }],
    ],
  },
  gram: {
    args: () => [mat(5, 3), mat(3, 3)],
    kinds: ['matrix', 'matrix'],
    extra: [
      ['out of the wrong shape', () => [mat(5, 3), mat(5, 5)]],
      ['out aliases x', () => {
        const x = mat(3, 3);
        return [x, x];
      }],
    ],
  },
  choleskySolve: {
    args: () => [{ rows: 2, cols: 2, data: Float64Array.from([2, 0, 0, 2]) }, mat(2, 1), mat(2, 1)],
    kinds: ['matrix', 'matrix', 'matrix'],
    extra: [
      ['a not square', () => [mat(2, 3), mat(2, 1), mat(2, 1)]],
      ['b rows differ', () => [mat(2, 2), mat(3, 1), mat(2, 1)]],
      ['x aliases b', () => {
        const b = mat(2, 1);
        return [{ rows: 2, cols: 2, data: Float64Array.from([2, 0, 0, 2]) }, b, b];
      }],
    ],
  },
  symEig: {
    args: () => [mat(3, 3), new Float64Array(3), mat(3, 3)],
    kinds: ['matrix', 'f64', 'matrix'],
    extra: [
      ['a not square', () => [mat(3, 2), new Float64Array(3), mat(3, 3)]],
      ['vectors alias a', () => {
        const a = mat(3, 3);
        return [a, new Float64Array(3), a];
      }],
    ],
  },
  svd: {
    args: () => [mat(4, 3), mat(4, 3), new Float64Array(3), mat(3, 3)],
    kinds: ['matrix', 'matrix', 'f64', 'matrix'],
    extra: [
      ['u of the full (not thin) shape', () => [mat(4, 3), mat(4, 4), new Float64Array(3), mat(3, 3)]],
      ['u aliases a', () => {
        const a = mat(4, 3);
        return [a, a, new Float64Array(3), mat(3, 3)];
      }],
    ],
  },
  groupSoftThreshold: {
    args: () => [mat(3, 2), 0.5],
    kinds: ['matrix', 'nonneg'],
    extra: [],
  },
  svt: {
    args: () => [mat(3, 2), 0.5, mat(3, 2)],
    kinds: ['matrix', 'nonneg', 'matrix'],
    extra: [
      ['out of the transposed shape', () => [mat(3, 2), 0.5, mat(2, 3)]],
      ['out aliases w', () => {
        const w = mat(3, 2);
        return [w, 0.5, w];
      }],
    ],
  },
  mtenetSweep: {
    args: sweepArgs,
    kinds: ['matrix', 'matrix', 'matrix', 'f64', 'nonneg', 'nonneg', 'i32'],
    extra: [
      ['rt with n + 1 columns', () => Object.assign(sweepArgs(), { 1: mat(T, n + 1) })],
      ['w with d + 1 rows', () => Object.assign(sweepArgs(), { 2: mat(d + 1, T) })],
      ['w with T + 1 columns', () => Object.assign(sweepArgs(), { 2: mat(d, T + 1) })],
      ['colNormSq of length d - 1', () => Object.assign(sweepArgs(), { 3: new Float64Array(d - 1) })],
      ['colNormSq negative', () => Object.assign(sweepArgs(), { 3: Float64Array.from([1, -1, 1, 1]) })],
      ['colNormSq NaN', () => Object.assign(sweepArgs(), { 3: Float64Array.from([1, NaN, 1, 1]) })],
      ['order entry -1', () => Object.assign(sweepArgs(), { 6: Int32Array.from([0, -1]) })],
      ['order entry d', () => Object.assign(sweepArgs(), { 6: Int32Array.from([0, d]) })],
      ['order entry 2^31 - 1', () => Object.assign(sweepArgs(), { 6: Int32Array.from([2 ** 31 - 1]) })],
      ['rt aliases w', () => {
        const a = sweepArgs();
        const buf = new Float64Array(T * n);
        return Object.assign(a, { 1: { rows: T, cols: n, data: buf }, 2: { rows: d, cols: T, data: buf.subarray(0, d * T) } });
      }],
      ['rt aliases xt', () => {
        const a = sweepArgs();
        const buf = new Float64Array(d * n);
        return Object.assign(a, { 0: { rows: d, cols: n, data: buf }, 1: { rows: T, cols: n, data: buf.subarray(n, n + T * n) } });
      }],
    ],
  },
  cdColumnStats: {
    args: () => [designArgs()[0], true, new Float64Array(d), new Float64Array(d)],
    kinds: ['matrix', 'bool', 'f64', 'f64'],
    extra: [
      ['mean of length d - 1', () => [designArgs()[0], true, new Float64Array(d - 1), new Float64Array(d)]],
      ['mean aliases sqNorm', () => {
        const b = new Float64Array(d);
        return [designArgs()[0], false, b, b];
      }],
      ['sqNorm aliases x', () => {
        const x = designArgs()[0];
        return [x, true, new Float64Array(d), x.data.subarray(0, d)];
      }],
    ],
  },
  cdColumnStatsCorrelations: {
    args: statsCorrelationArgs,
    kinds: ['matrix', 'bool', 'f64', 'f64', 'matrix', 'matrix', 'f64'],
    extra: [
      ['mean of length d - 1', () => Object.assign(statsCorrelationArgs(), { 2: new Float64Array(d - 1) })],
      ['sqNorm of length d + 1', () => Object.assign(statsCorrelationArgs(), { 3: new Float64Array(d + 1) })],
      ['yt with n + 1 columns', () => Object.assign(statsCorrelationArgs(), { 4: mat(T, n + 1) })],
      ['out with d + 1 rows', () => Object.assign(statsCorrelationArgs(), { 5: mat(d + 1, T) })],
      ['out with T + 1 columns', () => Object.assign(statsCorrelationArgs(), { 5: mat(d, T + 1) })],
      ['norms of length d - 1', () => Object.assign(statsCorrelationArgs(), { 6: new Float64Array(d - 1) })],
      ['mean aliases sqNorm', () => {
        const b = new Float64Array(d);
        return Object.assign(statsCorrelationArgs(), { 2: b, 3: b });
      }],
      ['sqNorm aliases x', () => {
        const a = statsCorrelationArgs();
        const x = a[0] as { data: Float64Array };
        return Object.assign(a, { 3: x.data.subarray(0, d) });
      }],
      ['out aliases yt', () => {
        const buf = new Float64Array(T * n);
        return Object.assign(statsCorrelationArgs(), { 4: { rows: T, cols: n, data: buf }, 5: { rows: d, cols: T, data: buf.subarray(0, d * T) } });
      }],
      ['out aliases mean', () => {
        const a = statsCorrelationArgs();
        const out = a[5] as { data: Float64Array };
        return Object.assign(a, { 2: out.data.subarray(0, d) });
      }],
      ['norms alias out', () => {
        const a = statsCorrelationArgs();
        const out = a[5] as { data: Float64Array };
        return Object.assign(a, { 6: out.data.subarray(0, d) });
      }],
      ['norms alias yt', () => {
        const a = statsCorrelationArgs();
        const yt = a[4] as { data: Float64Array };
        return Object.assign(a, { 6: yt.data.subarray(0, d) });
      }],
    ],
  },
  cdCorrelations: {
    args: correlationArgs,
    kinds: ['matrix', 'f64', 'f64', 'matrix', 'i32', 'matrix', 'f64'],
    extra: [
      ['mean of length d - 1', () => Object.assign(correlationArgs(), { 1: new Float64Array(d - 1) })],
      ['mean NaN', () => Object.assign(correlationArgs(), { 1: Float64Array.from([0, NaN, 0, 0]) })],
      ['sqNorm of length d - 1', () => Object.assign(correlationArgs(), { 2: new Float64Array(d - 1) })],
      ['sqNorm without mean', () => Object.assign(correlationArgs(), { 1: new Float64Array(0) })],
      ['sqNorm negative', () => Object.assign(correlationArgs(), { 2: Float64Array.from([1, -1, 1, 1]) })],
      ['sqNorm NaN', () => Object.assign(correlationArgs(), { 2: Float64Array.from([1, NaN, 1, 1]) })],
      ['rt with n + 1 columns', () => Object.assign(correlationArgs(), { 3: mat(T, n + 1) })],
      ['cols entry d', () => Object.assign(correlationArgs(), { 4: Int32Array.from([0, d, 1]) })],
      ['cols entry -1', () => Object.assign(correlationArgs(), { 4: Int32Array.from([0, -1, 1]) })],
      ['out with one row too many', () => Object.assign(correlationArgs(), { 5: mat(4, T) })],
      ['out with T + 1 columns', () => Object.assign(correlationArgs(), { 5: mat(3, T + 1) })],
      ['norms of length 2', () => Object.assign(correlationArgs(), { 6: new Float64Array(2) })],
      ['out aliases rt', () => {
        const buf = new Float64Array(T * n);
        return Object.assign(correlationArgs(), { 3: { rows: T, cols: n, data: buf }, 5: { rows: 3, cols: T, data: buf.subarray(0, 3 * T) } });
      }],
      ['out aliases x', () => {
        const a = correlationArgs();
        const x = a[0] as { data: Float64Array };
        return Object.assign(a, { 5: { rows: 3, cols: T, data: x.data.subarray(0, 3 * T) } });
      }],
      ['norms alias out', () => {
        const a = correlationArgs();
        const out = a[5] as { data: Float64Array };
        return Object.assign(a, { 6: out.data.subarray(0, 3) });
      }],
    ],
  },
  cdTargets: {
    args: targetArgs,
    kinds: ['matrix', 'bool', 'matrix', 'f64'],
    extra: [
      ['yt of the shape of y', () => Object.assign(targetArgs(), { 2: mat(n, T) })],
      ['yMean of length T + 1', () => Object.assign(targetArgs(), { 3: new Float64Array(T + 1) })],
      ['yt aliases y', () => {
        const a = targetArgs();
        const y = a[0] as { data: Float64Array };
        return Object.assign(a, { 2: { rows: T, cols: n, data: y.data } });
      }],
    ],
  },
  cdCoefficients: {
    args: coefficientArgs,
    kinds: ['i32', 'matrix', 'f64', 'f64', 'matrix', 'f64'],
    extra: [
      ['a feature index of d', () => Object.assign(coefficientArgs(), { 0: Int32Array.from([0, d]) })],
      ['a negative feature index', () => Object.assign(coefficientArgs(), { 0: Int32Array.from([-1, 2]) })],
      ['w with a row for a feature not listed', () => Object.assign(coefficientArgs(), { 1: mat(3, T) })],
      ['w with T + 1 columns', () => Object.assign(coefficientArgs(), { 1: mat(2, T + 1) })],
      ['coef aliases w', () => {
        const a = coefficientArgs();
        const coef = a[4] as { data: Float64Array };
        return Object.assign(a, { 1: { rows: 2, cols: T, data: coef.data.subarray(0, 2 * T) } });
      }],
      ['intercept aliases yMean', () => {
        const a = coefficientArgs();
        return Object.assign(a, { 5: a[3] });
      }],
      ['intercept aliases coef', () => {
        const a = coefficientArgs();
        const coef = a[4] as { data: Float64Array };
        return Object.assign(a, { 5: coef.data.subarray(0, T) });
      }],
    ],
  },
  cdResidual: {
    args: residualArgs,
    kinds: ['matrix', 'matrix', 'matrix', 'matrix'],
    extra: [
      ['w with k + 1 rows', () => Object.assign(residualArgs(), { 1: mat(3, T) })],
      ['yt with n + 1 columns', () => Object.assign(residualArgs(), { 2: mat(T, n + 1) })],
      ['rt with T + 1 rows', () => Object.assign(residualArgs(), { 3: mat(T + 1, n) })],
      ['rt aliases yt', () => {
        const a = residualArgs();
        return Object.assign(a, { 3: a[2] });
      }],
    ],
  },
  mtenetGramSolve: {
    args: gramSolveArgs,
    kinds: ['matrix', 'matrix', 'matrix', 'number', 'number', 'nonneg', 'nonneg', 'nonneg', 'number', 'i32', 'matrix'],
    extra: [
      ['gram not square', () => Object.assign(gramSolveArgs(), { 0: mat(3, 2) })],
      ['xty with k + 1 rows', () => Object.assign(gramSolveArgs(), { 10: mat(4, T) })],
      ['xty 0 x T', () => Object.assign(gramSolveArgs(), { 10: { rows: 0, cols: T, data: new Float64Array(0) } })],
      ['xty with NaN', () => Object.assign(gramSolveArgs(), { 10: { rows: 3, cols: T, data: new Float64Array(3 * T).fill(NaN) } })],
      ['xty with Infinity', () => Object.assign(gramSolveArgs(), { 10: { rows: 3, cols: T, data: new Float64Array(3 * T).fill(1).fill(-Infinity, 2, 3) } })],
      ['gram with a negative diagonal', () => Object.assign(gramSolveArgs(), { 0: { rows: 3, cols: 3, data: Float64Array.from([4, 1, 0, 1, -4, 1, 0, 1, 4]) } })],
      ['ht with k + 1 columns', () => Object.assign(gramSolveArgs(), { 1: mat(T, 4) })],
      ['w with T + 1 columns', () => Object.assign(gramSolveArgs(), { 2: mat(3, T + 1) })],
      ['maxSweeps 0', () => Object.assign(gramSolveArgs(), { 8: 0 })],
      ['maxSweeps 1.5', () => Object.assign(gramSolveArgs(), { 8: 1.5 })],
      ['maxSweeps 2^31', () => Object.assign(gramSolveArgs(), { 8: 2 ** 31 })],
      ['orders of one sweep too few', () => Object.assign(gramSolveArgs(), { 8: 2, 9: Int32Array.from([0, 1, 2]) })],
      ['orders entry k', () => Object.assign(gramSolveArgs(), { 8: 1, 9: Int32Array.from([0, 3, 1]) })],
      ['ht aliases w', () => {
        const buf = new Float64Array(3 * T);
        return Object.assign(gramSolveArgs(), { 1: { rows: T, cols: 3, data: buf }, 2: { rows: 3, cols: T, data: buf } });
      }],
    ],
  },
  mtenetResidualSolve: {
    args: residualSolveArgs,
    kinds: ['matrix', 'matrix', 'matrix', 'matrix', 'matrix', 'nonneg', 'nonneg', 'nonneg', 'number', 'i32', 'bool', 'f64'],
    extra: [
      ['yt with n + 1 columns', () => Object.assign(residualSolveArgs(), { 1: mat(T, n + 1) })],
      ['colNormSq of length k - 1', () => Object.assign(residualSolveArgs(), { 11: Float64Array.from([n]) })],
      ['colNormSq with a negative entry', () => Object.assign(residualSolveArgs(), { 11: Float64Array.from([n, -1]) })],
      ['colNormSq with NaN', () => Object.assign(residualSolveArgs(), { 11: Float64Array.from([NaN, n]) })],
      ['colNormSq with Infinity', () => Object.assign(residualSolveArgs(), { 11: Float64Array.from([n, Infinity]) })],
      ['rt with T + 1 rows', () => Object.assign(residualSolveArgs(), { 2: mat(T + 1, n) })],
      ['w with k + 1 rows', () => Object.assign(residualSolveArgs(), { 3: mat(3, T) })],
      ['h with T + 1 columns', () => Object.assign(residualSolveArgs(), { 4: mat(2, T + 1) })],
      ['maxSweeps 0', () => Object.assign(residualSolveArgs(), { 8: 0, 9: new Int32Array(0) })],
      ['orders entry -1', () => Object.assign(residualSolveArgs(), { 9: Int32Array.from([0, 1, -1, 0]) })],
      ['orders of three sweeps', () => Object.assign(residualSolveArgs(), { 9: Int32Array.from([0, 1, 1, 0, 0, 1]) })],
      ['rt aliases yt', () => {
        const a = residualSolveArgs();
        return Object.assign(a, { 2: a[1] });
      }],
      ['h aliases w', () => {
        const a = residualSolveArgs();
        return Object.assign(a, { 4: a[3] });
      }],
    ],
  },
  cdGatherColumns: {
    args: gatherArgs,
    kinds: ['matrix', 'f64', 'i32', 'matrix'],
    extra: [
      ['mean of length d + 1', () => Object.assign(gatherArgs(), { 1: new Float64Array(d + 1) })],
      ['cols entry d', () => Object.assign(gatherArgs(), { 2: Int32Array.from([d, 1]) })],
      ['out with n + 1 columns', () => Object.assign(gatherArgs(), { 3: mat(2, n + 1) })],
      ['out aliases x', () => {
        const a = gatherArgs();
        const x = a[0] as { data: Float64Array };
        return Object.assign(a, { 3: { rows: 2, cols: n, data: x.data.subarray(0, 2 * n) } });
      }],
    ],
  },
  cdGramColumns: {
    args: gramColumnsArgs,
    kinds: ['matrix', 'f64', 'i32', 'i32', 'matrix'],
    extra: [
      ['mean of length d - 1', () => Object.assign(gramColumnsArgs(), { 1: new Float64Array(d - 1) })],
      ['rows entry d', () => Object.assign(gramColumnsArgs(), { 2: Int32Array.from([d, 1]) })],
      ['cols entry -1', () => Object.assign(gramColumnsArgs(), { 3: Int32Array.from([0, -1, 3]) })],
      ['out with 2 columns', () => Object.assign(gramColumnsArgs(), { 4: mat(2, 2) })],
      ['out aliases x', () => {
        const a = gramColumnsArgs();
        const x = a[0] as { data: Float64Array };
        return Object.assign(a, { 4: { rows: 2, cols: 3, data: x.data.subarray(0, 6) } });
      }],
    ],
  },
  cdResidualColumns: {
    args: residualColumnsArgs,
    kinds: ['matrix', 'f64', 'i32', 'matrix', 'matrix', 'matrix'],
    extra: [
      ['cols entry d', () => Object.assign(residualColumnsArgs(), { 2: Int32Array.from([d, 1]) })],
      ['w with k + 1 rows', () => Object.assign(residualColumnsArgs(), { 3: mat(3, T) })],
      ['yt with n + 1 columns', () => Object.assign(residualColumnsArgs(), { 4: mat(T, n + 1) })],
      ['rt with T + 1 rows', () => Object.assign(residualColumnsArgs(), { 5: mat(T + 1, n) })],
      ['rt aliases yt', () => {
        const a = residualColumnsArgs();
        return Object.assign(a, { 5: a[4] });
      }],
      ['rt aliases x', () => {
        const a = residualColumnsArgs();
        const x = a[0] as { data: Float64Array };
        return Object.assign(a, { 5: { rows: T, cols: n, data: x.data.subarray(0, T * n) } });
      }],
    ],
  },
  cdResidualCorrelations: {
    args: residualCorrelationsArgs,
    kinds: ['matrix', 'f64', 'f64', 'i32', 'matrix', 'matrix', 'matrix', 'i32', 'matrix', 'f64'],
    extra: [
      ['resCols entry d', () => Object.assign(residualCorrelationsArgs(), { 3: Int32Array.from([d, 1]) })],
      ['cols entry -1', () => Object.assign(residualCorrelationsArgs(), { 7: Int32Array.from([0, -1, 3]) })],
      ['sqNorm negative', () => Object.assign(residualCorrelationsArgs(), { 2: Float64Array.from([1, -1, 1, 1]) })],
      ['w with k + 1 rows', () => Object.assign(residualCorrelationsArgs(), { 4: mat(3, T) })],
      ['yt with n + 1 columns', () => Object.assign(residualCorrelationsArgs(), { 5: mat(T, n + 1) })],
      ['rt with T + 1 rows', () => Object.assign(residualCorrelationsArgs(), { 6: mat(T + 1, n) })],
      ['out with one row too many', () => Object.assign(residualCorrelationsArgs(), { 8: mat(4, T) })],
      ['norms of length 2', () => Object.assign(residualCorrelationsArgs(), { 9: new Float64Array(2) })],
      ['rt aliases yt', () => {
        const a = residualCorrelationsArgs();
        return Object.assign(a, { 6: a[5] });
      }],
      ['out over rt', () => {
        const a = residualCorrelationsArgs();
        const rt = a[6] as { data: Float64Array };
        return Object.assign(a, { 8: { rows: 3, cols: T, data: rt.data.subarray(0, 3 * T) } });
      }],
      ['norms over w', () => {
        const a = residualCorrelationsArgs();
        return Object.assign(a, { 9: (a[4] as { data: Float64Array }).data.subarray(0, 3) });
      }],
      ['out aliases x', () => {
        const a = residualCorrelationsArgs();
        const x = a[0] as { data: Float64Array };
        return Object.assign(a, { 8: { rows: 3, cols: T, data: x.data.subarray(0, 3 * T) } });
      }],
    ],
  },
  cdGramCorrelations: {
    args: gramCorrelationsArgs,
    kinds: ['matrix', 'matrix', 'matrix', 'i32', 'i32', 'matrix', 'f64'],
    extra: [
      ['gram not square', () => Object.assign(gramCorrelationsArgs(), { 0: mat(d, d - 1) })],
      ['xty with d + 1 rows', () => Object.assign(gramCorrelationsArgs(), { 1: mat(d + 1, T) })],
      ['w with d - 1 rows', () => Object.assign(gramCorrelationsArgs(), { 2: mat(d - 1, T) })],
      ['w with T + 1 columns', () => Object.assign(gramCorrelationsArgs(), { 2: mat(d, T + 1) })],
      ['support entry d', () => Object.assign(gramCorrelationsArgs(), { 3: Int32Array.from([3, d]) })],
      ['support entry -1', () => Object.assign(gramCorrelationsArgs(), { 3: Int32Array.from([-1]) })],
      ['support entry 2^31 - 1', () => Object.assign(gramCorrelationsArgs(), { 3: Int32Array.from([2 ** 31 - 1]) })],
      ['cols entry d', () => Object.assign(gramCorrelationsArgs(), { 4: Int32Array.from([0, d, 3]) })],
      ['cols entry -1', () => Object.assign(gramCorrelationsArgs(), { 4: Int32Array.from([0, -1, 3]) })],
      ['out with one row too many', () => Object.assign(gramCorrelationsArgs(), { 5: mat(4, T) })],
      ['out with T + 1 columns', () => Object.assign(gramCorrelationsArgs(), { 5: mat(3, T + 1) })],
      ['norms of length 2', () => Object.assign(gramCorrelationsArgs(), { 6: new Float64Array(2) })],
      ['norms of length 4', () => Object.assign(gramCorrelationsArgs(), { 6: new Float64Array(4) })],
      ['out aliases w', () => {
        const a = gramCorrelationsArgs();
        const w = a[2] as { data: Float64Array };
        return Object.assign(a, { 5: { rows: 3, cols: T, data: w.data.subarray(0, 3 * T) } });
      }],
      ['out over xty', () => {
        const a = gramCorrelationsArgs();
        const xty = a[1] as { data: Float64Array };
        return Object.assign(a, { 5: { rows: 3, cols: T, data: xty.data.subarray(T, 4 * T) } });
      }],
      ['out aliases gram', () => {
        const a = gramCorrelationsArgs();
        const g = a[0] as { data: Float64Array };
        return Object.assign(a, { 5: { rows: 3, cols: T, data: g.data.subarray(2, 2 + 3 * T) } });
      }],
      ['norms alias out', () => {
        const a = gramCorrelationsArgs();
        return Object.assign(a, { 6: (a[5] as { data: Float64Array }).data.subarray(0, 3) });
      }],
      ['norms over gram', () => {
        const a = gramCorrelationsArgs();
        return Object.assign(a, { 6: (a[0] as { data: Float64Array }).data.subarray(d * d - 3) });
      }],
      ['norms over w', () => {
        const a = gramCorrelationsArgs();
        return Object.assign(a, { 6: (a[2] as { data: Float64Array }).data.subarray(1, 4) });
      }],
    ],
  },
  cdDualNorms: {
    args: dualNormsArgs,
    kinds: ['f64', 'matrix', 'f64', 'i32', 'f64', 'u8', 'matrix', 'number', 'number', 'nonneg', 'nonneg', 'f64'],
    extra: [
      ['corr with d + 1 rows', () => Object.assign(dualNormsArgs(), { 1: mat(d + 1, T) })],
      ['w with T + 1 columns', () => Object.assign(dualNormsArgs(), { 6: mat(d, T + 1) })],
      ['corrVersion of length d - 1', () => Object.assign(dualNormsArgs(), { 3: new Int32Array(d - 1) })],
      ['nonZero of length d + 1', () => Object.assign(dualNormsArgs(), { 5: new Uint8Array(d + 1) })],
      ['version 1.5', () => Object.assign(dualNormsArgs(), { 7: 1.5 })],
      ['version 2^31', () => Object.assign(dualNormsArgs(), { 7: 2 ** 31 })],
      ['xi aliases corrNorm', () => {
        const a = dualNormsArgs();
        return Object.assign(a, { 11: a[2] });
      }],
      ['xi aliases w', () => {
        const a = dualNormsArgs();
        return Object.assign(a, { 11: (a[6] as { data: Float64Array }).data.subarray(0, d) });
      }],
      ['xi over corrVersion', () => {
        const buf = new ArrayBuffer(8 * d);
        return Object.assign(dualNormsArgs(), { 3: new Int32Array(buf, 0, d), 11: new Float64Array(buf) });
      }],
    ],
  },
  cdScreen: {
    args: screenArgs,
    kinds: ['u8', 'u8', 'f64', 'f64', 'nonneg-or-inf', 'nonneg', 'nonneg', 'number'],
    extra: [
      ['xi of length d - 1', () => Object.assign(screenArgs(), { 2: new Float64Array(d - 1) })],
      ['colNormSq of length d + 1', () => Object.assign(screenArgs(), { 3: new Float64Array(d + 1) })],
      ['active aliases nonZero', () => {
        const a = screenArgs();
        return Object.assign(a, { 1: a[0] });
      }],
      ['active over xi', () => {
        const a = screenArgs();
        return Object.assign(a, { 0: new Uint8Array((a[2] as Float64Array).buffer, 0, d) });
      }],
    ],
  },
  cdStaleFeatures: {
    args: staleArgs,
    kinds: ['i32', 'number', 'u8', 'f64', 'ordered', 'i32'],
    extra: [
      ['eligible of length d - 1', () => Object.assign(staleArgs(), { 2: new Uint8Array(d - 1) })],
      ['xi of length d + 1', () => Object.assign(staleArgs(), { 3: new Float64Array(d + 1) })],
      ['out of length d - 1', () => Object.assign(staleArgs(), { 5: new Int32Array(d - 1) })],
      ['version -2^31 - 1', () => Object.assign(staleArgs(), { 1: -(2 ** 31) - 1 })],
      ['out aliases corrVersion', () => {
        const a = staleArgs();
        return Object.assign(a, { 5: a[0] });
      }],
      ['out over eligible', () => {
        const buf = new ArrayBuffer(4 * d);
        return Object.assign(staleArgs(), { 2: new Uint8Array(buf, 0, d), 5: new Int32Array(buf) });
      }],
    ],
  },
  cdFlaggedFeatures: {
    args: flaggedArgs,
    kinds: ['u8', 'i32', 'opt-u8'],
    extra: [
      ['except of length d - 1', () => Object.assign(flaggedArgs(), { 2: new Uint8Array(d - 1) })],
      ['out over flags', () => {
        const buf = new ArrayBuffer(4 * d);
        return Object.assign(flaggedArgs(), { 0: new Uint8Array(buf, 0, d), 1: new Int32Array(buf) });
      }],
      ['out over except', () => {
        const buf = new ArrayBuffer(4 * d);
        return Object.assign(flaggedArgs(), { 1: new Int32Array(buf), 2: new Uint8Array(buf, 4, d) });
      }],
    ],
  },
  cdFlagPositive: {
    args: () => [Float64Array.from([1, 0, -1, 2]), new Uint8Array(d)],
    kinds: ['f64', 'u8'],
    extra: [
      ['flags of length d + 1', () => [Float64Array.from([1, 0, -1, 2]), new Uint8Array(d + 1)]],
      ['flags over values', () => {
        const values = Float64Array.from([1, 0, -1, 2]);
        return [values, new Uint8Array(values.buffer, 8, d)];
      }],
    ],
  },
  cdSetRows: {
    args: setRowsArgs,
    kinds: ['matrix', 'u8', 'i32', 'matrix'],
    extra: [
      ['rows entry d', () => Object.assign(setRowsArgs(), { 2: Int32Array.from([d, 1]) })],
      ['rows entry -1', () => Object.assign(setRowsArgs(), { 2: Int32Array.from([3, -1]) })],
      ['values with 3 rows', () => Object.assign(setRowsArgs(), { 3: mat(3, T) })],
      ['values with T + 1 columns', () => Object.assign(setRowsArgs(), { 3: mat(2, T + 1) })],
      ['nonZero of length d - 1', () => Object.assign(setRowsArgs(), { 1: new Uint8Array(d - 1) })],
      ['values alias w', () => {
        const a = setRowsArgs();
        return Object.assign(a, { 3: { rows: 2, cols: T, data: (a[0] as { data: Float64Array }).data.subarray(0, 2 * T) } });
      }],
      ['nonZero over values', () => {
        const a = setRowsArgs();
        return Object.assign(a, { 1: new Uint8Array((a[3] as { data: Float64Array }).data.buffer, 0, d) });
      }],
    ],
  },
  cdSetCorrelations: {
    args: setCorrelationsArgs,
    kinds: ['matrix', 'f64', 'i32', 'f64', 'number', 'number', 'i32', 'matrix', 'f64'],
    extra: [
      ['cols entry d', () => Object.assign(setCorrelationsArgs(), { 6: Int32Array.from([1, d]) })],
      ['values with 1 row', () => Object.assign(setCorrelationsArgs(), { 7: mat(1, T) })],
      ['corrNorm of length d + 1', () => Object.assign(setCorrelationsArgs(), { 1: new Float64Array(d + 1) })],
      ['corrVersion of length d - 1', () => Object.assign(setCorrelationsArgs(), { 2: new Int32Array(d - 1) })],
      ['norms of length 3', () => Object.assign(setCorrelationsArgs(), { 8: new Float64Array(3) })],
      ['version 2^31', () => Object.assign(setCorrelationsArgs(), { 4: 2 ** 31 })],
      ['corrNorm aliases corrDrift', () => {
        const a = setCorrelationsArgs();
        return Object.assign(a, { 1: a[3] });
      }],
      ['norms alias corr', () => {
        const a = setCorrelationsArgs();
        return Object.assign(a, { 8: (a[0] as { data: Float64Array }).data.subarray(0, 2) });
      }],
      ['values over corrVersion', () => {
        const a = setCorrelationsArgs();
        const buf = new ArrayBuffer(8 * 2 * T);
        return Object.assign(a, { 2: new Int32Array(buf, 0, d), 7: { rows: 2, cols: T, data: new Float64Array(buf) } });
      }],
    ],
  },
  cdWorkingSet: {
    args: workingSetArgs,
    kinds: ['u8', 'u8', 'f64', 'ordered', 'number', 'i32', 'opt-ordered', 'opt-count'],
    extra: [
      ['xi of length d - 1', () => Object.assign(workingSetArgs(), { 2: new Float64Array(d - 1) })],
      ['out of length d + 1', () => Object.assign(workingSetArgs(), { 5: new Int32Array(d + 1) })],
      ['minSize -1', () => Object.assign(workingSetArgs(), { 4: -1 })],
      ['minSize 2.5', () => Object.assign(workingSetArgs(), { 4: 2.5 })],
      ['out over xi', () => {
        const a = workingSetArgs();
        return Object.assign(a, { 5: new Int32Array((a[2] as Float64Array).buffer, 0, d) });
      }],
    ],
  },
  mtenetGramSweep: {
    args: gramSweepArgs,
    kinds: ['matrix', 'matrix', 'matrix', 'nonneg', 'nonneg', 'i32'],
    extra: [
      ['gram not square', () => Object.assign(gramSweepArgs(), { 0: mat(3, 2) })],
      ['gram with a negative diagonal', () => Object.assign(gramSweepArgs(), { 0: { rows: 3, cols: 3, data: Float64Array.from([4, 1, 0, 1, -4, 1, 0, 1, 4]) } })],
      ['gram with a NaN diagonal', () => Object.assign(gramSweepArgs(), { 0: { rows: 3, cols: 3, data: Float64Array.from([NaN, 1, 0, 1, 4, 1, 0, 1, 4]) } })],
      ['ht with k + 1 columns', () => Object.assign(gramSweepArgs(), { 1: mat(T, 4) })],
      ['w with T + 1 columns', () => Object.assign(gramSweepArgs(), { 2: mat(3, T + 1) })],
      ['order entry k', () => Object.assign(gramSweepArgs(), { 5: Int32Array.from([0, 3]) })],
      ['order entry -1', () => Object.assign(gramSweepArgs(), { 5: Int32Array.from([-1]) })],
      ['ht aliases w', () => {
        const buf = new Float64Array(3 * T);
        return Object.assign(gramSweepArgs(), { 1: { rows: T, cols: 3, data: buf }, 2: { rows: 3, cols: T, data: buf } });
      }],
      ['w aliases gram', () => {
        const a = gramSweepArgs();
        const g = a[0] as { data: Float64Array };
        return Object.assign(a, { 2: { rows: 3, cols: T, data: g.data.subarray(0, 3 * T) } });
      }],
    ],
  },
  mtenetSweepBlocked: {
    args: blockedArgs,
    kinds: ['matrix', 'matrix', 'matrix', 'f64', 'nonneg', 'nonneg', 'i32', 'f64', 'number'],
    extra: [
      ['rt with n + 1 columns', () => Object.assign(blockedArgs(), { 1: mat(T, n + 1) })],
      ['w with T + 1 columns', () => Object.assign(blockedArgs(), { 2: mat(d, T + 1) })],
      ['colNormSq NaN', () => Object.assign(blockedArgs(), { 3: Float64Array.from([1, NaN, 1, 1]) })],
      ['order entry d', () => Object.assign(blockedArgs(), { 6: Int32Array.from([0, d]) })],
      ['order entry -1', () => Object.assign(blockedArgs(), { 6: Int32Array.from([0, -1]) })],
      ['blockGram too short for the order', () => Object.assign(blockedArgs(), { 7: new Float64Array(9) })],
      ['blockGram for another block size', () => Object.assign(blockedArgs(), { 8: 2 })],
      ['blockSize 0', () => Object.assign(blockedArgs(), { 7: new Float64Array(0), 8: 0 })],
      ['blockSize -3', () => Object.assign(blockedArgs(), { 8: -3 })],
      ['blockSize 1.5', () => Object.assign(blockedArgs(), { 8: 1.5 })],
      ['blockSize 2^31', () => Object.assign(blockedArgs(), { 8: 2 ** 31 })],
      ['rt aliases blockGram', () => {
        const a = blockedArgs();
        const buf = new Float64Array(T * n);
        return Object.assign(a, { 1: { rows: T, cols: n, data: buf }, 7: buf.subarray(0, 18) });
      }],
      ['w aliases blockGram', () => {
        const a = blockedArgs();
        const buf = new Float64Array(18);
        return Object.assign(a, { 2: { rows: d, cols: T, data: buf.subarray(0, d * T) }, 7: buf });
      }],
      ['rt aliases w', () => {
        const a = blockedArgs();
        const buf = new Float64Array(T * n);
        return Object.assign(a, { 1: { rows: T, cols: n, data: buf }, 2: { rows: d, cols: T, data: buf.subarray(0, d * T) } });
      }],
    ],
  },
  mtenetBlockGram: {
    args: blockGramArgs,
    kinds: ['matrix', 'i32', 'number', 'f64'],
    extra: [
      ['out too short', () => Object.assign(blockGramArgs(), { 3: new Float64Array(17) })],
      ['out too long', () => Object.assign(blockGramArgs(), { 3: new Float64Array(19) })],
      ['order entry d', () => Object.assign(blockGramArgs(), { 1: Int32Array.from([0, d]), 3: new Float64Array(9) })],
      ['blockSize 0', () => Object.assign(blockGramArgs(), { 2: 0 })],
      ['blockSize 2.5', () => Object.assign(blockGramArgs(), { 2: 2.5 })],
      ['blockSize 2^21', () => Object.assign(blockGramArgs(), { 2: 2 ** 21 })],
      ['out aliases xt', () => {
        const a = blockGramArgs();
        const buf = new Float64Array(d * n);
        return Object.assign(a, { 0: { rows: d, cols: n, data: buf }, 3: buf.subarray(0, 18) });
      }],
    ],
  },
  taskLoss: {
    args: lossArgs,
    kinds: ['matrix', 'f64', 'i32', 'matrix', 'f64', 'f64', 'string', 'opt-matrix', 'opt-f64', 'f64'],
    extra: [
      ['offsets empty', () => Object.assign(lossArgs(), { 2: new Int32Array(0) })],
      ['offsets not starting at 0', () => Object.assign(lossArgs(), { 2: Int32Array.from([1, 2, 2, 6]) })],
      ['offsets decreasing', () => Object.assign(lossArgs(), { 2: Int32Array.from([0, 3, 2, 6]) })],
      ['offsets past n', () => Object.assign(lossArgs(), { 2: Int32Array.from([0, 2, 2, 7]) })],
      ['offsets short of n', () => Object.assign(lossArgs(), { 2: Int32Array.from([0, 2, 2, 5]) })],
      ['offsets negative', () => Object.assign(lossArgs(), { 2: Int32Array.from([0, -5, 2, 6]) })],
      ['offsets for 2 tasks with w for 3', () => Object.assign(lossArgs(), { 2: Int32Array.from([0, 2, 6]) })],
      ['y of length n - 1', () => Object.assign(lossArgs(), { 1: new Float64Array(n - 1) })],
      ['w with d + 1 columns', () => Object.assign(lossArgs(), { 3: mat(T, d + 1) })],
      ['gradW of the transposed shape', () => Object.assign(lossArgs(), { 7: mat(d, T) })],
      ['out aliases y', () => {
        const a = lossArgs();
        return Object.assign(a, { 9: (a[1] as Float64Array).subarray(0, T) });
      }],
      ['gradW aliases x', () => {
        const a = lossArgs();
        const x = a[0] as { data: Float64Array };
        return Object.assign(a, { 7: { rows: T, cols: d, data: x.data.subarray(0, T * d) } });
      }],
      ['gradIntercept aliases out', () => {
        const a = lossArgs();
        return Object.assign(a, { 8: a[9] });
      }],
      ['gradIntercept aliases intercept', () => {
        const a = lossArgs();
        return Object.assign(a, { 8: a[4] });
      }],
    ],
  },
};

/** The optimisers take one object; each field is checked. */
interface ObjCase {
  args: () => Record<string, unknown>;
  kinds: Record<string, Kind>;
  extra: [string, () => Record<string, unknown>][];
}
const v64 = (len = 5, fill = 0) => new Float64Array(len).fill(fill);
const adamArgs = () => ({ params: v64(5, 1), grad: v64(5, 1), m: v64(), v: v64(), lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupledWeightDecay: false, step: 1 });
const sgdArgs = () => ({ params: v64(5, 1), grad: v64(5, 1), velocity: v64(), lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, step: 2 });
const rmsArgs = () => ({ params: v64(5, 1), grad: v64(5, 1), squareAvg: v64(), momentumBuf: v64(), lr: 0.01, alpha: 0.99, eps: 1e-8, momentum: 0.5, weightDecay: 0 });
const objCases: Record<string, ObjCase> = {
  adamStep: {
    args: adamArgs,
    kinds: { params: 'f64', grad: 'f64', m: 'f64', v: 'f64', lr: 'nonneg', beta1: 'nonneg', beta2: 'nonneg', eps: 'nonneg', weightDecay: 'nonneg', decoupledWeightDecay: 'bool', step: 'nonneg' },
    extra: [
      ['beta1 = 1', () => ({ ...adamArgs(), beta1: 1 })],
      ['beta2 = 1.5', () => ({ ...adamArgs(), beta2: 1.5 })],
      ['step 0', () => ({ ...adamArgs(), step: 0 })],
      ['step 1.5', () => ({ ...adamArgs(), step: 1.5 })],
      ['m shorter', () => ({ ...adamArgs(), m: v64(4) })],
      ['float32 params with float64 state', () => ({ ...adamArgs(), params: new Float32Array(5) })],
      ['m aliases v', () => {
        const a = adamArgs();
        return { ...a, m: a.v };
      }],
      ['grad aliases params', () => {
        const a = adamArgs();
        return { ...a, grad: a.params };
      }],
    ],
  },
  sgdStep: {
    args: sgdArgs,
    kinds: { params: 'f64', grad: 'f64', velocity: 'f64', lr: 'nonneg', momentum: 'nonneg', dampening: 'number', nesterov: 'bool', weightDecay: 'nonneg', step: 'nonneg' },
    extra: [
      ['nesterov with dampening', () => ({ ...sgdArgs(), nesterov: true, dampening: 0.1 })],
      ['nesterov without momentum', () => ({ ...sgdArgs(), nesterov: true, momentum: 0 })],
      ['step 0', () => ({ ...sgdArgs(), step: 0 })],
      ['velocity aliases params', () => {
        const a = sgdArgs();
        return { ...a, velocity: a.params };
      }],
    ],
  },
  rmspropStep: {
    args: rmsArgs,
    kinds: { params: 'f64', grad: 'f64', squareAvg: 'f64', momentumBuf: 'f64', lr: 'nonneg', alpha: 'nonneg', eps: 'nonneg', momentum: 'nonneg', weightDecay: 'nonneg' },
    extra: [
      ['alpha 1.5', () => ({ ...rmsArgs(), alpha: 1.5 })],
      ['squareAvg aliases momentumBuf', () => {
        const a = rmsArgs();
        return { ...a, squareAvg: a.momentumBuf };
      }],
    ],
  },
};

function expectThrowsTypeOrRange(f: () => unknown, what: string): void {
  let threw: unknown = undefined;
  try {
    f();
  } catch (err) {
    threw = err;
  }
  expect(threw, `${what}: expected a TypeError or RangeError, the call returned`).to.not.equal(undefined);
  expect(threw instanceof TypeError || threw instanceof RangeError, `${what}: threw ${String(threw)}`).to.equal(true);
}

function describeValue(v: unknown): string {
  if (typeof v === 'symbol' || typeof v === 'bigint') return String(v);
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as Float64Array).length})`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function currentSimd(): string {
  return rawAddon()!.info().simd;
}
function foreignSimd(): string {
  return process.arch === 'arm64' ? 'avx2' : 'neon';
}

describe('native binding robustness', function () {
  let addon: Addon;

  before(function () {
    if (!availableBackends().includes('native')) this.skip();
    addon = rawAddon()!;
  });

  it('copies index arrays before the kernel writes: an order that views w (which the sweep updates) acts as its copy', () => {
    const viewed = sweepArgs();
    const w = viewed[2] as { rows: number; cols: number; data: Float64Array };
    const order = new Int32Array(w.data.buffer, 0, 2);
    order.set([1, 0]);
    viewed[6] = order;
    const copied = sweepArgs();
    const w2 = copied[2] as { data: Float64Array };
    w2.data.set(w.data);
    copied[6] = Int32Array.from(order);
    (addon.mtenetSweep as Fn)(...copied);
    (addon.mtenetSweep as Fn)(...viewed);
    expect(Array.from(w.data)).to.deep.equal(Array.from(w2.data));
  });

  it('covers every export of the addon', () => {
    // The Network class has its own argument and `this` checks in test/network.native.test.ts.
    const tested = new Set(['info', 'Network', ...Object.keys(cases), ...Object.keys(objCases)]);
    expect(Object.keys(addon).filter((k) => !tested.has(k))).to.deep.equal([]);
  });

  it('info() refuses arguments and reports its fields', () => {
    expectThrowsTypeOrRange(() => (addon.info as Fn)(1), 'info(1)');
    expect(addon.info()).to.include.keys('version', 'simd', 'threads', 'eigen');
  });

  for (const [name, c] of Object.entries(cases)) {
    describe(name, () => {
      it('accepts the valid call', () => {
        (addon[name] as Fn)(...c.args());
      });
      it('refuses wrong argument counts', () => {
        const f = addon[name] as Fn;
        const args = c.args();
        expectThrowsTypeOrRange(() => f(), 'no arguments');
        expectThrowsTypeOrRange(() => f(...args.slice(0, -1)), 'one argument short');
        expectThrowsTypeOrRange(() => f(...args, 0), 'one argument too many');
      });
      it('refuses wrong types, lengths and values in every argument', () => {
        const f = addon[name] as Fn;
        let count = 0;
        c.kinds.forEach((kind, i) => {
          for (const bad of badValues(kind, c.args()[i])) {
            const args = c.args();
            args[i] = bad;
            expectThrowsTypeOrRange(() => f(...args), `argument ${i} (${kind}) = ${describeValue(bad)}`);
            count++;
          }
        });
        expect(count).to.be.greaterThan(0);
      });
      for (const [what, make] of c.extra) {
        it(`refuses: ${what}`, () => expectThrowsTypeOrRange(() => (addon[name] as Fn)(...make()), what));
      }
    });
  }

  for (const [name, c] of Object.entries(objCases)) {
    describe(name, () => {
      it('accepts the valid call, in float64 and float32', () => {
        const f = addon[name] as Fn;
        f(c.args());
        const a32 = Object.fromEntries(Object.entries(c.args()).map(([k, v]) => [k, v instanceof Float64Array ? Float32Array.from(v) : v]));
        f(a32);
      });
      it('refuses wrong argument counts and a non-object', () => {
        const f = addon[name] as Fn;
        expectThrowsTypeOrRange(() => f(), 'no arguments');
        expectThrowsTypeOrRange(() => f(c.args(), 1), 'two arguments');
        for (const bad of [null, undefined, 1, 'x', [], new Float64Array(3)]) expectThrowsTypeOrRange(() => f(bad), describeValue(bad));
      });
      it('refuses wrong types, lengths and values in every field, and missing fields', () => {
        const f = addon[name] as Fn;
        for (const [field, kind] of Object.entries(c.kinds)) {
          const missing = c.args();
          delete missing[field];
          // Optional buffers (momentum buffers) may only be missing when momentum is 0.
          expectThrowsTypeOrRange(() => f(missing), `missing ${field}`);
          for (const bad of badValues(kind, c.args()[field])) {
            // null is a legal "no buffer" for the optional momentum buffers; tested separately.
            if (bad === null && (field === 'velocity' || field === 'momentumBuf')) continue;
            expectThrowsTypeOrRange(() => f({ ...c.args(), [field]: bad }), `${field} = ${describeValue(bad)}`);
          }
        }
      });
      for (const [what, make] of c.extra) {
        it(`refuses: ${what}`, () => expectThrowsTypeOrRange(() => (addon[name] as Fn)(make()), what));
      }
    });
  }

  it('sgdStep and rmspropStep refuse a null momentum buffer when momentum > 0, accept it at 0', () => {
    expectThrowsTypeOrRange(() => addon.sgdStep({ ...sgdArgs(), velocity: null } as never), 'sgd velocity null');
    expectThrowsTypeOrRange(() => addon.rmspropStep({ ...rmsArgs(), momentumBuf: null } as never), 'rmsprop momentumBuf null');
    addon.sgdStep({ ...sgdArgs(), velocity: null, momentum: 0 } as never);
    addon.rmspropStep({ ...rmsArgs(), momentumBuf: null, momentum: 0 } as never);
  });

  it('index lists are copied once checked: an order that is a view of w (written by the sweep) is accepted', () => {
    const a = sweepArgs();
    const w = a[2] as { data: Float64Array };
    const view = new Int32Array(w.data.buffer, 0, 2); // entries 0, 0 while w is zero
    (addon.mtenetSweep as Fn)(...Object.assign(a, { 6: view }));
    const g = gramSweepArgs();
    const gw = g[2] as { data: Float64Array };
    (addon.mtenetGramSweep as Fn)(...Object.assign(g, { 5: new Int32Array(gw.data.buffer, 0, 2) }));
    // support and cols viewing out (entries 0 while out is zero), which the kernel writes row by row
    // while it still reads them.
    const out = mat(3, T, 0);
    const c = Object.assign(gramCorrelationsArgs(), { 1: mat(d, T, 3), 5: out });
    (addon.cdGramCorrelations as Fn)(...Object.assign(c, { 3: new Int32Array(out.data.buffer, 0, 2), 4: new Int32Array(out.data.buffer, 8, 3) }));
    expect(Array.from(out.data).some((v) => v !== 0)).to.equal(true);
  });

  describe('typed arrays detached or shrunk by getters while the arguments are read', () => {
    const detach = (a: Float64Array | Float32Array) => structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
    const detachedMessage = /detached or resized/;

    it('mtenetSweep: a getter on rt.rows detaches xt', () => {
      const [xt, rt, ...rest] = sweepArgs() as [{ data: Float64Array }, { rows: number; cols: number; data: Float64Array }, ...unknown[]];
      const evil = { cols: rt.cols, data: rt.data, get rows() { detach(xt.data); return rt.rows; } };
      expect(() => (addon.mtenetSweep as Fn)(xt, evil, ...rest)).to.throw(RangeError, detachedMessage);
    });

    it('mtenetSweepBlocked and mtenetBlockGram: a getter detaches xt', () => {
      const [xt, rt, ...rest] = blockedArgs() as [{ data: Float64Array }, { rows: number; cols: number; data: Float64Array }, ...unknown[]];
      const evil = { cols: rt.cols, data: rt.data, get rows() { detach(xt.data); return rt.rows; } };
      expect(() => (addon.mtenetSweepBlocked as Fn)(xt, evil, ...rest)).to.throw(RangeError, detachedMessage);
      const g = blockGramArgs() as [{ rows: number; cols: number; data: Float64Array }, ...unknown[]];
      const x2 = g[0];
      const evilX = { rows: x2.rows, data: x2.data, get cols() { return x2.cols; } };
      const order = new Proxy(g[1] as Int32Array, {});
      // A Proxy is not a typed array: refused before any kernel runs.
      expectThrowsTypeOrRange(() => (addon.mtenetBlockGram as Fn)(evilX, order, 3, g[3]), 'order as a Proxy');
    });

    it('gemm: a Proxy for b detaches c', () => {
      const c = mat(2, 4);
      const b = new Proxy(mat(3, 4), { get: (t, k) => { if (k === 'data') detach(c.data); return Reflect.get(t, k); } });
      // c is read after b, so detaching it early is seen as a wrong length; the guard covers a and b.
      const a = mat(2, 3);
      const b2 = new Proxy(mat(3, 4), { get: (t, k) => { if (k === 'rows') detach(a.data); return Reflect.get(t, k); } });
      expectThrowsTypeOrRange(() => (addon.gemm as Fn)(mat(2, 3), b, c, false, false, 1, 0), 'c detached before it is read');
      // a's fields were read before b's getter detached it: seen as a detached (0-element) array.
      expect(() => (addon.gemm as Fn)(a, b2, mat(2, 4), false, false, 1, 0)).to.throw(RangeError, /a\.data' has 0 elements|detached or resized/);
    });

    it('taskLoss: a getter on w.cols shrinks x (a resizable ArrayBuffer)', () => {
      const args = lossArgs();
      // Resizable ArrayBuffers are ES2024, beyond this project's TypeScript lib setting.
      const buf = new (ArrayBuffer as unknown as new (len: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(
        n * d * 8,
        { maxByteLength: n * d * 8 },
      );
      const x = { rows: n, cols: d, data: new Float64Array(buf) };
      const w = args[3] as { rows: number; cols: number; data: Float64Array };
      args[0] = x;
      args[3] = { rows: w.rows, data: w.data, get cols() { buf.resize(8); return w.cols; } };
      expect(() => (addon.taskLoss as Fn)(...args)).to.throw(RangeError, detachedMessage);
    });

    it('adamStep: a getter on lr detaches params', () => {
      const a = adamArgs();
      const evil = { ...a, get lr() { detach(a.params); return 1e-3; } };
      expect(() => addon.adamStep(evil as never)).to.throw(RangeError, detachedMessage);
    });
  });

  describe('a getter that disposes the Network whose method is reading its arguments', () => {
    // input(3) -> dense(2) -> dense(1), one mse head: 11 parameters.
    const program = encodeProgram(compileNetwork({
      nodes: [{ op: 'input', size: 3 }, { op: 'dense', input: 0, units: 2 }, { op: 'dense', input: 1, units: 1 }],
      heads: [{ node: 2, loss: 'mse', target: 0 }],
    }));
    const P = 11;
    const rows = 4;
    const methodArgs = (x: unknown): Record<string, unknown[]> => {
      const y = mat(rows, 1);
      return {
        // masks, then the batch-norm running statistics and batch-statistics output (none here).
        forward: [v64(P, 0.1), x, null, null, null, mat(rows, 1)],
        lossGrad: [v64(P, 0.1), x, y, null, null, null, v64(1, 1), v64(P), v64(1)],
        headGrads: [v64(P, 0.1), x, y, null, null, null, mat(1, P), v64(1)],
        hvp: [v64(P, 0.1), x, y, null, null, null, v64(1, 1), v64(P, 1), v64(P)],
        vjp: [v64(P, 0.1), x, null, null, null, mat(rows, 1), v64(P), false],
        metaGradient: [v64(P, 0.1), x, y, Int32Array.from([0, 2, 4]), 0.1, 1, false, null, v64(P)],
      };
    };
    for (const method of ['forward', 'lossGrad', 'headGrads', 'hvp', 'vjp', 'metaGradient']) {
      it(`${method}: the call throws the disposed error instead of running on freed memory; later calls throw too`, () => {
        const net = new addon.Network(program.ints, program.floats, 'float64') as unknown as Record<string, Fn>;
        const plain = mat(rows, 3);
        // The handle works before (and allocates its buffers for this batch size).
        net[method]!(...methodArgs(plain)[method]!);
        const x = { rows: plain.rows, data: plain.data, get cols() { net.dispose!(); return plain.cols; } };
        expect(() => net[method]!(...methodArgs(x)[method]!)).to.throw(Error, /^ERR_DISPOSED:Network\./);
        expect(() => net.info!()).to.throw(Error, /^ERR_DISPOSED:/);
        expect(() => net[method]!(...methodArgs(plain)[method]!)).to.throw(Error, /^ERR_DISPOSED:/);
        net.dispose!();
      });
    }

    it('a getter that calls another method of the same handle, then disposes it', () => {
      const net = new addon.Network(program.ints, program.floats, 'float32') as unknown as Record<string, Fn>;
      const f32 = (len: number, fill = 0.1) => new Float32Array(len).fill(fill);
      const plain = mat32(rows, 3);
      const nestedOut = mat32(rows, 1);
      const x = {
        rows: plain.rows,
        data: plain.data,
        get cols() {
          net.forward!(f32(P), plain, null, null, null, nestedOut);
          net.dispose!();
          return plain.cols;
        },
      };
      expect(() => net.lossGrad!(f32(P), x, mat32(rows, 1), null, null, null, v64(1, 1), f32(P), v64(1))).to.throw(Error, /^ERR_DISPOSED:/);
      // The nested call ran to its end before the dispose.
      expect(Array.from(nestedOut.data).every((v) => v !== 0 && Number.isFinite(v))).to.equal(true);
    });
  });

  it('survives a worker that loads the addon being terminated mid-work, 20 times', async function () {
    this.timeout(120_000);
    const addonPath = process.env.METATASK_ADDON || join(packageRoot(), 'build', 'Release', 'metatask.node');
    const code = `
      const { createRequire } = require('node:module');
      const { parentPort } = require('node:worker_threads');
      const addon = createRequire(${JSON.stringify(join(packageRoot(), 'package.json'))})(${JSON.stringify(addonPath)});
      const m = (r, c) => ({ rows: r, cols: c, data: new Float64Array(r * c).map(() => Math.random()) });
      const d = 200, n = 300, T = 10;
      const xt = m(d, n), rt = m(T, n), w = m(d, T);
      const colNormSq = new Float64Array(d).fill(n / 3);
      const order = Int32Array.from({ length: d }, (_, i) => i);
      let posted = false;
      for (;;) {
        addon.mtenetSweep(xt, rt, w, colNormSq, 1, 0.1, order);
        const a = m(120, 120);
        addon.svt(a, 0.5, m(120, 120));
        addon.gemm(a, a, m(120, 120), false, true, 1, 0);
        try { addon.taskLoss(null); } catch (e) {}
        if (!posted) { parentPort.postMessage('started'); posted = true; }
      }
    `;
    for (let i = 0; i < 20; i++) {
      const worker = new Worker(code, { eval: true });
      const errors: unknown[] = [];
      worker.on('error', (e) => errors.push(e));
      await new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('exit', (c) => reject(new Error(`worker exited early with code ${c}: ${errors.map(String).join('; ')}`)));
      });
      // Vary the moment of termination so it lands inside different native calls.
      await new Promise((r) => setTimeout(r, i % 5));
      const exitCode = await worker.terminate();
      expect(exitCode).to.equal(1);
      expect(errors).to.deep.equal([]);
    }
    // The main thread's instance still works.
    const c = mat(2, 2);
    addon.gemm(mat(2, 2), mat(2, 2), c, false, false, 1, 0);
    expect(Array.from(c.data)).to.deep.equal([2, 2, 2, 2]);
  });
});
