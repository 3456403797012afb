/**
 * Kernel parity: every kernel of the native set and of the TypeScript set
 * runs on the same random inputs (one seeded Rng), over many shapes, and the results must agree
 * to ~1e-10 relative in float64 and ~1e-4 in float32. Decompositions whose factors are only
 * defined up to sign (svd, symEig) are compared through invariants: the values, the
 * reconstruction, and the vectors after aligning each one's sign.
 * Skipped entirely when the native addon is not available.
 */
import { expect } from 'chai';
import { ShapeError, ValueError } from '../lib/core/errors.js';
import type { FloatArray, Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { availableBackends, kernelsFor } from '../lib/kernels/index.js';
import type { CdFeatureState, Kernels, TaskLossArgs } from '../lib/kernels/types.js';
import { provenZero, SCREEN_MARGIN } from '../lib/linear/solvers/dualGap.js';
import { maxAbs, randMatrix } from './helpers.js';

type M = Matrix<Float64Array>;

const TOL64 = 1e-10;
const TOL32 = 1e-4;

function randn32(rng: Rng, rows: number, cols: number): Matrix<Float32Array> {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { rows, cols, data };
}

function clone<T extends FloatArray>(a: Matrix<T>): Matrix<T> {
  return { rows: a.rows, cols: a.cols, data: a.data.slice() as T };
}

/** |a - b|_inf <= tol max(1, |b|_inf), with a message naming what differs. */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  expect(a.length, `${what}: length`).to.equal(b.length);
  const scale = Math.max(1, maxAbs(b));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i]! - b[i]!);
    if (!(diff <= worst)) {
      worst = diff;
      at = i;
    }
  }
  expect(worst <= tol * scale, `${what}: max difference ${worst} at ${at} (native ${a[at]}, js ${b[at]}), allowed ${tol * scale}`).to.equal(
    true,
  );
}

function zerosM(rows: number, cols: number): M {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

function closeNum(a: number, b: number, tol: number, what: string): void {
  expectClose([a], [b], tol, what);
}

/** U diag(s) V^T. */
function reconstruct(u: M, s: Float64Array, vt: M): Float64Array {
  const m = u.rows;
  const n = vt.cols;
  const k = s.length;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let l = 0; l < k; l++) {
      const c = u.data[i * k + l]! * s[l]!;
      for (let j = 0; j < n; j++) out[i * n + j]! += c * vt.data[l * n + j]!;
    }
  return out;
}

/** Column l of a (rows x k) and of b agree up to one sign; returns that sign. */
function expectColumnUpToSign(a: M, b: M, l: number, tol: number, what: string): number {
  let dot = 0;
  for (let i = 0; i < a.rows; i++) dot += a.data[i * a.cols + l]! * b.data[i * b.cols + l]!;
  const sign = dot < 0 ? -1 : 1;
  const ca = new Float64Array(a.rows);
  const cb = new Float64Array(a.rows);
  for (let i = 0; i < a.rows; i++) {
    ca[i] = sign * a.data[i * a.cols + l]!;
    cb[i] = b.data[i * b.cols + l]!;
  }
  expectClose(ca, cb, tol, `${what} column ${l}`);
  return sign;
}

const shapes: [number, number][] = [
  [1, 1],
  [7, 3],
  [3, 7],
  [5, 5],
  [40, 25],
  [25, 40],
  [0, 3],
  [3, 0],
];

