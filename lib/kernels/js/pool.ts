/**
 * Pooling of NCHW images over kh x kw windows moved by (sh, sw), no padding (twin:
 * native/src/kernels/pool.cc).
 * - Max: Y = the window's largest value; the first one in row-major window order wins a tie,
 *   and its position (one byte) is kept for the passes that follow. Locally Y = X[argmax], a
 *   selection, so GX[argmax] += GY, RY = RX[argmax], RGX[argmax] += RGY (the max has no
 *   curvature: its second derivative is zero almost everywhere).
 * - Average: Y = the window's mean, linear: GX[window] += GY / (kh kw); its R-passes are the
 *   same maps applied to R{X} and R{G}. A window covering the whole plane is global average
 *   pooling.
 */
import type { FloatArray } from '../../core/matrix.js';
import type { Geometry } from '../networkSpec.js';
import { nodeBuffer, type Ctx, type Linear, type OpImpl } from './networkOp.js';

/** Calls visit(outIndex, inBase) for every output pixel: inBase is the input index of its window's top-left value. */
function eachWindow(g: Geometry, n: number, visit: (out: number, base: number) => void): void {
  const { c: C, h: H, w: W, sh, sw, ho, wo } = g;
  let out = 0;
  for (let r = 0; r < n; r++) {
    for (let ch = 0; ch < C; ch++) {
      const plane = (r * C + ch) * H * W;
      for (let oy = 0; oy < ho; oy++) for (let ox = 0; ox < wo; ox++, out++) visit(out, plane + oy * sh * W + ox * sw);
    }
  }
}

export function maxpoolOp(i: number, inp: number, g: Geometry): OpImpl {
  const { w: W, kh, kw } = g;
  const outW = g.c * g.ho * g.wo;
  /** Input index of window position k (row-major in the window) from the window's base. */
  const at = (base: number, k: number): number => base + Math.floor(k / kw) * W + (k % kw);
  const argmax = (c: Ctx): Uint8Array => nodeBuffer(c, i, 'argmax', c.n * outW, true);
  /** dst[argmax] += src for every output. */
  const scatter = (c: Ctx, src: FloatArray, dst: FloatArray): void => {
    const am = argmax(c);
    eachWindow(g, c.n, (o, base) => {
      dst[at(base, am[o]!)]! += src[o]!;
    });
  };
  return {
    forward(c) {
      const X = c.A[inp]!;
      const Y = c.A[i]!;
      const am = argmax(c);
      eachWindow(g, c.n, (o, base) => {
        let best = X[base]!;
        let k = 0;
        for (let a = 0; a < kh; a++) {
          for (let b = 0; b < kw; b++) {
            const v = X[base + a * W + b]!;
            if (v > best) {
              best = v;
              k = a * kw + b;
            }
          }
        }
        Y[o] = best;
        am[o] = k;
      });
    },
    backward(c) {
      scatter(c, c.G[i]!, c.G[inp]!);
    },
    rForward(c) {
      const RX = c.RA[inp]!;
      const RY = c.RA[i]!;
      const am = argmax(c);
      eachWindow(g, c.n, (o, base) => {
        RY[o] = RX[at(base, am[o]!)]!;
      });
    },
    rBackward(c) {
      scatter(c, c.RG[i]!, c.RG[inp]!);
    },
  };
}

export function avgpoolLinear(i: number, inp: number, g: Geometry): Linear {
  const { w: W, kh, kw } = g;
  const scale = 1 / (kh * kw);
  return {
    node: i,
    apply(c, src, out) {
      const X = src[inp]!;
      eachWindow(g, c.n, (o, base) => {
        let s = 0;
        for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) s += X[base + a * W + b]!;
        out[o] = s * scale;
      });
    },
    applyT(c, gOut, dst) {
      const GX = dst[inp]!;
      eachWindow(g, c.n, (o, base) => {
        const v = gOut[o]! * scale;
        for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) GX[base + a * W + b]! += v;
      });
    },
  };
}
