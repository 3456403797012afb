/**
 * Network kernels in plain TypeScript (twin: native/src/kernels/network.cc): forward pass,
 * reverse-mode gradients, per-head gradients and exact Hessian-vector products of a compiled
 * network DAG (lib/kernels/networkSpec.ts).
 *
 * Hessian-vector products use Pearlmutter's R-operator (Pearlmutter 1994, "Fast exact
 * multiplication by the Hessian"): forward-over-reverse. R{f} = d/dr f(params + r v) at r = 0.
 * One pass computes R{A_i} for every activation (R-forward), then the reverse pass propagates
 * both the gradients G_i = dL/dA_i and their directional derivatives R{G_i}; R{dL/dparams} = H v.
 * Cost: about twice a gradient.
 *
 * Every op lives in one place: an OpImpl with forward / backward / rForward / rBackward
 * (networkOp.ts; makeOp below picks them). The dense and elementwise ops are here; convolution,
 * batch normalisation and pooling have files of their own (conv.ts, batchnorm.ts, pool.ts).
 *
 * Activations and gradients are stored in the handle's dtype; parameter gradients, row
 * accumulators of the dense products and losses are accumulated in double.
 */
import { DisposedError, ShapeError, ValueError } from '../../core/errors.js';
import { allocate, type DType, type FloatArray, type Matrix } from '../../core/matrix.js';
import { checkNormStats, compileNetwork, type CompiledNetwork } from '../networkSpec.js';
import type { ActivationName, MetaBatchTasks, MetaGradientOptions, NetworkBatch, NetworkHandle, NetworkSpec, NodeSpec, PendingMetaGradient } from '../types.js';
import { batchnormOp } from './batchnorm.js';
import { convOp } from './conv.js';
import { normalCdf, normalPdf } from './erf.js';
import { metaGradient } from './metabatch.js';
import { act64, f64, gemmAcc, linearOp, nodeBuffer, type Ctx, type Linear, type OpImpl, type Workspace } from './networkOp.js';
import { avgpoolLinear, maxpoolOp } from './pool.js';

const LN_EPS = 1e-5;


// ---- activations: f, f', f'' --------------------------------------------------------------------

const FN = { relu: 0, 'leaky-relu': 1, elu: 2, gelu: 3, tanh: 4, sigmoid: 5, identity: 6 } as const;

function actF(fn: number, x: number, a: number): number {
  switch (fn) {
    case 0:
      return x > 0 ? x : 0;
    case 1:
      return x > 0 ? x : a * x;
    case 2:
      return x > 0 ? x : a * Math.expm1(x);
    case 3:
      return x * normalCdf(x);
    case 4:
      return Math.tanh(x);
    case 5:
      return sigmoid(x);
    default:
      return x;
  }
}

/** f'(x); y = f(x) is passed so tanh and sigmoid need no second evaluation. */
function actD1(fn: number, x: number, y: number, a: number): number {
  switch (fn) {
    case 0:
      return x > 0 ? 1 : 0;
    case 1:
      return x > 0 ? 1 : a;
    case 2:
      return x > 0 ? 1 : a * Math.exp(x);
    case 3:
      return normalCdf(x) + x * normalPdf(x);
    case 4:
      return 1 - y * y;
    case 5:
      return y * (1 - y);
    default:
      return 1;
  }
}

function actD2(fn: number, x: number, y: number, a: number): number {
  switch (fn) {
    case 2:
      return x > 0 ? 0 : a * Math.exp(x);
    case 3:
      return normalPdf(x) * (2 - x * x);
    case 4:
      return -2 * y * (1 - y * y);
    case 5:
      return y * (1 - y) * (1 - 2 * y);
    default:
      return 0;
  }
}

function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

// ---- dense groups -------------------------------------------------------------------------------

/**
 * Dense layers that read the same input (groups of two or more, in node order) run as one product
 * each, as groupForward and groupBackward do in native/src/kernels/network.cc: the task heads of a
 * hard-sharing net, each its own one-column product, cost a product call and its operand copies a
 * head (256 heads made a training step three times as long as 8).
 *   Y_cat = X W_cat, W_cat = [W_1 ... W_g] (din x U); each member's columns plus its bias
 *   GX += G_cat W_cat^T; each member's gW += its columns of X^T G_cat, gb += colsum G_m
 * Outputs and parameter gradients are each member's own sums in the same order (gemmAcc sums every
 * entry over p in order, then adds it), so they keep their bits; GX sums over every member's units.
 */
interface DenseGroups {
  /** By node: its group's index, or -1. */
  of: Int32Array;
  members: number[][];
}

function denseGroupsOf(spec: NetworkSpec): DenseGroups {
  const byInput = new Map<number, number[]>();
  spec.nodes.forEach((node, i) => {
    if (node.op !== 'dense') return;
    const list = byInput.get(node.input) ?? [];
    list.push(i);
    byInput.set(node.input, list);
  });
  // In the order of their first members (the map's insertion order), as the native program lists them.
  const members = [...byInput.values()].filter((list) => list.length >= 2);
  const of = new Int32Array(spec.nodes.length).fill(-1);
  members.forEach((list, g) => list.forEach((i) => (of[i] = g)));
  return { of, members };
}

/** The input node the members read, its width and the members' units together (U). */
function groupShape(net: CompiledNetwork, members: number[]): { input: number; din: number; U: number } {
  const input = (net.spec.nodes[members[0]!] as { input: number }).input;
  let U = 0;
  for (const m of members) U += net.widths[m]!;
  return { input, din: net.widths[input]!, U };
}

/** W_cat (din x U) of `members` from the parameters P, as float64. */
function groupWeights(c: Ctx, net: CompiledNetwork, members: number[], din: number, U: number): Float64Array {
  const W = nodeBuffer(c, members[0]!, 'groupW', din * U);
  let col = 0;
  for (const m of members) {
    const u = net.widths[m]!;
    const off = net.paramOffset[m]!;
    for (let r = 0; r < din; r++) for (let j = 0; j < u; j++) W[r * U + col + j] = c.P[off + r * u + j]!;
    col += u;
  }
  return W;
}

function groupForward(c: Ctx, net: CompiledNetwork, members: number[]): void {
  const { input, din, U } = groupShape(net, members);
  const n = c.n;
  const W = groupWeights(c, net, members, din, U);
  const Y = nodeBuffer(c, members[0]!, 'groupY', n * U);
  Y.fill(0, 0, n * U);
  gemmAcc(n, U, din, act64(c, input, din), 0, din, 1, W, 0, U, 1, Y, 0, U);
  let col = 0;
  for (const m of members) {
    const u = net.widths[m]!;
    const bOff = net.paramOffset[m]! + din * u;
    const A = c.A[m]!;
    for (let r = 0; r < n; r++) for (let j = 0; j < u; j++) A[r * u + j] = c.P[bOff + j]! + Y[r * U + col + j]!;
    col += u;
  }
}

