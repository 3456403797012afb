/**
 * Dense linear algebra in plain TypeScript: the fallback twin of native/src/kernels/linalg.cc.
 *
 * - gemm: C = alpha op(A) op(B) + beta C (the BLAS xGEMM contract): operands packed to row-major
 *   float64, then products.ts' multiply (each entry summed over the inner index in order) or, for
 *   A B^T with a long inner dimension, its rowDots; sums accumulate in float64 even for
 *   Float32Array inputs.
 * - gram: X^T X as a sum of rank-one row updates, upper triangle only, then mirrored.
 * - choleskySolve: A = L L^T (Cholesky-Banachiewicz, row by row), then L Y = B and L^T X = Y
 *   (Golub & Van Loan, Matrix Computations, 4th ed., Alg. 4.2.1 and sec. 3.1).
 * - symEig: Householder tridiagonalisation + implicit QL with shifts, the EISPACK tred2/tql2 pair
 *   (Wilkinson & Reinsch, Handbook for Automatic Computation II, 1971) in the form published by
 *   JAMA (public domain); see also Golub & Van Loan sec. 8.3.
 * - svd: one-sided Jacobi (Hestenes 1958; Demmel & Veselic, SIAM J. Matrix Anal. Appl. 13, 1992):
 *   rotate pairs of columns until all are mutually orthogonal; their norms are the singular values.
 *
 * Sign conventions (so that results are reproducible and comparable across backends): each
 * eigenvector, and each column of the SVD's U, is flipped so that its entry of largest magnitude
 * (the first one on exact ties) is positive; vt's rows are flipped with U's columns.
 */
import { ShapeError, ValueError } from '../../core/errors.js';
import type { FloatArray, Matrix } from '../../core/matrix.js';
import type { GemmOptions, SvdResult, SymEigResult } from '../types.js';
import { checkIndices } from './checks.js';
import { giveRegion, moduleAddress, productsModule, takeRegion } from './moduleMemory.js';
import { multiply, rowDots } from './products.js';
import { scratchDoubles, type ScratchSlot } from './scratch.js';

const EPS = Number.EPSILON;

// ---------------------------------------------------------------------------------------------
// gemm

export function gemm<T extends FloatArray>(a: Matrix<T>, b: Matrix<T>, c: Matrix<T>, options: GemmOptions = {}): void {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const alpha = options.alpha ?? 1;
  const beta = options.beta ?? 0;
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const kb = transB ? b.cols : b.rows;
  const n = transB ? b.rows : b.cols;
  // The public API validates shapes; this check is cheap insurance against a silent wrong answer.
  if (k !== kb || c.rows !== m || c.cols !== n) {
    throw new ShapeError(
      `gemm: op(A) is ${m} x ${k}, op(B) is ${kb} x ${n}, C is ${c.rows} x ${c.cols}; expected C = ${m} x ${n} and matching inner dimensions`,
    );
  }
  const A = a.data;
  const B = b.data;
  const C = c.data;
  if (m === 0 || n === 0) return;

  // beta = 0 overwrites: C's old contents are never read, so NaN garbage in C cannot leak through.
  if (beta === 0) C.fill(0);
  else if (beta !== 1) for (let i = 0; i < C.length; i++) C[i]! *= beta;
  if (alpha === 0 || k === 0) return;

  // Bring both operands into the one layout the inner kernel wants: op(A) as m x k and op(B) as
  // k x n, row-major float64. The copies cost O(mk + kn) against O(mkn) arithmetic; they keep the
  // hot loop monomorphic (a single array type) and make Float32Array products and sums run in
  // double precision.
  // A B^T with a long inner dimension (X^T R in the duality gap: 1000 x 2000 times 2000 x 20):
  // every entry is a dot product of two contiguous rows, where the packed product would run its
  // innermost loop over the short n.
  if (transB && !transA && A instanceof Float64Array && B instanceof Float64Array && k >= 64 && k >= 4 * n) {
    multiplyTransB(A, B, C, m, k, n, alpha);
    return;
  }
  const ap = packFloat64(A, a.rows, a.cols, transA, 'packA');
  const bp = packFloat64(B, b.rows, b.cols, transB, 'packB');
  multiplyAdd(ap, bp, C, m, k, n, alpha);
}

