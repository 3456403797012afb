/**
 * 3 x 3 convolutions at stride 1 with one pixel of zero padding by Winograd's minimal filtering
 * algorithm F(2 x 2, 3 x 3) (Lavin & Gray, "Fast algorithms for convolutional neural networks",
 * CVPR 2016; twin: native/src/kernels/winograd.cc). For each 2 x 2 tile of output pixels and its
 * 4 x 4 input patch d_c in channel c:
 *
 *     Y_f(tile) = A^T [ sum_c U_fc (.) V_c(tile) ] A,   U_fc = G g_fc G^T,   V_c = B^T d_c B
 *
 *     B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
 *     A^T = [1 1 1 0; 0 1 -1 -1]
 *
 * The sum over c is, for each of the 16 transform elements e, one matrix product
 * M[e] = U[e] V[e] (F x C times C x tiles): 2.25 times fewer multiply-adds than the direct form.
 * The data gradient is the same convolution of GY with the kernels turned by 180 degrees and the
 * channels swapped; the weight gradient follows by the chain rule: with Z_f(t) = A GY_f(t) A^T,
 * dU[e] = sum_t Z[e, ., t] V[e, ., t]^T and gW_fc = G^T dU_fc G. conv.ts uses this form for the
 * geometries `winogradApplies` accepts, the same ones as the native kernels, so both backends
 * compute the same algorithm.
 */
import type { FloatArray } from '../../core/matrix.js';
import type { Geometry } from '../networkSpec.js';
import { gemmAcc } from './networkOp.js';

/** Below this many channels on either side the transforms cost more than the products save. */
const MIN_CHANNELS = 16;

/** 3 x 3 kernel, stride 1, one pixel of padding (output as large as the input), 16+ channels each side. */
export function winogradApplies(g: Geometry): boolean {
  return (
    g.kh === 3 && g.kw === 3 && g.sh === 1 && g.sw === 1 && g.ph === 1 && g.pw === 1 && g.ho === g.h && g.wo === g.w &&
    g.c >= MIN_CHANNELS && g.f >= MIN_CHANNELS
  );
}

/** Scratch buffers by name, at least `length` long (the handle's per-node buffers). */
export type Scratch = (name: string, length: number) => Float64Array;

/**
 * U[e, r, q] (at e rows cols + r cols + q) from the F x C kernels W (float64, F x C x 3 x 3): rows
 * F and columns C ('forward'), or the kernels of the data gradient g'_cf(i, j) = g_fc(2 - i, 2 - j)
 * with rows C and columns F ('turned').
 */
function transformKernels(F: number, C: number, W: Float64Array, which: 'forward' | 'turned', u: Float64Array): void {
  const turned = which === 'turned';
  const rows = turned ? C : F;
  const cols = turned ? F : C;
  const plane = rows * cols;
  const g = new Float64Array(9);
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < cols; q++) {
      const k = ((turned ? q : r) * C + (turned ? r : q)) * 9;
      for (let p = 0; p < 9; p++) g[p] = turned ? W[k + 8 - p]! : W[k + p]!;
      const at = r * cols + q;
      // t = G g (4 x 3), then t G^T (4 x 4).
      for (let i = 0; i < 4; i++) {
        let t0: number, t1: number, t2: number;
        if (i === 0) [t0, t1, t2] = [g[0]!, g[1]!, g[2]!];
        else if (i === 3) [t0, t1, t2] = [g[6]!, g[7]!, g[8]!];
        else {
          const s = i === 1 ? 1 : -1;
          t0 = 0.5 * (g[0]! + s * g[3]! + g[6]!);
          t1 = 0.5 * (g[1]! + s * g[4]! + g[7]!);
          t2 = 0.5 * (g[2]! + s * g[5]! + g[8]!);
        }
        u[(i * 4) * plane + at] = t0;
        u[(i * 4 + 1) * plane + at] = 0.5 * (t0 + t1 + t2);
        u[(i * 4 + 2) * plane + at] = 0.5 * (t0 - t1 + t2);
        u[(i * 4 + 3) * plane + at] = t2;
      }
    }
  }
}

