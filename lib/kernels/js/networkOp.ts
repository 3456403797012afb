/**
 * The contract between the TypeScript network handle (network.ts) and its ops (network.ts,
 * conv.ts, batchnorm.ts, pool.ts): the per-batch-size workspace, the context of one pass, the
 * four functions every op implements, and the float64 helpers the products share.
 */
import type { FloatArray } from '../../core/matrix.js';
import { multiply, multiplyRunsInModule } from './products.js';
import { scratchDoubles, type ScratchSlot } from './scratch.js';

/** Buffers for batches of up to n rows (a call uses the first rows), reused across calls (no allocation in steady state). */
export interface Workspace {
  n: number;
  /** Activations by node; A[0] is replaced by the caller's x on every call. */
  A: FloatArray[];
  /** dL/dA by node. */
  G: FloatArray[];
  /** R{A}, R{G} (allocated on the first hvp). */
  RA: FloatArray[] | null;
  RG: FloatArray[] | null;
  /** Layer normalisation caches by node: xhat and 1/std (forward), R{xhat} and R{std^-1}/std^-1 (R-forward). */
  xhat: (Float64Array | null)[];
  invStd: (Float64Array | null)[];
  rxhat: (Float64Array | null)[];
  rsRel: (Float64Array | null)[];
  /** Float64 copies of activations read by dense layers (act64), valid when A64pass[i] is the pass. */
  A64: (Float64Array | null)[];
  A64pass: Float64Array;
  /** Three float64 scratch matrices of n x the widest node, for dense operands (f64). */
  m64: Float64Array[];
  /** Further per-node buffers of this batch size, by `${node}:${name}` (nodeBuffer). */
  extra: Map<string, Float64Array | Uint8Array>;
}

/** Everything one pass reads and writes. */
export interface Ctx {
  n: number;
  P: FloatArray;
  V: FloatArray | null;
  ws: Workspace;
  A: FloatArray[];
  G: FloatArray[];
  RA: FloatArray[];
  RG: FloatArray[];
  /** Parameter gradient and R{gradient} = H v, in double. */
  g: Float64Array;
  rg: Float64Array;
  masks: ReadonlyMap<number, FloatArray> | undefined;
  /** Double scratch row of the widest node. */
  row: Float64Array;
  /** Float64 scratch for one dense weight matrix (the largest). */
  w64: Float64Array;
  /** Distinguishes the calls (act64's cache key). */
  pass: number;
  m64: Float64Array[];
  /** Batch normalisation: running statistics to use (null: the batch's own), and where to write the batch's. */
  running: FloatArray | null;
  batchOut: Float64Array | null;
}

export interface OpImpl {
  forward(c: Ctx): void;
  /** Adds dL/d(inputs) into G of the inputs and dL/dparams into c.g. */
  backward(c: Ctx): void;
  rForward(c: Ctx): void;
  /** Adds R{dL/d(inputs)} into RG and R{dL/dparams} into c.rg. */
  rBackward(c: Ctx): void;
}

/** src[0, len) as float64: src itself for a float64 network, else a copy into buf. */
export function f64(src: FloatArray, len: number, buf: Float64Array): Float64Array {
  if (src instanceof Float64Array) return src;
  for (let k = 0; k < len; k++) buf[k] = src[k]!;
  return buf;
}

/**
 * Activation `node` (width w) as float64, converted once per pass and shared by every dense
 * layer reading it (the 8 heads of a hard-sharing net read one trunk output) and by forward and backward.
 */
export function act64(c: Ctx, node: number, w: number): Float64Array {
  const ws = c.ws;
  const src = c.A[node]!;
  if (src instanceof Float64Array) return src;
  let buf = ws.A64[node];
  if (!buf) buf = ws.A64[node] = new Float64Array(ws.n * w); // the workspace's rows: later calls may have more than this one
  if (ws.A64pass[node] !== c.pass) {
    for (let k = 0; k < c.n * w; k++) buf[k] = src[k]!;
    ws.A64pass[node] = c.pass;
  }
  return buf;
}

