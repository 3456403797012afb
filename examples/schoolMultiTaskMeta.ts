/**
 * Multi-task learning and meta-learning together, on School: each meta-task is a group of four
 * schools, a multi-task problem with one task (one head) per school. MAML learns, from many such
 * groups of the 100 training schools, an initialisation of a multi-task network (a shared trunk
 * and one head per school of the group); for a group of new schools it adapts from 16 students
 * per school. Compared on the other students of the new schools with the same network trained
 * from scratch on those 16 students per school, and with the initialisation before adaptation.
 *
 *   npm run build && node dist/examples/schoolMultiTaskMeta.js
 */
import { pathToFileURL } from 'node:url';
import { datasets, MAML, MultiTaskDataset, MultiTaskNet, MultiTaskSplit, Rng } from '../lib/index.js';

export interface SchoolMetaOptions {
  /** Meta-iterations (meta-batches of 8 groups). Default 300. */
  iterations?: number;
  /** New groups to evaluate on. Default 40. */
  problems?: number;
}

export interface SchoolMetaResult {
  /** Mean query MSE (standardised score units) of the new groups: adapted, not adapted, from scratch. */
  adapted: number;
  initial: number;
  scratch: number;
}

const GROUP = 4;
const SHOTS = 16;

export async function run(options: SchoolMetaOptions = {}, log: (line: string) => void = console.log): Promise<SchoolMetaResult> {
  const iterations = options.iterations ?? 300;
  const problems = options.problems ?? 40;
  // Standardised features; the score standardised with the training schools' statistics.
  const data = datasets.school().standardize().dataset;
  const order = new Rng(0).permutation(data.nTasks);
  const trainSchools = Array.from(order.subarray(0, 100), (i) => data.tasks[i]!.name);
  const newSchools = Array.from(order.subarray(100), (i) => data.tasks[i]!.name);
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (const name of trainSchools) for (const v of data.task(name).y) (sum += v), (sumSq += v * v), n++;
  const mean = sum / n;
  const sd = Math.sqrt(sumSq / n - mean * mean);
  const scaled = new MultiTaskDataset(data.tasks.map((t) => ({ ...t, y: t.y.map((v) => (v - mean) / sd) })));

  // One head per school of a group; the slots are filled by whichever schools a problem draws.
  const tasks = [
    { name: 'first', type: 'regression' },
    { name: 'second', type: 'regression' },
    { name: 'third', type: 'regression' },
    { name: 'fourth', type: 'regression' },
  ] as const;
  const architecture = { type: 'hard-sharing', shared: [16] } as const;
  const network = new MultiTaskNet({ inputSize: scaled.nFeatures, tasks, architecture, seed: 0 });

  const maml = new MAML({ network, innerLr: 0.05, innerSteps: 3, metaBatchSize: 8, optimizer: { type: 'adam', lr: 3e-3 }, seed: 0 });
  await maml.fit(new MultiTaskSplit(scaled, { groupSize: GROUP, shots: SHOTS, queries: 30, seed: 1, tasks: trainSchools }), { iterations });
  log(`meta-trained on groups of ${GROUP} of the 100 training schools: ${iterations} meta-iterations, last meta-loss ${maml.history.losses.at(-1)!.toFixed(3)}`);

  const test = new MultiTaskSplit(scaled, { groupSize: GROUP, shots: SHOTS, seed: 7, tasks: newSchools });
  let adapted = 0;
  let initial = 0;
  let scratch = 0;
  for (const problem of test.sampleBatch(problems)) {
    // adapt gives a MultiTaskNet: predictions by task name, evaluate, score, save...
    const net = maml.adapt(problem.support);
    const firstSchool: Float32Array = net.predict(problem.query.X).first;
    void firstSchool;
    adapted += net.evaluate(problem.query).loss;
    initial += maml.model().evaluate(problem.query).loss;
    const fresh = new MultiTaskNet({ inputSize: scaled.nFeatures, tasks, architecture, optimizer: { type: 'adam', lr: 0.01 }, seed: 0 });
    await fresh.fit(problem.support, { epochs: 100, batchSize: 16 });
    scratch += fresh.evaluate(problem.query).loss;
  }
  const result = { adapted: adapted / problems, initial: initial / problems, scratch: scratch / problems };
  log(`${problems} groups of ${GROUP} new schools, ${SHOTS} students of each to learn from; MSE on their other students (mean over the schools):`);
  log(`  meta-learned, adapted: ${result.adapted.toFixed(3)}   not adapted: ${result.initial.toFixed(3)}   trained from scratch: ${result.scratch.toFixed(3)}`);
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run();
