/**
 * The TypeScript kernels' matrix products, row-major float64:
 *
 * - rowDots / listedRowDots: out[i nb + j] = a_i . b_j, dot products of rows of length k (a_i row i
 *   of `a`, or row rows[i]): a design's correlations with the residuals (X^T R), products with a long
 *   inner dimension (A B^T). Each product is summed in the "paired" order: one sum over the products
 *   at even positions and one over those at odd positions, each in increasing position; the last
 *   product of an odd length joins the even sum; the result is even + odd.
 * - multiply: c = a b (m x k times k x n), each entry one sum over the inner index in increasing
 *   order, from zero.
 *
 * Where WebAssembly SIMD runs (x86-64 CPUs with SSE4.1, arm64) the products run in
 * wasm/products.wat, two at a time (the paired order's two sums are the two lanes of a vector;
 * multiply's lanes are two adjacent entries of c), at three to four times the scalar loops' speed.
 * Elsewhere, and for calls too small to be worth the copies, the scalar loops below run the same
 * operations in the same order and give the same bits: the TypeScript backend's results do not
 * depend on the CPU.
 *
 * The WebAssembly code reads its own memory (moduleMemory.ts): the operands are copied into a region
 * of it per call, rowDots' a a panel at a time (small enough to stay in the L2 cache while b's rows
 * pass over it), except rows of an `a` that is in that memory already (a fit's transposed design),
 * read where they are. A call whose region the memory cannot hold runs the scalar loops instead.
 */
import { MAX_MODULE_BYTES, giveRegion, moduleAddress, productsModule, takeRegion, type ProductsModule } from './moduleMemory.js';

export { wasmMemoryBuffer, wasmSimdActive } from './moduleMemory.js';

/**
 * A call runs the scalar loop (same bits, no copies) below this many multiply-adds, or below
 * COPY_RATIO multiply-adds per value copied in and out: a copied value costs about what the scalar
 * loop's multiply-add costs and five times the module's (a matrix-vector product is faster as it is).
 */
const MIN_MODULE_PRODUCTS = 4096;
const COPY_RATIO = 2;
/** A panel of a's rows (2^15 values, 256 KiB) stays in L2 while the rows of b stream past it. */
const PANEL_VALUES = 32768;

/** The module, when a call of `work` multiply-adds over `values` values (in and out) is worth running in it. */
function moduleFor(work: number, values: number): ProductsModule | null {
  if (work < MIN_MODULE_PRODUCTS || work < COPY_RATIO * values || values * 8 > MAX_MODULE_BYTES) return null;
  return productsModule();
}

/** out[i nb + j] = a_i . b_j for the first m rows of a (m x k), b (nb x k), out (m x nb). */
export function rowDots(a: Float64Array, m: number, b: Float64Array, nb: number, k: number, out: Float64Array): void {
  runRowDots(a, (i) => i * k, m, b, nb, k, out);
}

/** out[i nb + j] = a_{rows[i]} . b_j: the listed rows of a (rows of length k), b (nb x k), out (rows.length x nb). */
export function listedRowDots(a: Float64Array, rows: Int32Array, b: Float64Array, nb: number, k: number, out: Float64Array): void {
  runRowDots(a, (i) => rows[i]! * k, rows.length, b, nb, k, out);
}

function runRowDots(a: Float64Array, offsetOf: (i: number) => number, m: number, b: Float64Array, nb: number, k: number, out: Float64Array): void {
  // a's rows are read where they are when a is in the module's memory and the listed rows come in
  // runs of four consecutive rows on average (the module's tiles take four rows); else they are
  // copied in, a panel at a time (and count among the values copied).
  const aAddress = moduleAddress(a);
  const inPlace = aAddress >= 0 && 4 * rowRuns(offsetOf, m, k) <= m;
  const wasm = moduleFor(m * nb * k, nb * k + (inPlace ? 0 : m * k) + m * nb);
  const panel = Math.min(m, Math.max(4, Math.floor(PANEL_VALUES / Math.max(k, 1) / 4) * 4));
  const bValues = nb * k;
  const aValues = inPlace ? 0 : panel * k;
  const H = wasm === null ? null : takeRegion(bValues + aValues + panel * nb);
  if (wasm === null || H === null) {
    scalarRowDots(a, offsetOf, m, b, nb, k, out);
    return;
  }
  try {
    const base = H.byteOffset;
    const aAt = bValues;
    const outAt = aAt + aValues;
    H.set(b.subarray(0, bValues), 0);
    for (let i0 = 0; i0 < m; ) {
      let h: number;
      if (inPlace) {
        const o = offsetOf(i0);
        h = 1;
        while (h < panel && i0 + h < m && offsetOf(i0 + h) === o + h * k) h++;
        wasm.rowDots(aAddress + 8 * o, h, base, nb, k, base + 8 * outAt);
      } else {
        h = Math.min(panel, m - i0);
        for (let i = 0; i < h; i++) {
          const o = offsetOf(i0 + i);
          H.set(a.subarray(o, o + k), aAt + i * k);
        }
        wasm.rowDots(base + 8 * aAt, h, base, nb, k, base + 8 * outAt);
      }
      out.set(H.subarray(outAt, outAt + h * nb), i0 * nb);
      i0 += h;
    }
  } finally {
    giveRegion(H);
  }
}

