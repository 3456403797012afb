/**
 * Throughput of the job queue: fitMany of 12 independent MAML fits (1-40-40-1 on sinusoids,
 * meta-batch 10, second order, 1,500 meta-iterations each; one seed per job) sent to a Redis queue
 * (redis-server on a loopback port, started here) and run by 1, then 2 `metatask worker`
 * processes with one kernel thread each; and the same fits one after another in this process.
 * Report: wall time, jobs per second, speed-up of 2 workers over 1 (goal on a 2-core machine:
 * at least 1.7x), the CPU the workers got, and that every fitted model equals the in-process
 * one. Each worker runs in a session of its own, as separately deployed services do (Linux
 * schedules one session's processes as one group: workers in the bench's session would share
 * its slice of a loaded machine).
 */
import { backend } from '../lib/kernels/index.js';
import { setThreads } from '../lib/kernels/index.js';
import { connectQueue } from '../lib/distributed/queue.js';
import { fitMany } from '../lib/distributed/fanout.js';
import { MAML } from '../lib/meta/maml.js';
import { SinusoidTasks } from '../lib/meta/tasks.js';
import { cpuSeconds, haveRedis, RedisCluster } from '../test/redisCluster.js';
import { markdownTable, type WorkloadResult } from './run.js';

const JOBS = 12;
const ITERATIONS = 1500;

function jobs(): { model: MAML; args: unknown[]; options: { iterations: number } }[] {
  return Array.from({ length: JOBS }, (_, i) => ({
    model: new MAML({ network: { inputSize: 1, hidden: [40, 40], outputSize: 1, activation: 'relu' }, metaBatchSize: 10, seed: i }),
    args: [new SinusoidTasks({ shots: 10, seed: 100 + i })],
    options: { iterations: ITERATIONS },
  }));
}

export async function run(): Promise<WorkloadResult> {
  const title = `Job queue throughput: ${JOBS} MAML fits (${ITERATIONS} meta-iterations each) on 1 and 2 worker processes`;
  if (!haveRedis()) return { id: 'queue', title, table: '', notes: ['skipped: redis-server is not installed (Debian: apt-get install redis-server)'], data: { skipped: true } };
  const rows: { runner: string; seconds: number }[] = [];
  const notes: string[] = [];

  setThreads(1);
  const local = jobs();
  let t0 = performance.now();
  await fitMany(local);
  rows.push({ runner: 'this process, one after another (1 thread)', seconds: (performance.now() - t0) / 1000 });
  const reference = local.map((j) => j.model.toJSON().checksum);

  const cluster = await RedisCluster.start();
  try {
    const queue = await connectQueue({ redis: cluster.url, name: 'bench' });
    try {
      for (const workers of [1, 2]) {
        while (cluster.workers.filter((w) => w.child.exitCode === null).length < workers) {
          await cluster.startWorker('bench', ['--threads', '1'], { METATASK_BACKEND: backend().name }, true);
        }
        const remote = jobs();
        const cpu0 = cluster.workers.map((w) => cpuSeconds(w.child.pid));
        t0 = performance.now();
        await fitMany(remote, { queue });
        const seconds = (performance.now() - t0) / 1000;
        const cpu = cluster.workers.reduce((s, w, i) => s + cpuSeconds(w.child.pid) - cpu0[i]!, 0);
        rows.push({ runner: `queue, ${workers} worker process${workers > 1 ? 'es' : ''} (1 thread each)`, seconds });
        // CPU seconds the workers got per wall second: 2 for two workers that each had a core.
        notes.push(`${workers} worker(s): the worker processes used ${cpu.toFixed(2)} CPU s in ${seconds.toFixed(2)} s (${(cpu / seconds).toFixed(2)} cores on average)`);
        const same = remote.every((j, i) => j.model.toJSON().checksum === reference[i]);
        const perWorker = cluster.workers.map((w) => (w.output().match(/ done MAML/g) ?? []).length);
        notes.push(`${workers} worker(s): jobs done so far by each worker process: ${perWorker.join(', ')}`);
        notes.push(`${workers} worker(s): every fitted model ${same ? 'equals' : 'DIFFERS FROM'} the in-process fit`);
      }
    } finally {
      await queue.close();
    }
  } finally {
    await cluster.stop();
  }
  const one = rows[1]!.seconds;
  const two = rows[2]!.seconds;
  notes.push(`speed-up of 2 workers over 1: ${(one / two).toFixed(2)}x (goal on a 2-core machine: >= 1.7x)`);
  const table = markdownTable(
    ['runner', 'wall s', 'jobs/s'],
    rows.map((r) => [r.runner, r.seconds.toFixed(2), (JOBS / r.seconds).toFixed(2)]),
  );
  return { id: 'queue', title, table, notes: [`backend ${backend().name}`, ...notes], data: { rows, speedup: one / two } };
}