/** The backward pass of a group's active `members` (two or more). */
function groupBackward(c: Ctx, net: CompiledNetwork, members: number[]): void {
  const { input, din, U } = groupShape(net, members);
  const n = c.n;
  const G = nodeBuffer(c, members[0]!, 'groupG', n * U);
  let col = 0;
  for (const m of members) {
    const u = net.widths[m]!;
    const Gm = c.G[m]!;
    for (let r = 0; r < n; r++) for (let j = 0; j < u; j++) G[r * U + col + j] = Gm[r * u + j]!;
    col += u;
  }
  // The input never needs a gradient (as in the dense op).
  if (input !== 0) gemmAcc(n, din, U, G, 0, U, 1, groupWeights(c, net, members, din, U), 0, 1, U, c.G[input]!, 0, din);
  const gw = nodeBuffer(c, members[0]!, 'groupGW', din * U);
  gw.fill(0, 0, din * U);
  gemmAcc(din, U, n, act64(c, input, din), 0, 1, din, G, 0, U, 1, gw, 0, U);
  col = 0;
  for (const m of members) {
    const u = net.widths[m]!;
    const off = net.paramOffset[m]!;
    for (let r = 0; r < din; r++) for (let j = 0; j < u; j++) c.g[off + r * u + j]! += gw[r * U + col + j]!;
    const Gm = c.G[m]!;
    const bOff = off + din * u;
    for (let r = 0; r < n; r++) for (let j = 0; j < u; j++) c.g[bOff + j]! += Gm[r * u + j]!;
    col += u;
  }
}

// ---- ops ----------------------------------------------------------------------------------------

function makeOp(i: number, node: NodeSpec, net: CompiledNetwork): OpImpl {
  const w = net.widths[i]!;
  const off = net.paramOffset[i]!;
  switch (node.op) {
    case 'input':
      return { forward() {}, backward() {}, rForward() {}, rBackward() {} };
    case 'dense':
      return denseOp(i, node.input, net.widths[node.input]!, w, off);
    case 'activation':
      return activationOp(i, node.input, w, FN[node.fn as ActivationName], net.alpha[i]!);
    case 'dropout':
      return linearOp(dropoutLinear(i, node.input, w));
    case 'layernorm':
      return layernormOp(i, node.input, w, off);
    case 'softmax':
      return softmaxOp(i, node.input, w);
    case 'mixture':
      return mixtureOp(i, node.gate, node.experts, w);
    case 'stitch':
      return stitchOp(i, node.inputs, w, off);
    case 'concat':
      return linearOp(concatLinear(i, node.inputs, net.widths));
    case 'add':
      return linearOp(addLinear(i, node.inputs, w));
    case 'flatten':
      return linearOp(addLinear(i, [node.input], w));
    case 'conv2d':
      return convOp(i, node.input, net.geometry[i]!, off);
    case 'batchnorm':
      return batchnormOp(i, node.input, net.normChannels[i]!, w / net.normChannels[i]!, off, net.statsOffset[i]!, net.alpha[i]!);
    case 'maxpool2d':
      return maxpoolOp(i, node.input, net.geometry[i]!);
    case 'avgpool2d':
      return linearOp(avgpoolLinear(i, node.input, net.geometry[i]!));
  }
}

/**
 * Dense: Y = X W + b, W [din, dout] row-major.
 *   backward: GX += GY W^T, gW += X^T GY, gb += colsum GY
 *   R:        RY = RX W + X VW + vb
 *             RGX += RGY W^T + GY VW^T, RgW += RX^T GY + X^T RGY, Rgb += colsum RGY
 * Every product is one gemmAcc call (strides select the transposes). Its operands are float64
 * copies (f64 / act64 below): in V8 each Float32Array read is a load plus a float->double
 * conversion, and gemmAcc reads every operand value 4 times, so converting once up front is
 * cheaper (1.4-1.6x on a 128-256-256 net with 8 heads). The copy is exact, so results are bit-identical.
 */
function denseOp(i: number, inp: number, din: number, dout: number, off: number): OpImpl {
  const bOff = off + din * dout;
  /** out[r, :] = bias (at `bo` in B) for every row. */
  const fillBias = (out: FloatArray, B: FloatArray, n: number): void => {
    for (let r = 0; r < n; r++) for (let j = 0; j < dout; j++) out[r * dout + j] = B[bOff + j]!;
  };
  /** acc[bOff + j] += sum_r G[r, j]. */
  const colSums = (G: FloatArray, acc: Float64Array, n: number): void => {
    for (let r = 0; r < n; r++) for (let j = 0; j < dout; j++) acc[bOff + j]! += G[r * dout + j]!;
  };
  /** This layer's weights from P or V as a float64 copy, at offset 0 of the handle's scratch. */
  const w64 = (c: Ctx, src: FloatArray): Float64Array => {
    const w = c.w64;
    for (let k = 0; k < din * dout; k++) w[k] = src[off + k]!;
    return w;
  };
  // The three products, named after what they compute; W is a w64 copy.
  const xw = (X: Float64Array, W: Float64Array, Y: FloatArray, n: number): void => gemmAcc(n, dout, din, X, 0, din, 1, W, 0, dout, 1, Y, 0, dout);
  const gwT = (GY: Float64Array, W: Float64Array, GX: FloatArray, n: number): void => gemmAcc(n, din, dout, GY, 0, dout, 1, W, 0, 1, dout, GX, 0, din);
  const xTg = (X: Float64Array, GY: Float64Array, acc: Float64Array, n: number): void => gemmAcc(din, dout, n, X, 0, 1, din, GY, 0, dout, 1, acc, off, dout);
  return {
    forward(c) {
      const Y = c.A[i]!;
      fillBias(Y, c.P, c.n);
      xw(act64(c, inp, din), w64(c, c.P), Y, c.n);
    },
    backward(c) {
      const GY = f64(c.G[i]!, c.n * dout, c.m64[0]!);
      // The input never needs a gradient: skipping it saves the first layer's largest product.
      if (inp !== 0) gwT(GY, w64(c, c.P), c.G[inp]!, c.n);
      xTg(act64(c, inp, din), GY, c.g, c.n);
      colSums(c.G[i]!, c.g, c.n);
    },
    rForward(c) {
      const RY = c.RA[i]!;
      fillBias(RY, c.V!, c.n);
      xw(act64(c, inp, din), w64(c, c.V!), RY, c.n);
      if (inp !== 0) xw(f64(c.RA[inp]!, c.n * din, c.m64[0]!), w64(c, c.P), RY, c.n);
    },
    rBackward(c) {
      // Three scratch copies so that every sum keeps the order of the reference formulas above.
      const RGY = f64(c.RG[i]!, c.n * dout, c.m64[0]!);
      if (inp !== 0) {
        const GY = f64(c.G[i]!, c.n * dout, c.m64[1]!);
        gwT(RGY, w64(c, c.P), c.RG[inp]!, c.n);
        gwT(GY, w64(c, c.V!), c.RG[inp]!, c.n);
        xTg(f64(c.RA[inp]!, c.n * din, c.m64[2]!), GY, c.rg, c.n);
      }
      xTg(act64(c, inp, din), RGY, c.rg, c.n);
      colSums(c.RG[i]!, c.rg, c.n);
    },
  };
}


