/**
 * Input checks shared by the metrics: every metric validates its arguments once, with messages
 * that name the metric, the argument and the offending index.
 */
import { ShapeError, ValueError } from '../core/errors.js';
import { describe } from '../core/matrix.js';

/** A finite, non-empty numeric vector copied into a Float64Array. */
export function vector(input: unknown, metric: string, arg: string): Float64Array {
  if (!Array.isArray(input) && !(ArrayBuffer.isView(input) && !(input instanceof DataView))) {
    throw new ValueError(`${metric}: ${arg} must be an array or typed array of numbers, got ${describe(input)}`);
  }
  const src = input as ArrayLike<unknown>;
  if (src.length === 0) throw new ValueError(`${metric}: ${arg} is empty; a metric needs at least one sample`);
  const out = new Float64Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (typeof v !== 'number') throw new ValueError(`${metric}: ${arg}[${i}] is ${describe(v)}, expected a number`);
    if (!Number.isFinite(v)) throw new ValueError(`${metric}: ${arg}[${i}] is ${v}; metrics need finite values (drop missing labels first)`);
    out[i] = v;
  }
  return out;
}

/** yTrue and yPred as vectors of one length. */
export function pair(yTrue: unknown, yPred: unknown, metric: string): [Float64Array, Float64Array] {
  const a = vector(yTrue, metric, 'yTrue');
  const b = vector(yPred, metric, 'yPred');
  if (a.length !== b.length) {
    throw new ShapeError(`${metric}: yTrue has ${a.length} values but yPred has ${b.length}; they must have the same length`);
  }
  return [a, b];
}

/** Class labels must be integers (class indices or 0/1). */
export function checkLabels(y: Float64Array, metric: string, arg: string): void {
  for (let i = 0; i < y.length; i++) {
    if (!Number.isInteger(y[i])) throw new ValueError(`${metric}: ${arg}[${i}] is ${y[i]}, expected an integer class label`);
  }
}

/** Binary labels must be 0 or 1. */
export function checkBinary(y: Float64Array, metric: string, arg: string): void {
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 0 && y[i] !== 1) throw new ValueError(`${metric}: ${arg}[${i}] is ${y[i]}, expected a binary label 0 or 1`);
  }
}
