/**
 * Your own meta-training loop with the functional API: MAML on sinusoids (Finn et al. 2017),
 * written out step by step instead of calling `new MAML(...).fit(...)`.
 *
 *   meta-gradient of a batch of tasks  ->  optimiser update of theta  ->  (at test time)
 *   adaptation steps on a new task's support set  ->  predictions of the adapted model
 *
 * Anything can be changed in the loop: the task distribution, a curriculum, a schedule of the
 * inner learning rate, logging, early stopping, several networks trained together.
 *
 *   npm run build && node dist/examples/metaLoop.js
 */
import { pathToFileURL } from 'node:url';
import { createOptimizer, functional as F, SinusoidTasks } from '../lib/index.js';

export interface MetaLoopResult {
  /** Query MSE of new tasks after 0 and 10 adaptation steps, mean over the test tasks. */
  before: number;
  after: number;
  /** Meta-loss of the first and last iterations. */
  firstLoss: number;
  lastLoss: number;
}

export async function run(iterations = 2000, log: (line: string) => void = console.log): Promise<MetaLoopResult> {
  // A network of any form: an MLP here; a NetworkSpec, { inputSize, tasks, architecture } or a
  // MultiTaskNet work the same way.
  const net = F.metaNetwork({ inputSize: 1, hidden: [40, 40] }, { loss: 'mse' });
  const theta = F.initialParams(net, 0);
  const optimizer = createOptimizer({ type: 'adam', lr: 3e-3 });
  const train = new SinusoidTasks({ shots: 10, queries: 10, seed: 1 });
  const innerLr = 0.01;

  let firstLoss = NaN;
  let lastLoss = NaN;
  for (let it = 0; it < iterations; it++) {
    const tasks = train.sampleBatch(10);
    // Exact second-order meta-gradient through one inner step per task (one fused kernel call).
    const { loss, grad } = F.metaGradient(net, theta, tasks, { innerLr, innerSteps: 1 });
    F.applyUpdate(theta, grad, optimizer);
    if (it === 0) firstLoss = loss;
    lastLoss = loss;
    if ((it + 1) % 500 === 0) log(`iteration ${it + 1}: meta-loss ${loss.toFixed(3)}`);
  }

  // New tasks: adapt theta on 10 points, measure on the queries.
  const test = new SinusoidTasks({ shots: 10, queries: 50, seed: 2 });
  let before = 0;
  let after = 0;
  const n = 50;
  for (let t = 0; t < n; t++) {
    const task = test.sample();
    before += F.taskLoss(net, theta, task.query);
    // Ten single steps, as adapt(..., { steps: 10 }) would do in one call.
    let phi = theta;
    for (let s = 0; s < 10; s++) phi = F.adaptStep(net, phi, task.support, { lr: innerLr });
    after += F.taskLoss(net, phi, task.query);
  }
  before /= n;
  after /= n;
  // The adapted parameters as a model with the usual predict / score / evaluate.
  const task = test.sample();
  const model = net.model(F.adapt(net, theta, task.support, { lr: innerLr, steps: 10 }));
  log(`new tasks: query MSE ${before.toFixed(3)} before adaptation, ${after.toFixed(3)} after 10 steps; one task's R^2 ${model.score(task.query).toFixed(2)}`);
  return { before, after, firstLoss, lastLoss };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run();
