/**
 * MoCo: Fernando, Shen, Liu, Chaudhury, Murugesan & Chen, "Mitigating Gradient Bias in
 * Multi-objective Learning: A Provably Convergent Approach", ICLR 2023 (Algorithm 1).
 *
 * MGDA's weights computed from stochastic gradients are biased (the min-norm point is a nonlinear
 * function of the gradients). MoCo tracks each task's gradient with a moving average Y (T x S)
 * and takes a projected-gradient step on the min-norm problem over the tracked gradients instead
 * of solving it afresh on every batch:
 *
 *   Y <- Y - beta_k (Y - G)                                   (beta_k = beta / k^betaSigma, Y = 0 at start)
 *   lambda <- Proj_simplex(lambda - gamma_k (Y Y^T + rho I) lambda)   (gamma_k = gamma / k^gammaSigma, lambda = 1/T at start)
 *   d = Y^T lambda
 *
 * for steps k = 1, 2, ... The paper proves that Y tracks the true gradients and lambda the
 * (rho-regularised) MGDA weights, so d converges to the common descent direction without MGDA's
 * bias; with a constant G, lambda converges to argmin_{lambda in simplex} lambda^T (G G^T + rho I) lambda.
 * Defaults are LibMTL's (beta 0.5, betaSigma 0.5, gamma 0.1, gammaSigma 0.5, rho 0).
 *
 * Differences from LibMTL's version, which follows the authors' code: it maps lambda back with a
 * softmax where the paper projects onto the simplex (we project), and it rescales every task
 * gradient to the length of its loss, g_t L_t / ||g_t||, before tracking it -- available here as
 * `normalization: 'loss'` (default 'none', the paper's algorithm).
 *
 * Scale: lambda sums to 1, so d is on the mean-gradient scale, as MGDA. Head weights: lambda.
 */
import type { Matrix } from '../../core/matrix.js';
import { num, oneOf, parseOptions } from '../../core/options.js';
import { GradientStrategy, stateArray, stateInt } from './base.js';
import { combineRows, gramMatrix, matVec, projectSimplex } from './linalg.js';
import type { StrategyResult } from './strategy.js';

export interface MoCoOptions {
  /** Tracking rate of the gradient estimates Y (default 0.5). */
  beta?: number;
  /** Decay exponent of beta over the steps (default 0.5). */
  betaSigma?: number;
  /** Step size of the weights lambda (default 0.1). */
  gamma?: number;
  /** Decay exponent of gamma over the steps (default 0.5). */
  gammaSigma?: number;
  /** l2 regularisation of lambda's problem (default 0). */
  rho?: number;
  /** 'none' (default): track the raw gradients; 'loss': track g_t L_t / ||g_t|| as the authors' code. */
  normalization?: 'none' | 'loss';
}

export class MoCo extends GradientStrategy {
  readonly name = 'moco';
  readonly options: Required<MoCoOptions>;
  private steps = 0;
  /** T x S tracked gradients, row-major. */
  private tracked: Float64Array = new Float64Array(0);
  private lambda: Float64Array = new Float64Array(0);

  constructor(options?: MoCoOptions) {
    super('MoCo');
    this.options = parseOptions<Required<MoCoOptions>>('MoCo', options, {
      beta: num({ default: 0.5, min: 0, max: 1, exclusiveMin: true }),
      betaSigma: num({ default: 0.5, min: 0 }),
      gamma: num({ default: 0.1, min: 0, exclusiveMin: true }),
      gammaSigma: num({ default: 0.5, min: 0 }),
      rho: num({ default: 0, min: 0 }),
      normalization: oneOf(['none', 'loss'] as const, 'none'),
    });
  }

  protected override reset(): void {
    this.steps = 0;
    this.tracked = new Float64Array(this.numTasks * this.numShared);
    this.lambda = new Float64Array(this.numTasks).fill(1 / this.numTasks);
  }

  /** The current weights lambda (a copy). */
  currentWeights(): Float64Array {
    return this.lambda.slice();
  }

  protected aggregate(g: Matrix<Float64Array>, losses: Float64Array): StrategyResult {
    const T = this.numTasks;
    const S = this.numShared;
    const { beta, betaSigma, gamma, gammaSigma, rho, normalization } = this.options;
    this.steps++;
    const b = beta / Math.pow(this.steps, betaSigma);
    const y = this.tracked;
    for (let t = 0; t < T; t++) {
      let scale = 1;
      if (normalization === 'loss') {
        let ss = 0;
        for (let j = t * S; j < (t + 1) * S; j++) ss += g.data[j]! * g.data[j]!;
        scale = losses[t]! / (Math.sqrt(ss) + 1e-8);
      }
      for (let j = t * S; j < (t + 1) * S; j++) y[j] = y[j]! - b * (y[j]! - scale * g.data[j]!);
    }
    const ym: Matrix<Float64Array> = { rows: T, cols: S, data: y };
    const gram = gramMatrix(ym);
    for (let t = 0; t < T; t++) gram[t * T + t] = gram[t * T + t]! + rho;
    const grad = matVec(gram, this.lambda, T);
    const c = gamma / Math.pow(this.steps, gammaSigma);
    this.lambda = projectSimplex(Float64Array.from(this.lambda, (l, t) => l - c * grad[t]!));
    return { weights: this.lambda.slice(), shared: combineRows(ym, this.lambda) };
  }

  protected override saveState(): Record<string, unknown> {
    // The T x S estimates as a Float64Array: compact and exact in the model format.
    return { numShared: this.numShared, steps: this.steps, tracked: this.tracked.slice(), lambda: Array.from(this.lambda) };
  }

  protected override loadState(s: Record<string, unknown>, n: number, numShared: number): void {
    const tracked = stateArray(this.label, s.tracked, 'tracked', n * numShared);
    const lambda = stateArray(this.label, s.lambda, 'lambda', n);
    this.steps = stateInt(this.label, s.steps, 'steps');
    this.tracked = tracked;
    this.lambda = lambda;
  }
}