describe('kernel parity: native vs js', function () {
  let N: Kernels;
  let J: Kernels;

  before(function () {
    if (!availableBackends().includes('native')) this.skip();
    N = kernelsFor('native');
    J = kernelsFor('js');
  });

  describe('gemm', () => {
    const dims: [number, number, number][] = [
      [1, 1, 1],
      [7, 3, 5],
      [3, 7, 2],
      [33, 17, 21],
      // Small products of the direct path: rows in even blocks (10 = 5 + 5, 6 = 3 + 3), op(B) = B^T
      // transposed in 4 x 4 blocks with ragged edges.
      [10, 40, 40],
      [6, 9, 13],
      // At AVX-512 the direct path takes up to twelve rows a block: 24 = 12 + 12, 50 = 5 x 10.
      [24, 300, 50],
      [50, 200, 50],
      [0, 4, 3],
      [4, 0, 3],
      [4, 3, 0],
    ];
    for (const dtype of ['float64', 'float32'] as const)
      for (const [m, k, n] of dims)
        for (const transA of [false, true])
          for (const transB of [false, true])
            it(`${dtype} ${m}x${k} * ${k}x${n}, transA=${transA}, transB=${transB}, alpha/beta`, () => {
              const rng = new Rng(m * 1000 + k * 100 + n + (transA ? 7 : 0) + (transB ? 13 : 0));
              const make = (r: number, c: number) => (dtype === 'float64' ? randMatrix(rng, r, c) : randn32(rng, r, c));
              const a = transA ? make(k, m) : make(m, k);
              const b = transB ? make(n, k) : make(k, n);
              const c0 = make(m, n);
              const tol = dtype === 'float64' ? TOL64 : TOL32;
              for (const [alpha, beta] of [
                [1, 0],
                [-0.5, 1],
                [2, 0.25],
              ] as const) {
                const cn = clone(c0 as Matrix<FloatArray>);
                const cj = clone(c0 as Matrix<FloatArray>);
                N.gemm(a as Matrix<FloatArray>, b as Matrix<FloatArray>, cn, { transA, transB, alpha, beta });
                J.gemm(a as Matrix<FloatArray>, b as Matrix<FloatArray>, cj, { transA, transB, alpha, beta });
                expectClose(cn.data, cj.data, tol * Math.max(1, k), `C (alpha ${alpha}, beta ${beta})`);
              }
            });

    // Skinny products with long rows (X^T R with few tasks, the residual Y^T - W^T X_S): the native
    // kernel streams them or walks down them in register tiles, and each element must be the same sum as on any other path (the
    // reproducibility contract): the product of a slice of C, taken by another path, has the same bits.
    for (const dtype of ['float64', 'float32'] as const)
      for (const [rows, long, k, transA] of [
        [5, 3000, 600, false],
        [40, 2000, 300, false],
        [3, 3001, 700, true],
        [33, 1500, 500, true],
        // Rows of op(B) close together (a design of a few hundred columns): register tiles of
        // several vectors walk down them instead of the streamed form.
        [5, 400, 600, false],
        [12, 300, 300, false],
        [3, 500, 700, true],
        [8, 256, 300, true],
        [5, 900, 300, false],
      ] as const)
        it(`${dtype} skinny ${transA ? `${long}x${rows} (A^T)` : `${rows}x${long}`}, k=${k}: slices of C have the same bits, and agree with the TypeScript product`, () => {
          const rng = new Rng(rows * 7 + long + k);
          const make = (r: number, c: number): Matrix<FloatArray> => (dtype === 'float64' ? randMatrix(rng, r, c) : randn32(rng, r, c));
          // transA: C (long x rows) = A^T B with A k x long and B k x rows; else C (rows x long) = A B, A rows x k, B k x long.
          const a = transA ? make(k, long) : make(rows, k);
          const b = transA ? make(k, rows) : make(k, long);
          const [m, n] = transA ? [long, rows] : [rows, long];
          const c0 = make(m, n);
          const full = clone(c0);
          N.gemm(a, b, full, { transA, alpha: 1.5, beta: 0.5 });
          const ts = clone(c0);
          J.gemm(a, b, ts, { transA, alpha: 1.5, beta: 0.5 });
          expectClose(full.data, ts.data, (dtype === 'float64' ? TOL64 : TOL32) * k, 'C against the TypeScript product');
          // Slices of 50 along the long side: products of another shape, on other paths.
          const fill = (len: number, f: (q: number) => number): FloatArray => {
            const o = dtype === 'float64' ? new Float64Array(len) : new Float32Array(len);
            for (let q = 0; q < len; q++) o[q] = f(q);
            return o;
          };
          for (let s0 = 0; s0 < long; s0 += 50) {
            const w = Math.min(50, long - s0);
            let sub: Matrix<FloatArray>;
            let aS: Matrix<FloatArray>;
            let bS: Matrix<FloatArray>;
            if (transA) {
              // Rows s0..s0+w of C = A[:, s0..s0+w]^T B.
              aS = { rows: k, cols: w, data: fill(k * w, (q) => a.data[Math.floor(q / w) * long + s0 + (q % w)]!) };
              bS = b;
              sub = { rows: w, cols: n, data: c0.data.slice(s0 * n, (s0 + w) * n) };
            } else {
              // Columns s0..s0+w of C = A B[:, s0..s0+w].
              aS = a;
              bS = { rows: k, cols: w, data: fill(k * w, (q) => b.data[Math.floor(q / w) * long + s0 + (q % w)]!) };
              sub = { rows: m, cols: w, data: fill(m * w, (q) => c0.data[Math.floor(q / w) * n + s0 + (q % w)]!) };
            }
            N.gemm(aS, bS, sub, { transA, alpha: 1.5, beta: 0.5 });
            for (let q = 0; q < sub.data.length; q++) {
              const at = transA ? s0 * n + q : Math.floor(q / w) * n + s0 + (q % w);
              if (!Object.is(sub.data[q], full.data[at])) expect.fail(`slice at ${s0}: element ${q} is ${sub.data[q]}, the whole product has ${full.data[at]}`);
            }
          }
        });
  });

  /**
   * op(A) B^T with B given transposed, against op(A) times a transposed copy of B: the same bits
   * (every path sums each element alike, the reproducibility contract), and the TypeScript
   * product's values.
   */
  function expectTransBAsCopy(dtype: 'float64' | 'float32', m: number, n: number, k: number, transA: boolean, rng: Rng): void {
    const make = (r: number, c: number): Matrix<FloatArray> => (dtype === 'float64' ? randMatrix(rng, r, c) : randn32(rng, r, c));
    const a = transA ? make(k, m) : make(m, k);
    const b = make(n, k);
    const bt = make(k, n);
    for (let p = 0; p < k; p++) for (let t = 0; t < n; t++) bt.data[p * n + t] = b.data[t * k + p]!;
    const c0 = make(m, n);
    const viaT = clone(c0);
    N.gemm(a, b, viaT, { transA, transB: true, alpha: 1.5, beta: 0.5 });
    const viaCopy = clone(c0);
    N.gemm(a, bt, viaCopy, { transA, alpha: 1.5, beta: 0.5 });
    for (let q = 0; q < viaT.data.length; q++) {
      if (!Object.is(viaT.data[q], viaCopy.data[q])) expect.fail(`element ${q}: ${viaT.data[q]} with transB, ${viaCopy.data[q]} with the copy`);
    }
    const ts = clone(c0);
    J.gemm(a, b, ts, { transA, transB: true, alpha: 1.5, beta: 0.5 });
    expectClose(viaT.data, ts.data, (dtype === 'float64' ? TOL64 : TOL32) * k, 'against the TypeScript product');
  }

  describe('gemm: A^T B^T with few columns (the skinny form) and A^T op(B) through the other paths', () => {
    // The same product, B given transposed or not: each path sums every element alike (the
    // reproducibility contract), so the bits must match.
    for (const dtype of ['float64', 'float32'] as const)
      for (const [m, n, k] of [
        [100, 5, 256],
        [64, 1, 300],
        [200, 16, 100],
        [70, 12, 513],
        [63, 5, 256],
        [50, 2, 300],
        [17, 3, 520],
        // More columns than two vectors a row of tiles holds (7-12 at AVX2, 13-16 at AVX-512): in two halves.
        [300, 8, 256],
        [130, 9, 40],
        [64, 13, 300],
        [100, 15, 257],
      ] as const)
        it(`${dtype} ${m}x${n}, k=${k}: transB and a transposed copy give the same bits`, () => {
          expectTransBAsCopy(dtype, m, n, k, true, new Rng(m * 31 + n * 7 + k));
        });
  });

  describe('gemm: op(B) = B^T through the packed path and through the direct path', () => {
    // Packed: outputs past 64 x 64 (no direct path at any level), B^T packed by block transposes;
    // ragged slivers (n not a multiple of 4 or of the tile), k across a block boundary (256).
    // Direct: outputs of at most 64 x 64, B^T copied with its rows padded by zeros, the last columns
    // in one full-width tile whose padding lanes are dropped (widths past a tile of two vectors,
    // below one vector, between the two, at every level's vector width).
    // Either way B given transposed or as a transposed copy (the narrower tiles) gives the same bits.
    const shapes = {
      packed: [
        [70, 90, 37],
        [130, 67, 300],
        [96, 129, 257],
        [65, 65, 9],
      ],
      direct: [
        [40, 13, 300],
        [12, 7, 100],
        [30, 30, 256],
        [9, 21, 70],
        [64, 61, 33],
        [5, 3, 257],
        [20, 45, 40],
      ],
    } as const;
    for (const [path, list] of Object.entries(shapes))
      for (const dtype of ['float64', 'float32'] as const)
        for (const [m, n, k] of list)
          for (const transA of [false, true])
            it(`${path}, ${dtype} ${m}x${k} * (${n}x${k})^T, transA=${transA}: the same bits as the transposed copy, and the TypeScript product's values`, () => {
              expectTransBAsCopy(dtype, m, n, k, transA, new Rng(m * 131 + n * 17 + k + (transA ? 5 : 0)));
            });
  });

  describe('gram', () => {
    for (const [n, d] of shapes)
      it(`${n}x${d}`, () => {
        const rng = new Rng(n * 31 + d);
        const x = randMatrix(rng, n, d);
        const on = { rows: d, cols: d, data: new Float64Array(d * d) };
        const oj = { rows: d, cols: d, data: new Float64Array(d * d) };
        N.gram(x, on);
        J.gram(x, oj);
        expectClose(on.data, oj.data, TOL64 * Math.max(1, n), 'X^T X');
      });
  });

  describe('transpose', () => {
    for (const [m, n] of [
      [1, 1],
      [3, 70],
      [33, 65],
      [21, 7],
      [64, 32],
      [13, 600],
      [0, 4],
      [5, 0],
    ] as [number, number][])
      it(`${m}x${n}`, () => {
        const x = randMatrix(new Rng(m * 13 + n), m, n);
        const on = { rows: n, cols: m, data: new Float64Array(m * n) };
        const oj = { rows: n, cols: m, data: new Float64Array(m * n).fill(NaN) };
        N.transpose(x, on);
        J.transpose(x, oj);
        expect(Array.from(on.data)).to.deep.equal(Array.from(oj.data));
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) expect(oj.data[j * m + i]).to.equal(x.data[i * n + j]);
      });
  });

  describe('gatherRows', () => {
    // A copy: both backends give exactly the rows asked for, in their order, repeats included.
    for (const dtype of ['float64', 'float32'] as const)
      for (const [m, n, rows] of [
        [50, 7, [49, 0, 3, 3, 17, 48, 1, 2, 30, 31, 9, 8]],
        [300, 33, Array.from({ length: 40 }, (_, r) => (r * 97) % 300)],
        // Large enough that the native copy splits over the threads.
        [2000, 128, Array.from({ length: 300 }, (_, r) => (r * 7919) % 2000)],
        [5, 0, [4, 0]],
        [6, 3, []],
      ] as [number, number, number[]][])
        it(`${dtype} ${m}x${n}, ${rows.length} rows`, () => {
          const x = randMatrix(new Rng(m + n), m, n);
          const a: Matrix<FloatArray> = dtype === 'float32' ? { rows: m, cols: n, data: Float32Array.from(x.data) } : x;
          const idx = Int32Array.from(rows);
          const make = () => ({ rows: idx.length, cols: n, data: dtype === 'float32' ? new Float32Array(idx.length * n).fill(NaN) : new Float64Array(idx.length * n).fill(NaN) });
          const on = make();
          const oj = make();
          N.gatherRows(a, idx, on);
          J.gatherRows(a, idx, oj);
          for (let r = 0; r < idx.length; r++)
            for (let j = 0; j < n; j++) {
              expect(on.data[r * n + j], `native row ${r}`).to.equal(a.data[idx[r]! * n + j]);
              expect(oj.data[r * n + j], `js row ${r}`).to.equal(a.data[idx[r]! * n + j]);
            }
        });

    it('refuses a row outside the matrix and an out of the wrong shape, on both backends, writing nothing', () => {
      const a = randMatrix(new Rng(3), 4, 2);
      for (const K of [N, J]) {
        const out = { rows: 2, cols: 2, data: new Float64Array(4).fill(7) };
        expect(() => K.gatherRows(a, Int32Array.from([1, 4]), out), K.name).to.throw(ShapeError, /rows.*4.*\[0, 4\)/);
        expect(() => K.gatherRows(a, Int32Array.from([-1, 0]), out), K.name).to.throw(ShapeError);
        expect(Array.from(out.data)).to.deep.equal([7, 7, 7, 7]);
        expect(() => K.gatherRows(a, Int32Array.from([1]), out), K.name).to.throw(ShapeError);
      }
    });
  });

  describe('gatherBlock', () => {
    // A copy: both backends give exactly a[rows[i], cols[j]], repeats and any order included.
    for (const [m, n, rows, cols] of [
      [6, 5, [5, 0, 2, 2], [4, 1, 1, 0]],
      [300, 300, Array.from({ length: 120 }, (_, r) => (r * 37) % 300), Array.from({ length: 90 }, (_, c) => (c * 11) % 300)],
      [4, 4, [], [1, 2]],
      [4, 4, [3], []],
    ] as [number, number, number[], number[]][])
      it(`${m}x${n}, ${rows.length} rows x ${cols.length} columns`, () => {
        const a = randMatrix(new Rng(m * 3 + rows.length), m, n);
        const [ri, ci] = [Int32Array.from(rows), Int32Array.from(cols)];
        const outs = [N, J].map((K) => {
          const out = { rows: ri.length, cols: ci.length, data: new Float64Array(ri.length * ci.length).fill(NaN) };
          K.gatherBlock(a, ri, ci, out);
          return out;
        });
        for (const out of outs)
          for (let i = 0; i < ri.length; i++)
            for (let j = 0; j < ci.length; j++) expect(out.data[i * ci.length + j], `(${i}, ${j})`).to.equal(a.data[ri[i]! * n + ci[j]!]);
      });

    it('refuses an index outside a and an out of the wrong shape, on both backends, writing nothing', () => {
      const a = randMatrix(new Rng(5), 4, 3);
      for (const K of [N, J]) {
        const out = { rows: 2, cols: 2, data: new Float64Array(4).fill(7) };
        expect(() => K.gatherBlock(a, Int32Array.from([1, 4]), Int32Array.from([0, 1]), out), K.name).to.throw(ShapeError, /rows.*4.*\[0, 4\)/);
        expect(() => K.gatherBlock(a, Int32Array.from([1, 2]), Int32Array.from([0, 3]), out), K.name).to.throw(ShapeError, /cols.*3.*\[0, 3\)/);
        expect(() => K.gatherBlock(a, Int32Array.from([1]), Int32Array.from([0, 1]), out), K.name).to.throw(ShapeError);
        expect(Array.from(out.data)).to.deep.equal([7, 7, 7, 7]);
      }
    });
  });

  describe('setBlock', () => {
    // A copy: both backends place exactly a's elements and leave the rest of out as it was.
    for (const [rows, cols, m, n, row, col] of [[6, 7, 2, 3, 1, 4], [5, 5, 5, 5, 0, 0], [40, 33, 17, 33, 23, 0], [4, 4, 0, 3, 4, 1], [3, 3, 2, 0, 1, 3]] as const)
      it(`a ${m}x${n} into ${rows}x${cols} at (${row}, ${col})`, () => {
        const a = randMatrix(new Rng(m * 7 + n), m, n);
        const outs = [N, J].map((K) => {
          const out = { rows, cols, data: Float64Array.from({ length: rows * cols }, (_, i) => -i) };
          K.setBlock(out, row, col, a);
          return out;
        });
        expect(Array.from(outs[0]!.data)).to.deep.equal(Array.from(outs[1]!.data));
        for (let i = 0; i < rows; i++)
          for (let j = 0; j < cols; j++) {
            const inside = i >= row && i < row + m && j >= col && j < col + n;
            expect(outs[0]!.data[i * cols + j], `(${i}, ${j})`).to.equal(inside ? a.data[(i - row) * n + (j - col)] : -(i * cols + j));
          }
      });

    it('refuses a block that does not fit and a position outside out, on both backends, writing nothing', () => {
      for (const K of [N, J]) {
        const out = { rows: 3, cols: 4, data: new Float64Array(12).fill(7) };
        expect(() => K.setBlock(out, 2, 0, zerosM(2, 2)), K.name).to.throw(ShapeError, /does not fit/);
        expect(() => K.setBlock(out, 0, 3, zerosM(1, 2)), K.name).to.throw(ShapeError, /does not fit/);
        expect(() => K.setBlock(out, -1, 0, zerosM(1, 1)), K.name).to.throw(ShapeError);
        expect(() => K.setBlock(out, 0, 1.5, zerosM(1, 1)), K.name).to.throw(ShapeError);
        expect(Array.from(out.data)).to.deep.equal(new Array(12).fill(7));
      }
    });
  });

  describe('fillMask', () => {
    // The same stream on both backends, bit for bit, and the stream of Rng.nextU32.
    for (const dtype of ['float32', 'float64'] as const)
      for (const rate of [0, 0.1, 0.5, 1])
        for (const n of [0, 1, 7, 65537])
          it(`${dtype}, rate ${rate}, ${n} entries`, () => {
            const keep = rate < 1 ? 1 / (1 - rate) : 0;
            const make = () => (dtype === 'float32' ? new Float32Array(n) : new Float64Array(n)).fill(NaN);
            const [on, oj, ref] = [make(), make(), make()];
            const sn = new Rng(41 + n).streamState();
            const sj = new Rng(41 + n).streamState();
            N.fillMask(sn, on, rate, keep);
            J.fillMask(sj, oj, rate, keep);
            const r = new Rng(41 + n);
            for (let k = 0; k < n; k++) ref[k] = r.nextU32() < rate * 2 ** 32 ? 0 : keep;
            expect(Array.from(on)).to.deep.equal(Array.from(ref));
            expect(Array.from(oj)).to.deep.equal(Array.from(ref));
            // Both states moved on by exactly n draws.
            expect(Array.from(sn)).to.deep.equal(Array.from(r.streamState()));
            expect(Array.from(sj)).to.deep.equal(Array.from(r.streamState()));
          });

    it('refuses a bad state, rate, keep or out on both backends, drawing nothing', () => {
      for (const K of [N, J]) {
        const state = new Rng(3).streamState();
        const before = Array.from(state);
        const out = new Float32Array(4).fill(7);
        const bad: [string, () => void][] = [
          ['rate below 0', () => K.fillMask(state, out, -0.1, 1)],
          ['rate above 1', () => K.fillMask(state, out, 1.5, 1)],
          ['rate NaN', () => K.fillMask(state, out, NaN, 1)],
          ['keep infinite', () => K.fillMask(state, out, 0.5, Infinity)],
          ['state of 3 words', () => K.fillMask(state.subarray(0, 3), out, 0.5, 2)],
          ['state not an Int32Array', () => K.fillMask(Uint32Array.from(state) as unknown as Int32Array, out, 0.5, 2)],
          ['out an Int32Array', () => K.fillMask(state, new Int32Array(4) as unknown as Float32Array, 0.5, 2)],
          ['out over the state', () => K.fillMask(state, new Float32Array(state.buffer, 0, 2), 0.5, 2)],
        ];
        for (const [name, call] of bad) expect(call, `${K.name}: ${name}`).to.throw(ShapeError);
        expect(Array.from(state), K.name).to.deep.equal(before);
        expect(Array.from(out), K.name).to.deep.equal([7, 7, 7, 7]);
      }
    });
  });

  describe('choleskySolve', () => {
    for (const [n, k] of [
      [1, 1],
      [5, 1],
      [5, 3],
      [30, 7],
      [0, 2],
      [4, 0],
    ] as [number, number][])
      it(`SPD ${n}x${n}, B ${n}x${k}`, () => {
        const rng = new Rng(n * 17 + k);
        const g = randMatrix(rng, n + 2, n);
        const a = { rows: n, cols: n, data: new Float64Array(n * n) };
        J.gram(g, a);
        for (let i = 0; i < n; i++) a.data[i * n + i]! += 0.5;
        const b = randMatrix(rng, n, k);
        expectClose(N.choleskySolve(a, b).data, J.choleskySolve(a, b).data, 1e-9, 'X');
      });
    it('both throw a ValueError on a matrix that is not positive definite', () => {
      const a = { rows: 2, cols: 2, data: Float64Array.from([1, 2, 2, 1]) };
      const b = { rows: 2, cols: 1, data: Float64Array.from([1, 1]) };
      expect(() => N.choleskySolve(a, b)).to.throw(ValueError);
      expect(() => J.choleskySolve(a, b)).to.throw(ValueError);
    });
  });

  describe('symEig', () => {
    for (const n of [1, 2, 5, 12, 30, 0])
      it(`${n}x${n}: values, vectors up to sign, reconstruction`, () => {
        const rng = new Rng(n + 99);
        const r = randMatrix(rng, n, n);
        const a = { rows: n, cols: n, data: new Float64Array(n * n) };
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a.data[i * n + j] = r.data[i * n + j]! + r.data[j * n + i]!;
        const en = N.symEig(a);
        const ej = J.symEig(a);
        expectClose(en.values, ej.values, TOL64 * Math.max(1, n), 'eigenvalues');
        // Random symmetric matrices have well separated eigenvalues, so each vector is unique up to sign.
        for (let l = 0; l < n; l++) expectColumnUpToSign(en.vectors, ej.vectors, l, 1e-8, 'eigenvector');
        const vt = { rows: n, cols: n, data: new Float64Array(n * n) };
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) vt.data[j * n + i] = en.vectors.data[i * n + j]!;
        expectClose(reconstruct(en.vectors, en.values, vt), a.data, 1e-10 * Math.max(1, n), 'V diag(values) V^T');
      });
  });

  describe('svd', () => {
    for (const [m, n] of shapes)
      it(`${m}x${n}: singular values, |U| and |V| up to sign, reconstruction`, () => {
        const rng = new Rng(m * 7 + n);
        const a = randMatrix(rng, m, n);
        const sn = N.svd(a);
        const sj = J.svd(a);
        const k = Math.min(m, n);
        expect(sn.s.length).to.equal(k);
        expect([sn.u.rows, sn.u.cols, sn.vt.rows, sn.vt.cols]).to.deep.equal([m, k, k, n]);
        expectClose(sn.s, sj.s, TOL64 * Math.max(1, m, n), 'singular values');
        const vn = { rows: n, cols: k, data: new Float64Array(n * k) };
        const vj = { rows: n, cols: k, data: new Float64Array(n * k) };
        for (let l = 0; l < k; l++)
          for (let j = 0; j < n; j++) {
            vn.data[j * k + l] = sn.vt.data[l * n + j]!;
            vj.data[j * k + l] = sj.vt.data[l * n + j]!;
          }
        for (let l = 0; l < k; l++) {
          const su = expectColumnUpToSign(sn.u, sj.u, l, 1e-8, 'U');
          const sv = expectColumnUpToSign(vn, vj, l, 1e-8, 'V');
          expect(su, `U and V of component ${l} flip together`).to.equal(sv);
        }
        expectClose(reconstruct(sn.u, sn.s, sn.vt), a.data, 1e-10 * Math.max(1, m, n), 'U S V^T');
      });
  });

  describe('groupSoftThreshold', () => {
    for (const [m, n] of shapes)
      for (const threshold of [0, 0.5, 2])
        it(`${m}x${n}, threshold ${threshold}`, () => {
          const rng = new Rng(m * 13 + n + threshold * 100);
          const w = randMatrix(rng, m, n);
          if (m > 1) w.data.fill(0, 0, n); // an all-zero row at threshold 0 must stay zero, not NaN
          const wn = clone(w);
          const wj = clone(w);
          expect(N.groupSoftThreshold(wn, threshold)).to.equal(J.groupSoftThreshold(wj, threshold));
          expectClose(wn.data, wj.data, TOL64, 'W');
        });
  });

  describe('svt', () => {
    for (const [m, n] of shapes)
      for (const threshold of [0, 1, 3, 100])
        it(`${m}x${n}, threshold ${threshold}`, () => {
          const rng = new Rng(m * 5 + n * 3 + threshold);
          const w = randMatrix(rng, m, n);
          const before = w.data.slice();
          const rn = N.svt(w, threshold);
          const rj = J.svt(w, threshold);
          expect(w.data, 'input untouched').to.deep.equal(before);
          expect(rn.rank).to.equal(rj.rank);
          closeNum(rn.nuclearNorm, rj.nuclearNorm, TOL64 * Math.max(1, m, n), 'nuclear norm');
          expect([rn.result.rows, rn.result.cols]).to.deep.equal([m, n]);
          expectClose(rn.result.data, rj.result.data, 1e-9, 'U max(S - t, 0) V^T');
        });
  });

  describe('mtenetSweep', () => {
    const cases: [number, number, number][] = [
      [1, 1, 1],
      [5, 30, 3],
      [30, 5, 4],
      [20, 50, 1],
      [60, 40, 8],
      [0, 5, 2],
      [4, 0, 2],
      [4, 6, 0],
    ];
    for (const [d, n, T] of cases)
      for (const [l1, l2] of [
        [0, 0],
        [0.5, 0],
        [2, 1],
        [1e6, 0],
      ] as const)
        it(`d=${d}, n=${n}, T=${T}, l1Reg=${l1}, l2Reg=${l2}: 4 sweeps`, () => {
          const rng = new Rng(d * 1000 + n * 10 + T + l1);
          const xt = randMatrix(rng, d, n);
          if (d > 2) xt.data.fill(0, 2 * n, 3 * n); // feature 2 is all zero: skipped by both
          const y = randMatrix(rng, T, n, 3);
          const w = randMatrix(rng, d, T, 0.1);
          const colNormSq = new Float64Array(d);
          for (let j = 0; j < d; j++) for (let i = 0; i < n; i++) colNormSq[j]! += xt.data[j * n + i]! ** 2;
          // rt = (Y - X W)^T
          const rt = clone(y);
          for (let t = 0; t < T; t++)
            for (let i = 0; i < n; i++) {
              let s = 0;
              for (let j = 0; j < d; j++) s += xt.data[j * n + i]! * w.data[j * T + t]!;
              rt.data[t * n + i]! -= s;
            }
          const wn = clone(w);
          const wj = clone(w);
          const rn = clone(rt);
          const rj = clone(rt);
          for (let sweep = 0; sweep < 4; sweep++) {
            // a permutation, then (odd sweeps) an index list with repeats
            const order = sweep % 2 === 0 ? rng.permutation(d) : Int32Array.from({ length: 2 * d }, () => (d ? rng.int(d) : 0));
            const a = N.mtenetSweep({ xt, rt: rn, w: wn, colNormSq, l1Reg: l1, l2Reg: l2, order });
            const b = J.mtenetSweep({ xt, rt: rj, w: wj, colNormSq, l1Reg: l1, l2Reg: l2, order });
            closeNum(a.wMax, b.wMax, 1e-9, `wMax (sweep ${sweep})`);
            closeNum(a.dwMax, b.dwMax, 1e-9, `dwMax (sweep ${sweep})`);
            expectClose(wn.data, wj.data, 1e-9, `W (sweep ${sweep})`);
            expectClose(rn.data, rj.data, 1e-9, `R^T (sweep ${sweep})`);
          }
        });
  });

  describe('mtenetBlockGram and the blocked mtenetSweep', () => {
    /** A random problem in the sweep layout: xt d x n (feature 2 all zero when d > 2), rt = (Y - X W)^T. */
    function problem(rng: Rng, d: number, n: number, T: number): { xt: M; rt: M; w: M; colNormSq: Float64Array } {
      const xt = randMatrix(rng, d, n);
      if (d > 2) xt.data.fill(0, 2 * n, 3 * n);
      const rt = randMatrix(rng, T, n, 3);
      const w = randMatrix(rng, d, T, 0.1);
      const colNormSq = new Float64Array(d);
      for (let j = 0; j < d; j++) for (let i = 0; i < n; i++) colNormSq[j]! += xt.data[j * n + i]! ** 2;
      for (let t = 0; t < T; t++)
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < d; j++) s += xt.data[j * n + i]! * w.data[j * T + t]!;
          rt.data[t * n + i]! -= s;
        }
      return { xt, rt, w, colNormSq };
    }

    const gramCases: [number, number, number][] = [
      [1, 5, 1],
      [7, 9, 3],
      [20, 33, 4],
      [45, 17, 8],
      [64, 40, 16],
      [10, 0, 4],
      [0, 6, 4],
    ];
    for (const [d, n, B] of gramCases)
      it(`block Grams: d=${d}, n=${n}, blockSize=${B}, cyclic and random orders`, () => {
        const rng = new Rng(d * 100 + n + B);
        const xt = randMatrix(rng, d, n);
        const orders = [Int32Array.from({ length: d }, (_, j) => j), rng.permutation(d), Int32Array.from({ length: d + 3 }, () => (d ? rng.int(d) : 0))];
        for (const order of d ? orders : [new Int32Array(0)]) {
          const a = N.mtenetBlockGram(xt, order, B);
          const b = J.mtenetBlockGram(xt, order, B);
          expect(a.length).to.equal(Math.ceil(order.length / B) * B * B);
          expectClose(a, b, TOL64, 'block Grams');
          // Known answer: the lower triangles hold the dot products of the block's rows, the rest is 0.
          for (let blk = 0; blk * B < order.length; blk++)
            for (let p = 0; p < B; p++)
              for (let q = 0; q < B; q++) {
                const v = b[blk * B * B + p * B + q]!;
                const L = Math.min(B, order.length - blk * B);
                if (p < L && q <= p) {
                  let e = 0;
                  for (let i = 0; i < n; i++) e += xt.data[order[blk * B + p]! * n + i]! * xt.data[order[blk * B + q]! * n + i]!;
                  expect(v).to.be.closeTo(e, 1e-12 * Math.max(1, Math.abs(e)));
                } else expect(v).to.equal(0);
              }
        }
      });

    // d not a multiple of the block size, blocks of one, a block larger than d, T = 1.
    const sweepCases: [number, number, number, number][] = [
      [37, 50, 5, 8],
      [64, 40, 20, 16],
      [70, 30, 3, 32],
      [9, 25, 4, 1],
      [12, 60, 2, 64],
      [33, 20, 1, 7],
    ];
    for (const [d, n, T, B] of sweepCases)
      for (const [l1, l2] of [
        [0, 0],
        [3, 0],
        [8, 1],
        [1e6, 0],
      ] as const)
        it(`d=${d}, n=${n}, T=${T}, blockSize=${B}, l1Reg=${l1}, l2Reg=${l2}: native blocked = js blocked = plain, 5 sweeps`, () => {
          const rng = new Rng(d * 7919 + n * 31 + T * 7 + B + l1);
          const { xt, rt, w, colNormSq } = problem(rng, d, n, T);
          const runs = [
            { k: N, blocked: true },
            { k: J, blocked: true },
            { k: N, blocked: false },
            { k: J, blocked: false },
          ].map((r) => ({ ...r, rt: clone(rt), w: clone(w) }));
          for (let sweep = 0; sweep < 5; sweep++) {
            // cyclic, a permutation, an index list with repeats (a feature twice in one block)
            const order =
              sweep % 3 === 0 ? Int32Array.from({ length: d }, (_, j) => j) : sweep % 3 === 1 ? rng.permutation(d) : Int32Array.from({ length: 2 * d }, () => rng.int(d));
            const blockGram = N.mtenetBlockGram(xt, order, B);
            const res = runs.map((r) =>
              r.k.mtenetSweep({ xt, rt: r.rt, w: r.w, colNormSq, l1Reg: l1, l2Reg: l2, order, ...(r.blocked ? { blockGram, blockSize: B } : {}) }),
            );
            for (let i = 1; i < runs.length; i++) {
              const what = `${runs[i]!.k.name} ${runs[i]!.blocked ? 'blocked' : 'plain'} vs native blocked (sweep ${sweep})`;
              closeNum(res[0]!.wMax, res[i]!.wMax, 1e-9, `wMax, ${what}`);
              closeNum(res[0]!.dwMax, res[i]!.dwMax, 1e-9, `dwMax, ${what}`);
              expectClose(runs[0]!.w.data, runs[i]!.w.data, 1e-9, `W, ${what}`);
              expectClose(runs[0]!.rt.data, runs[i]!.rt.data, 1e-9, `R^T, ${what}`);
            }
          }
          // The residual stayed in sync with W: R^T = (Y - X W)^T, Y recovered from the start.
          const r0 = runs[0]!;
          const fresh = clone(rt);
          for (let t = 0; t < T; t++)
            for (let i = 0; i < n; i++) {
              let s = 0;
              for (let j = 0; j < d; j++) s += xt.data[j * n + i]! * (r0.w.data[j * T + t]! - w.data[j * T + t]!);
              fresh.data[t * n + i]! -= s;
            }
          expectClose(r0.rt.data, fresh.data, 1e-9, 'R^T = (Y - X W)^T after blocked sweeps');
        });
  });

  describe('working-set kernels: cdDesign, cdDesignCorrelations, cdCorrelations, cdGatherColumns, cdGramColumns, cdTargets, cdResidual, cdResidualColumns, cdResidualCorrelations, mtenetGramSweep, the inner solves', () => {
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [7, 5, 3],
      [40, 100, 2],
      [300, 70, 5],
      [65, 130, 1],
      [90, 60, 20],
      [600, 40, 3],
      [0, 4, 2],
    ];
    /** Column lists that take every path of the native kernel: all, scattered, runs with gaps (spans), mixed. */
    function columnLists(d: number): Int32Array[] {
      const runs: number[] = [];
      for (let j = 0; j < d; j += j % 20 < 17 ? 1 : 5) runs.push(j); // long runs with gaps under 8
      const mixed = [...runs.filter((j) => j < d / 2), ...Array.from({ length: d }, (_, j) => j).filter((j) => j >= d / 2 && j % 11 === 0)];
      return [
        Int32Array.from({ length: d }, (_, j) => j),
        Int32Array.from({ length: Math.ceil(d / 2) }, (_, c) => (c * 7) % d).reverse(),
        Int32Array.from(runs),
        Int32Array.from(mixed),
      ];
    }
    for (const [n, d, T] of shapes)
      for (const centre of [false, true])
        it(`n=${n}, d=${d}, T=${T}, centre=${centre}: design, correlations (and norms) of all / scattered / run columns, gathered columns, their Gram entries and residual in place`, () => {
          const rng = new Rng(n * 7 + d * 3 + T + (centre ? 1 : 0));
          const x = randMatrix(rng, n, d);
          // Columns far from centred (offset 100): centring must happen before the products; and
          // one column whose mean is 10^7 standard deviations (its correlations need its centred values).
          for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x.data[i * d + j]! += 100 * (j % 3);
          if (d > 2) for (let i = 0; i < n; i++) x.data[i * d + 2] = 0; // an all-zero column
          if (d > 3) for (let i = 0; i < n; i++) x.data[i * d + 3] = 1e7 + 0.5 * (i % 2);
          if (d > 4) for (let i = 0; i < n; i++) x.data[i * d + 4] = 5; // a constant column
          const dn = N.cdDesign(x, centre);
          const dj = J.cdDesign(x, centre);
          expect(dn.finite).to.equal(true);
          expect(dj.finite).to.equal(true);
          expectClose(dn.mean, dj.mean, TOL64, 'mean');
          expectClose(dn.colNormSq, dj.colNormSq, 1e-9, 'colNormSq');
          const rt = randMatrix(rng, T, n);
          // The design with every column's correlations in one pass: the bits of cdDesign and then
          // cdCorrelations over all columns, on both backends (blocks of rows longer than one
          // block of the statistics, a last partial block, the recentred column).
          const all = Int32Array.from({ length: d }, (_, j) => j);
          for (const [K, des] of [[N, dn], [J, dj]] as const) {
            const [o1, n1] = [zerosM(d, T), new Float64Array(d)];
            K.cdCorrelations(des, rt, all, o1, n1);
            const [o2, n2] = [zerosM(d, T), new Float64Array(d).fill(NaN)];
            o2.data.fill(NaN);
            // The design's memory from an allocator that hands out NaN (and more than asked): the
            // column statistics on both backends and the TypeScript kernels' transposed copy, every
            // value written.
            const asked: number[] = [];
            const allocate = (length: number): Float64Array => {
              asked.push(length);
              return new Float64Array(length + 3).fill(NaN);
            };
            const fused = K.cdDesignCorrelations(x, centre, rt, o2, n2, allocate);
            const what = `${K.name} design and correlations in one pass`;
            expect(asked, `${what}: memory asked of the allocator`).to.deep.equal(K === J ? [n * d, 2 * d] : [2 * d]);
            expect(fused.finite, what).to.equal(true);
            expect(fused.centred, what).to.equal(centre);
            expect(Array.from(fused.mean).map(String), `${what}: mean`).to.deep.equal(Array.from(des.mean).map(String));
            expect(Array.from(fused.colNormSq).map(String), `${what}: colNormSq`).to.deep.equal(Array.from(des.colNormSq).map(String));
            expect(Array.from(o2.data).map(String), `${what}: correlations`).to.deep.equal(Array.from(o1.data).map(String));
            expect(Array.from(n2).map(String), `${what}: norms`).to.deep.equal(Array.from(n1).map(String));
          }
          for (const cols of columnLists(d)) {
            const on = zerosM(cols.length, T);
            const oj = zerosM(cols.length, T);
            const nn = new Float64Array(cols.length);
            const nj = new Float64Array(cols.length);
            N.cdCorrelations(dn, rt, cols, on, nn);
            J.cdCorrelations(dj, rt, cols, oj, nj);
            // The native kernel reads X uncentred and subtracts mean_j (1^T R): its rounding is
            // relative to ||X_j|| ||R||, not to the centred value.
            const scale = Math.max(1, ...Array.from(cols, (j) => Math.sqrt(dn.colNormSq[j]!)));
            expectClose(on.data, oj.data, 1e-10 * scale, `correlations of ${cols.length} columns`);
            expectClose(nn, nj, 1e-10 * scale, 'norms of the correlations');
            // Against the definition, in plain loops.
            const ref = zerosM(cols.length, T);
            for (let c = 0; c < cols.length; c++)
              for (let t = 0; t < T; t++) {
                let sum = 0;
                for (let i = 0; i < n; i++) sum += (x.data[i * d + cols[c]!]! - dj.mean[cols[c]!]!) * rt.data[t * n + i]!;
                ref.data[c * T + t] = sum;
              }
            expectClose(on.data, ref.data, 1e-9 * scale, 'correlations against their definition');
            // The constant column's correlations are exactly 0 when centred.
            const at = Array.from(cols).indexOf(4);
            if (centre && at >= 0) for (let t = 0; t < T; t++) expect(on.data[at * T + t]).to.equal(0);
            const gn = zerosM(cols.length, n);
            const gj = zerosM(cols.length, n);
            N.cdGatherColumns(dn, cols, gn);
            J.cdGatherColumns(dj, cols, gj);
            expectClose(gn.data, gj.data, TOL64, 'gathered columns');
            // Gram entries read in place: bit for bit the product of the gathered copies on the
            // native side (the same sums in the same order), within rounding of the TypeScript
            // kernels; rows a run inside cols (a pool's new slots; the whole list, a Gram matrix; a
            // run in the middle), computed strip by strip from the diagonal and mirrored, and rows
            // of their own.
            const mid = cols.subarray(Math.floor(cols.length / 4), Math.floor((3 * cols.length) / 4));
            for (const rows of [cols.subarray(Math.floor(cols.length / 2)), cols, mid, cols.slice(0, 3).reverse()]) {
              const gr = zerosM(rows.length, n);
              N.cdGatherColumns(dn, rows, gr);
              const viaCopies = zerosM(rows.length, cols.length);
              N.gemm(gr, gn, viaCopies, { transB: true });
              const inPlace = zerosM(rows.length, cols.length);
              N.cdGramColumns(dn, rows, cols, inPlace);
              expect(Array.from(inPlace.data).map(String)).to.deep.equal(Array.from(viaCopies.data).map(String));
              const js = zerosM(rows.length, cols.length);
              J.cdGramColumns(dj, rows, cols, js);
              const gramScale = Math.max(1, ...Array.from(cols, (j) => dn.colNormSq[j]!));
              expectClose(js.data, inPlace.data, 1e-12 * gramScale, 'Gram entries in place');
            }
            // The residual of these columns read in place, against cdResidual on the gathered copy.
            const w = randMatrix(rng, cols.length, T);
            const yt = randMatrix(rng, T, n);
            const viaCopy = zerosM(T, n);
            const pc = N.cdResidual(gn, w, yt, viaCopy);
            const inPlace = zerosM(T, n);
            const pi = N.cdResidualColumns(dn, cols, w, yt, inPlace);
            expect(Array.from(inPlace.data).map(String)).to.deep.equal(Array.from(viaCopy.data).map(String));
            expect([pi.rNormSq, pi.ry]).to.deep.equal([pc.rNormSq, pc.ry]);
            const js = zerosM(T, n);
            const pj = J.cdResidualColumns(dj, cols, w, yt, js);
            const rScale = Math.max(1, ...Array.from(cols, (j) => Math.sqrt(dn.colNormSq[j]!))) * Math.max(1, cols.length);
            expectClose(js.data, inPlace.data, 1e-12 * rScale, 'residual in place');
            expectClose([pj.rNormSq, pj.ry], [pi.rNormSq, pi.ry], 1e-10 * rScale * rScale, 'residual parts');
            // The residual of a few columns and the correlations of every listed column with it, in
            // one pass: the bits of the two calls, on both backends.
            const resCols = cols.slice(0, Math.min(cols.length, 6)).reverse();
            const wr = randMatrix(rng, resCols.length, T);
            for (const [K, des] of [[N, dn], [J, dj]] as const) {
              const [r1, o1, n1] = [zerosM(T, n), zerosM(cols.length, T), new Float64Array(cols.length)];
              const p1 = K.cdResidualColumns(des, resCols, wr, yt, r1);
              K.cdCorrelations(des, r1, cols, o1, n1);
              const [r2, o2, n2] = [zerosM(T, n), zerosM(cols.length, T), new Float64Array(cols.length).fill(NaN)];
              r2.data.fill(NaN);
              o2.data.fill(NaN);
              const p2 = K.cdResidualCorrelations(des, resCols, wr, yt, r2, cols, o2, n2);
              const what = `${K.name} residual and correlations in one pass`;
              expect(Array.from(r2.data).map(String), `${what}: residual`).to.deep.equal(Array.from(r1.data).map(String));
              expect(Array.from(o2.data).map(String), `${what}: correlations`).to.deep.equal(Array.from(o1.data).map(String));
              expect(Array.from(n2).map(String), `${what}: norms`).to.deep.equal(Array.from(n1).map(String));
              expect([p2.rNormSq, p2.ry], `${what}: parts`).to.deep.equal([p1.rNormSq, p1.ry]);
            }
          }
          // Without centring, the correlations of every column are one product X^T R^T (summed by
          // blocks of rows, which is how simd's product sums): its bits.
          if (!centre) {
            const all = Int32Array.from({ length: d }, (_, j) => j);
            const out = zerosM(d, T);
            N.cdCorrelations(dn, rt, all, out);
            const product = zerosM(d, T);
            N.gemm(x, rt, product, { transA: true, transB: true });
            expect(Array.from(out.data).map(String)).to.deep.equal(Array.from(product.data).map(String));
          }
        });

    it('cdDesignCorrelations on an X wider than its column chunks and longer than a block of rows: the bits of cdDesign, then cdCorrelations', () => {
      // 530 columns: chunks of 256, 256 and 18 (few tasks); 300 rows: blocks of 256 and 44. With 3
      // and with 17 tasks (whole blocks), centred (one recentred column) and not.
      for (const T of [3, 17]) {
        const [n, d] = [300, 530];
        const rng = new Rng(T);
        const x = randMatrix(rng, n, d);
        for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x.data[i * d + j]! += 100 * (j % 3);
        for (let i = 0; i < n; i++) x.data[i * d + 300] = 1e7 + 0.5 * (i % 2);
        const rt = randMatrix(rng, T, n);
        const all = Int32Array.from({ length: d }, (_, j) => j);
        for (const K of [N, J])
          for (const centre of [false, true]) {
            const des = K.cdDesign(x, centre);
            const [o1, n1] = [zerosM(d, T), new Float64Array(d)];
            K.cdCorrelations(des, rt, all, o1, n1);
            const [o2, n2] = [zerosM(d, T), new Float64Array(d)];
            const fused = K.cdDesignCorrelations(x, centre, rt, o2, n2);
            const what = `${K.name}, T=${T}, centre=${centre}`;
            expect(Array.from(fused.mean).map(String), `${what}: mean`).to.deep.equal(Array.from(des.mean).map(String));
            expect(Array.from(fused.colNormSq).map(String), `${what}: colNormSq`).to.deep.equal(Array.from(des.colNormSq).map(String));
            expect(Array.from(o2.data).map(String), `${what}: correlations`).to.deep.equal(Array.from(o1.data).map(String));
            expect(Array.from(n2).map(String), `${what}: norms`).to.deep.equal(Array.from(n1).map(String));
          }
      }
    });

    it('cdDesign, cdDesignCorrelations and cdTargets report a NaN or an infinity (finite false, yNormSq not finite)', () => {
      for (const bad of [NaN, Infinity, -Infinity])
        for (const centre of [false, true])
          for (const K of [N, J]) {
            const x = randMatrix(new Rng(1), 9, 4);
            x.data[2 * 4 + 1] = bad;
            expect(K.cdDesign(x, centre).finite, `${K.name} ${bad} centre ${centre}`).to.equal(false);
            const fused = K.cdDesignCorrelations(x, centre, randMatrix(new Rng(3), 2, 9), zerosM(4, 2), new Float64Array(4));
            expect(fused.finite, `${K.name} ${bad} centre ${centre}, with the correlations`).to.equal(false);
            const y = randMatrix(new Rng(2), 9, 3);
            y.data[5] = bad;
            expect(Number.isFinite(K.cdTargets(y, centre).yNormSq)).to.equal(false);
          }
    });

    for (const [n, T] of [
      [1, 1],
      [50, 4],
      [0, 2],
      [333, 7],
    ] as const)
      for (const centre of [false, true])
        it(`cdTargets n=${n}, T=${T}, centre=${centre}; cdResidual`, () => {
          const rng = new Rng(n + T);
          const y = randMatrix(rng, n, T);
          for (let i = 0; i < n * T; i++) y.data[i]! += 3 * (i % T);
          const a = N.cdTargets(y, centre);
          const b = J.cdTargets(y, centre);
          expectClose(a.yMean, b.yMean, TOL64, 'yMean');
          expectClose(a.yt.data, b.yt.data, TOL64, 'yt');
          closeNum(a.yNormSq, b.yNormSq, TOL64, 'yNormSq');
          for (let i = 0; i < n; i++)
            for (let t = 0; t < T; t++) closeNum(a.yt.data[t * n + i]!, y.data[i * T + t]! - (centre ? b.yMean[t]! : 0), 1e-12, 'yt against its definition');
          // rt = yt - w^T xs.
          const k = 5;
          const xs = randMatrix(rng, k, n);
          const w = randMatrix(rng, k, T);
          const rn = zerosM(T, n);
          const rj = zerosM(T, n);
          const pn = N.cdResidual(xs, w, a.yt, rn);
          const pj = J.cdResidual(xs, w, a.yt, rj);
          expectClose(rn.data, rj.data, TOL64, 'residual');
          const ref = clone(a.yt);
          J.gemm(w, xs, ref, { transA: true, alpha: -1, beta: 1 });
          expectClose(rj.data, ref.data, TOL64, 'residual against its definition');
          let rr = 0;
          let ry = 0;
          for (let q = 0; q < ref.data.length; q++) {
            rr += ref.data[q]! ** 2;
            ry += ref.data[q]! * a.yt.data[q]!;
          }
          closeNum(pn.rNormSq, rr, 1e-10, 'rNormSq');
          closeNum(pj.ry, ry, 1e-10, 'ry');
          closeNum(pn.ry, pj.ry, 1e-10, 'ry parity');
        });

    for (const [d, T, m] of [
      [1, 1, 1],
      [9, 1, 0],
      [40, 6, 13],
      [300, 43, 120],
    ] as const)
      it(`cdCoefficients d=${d}, T=${T}, support ${m}: the same bits on both backends, and its definition`, () => {
        const rng = new Rng(d + 7 * T + m);
        // A support in increasing order, as the solver gives it (every 3rd feature, wrapped).
        const cols = Int32Array.from({ length: m }, (_, c) => Math.min(d - 1, (3 * c) % d));
        const support = Int32Array.from(new Set(cols)).sort();
        const w = randMatrix(rng, support.length, T);
        const mean = Float64Array.from({ length: d }, () => rng.normal());
        const yMean = Float64Array.from({ length: T }, () => 10 * rng.normal());
        const out = (K: Kernels) => {
          const coef = zerosM(T, d);
          const intercept = new Float64Array(T).fill(NaN);
          K.cdCoefficients(support, w, mean, yMean, coef, intercept);
          return { coef, intercept };
        };
        const a = out(N);
        const b = out(J);
        // Plain products and differences in the order of cols (no fused multiply-add): bit-identical.
        expect(Array.from(a.coef.data)).to.deep.equal(Array.from(b.coef.data));
        expect(Array.from(a.intercept)).to.deep.equal(Array.from(b.intercept));
        for (let t = 0; t < T; t++) {
          let icpt = yMean[t]!;
          for (let j = 0; j < d; j++) {
            const c = support.indexOf(j);
            expect(a.coef.data[t * d + j]).to.equal(c < 0 ? 0 : w.data[c * T + t]);
            if (c >= 0) icpt -= mean[j]! * w.data[c * T + t]!;
          }
          expect(a.intercept[t]).to.equal(icpt);
        }
        // Entries off the support are left as they were.
        const marked = zerosM(T, d);
        marked.data.fill(5);
        N.cdCoefficients(support, w, mean, yMean, marked, new Float64Array(T));
        for (let j = 0; j < d; j++) if (!support.includes(j)) for (let t = 0; t < T; t++) expect(marked.data[t * d + j]).to.equal(5);
      });

    // The residual form's cyclic sweeps run by blocks once T n >= 4096: of 32 features from 20 tasks
    // (70 x 180 x 24: two whole blocks and a partial one; 33 x 210 x 20: a block of one), else of 4
    // by fused passes (30 x 700 x 6 and 9 x 1100 x 4, ending on blocks of 2 and 1).
    for (const [k, n, T] of [
      [1, 5, 1],
      [8, 30, 3],
      [40, 25, 6],
      [30, 200, 2],
      [70, 180, 24],
      [33, 210, 20],
      [30, 700, 6],
      [9, 1100, 4],
    ] as const)
      for (const [l1, l2] of [
        [0.5, 0],
        [2, 0.3],
        [1e6, 0],
      ] as const)
        for (const random of [false, true])
          it(`inner solves k=${k}, n=${n}, T=${T}, l1Reg=${l1}, l2Reg=${l2}${random ? ', random orders' : ''}: both kernel sets, both forms, same point; gap below tol`, () => {
            const rng = new Rng(k * 1000 + n * 10 + T + l1 + (random ? 7 : 0));
            const xs = randMatrix(rng, k, n);
            if (k > 2) xs.data.fill(0, n, 2 * n); // feature 1 all zero
            const yt = randMatrix(rng, T, n, 2);
            const gram = zerosM(k, k);
            J.gemm(xs, xs, gram, { transB: true });
            const w0 = randMatrix(rng, k, T, 0.05);
            const tol = 1e-9 * J.cdResidual(xs, zerosM(k, T), yt, zerosM(T, n)).rNormSq;
            // Random orders (with replacement) converge more slowly on the ill-conditioned k > n cases.
            const maxSweeps = random ? 3000 : 400;
            const orders = random ? Int32Array.from({ length: maxSweeps * k }, () => rng.int(k)) : undefined;
            const settings = { l1Reg: l1, l2Reg: l2, tol, maxSweeps, ...(orders ? { orders } : {}) };
            const results = [N, J].flatMap((K) => {
              // Gram form from w0: ht = (X^T R0)^T.
              const rt0 = zerosM(T, n);
              const p0 = K.cdResidual(xs, w0, yt, rt0);
              const h0 = zerosM(k, T);
              J.gemm(xs, rt0, h0, { transB: true });
              const ht = zerosM(T, k);
              for (let j = 0; j < k; j++) for (let t = 0; t < T; t++) ht.data[t * k + j] = h0.data[j * T + t]!;
              const wg = clone(w0);
              const g = K.mtenetGramSolve({ gram, ht, w: wg, r0NormSq: p0.rNormSq, r0y: p0.ry, ...settings });
              const wr = clone(w0);
              const rt = clone(rt0);
              const h = zerosM(k, T);
              const r = K.mtenetResidualSolve({ xs, yt, rt, w: wr, h, ...settings });
              // The returned parts describe the returned point: rebuild them from scratch.
              for (const [res, w, label] of [[g, wg, 'gram'], [r, wr, 'residual']] as const) {
                const fresh = zerosM(T, n);
                const parts = J.cdResidual(xs, w, yt, fresh);
                closeNum(res.rNormSq, parts.rNormSq, 1e-9, `${K.name} ${label}: rNormSq`);
                closeNum(res.ry, parts.ry, 1e-9, `${K.name} ${label}: ry`);
                const moved = zerosM(T, n);
                for (let q = 0; q < fresh.data.length; q++) moved.data[q] = fresh.data[q]! - rt0.data[q]!;
                closeNum(res.residualChange, Math.sqrt(moved.data.reduce((a2, v) => a2 + v * v, 0)), 1e-7, `${K.name} ${label}: residualChange`);
                expect(res.converged, `${K.name} ${label}: converged (gap ${res.gap}, tol ${tol})`).to.equal(true);
                expect(res.gap).to.be.at.most(tol);
              }
              // X^T R returned by each form is that of its point.
              const fresh = zerosM(T, n);
              J.cdResidual(xs, wr, yt, fresh);
              const hRef = zerosM(k, T);
              J.gemm(xs, fresh, hRef, { transB: true });
              expectClose(h.data, hRef.data, 1e-9, `${K.name}: X^T R of the residual form`);
              J.cdResidual(xs, wg, yt, fresh);
              J.gemm(xs, fresh, hRef, { transB: true });
              const hFromHt = zerosM(k, T);
              for (let j = 0; j < k; j++) for (let t = 0; t < T; t++) hFromHt.data[j * T + t] = ht.data[t * k + j]!;
              expectClose(hFromHt.data, hRef.data, 1e-9, `${K.name}: X^T R of the Gram form`);
              return [{ g, wg, r, wr }];
            });
            const [a, b] = results as [(typeof results)[0], (typeof results)[0]];
            // Same arithmetic on both kernel sets (to rounding): the same point where the optimum is
            // unique (k <= n or a ridge term), else the same objective.
            const objective = (res: { rNormSq: number; l21: number; wNormSq: number }): number => 0.5 * res.rNormSq + l1 * res.l21 + 0.5 * l2 * res.wNormSq;
            if (k <= n || l2 > 0) {
              expectClose(a.wg.data, b.wg.data, 1e-7, 'W, Gram form');
              expectClose(a.wr.data, b.wr.data, 1e-7, 'W, residual form');
            }
            expect(Math.abs(objective(a.g) - objective(b.g))).to.be.at.most(a.g.gap + b.g.gap + 1e-12 * objective(b.g));
            // Both forms reach the optimum: objectives within the sum of their gaps.
            expect(Math.abs(objective(a.g) - objective(a.r))).to.be.at.most(a.g.gap + a.r.gap + 1e-12 * objective(a.r));
          });

    // From k = 96 the native sweep defers its updates of H^T in blocks (the blocked path): 130 x 4
    // and 100 x 9 take it, with a task whose targets are zero there (rows change in the other tasks
    // only, so the blocks hold zero coefficients).
    for (const [k, T] of [
      [1, 1],
      [6, 3],
      [40, 7],
      [25, 1],
      [130, 4],
      [100, 9],
    ] as const)
      for (const [l1, l2] of [
        [0, 0],
        [0.5, 0.3],
        [3, 0],
        [1e6, 0],
      ] as const)
        it(`mtenetGramSweep k=${k}, T=${T}, l1Reg=${l1}, l2Reg=${l2}: 4 sweeps, and the same iterates as mtenetSweep`, () => {
          const rng = new Rng(k * 100 + T * 10 + l1);
          const n = 2 * k + 3;
          const xt = randMatrix(rng, k, n);
          if (k > 2) xt.data.fill(0, n, 2 * n); // feature 1 all zero: skipped by both forms
          const gram = zerosM(k, k);
          J.gemm(xt, xt, gram, { transB: true });
          const w = randMatrix(rng, k, T, 0.1);
          const rt = randMatrix(rng, T, n, 3);
          if (k >= 96) {
            rt.data.fill(0, 0, n);
            for (let j = 0; j < k; j++) w.data[j * T] = 0;
          }
          // rt = (Y - X W)^T for a random Y, and ht = (X^T R)^T.
          J.gemm(w, xt, rt, { transA: true, alpha: -1, beta: 1 });
          const h = zerosM(k, T);
          J.gemm(xt, rt, h, { transB: true });
          const ht = zerosM(T, k);
          for (let j = 0; j < k; j++) for (let t = 0; t < T; t++) ht.data[t * k + j] = h.data[j * T + t]!;
          const colNormSq = Float64Array.from({ length: k }, (_, j) => gram.data[j * k + j]!);
          const runs = [N, J].map((K) => ({ K, ht: clone(ht), w: clone(w) }));
          const plain = { rt: clone(rt), w: clone(w) };
          for (let sweep = 0; sweep < 4; sweep++) {
            const order = sweep % 2 === 0 ? rng.permutation(k) : Int32Array.from({ length: 2 * k }, () => rng.int(k));
            const stats = runs.map((r) => r.K.mtenetGramSweep({ gram, ht: r.ht, w: r.w, l1Reg: l1, l2Reg: l2, order }));
            const ref = J.mtenetSweep({ xt, rt: plain.rt, w: plain.w, colNormSq, l1Reg: l1, l2Reg: l2, order });
            closeNum(stats[0]!.dwMax, stats[1]!.dwMax, 1e-9, `dwMax (sweep ${sweep})`);
            closeNum(stats[0]!.wMax, ref.wMax, 1e-8, `wMax against the residual sweep (sweep ${sweep})`);
            expectClose(runs[0]!.w.data, runs[1]!.w.data, 1e-9, `W (sweep ${sweep})`);
            expectClose(runs[0]!.ht.data, runs[1]!.ht.data, 1e-9, `H^T (sweep ${sweep})`);
            expectClose(runs[1]!.w.data, plain.w.data, 1e-8, `W against the residual sweep (sweep ${sweep})`);
          }
        });
  });

  describe('working-set screening passes: cdDualNorms, cdScreen, cdStaleFeatures, cdWorkingSet', () => {
    /** A solver state of d features: zero columns, never / earlier / freshly computed rows, a support. */
    function featureState(rng: Rng, d: number, T: number): CdFeatureState {
      const colNormSq = Float64Array.from({ length: d }, () => (rng.uniform() < 0.1 ? 0 : 0.5 + rng.uniform() * 3));
      const corr = randMatrix(rng, d, T, 2);
      const corrNorm = new Float64Array(d);
      for (let j = 0; j < d; j++) {
        let q = 0;
        for (let t = 0; t < T; t++) q += corr.data[j * T + t]! ** 2;
        corrNorm[j] = Math.sqrt(q);
      }
      const version = 4;
      const corrVersion = Int32Array.from({ length: d }, () => [-1, 1, 3, version, version, version][rng.int(6)]!);
      const drift = 2.5;
      const corrDrift = Float64Array.from(corrVersion, (v) => (v < 0 ? 0 : v === version ? drift : (drift * v) / version));
      const nonZero = Uint8Array.from({ length: d }, (_, j) => (colNormSq[j]! > 0 && rng.uniform() < 0.3 ? 1 : 0));
      const w = zerosM(d, T);
      for (let j = 0; j < d; j++) if (nonZero[j]) for (let t = 0; t < T; t++) w.data[j * T + t] = rng.normal();
      return { colNormSq, corr, corrNorm, corrVersion, corrDrift, nonZero, w, version, drift };
    }

    /** The definition of xi (types.ts cdDualNorms), written out; NaN where left untouched. */
    function xiByDefinition(s: CdFeatureState, l2Reg: number): Float64Array {
      const T = s.w.cols;
      return Float64Array.from(s.colNormSq, (c, j) => {
        if (!(c > 0)) return NaN;
        if (s.corrVersion[j] === s.version) {
          let q = 0;
          for (let t = 0; t < T; t++) q += (s.corr.data[j * T + t]! - l2Reg * s.w.data[j * T + t]!) ** 2;
          return Math.sqrt(q);
        }
        if (s.nonZero[j] || s.corrVersion[j]! < 0) return Infinity;
        return s.corrNorm[j]! + Math.sqrt(c) * (s.drift - s.corrDrift[j]!);
      });
    }

    for (const d of [0, 1, 7, 64, 600])
      for (const T of [1, 3])
        for (const l2Reg of [0, 0.3])
          it(`d=${d}, T=${T}, l2Reg=${l2Reg}: the same bits on both backends, and the definitions`, () => {
            const rng = new Rng(d * 10 + T + l2Reg * 7);
            const s = featureState(rng, d, T);
            const l1Reg = 1.5;
            // cdDualNorms: xi where the column is non-zero (others untouched), and the scale.
            const xis = [N, J].map((K) => {
              const xi = new Float64Array(d).fill(NaN);
              return { xi, scale: K.cdDualNorms(s, l1Reg, l2Reg, xi) };
            });
            expect(Array.from(xis[0]!.xi)).to.deep.equal(Array.from(xis[1]!.xi));
            expect(xis[0]!.scale).to.equal(xis[1]!.scale);
            const ref = xiByDefinition(s, l2Reg);
            for (let j = 0; j < d; j++) {
              if (Number.isNaN(ref[j]!)) expect(xis[1]!.xi[j], `xi[${j}] of a zero column`).to.be.NaN;
              else expect(Math.abs(xis[1]!.xi[j]! - ref[j]!) <= 1e-12 * Math.max(1, Math.abs(ref[j]!)) || xis[1]!.xi[j] === ref[j], `xi[${j}]`).to.equal(true);
            }
            const finite = Array.from(ref).filter((v) => !Number.isNaN(v));
            expect(xis[1]!.scale).to.equal(Math.max(l1Reg, ...finite));

            // Finite bounds for the passes below (a state after step 4 of the solver).
            const xi = Float64Array.from(ref, (v) => (Number.isFinite(v) ? v : 0.5 + 2 * rng.uniform()));
            const scale = Math.max(l1Reg, ...xi);
            // cdScreen: the sphere test of dualGap.ts on the active zero rows.
            const active0 = Uint8Array.from(s.colNormSq, (c) => (c > 0 && rng.uniform() < 0.8 ? 1 : 0));
            const radius = 0.05;
            const threshold = 1 - SCREEN_MARGIN;
            const screened = [N, J].map((K) => {
              const active = active0.slice();
              return { active, removed: K.cdScreen({ active, nonZero: s.nonZero, xi, colNormSq: s.colNormSq, scale, radius, l2Reg, threshold }) };
            });
            const expected = Uint8Array.from(active0, (a, j) => (a && !s.nonZero[j] && provenZero(xi[j]!, scale, radius, s.colNormSq[j]!, l2Reg) ? 0 : a));
            for (const r of screened) {
              expect(Array.from(r.active)).to.deep.equal(Array.from(expected));
              expect(r.removed).to.equal(active0.reduce((a, v) => a + v, 0) - expected.reduce((a, v) => a + v, 0));
            }
            // cdStaleFeatures, with a limit and with -Infinity (every stale eligible feature); a NaN
            // bound counts as above any limit.
            const nanAt = Array.from(s.corrVersion).findIndex((v, j) => v !== s.version && expected[j] === 1);
            const xiKept = nanAt >= 0 ? xi[nanAt]! : 0;
            if (nanAt >= 0) xi[nanAt] = NaN;
            for (const limit of [l1Reg, -Infinity]) {
              const want = Array.from({ length: d }, (_, j) => j).filter((j) => expected[j] && s.corrVersion[j] !== s.version && !(xi[j]! <= limit));
              for (const K of [N, J]) {
                const out = new Int32Array(d).fill(-7);
                const m = K.cdStaleFeatures(s.corrVersion, s.version, expected, xi, limit, out);
                expect(Array.from(out.subarray(0, m)), `stale features above ${limit}`).to.deep.equal(want);
                if (nanAt >= 0) expect(want).to.include(nanAt);
              }
            }
            if (nanAt >= 0) xi[nanAt] = xiKept;
            // cdWorkingSet: against a sort by (xi descending, index); xi tied in groups of three.
            for (let j = 0; j + 2 < d; j += 9) xi[j + 1] = xi[j + 2] = xi[j]!;
            // The last three runs see every xi tied (the first picks by index only).
            const flat = xi.map(() => 0.7);
            // With a violation level: the support plus twice its violators (zero rows at or above
            // the level), at least a quarter of the support, where that is less than doubling; from
            // an empty support (the runs marked so), when minSize leaves active features out,
            // twice the violators where that is less than minSize, at least 10; after a full set
            // (a limit given), the support plus twice its violators within [2 nnz, limit].
            const xiSorted = Array.from(xi).sort((a, b) => a - b);
            const level = (q: number) => xiSorted[Math.floor(q * (d - 1))]!;
            const noSupport = new Uint8Array(d);
            // The support's size among the active features (at least 1: a limit is a positive integer).
            const nnz0 = Math.max(1, Array.from(active0).filter((a, j) => a && s.nonZero[j]).length);
            const runs: [number, number, number | undefined, boolean?, number?][] = [
              [Infinity, 5, undefined], [Infinity, 50, undefined], [1.9, 3, undefined], [-Infinity, 0, undefined], [Infinity, 0, undefined],
              [Infinity, 0, level(0.97)], [Infinity, 0, level(0.5)], [Infinity, 0, Infinity], [Infinity, 0, -Infinity], [1.9, 3, level(0.9)],
              [Infinity, 50, level(0.97), true], [Infinity, 50, level(0.5), true], [Infinity, 50, Infinity, true], [1.9, 50, level(0.9), true],
              [Infinity, 50, undefined, true], [Infinity, d, level(0.97), true], [Infinity, 4, level(0.97), true],
              [Infinity, 0, level(0.97), false, 4 * nnz0], [Infinity, 0, level(0.5), false, 4 * nnz0], [Infinity, 0, -Infinity, false, 3 * nnz0 + 1],
              [Infinity, 0, undefined, false, 3 * nnz0 + 1], [Infinity, 3 * d, level(0.97), false, 4 * nnz0], [1.9, 0, level(0.9), false, 1],
              [Infinity, 7, undefined], [Infinity, 60, undefined], [Infinity, 0, 0.7, false, 2 * nnz0 + 5],
            ];
            runs.forEach(([strong, minSize, violation, empty, fullSetLimit], r) => {
              if (r === runs.length - 3) xi.set(flat);
              const act = active0;
              const nonZero = empty ? noSupport : s.nonZero;
              const cand = Array.from({ length: d }, (_, j) => j).filter((j) => act[j]);
              const base = cand.filter((j) => nonZero[j] || xi[j]! >= strong);
              const nnz = cand.filter((j) => nonZero[j]).length;
              const violators = cand.filter((j) => !nonZero[j] && violation !== undefined && xi[j]! >= violation).length;
              const growth = violation === undefined ? 2 * nnz : Math.min(2 * nnz, nnz + Math.max(2 * violators, Math.ceil(nnz / 4)));
              const first = violation !== undefined && nnz === 0 && minSize < cand.length;
              const afterFull = fullSetLimit === undefined ? 0 : violation === undefined ? fullSetLimit : Math.min(fullSetLimit, Math.max(2 * nnz, nnz + 2 * violators));
              const target = first ? Math.min(minSize, Math.max(2 * violators, 10)) : Math.max(minSize, fullSetLimit === undefined ? growth : afterFull);
              const size = Math.min(cand.length, Math.max(target, base.length));
              const rest = cand.filter((j) => !base.includes(j)).sort((a, b) => xi[b]! - xi[a]! || a - b);
              const want = [...base, ...rest.slice(0, size - base.length)].sort((a, b) => a - b);
              if (d >= 64 && violation === level(0.97) && !empty) expect(growth, 'few violators: less than doubling').to.be.below(2 * nnz);
              if (d >= 301 && empty && minSize === 50 && violation === level(0.97)) expect(size, 'few violators from an empty support: less than minSize').to.be.below(50);
              if (d >= 301 && fullSetLimit === 4 * nnz0 && violation === level(0.97) && minSize === 0) expect(size, 'after a full set, few violators: less than the limit').to.be.below(4 * nnz);
              for (const K of [N, J]) {
                const out = new Int32Array(d).fill(-7);
                if (r === 0) expect(() => K.cdWorkingSet({ active: act, nonZero, xi, strong, minSize, violation: NaN, out }), 'a NaN violation level: an argument error, as every kernel argument error').to.throw(ShapeError, /violation/);
                if (r === 0) {
                  for (const bad of [0, 2.5, -1, NaN]) {
                    expect(() => K.cdWorkingSet({ active: act, nonZero, xi, strong, minSize, fullSetLimit: bad, out }), `fullSetLimit ${bad}`).to.throw(ShapeError, /fullSetLimit/);
                  }
                }
                const m = K.cdWorkingSet({ active: act, nonZero, xi, strong, minSize, ...(violation === undefined ? {} : { violation }), ...(fullSetLimit === undefined ? {} : { fullSetLimit }), out });
                expect(Array.from(out.subarray(0, m)), `working set, strong ${strong}, minSize ${minSize}, violation ${violation}${empty ? ', empty support' : ''}, limit ${fullSetLimit}`).to.deep.equal(want);
              }
            });
          });
  });

  describe('feature lists: cdFlaggedFeatures, cdFlagPositive', () => {
    it('lists the flagged features not excepted, ascending, on both backends, writing no more than out holds', () => {
      const rng = new Rng(41);
      for (const d of [0, 1, 7, 64, 301]) {
        // Flags of any non-zero value count (a Uint8Array filled by another kernel holds 0 or 1,
        // a user's may hold anything).
        const flags = Uint8Array.from({ length: d }, () => (rng.uniform() < 0.4 ? 1 + rng.int(255) : 0));
        const except = Uint8Array.from({ length: d }, () => (rng.uniform() < 0.3 ? 1 : 0));
        const all = Array.from({ length: d }, (_, j) => j);
        for (const ex of [undefined, except]) {
          const want = all.filter((j) => flags[j] !== 0 && !(ex && ex[j]));
          for (const K of [N, J]) {
            const out = new Int32Array(d + 2).fill(-7);
            const m = K.cdFlaggedFeatures(flags, out, ex);
            expect(m, `d ${d}`).to.equal(want.length);
            expect(Array.from(out.subarray(0, m))).to.deep.equal(want);
            expect(Array.from(out.subarray(m))).to.deep.equal(new Array(d + 2 - m).fill(-7));
            // A short out receives the first of them and the count is still the whole number.
            const short = new Int32Array(Math.floor(want.length / 2) + 1).fill(-7);
            expect(K.cdFlaggedFeatures(flags, short, ex)).to.equal(want.length);
            expect(Array.from(short.subarray(0, Math.min(short.length, want.length)))).to.deep.equal(want.slice(0, short.length));
            expect(K.cdFlaggedFeatures(flags, new Int32Array(0), ex)).to.equal(want.length);
          }
        }
      }
      for (const K of [N, J]) {
        expect(() => K.cdFlaggedFeatures(new Uint8Array(5), new Int32Array(5), new Uint8Array(4))).to.throw(ShapeError, /except/);
      }
    });

    it('flags the positive values (zero, negative, NaN and -0 are not), on both backends', () => {
      const values = Float64Array.from([0, 1e-300, -1, NaN, Infinity, -0, 3, -Infinity, 5e-324]);
      const want = [0, 1, 0, 0, 1, 0, 1, 0, 1];
      for (const K of [N, J]) {
        // Stale flags are overwritten, ones and zeros alike.
        const flags = Uint8Array.from(want, (w) => 1 - w);
        expect(K.cdFlagPositive(values, flags)).to.equal(4);
        expect(Array.from(flags)).to.deep.equal(want);
        expect(() => K.cdFlagPositive(values, new Uint8Array(8))).to.throw(ShapeError, /flags/);
      }
    });
  });

  describe('cdSetRows, cdSetCorrelations: a working set written into the solver state', () => {
    /** The squared norm of row c of a (k x T), summed over t in order. */
    const rowSq = (a: Float64Array, c: number, T: number): number => {
      let q = 0;
      for (let t = 0; t < T; t++) q += a[c * T + t]! * a[c * T + t]!;
      return q;
    };

    for (const [d, T, k] of [[0, 2, 0], [1, 1, 1], [40, 3, 17], [300, 5, 120]] as const)
      it(`d=${d}, T=${T}, ${k} rows: the same bits on both backends, and the definitions`, () => {
        const rng = new Rng(d + 31 * T + k);
        // k distinct features in a shuffled order, some of whose new rows are zero.
        const perm = Array.from({ length: d }, (_, j) => j).sort(() => rng.uniform() - 0.5);
        const rows = Int32Array.from(perm.slice(0, k));
        const values = randMatrix(rng, k, T, 1);
        for (let c = 0; c < k; c += 4) values.data.fill(0, c * T, (c + 1) * T);
        const nonZero0 = Uint8Array.from({ length: d }, () => (rng.uniform() < 0.5 ? 1 : 0));
        const w0 = randMatrix(rng, d, T, 1);
        const outs = [N, J].map((K) => {
          const w = { rows: d, cols: T, data: w0.data.slice() };
          const nonZero = nonZero0.slice();
          return { w, nonZero, r: K.cdSetRows(w, nonZero, rows, values) };
        });
        expect(outs[0]!.r).to.deep.equal(outs[1]!.r);
        expect(Array.from(outs[0]!.w.data)).to.deep.equal(Array.from(outs[1]!.w.data));
        expect(Array.from(outs[0]!.nonZero)).to.deep.equal(Array.from(outs[1]!.nonZero));
        // The definition: listed rows replaced and flagged by their norms, every other row unchanged.
        const { w, nonZero, r } = outs[1]!;
        let change = 0;
        let l21 = 0;
        let normSq = 0;
        const listed = new Set(rows);
        for (let c = 0; c < k; c++) {
          const j = rows[c]!;
          const q = rowSq(values.data, c, T);
          expect(Array.from(w.data.subarray(j * T, (j + 1) * T))).to.deep.equal(Array.from(values.data.subarray(c * T, (c + 1) * T)));
          expect(nonZero[j]).to.equal(q > 0 ? 1 : 0);
          change += (q > 0 ? 1 : 0) - nonZero0[j]!;
          if (q > 0) {
            l21 += Math.sqrt(q);
            normSq += q;
          }
        }
        for (let j = 0; j < d; j++) {
          if (listed.has(j)) continue;
          expect(nonZero[j]).to.equal(nonZero0[j]);
          expect(Array.from(w.data.subarray(j * T, (j + 1) * T))).to.deep.equal(Array.from(w0.data.subarray(j * T, (j + 1) * T)));
        }
        expect(r).to.deep.equal({ supportChange: change, l21, normSq });

        // cdSetCorrelations, with the norms computed and with norms given.
        for (const given of [false, true]) {
          const norms = Float64Array.from({ length: k }, () => rng.uniform());
          const states = [N, J].map((K) => {
            const st: CdFeatureState = {
              colNormSq: new Float64Array(d).fill(1), corr: { rows: d, cols: T, data: w0.data.slice() }, corrNorm: new Float64Array(d).fill(-1),
              corrVersion: new Int32Array(d).fill(2), corrDrift: new Float64Array(d).fill(0.25), nonZero: new Uint8Array(d),
              w: zerosM(d, T), version: 7, drift: 1.75,
            };
            K.cdSetCorrelations(st, rows, values, given ? norms : undefined);
            return st;
          });
          for (const key of ['corrNorm', 'corrVersion', 'corrDrift'] as const) {
            expect(Array.from(states[0]![key]), key).to.deep.equal(Array.from(states[1]![key]));
          }
          expect(Array.from(states[0]!.corr.data)).to.deep.equal(Array.from(states[1]!.corr.data));
          const st = states[1]!;
          for (let j = 0; j < d; j++) {
            const c = rows.indexOf(j);
            const row = Array.from(st.corr.data.subarray(j * T, (j + 1) * T));
            if (c < 0) {
              expect([st.corrNorm[j], st.corrVersion[j], st.corrDrift[j]]).to.deep.equal([-1, 2, 0.25]);
              expect(row).to.deep.equal(Array.from(w0.data.subarray(j * T, (j + 1) * T)));
            } else {
              expect([st.corrNorm[j], st.corrVersion[j], st.corrDrift[j]]).to.deep.equal([given ? norms[c] : Math.sqrt(rowSq(values.data, c, T)), 7, 1.75]);
              expect(row).to.deep.equal(Array.from(values.data.subarray(c * T, (c + 1) * T)));
            }
          }
        }
      });

    it('refuse out-of-range rows, values of the wrong shape and norms of the wrong length on both backends', () => {
      const [d, T] = [5, 2];
      const state = (): CdFeatureState => ({
        colNormSq: new Float64Array(d), corr: zerosM(d, T), corrNorm: new Float64Array(d), corrVersion: new Int32Array(d),
        corrDrift: new Float64Array(d), nonZero: new Uint8Array(d), w: zerosM(d, T), version: 0, drift: 0,
      });
      for (const K of [N, J]) {
        expect(() => K.cdSetRows(zerosM(d, T), new Uint8Array(d), Int32Array.from([1, 5]), zerosM(2, T)), K.name).to.throw(ShapeError, /rows.*5.*\[0, 5\)/);
        expect(() => K.cdSetRows(zerosM(d, T), new Uint8Array(d), Int32Array.from([-1]), zerosM(1, T)), K.name).to.throw(ShapeError);
        expect(() => K.cdSetRows(zerosM(d, T), new Uint8Array(d), Int32Array.from([1]), zerosM(2, T)), K.name).to.throw(ShapeError);
        expect(() => K.cdSetCorrelations(state(), Int32Array.from([0, 7]), zerosM(2, T)), K.name).to.throw(ShapeError, /cols.*7.*\[0, 5\)/);
        expect(() => K.cdSetCorrelations(state(), Int32Array.from([0]), zerosM(1, T + 1)), K.name).to.throw(ShapeError);
        expect(() => K.cdSetCorrelations(state(), Int32Array.from([0, 1]), zerosM(2, T), new Float64Array(3)), K.name).to.throw(ShapeError);
        expect(() => K.cdSetRows(zerosM(d, T), new Uint8Array(d - 1), Int32Array.from([1]), zerosM(1, T)), K.name).to.throw(ShapeError, /nonZero/);
        expect(() => K.cdSetCorrelations({ ...state(), corrVersion: new Int32Array(d + 1) }, Int32Array.from([0]), zerosM(1, T)), K.name).to.throw(ShapeError, /corrVersion/);
      }
    });
  });

  describe('cdGramCorrelations: correlations from the Gram matrix', () => {
    /** a and b hold the same bits (-0 and NaN payloads included), with the first difference named. */
    function expectSameBits(a: Float64Array, b: Float64Array, what: string): void {
      expect(a.length, `${what}: length`).to.equal(b.length);
      const ua = new BigUint64Array(a.buffer, a.byteOffset, a.length);
      const ub = new BigUint64Array(b.buffer, b.byteOffset, b.length);
      const at = ua.findIndex((v, i) => v !== ub[i]);
      expect(at, `${what}: first difference at ${at} (${a[at]} vs ${b[at]})`).to.equal(-1);
    }

    /** |a_i - b_i| <= bound for every i. */
    function expectWithin(a: Float64Array, b: Float64Array, bound: number, what: string): void {
      expect(a.length, `${what}: length`).to.equal(b.length);
      const at = a.findIndex((v, i) => !(Math.abs(v - b[i]!) <= bound));
      expect(at, `${what}: ${a[at]} vs ${b[at]} at ${at}, allowed ${bound}`).to.equal(-1);
    }

    // [n, d, T]: T = 1 (the native kernel's one-task path), d > n (a singular Gram matrix), T = 0, d = 0.
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [9, 5, 1],
      [30, 12, 3],
      [200, 60, 4],
      [40, 80, 20],
      [120, 33, 1],
      [6, 4, 0],
      [5, 0, 2],
    ];
    for (const [n, d, T] of shapes)
      it(`n=${n}, d=${d}, T=${T}: the same bits on both backends for every support and column list, norms absent and present; X^T (Y - X W) within 1e-12`, () => {
        const rng = new Rng(n * 31 + d * 7 + T);
        const x = randMatrix(rng, n, d);
        // Columns far from centred: gram and xty have large entries whose differences cancel.
        for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x.data[i * d + j]! += 3 * (j % 4);
        const y = randMatrix(rng, n, T, 2);
        const gram = zerosM(d, d);
        J.gemm(x, x, gram, { transA: true });
        const xty = zerosM(d, T);
        J.gemm(x, y, xty, { transA: true });
        const all = Int32Array.from({ length: d }, (_, j) => j);
        const perm = rng.permutation(d);
        const supports = [
          new Int32Array(0),
          all.filter((j) => j % 3 === 1),
          perm.slice(0, Math.ceil(d / 2)), // unsorted
          all.slice().reverse(),
        ];
        const colLists = [
          all,
          new Int32Array(0),
          Int32Array.from({ length: Math.ceil(d / 2) }, (_, c) => (c * 7) % d).reverse(),
          // Repeated and unsorted.
          d > 0 ? Int32Array.from([d - 1, 0, d - 1, Math.floor(d / 2), 0, d - 1]) : new Int32Array(0),
        ];
        for (const support of supports) {
          // W non-zero on the support only; rows off the support hold NaN, which the kernel must not read.
          const w = zerosM(d, T);
          w.data.fill(NaN);
          const wDef = zerosM(d, T);
          for (const j of support)
            for (let t = 0; t < T; t++) w.data[j * T + t] = wDef.data[j * T + t] = 0.5 * rng.normal();
          // The definition, written out: R = Y - X W, then X^T R, in plain loops; and a bound on the
          // terms of each entry (Cauchy-Schwarz on xty and on each gram product) to scale the tolerance.
          const r = zerosM(n, T);
          for (let i = 0; i < n; i++)
            for (let t = 0; t < T; t++) {
              let s = y.data[i * T + t]!;
              for (let j = 0; j < d; j++) s -= x.data[i * d + j]! * wDef.data[j * T + t]!;
              r.data[i * T + t] = s;
            }
          const colNorm = Float64Array.from({ length: d }, (_, j) => Math.sqrt(gram.data[j * d + j]!));
          const yNorm = Float64Array.from({ length: T }, (_, t) => Math.sqrt(Array.from({ length: n }, (_, i) => y.data[i * T + t]! ** 2).reduce((a, v) => a + v, 0)));
          for (const cols of colLists) {
            const m = cols.length;
            const ref = new Float64Array(m * T);
            let scale = 0;
            for (let c = 0; c < m; c++) {
              const j = cols[c]!;
              for (let t = 0; t < T; t++) {
                let s = 0;
                for (let i = 0; i < n; i++) s += x.data[i * d + j]! * r.data[i * T + t]!;
                ref[c * T + t] = s;
                let terms = yNorm[t]!;
                for (const k of support) terms += colNorm[k]! * Math.abs(wDef.data[k * T + t]!);
                scale = Math.max(scale, colNorm[j]! * terms);
              }
            }
            const refNorms = Float64Array.from({ length: m }, (_, c) => Math.hypot(...ref.subarray(c * T, (c + 1) * T)));
            const runs = [N, J].map((K) => {
              const out = zerosM(m, T);
              out.data.fill(NaN);
              const norms = new Float64Array(m).fill(NaN);
              K.cdGramCorrelations(gram, xty, w, support, cols, out, norms);
              const bare = zerosM(m, T);
              bare.data.fill(NaN);
              K.cdGramCorrelations(gram, xty, w, support, cols, bare);
              const what = `${K.name}, support of ${support.length}, ${m} columns`;
              expectSameBits(bare.data, out.data, `${what}: out without norms`);
              // Relative to the size of the terms: 1e-12 of max_j,t ||x_j|| (||y_t|| + sum_s ||x_s|| |w_st|).
              expectWithin(out.data, ref, 1e-12 * scale, `${what}: against X^T (Y - X W)`);
              expectWithin(norms, refNorms, 1e-12 * scale * Math.sqrt(T), `${what}: norms against their definition`);
              return { out, norms };
            });
            const what = `support of ${support.length}, ${m} columns`;
            expectSameBits(runs[0]!.out.data, runs[1]!.out.data, `${what}: native vs js`);
            expectSameBits(runs[0]!.norms, runs[1]!.norms, `${what}: norms, native vs js`);
            // The sums run in support order, from xty, one product at a time: the first entry by hand, bit for bit.
            if (m > 0 && T > 0) {
              const j = cols[0]!;
              let v = xty.data[j * T]!;
              for (const k of support) v = v - gram.data[j * d + k]! * w.data[k * T]!;
              expect(Object.is(runs[0]!.out.data[0], v), `${what}: out[0, 0] in support order`).to.equal(true);
            }
          }
        }
      });

    it('refuses, on the native side, wrong shapes, indices out of range and an out aliasing an input (ShapeError)', () => {
      const g = { rows: 3, cols: 3, data: Float64Array.from([4, 1, 0, 1, 4, 1, 0, 1, 4]) };
      const xty = zerosM(3, 2);
      const w = zerosM(3, 2);
      expect(() => N.cdGramCorrelations(zerosM(3, 2), xty, w, new Int32Array(0), Int32Array.from([0]), zerosM(1, 2))).to.throw(ShapeError, /square/);
      expect(() => N.cdGramCorrelations(g, xty, w, Int32Array.from([3]), Int32Array.from([0]), zerosM(1, 2))).to.throw(ShapeError, /support/);
      expect(() => N.cdGramCorrelations(g, xty, w, Int32Array.from([0]), Int32Array.from([-1]), zerosM(1, 2))).to.throw(ShapeError, /cols/);
      expect(() => N.cdGramCorrelations(g, xty, zerosM(3, 3), Int32Array.from([0]), Int32Array.from([0]), zerosM(1, 2))).to.throw(ShapeError, /'w'/);
      expect(() => N.cdGramCorrelations(g, xty, w, Int32Array.from([0]), Int32Array.from([0, 1]), { rows: 2, cols: 2, data: w.data.subarray(0, 4) })).to.throw(
        ShapeError,
        /share memory/,
      );
    });
  });

  describe('taskLoss', () => {
    const cases: { sizes: number[]; d: number }[] = [
      { sizes: [1], d: 1 },
      { sizes: [5, 0, 7], d: 3 },
      { sizes: [20, 13, 1, 40], d: 9 },
      { sizes: [3, 4], d: 0 },
      { sizes: [], d: 4 },
      { sizes: [0, 0], d: 2 },
    ];
    for (const { sizes, d } of cases)
      for (const loss of ['squared', 'logistic'] as const)
        for (const grads of [false, true])
          for (const zScale of [1, 60])
            it(`tasks of ${JSON.stringify(sizes)} rows, d=${d}, ${loss}, grads=${grads}, |z| ~ ${zScale}`, () => {
              const rng = new Rng(sizes.length * 100 + d * 7 + zScale + (grads ? 1 : 0));
              const T = sizes.length;
              const n = sizes.reduce((s, v) => s + v, 0);
              const offsets = new Int32Array(T + 1);
              for (let t = 0; t < T; t++) offsets[t + 1] = offsets[t]! + sizes[t]!;
              const x = randMatrix(rng, n, d, zScale);
              const y = new Float64Array(n);
              for (let i = 0; i < n; i++) y[i] = loss === 'logistic' ? (rng.uniform() < 0.5 ? 0 : 1) : rng.normal();
              const args = (): TaskLossArgs => ({
                x,
                y,
                offsets,
                w: randMatrix(new Rng(5), T, d),
                intercept: randMatrix(new Rng(6), 1, T).data,
                scale: Float64Array.from({ length: T }, (_, t) => 1 / (1 + t)),
                loss,
                ...(grads ? { gradW: { rows: T, cols: d, data: new Float64Array(T * d).fill(NaN) }, gradIntercept: new Float64Array(T).fill(NaN) } : {}),
              });
              const an = args();
              const aj = args();
              const ln = N.taskLoss(an);
              const lj = J.taskLoss(aj);
              expect(ln.every(Number.isFinite), 'finite losses').to.equal(true);
              expectClose(ln, lj, TOL64 * Math.max(1, n), 'losses');
              if (grads) {
                expectClose(an.gradW!.data, aj.gradW!.data, TOL64 * Math.max(1, n), 'gradW');
                expectClose(an.gradIntercept!, aj.gradIntercept!, TOL64 * Math.max(1, n), 'gradIntercept');
              }
            });
  });

  describe('optimiser steps', () => {
    type Arr = Float32Array | Float64Array;
    const make = (dtype: 'float32' | 'float64', rng: Rng, n: number, f: () => number = () => rng.normal()): Arr => {
      const a = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) a[i] = f();
      return a;
    };
    for (const dtype of ['float64', 'float32'] as const)
      for (const n of [0, 1, 37]) {
        const tol = dtype === 'float64' ? TOL64 : TOL32;
        for (const [decoupled, wd] of [
          [false, 0],
          [false, 0.01],
          [true, 0.1],
        ] as const)
          it(`adamStep ${dtype} n=${n}, ${decoupled ? 'AdamW' : 'Adam'} weightDecay ${wd}: 6 steps`, () => {
            const rng = new Rng(n + (decoupled ? 3 : 0) + wd * 100);
            const p0 = make(dtype, rng, n);
            const sets = [0, 1].map(() => ({ params: p0.slice(), m: make(dtype, rng, n, () => 0), v: make(dtype, rng, n, () => 0) }));
            for (let step = 1; step <= 6; step++) {
              const grad = make(dtype, rng, n);
              for (const [k, K] of [N, J].entries())
                K.adamStep({ ...sets[k]!, grad, lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: wd, decoupledWeightDecay: decoupled, step });
            }
            expectClose(sets[0]!.params, sets[1]!.params, tol, 'params');
            expectClose(sets[0]!.m, sets[1]!.m, tol, 'm');
            expectClose(sets[0]!.v, sets[1]!.v, tol, 'v');
          });
        for (const [momentum, dampening, nesterov, wd] of [
          [0, 0, false, 0],
          [0, 0, false, 0.01],
          [0.9, 0, false, 0],
          [0.9, 0.1, false, 0.01],
          [0.9, 0, true, 0.001],
        ] as const)
          it(`sgdStep ${dtype} n=${n}, momentum ${momentum}, dampening ${dampening}, nesterov ${nesterov}, weightDecay ${wd}: 6 steps`, () => {
            const rng = new Rng(n * 3 + momentum * 10 + dampening * 100 + wd * 1000 + (nesterov ? 1 : 0));
            const p0 = make(dtype, rng, n);
            const sets = [0, 1].map(() => ({ params: p0.slice(), velocity: momentum > 0 ? make(dtype, rng, n, () => 0) : null }));
            for (let step = 1; step <= 6; step++) {
              const grad = make(dtype, rng, n);
              for (const [k, K] of [N, J].entries()) K.sgdStep({ ...sets[k]!, grad, lr: 0.05, momentum, dampening, nesterov, weightDecay: wd, step });
            }
            expectClose(sets[0]!.params, sets[1]!.params, tol, 'params');
            if (momentum > 0) expectClose(sets[0]!.velocity!, sets[1]!.velocity!, tol, 'velocity');
          });
        for (const [momentum, wd] of [
          [0, 0],
          [0, 0.01],
          [0.9, 0],
          [0.5, 0.01],
        ] as const)
          it(`rmspropStep ${dtype} n=${n}, momentum ${momentum}, weightDecay ${wd}: 6 steps`, () => {
            const rng = new Rng(n * 5 + momentum * 10 + wd * 1000);
            const p0 = make(dtype, rng, n);
            const sets = [0, 1].map(() => ({
              params: p0.slice(),
              squareAvg: make(dtype, rng, n, () => 0),
              momentumBuf: momentum > 0 ? make(dtype, rng, n, () => 0) : null,
            }));
            for (let step = 1; step <= 6; step++) {
              const grad = make(dtype, rng, n);
              for (const [k, K] of [N, J].entries()) K.rmspropStep({ ...sets[k]!, grad, lr: 0.01, alpha: 0.99, eps: 1e-8, momentum, weightDecay: wd });
            }
            expectClose(sets[0]!.params, sets[1]!.params, tol, 'params');
            expectClose(sets[0]!.squareAvg, sets[1]!.squareAvg, tol, 'squareAvg');
            if (momentum > 0) expectClose(sets[0]!.momentumBuf!, sets[1]!.momentumBuf!, tol, 'momentumBuf');
          });
      }

    // State that would fall below the smallest normal number of its type is stored as zero on both
    // backends; state just above it is kept. 37 elements: whole vectors and a scalar tail at every
    // SIMD width.
    for (const dtype of ['float64', 'float32'] as const) {
      const tiny = dtype === 'float32' ? 2 ** -126 : 2 ** -1022;
      const n = 37;
      // Even elements shrink below the smallest normal in one step; odd ones stay above it.
      const state = (): Arr => make(dtype, new Rng(1), n, (() => { let i = 0; return () => (i++ % 2 === 0 ? 1.05 * tiny : 1e-3); })());
      const expectFlushed = (a: Arr, name: string) => {
        for (let i = 0; i < n; i++) {
          if (i % 2 === 0) expect(a[i], `${name}[${i}]`).to.equal(0);
          else expect(a[i], `${name}[${i}]`).to.be.greaterThan(1e-5);
        }
      };
      it(`adamStep, sgdStep and rmspropStep ${dtype}: state below the smallest normal number is stored as zero, both backends`, () => {
        for (const K of [N, J]) {
          const grad = make(dtype, new Rng(2), n, () => 0);
          const adam = { params: make(dtype, new Rng(3), n), m: state(), v: state() };
          const p0 = adam.params.slice();
          K.adamStep({ ...adam, grad, lr: 1e-2, beta1: 0.9, beta2: 0.5, eps: 1e-8, weightDecay: 0, decoupledWeightDecay: false, step: 3 });
          expectFlushed(adam.m, `${K.name} adam m`);
          expectFlushed(adam.v, `${K.name} adam v`);
          for (let i = 0; i < n; i += 2) expect(adam.params[i], `${K.name} adam params[${i}]`).to.equal(p0[i]);
          const sgd = { params: make(dtype, new Rng(3), n), velocity: state() };
          K.sgdStep({ ...sgd, grad, lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, step: 2 });
          expectFlushed(sgd.velocity, `${K.name} sgd velocity`);
          const rms = { params: make(dtype, new Rng(3), n), squareAvg: state(), momentumBuf: state() };
          K.rmspropStep({ ...rms, grad, lr: 0.01, alpha: 0.5, eps: 1e-8, momentum: 0.5, weightDecay: 0 });
          expectFlushed(rms.squareAvg, `${K.name} rmsprop squareAvg`);
          expectFlushed(rms.momentumBuf, `${K.name} rmsprop momentumBuf`);
        }
      });
    }
    it('adamStep float32: the first moment of a parameter with no gradient for 900 steps ends at zero, not subnormal', () => {
      for (const K of [N, J]) {
        const n = 37;
        const params = make('float32', new Rng(4), n);
        const m = make('float32', new Rng(5), n, () => 1e-3);
        const v = make('float32', new Rng(6), n, () => 1e-3);
        const grad = make('float32', new Rng(7), n, () => 0);
        for (let step = 1; step <= 900; step++)
          K.adamStep({ params, grad, m, v, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupledWeightDecay: false, step });
        // Without the flush 1e-3 * 0.9^900 is about 1e-44, a float32 subnormal.
        for (let i = 0; i < n; i++) expect(m[i], `${K.name} m[${i}]`).to.equal(0);
        for (let i = 0; i < n; i++) expect(v[i], `${K.name} v[${i}]`).to.be.greaterThan(1e-4);
      }
    });
  });
});