/** Elementwise y = f(x): GX += f'(x) GY; RY = f'(x) RX; RGX += f''(x) RX GY + f'(x) RGY. */
function activationOp(i: number, inp: number, w: number, fn: number, alpha: number): OpImpl {
  return {
    forward(c) {
      const X = c.A[inp]!;
      const Y = c.A[i]!;
      const len = c.n * w;
      if (fn === FN.relu) for (let k = 0; k < len; k++) Y[k] = X[k]! > 0 ? X[k]! : 0;
      else for (let k = 0; k < len; k++) Y[k] = actF(fn, X[k]!, alpha);
    },
    backward(c) {
      const X = c.A[inp]!;
      const Y = c.A[i]!;
      const GY = c.G[i]!;
      const GX = c.G[inp]!;
      const len = c.n * w;
      if (fn === FN.relu) for (let k = 0; k < len; k++) GX[k]! += X[k]! > 0 ? GY[k]! : 0;
      else for (let k = 0; k < len; k++) GX[k]! += actD1(fn, X[k]!, Y[k]!, alpha) * GY[k]!;
    },
    rForward(c) {
      const X = c.A[inp]!;
      const Y = c.A[i]!;
      const RX = c.RA[inp]!;
      const RY = c.RA[i]!;
      const len = c.n * w;
      for (let k = 0; k < len; k++) RY[k] = actD1(fn, X[k]!, Y[k]!, alpha) * RX[k]!;
    },
    rBackward(c) {
      const X = c.A[inp]!;
      const Y = c.A[i]!;
      const RX = c.RA[inp]!;
      const GY = c.G[i]!;
      const RGY = c.RG[i]!;
      const RGX = c.RG[inp]!;
      const len = c.n * w;
      for (let k = 0; k < len; k++) {
        const x = X[k]!;
        const y = Y[k]!;
        RGX[k]! += actD2(fn, x, y, alpha) * RX[k]! * GY[k]! + actD1(fn, x, y, alpha) * RGY[k]!;
      }
    },
  };
}

/** Inverted dropout with the caller's mask (values 0 or 1/(1-rate)); the identity without one. */
function dropoutLinear(i: number, inp: number, w: number): Linear {
  const maskOf = (c: Ctx): FloatArray | undefined => {
    const m = c.masks?.get(i);
    if (m !== undefined && m.length !== c.n * w) {
      throw new ShapeError(`network: dropout mask of node ${i} has ${m.length} values, expected ${c.n} x ${w} = ${c.n * w}`);
    }
    return m;
  };
  return {
    node: i,
    apply(c, src, out) {
      const X = src[inp]!;
      const m = maskOf(c);
      const len = c.n * w;
      if (m) for (let k = 0; k < len; k++) out[k] = X[k]! * m[k]!;
      else out.set(X.subarray(0, len));
    },
    applyT(c, gOut, dst) {
      const GX = dst[inp]!;
      const m = maskOf(c);
      const len = c.n * w;
      if (m) for (let k = 0; k < len; k++) GX[k]! += gOut[k]! * m[k]!;
      else for (let k = 0; k < len; k++) GX[k]! += gOut[k]!;
    },
  };
}

function concatLinear(i: number, inputs: number[], widths: Int32Array): Linear {
  const w = widths[i]!;
  return {
    node: i,
    apply(c, src, out) {
      let col = 0;
      for (const k of inputs) {
        const wk = widths[k]!;
        const X = src[k]!;
        for (let r = 0; r < c.n; r++) for (let j = 0; j < wk; j++) out[r * w + col + j] = X[r * wk + j]!;
        col += wk;
      }
    },
    applyT(c, gOut, dst) {
      let col = 0;
      for (const k of inputs) {
        const wk = widths[k]!;
        const GX = dst[k]!;
        for (let r = 0; r < c.n; r++) for (let j = 0; j < wk; j++) GX[r * wk + j]! += gOut[r * w + col + j]!;
        col += wk;
      }
    },
  };
}

function addLinear(i: number, inputs: number[], w: number): Linear {
  return {
    node: i,
    apply(c, src, out) {
      const len = c.n * w;
      out.fill(0, 0, len);
      for (const k of inputs) {
        const X = src[k]!;
        for (let j = 0; j < len; j++) out[j]! += X[j]!;
      }
    },
    applyT(c, gOut, dst) {
      const len = c.n * w;
      for (const k of inputs) {
        const GX = dst[k]!;
        for (let j = 0; j < len; j++) GX[j]! += gOut[j]!;
      }
    },
  };
}

/**
 * Layer normalisation (Ba et al. 2016), per row: xhat = (x - mean) s, s = (var + eps)^-1/2,
 * y = xhat gamma + beta. Its Jacobian J = s (I - 11^T/w - xhat xhat^T/w) is symmetric, so
 * backward and R-forward share one form:
 *   GX = s (g - mean(g) - xhat mean(g xhat)),  g = GY gamma
 *   R{xhat} = s (RX - mean(RX) - xhat mean(xhat RX)),  R{s}/s = -s mean(xhat RX)
 *   RGX += R{s} (g - mean g - xhat mean(g xhat)) + s (Rg - mean Rg - R{xhat} mean(g xhat) - xhat mean(Rg xhat + g R{xhat}))
 *   with Rg = RGY gamma + GY vgamma.
 */
