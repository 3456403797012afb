/**
 * Meta-learning over any model: every meta-learner takes a multi-task network (a MultiTaskNet, or
 * { inputSize, tasks, architecture } as MultiTaskNet takes it) and adapts it into a MultiTaskNet;
 * MultiTaskSplit draws few-shot multi-task problems (groups of tasks); the multi-head meta-gradient
 * is checked against finite differences; save/load keeps such a learner; on School a multi-task
 * initialisation meta-learned over groups of schools adapts to new schools better than the same
 * network trained from scratch. Also the functional API (own meta-training loops) and its example.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  ANIL,
  ConfigError,
  MAML,
  MetaSGD,
  MultiTaskDataset,
  MultiTaskNet,
  MultiTaskSplit,
  Pretrained,
  ProtoNet,
  Reptile,
  ShapeError,
  ValueError,
  createOptimizer,
  datasets,
  functional as F,
  iMAML,
  type Labels,
  type MultiTaskProblem,
} from '../lib/index.js';
import { Rng } from '../lib/core/rng.js';
import { run as metaLoop } from '../examples/metaLoop.js';
import { run as schoolMeta } from '../examples/schoolMultiTaskMeta.js';
import { randMatrix, relErr } from './helpers.js';

/** A small dataset of `T` related tasks with their own rows: a regression, a binary and a 3-class task per group. */
function relatedTasks(T: number, n: number, d: number, seed: number): MultiTaskDataset {
  const rng = new Rng(seed);
  const w0 = Array.from({ length: d }, () => rng.normal());
  return new MultiTaskDataset(
    Array.from({ length: T }, (_, t) => {
      const X = randMatrix(rng, n, d);
      const w = w0.map((v) => v + 0.3 * rng.normal());
      const b = 0.5 * rng.normal();
      const y = Float64Array.from({ length: n }, (_, i) => {
        let s = b;
        for (let j = 0; j < d; j++) s += X.data[i * d + j]! * w[j]!;
        return s + 0.1 * rng.normal();
      });
      return { name: `t${t}`, X, y };
    }),
  );
}

const TASKS = [
  { name: 'a', type: 'regression' },
  { name: 'b', type: 'regression' },
] as const;

