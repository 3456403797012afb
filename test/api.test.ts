/**
 * The public entry point: every public name is exported, and a user's
 * own weighting strategy plugs into MultiTaskNet through the small WeightingStrategy interface.
 */
import { expect } from 'chai';

import * as metatask from '../lib/index.js';
import { MultiTaskDataset, MultiTaskNet, registerStrategy, createStrategy, type WeightingStrategy } from '../lib/index.js';

describe('public API', () => {
  it('exports every contracted name', () => {
    const names = [
      'MultiTaskLasso', 'MultiTaskElasticNet', 'MultiTaskLassoCV', 'MultiTaskElasticNetCV',
      'L21Regression', 'L21Logistic', 'TraceNormRegression', 'MeanRegularizedRegression', 'IndependentRidge', 'PooledRidge',
      'MultiTaskDataset', 'datasets', 'metrics', 'MultiTaskNet',
      'MAML', 'MetaSGD', 'Reptile', 'ANIL', 'ProtoNet', 'MetaRidge', 'iMAML',
      'SinusoidTasks', 'FewShotTasks', 'TaskSplit',
      'backend', 'setBackend', 'setThreads',
      'MetataskError', 'ShapeError', 'ValueError', 'ConfigError', 'NotFittedError', 'FormatError', 'BackendError',
      'MultiTaskSplit', 'MetaNetwork', 'AdaptedModel', 'ProtoModel', 'RidgeModel', 'parseFitOptions', 'functional',
    ];
    for (const n of names) expect(metatask, n).to.have.property(n);
    expect(metatask.datasets).to.have.keys('school', 'omniglot');
    for (const f of ['metaNetwork', 'initialParams', 'taskLoss', 'adaptStep', 'adapt', 'metaGradient', 'applyUpdate']) {
      expect(metatask.functional, f).to.have.property(f).that.is.a('function');
    }
    for (const m of ['mse', 'rmse', 'mae', 'r2', 'explainedVariance', 'nmse', 'accuracy', 'precision', 'recall', 'f1', 'logLoss', 'rocAuc']) {
      expect(metatask.metrics, m).to.have.property(m).that.is.a('function');
    }
  });

  it('every error class carries a string code', () => {
    const errs = [new metatask.ShapeError('a'), new metatask.ValueError('b'), new metatask.ConfigError('c'), new metatask.FormatError('d'), new metatask.BackendError('e')];
    expect(errs.map((e) => e.code)).to.deep.equal(['ERR_SHAPE', 'ERR_VALUE', 'ERR_CONFIG', 'ERR_FORMAT', 'ERR_NATIVE_UNAVAILABLE']);
    for (const e of errs) expect(e).to.be.instanceOf(metatask.MetataskError);
  });

  it("a user's strategy, registered by name, drives MultiTaskNet", async () => {
    let calls = 0;
    // Puts all weight on the first task: the second task's head must not move.
    const firstOnly = (): WeightingStrategy => ({
      name: 'first-only',
      needsGradients: false,
      init() {},
      combine: ({ losses }) => {
        calls++;
        return { weights: Float64Array.from(losses, (_, t) => (t === 0 ? 1 : 0)) };
      },
      getState: () => ({ calls }),
      setState() {},
    });
    registerStrategy('first-only', firstOnly, { replace: true });
    expect(createStrategy('first-only').name).to.equal('first-only');

    const X: number[][] = [];
    const Y: number[][] = [];
    for (let i = 0; i < 32; i++) {
      const x = [Math.sin(i), Math.cos(i)];
      X.push(x);
      Y.push([x[0]! + x[1]!, x[0]! - x[1]!]);
    }
    const data = MultiTaskDataset.fromShared(X, Y, { names: ['a', 'b'] });
    const net = new MultiTaskNet({
      inputSize: 2,
      tasks: [{ name: 'a', type: 'regression' }, { name: 'b', type: 'regression' }],
      architecture: { type: 'hard-sharing', shared: [8] },
      weighting: 'first-only',
      optimizer: { type: 'adam', lr: 1e-2 },
      seed: 3,
    });
    const history = (await net.fit(data, { epochs: 3, batchSize: 8 })).history;
    expect(calls).to.equal(3 * 4); // one combine per step: 32 rows / 8 per batch, 3 epochs
    const epochs = history.epochs;
    for (const e of epochs) expect(e.weights).to.deep.equal({ a: 1, b: 0 });
    // Only task a's loss is optimised: it falls.
    expect(epochs.at(-1)!.taskLosses.a).to.be.lessThan(epochs[0]!.taskLosses.a!);
  });
});
