/**
 * Regression metrics, scikit-learn's definitions (sklearn.metrics, single output):
 *
 *   mse  = (1/n) sum (y - p)^2          rmse = sqrt(mse)          mae = (1/n) sum |y - p|
 *   r2   = 1 - sum (y - p)^2 / sum (y - mean y)^2
 *   explainedVariance = 1 - Var(y - p) / Var(y)
 *   nmse = mse / Var(y)  (normalised MSE: 1 means "no better than predicting the mean")
 *
 * Var is the population variance (divide by n). For a constant yTrue, r2 and explainedVariance
 * follow scikit-learn's force_finite rule (1 for a perfect prediction, else 0); nmse has no such
 * convention and raises a ValueError. For several tasks use perTask / pooled from ./index.ts.
 */
import { ValueError } from '../core/errors.js';
import type { VectorLike } from '../core/matrix.js';
import { pair } from './check.js';

export function mse(yTrue: VectorLike, yPred: VectorLike): number {
  const [y, p] = pair(yTrue, yPred, 'mse');
  return sumSq(y, p) / y.length;
}

export function rmse(yTrue: VectorLike, yPred: VectorLike): number {
  const [y, p] = pair(yTrue, yPred, 'rmse');
  return Math.sqrt(sumSq(y, p) / y.length);
}

export function mae(yTrue: VectorLike, yPred: VectorLike): number {
  const [y, p] = pair(yTrue, yPred, 'mae');
  let s = 0;
  for (let i = 0; i < y.length; i++) s += Math.abs(y[i]! - p[i]!);
  return s / y.length;
}

export function r2(yTrue: VectorLike, yPred: VectorLike): number {
  const [y, p] = pair(yTrue, yPred, 'r2');
  return forceFinite(sumSq(y, p), centredSumSq(y));
}

export function explainedVariance(yTrue: VectorLike, yPred: VectorLike): number {
  const [y, p] = pair(yTrue, yPred, 'explainedVariance');
  const resid = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) resid[i] = y[i]! - p[i]!;
  return forceFinite(centredSumSq(resid), centredSumSq(y));
}

export function nmse(yTrue: VectorLike, yPred: VectorLike): number {
  const [y, p] = pair(yTrue, yPred, 'nmse');
  const ss = centredSumSq(y);
  if (ss === 0) {
    throw new ValueError('nmse: yTrue is constant, so its variance is 0 and the normalised MSE is undefined; use mse');
  }
  return sumSq(y, p) / ss;
}

function sumSq(y: Float64Array, p: Float64Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const d = y[i]! - p[i]!;
    s += d * d;
  }
  return s;
}

/** sum (a - mean a)^2, two passes for accuracy. */
function centredSumSq(a: Float64Array): number {
  let mean = 0;
  for (let i = 0; i < a.length; i++) mean += a[i]!;
  mean /= a.length;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - mean) ** 2;
  return s;
}

/** 1 - num / den with scikit-learn's convention for den = 0. */
function forceFinite(num: number, den: number): number {
  if (den === 0) return num === 0 ? 1 : 0;
  return 1 - num / den;
}
