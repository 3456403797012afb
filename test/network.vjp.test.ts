/**
 * vjp (J^T outGrad) of the selected backend's network kernel: against finite differences of
 * <outGrad, forward(params)>, and against lossGrad, whose gradient is vjp seeded with dL/dz.
 */
import { expect } from 'chai';

import { ShapeError, ValueError } from '../lib/core/errors.js';
import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { kernels } from '../lib/kernels/index.js';
import type { NetworkSpec } from '../lib/kernels/types.js';
import { compileNetwork, initParams } from '../lib/nn/spec.js';
import { randMatrix } from './helpers.js';

const spec: NetworkSpec = {
  nodes: [
    { op: 'input', size: 3 },
    { op: 'dense', input: 0, units: 5 },
    { op: 'activation', input: 1, fn: 'tanh' },
    { op: 'dense', input: 2, units: 4 },
    { op: 'layernorm', input: 3 },
    { op: 'dense', input: 2, units: 1 },
  ],
  heads: [
    { node: 4, loss: 'softmax-ce', target: 0 },
    { node: 5, loss: 'mse', target: 1 },
  ],
};

describe('network kernel: vjp', () => {
  const rng = new Rng(7);
  const net = kernels().network(spec, 'float64');
  const params = initParams(compileNetwork(spec), rng, 'float64') as Float64Array;
  const x = randMatrix(rng, 6, 3);
  const outGrad = randMatrix(rng, 6, 5);

  it('equals finite differences of <outGrad, forward(params)>', () => {
    if (!net.vjp) throw new Error('vjp missing on this backend');
    const g = new Float64Array(net.paramCount);
    net.vjp(params, { x }, outGrad, g);
    const dot = (p: Float64Array): number => {
      const z = net.forward(p, { x }).data;
      let s = 0;
      for (let i = 0; i < z.length; i++) s += z[i]! * outGrad.data[i]!;
      return s;
    };
    const h = 1e-6;
    for (let k = 0; k < net.paramCount; k++) {
      const p = params.slice();
      p[k] = params[k]! + h;
      const up = dot(p);
      p[k] = params[k]! - h;
      const fd = (up - dot(p)) / (2 * h);
      expect(g[k]).to.be.closeTo(fd, 1e-7 * Math.max(1, Math.abs(fd)));
    }
  });

  it('seeded with dL/dz reproduces lossGrad', () => {
    // mse head only: dL/dz = 2 (z - y) / n; the softmax head gets weight 0.
    const y = { rows: 6, cols: 2, data: new Float64Array(12) };
    for (let r = 0; r < 6; r++) {
      y.data[r * 2] = r % 4;
      y.data[r * 2 + 1] = rng.normal();
    }
    const grad = new Float64Array(net.paramCount);
    net.lossGrad(params, { x, y }, new Float64Array([0, 1]), grad);
    const z = net.forward(params, { x }).data;
    const seed = { rows: 6, cols: 5, data: new Float64Array(30) };
    for (let r = 0; r < 6; r++) seed.data[r * 5 + 4] = (2 * (z[r * 5 + 4]! - y.data[r * 2 + 1]!)) / 6;
    const g = new Float64Array(net.paramCount);
    net.vjp!(params, { x }, seed, g);
    for (let k = 0; k < g.length; k++) expect(g[k]).to.be.closeTo(grad[k]!, 1e-12);
  });

  it('reuseForward gives the same gradient from the preceding forward, and refuses any other history', () => {
    const g = new Float64Array(net.paramCount);
    net.vjp(params, { x }, outGrad, g);
    const batch = { x };
    net.forward(params, batch);
    const g2 = new Float64Array(net.paramCount).fill(9);
    net.vjp(params, batch, outGrad, g2, true);
    expect(Array.from(g2)).to.deep.equal(Array.from(g));
    // A second reuse: the vjp itself was the last call.
    expect(() => net.vjp(params, batch, outGrad, g2, true)).to.throw(ValueError, /reuseForward/);
    // Another call in between, other params, another x.
    net.forward(params, batch);
    net.lossGrad(params, { x, y: { rows: 6, cols: 2, data: new Float64Array(12) } }, Float64Array.of(1, 1), null);
    expect(() => net.vjp(params, batch, outGrad, g2, true)).to.throw(ValueError, /reuseForward/);
    net.forward(params, batch);
    expect(() => net.vjp(params.slice(), batch, outGrad, g2, true)).to.throw(ValueError, /reuseForward/);
    net.forward(params, batch);
    expect(() => net.vjp(params, { x: { ...x, data: x.data.slice() } }, outGrad, g2, true)).to.throw(ValueError, /reuseForward/);
  });

  it('rejects an outGrad of the wrong shape', () => {
    const g = new Float64Array(net.paramCount);
    expect(() => net.vjp!(params, { x }, randMatrix(rng, 6, 4), g)).to.throw(ShapeError, /outGrad/);
  });
});
