/**
 * The interface every task-weighting / gradient strategy implements. A user adds a
 * strategy by implementing it and passing the object as `weighting` to MultiTaskNet.
 *
 * The training loop calls `combine` once per step with the per-task losses of the batch and,
 * when `needsGradients` is true, the per-task gradients w.r.t. the SHARED parameters (T x S).
 * It returns the weights applied to each task's loss for the task-specific parameters (heads)
 * and, optionally, the update direction of the shared parameters (default: sum_t w_t g_t).
 */
import type { Matrix } from '../../core/matrix.js';
import type { Rng } from '../../core/rng.js';

export interface StrategyStep {
  /** Per-task mean losses on this batch (length T). */
  losses: Float64Array;
  /** T x S per-task gradients of the shared parameters (only when needsGradients). */
  grads?: Matrix<Float64Array>;
  /** 0-based epoch and global step. */
  epoch: number;
  step: number;
  /** The training run's seeded generator (strategies that draw random weights use it). */
  rng: Rng;
}

export interface StrategyResult {
  /** Weights of each task's loss (length T): scale the task-specific (head) gradients. */
  weights: Float64Array;
  /** Update direction for the shared parameters (length S); omitted = sum_t weights[t] grads[t]. */
  shared?: Float64Array;
}

export interface WeightingStrategy {
  /** Registry name ('equal', 'uncertainty', 'pcgrad', ...), stored in saved models. */
  readonly name: string;
  /** True when combine needs per-task gradients of the shared parameters. */
  readonly needsGradients: boolean;
  /** Called once before training with the number of tasks and shared parameters. */
  init(numTasks: number, numShared: number): void;
  combine(step: StrategyStep): StrategyResult;
  /** Called after each epoch with the epoch's mean per-task training losses (DWA uses it). */
  onEpochEnd?(epochLosses: Float64Array, epoch: number): void;
  /** JSON-safe state (learned weights, loss history...) for save/load and exact resume. */
  getState(): unknown;
  setState(state: unknown): void;
}
