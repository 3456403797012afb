/**
 * A few learned strategy parameters (log-variances, logits) with their own Adam optimiser, as
 * uncertainty weighting, FAMO and GradNorm's LibMTL convention keep them, and their saved form
 * { [name]: values, m, v, steps } inside the strategy's state.
 */
import { adamStep } from '../../kernels/js/optim.js';
import { stateArray, stateInt } from './base.js';

export class AdamVector {
  values: Float64Array;
  private m: Float64Array;
  private v: Float64Array;
  private steps: number;

  constructor(n: number, initial = 0) {
    this.values = new Float64Array(n).fill(initial);
    this.m = new Float64Array(n);
    this.v = new Float64Array(n);
    this.steps = 0;
  }

  /** One PyTorch Adam step (betas 0.9, 0.999, eps 1e-8; L2 weight decay folded into the gradient). */
  step(grad: Float64Array, lr: number, weightDecay = 0): void {
    this.steps++;
    // A handful of numbers: the TypeScript kernel directly, a native call would cost more than the work.
    adamStep({ params: this.values, grad, m: this.m, v: this.v, lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay, decoupledWeightDecay: false, step: this.steps });
  }

  /** The saved fields, the values under `name`. */
  save(name: string): Record<string, unknown> {
    return { [name]: Array.from(this.values), m: Array.from(this.m), v: Array.from(this.v), steps: this.steps };
  }

  /** Read what save(name) wrote for n values (FormatError on a bad field). */
  static load(owner: string, s: Record<string, unknown>, name: string, n: number): AdamVector {
    const out = new AdamVector(0);
    out.values = stateArray(owner, s[name], name, n);
    out.m = stateArray(owner, s.m, 'm', n);
    out.v = stateArray(owner, s.v, 'v', n);
    out.steps = stateInt(owner, s.steps, 'steps');
    return out;
  }
}