function layernormOp(i: number, inp: number, w: number, off: number): OpImpl {
  const gOff = off;
  const bOff = off + w;
  return {
    forward(c) {
      const X = c.A[inp]!;
      const Y = c.A[i]!;
      const P = c.P;
      const xh = c.ws.xhat[i]!;
      const is = c.ws.invStd[i]!;
      for (let r = 0; r < c.n; r++) {
        const o = r * w;
        let mean = 0;
        for (let j = 0; j < w; j++) mean += X[o + j]!;
        mean /= w;
        let v = 0;
        for (let j = 0; j < w; j++) {
          const d = X[o + j]! - mean;
          v += d * d;
        }
        const s = 1 / Math.sqrt(v / w + LN_EPS);
        is[r] = s;
        for (let j = 0; j < w; j++) {
          const h = (X[o + j]! - mean) * s;
          xh[o + j] = h;
          Y[o + j] = h * P[gOff + j]! + P[bOff + j]!;
        }
      }
    },
    backward(c) {
      const GY = c.G[i]!;
      const GX = c.G[inp]!;
      const P = c.P;
      const xh = c.ws.xhat[i]!;
      const is = c.ws.invStd[i]!;
      const g = c.g;
      for (let r = 0; r < c.n; r++) {
        const o = r * w;
        let mg = 0;
        let mgx = 0;
        for (let j = 0; j < w; j++) {
          const gy = GY[o + j]!;
          const gj = gy * P[gOff + j]!;
          mg += gj;
          mgx += gj * xh[o + j]!;
          g[gOff + j]! += gy * xh[o + j]!;
          g[bOff + j]! += gy;
        }
        mg /= w;
        mgx /= w;
        const s = is[r]!;
        for (let j = 0; j < w; j++) GX[o + j]! += s * (GY[o + j]! * P[gOff + j]! - mg - xh[o + j]! * mgx);
      }
    },
    rForward(c) {
      const RX = c.RA[inp]!;
      const RY = c.RA[i]!;
      const P = c.P;
      const V = c.V!;
      const xh = c.ws.xhat[i]!;
      const is = c.ws.invStd[i]!;
      const rxh = c.ws.rxhat[i]!;
      const rs = c.ws.rsRel[i]!;
      for (let r = 0; r < c.n; r++) {
        const o = r * w;
        let m = 0;
        let mx = 0;
        for (let j = 0; j < w; j++) {
          m += RX[o + j]!;
          mx += xh[o + j]! * RX[o + j]!;
        }
        m /= w;
        mx /= w;
        const s = is[r]!;
        rs[r] = -s * mx;
        for (let j = 0; j < w; j++) {
          const h = s * (RX[o + j]! - m - xh[o + j]! * mx);
          rxh[o + j] = h;
          RY[o + j] = h * P[gOff + j]! + xh[o + j]! * V[gOff + j]! + V[bOff + j]!;
        }
      }
    },
    rBackward(c) {
      const GY = c.G[i]!;
      const RGY = c.RG[i]!;
      const RGX = c.RG[inp]!;
      const P = c.P;
      const V = c.V!;
      const xh = c.ws.xhat[i]!;
      const is = c.ws.invStd[i]!;
      const rxh = c.ws.rxhat[i]!;
      const rs = c.ws.rsRel[i]!;
      const rg = c.rg;
      for (let r = 0; r < c.n; r++) {
        const o = r * w;
        let mg = 0;
        let mgx = 0;
        let mrg = 0;
        let mr2 = 0;
        for (let j = 0; j < w; j++) {
          const gy = GY[o + j]!;
          const rgy = RGY[o + j]!;
          const gj = gy * P[gOff + j]!;
          const rgj = rgy * P[gOff + j]! + gy * V[gOff + j]!;
          mg += gj;
          mgx += gj * xh[o + j]!;
          mrg += rgj;
          mr2 += rgj * xh[o + j]! + gj * rxh[o + j]!;
          rg[gOff + j]! += rgy * xh[o + j]! + gy * rxh[o + j]!;
          rg[bOff + j]! += rgy;
        }
        mg /= w;
        mgx /= w;
        mrg /= w;
        mr2 /= w;
        const s = is[r]!;
        const Rs = s * rs[r]!;
        for (let j = 0; j < w; j++) {
          const gy = GY[o + j]!;
          const gj = gy * P[gOff + j]!;
          const rgj = RGY[o + j]! * P[gOff + j]! + gy * V[gOff + j]!;
          const h = xh[o + j]!;
          RGX[o + j]! += Rs * (gj - mg - h * mgx) + s * (rgj - mrg - rxh[o + j]! * mgx - h * mr2);
        }
      }
    },
  };
}

/**
 * Row-wise softmax: GX = Y (GY - <GY, Y>); RY = Y (RX - <Y, RX>);
 * RGX += RY (GY - <GY, Y>) + Y (RGY - <RGY, Y> - <GY, RY>).
 */
function softmaxOp(i: number, inp: number, w: number): OpImpl {
  return {
    forward(c) {
      const X = c.A[inp]!;
      const Y = c.A[i]!;
      const e = c.row;
      for (let r = 0; r < c.n; r++) {
        const o = r * w;
        let mx = -Infinity;
        for (let j = 0; j < w; j++) mx = Math.max(mx, X[o + j]!);
        let s = 0;
        for (let j = 0; j < w; j++) s += e[j] = Math.exp(X[o + j]! - mx);
        for (let j = 0; j < w; j++) Y[o + j] = e[j]! / s;
      }
    },
    backward(c) {
      const Y = c.A[i]!;
      const GY = c.G[i]!;
      const GX = c.G[inp]!;
      for (let r = 0; r < c.n; r++) {
        const o = r * w;
        let d = 0;
        for (let j = 0; j < w; j++) d += GY[o + j]! * Y[o + j]!;
        for (let j = 0; j < w; j++) GX[o + j]! += Y[o + j]! * (GY[o + j]! - d);
      }
    },
    rForward(c) {
      const Y = c.A[i]!;
      const RX = c.RA[inp]!;
      const RY = c.RA[i]!;
      for (let r = 0; r < c.n; r++) {
        const o = r * w;
        let d = 0;
        for (let j = 0; j < w; j++) d += Y[o + j]! * RX[o + j]!;
        for (let j = 0; j < w; j++) RY[o + j] = Y[o + j]! * (RX[o + j]! - d);
      }
    },
    rBackward(c) {
      const Y = c.A[i]!;
      const RY = c.RA[i]!;
      const GY = c.G[i]!;
      const RGY = c.RG[i]!;
      const RGX = c.RG[inp]!;
      for (let r = 0; r < c.n; r++) {
        const o = r * w;
        let gy = 0;
        let rgy = 0;
        let gry = 0;
        for (let j = 0; j < w; j++) {
          gy += GY[o + j]! * Y[o + j]!;
          rgy += RGY[o + j]! * Y[o + j]!;
          gry += GY[o + j]! * RY[o + j]!;
        }
        for (let j = 0; j < w; j++) RGX[o + j]! += RY[o + j]! * (GY[o + j]! - gy) + Y[o + j]! * (RGY[o + j]! - rgy - gry);
      }
    },
  };
}

/**
 * Mixture of experts (MMoE, Ma et al. 2018): Y = sum_k gate[:, k] E_k.
 *   GE_k += gate_k GY, Ggate[:, k] += <GY, E_k>_row
 *   RY = sum_k R{gate_k} E_k + gate_k R{E_k}
 *   RGE_k += R{gate_k} GY + gate_k RGY, RGgate_k += <RGY, E_k> + <GY, R{E_k}>
 */
