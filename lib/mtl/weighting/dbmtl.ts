/**
 * DB-MTL (dual balancing): Lin, Ye, Zhang & Kwok, "Dual-Balancing for Multi-Task Learning", 2023
 * (arXiv:2308.12029), as in LibMTL's DB_MTL.
 *
 * Loss-scale balancing: train on log L_t, whose gradient is g_t / L_t (g_t = dL_t/dtheta), so a
 * task's scale does not matter. Gradient-magnitude balancing: keep an EMA of each task's
 * log-loss gradient on the shared parameters and rescale every task to the largest norm:
 *
 *   h_t <- beta_k h_t + (1 - beta_k) g_t / (L_t + eps),   beta_k = beta / k^betaSigma  (k = 1, 2, ...; h = 0 at start)
 *   shared = sum_t (max_s ||h_s|| / (||h_t|| + eps)) h_t
 *
 * Heads receive the gradient of their own log-loss: head weight w_t = 1 / (L_t + eps).
 * Defaults: beta 0.9 (LibMTL's DB_beta) and betaSigma 0.5, a beta_k that decays over the steps;
 * LibMTL's default DB_beta_sigma is 0 (a constant beta): pass betaSigma: 0 to match it.
 */
import type { Matrix } from '../../core/matrix.js';
import { num, parseOptions } from '../../core/options.js';
import { kernels } from '../../kernels/index.js';
import { GradientStrategy, checkPositive, stateArray, stateInt } from './base.js';
import type { StrategyResult } from './strategy.js';

export interface DbMtlOptions {
  /** EMA factor of the gradients (default 0.9). */
  beta?: number;
  /** Decay exponent of beta over steps (default 0.5; LibMTL's default is 0). */
  betaSigma?: number;
  /** Added to losses and norms against division by 0 (default 1e-8). */
  eps?: number;
}

export class DbMtl extends GradientStrategy {
  readonly name = 'dbmtl';
  readonly beta: number;
  readonly betaSigma: number;
  readonly eps: number;
  private steps = 0;
  /** T x S EMA of the log-loss gradients, row-major. */
  private buffer: Float64Array = new Float64Array(0);

  constructor(options?: DbMtlOptions) {
    super('DB-MTL');
    const o = parseOptions<Required<DbMtlOptions>>('DB-MTL', options, {
      beta: num({ default: 0.9, min: 0, max: 1 }),
      betaSigma: num({ default: 0.5, min: 0 }),
      eps: num({ default: 1e-8, min: 0, exclusiveMin: true }),
    });
    this.beta = o.beta;
    this.betaSigma = o.betaSigma;
    this.eps = o.eps;
  }

  protected override reset(): void {
    this.steps = 0;
    this.buffer = new Float64Array(this.numTasks * this.numShared);
  }

  protected aggregate(g: Matrix<Float64Array>, losses: Float64Array): StrategyResult {
    checkPositive(this.label, losses);
    const T = this.numTasks;
    const S = this.numShared;
    this.steps++;
    const b = this.beta / Math.pow(this.steps, this.betaSigma);
    const h = this.buffer;
    const norms = new Float64Array(T);
    const weights = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      const inv = 1 / (losses[t]! + this.eps);
      weights[t] = inv;
      let ss = 0;
      for (let j = t * S, end = j + S; j < end; j++) {
        // h <- g/L + b (h - g/L), LibMTL's form of the EMA.
        const gl = g.data[j]! * inv;
        const v = gl + b * (h[j]! - gl);
        h[j] = v;
        ss += v * v;
      }
      norms[t] = Math.sqrt(ss);
    }
    let maxNorm = 0;
    for (let t = 0; t < T; t++) maxNorm = Math.max(maxNorm, norms[t]!);
    const alpha = new Float64Array(T);
    for (let t = 0; t < T; t++) alpha[t] = maxNorm / (norms[t]! + this.eps);
    // shared = alpha^T H: one 1 x T by T x S product.
    const shared: Matrix<Float64Array> = { rows: 1, cols: S, data: new Float64Array(S) };
    kernels().gemm({ rows: 1, cols: T, data: alpha }, { rows: T, cols: S, data: h }, shared);
    return { weights, shared: shared.data };
  }

  protected override saveState(): Record<string, unknown> {
    // The T x S buffer as a Float64Array: compact and exact in the model format.
    return { numShared: this.numShared, steps: this.steps, buffer: this.buffer.slice() };
  }

  protected override loadState(s: Record<string, unknown>, n: number, numShared: number): void {
    const buffer = stateArray(this.label, s.buffer, 'buffer', n * numShared);
    this.steps = stateInt(this.label, s.steps, 'steps');
    this.buffer = buffer;
  }
}
