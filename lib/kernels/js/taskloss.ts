/**
 * Per-task losses of linear models over stacked rows, in plain TypeScript: the fallback twin of
 * native/src/kernels/taskloss.cc. Task t owns rows offsets[t]..offsets[t+1]-1, z = x . W[t,:] + b_t:
 *   squared:  l_t = scale_t (1/2) sum_i (z_i - y_i)^2,   dl/dz_i = scale_t (z_i - y_i)
 *   logistic: l_t = scale_t sum_i log(1 + e^{z_i}) - y_i z_i,   dl/dz_i = scale_t (sigmoid(z_i) - y_i)
 * log(1 + e^z) is evaluated as log1p(e^{-|z|}) + max(z, 0), which never overflows and keeps full
 * precision for large |z| (the softplus identity; e.g. Murphy, Probabilistic ML, sec. 10.2).
 */
import type { TaskLossArgs } from '../types.js';

/** Logistic sigmoid without overflow: exp is only ever taken of a non-positive number. */
function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const ez = Math.exp(z);
  return ez / (1 + ez);
}

export function taskLoss(args: TaskLossArgs): Float64Array {
  const { x, y, offsets, w, intercept, scale, loss, gradW, gradIntercept } = args;
  const d = x.cols;
  const T = w.rows;
  const X = x.data;
  const Wd = w.data;
  const GW = gradW?.data;
  const logistic = loss === 'logistic';
  const losses = new Float64Array(T);
  if (GW) GW.fill(0);
  if (gradIntercept) gradIntercept.fill(0);
  for (let t = 0; t < T; t++) {
    const wBase = t * d;
    const b = intercept[t]!;
    let lt = 0;
    let gb = 0;
    for (let i = offsets[t]!; i < offsets[t + 1]!; i++) {
      const xBase = i * d;
      let z = 0;
      for (let k = 0; k < d; k++) z += X[xBase + k]! * Wd[wBase + k]!;
      z += b;
      const yi = y[i]!;
      let r: number; // dl/dz before the task's scale
      if (logistic) {
        lt += Math.log1p(Math.exp(-Math.abs(z))) + Math.max(z, 0) - yi * z;
        r = sigmoid(z) - yi;
      } else {
        r = z - yi;
        lt += 0.5 * r * r;
      }
      if (GW) for (let k = 0; k < d; k++) GW[wBase + k]! += r * X[xBase + k]!;
      gb += r;
    }
    const sc = scale[t]!;
    losses[t] = sc * lt;
    // Scaling once per task (not per row) saves n*d multiplications.
    if (GW) for (let k = 0; k < d; k++) GW[wBase + k]! *= sc;
    if (gradIntercept) gradIntercept[t] = sc * gb;
  }
  return losses;
}
