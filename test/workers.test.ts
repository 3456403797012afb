/**
 * Fits, evaluations and predictions on worker threads (the `worker` option): the caller's model
 * ends exactly as an in-thread fit leaves it (same model file checksum, same history, same
 * progress records), task samplers end in the same state, the signal and a dying thread reject
 * with typed errors and leave the model as it was, and inputs travel as documented.
 */
import { Worker } from 'node:worker_threads';

import { expect } from 'chai';

import * as api from '../lib/index.js';
import {
  AbortError,
  ConfigError,
  FewShotTasks,
  L21Regression,
  MAML,
  MultiTaskDataset,
  MultiTaskLasso,
  MultiTaskLassoCV,
  MultiTaskNet,
  ProtoNet,
  Rng,
  ShapeError,
  SinusoidTasks,
  TaskSplit,
  WorkerError,
  WorkerPool,
} from '../lib/index.js';
import { REVIVE, SNAPSHOT, type SnapshotModel } from '../lib/core/portable.js';
import { pack } from '../lib/parallel/transfer.js';
import { classRegistry, kindOf } from '../lib/distributed/registry.js';
import { randMatrix } from './helpers.js';

const rng = new Rng(7);
const X = randMatrix(rng, 120, 12);
const Y = { rows: 120, cols: 3, data: Float64Array.from({ length: 360 }, (_, k) => X.data[Math.floor(k / 3) * 12 + (k % 3)]! * 2 + 0.1 * rng.normal()) };
const shared = MultiTaskDataset.fromShared(X, Y, { names: ['a', 'b', 'c'] });

function net(): MultiTaskNet {
  return new MultiTaskNet({
    inputSize: 12,
    tasks: [{ name: 'a', type: 'regression' }, { name: 'b', type: 'regression' }, { name: 'c', type: 'regression' }],
    architecture: { type: 'hard-sharing', shared: [16] },
    seed: 2,
  });
}

function maml(): MAML {
  return new MAML({ network: { inputSize: 1, hidden: [16, 16], outputSize: 1 }, metaBatchSize: 4, seed: 1 });
}

/** A history without its wall-clock fields (a MultiTaskNet's epoch records time themselves). */
function untimed(h: unknown): unknown {
  return JSON.parse(JSON.stringify(h, (k, v) => (k === 'seconds' || k === 'trainSeconds' ? undefined : v)));
}

/** Fit two fresh models alike, one in-thread and one on `pool`; both end with the same model file. */
async function sameFit<M extends { toJSON(): { checksum: string }; history: unknown }>(
  make: () => M,
  fit: (m: M, extra: Record<string, unknown>) => Promise<unknown>,
  pool: WorkerPool,
): Promise<{ local: M; remote: M }> {
  const local = make();
  const remote = make();
  const localRecords: unknown[] = [];
  const remoteRecords: unknown[] = [];
  await fit(local, { onProgress: (p: unknown) => localRecords.push(p) });
  expect(await fit(remote, { onProgress: (p: unknown) => remoteRecords.push(p), worker: pool })).to.equal(remote);
  expect(remote.toJSON().checksum).to.equal(local.toJSON().checksum);
  expect(untimed(remote.history)).to.deep.equal(untimed(local.history));
  expect(remoteRecords).to.deep.equal(localRecords);
  expect(remoteRecords.length).to.be.greaterThan(0);
  return { local, remote };
}