/**
 * The array itself when it is already float64 and untransposed, else a float64 copy (transposed if
 * asked) in `slot`'s scratch, valid until the slot's next use.
 */
function packFloat64(src: FloatArray, rows: number, cols: number, trans: boolean, slot: ScratchSlot): Float64Array {
  if (!trans && src instanceof Float64Array) return src;
  const out = scratchDoubles(slot, rows * cols);
  if (!trans) {
    for (let q = 0; q < rows * cols; q++) out[q] = src[q]!;
    return out;
  }
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[base + c]!;
  }
  return out;
}

/** C += alpha A B for row-major A (m x k) and B (k x n) (products.ts). */
function multiplyAdd(A: Float64Array, B: Float64Array, C: FloatArray, m: number, k: number, n: number, alpha: number): void {
  const product = scratchDoubles('productRows', m * n);
  multiply(A, m, k, B, n, product);
  for (let q = 0; q < m * n; q++) C[q]! += alpha * product[q]!;
}

/** C += alpha A B^T for row-major A (m x k) and B (n x k): dot products of rows (products.ts). */
function multiplyTransB(A: Float64Array, B: Float64Array, C: FloatArray, m: number, k: number, n: number, alpha: number): void {
  const dots = scratchDoubles('productRows', m * n);
  rowDots(A, m, B, n, k, dots);
  for (let q = 0; q < m * n; q++) C[q]! += alpha * dots[q]!;
}

// ---------------------------------------------------------------------------------------------
// transpose

/** Columns of A per tile of transposeRows: 256 rows of O, 16 KiB of cache lines (32 KiB where they straddle lines). */
const TRANSPOSE_TILE = 256;

/** out = A^T (transposeRows). */
export function transpose(a: Matrix<Float64Array>, out: Matrix<Float64Array>): void {
  const m = a.rows;
  const n = a.cols;
  if (out.rows !== n || out.cols !== m) throw new ShapeError(`transpose: out is ${out.rows} x ${out.cols}, expected ${n} x ${m}`);
  transposeRows(a.data, out.data, m, n, null, false);
}

/**
 * out = A^T as transpose does, and while each value passes, sums[j] += A[i, j] (or its square, for
 * 'squares'): each column's sum runs down the column in order, from the caller's initial value. A
 * design's column statistics without another pass over its n x d values.
 */
export function transposeSummingColumns(a: Matrix<Float64Array>, out: Matrix<Float64Array>, sums: Float64Array, of: 'values' | 'squares'): void {
  const m = a.rows;
  const n = a.cols;
  if (out.rows !== n || out.cols !== m || sums.length !== n) {
    throw new ShapeError(`transposeSummingColumns: out is ${out.rows} x ${out.cols} and sums of length ${sums.length}, expected ${n} x ${m} and ${n}`);
  }
  transposeRows(a.data, out.data, m, n, sums, of === 'squares');
}

/**
 * O = A^T for A m x n, with sums[j] += each value (or its square) of column j when sums is given.
 * Eight rows of A at a time, read along the rows: each column j of them is eight consecutive values
 * (a cache line) of row j of O; two to three times as fast as 32 x 32 tiles read down their
 * columns, on wide and on tall matrices. The columns go by tiles of TRANSPOSE_TILE: all rows of A
 * over one tile, then the next, so that the rows of O being written (a line each, two where m is
 * not a multiple of eight and the eight values straddle lines) stay in the level-1 cache from one
 * block of rows to the next; over all d columns at once, a 2000 x 1000 design's transpose in a fit
 * took 4.9-6.2 ms, by tiles 2.7-3.6 ms. Each column's sum still runs down the column in order. One
 * call per eight rows and tile: a function called hundreds of times a fit is optimised by V8 within
 * the first fit, where one long loop would run unoptimised in a process's next fits.
 */
