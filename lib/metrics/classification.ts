/**
 * Classification metrics, scikit-learn's definitions (sklearn.metrics 1.2):
 *
 *   accuracy  = (1/n) sum [y == p]
 *   precision = tp / (tp + fp),  recall = tp / (tp + fn),  f1 = 2 tp / (2 tp + fp + fn)
 *     average 'binary': the positive class posLabel (default 1) only;
 *             'macro':  unweighted mean of the per-class values over every label seen in yTrue or yPred;
 *             'micro':  tp, fp, fn summed over classes first (equals accuracy for single-label data).
 *     A 0/0 counts as 0 (scikit-learn's zero_division default, without its warning).
 *   logLoss   = -(1/n) sum_i log p_i[y_i], probabilities clipped to [eps, 1 - eps] (eps = 2^-52,
 *               scikit-learn's "auto" for float64) and each row renormalised to sum 1;
 *               binary: yPred[i] = P(y_i = 1); multiclass: yPred an n x C matrix, yTrue in 0..C-1.
 *   rocAuc    = P(score of a positive > score of a negative) + P(tie)/2, computed from midranks
 *               (Mann-Whitney U), which equals scikit-learn's trapezoidal ROC area with ties.
 */
import { ShapeError, ValueError } from '../core/errors.js';
import { toMatrix, type MatrixLike, type VectorLike } from '../core/matrix.js';
import { checkBinary, checkLabels, pair, vector } from './check.js';

export type Average = 'binary' | 'macro' | 'micro';

export interface PrfOptions {
  /** Default 'binary'. */
  average?: Average;
  /** The positive class for average 'binary' (default 1). */
  posLabel?: number;
}

export function accuracy(yTrue: VectorLike, yPred: VectorLike): number {
  const [y, p] = pair(yTrue, yPred, 'accuracy');
  let hits = 0;
  for (let i = 0; i < y.length; i++) if (y[i] === p[i]) hits++;
  return hits / y.length;
}

export function precision(yTrue: VectorLike, yPred: VectorLike, options: PrfOptions = {}): number {
  return prf('precision', yTrue, yPred, options, (tp, fp) => ratio(tp, tp + fp));
}

export function recall(yTrue: VectorLike, yPred: VectorLike, options: PrfOptions = {}): number {
  return prf('recall', yTrue, yPred, options, (tp, _fp, fn) => ratio(tp, tp + fn));
}

export function f1(yTrue: VectorLike, yPred: VectorLike, options: PrfOptions = {}): number {
  return prf('f1', yTrue, yPred, options, (tp, fp, fn) => ratio(2 * tp, 2 * tp + fp + fn));
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

type Score = (tp: number, fp: number, fn: number) => number;

function prf(metric: string, yTrue: VectorLike, yPred: VectorLike, options: PrfOptions, score: Score): number {
  if (options === null || typeof options !== 'object') throw new ValueError(`${metric}: options must be an object`);
  const average = options.average ?? 'binary';
  if (average !== 'binary' && average !== 'macro' && average !== 'micro') {
    throw new ValueError(`${metric}: average must be 'binary', 'macro' or 'micro', got ${String(average)}`);
  }
  const [y, p] = pair(yTrue, yPred, metric);
  checkLabels(y, metric, 'yTrue');
  checkLabels(p, metric, 'yPred');
  const labels = [...new Set([...y, ...p])].sort((a, b) => a - b);
  const counts = (label: number): [number, number, number] => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < y.length; i++) {
      const isTrue = y[i] === label;
      const isPred = p[i] === label;
      if (isTrue && isPred) tp++;
      else if (isPred) fp++;
      else if (isTrue) fn++;
    }
    return [tp, fp, fn];
  };
  if (average === 'binary') {
    const pos = options.posLabel ?? 1;
    if (labels.length > 2) {
      throw new ValueError(
        `${metric}: the labels are multiclass (${labels.slice(0, 6).join(', ')}${labels.length > 6 ? ', ...' : ''}) ` +
          `but average is 'binary'; choose average 'macro' or 'micro'`,
      );
    }
    if (labels.length === 2 && !labels.includes(pos)) {
      throw new ValueError(`${metric}: posLabel ${pos} is not one of the labels present (${labels.join(', ')})`);
    }
    return score(...counts(pos));
  }
  if (average === 'micro') {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const l of labels) {
      const [a, b, c] = counts(l);
      tp += a;
      fp += b;
      fn += c;
    }
    return score(tp, fp, fn);
  }
  let sum = 0;
  for (const l of labels) sum += score(...counts(l));
  return sum / labels.length;
}

