/**
 * MultiTaskNet and the architecture builders, on whichever backend kernels() selects:
 * specs of every architecture, masking of missing labels, a problem where sharing helps, exact
 * resume, predictions, every strategy with every architecture, bad input, abort, save/load.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AbortError, ConfigError, FormatError, NotFittedError, ShapeError, ValueError } from '../lib/core/errors.js';
import type { DType, Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { MultiTaskDataset } from '../lib/data/dataset.js';
import { compileNetwork } from '../lib/nn/spec.js';
import { buildArchitecture, parameterOwners, type ArchitectureOptions, type ArchitectureTask } from '../lib/mtl/architectures.js';
import { MultiTaskNet, type MultiTaskNetOptions, type MultiTaskNetTask } from '../lib/mtl/multiTaskNet.js';
import { knownStrategies } from '../lib/mtl/weighting/registry.js';

const mixedTasks: ArchitectureTask[] = [
  { name: 'r', type: 'regression', head: { hidden: [5] } },
  { name: 'b', type: 'binary' },
  { name: 'm', type: 'multiclass', classes: 3, head: { hidden: [4, 3], activation: 'tanh' } },
];

const tinyArchs: ArchitectureOptions[] = [
  { type: 'hard-sharing', shared: [6], dropout: 0.1, layerNorm: true },
  { type: 'mmoe', experts: 3, expertUnits: [5] },
  { type: 'cgc', sharedExperts: 2, taskExperts: 1, expertUnits: [4] },
  { type: 'ple', levels: 2, sharedExperts: 1, taskExperts: 1, expertUnits: [4] },
  { type: 'cross-stitch', layers: [5, 4] },
];

/** Shared-input data for the mixed tasks: r linear, b its sign, m a 3-way bucket; some labels missing. */
function mixedData(n: number, d: number, seed: number, missing = 0.2): { X: number[][]; Y: number[][] } {
  const rng = new Rng(seed);
  const w = Array.from({ length: d }, () => rng.normal());
  const X: number[][] = [];
  const Y: number[][] = [];
  for (let i = 0; i < n; i++) {
    const x = Array.from({ length: d }, () => rng.normal());
    const s = x.reduce((a, v, j) => a + v * w[j]!, 0);
    const r = s + 0.1 * rng.normal();
    const b = s > 0 ? 1 : 0;
    const m = s < -0.5 ? 0 : s < 0.5 ? 1 : 2;
    X.push(x);
    Y.push([rng.uniform() < missing ? NaN : r, rng.uniform() < missing ? -1 : b, rng.uniform() < missing ? -1 : m]);
  }
  return { X, Y };
}

function mixedNet(arch: ArchitectureOptions, extra: Partial<MultiTaskNetOptions> = {}): MultiTaskNet<readonly MultiTaskNetTask[], DType> {
  return new MultiTaskNet({
    inputSize: 4,
    tasks: mixedTasks.map((t) => ({ ...t })) as MultiTaskNetOptions['tasks'],
    architecture: arch,
    optimizer: { type: 'adam', lr: 1e-2 },
    seed: 3,
    ...extra,
  });
}

function registeredNames(): string[] {
  return knownStrategies();
}