describe('fit, evaluate and predictAsync on worker threads', function () {
  this.timeout(60_000);
  let pool: WorkerPool;
  before(() => {
    pool = new WorkerPool({ size: 2 });
  });
  after(async () => {
    await pool.terminate();
  });

  it('a multi-task lasso fitted on a worker is the in-thread one, and so are its evaluate and predictAsync', async () => {
    const { local, remote } = await sameFit(() => new MultiTaskLasso({ alpha: 0.01 }), (m, o) => m.fit(X, Y, o), pool);
    expect(await remote.evaluate(X, Y, { worker: pool })).to.deep.equal(local.evaluate(X, Y));
    expect(await remote.predictAsync(X, { worker: pool })).to.deep.equal(local.predict(X));
  });

  it('a cross-validated lasso (phase cv, then fit) too', async () => {
    await sameFit(() => new MultiTaskLassoCV({ cv: 3, nAlphas: 4 }), (m, o) => m.fit(X, Y, o), pool);
  });

  it('a per-task model on a dataset too, with its evaluate and predictAsync', async () => {
    const { train, test } = shared.split({ testFraction: 0.3, seed: 3 });
    const { local, remote } = await sameFit(() => new L21Regression({ alpha: 0.01 }), (m, o) => m.fit(train, o), pool);
    expect(await remote.evaluate(test, { worker: pool })).to.deep.equal(local.evaluate(test));
    expect(await remote.predictAsync('b', test.task('b').X, { worker: pool })).to.deep.equal(local.predict('b', test.task('b').X));
  });

  it('a MultiTaskNet, with validation data and held-out metrics in its history', async () => {
    const { local, remote } = await sameFit(net, (m, o) => m.fit(shared, { epochs: 2, batchSize: 16, validation: 0.25, ...o }), pool);
    expect(await remote.evaluate(shared, { worker: pool })).to.deep.equal(local.evaluate(shared));
    expect(await remote.predictAsync(X, { worker: pool })).to.deep.equal(local.predict(X));
  });

  it('a MAML fitted on a worker is the in-thread one, and the caller\'s sampler ends where an in-thread fit leaves it', async () => {
    const localTasks = new SinusoidTasks({ shots: 5, seed: 4 });
    const remoteTasks = new SinusoidTasks({ shots: 5, seed: 4 });
    localTasks.sampleBatch(3); // a sampler already under way goes as it is
    remoteTasks.sampleBatch(3);
    const { local, remote } = await sameFit(maml, (m, o) => m.fit(o.worker ? remoteTasks : localTasks, { iterations: 6, ...o }), pool);
    expect(remoteTasks.sample()).to.deep.equal(localTasks.sample());
    const task = localTasks.sample();
    expect(await remote.predictAsync(task.query.X, { support: task.support, steps: 3, worker: pool })).to.deep.equal(local.adapt(task.support, { steps: 3 }).predict(task.query.X));
    const evalLocal = new SinusoidTasks({ shots: 5, seed: 9 });
    const evalRemote = new SinusoidTasks({ shots: 5, seed: 9 });
    expect(await remote.evaluate(evalRemote, { tasks: 4, steps: [0, 2], worker: pool })).to.deep.equal(local.evaluate(evalLocal, { tasks: 4, steps: [0, 2] }));
    expect(evalRemote.sample()).to.deep.equal(evalLocal.sample());
  });

  it('episodic learners and the dataset samplers (ProtoNet on FewShotTasks, MAML on TaskSplit)', async () => {
    const labels = Int32Array.from({ length: 120 }, (_, i) => i % 6);
    const episodes = () => new FewShotTasks({ X, labels }, { ways: 3, shots: 2, queries: 3, seed: 5 });
    const proto = () => new ProtoNet({ network: { inputSize: 12, hidden: [8], outputSize: 4 }, metaBatchSize: 2, seed: 0 });
    const pl = episodes();
    const pr = episodes();
    await sameFit(proto, (m, o) => m.fit(o.worker ? pr : pl, { iterations: 3, ...o }), pool);
    expect(pr.sample()).to.deep.equal(pl.sample());

    const regressor = () => new MAML({ network: { inputSize: 12, hidden: [8], outputSize: 1 }, metaBatchSize: 2, seed: 0 });
    const sl = new TaskSplit(shared, { shots: 4, seed: 6 });
    const sr = new TaskSplit(shared, { shots: 4, seed: 6 });
    await sameFit(regressor, (m, o) => m.fit(o.worker ? sr : sl, { iterations: 3, ...o }), pool);
    expect(sr.sample()).to.deep.equal(sl.sample());
  });

  it('conv-4 backbones with running batchnorm statistics: the fit and the predictions are the in-thread ones', async () => {
    const img = new Rng(3);
    const source = { X: { rows: 36, cols: 64, data: Float64Array.from({ length: 36 * 64 }, () => img.normal()) }, labels: Int32Array.from({ length: 36 }, (_, i) => i % 6) };
    const conv = { type: 'conv4' as const, inputShape: [1, 8, 8] as const, filters: 4, blocks: 2 };
    const episodes = () => new FewShotTasks(source, { ways: 3, shots: 2, queries: 2, seed: 4 });
    const proto = () => new ProtoNet({ network: conv, seed: 0, batchNorm: 'running' });
    const el = episodes();
    const er = episodes();
    const { local, remote } = await sameFit(proto, (m, o) => m.fit(o.worker ? er : el, { iterations: 2, ...o }), pool);
    const task = el.sample();
    expect(await remote.predictAsync(task.query.X, { support: task.support, worker: pool })).to.deep.equal(local.adapt(task.support).predict(task.query.X));

    const net = () =>
      new MultiTaskNet({
        inputShape: [1, 8, 8],
        tasks: [{ name: 'odd', type: 'binary' }],
        architecture: { type: 'hard-sharing', trunk: { type: 'conv4', filters: 4, blocks: 2 }, shared: [4] },
        seed: 1,
      });
    const data = { X: source.X, Y: { rows: 36, cols: 1, data: Float64Array.from(source.labels, (c) => c % 2) } };
    const nets = await sameFit(net, (m, o) => m.fit(data, { epochs: 2, batchSize: 12, ...o }), pool);
    expect(await nets.remote.predictAsync(source.X, { worker: pool })).to.deep.equal(nets.local.predict(source.X));
  });

  it('a sampler round-trips through toJSON/fromJSON at the same point of its stream', () => {
    const a = new SinusoidTasks({ shots: 3, seed: 11 });
    a.sample();
    const b = SinusoidTasks.fromJSON<SinusoidTasks>(JSON.parse(JSON.stringify(a.toJSON())));
    expect(b.sample()).to.deep.equal(a.sample());
    expect(() => TaskSplit.fromJSON(a.toJSON())).to.throw(api.FormatError, /expected a TaskSplit document/);
  });

  it('a thread that predicted with a model sees its later state (no stale copy)', async () => {
    const m = new MultiTaskLasso({ alpha: 0.5 }).fitSync(X, Y);
    const p1 = await m.predictAsync(X, { worker: pool });
    m.fitSync(X, { rows: 120, cols: 3, data: Y.data.map((v) => -v) });
    const p2 = await m.predictAsync(X, { worker: pool });
    expect(p2).to.deep.equal(m.predict(X));
    expect(p2.data[0]).to.be.closeTo(-p1.data[0]!, 1e-9);
  });

  it('bad input on a worker is the library\'s typed error, as in-thread', async () => {
    const bad = { rows: 10, cols: 12, data: new Float64Array(120) };
    let local: unknown;
    try {
      await new MultiTaskLasso().fit(bad, Y);
    } catch (e) {
      local = e;
    }
    const remote = await new MultiTaskLasso().fit(bad, Y, { worker: pool }).then(() => null, (e: unknown) => e);
    expect(remote).to.be.instanceOf(ShapeError);
    expect((remote as ShapeError).code).to.equal('ERR_SHAPE');
    expect((remote as Error).message).to.equal((local as Error).message);
  });

  it('an abort rejects with AbortError (its cause the signal\'s reason) and the model keeps its state', async () => {
    const m = net();
    await m.fit(shared, { epochs: 1 });
    const before = m.toJSON().checksum;
    const controller = new AbortController();
    const reason = new Error('enough');
    const err = await m
      .fit(shared, { epochs: 500, batchSize: 4, worker: pool, signal: controller.signal, onProgress: () => controller.abort(reason) })
      .then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(AbortError);
    expect((err as AbortError).cause).to.equal(reason);
    expect(m.toJSON().checksum).to.equal(before);
    const already = await m.fit(shared, { worker: pool, signal: AbortSignal.abort() }).then(() => null, (e: unknown) => e);
    expect(already).to.be.instanceOf(AbortError);
  });

  it('a thread that dies rejects its call with a WorkerError, the model keeps its state, and the pool replaces the thread', async () => {
    const single = new WorkerPool({ size: 1 });
    try {
      const m = maml();
      const tasks = new SinusoidTasks({ shots: 5, seed: 1 });
      const err = await m
        .fit(tasks, { iterations: 100_000, worker: single, onProgress: () => void single.workers[0]?.terminate() })
        .then(() => null, (e: unknown) => e);
      expect(err).to.be.instanceOf(WorkerError);
      expect((err as WorkerError).code).to.equal('ERR_WORKER');
      expect(m.iteration).to.equal(0);
      expect(m.toJSON().checksum).to.equal(maml().toJSON().checksum);
      await m.fit(tasks, { iterations: 2, worker: single });
      expect(m.iteration).to.equal(2);
    } finally {
      await single.terminate();
    }
    const late = await maml().fit(new SinusoidTasks({ shots: 5 }), { iterations: 1, worker: single }).then(() => null, (e: unknown) => e);
    expect(late).to.be.instanceOf(WorkerError);
  });

  it("inputs are copied by default, moved with transfer 'move', shared when on a SharedArrayBuffer", async () => {
    const x = { rows: X.rows, cols: X.cols, data: X.data.slice() };
    const y = { rows: Y.rows, cols: Y.cols, data: Y.data.slice() };
    const ref = await new MultiTaskLasso({ alpha: 0.01 }).fit(X, Y);
    const copied = await new MultiTaskLasso({ alpha: 0.01 }).fit(x, y, { worker: pool });
    expect(x.data.length).to.equal(X.data.length);
    const moved = await new MultiTaskLasso({ alpha: 0.01 }).fit(x, y, { worker: { pool, transfer: 'move' } });
    expect(x.data.length).to.equal(0); // detached: the buffer now belongs to the worker
    const sab = new Float64Array(new SharedArrayBuffer(X.data.byteLength));
    sab.set(X.data);
    const sharedFit = await new MultiTaskLasso({ alpha: 0.01 }).fit({ rows: X.rows, cols: X.cols, data: sab }, Y, { worker: pool });
    for (const m of [copied, moved, sharedFit]) expect(m.toJSON().checksum).to.equal(ref.toJSON().checksum);
    // The same arrays as training and validation data: moved once.
    const both = { X: { rows: X.rows, cols: X.cols, data: X.data.slice() }, Y: { rows: Y.rows, cols: Y.cols, data: Y.data.slice() } };
    const local = await net().fit({ X, Y }, { epochs: 1, validation: { X, Y } });
    const remote = await net().fit(both, { epochs: 1, validation: both, worker: { pool, transfer: 'move' } });
    expect(remote.toJSON().checksum).to.equal(local.toJSON().checksum);
  });

  it("nothing is transferred (so no buffer of the caller's thread is detached) unless the caller asks for 'move'", async () => {
    const sent: number[] = [];
    const post = Worker.prototype.postMessage;
    Worker.prototype.postMessage = function (this: Worker, value: unknown, list?: readonly unknown[]) {
      sent.push(list?.length ?? 0);
      return post.call(this, value, list as never);
    };
    try {
      const x = { rows: X.rows, cols: X.cols, data: X.data.slice() };
      const m = await new MultiTaskLasso({ alpha: 0.01 }).fit(x, Y, { worker: pool });
      await m.predictAsync(x, { worker: pool });
      await net().fit({ X: x, Y }, { epochs: 1, worker: pool });
      expect(sent.length).to.be.greaterThanOrEqual(3);
      expect(sent.every((n) => n === 0)).to.equal(true);
      expect(x.data.length).to.equal(X.data.length);
      // The fitted state came back as the caller's own memory, not shared with the thread.
      const arrays: ArrayBufferView[] = [];
      const walk = (v: unknown): void => {
        if (ArrayBuffer.isView(v)) arrays.push(v);
        else if (v !== null && typeof v === 'object') for (const w of Object.values(v)) walk(w);
      };
      walk((m as unknown as SnapshotModel)[SNAPSHOT]('train'));
      expect(arrays.length).to.be.greaterThan(0);
      for (const a of arrays) expect(a.buffer).to.be.instanceOf(ArrayBuffer);
    } finally {
      Worker.prototype.postMessage = post;
    }
  });

  it('pack: copy leaves whole arrays to postMessage and compacts views of part of a buffer, move lists the buffers, clone copies shared memory to plain', async () => {
    const f = Float64Array.from([1.5, -2, 3]);
    const big = new Int32Array(64).map((_, k) => k);
    const part = big.subarray(8, 10);
    const dv = new DataView(Uint8Array.from([1, 2, 3, 4, 5]).buffer, 1, 3);
    const raw = Uint8Array.from([9, 8]).buffer;
    const onShared = new Float32Array(new SharedArrayBuffer(8));
    onShared.set([0.5, 0.25]);
    const value = { f, part, dv, raw, onShared, again: f, nested: [{ part }] };

    const copied = pack(value, 'copy', 'args');
    const c = copied.value as typeof value;
    expect(copied.transfer).to.deep.equal([]);
    expect(c.f).to.equal(f); // whole: postMessage copies it
    expect(c.raw).to.equal(raw);
    expect(c.onShared).to.equal(onShared); // shared, not copied
    // A view of part of a buffer gets a buffer of its own (postMessage would copy all 64 values).
    expect(c.part).to.be.instanceOf(Int32Array);
    expect(c.part.buffer).to.be.instanceOf(ArrayBuffer);
    expect(c.part.buffer.byteLength).to.equal(8);
    expect([...c.part]).to.deep.equal([8, 9]);
    expect(c.nested[0]!.part).to.equal(c.part); // one array, one copy
    expect(c.dv.buffer.byteLength).to.equal(3);
    expect([c.dv.getUint8(0), c.dv.getUint8(1), c.dv.getUint8(2)]).to.deep.equal([2, 3, 4]);
    c.part[0] = 99;
    expect(big[8]).to.equal(8);

    // A Node Buffer (a view of Node's shared pool) travels as the Uint8Array postMessage would
    // make of it (its own constructor would warn that it is deprecated).
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const bytes = pack({ buf: Buffer.from([5, 6, 7]) }, 'copy', 'args').value as { buf: Uint8Array };
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    expect(warnings).to.deep.equal([]);
    expect(bytes.buf.constructor).to.equal(Uint8Array);
    expect(bytes.buf.buffer.byteLength).to.equal(3);
    expect([...bytes.buf]).to.deep.equal([5, 6, 7]);

    const moved = pack(value, 'move', 'args');
    expect(new Set(moved.transfer)).to.deep.equal(new Set([f.buffer, big.buffer, dv.buffer, raw]));
    expect((moved.value as typeof value).f).to.equal(f);

    const cloned = pack({ ...value, sab: onShared.buffer }, 'clone', 'results');
    const k = cloned.value as typeof value & { sab: ArrayBuffer };
    expect(cloned.transfer).to.deep.equal([]);
    expect(k.f).to.equal(f); // postMessage copies it
    expect(k.part.buffer.byteLength).to.equal(8);
    expect(k.onShared.buffer).to.be.instanceOf(ArrayBuffer);
    expect(k.onShared).to.be.instanceOf(Float32Array);
    expect([...k.onShared]).to.deep.equal([0.5, 0.25]);
    expect(k.sab).to.be.instanceOf(ArrayBuffer);
    expect([...new Float32Array(k.sab)]).to.deep.equal([0.5, 0.25]);

    const kept = pack(value, 'keep', 'json');
    expect(kept.transfer).to.deep.equal([]);
    expect((kept.value as typeof value).part).to.equal(part);
    expect((kept.value as typeof value).onShared).to.equal(onShared);
  });

  it('option errors name what is wrong', async () => {
    const errs = await Promise.all([
      new MultiTaskLasso().fit(X, Y, { worker: 'yes' as never }).catch((e: unknown) => e),
      net().fit(shared, { worker: pool, onEpoch: () => undefined }).catch((e: unknown) => e),
      maml().fit({ inputSize: 1, sampleBatch: () => [], sample: () => ({}), reset() {}, fork() { return this; } } as never, { iterations: 1, worker: pool }).catch((e: unknown) => e),
    ]);
    expect(errs[0]).to.be.instanceOf(ConfigError);
    expect((errs[0] as Error).message).to.match(/option 'worker' must be true, false, a WorkerPool/);
    expect(errs[1]).to.be.instanceOf(ConfigError);
    expect((errs[1] as Error).message).to.match(/'onEpoch' cannot run on a worker thread/);
    expect(errs[2]).to.be.instanceOf(ConfigError);
    expect((errs[2] as Error).message).to.match(/MAML.fit arguments\[0\]\.sampleBatch is a function; functions cannot go to a worker thread/);
    expect(() => new MultiTaskLasso().fitSync(X, Y, { worker: true } as never)).to.throw(ConfigError, /needs fit\(\)/);
    expect(() => new WorkerPool({ size: 0 })).to.throw(ConfigError, /WorkerPool: option 'size' must be >= 1/);
    expect(() => new WorkerPool({ sise: 2 } as never)).to.throw(ConfigError, /did you mean 'size'/);
  });

  it('every model and argument class of the public API is known to the workers', () => {
    const registry = classRegistry();
    const missing: string[] = [];
    for (const [name, value] of Object.entries(api)) {
      if (typeof value !== 'function') continue;
      const cls = value as unknown as { name: string; kind?: unknown; prototype?: Record<PropertyKey, unknown> } & Record<PropertyKey, unknown>;
      const abstract = ['MetaLearner', 'SeededSampler', 'TaskLinearModel'].includes(name);
      if (abstract) continue;
      if (typeof cls.prototype?.[SNAPSHOT] === 'function' && registry.models.get(kindOf(cls)) !== value) missing.push(name);
      if (typeof cls[REVIVE] === 'function' && registry.portables.get(cls.name) !== value) missing.push(name);
    }
    expect(missing).to.deep.equal([]);
    expect(registry.models.size).to.be.greaterThan(20);
  });
});
