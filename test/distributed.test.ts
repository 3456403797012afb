/**
 * Scale-out over a job queue with a real Redis (redis-server on a free loopback port, started and
 * stopped here) and two `metatask worker` processes: crossValidate and fitMany give the results
 * of a single process; data goes by reference; bad input fails with the library's typed error; a
 * worker killed in the middle of a job has its job run again by the other one and the result is
 * unchanged, with each job counted once.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  ConfigError,
  connectQueue,
  crossValidate,
  fitMany,
  L21Regression,
  MAML,
  MultiTaskDataset,
  MultiTaskLasso,
  MultiTaskNet,
  Rng,
  saveData,
  ShapeError,
  SinusoidTasks,
  WorkerPool,
  backend,
  type JobQueue,
} from '../lib/index.js';
import { packageRoot } from '../lib/kernels/native.js';
import { randMatrix } from './helpers.js';
import { RedisCluster } from './redisCluster.js';

const rng = new Rng(5);
const X = randMatrix(rng, 150, 10);
const Y = { rows: 150, cols: 3, data: Float64Array.from({ length: 450 }, (_, k) => X.data[Math.floor(k / 3) * 10 + (k % 3)]! + 0.1 * rng.normal()) };
const QUEUE = 'metatask-test';

function maml(seed: number): MAML {
  return new MAML({ network: { inputSize: 1, hidden: [16, 16], outputSize: 1 }, metaBatchSize: 4, seed });
}

describe('the job queue: command and options', () => {
  const cli = join(packageRoot(), 'dist', 'lib', 'cli', 'main.js');
  it('metatask worker says what it needs, and --help how to run it', () => {
    const missing = spawnSync(process.execPath, [cli, 'worker', '--queue', 'q'], { encoding: 'utf8' });
    expect(missing.status).to.equal(2);
    expect(missing.stderr).to.match(/--redis and --queue are required/);
    const help = spawnSync(process.execPath, [cli, 'worker', '--help'], { encoding: 'utf8' });
    expect(help.status).to.equal(0);
    expect(help.stdout).to.match(/usage: metatask worker --redis <url> --queue <name>/);
    const bad = spawnSync(process.execPath, [cli, 'worker', '--redis', 'redis://127.0.0.1:1', '--queue', 'q', '--threads', 'two'], { encoding: 'utf8' });
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.match(/option '--threads' must be an integer, got 'two'/);
  });

  it('connectQueue checks its options before connecting', async () => {
    const errs = await Promise.all([
      connectQueue({ redis: 'http://127.0.0.1:6379', name: 'q' }).catch((e: unknown) => e),
      connectQueue({ redis: 'redis://127.0.0.1:6379', name: 'a:b' }).catch((e: unknown) => e),
      connectQueue({ redis: 'redis://127.0.0.1:6379/x', name: 'q' }).catch((e: unknown) => e),
    ]);
    for (const e of errs) expect(e).to.be.instanceOf(ConfigError);
    expect((errs[0] as Error).message).to.match(/must start with redis:\/\/ or rediss:\/\//);
    expect((errs[1] as Error).message).to.match(/option 'name' must be a queue name/);
    expect((errs[2] as Error).message).to.match(/names database 'x'; expected a number/);
  });
});

describe('scale-out on a Redis job queue with two worker processes', function () {
  this.timeout(60_000);
  let cluster: RedisCluster;
  let queue: JobQueue;
  const dir = mkdtempSync(join(tmpdir(), 'metatask-queue-test-'));

  before(async () => {
    cluster = await RedisCluster.start();
    // The workers compute on the backend of this run; locks lapse after 1.5 s so that a killed
    // worker's job moves on within the test.
    const env = { METATASK_BACKEND: backend().name };
    await Promise.all([0, 1].map(() => cluster.startWorker(QUEUE, ['--lock-ms', '1500', '--threads', '1'], env)));
    queue = await connectQueue({ redis: cluster.url, name: QUEUE });
  });

  after(async () => {
    await queue?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('crossValidate on the queue scores as in this thread and on a WorkerPool, for each kind of data', async () => {
    const lasso = new MultiTaskLasso({ alpha: 0.05 });
    const local = await crossValidate(lasso, { X, Y }, { folds: 3, shuffle: true, seed: 2 });
    const progress: number[] = [];
    const remote = await crossValidate(lasso, { X, Y }, { folds: 3, shuffle: true, seed: 2, queue, onProgress: (p) => progress.push(p.step) });
    expect(remote).to.deep.equal(local);
    expect(progress.sort()).to.deep.equal([1, 2, 3]);
    expect(lasso.isFitted).to.equal(false); // the model itself is not fitted by a CV

    const ds = MultiTaskDataset.fromShared(X, Y, { names: ['a', 'b', 'c'] });
    const perTask = new MultiTaskDataset(ds.tasks);
    const l21 = new L21Regression({ alpha: 0.01 });
    const pool = new WorkerPool({ size: 2 });
    try {
      const a = await crossValidate(l21, perTask, { folds: 3 });
      expect(await crossValidate(l21, perTask, { folds: 3, queue })).to.deep.equal(a);
      expect(await crossValidate(l21, perTask, { folds: 3, worker: pool })).to.deep.equal(a);
      const net = new MultiTaskNet({ inputSize: 10, tasks: ['a', 'b', 'c'].map((name) => ({ name, type: 'regression' as const })), architecture: { type: 'hard-sharing', shared: [8] }, seed: 1 });
      const b = await crossValidate(net, ds, { folds: 3, fitOptions: { epochs: 2 } });
      expect(await crossValidate(net, ds, { folds: 3, fitOptions: { epochs: 2 }, queue })).to.deep.equal(b);
    } finally {
      await pool.terminate();
    }
  });

  it('fitMany on the queue fits each model in place as in this thread (models, meta-learners, data by reference)', async () => {
    const alphas = [0.01, 0.1, 1];
    const xRef = await saveData(join(dir, 'x.json'), X);
    const remote = alphas.map((alpha) => ({ model: new MultiTaskLasso({ alpha }), args: [xRef, Y] }));
    const fitted = await fitMany(remote, { queue });
    expect(fitted[1]).to.equal(remote[1]!.model);
    for (const [i, alpha] of alphas.entries()) {
      const local = new MultiTaskLasso({ alpha }).fitSync(X, Y);
      expect(remote[i]!.model.toJSON().checksum).to.equal(local.toJSON().checksum);
    }
    const [m] = await fitMany([{ model: maml(3), args: [new SinusoidTasks({ shots: 5, seed: 8 })], options: { iterations: 5 } }], { queue });
    const local = await maml(3).fit(new SinusoidTasks({ shots: 5, seed: 8 }), { iterations: 5 });
    expect(m!.toJSON().checksum).to.equal(local.toJSON().checksum);
    expect(m!.history.losses).to.deep.equal(local.history.losses);
  });

  it("a job with bad input fails with the library's typed error; data too large to inline asks for saveData", async () => {
    const err = await fitMany([{ model: new MultiTaskLasso(), args: [X, { rows: 3, cols: 1, data: new Float64Array(3) }] }], { queue }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ShapeError);
    expect((err as ShapeError).code).to.equal('ERR_SHAPE');
    expect((err as Error).message).to.match(/X has 150 rows but Y has 3/);
    const small = await connectQueue({ redis: cluster.url, name: QUEUE, inlineLimit: 4096 });
    try {
      const big = await crossValidate(new MultiTaskLasso(), { X, Y }, { queue: small }).catch((e: unknown) => e);
      expect(big).to.be.instanceOf(ConfigError);
      expect((big as Error).message).to.match(/over the queue's inlineLimit .* saveData\(path, data\)/);
    } finally {
      await small.close();
    }
  });

  it('a worker killed in the middle of a job: the other worker runs it again, results unchanged, each job once', async () => {
    // Long enough (about a second) that the victim is still running its job when it is killed.
    const iterations = backend().name === 'native' ? 12_000 : 1500;
    const jobs = [11, 12].map((seed) => ({ model: maml(seed), args: [new SinusoidTasks({ shots: 5, seed })], options: { iterations } }));
    const running = fitMany(jobs, { queue });
    // Both workers take a job; kill one once it has started its job.
    const [victim, survivor] = cluster.workers as [typeof cluster.workers[0], typeof cluster.workers[0]];
    const started = / start MAML\.fit \(job [12] of 2\)/;
    for (let waited = 0; !started.test(victim.output()); waited += 10) {
      if (waited > 20_000) throw new Error(`the victim worker took no job:\n${victim.output()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await cluster.kill(victim);
    await running;
    for (const [i, seed] of [11, 12].entries()) {
      const local = await maml(seed).fit(new SinusoidTasks({ shots: 5, seed }), { iterations });
      expect(jobs[i]!.model.toJSON().checksum).to.equal(local.toJSON().checksum);
      expect(jobs[i]!.model.iteration).to.equal(iterations);
    }
    // The survivor ran its own job and, on a second try, the victim's.
    const done = survivor.output().match(/ done MAML\.fit \(job [12] of 2\)/g) ?? [];
    const logs = `survivor:\n${survivor.output()}\nvictim:\n${victim.output()}`;
    expect(done.length, logs).to.equal(2);
    expect(survivor.output(), logs).to.match(/ done MAML\.fit \(job [12] of 2\) \(try 2\)/);
    expect(victim.output(), logs).to.not.match(/ done MAML\.fit \(job [12] of 2\)/);
  });
});
