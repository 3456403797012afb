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
import { checkInit, ones, softmax, stateArray, stateObject, stateTasks, stepLosses } from './lossCommon.js';
import type { StrategyResult, StrategyStep, WeightingStrategy } from './strategy.js';

export interface DwaOptions {
  /** Softmax temperature (default 2, the paper's). */
  temperature?: number;
}

export class DynamicWeightAverage implements WeightingStrategy {
  readonly name = 'dwa';
  readonly needsGradients = false;
  readonly temperature: number;
  private numTasks = 0;
  /** Mean losses of the two last epochs: [e - 2, e - 1] (fewer at the start). */
  private history: Float64Array[] = [];
  private weights: Float64Array = new Float64Array(0);
  private restored = false;

  constructor(options?: DwaOptions) {
    this.temperature = parseOptions<Required<DwaOptions>>('DWA', options, {
      temperature: num({ default: 2, min: 0, exclusiveMin: true }),
    }).temperature;
  }

  init(numTasks: number, numShared: number): void {
    checkInit('DWA', numTasks, numShared);
    if (this.restored && this.numTasks === numTasks) {
      this.restored = false;
      return;
    }
    this.restored = false;
    this.numTasks = numTasks;
    this.history = [];
    this.weights = ones(numTasks);
  }

  combine(step: StrategyStep): StrategyResult {
    stepLosses('DWA', step, this.numTasks);
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
    this.weights = this.computeWeights();
  }

  private computeWeights(): Float64Array {
    const T = this.numTasks;
    if (this.history.length < 2) return ones(T);
    const [older, last] = this.history as [Float64Array, Float64Array];
    const z = new Float64Array(T);
    // A loss that was already 0 two epochs ago gives no ratio; treat it as stalled (r = 1).
    for (let t = 0; t < T; t++) z[t] = (older[t]! > 0 ? last[t]! / older[t]! : 1) / this.temperature;
    const w = softmax(z);
    for (let t = 0; t < T; t++) w[t]! *= T;
    return w;
  }

  getState(): unknown {
    return { numTasks: this.numTasks, history: this.history.map((h) => Array.from(h)) };
  }

  setState(state: unknown): void {
    const s = stateObject('DWA', state);
    const n = stateTasks('DWA', s, this.numTasks);
    if (!Array.isArray(s.history) || s.history.length > 2) throw new FormatError('DWA: state.history must be an array of at most 2 loss arrays');
    const history = s.history.map((h, i) => stateArray('DWA', h, `history[${i}]`, n));
    this.numTasks = n;
    this.history = history;
    this.weights = this.computeWeights();
    this.restored = true;
  }
}
