/**
 * Optimiser updates over flat parameter vectors in plain TypeScript: the fallback twin of
 * native/src/kernels/optim.cc (contract: AdamArgs, SgdArgs, RmspropArgs in ../types.ts).
 *
 * The update rules are PyTorch's (torch.optim.Adam / AdamW / SGD / RMSprop, non-foreach path,
 * maximize=False, amsgrad=False, centered=False), element by element:
 *
 *   Adam:    g <- g + wd p                                  (L2 decay, Adam only)
 *            p <- p (1 - lr wd)                             (decoupled decay, AdamW only)
 *            m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
 *            p <- p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *   SGD:     g <- g + wd p
 *            buf <- g at t = 1, else momentum buf + (1 - dampening) g
 *            d <- g + momentum buf (Nesterov) or buf ;  p <- p - lr d
 *   RMSprop: g <- g + wd p ;  s <- alpha s + (1 - alpha) g^2 ;  a <- sqrt(s) + eps
 *            buf <- momentum buf + g / a ; p <- p - lr buf   (momentum > 0)
 *            p <- p - lr g / a                                (otherwise)
 *
 * Every intermediate is a JS double; only the stored params and state are rounded to the
 * array's type (float32 for networks), which is what "accumulate in double" means for the C++
 * twin too: read, compute in double, write once.
 *
 * State below the smallest normal number of its array's type is stored as zero, as the C++ twin
 * does: the moments of a parameter whose gradient stays zero decay into the subnormal range,
 * where x86 arithmetic is many times slower; a zero moment moves the parameter by the same amount
 * to within a subnormal step.
 */
import type { FloatArray } from '../../core/matrix.js';
import type { AdamArgs, OptimKernels, RmspropArgs, SgdArgs } from '../types.js';

/** The smallest normal number of the array's element type. */
function smallestNormal(a: FloatArray): number {
  return a instanceof Float32Array ? 2 ** -126 : 2 ** -1022;
}

/** `x`, or zero when it is below `tiny` in magnitude. */
function flushSubnormal(x: number, tiny: number): number {
  return Math.abs(x) < tiny ? 0 : x;
}

export function adamStep<T extends FloatArray>(args: AdamArgs<T>): void {
  const { params, grad, m, v, lr, beta1, beta2, eps, weightDecay, decoupledWeightDecay, step } = args;
  const n = params.length;
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
  const stepSize = lr / bc1;
  // AdamW shrinks the parameters before the moment update; Adam folds decay into the gradient.
  const shrink = decoupledWeightDecay ? 1 - lr * weightDecay : 1;
  const l2 = decoupledWeightDecay ? 0 : weightDecay;
  const tiny = smallestNormal(m);
  for (let i = 0; i < n; i++) {
    let p = params[i]!;
    const g = grad[i]! + l2 * p;
    p *= shrink;
    const mi = flushSubnormal(beta1 * m[i]! + (1 - beta1) * g, tiny);
    const vi = flushSubnormal(beta2 * v[i]! + (1 - beta2) * g * g, tiny);
    m[i] = mi;
    v[i] = vi;
    params[i] = p - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
  }
}

export function sgdStep<T extends FloatArray>(args: SgdArgs<T>): void {
  const { params, grad, velocity, lr, momentum, dampening, nesterov, weightDecay, step } = args;
  const n = params.length;
  if (momentum === 0) {
    for (let i = 0; i < n; i++) {
      const p = params[i]!;
      params[i] = p - lr * (grad[i]! + weightDecay * p);
    }
    return;
  }
  if (!velocity) throw new RangeError('sgdStep: momentum > 0 needs a velocity buffer');
  // PyTorch creates the buffer as a copy of the first gradient (no dampening at step 1).
  const first = step <= 1;
  const tiny = smallestNormal(velocity);
  for (let i = 0; i < n; i++) {
    const p = params[i]!;
    const g = grad[i]! + weightDecay * p;
    const b = flushSubnormal(first ? g : momentum * velocity[i]! + (1 - dampening) * g, tiny);
    velocity[i] = b;
    params[i] = p - lr * (nesterov ? g + momentum * b : b);
  }
}

export function rmspropStep<T extends FloatArray>(args: RmspropArgs<T>): void {
  const { params, grad, squareAvg, momentumBuf, lr, alpha, eps, momentum, weightDecay } = args;
  const n = params.length;
  if (momentum > 0 && !momentumBuf) throw new RangeError('rmspropStep: momentum > 0 needs a momentum buffer');
  const tiny = smallestNormal(squareAvg);
  for (let i = 0; i < n; i++) {
    const p = params[i]!;
    const g = grad[i]! + weightDecay * p;
    const s = flushSubnormal(alpha * squareAvg[i]! + (1 - alpha) * g * g, tiny);
    squareAvg[i] = s;
    const a = Math.sqrt(s) + eps;
    if (momentum > 0) {
      const b = flushSubnormal(momentum * momentumBuf![i]! + g / a, tiny);
      momentumBuf![i] = b;
      params[i] = p - lr * b;
    } else {
      params[i] = p - (lr * g) / a;
    }
  }
}

export const jsOptim: OptimKernels = { adamStep, sgdStep, rmspropStep };
