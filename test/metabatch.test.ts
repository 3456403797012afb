/**
 * The meta-batch kernel NetworkHandle.metaGradient (lib/kernels/js/metabatch.ts and
 * native/src/kernels/metabatch.cc): the MAML/ANIL meta-gradient of a whole meta-batch in one call.
 * - parity native vs js (1e-10 relative in float64, 1e-4 in float32) for 0-3 inner steps, first
 *   and second order, with and without an inner mask, on three networks and losses;
 * - the fused kernel equals MAML's / ANIL's per-task path (metaGradient(tasks, { perTask: true }));
 * - native: 1, 2 and 3 threads give bit-identical results; a bad class index in a task run on a
 *   worker thread surfaces as a ValueError; bad arguments throw TypeError/RangeError (raw binding)
 *   or ShapeError (adapter, js twin), never crash; a worker thread running it can be terminated.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { DisposedError, ShapeError, ValueError } from '../lib/core/errors.js';
import type { FloatArray, Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { availableBackends, kernels, kernelsFor, rawAddon } from '../lib/kernels/index.js';
import { packageRoot, type NativeNetworkObject } from '../lib/kernels/native.js';
import type { MetaBatchTasks, MetaGradientOptions, NetworkHandle, NetworkSpec } from '../lib/kernels/types.js';
import { ANIL, MAML } from '../lib/meta/maml.js';
import { mlpSpec } from '../lib/meta/learner.js';
import { compileNetwork, encodeProgram, initParams } from '../lib/nn/spec.js';

type Fn = (...args: unknown[]) => unknown;
const hasNative = availableBackends().includes('native');

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    na += a[i]! ** 2;
    nb += b[i]! ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(na), Math.sqrt(nb), 1e-30);
}

interface Case {
  name: string;
  spec: NetworkSpec;
  /** A target for one row. */
  target: (rng: Rng) => number;
}

const CASES: Case[] = [
  { name: '1-16-16-1 tanh, mse', spec: mlpSpec({ inputSize: 1, hidden: [16, 16], outputSize: 1, activation: 'tanh' }, 'mse'), target: (r) => 2 * r.normal() },
  { name: '3-8-8-4 gelu, softmax-ce', spec: mlpSpec({ inputSize: 3, hidden: [8, 8], outputSize: 4, activation: 'gelu' }, 'softmax-ce'), target: (r) => r.int(4) },
  { name: '2-10-1 sigmoid, bce-logits', spec: mlpSpec({ inputSize: 2, hidden: [10], outputSize: 1, activation: 'sigmoid' }, 'bce-logits'), target: (r) => r.int(2) },
];

/** T tasks of 1-6 support and 1-6 query rows, stacked, in float64. */
function randomTasks(c: Case, rng: Rng, T: number): MetaBatchTasks<Float64Array> {
  const d = c.spec.nodes[0]!.op === 'input' ? (c.spec.nodes[0] as { size: number }).size : 1;
  const offsets = new Int32Array(2 * T + 1);
  for (let i = 1; i <= 2 * T; i++) offsets[i] = offsets[i - 1]! + 1 + rng.int(6);
  const n = offsets[2 * T]!;
  const x = new Float64Array(n * d).map(() => rng.normal());
  const y = new Float64Array(n).map(() => c.target(rng));
  return { x: { rows: n, cols: d, data: x }, y: { rows: n, cols: 1, data: y }, offsets };
}

function to32(t: MetaBatchTasks<Float64Array>): MetaBatchTasks<Float32Array> {
  const m = (a: Matrix<Float64Array>): Matrix<Float32Array> => ({ rows: a.rows, cols: a.cols, data: Float32Array.from(a.data) });
  return { x: m(t.x), y: m(t.y), offsets: t.offsets };
}

/** The head's parameters (the last dense layer), as ANIL adapts them. */
function headMask(spec: NetworkSpec): Uint8Array {
  const c = compileNetwork(spec);
  const mask = new Uint8Array(c.paramCount);
  const head = spec.heads[0]!.node;
  for (const s of c.params) if (s.node === head) mask.fill(1, s.offset, s.offset + s.shape.reduce((a, b) => a * b, 1));
  return mask;
}

