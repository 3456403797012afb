/**
 * Batch normalisation (Ioffe & Szegedy 2015; twin: native/src/kernels/batchnorm.cc) of C channels,
 * each of HW values per row (an NCHW image; HW = 1 for a flat node, one channel per feature):
 *     xhat = (x - mu_c) s_c,  s_c = (var_c + eps)^-1/2,  y = xhat gamma_c + beta_c
 * Batch mode: mu_c and var_c (biased) are the mean and variance of the channel over the batch's
 * M = n HW values, so the Jacobian couples the rows. With g = GY gamma and means over the channel
 * (the layer normalisation formulas, over a channel instead of a row):
 *     GX = s (g - mean g - xhat mean(g xhat))
 *     R{xhat} = s (RX - mean RX - xhat mean(xhat RX)),  R{s} = -s^2 mean(xhat RX)
 *     RGX += R{s} (g - mean g - xhat mean(g xhat))
 *            + s (Rg - mean Rg - R{xhat} mean(g xhat) - xhat mean(Rg xhat + g R{xhat})),
 *     Rg = RGY gamma + GY vgamma.
 * Running mode (the call passes statistics): mu and var are constants, y is affine in x:
 *     GX = GY gamma s,  R{xhat} = RX s,  RGX += s (RGY gamma + GY vgamma).
 * Both: ggamma += sum GY xhat, gbeta += sum GY; RY = R{xhat} gamma + xhat vgamma + vbeta;
 * Rggamma += sum (RGY xhat + GY R{xhat}), Rgbeta += sum RGY.
 * Only mu and s are kept per channel (xhat is recomputed from x): no cache the size of the batch.
 */
import { nodeBuffer, type Ctx, type OpImpl } from './networkOp.js';

