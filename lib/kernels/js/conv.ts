/**
 * 2-d convolution of NCHW images (twin: native/src/kernels/conv.cc), as PyTorch's Conv2d
 * (cross-correlation): per image n and filter f,
 *     Y[n, f, oy, ox] = b[f] + sum_{c, i, j} W[f, c, i, j] X[n, c, oy sh + i - ph, ox sw + j - pw]
 * with X zero outside the image. Written with im2col (Chellapilla et al. 2006): the image's
 * patches as a K x HWo matrix (K = C kh kw, one column per output pixel), so that
 *     forward:        Y_n = W cols_n + b                     (F x K times K x HWo)
 *     data gradient:  GX_n += col2im(W^T GY_n)
 *     weight grad.:   gW += GY_n cols_n^T,  gb += row sums of GY_n
 * Convolution is bilinear in (X, W), so its R-operator has the dense layer's form:
 *     RY = conv(RX, W) + conv(X, VW) + vb
 *     RGX += convT(RGY, W) + convT(GY, VW);  RgW += corr(RX, GY) + corr(X, RGY);  Rgb += sums of RGY
 * The input node never needs a gradient, so the first convolution skips its data products.
 * 3 x 3 'same' convolutions on 16+ channels take Winograd's form (./winograd.ts), as natively.
 */
import type { FloatArray } from '../../core/matrix.js';
import type { Geometry } from '../networkSpec.js';
import { f64, gemmAcc, nodeBuffer, type Ctx, type OpImpl } from './networkOp.js';
import { winogradApplies, winogradConv, winogradConvT, winogradCorr, type Scratch } from './winograd.js';

/**
 * visit(col, src) for every entry of image n's patch matrix (K x HWo, row-major: col is the entry's
 * index), src the index in X of the pixel it reads, or -1 where it reads the zero padding.
 */
function eachPatchEntry(g: Geometry, n: number, visit: (col: number, src: number) => void): void {
  const { c: C, h: H, w: W, kh, kw, sh, sw, ph, pw, ho, wo } = g;
  const base = n * C * H * W;
  let col = 0;
  for (let ci = 0; ci < C; ci++) {
    const plane = base + ci * H * W;
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        for (let oy = 0; oy < ho; oy++) {
          const y = oy * sh + i - ph;
          for (let ox = 0; ox < wo; ox++, col++) {
            const x = ox * sw + j - pw;
            visit(col, y >= 0 && y < H && x >= 0 && x < W ? plane + y * W + x : -1);
          }
        }
      }
    }
  }
}

/** cols[K, HWo] = the patches of image `n` of X (float64). */
function im2col(g: Geometry, X: FloatArray, n: number, cols: Float64Array): void {
  eachPatchEntry(g, n, (col, src) => {
    cols[col] = src >= 0 ? X[src]! : 0;
  });
}

/** GX[image n] += col2im(dcols): every patch value back to the pixel it was read from. */
function col2im(g: Geometry, dcols: Float64Array, GX: FloatArray, n: number): void {
  eachPatchEntry(g, n, (col, src) => {
    if (src >= 0) GX[src]! += dcols[col]!;
  });
}

