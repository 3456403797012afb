/**
 * The native Network binding beyond network.parity.test.ts: vjp parity against the TypeScript
 * twin on the shared cases (tolerances: 1e-10 relative in float64, 1e-4 in float32),
 * the ArgGuard of every method (a getter or Proxy that detaches or shrinks a typed array read
 * earlier in the same call makes it throw a RangeError instead of touching freed memory), vjp's
 * argument checks, and worker threads holding a native Network terminated mid-work.
 * Skipped when the native addon is not available.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { ShapeError } from '../lib/core/errors.js';
import type { FloatArray, Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { availableBackends, kernelsFor, rawAddon } from '../lib/kernels/index.js';
import { packageRoot, type NativeNetworkObject } from '../lib/kernels/native.js';
import type { NetworkBatch, NetworkHandle, NetworkSpec } from '../lib/kernels/types.js';
import { compileNetwork, encodeProgram, initParams } from '../lib/nn/spec.js';
import { expectBindingErrors, randMatrix, relErr } from './helpers.js';
import { cases, setup } from './network.cases.js';

type Fn = (...args: unknown[]) => unknown;

function vjpBoth<T extends FloatArray>(spec: NetworkSpec, dtype: 'float32' | 'float64', params: T, batch: NetworkBatch<T>, outGrad: Matrix<T>): [T, T] {
  const nat = kernelsFor('native').network(spec, dtype as 'float64') as unknown as NetworkHandle<T>;
  const js = kernelsFor('js').network(spec, dtype as 'float64') as unknown as NetworkHandle<T>;
  const Ctor = params.constructor as new (n: number) => T;
  const g1 = new Ctor(nat.paramCount);
  const g2 = new Ctor(js.paramCount);
  g1.fill(7);
  g2.fill(-7);
  nat.vjp(params, batch, outGrad, g1);
  js.vjp(params, batch, outGrad, g2);
  return [g1, g2];
}

/** Every case of network.cases.ts, float64 and float32, and an empty batch. */
function vjpParity(name: string, spec: NetworkSpec, seed: number): void {
  it(`${name}: float64 (1e-10) and float32 (1e-4)`, () => {
    const s = setup({ name, spec, mask: spec.nodes.some((n) => n.op === 'dropout') }, seed);
    const W = compileNetwork(spec).outputWidth;
    const outGrad = randMatrix(new Rng(seed + 1), s.batch.x.rows, W);
    const batch = { x: s.batch.x, masks: s.batch.masks };
    const [a, b] = vjpBoth(spec, 'float64', s.params, batch, outGrad);
    expect(relErr(a, b), 'float64').to.be.below(1e-10);
    const m32 = (x: Matrix<Float64Array>): Matrix<Float32Array> => ({ rows: x.rows, cols: x.cols, data: Float32Array.from(x.data) });
    const batch32 = {
      x: m32(s.batch.x),
      masks: s.batch.masks ? new Map([...s.batch.masks].map(([i, v]) => [i, Float32Array.from(v)])) : undefined,
    };
    const [c, d] = vjpBoth(spec, 'float32', Float32Array.from(s.params), batch32, m32(outGrad));
    expect(relErr(c, d), 'float32').to.be.below(1e-4);
    // An empty batch: a zero gradient on both backends (the grad buffers were filled with +-7).
    const x0 = { rows: 0, cols: s.batch.x.cols, data: new Float64Array(0) };
    const [e, f] = vjpBoth(spec, 'float64', s.params, { x: x0 }, { rows: 0, cols: W, data: new Float64Array(0) });
    expect(Array.from(e).every((v) => v === 0) && Array.from(f).every((v) => v === 0), 'empty batch').to.equal(true);
  });
}

