/**
 * The figures of docs/data-parallel-meta-training.md: what one meta-step of MAML costs against
 * what moving its parameters between machines would cost.
 *
 * - Compute: one second-order MAML meta-step (1 inner SGD step, meta-batch 25) on sinusoids with
 *   the 1-40-40-1 MLP; median of 200 after 20 warm-up steps; and the part of one task (step / 25).
 *   conv-4 (four blocks of 3x3 conv 64, batchnorm, ReLU, 2x2 max-pool) on 1x28x28 images: a
 *   first-order MAML meta-step, 5-way 1-shot with 15 queries per class, meta-batch 8 (median of
 *   5 after a warm-up; the per-task time scales it to any meta-batch), and a ProtoNet episode,
 *   60-way 1-shot with 5 queries (median of 3). Random images: the cost depends on shapes only.
 * - Communication through the job queue (Redis on loopback, one `metatask worker`): the round trip
 *   of a job that carries a model of P parameters to a worker and back (what a coordinator that
 *   broadcasts theta and gathers a gradient per shard pays per shard and step), for P of the
 *   sinusoid MLP (1,761) and of conv-4 (about 113,000); median of 30.
 */
import { backend, setThreads } from '../lib/kernels/index.js';
import { connectQueue } from '../lib/distributed/queue.js';
import { encodePayload } from '../lib/distributed/payload.js';
import { SNAPSHOT } from '../lib/core/portable.js';
import { MAML } from '../lib/meta/maml.js';
import { FewShotTasks } from '../lib/meta/fewShot.js';
import { ProtoNet } from '../lib/meta/protoNet.js';
import { Rng } from '../lib/core/rng.js';
import { SinusoidTasks } from '../lib/meta/tasks.js';
import { haveRedis, RedisCluster } from '../test/redisCluster.js';
import { markdownTable, stats, type WorkloadResult } from './run.js';

function median(xs: number[]): number {
  return stats(xs).median;
}

export async function run(): Promise<WorkloadResult> {
  const title = 'Meta-step compute against parameter traffic (data-parallel meta-training note)';
  setThreads(1);
  const maml = new MAML({ network: { inputSize: 1, hidden: [40, 40], outputSize: 1, activation: 'relu' }, innerLr: 0.01, metaBatchSize: 25, firstOrder: false, seed: 0 });
  const tasks = new SinusoidTasks({ shots: 10, queries: 10, seed: 1 });
  for (let i = 0; i < 20; i++) maml.step(tasks.sampleBatch(25));
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const batch = tasks.sampleBatch(25);
    const t0 = performance.now();
    maml.step(batch);
    times.push(performance.now() - t0);
  }
  const step = median(times);
  const rows: (string | number)[][] = [
    [`MAML meta-step, sinusoid MLP (P = ${maml.paramCount.toLocaleString('en-US')}), 25 tasks, 1 thread`, step.toFixed(3)],
    ['  one task of it', (step / 25).toFixed(4)],
  ];
  // conv-4 on 28x28 images: 64 classes of 20 random images each.
  const rng = new Rng(0);
  const source = { X: { rows: 64 * 20, cols: 784, data: Float32Array.from({ length: 64 * 20 * 784 }, () => rng.normal()) }, labels: Int32Array.from({ length: 64 * 20 }, (_, i) => i % 64) };
  const conv = { type: 'conv4' as const, inputShape: [1, 28, 28] as const };
  const cmaml = new MAML({ network: { ...conv, outputSize: 5 }, loss: 'softmax-ce', firstOrder: true, innerLr: 0.4, metaBatchSize: 8, seed: 0 });
  const fiveWay = new FewShotTasks(source, { ways: 5, shots: 1, queries: 15, seed: 1 });
  cmaml.step(fiveWay.sampleBatch(8));
  const mamlTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const batch = fiveWay.sampleBatch(8);
    const t0 = performance.now();
    cmaml.step(batch);
    mamlTimes.push(performance.now() - t0);
  }
  const convStep = median(mamlTimes);
  rows.push([`MAML first-order meta-step, conv-4 (P = ${cmaml.paramCount.toLocaleString('en-US')}), 5-way 1-shot 15 queries, 8 tasks, 1 thread`, convStep.toFixed(1)]);
  rows.push(['  one task of it', (convStep / 8).toFixed(1)]);
  const proto = new ProtoNet({ network: conv, metaBatchSize: 1, seed: 0 });
  const sixtyWay = new FewShotTasks(source, { ways: 60, shots: 1, queries: 5, seed: 2 });
  await proto.fit(sixtyWay, { iterations: 1 });
  const protoTimes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await proto.fit(sixtyWay, { iterations: 1 });
    protoTimes.push(performance.now() - t0);
  }
  rows.push([`ProtoNet episode, conv-4 (P = ${proto.params.length.toLocaleString('en-US')}), 60-way 1-shot 5 queries, 1 thread`, median(protoTimes).toFixed(1)]);
  const notes = [`backend ${backend().name}`];
  if (haveRedis()) {
    const cluster = await RedisCluster.start();
    try {
      await cluster.startWorker('metastep', ['--threads', '1'], { METATASK_BACKEND: backend().name });
      const queue = await connectQueue({ redis: cluster.url, name: 'metastep', inlineLimit: 64 * 1024 * 1024 });
      try {
        for (const hidden of [[40, 40], [334, 334]]) {
          const m = new MAML({ network: { inputSize: 1, hidden, outputSize: 1 }, seed: 0 });
          const job = { label: 'round trip', backend: backend().name, model: encodePayload(m[SNAPSHOT]('train'), 'model'), calls: [], returnModel: true };
          const rt: number[] = [];
          for (let i = 0; i < 35; i++) {
            const t0 = performance.now();
            await queue.run([job]);
            if (i >= 5) rt.push(performance.now() - t0);
          }
          rows.push([`queue round trip of a model of P = ${m.paramCount.toLocaleString('en-US')} (${((m.paramCount * 4) / 1024).toFixed(0)} KiB float32), loopback`, median(rt).toFixed(3)]);
        }
      } finally {
        await queue.close();
      }
    } finally {
      await cluster.stop();
    }
  } else notes.push('queue round trips skipped: redis-server is not installed');
  return { id: 'metastep', title, table: markdownTable(['what', 'ms (median)'], rows), notes, data: { rows } };
}
