/**
 * The contract every model follows (docs/models.md): fit resolves to the model with `history`,
 * onProgress gets the one Progress shape (phase, step, total, loss) from every fit, predict gives
 * values or labels in the shape of the data layout, predictProba exists on every classifier,
 * score is higher-is-better (R^2 or accuracy) and losses come from evaluate. The type
 * annotations are checked too: this file is compiled under strict TypeScript.
 */
import { expect } from 'chai';

import {
  ClusteredLogistic,
  FewShotTasks,
  RobustL21Logistic,
  L21Logistic,
  L21Regression,
  MAML,
  MetaRidge,
  MultiTaskDataset,
  MultiTaskElasticNetCV,
  MultiTaskLasso,
  MultiTaskNet,
  ProtoNet,
  SinusoidTasks,
  type Labels,
  type Matrix,
  type Progress,
} from '../lib/index.js';
import { Rng } from '../lib/core/rng.js';
import { randMatrix } from './helpers.js';

/** Checks the fields every progress record has, and that steps count up within a phase. */
function checkProgress(records: Progress[], phases: ('fit' | 'cv')[]): void {
  expect(records.length).to.be.greaterThan(0);
  expect([...new Set(records.map((r) => r.phase))]).to.deep.equal(phases);
  for (const r of records) {
    expect(r.step).to.be.a('number').and.to.be.at.least(0);
    if (r.total !== undefined) expect(r.step).to.be.at.most(r.total);
    if (r.loss !== undefined) expect(Number.isFinite(r.loss)).to.equal(true);
  }
  const fits = records.filter((r) => r.phase === 'fit');
  expect(fits[0]!.step).to.equal(1);
}

/** Shared X (n x d) and Y (n x T) of a sparse linear model with a little noise. */
function sharedData(n: number, d: number, T: number, seed: number) {
  const rng = new Rng(seed);
  const X = randMatrix(rng, n, d);
  const W = randMatrix(rng, T, d);
  for (let j = 3; j < d; j++) for (let t = 0; t < T; t++) W.data[t * d + j] = 0;
  const Y = { rows: n, cols: T, data: new Float64Array(n * T) };
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < T; t++) {
      let s = 0.05 * rng.normal();
      for (let j = 0; j < d; j++) s += X.data[i * d + j]! * W.data[t * d + j]!;
      Y.data[i * T + t] = s;
    }
  }
  return { X, Y };
}

/** Per-task rows: T tasks of n rows, y = x . w_t (+ noise), or labels x . w_t > 0. */
function taskData(T: number, n: number, d: number, seed: number, binary = false): MultiTaskDataset {
  const rng = new Rng(seed);
  const w0 = Array.from({ length: d }, () => rng.normal());
  return new MultiTaskDataset(
    Array.from({ length: T }, (_, t) => {
      const X = randMatrix(rng, n, d);
      const w = w0.map((v) => v + 0.2 * rng.normal());
      const y = Float64Array.from({ length: n }, (_, i) => {
        let s = 0;
        for (let j = 0; j < d; j++) s += X.data[i * d + j]! * w[j]!;
        return binary ? (s > 0 ? 1 : 0) : s + 0.05 * rng.normal();
      });
      return { name: `task-${t}`, X, y, type: binary ? ('binary' as const) : ('regression' as const) };
    }),
  );
}

