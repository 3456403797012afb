/**
 * The models the example service loads: a MultiTaskNet (128 inputs, 256-256 shared trunk, 8
 * regression heads: the size of the multi-task benchmark network) and a MAML meta-learned on
 * sinusoids, trained briefly on generated data and saved as model files. A real service loads the
 * files its training job wrote; only the loading half (loadModels) belongs in it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { MAML, MultiTaskNet, Rng, SinusoidTasks } from '../../lib/index.js';

export const NET_FILE = 'net.json';
export const LEARNER_FILE = 'maml.json';
export const INPUTS = 128;
export const TASKS = 8;

/** Train and save both models into `dir` (a few seconds on the native backend). */
export async function trainModels(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(1);
  const n = 4096;
  const X = { rows: n, cols: INPUTS, data: Float32Array.from({ length: n * INPUTS }, () => rng.normal()) };
  // Each target mixes a few inputs, with a task-specific nonlinearity.
  const Y = { rows: n, cols: TASKS, data: new Float32Array(n * TASKS) };
  for (let i = 0; i < n; i++) for (let t = 0; t < TASKS; t++) Y.data[i * TASKS + t] = Math.tanh(X.data[i * INPUTS + t]! + 0.5 * X.data[i * INPUTS + t + 8]!);
  const net = new MultiTaskNet({
    inputSize: INPUTS,
    tasks: Array.from({ length: TASKS }, (_, t) => ({ name: `y${t}`, type: 'regression' as const })),
    architecture: { type: 'hard-sharing', shared: [256, 256] },
    seed: 0,
  });
  await net.fit({ X, Y }, { epochs: 2, batchSize: 128 });
  await net.save(join(dir, NET_FILE));

  const maml = new MAML({ network: { inputSize: 1, hidden: [40, 40], outputSize: 1, activation: 'relu' }, innerLr: 0.01, metaBatchSize: 10, seed: 0 });
  await maml.fit(new SinusoidTasks({ shots: 10, seed: 1 }), { iterations: 300 });
  await maml.save(join(dir, LEARNER_FILE));
}

/** Load the saved models (training them first when `dir` has none). */
export async function loadModels(dir: string): Promise<{ net: MultiTaskNet; learner: MAML }> {
  if (!existsSync(join(dir, NET_FILE)) || !existsSync(join(dir, LEARNER_FILE))) await trainModels(dir);
  return { net: await MultiTaskNet.load(join(dir, NET_FILE)), learner: await MAML.load(join(dir, LEARNER_FILE)) };
}