/** How many runs of consecutive rows (offsets k apart) the m listed rows make. */
function rowRuns(offsetOf: (i: number) => number, m: number, k: number): number {
  let runs = m > 0 ? 1 : 0;
  for (let i = 1; i < m; i++) if (offsetOf(i) !== offsetOf(i - 1) + k) runs++;
  return runs;
}

/** Whether multiply(a, m, k, b, n, out) runs in the WebAssembly module (else in its scalar loop). */
export function multiplyRunsInModule(m: number, k: number, n: number): boolean {
  return moduleFor(m * n * k, m * k + k * n + m * n) !== null;
}

/** out = a b for a (m x k) and b (k x n), out (m x n): each entry summed over the inner index in order. */
export function multiply(a: Float64Array, m: number, k: number, b: Float64Array, n: number, out: Float64Array): void {
  const values = m * k + k * n + m * n;
  const wasm = moduleFor(m * n * k, values);
  const H = wasm === null ? null : takeRegion(values);
  if (wasm === null || H === null) {
    scalarMultiply(a, m, k, b, n, out);
    return;
  }
  try {
    const base = H.byteOffset;
    const bAt = m * k;
    const cAt = bAt + k * n;
    H.set(a.subarray(0, m * k), 0);
    H.set(b.subarray(0, k * n), bAt);
    wasm.multiply(base, m, k, base + 8 * bAt, n, base + 8 * cAt);
    out.set(H.subarray(cAt, cAt + m * n));
  } finally {
    giveRegion(H);
  }
}

/**
 * The scalar multiply: i-p-j order, so the innermost loop runs along contiguous rows of b and out;
 * four rows of out at a time, so that every value of b loaded serves four multiply-adds.
 */
function scalarMultiply(A: Float64Array, m: number, k: number, B: Float64Array, n: number, C: Float64Array): void {
  C.fill(0, 0, m * n);
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const a0 = i * k;
    const a1 = a0 + k;
    const a2 = a1 + k;
    const a3 = a2 + k;
    const c0 = i * n;
    const c1 = c0 + n;
    const c2 = c1 + n;
    const c3 = c2 + n;
    for (let p = 0; p < k; p++) {
      const x0 = A[a0 + p]!;
      const x1 = A[a1 + p]!;
      const x2 = A[a2 + p]!;
      const x3 = A[a3 + p]!;
      const bBase = p * n;
      for (let j = 0; j < n; j++) {
        const y = B[bBase + j]!;
        C[c0 + j]! += x0 * y;
        C[c1 + j]! += x1 * y;
        C[c2 + j]! += x2 * y;
        C[c3 + j]! += x3 * y;
      }
    }
  }
  for (; i < m; i++) {
    const aBase = i * k;
    const cBase = i * n;
    for (let p = 0; p < k; p++) {
      const x = A[aBase + p]!;
      const bBase = p * n;
      for (let j = 0; j < n; j++) C[cBase + j]! += x * B[bBase + j]!;
    }
  }
}

/**
 * The scalar loops alone, whatever this process runs: what a CPU without WebAssembly SIMD computes
 * (the tests compare the two paths in one process).
 */
export const scalarLoops = {
  rowDots(a: Float64Array, m: number, b: Float64Array, nb: number, k: number, out: Float64Array): void {
    scalarRowDots(a, (i) => i * k, m, b, nb, k, out);
  },
  listedRowDots(a: Float64Array, rows: Int32Array, b: Float64Array, nb: number, k: number, out: Float64Array): void {
    scalarRowDots(a, (i) => rows[i]! * k, rows.length, b, nb, k, out);
  },
  multiply(a: Float64Array, m: number, k: number, b: Float64Array, n: number, out: Float64Array): void {
    scalarMultiply(a, m, k, b, n, out);
  },
};

