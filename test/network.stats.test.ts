/**
 * Batch normalisation statistics of the network kernels (selected backend): what a batch-mode pass
 * reports in stats.batchOut, what a pass with stats.running computes, the errors for bad
 * statistics arguments, and (native) the binding's checks of its stats / statsOut arguments.
 */
import { expect } from 'chai';

import { ShapeError, ValueError } from '../lib/core/errors.js';
import { Rng } from '../lib/core/rng.js';
import { availableBackends, kernels, rawAddon } from '../lib/kernels/index.js';
import type { NetworkSpec } from '../lib/kernels/types.js';
import { compileNetwork, encodeProgram, initParams } from '../lib/nn/spec.js';
import { expectBindingErrors, randMatrix, relErr } from './helpers.js';

/** Images 2 x 3 x 3 -> batchnorm (2 channels of 9 pixels) -> flatten -> dense(1). */
const spec: NetworkSpec = {
  nodes: [
    { op: 'input', size: 18, shape: [2, 3, 3] },
    { op: 'batchnorm', input: 0 },
    { op: 'flatten', input: 1 },
    { op: 'dense', input: 2, units: 1 },
  ],
  heads: [{ node: 3, loss: 'mse', target: 0 }],
};
const compiled = compileNetwork(spec);
const n = 5;

function setup() {
  const rng = new Rng(3);
  const params = initParams(compiled, rng, 'float64');
  for (let k = 0; k < params.length; k++) params[k]! += 0.2 * rng.normal();
  const x = randMatrix(rng, n, 18, 2);
  const y = randMatrix(rng, n, 1);
  return { params, x, y };
}