describe('mtl architectures', () => {
  for (const arch of tinyArchs) {
    it(`${arch.type}: a valid spec with one head per task of the right width and loss`, () => {
      const spec = buildArchitecture(4, mixedTasks, arch);
      const c = compileNetwork(spec);
      expect(spec.heads.map((h) => h.loss)).to.deep.equal(['mse', 'bce-logits', 'softmax-ce']);
      expect(spec.heads.map((h) => h.target)).to.deep.equal([0, 1, 2]);
      expect(spec.heads.map((h) => c.widths[h.node])).to.deep.equal([1, 1, 3]);
      const own = parameterOwners(spec, c.params, c.paramCount);
      expect(own.shared.length + own.own.reduce((s, a) => s + a.length, 0)).to.equal(c.paramCount);
      expect(own.shared.length).to.be.greaterThan(0);
      // Task m's tower has 2 hidden layers + output: its own parameters include 3 dense layers.
      const ownDense = c.params.filter((p) => p.name === 'W' && own.owner[p.offset] === 2);
      expect(ownDense.length).to.be.at.least(3);
      expect(ownDense.some((p) => p.shape[1] === 4)).to.equal(true);
      expect(ownDense.some((p) => p.shape[1] === 3 && p.shape[0] === 4)).to.equal(true);
    });
  }

  it('hard-sharing: the trunk is shared, each head is its own task', () => {
    const spec = buildArchitecture(3, [{ name: 'a', type: 'regression' }, { name: 'b', type: 'regression' }], { type: 'hard-sharing', shared: [4] });
    const c = compileNetwork(spec);
    const own = parameterOwners(spec, c.params, c.paramCount);
    expect(own.shared.length).to.equal(3 * 4 + 4);
    expect(own.own.map((a) => a.length)).to.deep.equal([5, 5]);
  });

  it('mmoe: one gate per task over all experts; cgc/ple gates see own + shared experts', () => {
    const tasks: ArchitectureTask[] = [{ name: 'a', type: 'regression' }, { name: 'b', type: 'regression' }];
    const mmoe = buildArchitecture(3, tasks, { type: 'mmoe', experts: 3, expertUnits: [4] });
    const mix = mmoe.nodes.filter((n) => n.op === 'mixture');
    expect(mix).to.have.length(2);
    for (const m of mix) expect((m as { experts: number[] }).experts).to.have.length(3);
    const cgc = buildArchitecture(3, tasks, { type: 'cgc', sharedExperts: 2, taskExperts: 1, expertUnits: [4] });
    expect(cgc.nodes.filter((n) => n.op === 'mixture').map((m) => (m as { experts: number[] }).experts.length)).to.deep.equal([3, 3]);
    const ple = buildArchitecture(3, tasks, { type: 'ple', levels: 2, sharedExperts: 2, taskExperts: 1, expertUnits: [4] });
    // level 1: two task gates (3 experts) and a shared gate (4 experts); level 2: two task gates.
    expect(ple.nodes.filter((n) => n.op === 'mixture').map((m) => (m as { experts: number[] }).experts.length)).to.deep.equal([3, 3, 4, 3, 3]);
  });

  it('cross-stitch: one stitch unit per task after each layer', () => {
    const spec = buildArchitecture(3, [{ name: 'a', type: 'regression' }, { name: 'b', type: 'binary' }], { type: 'cross-stitch', layers: [4, 4, 2] });
    expect(spec.nodes.filter((n) => n.op === 'stitch')).to.have.length(6);
  });

  it('rejects unknown types and options, bad widths and multiclass without classes', () => {
    const t: ArchitectureTask[] = [{ name: 'a', type: 'regression' }];
    expect(() => buildArchitecture(3, t, { type: 'tower' } as never)).to.throw(ConfigError, /unknown type/);
    expect(() => buildArchitecture(3, t, { type: 'mmoe', experts: 2, shared: [3] } as never)).to.throw(ConfigError, /unknown option 'shared'/);
    expect(() => buildArchitecture(3, t, { type: 'hard-sharing', shared: [0] })).to.throw(ConfigError, /positive integers/);
    expect(() => buildArchitecture(3, [{ name: 'a', type: 'multiclass' }], 'hard-sharing')).to.throw(ConfigError, /classes/);
  });
});