function transposeRows(A: Float64Array, O: Float64Array, m: number, n: number, sums: Float64Array | null, squares: boolean): void {
  const whole = m - (m % 8);
  if (!transposeRowsInModule(A, O, m, n, whole, sums, squares)) {
    for (let j0 = 0; j0 < n; j0 += TRANSPOSE_TILE) {
      const j1 = Math.min(n, j0 + TRANSPOSE_TILE);
      for (let i = 0; i < whole; i += 8) transposeEightRows(A, O, i, m, n, j0, j1, sums, squares);
    }
  }
  for (let i = whole; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const v = A[i * n + j]!;
      O[j * m + i] = v;
      if (sums !== null) sums[j] = squares ? sums[j]! + v * v : sums[j]! + v;
    }
  }
}

/** Values of A per block of transposeRowsInModule: 256 KiB, held in L2 while its rows are written out. */
const MODULE_TRANSPOSE_VALUES = 32768;

/**
 * transposeRows' first `whole` rows (a multiple of eight) in the WebAssembly module, when O is in its
 * memory (a fit's transposed design) and a region holds a block of A's rows: each block is copied
 * into the region as it is and transposed there by vector shuffles, its column sums added in the
 * same order, so the same bits. A 2000 x 1000 design with its column sums: 2.1-2.2 ms against
 * 2.9-3.5 ms in transposeEightRows, most of which was the sums' chains of additions (the module
 * runs eight columns' chains at once). Returns false, having written nothing, when it cannot run.
 */
function transposeRowsInModule(A: Float64Array, O: Float64Array, m: number, n: number, whole: number, sums: Float64Array | null, squares: boolean): boolean {
  const oAddress = moduleAddress(O);
  if (oAddress < 0 || whole === 0 || n === 0) return false;
  const wasm = productsModule();
  // Blocks of up to 64 rows, at most MODULE_TRANSPOSE_VALUES values in the region (L2-sized).
  const block = Math.min(whole, 64, Math.max(8, Math.floor(MODULE_TRANSPOSE_VALUES / n / 8) * 8));
  const H = wasm === null ? null : takeRegion(block * n + n);
  if (wasm === null || H === null) return false;
  try {
    const base = H.byteOffset;
    const sumsAt = block * n;
    if (sums !== null) H.set(sums, sumsAt);
    const mode = sums === null ? 0 : squares ? 2 : 1;
    for (let i = 0; i < whole; i += block) {
      const rows = Math.min(block, whole - i);
      H.set(A.subarray(i * n, (i + rows) * n), 0);
      wasm.transposeRows(base, rows, n, oAddress + 8 * i, m, base + 8 * sumsAt, mode);
    }
    if (sums !== null) sums.set(H.subarray(sumsAt, sumsAt + n));
  } finally {
    giveRegion(H);
  }
  return true;
}

/** Rows i..i+7 of A (m x n), columns j0..j1-1, into O (n x m), each value (or its square) added to sums[j] in row order when sums is given. */
function transposeEightRows(
  A: Float64Array, O: Float64Array, i: number, m: number, n: number, j0: number, j1: number, sums: Float64Array | null, squares: boolean,
): void {
  const r0 = i * n;
  const r1 = r0 + n;
  const r2 = r1 + n;
  const r3 = r2 + n;
  const r4 = r3 + n;
  const r5 = r4 + n;
  const r6 = r5 + n;
  const r7 = r6 + n;
  for (let j = j0; j < j1; j++) {
    const o = j * m + i;
    const v0 = A[r0 + j]!;
    const v1 = A[r1 + j]!;
    const v2 = A[r2 + j]!;
    const v3 = A[r3 + j]!;
    const v4 = A[r4 + j]!;
    const v5 = A[r5 + j]!;
    const v6 = A[r6 + j]!;
    const v7 = A[r7 + j]!;
    O[o] = v0;
    O[o + 1] = v1;
    O[o + 2] = v2;
    O[o + 3] = v3;
    O[o + 4] = v4;
    O[o + 5] = v5;
    O[o + 6] = v6;
    O[o + 7] = v7;
    if (sums === null) continue;
    sums[j] = squares
      ? sums[j]! + v0 * v0 + v1 * v1 + v2 * v2 + v3 * v3 + v4 * v4 + v5 * v5 + v6 * v6 + v7 * v7
      : sums[j]! + v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7;
  }
}

