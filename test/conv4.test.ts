/**
 * The conv-4 backbone in the models (selected backend), on small images so the suite stays fast:
 * its spec and errors; every meta-learner and MultiTaskNet train with it; fit's timeLimit; and
 * batchnorm running statistics ('running' mode) making a row's prediction independent of its
 * batch, saved with the model.
 */
import { expect } from 'chai';

import { ConfigError, ShapeError } from '../lib/core/errors.js';
import { Rng } from '../lib/core/rng.js';
import { compileNetwork } from '../lib/kernels/networkSpec.js';
import type { TaskLike } from '../lib/meta/learner.js';
import { ANIL, iMAML, MAML, MetaSGD, Reptile } from '../lib/meta/index.js';
import { FewShotTasks } from '../lib/meta/fewShot.js';
import { MetaRidge } from '../lib/meta/metaRidge.js';
import { ProtoNet } from '../lib/meta/protoNet.js';
import { MultiTaskNet } from '../lib/mtl/multiTaskNet.js';
import { conv4Spec } from '../lib/nn/backbones.js';
import { relErr } from './helpers.js';

const SHAPE = [1, 8, 8] as const;
const SMALL = { type: 'conv4' as const, inputShape: SHAPE, filters: 4, blocks: 2 };

/** Labelled 8 x 8 images of `classes` classes: a class-specific blob plus noise. */
function images(classes: number, perClass: number, seed: number): { X: { rows: number; cols: number; data: Float64Array }; labels: number[] } {
  const rng = new Rng(seed);
  const n = classes * perClass;
  const data = new Float64Array(n * 64);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    labels.push(c);
    for (let p = 0; p < 64; p++) data[i * 64 + p] = 0.3 * rng.normal() + (p % (c + 2) === 0 ? 1 : 0);
  }
  return { X: { rows: n, cols: 64, data }, labels };
}

const source = images(6, 8, 1);
const episodes = (seed: number): FewShotTasks => new FewShotTasks(source, { ways: 3, shots: 2, queries: 2, seed });

