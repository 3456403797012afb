/**
 * Dynamic weight average (DWA): Liu, Johns & Davison, "End-to-End Multi-Task Learning with
 * Attention", CVPR 2019 (section 3.3).
 *
 *   r_t = L_t(e - 1) / L_t(e - 2),     w_t = T exp(r_t / temperature) / sum_k exp(r_k / temperature)
 *
 * L_t(e) is task t's mean training loss over epoch e (given by the training loop through
 * onEpochEnd); for the first two epochs w_t = 1. A task whose loss stalls (r_t near 1) gains weight
 * over tasks still improving quickly (r_t < 1). Temperature 2 as in the paper.
 */
import { FormatError, ShapeError, ValueError } from '../../core/errors.js';
import { describe } from '../../core/matrix.js';
import { num, parseOptions } from '../../core/options.js';
import { LossStrategy, stateArray } from './base.js';
import { ones, softmax } from './linalg.js';
import type { StrategyResult } from './strategy.js';

export interface DwaOptions {
  /** Softmax temperature (default 2, the paper's). */
  temperature?: number;
}

export class DynamicWeightAverage extends LossStrategy {
  readonly name = 'dwa';
  readonly temperature: number;
  /** Mean losses of the two last epochs: [e - 2, e - 1] (fewer at the start). */
  private history: Float64Array[] = [];
  private weights: Float64Array = new Float64Array(0);

  constructor(options?: DwaOptions) {
    super('DWA');
    this.temperature = parseOptions<Required<DwaOptions>>('DWA', options, {
      temperature: num({ default: 2, min: 0, exclusiveMin: true }),
    }).temperature;
  }

  protected override reset(): void {
    this.history = [];
    this.weights = ones(this.numTasks);
  }

  protected weigh(): StrategyResult {
    return { weights: this.weights.slice() };
  }

  onEpochEnd(epochLosses: Float64Array, _epoch: number): void {
    const T = this.numTasks;
    if (T <= 0) throw new ValueError('DWA: onEpochEnd() was called before init(numTasks, numShared)');
    if (!epochLosses || epochLosses.length !== T) {
      throw new ShapeError(`DWA: onEpochEnd got ${describe(epochLosses)} of losses, expected one mean loss per task (${T})`);
    }
    for (let t = 0; t < T; t++) {
      if (!(epochLosses[t]! >= 0) || !Number.isFinite(epochLosses[t]!)) {
        throw new ValueError(`DWA: the epoch loss of task ${t} is ${epochLosses[t]}, expected a finite non-negative number`);
      }
    }
    this.history = [...this.history, Float64Array.from(epochLosses)].slice(-2);
    this.weights = this.computeWeights(T);
  }

  private computeWeights(T: number): Float64Array {
    if (this.history.length < 2) return ones(T);
    const [older, last] = this.history as [Float64Array, Float64Array];
    const z = new Float64Array(T);
    // A loss that was already 0 two epochs ago gives no ratio; treat it as stalled (r = 1).
    for (let t = 0; t < T; t++) z[t] = (older[t]! > 0 ? last[t]! / older[t]! : 1) / this.temperature;
    const w = softmax(z);
    for (let t = 0; t < T; t++) w[t]! *= T;
    return w;
  }

  protected override saveState(): Record<string, unknown> {
    return { history: this.history.map((h) => Array.from(h)) };
  }

  protected override loadState(s: Record<string, unknown>, n: number): void {
    if (!Array.isArray(s.history) || s.history.length > 2) throw new FormatError('DWA: state.history must be an array of at most 2 loss arrays');
    this.history = s.history.map((h, i) => stateArray(this.label, h, `history[${i}]`, n));
    this.weights = this.computeWeights(n);
  }
}