/** out[i, j] = a[rows[i], cols[j]]. */
export function gatherBlock(a: Matrix<Float64Array>, rows: Int32Array, cols: Int32Array, out: Matrix<Float64Array>): void {
  const m = rows.length;
  const n = cols.length;
  if (out.rows !== m || out.cols !== n) throw new ShapeError(`gatherBlock: out is ${out.rows} x ${out.cols}, expected ${m} x ${n}`);
  checkIndices('gatherBlock', 'rows', rows, a.rows);
  checkIndices('gatherBlock', 'cols', cols, a.cols);
  const ld = a.cols;
  for (let i = 0; i < m; i++) {
    const row = rows[i]! * ld;
    for (let j = 0; j < n; j++) out.data[i * n + j] = a.data[row + cols[j]!]!;
  }
}

// ---------------------------------------------------------------------------------------------
// setBlock

/** out[row + i, col + j] = a[i, j]: a copied into a block of out, row by row. */
export function setBlock(out: Matrix<Float64Array>, row: number, col: number, a: Matrix<Float64Array>): void {
  const isIndex = (v: number, hi: number): boolean => Number.isInteger(v) && v >= 0 && v <= hi;
  if (!isIndex(row, out.rows) || !isIndex(col, out.cols)) throw new ShapeError(`setBlock: (${row}, ${col}) is not a position in out (${out.rows} x ${out.cols})`);
  if (a.rows > out.rows - row || a.cols > out.cols - col) {
    throw new ShapeError(`setBlock: a (${a.rows} x ${a.cols}) does not fit in out (${out.rows} x ${out.cols}) at (${row}, ${col})`);
  }
  const n = a.cols;
  for (let i = 0; i < a.rows; i++) out.data.set(a.data.subarray(i * n, (i + 1) * n), (row + i) * out.cols + col);
}

// ---------------------------------------------------------------------------------------------
// gatherRows

/** Row r of out = row rows[r] of A. */
export function gatherRows<T extends FloatArray>(a: Matrix<T>, rows: Int32Array, out: Matrix<T>): void {
  const d = a.cols;
  if (out.rows !== rows.length || out.cols !== d) throw new ShapeError(`gatherRows: out is ${out.rows} x ${out.cols}, expected ${rows.length} x ${d}`);
  if (out.data.constructor !== a.data.constructor) throw new ShapeError('gatherRows: a and out must have one dtype');
  checkIndices('gatherRows', 'rows', rows, a.rows);
  for (let r = 0; r < rows.length; r++) out.data.set(a.data.subarray(rows[r]! * d, (rows[r]! + 1) * d), r * d);
}

// ---------------------------------------------------------------------------------------------
// gram

export function gram(x: Matrix<Float64Array>, out: Matrix<Float64Array>): void {
  const n = x.rows;
  const d = x.cols;
  if (out.rows !== d || out.cols !== d) throw new ShapeError(`gram: out is ${out.rows} x ${out.cols}, expected ${d} x ${d}`);
  const X = x.data;
  const G = out.data;
  G.fill(0);
  // G = sum_i x_i x_i^T over the rows x_i of X; only the upper triangle (b >= a) is accumulated,
  // which halves the work, and the inner loop runs along contiguous rows of X and G.
  for (let i = 0; i < n; i++) {
    const xBase = i * d;
    for (let a = 0; a < d; a++) {
      const v = X[xBase + a]!;
      const gBase = a * d;
      for (let b = a; b < d; b++) G[gBase + b]! += v * X[xBase + b]!;
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a + 1; b < d; b++) G[b * d + a] = G[a * d + b]!;
  }
}

// ---------------------------------------------------------------------------------------------
// choleskySolve

