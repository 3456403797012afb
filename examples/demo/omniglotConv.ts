/**
 * Demo, fourth part: few-shot image classification on Omniglot with a convolutional network.
 * Prototypical networks (Snell et al. 2017) on the conv-4 backbone (four blocks of 3x3
 * convolution, batch normalisation, ReLU and 2x2 max-pool) learn an embedding in which a class is
 * the mean of its examples; a new character is then recognised from one drawing of it.
 *
 * The characters of the Omniglot background set are split in three: training characters (with
 * their rotations by 90, 180 and 270 degrees as extra classes), validation and test characters the
 * network never sees in training. Training uses 60-way 1-shot episodes with 5 queries per class
 * (Snell et al.'s recipe, Adam 1e-3) for a short time budget (METATASK_DEMO_SECONDS, default 60);
 * the test reports 5-way 1-shot and 5-shot accuracy over 600 episodes with its 95% interval. The
 * published figures (98.8% and 99.7%) take about 20 minutes of training on two CPU cores
 * (`node dist/bench/run.js omniglot-conv --train protonet --minutes 20`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { omniglot } from '../../lib/data/omniglot.js';
import { backend } from '../../lib/kernels/index.js';
import { packageRoot } from '../../lib/kernels/native.js';
import { FewShotTasks, splitClasses } from '../../lib/meta/fewShot.js';
import { ProtoNet } from '../../lib/meta/protoNet.js';

export const title = 'Omniglot: recognise a new character from one drawing (ProtoNet, conv-4)';

export async function run(log: (line: string) => void): Promise<void> {
  const file = join(packageRoot(), '..', 'shared', 'data', 'omniglot', 'omniglot28_background.u8');
  if (!existsSync(file)) {
    log(`skipped: the Omniglot images are not at ${file} (the package does not ship them)`);
    return;
  }
  const data = omniglot(file);
  const split = splitClasses(data.labels, { counts: { train: 764, validation: 100, test: 100 }, seed: 0 });
  log(`${data.X.rows} images of ${data.alphabets.length} alphabets; characters: ${split.train.length} training (x 4 rotations), ${split.test.length} test (never seen in training)`);

  const native = backend().name === 'native';
  const seconds = Number(process.env.METATASK_DEMO_SECONDS) || 60;
  // The TypeScript kernels take seconds per convolutional episode: smaller episodes there.
  const ways = native ? 60 : 10;
  const train = new FewShotTasks(data, { ways, shots: 1, queries: 5, classes: split.train, rotations: true, seed: 1 });
  const model = new ProtoNet({ network: { type: 'conv4', inputShape: [1, 28, 28] }, optimizer: { type: 'adam', lr: 1e-3 }, seed: 0 });
  log(`training on ${ways}-way 1-shot episodes for ${seconds} s (${backend().name} kernels, ${backend().threads} threads)...`);
  const fit = (await model.fit(train, { timeLimit: seconds })).history;
  log(`${fit.iterations} episodes in ${fit.seconds.toFixed(0)} s; last training loss ${fit.losses[fit.losses.length - 1]!.toFixed(3)}`);

  const episodes = native ? 600 : 100;
  for (const shots of [1, 5]) {
    const test = new FewShotTasks(data, { ways: 5, shots, queries: 15, classes: split.test, seed: 2 });
    const [row] = model.evaluate(test, { tasks: episodes });
    log(`5-way ${shots}-shot on unseen characters: ${(100 * row!.accuracy!).toFixed(1)}% ± ${(100 * row!.accuracyCi95!).toFixed(1)} (95% interval, ${episodes} episodes)`);
  }
  log('published with this backbone (Snell et al. 2017, evaluation alphabets): 98.8% (1-shot), 99.7% (5-shot)');
}
