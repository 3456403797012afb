/**
 * Meta-learning: meta-gradients against finite differences in float64 (MAML 1-3 inner
 * steps, ANIL, Meta-SGD's learning-rate gradient), iMAML against the exact implicit gradient of a
 * quadratic problem, PyTorch's reference meta-gradients (sinusoid benchmark data), backend agreement, MAML beating a
 * pretrained network on sinusoids, task samplers, save/load and bad input.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AbortError, ConfigError, FormatError, ShapeError, ValueError } from '../lib/core/errors.js';
import { Rng } from '../lib/core/rng.js';
import { MultiTaskDataset } from '../lib/data/dataset.js';
import { availableBackends, backend, kernels, setBackend, setThreads } from '../lib/kernels/index.js';
import { packageRoot } from '../lib/kernels/native.js';
import { ANIL, iMAML, MAML, MetaSGD, Pretrained, Reptile, SinusoidTasks, TaskSplit, type Task, type TaskSampler } from '../lib/meta/index.js';

const SMALL = { inputSize: 2, hidden: [5, 4], outputSize: 1, activation: 'tanh' as const };

function randomTasks(seed: number, count: number, inputSize = 2, nS = 6, nQ = 5): Task[] {
  const rng = new Rng(seed);
  const set = (n: number) => {
    const X = new Float64Array(n * inputSize);
    const y = new Float64Array(n);
    for (let i = 0; i < X.length; i++) X[i] = rng.normal();
    for (let i = 0; i < n; i++) y[i] = Math.sin(X[i * inputSize]!) + 0.5 * rng.normal();
    return { X: { rows: n, cols: inputSize, data: X }, y };
  };
  return Array.from({ length: count }, () => ({ support: set(nS), query: set(nQ) }));
}

/** Central differences of f at params (all coordinates). */
function finiteDiff(params: Float64Array, f: () => number, h = 1e-5): Float64Array {
  const out = new Float64Array(params.length);
  for (let j = 0; j < params.length; j++) {
    const old = params[j]!;
    params[j] = old + h;
    const fp = f();
    params[j] = old - h;
    const fm = f();
    params[j] = old;
    out[j] = (fp - fm) / (2 * h);
  }
  return out;
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, what: string): void {
  expect(a.length).to.equal(b.length);
  let scale = 0;
  for (let j = 0; j < b.length; j++) scale = Math.max(scale, Math.abs(b[j]!));
  for (let j = 0; j < b.length; j++) {
    const d = Math.abs(a[j]! - b[j]!);
    if (d > rtol * scale + 1e-12) expect.fail(`${what}: entry ${j}: ${a[j]} vs ${b[j]} (|diff| ${d.toExponential(2)}, scale ${scale.toExponential(2)})`);
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[j]! - b[j]!));
  return m;
}

const hasNetwork = typeof (kernels() as unknown as { network?: unknown }).network === 'function';