export function choleskySolve(a: Matrix<Float64Array>, b: Matrix<Float64Array>): Matrix<Float64Array> {
  const n = a.rows;
  const k = b.cols;
  if (a.cols !== n || b.rows !== n) {
    throw new ShapeError(`choleskySolve: A is ${a.rows} x ${a.cols} and B is ${b.rows} x ${b.cols}; expected A n x n and B n x k`);
  }
  const A = a.data;
  const L = new Float64Array(n * n);
  // Row-by-row factorisation reading only the lower triangle of A; both dot products run along
  // contiguous rows of L.
  for (let i = 0; i < n; i++) {
    const li = i * n;
    for (let j = 0; j <= i; j++) {
      const lj = j * n;
      let s = A[li + j]!;
      for (let p = 0; p < j; p++) s -= L[li + p]! * L[lj + p]!;
      if (i === j) {
        // `!(s > 0)` also catches NaN; Infinity can only come from overflow of a huge input.
        if (!(s > 0) || s === Infinity) {
          throw new ValueError(`matrix is not positive definite (pivot ${i} = ${s})`);
        }
        L[li + i] = Math.sqrt(s);
      } else {
        L[li + j] = s / L[lj + j]!;
      }
    }
  }

  const X = b.data.slice();
  // Forward substitution L Y = B, one whole row of Y (k right-hand sides) at a time.
  for (let i = 0; i < n; i++) {
    const li = i * n;
    const xi = i * k;
    for (let p = 0; p < i; p++) {
      const l = L[li + p]!;
      const xp = p * k;
      for (let c = 0; c < k; c++) X[xi + c]! -= l * X[xp + c]!;
    }
    const inv = 1 / L[li + i]!;
    for (let c = 0; c < k; c++) X[xi + c]! *= inv;
  }
  // Back substitution L^T X = Y.
  for (let i = n - 1; i >= 0; i--) {
    const xi = i * k;
    for (let p = i + 1; p < n; p++) {
      const l = L[p * n + i]!;
      const xp = p * k;
      for (let c = 0; c < k; c++) X[xi + c]! -= l * X[xp + c]!;
    }
    const inv = 1 / L[i * n + i]!;
    for (let c = 0; c < k; c++) X[xi + c]! *= inv;
  }
  return { rows: n, cols: k, data: X };
}

// ---------------------------------------------------------------------------------------------
// symEig

/** Maximum implicit-QL iterations per eigenvalue; convergence normally takes 1-3. */
const QL_MAX_ITER = 100;

export function symEig(a: Matrix<Float64Array>): SymEigResult {
  const n = a.rows;
  if (a.cols !== n) throw new ShapeError(`symEig: matrix is ${a.rows} x ${a.cols}, expected square`);
  const A = a.data;
  // Z holds the transformation matrix V of tred2/tql2 TRANSPOSED: Z[c*n + r] = V[r][c]. With
  // row-major storage this makes the O(n^3) loops of both routines (which walk columns of V)
  // contiguous, and at the end row i of Z is eigenvector i. It starts as A symmetrised from its
  // lower triangle (the upper triangle of the input is never read).
  const Z = new Float64Array(n * n);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c <= r; c++) {
      const v = A[r * n + c]!;
      Z[r * n + c] = v;
      Z[c * n + r] = v;
    }
  }
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n > 0) {
    tred2(Z, d, e, n);
    tql2(Z, d, e, n);
  }
  for (let i = 0; i < n; i++) normaliseSign(Z, i * n, n);
  // vectors has the eigenvectors as columns: vectors = Z^T.
  const vectors = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < n; r++) vectors[r * n + i] = Z[i * n + r]!;
  }
  return { values: d, vectors: { rows: n, cols: n, data: vectors } };
}

/**
 * Householder reduction of the symmetric matrix in Z to tridiagonal form (EISPACK tred2 via JAMA),
 * accumulating the orthogonal transformation. On return d is the diagonal, e[1..n-1] the
 * sub-diagonal, and Z the transformation (transposed, see symEig). JAMA's V[r][c] is Z[c*n + r].
 */
