/**
 * STCH: Lin, Zhang, Liu, Yang & Zhang, "Smooth Tchebycheff Scalarization for Multi-Objective
 * Optimization", ICML 2024.
 *
 * Tchebycheff scalarisation minimises the worst weighted objective, max_t lambda_t f_t, which
 * can reach every Pareto-optimal point but is not smooth. STCH replaces the max by its smooth
 * log-sum-exp approximation with smoothing mu > 0 (the paper's Eq. 7, ideal point 0):
 *
 *   g_mu(f) = mu log sum_t exp(lambda_t f_t / mu),
 *
 * which satisfies max_t lambda_t f_t <= g_mu <= max_t lambda_t f_t + mu log T and tends to the
 * Tchebycheff scalarisation as mu -> 0. The network trains on T g_mu (LibMTL's scale: weights
 * summing to T for lambda = 1), so the loss weights are its derivatives
 *
 *   w_t = T lambda_t p_t df_t/dL_t,     p = softmax(lambda f / mu),
 *
 * most weight going to the currently worst task. The objectives f_t are normalised losses, as in
 * the paper's multi-task experiments and LibMTL: with `objective: 'log'` (default)
 * f_t = log(L_t / n_t), df_t/dL_t = 1 / L_t; with 'loss', f_t = L_t / n_t, df_t/dL_t = 1 / n_t.
 * The nadir n_t is the `nadir` option, or else measured: during the first `warmupEpochs` epochs
 * the network trains on sum_t f_t with n = 1 (weights df_t/dL_t), and the mean training losses of
 * the last of them (from onEpochEnd) become n. LibMTL's STCH_warmup_epoch = 4 is warmupEpochs 5
 * here (it measures during the epoch after its warm-up epochs).
 */
import { ConfigError, ValueError } from '../../core/errors.js';
import { custom, num, oneOf, parseOptions } from '../../core/options.js';
import { LossStrategy, checkPositive, stateArrayOrNull } from './base.js';
import { softmax } from './linalg.js';
import type { StrategyResult, StrategyStep } from './strategy.js';

export interface STCHOptions {
  /** Smoothing mu > 0 (default 1, LibMTL's); smaller is closer to the plain Tchebycheff max. */
  mu?: number;
  /** Preference lambda_t > 0 per task (default 1 for every task). */
  preference?: readonly number[];
  /** 'log' (default): f_t = log(L_t / n_t); 'loss': f_t = L_t / n_t. */
  objective?: 'log' | 'loss';
  /** Epochs of warm-up that measure the nadir n (default 5); ignored when `nadir` is given. */
  warmupEpochs?: number;
  /** Known nadir n_t > 0 per task (default: measured during the warm-up). */
  nadir?: readonly number[];
  /** Floor of the losses before the log (default 1e-20, LibMTL's). */
  eps?: number;
}

const positiveArray = (v: unknown): boolean => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0);

/** The smooth Tchebycheff value g_mu = mu log sum_t exp(lambda_t f_t / mu), computed stably. */
export function stchValue(f: ArrayLike<number>, preference: ArrayLike<number>, mu: number): number {
  let max = -Infinity;
  for (let t = 0; t < f.length; t++) max = Math.max(max, (preference[t]! * f[t]!) / mu);
  let sum = 0;
  for (let t = 0; t < f.length; t++) sum += Math.exp((preference[t]! * f[t]!) / mu - max);
  return mu * (max + Math.log(sum));
}

export class STCH extends LossStrategy {
  readonly name = 'stch';
  readonly mu: number;
  readonly objective: 'log' | 'loss';
  readonly warmupEpochs: number;
  readonly eps: number;
  private readonly preferenceOption: readonly number[] | undefined;
  private readonly nadirOption: readonly number[] | undefined;
  private preference: Float64Array = new Float64Array(0);
  /** The nadir n (null while it is being measured). */
  private nadir: Float64Array | null = null;

  constructor(options?: STCHOptions) {
    super('STCH');
    const o = parseOptions<STCHOptions>('STCH', options, {
      mu: num({ default: 1, min: 0, exclusiveMin: true }),
      preference: custom('an array of positive numbers (one per task)', positiveArray),
      objective: oneOf(['log', 'loss'] as const, 'log'),
      warmupEpochs: num({ default: 5, min: 0, integer: true }),
      nadir: custom('an array of positive numbers (one per task)', positiveArray),
      eps: num({ default: 1e-20, min: 0, exclusiveMin: true }),
    });
    this.mu = o.mu!;
    this.objective = o.objective!;
    this.warmupEpochs = o.warmupEpochs!;
    this.eps = o.eps!;
    this.preferenceOption = o.preference;
    this.nadirOption = o.nadir;
  }

  override init(numTasks: number, numShared: number): void {
    for (const [key, v] of [['preference', this.preferenceOption], ['nadir', this.nadirOption]] as const) {
      if (v && v.length !== numTasks && Number.isInteger(numTasks) && numTasks > 0) {
        throw new ConfigError(`STCH: '${key}' has ${v.length} values but there are ${numTasks} tasks; give one per task`);
      }
    }
    super.init(numTasks, numShared);
    this.preference = this.preferenceOption ? Float64Array.from(this.preferenceOption) : new Float64Array(numTasks).fill(1);
  }

  protected override reset(): void {
    // Without warm-up and without a given nadir, the losses are used as they are (n = 1).
    const given = this.nadirOption ? Float64Array.from(this.nadirOption) : null;
    this.nadir = given ?? (this.warmupEpochs === 0 ? new Float64Array(this.numTasks).fill(1) : null);
  }

  /** The nadir in use (a copy), or null while it is being measured. */
  get nadirPoint(): Float64Array | null {
    return this.nadir ? this.nadir.slice() : null;
  }

  protected weigh(losses: Float64Array, step: StrategyStep): StrategyResult {
    checkPositive(this.label, losses);
    const T = this.numTasks;
    const L = Float64Array.from(losses, (l) => Math.max(l, this.eps));
    const log = this.objective === 'log';
    const n = this.nadir;
    if (!n || (step.epoch < this.warmupEpochs && !this.nadirOption)) {
      // Warm-up: the gradient of sum_t f_t with n = 1.
      return { weights: Float64Array.from(L, (l) => (log ? 1 / l : 1)) };
    }
    const f = Float64Array.from(L, (l, t) => (log ? Math.log(l / n[t]!) : l / n[t]!));
    const p = softmax(Float64Array.from(f, (v, t) => (this.preference[t]! * v) / this.mu));
    const weights = Float64Array.from(p, (pt, t) => T * this.preference[t]! * pt * (log ? 1 / L[t]! : 1 / n[t]!));
    return { weights };
  }

  /** At the end of the last warm-up epoch its mean losses become the nadir. */
  onEpochEnd(epochLosses: Float64Array, epoch: number): void {
    if (this.numTasks <= 0) throw new ValueError('STCH: onEpochEnd() was called before init(numTasks, numShared)');
    if (this.nadir || epoch < this.warmupEpochs - 1) return;
    // A task without labels in that epoch has no mean loss: its objective stays unnormalised.
    this.nadir = Float64Array.from({ length: this.numTasks }, (_, t) => {
      const l = epochLosses[t]!;
      return Number.isFinite(l) && l > 0 ? l : 1;
    });
  }

  protected override saveState(): Record<string, unknown> {
    return { nadir: this.nadir ? Array.from(this.nadir) : null };
  }

  protected override loadState(s: Record<string, unknown>, n: number): void {
    this.nadir = stateArrayOrNull(this.label, s.nadir, 'nadir', n);
  }
}