function run<T extends FloatArray>(h: NetworkHandle<T>, params: T, tasks: MetaBatchTasks<T>, o: MetaGradientOptions): { loss: number; grad: Float64Array } {
  const grad = new Float64Array(h.paramCount).fill(NaN);
  const loss = h.metaGradient(params, tasks, o, grad);
  return { loss, grad };
}

/** run() by metaGradientStart and finish. */
function runStarted<T extends FloatArray>(h: NetworkHandle<T>, params: T, tasks: MetaBatchTasks<T>, o: MetaGradientOptions): { loss: number; grad: Float64Array } {
  const grad = new Float64Array(h.paramCount).fill(NaN);
  const loss = h.metaGradientStart(params, tasks, o).finish(grad);
  return { loss, grad };
}

const OPTION_GRID: { steps: number; firstOrder: boolean; masked: boolean }[] = [];
for (const steps of [0, 1, 2, 3]) for (const firstOrder of [false, true]) for (const masked of [false, true]) OPTION_GRID.push({ steps, firstOrder, masked });

describe('meta-batch kernel (NetworkHandle.metaGradient)', function () {
  this.timeout(120_000);

  (hasNative ? describe : describe.skip)('parity native vs js', () => {
    for (const [ci, c] of CASES.entries()) {
      it(`${c.name}: 0-3 inner steps, first and second order, with and without a mask`, () => {
        const compiled = compileNetwork(c.spec);
        const rng = new Rng(100 + ci);
        const p64 = initParams(compiled, rng, 'float64') as Float64Array;
        const p32 = Float32Array.from(p64);
        const tasks = randomTasks(c, rng, 2 + ci);
        const t32 = to32(tasks);
        const nat64 = kernelsFor('native').network(c.spec, 'float64');
        const js64 = kernelsFor('js').network(c.spec, 'float64');
        const nat32 = kernelsFor('native').network(c.spec, 'float32');
        const js32 = kernelsFor('js').network(c.spec, 'float32');
        const mask = headMask(c.spec);
        for (const g of OPTION_GRID) {
          const o: MetaGradientOptions = { innerLr: 0.3, innerSteps: g.steps, firstOrder: g.firstOrder, innerMask: g.masked ? mask : null };
          const what = `${g.steps} steps, ${g.firstOrder ? 'first' : 'second'} order${g.masked ? ', masked' : ''}`;
          const a = run(nat64, p64, tasks, o);
          const b = run(js64, p64, tasks, o);
          expect(relErr(a.grad, b.grad), `float64 grad, ${what}`).to.be.below(1e-10);
          expect(Math.abs(a.loss - b.loss) / Math.max(1e-30, Math.abs(b.loss)), `float64 loss, ${what}`).to.be.below(1e-10);
          expect(a.grad.every(Number.isFinite)).to.equal(true);
          const a32 = run(nat32, p32, t32, o);
          const b32 = run(js32, p32, t32, o);
          expect(relErr(a32.grad, b32.grad), `float32 grad, ${what}`).to.be.below(1e-4);
          expect(Math.abs(a32.loss - b32.loss) / Math.max(1e-30, Math.abs(b32.loss)), `float32 loss, ${what}`).to.be.below(1e-4);
        }
      });
    }

    it('second order differs from first order, and the mask changes the result', () => {
      const c = CASES[0]!;
      const p = initParams(compileNetwork(c.spec), new Rng(7), 'float64') as Float64Array;
      const tasks = randomTasks(c, new Rng(8), 3);
      for (const h of [kernelsFor('native').network(c.spec, 'float64'), kernelsFor('js').network(c.spec, 'float64')]) {
        const so = run(h, p, tasks, { innerLr: 0.3, innerSteps: 2, firstOrder: false });
        const fo = run(h, p, tasks, { innerLr: 0.3, innerSteps: 2, firstOrder: true });
        const masked = run(h, p, tasks, { innerLr: 0.3, innerSteps: 2, firstOrder: false, innerMask: headMask(c.spec) });
        expect(relErr(so.grad, fo.grad)).to.be.above(1e-6);
        expect(relErr(so.grad, masked.grad)).to.be.above(1e-6);
      }
    });
  });

  describe(`equals the per-task path of MAML and ANIL (${kernels().name} backend)`, () => {
    const rng = new Rng(11);
    const task = () => {
      const X = Array.from({ length: 5 + rng.int(4) }, () => [rng.range(-5, 5)]);
      const Q = Array.from({ length: 4 + rng.int(5) }, () => [rng.range(-5, 5)]);
      const a = rng.range(0.1, 5);
      return { support: { X, y: X.map(([x]) => a * Math.sin(x!)) }, query: { X: Q, y: Q.map(([x]) => a * Math.sin(x!)) } };
    };
    const tasks = Array.from({ length: 6 }, task);
    for (const Learner of [MAML, ANIL]) {
      for (const dtype of ['float64', 'float32'] as const) {
        it(`${Learner.name} ${dtype}: 1-3 inner steps, first and second order`, () => {
          for (const innerSteps of [1, 2, 3]) {
            for (const firstOrder of [false, true]) {
              const m = new Learner({ network: { inputSize: 1, hidden: [12, 12], outputSize: 1, activation: 'tanh' }, innerLr: 0.05, innerSteps, firstOrder, dtype, seed: 3 });
              const fused = m.metaGradient(tasks);
              const loop = m.metaGradient(tasks, { perTask: true });
              const tol = dtype === 'float64' ? 1e-12 : 1e-6;
              const what = `${innerSteps} steps, ${firstOrder ? 'first' : 'second'} order`;
              expect(relErr(fused.grad, loop.grad), what).to.be.below(tol);
              expect(Math.abs(fused.loss - loop.loss) / loop.loss, what).to.be.below(tol);
              if (kernels().name === 'js') {
                // The twin is the same algorithm on the same kernels: equal bit for bit.
                expect(Array.from(fused.grad)).to.deep.equal(Array.from(loop.grad));
                expect(fused.loss).to.equal(loop.loss);
              }
            }
          }
        });
      }
    }

    it('a MAML step through the kernel equals a step by the per-task path', () => {
      const opts = { network: { inputSize: 1, hidden: [8], outputSize: 1, activation: 'relu' as const }, innerLr: 0.05, innerSteps: 2, dtype: 'float64' as const, seed: 5 };
      const a = new MAML(opts);
      const b = new MAML(opts);
      const lossA = a.step(tasks);
      const { loss: lossB, grad } = b.metaGradient(tasks, { perTask: true });
      expect(lossA).to.be.closeTo(lossB, 1e-12 * lossB);
      // One Adam step from zero moments moves every parameter by about -lr sign(g).
      const theta0 = new MAML(opts).params;
      for (let j = 0; j < grad.length; j++) {
        if (Math.abs(grad[j]!) < 1e-9) continue;
        expect(Math.sign(a.params[j]! - theta0[j]!)).to.equal(-Math.sign(grad[j]!));
      }
    });
  });

  (hasNative ? describe : describe.skip)('native threads', () => {
    const addon = () => rawAddon()!;
    let saved = 1;
    before(() => {
      saved = addon().info().threads;
    });
    after(() => addon().setThreads(saved));

    it('1, 2 and 3 threads give bit-identical gradients and losses (float32 and float64), called whole or started and finished', () => {
      for (const c of CASES) {
        const compiled = compileNetwork(c.spec);
        const p64 = initParams(compiled, new Rng(21), 'float64') as Float64Array;
        const tasks = randomTasks(c, new Rng(22), 9);
        for (const [dtype, params, t] of [['float64', p64, tasks], ['float32', Float32Array.from(p64), to32(tasks)]] as const) {
          for (const o of [
            { innerLr: 0.2, innerSteps: 2, firstOrder: false },
            { innerLr: 0.2, innerSteps: 1, firstOrder: true },
            { innerLr: 0.2, innerSteps: 3, firstOrder: false, innerMask: headMask(c.spec) },
          ]) {
            const results = [1, 2, 3, 2, 1].map((n) => {
              addon().setThreads(n);
              // A fresh handle and a reused one.
              const h = kernelsFor('native').network(c.spec, dtype as 'float64') as unknown as NetworkHandle<FloatArray>;
              const tt = t as MetaBatchTasks<FloatArray>;
              return [run(h, params, tt, o), run(h, params, tt, o), runStarted(h, params, tt, o)];
            }).flat();
            for (const r of results.slice(1)) {
              expect(Array.from(r.grad)).to.deep.equal(Array.from(results[0]!.grad));
              expect(r.loss).to.equal(results[0]!.loss);
            }
          }
        }
      }
    });

    // 321 parameters (one part of the final sum), and 673 (two parts at two threads, the second
    // from element 352: the sum's parts start inside the tasks' gradients).
    const SUM_CASES: Case[] = [CASES[0]!, { ...CASES[0]!, name: '1-24-24-1 tanh, mse', spec: mlpSpec({ inputSize: 1, hidden: [24, 24], outputSize: 1, activation: 'tanh' }, 'mse') }];
    for (const c of SUM_CASES) it(`the meta-gradient of many tasks is their gradients added in task order, at any thread count and on every call (${c.name})`, () => {
      // The tasks' gradients are added into one sum as tasks end on the threads; the order of the
      // additions must still be the tasks' order (a wrong order changes the last bits).
      const compiled = compileNetwork(c.spec);
      // float64: its additions round (float32 gradients added in double would be exact in any order).
      const params = initParams(compiled, new Rng(31), 'float64') as Float64Array;
      const T = 48;
      const tasks = randomTasks(c, new Rng(32), T);
      const o = { innerLr: 0.3, innerSteps: 1, firstOrder: false };
      addon().setThreads(1);
      const h = kernelsFor('native').network(c.spec, 'float64') as unknown as NetworkHandle<Float64Array>;
      // Each task alone (a batch of one: its gradient exactly), then the sum in task order, in double.
      const sum = new Float64Array(h.paramCount);
      let lossSum = 0;
      for (let t = 0; t < T; t++) {
        const [s0, q0, q1] = [tasks.offsets[2 * t]!, tasks.offsets[2 * t + 1]!, tasks.offsets[2 * t + 2]!];
        const one: MetaBatchTasks<Float64Array> = {
          x: { rows: q1 - s0, cols: tasks.x.cols, data: tasks.x.data.slice(s0 * tasks.x.cols, q1 * tasks.x.cols) },
          y: { rows: q1 - s0, cols: 1, data: tasks.y.data.slice(s0, q1) },
          offsets: Int32Array.of(0, q0 - s0, q1 - s0),
        };
        const r = run(h, params, one, o);
        for (let j = 0; j < sum.length; j++) sum[j]! += r.grad[j]!;
        lossSum += r.loss;
      }
      const expected = Array.from(sum, (s) => s / T);
      for (const n of [1, 2, 3, 4]) {
        addon().setThreads(n);
        for (let rep = 0; rep < 10; rep++) {
          const r = rep % 2 ? runStarted(h, params, tasks, o) : run(h, params, tasks, o);
          expect(Array.from(r.grad), `${n} threads, call ${rep}`).to.deep.equal(expected);
          expect(r.loss).to.equal(lossSum / T);
        }
      }
    });

    it('a bad class index in a task run on a worker thread is a ValueError; the handle still works', () => {
      addon().setThreads(2);
      const c = CASES[1]!;
      const p = initParams(compileNetwork(c.spec), new Rng(3), 'float64') as Float64Array;
      const tasks = randomTasks(c, new Rng(4), 6);
      const h = kernelsFor('native').network(c.spec, 'float64');
      const good = run(h, p, tasks, { innerLr: 0.1, innerSteps: 1, firstOrder: false });
      const bad = { ...tasks, y: { ...tasks.y, data: tasks.y.data.slice() } };
      bad.y.data[tasks.offsets[9]!] = 7; // task 4's query, class 7 of 4
      expect(() => run(h, p, bad, { innerLr: 0.1, innerSteps: 1, firstOrder: false })).to.throw(ValueError, /class index/);
      const again = run(h, p, tasks, { innerLr: 0.1, innerSteps: 1, firstOrder: false });
      expect(Array.from(again.grad)).to.deep.equal(Array.from(good.grad));
    });
  });

  for (const b of availableBackends()) {
    describe(`started now, finished later: metaGradientStart (${b} backend, 2 threads)`, () => {
      const c = CASES[0]!;
      const compiled = compileNetwork(c.spec);
      const P = compiled.paramCount;
      const o = { innerLr: 0.2, innerSteps: 2, firstOrder: false };
      let saved = 1;
      before(() => {
        if (b !== 'native') return;
        saved = rawAddon()!.info().threads;
        rawAddon()!.setThreads(2);
      });
      after(() => {
        if (b === 'native') rawAddon()!.setThreads(saved);
      });
      const setup = () => {
        const h = kernelsFor(b).network(c.spec, 'float64');
        const params = initParams(compiled, new Rng(31), 'float64') as Float64Array;
        const tasks = randomTasks(c, new Rng(32), 11);
        return { h, params, tasks, want: run(h, params, tasks, o) };
      };

      it('gives the bits of metaGradient and reads nothing it was given after it returns', () => {
        const { h, params, tasks, want } = setup();
        for (const masked of [false, true]) {
          const mask = headMask(c.spec);
          const whole = masked ? run(h, params, tasks, { ...o, innerMask: mask }) : want;
          const p = params.slice();
          const t = { x: { ...tasks.x, data: tasks.x.data.slice() }, y: { ...tasks.y, data: tasks.y.data.slice() }, offsets: tasks.offsets.slice() };
          const m = mask.slice();
          const pending = h.metaGradientStart(p, t, { ...o, innerMask: masked ? m : null });
          // Overwritten while the tasks may still run: the kernel works on its own copies.
          p.fill(NaN);
          t.x.data.fill(NaN);
          t.y.data.fill(NaN);
          t.offsets.fill(0);
          m.fill(0);
          const grad = new Float64Array(P).fill(NaN);
          expect(pending.finish(grad)).to.equal(whole.loss);
          expect(Array.from(grad)).to.deep.equal(Array.from(whole.grad));
        }
      });

      it('refuses every other call on the handle until finished (ValueError), then works again', () => {
        const { h, params, tasks, want } = setup();
        const pending = h.metaGradientStart(params, tasks, o);
        const batch = { x: tasks.x, y: tasks.y };
        expect(() => h.metaGradient(params, tasks, o, new Float64Array(P)), 'metaGradient').to.throw(ValueError, /still running/);
        expect(() => h.metaGradientStart(params, tasks, o), 'metaGradientStart').to.throw(ValueError, /still running/);
        expect(() => h.lossGrad(params, batch, Float64Array.of(1), new Float64Array(P)), 'lossGrad').to.throw(ValueError, /still running/);
        expect(() => h.forward(params, batch), 'forward').to.throw(ValueError, /still running/);
        // A bad grad leaves it running: finish can be called again with a good one.
        expect(() => pending.finish(new Float64Array(P - 1))).to.throw(ShapeError);
        const grad = new Float64Array(P);
        expect(pending.finish(grad)).to.equal(want.loss);
        expect(Array.from(grad)).to.deep.equal(Array.from(want.grad));
        expect(() => pending.finish(grad)).to.throw(ValueError, /no meta-gradient was started/);
        const again = run(h, params, tasks, o);
        expect(Array.from(again.grad)).to.deep.equal(Array.from(want.grad));
      });

      it('dispose() while it runs ends it; later calls throw DisposedError', () => {
        const { h, params, tasks } = setup();
        const pending = h.metaGradientStart(params, tasks, o);
        h.dispose();
        expect(() => pending.finish(new Float64Array(P))).to.throw(DisposedError);
        expect(() => run(h, params, tasks, o)).to.throw(DisposedError);
      });
    });
  }

  describe('bad arguments', () => {
    const spec = mlpSpec({ inputSize: 2, hidden: [4], outputSize: 1, activation: 'tanh' }, 'mse');
    const compiled = compileNetwork(spec);
    const P = compiled.paramCount;
    const m = (r: number, c: number): Matrix<Float64Array> => ({ rows: r, cols: c, data: new Float64Array(r * c).fill(0.5) });
    const good = (): unknown[] => [new Float64Array(P).fill(0.1), m(4, 2), m(4, 1), Int32Array.of(0, 2, 4), 0.1, 1, false, null, new Float64Array(P)];
    const cases: [string, (a: unknown[]) => void][] = [
      ['params of the wrong length', (a) => (a[0] = new Float64Array(P - 1))],
      ['params of the wrong type', (a) => (a[0] = new Float32Array(P))],
      ['x with the wrong columns', (a) => (a[1] = m(4, 3))],
      ['x not a matrix', (a) => (a[1] = [1, 2])],
      ['y with fewer rows', (a) => (a[2] = m(3, 1))],
      ['y with no columns', (a) => (a[2] = m(4, 0))],
      ['offsets not an Int32Array', (a) => (a[3] = [0, 2, 4])],
      ['offsets of even length', (a) => (a[3] = Int32Array.of(0, 4))],
      ['offsets of one task too few', (a) => (a[3] = Int32Array.of(0))],
      ['offsets not ending at x.rows', (a) => (a[3] = Int32Array.of(0, 2, 3))],
      ['offsets not starting at 0', (a) => (a[3] = Int32Array.of(1, 2, 4))],
      ['an empty query set', (a) => (a[3] = Int32Array.of(0, 4, 4))],
      ['decreasing offsets', (a) => (a[3] = Int32Array.of(0, 3, 2, 3, 4))],
      ['a negative innerLr', (a) => (a[4] = -0.1)],
      ['a NaN innerLr', (a) => (a[4] = NaN)],
      ['innerLr a string', (a) => (a[4] = '0.1')],
      ['fractional innerSteps', (a) => (a[5] = 1.5)],
      ['negative innerSteps', (a) => (a[5] = -1)],
      ['huge innerSteps', (a) => (a[5] = 1e9)],
      ['firstOrder not a boolean', (a) => (a[6] = 1)],
      ['a mask of the wrong length', (a) => (a[7] = new Uint8Array(P - 1))],
      ['a mask of the wrong type', (a) => (a[7] = new Int8Array(P))],
      ['grad of the wrong type', (a) => (a[8] = new Float32Array(P))],
      ['grad of the wrong length', (a) => (a[8] = new Float64Array(P + 1))],
    ];

    (hasNative ? it : it.skip)('the raw binding throws TypeError or RangeError for each, and for aliasing, counts and foreign this', () => {
      const { ints, floats } = encodeProgram(compiled);
      const obj = new (rawAddon()!.Network)(ints, floats, 'float64') as NativeNetworkObject;
      const f = obj.metaGradient as unknown as Fn;
      expect(typeof f.apply(obj, good())).to.equal('number');
      const all: [string, () => unknown][] = cases.map(([name, edit]) => [name, () => { const a = good(); edit(a); return f.apply(obj, a); }]);
      all.push(
        ['8 arguments', () => f.apply(obj, good().slice(0, 8))],
        ['no arguments', () => f.apply(obj, [])],
        ['grad aliasing params', () => { const a = good(); a[8] = a[0]; return f.apply(obj, a); }],
        ['grad overlapping x', () => {
          const buf = new Float64Array(P + 8);
          const a = good();
          a[1] = { rows: 4, cols: 2, data: buf.subarray(0, 8) };
          a[8] = buf.subarray(4, 4 + P);
          return f.apply(obj, a);
        }],
        ['a foreign this', () => f.apply({}, good())],
        ['a getter on x.rows that detaches params', () => {
          const a = good();
          const p = a[0] as Float64Array;
          a[1] = { cols: 2, data: new Float64Array(8), get rows() { structuredClone(p.buffer, { transfer: [p.buffer as ArrayBuffer] }); return 4; } };
          return f.apply(obj, a);
        }],
        ['a getter on y.data that detaches the mask', () => {
          const a = good();
          const mask = new Uint8Array(P);
          a[7] = mask;
          a[2] = { rows: 4, cols: 1, get data() { structuredClone(mask.buffer, { transfer: [mask.buffer] }); return new Float64Array(4); } };
          return f.apply(obj, a);
        }],
      );
      for (const [name, call] of all) {
        let err: unknown;
        try {
          call();
        } catch (e) {
          err = e;
        }
        expect(err instanceof TypeError || err instanceof RangeError, `${name}: ${String(err)}`).to.equal(true);
      }
    });

    for (const b of availableBackends()) {
      it(`the ${b} handle throws ShapeError for each`, () => {
        const h = kernelsFor(b).network(spec, 'float64');
        const call = (a: unknown[]) =>
          h.metaGradient(a[0] as Float64Array, { x: a[1] as Matrix<Float64Array>, y: a[2] as Matrix<Float64Array>, offsets: a[3] as Int32Array },
            { innerLr: a[4] as number, innerSteps: a[5] as number, firstOrder: a[6] as boolean, innerMask: a[7] as Uint8Array | null }, a[8] as Float64Array);
        expect(call(good())).to.be.a('number');
        for (const [name, edit] of cases) {
          const a = good();
          edit(a);
          expect(() => call(a), name).to.throw(ShapeError);
        }
      });
    }
  });

  (hasNative ? it : it.skip)('survives a worker thread running metaGradient on 2 threads (whole, or started and finished later) terminated mid-call, 8 times', async () => {
    const spec = mlpSpec({ inputSize: 1, hidden: [64, 64], outputSize: 1, activation: 'relu' }, 'mse');
    const c = compileNetwork(spec);
    const { ints, floats } = encodeProgram(c);
    const addonPath = join(packageRoot(), 'build', 'Release', 'metatask.node');
    const code = `
      const { createRequire } = require('node:module');
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = createRequire(${JSON.stringify(join(packageRoot(), 'package.json'))})(${JSON.stringify(addonPath)});
      const { ints, floats, P } = workerData;
      addon.setThreads(2);
      const net = new addon.Network(ints, floats, 'float32');
      const T = 25, n = 2 * T * 10;
      const x = { rows: n, cols: 1, data: new Float32Array(n).map(() => Math.random() * 10 - 5) };
      const y = { rows: n, cols: 1, data: new Float32Array(n).map(() => Math.random()) };
      const offsets = new Int32Array(2 * T + 1).map((_, i) => 10 * i);
      const params = new Float32Array(P).map(() => 0.1 * (Math.random() - 0.5));
      const grad = new Float64Array(P);
      let posted = false;
      for (let k = 0; ; k++) {
        if (k % 2 === 0) net.metaGradient(params, x, y, offsets, 0.01, 2, false, null, grad);
        else {
          // Started, then JavaScript runs while the tasks do: termination may come in between.
          net.metaGradientStart(params, x, y, offsets, 0.01, 2, false, null);
          const until = performance.now() + 0.2;
          while (performance.now() < until);
          net.metaGradientFinish(grad);
        }
        if (!posted) { parentPort.postMessage('started'); posted = true; }
      }
    `;
    const saved = rawAddon()!.info().threads; // setThreads is process-wide: the workers change it
    for (let i = 0; i < 8; i++) {
      const worker = new Worker(code, { eval: true, workerData: { ints, floats, P: c.paramCount } });
      const errors: unknown[] = [];
      worker.on('error', (e) => errors.push(e));
      await new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('exit', (code) => reject(new Error(`worker exited early with code ${code}: ${errors.map(String).join('; ')}`)));
      });
      await new Promise((r) => setTimeout(r, i % 4));
      expect(await worker.terminate()).to.equal(1);
      expect(errors).to.deep.equal([]);
    }
    rawAddon()!.setThreads(saved);
  });
});