function tred2(Z: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = Z[j * n + n - 1]!;
  for (let i = n - 1; i > 0; i--) {
    // Scale the row to avoid under/overflow in the Householder vector.
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = Z[j * n + i - 1]!;
        Z[j * n + i] = 0;
        Z[i * n + j] = 0;
      }
    } else {
      // Generate the Householder vector.
      for (let k = 0; k < i; k++) {
        d[k]! /= scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      // Apply the similarity transformation to the remaining columns.
      for (let j = 0; j < i; j++) {
        const zj = j * n;
        f = d[j]!;
        Z[i * n + j] = f;
        g = e[j]! + Z[zj + j]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          const v = Z[zj + k]!;
          g += v * d[k]!;
          e[k]! += v * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j]! /= h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
      for (let j = 0; j < i; j++) {
        const zj = j * n;
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) Z[zj + k]! -= f * e[k]! + g * d[k]!;
        d[j] = Z[zj + i - 1]!;
        Z[zj + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    const zi = i * n;
    const zi1 = (i + 1) * n;
    Z[zi + n - 1] = Z[zi + i]!;
    Z[zi + i] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = Z[zi1 + k]! / h;
      for (let j = 0; j <= i; j++) {
        const zj = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += Z[zi1 + k]! * Z[zj + k]!;
        for (let k = 0; k <= i; k++) Z[zj + k]! -= g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) Z[zi1 + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = Z[j * n + n - 1]!;
    Z[j * n + n - 1] = 0;
  }
  Z[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/**
 * Implicit QL iteration on the tridiagonal matrix (d, e) (EISPACK tql2 via JAMA), applying the
 * rotations to the rows of Z; then sorts eigenvalues ascending with their vectors.
 */
function tql2(Z: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  for (let l = 0; l < n; l++) {
    // Find a negligible sub-diagonal element, splitting the matrix there.
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= EPS * tst1) break;
      m++;
    }
    // m === l: d[l] is already an eigenvalue; otherwise iterate.
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > QL_MAX_ITER) throw new ValueError('symEig: the QL iteration did not converge (is the matrix finite?)');
        // Compute the implicit (Wilkinson-type) shift.
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i]! -= h;
        f += h;
        // Implicit QL transformation.
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          // Accumulate the rotation into eigenvector rows i and i+1 (contiguous in Z).
          const zi = i * n;
          const zi1 = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const t = Z[zi1 + k]!;
            Z[zi1 + k] = s * Z[zi + k]! + c * t;
            Z[zi + k] = c * Z[zi + k]! - s * t;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > EPS * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
  // Selection sort, ascending (O(n^2) comparisons, at most n row swaps).
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i]!;
    for (let j = i + 1; j < n; j++) {
      if (d[j]! < p) {
        k = j;
        p = d[j]!;
      }
    }
    if (k !== i) {
      d[k] = d[i]!;
      d[i] = p;
      const zi = i * n;
      const zk = k * n;
      for (let j = 0; j < n; j++) {
        const t = Z[zi + j]!;
        Z[zi + j] = Z[zk + j]!;
        Z[zk + j] = t;
      }
    }
  }
}

/** Flip v[off .. off+len) so that its entry of largest magnitude (the first on ties) is positive. */
function normaliseSign(v: Float64Array, off: number, len: number): boolean {
  let best = 0;
  let bestAbs = -1;
  for (let i = 0; i < len; i++) {
    const x = Math.abs(v[off + i]!);
    if (x > bestAbs) {
      bestAbs = x;
      best = i;
    }
  }
  if (len === 0 || v[off + best]! >= 0) return false;
  for (let i = 0; i < len; i++) v[off + i] = -v[off + i]!;
  return true;
}

// ---------------------------------------------------------------------------------------------
// svd

/** Sweep cap for one-sided Jacobi; quadratic convergence normally needs 5-10 sweeps. */
const JACOBI_MAX_SWEEPS = 60;

