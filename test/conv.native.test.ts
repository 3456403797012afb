/**
 * Convolutional networks on the native kernels: the reproducibility contract (results
 * bit-identical for 1, 2 and 3 threads and for any element offset of the caller's buffers, in
 * float32 and float64), and the fused batchnorm -> relu -> maxpool2d execution of the gradient
 * passes against the same ops run one by one; the Winograd form of 3x3 convolutions on 16 channels
 * against the TypeScript kernels. Skipped when the native addon is not available.
 */
import { expect } from 'chai';

import type { FloatArray, Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { availableBackends, kernelsFor, rawAddon } from '../lib/kernels/index.js';
import type { NetworkBatch, NetworkHandle, NetworkSpec, NodeSpec } from '../lib/kernels/types.js';
import { compileNetwork, encodeProgram, initParams } from '../lib/nn/spec.js';
import { relErr } from './helpers.js';

/**
 * Two conv blocks on 1 x 16 x 16 images, 5 classes; `unfused` puts an identity (a dropout without
 * mask) inside each chain. With 16 filters the second block's convolution takes the Winograd form.
 */
function spec(unfused = false, filters = 8): NetworkSpec {
  const nodes: NodeSpec[] = [{ op: 'input', size: 256, shape: [1, 16, 16] }];
  const last = (): number => nodes.length - 1;
  for (let b = 0; b < 2; b++) {
    nodes.push({ op: 'conv2d', input: last(), filters, kernel: 3, padding: 1 });
    nodes.push({ op: 'batchnorm', input: last() });
    nodes.push({ op: 'activation', input: last(), fn: 'relu' });
    if (unfused) nodes.push({ op: 'dropout', input: last(), rate: 0 });
    nodes.push({ op: 'maxpool2d', input: last(), size: 2 });
  }
  nodes.push({ op: 'flatten', input: last() });
  nodes.push({ op: 'dense', input: last(), units: 5 });
  return { nodes, heads: [{ node: last(), loss: 'softmax-ce', target: 0 }] };
}

const n = 24;

interface Outputs {
  forward: FloatArray;
  stats: Float64Array;
  loss: number;
  grad: FloatArray;
  vjp: FloatArray;
  hvp: FloatArray;
  running: FloatArray;
}

/** Every pass of a handle on one setup; `offset` places params and x inside larger buffers. */
function run(dtype: 'float32' | 'float64', s: NetworkSpec, offset: number, backend: 'native' | 'js' = 'native'): Outputs {
  const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
  const compiled = compileNetwork(s);
  const rng = new Rng(21);
  const p0 = initParams(compiled, rng, 'float64');
  for (let k = 0; k < p0.length; k++) p0[k]! += 0.05 * rng.normal();
  const at = (src: ArrayLike<number>): FloatArray => {
    const buf = new Ctor(src.length + offset + 3);
    buf.set(src as ArrayLike<number>, offset);
    return buf.subarray(offset, offset + src.length);
  };
  const params = at(p0);
  const x: Matrix<FloatArray> = { rows: n, cols: 256, data: at(Float64Array.from({ length: n * 256 }, () => rng.uniform())) };
  const y: Matrix<FloatArray> = { rows: n, cols: 1, data: at(Float64Array.from({ length: n }, (_, r) => r % 5)) };
  const outGrad: Matrix<FloatArray> = { rows: n, cols: 5, data: at(Float64Array.from({ length: n * 5 }, () => rng.normal())) };
  const v = at(Float64Array.from({ length: p0.length }, (_, k) => Math.cos(k)));
  const net = kernelsFor(backend).network(s, dtype as 'float64') as unknown as NetworkHandle<FloatArray>;
  const stats = new Float64Array(compiled.statsCount);
  const batch: NetworkBatch<FloatArray> = { x, y };
  const forward = net.forward(params, { x, stats: { batchOut: stats } }).data;
  const grad = new Ctor(p0.length);
  const loss = net.lossGrad(params, batch, Float64Array.of(1), grad)[0]!;
  const vjp = new Ctor(p0.length);
  net.vjp(params, { x }, outGrad, vjp);
  const hvp = new Ctor(p0.length);
  net.hvp(params, batch, Float64Array.of(1), v, hvp);
  const running = new Ctor(p0.length);
  net.lossGrad(params, { x, y, stats: { running: Ctor.from(stats) } }, Float64Array.of(1), running);
  return { forward, stats, loss, grad, vjp, hvp, running };
}

const same = (a: Outputs, b: Outputs, what: string): void => {
  for (const k of ['forward', 'stats', 'grad', 'vjp', 'hvp', 'running'] as const) {
    expect(Array.from(a[k]), `${what}: ${k}`).to.deep.equal(Array.from(b[k]));
  }
  expect(a.loss, `${what}: loss`).to.equal(b.loss);
};

describe('convolutional networks on the native kernels', function () {
  this.timeout(60_000);
  let saved = 1;
  before(function () {
    if (!availableBackends().includes('native')) this.skip();
    saved = rawAddon()!.info().threads;
  });
  after(() => {
    if (availableBackends().includes('native')) rawAddon()!.setThreads(saved);
  });

  for (const dtype of ['float32', 'float64'] as const) {
    for (const filters of [8, 16]) {
      it(`${dtype}, ${filters} filters: 1, 2 and 3 threads and shifted buffers give bit-identical results`, () => {
        const addon = rawAddon()!;
        addon.setThreads(1);
        const ref = run(dtype, spec(false, filters), 0);
        for (const t of [2, 3]) {
          addon.setThreads(t);
          same(run(dtype, spec(false, filters), 0), ref, `${t} threads`);
        }
        addon.setThreads(2);
        for (const offset of [1, 5]) same(run(dtype, spec(false, filters), offset), ref, `offset ${offset}`);
      });
    }
  }

  it('16 filters (Winograd form, several chunks and weight-gradient groups) agree with the TypeScript kernels: float64 1e-10, float32 1e-4', () => {
    for (const [dtype, tol] of [['float64', 1e-10], ['float32', 1e-4]] as const) {
      const native = run(dtype, spec(false, 16), 0);
      const js = run(dtype, spec(false, 16), 0, 'js');
      for (const k of ['forward', 'stats', 'grad', 'vjp', 'hvp', 'running'] as const) {
        expect(relErr(native[k], js[k]), `${dtype} ${k}`).to.be.below(tol);
      }
      expect(native.loss).to.be.closeTo(js.loss, tol * Math.max(1, Math.abs(js.loss)));
    }
  });

  it('the fused batchnorm-relu-maxpool chains equal the ops run one by one (float64, 1e-12)', () => {
    const fused = run('float64', spec(), 0);
    const plain = run('float64', spec(true), 0);
    for (const k of ['forward', 'stats', 'grad', 'vjp', 'hvp', 'running'] as const) {
      expect(relErr(fused[k], plain[k]), k).to.be.below(1e-12);
    }
    expect(fused.loss).to.be.closeTo(plain.loss, 1e-12);
    expect(fused.grad.some((g) => g !== 0)).to.equal(true);
  });

  it('rejects forged convolutional programs with a RangeError, never a crash', () => {
    const addon = rawAddon()!;
    const { ints, floats } = encodeProgram(compileNetwork(spec()));
    // Where each node's record starts in ints: [op, arg, nIn, inputs..., nExtra, extras...].
    const starts: number[] = [];
    for (let p = 3, i = 0; i < floats.length - 1; i++) {
      starts.push(p);
      p += 3 + ints[p + 2]!;
      p += 1 + ints[p]!;
    }
    const conv = starts[1]!; // node 1: conv2d, extras at conv + 5 .. conv + 10 (kh, kw, sh, sw, ph, pw)
    const pool = starts[4]!; // node 4: maxpool2d, extras at pool + 5 .. pool + 8
    const forge = (edit: (i: Int32Array, f: Float64Array) => void): (() => unknown) => () => {
      const i = ints.slice();
      const f = floats.slice();
      edit(i, f);
      return new addon.Network(i, f, 'float64');
    };
    expect(forge(() => {})).not.to.throw();
    expect(forge((i) => (i[conv + 5] = 40))).to.throw(RangeError, /window larger/);
    expect(forge((i) => (i[conv + 7] = 0))).to.throw(RangeError, /bad window/);
    expect(forge((i) => (i[conv + 9] = -1))).to.throw(RangeError, /bad window/);
    expect(forge((i) => (i[conv + 1] = 0))).to.throw(RangeError, /filter/);
    expect(forge((i) => (i[conv + 4] = 5))).to.throw(RangeError, /extra/);
    expect(forge((i) => (i[pool + 5] = 17))).to.throw(RangeError, /256|window/);
    expect(forge((i) => (i[6] = 2))).to.throw(RangeError); // the input's shape cut short
    expect(forge((i) => (i[7] = 2))).to.throw(RangeError, /shape/); // 2 x 16 x 16 is not size 256
    expect(forge((i, f) => (f[2] = 0))).to.throw(RangeError, /eps/); // node 2: batchnorm eps 0
    expect(forge((i) => (i[conv + 3] = 1))).to.throw(RangeError); // conv reads node 1 (itself)
  });
});