describe('network kernels: batchnorm statistics (selected backend)', () => {
  it('lays out one mean and one variance per channel', () => {
    expect(compiled.statsCount).to.equal(4);
    expect(compiled.statsOffset[1]).to.equal(0);
    expect(compiled.normChannels[1]).to.equal(2);
  });

  it('a batch-mode pass reports the mean and biased variance of every channel', () => {
    const { params, x } = setup();
    const net = kernels().network(spec, 'float64');
    const out = new Float64Array(4).fill(NaN);
    net.forward(params, { x, stats: { batchOut: out } });
    for (let c = 0; c < 2; c++) {
      const v: number[] = [];
      for (let r = 0; r < n; r++) for (let p = 0; p < 9; p++) v.push(x.data[r * 18 + c * 9 + p]!);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
      expect(out[c]).to.be.closeTo(mean, 1e-12);
      expect(out[2 + c]).to.be.closeTo(variance, 1e-12);
    }
    // lossGrad reports them too.
    const out2 = new Float64Array(4);
    net.lossGrad(params, { x, y: setup().y, stats: { batchOut: out2 } }, Float64Array.of(1), new Float64Array(net.paramCount));
    expect(Array.from(out2)).to.deep.equal(Array.from(out));
  });

  it('running statistics equal to the batch ones give the same outputs, and rows become independent', () => {
    const { params, x } = setup();
    const net = kernels().network(spec, 'float64');
    const stats = new Float64Array(4);
    const batchOut = net.forward(params, { x, stats: { batchOut: stats } });
    const running = net.forward(params, { x, stats: { running: stats } });
    expect(relErr(running.data, batchOut.data)).to.be.below(1e-13);
    // With running statistics one row alone gives its row of the batch's output...
    const row = net.forward(params, { x: { rows: 1, cols: 18, data: x.data.slice(18, 36) }, stats: { running: stats } });
    expect(row.data[0]).to.be.closeTo(running.data[1]!, 1e-13);
    // ...and with the batch's own statistics it does not (a lone row normalises to beta).
    const alone = net.forward(params, { x: { rows: 1, cols: 18, data: x.data.slice(18, 36) } });
    expect(Math.abs(alone.data[0]! - running.data[1]!)).to.be.above(1e-3);
  });

  it('running statistics change the gradient: the mean and variance are constants there', () => {
    const { params, x, y } = setup();
    const net = kernels().network(spec, 'float64');
    const stats = new Float64Array(4);
    net.forward(params, { x, stats: { batchOut: stats } });
    const gb = new Float64Array(net.paramCount);
    const gr = new Float64Array(net.paramCount);
    net.lossGrad(params, { x, y }, Float64Array.of(1), gb);
    net.lossGrad(params, { x, y, stats: { running: stats } }, Float64Array.of(1), gr);
    // gamma, beta and the dense layer see the same forward values: their gradients agree...
    expect(relErr(gr, gb)).to.be.below(1e-12);
    // ...but the input gradient differs; it shows through a parameter before the batchnorm.
    const deeper: NetworkSpec = {
      nodes: [
        { op: 'input', size: 18, shape: [2, 3, 3] },
        { op: 'conv2d', input: 0, filters: 2, kernel: 1 },
        { op: 'batchnorm', input: 1 },
        { op: 'dense', input: 2, units: 1 },
      ],
      heads: [{ node: 3, loss: 'mse', target: 0 }],
    };
    const c2 = compileNetwork(deeper);
    const p2 = initParams(c2, new Rng(4), 'float64');
    const net2 = kernels().network(deeper, 'float64');
    const s2 = new Float64Array(4);
    net2.forward(p2, { x, stats: { batchOut: s2 } });
    const a = new Float64Array(net2.paramCount);
    const b = new Float64Array(net2.paramCount);
    net2.lossGrad(p2, { x, y }, Float64Array.of(1), a);
    net2.lossGrad(p2, { x, y, stats: { running: s2 } }, Float64Array.of(1), b);
    expect(relErr(a.subarray(0, 4), b.subarray(0, 4))).to.be.above(1e-3);
  });

  it('refuses bad statistics with typed errors', () => {
    const { params, x } = setup();
    const net = kernels().network(spec, 'float64');
    expect(() => net.forward(params, { x, stats: { running: new Float64Array(3) } })).to.throw(ShapeError, /stats.running.*length 4/);
    expect(() => net.forward(params, { x, stats: { running: new Float32Array(4) as unknown as Float64Array } })).to.throw(ShapeError, /Float64Array/);
    expect(() => net.forward(params, { x, stats: { batchOut: new Float64Array(5) } })).to.throw(ShapeError, /batchOut/);
    expect(() => net.forward(params, { x, stats: { running: new Float64Array(4), batchOut: new Float64Array(4) } })).to.throw(ValueError, /cannot be combined/);
    const noBn = kernels().network({ nodes: [{ op: 'input', size: 2 }, { op: 'dense', input: 0, units: 1 }], heads: [{ node: 1, loss: 'mse', target: 0 }] }, 'float64');
    expect(() => noBn.forward(new Float64Array(3), { x: randMatrix(new Rng(1), 2, 2), stats: { running: new Float64Array(1) } })).to.throw(ShapeError, /length 0/);
  });

  describe('native binding: the stats and statsOut arguments', () => {
    before(function () {
      if (!availableBackends().includes('native')) this.skip();
    });

    it('throws TypeError or RangeError for every wrong stats argument, never crashes', () => {
      const addon = rawAddon()!;
      const { ints, floats } = encodeProgram(compiled);
      const obj = new addon.Network(ints, floats, 'float64');
      const { params, x, y } = setup();
      const out = { rows: n, cols: 1, data: new Float64Array(n) };
      const stats = new Float64Array(4);
      obj.forward(params, x, null, null, stats, out);
      obj.forward(params, x, null, stats, null, out);
      const g = new Float64Array(params.length);
      const w = Float64Array.of(1);
      obj.lossGrad(params, x, y, null, null, stats, w, g, new Float64Array(1));
      const fw = obj.forward.bind(obj) as (...a: unknown[]) => void;
      const bad: [string, () => unknown][] = [
        ['stats short', () => fw(params, x, null, new Float64Array(3), null, out)],
        ['stats f32 on a float64 network', () => fw(params, x, null, new Float32Array(4), null, out)],
        ['stats an array', () => fw(params, x, null, [0, 0, 1, 1], null, out)],
        ['statsOut f32', () => fw(params, x, null, null, new Float32Array(4), out)],
        ['statsOut long', () => fw(params, x, null, null, new Float64Array(5), out)],
        ['both', () => fw(params, x, null, stats, new Float64Array(4), out)],
        ['statsOut is params', () => fw(params, x, null, null, params.subarray(0, 4), out)],
        ['statsOut overlaps x', () => fw(params, x, null, null, x.data.subarray(2, 6), out)],
        ['out overlaps statsOut', () => {
          const buf = new Float64Array(8);
          return fw(params, x, null, null, buf.subarray(0, 4), { rows: n, cols: 1, data: buf.subarray(3, 8) });
        }],
        ['out overlaps stats', () => {
          const buf = new Float64Array(8);
          return fw(params, x, null, buf.subarray(0, 4), null, { rows: n, cols: 1, data: buf.subarray(3, 8) });
        }],
        ['grad overlaps statsOut', () => {
          const buf = new Float64Array(params.length + 4);
          return obj.lossGrad(params, x, y, null, null, buf.subarray(0, 4), w, buf.subarray(4 - 1, 4 - 1 + params.length), new Float64Array(1));
        }],
        ['losses is statsOut', () => {
          const buf = new Float64Array(4);
          return obj.lossGrad(params, x, y, null, null, buf, w, g, buf.subarray(0, 1));
        }],
      ];
      expectBindingErrors(bad);
      // The handle still works.
      obj.forward(params, x, null, null, stats, out);
      expect(out.data.every(Number.isFinite)).to.equal(true);
    });
  });
});