describe('meta-learning over multi-task networks', function () {
  this.timeout(120_000);
  const data = relatedTasks(12, 30, 3, 1);

  describe('MultiTaskSplit', () => {
    it('stacks a group of tasks into { X, Y }: one column per task, NaN on the other tasks\' rows', () => {
      const split = new MultiTaskSplit(data, { groupSize: 3, shots: 4, queries: 6, seed: 2 });
      expect(split.inputSize).to.equal(3);
      for (const p of split.sampleBatch(5)) {
        const names = String(p.info!.tasks).split(',');
        expect(new Set(names).size).to.equal(3);
        for (const [set, per] of [[p.support, 4], [p.query, 6]] as const) {
          expect([set.X.rows, set.Y.rows, set.Y.cols]).to.deep.equal([3 * per, 3 * per, 3]);
          for (let i = 0; i < set.Y.rows; i++) {
            const g = Math.floor(i / per);
            for (let c = 0; c < 3; c++) expect(Number.isNaN(set.Y.data[i * 3 + c]!), `row ${i} col ${c}`).to.equal(c !== g);
            // The row is one of task g's own rows, with its target.
            const task = data.task(names[g]!);
            const x = Array.from(set.X.data.subarray(i * 3, i * 3 + 3));
            const k = Array.from({ length: task.X.rows }, (_, r) => r).find((r) => x.every((v, j) => v === task.X.data[r * 3 + j]));
            expect(k, 'row found in its task').to.not.equal(undefined);
            expect(set.Y.data[i * 3 + g]).to.equal(task.y[k!]);
          }
        }
      }
    });

    it('is deterministic by seed, draws from the given tasks, and gives clear errors', () => {
      const a = new MultiTaskSplit(data, { groupSize: 2, shots: 3, seed: 5 }).sampleBatch(4);
      const b = new MultiTaskSplit(data, { groupSize: 2, shots: 3, seed: 5 }).sampleBatch(4);
      expect(a.map((p) => Array.from(p.support.X.data))).to.deep.equal(b.map((p) => Array.from(p.support.X.data)));
      const s = new MultiTaskSplit(data, { groupSize: 2, shots: 3, seed: 5, tasks: ['t1', 't2', 't3'] });
      for (const p of s.sampleBatch(10)) for (const name of String(p.info!.tasks).split(',')) expect(['t1', 't2', 't3']).to.include(name);
      expect(s.sampleFrom(['t3', 't1']).info!.tasks).to.equal('t3,t1');
      expect(() => s.sampleFrom(['t3'])).to.throw(ValueError, /expected 2 task names/);
      expect(() => s.sampleFrom(['t3', 't4'])).to.throw(ValueError, /no task named 't4'/);
      expect(() => new MultiTaskSplit(data, { groupSize: 13, shots: 3 })).to.throw(ConfigError, /groupSize 13 is more than the 12 tasks/);
      expect(() => new MultiTaskSplit(data, { shots: 3 } as never)).to.throw(ConfigError, /'groupSize' is required/);
      expect(() => new MultiTaskSplit(data, { groupSize: 2, shots: 30 })).to.throw(ValueError, /needs more than shots/);
    });
  });

  describe('every meta-learner takes a MultiTaskNet or { inputSize, tasks, architecture }', () => {
    const split = new MultiTaskSplit(data, { groupSize: 2, shots: 5, queries: 10, seed: 3 });
    const makers = {
      MAML: (network: MultiTaskNet<typeof TASKS>) => new MAML({ network, metaBatchSize: 3, innerLr: 0.05 }),
      ANIL: (network: MultiTaskNet<typeof TASKS>) => new ANIL({ network, metaBatchSize: 3, innerLr: 0.05 }),
      MetaSGD: (network: MultiTaskNet<typeof TASKS>) => new MetaSGD({ network, metaBatchSize: 3, innerLr: 0.05 }),
      Reptile: (network: MultiTaskNet<typeof TASKS>) => new Reptile({ network, metaBatchSize: 3, innerLr: 0.05 }),
      iMAML: (network: MultiTaskNet<typeof TASKS>) => new iMAML({ network, metaBatchSize: 3, innerLr: 0.05 }),
      Pretrained: (network: MultiTaskNet<typeof TASKS>) => new Pretrained({ network, metaBatchSize: 3, innerLr: 0.05 }),
    };
    for (const [name, make] of Object.entries(makers)) {
      it(`${name}: starts from the net's parameters, meta-trains, adapts into a MultiTaskNet`, async () => {
        const net = new MultiTaskNet({ inputSize: 3, tasks: TASKS, architecture: { type: 'mmoe', experts: 2, expertUnits: [4] }, seed: 9 });
        const before = Array.from(net.getParams());
        const learner = make(net);
        expect(Array.from(learner.params.subarray(0, net.paramCount))).to.deep.equal(before);
        await learner.fit(split, { iterations: 4 });
        expect(learner.history.losses.every(Number.isFinite)).to.equal(true);
        expect(Array.from(net.getParams()), 'the given net is not modified').to.deep.equal(before);
        const p = split.sample();
        const adapted = learner.adapt(p.support, { steps: 2 });
        expect(adapted).to.be.instanceOf(MultiTaskNet);
        const a: Float32Array = adapted.predict(p.query.X).a;
        expect(a).to.have.length(p.query.X.rows);
        expect(adapted.taskNames).to.deep.equal(['a', 'b']);
        // Adapting moves the parameters away from the meta-learned initialisation.
        expect(Array.from(adapted.getParams())).to.not.deep.equal(Array.from(learner.model().getParams()));
        const rows = learner.evaluate(split, { tasks: 3, steps: [0, 2] });
        expect(rows.map((r) => r.steps)).to.deep.equal([0, 2]);
        expect(rows.every((r) => Number.isFinite(r.loss))).to.equal(true);
      });
    }

    it('the { inputSize, tasks, architecture } form builds the same network as MultiTaskNet would', () => {
      const maml = new MAML({ network: { inputSize: 3, tasks: TASKS, architecture: 'hard-sharing' }, seed: 4 });
      const net = new MultiTaskNet({ inputSize: 3, tasks: TASKS, architecture: 'hard-sharing', seed: 4 });
      expect(maml.spec).to.deep.equal(net.spec);
      expect(Array.from(maml.params)).to.deep.equal(Array.from(net.getParams()));
      const adapted = maml.model();
      expect(adapted.taskNames).to.deep.equal(['a', 'b']);
    });

    it('multiclass tasks: labels map to classes as in MultiTaskNet, and the adapted net predicts labels', async () => {
      const rng = new Rng(8);
      const X = randMatrix(rng, 40, 2);
      const Y = Array.from({ length: 40 }, (_, i) => [X.data[2 * i]! + X.data[2 * i + 1]!, X.data[2 * i]! > 0 ? 20 : 10]);
      const tasks = [{ name: 'v', type: 'regression' }, { name: 'c', type: 'multiclass', classes: [10, 20] }] as const;
      const maml = new MAML({ network: { inputSize: 2, tasks, architecture: { type: 'hard-sharing', shared: [8] } }, innerLr: 0.1, innerSteps: 5 });
      const support = { X, Y };
      const adapted = maml.adapt(support);
      const c: Labels = adapted.predict(X).c;
      expect(Array.from(new Set(c)).every((v) => v === 10 || v === 20)).to.equal(true);
      expect(() => maml.adapt({ X, Y: Y.map((r) => [r[0]!, 15]) })).to.throw(ValueError, /task 'c' has label 15 at row 0; expected one of 10, 20/);
      expect(() => maml.adapt({ X, Y: Y.map((r) => [r[0]!]) })).to.throw(ShapeError, /1 columns, expected one per task \(2: v, c\)/);
      await maml.fit({ inputSize: 2, sample: () => ({ support, query: support }), sampleBatch: (k: number) => Array.from({ length: k }, () => ({ support, query: support })), reset() {}, fork() { return this; } }, { iterations: 2 });
    });

    it('rejects a loss for a multi-task network and a dtype that differs from the net', () => {
      const net = new MultiTaskNet({ inputSize: 3, tasks: TASKS });
      expect(() => new MAML({ network: net, loss: 'mse' })).to.throw(ConfigError, /'loss' does not apply to a multi-task network/);
      expect(() => new MAML({ network: net, dtype: 'float64' })).to.throw(ConfigError, /'dtype' is 'float64' but the multi-task network is 'float32'/);
      expect(() => new MAML({ network: { inputSize: 3, tasks: TASKS, architectur: 'mmoe' } as never })).to.throw(ConfigError, /did you mean 'architecture'/);
    });
  });

  it('the multi-head meta-gradient equals finite differences of the adapted query loss (float64)', () => {
    const tasks = [{ name: 'a', type: 'regression' }, { name: 'b', type: 'binary' }] as const;
    const net = F.metaNetwork({ inputSize: 3, tasks, architecture: { type: 'hard-sharing', shared: [4] }, dtype: 'float64' });
    const theta = F.initialParams(net, 2);
    const rng = new Rng(3);
    const problem = (): MultiTaskProblem => {
      const set = (n: number) => {
        const X = randMatrix(rng, n, 3);
        const Y = { rows: n, cols: 2, data: new Float64Array(2 * n) };
        for (let i = 0; i < n; i++) {
          Y.data[2 * i] = i % 3 === 0 ? NaN : rng.normal();
          Y.data[2 * i + 1] = i % 4 === 1 ? -1 : rng.uniform() < 0.5 ? 1 : 0;
        }
        return { X, Y };
      };
      return { support: set(6), query: set(5) };
    };
    const tasksBatch = [problem(), problem()];
    const options = { innerLr: 0.1, innerSteps: 2 };
    const { loss, grad } = F.metaGradient(net, theta, tasksBatch, options);
    const f = (th: Float64Array): number => {
      let s = 0;
      for (const t of tasksBatch) s += F.taskLoss(net, F.adapt(net, th, t.support, { lr: 0.1, steps: 2 }), t.query);
      return s / tasksBatch.length;
    };
    expect(loss).to.be.closeTo(f(theta as Float64Array), 1e-10);
    const fd = new Float64Array(theta.length);
    const h = 1e-6;
    for (let j = 0; j < theta.length; j++) {
      const p = Float64Array.from(theta);
      p[j] = theta[j]! + h;
      const up = f(p);
      p[j] = theta[j]! - h;
      fd[j] = (up - f(p)) / (2 * h);
    }
    expect(relErr(grad, fd)).to.be.lessThan(1e-6);
    // MAML's own meta-gradient, fused and per task, is the same.
    const maml = new MAML({ network: { inputSize: 3, tasks, architecture: { type: 'hard-sharing', shared: [4] }, dtype: 'float64' }, ...options, seed: 2 });
    expect(relErr(maml.metaGradient(tasksBatch).grad, grad)).to.be.lessThan(1e-12);
    expect(relErr(maml.metaGradient(tasksBatch, { perTask: true }).grad, grad)).to.be.lessThan(1e-10);
  });

  it('saves and loads a learner of a MultiTaskNet: same parameters, same adapted predictions', async () => {
    const net = new MultiTaskNet({ inputSize: 3, tasks: TASKS, seed: 1 });
    const maml = new MAML({ network: net, metaBatchSize: 2, innerLr: 0.05 });
    const split = new MultiTaskSplit(data, { groupSize: 2, shots: 5, seed: 3 });
    await maml.fit(split, { iterations: 2 });
    const dir = mkdtempSync(join(tmpdir(), 'metatask-mtmeta-'));
    try {
      const path = join(dir, 'maml.json');
      await maml.save(path);
      const back = await MAML.load(path);
      expect(Array.from(back.params)).to.deep.equal(Array.from(maml.params));
      const p = split.sample();
      const x = maml.adapt(p.support) as MultiTaskNet;
      const y = back.adapt(p.support) as unknown as MultiTaskNet;
      expect(Array.from(y.predict(p.query.X).a as Float32Array)).to.deep.equal(Array.from(x.predict(p.query.X).a as Float32Array));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ProtoNet embeds with a MultiTaskNet: its heads\' outputs together, from its parameters', async () => {
    const net = new MultiTaskNet({ inputSize: 2, tasks: [{ name: 'u', type: 'regression' }, { name: 'v', type: 'multiclass', classes: 3 }], seed: 2 });
    const proto = new ProtoNet({ network: net, seed: 0 });
    expect(proto.embeddingSize).to.equal(4);
    expect(Array.from(proto.theta)).to.deep.equal(Array.from(net.getParams()));
    const E = proto.embed([[0.1, 0.2]]);
    expect(E.cols).to.equal(4);
  });

  it('on School, a multi-task initialisation meta-learned over groups of schools adapts to new schools', async () => {
    const r = await schoolMeta({ iterations: 300, problems: 20 }, () => {});
    // Observed on both backends with 40 groups: adapted ~0.60, not adapted ~0.63, from scratch ~1.01.
    expect(r.adapted, JSON.stringify(r)).to.be.lessThan(0.8 * r.scratch);
    expect(r.adapted, JSON.stringify(r)).to.be.lessThan(r.initial);
  });
});

describe('the functional API', function () {
  this.timeout(60_000);
  const net = F.metaNetwork({ inputSize: 2, hidden: [6] }, { loss: 'mse', dtype: 'float64' });
  const rng = new Rng(4);
  const X = randMatrix(rng, 12, 2);
  const y = Float64Array.from({ length: 12 }, (_, i) => X.data[2 * i]! - 2 * X.data[2 * i + 1]!);
  const support = { X, y };

  it('adaptStep is one SGD step on the support loss; adapt is several; params stay unchanged', () => {
    const theta = F.initialParams(net, 1);
    const copy = Float64Array.from(theta);
    const g = new Float64Array(theta.length);
    const l0 = F.taskLoss(net, theta, support, g);
    const phi = F.adaptStep(net, theta, support, { lr: 0.05 });
    expect(Array.from(phi)).to.deep.equal(Array.from(theta, (v, j) => v - 0.05 * g[j]!));
    expect(Array.from(theta)).to.deep.equal(Array.from(copy));
    expect(F.taskLoss(net, phi, support)).to.be.lessThan(l0);
    const two = F.adapt(net, theta, support, { lr: 0.05, steps: 2 });
    expect(Array.from(two)).to.deep.equal(Array.from(F.adaptStep(net, phi, support, { lr: 0.05 })));
    expect(Array.from(F.adapt(net, theta, support, { lr: 0.05, steps: 0 }))).to.deep.equal(Array.from(theta));
    const model = net.model(two);
    expect(Array.from(model.predict(X))).to.deep.equal(Array.from(net.forward(two, X).data));
  });

  it('metaGradient equals MAML\'s, and applyUpdate steps like the optimiser or plain SGD', () => {
    const maml = new MAML({ network: { inputSize: 2, hidden: [6] }, loss: 'mse', dtype: 'float64', seed: 1, innerLr: 0.02, innerSteps: 2 });
    const theta = F.initialParams(net, 1);
    expect(Array.from(maml.params)).to.deep.equal(Array.from(theta));
    const tasks = [{ support, query: support }, { support: { X, y: y.map((v) => 2 * v) }, query: support }];
    const mine = F.metaGradient(net, theta, tasks, { innerLr: 0.02, innerSteps: 2 });
    const theirs = maml.metaGradient(tasks);
    expect(mine.loss).to.equal(theirs.loss);
    expect(Array.from(mine.grad)).to.deep.equal(Array.from(theirs.grad));
    const fo = F.metaGradient(net, theta, tasks, { innerLr: 0.02, innerSteps: 2, firstOrder: true });
    expect(relErr(fo.grad, mine.grad)).to.be.greaterThan(1e-6);

    const sgd = Float64Array.from(theta);
    F.applyUpdate(sgd, mine.grad, 0.1);
    expect(Array.from(sgd)).to.deep.equal(Array.from(theta, (v, j) => v - 0.1 * mine.grad[j]!));
    const a = Float64Array.from(theta);
    const b = Float64Array.from(theta);
    const optA = createOptimizer({ type: 'adam', lr: 0.01 });
    const optB = createOptimizer({ type: 'adam', lr: 0.01 });
    F.applyUpdate(a, Array.from(mine.grad), optA);
    optB.step(b, Float64Array.from(mine.grad));
    expect(Array.from(a)).to.deep.equal(Array.from(b));
  });

  it('gives clear errors', () => {
    const theta = F.initialParams(net, 1);
    expect(() => F.adaptStep(net, new Float32Array(3), support, { lr: 0.1 })).to.throw(ShapeError, /params must be a Float64Array of \d+ values/);
    expect(() => F.adapt(net, theta, support, {} as never)).to.throw(ConfigError, /'lr' is required/);
    expect(() => F.metaGradient(net, theta, [])).to.throw(ValueError, /non-empty array/);
    expect(() => F.metaGradient(net, theta, [{ support } as never])).to.throw(ShapeError, /task 0 must be \{ support, query \}/);
    expect(() => F.applyUpdate(theta, [1, 2], 0.1)).to.throw(ShapeError, /grad must have/);
    expect(() => F.applyUpdate(theta, theta, -1)).to.throw(ConfigError, /rate/);
    expect(() => F.metaNetwork({ inputSize: 2, hidden: [3] }, { los: 'mse' } as never)).to.throw(ConfigError, /did you mean 'loss'/);
  });

  it('the example of an own meta-training loop learns to adapt', async () => {
    const r = await metaLoop(300, () => {});
    expect(r.lastLoss).to.be.lessThan(r.firstLoss);
    expect(r.after).to.be.lessThan(0.5 * r.before);
  });
});