/** V[e, c, tile] (at e C T + c T + tile) of image n of X (C planes of H x W). */
function transformInput(g: Geometry, X: FloatArray, n: number, th: number, tw: number, v: Float64Array): void {
  const { c: C, h: H, w: W } = g;
  const T = th * tw;
  const plane = C * T;
  const at = (base: number, y: number, x: number): number => (y >= 0 && y < H && x >= 0 && x < W ? X[base + y * W + x]! : 0);
  const d = new Float64Array(16);
  for (let c = 0; c < C; c++) {
    const base = (n * C + c) * H * W;
    for (let ty = 0; ty < th; ty++) {
      for (let tx = 0; tx < tw; tx++) {
        for (let r = 0; r < 4; r++) for (let q = 0; q < 4; q++) d[r * 4 + q] = at(base, 2 * ty - 1 + r, 2 * tx - 1 + q);
        // t = B^T d (rows) in place, then t B (columns).
        for (let q = 0; q < 4; q++) {
          const d0 = d[q]!, d1 = d[4 + q]!, d2 = d[8 + q]!, d3 = d[12 + q]!;
          d[q] = d0 - d2;
          d[4 + q] = d1 + d2;
          d[8 + q] = d2 - d1;
          d[12 + q] = d1 - d3;
        }
        const o = c * T + ty * tw + tx;
        for (let i = 0; i < 4; i++) {
          const t0 = d[i * 4]!, t1 = d[i * 4 + 1]!, t2 = d[i * 4 + 2]!, t3 = d[i * 4 + 3]!;
          v[(i * 4) * plane + o] = t0 - t2;
          v[(i * 4 + 1) * plane + o] = t1 + t2;
          v[(i * 4 + 2) * plane + o] = t2 - t1;
          v[(i * 4 + 3) * plane + o] = t1 - t3;
        }
      }
    }
  }
}

/** Y[image n] (F planes of ho x wo) += A^T M[., f, tile] A (or = bias + it, when `bias` is given). */
function transformOutput(g: Geometry, m: Float64Array, th: number, tw: number, Y: FloatArray, n: number, bias: ((f: number) => number) | null): void {
  const { f: F, ho, wo } = g;
  const T = th * tw;
  const plane = F * T;
  const s = new Float64Array(4);
  for (let f = 0; f < F; f++) {
    const out = (n * F + f) * ho * wo;
    const b = bias ? bias(f) : 0;
    for (let ty = 0; ty < th; ty++) {
      for (let tx = 0; tx < tw; tx++) {
        const o = f * T + ty * tw + tx;
        for (let a = 0; a < 2; a++) {
          const oy = 2 * ty + a;
          if (oy >= ho) break;
          // s_a = (A^T e)_a, then (s_a A): columns 0 and 1.
          for (let j = 0; j < 4; j++) {
            const e0 = m[j * plane + o]!, e1 = m[(4 + j) * plane + o]!, e2 = m[(8 + j) * plane + o]!, e3 = m[(12 + j) * plane + o]!;
            s[j] = a === 0 ? e0 + e1 + e2 : e1 - e2 - e3;
          }
          const k = out + oy * wo + 2 * tx;
          const r0 = s[0]! + s[1]! + s[2]!;
          Y[k] = bias ? b + r0 : Y[k]! + r0;
          if (2 * tx + 1 < wo) {
            const r1 = s[1]! - s[2]! - s[3]!;
            Y[k + 1] = bias ? b + r1 : Y[k + 1]! + r1;
          }
        }
      }
    }
  }
}

/** Z[e, tile, f] (at e T F + tile F + f) = (A GY_f(tile) A^T)[e] of image n of GY (F planes of ho x wo). */
function transformGradient(g: Geometry, GY: Float64Array, n: number, th: number, tw: number, z: Float64Array): void {
  const { f: F, ho, wo } = g;
  const T = th * tw;
  const plane = T * F;
  const r = new Float64Array(8);
  for (let f = 0; f < F; f++) {
    const base = (n * F + f) * ho * wo;
    const at = (y: number, x: number): number => (y < ho && x < wo ? GY[base + y * wo + x]! : 0);
    for (let ty = 0; ty < th; ty++) {
      for (let tx = 0; tx < tw; tx++) {
        const d00 = at(2 * ty, 2 * tx), d01 = at(2 * ty, 2 * tx + 1), d10 = at(2 * ty + 1, 2 * tx), d11 = at(2 * ty + 1, 2 * tx + 1);
        // r = A d (4 x 2), then r A^T (4 x 4); A = [1 0; 1 1; 1 -1; 0 -1].
        r[0] = d00;
        r[1] = d01;
        r[2] = d00 + d10;
        r[3] = d01 + d11;
        r[4] = d00 - d10;
        r[5] = d01 - d11;
        r[6] = -d10;
        r[7] = -d11;
        const o = (ty * tw + tx) * F + f;
        for (let i = 0; i < 4; i++) {
          const r0 = r[2 * i]!, r1 = r[2 * i + 1]!;
          z[(i * 4) * plane + o] = r0;
          z[(i * 4 + 1) * plane + o] = r0 + r1;
          z[(i * 4 + 2) * plane + o] = r0 - r1;
          z[(i * 4 + 3) * plane + o] = -r1;
        }
      }
    }
  }
}