export interface LogLossOptions {
  /** Clipping of probabilities; default 2^-52 (scikit-learn 1.2's "auto" for float64). */
  eps?: number;
}

/** Binary (yPred a vector of P(y = 1)) or multiclass (yPred n x C, yTrue class indices). */
export function logLoss(yTrue: VectorLike, yPred: VectorLike | MatrixLike, options: LogLossOptions = {}): number {
  const eps = options.eps ?? Number.EPSILON;
  if (!(eps > 0 && eps < 0.5)) throw new ValueError(`logLoss: eps must be in (0, 0.5), got ${eps}`);
  const y = vector(yTrue, 'logLoss', 'yTrue');
  if (isMatrixInput(yPred)) {
    const P = toMatrix(yPred, 'logLoss: yPred', { allowEmpty: true });
    if (P.rows === 0) throw new ValueError('logLoss: yPred is empty; a metric needs at least one sample');
    if (P.rows !== y.length) throw new ShapeError(`logLoss: yTrue has ${y.length} values but yPred has ${P.rows} rows`);
    if (P.cols < 2) throw new ShapeError(`logLoss: a multiclass yPred needs at least 2 columns, got ${P.cols}`);
    checkLabels(y, 'logLoss', 'yTrue');
    const C = P.cols;
    let total = 0;
    for (let i = 0; i < y.length; i++) {
      const c = y[i]!;
      if (c < 0 || c >= C) throw new ValueError(`logLoss: yTrue[${i}] is ${c}, expected a class index in 0..${C - 1}`);
      let rowSum = 0;
      for (let j = 0; j < C; j++) rowSum += clip(checkProb(P.data[i * C + j]!, i, j), eps);
      total -= Math.log(clip(P.data[i * C + c]!, eps) / rowSum);
    }
    return total / y.length;
  }
  const p = vector(yPred, 'logLoss', 'yPred');
  if (p.length !== y.length) throw new ShapeError(`logLoss: yTrue has ${y.length} values but yPred has ${p.length}`);
  checkBinary(y, 'logLoss', 'yTrue');
  let total = 0;
  for (let i = 0; i < y.length; i++) {
    const q = clip(checkProb(p[i]!, i), eps);
    // The two clipped probabilities q and 1 - q already sum to 1: no renormalisation needed.
    total -= Math.log(y[i] === 1 ? q : 1 - q);
  }
  return total / y.length;
}

function clip(q: number, eps: number): number {
  return q < eps ? eps : q > 1 - eps ? 1 - eps : q;
}

function checkProb(q: number, i: number, j?: number): number {
  if (!(q >= 0 && q <= 1)) {
    throw new ValueError(`logLoss: yPred[${i}]${j === undefined ? '' : `[${j}]`} is ${q}, expected a probability in [0, 1]`);
  }
  return q;
}

function isMatrixInput(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0 && (Array.isArray(v[0]) || ArrayBuffer.isView(v[0]));
  return v !== null && typeof v === 'object' && !ArrayBuffer.isView(v) && 'data' in (v as object);
}

/** Area under the ROC curve of binary labels (0/1) and scores (higher = more positive). */
export function rocAuc(yTrue: VectorLike, scores: VectorLike): number {
  const [y, s] = pair(yTrue, scores, 'rocAuc');
  checkBinary(y, 'rocAuc', 'yTrue');
  const n = y.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => s[a]! - s[b]!);
  // Midranks: tied scores share the mean of the ranks they span (1-based).
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && s[order[j + 1]!] === s[order[i]!]) j++;
    const mid = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) {
      if (y[order[k]!] === 1) {
        rankSumPos += mid;
        nPos++;
      }
    }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) {
    throw new ValueError(`rocAuc: yTrue has only ${nPos === 0 ? 'negatives (0)' : 'positives (1)'}; the ROC AUC needs both classes`);
  }
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}