describe('the model contract', function () {
  this.timeout(60_000);

  it('shared X: fit resolves to the model, predict is n x T, score is R^2, evaluate gives MSEs, progress per sweep', async () => {
    const { X, Y } = sharedData(60, 8, 3, 1);
    const seen: Progress[] = [];
    const model = new MultiTaskLasso({ alpha: 0.01, tol: 1e-8 });
    const fitted = await model.fit(X, Y, { onProgress: (p) => seen.push(p) });
    expect(fitted).to.equal(model);
    checkProgress(seen, ['fit']);
    expect(seen.every((p) => p.total === 1000)).to.equal(true);
    // history: the duality gaps the sweeps checked, the last one being the model's.
    expect(model.history.length).to.be.greaterThan(0);
    expect(model.history.at(-1)).to.equal(model.dualGap);
    const P: Matrix = model.predict(X);
    expect([P.rows, P.cols]).to.deep.equal([60, 3]);
    const r2 = model.score(X, Y);
    expect(r2).to.be.greaterThan(0.95).and.at.most(1);
    const ev = model.evaluate(X, Y);
    expect(Object.keys(ev.tasks)).to.deep.equal(['0', '1', '2']);
    expect(ev.tasks['0']!.n).to.equal(60);
    expect(ev.tasks['0']!.r2).to.be.greaterThan(0.9);
    expect(ev.loss).to.be.closeTo((ev.tasks['0']!.mse! + ev.tasks['1']!.mse! + ev.tasks['2']!.mse!) / 3, 1e-12);
    expect(ev.loss).to.be.lessThan(0.05);
  });

  it('a CV model reports its path as phase cv (step of total) before the refit', async () => {
    const { X, Y } = sharedData(40, 6, 2, 2);
    const seen: Progress[] = [];
    const model = await new MultiTaskElasticNetCV({ alphas: [0.1, 0.01], l1Ratio: [0.5, 0.9], cv: 3 }).fit(X, Y, { onProgress: (p) => seen.push(p) });
    checkProgress(seen, ['cv', 'fit']);
    const cv = seen.filter((p) => p.phase === 'cv');
    expect(cv.every((p) => p.total === 3 * 2 * 2)).to.equal(true);
    expect(cv.at(-1)!.step).to.equal(12);
    expect(model.history.at(-1)).to.equal(model.dualGap);
  });

  it('per-task models: predict gives the task vector (labels for L21Logistic), predictProba, evaluate, progress', async () => {
    const data = taskData(3, 30, 4, 3);
    const seen: Progress[] = [];
    const reg = await new L21Regression({ alpha: 0.01 }).fit(data, { onProgress: (p) => seen.push(p) });
    checkProgress(seen, ['fit']);
    expect(seen.every((p) => p.loss !== undefined && p.total === 10000)).to.equal(true);
    const values: Float64Array = reg.predict('task-1', data.task('task-1').X);
    expect(values).to.be.instanceOf(Float64Array).with.length(30);
    expect(reg.score(data)).to.be.greaterThan(0.9);
    const ev = reg.evaluate(data);
    expect(Object.keys(ev.tasks)).to.deep.equal(['task-0', 'task-1', 'task-2']);
    expect(ev.tasks['task-1']!.loss).to.equal(ev.tasks['task-1']!.mse);
    expect(ev.loss).to.be.lessThan(0.1);

    const bin = taskData(3, 40, 4, 4, true);
    const clf = await new L21Logistic({ alpha: 0.001 }).fit(bin);
    const labels: Labels = clf.predict('task-0', bin.task('task-0').X);
    expect(labels).to.be.instanceOf(Int32Array);
    const proba: Float64Array = clf.predictProba('task-0', bin.task('task-0').X);
    for (let i = 0; i < labels.length; i++) expect(labels[i]).to.equal(proba[i]! > 0.5 ? 1 : 0);
    const acc = clf.score(bin);
    expect(acc).to.be.greaterThan(0.85).and.at.most(1);
    for (const Model of [ClusteredLogistic, RobustL21Logistic]) {
      const m = await new Model().fit(bin);
      const l: Labels = m.predict('task-1', bin.task('task-1').X);
      expect(l, Model.name).to.be.instanceOf(Int32Array);
      expect(m.score(bin), Model.name).to.be.within(0, 1);
    }
    const cev = clf.evaluate(bin);
    expect(cev.tasks['task-0']!.accuracy).to.be.a('number');
    expect(cev.tasks['task-0']!.loss).to.equal(cev.tasks['task-0']!.logloss);
  });

  it('MultiTaskNet: hard sharing by default, typed predictions by task, progress per epoch, score', async () => {
    const rng = new Rng(5);
    const n = 120;
    const X = randMatrix(rng, n, 3);
    const Y = Array.from({ length: n }, (_, i) => {
      const x = X.data.subarray(i * 3, i * 3 + 3);
      return [x[0]! - x[1]!, x[2]! > 0 ? 1 : 0, x[0]! > 0.5 ? 2 : x[0]! < -0.5 ? 0 : 1];
    });
    const net = new MultiTaskNet({
      inputSize: 3,
      tasks: [{ name: 'score', type: 'regression' }, { name: 'pass', type: 'binary' }, { name: 'band', type: 'multiclass', classes: 3 }],
      optimizer: { type: 'adam', lr: 0.01 },
      seed: 1,
    });
    expect(net.config.architecture).to.deep.equal({ type: 'hard-sharing' });
    const seen: Progress[] = [];
    const epochsSeen: number[] = [];
    const fitted = await net.fit({ X, Y }, { epochs: 15, batchSize: 16, onProgress: (p) => seen.push(p), onEpoch: (r) => void epochsSeen.push(r.epoch) });
    expect(fitted).to.equal(net);
    checkProgress(seen, ['fit']);
    expect(seen.map((p) => p.step)).to.deep.equal(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(seen.every((p) => p.total === 15)).to.equal(true);
    expect(epochsSeen).to.have.length(15);
    expect(net.history.epochs.map((e) => e.loss)).to.deep.equal(seen.map((p) => p.loss));

    const p = net.predict(X);
    // Compile-time: the value types follow from the task types.
    const score: Float32Array = p.score;
    const pass: Labels = p.pass;
    const band: Labels = p.band;
    expect(score).to.be.instanceOf(Float32Array).with.length(n);
    expect(Array.from(new Set(pass)).every((v) => v === 0 || v === 1)).to.equal(true);
    expect(Array.from(new Set(band)).every((v) => v >= 0 && v <= 2)).to.equal(true);
    const proba = net.predictProba(X);
    const passP: Float32Array = proba.pass;
    const bandP: Matrix<Float32Array> = proba.band;
    expect(passP).to.have.length(n);
    expect([bandP.rows, bandP.cols]).to.deep.equal([n, 3]);
    expect(Object.keys(proba)).to.deep.equal(['pass', 'band']);

    const ev = net.evaluate({ X, Y });
    const s = net.score({ X, Y });
    expect(s).to.be.closeTo((ev.tasks.score!.r2! + ev.tasks.pass!.accuracy! + ev.tasks.band!.accuracy!) / 3, 1e-12);
    expect(s).to.be.greaterThan(0.6);
    expect(ev.tasks.pass!.accuracy).to.be.greaterThan(0.8);
  });

  it('MAML: fit resolves to the learner, history and losses, progress per iteration, adapted model contract', async () => {
    const maml = new MAML({ network: { inputSize: 1, hidden: [16] }, loss: 'mse', innerLr: 0.01, metaBatchSize: 4, optimizer: { type: 'adam', lr: 0.005 }, seed: 0 });
    const seen: Progress[] = [];
    const fitted = await maml.fit(new SinusoidTasks({ shots: 10, seed: 1 }), { iterations: 40, onProgress: (p) => seen.push(p) });
    expect(fitted).to.equal(maml);
    checkProgress(seen, ['fit']);
    expect(seen.map((p) => p.loss)).to.deep.equal(Array.from(maml.history.losses));
    expect(maml.losses).to.equal(maml.history.losses);
    const task = new SinusoidTasks({ shots: 10, queries: 50, seed: 9 }).sample();
    const model = maml.adapt(task.support, { steps: 5 });
    const y: Float64Array = model.predict(task.query.X);
    expect(y).to.be.instanceOf(Float64Array).with.length(50);
    expect(Array.from(y)).to.deep.equal(Array.from(model.decisionFunction(task.query.X).data));
    const ev = model.evaluate(task.query);
    expect(ev.loss).to.be.closeTo(ev.mse!, 1e-9 * Math.max(1, ev.mse!));
    expect(model.score(task.query)).to.equal(ev.r2);
    // Zero steps is the initialisation; gradient steps on the support set lower its loss.
    expect(maml.adapt(task.support, { steps: 0 }).score(task.query)).to.equal(maml.model().score(task.query));
    expect(maml.adapt(task.support, { steps: 5, lr: 0.02 }).evaluate(task.support).loss).to.be.lessThan(maml.model().evaluate(task.support).loss);
    expect(() => model.predictProba(task.query.X)).to.throw(/regression/);
  });

  it('a classifying adapted model: labels, probabilities that agree with them, accuracy', async () => {
    const rng = new Rng(6);
    const X = randMatrix(rng, 40, 2);
    const y = Float64Array.from({ length: 40 }, (_, i) => (X.data[2 * i]! + X.data[2 * i + 1]! > 0 ? 1 : 0));
    const maml = new MAML({ network: { inputSize: 2, hidden: [8] }, loss: 'bce-logits', innerLr: 0.5, seed: 2 });
    const model = maml.adapt({ X, y }, { steps: 30 });
    const labels: Labels = model.predict(X);
    const p: Float64Array = model.predictProba(X);
    for (let i = 0; i < 40; i++) expect(labels[i]).to.equal(p[i]! > 0.5 ? 1 : 0);
    const ev = model.evaluate({ X, y });
    expect(model.score({ X, y })).to.equal(ev.accuracy).and.to.be.greaterThan(0.8);
    expect(ev.loss).to.equal(ev.logloss);

    const soft = new MAML({ network: { inputSize: 2, hidden: [8], outputSize: 2 }, loss: 'softmax-ce', innerLr: 0.5, seed: 2 }).adapt({ X, y }, { steps: 30 });
    const P: Matrix<Float64Array> = soft.predictProba(X);
    expect([P.rows, P.cols]).to.deep.equal([40, 2]);
    const softLabels: Labels = soft.predict(X);
    for (let i = 0; i < 40; i++) expect(softLabels[i]).to.equal(P.data[2 * i + 1]! > P.data[2 * i]! ? 1 : 0);
  });

  it('ProtoNet and MetaRidge: fit resolves to the learner; adapted models have score (accuracy / R^2) and evaluate', async () => {
    const rng = new Rng(7);
    const classes = 4;
    const per = 12;
    const centres = randMatrix(rng, classes, 3, 4);
    const X = new Float64Array(classes * per * 3);
    const labels: number[] = [];
    for (let c = 0; c < classes; c++) {
      for (let k = 0; k < per; k++) {
        const r = c * per + k;
        for (let j = 0; j < 3; j++) X[r * 3 + j] = centres.data[c * 3 + j]! + 0.3 * rng.normal();
        labels.push(c);
      }
    }
    const source = { X: { rows: classes * per, cols: 3, data: X }, labels };
    const sampler = new FewShotTasks(source, { ways: 3, shots: 2, queries: 3, seed: 1 });
    const proto = new ProtoNet({ network: { inputSize: 3, hidden: [8], outputSize: 4 }, seed: 1 });
    const seen: Progress[] = [];
    expect(await proto.fit(sampler, { iterations: 10, onProgress: (p) => seen.push(p) })).to.equal(proto);
    checkProgress(seen, ['fit']);
    expect(proto.history.losses).to.have.length(10);
    const ep = sampler.sample();
    const pm = proto.adapt(ep.support);
    const acc = pm.score(ep.query);
    expect(acc).to.equal(pm.evaluate(ep.query).accuracy);
    expect(acc).to.be.greaterThan(0.8);
    expect(pm.evaluate(ep.query).loss).to.be.greaterThan(0);

    const ridge = new MetaRidge({ network: { inputSize: 3, hidden: [8], outputSize: 4 }, seed: 1, loss: 'softmax-ce' });
    expect(await ridge.fit(sampler, { iterations: 5 })).to.equal(ridge);
    const rm = ridge.adapt(ep.support);
    const rl: Labels = rm.predict(ep.query.X);
    expect(rl).to.have.length(ep.query.y.length);
    expect(rm.score(ep.query)).to.equal(rm.evaluate(ep.query).accuracy);

    const reg = new MetaRidge({ network: { inputSize: 1, hidden: [8], outputSize: 4 }, loss: 'mse', seed: 1 });
    const task = new SinusoidTasks({ shots: 20, queries: 20, seed: 3 }).sample();
    const rr = reg.adapt(task.support);
    const values: Float64Array = rr.predict(task.query.X);
    expect(values).to.have.length(20);
    expect(rr.score(task.query)).to.equal(rr.evaluate(task.query).r2);
    expect(() => rr.predictProba(task.query.X)).to.throw(/regression/);
  });
});