function mixtureOp(i: number, gate: number, experts: number[], w: number): OpImpl {
  const K = experts.length;
  return {
    forward(c) {
      const Gt = c.A[gate]!;
      const Y = c.A[i]!;
      Y.fill(0, 0, c.n * w);
      for (let k = 0; k < K; k++) {
        const E = c.A[experts[k]!]!;
        for (let r = 0; r < c.n; r++) {
          const gk = Gt[r * K + k]!;
          const o = r * w;
          for (let j = 0; j < w; j++) Y[o + j]! += gk * E[o + j]!;
        }
      }
    },
    backward(c) {
      const Gt = c.A[gate]!;
      const GY = c.G[i]!;
      const GG = c.G[gate]!;
      for (let k = 0; k < K; k++) {
        const E = c.A[experts[k]!]!;
        const GE = c.G[experts[k]!]!;
        for (let r = 0; r < c.n; r++) {
          const gk = Gt[r * K + k]!;
          const o = r * w;
          let d = 0;
          for (let j = 0; j < w; j++) {
            d += GY[o + j]! * E[o + j]!;
            GE[o + j]! += gk * GY[o + j]!;
          }
          GG[r * K + k]! += d;
        }
      }
    },
    rForward(c) {
      const Gt = c.A[gate]!;
      const RGt = c.RA[gate]!;
      const RY = c.RA[i]!;
      RY.fill(0, 0, c.n * w);
      for (let k = 0; k < K; k++) {
        const E = c.A[experts[k]!]!;
        const RE = c.RA[experts[k]!]!;
        for (let r = 0; r < c.n; r++) {
          const gk = Gt[r * K + k]!;
          const rgk = RGt[r * K + k]!;
          const o = r * w;
          for (let j = 0; j < w; j++) RY[o + j]! += rgk * E[o + j]! + gk * RE[o + j]!;
        }
      }
    },
    rBackward(c) {
      const Gt = c.A[gate]!;
      const RGt = c.RA[gate]!;
      const GY = c.G[i]!;
      const RGY = c.RG[i]!;
      const RGG = c.RG[gate]!;
      for (let k = 0; k < K; k++) {
        const E = c.A[experts[k]!]!;
        const RE = c.RA[experts[k]!]!;
        const RGE = c.RG[experts[k]!]!;
        for (let r = 0; r < c.n; r++) {
          const gk = Gt[r * K + k]!;
          const rgk = RGt[r * K + k]!;
          const o = r * w;
          let d = 0;
          for (let j = 0; j < w; j++) {
            d += RGY[o + j]! * E[o + j]! + GY[o + j]! * RE[o + j]!;
            RGE[o + j]! += rgk * GY[o + j]! + gk * RGY[o + j]!;
          }
          RGG[r * K + k]! += d;
        }
      }
    },
  };
}

/**
 * Cross-stitch unit (Misra et al. 2016): Y = sum_k a_k X_k with learned scalars a.
 *   GX_k += a_k GY, ga_k += <GY, X_k>;  RY = sum_k va_k X_k + a_k RX_k
 *   RGX_k += va_k GY + a_k RGY, Rga_k += <RGY, X_k> + <GY, RX_k>
 */
function stitchOp(i: number, inputs: number[], w: number, off: number): OpImpl {
  const K = inputs.length;
  return {
    forward(c) {
      const Y = c.A[i]!;
      const len = c.n * w;
      Y.fill(0, 0, len);
      for (let k = 0; k < K; k++) {
        const a = c.P[off + k]!;
        const X = c.A[inputs[k]!]!;
        for (let j = 0; j < len; j++) Y[j]! += a * X[j]!;
      }
    },
    backward(c) {
      const GY = c.G[i]!;
      const len = c.n * w;
      for (let k = 0; k < K; k++) {
        const a = c.P[off + k]!;
        const X = c.A[inputs[k]!]!;
        const GX = c.G[inputs[k]!]!;
        let d = 0;
        for (let j = 0; j < len; j++) {
          d += GY[j]! * X[j]!;
          GX[j]! += a * GY[j]!;
        }
        c.g[off + k]! += d;
      }
    },
    rForward(c) {
      const RY = c.RA[i]!;
      const len = c.n * w;
      RY.fill(0, 0, len);
      for (let k = 0; k < K; k++) {
        const a = c.P[off + k]!;
        const va = c.V![off + k]!;
        const X = c.A[inputs[k]!]!;
        const RX = c.RA[inputs[k]!]!;
        for (let j = 0; j < len; j++) RY[j]! += va * X[j]! + a * RX[j]!;
      }
    },
    rBackward(c) {
      const GY = c.G[i]!;
      const RGY = c.RG[i]!;
      const len = c.n * w;
      for (let k = 0; k < K; k++) {
        const a = c.P[off + k]!;
        const va = c.V![off + k]!;
        const X = c.A[inputs[k]!]!;
        const RX = c.RA[inputs[k]!]!;
        const RGX = c.RG[inputs[k]!]!;
        let d = 0;
        for (let j = 0; j < len; j++) {
          d += RGY[j]! * X[j]! + GY[j]! * RX[j]!;
          RGX[j]! += va * GY[j]! + a * RGY[j]!;
        }
        c.rg[off + k]! += d;
      }
    },
  };
}

// ---- losses -------------------------------------------------------------------------------------

/**
 * Head h's mean loss over its non-missing rows. When G is given, adds scale/m * dl/dz into it;
 * when RG and RZ are given, adds scale/m * (d2l/dz2) RZ into RG (the R-operator of the seed).
 *   mse:        (z - y)^2 (not halved: PyTorch MSELoss)
 *   huber:      r^2/2 if |r| <= delta else delta (|r| - delta/2)   (PyTorch HuberLoss)
 *   bce-logits: softplus(z) - y z
 *   softmax-ce: logsumexp(z) - z_y
 *   poisson:    exp(z) - y z   (z a log-rate; PyTorch PoissonNLLLoss(log_input=True, full=False))
 */
