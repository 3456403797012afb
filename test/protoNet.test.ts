/**
 * ProtoNet (Snell et al. 2017) and MetaRidge (R2-D2, Bertinetto et al. 2019): episode-loss
 * gradients w.r.t. the embeddings and the head's scalars against finite differences (float64),
 * full meta-gradients through the network (vjp) against finite differences, near-perfect 5-way
 * 1-shot on well-separated clusters, adapt/predict, evaluate's format, save/load and bad input.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigError, FormatError, ShapeError, ValueError } from '../lib/core/errors.js';
import { Rng } from '../lib/core/rng.js';
import { kernels } from '../lib/kernels/index.js';
import type { NetworkKernels } from '../lib/kernels/types.js';
import { FewShotTasks } from '../lib/meta/fewShot.js';
import { MetaRidge } from '../lib/meta/metaRidge.js';
import { ProtoNet } from '../lib/meta/protoNet.js';
import { SinusoidTasks, type Task } from '../lib/meta/tasks.js';

const TINY = { inputSize: 3, hidden: [5], outputSize: 4, activation: 'tanh' as const };

/** A random N-way episode (ns support rows covering every class, nq queries) of width d. */
function randomEpisode(rng: Rng, N: number, shots: number, queries: number, d: number): Task {
  const set = (per: number) => {
    const n = N * per;
    const X = new Float64Array(n * d);
    for (let i = 0; i < X.length; i++) X[i] = rng.normal();
    return { X: { rows: n, cols: d, data: X }, y: Float64Array.from({ length: n }, (_, i) => Math.floor(i / per)) };
  };
  return { support: set(shots), query: set(queries) };
}

/** Central differences of f over every entry of x. */
function finiteDiff(x: Float64Array, f: () => number, h = 1e-5): Float64Array {
  const out = new Float64Array(x.length);
  for (let j = 0; j < x.length; j++) {
    const old = x[j]!;
    x[j] = old + h;
    const fp = f();
    x[j] = old - h;
    const fm = f();
    x[j] = old;
    out[j] = (fp - fm) / (2 * h);
  }
  return out;
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, what: string): void {
  expect(a.length, what).to.equal(b.length);
  let scale = 0;
  for (let j = 0; j < b.length; j++) scale = Math.max(scale, Math.abs(b[j]!));
  for (let j = 0; j < b.length; j++) {
    const d = Math.abs(a[j]! - b[j]!);
    if (d > rtol * scale + 1e-10) expect.fail(`${what}: entry ${j}: ${a[j]} vs ${b[j]} (|diff| ${d.toExponential(2)}, scale ${scale.toExponential(2)})`);
  }
}

/** Well-separated clusters: class centres 6 apart on average, noise 0.3. */
function clusters(classes: number, per: number, d: number, seed: number): { X: { rows: number; cols: number; data: Float64Array }; labels: number[] } {
  const rng = new Rng(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: d }, () => 3 * rng.normal()));
  const X = new Float64Array(classes * per * d);
  const labels: number[] = [];
  for (let c = 0; c < classes; c++) {
    for (let e = 0; e < per; e++) {
      const r = c * per + e;
      labels.push(c);
      for (let j = 0; j < d; j++) X[r * d + j] = centres[c]![j]! + 0.3 * rng.normal();
    }
  }
  return { X: { rows: classes * per, cols: d, data: X }, labels };
}

const hasVjp = (): boolean => {
  const k = kernels() as unknown as Partial<NetworkKernels>;
  if (typeof k.network !== 'function') return false;
  return typeof k.network({ nodes: [{ op: 'input', size: 1 }, { op: 'dense', input: 0, units: 1 }], heads: [{ node: 1, loss: 'mse', target: 0 }] }, 'float64').vjp === 'function';
};