describe('MultiTaskNet', function () {
  this.timeout(120_000);

  it('trains mixed task types on shared inputs with missing labels and predicts the right shapes', async () => {
    const { X, Y } = mixedData(200, 4, 1);
    const net = mixedNet({ type: 'hard-sharing', shared: [16] });
    const h = (await net.fit({ X, Y }, { epochs: 30, batchSize: 32 })).history;
    expect(h.epochs).to.have.length(30);
    const first = h.epochs[0]!;
    const last = h.epochs[29]!;
    expect(last.loss).to.be.lessThan(first.loss);
    expect(Object.keys(last.taskLosses)).to.deep.equal(['r', 'b', 'm']);
    expect(last.weights).to.deep.equal({ r: 1, b: 1, m: 1 });
    expect(last.metrics.b!.accuracy).to.be.greaterThan(0.8);
    const p = net.predict(X.slice(0, 7));
    expect(p.r).to.be.instanceOf(Float32Array).with.length(7);
    // Classification tasks predict labels; predictProba gives their probabilities.
    expect(p.b).to.be.instanceOf(Int32Array).with.length(7);
    expect(p.m).to.be.instanceOf(Int32Array).with.length(7);
    const proba = net.predictProba(X.slice(0, 7));
    expect(Object.keys(proba)).to.deep.equal(['b', 'm']);
    const pb = proba.b as Float32Array;
    expect(pb).to.be.instanceOf(Float32Array).with.length(7);
    for (let i = 0; i < 7; i++) {
      expect(pb[i]).to.be.within(0, 1);
      expect(p.b![i]).to.equal(pb[i]! > 0.5 ? 1 : 0);
    }
    const m = proba.m as Matrix<Float32Array>;
    expect([m.rows, m.cols]).to.deep.equal([7, 3]);
    for (let i = 0; i < 7; i++) {
      const row = [m.data[i * 3]!, m.data[i * 3 + 1]!, m.data[i * 3 + 2]!];
      expect(row[0]! + row[1]! + row[2]!).to.be.closeTo(1, 1e-5);
      expect(p.m![i]).to.equal(row.indexOf(Math.max(...row)));
    }
  });

  it('a task whose labels are all missing keeps its head untouched', async () => {
    const { X, Y } = mixedData(40, 4, 2, 0);
    for (const row of Y) row[1] = -1;
    const net = mixedNet({ type: 'hard-sharing', shared: [8] });
    const before = net.getParams();
    await net.fit({ X, Y }, { epochs: 1, batchSize: 40 });
    const after = net.getParams();
    const own = net.parameterOwners;
    expect(own.own[1]!.length).to.be.greaterThan(0);
    for (const i of own.own[1]!) expect(after[i]).to.equal(before[i]);
    expect(own.own[0]!.some((i) => after[i] !== before[i])).to.equal(true);
    expect(own.shared.some((i) => after[i] !== before[i])).to.equal(true);
  });

  it('accepts per-task rows (a MultiTaskDataset without shared inputs)', async () => {
    const rng = new Rng(5);
    const mk = (name: string, type: 'regression' | 'binary', n: number) => {
      const X = Array.from({ length: n }, () => [rng.normal(), rng.normal()]);
      return { name, type, X, y: X.map((x) => (type === 'binary' ? (x[0]! > 0 ? 1 : 0) : x[0]! - x[1]!)) };
    };
    const ds = new MultiTaskDataset([mk('u', 'regression', 30), mk('v', 'binary', 50)]);
    const net = new MultiTaskNet({ inputSize: 2, tasks: [{ name: 'u', type: 'regression' }, { name: 'v', type: 'binary' }], architecture: { type: 'hard-sharing', shared: [8] }, seed: 1, optimizer: { type: 'adam', lr: 0.01 } });
    const h = (await net.fit(ds, { epochs: 20, batchSize: 16 })).history;
    expect(h.epochs[19]!.taskLosses.u).to.be.lessThan(h.epochs[0]!.taskLosses.u!);
    const ev = net.evaluate(ds);
    expect(ev.tasks.u!.n).to.equal(30);
    expect(ev.tasks.v!.n).to.equal(50);
  });

  it('beats separate single-task nets on related tasks with few rows each', async () => {
    // y_t = x . (w0 + 0.15 v_t) + noise: the tasks share most of their weights, each has few rows.
    const rng = new Rng(11);
    const d = 10;
    const T = 6;
    const nTrain = 12;
    const w0 = Array.from({ length: d }, () => rng.normal());
    const ws = Array.from({ length: T }, () => w0.map((w) => w + 0.15 * rng.normal()));
    const draw = (n: number) =>
      ws.map((w, t) => {
        const X = Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal()));
        return { name: `t${t}`, X, y: X.map((x) => x.reduce((s, v, j) => s + v * w[j]!, 0) + 0.1 * rng.normal()) };
      });
    const train = draw(nTrain);
    const test = draw(200);
    const opts: Pick<MultiTaskNetOptions, 'architecture' | 'optimizer' | 'seed'> = { architecture: { type: 'hard-sharing', shared: [32] }, optimizer: { type: 'adam', lr: 0.01 }, seed: 4 };
    const mtl = new MultiTaskNet({ inputSize: d, tasks: train.map((t) => ({ name: t.name, type: 'regression' as const })), ...opts });
    await mtl.fit(new MultiTaskDataset(train), { epochs: 150, batchSize: 16 });
    const mtlEval = mtl.evaluate(new MultiTaskDataset(test));
    let stlMse = 0;
    let mtlMse = 0;
    const baselines: Record<string, Record<string, number>> = {};
    for (let t = 0; t < T; t++) {
      const stl = new MultiTaskNet({ inputSize: d, tasks: [{ name: train[t]!.name, type: 'regression' }], ...opts });
      await stl.fit(new MultiTaskDataset([train[t]!]), { epochs: 150, batchSize: 16 });
      const e = stl.evaluate(new MultiTaskDataset([test[t]!]));
      baselines[train[t]!.name] = { mse: e.tasks[train[t]!.name]!.mse! };
      stlMse += e.tasks[train[t]!.name]!.mse! / T;
      mtlMse += mtlEval.tasks[train[t]!.name]!.mse! / T;
    }
    expect(mtlMse).to.be.lessThan(0.8 * stlMse);
    const withGain = mtl.evaluate(new MultiTaskDataset(test), { baselines });
    expect(withGain.deltaM).to.be.greaterThan(0);
  });

  it('a resumed fit equals an uninterrupted one, bit for bit', async () => {
    const { X, Y } = mixedData(96, 4, 6);
    const names = registeredNames();
    const weighting = names.includes('rlw') ? 'rlw' : 'equal';
    const make = () => mixedNet({ type: 'hard-sharing', shared: [8], dropout: 0.2 }, { weighting });
    const a = make();
    await a.fit({ X, Y }, { epochs: 4, batchSize: 20 });
    const b = make();
    await b.fit({ X, Y }, { epochs: 2, batchSize: 20 });
    const c = MultiTaskNet.fromJSON(JSON.parse(JSON.stringify(b.toJSON())));
    await c.fit({ X, Y }, { epochs: 2, batchSize: 20 });
    expect(c.epochs).to.equal(4);
    expect(Buffer.from(c.getParams().buffer).equals(Buffer.from(a.getParams().buffer))).to.equal(true);
  });

  it('runs every registered strategy with every architecture for one epoch', async function () {
    const names = registeredNames();
    const { X, Y } = mixedData(24, 4, 7, 0);
    for (const arch of tinyArchs) {
      for (const name of names) {
        // 'fixed' needs its weights; every other strategy runs with its defaults.
        const net = mixedNet(arch, { weighting: name === 'fixed' ? { type: 'fixed', weights: [1, 0.5, 2] } : name });
        const h = (await net.fit({ X, Y }, { epochs: 1, batchSize: 12 })).history;
        const rec = h.epochs[0]!;
        for (const v of Object.values(rec.taskLosses)) expect(Number.isFinite(v), `${arch.type}/${name}`).to.equal(true);
        expect(Array.from(net.getParams()).every(Number.isFinite), `${arch.type}/${name}`).to.equal(true);
      }
    }
  });

  it('records gradient diagnostics on request', async () => {
    const { X, Y } = mixedData(48, 4, 8, 0);
    const net = mixedNet({ type: 'mmoe', experts: 2, expertUnits: [4] });
    const h = (await net.fit({ X, Y }, { epochs: 2, batchSize: 16, diagnostics: true })).history;
    const dg = h.epochs[1]!.diagnostics!;
    expect(dg.cosine).to.have.length(3);
    for (let t = 0; t < 3; t++) expect(dg.cosine[t]![t]).to.be.closeTo(1, 1e-9);
    expect(dg.cosine[0]![1]).to.equal(dg.cosine[1]![0]);
    expect(dg.norms.r).to.be.greaterThan(0);
  });

  it('validation data, early stopping with restoreBest, onEpoch', async () => {
    const { X, Y } = mixedData(120, 4, 9);
    const net = mixedNet({ type: 'hard-sharing', shared: [8] }, { optimizer: { type: 'adam', lr: 0.05 } });
    const seen: number[] = [];
    const h = (await net.fit({ X, Y }, { epochs: 40, batchSize: 16, validation: 0.25, earlyStopping: { patience: 2 }, onEpoch: (r) => void seen.push(r.epoch) })).history;
    expect(seen).to.deep.equal(h.epochs.map((r) => r.epoch));
    for (const r of h.epochs) expect(r.valLoss).to.be.a('number');
    if (h.stoppedEarly) expect(h.epochs.length).to.be.lessThan(40);
  });

  it('rejects bad configuration and bad data with the right error class', async () => {
    const base: MultiTaskNetOptions = { inputSize: 4, tasks: [{ name: 'a', type: 'regression' }, { name: 'c', type: 'multiclass', classes: 3 }], architecture: { type: 'hard-sharing', shared: [4] } };
    expect(() => new MultiTaskNet({ ...base, architecture: { type: 'resnet' } as never })).to.throw(ConfigError, /unknown type/);
    expect(() => new MultiTaskNet({ ...base, weighting: 'no-such-strategy' })).to.throw(ConfigError);
    expect(() => new MultiTaskNet({ ...base, learningRate: 1 } as never)).to.throw(ConfigError, /unknown option 'learningRate'/);
    expect(() => new MultiTaskNet({ ...base, inputSize: 0 })).to.throw(ConfigError, /inputSize/);
    expect(() => new MultiTaskNet({ ...base, tasks: [{ name: 'a', type: 'regression' }, { name: 'a', type: 'binary' }] })).to.throw(ConfigError, /duplicate/);
    expect(() => new MultiTaskNet({ ...base, tasks: [{ name: 'a', type: 'multiclass' }] })).to.throw(ConfigError, /classes/);
    expect(() => new MultiTaskNet({ ...base, optimizer: { type: 'adagrad' } as never })).to.throw(ConfigError);
    const net = new MultiTaskNet(base);
    expect(() => net.predict([[1, 2, 3, 4]])).to.throw(NotFittedError);
    const X = [[1, 2, 3, 4], [0, 1, 0, 1]];
    await expectReject(net.fit({ X: [[1, 2, 3]], Y: [[1, 0]] }), ShapeError, /inputSize 4/);
    await expectReject(net.fit({ X: [[1, NaN, 3, 4], [0, 1, 0, 1]], Y: [[1, 0], [2, 1]] }), ValueError, /non-finite/);
    await expectReject(net.fit({ X, Y: [[1, 0], [2, 3]] }), ValueError, /label 3/);
    await expectReject(net.fit({ X, Y: [[1, 0], [2, 1.5]] }), ValueError, /label 1.5/);
    await expectReject(net.fit({ X, Y: [[1], [2]] }), ShapeError, /one per task/);
    const other = new MultiTaskDataset([{ name: 'zzz', X, y: [1, 2] }]);
    await expectReject(net.fit(other), ValueError, /task 'zzz'/);
    await expectReject(net.fit({ X, Y: [[1, 0], [2, 1]] }, { epochs: 0 }), ConfigError, /epochs/);
    await expectReject(net.fit({ X, Y: [[1, 0], [2, 1]] }, { batchsize: 2 } as never), ConfigError, /batchSize/);
    await expectReject(net.fit({ X, Y: [[NaN, -1], [NaN, -1]] }), ValueError, /no labels/);
    // Bad input leaves a fitted model as it was.
    await net.fit({ X, Y: [[1, 0], [2, 1]] }, { epochs: 1 });
    const p = net.getParams();
    await expectReject(net.fit({ X, Y: [[1, 0], [2, 7]] }), ValueError);
    expect(net.getParams()).to.deep.equal(p);
    expect(() => net.predict([[1, 2]])).to.throw(ShapeError);
  });

  it('stops on an AbortSignal with an AbortError', async () => {
    const { X, Y } = mixedData(64, 4, 10);
    const net = mixedNet({ type: 'hard-sharing', shared: [8] });
    const early = new AbortController();
    early.abort();
    await expectReject(net.fit({ X, Y }, { epochs: 2, signal: early.signal }), AbortError);
    const ctl = new AbortController();
    const run = net.fit({ X, Y }, { epochs: 1000, batchSize: 8, signal: ctl.signal, onEpoch: (r) => void (r.epoch === 2 && ctl.abort()) });
    await expectReject(run, AbortError);
    expect(net.epochs).to.equal(3);
  });

  it('saves and loads: same predictions, same state; corrupted files are refused', async () => {
    const { X, Y } = mixedData(64, 4, 12);
    const net = mixedNet({ type: 'cgc', sharedExperts: 1, taskExperts: 1, expertUnits: [4] });
    await net.fit({ X, Y }, { epochs: 3, batchSize: 16 });
    const dir = mkdtempSync(join(tmpdir(), 'mtn-'));
    try {
      const path = join(dir, 'net.json');
      await net.save(path);
      const back = await MultiTaskNet.load(path);
      expect(back.taskNames).to.deep.equal(net.taskNames);
      expect(back.epochs).to.equal(3);
      const p1 = net.predict(X);
      const p2 = back.predict(X);
      expect(Array.from(p2.r as Float32Array)).to.deep.equal(Array.from(p1.r as Float32Array));
      expect(Array.from(p2.m as Int32Array)).to.deep.equal(Array.from(p1.m as Int32Array));
      expect(Array.from((back.predictProba(X).m as Matrix<Float32Array>).data)).to.deep.equal(Array.from((net.predictProba(X).m as Matrix<Float32Array>).data));
      const text = readFileSync(path, 'utf8');
      writeFileSync(path, text.replace('"epoch":3', '"epoch":4'));
      await expectReject(MultiTaskNet.load(path), FormatError, /corrupted/);
      writeFileSync(path, 'not json');
      await expectReject(MultiTaskNet.load(path), FormatError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('MultiTaskNet: more behaviour', function () {
  this.timeout(60_000);

  it('Delta_m: 0 against itself, positive against a worse baseline, sign by metric direction', async () => {
    const { X, Y } = mixedData(80, 4, 13, 0);
    const net = mixedNet({ type: 'hard-sharing', shared: [8] });
    await net.fit({ X, Y }, { epochs: 3 });
    const own = net.evaluate({ X, Y }).tasks;
    expect(net.evaluate({ X, Y }, { baselines: { r: { mse: own.r!.mse! } } }).deltaM).to.equal(0);
    expect(net.evaluate({ X, Y }, { baselines: { r: { mse: 2 * own.r!.mse! } } }).deltaM).to.be.closeTo(50, 1e-9);
    const acc = own.b!.accuracy!;
    // A baseline with a higher accuracy (better) makes the gain negative.
    expect(net.evaluate({ X, Y }, { baselines: { b: { accuracy: acc * 1.25 } } }).deltaM).to.be.closeTo(-20, 1e-9);
    expect(() => net.evaluate({ X, Y }, { baselines: { nope: { mse: 1 } } })).to.throw(ValueError, /nope/);
  });

  it('float64 networks predict Float64Arrays', async () => {
    const { X, Y } = mixedData(40, 4, 14, 0);
    const net = mixedNet({ type: 'mmoe', experts: 2, expertUnits: [4] }, { dtype: 'float64' });
    await net.fit({ X, Y }, { epochs: 2 });
    const p = net.predict(X);
    expect(p.r).to.be.instanceOf(Float64Array);
    expect((net.predictProba(X).m as Matrix<Float64Array>).data).to.be.instanceOf(Float64Array);
  });

  it('takes a user-written strategy object; loading needs it back', async () => {
    const { X, Y } = mixedData(40, 4, 15, 0);
    let calls = 0;
    const mine = {
      name: 'mean-of-grads',
      needsGradients: true,
      init() {},
      combine(step: { grads?: Matrix<Float64Array> }) {
        calls++;
        const g = step.grads!;
        const shared = new Float64Array(g.cols);
        for (let t = 0; t < g.rows; t++) for (let k = 0; k < g.cols; k++) shared[k]! += g.data[t * g.cols + k]! / g.rows;
        return { weights: new Float64Array(g.rows).fill(1), shared };
      },
      getState: () => ({}),
      setState() {},
    };
    const net = mixedNet({ type: 'cross-stitch', layers: [4] }, { weighting: mine });
    await net.fit({ X, Y }, { epochs: 1, batchSize: 10 });
    expect(calls).to.equal(4);
    const doc = JSON.parse(JSON.stringify(net.toJSON()));
    expect(() => MultiTaskNet.fromJSON(doc)).to.throw(FormatError, /custom weighting/);
    expect(MultiTaskNet.fromJSON(doc, { weighting: mine }).epochs).to.equal(1);
  });

  it('refuses a second fit while one is running', async () => {
    const { X, Y } = mixedData(40, 4, 16, 0);
    const net = mixedNet({ type: 'hard-sharing', shared: [4] });
    const first = net.fit({ X, Y }, { epochs: 3, batchSize: 4 });
    await expectReject(net.fit({ X, Y }), ConfigError, /already training/);
    await first;
  });
});

async function expectReject(p: Promise<unknown>, cls: new (...a: never[]) => Error, re?: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(cls);
    if (re) expect((err as Error).message).to.match(re);
    return;
  }
  expect.fail(`expected a ${cls.name}`);
}
