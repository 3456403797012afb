/**
 * Metrics against scikit-learn. The reference values were computed once with scikit-learn 1.2.1
 * (/usr/bin/python3, sklearn.metrics: mean_squared_error, mean_absolute_error, r2_score,
 * explained_variance_score, accuracy_score, precision/recall/f1_score, log_loss, roc_auc_score on
 * exactly the arrays below) and pasted in; the rest are hand-checkable identities and edge cases.
 */
import { expect } from 'chai';
import { ShapeError, ValueError } from '../lib/core/errors.js';
import * as metrics from '../lib/metrics/index.js';

const { mse, rmse, mae, r2, explainedVariance, nmse, accuracy, precision, recall, f1, logLoss, rocAuc, perTask, pooled } = metrics;

const close = (a: number, b: number, rel = 1e-12) => expect(Math.abs(a - b), `${a} vs ${b}`).to.be.at.most(rel * Math.max(1, Math.abs(b)));

const yt = [3.0, -0.5, 2.0, 7.0, 4.2];
const yp = [2.5, 0.0, 2.0, 8.0, 3.9];
const t2 = { yTrue: [1.0, 2.0, 3.0], yPred: [1.5, 1.5, 3.5] };

describe('metrics namespace', () => {
  it("is exported from the package as 'metrics'", async () => {
    const pkg = await import('../lib/index.js');
    expect(pkg.metrics.r2).to.equal(r2);
    expect(pkg.metrics.perTask).to.equal(perTask);
  });
});

describe('regression metrics', () => {
  it('match scikit-learn on one task', () => {
    close(mse(yt, yp), 0.318);
    close(rmse(yt, yp), 0.5639148871948674);
    close(mae(yt, yp), 0.4600000000000001);
    close(r2(yt, yp), 0.9480256276150627);
    close(explainedVariance(yt, yp), 0.9512290794979079);
    close(nmse(yt, yp), 0.05197437238493724); // mse / np.var(yTrue)
  });

  it('accept typed arrays', () => {
    close(r2(Float64Array.from(yt), Float32Array.from(yp)), r2(yt, Array.from(Float32Array.from(yp))));
  });

  it('identities: perfect prediction, mean prediction, constant targets (force_finite)', () => {
    expect(mse(yt, yt)).to.equal(0);
    expect(r2(yt, yt)).to.equal(1);
    const mean = yt.reduce((a, b) => a + b) / yt.length;
    close(r2(yt, yt.map(() => mean)), 0, 1e-15);
    close(nmse(yt, yt.map(() => mean)), 1, 1e-15);
    // explained variance ignores a constant offset, r2 does not
    expect(explainedVariance(yt, yt.map((v) => v + 1))).to.equal(1);
    expect(r2(yt, yt.map((v) => v + 1))).to.be.below(1);
    // scikit-learn's force_finite: constant yTrue gives 1 if perfect, else 0
    expect(r2([2, 2, 2], [2, 2, 2])).to.equal(1);
    expect(r2([2, 2, 2], [1, 2, 3])).to.equal(0);
    expect(explainedVariance([2, 2], [1, 3])).to.equal(0);
    expect(() => nmse([2, 2, 2], [1, 2, 3])).to.throw(ValueError, /constant/);
  });

  it('per task and pooled over tasks', () => {
    const tasks = [{ name: 'a', yTrue: yt, yPred: yp }, t2];
    const per = perTask(r2, tasks);
    close(per[0]!, 0.9480256276150627);
    close(per[1]!, 0.625);
    close(pooled(r2, tasks), 0.9331977304357135); // r2_score on the concatenation
    close(pooled(explainedVariance, tasks), 0.9383363665560432);
    // pooled MSE is the sample-weighted mean of the per-task MSEs
    const m = perTask(mse, tasks);
    close(pooled(mse, tasks), (m[0]! * 5 + m[1]! * 3) / 8);
  });

  it('reject bad input', () => {
    expect(() => mse([1, 2, 3], [1, 2])).to.throw(ShapeError, /yTrue has 3 values but yPred has 2/);
    expect(() => mse([], [])).to.throw(ValueError, /empty/);
    expect(() => r2([1, NaN], [1, 2])).to.throw(ValueError, /yTrue\[1\] is NaN/);
    expect(() => mae([1, 2], [1, Infinity])).to.throw(ValueError, /yPred\[1\] is Infinity/);
    expect(() => rmse('abc' as never, [1])).to.throw(ValueError, /array/);
    expect(() => mse([1, '2'] as never, [1, 2])).to.throw(ValueError, /yTrue\[1\] is the string "2"/);
    expect(() => perTask(mse, [])).to.throw(ValueError, /tasks is empty/);
    expect(() => perTask(mse, [{ name: 'school-7', yTrue: [1, 2], yPred: [1] }])).to.throw(ShapeError, /task 'school-7'/);
    expect(() => pooled(mse, [t2, { yTrue: [1, 2], yPred: [1] }])).to.throw(ShapeError, /task 1/);
    expect(() => pooled(mse, [{ yTrue: [1] } as never])).to.throw(ValueError, /\{ yTrue, yPred \}/);
  });
});