/**
 * C[i, j] += sum_p A(i, p) B(p, j) for i < M, j < N, p < K, where A(i, p) = A[aOff + i aI + p aP],
 * B(p, j) = B[bOff + p bP + j bJ] and C[i, j] = C[cOff + i cI + j]: one routine for X W, G W^T
 * and X^T G. Each sum runs over p in order from zero and is then added to C, on both paths below:
 * where products.ts' multiply would run in WebAssembly SIMD, the operands are laid out row-major (a
 * copy of O(MK + KN) values for O(MNK) work) and multiplied by it; elsewhere by 4 x 4 register blocks
 * (16 double accumulators, each loaded value used 4 times, about 4x faster in V8 than a plain
 * i-k-j loop, measured on a 128-256-256 net).
 */
export function gemmAcc(
  M: number, N: number, K: number,
  A: Float64Array, aOff: number, aI: number, aP: number,
  B: Float64Array, bOff: number, bP: number, bJ: number,
  C: FloatArray, cOff: number, cI: number,
): void {
  if (!multiplyRunsInModule(M, K, N)) {
    gemmAccBlocked(M, N, K, A, aOff, aI, aP, B, bOff, bP, bJ, C, cOff, cI);
    return;
  }
  const a = aP === 1 && aI === K ? A.subarray(aOff, aOff + M * K) : rowMajor(A, aOff, aI, aP, M, K, 'networkA');
  const b = bJ === 1 && bP === N ? B.subarray(bOff, bOff + K * N) : rowMajor(B, bOff, bP, bJ, K, N, 'networkB');
  const product = scratchDoubles('networkProduct', M * N);
  multiply(a, M, K, b, N, product);
  for (let i = 0; i < M; i++) {
    const o = cOff + i * cI;
    for (let j = 0; j < N; j++) C[o + j]! += product[i * N + j]!;
  }
}

/** rows x cols values src[off + r rowStride + c colStride] as a row-major copy in `slot`'s scratch. */
function rowMajor(src: Float64Array, off: number, rowStride: number, colStride: number, rows: number, cols: number, slot: ScratchSlot): Float64Array {
  const out = scratchDoubles(slot, rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = off + r * rowStride;
    for (let c = 0; c < cols; c++) out[r * cols + c] = src[o + c * colStride]!;
  }
  return out;
}

/** gemmAcc by 4 x 4 register blocks. */
function gemmAccBlocked(
  M: number, N: number, K: number,
  A: Float64Array, aOff: number, aI: number, aP: number,
  B: Float64Array, bOff: number, bP: number, bJ: number,
  C: FloatArray, cOff: number, cI: number,
): void {
  const M4 = M - (M % 4);
  const N4 = N - (N % 4);
  for (let i = 0; i < M4; i += 4) {
    const a0 = aOff + i * aI;
    const a1 = a0 + aI;
    const a2 = a1 + aI;
    const a3 = a2 + aI;
    for (let j = 0; j < N4; j += 4) {
      const b0 = bOff + j * bJ;
      const b1 = b0 + bJ;
      const b2 = b1 + bJ;
      const b3 = b2 + bJ;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let p = 0; p < K; p++) {
        const pa = p * aP;
        const pb = p * bP;
        const x0 = A[a0 + pa]!, x1 = A[a1 + pa]!, x2 = A[a2 + pa]!, x3 = A[a3 + pa]!;
        const w0 = B[b0 + pb]!, w1 = B[b1 + pb]!, w2 = B[b2 + pb]!, w3 = B[b3 + pb]!;
        s00 += x0 * w0; s01 += x0 * w1; s02 += x0 * w2; s03 += x0 * w3;
        s10 += x1 * w0; s11 += x1 * w1; s12 += x1 * w2; s13 += x1 * w3;
        s20 += x2 * w0; s21 += x2 * w1; s22 += x2 * w2; s23 += x2 * w3;
        s30 += x3 * w0; s31 += x3 * w1; s32 += x3 * w2; s33 += x3 * w3;
      }
      let o = cOff + i * cI + j;
      C[o]! += s00; C[o + 1]! += s01; C[o + 2]! += s02; C[o + 3]! += s03;
      o += cI;
      C[o]! += s10; C[o + 1]! += s11; C[o + 2]! += s12; C[o + 3]! += s13;
      o += cI;
      C[o]! += s20; C[o + 1]! += s21; C[o + 2]! += s22; C[o + 3]! += s23;
      o += cI;
      C[o]! += s30; C[o + 1]! += s31; C[o + 2]! += s32; C[o + 3]! += s33;
    }
    for (let j = N4; j < N; j++) gemmCol4(i, j, K, A, aOff, aI, aP, B, bOff, bP, bJ, C, cOff, cI);
  }
  for (let i = M4; i < M; i++) for (let j = 0; j < N; j++) gemmDot(i, 1, j, K, A, aOff, aI, aP, B, bOff, bP, bJ, C, cOff, cI);
}

