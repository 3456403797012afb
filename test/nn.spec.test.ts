/**
 * compileNetwork: its errors (ConfigError naming the node or head and the problem), widths,
 * parameter layout and head offsets; initParams and dropoutMasks.
 */
import { expect } from 'chai';

import { ConfigError } from '../lib/core/errors.js';
import { Rng } from '../lib/core/rng.js';
import { availableBackends, kernelsFor } from '../lib/kernels/index.js';
import type { NetworkSpec, NodeSpec } from '../lib/kernels/types.js';
import { compileNetwork, dropoutMasks, encodeProgram, initParams } from '../lib/nn/spec.js';

const mmoe: NetworkSpec = {
  nodes: [
    { op: 'input', size: 3 },
    { op: 'dense', input: 0, units: 4 }, // 1
    { op: 'dense', input: 0, units: 4 }, // 2
    { op: 'dense', input: 0, units: 2 }, // 3
    { op: 'softmax', input: 3 }, // 4
    { op: 'mixture', gate: 4, experts: [1, 2] }, // 5
    { op: 'layernorm', input: 5 }, // 6
    { op: 'stitch', inputs: [6, 5], self: 0 }, // 7
    { op: 'concat', inputs: [7, 0] }, // 8
    { op: 'dense', input: 8, units: 1 }, // 9
    { op: 'dense', input: 8, units: 3 }, // 10
  ],
  heads: [
    { node: 9, loss: 'huber', target: 2, delta: 0.5 },
    { node: 10, loss: 'softmax-ce', target: 0 },
  ],
};

function expectConfig(spec: unknown, ...parts: string[]): void {
  let err: unknown;
  try {
    compileNetwork(spec as NetworkSpec);
  } catch (e) {
    err = e;
  }
  expect(err, `expected a ConfigError mentioning ${parts.join(', ')}`).to.be.instanceOf(ConfigError);
  for (const p of parts) expect((err as Error).message).to.contain(p);
}

const base = (nodes: NodeSpec[], heads: NetworkSpec['heads'] = [{ node: nodes.length, loss: 'mse', target: 0 }]): NetworkSpec => ({
  nodes: [{ op: 'input', size: 3 }, ...nodes],
  heads,
});