function headLoss(
  net: CompiledNetwork, h: number, n: number, Z: FloatArray, y: Matrix<FloatArray>, scale: number,
  G: FloatArray | null, RZ: FloatArray | null, RG: FloatArray | null,
): number {
  const head = net.spec.heads[h]!;
  const C = net.widths[head.node]!;
  const Y = y.data;
  const ys = y.cols;
  const t = head.target;
  const cls = head.loss === 'softmax-ce' || head.loss === 'bce-logits';
  let m = 0;
  for (let r = 0; r < n; r++) {
    const v = Y[r * ys + t]!;
    if (!(v === v) || (cls && v < 0)) continue;
    m++;
  }
  if (m === 0) return 0;
  const s = scale / m;
  const delta = net.delta[h]!;
  let sum = 0;
  for (let r = 0; r < n; r++) {
    const yv = Y[r * ys + t]!;
    if (!(yv === yv) || (cls && yv < 0)) continue;
    if (head.loss === 'softmax-ce') {
      if (!Number.isInteger(yv) || yv >= C) {
        throw new ValueError(`network: head ${h} (softmax-ce) row ${r}: target ${yv} is not a class index in 0..${C - 1}`);
      }
      const o = r * C;
      let mx = -Infinity;
      for (let j = 0; j < C; j++) mx = Math.max(mx, Z[o + j]!);
      let se = 0;
      for (let j = 0; j < C; j++) se += Math.exp(Z[o + j]! - mx);
      const lse = mx + Math.log(se);
      sum += lse - Z[o + yv]!;
      if (G) {
        for (let j = 0; j < C; j++) G[o + j]! += s * (Math.exp(Z[o + j]! - lse) - (j === yv ? 1 : 0));
      }
      if (RG && RZ) {
        let d = 0;
        for (let j = 0; j < C; j++) d += Math.exp(Z[o + j]! - lse) * RZ[o + j]!;
        for (let j = 0; j < C; j++) RG[o + j]! += s * Math.exp(Z[o + j]! - lse) * (RZ[o + j]! - d);
      }
      continue;
    }
    const z = Z[r]!;
    let l: number;
    let d1: number;
    let d2: number;
    switch (head.loss) {
      case 'mse': {
        const e = z - yv;
        l = e * e;
        d1 = 2 * e;
        d2 = 2;
        break;
      }
      case 'huber': {
        const e = z - yv;
        const a = Math.abs(e);
        if (a <= delta) {
          l = 0.5 * e * e;
          d1 = e;
          d2 = 1;
        } else {
          l = delta * (a - 0.5 * delta);
          d1 = e > 0 ? delta : -delta;
          d2 = 0;
        }
        break;
      }
      case 'bce-logits': {
        const p = sigmoid(z);
        l = Math.max(z, 0) - yv * z + Math.log1p(Math.exp(-Math.abs(z)));
        d1 = p - yv;
        d2 = p * (1 - p);
        break;
      }
      default: {
        const ez = Math.exp(z);
        l = ez - yv * z;
        d1 = ez - yv;
        d2 = ez;
      }
    }
    sum += l;
    if (G) G[r]! += s * d1;
    if (RG && RZ) RG[r]! += s * d2 * RZ[r]!;
  }
  return sum / m;
}

// ---- the handle ---------------------------------------------------------------------------------

const MAX_WORKSPACES = 4;

class JsNetwork<T extends FloatArray> implements NetworkHandle<T> {
  readonly paramCount: number;
  readonly dtype: DType & ('float32' | 'float64');
  private readonly net: CompiledNetwork;
  private readonly ops: OpImpl[];
  private readonly workspaces = new Map<number, Workspace>();
  private readonly g: Float64Array;
  private readonly rg: Float64Array;
  private readonly row: Float64Array;
  private readonly w64: Float64Array;
  private pass = 0;
  private readonly allNodes: Uint8Array;
  private readonly groups: DenseGroups;
  /** The heads (weight non-zero) activeNodes was built for (activeFor). */
  private activeHeads: Uint8Array | null = null;
  private activeNodes = new Uint8Array(0);
  /** The arrays of the last call if it was a forward() (vjp's reuseForward); any other call clears it. */
  private kept: { params: FloatArray; x: FloatArray; n: number; masks: ReadonlyMap<number, FloatArray> | undefined; running: FloatArray | null } | null = null;

  constructor(spec: NetworkSpec, dtype: 'float32' | 'float64') {
    this.net = compileNetwork(spec);
    this.dtype = dtype;
    this.paramCount = this.net.paramCount;
    this.ops = spec.nodes.map((node, i) => makeOp(i, node, this.net));
    this.g = new Float64Array(this.paramCount);
    this.rg = new Float64Array(this.paramCount);
    const maxW = Math.max(...this.net.widths);
    this.row = new Float64Array(maxW);
    const weightSizes = spec.nodes.map((node, i) => {
      if (node.op === 'dense') return this.net.widths[node.input]! * this.net.widths[i]!;
      const g = this.net.geometry[i];
      return node.op === 'conv2d' && g ? g.f * g.c * g.kh * g.kw : 0;
    });
    this.w64 = new Float64Array(Math.max(0, ...weightSizes));
    this.allNodes = new Uint8Array(spec.nodes.length).fill(1);
    this.groups = denseGroupsOf(spec);
  }

  forward(params: T, batch: NetworkBatch<T>): Matrix<T> {
    this.alive('forward');
    const c = this.begin(params, batch, false);
    this.runForward(c);
    this.kept = { params, x: batch.x.data, n: c.n, masks: batch.masks, running: c.running };
    const n = c.n;
    const W = this.net.outputWidth;
    const out = allocate(this.dtype, n * W) as T;
    this.net.spec.heads.forEach((head, h) => {
      const Z = c.A[head.node]!;
      const C = this.net.widths[head.node]!;
      const col = this.net.headOffsets[h]!;
      for (let r = 0; r < n; r++) for (let j = 0; j < C; j++) out[r * W + col + j] = Z[r * C + j]!;
    });
    return { rows: n, cols: W, data: out };
  }

  lossGrad(params: T, batch: NetworkBatch<T>, weights: Float64Array, grad: T | null): Float64Array {
    this.alive('lossGrad');
    this.checkWeights(weights);
    if (grad) this.checkVector(grad, 'grad');
    const c = this.begin(params, batch, true);
    this.runForward(c);
    const H = this.net.spec.heads.length;
    const losses = new Float64Array(H);
    if (!grad) {
      for (let h = 0; h < H; h++) losses[h] = this.loss(c, batch, h, 0, false, false);
      return losses;
    }
    const active = this.activeFor(weights);
    this.zeroGrads(c, active, false);
    for (let h = 0; h < H; h++) losses[h] = this.loss(c, batch, h, weights[h]!, weights[h] !== 0, false);
    this.runBackward(c, active, false);
    for (let k = 0; k < this.paramCount; k++) grad[k] = c.g[k]!;
    return losses;
  }