/** The convolution of the `count` images of X with the transformed kernels u (16 x g.f x g.c) into Y. */
function convolve(g: Geometry, count: number, X: FloatArray, u: Float64Array, Y: FloatArray, bias: ((f: number) => number) | null, scratch: Scratch): void {
  const th = (g.ho + 1) >> 1;
  const tw = (g.wo + 1) >> 1;
  const T = th * tw;
  const { c: C, f: F } = g;
  const v = scratch('winogradV', 16 * C * T);
  const m = scratch('winogradM', 16 * F * T);
  for (let n = 0; n < count; n++) {
    transformInput(g, X, n, th, tw, v);
    m.fill(0, 0, 16 * F * T);
    for (let e = 0; e < 16; e++) gemmAcc(F, T, C, u, e * F * C, C, 1, v, e * C * T, T, 1, m, e * F * T, T);
    transformOutput(g, m, th, tw, Y, n, bias);
  }
}

/** Y (+)= conv(X, W) for `count` images; with `bias`, Y = bias(f) + conv(X, W). W: float64, F x C x 3 x 3. */
export function winogradConv(g: Geometry, count: number, X: FloatArray, W: Float64Array, Y: FloatArray, bias: ((f: number) => number) | null, scratch: Scratch): void {
  const u = scratch('winogradU', 16 * g.f * g.c);
  transformKernels(g.f, g.c, W, 'forward', u);
  convolve(g, count, X, u, Y, bias, scratch);
}

/** GX += convT(GY, W): the 'same' convolution of GY (float64) with the turned, channel-swapped kernels. */
export function winogradConvT(g: Geometry, count: number, GY: Float64Array, W: Float64Array, GX: FloatArray, scratch: Scratch): void {
  const u = scratch('winogradU', 16 * g.f * g.c);
  transformKernels(g.f, g.c, W, 'turned', u);
  convolve({ ...g, c: g.f, f: g.c }, count, GY, u, GX, null, scratch);
}

/**
 * acc[off + (f C + c) 9 + k] += the weight gradient sum_n corr(X_n, GY_n) of `count` images, and,
 * when bOff >= 0, acc[bOff + f] += the sums of GY's planes (the bias gradient). GY is float64.
 */
export function winogradCorr(g: Geometry, count: number, X: FloatArray, GY: Float64Array, acc: Float64Array, off: number, bOff: number, scratch: Scratch): void {
  const th = (g.ho + 1) >> 1;
  const tw = (g.wo + 1) >> 1;
  const T = th * tw;
  const { c: C, f: F } = g;
  const v = scratch('winogradV', 16 * C * T);
  const z = scratch('winogradM', 16 * F * T);
  // dU^T[e] (C x F) += V[e] (C x T) Z[e] (T x F), over the images.
  const du = scratch('winogradU', 16 * F * C);
  du.fill(0, 0, 16 * F * C);
  for (let n = 0; n < count; n++) {
    transformInput(g, X, n, th, tw, v);
    transformGradient(g, GY, n, th, tw, z);
    for (let e = 0; e < 16; e++) gemmAcc(C, F, T, v, e * C * T, T, 1, z, e * T * F, F, 1, du, e * C * F, F);
  }
  // gW_fc += G^T dU_fc G; G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1].
  const uu = new Float64Array(16);
  const t = new Float64Array(12);
  for (let f = 0; f < F; f++) {
    for (let c = 0; c < C; c++) {
      for (let e = 0; e < 16; e++) uu[e] = du[(e * C + c) * F + f]!;
      for (let j = 0; j < 4; j++) {
        t[j] = uu[j]! + 0.5 * (uu[4 + j]! + uu[8 + j]!);
        t[4 + j] = 0.5 * (uu[4 + j]! - uu[8 + j]!);
        t[8 + j] = 0.5 * (uu[4 + j]! + uu[8 + j]!) + uu[12 + j]!;
      }
      const k = off + (f * C + c) * 9;
      for (let i = 0; i < 3; i++) {
        const t0 = t[i * 4]!, t1 = t[i * 4 + 1]!, t2 = t[i * 4 + 2]!, t3 = t[i * 4 + 3]!;
        acc[k + i * 3]! += t0 + 0.5 * (t1 + t2);
        acc[k + i * 3 + 1]! += 0.5 * (t1 - t2);
        acc[k + i * 3 + 2]! += 0.5 * (t1 + t2) + t3;
      }
    }
  }
  if (bOff < 0) return;
  const hwo = g.ho * g.wo;
  for (let n = 0; n < count; n++) {
    for (let f = 0; f < F; f++) {
      const o = (n * F + f) * hwo;
      let s = 0;
      for (let p = 0; p < hwo; p++) s += GY[o + p]!;
      acc[bOff + f]! += s;
    }
  }
}