describe('compileNetwork', () => {
  it('computes widths, the parameter layout, counts and head offsets', () => {
    const c = compileNetwork(mmoe);
    expect(Array.from(c.widths)).to.deep.equal([3, 4, 4, 2, 2, 4, 4, 4, 7, 1, 3]);
    const layout = c.params.map((p) => [p.node, p.name, p.offset, p.shape.join('x'), p.fanIn]);
    expect(layout).to.deep.equal([
      [1, 'W', 0, '3x4', 3], [1, 'b', 12, '4', 3],
      [2, 'W', 16, '3x4', 3], [2, 'b', 28, '4', 3],
      [3, 'W', 32, '3x2', 3], [3, 'b', 38, '2', 3],
      [6, 'gamma', 40, '4', 4], [6, 'beta', 44, '4', 4],
      [7, 'a', 48, '2', 2],
      [9, 'W', 50, '7x1', 7], [9, 'b', 57, '1', 7],
      [10, 'W', 58, '7x3', 7], [10, 'b', 79, '3', 7],
    ]);
    expect(c.paramCount).to.equal(82);
    expect(Array.from(c.headOffsets)).to.deep.equal([0, 1, 4]);
    expect(c.outputWidth).to.equal(4);
    expect(c.targetCols).to.equal(3);
    expect(c.delta[0]).to.equal(0.5);
    expect(Array.from(c.ancestors[0]!)).to.deep.equal([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
  });

  it('initialises like PyTorch Linear, layernorm 1/0, stitch 0.9 self', () => {
    const c = compileNetwork(mmoe);
    const p = initParams(c, new Rng(1), 'float64');
    const bound = 1 / Math.sqrt(3);
    for (let k = 0; k < 40; k++) expect(Math.abs(p[k]!)).to.be.at.most(bound);
    expect(Array.from(p.subarray(40, 48))).to.deep.equal([1, 1, 1, 1, 0, 0, 0, 0]);
    expect(Array.from(p.subarray(48, 50))).to.deep.equal([0.9, 0.1].map((v) => v));
    expect(Array.from(initParams(c, new Rng(1), 'float32').subarray(0, 5))).to.deep.equal(Array.from(Float32Array.from(p.subarray(0, 5))));
    const plain = compileNetwork(base([{ op: 'stitch', inputs: [0, 0, 0, 0] }, { op: 'dense', input: 1, units: 1 }]));
    expect(Array.from(initParams(plain, new Rng(1), 'float64').subarray(0, 4))).to.deep.equal([0.25, 0.25, 0.25, 0.25]);
  });

  it('draws inverted-dropout masks for every dropout node', () => {
    const c = compileNetwork(base([{ op: 'dropout', input: 0, rate: 0.25 }, { op: 'dense', input: 1, units: 1 }]));
    const m = dropoutMasks(c, new Rng(2), 100, 'float32');
    expect([...m.keys()]).to.deep.equal([1]);
    const mask = m.get(1)!;
    expect(mask.length).to.equal(300);
    expect(mask.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6)).to.equal(true);
    const zeros = mask.filter((v) => v === 0).length;
    expect(zeros).to.be.within(40, 110);
  });

  it('draws each mask entry from one 32-bit draw of the stream (Rng.fillMask), in node, row, column order', () => {
    const c = compileNetwork(base([{ op: 'dropout', input: 0, rate: 0.3 }, { op: 'dense', input: 1, units: 1 }]));
    const m = dropoutMasks(c, new Rng(5), 1000, 'float64').get(1)!;
    const ref = new Rng(5);
    const keep = 1 / 0.7;
    for (let k = 0; k < m.length; k++) expect(m[k], `entry ${k}`).to.equal(ref.nextU32() < 0.3 * 2 ** 32 ? 0 : keep);
    // The generator's state moved on by exactly one draw per entry.
    const after = new Rng(5);
    dropoutMasks(c, after, 1000, 'float64');
    expect(after.nextU32()).to.equal(ref.nextU32());
    // 3000 entries at rate 0.3: the zero count is within 4 standard deviations of 900.
    const zeros = m.filter((v) => v === 0).length;
    expect(zeros).to.be.within(900 - 4 * Math.sqrt(3000 * 0.3 * 0.7), 900 + 4 * Math.sqrt(3000 * 0.3 * 0.7));
  });

  it('draws the same masks through each kernel set as through the generator alone', () => {
    const c = compileNetwork(base([{ op: 'dropout', input: 0, rate: 0.2 }, { op: 'dense', input: 1, units: 3 }, { op: 'dropout', input: 2, rate: 0.5 }, { op: 'dense', input: 3, units: 1 }]));
    const want = dropoutMasks(c, new Rng(6), 300, 'float32');
    for (const b of availableBackends()) {
      const rng = new Rng(6);
      const K = kernelsFor(b);
      const got = dropoutMasks(c, rng, 300, 'float32', (s, o, r, k) => K.fillMask(s, o, r, k));
      for (const [node, m] of want) expect(Array.from(got.get(node)!), `${b} node ${node}`).to.deep.equal(Array.from(m));
      const after = new Rng(6);
      dropoutMasks(c, after, 300, 'float32');
      expect(rng.nextU32(), b).to.equal(after.nextU32());
    }
  });

  it('Rng.streamState and setStreamState hand the stream over and back; a bad state is a RangeError', () => {
    const rng = new Rng(12);
    const saved = rng.streamState();
    const first = [rng.nextU32(), rng.nextU32()];
    rng.setStreamState(saved);
    expect([rng.nextU32(), rng.nextU32()]).to.deep.equal(first);
    // Written into a given array, which is returned.
    const into = new Int32Array(4);
    expect(rng.streamState(into)).to.equal(into);
    expect(Array.from(into)).to.deep.equal(Array.from(rng.streamState()));
    for (const bad of [new Int32Array(3), new Int32Array(5), Uint32Array.of(1, 2, 3, 4), [1, 2, 3, 4]]) {
      expect(() => rng.setStreamState(bad as Int32Array)).to.throw(RangeError, /Int32Array of 4 words/);
    }
    expect(Array.from(rng.streamState())).to.deep.equal(Array.from(into));
  });

  it('Rng.fillMask refuses a rate outside [0, 1] and a keep value that is not finite, drawing nothing', () => {
    const rng = new Rng(9);
    const out = new Float32Array(4);
    for (const rate of [-0.1, 1.5, NaN]) expect(() => rng.fillMask(out, rate, 2), `rate ${rate}`).to.throw(RangeError, /rate must be in \[0, 1\]/);
    expect(() => rng.fillMask(out, 0.5, Infinity)).to.throw(RangeError, /keep must be a finite number/);
    expect(rng.nextU32()).to.equal(new Rng(9).nextU32());
    // The ends: rate 0 keeps every entry, rate 1 drops every one.
    rng.fillMask(out, 0, 2);
    expect([...out]).to.deep.equal([2, 2, 2, 2]);
    rng.fillMask(out, 1, 2);
    expect([...out]).to.deep.equal([0, 0, 0, 0]);
  });

  it('encodes the native program', () => {
    const { ints, floats } = encodeProgram(compileNetwork(mmoe));
    // version, nodes, heads; node 0: input of 3 (no inputs, no extras); node 1: dense of 4 units reading node 0.
    expect(Array.from(ints.subarray(0, 12))).to.deep.equal([2, 11, 2, 0, 3, 0, 0, 1, 4, 1, 0, 0]);
    expect(floats.length).to.equal(13);
    expect(floats[12]).to.equal(0);
    expect(floats[11]).to.equal(0.5);
  });

  it('rejects bad specs with a ConfigError naming the node and the problem', () => {
    expectConfig(null, 'expected an object');
    expectConfig({ nodes: [], heads: [] }, "'nodes'");
    expectConfig({ nodes: [{ op: 'dense', input: 0, units: 2 }], heads: [{ node: 0, loss: 'mse', target: 0 }] }, 'node 0');
    expectConfig(base([{ op: 'input', size: 2 }]), 'node 1', 'only node 0');
    expectConfig(base([{ op: 'dense', input: 1, units: 1 }]), 'node 1', 'earlier node');
    expectConfig(base([{ op: 'dense', input: 0, units: 0 }]), 'node 1', 'units');
    expectConfig(base([{ op: 'conv', input: 0 } as unknown as NodeSpec]), 'node 1', 'unknown op');
    expectConfig(base([{ op: 'activation', input: 0, fn: 'swish' as never }]), 'node 1', 'unknown activation');
    expectConfig(base([{ op: 'activation', input: 0, fn: 'tanh', alpha: 2 }]), 'node 1', 'alpha');
    expectConfig(base([{ op: 'dropout', input: 0, rate: 1 }]), 'node 1', 'rate');
    expectConfig(
      base([{ op: 'dense', input: 0, units: 2 }, { op: 'dense', input: 0, units: 3 }, { op: 'mixture', gate: 0, experts: [1, 2] }]),
      'node 3', 'equal widths',
    );
    expectConfig(
      base([{ op: 'dense', input: 0, units: 2 }, { op: 'dense', input: 0, units: 2 }, { op: 'mixture', gate: 0, experts: [1, 2] }]),
      'node 3', 'gate', 'number of experts 2',
    );
    expectConfig(base([{ op: 'dense', input: 0, units: 2 }, { op: 'add', inputs: [0, 1] }]), 'node 2', 'add inputs must have equal widths');
    expectConfig(base([{ op: 'dense', input: 0, units: 3 }, { op: 'stitch', inputs: [0, 1], self: 2 }]), 'node 2', 'self');
    expectConfig(base([{ op: 'concat', inputs: [] }]), 'node 1', 'non-empty');
    expectConfig(base([{ op: 'dense', input: 0, units: 2 }]), 'head 0', 'mse', '1 column');
    expectConfig(base([{ op: 'dense', input: 0, units: 1 }], [{ node: 1, loss: 'softmax-ce', target: 0 }]), 'head 0', 'at least 2');
    expectConfig(base([{ op: 'dense', input: 0, units: 1 }], [{ node: 1, loss: 'mse', target: -1 }]), 'head 0', 'target');
    expectConfig(base([{ op: 'dense', input: 0, units: 1 }], [{ node: 1, loss: 'hinge' as never, target: 0 }]), 'head 0', 'unknown loss');
    expectConfig(base([{ op: 'dense', input: 0, units: 1 }], [{ node: 5, loss: 'mse', target: 0 }]), 'head 0', 'node');
    expectConfig(base([{ op: 'dense', input: 0, units: 1 }], [{ node: 1, loss: 'mse', target: 0, delta: 1 }]), 'head 0', 'delta');
    expectConfig(base([{ op: 'dense', input: 0, units: 1 }], [{ node: 1, loss: 'huber', target: 0, delta: 0 }]), 'head 0', 'delta');
  });
});