/**
 * Thin SVD A = U diag(s) V^T with k = min(m, n).
 *
 * Zero singular values: a singular value no larger than max(m, n) * eps * s_max has no well-defined
 * left singular vector (its Jacobi column is rounding noise), so its column of U is an orthonormal
 * completion instead: the standard basis vector least represented in the columns already chosen,
 * orthogonalised against them (twice, for stability). U therefore always has orthonormal columns
 * and V^T orthonormal rows, even for rank-deficient or all-zero A. The reported singular value is
 * kept as computed (tiny, possibly not exactly 0), which changes U diag(s) V^T by at most that value.
 */
export function svd(a: Matrix<Float64Array>): SvdResult {
  const m = a.rows;
  const n = a.cols;
  const k = Math.min(m, n);
  // Jacobi works on the columns of a tall matrix M (p x q, p >= q), stored as the rows of G
  // (q x p) so that every inner loop is contiguous. For m >= n, M = A and G = A^T; for m < n,
  // M = A^T, whose columns are the rows of A, so G is simply a copy of A.
  const tall = m >= n;
  const p = tall ? m : n;
  const q = k;
  const G = new Float64Array(p * q);
  if (tall) {
    for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) G[c * m + r] = a.data[r * n + c]!;
  } else {
    G.set(a.data);
  }
  const { s, uRows, vRows } = oneSidedJacobi(G, q, p);
  // M = Ũ S Ṽ^T with Ũ's columns the rows of uRows (length p) and Ṽ's the rows of vRows (length q).
  // Tall: A = M, so U = uRows^T and V^T = vRows. Wide: A = M^T = Ṽ S Ũ^T, so U = vRows^T and
  // V^T = uRows.
  const uT = tall ? uRows : vRows; // row i = column i of U (length m)
  const vt = tall ? vRows : uRows; // row i = row i of V^T (length n)
  for (let i = 0; i < k; i++) {
    if (normaliseSign(uT, i * m, m)) {
      for (let j = 0; j < n; j++) vt[i * n + j] = -vt[i * n + j]!;
    }
  }
  const u = new Float64Array(m * k);
  for (let i = 0; i < k; i++) for (let r = 0; r < m; r++) u[r * k + i] = uT[i * m + r]!;
  return { u: { rows: m, cols: k, data: u }, s, vt: { rows: k, cols: n, data: vt } };
}

/**
 * One-sided Jacobi on the q columns (each of length p >= q) stored as the rows of G, destroyed.
 * Returns the singular values descending, the left singular vectors as rows (q x p) and the right
 * singular vectors as rows (q x q).
 */
