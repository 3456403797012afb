/**
 * Weighting strategies inside MultiTaskNet, on whichever backend kernels() selects: IMTL's heads
 * never step up their own loss, and each of GradDrop, MoCo, STCH, ExcessMTL, FairGrad, MoDo and
 * SDMGrad trains a network (its training loss falls) and resumes bit for bit from a saved model.
 */
import { expect } from 'chai';
import { Rng } from '../lib/core/rng.js';
import { MultiTaskNet, type MultiTaskNetOptions } from '../lib/mtl/multiTaskNet.js';
import { IMTL } from '../lib/mtl/weighting/imtl.js';
import type { WeightingStrategy } from '../lib/mtl/weighting/strategy.js';

/** n rows of d inputs; task t is the linear function a_t . x (random a_t, so the tasks conflict). */
function linearTasks(T: number, d: number, n: number, seed: number): { X: number[][]; Y: number[][] } {
  const rng = new Rng(seed);
  const a = Array.from({ length: T }, () => Array.from({ length: d }, () => rng.normal()));
  const X: number[][] = [];
  const Y: number[][] = [];
  for (let i = 0; i < n; i++) {
    const x = Array.from({ length: d }, () => rng.normal());
    X.push(x);
    Y.push(a.map((at) => at.reduce((s, v, j) => s + v * x[j]!, 0)));
  }
  return { X, Y };
}

/** A regression, a binary and a 3-class task on the same 4 inputs. */
function mixedData(n: number, seed: number): { X: number[][]; Y: number[][] } {
  const rng = new Rng(seed);
  const w = Array.from({ length: 4 }, () => rng.normal());
  const X: number[][] = [];
  const Y: number[][] = [];
  for (let i = 0; i < n; i++) {
    const x = Array.from({ length: 4 }, () => rng.normal());
    const s = x.reduce((acc, v, j) => acc + v * w[j]!, 0);
    X.push(x);
    Y.push([s + 0.1 * rng.normal(), s > 0 ? 1 : 0, s < -0.5 ? 0 : s < 0.5 ? 1 : 2]);
  }
  return { X, Y };
}

function mixedNet(weighting: MultiTaskNetOptions['weighting']): MultiTaskNet {
  return new MultiTaskNet({
    inputSize: 4,
    tasks: [
      { name: 'r', type: 'regression' },
      { name: 'b', type: 'binary' },
      { name: 'm', type: 'multiclass', classes: 3 },
    ],
    architecture: { type: 'hard-sharing', shared: [8] },
    optimizer: { type: 'adam', lr: 1e-2 },
    weighting,
    seed: 4,
  });
}

describe('weighting inside MultiTaskNet', function () {
  this.timeout(120_000);

  it('IMTL: no head ever moves up its own loss, also when alpha is negative', async () => {
    let negativeSeen = 0;
    for (const seed of [1, 3, 5]) {
      const T = 5;
      const { X, Y } = linearTasks(T, 4, 64, seed);
      const imtl = new IMTL();
      let minAlpha = Infinity;
      // Records the shared-parameter weights alpha of every step.
      const recorder: WeightingStrategy = {
        name: 'imtl',
        needsGradients: true,
        init: (t, s) => imtl.init(t, s),
        combine: (step) => {
          const r = imtl.combine(step);
          minAlpha = Math.min(minAlpha, ...imtl.lastAlpha);
          return r;
        },
        getState: () => imtl.getState(),
        setState: (s) => imtl.setState(s),
      };
      const net = new MultiTaskNet({
        inputSize: 4,
        tasks: Array.from({ length: T }, (_, t) => ({ name: `t${t}`, type: 'regression' as const })),
        architecture: { type: 'hard-sharing', shared: [2] },
        weighting: recorder,
        optimizer: { type: 'sgd', lr: 1e-3 },
        seed,
        dtype: 'float64',
      });
      const own = net.parameterOwners.own;
      for (let e = 0; e < 20; e++) {
        const before = Float64Array.from(net.getParams());
        await net.fit({ X, Y }, { epochs: 1, batchSize: 64, shuffle: false }); // one full-batch step
        const after = Float64Array.from(net.getParams());
        net.setParams(before);
        const lossBefore = net.evaluate({ X, Y }).tasks;
        net.taskNames.forEach((name, t) => {
          // Only task t's head takes its step; the shared parameters stay where they were.
          const moved = before.slice();
          for (const i of own[t]!) moved[i] = after[i]!;
          net.setParams(moved);
          const loss = net.evaluate({ X, Y }).tasks[name]!.loss;
          expect(loss, `seed ${seed}, epoch ${e}, head ${name}`).to.be.at.most(lossBefore[name]!.loss);
        });
        net.setParams(after);
      }
      if (minAlpha < 0) negativeSeen++;
    }
    expect(negativeSeen, 'runs where some alpha was negative').to.be.at.least(2);
  });

  const added: [string, MultiTaskNetOptions['weighting']][] = [
    ['graddrop', 'graddrop'],
    ['moco', 'moco'],
    ['stch', { type: 'stch', warmupEpochs: 1 }],
    ['excessmtl', 'excessmtl'],
    ['fairgrad', { type: 'fairgrad', alpha: 2 }],
    ['modo', 'modo'],
    ['sdmgrad', 'sdmgrad'],
  ];

  for (const [name, weighting] of added) {
    it(`${name}: trains a network (training loss falls) and resumes bit for bit from a saved model`, async () => {
      const { X, Y } = mixedData(120, 11);
      const fit = { batchSize: 24 };
      const a = mixedNet(weighting);
      const h = (await a.fit({ X, Y }, { ...fit, epochs: 6 })).history;
      const losses = h.epochs.map((r) => r.loss);
      expect(losses.every(Number.isFinite)).to.equal(true);
      expect(losses[5]!, `epoch losses ${losses.join(', ')}`).to.be.below(0.9 * losses[0]!);
      for (const r of h.epochs) expect(Object.values(r.weights).every(Number.isFinite)).to.equal(true);
      // Interrupted after 3 epochs, saved, loaded, continued: the same parameters as one run.
      const b = mixedNet(weighting);
      await b.fit({ X, Y }, { ...fit, epochs: 3 });
      const c = MultiTaskNet.fromJSON(JSON.parse(JSON.stringify(b.toJSON())));
      await c.fit({ X, Y }, { ...fit, epochs: 3 });
      expect(Buffer.from(c.getParams().buffer).equals(Buffer.from(a.getParams().buffer))).to.equal(true);
    });
  }
});
