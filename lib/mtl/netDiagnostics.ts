/**
 * Gradient diagnostics of multi-task training: per epoch, the mean cosine similarity of every pair
 * of tasks' shared-parameter gradients, the fraction of steps where two tasks conflict (cosine < 0,
 * PCGrad's sense; Yu et al. 2020), and each task's mean gradient norm. Tasks without labels in a
 * batch have a zero gradient and are left out of that step.
 */
import type { Matrix } from '../core/matrix.js';
import { byName } from './netMetrics.js';
import type { GradientDiagnostics } from './netOptions.js';

export function accumulateDiagnostics(g: Matrix<Float64Array>, cos: Float64Array, neg: Float64Array, pairs: Float64Array, normSum: Float64Array, normCount: Float64Array): void {
  const T = g.rows;
  const S = g.cols;
  const norms = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let k = 0; k < S; k++) s += g.data[t * S + k]! ** 2;
    norms[t] = Math.sqrt(s);
    // A task without labels in the batch has a zero gradient: it says nothing about conflicts.
    if (norms[t]! > 0) {
      normSum[t]! += norms[t]!;
      normCount[t]!++;
    }
  }
  for (let a = 0; a < T; a++) {
    for (let b = a; b < T; b++) {
      if (!(norms[a]! > 0 && norms[b]! > 0)) continue;
      let dot = 0;
      for (let k = 0; k < S; k++) dot += g.data[a * S + k]! * g.data[b * S + k]!;
      const c = dot / (norms[a]! * norms[b]!);
      for (const [i, j] of [[a, b], [b, a]] as const) {
        cos[i * T + j]! += c;
        if (c < 0) neg[i * T + j]!++;
        pairs[i * T + j]!++;
        if (a === b) break;
      }
    }
  }
}

export function finishDiagnostics(names: string[], cos: Float64Array, neg: Float64Array, pairs: Float64Array, normSum: Float64Array, normCount: Float64Array): GradientDiagnostics {
  const T = names.length;
  const mat = (src: Float64Array) => Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => (pairs[i * T + j]! > 0 ? src[i * T + j]! / pairs[i * T + j]! : NaN)));
  return {
    cosine: mat(cos),
    conflicts: mat(neg),
    norms: byName(names, Float64Array.from(normSum, (s, t) => (normCount[t]! > 0 ? s / normCount[t]! : NaN))),
  };
}
