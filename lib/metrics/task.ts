/**
 * The metrics a model's `evaluate` reports for one task, from its predictions, in the shape of
 * {@link TaskMetrics}: `loss` (what the model trains on, lower is better) and `n`, plus
 *   regression:     mse (= loss), mae, r2
 *   classification: logloss (= loss, from probabilities), accuracy
 * and `evaluation`, which averages the task losses. Definitions are those of ./regression.ts
 * and ./classification.ts (scikit-learn's).
 */
import type { Evaluation, TaskMetrics } from '../core/estimator.js';
import type { Matrix } from '../core/matrix.js';
import { accuracy, logLoss } from './classification.js';
import { mae, mse, r2 } from './regression.js';

/** Regression: loss = mse, mae, r2 of predicted values. */
export function regressionMetrics(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): TaskMetrics {
  const n = yTrue.length;
  if (n === 0) return { loss: NaN, n: 0 } as TaskMetrics;
  const m = mse(yTrue, yPred);
  return { loss: m, n, mse: m, mae: mae(yTrue, yPred), r2: r2(yTrue, yPred) } as TaskMetrics;
}

/**
 * Classification from probabilities: a vector of P(y = 1) (labels 0/1) or an n x C matrix
 * (labels are class indices 0..C-1). loss = logloss; accuracy of the most probable class.
 */
export function classificationMetrics(yTrue: ArrayLike<number>, proba: ArrayLike<number> | Matrix): TaskMetrics {
  const n = yTrue.length;
  if (n === 0) return { loss: NaN, n: 0 } as TaskMetrics;
  const ll = logLoss(yTrue, proba as never);
  const pred = new Float64Array(n);
  if ('cols' in proba && typeof proba.cols === 'number') {
    const C = proba.cols;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (proba.data[i * C + c]! > proba.data[i * C + best]!) best = c;
      pred[i] = best;
    }
  } else {
    const p = proba as ArrayLike<number>;
    for (let i = 0; i < n; i++) pred[i] = p[i]! > 0.5 ? 1 : 0;
  }
  return { loss: ll, n, logloss: ll, accuracy: accuracy(yTrue, pred) } as TaskMetrics;
}

/** The evaluation of several tasks: their metrics and the mean of their losses (tasks with rows). */
export function evaluation(tasks: Record<string, TaskMetrics>): Evaluation {
  let s = 0;
  let k = 0;
  for (const m of Object.values(tasks)) {
    if (m.n > 0) {
      s += m.loss;
      k++;
    }
  }
  return { loss: k > 0 ? s / k : NaN, tasks };
}