describe('network kernels (native binding): vjp, argument guards, workers', () => {
  before(function () {
    if (!availableBackends().includes('native')) this.skip();
  });

  describe('vjp: native vs js parity', () => {
    cases.forEach((c, i) => vjpParity(c.name, c.spec, 100 + i));
    // Two heads reading one node: both columns of outGrad flow into that node's gradient.
    vjpParity(
      'two heads on one node',
      {
        nodes: [
          { op: 'input', size: 4 },
          { op: 'dense', input: 0, units: 5 },
          { op: 'activation', input: 1, fn: 'tanh' },
          { op: 'dense', input: 2, units: 3 },
          { op: 'dense', input: 2, units: 1 },
        ],
        heads: [
          { node: 3, loss: 'softmax-ce', target: 0 },
          { node: 4, loss: 'mse', target: 1 },
          { node: 4, loss: 'huber', target: 2 },
        ],
      },
      200,
    );
  });

  const spec = cases.find((x) => x.name.startsWith('dropout'))!.spec; // input 4, dense 5, tanh, dropout, dense 1
  const compiled = compileNetwork(spec);
  const P = compiled.paramCount;
  const make = (dtype: 'float32' | 'float64' = 'float64'): NativeNetworkObject => {
    const addon = rawAddon()!;
    const { ints, floats } = encodeProgram(compiled);
    return new addon.Network(ints, floats, dtype);
  };
  const m = (rows: number, cols: number, fill = 0.5) => ({ rows, cols, data: new Float64Array(rows * cols).fill(fill) });
  const mask = (len: number) => [null, null, null, new Float64Array(len).fill(1), null];

  describe('vjp arguments', () => {
    it('computes through the raw binding, with and without masks', () => {
      const obj = make();
      const p = initParams(compiled, new Rng(3), 'float64') as Float64Array;
      const g = new Float64Array(P);
      obj.vjp(p, m(2, 4), null, null, null, m(2, 1, 1), g, false);
      const g2 = new Float64Array(P);
      obj.vjp(p, m(2, 4), mask(10), null, null, m(2, 1, 1), g2, false);
      // An all-ones mask is the identity, as no mask is (inference).
      expect(relErr(g, g2)).to.be.below(1e-15);
      expect(g.some((v) => v !== 0)).to.equal(true);
    });

    it('throws "Illegal invocation" for vjp called on another object', () => {
      const obj = make();
      const proto = Object.getPrototypeOf(obj) as Record<string, Fn>;
      for (const that of [{}, null, undefined, 5, 'net', Object.create(proto), new Float64Array(3), () => 0, rawAddon()]) {
        expect(() => proto.vjp!.call(that, new Float64Array(P), m(2, 4), null, null, null, m(2, 1), new Float64Array(P), false)).to.throw(TypeError, 'Illegal invocation');
      }
      expect(obj.info().paramCount).to.equal(P);
    });

    it('throws TypeError or RangeError for every wrong argument', () => {
      const obj = make();
      const obj32 = make('float32');
      const p = new Float64Array(P);
      const x = m(2, 4);
      const og = m(2, 1);
      const g = new Float64Array(P);
      const vjp = obj.vjp.bind(obj) as Fn;
      obj.vjp(p, x, null, null, null, og, g, false);
      obj.vjp(p, x, mask(10), null, null, og, g, false);
      const bad: [string, () => unknown][] = [
        ['no args', () => vjp()],
        ['seven args', () => vjp(p, x, null, null, null, og, g)],
        ['nine args', () => vjp(p, x, null, null, null, og, g, false, 1)],
        ['reuseForward a number', () => vjp(p, x, null, null, null, og, g, 1)],
        ['reuseForward null', () => vjp(p, x, null, null, null, og, g, null)],
        ['stats without a batchnorm node', () => vjp(p, x, null, new Float64Array(2), null, og, g, false)],
        ['statsOut without a batchnorm node', () => vjp(p, x, null, null, new Float64Array(2), og, g, false)],
        ['params f32', () => vjp(new Float32Array(P), x, null, null, null, og, g, false)],
        ['params array', () => vjp(Array.from(p), x, null, null, null, og, g, false)],
        ['params short', () => vjp(p.subarray(1), x, null, null, null, og, g, false)],
        ['params null', () => vjp(null, x, null, null, null, og, g, false)],
        ['x typed array', () => vjp(p, new Float64Array(8), null, null, null, og, g, false)],
        ['x null', () => vjp(p, null, null, null, null, og, g, false)],
        ['x wrong cols', () => vjp(p, m(2, 3), null, null, null, og, g, false)],
        ['x lying rows', () => vjp(p, { rows: 3, cols: 4, data: new Float64Array(8) }, null, null, null, og, g, false)],
        ['x rows NaN', () => vjp(p, { rows: NaN, cols: 4, data: new Float64Array(8) }, null, null, null, og, g, false)],
        ['x rows string', () => vjp(p, { rows: '2', cols: 4, data: new Float64Array(8) }, null, null, null, og, g, false)],
        ['x data f32', () => vjp(p, { rows: 2, cols: 4, data: new Float32Array(8) }, null, null, null, og, g, false)],
        ['masks object', () => vjp(p, x, {}, null, null, og, g, false)],
        ['masks wrong length', () => vjp(p, x, [null], null, null, og, g, false)],
        ['mask short', () => vjp(p, x, mask(9), null, null, og, g, false)],
        ['mask on a dense node', () => vjp(p, x, [null, new Float64Array(10), null, null, null], null, null, og, g, false)],
        ['outGrad missing', () => vjp(p, x, null, null, null, undefined, g, false)],
        ['outGrad typed array', () => vjp(p, x, null, null, null, new Float64Array(2), g, false)],
        ['outGrad wrong rows', () => vjp(p, x, null, null, null, m(3, 1), g, false)],
        ['outGrad wrong cols', () => vjp(p, x, null, null, null, m(2, 2), g, false)],
        ['outGrad lying length', () => vjp(p, x, null, null, null, { rows: 2, cols: 1, data: new Float64Array(3) }, g, false)],
        ['outGrad f32', () => vjp(p, x, null, null, null, { rows: 2, cols: 1, data: new Float32Array(2) }, g, false)],
        ['grad null', () => vjp(p, x, null, null, null, og, null, false)],
        ['grad short', () => vjp(p, x, null, null, null, og, g.subarray(1), false)],
        ['grad f32', () => vjp(p, x, null, null, null, og, new Float32Array(P), false)],
        ['grad is params', () => vjp(p, x, null, null, null, og, p, false)],
        ['grad overlaps x', () => {
          const buf = new Float64Array(P + 8);
          return vjp(p, { rows: 2, cols: 4, data: buf.subarray(0, 8) }, null, null, null, og, buf.subarray(4, 4 + P), false);
        }],
        ['grad overlaps outGrad', () => {
          const buf = new Float64Array(P + 2);
          return vjp(p, x, null, null, null, { rows: 2, cols: 1, data: buf.subarray(0, 2) }, buf.subarray(1, 1 + P), false);
        }],
        ['grad overlaps a mask', () => {
          const buf = new Float64Array(P + 10);
          return vjp(p, x, [null, null, null, buf.subarray(0, 10), null], null, null, og, buf.subarray(5, 5 + P), false);
        }],
        ['f64 arrays to a float32 network', () => (obj32.vjp as Fn)(p, x, null, null, null, og, g, false)],
      ];
      expectBindingErrors(bad);
    });

    it('the adapter maps a bad outGrad or grad to ShapeError', () => {
      const net = kernelsFor('native').network(spec, 'float64');
      const p = new Float64Array(P);
      expect(() => net.vjp(p, { x: m(2, 4) }, m(2, 2), new Float64Array(P))).to.throw(ShapeError, /outGrad/);
      expect(() => net.vjp(p, { x: m(2, 4) }, m(2, 1), new Float64Array(P - 1))).to.throw(ShapeError, /grad/);
    });
  });

  describe('typed arrays detached or shrunk by getters while the arguments are read', () => {
    const detach = (a: FloatArray) => structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
    const detached = /detached or resized/;
    const w = Float64Array.of(1);
    const y = () => m(2, 1);

    it('forward: a getter on x.rows detaches params', () => {
      const obj = make();
      const p = new Float64Array(P);
      const x = { cols: 4, data: new Float64Array(8), get rows() { detach(p); return 2; } };
      expect(() => (obj.forward as Fn)(p, x, null, null, null, m(2, 1))).to.throw(RangeError, detached);
    });

    it('forward: a Proxy for out detaches x', () => {
      const obj = make();
      const x = m(2, 4);
      const out = new Proxy(m(2, 1), { get: (t, k) => { if (k === 'data') detach(x.data); return Reflect.get(t, k); } });
      expect(() => (obj.forward as Fn)(new Float64Array(P), x, null, null, null, out)).to.throw(RangeError, detached);
    });

    it('lossGrad: a getter on a mask entry detaches y', () => {
      const obj = make();
      const yy = y();
      const masks: unknown[] = [null, null, null, null, null];
      Object.defineProperty(masks, 3, { get() { detach(yy.data); return new Float64Array(10); } });
      expect(() => (obj.lossGrad as Fn)(new Float64Array(P), m(2, 4), yy, masks, null, null, w, new Float64Array(P), new Float64Array(1))).to.throw(RangeError, detached);
    });

    it('lossGrad: a getter on y.cols shrinks x (a resizable ArrayBuffer)', () => {
      const obj = make();
      const buf = new (ArrayBuffer as unknown as new (len: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(64, { maxByteLength: 64 });
      const x = { rows: 2, cols: 4, data: new Float64Array(buf) };
      const yy = { rows: 2, data: new Float64Array(2), get cols() { buf.resize(8); return 1; } };
      expect(() => (obj.lossGrad as Fn)(new Float64Array(P), x, yy, null, null, null, w, new Float64Array(P), new Float64Array(1))).to.throw(RangeError, detached);
    });

    it('headGrads: a Proxy for out detaches a mask', () => {
      const obj = make();
      const ms = mask(10);
      const out = new Proxy(m(1, P), { get: (t, k) => { if (k === 'rows') detach(ms[3]!); return Reflect.get(t, k); } });
      expect(() => (obj.headGrads as Fn)(new Float64Array(P), m(2, 4), y(), ms, null, null, out, new Float64Array(1))).to.throw(RangeError, detached);
    });

    it('hvp: a getter on y.rows detaches params', () => {
      const obj = make();
      const p = new Float64Array(P);
      const yy = { cols: 1, data: new Float64Array(2), get rows() { detach(p); return 2; } };
      expect(() => (obj.hvp as Fn)(p, m(2, 4), yy, null, null, null, w, new Float64Array(P), new Float64Array(P))).to.throw(RangeError, detached);
    });

    it('vjp: a getter on outGrad.cols detaches x, a Proxy for outGrad detaches params', () => {
      const obj = make();
      const x = m(2, 4);
      const og = { rows: 2, data: new Float64Array(2), get cols() { detach(x.data); return 1; } };
      expect(() => (obj.vjp as Fn)(new Float64Array(P), x, null, null, null, og, new Float64Array(P), false)).to.throw(RangeError, detached);
      const p = new Float64Array(P);
      const og2 = new Proxy(m(2, 1), { get: (t, k) => { if (k === 'data') detach(p); return Reflect.get(t, k); } });
      expect(() => (obj.vjp as Fn)(p, m(2, 4), null, null, null, og2, new Float64Array(P), false)).to.throw(RangeError, detached);
    });

    it('a re-entrant call from a mask getter leaves the outer call correct', () => {
      const obj = make();
      const p = initParams(compiled, new Rng(4), 'float64') as Float64Array;
      const x = { rows: 2, cols: 4, data: Float64Array.of(1, -2, 3, 0.5, -1, 0.25, 2, -3) };
      const mk = () => { const a = new Float64Array(10); for (let i = 0; i < 10; i++) a[i] = i % 3 === 0 ? 0 : 1 / 0.6; return a; };
      const ref = m(2, 1);
      obj.forward(p, x, [null, null, null, mk(), null], null, null, ref);
      const masks: unknown[] = [null, null, null, null, null];
      Object.defineProperty(masks, 3, {
        get() {
          // Another call on the same object, with a different batch size and no masks.
          obj.forward(p, m(3, 4), null, null, null, m(3, 1));
          obj.vjp(p, m(3, 4), [null, null, null, new Float64Array(15), null], null, null, m(3, 1), new Float64Array(P), false);
          return mk();
        },
      });
      const out = m(2, 1);
      (obj.forward as Fn)(p, x, masks, null, null, out);
      expect(Array.from(out.data)).to.deep.equal(Array.from(ref.data));
    });
  });

  it('survives a worker holding a native Network terminated mid-lossGrad, 10 times', async function () {
    this.timeout(120_000);
    const big: NetworkSpec = {
      nodes: [
        { op: 'input', size: 64 },
        { op: 'dense', input: 0, units: 128 },
        { op: 'activation', input: 1, fn: 'relu' },
        { op: 'dense', input: 2, units: 128 },
        { op: 'layernorm', input: 3 },
        { op: 'dense', input: 4, units: 1 },
        { op: 'dense', input: 4, units: 1 },
      ],
      heads: [
        { node: 5, loss: 'mse', target: 0 },
        { node: 6, loss: 'huber', target: 1 },
      ],
    };
    const c = compileNetwork(big);
    const { ints, floats } = encodeProgram(c);
    const addonPath = join(packageRoot(), 'build', 'Release', 'metatask.node');
    const code = `
      const { createRequire } = require('node:module');
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = createRequire(${JSON.stringify(join(packageRoot(), 'package.json'))})(${JSON.stringify(addonPath)});
      const { ints, floats, P } = workerData;
      const m = (r, c) => ({ rows: r, cols: c, data: new Float64Array(r * c).map(() => Math.random() - 0.5) });
      const net = new addon.Network(ints, floats, 'float64');
      const params = new Float64Array(P).map(() => 0.1 * (Math.random() - 0.5));
      const x = m(256, 64), y = m(256, 2), w = Float64Array.of(1, 0.5);
      const grad = new Float64Array(P), losses = new Float64Array(2);
      let posted = false;
      for (;;) {
        net.lossGrad(params, x, y, null, null, null, w, grad, losses);
        try { net.lossGrad(params, x, null, null, null, null, w, grad, losses); } catch (e) {}
        if (!posted) { parentPort.postMessage('started'); posted = true; }
      }
    `;
    for (let i = 0; i < 10; i++) {
      const worker = new Worker(code, { eval: true, workerData: { ints, floats, P: c.paramCount } });
      const errors: unknown[] = [];
      worker.on('error', (e) => errors.push(e));
      await new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('exit', (code) => reject(new Error(`worker exited early with code ${code}: ${errors.map(String).join('; ')}`)));
      });
      // Vary the moment of termination so it lands inside different native calls.
      await new Promise((r) => setTimeout(r, i % 5));
      const exitCode = await worker.terminate();
      expect(exitCode).to.equal(1);
      expect(errors).to.deep.equal([]);
    }
    // The main thread's networks still work.
    const net = kernelsFor('native').network(big, 'float64');
    const params = initParams(c, new Rng(9), 'float64') as Float64Array;
    const out = net.forward(params, { x: randMatrix(new Rng(10), 3, 64) });
    expect(out.rows).to.equal(3);
    expect(Array.from(out.data).every(Number.isFinite)).to.equal(true);
  });
});