function oneSidedJacobi(G: Float64Array, q: number, p: number): { s: Float64Array; uRows: Float64Array; vRows: Float64Array } {
  // Rescale badly scaled input so that sums of squares neither overflow nor underflow; matrices
  // of ordinary magnitude are left untouched (no rounding is introduced).
  let amax = 0;
  for (let i = 0; i < G.length; i++) amax = Math.max(amax, Math.abs(G[i]!));
  let factor = 1;
  if (amax > 0 && (amax > 1e100 || amax < 1e-100)) {
    factor = amax;
    for (let i = 0; i < G.length; i++) G[i]! /= factor;
  }

  // V accumulates the rotations; row i of V^T is column i of V.
  const V = new Float64Array(q * q);
  for (let i = 0; i < q; i++) V[i * q + i] = 1;
  // Columns count as orthogonal when |g_i . g_j| <= tol ||g_i|| ||g_j|| (a relative test, so the
  // columns of tiny norm become orthogonal as accurately as the large ones). sqrt(p) eps is the
  // rounding floor of a length-p dot product (as in LAPACK's dgesvj).
  const tol = Math.sqrt(p) * EPS;
  for (let sweep = 0; sweep < JACOBI_MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let i = 0; i < q - 1; i++) {
      const gi = i * p;
      for (let j = i + 1; j < q; j++) {
        const gj = j * p;
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let r = 0; r < p; r++) {
          const x = G[gi + r]!;
          const y = G[gj + r]!;
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (Math.abs(gamma) <= tol * Math.sqrt(alpha) * Math.sqrt(beta)) continue;
        rotated = true;
        // The rotation [c s; -s c] that zeroes the off-diagonal of the 2x2 Gram matrix
        // [alpha gamma; gamma beta]; t = tan(theta) is the smaller root of t^2 + 2 zeta t - 1 = 0
        // (Golub & Van Loan sec. 8.5.2), which keeps the rotation angle <= pi/4.
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.hypot(1, zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const sn = c * t;
        for (let r = 0; r < p; r++) {
          const x = G[gi + r]!;
          const y = G[gj + r]!;
          G[gi + r] = c * x - sn * y;
          G[gj + r] = sn * x + c * y;
        }
        const vi = i * q;
        const vj = j * q;
        for (let r = 0; r < q; r++) {
          const x = V[vi + r]!;
          const y = V[vj + r]!;
          V[vi + r] = c * x - sn * y;
          V[vj + r] = sn * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }

  // The columns are now M v_i = s_i u_i.
  const norms = new Float64Array(q);
  for (let i = 0; i < q; i++) {
    let ss = 0;
    for (let r = 0; r < p; r++) ss += G[i * p + r]! * G[i * p + r]!;
    norms[i] = Math.sqrt(ss);
  }
  // Descending, ties in original column order (deterministic).
  const idx = Array.from({ length: q }, (_, i) => i).sort((x, y) => norms[y]! - norms[x]! || x - y);
  const s = new Float64Array(q);
  const uRows = new Float64Array(q * p);
  const vRows = new Float64Array(q * q);
  const smax = q > 0 ? norms[idx[0]!]! : 0;
  const zeroTol = Math.max(p, q) * EPS * smax;
  const chosen: number[] = []; // outputs with a well-defined left singular vector
  const pending: number[] = []; // outputs that need an orthonormal completion
  for (let o = 0; o < q; o++) {
    const i = idx[o]!;
    const si = norms[i]!;
    s[o] = si * factor;
    vRows.set(V.subarray(i * q, (i + 1) * q), o * q);
    if (si > zeroTol) {
      const inv = 1 / si;
      for (let r = 0; r < p; r++) uRows[o * p + r] = G[i * p + r]! * inv;
      chosen.push(o);
    } else {
      pending.push(o);
    }
  }
  // Complete only after every well-defined vector is known, so each completion is orthogonal to
  // all of them (and to the completions before it).
  for (const o of pending) {
    completeColumn(uRows, o, chosen, p);
    chosen.push(o);
  }
  return { s, uRows, vRows };
}

/**
 * Row `o` of U (q x p, rows = left singular vectors) becomes a unit vector orthogonal to the rows
 * listed in `chosen`. Start from the standard basis vector e_r whose projection onto their span is
 * smallest (||(I - Q Q^T) e_r||^2 = 1 - sum_u u_r^2 >= (p - |chosen|) / p, so it is never tiny),
 * then Gram-Schmidt twice.
 */
function completeColumn(U: Float64Array, o: number, chosen: readonly number[], p: number): void {
  let best = 0;
  let bestWeight = Infinity;
  for (let r = 0; r < p; r++) {
    let w = 0;
    for (const c of chosen) w += U[c * p + r]! * U[c * p + r]!;
    if (w < bestWeight) {
      bestWeight = w;
      best = r;
    }
  }
  const base = o * p;
  U.fill(0, base, base + p);
  U[base + best] = 1;
  for (let pass = 0; pass < 2; pass++) {
    for (const c of chosen) {
      let dot = 0;
      for (let r = 0; r < p; r++) dot += U[c * p + r]! * U[base + r]!;
      for (let r = 0; r < p; r++) U[base + r]! -= dot * U[c * p + r]!;
    }
  }
  let ss = 0;
  for (let r = 0; r < p; r++) ss += U[base + r]! * U[base + r]!;
  const inv = 1 / Math.sqrt(ss);
  for (let r = 0; r < p; r++) U[base + r]! *= inv;
}