describe('conv-4 backbone', () => {
  it('has the published shape: 64 features on 28 x 28, 1600 on 84 x 84, 4 blocks of conv-bn-relu-pool', () => {
    const s28 = compileNetwork(conv4Spec('t', { type: 'conv4', inputShape: [1, 28, 28] }, 'softmax-ce'));
    expect(s28.outputWidth).to.equal(64);
    expect(s28.spec.nodes.filter((n) => n.op === 'conv2d')).to.have.length(4);
    expect(s28.spec.nodes.filter((n) => n.op === 'batchnorm')).to.have.length(4);
    // 3x3 conv: 64 (1 x 9) + 64 + 3 x (64 (64 x 9) + 64), batchnorm 4 x 128.
    expect(s28.paramCount).to.equal(640 + 3 * 36928 + 4 * 128);
    const s84 = compileNetwork(conv4Spec('t', { type: 'conv4', inputShape: [3, 84, 84], outputSize: 5 }, 'softmax-ce'));
    expect(s84.widths[s84.widths.length - 2]).to.equal(1600);
    expect(s84.outputWidth).to.equal(5);
  });

  it("downsample 'stride' is Finn et al.'s Omniglot form: stride-2 convolutions, no pool, the last map averaged", () => {
    const s = compileNetwork(conv4Spec('t', { type: 'conv4', inputShape: [1, 28, 28], downsample: 'stride', outputSize: 5 }, 'softmax-ce'));
    const convs = s.spec.nodes.filter((n) => n.op === 'conv2d');
    expect(convs).to.have.length(4);
    expect(convs.every((n) => n.op === 'conv2d' && n.stride === 2 && n.padding === 1)).to.equal(true);
    expect(s.spec.nodes.some((n) => n.op === 'maxpool2d')).to.equal(false);
    // 28 -> 14 -> 7 -> 4 -> 2, averaged to 64 features; same parameters as the max-pool form plus the head.
    expect(s.widths[s.widths.length - 2]).to.equal(64);
    expect(s.paramCount).to.equal(640 + 3 * 36928 + 4 * 128 + 64 * 5 + 5);
    // The features are `filters` wide on any image, even one too small for four max-pools.
    const tiny = compileNetwork(conv4Spec('t', { type: 'conv4', inputShape: [3, 5, 9], filters: 8, downsample: 'stride' }, 'softmax-ce'));
    expect(tiny.outputWidth).to.equal(8);
    const p = new ProtoNet({ network: { type: 'conv4', inputShape: [1, 8, 8], downsample: 'stride' } });
    expect(p.embeddingSize).to.equal(64);
    expect(() => new ProtoNet({ network: { type: 'conv4', inputShape: SHAPE, downsample: 'avg' as never } })).to.throw(ConfigError, /downsample must be 'maxpool' or 'stride'/);
  });

  it('refuses bad configs with ConfigErrors that say what is expected', () => {
    expect(() => new ProtoNet({ network: { type: 'conv4', inputShape: [1, 28] as never } })).to.throw(ConfigError, /inputShape/);
    expect(() => new ProtoNet({ network: { type: 'conv4', inputShape: [1, 8, 8] } })).to.throw(ConfigError, /too small for 4 conv4 blocks/);
    expect(() => new ProtoNet({ network: { type: 'conv4', inputShape: SHAPE, filter: 3 } as never })).to.throw(ConfigError, /unknown conv4 option 'filter'; known: .*filters/);
    expect(() => new ProtoNet({ network: { type: 'resnet12', inputShape: SHAPE } as never })).to.throw(ConfigError, /unknown network type/);
    expect(() => new MAML({ network: SMALL, loss: 'softmax-ce' })).to.throw(ConfigError, /outputSize is required/);
    expect(() => new MultiTaskNet({ inputSize: 64, tasks: [{ name: 'a', type: 'regression' }], architecture: { type: 'hard-sharing', trunk: { type: 'conv4' } } })).to.throw(
      ConfigError,
      /needs image inputs: give inputShape/,
    );
  });

  it('every meta-learner takes it and trains on it (one meta-update changes the parameters, finite loss)', () => {
    const net = { ...SMALL, outputSize: 3 };
    const common = { loss: 'softmax-ce' as const, innerLr: 0.1, innerSteps: 1, metaBatchSize: 2, seed: 0 };
    const learners = [
      new MAML({ network: net, ...common }),
      new MAML({ network: net, ...common, firstOrder: true }),
      new MAML({ network: { ...net, downsample: 'stride' }, ...common, firstOrder: true }),
      new MetaSGD({ network: net, ...common }),
      new ANIL({ network: net, ...common }),
      new Reptile({ network: net, ...common }),
      new iMAML({ network: net, ...common }),
      new ProtoNet({ network: SMALL, seed: 0 }),
      new MetaRidge({ network: SMALL, seed: 0 }),
    ];
    const tasks = episodes(2).sampleBatch(2) as TaskLike[];
    for (const m of learners) {
      const before = m.params.slice();
      const loss = m.step(tasks);
      expect(Number.isFinite(loss), m.kind).to.equal(true);
      expect(relErr(m.params, before), m.kind).to.be.above(0);
    }
  });

  it('fit stops at the time limit, keeps what it learned and reports the iterations run', async () => {
    const m = new ProtoNet({ network: SMALL, seed: 0 });
    const r = (await m.fit(episodes(3), { timeLimit: 0.3 })).history;
    expect(r.iterations).to.be.at.least(1);
    expect(r.losses.length).to.equal(r.iterations);
    expect(m.iteration).to.equal(r.iterations);
    expect(r.seconds).to.be.at.least(0.3);
    // With both, whichever comes first: here the iteration count.
    const r2 = (await m.fit(episodes(3), { iterations: 2, timeLimit: 100 })).history;
    expect(r2.iterations).to.equal(2);
    const maml = new MAML({ network: { ...SMALL, outputSize: 3 }, loss: 'softmax-ce', metaBatchSize: 1, seed: 0 });
    const r3 = (await maml.fit(episodes(4), { timeLimit: 0.2, onProgress: (p) => expect(p.iterations).to.be.NaN })).history;
    expect(r3.iterations).to.equal(r3.losses.length).and.to.be.at.least(1);
    for (const fit of [() => m.fit(episodes(3), {} as never), () => maml.fit(episodes(3), {} as never)]) {
      let err: unknown;
      await fit().catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as Error).message).to.match(/'iterations'.*'timeLimit'/);
    }
  });

  it("ProtoNet with batchNorm 'running': an embedding no longer depends on its batch, and a saved model keeps the statistics", async () => {
    const x = { rows: 6, cols: 64, data: source.X.data.slice(0, 6 * 64) };
    const row = { rows: 1, cols: 64, data: source.X.data.slice(64, 128) };
    const trans = new ProtoNet({ network: SMALL, seed: 0 });
    await trans.fit(episodes(5), { iterations: 3 });
    expect(relErr(trans.embed(row).data, trans.embed(x).data.slice(trans.embeddingSize, 2 * trans.embeddingSize))).to.be.above(1e-3);
    const run = new ProtoNet({ network: SMALL, seed: 0, batchNorm: 'running' });
    await run.fit(episodes(5), { iterations: 3 });
    const D = run.embeddingSize;
    expect(relErr(run.embed(row).data, run.embed(x).data.slice(D, 2 * D))).to.be.below(1e-6);
    const back = ProtoNet.fromJSON(JSON.parse(JSON.stringify(run.toJSON())));
    expect(Array.from(back.embed(x).data)).to.deep.equal(Array.from(run.embed(x).data));
  });

  it("MAML with batchNorm 'running': an adapted model predicts a row alone as in its batch", async () => {
    const m = new MAML({ network: { ...SMALL, outputSize: 3 }, loss: 'softmax-ce', innerLr: 0.1, metaBatchSize: 2, seed: 0, batchNorm: 'running' });
    await m.fit(episodes(6), { iterations: 3 });
    const task = episodes(7).sample();
    const adapted = m.adapt(task.support);
    const all = adapted.decisionFunction(task.query.X);
    const one = adapted.decisionFunction({ rows: 1, cols: 64, data: (task.query.X as { data: Float64Array }).data.slice(0, 64) });
    expect(relErr(one.data, all.data.slice(0, 3))).to.be.below(1e-5);
  });

  it('MultiTaskNet trains on a conv-4 trunk (inputShape), predicts with running statistics and saves them', async () => {
    const y = source.labels.map((c) => c % 2);
    const net = new MultiTaskNet({
      inputShape: SHAPE,
      tasks: [
        { name: 'parity', type: 'binary' },
        { name: 'class', type: 'multiclass', classes: 6 },
      ],
      architecture: { type: 'hard-sharing', trunk: { type: 'conv4', filters: 4, blocks: 2 }, shared: [8] },
      seed: 0,
    });
    const Y = { rows: 48, cols: 2, data: Float64Array.from(source.labels.flatMap((c, i) => [y[i]!, c])) };
    await net.fit({ X: source.X, Y }, { epochs: 2, batchSize: 16 });
    const all = net.predict(source.X) as unknown as { parity: Float64Array };
    const one = net.predict({ rows: 1, cols: 64, data: source.X.data.slice(64, 128) }) as unknown as { parity: Float64Array };
    expect(one.parity[0]).to.be.closeTo(all.parity[1]!, 1e-5);
    const back = MultiTaskNet.fromJSON(JSON.parse(JSON.stringify(net.toJSON())));
    expect((back.predict(source.X) as unknown as { parity: Float64Array }).parity[1]).to.equal(all.parity[1]);
    expect(() => net.predict({ rows: 1, cols: 63, data: new Float64Array(63) })).to.throw(ShapeError);
    // The strided trunk: four stride-2 convolutions and the average, no pool node.
    const strided = new MultiTaskNet({
      inputShape: SHAPE,
      tasks: [{ name: 'parity', type: 'binary' }],
      architecture: { type: 'hard-sharing', trunk: { type: 'conv4', filters: 4, downsample: 'stride' }, shared: [8] },
      seed: 0,
    });
    expect(strided.spec.nodes.filter((n) => n.op === 'conv2d' && n.stride === 2)).to.have.length(4);
    expect(strided.spec.nodes.some((n) => n.op === 'maxpool2d')).to.equal(false);
    await strided.fit({ X: source.X, Y: { rows: 48, cols: 1, data: Float64Array.from(y) } }, { epochs: 2, batchSize: 16 });
    const p = (strided.predict(source.X) as unknown as { parity: Float64Array }).parity;
    expect(p.length).to.equal(48);
    expect(p.every((v) => v === 0 || v === 1)).to.equal(true);
  });
});