describe('classification metrics', () => {
  const bt = [0, 1, 1, 0, 1, 1, 0, 0, 1, 0];
  const bp = [0, 1, 0, 0, 1, 1, 1, 0, 1, 1];
  const mt = [0, 1, 2, 2, 1, 0, 2, 1, 0, 2, 3];
  const mp = [0, 2, 2, 2, 1, 0, 1, 1, 1, 2, 0];

  it('binary accuracy, precision, recall, f1 match scikit-learn', () => {
    close(accuracy(bt, bp), 0.7);
    close(precision(bt, bp), 0.6666666666666666);
    close(recall(bt, bp), 0.8);
    close(f1(bt, bp), 0.7272727272727272);
    close(precision(bt, bp, { posLabel: 0 }), 0.75);
    close(f1(bt, bp, { average: 'binary' }), 0.7272727272727272);
  });

  it('macro and micro averages match scikit-learn (zero_division=0)', () => {
    // Class 3 is never predicted: its precision is 0/0 -> 0 as in scikit-learn.
    close(precision(mt, mp, { average: 'macro' }), 0.47916666666666663);
    close(recall(mt, mp, { average: 'macro' }), 0.5208333333333333);
    close(f1(mt, mp, { average: 'macro' }), 0.49702380952380953);
    for (const fn of [precision, recall, f1]) close(fn(mt, mp, { average: 'micro' }), 0.6363636363636364);
    // micro equals accuracy for single-label data
    close(f1(mt, mp, { average: 'micro' }), accuracy(mt, mp));
  });

  it('edge cases: no predicted positives, multiclass labels under binary', () => {
    expect(precision([1, 0, 1], [0, 0, 0])).to.equal(0);
    expect(recall([0, 0], [0, 0])).to.equal(0);
    expect(() => f1(mt, mp)).to.throw(ValueError, /multiclass.*'macro' or 'micro'/);
    expect(() => precision([0, 2, 2], [0, 2, 0])).to.throw(ValueError, /posLabel 1 is not one of the labels present \(0, 2\)/);
    expect(() => f1([0, 1], [0, 0.5])).to.throw(ValueError, /yPred\[1\] is 0.5, expected an integer class label/);
    expect(() => f1([0, 1], [0, 1], { average: 'weighted' as never })).to.throw(ValueError, /average/);
    expect(() => accuracy([0, 1], [0])).to.throw(ShapeError);
  });

  it('logLoss: binary and multiclass match scikit-learn, with clipping and renormalisation', () => {
    const pb = [0.1, 0.9, 0.4, 0.2, 0.8, 0.65, 0.55, 0.05, 1.0, 0.7];
    close(logLoss(bt, pb), 0.40578555768419394);
    const P = [
      [0.7, 0.2, 0.1],
      [0.1, 0.6, 0.3],
      [0.2, 0.2, 0.6],
      [0.3, 0.4, 0.3],
    ];
    close(logLoss([0, 1, 2, 1], P), 0.5736542308362171);
    // A zero probability on the true class is clipped at 2^-52 (scikit-learn 1.2's eps="auto").
    close(logLoss([0, 1, 2, 1, 0], [...P, [0, 0, 1]]), 7.667654062492405);
    // Rows are renormalised: [0.35, 0.1, 0.05] counts as [0.7, 0.2, 0.1].
    close(logLoss([0, 1], [[0.35, 0.1, 0.05], [0.1, 0.6, 0.3]]), 0.4337502838523615);
    // A Matrix works as well as nested arrays
    close(logLoss([0, 1, 2, 1], { rows: 4, cols: 3, data: Float64Array.from(P.flat()) }), 0.5736542308362171);
    // pooled over tasks stacks the rows
    close(pooled(logLoss, [{ yTrue: [0, 1], yPred: P.slice(0, 2) }, { yTrue: [2, 1], yPred: P.slice(2) }]), 0.5736542308362171);
  });

  it('logLoss rejects labels and probabilities out of range', () => {
    expect(() => logLoss([0, 2], [0.1, 0.2])).to.throw(ValueError, /yTrue\[1\] is 2, expected a binary label/);
    expect(() => logLoss([0, 1], [0.1, 1.2])).to.throw(ValueError, /yPred\[1\] is 1.2, expected a probability/);
    expect(() => logLoss([0, 3], [[0.5, 0.5], [0.5, 0.5]])).to.throw(ValueError, /class index in 0..1/);
    expect(() => logLoss([0, 1, 1], [[0.5, 0.5], [0.5, 0.5]])).to.throw(ShapeError, /3 values but yPred has 2 rows/);
    expect(() => logLoss([0], [[1]])).to.throw(ShapeError, /at least 2 columns/);
  });

  it('rocAuc matches scikit-learn, ties by midranks', () => {
    close(rocAuc(bt, [0.1, 0.9, 0.4, 0.2, 0.8, 0.65, 0.55, 0.05, 1.0, 0.7]), 0.88);
    close(rocAuc(bt, [0.1, 0.9, 0.4, 0.4, 0.8, 0.4, 0.55, 0.05, 0.9, 0.7]), 0.8);
    expect(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])).to.equal(0.5);
    expect(rocAuc([0, 0, 1, 1], [1, 2, 3, 4])).to.equal(1);
    expect(rocAuc([0, 0, 1, 1], [4, 3, 2, 1])).to.equal(0);
    // invariant to any increasing transform of the scores
    const s = [0.1, 0.9, 0.4, 0.2, 0.8, 0.65, 0.55, 0.05, 1.0, 0.7];
    close(rocAuc(bt, s.map((v) => Math.log(v) * 3 - 1)), 0.88);
  });

  it('rocAuc needs both classes and binary labels', () => {
    expect(() => rocAuc([1, 1], [0.2, 0.3])).to.throw(ValueError, /only positives/);
    expect(() => rocAuc([0, 2], [0.2, 0.3])).to.throw(ValueError, /binary label/);
    expect(() => rocAuc([0, 1], [0.2, NaN])).to.throw(ValueError, /NaN/);
  });
});
