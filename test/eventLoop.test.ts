/**
 * Long-running fits yield to the event loop between steps: a timer
 * scheduled during the fit must fire while the fit is still running. Behaviour, not timing:
 * nothing here asserts how long anything takes.
 */
import { expect } from 'chai';

import { datasets, L21Regression, MAML, MultiTaskDataset, MultiTaskNet, SinusoidTasks } from '../lib/index.js';

/** Runs `fit` while a 1 ms interval counts; returns how many ticks fired before fit settled. */
async function ticksDuring(fit: () => Promise<unknown>): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    await fit();
    return ticks;
  } finally {
    clearInterval(timer);
  }
}

describe('long fits keep the event loop responsive', function () {
  this.timeout(120_000);
  it('L21Regression.fit on School', async () => {
    const { train } = datasets.school().split({ testFraction: 0.5, seed: 1 });
    const m = new L21Regression({ alpha: 0.01, tol: 1e-12, maxIter: 3000 });
    expect(await ticksDuring(() => m.fit(train))).to.be.greaterThan(0);
  });

  it('MultiTaskNet.fit', async () => {
    const X: number[][] = [];
    const Y: number[][] = [];
    for (let i = 0; i < 4096; i++) {
      const x = Array.from({ length: 16 }, (_, j) => Math.sin(i * (j + 1)));
      X.push(x);
      Y.push([x[0]! + x[1]!, x[2]! * x[3]!]);
    }
    const net = new MultiTaskNet({
      inputSize: 16,
      tasks: [{ name: 'a', type: 'regression' }, { name: 'b', type: 'regression' }],
      architecture: { type: 'hard-sharing', shared: [64, 64] },
      optimizer: { type: 'adam', lr: 1e-3 },
      seed: 1,
    });
    const data = MultiTaskDataset.fromShared(X, Y, { names: ['a', 'b'] });
    expect(await ticksDuring(() => net.fit(data, { epochs: 3, batchSize: 32 }))).to.be.greaterThan(0);
  });

  it('MAML.fit', async () => {
    const maml = new MAML({
      network: { inputSize: 1, hidden: [40, 40], outputSize: 1, activation: 'relu' },
      loss: 'mse', innerLr: 0.01, innerSteps: 1, firstOrder: false, metaBatchSize: 25,
      optimizer: { type: 'adam', lr: 1e-3 }, seed: 0,
    });
    const tasks = new SinusoidTasks({ shots: 10, queries: 10, seed: 1 });
    expect(await ticksDuring(() => maml.fit(tasks, { iterations: 300 }))).to.be.greaterThan(0);
  });
});

describe('slices of work stay short without changing results', function () {
  this.timeout(60_000);
  it("MultiTaskNet's epoch metrics, computed in short forward calls between yields, equal evaluate's", async () => {
    const X: number[][] = [];
    const Y: number[][] = [];
    for (let i = 0; i < 1500; i++) {
      const x = Array.from({ length: 8 }, (_, j) => Math.cos(i * (j + 2)));
      X.push(x);
      Y.push([x[0]! - x[1]!, x[2]! > 0 ? 1 : 0]);
    }
    const net = new MultiTaskNet({
      inputSize: 8,
      tasks: [{ name: 'a', type: 'regression' }, { name: 'b', type: 'binary' }],
      architecture: { type: 'hard-sharing', shared: [32] },
      seed: 3,
    });
    await net.fit({ X, Y }, { epochs: 1, batchSize: 64 });
    expect(net.history.epochs[0]!.metrics).to.deep.equal(net.evaluate({ X, Y }).tasks);
  });
});