  /**
   * One forward pass, then one backward pass per head over that head's ancestors only (a
   * head-only layer is visited once, the shared trunk once per head): cost forward + H partial
   * backwards, never H full forward+backward passes.
   */
  headGrads(params: T, batch: NetworkBatch<T>, out: Matrix<T>): Float64Array {
    this.alive('headGrads');
    const H = this.net.spec.heads.length;
    if (out.rows !== H || out.cols !== this.paramCount || out.data.length !== H * this.paramCount) {
      throw new ShapeError(`network.headGrads: out must be ${H} x ${this.paramCount} (heads x params), got ${out.rows} x ${out.cols}`);
    }
    const c = this.begin(params, batch, true);
    this.runForward(c);
    const losses = new Float64Array(H);
    for (let h = 0; h < H; h++) {
      const active = this.net.ancestors[h]!;
      this.zeroGrads(c, active, false);
      losses[h] = this.loss(c, batch, h, 1, true, false);
      this.runBackward(c, active, false);
      const row = out.data;
      const base = h * this.paramCount;
      for (let k = 0; k < this.paramCount; k++) row[base + k] = c.g[k]!;
    }
    return losses;
  }

  hvp(params: T, batch: NetworkBatch<T>, weights: Float64Array, v: T, out: T): void {
    this.alive('hvp');
    this.checkWeights(weights);
    this.checkVector(v, 'v');
    this.checkVector(out, 'out');
    const c = this.begin(params, batch, true, v);
    this.runForward(c);
    const active = this.activeFor(weights);
    for (let i = 1; i < this.ops.length; i++) if (active[i]) this.ops[i]!.rForward(c);
    this.zeroGrads(c, active, true);
    const H = this.net.spec.heads.length;
    for (let h = 0; h < H; h++) if (weights[h] !== 0) this.loss(c, batch, h, weights[h]!, true, true);
    this.runBackward(c, active, true);
    for (let k = 0; k < this.paramCount; k++) out[k] = c.rg[k]!;
  }

  /** grad = J^T outGrad: the backward pass seeded with a gradient w.r.t. the raw head outputs. */
  vjp(params: T, batch: NetworkBatch<T>, outGrad: Matrix<T>, grad: T, reuseForward = false): void {
    this.alive('vjp');
    this.checkVector(grad, 'grad');
    const kept = this.kept;
    const c = this.begin(params, batch, false);
    const W = this.net.outputWidth;
    const dt = this.dtype === 'float32' ? Float32Array : Float64Array;
    if (!outGrad || !(outGrad.data instanceof dt) || outGrad.rows !== c.n || outGrad.cols !== W || outGrad.data.length !== c.n * W) {
      throw new ShapeError(`network.vjp: outGrad must be a ${dt.name} matrix of ${c.n} x ${W} (rows x head outputs)`);
    }
    if (!reuseForward) this.runForward(c);
    else if (!kept || kept.params !== params || kept.x !== batch.x.data || kept.n !== c.n || kept.masks !== batch.masks || kept.running !== c.running) {
      throw new ValueError('network.vjp: reuseForward needs a forward() call with the same params and batch on this handle just before');
    }
    const active = this.activeFor(null);
    this.zeroGrads(c, active, false);
    this.net.spec.heads.forEach((head, h) => {
      const G = c.G[head.node]!;
      const C = this.net.widths[head.node]!;
      const col = this.net.headOffsets[h]!;
      for (let r = 0; r < c.n; r++) for (let j = 0; j < C; j++) G[r * C + j]! += outGrad.data[r * W + col + j]!;
    });
    this.runBackward(c, active, false);
    for (let k = 0; k < this.paramCount; k++) grad[k] = c.g[k]!;
  }

  /** The meta-batch kernel: lib/kernels/js/metabatch.ts over this handle's lossGrad and hvp. */
  metaGradient(params: T, tasks: MetaBatchTasks<T>, options: MetaGradientOptions, grad: Float64Array): number {
    this.alive('metaGradient');
    return metaGradient(this, this.net.spec.heads.length, params, tasks, options, grad);
  }

  /** Computed here, one thread; finish() hands the result over (the native twin overlaps it). */
  metaGradientStart(params: T, tasks: MetaBatchTasks<T>, options: MetaGradientOptions): PendingMetaGradient {
    this.alive('metaGradientStart');
    const result = new Float64Array(this.paramCount);
    const loss = metaGradient(this, this.net.spec.heads.length, params, tasks, options, result);
    this.running = true;
    return {
      finish: (grad: Float64Array): number => {
        if (this.disposed) throw new DisposedError('Network.metaGradientFinish: this network was disposed');
        if (!this.running) throw new ValueError('Network.metaGradientFinish: no meta-gradient was started (call metaGradientStart first)');
        if (!(grad instanceof Float64Array) || grad.length !== this.paramCount) throw new ShapeError(`Network.metaGradientFinish: grad must be a Float64Array of length ${this.paramCount}`);
        this.running = false;
        grad.set(result);
        return loss;
      },
    };
  }

  dispose(): void {
    this.workspaces.clear();
    this.disposed = true;
    this.running = false;
  }

  private disposed = false;
  /** A metaGradientStart not yet finished (the native twin's rule: no other call until then). */
  private running = false;

  private alive(method: string): void {
    if (this.disposed) throw new DisposedError(`Network.${method}: this network was disposed`);
    if (this.running) throw new ValueError(`Network.${method}: a meta-gradient started on this network (metaGradientStart) is still running; call metaGradientFinish first`);
  }

  // ---- passes ----

  private runForward(c: Ctx): void {
    const { of, members } = this.groups;
    for (let i = 1; i < this.ops.length; i++) {
      const g = of[i]!;
      if (g < 0) this.ops[i]!.forward(c);
      else if (members[g]![0] === i) groupForward(c, this.net, members[g]!); // every member, at the first one's turn
    }
  }

  private runBackward(c: Ctx, active: Uint8Array, withR: boolean): void {
    const { of, members } = this.groups;
    for (let i = this.ops.length - 1; i >= 1; i--) {
      if (!active[i]) continue;
      // A group of two or more active members runs at its lowest active member, which this reverse
      // pass reaches once every member's gradient is complete; its other members are skipped.
      const g = of[i]!;
      let grouped = false;
      if (g >= 0) {
        const all = members[g]!;
        if (all.find((m) => active[m]) !== i) grouped = true;
        else {
          const on = all.filter((m) => active[m]);
          grouped = on.length >= 2;
          if (grouped) groupBackward(c, this.net, on);
        }
      }
      if (!grouped) this.ops[i]!.backward(c);
      if (withR) this.ops[i]!.rBackward(c);
    }
  }

  private loss(c: Ctx, batch: NetworkBatch<T>, h: number, weight: number, seed: boolean, withR: boolean): number {
    const node = this.net.spec.heads[h]!.node;
    return headLoss(
      this.net, h, c.n, c.A[node]!, batch.y!, weight,
      seed ? c.G[node]! : null, withR ? c.RA[node]! : null, withR ? c.RG[node]! : null,
    );
  }