/**
 * Column j of rows i..i+3 (the N % 4 edge; all of a 1-unit head's X w and X^T g): four dot
 * products in one pass over p, so four independent add chains instead of one (each sum keeps
 * its order, so the result equals four separate dot products).
 */
function gemmCol4(
  i: number, j: number, K: number,
  A: Float64Array, aOff: number, aI: number, aP: number,
  B: Float64Array, bOff: number, bP: number, bJ: number,
  C: FloatArray, cOff: number, cI: number,
): void {
  const a0 = aOff + i * aI;
  const a1 = a0 + aI;
  const a2 = a1 + aI;
  const a3 = a2 + aI;
  const bj = bOff + j * bJ;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (let p = 0; p < K; p++) {
    const pa = p * aP;
    const w = B[bj + p * bP]!;
    s0 += A[a0 + pa]! * w;
    s1 += A[a1 + pa]! * w;
    s2 += A[a2 + pa]! * w;
    s3 += A[a3 + pa]! * w;
  }
  const o = cOff + i * cI + j;
  C[o]! += s0;
  C[o + cI]! += s1;
  C[o + 2 * cI]! += s2;
  C[o + 3 * cI]! += s3;
}

/** The M % 4 edge of gemmAcc: rows i..i+rows-1 of column j, one dot product each. */
function gemmDot(
  i: number, rows: number, j: number, K: number,
  A: Float64Array, aOff: number, aI: number, aP: number,
  B: Float64Array, bOff: number, bP: number, bJ: number,
  C: FloatArray, cOff: number, cI: number,
): void {
  const bj = bOff + j * bJ;
  for (let ii = i; ii < i + rows; ii++) {
    const ai = aOff + ii * aI;
    let s = 0;
    for (let p = 0; p < K; p++) s += A[ai + p * aP]! * B[bj + p * bP]!;
    C[cOff + ii * cI + j]! += s;
  }
}

/**
 * A parameter-free op that is linear in its inputs (dropout with a fixed mask, concat, add): its
 * R-forward is its forward applied to R{inputs}, and its R-backward its backward applied to R{G}.
 */
export interface Linear {
  /** out = op(src inputs). */
  apply(c: Ctx, src: FloatArray[], out: FloatArray): void;
  /** dst inputs += op^T(gOut). */
  applyT(c: Ctx, gOut: FloatArray, dst: FloatArray[]): void;
  node: number;
}

export function linearOp(l: Linear): OpImpl {
  return {
    forward: (c) => l.apply(c, c.A, c.A[l.node]!),
    backward: (c) => l.applyT(c, c.G[l.node]!, c.G),
    rForward: (c) => l.apply(c, c.RA, c.RA[l.node]!),
    rBackward: (c) => l.applyT(c, c.RG[l.node]!, c.RG),
  };
}


/**
 * A float64 (or byte) buffer of `length` owned by node `node` under `name`, kept in the workspace
 * of this batch size: allocated on first use, then reused by every later call (contents persist
 * between the passes of one call, e.g. from forward to backward).
 */
export function nodeBuffer(c: Ctx, node: number, name: string, length: number): Float64Array;
export function nodeBuffer(c: Ctx, node: number, name: string, length: number, bytes: true): Uint8Array;
export function nodeBuffer(c: Ctx, node: number, name: string, length: number, bytes = false): Float64Array | Uint8Array {
  const key = `${node}:${name}`;
  let b = c.ws.extra.get(key);
  if (!b || b.length < length) {
    b = bytes ? new Uint8Array(length) : new Float64Array(length);
    c.ws.extra.set(key, b);
  }
  return b;
}
