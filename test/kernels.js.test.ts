/**
 * The pure-TypeScript kernels against known answers: naive reference loops, algebraic identities
 * (A V = V diag(values), U S V^T = A, orthonormality), optimality conditions (KKT for the
 * multi-task elastic net) and finite differences (taskLoss gradients).
 */
import { expect } from 'chai';
import { ShapeError, ValueError } from '../lib/core/errors.js';
import type { FloatArray, Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { jsKernels as K } from '../lib/kernels/js/index.js';
import { transposeSummingColumns } from '../lib/kernels/js/linalg.js';
import { giveRegion, takeRegion } from '../lib/kernels/js/moduleMemory.js';
import { wasmSimdActive } from '../lib/kernels/js/products.js';
import { scratchDoubles } from '../lib/kernels/js/scratch.js';
import { maxAbs, randMatrix } from './helpers.js';

type M = Matrix<Float64Array>;

function mat(rows: number, cols: number, values: number[]): M {
  return { rows, cols, data: Float64Array.from(values) };
}

function at(a: Matrix<FloatArray>, i: number, j: number): number {
  return a.data[i * a.cols + j]!;
}

/** Naive C = A B (no options), the reference for everything else. */
function mul(a: M, b: M): M {
  const out = new Float64Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++)
    for (let j = 0; j < b.cols; j++) {
      let s = 0;
      for (let p = 0; p < a.cols; p++) s += at(a, i, p) * at(b, p, j);
      out[i * b.cols + j] = s;
    }
  return { rows: a.rows, cols: b.cols, data: out };
}

function tr(a: M): M {
  const out = new Float64Array(a.rows * a.cols);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out[j * a.rows + i] = at(a, i, j);
  return { rows: a.cols, cols: a.rows, data: out };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function identityData(n: number): Float64Array {
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++) d[i * n + i] = 1;
  return d;
}

/** ||Q^T Q - I||_max for the columns of Q. */
function orthoError(q: M): number {
  return maxAbsDiff(mul(tr(q), q).data, identityData(q.cols));
}

/** A random symmetric matrix with prescribed eigenvalues, Q diag(values) Q^T. */
function withSpectrum(rng: Rng, values: number[]): M {
  const n = values.length;
  const { u: q } = K.svd(randMatrix(rng, n, n));
  const qd = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) qd[i * n + j] = at(q, i, j) * values[j]!;
  return mul({ rows: n, cols: n, data: qd }, tr(q));
}