export function batchnormOp(i: number, inp: number, C: number, HW: number, off: number, statsOff: number, eps: number): OpImpl {
  const row = C * HW;
  const bOff = off + C;
  /** visit(o) for the offset of every value of channel ch, rows then pixels. */
  const each = (c: Ctx, ch: number, visit: (o: number) => void): void => {
    for (let r = 0; r < c.n; r++) for (let o = r * row + ch * HW, end = o + HW; o < end; o++) visit(o);
  };
  const mean = (c: Ctx): Float64Array => nodeBuffer(c, i, 'mean', C);
  const invStd = (c: Ctx): Float64Array => nodeBuffer(c, i, 'invStd', C);
  /** What both R-passes read: x, R{x}, the direction V, the channel caches and M. */
  const rPass = (c: Ctx) => ({
    X: c.A[inp]!,
    RX: c.RA[inp]!,
    V: c.V!,
    mu: mean(c),
    is: invStd(c),
    rm: nodeBuffer(c, i, 'rMean', C),
    rmx: nodeBuffer(c, i, 'rMeanX', C),
    M: c.n * HW,
  });
  return {
    forward(c) {
      const X = c.A[inp]!;
      const Y = c.A[i]!;
      const mu = mean(c);
      const is = invStd(c);
      const M = c.n * HW;
      for (let ch = 0; ch < C; ch++) {
        let m: number;
        let v: number;
        if (c.running) {
          m = c.running[statsOff + ch]!;
          v = c.running[statsOff + C + ch]!;
        } else {
          m = 0;
          each(c, ch, (o) => {
            m += X[o]!;
          });
          m /= M;
          v = 0;
          each(c, ch, (o) => {
            const d = X[o]! - m;
            v += d * d;
          });
          v /= M;
          if (c.batchOut) {
            c.batchOut[statsOff + ch] = m;
            c.batchOut[statsOff + C + ch] = v;
          }
        }
        const s = 1 / Math.sqrt(v + eps);
        mu[ch] = m;
        is[ch] = s;
        const gam = c.P[off + ch]!;
        const bet = c.P[bOff + ch]!;
        each(c, ch, (o) => {
          Y[o] = (X[o]! - m) * s * gam + bet;
        });
      }
    },
    backward(c) {
      const X = c.A[inp]!;
      const GY = c.G[i]!;
      const GX = c.G[inp]!;
      const mu = mean(c);
      const is = invStd(c);
      const M = c.n * HW;
      for (let ch = 0; ch < C; ch++) {
        const m = mu[ch]!;
        const s = is[ch]!;
        const gam = c.P[off + ch]!;
        let sg = 0;
        let sb = 0;
        each(c, ch, (o) => {
          const gy = GY[o]!;
          sg += gy * ((X[o]! - m) * s);
          sb += gy;
        });
        c.g[off + ch]! += sg;
        c.g[bOff + ch]! += sb;
        if (c.running) {
          each(c, ch, (o) => {
            GX[o]! += GY[o]! * gam * s;
          });
          continue;
        }
        // mean(g) and mean(g xhat) with g = GY gamma.
        const mg = (sb * gam) / M;
        const mgx = (sg * gam) / M;
        each(c, ch, (o) => {
          const h = (X[o]! - m) * s;
          GX[o]! += s * (GY[o]! * gam - mg - h * mgx);
        });
      }
    },
    rForward(c) {
      const { X, RX, V, mu, is, rm, rmx, M } = rPass(c);
      const RY = c.RA[i]!;
      for (let ch = 0; ch < C; ch++) {
        const m = mu[ch]!;
        const s = is[ch]!;
        let a = 0;
        let ax = 0;
        if (!c.running) {
          each(c, ch, (o) => {
            a += RX[o]!;
            ax += (X[o]! - m) * s * RX[o]!;
          });
          a /= M;
          ax /= M;
        }
        rm[ch] = a;
        rmx[ch] = ax;
        const gam = c.P[off + ch]!;
        const vg = V[off + ch]!;
        const vb = V[bOff + ch]!;
        each(c, ch, (o) => {
          const h = (X[o]! - m) * s;
          const rh = s * (RX[o]! - a - h * ax);
          RY[o] = rh * gam + h * vg + vb;
        });
      }
    },
    rBackward(c) {
      const { X, RX, V, mu, is, rm, rmx, M } = rPass(c);
      const GY = c.G[i]!;
      const RGY = c.RG[i]!;
      const RGX = c.RG[inp]!;
      for (let ch = 0; ch < C; ch++) {
        const m = mu[ch]!;
        const s = is[ch]!;
        const a = rm[ch]!;
        const ax = rmx[ch]!;
        const gam = c.P[off + ch]!;
        const vg = V[off + ch]!;
        let mg = 0;
        let mgx = 0;
        let mrg = 0;
        let mr2 = 0;
        let sg = 0;
        let sb = 0;
        each(c, ch, (o) => {
          const gy = GY[o]!;
          const rgy = RGY[o]!;
          const h = (X[o]! - m) * s;
          const rh = s * (RX[o]! - a - h * ax);
          const gj = gy * gam;
          const rgj = rgy * gam + gy * vg;
          mg += gj;
          mgx += gj * h;
          mrg += rgj;
          mr2 += rgj * h + gj * rh;
          sg += rgy * h + gy * rh;
          sb += rgy;
        });
        c.rg[off + ch]! += sg;
        c.rg[bOff + ch]! += sb;
        if (c.running) {
          each(c, ch, (o) => {
            RGX[o]! += s * (RGY[o]! * gam + GY[o]! * vg);
          });
          continue;
        }
        mg /= M;
        mgx /= M;
        mrg /= M;
        mr2 /= M;
        const Rs = -s * s * ax;
        each(c, ch, (o) => {
          const gy = GY[o]!;
          const h = (X[o]! - m) * s;
          const rh = s * (RX[o]! - a - h * ax);
          const gj = gy * gam;
          const rgj = RGY[o]! * gam + gy * vg;
          RGX[o]! += Rs * (gj - mg - h * mgx) + s * (rgj - mrg - rh * mgx - h * mr2);
        });
      }
    },
  };
}
