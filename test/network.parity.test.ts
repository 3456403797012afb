/**
 * Network kernel parity: kernelsFor('native') against kernelsFor('js') on the same specs,
 * parameters and batches (tolerances: ~1e-10 relative in float64, ~1e-4 in float32),
 * and the robustness of the native Network binding (wrong `this`, wrong arguments, forged
 * programs: a thrown error, never a crash). Skipped when the addon is not available.
 */
import { expect } from 'chai';

import { DisposedError, ShapeError, ValueError } from '../lib/core/errors.js';
import type { FloatArray, Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { availableBackends, kernelsFor, rawAddon } from '../lib/kernels/index.js';
import type { NetworkBatch, NetworkSpec } from '../lib/kernels/types.js';
import { compileNetwork, encodeProgram, initParams } from '../lib/nn/spec.js';
import { relErr } from './helpers.js';
import { batch32, cases, rowsCoupled, setup, type Setup } from './network.cases.js';

function as32(s: Setup): { params: Float32Array; batch: NetworkBatch<Float32Array> } {
  return { params: Float32Array.from(s.params), batch: batch32(s.batch) };
}

/** Every output of both kernel sets on one setup, in one dtype. */
function compare<T extends FloatArray>(spec: NetworkSpec, dtype: 'float32' | 'float64', params: T, batch: NetworkBatch<T>, weights: Float64Array, tol: number): void {
  const nat = kernelsFor('native').network(spec, dtype as 'float64') as unknown as import('../lib/kernels/types.js').NetworkHandle<T>;
  const js = kernelsFor('js').network(spec, dtype as 'float64') as unknown as import('../lib/kernels/types.js').NetworkHandle<T>;
  const Ctor = params.constructor as new (n: number) => T;
  const P = nat.paramCount;
  expect(P).to.equal(js.paramCount);
  expect(relErr(nat.forward(params, batch).data, js.forward(params, batch).data), 'forward').to.be.below(tol);
  const g1 = new Ctor(P);
  const g2 = new Ctor(P);
  const l1 = nat.lossGrad(params, batch, weights, g1);
  const l2 = js.lossGrad(params, batch, weights, g2);
  expect(relErr(l1, l2), 'losses').to.be.below(tol);
  expect(relErr(g1, g2), 'lossGrad').to.be.below(tol);
  expect(relErr(nat.lossGrad(params, batch, weights, null), l2), 'losses without grad').to.be.below(tol);
  const H = spec.heads.length;
  const o1 = { rows: H, cols: P, data: new Ctor(H * P) };
  const o2 = { rows: H, cols: P, data: new Ctor(H * P) };
  expect(relErr(nat.headGrads(params, batch, o1), js.headGrads(params, batch, o2)), 'headGrads losses').to.be.below(tol);
  for (let h = 0; h < H; h++) {
    expect(relErr(o1.data.subarray(h * P, (h + 1) * P), o2.data.subarray(h * P, (h + 1) * P)), `headGrads row ${h}`).to.be.below(tol);
  }
  const v = new Ctor(P);
  for (let k = 0; k < P; k++) v[k] = Math.cos(3 * k + 1);
  const h1 = new Ctor(P);
  const h2 = new Ctor(P);
  nat.hvp(params, batch, weights, v, h1);
  js.hvp(params, batch, weights, v, h2);
  expect(relErr(h1, h2), 'hvp').to.be.below(tol);
}

describe('network kernels: native vs js parity', function () {
  before(function () {
    if (!availableBackends().includes('native')) this.skip();
  });

  for (const c of cases) {
    it(`${c.name}: float64 (1e-10) and float32 (1e-4)`, () => {
      for (const missing of [false, true]) {
        const s = setup(c, 11, missing);
        compare(c.spec, 'float64', s.params, s.batch, s.weights, 1e-10);
        const s32 = as32(s);
        compare(c.spec, 'float32', s32.params, s32.batch, s.weights, 1e-4);
      }
    });
  }

  // The native lossGrad runs a batch of 128 rows and more as two chunks of consecutive rows (129
  // rows: 72 and 57; 200 rows: 104 and 96), each head's loss divided by the whole batch's
  // labelled rows.
  it('batches of 129 and 200 rows (two row chunks of the native lossGrad) agree, with missing labels and dropout masks', () => {
    for (const rows of [129, 200])
      for (const c of cases.filter((x) => !rowsCoupled(x))) {
        const s = setup(c, 21, true, rows);
        compare(c.spec, 'float64', s.params, s.batch, s.weights, 1e-10);
        const s32 = as32(s);
        compare(c.spec, 'float32', s32.params, s32.batch, s.weights, 1e-4);
      }
  });

  it('a bad class index in a later row chunk is reported with its row in the batch', () => {
    const c = cases.find((x) => x.name === 'loss softmax-ce')!;
    const s = setup(c, 22, false, 200);
    const nat = kernelsFor('native').network(c.spec, 'float64');
    const y = { ...s.batch.y!, data: s.batch.y!.data.slice() };
    y.data[150 * y.cols] = 3.5;
    y.data[170 * y.cols] = 9;
    const grad = new Float64Array(nat.paramCount);
    expect(() => nat.lossGrad(s.params, { x: s.batch.x, y }, s.weights, grad)).to.throw(ValueError, /row 150: target 3\.5/);
  });

  it('the multi-task MLP of the benchmarks (batch 128, 128-256-256 relu, 8 heads) agrees in float32', function () {
    this.timeout(120_000);
    const spec = w2Spec();
    const rng = new Rng(5);
    const compiled = compileNetwork(spec);
    const params = initParams(compiled, rng, 'float32');
    const x = { rows: 128, cols: 128, data: Float32Array.from({ length: 128 * 128 }, () => rng.normal()) };
    const y = { rows: 128, cols: 8, data: Float32Array.from({ length: 128 * 8 }, () => rng.normal()) };
    compare(spec, 'float32', params, { x, y }, new Float64Array(8).fill(1), 1e-4);
  });

  // Twenty one-unit heads and a 17-class head read one layer: one dense group in the native kernels,
  // its narrow members copied side by side column by column and its wide one row by row. A handle
  // keeps the nodes its backward passes visit until the set of weighted heads changes, so every
  // call here, made on one handle as that set changes, must give a fresh handle's bits.
  it('many narrow heads and a wide one in one dense group agree; a handle follows the weighted heads from call to call', () => {
    const heads = 21;
    const spec: NetworkSpec = {
      nodes: [
        { op: 'input', size: 6 },
        { op: 'dense', input: 0, units: 9 },
        { op: 'activation', input: 1, fn: 'tanh' },
        ...Array.from({ length: heads }, (_, h) => ({ op: 'dense' as const, input: 2, units: h === heads - 1 ? 17 : 1 })),
      ],
      heads: Array.from({ length: heads }, (_, h) => ({ node: 3 + h, loss: h === heads - 1 ? ('softmax-ce' as const) : ('mse' as const), target: h })),
    };
    const s = setup({ name: 'wide group', spec }, 31, true, 40);
    const compiled = compileNetwork(spec);
    compare(spec, 'float64', s.params, s.batch, s.weights, 1e-10);
    const only = (keep: (h: number) => boolean): Float64Array => Float64Array.from({ length: heads }, (_, h) => (keep(h) ? 0.5 + h : 0));
    const patterns = [s.weights, only((h) => h === 0), only((h) => h === heads - 1), only((h) => h % 3 === 1), s.weights, only((h) => h === 0)];
    for (const name of ['native', 'js'] as const) {
      const kept = kernelsFor(name).network(spec, 'float64');
      const P = kept.paramCount;
      for (const [k, w] of patterns.entries()) {
        const fresh = kernelsFor(name).network(spec, 'float64');
        const g1 = new Float64Array(P);
        const g2 = new Float64Array(P);
        expect(kept.lossGrad(s.params, s.batch, w, g1), `${name} losses ${k}`).to.deep.equal(fresh.lossGrad(s.params, s.batch, w, g2));
        expect(g1, `${name} gradient ${k}`).to.deep.equal(g2);
        // The heads left out get no gradient: their weights must be zero in it.
        spec.heads.forEach((head, h) => {
          if (w[h] !== 0) return;
          const at = compiled.params.find((q) => q.node === head.node && q.name === 'W')!;
          const size = at.shape.reduce((a, b) => a * b, 1);
          expect(g1.subarray(at.offset, at.offset + size).every((v) => v === 0), `${name} head ${h} in pattern ${k}`).to.equal(true);
        });
        const h1 = new Float64Array(P);
        const h2 = new Float64Array(P);
        kept.hvp(s.params, s.batch, w, g2, h1);
        fresh.hvp(s.params, s.batch, w, g2, h2);
        expect(h1, `${name} hvp ${k}`).to.deep.equal(h2);
        if (k === 2) {
          // vjp seeds every head: all of them, then the last pattern's again.
          const outGrad = { rows: 40, cols: compiled.outputWidth, data: Float64Array.from({ length: 40 * compiled.outputWidth }, (_, q) => Math.sin(q)) };
          const v1 = new Float64Array(P);
          const v2 = new Float64Array(P);
          kept.vjp(s.params, s.batch, outGrad, v1);
          fresh.vjp(s.params, s.batch, outGrad, v2);
          expect(v1, `${name} vjp`).to.deep.equal(v2);
        }
        fresh.dispose();
      }
      kept.dispose();
    }
  });

  it('batch sizes can change; a disposed handle throws DisposedError on both backends', () => {
    const c = cases.find((x) => x.name.startsWith('MMoE'))!;
    const s = setup(c, 12);
    for (const name of ['native', 'js'] as const) {
      const h = kernelsFor(name).network(c.spec, 'float64');
      const a = h.forward(s.params, s.batch);
      const one = h.forward(s.params, { x: { rows: 1, cols: 4, data: s.batch.x.data.slice(0, 4) } });
      expect(one.data[0]).to.be.closeTo(a.data[0]!, 1e-15);
      h.dispose();
      h.dispose();
      expect(() => h.forward(s.params, s.batch)).to.throw(DisposedError, /disposed/);
      expect(() => h.lossGrad(s.params, s.batch, new Float64Array(c.spec.heads.length).fill(1), null)).to.throw(DisposedError);
    }
  });

  it('reports a bad class index as a ValueError and bad shapes as ShapeError', () => {
    const c = cases.find((x) => x.name.startsWith('hard sharing'))!;
    const s = setup(c, 13);
    const nat = kernelsFor('native').network(c.spec, 'float64');
    const y = { ...s.batch.y!, data: s.batch.y!.data.slice() };
    y.data[1] = 7;
    expect(() => nat.lossGrad(s.params, { x: s.batch.x, y }, s.weights, null)).to.throw(ValueError, /class index/);
    expect(() => nat.lossGrad(s.params.subarray(1), s.batch, s.weights, null)).to.throw(ShapeError);
    expect(() => nat.lossGrad(s.params, { x: s.batch.x }, s.weights, null)).to.throw(ShapeError);
    expect(() => nat.forward(s.params, { x: { rows: 2, cols: 5, data: new Float64Array(10) } })).to.throw(ShapeError);
    expect(() => nat.hvp(s.params, s.batch, s.weights, s.params, s.params)).to.throw(ShapeError, /share memory/);
  });

  describe('the Network binding never crashes', () => {
    const spec = cases.find((x) => x.name.startsWith('dropout'))!.spec;
    const compiled = compileNetwork(spec);
    const P = compiled.paramCount;
    const make = () => {
      const addon = rawAddon()!;
      const { ints, floats } = encodeProgram(compiled);
      return { addon, obj: new addon.Network(ints, floats, 'float64') };
    };
    const x = { rows: 2, cols: 4, data: new Float64Array(8) };
    const y = { rows: 2, cols: 1, data: new Float64Array(2) };

    it('throws "Illegal invocation" for a method called on another object', () => {
      const { obj } = make();
      const proto = Object.getPrototypeOf(obj) as Record<string, (...a: unknown[]) => unknown>;
      for (const name of ['forward', 'lossGrad', 'headGrads', 'hvp', 'info', 'dispose']) {
        for (const that of [{}, null, undefined, 5, Object.create(proto), new Float64Array(3), (() => 0) as unknown]) {
          expect(() => proto[name]!.call(that), name).to.throw(TypeError, 'Illegal invocation');
        }
      }
      const other = rawAddon()!;
      expect(() => proto.forward!.call(other, new Float64Array(P), x, null, null, null, { rows: 2, cols: 1, data: new Float64Array(2) })).to.throw(TypeError, 'Illegal invocation');
      expect(obj.info().paramCount).to.equal(P);
    });

    it('rejects forged programs with a RangeError', () => {
      const addon = rawAddon()!;
      const { ints, floats } = encodeProgram(compiled);
      const forge = (edit: (i: Int32Array, f: Float64Array) => void): (() => unknown) => () => {
        const i = ints.slice();
        const f = floats.slice();
        edit(i, f);
        return new addon.Network(i, f, 'float64');
      };
      expect(forge(() => {})).not.to.throw();
      expect(forge((i) => (i[0] = 1))).to.throw(RangeError, /version/);
      expect(forge((i) => (i[1] = 100))).to.throw(RangeError);
      expect(forge((i) => (i[2] = 0))).to.throw(RangeError);
      expect(forge((i) => (i[10] = 5))).to.throw(RangeError, /earlier/); // node 1 reads node 5
      expect(forge((i) => (i[7] = 99))).to.throw(RangeError, /op/); // op code of node 1
      expect(forge((i) => (i[11] = 2))).to.throw(RangeError, /extra/); // extras on a dense node
      expect(forge((i) => (i[6] = 7))).to.throw(RangeError, /extra/); // an extra count out of range
      expect(forge((i, f) => (f[3] = 1.5))).to.throw(RangeError, /rate/);
      expect(forge((i) => (i[i.length - 1] = -1))).to.throw(RangeError, /target/);
      expect(forge((i) => (i[i.length - 3] = 0))).to.throw(RangeError, /node/);
      expect(() => new addon.Network(ints.subarray(0, 10), floats, 'float64')).to.throw(RangeError, /ends early/);
      expect(() => new addon.Network(Int32Array.from([...ints, 0]), floats, 'float64')).to.throw(RangeError, /trailing/);
      expect(() => new addon.Network(ints, floats, 'int8' as 'float64')).to.throw(RangeError);
      expect(() => new addon.Network(Float64Array.from(ints) as unknown as Int32Array, floats, 'float64')).to.throw(TypeError);
      expect(() => (addon.Network as unknown as () => unknown)()).to.throw(TypeError);
    });

    it('checks every argument of every method', () => {
      const { obj } = make();
      const p = new Float64Array(P);
      const w = new Float64Array(1).fill(1);
      const g = new Float64Array(P);
      const losses = new Float64Array(1);
      const out = { rows: 2, cols: 1, data: new Float64Array(2) };
      const mask = (len: number) => [null, null, null, new Float64Array(len), null];
      // valid calls
      obj.forward(p, x, null, null, null, out);
      obj.forward(p, x, mask(10), null, null, out);
      obj.lossGrad(p, x, y, null, null, null, w, g, losses);
      obj.lossGrad(p, x, y, null, null, null, w, null, losses);
      obj.headGrads(p, x, y, null, null, null, { rows: 1, cols: P, data: new Float64Array(P) }, losses);
      obj.hvp(p, x, y, null, null, null, w, new Float64Array(P), g);
      const bad: [string, () => unknown][] = [
        ['no args', () => (obj.forward as () => void)()],
        ['f32 params', () => obj.forward(new Float32Array(P), x, null, null, null, out)],
        ['short params', () => obj.forward(p.subarray(1), x, null, null, null, out)],
        ['x not a matrix', () => obj.forward(p, new Float64Array(8) as unknown as Matrix<Float64Array>, null, null, null, out)],
        ['x wrong cols', () => obj.forward(p, { rows: 2, cols: 3, data: new Float64Array(6) }, null, null, null, out)],
        ['x lying rows', () => obj.forward(p, { rows: 3, cols: 4, data: new Float64Array(8) }, null, null, null, out)],
        ['x negative rows', () => obj.forward(p, { rows: -1, cols: 4, data: new Float64Array(8) }, null, null, null, out)],
        ['out wrong rows', () => obj.forward(p, x, null, null, null, { rows: 3, cols: 1, data: new Float64Array(3) })],
        ['masks not array', () => obj.forward(p, x, {} as unknown as null, null, null, out)],
        ['masks wrong length', () => obj.forward(p, x, [null], null, null, out)],
        ['mask too short', () => obj.forward(p, x, mask(9), null, null, out)],
        ['mask on a dense node', () => obj.forward(p, x, [null, new Float64Array(10), null, null, null], null, null, out)],
        ['mask wrong dtype', () => obj.forward(p, x, [null, null, null, new Float32Array(10), null], null, null, out)],
        ['y missing', () => obj.lossGrad(p, x, null as unknown as Matrix<Float64Array>, null, null, null, w, g, losses)],
        ['y wrong rows', () => obj.lossGrad(p, x, { rows: 3, cols: 1, data: new Float64Array(3) }, null, null, null, w, g, losses)],
        ['y no columns', () => obj.lossGrad(p, x, { rows: 2, cols: 0, data: new Float64Array(0) }, null, null, null, w, g, losses)],
        ['weights wrong length', () => obj.lossGrad(p, x, y, null, null, null, new Float64Array(2), g, losses)],
        ['weights NaN', () => obj.lossGrad(p, x, y, null, null, null, Float64Array.of(NaN), g, losses)],
        ['grad short', () => obj.lossGrad(p, x, y, null, null, null, w, g.subarray(1), losses)],
        ['grad is params', () => obj.lossGrad(p, x, y, null, null, null, w, p, losses)],
        ['losses short', () => obj.lossGrad(p, x, y, null, null, null, w, g, new Float64Array(0))],
        ['headGrads out shape', () => obj.headGrads(p, x, y, null, null, null, { rows: 2, cols: P, data: new Float64Array(2 * P) }, losses)],
        ['hvp v short', () => obj.hvp(p, x, y, null, null, null, w, new Float64Array(1), g)],
        ['hvp out is v', () => obj.hvp(p, x, y, null, null, null, w, g, g)],
        ['too many args', () => (obj.forward as (...a: unknown[]) => void)(p, x, null, null, null, out, 1)],
        ['old arity (no stats arguments)', () => (obj.forward as (...a: unknown[]) => void)(p, x, null, out)],
      ];
      for (const [name, f] of bad) expect(f, name).to.throw(/./);
    });
  });
});

export function w2Spec(): NetworkSpec {
  return {
    nodes: [
      { op: 'input', size: 128 },
      { op: 'dense', input: 0, units: 256 },
      { op: 'activation', input: 1, fn: 'relu' },
      { op: 'dense', input: 2, units: 256 },
      { op: 'activation', input: 3, fn: 'relu' },
      ...Array.from({ length: 8 }, () => ({ op: 'dense' as const, input: 4, units: 1 })),
    ],
    heads: Array.from({ length: 8 }, (_, h) => ({ node: 5 + h, loss: 'mse' as const, target: h })),
  };
}