(hasNetwork ? describe : describe.skip)(`meta-learning (${kernels().name} backend)`, function () {
  this.timeout(120_000);

  describe('task samplers', () => {
    it('SinusoidTasks draws Finn et al. tasks, reproducibly from a seed', () => {
      const s = new SinusoidTasks({ shots: 5, queries: 7, seed: 3 });
      const [a, b] = s.sampleBatch(2);
      expect(a!.support.X.rows).to.equal(5);
      expect(a!.query.X.rows).to.equal(7);
      expect(a!.support.y.length).to.equal(5);
      for (const t of [a!, b!]) {
        const A = Number(t.info!.amplitude);
        const p = Number(t.info!.phase);
        expect(A).to.be.within(0.1, 5);
        expect(p).to.be.within(0, Math.PI);
        for (let i = 0; i < 5; i++) {
          const x = t.support.X.data[i]!;
          expect(x).to.be.within(-5, 5);
          expect(t.support.y[i]).to.be.closeTo(A * Math.sin(x - p), 1e-12);
        }
      }
      s.reset();
      expect(Array.from(s.sample().support.y)).to.deep.equal(Array.from(a!.support.y));
      const again = new SinusoidTasks({ shots: 5, queries: 7, seed: 3 }).sample();
      expect(Array.from(again.query.X.data)).to.deep.equal(Array.from(a!.query.X.data));
      const other = s.fork(4).sample();
      expect(Array.from(other.support.y)).to.not.deep.equal(Array.from(a!.support.y));
    });

    it('SinusoidTasks checks its options', () => {
      expect(() => new SinusoidTasks({} as never)).to.throw(ConfigError, /shots/);
      expect(() => new SinusoidTasks({ shots: 5, amplitude: [5, 1] })).to.throw(ConfigError, /amplitude/);
      expect(() => new SinusoidTasks({ shots: 5, shot: 3 } as never)).to.throw(ConfigError, /unknown option 'shot'/);
    });

    it('TaskSplit turns each task of a MultiTaskDataset into a few-shot task', () => {
      const rng = new Rng(1);
      const tasks = ['a', 'b', 'c'].map((name, t) => ({
        name,
        X: Array.from({ length: 12 + t }, () => [rng.normal(), rng.normal()]),
        y: Array.from({ length: 12 + t }, () => t * 100 + rng.normal()),
      }));
      const data = new MultiTaskDataset(tasks);
      const split = new TaskSplit(data, { shots: 4, seed: 2 });
      expect(split.inputSize).to.equal(2);
      for (let i = 0; i < 10; i++) {
        const t = split.sample();
        const k = ['a', 'b', 'c'].indexOf(String(t.info!.task));
        expect(t.support.X.rows).to.equal(4);
        expect(t.query.X.rows).to.equal(12 + k - 4);
        // Support and query rows come from the same task and do not overlap.
        for (const v of [...t.support.y, ...t.query.y]) expect(Math.round(v / 100)).to.equal(k);
        const all = new Set([...t.support.y, ...t.query.y]);
        expect(all.size).to.equal(12 + k);
      }
      const only = new TaskSplit(data, { shots: 4, seed: 2, tasks: ['b'], queries: 3 });
      const t = only.sample();
      expect(t.info!.task).to.equal('b');
      expect(t.query.X.rows).to.equal(3);
      expect(() => new TaskSplit(data, { shots: 12 })).to.throw(ValueError, /task 'a' has 12 labelled rows/);
      expect(() => new TaskSplit(data, { shots: 2, tasks: ['zzz'] })).to.throw(ValueError, /unknown task/);
    });
  });

  describe('meta-gradients against finite differences (float64)', () => {
    for (const k of [1, 2, 3]) {
      it(`MAML, ${k} inner step${k > 1 ? 's' : ''}, second order`, () => {
        const maml = new MAML({ network: SMALL, innerLr: 0.3, innerSteps: k, seed: 5, dtype: 'float64' });
        const tasks = randomTasks(10 + k, 3);
        const { grad } = maml.metaGradient(tasks);
        const theta = maml.params as Float64Array;
        const fd = finiteDiff(theta, () => maml.metaGradient(tasks).loss);
        expectClose(grad, fd, 1e-6, 'MAML meta-gradient');
        // The second-order terms matter at this step size: first order is visibly different.
        const fo = new MAML({ network: SMALL, innerLr: 0.3, innerSteps: k, seed: 5, dtype: 'float64', firstOrder: true });
        expect(maxAbsDiff(fo.metaGradient(tasks).grad, fd)).to.be.greaterThan(1e-3);
      });
    }

    it('first-order MAML is the query gradient at the adapted parameters', () => {
      const fo = new MAML({ network: SMALL, innerLr: 0.2, innerSteps: 2, seed: 6, dtype: 'float64', firstOrder: true });
      const [task] = randomTasks(20, 1);
      const adapted = fo.adapt(task!.support, { steps: 2 });
      const at = new MAML({ network: SMALL, innerSteps: 0, seed: 6, dtype: 'float64' });
      at.params.set(adapted.params);
      expectClose(fo.metaGradient([task!]).grad, at.metaGradient([task!]).grad, 1e-12, 'first order');
    });

    it('ANIL: only the head adapts, and the body still gets a second-order meta-gradient', () => {
      const anil = new ANIL({ network: SMALL, innerLr: 0.5, innerSteps: 2, seed: 7, dtype: 'float64' });
      const tasks = randomTasks(30, 2);
      const [lo, hi] = anil.headSlice;
      expect(hi).to.equal(anil.paramCount);
      expect(hi - lo).to.equal(4 + 1);
      const adapted = anil.adapt(tasks[0]!.support, { steps: 3 });
      for (let j = 0; j < lo; j++) expect(adapted.params[j]).to.equal(anil.params[j]);
      expect(maxAbsDiff(adapted.params.subarray(lo), anil.params.subarray(lo))).to.be.greaterThan(0);
      const { grad } = anil.metaGradient(tasks);
      const fd = finiteDiff(anil.params as Float64Array, () => anil.metaGradient(tasks).loss);
      expectClose(grad, fd, 1e-6, 'ANIL meta-gradient');
      let body = 0;
      for (let j = 0; j < lo; j++) body = Math.max(body, Math.abs(grad[j]!));
      expect(body).to.be.greaterThan(1e-4);
    });

    it("Meta-SGD: gradients of theta and of the per-parameter learning rates", () => {
      const msgd = new MetaSGD({ network: SMALL, innerLr: 0.2, innerSteps: 2, seed: 8, dtype: 'float64' });
      const P = msgd.paramCount;
      expect(msgd.params.length).to.equal(2 * P);
      // Non-uniform rates, so that the test sees each alpha_j act on its own parameter.
      const rng = new Rng(3);
      for (let j = 0; j < P; j++) msgd.lrs[j] = 0.05 + 0.3 * rng.uniform();
      const tasks = randomTasks(40, 2);
      const { grad } = msgd.metaGradient(tasks);
      const fd = finiteDiff(msgd.params as Float64Array, () => msgd.metaGradient(tasks).loss);
      expectClose(grad.subarray(0, P), fd.subarray(0, P), 1e-6, 'Meta-SGD theta gradient');
      expectClose(grad.subarray(P), fd.subarray(P), 1e-6, 'Meta-SGD learning-rate gradient');
    });

    it('iMAML matches the exact implicit gradient of a quadratic inner problem', () => {
      // Linear model with mse: H_s = (2/n) A^T A is constant, A = [X 1], and the inner problem
      // min L_s(phi) + lambda/2 ||phi - theta||^2 has the closed form (H + lambda I)^{-1} ((2/n) A^T y + lambda theta).
      const lambda = 0.7;
      const net = { inputSize: 3, hidden: [], outputSize: 1, activation: 'identity' as const };
      const im = new iMAML({ network: net, lambda, innerSteps: 3000, innerLr: 0.05, cgSteps: 4, cgTol: 0, seed: 9, dtype: 'float64' });
      const [task] = randomTasks(50, 1, 3, 8, 6);
      const rows = (d: Task['support']) => Array.from({ length: d.X.rows }, (_, i) => [...d.X.data.subarray(3 * i, 3 * i + 3), 1]);
      const As = rows(task!.support);
      const Aq = rows(task!.query);
      const n = As.length;
      const H = [0, 1, 2, 3].map((a) => [0, 1, 2, 3].map((b) => (2 / n) * As.reduce((s, r) => s + r[a]! * r[b]!, 0)));
      const theta = Array.from(im.params);
      const rhs = [0, 1, 2, 3].map((a) => (2 / n) * As.reduce((s, r, i) => s + r[a]! * task!.support.y[i]!, 0) + lambda * theta[a]!);
      const phi = solve(H.map((r, a) => r.map((v, b) => v + (a === b ? lambda : 0))), rhs);
      const resid = Aq.map((r, i) => r.reduce((s, v, a) => s + v * phi[a]!, 0) - task!.query.y[i]!);
      const gq = [0, 1, 2, 3].map((a) => (2 / Aq.length) * Aq.reduce((s, r, i) => s + r[a]! * resid[i]!, 0));
      const exact = solve(H.map((r, a) => r.map((v, b) => v / lambda + (a === b ? 1 : 0))), gq);
      const { grad, loss } = im.metaGradient([task!]);
      expect(loss).to.be.closeTo(resid.reduce((s, r) => s + r * r, 0) / resid.length, 1e-9);
      expectClose(grad, exact, 1e-8, 'iMAML implicit gradient');
      // The exact implicit gradient is d L_q(phi*(theta))/d theta: check that too.
      const lq = (th: number[]) => {
        const r2 = [0, 1, 2, 3].map((a) => (2 / n) * As.reduce((s, r, i) => s + r[a]! * task!.support.y[i]!, 0) + lambda * th[a]!);
        const ph = solve(H.map((r, a) => r.map((v, b) => v + (a === b ? lambda : 0))), r2);
        const res = Aq.map((r, i) => r.reduce((s, v, a) => s + v * ph[a]!, 0) - task!.query.y[i]!);
        return res.reduce((s, r) => s + r * r, 0) / res.length;
      };
      const th = Float64Array.from(theta);
      const fd = finiteDiff(th, () => lq(Array.from(th)));
      expectClose(grad, fd, 1e-6, 'iMAML vs finite differences');
    });
  });

  describe('PyTorch reference meta-gradients (metagrad_check.json of the sinusoid benchmark data)', () => {
    // In the data folder next to this repository; the check runs where it is present (CI has it).
    const file = join(packageRoot(), '..', 'shared', 'data', 'w3', 'metagrad_check.json');
    for (const order of ['second_order', 'first_order'] as const) {
      it(`MAML reproduces PyTorch's ${order.replace('_', '-')} meta-gradient to float32 precision`, function () {
        if (!existsSync(file)) this.skip();
        const d = JSON.parse(readFileSync(file, 'utf8')) as {
          init_params: number[][];
          x_support: number[][];
          y_support: number[][];
          x_query: number[][];
          y_query: number[][];
          second_order: { meta_loss: number; grads: number[][] };
          first_order: { meta_loss: number; grads: number[][] };
        };
        const maml = new MAML({
          network: { inputSize: 1, hidden: [40, 40], outputSize: 1, activation: 'relu' },
          loss: 'mse',
          innerLr: 0.01,
          innerSteps: 1,
          firstOrder: order === 'first_order',
          dtype: 'float32',
        });
        // PyTorch's [in, out] layout, W then b per layer, is the network's flat layout.
        maml.params.set(d.init_params.flat());
        const tasks = d.x_support.map((xs, t) => ({
          support: { X: xs.map((v) => [v]), y: d.y_support[t]! },
          query: { X: d.x_query[t]!.map((v) => [v]), y: d.y_query[t]! },
        }));
        const { loss, grad } = maml.metaGradient(tasks);
        const ref = d[order];
        expect(loss).to.be.closeTo(ref.meta_loss, 1e-5 * ref.meta_loss);
        expectClose(grad, ref.grads.flat(), 1e-5, `${order} meta-gradient`);
      });
    }
  });

  describe('backends', () => {
    it('the same seed gives the same initialisation and meta-gradient on every backend', function () {
      const original = kernels().name;
      const names = availableBackends().filter((b) => {
        try {
          return typeof (setBackend(b), kernels() as unknown as { network?: unknown }).network === 'function';
        } catch {
          return false;
        }
      });
      setBackend(original);
      try {
        if (names.length < 2) this.skip();
        const tasks = randomTasks(60, 4);
        const results = names.map((b) => {
          setBackend(b);
          const m = new MAML({ network: SMALL, innerLr: 0.3, innerSteps: 2, seed: 11, dtype: 'float64' });
          return { params: Float64Array.from(m.params), grad: m.metaGradient(tasks).grad };
        });
        expect(Array.from(results[1]!.params)).to.deep.equal(Array.from(results[0]!.params));
        expectClose(results[1]!.grad, results[0]!.grad, 1e-9, 'native vs js meta-gradient');
      } finally {
        setBackend(original);
      }
    });
  });

  describe('behaviour', () => {
    it('on sinusoids, MAML adapts better than a network pretrained on all tasks (after 1 and 10 steps)', async () => {
      const net = { inputSize: 1, hidden: [40, 40], outputSize: 1, activation: 'relu' as const };
      const common = { network: net, metaBatchSize: 10, optimizer: { type: 'adam' as const, lr: 3e-3 }, seed: 1 };
      const maml = new MAML({ ...common, innerLr: 0.01, innerSteps: 1 });
      const pre = new Pretrained({ ...common, innerLr: 0.01 });
      await maml.fit(new SinusoidTasks({ shots: 10, queries: 10, seed: 2 }), { iterations: 1000 });
      await pre.fit(new SinusoidTasks({ shots: 10, queries: 10, seed: 2 }), { iterations: 1000 });
      const test = () => new SinusoidTasks({ shots: 10, queries: 10, seed: 123 });
      const [m0, m1, m10] = maml.evaluate(test(), { tasks: 100, steps: [0, 1, 10] });
      const [, p1, p10] = pre.evaluate(test(), { tasks: 100, steps: [0, 1, 10] });
      expect(m0!.steps).to.equal(0);
      expect(m1!.loss).to.be.lessThan(m0!.loss);
      expect(m1!.loss).to.be.lessThan(0.8 * p1!.loss);
      expect(m10!.loss).to.be.lessThan(0.8 * p10!.loss);
      expect(m10!.loss).to.be.lessThan(m1!.loss);
      expect(m10!.lossCi95).to.be.greaterThan(0);
    });

    it('Reptile with epsilon 1 and one task moves theta to the adapted parameters', () => {
      const r = new Reptile({ network: SMALL, innerLr: 0.1, innerSteps: 3, metaLr: 1, metaBatchSize: 1, seed: 3, dtype: 'float64' });
      const [task] = randomTasks(70, 1);
      const adapted = r.adapt(task!.support, { steps: 3 });
      r.step([task!]);
      expectClose(r.params, adapted.params, 1e-12, 'Reptile update');
    });

    it('MetaSGD, ANIL, iMAML and Reptile reduce the meta-loss on sinusoids', async () => {
      const net = { inputSize: 1, hidden: [20, 20], outputSize: 1, activation: 'relu' as const };
      const learners = [
        new MetaSGD({ network: net, metaBatchSize: 5, seed: 1, optimizer: { type: 'adam', lr: 3e-3 } }),
        new ANIL({ network: net, metaBatchSize: 5, seed: 1, innerLr: 0.1, optimizer: { type: 'adam', lr: 3e-3 } }),
        new iMAML({ network: net, metaBatchSize: 5, seed: 1, innerLr: 0.01, lambda: 1, innerSteps: 3, cgSteps: 3, optimizer: { type: 'adam', lr: 3e-3 } }),
        new Reptile({ network: net, metaBatchSize: 5, seed: 1, innerLr: 0.01, innerSteps: 5, metaLr: 0.5 }),
      ];
      for (const l of learners) {
        const before = l.evaluate(new SinusoidTasks({ shots: 10, queries: 10, seed: 9 }), { tasks: 50, steps: [1] })[0]!.loss;
        await l.fit(new SinusoidTasks({ shots: 10, queries: 10, seed: 2 }), { iterations: 200 });
        const after = l.evaluate(new SinusoidTasks({ shots: 10, queries: 10, seed: 9 }), { tasks: 50, steps: [1] })[0]!.loss;
        expect(after, l.kind).to.be.lessThan(before);
      }
    });

    it('classification: evaluate reports accuracy with its interval', () => {
      // Two classes separated along x0, with a task-specific sign.
      const sampler: TaskSampler = {
        inputSize: 2,
        rng: new Rng(4),
        sample(this: { rng: Rng }) {
          const flip = this.rng.uniform() < 0.5 ? -1 : 1;
          const set = (n: number) => {
            const X = new Float64Array(2 * n);
            const y = new Float64Array(n);
            for (let i = 0; i < n; i++) {
              y[i] = i % 2;
              X[2 * i] = flip * (y[i]! * 4 - 2) + 0.3 * this.rng.normal();
              X[2 * i + 1] = this.rng.normal();
            }
            return { X: { rows: n, cols: 2, data: X }, y };
          };
          return { support: set(4), query: set(10) };
        },
        sampleBatch(k: number) {
          return Array.from({ length: k }, () => this.sample());
        },
        reset() {},
        fork() {
          return this;
        },
      } as TaskSampler & { rng: Rng };
      const maml = new MAML({ network: { inputSize: 2, hidden: [8], outputSize: 2, activation: 'relu' }, loss: 'softmax-ce', innerLr: 0.5, innerSteps: 5, seed: 2 });
      const rows = maml.evaluate(sampler, { tasks: 20, steps: [0, 5] });
      expect(rows[1]!.accuracy).to.be.within(0, 1);
      expect(rows[1]!.accuracyCi95).to.be.a('number');
      expect(rows[1]!.accuracy!).to.be.greaterThan(0.9);
      const cls = maml.adapt(sampler.sample().support, { steps: 5 }).predictClass([[2, 0], [-2, 0]]);
      expect(cls.length).to.equal(2);
    });

    it('fit reports progress and honours an AbortSignal', async () => {
      const maml = new MAML({ network: SMALL, metaBatchSize: 2, seed: 1 });
      let calls = 0;
      const sampler: TaskSampler = { inputSize: 2, sample: () => randomTasks(calls, 1)[0]!, sampleBatch: (k) => randomTasks(calls + 1000, k), reset() {}, fork() { return this; } };
      const res = await maml.fit(sampler, { iterations: 5, onProgress: () => calls++ });
      expect(calls).to.equal(5);
      expect(res.losses.length).to.equal(5);
      expect(maml.iteration).to.equal(5);
      const ac = new AbortController();
      ac.abort();
      let err: unknown;
      await maml.fit(sampler, { iterations: 5, signal: ac.signal }).catch((e) => (err = e));
      expect(err).to.be.instanceOf(AbortError);
    });

    it('fit draws one meta-batch per iteration run and equals step() on the same meta-batches (2 threads)', async () => {
      const prev = backend().threads;
      setThreads(2);
      try {
        // MAML overlaps its kernel with the next draw; MetaSGD runs the whole update at once.
        for (const Learner of [MAML, MetaSGD] as const) {
          const fitted = new Learner({ network: SMALL, metaBatchSize: 3, seed: 4 });
          const stepped = new Learner({ network: SMALL, metaBatchSize: 3, seed: 4 });
          let drawn = 0;
          const sampler: TaskSampler = { inputSize: 2, sample: () => randomTasks(1, 1)[0]!, sampleBatch: (k) => randomTasks(100 + drawn++, k), reset() {}, fork() { return this; } };
          await fitted.fit(sampler, { iterations: 6 });
          expect(drawn, Learner.kind).to.equal(6);
          const losses: number[] = [];
          for (let i = 0; i < 6; i++) losses.push(stepped.step(randomTasks(100 + i, 3)));
          expect(Array.from(fitted.history.losses), Learner.kind).to.deep.equal(losses);
          expect(Array.from(fitted.getParams()), Learner.kind).to.deep.equal(Array.from(stepped.getParams()));
        }
      } finally {
        setThreads(prev);
      }
    });

    it('an error drawing the next meta-batch ends fit once the current iteration has completed', async () => {
      const maml = new MAML({ network: SMALL, metaBatchSize: 2, seed: 1 });
      let drawn = 0;
      let progress = 0;
      const sampler: TaskSampler = {
        inputSize: 2,
        sample: () => randomTasks(1, 1)[0]!,
        sampleBatch: (k) => {
          if (++drawn === 4) throw new Error('no more tasks');
          return randomTasks(drawn, k);
        },
        reset() {},
        fork() { return this; },
      };
      let err: unknown;
      await maml.fit(sampler, { iterations: 10, onProgress: () => progress++ }).catch((e) => (err = e));
      expect((err as Error).message).to.equal('no more tasks');
      expect(progress).to.equal(3);
      expect(maml.history.iterations).to.equal(3);
      expect(maml.iteration).to.equal(3);
    });

    it("the outer optimiser's schedule steps once per completed fit, not on an aborted one", async () => {
      const maml = new MAML({ network: SMALL, metaBatchSize: 2, seed: 1, optimizer: { type: 'sgd', lr: 0.01, schedule: { type: 'step', stepSize: 1, gamma: 0.5 } } });
      const sampler: TaskSampler = { inputSize: 2, sample: () => randomTasks(1, 1)[0]!, sampleBatch: (k) => randomTasks(7, k), reset() {}, fork() { return this; } };
      const lr = (): number => (maml as unknown as { optimizer: { lr: number } }).optimizer.lr;
      expect(lr()).to.equal(0.01);
      await maml.fit(sampler, { iterations: 2 });
      expect(lr()).to.equal(0.005);
      const ac = new AbortController();
      ac.abort();
      await maml.fit(sampler, { iterations: 2, signal: ac.signal }).catch(() => undefined);
      expect(lr()).to.equal(0.005);
      await maml.fit(sampler, { iterations: 1 });
      expect(lr()).to.equal(0.0025);
    });
  });

  describe('save / load', () => {
    let dir: string;
    before(() => (dir = mkdtempSync(join(tmpdir(), 'metatask-meta-'))));
    after(() => rmSync(dir, { recursive: true, force: true }));

    for (const Cls of [MAML, MetaSGD, iMAML, Reptile, ANIL] as const) {
      it(`${Cls.kind} round-trips parameters and optimiser state`, async () => {
        const make = () => new (Cls as unknown as new (o: object) => MAML)({ network: SMALL, metaBatchSize: 2, seed: 4 });
        const m = make();
        const tasks = randomTasks(80, 2);
        m.step(tasks);
        const path = join(dir, `${Cls.kind}.json`);
        await m.save(path);
        const back: MAML = await (Cls as unknown as typeof MAML).load(path);
        expect(back).to.be.instanceOf(Cls);
        expect(back.iteration).to.equal(1);
        expect(Array.from(back.params)).to.deep.equal(Array.from(m.params));
        const X = [[0.1, 0.2], [1, -1]];
        expect(back.adapt(tasks[0]!.support, { steps: 2 }).decisionFunction(X).data).to.deep.equal(m.adapt(tasks[0]!.support, { steps: 2 }).decisionFunction(X).data);
        // The optimiser state came along: one more step gives the same parameters.
        m.step(tasks);
        back.step(tasks);
        expect(Array.from(back.params)).to.deep.equal(Array.from(m.params));
      });
    }

    it('a corrupted or foreign file is a FormatError', async () => {
      const m = new MAML({ network: SMALL, seed: 1 });
      const doc = m.toJSON();
      const path = join(dir, 'bad.json');
      writeFileSync(path, JSON.stringify({ ...doc, checksum: '0'.repeat(64) }));
      let err: unknown;
      await MAML.load(path).catch((e) => (err = e));
      expect(err).to.be.instanceOf(FormatError);
      expect(() => Reptile.fromJSON(doc)).to.throw(FormatError, /MAML/);
      writeFileSync(path, 'not json');
      err = undefined;
      await MAML.load(path).catch((e) => (err = e));
      expect(err).to.be.instanceOf(FormatError);
    });
  });

  describe('bad input', () => {
    const net1 = { inputSize: 1, hidden: [4], outputSize: 1, activation: 'relu' as const };

    it('bad options are ConfigErrors', () => {
      expect(() => new MAML({ network: net1, innerLr: -0.1 })).to.throw(ConfigError, /innerLr/);
      expect(() => new MAML({ network: net1, innerLR: 0.1 } as never)).to.throw(ConfigError, /unknown option 'innerLR' \(did you mean 'innerLr'\?\)/);
      expect(() => new MAML({} as never)).to.throw(ConfigError, /network/);
      expect(() => new MAML({ network: { ...net1, outputSize: 1 }, loss: 'softmax-ce' })).to.throw(ConfigError, /softmax-ce/);
      expect(() => new MAML({ network: { ...net1, activation: 'swish' as never } })).to.throw(ConfigError, /activation/);
      expect(() => new MAML({ network: net1, innerSteps: 1.5 })).to.throw(ConfigError, /innerSteps/);
      expect(() => new iMAML({ network: net1, lambda: 0 })).to.throw(ConfigError, /lambda/);
      expect(() => new Reptile({ network: net1, optimizer: { type: 'adam' } } as never)).to.throw(ConfigError, /unknown option 'optimizer'/);
      expect(() => new MAML({ network: net1, optimizer: { type: 'nope' } as never })).to.throw(ConfigError);
    });

    it('bad support sets and samplers give the right error, and leave the model unchanged', async () => {
      const maml = new MAML({ network: net1, seed: 1 });
      const before = Array.from(maml.params);
      expect(() => maml.adapt({ X: [[1, 2]], y: [1] })).to.throw(ShapeError, /2 columns.*inputSize = 1/);
      expect(() => maml.adapt({ X: [[1], [2]], y: [1] })).to.throw(ShapeError, /1 values, X has 2 rows/);
      expect(() => maml.adapt({ X: [[NaN]], y: [1] })).to.throw(ValueError, /non-finite/);
      expect(() => maml.adapt({ X: [[1]], y: [Infinity] })).to.throw(ValueError);
      expect(() => maml.adapt({ X: [[1]] } as never)).to.throw(ShapeError);
      expect(() => maml.adapt({ X: [[1]], y: [1] }, { steps: -1 })).to.throw(ConfigError, /steps/);
      expect(() => maml.adapt({ X: [[1]], y: [1] }).predict([[1, 2]])).to.throw(ShapeError);
      expect(() => maml.evaluate(new SinusoidTasks({ shots: 2 }), {} as never)).to.throw(ConfigError, /tasks/);
      const nanSampler: TaskSampler = {
        inputSize: 1,
        sample: () => ({ support: { X: { rows: 1, cols: 1, data: new Float64Array([NaN]) }, y: new Float64Array([0]) }, query: { X: { rows: 1, cols: 1, data: new Float64Array([0]) }, y: new Float64Array([0]) } }),
        sampleBatch(k) {
          return Array.from({ length: k }, () => this.sample());
        },
        reset() {},
        fork() {
          return this;
        },
      };
      let err: unknown;
      await maml.fit(nanSampler, { iterations: 1 }).catch((e) => (err = e));
      expect(err).to.be.instanceOf(ValueError);
      err = undefined;
      await maml.fit({ ...nanSampler, inputSize: 3 }, { iterations: 1 }).catch((e) => (err = e));
      expect(err).to.be.instanceOf(ShapeError);
      err = undefined;
      await maml.fit(new SinusoidTasks({ shots: 2 }), { iterations: 1, epochs: 3 } as never).catch((e) => (err = e));
      expect(err).to.be.instanceOf(ConfigError);
      expect(Array.from(maml.params)).to.deep.equal(before);
      const cls = new MAML({ network: { ...net1, outputSize: 3 }, loss: 'softmax-ce' });
      expect(() => cls.adapt({ X: [[1]], y: [3] })).to.throw(ValueError, /class indices 0..2/);
    });
  });
});

/** Gaussian elimination with partial pivoting (tiny dense systems in tests). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((r, i) => [...r, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    [M[c], M[p]] = [M[p]!, M[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k <= n; k++) M[r]![k] = M[r]![k]! - f * M[c]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= M[r]![k]! * x[k]!;
    x[r] = s / M[r]![r]!;
  }
  return x;
}
