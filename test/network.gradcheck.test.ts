/**
 * Gradient checks of the network kernels on the selected backend (METATASK_BACKEND): for every
 * op, activation, loss and a few multi-task architectures, in float64,
 * - lossGrad against central finite differences of the weighted loss,
 * - headGrads rows against lossGrad with one-hot weights,
 * - hvp against central finite differences of gradients,
 * - missing targets contribute nothing,
 * - float32 agrees with float64.
 */
import { expect } from 'chai';

import { ShapeError, ValueError } from '../lib/core/errors.js';
import type { FloatArray, Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { kernels } from '../lib/kernels/index.js';
import { erf, erfc, normalCdf } from '../lib/kernels/js/erf.js';
import type { NetworkBatch, NetworkSpec } from '../lib/kernels/types.js';
import { compileNetwork, initParams } from '../lib/nn/spec.js';
import { randMatrix, relErr as relErrWithFloor } from './helpers.js';
import { batch32, cases, chain, N, rowsCoupled, setup, type Setup } from './network.cases.js';

/** Norms below 1e-12 count as 1e-12: the finite differences checked here are far noisier than that. */
const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => relErrWithFloor(a, b, 1e-12);

function weightedLoss(s: Setup, p: Float64Array, net = kernels().network(s.spec, 'float64')): number {
  const l = net.lossGrad(p, s.batch, s.weights, null);
  return l.reduce((acc, v, h) => acc + s.weights[h]! * v, 0);
}

function fdGrad(s: Setup): Float64Array {
  const e = 1e-6;
  const p = s.params.slice();
  const g = new Float64Array(p.length);
  const net = kernels().network(s.spec, 'float64'); // one handle for the 2 x params evaluations
  for (let k = 0; k < p.length; k++) {
    const v = p[k]!;
    p[k] = v + e;
    const lp = weightedLoss(s, p, net);
    p[k] = v - e;
    const lm = weightedLoss(s, p, net);
    p[k] = v;
    g[k] = (lp - lm) / (2 * e);
  }
  return g;
}

function grad(s: Setup, p: Float64Array, weights = s.weights): Float64Array {
  const net = kernels().network(s.spec, 'float64');
  const g = new Float64Array(net.paramCount);
  net.lossGrad(p, s.batch, weights, g);
  return g;
}

describe('network kernels: gradient checks (selected backend)', () => {
  it('erf and the normal CDF are accurate to 1e-15', () => {
    const table: [number, number][] = [
      [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [-1.5, -0.9661051464753108], [4, 0.9999999845827421],
    ];
    for (const [x, v] of table) expect(Math.abs(erf(x) - v)).to.be.below(1e-15);
    expect(Math.abs(erfc(5) / 1.5374597944280349e-12 - 1)).to.be.below(1e-13);
    expect(Math.abs(normalCdf(-10) / 7.619853024160527e-24 - 1)).to.be.below(1e-12);
  });

  for (const c of cases) {
    describe(c.name, () => {
      it('lossGrad matches central finite differences (rel err < 1e-6)', function () {
        // Two losses per parameter: thousands for the 16-channel convolutions. At least 20 s, and
        // never less than a longer timeout the run was given (emulated CPUs).
        this.timeout(Math.max(this.timeout(), 20_000));
        const s = setup(c, 1);
        const g = grad(s, s.params);
        const fd = fdGrad(s);
        expect(relErr(g, fd)).to.be.below(1e-6);
        expect(g.some((v) => v !== 0)).to.equal(true);
      });

      it('headGrads rows equal lossGrad with one-hot weights', () => {
        const s = setup(c, 2);
        const net = kernels().network(s.spec, 'float64');
        const H = s.spec.heads.length;
        const out = { rows: H, cols: net.paramCount, data: new Float64Array(H * net.paramCount) };
        const losses = net.headGrads(s.params, s.batch, out);
        const ref = net.lossGrad(s.params, s.batch, new Float64Array(H).fill(1), null);
        for (let h = 0; h < H; h++) {
          expect(losses[h]).to.be.closeTo(ref[h]!, 1e-12);
          const w = new Float64Array(H);
          w[h] = 1;
          const g = grad(s, s.params, w);
          expect(relErr(out.data.subarray(h * net.paramCount, (h + 1) * net.paramCount), g)).to.be.below(1e-12);
        }
      });

      it('hvp matches finite differences of gradients (rel err < 1e-5)', () => {
        const s = setup(c, 3);
        const rng = new Rng(33);
        const v = Float64Array.from({ length: s.params.length }, () => rng.normal());
        const net = kernels().network(s.spec, 'float64');
        const hv = new Float64Array(net.paramCount);
        net.hvp(s.params, s.batch, s.weights, v, hv);
        const e = 1e-5;
        const pp = s.params.map((p, k) => p + e * v[k]!);
        const pm = s.params.map((p, k) => p - e * v[k]!);
        const gp = grad(s, pp);
        const gm = grad(s, pm);
        const fd = gp.map((a, k) => (a - gm[k]!) / (2 * e));
        expect(relErr(hv, fd)).to.be.below(1e-5);
      });

      it('missing targets contribute nothing', () => {
        const s = setup(c, 4, true);
        const net = kernels().network(s.spec, 'float64');
        const g1 = new Float64Array(net.paramCount);
        const l1 = net.lossGrad(s.params, s.batch, s.weights, g1);
        // Change every missing target to another missing value: nothing may change.
        const y2 = s.batch.y!.data.slice();
        s.spec.heads.forEach((h) => {
          for (let r = 0; r < N; r++) {
            const k = r * s.batch.y!.cols + h.target;
            if (Number.isNaN(y2[k]!)) y2[k] = NaN;
            else if (y2[k]! < 0 && (h.loss === 'softmax-ce' || h.loss === 'bce-logits')) y2[k] = -7;
          }
        });
        const b2 = { ...s.batch, y: { rows: N, cols: s.batch.y!.cols, data: y2 } };
        const g2 = new Float64Array(net.paramCount);
        const l2 = net.lossGrad(s.params, b2, s.weights, g2);
        expect(Array.from(l2)).to.deep.equal(Array.from(l1));
        expect(Array.from(g2)).to.deep.equal(Array.from(g1));
        // Batch statistics make every row count in every output, labelled or not.
        if (rowsCoupled(c)) return;
        // The same as the batch without the missing rows (rows 1 and 4 of 6).
        const keep = [0, 2, 3, 5];
        const x = s.batch.x;
        const sub = <T extends FloatArray>(m: Matrix<T>): Matrix<Float64Array> => ({
          rows: keep.length, cols: m.cols,
          data: Float64Array.from(keep.flatMap((r) => Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols)))),
        });
        const masks = s.batch.masks
          ? new Map([...s.batch.masks].map(([i, m]) => [i, sub({ rows: N, cols: m.length / N, data: m }).data]))
          : undefined;
        const g3 = new Float64Array(net.paramCount);
        const l3 = net.lossGrad(s.params, { x: sub(x), y: sub(s.batch.y!), masks, stats: s.batch.stats }, s.weights, g3);
        for (let h = 0; h < l1.length; h++) expect(l3[h]).to.be.closeTo(l1[h]!, 1e-12);
        expect(relErr(g3, g1)).to.be.below(1e-12);
      });

      it('float32 agrees with float64 to ~1e-4', () => {
        const s = setup(c, 5);
        const n64 = kernels().network(s.spec, 'float64');
        const n32 = kernels().network(s.spec, 'float32');
        const f = (a: Float64Array): Float32Array => Float32Array.from(a);
        const b32: NetworkBatch<Float32Array> = batch32(s.batch);
        const p32 = f(s.params);
        const p64 = Float64Array.from(p32);
        const b64: NetworkBatch<Float64Array> = {
          x: { ...s.batch.x, data: Float64Array.from(b32.x.data) }, y: s.batch.y,
          masks: b32.masks ? new Map([...b32.masks].map(([i, m]) => [i, Float64Array.from(m)])) : undefined,
          stats: b32.stats?.running ? { running: Float64Array.from(b32.stats.running) } : undefined,
        };
        const o32 = n32.forward(p32, b32);
        const o64 = n64.forward(p64, b64);
        expect(o32.data).to.be.instanceOf(Float32Array);
        expect(relErr(o32.data, o64.data)).to.be.below(1e-4);
        const g32 = new Float32Array(n32.paramCount);
        const g64 = new Float64Array(n64.paramCount);
        const l32 = n32.lossGrad(p32, b32, s.weights, g32);
        const l64 = n64.lossGrad(p64, b64, s.weights, g64);
        expect(relErr(l32, l64)).to.be.below(1e-4);
        expect(relErr(g32, g64)).to.be.below(1e-4);
        const v64 = Float64Array.from({ length: p64.length }, (_, k) => Math.sin(k + 1));
        const h32 = new Float32Array(n32.paramCount);
        const h64 = new Float64Array(n64.paramCount);
        n32.hvp(p32, b32, s.weights, Float32Array.from(v64), h32);
        n64.hvp(p64, b64, s.weights, v64, h64);
        expect(relErr(h32, h64)).to.be.below(1e-4);
      });
    });
  }

  describe('behaviour', () => {
    const spec = cases.find((c) => c.name.startsWith('hard sharing'))!.spec;

    it("a head whose targets are all missing has zero loss and zero gradient", () => {
      const s = setup({ name: '', spec }, 6);
      const y = s.batch.y!;
      for (let r = 0; r < N; r++) y.data[r * y.cols + 1] = -1;
      const net = kernels().network(spec, 'float64');
      const out = { rows: 2, cols: net.paramCount, data: new Float64Array(2 * net.paramCount) };
      const losses = net.headGrads(s.params, s.batch, out);
      expect(losses[1]).to.equal(0);
      expect(out.data.subarray(net.paramCount).every((v) => v === 0)).to.equal(true);
      expect(out.data.subarray(0, net.paramCount).some((v) => v !== 0)).to.equal(true);
      const hv = new Float64Array(net.paramCount);
      net.hvp(s.params, s.batch, Float64Array.of(0, 1), s.params.slice(), hv);
      expect(hv.every((v) => v === 0)).to.equal(true);
    });

    it('forward returns the heads side by side; dropout without a mask is the identity', () => {
      const c = cases.find((x) => x.name.startsWith('dropout'))!;
      const s = setup(c, 7);
      const net = kernels().network(c.spec, 'float64');
      const withMask = net.forward(s.params, s.batch);
      const noMask = net.forward(s.params, { x: s.batch.x });
      const noDrop = kernels().network(chain((p) => [{ op: 'activation', input: p, fn: 'tanh' }]), 'float64');
      const ref = noDrop.forward(s.params, { x: s.batch.x });
      expect(noMask.rows).to.equal(N);
      expect(noMask.cols).to.equal(1);
      expect(relErr(noMask.data, ref.data)).to.be.below(1e-15);
      expect(relErr(withMask.data, ref.data)).to.be.above(1e-6);
      const two = kernels().network(spec, 'float64').forward(setup({ name: '', spec }, 8).params, { x: s.batch.x });
      expect(two.cols).to.equal(4);
    });

    it('an empty batch gives zero losses, gradients and Hessian-vector products', () => {
      for (const c of cases) {
        const s = setup(c, 14);
        const net = kernels().network(c.spec, 'float64');
        const x = { rows: 0, cols: s.batch.x.cols, data: new Float64Array(0) };
        const y = { rows: 0, cols: s.batch.y!.cols, data: new Float64Array(0) };
        const g = new Float64Array(net.paramCount).fill(7);
        expect(Array.from(net.lossGrad(s.params, { x, y }, s.weights, g)).every((v) => v === 0), c.name).to.equal(true);
        expect(g.every((v) => v === 0), c.name).to.equal(true);
        const hv = new Float64Array(net.paramCount).fill(7);
        net.hvp(s.params, { x, y }, s.weights, s.params.slice(), hv);
        expect(hv.every((v) => v === 0), c.name).to.equal(true);
        expect(net.forward(s.params, { x }).rows).to.equal(0);
      }
    });

    it('checks shapes and class indices', () => {
      const s = setup({ name: '', spec }, 9);
      const net = kernels().network(spec, 'float64');
      const g = new Float64Array(net.paramCount);
      expect(() => net.lossGrad(s.params.subarray(1), s.batch, s.weights, g)).to.throw(ShapeError);
      expect(() => net.lossGrad(s.params, s.batch, new Float64Array(3), g)).to.throw(ShapeError);
      expect(() => net.lossGrad(s.params, { x: s.batch.x }, s.weights, g)).to.throw(ShapeError);
      expect(() => net.forward(s.params, { x: { rows: 2, cols: 3, data: new Float64Array(6) } })).to.throw(ShapeError);
      const y = { ...s.batch.y!, data: s.batch.y!.data.slice() };
      y.data[1] = 3; // class 3 of a 3-class head
      expect(() => net.lossGrad(s.params, { x: s.batch.x, y }, s.weights, g)).to.throw(ValueError);
      y.data[1] = 1.5;
      expect(() => net.lossGrad(s.params, { x: s.batch.x, y }, s.weights, g)).to.throw(ValueError);
    });

    it('a larger relu net (batch 32, 16-32-32-2 heads) passes the gradient check', () => {
      const big: NetworkSpec = {
        nodes: [
          { op: 'input', size: 16 },
          { op: 'dense', input: 0, units: 32 },
          { op: 'activation', input: 1, fn: 'relu' },
          { op: 'dense', input: 2, units: 32 },
          { op: 'activation', input: 3, fn: 'relu' },
          { op: 'dense', input: 4, units: 1 },
          { op: 'dense', input: 4, units: 1 },
        ],
        heads: [{ node: 5, loss: 'mse', target: 0 }, { node: 6, loss: 'mse', target: 1 }],
      };
      const rng = new Rng(10);
      const compiled = compileNetwork(big);
      const params = initParams(compiled, rng, 'float64');
      const batch = { x: randMatrix(rng, 32, 16), y: randMatrix(rng, 32, 2) };
      const net = kernels().network(big, 'float64');
      const w = Float64Array.of(1, 0.5);
      const g = new Float64Array(net.paramCount);
      net.lossGrad(params, batch, w, g);
      // Spot-check 60 coordinates.
      const e = 1e-6;
      for (let t = 0; t < 60; t++) {
        const k = rng.int(params.length);
        const p = params.slice();
        p[k]! += e;
        const lp = net.lossGrad(p, batch, w, null);
        p[k]! -= 2 * e;
        const lm = net.lossGrad(p, batch, w, null);
        const fd = (lp[0]! - lm[0]! + 0.5 * (lp[1]! - lm[1]!)) / (2 * e);
        expect(Math.abs(fd - g[k]!)).to.be.below(1e-6 * Math.max(1, Math.abs(g[k]!)));
      }
    });
  });
});