describe('js kernels', () => {
  describe('gemm', () => {
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [7, 3, 2], // tall
      [2, 3, 9], // wide
      [5, 6, 7],
      [4, 0, 5], // empty inner dimension
      [0, 3, 4], // no rows
      [3, 4, 0], // no columns
    ];
    const rng = new Rng(1);
    for (const [m, k, n] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          it(`matches the naive product for ${m}x${k} * ${k}x${n}, transA=${transA}, transB=${transB}`, () => {
            const a = randMatrix(rng, m, k);
            const b = randMatrix(rng, k, n);
            const opA = transA ? tr(a) : a;
            const opB = transB ? tr(b) : b;
            const ref = mul(a, b);

            // Default options (alpha 1, beta 0) with NaN garbage in C: beta = 0 must not read C.
            const c0: M = { rows: m, cols: n, data: new Float64Array(m * n).fill(NaN) };
            K.gemm(opA, opB, c0, { transA, transB });
            expect(maxAbsDiff(c0.data, ref.data)).to.be.below(1e-12);

            // alpha and beta.
            const c1 = randMatrix(rng, m, n);
            const expected = ref.data.map((v, i) => -0.5 * v + 2 * c1.data[i]!);
            K.gemm(opA, opB, c1, { transA, transB, alpha: -0.5, beta: 2 });
            expect(maxAbsDiff(c1.data, expected)).to.be.below(1e-12);

            // float32: same answer within single precision.
            const a32: Matrix<Float32Array> = { rows: opA.rows, cols: opA.cols, data: Float32Array.from(opA.data) };
            const b32: Matrix<Float32Array> = { rows: opB.rows, cols: opB.cols, data: Float32Array.from(opB.data) };
            const c32: Matrix<Float32Array> = { rows: m, cols: n, data: new Float32Array(m * n).fill(NaN) };
            K.gemm(a32, b32, c32, { transA, transB });
            expect(maxAbsDiff(c32.data, ref.data)).to.be.below(1e-4 * (1 + maxAbs(ref.data)));
          });
        }
      }
    }

    it('with beta = 1 and alpha = 0 leaves C unchanged', () => {
      const a = randMatrix(rng, 3, 4);
      const b = randMatrix(rng, 4, 2);
      const c = randMatrix(rng, 3, 2);
      const before = c.data.slice();
      K.gemm(a, b, c, { alpha: 0, beta: 1 });
      expect(Array.from(c.data)).to.deep.equal(Array.from(before));
    });

    it('rejects mismatched shapes', () => {
      expect(() => K.gemm(randMatrix(rng, 2, 3), randMatrix(rng, 4, 2), randMatrix(rng, 2, 2))).to.throw(/gemm/);
    });
  });

  describe('transposeSummingColumns', () => {
    // Shapes past one tile of columns (256), with rows not a multiple of eight, odd columns and
    // blocks of rows past the WebAssembly path's 64: every value lands once, and each column's sum
    // runs down the column in order from the caller's value (the bits of the plain loop). Into a
    // plain array (the loops here) and into the WebAssembly module's memory (its shuffles, where
    // WebAssembly SIMD runs: a fit's transposed design), the same bits.
    for (const [m, n] of [
      [13, 600],
      [16, 513],
      [7, 300],
      [40, 256],
      [150, 37],
      [72, 1],
    ] as [number, number][])
      for (const of of ['values', 'squares'] as const)
        for (const into of ['a plain array', 'module memory'] as const)
          it(`${m}x${n}, sums of ${of}, into ${into}`, () => {
            const x = randMatrix(new Rng(m * 31 + n), m, n);
            const region = into === 'module memory' ? takeRegion(m * n) : null;
            if (into === 'module memory') expect(region !== null).to.equal(wasmSimdActive());
            const out = { rows: n, cols: m, data: (region ?? new Float64Array(m * n)).fill(NaN) };
            try {
              const sums = Float64Array.from({ length: n }, (_, j) => j / 7);
              const expected = Float64Array.from(sums);
              for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) expected[j]! += of === 'squares' ? x.data[i * n + j]! ** 2 : x.data[i * n + j]!;
              transposeSummingColumns(x, out, sums, of);
              for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) expect(out.data[j * m + i]).to.equal(x.data[i * n + j]);
              expect(Array.from(sums)).to.deep.equal(Array.from(expected));
            } finally {
              if (region !== null) giveRegion(region);
            }
          });
  });

  describe('gram', () => {
    it('equals X^T X computed by gemm, exactly symmetric', () => {
      const rng = new Rng(2);
      for (const [n, d] of [
        [1, 1],
        [10, 4],
        [3, 8],
        [0, 3],
      ] as const) {
        const x = randMatrix(rng, n, d);
        const g: M = { rows: d, cols: d, data: new Float64Array(d * d).fill(NaN) };
        K.gram(x, g);
        const ref: M = { rows: d, cols: d, data: new Float64Array(d * d) };
        K.gemm(x, x, ref, { transA: true });
        expect(maxAbsDiff(g.data, ref.data)).to.be.below(1e-12);
        for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) expect(at(g, i, j)).to.equal(at(g, j, i));
      }
    });
  });

  describe('choleskySolve', () => {
    it('solves an SPD system with a small residual', () => {
      const rng = new Rng(3);
      for (const n of [1, 2, 7, 40]) {
        const m = randMatrix(rng, n + 3, n);
        const a = mul(tr(m), m);
        for (let i = 0; i < n; i++) a.data[i * n + i]! += 0.1;
        const b = randMatrix(rng, n, 3);
        const x = K.choleskySolve(a, b);
        expect([x.rows, x.cols]).to.deep.equal([n, 3]);
        const residual = maxAbsDiff(mul(a, x).data, b.data);
        expect(residual).to.be.below(1e-10 * (1 + maxAbs(b.data)));
      }
    });

    it('reads only the lower triangle', () => {
      const a = mat(2, 2, [4, NaN, 2, 3]);
      const x = K.choleskySolve(a, mat(2, 1, [6, 5]));
      // [[4, 2], [2, 3]] x = [6, 5]  ->  x = [1, 1]
      expect(maxAbsDiff(x.data, [1, 1])).to.be.below(1e-14);
    });

    it('handles n = 0', () => {
      const x = K.choleskySolve(mat(0, 0, []), mat(0, 2, []));
      expect([x.rows, x.cols, x.data.length]).to.deep.equal([0, 2, 0]);
    });

    it('throws a ValueError naming the pivot when A is not positive definite', () => {
      const indefinite = mat(2, 2, [1, 2, 2, 1]);
      expect(() => K.choleskySolve(indefinite, mat(2, 1, [1, 1]))).to.throw(ValueError, /not positive definite \(pivot 1 = -3\)/);
      const singular = mat(2, 2, [1, 1, 1, 1]);
      expect(() => K.choleskySolve(singular, mat(2, 1, [1, 1]))).to.throw(ValueError, /pivot 1 = 0/);
      const negative = mat(1, 1, [-2]);
      expect(() => K.choleskySolve(negative, mat(1, 1, [1]))).to.throw(ValueError, /pivot 0 = -2/);
    });
  });

  describe('symEig', () => {
    function check(a: M, tol = 1e-12): void {
      const n = a.rows;
      // Symmetrise from the lower triangle for the reference; then poison the upper triangle.
      const full = a.data.slice();
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) full[i * n + j] = full[j * n + i]!;
      const poisoned = full.slice();
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) poisoned[i * n + j] = NaN;
      const { values, vectors } = K.symEig({ rows: n, cols: n, data: poisoned });
      expect(values.length).to.equal(n);
      expect([vectors.rows, vectors.cols]).to.deep.equal([n, n]);
      for (let i = 1; i < n; i++) expect(values[i]!).to.be.at.least(values[i - 1]!);
      const scale = Math.max(1, maxAbs(values));
      const av = mul({ rows: n, cols: n, data: full }, vectors);
      const vd = vectors.data.map((v, idx) => v * values[idx % n]!);
      expect(maxAbsDiff(av.data, vd) / scale).to.be.below(tol);
      expect(orthoError(vectors)).to.be.below(tol);
      // Sign convention: the largest entry of each eigenvector is positive.
      for (let c = 0; c < n; c++) {
        let best = 0;
        for (let r = 0; r < n; r++) if (Math.abs(at(vectors, r, c)) > Math.abs(at(vectors, best, c))) best = r;
        expect(at(vectors, best, c)).to.be.above(0);
      }
    }

    it('handles 0x0 and 1x1', () => {
      const e0 = K.symEig(mat(0, 0, []));
      expect(e0.values.length).to.equal(0);
      const e1 = K.symEig(mat(1, 1, [-3]));
      expect(Array.from(e1.values)).to.deep.equal([-3]);
      expect(Array.from(e1.vectors.data)).to.deep.equal([1]);
    });

    it('diagonalises random symmetric matrices (lower triangle only)', () => {
      const rng = new Rng(4);
      for (const n of [2, 3, 10, 50]) {
        const m = randMatrix(rng, n, n);
        check(m);
      }
    });

    it('is accurate on a 300 x 300 matrix', function () {
      this.timeout(20000);
      check(randMatrix(new Rng(5), 300, 300));
    });

    it('recovers a known spectrum, including repeated and zero eigenvalues', () => {
      const rng = new Rng(6);
      const spectrum = [-2, 0, 0, 1, 1, 1, 5];
      const a = withSpectrum(rng, spectrum);
      const { values } = K.symEig(a);
      expect(maxAbsDiff(values, spectrum)).to.be.below(1e-12);
      check(a);
    });

    it('handles diagonal and zero matrices', () => {
      check(mat(3, 3, [3, 0, 0, 0, -1, 0, 0, 0, 2]));
      expect(Array.from(K.symEig(mat(3, 3, [3, 0, 0, 0, -1, 0, 0, 0, 2])).values)).to.deep.equal([-1, 2, 3]);
      check(mat(3, 3, [0, 0, 0, 0, 0, 0, 0, 0, 0]));
    });
  });

  describe('svd', () => {
    function check(a: M, tol = 1e-12): ReturnType<typeof K.svd> {
      const { rows: m, cols: n } = a;
      const k = Math.min(m, n);
      const res = K.svd(a);
      const { u, s, vt } = res;
      expect([u.rows, u.cols]).to.deep.equal([m, k]);
      expect(s.length).to.equal(k);
      expect([vt.rows, vt.cols]).to.deep.equal([k, n]);
      for (let i = 0; i < k; i++) expect(s[i]!).to.be.at.least(0);
      for (let i = 1; i < k; i++) expect(s[i]!).to.be.at.most(s[i - 1]!);
      const us = u.data.map((v, idx) => v * s[idx % k]!);
      const recon = mul({ rows: m, cols: k, data: us }, vt);
      expect(maxAbsDiff(recon.data, a.data)).to.be.below(tol * Math.max(1, s[0] ?? 0));
      expect(orthoError(u)).to.be.below(tol);
      expect(orthoError(tr(vt))).to.be.below(tol);
      return res;
    }

    it('handles 1x1 (sign goes to V^T)', () => {
      const { u, s, vt } = check(mat(1, 1, [-3]));
      expect(Array.from(u.data)).to.deep.equal([1]);
      expect(Array.from(s)).to.deep.equal([3]);
      expect(Array.from(vt.data)).to.deep.equal([-1]);
    });

    it('decomposes tall, wide and square random matrices', () => {
      const rng = new Rng(7);
      for (const [m, n] of [
        [5, 3],
        [3, 5],
        [40, 7],
        [7, 40],
        [20, 20],
        [1, 6],
        [6, 1],
      ] as const) {
        const a = randMatrix(rng, m, n);
        const { s } = check(a);
        // Cross-check: s^2 are the eigenvalues of A^T A or A A^T (the smaller one).
        const small = m >= n ? mul(tr(a), a) : mul(a, tr(a));
        const ev = Array.from(K.symEig(small).values).reverse();
        expect(maxAbsDiff(Array.from(s, (x) => x * x), ev)).to.be.below(1e-10 * ev[0]!);
      }
    });

    it('handles rank-deficient matrices with orthonormal completion', () => {
      const rng = new Rng(8);
      for (const [m, n, r] of [
        [40, 7, 3],
        [7, 40, 3],
        [6, 6, 1],
      ] as const) {
        const a = mul(randMatrix(rng, m, r), randMatrix(rng, r, n));
        const { s } = check(a);
        for (let i = r; i < Math.min(m, n); i++) expect(s[i]!).to.be.below(1e-13 * s[0]!);
      }
    });

    it('handles zero and duplicate-column matrices', () => {
      const zero = check(mat(4, 3, new Array(12).fill(0)));
      expect(Array.from(zero.s)).to.deep.equal([0, 0, 0]);
      check(mat(3, 2, [1, 1, 2, 2, 3, 3]));
      check(mat(2, 3, [1, 0, 0, 0, 0, 0]));
    });

    it('handles badly scaled matrices', () => {
      const rng = new Rng(9);
      for (const scale of [1e-200, 1e200]) {
        const a = randMatrix(rng, 6, 4);
        const ref = K.svd(a).s;
        const scaled = { rows: 6, cols: 4, data: a.data.map((v) => v * scale) };
        const { s } = K.svd(scaled);
        expect(maxAbsDiff(Array.from(s, (x) => x / scale), ref)).to.be.below(1e-12 * ref[0]!);
      }
    });

    it('handles empty matrices', () => {
      for (const [m, n] of [
        [0, 3],
        [3, 0],
        [0, 0],
      ] as const) {
        const { u, s, vt } = K.svd(mat(m, n, []));
        expect([u.rows, u.cols, s.length, vt.rows, vt.cols]).to.deep.equal([m, 0, 0, 0, n]);
      }
    });
  });

  describe('groupSoftThreshold', () => {
    it('shrinks each row by max(0, 1 - t / ||row||) and counts the survivors', () => {
      const w = mat(4, 2, [3, 4, 0.3, 0.4, 0, 0, -6, 8]);
      const nnz = K.groupSoftThreshold(w, 1);
      expect(nnz).to.equal(2);
      const expected = [3 * 0.8, 4 * 0.8, 0, 0, 0, 0, -6 * 0.9, 8 * 0.9];
      expect(maxAbsDiff(w.data, expected)).to.be.below(1e-15);
    });

    it('matches the formula on random data and is the identity at threshold 0', () => {
      const rng = new Rng(10);
      const w = randMatrix(rng, 30, 5);
      const orig = w.data.slice();
      expect(K.groupSoftThreshold(w, 0)).to.equal(30);
      expect(Array.from(w.data)).to.deep.equal(Array.from(orig));
      const t = 2;
      const nnz = K.groupSoftThreshold(w, t);
      let count = 0;
      for (let j = 0; j < 30; j++) {
        const row = orig.subarray(j * 5, j * 5 + 5);
        const nrm = Math.hypot(...row);
        const f = Math.max(0, 1 - t / nrm);
        if (f > 0) count++;
        for (let c = 0; c < 5; c++) expect(at(w, j, c)).to.be.closeTo(f * row[c]!, 1e-14);
      }
      expect(nnz).to.equal(count);
    });
  });

  describe('svt', () => {
    it('thresholds the singular values and keeps the singular vectors', () => {
      const rng = new Rng(11);
      for (const [m, n] of [
        [8, 5],
        [5, 8],
        [1, 1],
      ] as const) {
        const w = randMatrix(rng, m, n);
        const { u, s, vt } = K.svd(w);
        const t = s[Math.floor(s.length / 2)]! * 0.9 + (s[s.length - 1]! * 0.1);
        const { result, rank, nuclearNorm } = K.svt(w, t);
        const shrunk = Array.from(s, (x) => Math.max(x - t, 0));
        expect(rank).to.equal(shrunk.filter((x) => x > 0).length);
        expect(nuclearNorm).to.be.closeTo(shrunk.reduce((p, x) => p + x, 0), 1e-12);
        // Singular values of the result are max(s - t, 0).
        expect(maxAbsDiff(K.svd(result).s, shrunk)).to.be.below(1e-12);
        // And its singular vectors are those of W: result = U diag(shrunk) V^T.
        const k = s.length;
        const us = u.data.map((v, idx) => v * shrunk[idx % k]!);
        expect(maxAbsDiff(mul({ rows: m, cols: k, data: us }, vt).data, result.data)).to.be.below(1e-12);
      }
    });

    it('returns zero above the largest singular value and W itself at threshold 0', () => {
      const rng = new Rng(12);
      const w = randMatrix(rng, 6, 4);
      const big = K.svt(w, 1e6);
      expect(big.rank).to.equal(0);
      expect(big.nuclearNorm).to.equal(0);
      expect(maxAbs(big.result.data)).to.equal(0);
      const zero = K.svt(w, 0);
      expect(zero.rank).to.equal(4);
      expect(maxAbsDiff(zero.result.data, w.data)).to.be.below(1e-12);
    });
  });

  describe('mtenetSweep', () => {
    // Objective (1/2)||Y - X W||^2 + l1 sum_j ||W_j|| + (l2/2)||W||^2, X n x d, W d x T.
    const n = 30;
    const d = 8;
    const T = 3;
    const rng = new Rng(13);
    const x = randMatrix(rng, n, d);
    for (let i = 0; i < n; i++) x.data[i * d + 5] = 0; // an all-zero feature is skipped
    const wTrue = randMatrix(rng, d, T);
    for (const j of [1, 4, 6]) for (let t = 0; t < T; t++) wTrue.data[j * T + t] = 0;
    const y = mul(x, wTrue);
    for (let i = 0; i < y.data.length; i++) y.data[i]! += 0.1 * rng.normal();
    const xt = tr(x);
    const colNormSq = new Float64Array(d);
    for (let j = 0; j < d; j++) for (let i = 0; i < n; i++) colNormSq[j]! += at(x, i, j) ** 2;
    const xty = mul(xt, y);
    let lmax = 0;
    for (let j = 0; j < d; j++) lmax = Math.max(lmax, Math.hypot(...xty.data.subarray(j * T, j * T + T)));
    const l1 = 0.2 * lmax;
    const l2 = 0.5;

    function objective(w: M): number {
      const r = mul(x, w).data.map((v, i) => y.data[i]! - v);
      let f = 0.5 * r.reduce((p, v) => p + v * v, 0);
      for (let j = 0; j < d; j++) f += l1 * Math.hypot(...w.data.subarray(j * T, j * T + T));
      f += 0.5 * l2 * w.data.reduce((p, v) => p + v * v, 0);
      return f;
    }

    it('decreases the objective monotonically and converges to a KKT point', () => {
      const w: M = { rows: d, cols: T, data: new Float64Array(d * T) };
      const rt = tr(y); // R = Y - X 0
      const order = new Int32Array(d).map((_, i) => i);
      let prev = objective(w);
      let last = { wMax: 0, dwMax: Infinity };
      for (let sweep = 0; sweep < 2000 && last.dwMax > 1e-13; sweep++) {
        last = K.mtenetSweep({ xt, rt, w, colNormSq, l1Reg: l1, l2Reg: l2, order });
        const f = objective(w);
        expect(f).to.be.at.most(prev + 1e-12 * Math.abs(prev));
        prev = f;
      }
      expect(last.dwMax).to.be.at.most(1e-13);
      expect(last.wMax).to.equal(maxAbs(w.data));
      // The residual was kept in sync: R^T = (Y - X W)^T.
      expect(maxAbsDiff(rt.data, tr(mul(x, w)).data.map((v, i) => tr(y).data[i]! - v))).to.be.below(1e-10);
      // KKT: g_j = X_j^T R - l2 W_j equals l1 W_j / ||W_j|| when W_j != 0, and ||g_j|| <= l1 otherwise.
      const xtr = mul(xt, tr(rt));
      let active = 0;
      for (let j = 0; j < d; j++) {
        const wj = w.data.subarray(j * T, j * T + T);
        const g = Array.from(xtr.data.subarray(j * T, j * T + T), (v, t) => v - l2 * wj[t]!);
        const nrm = Math.hypot(...wj);
        if (nrm > 0) {
          active++;
          for (let t = 0; t < T; t++) expect(g[t]!).to.be.closeTo((l1 * wj[t]!) / nrm, 1e-8 * l1);
        } else {
          expect(Math.hypot(...g)).to.be.at.most(l1 * (1 + 1e-10));
        }
      }
      // The problem was built so that the solution is sparse but not empty.
      expect(active).to.be.within(1, d - 2);
      expect(Math.hypot(...w.data.subarray(5 * T, 6 * T))).to.equal(0);
    });

    it('returns zeros for an empty order and leaves W alone', () => {
      const w: M = { rows: d, cols: T, data: new Float64Array(d * T).fill(1) };
      const res = K.mtenetSweep({ xt, rt: tr(y), w, colNormSq, l1Reg: l1, l2Reg: l2, order: new Int32Array(0) });
      expect(res).to.deep.equal({ wMax: 0, dwMax: 0 });
      expect(maxAbsDiff(w.data, new Float64Array(d * T).fill(1))).to.equal(0);
    });
  });

  describe('taskLoss', () => {
    const rng = new Rng(14);
    const d = 4;
    const offsets = Int32Array.from([0, 4, 9, 9, 14]); // task 2 is empty
    const T = offsets.length - 1;
    const nRows = offsets[T]!;
    const x = randMatrix(rng, nRows, d);
    const scale = Float64Array.from([1, 0.5, 2, 1 / 5]);

    for (const loss of ['squared', 'logistic'] as const) {
      it(`${loss}: loss matches the formula and gradients match finite differences`, () => {
        const y = new Float64Array(nRows).map(() => (loss === 'logistic' ? (rng.uniform() < 0.5 ? 0 : 1) : rng.normal()));
        const w = randMatrix(rng, T, d);
        const intercept = new Float64Array(T).map(() => rng.normal());
        const gradW: M = { rows: T, cols: d, data: new Float64Array(T * d).fill(NaN) };
        const gradIntercept = new Float64Array(T).fill(NaN);
        const losses = K.taskLoss({ x, y, offsets, w, intercept, scale, loss, gradW, gradIntercept });

        // Direct formula.
        for (let t = 0; t < T; t++) {
          let l = 0;
          for (let i = offsets[t]!; i < offsets[t + 1]!; i++) {
            let z = intercept[t]!;
            for (let k = 0; k < d; k++) z += at(x, i, k) * at(w, t, k);
            l += loss === 'squared' ? 0.5 * (z - y[i]!) ** 2 : Math.log(1 + Math.exp(z)) - y[i]! * z;
          }
          expect(losses[t]!).to.be.closeTo(scale[t]! * l, 1e-12 * (1 + Math.abs(l)));
        }

        // Central differences of the total loss.
        const total = (ww: M, b: Float64Array): number => K.taskLoss({ x, y, offsets, w: ww, intercept: b, scale, loss }).reduce((p, v) => p + v, 0);
        const h = 1e-6;
        for (let i = 0; i < T * d; i++) {
          const plus = { ...w, data: w.data.slice() };
          const minus = { ...w, data: w.data.slice() };
          plus.data[i]! += h;
          minus.data[i]! -= h;
          const fd = (total(plus, intercept) - total(minus, intercept)) / (2 * h);
          expect(gradW.data[i]!).to.be.closeTo(fd, 1e-6 * (1 + Math.abs(fd)));
        }
        for (let t = 0; t < T; t++) {
          const plus = intercept.slice();
          const minus = intercept.slice();
          plus[t]! += h;
          minus[t]! -= h;
          const fd = (total(w, plus) - total(w, minus)) / (2 * h);
          expect(gradIntercept[t]!).to.be.closeTo(fd, 1e-6 * (1 + Math.abs(fd)));
        }
        // The empty task has zero loss and zero gradient.
        expect(losses[2]).to.equal(0);
        expect(gradIntercept[2]).to.equal(0);
      });
    }

    it('logistic loss is stable for large |z|', () => {
      const x1 = mat(2, 1, [1, 1]);
      const w1 = mat(1, 1, [0]);
      for (const z of [800, -800, 40, -40]) {
        const y = Float64Array.from([1, 0]);
        const g = new Float64Array(1);
        const [l] = K.taskLoss({ x: x1, y, offsets: Int32Array.from([0, 2]), w: w1, intercept: Float64Array.from([z]), scale: Float64Array.from([1]), loss: 'logistic', gradIntercept: g });
        // Row 1 (y = 1) costs softplus(z) - z, row 2 (y = 0) softplus(z).
        const sp = Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
        expect(l).to.be.closeTo(2 * sp - z, 1e-12 * Math.abs(z));
        expect(Number.isFinite(l!)).to.equal(true);
        // gradient: (sigmoid(z) - 1) + sigmoid(z) = 2 sigmoid(z) - 1
        expect(g[0]!).to.be.closeTo(2 / (1 + Math.exp(-z)) - 1, 1e-15);
      }
    });
  });

  describe('working-set kernels: memory', () => {
    it("cdDesign builds its transposed copy and its column statistics in the allocator's memory, and refuses too little", () => {
      const rng = new Rng(21);
      const x = randMatrix(rng, 30, 7);
      const plain = K.cdDesign(x, true);
      // Each request gets its own buffer, larger than asked and full of NaN.
      const given: Float64Array[] = [];
      const design = K.cdDesign(x, true, (length) => given[given.push(new Float64Array(length + 5).fill(NaN)) - 1]!);
      expect(given.map((g) => g.length)).to.deep.equal([30 * 7 + 5, 2 * 7 + 5]);
      expect(design.xt!.data.buffer).to.equal(given[0]!.buffer);
      expect(design.mean.buffer).to.equal(given[1]!.buffer);
      expect(design.colNormSq.buffer).to.equal(given[1]!.buffer);
      expect(Array.from(design.xt!.data)).to.deep.equal(Array.from(plain.xt!.data));
      expect(Array.from(design.mean)).to.deep.equal(Array.from(plain.mean));
      expect(Array.from(design.colNormSq)).to.deep.equal(Array.from(plain.colNormSq));
      expect(() => K.cdDesign(x, true, () => new Float64Array(30 * 7 - 1))).to.throw(ShapeError, /allocator gave 209 values for 210/);
      const small = (length: number) => new Float64Array(length === 30 * 7 ? length : 2 * 7 - 1);
      expect(() => K.cdDesign(x, true, small)).to.throw(ShapeError, /allocator gave 13 values for 14/);
    });

    it('scratch: a slot is reused when it holds enough, slots are distinct, and what kernels left there never reaches a result', () => {
      const a = scratchDoubles('gatheredRows', 100);
      expect(scratchDoubles('gatheredRows', 60).buffer).to.equal(a.buffer);
      expect(scratchDoubles('gatheredColumns', 60).buffer).to.not.equal(a.buffer);
      expect(scratchDoubles('gatheredRows', 1000).length).to.equal(1000);
      // Gram entries and residuals of scattered columns (gathered into scratch), computed once on
      // fresh scratch and once after the slots were filled with NaN: the same bits.
      const rng = new Rng(22);
      const x = randMatrix(rng, 50, 40);
      const design = K.cdDesign(x, true);
      const rows = Int32Array.from([3, 9, 17, 30]);
      const cols = Int32Array.from([1, 3, 8, 9, 17, 22, 30, 31, 35]);
      const w = randMatrix(rng, cols.length, 3);
      const yt = randMatrix(rng, 3, 50);
      // A run of 20 of 30 listed columns: symmetric strips of Gram entries and the block left of them.
      const strips = Int32Array.from({ length: 30 }, (_, c) => c + (c > 4 ? 5 : 0));
      const stripRows = strips.subarray(6, 26);
      // Products that pack their operands (transposed, float32) and sum rows of C in scratch.
      const a32 = Float32Array.from(randMatrix(rng, 9, 14).data);
      const b64 = randMatrix(rng, 9, 11);
      const run = () => {
        const g1 = { rows: rows.length, cols: cols.length, data: new Float64Array(rows.length * cols.length) };
        const g2 = { rows: cols.length, cols: cols.length, data: new Float64Array(cols.length * cols.length) };
        const g3 = { rows: 20, cols: 30, data: new Float64Array(600) };
        const rt = { rows: 3, cols: 50, data: new Float64Array(150) };
        K.cdGramColumns(design, rows, cols, g1);
        K.cdGramColumns(design, cols, cols, g2);
        K.cdGramColumns(design, stripRows, strips, g3);
        const parts = K.cdResidualColumns(design, cols, w, yt, rt);
        const p1 = { rows: 14, cols: 11, data: new Float32Array(154) };
        K.gemm({ rows: 9, cols: 14, data: a32 }, { rows: 9, cols: 11, data: Float32Array.from(b64.data) }, p1, { transA: true });
        const p2 = { rows: 11, cols: 11, data: new Float64Array(121) };
        K.gemm(b64, b64, p2, { transA: true, beta: 0 });
        return [...g1.data, ...g2.data, ...g3.data, ...rt.data, parts.rNormSq, parts.ry, ...p1.data, ...p2.data];
      };
      const clean = run();
      for (const slot of ['packA', 'packB', 'productRows', 'gatheredRows', 'gatheredColumns', 'gramBlock'] as const) scratchDoubles(slot, 10_000).fill(NaN);
      expect(run().map(String)).to.deep.equal(clean.map(String));
      expect(clean.every(Number.isFinite)).to.equal(true);
    });
  });
});