describe('ProtoNet and MetaRidge', function () {
  before(function () {
    if (!hasVjp()) this.skip();
  });

  describe('episode-loss gradients w.r.t. embeddings and head scalars (finite differences, float64)', () => {
    const cases: [string, () => ProtoNet | MetaRidge, number][] = [
      ['ProtoNet euclidean', () => new ProtoNet({ network: TINY, dtype: 'float64' }), 0],
      ['ProtoNet cosine, learned scale', () => new ProtoNet({ network: TINY, dtype: 'float64', distance: 'cosine', scale: 3 }), 1],
      ['ProtoNet cosine, fixed scale', () => new ProtoNet({ network: TINY, dtype: 'float64', distance: 'cosine', learnScale: false }), 0],
      ['MetaRidge classification', () => new MetaRidge({ network: TINY, dtype: 'float64', lambda: 0.7, scale: 2 }), 3],
      ['MetaRidge regression', () => new MetaRidge({ network: TINY, dtype: 'float64', loss: 'mse', lambda: 0.3 }), 3],
    ];
    for (const [name, make, nExtras] of cases) {
      it(name, () => {
        const m = make();
        const rng = new Rng(11);
        const D = m.embeddingSize;
        const N = 3;
        const ns = N * 2;
        const nq = N * 3;
        const es = Float64Array.from({ length: ns * D }, () => rng.normal());
        const eq = Float64Array.from({ length: nq * D }, () => rng.normal());
        const regression = name.includes('regression');
        const ys = Float64Array.from({ length: ns }, (_, i) => (regression ? rng.normal() : Math.floor(i / 2)));
        const yq = Float64Array.from({ length: nq }, (_, i) => (regression ? rng.normal() : i % N));
        const extras = m.extras;
        extras.forEach((_, k) => (extras[k] = extras[k]! + 0.1 * (k + 1)));
        expect(extras.length).to.equal(nExtras);
        const ep = { es, eq, ys, yq, ways: regression ? 0 : N };
        const g = { es: new Float64Array(ns * D), eq: new Float64Array(nq * D), extras: new Float64Array(nExtras) };
        m.episodeLoss(ep, extras, g);
        const f = () => m.episodeLoss(ep, extras, null).loss;
        expectClose(g.es, finiteDiff(es, f), 1e-6, `${name}: dL/d(support embeddings)`);
        expectClose(g.eq, finiteDiff(eq, f), 1e-6, `${name}: dL/d(query embeddings)`);
        const fdExtras = finiteDiff(extras, f);
        if (regression) fdExtras.fill(0, 1); // alpha and beta are fixed for regression
        expectClose(g.extras, fdExtras, 1e-6, `${name}: dL/d(extras)`);
      });
    }
  });

  describe('meta-gradients through the network (vjp) against finite differences (float64)', () => {
    const cases: [string, () => ProtoNet | MetaRidge, boolean][] = [
      ['ProtoNet euclidean', () => new ProtoNet({ network: TINY, dtype: 'float64', seed: 1 }), false],
      ['ProtoNet cosine', () => new ProtoNet({ network: TINY, dtype: 'float64', seed: 2, distance: 'cosine' }), false],
      ['MetaRidge classification', () => new MetaRidge({ network: TINY, dtype: 'float64', seed: 3 }), false],
      ['MetaRidge regression (sinusoids)', () => new MetaRidge({ network: { ...TINY, inputSize: 1 }, dtype: 'float64', seed: 4, loss: 'mse' }), true],
    ];
    for (const [name, make, sinusoid] of cases) {
      it(name, () => {
        const m = make();
        const rng = new Rng(5);
        const tasks = sinusoid ? new SinusoidTasks({ shots: 4, queries: 5, seed: 1 }).sampleBatch(2) : [randomEpisode(rng, 3, 2, 2, 3), randomEpisode(rng, 4, 1, 2, 3)];
        const { loss, grad } = m.metaGradient(tasks);
        const p = m.params as Float64Array;
        expect(m.loss(tasks)).to.equal(loss);
        expectClose(grad, finiteDiff(p, () => m.loss(tasks)), 1e-6, name);
      });
    }
  });

  describe('behaviour', () => {
    it('ProtoNet is near perfect on well-separated clusters, 5-way 1-shot, after a short fit', async function () {
      this.timeout(60_000);
      const data = clusters(40, 20, 16, 1);
      const train = new FewShotTasks(data, { ways: 5, shots: 1, queries: 5, seed: 1, classes: [...Array(30).keys()] });
      const test = train.with({ classes: [...Array(10).keys()].map((i) => 30 + i), seed: 2 });
      const net = new ProtoNet({ network: { inputSize: 16, hidden: [32], outputSize: 16, activation: 'relu' }, optimizer: { type: 'adam', lr: 1e-3 }, seed: 0 });
      const res = await net.fit(train, { iterations: 100 });
      expect(res.losses.length).to.equal(100);
      expect(res.accuracies!.length).to.equal(100);
      const [row] = net.evaluate(test, { tasks: 200 });
      expect(row!.steps).to.equal(0);
      expect(row!.accuracy).to.be.at.least(0.95);
      expect(row!.accuracyCi95).to.be.within(0, 0.05); // 0 when every episode is perfect
      expect(row!.loss).to.be.greaterThan(0);
      expect(row!.lossCi95).to.be.greaterThan(0);
    });

    it('ProtoNet cosine and MetaRidge learn the clusters too', async function () {
      this.timeout(60_000);
      const data = clusters(40, 20, 16, 2);
      const train = new FewShotTasks(data, { ways: 5, shots: 1, queries: 5, seed: 1, classes: [...Array(30).keys()] });
      const test = train.with({ classes: [...Array(10).keys()].map((i) => 30 + i), seed: 2 });
      const network = { inputSize: 16, hidden: [32], outputSize: 16, activation: 'relu' as const };
      for (const m of [new ProtoNet({ network, distance: 'cosine', seed: 0 }), new MetaRidge({ network, seed: 0, optimizer: { type: 'adam', lr: 3e-3 } })]) {
        await m.fit(train, { iterations: 150 });
        expect(m.evaluate(test, { tasks: 100 })[0]!.accuracy, m.kind).to.be.at.least(0.9);
      }
    });

    it('MetaRidge lowers the query MSE on sinusoids', async function () {
      this.timeout(60_000);
      const m = new MetaRidge({ network: { inputSize: 1, hidden: [40, 40], outputSize: 40, activation: 'relu' }, loss: 'mse', seed: 0, metaBatchSize: 4, optimizer: { type: 'adam', lr: 3e-3 } });
      const before = m.evaluate(new SinusoidTasks({ shots: 10, queries: 10, seed: 9 }), { tasks: 100 })[0]!;
      expect(before.accuracy).to.equal(undefined);
      await m.fit(new SinusoidTasks({ shots: 10, queries: 10, seed: 2 }), { iterations: 300 });
      const after = m.evaluate(new SinusoidTasks({ shots: 10, queries: 10, seed: 9 }), { tasks: 100 })[0]!;
      expect(after.loss).to.be.lessThan(before.loss / 2);
      const task = new SinusoidTasks({ shots: 10, queries: 10, seed: 3 }).sample();
      const model = m.adapt(task.support);
      const pred = model.predict(task.query.X);
      expect(pred).to.be.instanceOf(Float64Array);
      expect(pred.length).to.equal(10);
    });

    it('adapt() classifies by nearest prototype with the support labels; the learner is unchanged', () => {
      const net = new ProtoNet({ network: { inputSize: 2, hidden: [], outputSize: 2, activation: 'identity' }, dtype: 'float64' });
      // An identity embedding: W = I, b = 0 (dense W is [in, out] then b).
      (net.params as Float64Array).set([1, 0, 0, 1, 0, 0]);
      const before = Array.from(net.params);
      const model = net.adapt({ X: [[0, 0], [0, 2], [10, 0], [10, 2]], y: [7, 7, 3, 3] });
      expect(model.classes).to.deep.equal([3, 7]);
      expect(Array.from(model.prototypes.data)).to.deep.equal([10, 1, 0, 1]);
      expect(Array.from(model.predict([[1, 1], [9, 1], [4.9, 1]]))).to.deep.equal([7, 3, 7]);
      const p = model.predictProba([[5, 1]]);
      expect(p.data[0]).to.be.closeTo(0.5, 1e-12);
      const q = model.predictProba([[6, 1]]);
      expect(q.data[0]! + q.data[1]!).to.be.closeTo(1, 1e-12);
      expect(q.data[0]).to.be.greaterThan(0.99); // -16 vs -36: e^20 odds for class 3
      expect(Array.from(net.params)).to.deep.equal(before);
      const ridge = new MetaRidge({ network: { inputSize: 2, hidden: [], outputSize: 2, activation: 'identity' }, dtype: 'float64', lambda: 1e-6 });
      (ridge.params as Float64Array).set([1, 0, 0, 1, 0, 0], 0);
      const rm = ridge.adapt({ X: [[0, 0], [0, 2], [10, 0], [10, 2]], y: [7, 7, 3, 3] });
      expect(Array.from(rm.predict([[1, 1], [9, 1]]))).to.deep.equal([7, 3]);
      expect(rm.predictProba([[1, 1]]).cols).to.equal(2);
    });

    it('fit reports progress and honours an AbortSignal', async () => {
      const data = clusters(6, 4, 3, 1);
      const s = new FewShotTasks(data, { ways: 3, shots: 1, queries: 2, seed: 0 });
      const net = new ProtoNet({ network: TINY });
      let calls = 0;
      await net.fit(s, { iterations: 4, onProgress: () => calls++ });
      expect(calls).to.equal(4);
      expect(net.iteration).to.equal(4);
      const ac = new AbortController();
      ac.abort();
      let err: unknown;
      await net.fit(s, { iterations: 4, signal: ac.signal }).catch((e) => (err = e));
      expect((err as { code?: string }).code).to.equal('ABORT_ERR');
    });
  });

  describe('save / load', () => {
    let dir: string;
    before(() => (dir = mkdtempSync(join(tmpdir(), 'metatask-proto-'))));
    after(() => rmSync(dir, { recursive: true, force: true }));

    for (const make of [() => new ProtoNet({ network: TINY, distance: 'cosine', seed: 3 }), () => new MetaRidge({ network: TINY, seed: 4, lambda: 0.5 })]) {
      it(`${make().kind} round-trips parameters, head scalars and optimiser state`, async () => {
        const m = make();
        const data = clusters(6, 4, 3, 1);
        const s = new FewShotTasks(data, { ways: 3, shots: 1, queries: 2, seed: 0 });
        await m.fit(s, { iterations: 3 });
        const file = join(dir, `${m.kind}.json`);
        await m.save(file);
        const Cls = m.constructor as typeof ProtoNet | typeof MetaRidge;
        const back = await (Cls as typeof ProtoNet).load(file);
        expect(back).to.be.instanceOf(Cls);
        expect(Array.from(back.params)).to.deep.equal(Array.from(m.params));
        expect(back.iteration).to.equal(3);
        // Same next step from the same state.
        const tasks = s.sampleBatch(1);
        expect(back.step(tasks)).to.equal(m.step(tasks));
        expect(Array.from(back.params)).to.deep.equal(Array.from(m.params));
        const x = tasks[0]!.query.X;
        expect(Array.from(back.adapt(tasks[0]!.support).predict(x))).to.deep.equal(Array.from(m.adapt(tasks[0]!.support).predict(x)));
      });
    }

    it('a file of another kind or a corrupted one is a FormatError', async () => {
      const m = new ProtoNet({ network: TINY });
      const file = join(dir, 'p.json');
      await m.save(file);
      let err: unknown;
      await MetaRidge.load(file).catch((e) => (err = e));
      expect(err).to.be.instanceOf(FormatError);
      const doc = m.toJSON();
      (doc.state as { iteration: number }).iteration = 99;
      expect(() => ProtoNet.fromJSON(doc)).to.throw(FormatError, /corrupted/);
    });
  });

  describe('bad input', () => {
    it('bad options are ConfigErrors', () => {
      expect(() => new ProtoNet({} as never)).to.throw(ConfigError, /network/);
      expect(() => new ProtoNet({ network: { ...TINY, outputSize: 0 } })).to.throw(ConfigError, /outputSize/);
      expect(() => new ProtoNet({ network: TINY, distance: 'manhattan' } as never)).to.throw(ConfigError, /distance/);
      expect(() => new ProtoNet({ network: TINY, scale: 0 })).to.throw(ConfigError, /scale/);
      expect(() => new MetaRidge({ network: TINY, lambda: -1 })).to.throw(ConfigError, /lambda/);
      expect(() => new MetaRidge({ network: TINY, loss: 'huber' } as never)).to.throw(ConfigError, /loss/);
      expect(() => new MetaRidge({ network: TINY, lamda: 1 } as never)).to.throw(ConfigError, /did you mean 'lambda'/);
    });

    it('bad episodes and samplers give clear errors and leave the model unchanged', async () => {
      const net = new ProtoNet({ network: TINY });
      const before = Array.from(net.params);
      const rng = new Rng(1);
      const ep = randomEpisode(rng, 3, 1, 1, 3);
      expect(() => net.step([{ ...ep, query: { X: ep.query.X, y: [0, 1, 5] } }])).to.throw(ValueError, /query.y\[2\] is 5, a class with no support example/);
      expect(() => net.step([{ ...ep, support: { X: ep.support.X, y: [0, 0, 0] } }])).to.throw(ValueError, /at least 2/);
      expect(() => net.step([{ ...ep, support: { X: [[1, 2]], y: [0] } }])).to.throw(ShapeError, /2 columns/);
      expect(() => net.step([{ ...ep, support: { X: ep.support.X, y: [0, 1] } }])).to.throw(ShapeError, /2 values, X has 3 rows/);
      expect(() => net.step([{ ...ep, support: { X: ep.support.X, y: [0, 1, NaN] } }])).to.throw(ValueError, /non-finite/);
      expect(() => net.step([{ support: ep.support } as never])).to.throw(ShapeError, /support.*query/);
      expect(() => net.adapt({ X: [[1, 2, 3]], y: [0.5] })).to.throw(ValueError, /not an integer/);
      expect(() => net.evaluate({} as never, { tasks: 1 })).to.throw(ConfigError, /TaskSampler/);
      expect(() => net.evaluate(new SinusoidTasks({ shots: 2 }), { tasks: 1 })).to.throw(ShapeError, /1 input columns/);
      expect(() => net.evaluate(new FewShotTasks(clusters(3, 2, 3, 0), { ways: 2, shots: 1, queries: 1 }), {} as never)).to.throw(ConfigError, /tasks/);
      let err: unknown;
      await net.fit(new FewShotTasks(clusters(3, 2, 3, 0), { ways: 2, shots: 1, queries: 1 }), {} as never).catch((e) => (err = e));
      expect(err).to.be.instanceOf(ConfigError);
      expect(Array.from(net.params)).to.deep.equal(before);
      expect(net.iteration).to.equal(0);
    });
  });
});
