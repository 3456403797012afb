#!/usr/bin/env node
// The workload of scripts/test-valgrind.sh: a short run of each model family on the native
// backend (a MultiTaskNet fit, a MultiTaskLasso fit, a few MAML meta-steps, plus one of each
// Network method and a disposed handle), then garbage collection so that every native object
// the run no longer references is finalized before valgrind's leak check at exit.
// Run with --expose-gc, after `npm run build`.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

if (typeof globalThis.gc !== 'function') throw new Error('valgrind-fit: run node with --expose-gc');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const m = await import(pathToFileURL(join(root, 'dist', 'lib', 'index.js')).href);
const { MultiTaskNet, MultiTaskLasso, MAML, SinusoidTasks, Rng, backend } = m;

const b = backend();
if (b.name !== 'native') throw new Error(`valgrind-fit: expected the native backend, got ${b.name}`);
console.log(`valgrind-fit: native backend at ${b.simd}`);

const rng = new Rng(1);
// Two regression tasks and a binary one, 60 rows of 4 features.
const X = [];
const Y = [];
for (let i = 0; i < 60; i++) {
  const x = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
  X.push(x);
  Y.push([x[0] - x[1] + 0.1 * rng.normal(), 2 * x[2] + 0.1 * rng.normal(), x[3] > 0 ? 1 : 0]);
}
const net = new MultiTaskNet({
  inputSize: 4,
  tasks: [{ name: 'a', type: 'regression' }, { name: 'b', type: 'regression' }, { name: 'c', type: 'binary' }],
  architecture: { type: 'hard-sharing', shared: [8] },
  optimizer: { type: 'adam', lr: 0.01 },
  seed: 2,
});
await net.fit({ X, Y }, { epochs: 3, batchSize: 16 });
console.log(`valgrind-fit: MultiTaskNet, ${net.history.epochs.length} epochs`);
net.predict(X.slice(0, 5));

const Xl = [];
const Yl = [];
for (let i = 0; i < 40; i++) {
  const x = Array.from({ length: 12 }, () => rng.normal());
  Xl.push(x);
  Yl.push([x[0] + x[3], x[0] - 2 * x[5], 0.5 * x[3]]);
}
const lasso = new MultiTaskLasso({ alpha: 0.05, tol: 1e-6 }).fitSync(Xl, Yl);
console.log(`valgrind-fit: MultiTaskLasso, ${lasso.nIter} iterations`);

const maml = new MAML({ network: { inputSize: 1, hidden: [8], outputSize: 1, activation: 'tanh' }, innerLr: 0.01, innerSteps: 2, seed: 3 });
await maml.fit(new SinusoidTasks({ shots: 5, queries: 5, seed: 4 }), { iterations: 3 });
console.log('valgrind-fit: MAML, 3 meta-steps');

// Everything above goes out of scope; finalizers run on collection.
for (let i = 0; i < 4; i++) {
  globalThis.gc();
  await new Promise((r) => setImmediate(r));
}
console.log('valgrind-fit: done');
