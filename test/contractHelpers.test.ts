/**
 * The helpers the model contract is built from: the shared fit-option checks, the per-task metrics
 * behind every evaluate, and the MultiTaskNet parameter hand-over (setParams, withParams) that
 * meta-learners use to return adapted nets.
 */
import { expect } from 'chai';

import { ConfigError, MultiTaskNet, NotFittedError, parseFitOptions, type FitOptions } from '../lib/index.js';
import { num } from '../lib/core/options.js';
import { Rng } from '../lib/core/rng.js';
import { accuracy, logLoss, mae, mse, r2 } from '../lib/metrics/index.js';
import { classificationMetrics, evaluation, regressionMetrics } from '../lib/metrics/task.js';
import { randMatrix } from './helpers.js';

describe('contract helpers', () => {
  it('parseFitOptions: signal, onProgress and worker for every model, plus the model\'s own, checked once', () => {
    const onProgress = () => {};
    const signal = new AbortController().signal;
    expect(parseFitOptions('M.fit', { signal, onProgress })).to.deep.equal({ signal, onProgress, worker: undefined });
    expect(parseFitOptions('M.fit', { worker: true }).worker).to.equal(true);
    expect(parseFitOptions('M.fit', { worker: { transfer: 'move' } }).worker).to.deep.equal({ transfer: 'move' });
    expect(() => parseFitOptions('M.fit', { worker: { transfer: 'swap' } })).to.throw(ConfigError, /option 'worker' must be true, false, a WorkerPool or \{ pool\?, transfer\?/);
    expect(parseFitOptions<FitOptions & { epochs?: number }>('M.fit', { epochs: 3 }, { epochs: num({ default: 10 }) }).epochs).to.equal(3);
    expect(parseFitOptions<FitOptions & { epochs?: number }>('M.fit', undefined, { epochs: num({ default: 10 }) }).epochs).to.equal(10);
    expect(() => parseFitOptions('M.fit', { onProgres: onProgress })).to.throw(ConfigError, /M\.fit: unknown option 'onProgres' \(did you mean 'onProgress'\?\)/);
    expect(() => parseFitOptions('M.fit', { signal: 'stop' })).to.throw(ConfigError, /option 'signal' must be an AbortSignal/);
    expect(() => parseFitOptions('M.fit', { onProgress: 1 })).to.throw(ConfigError, /option 'onProgress' must be a function/);
    expect(() => parseFitOptions('M.fit', [1, 2])).to.throw(ConfigError, /options must be an object/);
  });

  it('task metrics agree with the metric functions; evaluation averages the tasks with rows', () => {
    const y = [1, 2, 3, 4];
    const p = [1.5, 2, 2.5, 5];
    const m = regressionMetrics(y, p);
    expect(m).to.deep.equal({ loss: mse(y, p), n: 4, mse: mse(y, p), mae: mae(y, p), r2: r2(y, p) });
    const labels = [0, 1, 1, 0];
    const q = [0.2, 0.7, 0.4, 0.1];
    const c = classificationMetrics(labels, q);
    expect(c).to.deep.equal({ loss: logLoss(labels, q), n: 4, logloss: logLoss(labels, q), accuracy: accuracy(labels, [0, 1, 0, 0]) });
    const P = { rows: 3, cols: 3, data: Float64Array.from([0.7, 0.2, 0.1, 0.1, 0.1, 0.8, 0.3, 0.4, 0.3]) };
    const k = classificationMetrics([0, 2, 2], P);
    expect(k.accuracy).to.be.closeTo(2 / 3, 1e-15);
    expect(k.loss).to.be.closeTo(-(Math.log(0.7) + Math.log(0.8) + Math.log(0.3)) / 3, 1e-12);
    expect(regressionMetrics([], []).n).to.equal(0);
    const ev = evaluation({ a: m, b: c, none: regressionMetrics([], []) });
    expect(ev.loss).to.be.closeTo((m.loss + c.loss) / 2, 1e-15);
    expect(Object.keys(ev.tasks)).to.deep.equal(['a', 'b', 'none']);
  });

  it('MultiTaskNet: setParams makes a net that predicts; withParams copies the configuration, not the parameters', () => {
    const tasks = [{ name: 'a', type: 'regression' }, { name: 'b', type: 'binary' }] as const;
    const net = new MultiTaskNet({ inputSize: 2, tasks, architecture: { type: 'hard-sharing', shared: [4] }, seed: 1 });
    const X = randMatrix(new Rng(2), 5, 2);
    expect(() => net.predict(X)).to.throw(NotFittedError);
    const other = new MultiTaskNet({ inputSize: 2, tasks, architecture: { type: 'hard-sharing', shared: [4] }, seed: 7 }).getParams();
    const copy = net.withParams(other);
    expect(copy).to.not.equal(net);
    expect(copy.config).to.deep.equal(net.config);
    expect(Array.from(copy.getParams())).to.deep.equal(Array.from(other));
    expect(() => net.predict(X), 'the original is unchanged').to.throw(NotFittedError);
    net.setParams(other);
    expect(Array.from(net.predict(X).a)).to.deep.equal(Array.from(copy.predict(X).a));
    expect(() => net.withParams([1, 2, 3])).to.throw(/got 3 values/);
    // A user's strategy object is not shared with the copy, which trains with 'equal'.
    const mine = { name: 'mine', needsGradients: false, init() {}, combine: () => ({ weights: new Float64Array([1, 1]) }), getState: () => ({}), setState() {} };
    const custom = new MultiTaskNet({ inputSize: 2, tasks, weighting: mine });
    expect(custom.withParams(custom.getParams()).config.weighting).to.equal('equal');
  });
});