  /**
   * The nodes a backward pass visits: the ancestors of the heads with a non-zero weight (every head
   * when weights is null), kept until the set of those heads changes (a training run's every step):
   * the union costs heads x nodes (twin of Network::activeFor in native/src/kernels/network.cc).
   */
  private activeFor(weights: Float64Array | null): Uint8Array {
    const H = this.net.spec.heads.length;
    const on = (h: number): number => (weights === null || weights[h] !== 0 ? 1 : 0);
    let same = this.activeHeads !== null;
    for (let h = 0; h < H && same; h++) same = this.activeHeads![h] === on(h);
    if (same) return this.activeNodes;
    const heads = new Uint8Array(H);
    for (let h = 0; h < H; h++) heads[h] = on(h);
    const N = this.ops.length;
    const a = new Uint8Array(N);
    this.net.ancestors.forEach((anc, h) => {
      if (heads[h]) for (let i = 0; i < N; i++) a[i]! |= anc[i]!;
    });
    this.activeHeads = heads;
    this.activeNodes = a;
    return a;
  }

  private zeroGrads(c: Ctx, active: Uint8Array, withR: boolean): void {
    const len = (i: number): number => c.n * this.net.widths[i]!;
    for (let i = 0; i < this.ops.length; i++) {
      if (!active[i]) continue;
      c.G[i]!.fill(0, 0, len(i));
      if (withR) c.RG[i]!.fill(0, 0, len(i));
    }
    c.g.fill(0);
    if (withR) c.rg.fill(0);
  }

  // ---- argument checks and buffers ----

  private begin(params: T, batch: NetworkBatch<T>, needY: boolean, v: T | null = null): Ctx {
    this.kept = null;
    this.checkVector(params, 'params');
    const x = batch.x;
    const dt = this.dtype === 'float32' ? Float32Array : Float64Array;
    if (!x || !(x.data instanceof dt)) throw new ShapeError(`network: batch.x must be a Matrix of ${dt.name}`);
    if (x.cols !== this.net.inputSize || x.data.length !== x.rows * x.cols) {
      throw new ShapeError(`network: batch.x is ${x.rows} x ${x.cols}, expected ${this.net.inputSize} columns (the input size)`);
    }
    const n = x.rows;
    if (needY) {
      const y = batch.y;
      if (!y) throw new ShapeError('network: batch.y is required for losses and gradients');
      if (!(y.data instanceof dt) || y.rows !== n || y.cols < this.net.targetCols || y.data.length !== y.rows * y.cols) {
        throw new ShapeError(`network: batch.y must be a ${dt.name} matrix of ${n} rows and at least ${this.net.targetCols} columns, got ${y.rows} x ${y.cols}`);
      }
    }
    const { running, batchOut } = checkNormStats(this.net, this.dtype, batch.stats);
    const ws = this.workspace(n, v !== null);
    ws.A[0] = x.data;
    return {
      n, P: params, V: v, ws, A: ws.A, G: ws.G, RA: ws.RA ?? [], RG: ws.RG ?? [],
      g: this.g, rg: this.rg, masks: batch.masks, row: this.row,
      w64: this.w64, pass: ++this.pass, m64: ws.m64, running, batchOut,
    };
  }


  /**
   * The smallest kept workspace with room for n rows, else a new one of n rows (as network.cc's
   * workspaceIn): a call uses the first n rows of its buffers, so batches of varying sizes share
   * one workspace instead of allocating one each.
   */
  private workspace(n: number, withR: boolean): Workspace {
    let ws: Workspace | undefined;
    for (const w of this.workspaces.values()) if (w.n >= n && (!ws || w.n < ws.n)) ws = w;
    if (!ws) {
      if (this.workspaces.size >= MAX_WORKSPACES) this.workspaces.delete(this.workspaces.keys().next().value!);
      const N = this.ops.length;
      const mk = (i: number): FloatArray => allocate(this.dtype, n * this.net.widths[i]!);
      const isLn = (i: number): boolean => this.net.spec.nodes[i]!.op === 'layernorm';
      ws = {
        n,
        A: Array.from({ length: N }, (_, i) => (i === 0 ? allocate(this.dtype, 0) : mk(i))),
        G: Array.from({ length: N }, (_, i) => mk(i)),
        RA: null,
        RG: null,
        xhat: Array.from({ length: N }, (_, i) => (isLn(i) ? new Float64Array(n * this.net.widths[i]!) : null)),
        invStd: Array.from({ length: N }, (_, i) => (isLn(i) ? new Float64Array(n) : null)),
        rxhat: Array.from({ length: N }, () => null),
        rsRel: Array.from({ length: N }, () => null),
        A64: Array.from({ length: N }, () => null),
        A64pass: new Float64Array(N).fill(-1),
        m64: Array.from({ length: 3 }, () => new Float64Array(n * Math.max(...this.net.widths))),
        extra: new Map(),
      };
      this.workspaces.set(n, ws);
    }
    if (withR && !ws.RA) {
      // Of the workspace's rows, not this call's.
      const rows = ws.n;
      const N = this.ops.length;
      const mk = (i: number): FloatArray => allocate(this.dtype, rows * this.net.widths[i]!);
      const isLn = (i: number): boolean => this.net.spec.nodes[i]!.op === 'layernorm';
      ws.RA = Array.from({ length: N }, (_, i) => mk(i)); // RA[0] stays zero: x does not depend on params
      ws.RG = Array.from({ length: N }, (_, i) => mk(i));
      ws.rxhat = Array.from({ length: N }, (_, i) => (isLn(i) ? new Float64Array(rows * this.net.widths[i]!) : null));
      ws.rsRel = Array.from({ length: N }, (_, i) => (isLn(i) ? new Float64Array(rows) : null));
    }
    return ws;
  }

  private checkVector(a: FloatArray, name: string): void {
    const dt = this.dtype === 'float32' ? Float32Array : Float64Array;
    if (!(a instanceof dt) || a.length !== this.paramCount) {
      throw new ShapeError(`network: ${name} must be a ${dt.name} of length ${this.paramCount} (the parameter count), got ${a instanceof Float32Array || a instanceof Float64Array ? `a ${a.constructor.name} of length ${a.length}` : typeof a}`);
    }
  }

  private checkWeights(weights: Float64Array): void {
    const H = this.net.spec.heads.length;
    if (!(weights instanceof Float64Array) || weights.length !== H) {
      throw new ShapeError(`network: weights must be a Float64Array of length ${H} (one per head)`);
    }
  }
}

export function network(spec: NetworkSpec, dtype: 'float32'): NetworkHandle<Float32Array>;
export function network(spec: NetworkSpec, dtype: 'float64'): NetworkHandle<Float64Array>;
export function network(spec: NetworkSpec, dtype: 'float32' | 'float64'): NetworkHandle<FloatArray>;
export function network(spec: NetworkSpec, dtype: 'float32' | 'float64'): NetworkHandle<FloatArray> {
  return new JsNetwork<FloatArray>(spec, dtype);
}