export function convOp(i: number, inp: number, g: Geometry, off: number): OpImpl {
  const F = g.f;
  const K = g.c * g.kh * g.kw;
  const hwo = g.ho * g.wo;
  const outW = F * hwo;
  const bOff = off + F * K;
  const cols = (c: Ctx): Float64Array => nodeBuffer(c, i, 'cols', K * hwo);
  /** This layer's filters from P or V as float64 (the handle's weight scratch). */
  const w64 = (c: Ctx, src: FloatArray): Float64Array => {
    const w = c.w64;
    for (let k = 0; k < F * K; k++) w[k] = src[off + k]!;
    return w;
  };
  const winograd = winogradApplies(g);
  const scratch = (c: Ctx): Scratch => (name, length) => nodeBuffer(c, i, name, length);
  /** Y (+)= conv(X, W) (+ bias from B), image by image. */
  const conv = (c: Ctx, X: FloatArray, W: Float64Array, Y: FloatArray, B: FloatArray | null): void => {
    if (winograd) return winogradConv(g, c.n, X, W, Y, B ? (f) => B[bOff + f]! : null, scratch(c));
    const buf = cols(c);
    for (let n = 0; n < c.n; n++) {
      if (B) for (let f = 0; f < F; f++) Y.fill(B[bOff + f]!, n * outW + f * hwo, n * outW + (f + 1) * hwo);
      im2col(g, X, n, buf);
      gemmAcc(F, hwo, K, W, 0, K, 1, buf, 0, hwo, 1, Y, n * outW, hwo);
    }
  };
  /** GX += convT(GY, W): dcols = W^T GY_n, then col2im. GY is float64. */
  const convT = (c: Ctx, GY: Float64Array, W: Float64Array, GX: FloatArray): void => {
    if (winograd) return winogradConvT(g, c.n, GY, W, GX, scratch(c));
    const d = cols(c);
    for (let n = 0; n < c.n; n++) {
      d.fill(0, 0, K * hwo);
      gemmAcc(K, hwo, F, W, 0, 1, K, GY, n * outW, hwo, 1, d, 0, hwo);
      col2im(g, d, GX, n);
    }
  };
  /** acc[off..] += GY_n cols(X_n)^T summed over images, and the bias sums. GY is float64. */
  const corr = (c: Ctx, X: FloatArray, GY: Float64Array, acc: Float64Array): void => {
    if (winograd) return winogradCorr(g, c.n, X, GY, acc, off, bOff, scratch(c));
    const buf = cols(c);
    for (let n = 0; n < c.n; n++) {
      im2col(g, X, n, buf);
      gemmAcc(F, K, hwo, GY, n * outW, hwo, 1, buf, 0, 1, hwo, acc, off, K);
    }
    for (let n = 0; n < c.n; n++) {
      for (let f = 0; f < F; f++) {
        const o = n * outW + f * hwo;
        let s = 0;
        for (let p = 0; p < hwo; p++) s += GY[o + p]!;
        acc[bOff + f]! += s;
      }
    }
  };
  return {
    forward(c) {
      conv(c, c.A[inp]!, w64(c, c.P), c.A[i]!, c.P);
    },
    backward(c) {
      const GY = f64(c.G[i]!, c.n * outW, c.m64[0]!);
      if (inp !== 0) convT(c, GY, w64(c, c.P), c.G[inp]!);
      corr(c, c.A[inp]!, GY, c.g);
    },
    rForward(c) {
      const RY = c.RA[i]!;
      conv(c, c.A[inp]!, w64(c, c.V!), RY, c.V);
      if (inp !== 0) conv(c, c.RA[inp]!, w64(c, c.P), RY, null);
    },
    rBackward(c) {
      const RGY = f64(c.RG[i]!, c.n * outW, c.m64[0]!);
      if (inp !== 0) {
        const GY = f64(c.G[i]!, c.n * outW, c.m64[1]!);
        convT(c, RGY, w64(c, c.P), c.RG[inp]!);
        convT(c, GY, w64(c, c.V!), c.RG[inp]!);
        corrWeights(c, c.RA[inp]!, GY);
      }
      corr(c, c.A[inp]!, RGY, c.rg);
    },
  };

  /** rg's filter part += sum_n GY_n cols(RX_n)^T (no bias term: R{X} does not touch b). */
  function corrWeights(c: Ctx, RX: FloatArray, GY: Float64Array): void {
    if (winograd) return winogradCorr(g, c.n, RX, GY, c.rg, off, -1, scratch(c));
    const buf = cols(c);
    for (let n = 0; n < c.n; n++) {
      im2col(g, RX, n, buf);
      gemmAcc(F, K, hwo, GY, n * outW, hwo, 1, buf, 0, 1, hwo, c.rg, off, K);
    }
  }
}