// ---------------------------------------------------------------------------------------------
// The scalar rowDots: rows of a three at a time against two rows of b, each of the six products in
// two sums, even and odd positions (twelve sums: the most V8 keeps in registers; measured faster
// than four rows by two, whose sixteen spill). The tiling does not change the bits: every product
// is summed in the paired order whichever tile computes it.
// ---------------------------------------------------------------------------------------------

function scalarRowDots(a: Float64Array, offsetOf: (i: number) => number, m: number, b: Float64Array, nb: number, k: number, out: Float64Array): void {
  let i = 0;
  for (; i + 3 <= m; i += 3) {
    const a0 = offsetOf(i);
    const a1 = offsetOf(i + 1);
    const a2 = offsetOf(i + 2);
    let j = 0;
    for (; j + 2 <= nb; j += 2) tile3x2(a, a0, a1, a2, b, j * k, (j + 1) * k, k, out, i * nb + j, nb);
    for (; j < nb; j++) {
      out[i * nb + j] = pairedDot(a, a0, b, j * k, k);
      out[(i + 1) * nb + j] = pairedDot(a, a1, b, j * k, k);
      out[(i + 2) * nb + j] = pairedDot(a, a2, b, j * k, k);
    }
  }
  for (; i < m; i++) {
    const ai = offsetOf(i);
    for (let j = 0; j < nb; j++) out[i * nb + j] = pairedDot(a, ai, b, j * k, k);
  }
}

/** x[xo..xo+k) . y[yo..yo+k) in the paired order. */
function pairedDot(x: Float64Array, xo: number, y: Float64Array, yo: number, k: number): number {
  const pairs = k - (k & 1);
  let even = 0;
  let odd = 0;
  for (let p = 0; p < pairs; p += 2) {
    even += x[xo + p]! * y[yo + p]!;
    odd += x[xo + p + 1]! * y[yo + p + 1]!;
  }
  if (pairs < k) even += x[xo + pairs]! * y[yo + pairs]!;
  return even + odd;
}

/** Rows a0..a2 of A against rows b0, b1 of B into out[o + r ldo + c], each in the paired order. */
function tile3x2(
  A: Float64Array, a0: number, a1: number, a2: number, B: Float64Array, b0: number, b1: number, k: number,
  out: Float64Array, o: number, ldo: number,
): void {
  const pairs = k - (k & 1);
  let e00 = 0, e01 = 0, e10 = 0, e11 = 0, e20 = 0, e21 = 0;
  let o00 = 0, o01 = 0, o10 = 0, o11 = 0, o20 = 0, o21 = 0;
  for (let p = 0; p < pairs; p += 2) {
    let u = B[b0 + p]!;
    let v = B[b1 + p]!;
    let x0 = A[a0 + p]!;
    let x1 = A[a1 + p]!;
    let x2 = A[a2 + p]!;
    e00 += x0 * u;
    e01 += x0 * v;
    e10 += x1 * u;
    e11 += x1 * v;
    e20 += x2 * u;
    e21 += x2 * v;
    u = B[b0 + p + 1]!;
    v = B[b1 + p + 1]!;
    x0 = A[a0 + p + 1]!;
    x1 = A[a1 + p + 1]!;
    x2 = A[a2 + p + 1]!;
    o00 += x0 * u;
    o01 += x0 * v;
    o10 += x1 * u;
    o11 += x1 * v;
    o20 += x2 * u;
    o21 += x2 * v;
  }
  if (pairs < k) {
    const u = B[b0 + pairs]!;
    const v = B[b1 + pairs]!;
    e00 += A[a0 + pairs]! * u;
    e01 += A[a0 + pairs]! * v;
    e10 += A[a1 + pairs]! * u;
    e11 += A[a1 + pairs]! * v;
    e20 += A[a2 + pairs]! * u;
    e21 += A[a2 + pairs]! * v;
  }
  out[o] = e00 + o00;
  out[o + 1] = e01 + o01;
  out[o + ldo] = e10 + o10;
  out[o + ldo + 1] = e11 + o11;
  out[o + 2 * ldo] = e20 + o20;
  out[o + 2 * ldo + 1] = e21 + o21;
}
