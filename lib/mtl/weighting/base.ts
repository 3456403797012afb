/**
 * What every built-in weighting strategy shares, so that a strategy's file holds only its method:
 * the checks of init() and of each step, the readers of a saved state, and the base classes that
 * keep the task and parameter counts and run the save / restore / resume protocol.
 *
 *   class MyWeighting extends LossStrategy {            // or GradientStrategy
 *     readonly name = 'mine';
 *     constructor() { super('my weighting'); }          // the label used in error messages
 *     protected weigh(losses, step) { return { weights: ... }; }
 *     // a strategy with state also implements reset(), saveState() and loadState()
 *   }
 *
 * Saved state: {} for a stateless strategy, else { numTasks, ...the strategy's own fields }
 * (with numShared among them when the state has one entry per shared parameter). setState may
 * come before init -- a model being loaded: init then keeps the restored state when the sizes
 * agree -- or after it, when the sizes must agree; either way the next combine continues exactly
 * where the saved run stopped.
 */
import { FormatError, ShapeError, ValueError } from '../../core/errors.js';
import { describe, type Matrix } from '../../core/matrix.js';
import type { StrategyResult, StrategyStep, WeightingStrategy } from './strategy.js';

// ---------------------------------------------------------------------------------------------
// Checks of init() and of a step
// ---------------------------------------------------------------------------------------------

export function checkInit(owner: string, numTasks: number, numShared: number): void {
  if (!Number.isInteger(numTasks) || numTasks < 1) throw new ValueError(`${owner}: init() needs at least one task, got ${describe(numTasks)}`);
  if (!Number.isInteger(numShared) || numShared < 0) {
    throw new ValueError(`${owner}: init() needs a non-negative integer number of shared parameters, got ${describe(numShared)}`);
  }
}

/** The step's losses, checked: one finite value per task. */
export function stepLosses(owner: string, step: StrategyStep, numTasks: number): Float64Array {
  if (numTasks <= 0) throw new ValueError(`${owner}: combine() was called before init(numTasks, numShared)`);
  const l = step?.losses;
  if (!(l instanceof Float64Array)) throw new ValueError(`${owner}: step.losses must be a Float64Array, got ${describe(l)}`);
  if (l.length !== numTasks) throw new ShapeError(`${owner}: step.losses has ${l.length} values, expected one per task (${numTasks})`);
  for (let t = 0; t < numTasks; t++) {
    if (!Number.isFinite(l[t]!)) throw new ValueError(`${owner}: the loss of task ${t} is ${l[t]}; training diverged or a batch had no labels`);
  }
  return l;
}

/**
 * The step's T x S gradient matrix, checked against the sizes given to init(), so that a
 * training loop that forgot the gradients gets a clear error, not NaNs.
 */
export function stepGrads(owner: string, step: StrategyStep, numTasks: number, numShared: number): Matrix<Float64Array> {
  const g = step.grads;
  if (!g) throw new ValueError(`${owner} needs the per-task gradients of the shared parameters (step.grads), got none`);
  if (g.rows !== numTasks || g.cols !== numShared) {
    throw new ShapeError(`${owner}: step.grads is ${g.rows} x ${g.cols}, expected tasks x shared parameters = ${numTasks} x ${numShared}`);
  }
  return g;
}

/** Losses that the strategy takes logs of or divides by must be non-negative. */
export function checkPositive(owner: string, losses: Float64Array): void {
  for (let t = 0; t < losses.length; t++) {
    if (losses[t]! < 0) throw new ValueError(`${owner}: the loss of task ${t} is ${losses[t]}; this strategy needs non-negative losses`);
  }
}

// ---------------------------------------------------------------------------------------------
// Readers of a saved state (FormatError on anything but what getState() wrote)
// ---------------------------------------------------------------------------------------------

export function stateObject(owner: string, state: unknown): Record<string, unknown> {
  if (state === null || typeof state !== 'object' || Array.isArray(state)) {
    throw new FormatError(`${owner}: state must be an object as returned by getState(), got ${describe(state)}`);
  }
  return state as Record<string, unknown>;
}

/** A saved array of `length` finite numbers (number[] or Float64Array), copied. */
export function stateArray(owner: string, value: unknown, key: string, length: number): Float64Array {
  const ok =
    (Array.isArray(value) || value instanceof Float64Array) &&
    value.length === length &&
    Array.prototype.every.call(value, (v: unknown) => typeof v === 'number' && Number.isFinite(v));
  if (!ok) throw new FormatError(`${owner}: state.${key} must be an array of ${length} finite numbers`);
  return Float64Array.from(value as ArrayLike<number>);
}

/** stateArray, or null where the state saved null (a quantity not measured yet). */
export function stateArrayOrNull(owner: string, value: unknown, key: string, length: number): Float64Array | null {
  return value === null || value === undefined ? null : stateArray(owner, value, key, length);
}

export function stateInt(owner: string, value: unknown, key: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new FormatError(`${owner}: state.${key} must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

/** The task count of a saved state; it must match init()'s when init already ran. */
export function stateTasks(owner: string, s: Record<string, unknown>, numTasks: number): number {
  const n = stateInt(owner, s.numTasks, 'numTasks');
  if (numTasks > 0 && n !== numTasks) throw new FormatError(`${owner}: the state is for ${n} tasks, this strategy was initialised for ${numTasks}`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Base classes
// ---------------------------------------------------------------------------------------------

/** The scaffolding of a built-in strategy: sizes, checks, save / restore / resume. */
export abstract class StrategyBase implements WeightingStrategy {
  abstract readonly name: string;
  abstract readonly needsGradients: boolean;
  protected numTasks = 0;
  protected numShared = 0;
  /** setState ran since the last init: the next init keeps the restored state. */
  private restored = false;
  /** The restored state's numShared, when it has one (its init must then match it too). */
  private restoredShared: number | null = null;

  /** `label` names the strategy in error messages ('Nash-MTL', 'DWA', ...). */
  protected constructor(protected readonly label: string) {}

  init(numTasks: number, numShared: number): void {
    checkInit(this.label, numTasks, numShared);
    const keep = this.restored && numTasks === this.numTasks && (this.restoredShared === null || numShared === this.restoredShared);
    this.restored = false;
    this.restoredShared = null;
    this.numTasks = numTasks;
    this.numShared = numShared;
    if (!keep) this.reset();
  }

  abstract combine(step: StrategyStep): StrategyResult;

  /** Start a fresh state for this.numTasks / this.numShared (init without a restored state). */
  protected reset(): void {}

  /** The strategy's own state fields; strategies without state do not implement it. */
  protected saveState?(): Record<string, unknown>;

  /**
   * Read the fields written by saveState for `numTasks` tasks and `numShared` shared parameters
   * into the strategy; throw a FormatError -- before assigning anything -- on a bad field.
   */
  protected loadState?(s: Record<string, unknown>, numTasks: number, numShared: number): void;

  getState(): unknown {
    return this.saveState ? { numTasks: this.numTasks, ...this.saveState() } : {};
  }

  setState(state: unknown): void {
    const s = stateObject(this.label, state);
    if (!this.loadState) return; // stateless: nothing to restore
    const n = stateTasks(this.label, s, this.numTasks);
    const shared = s.numShared === undefined ? null : stateInt(this.label, s.numShared, 'numShared');
    if (shared !== null && this.numTasks > 0 && shared !== this.numShared) {
      throw new FormatError(`${this.label}: the state is for ${shared} shared parameters, this strategy was initialised for ${this.numShared}`);
    }
    this.loadState(s, n, shared ?? this.numShared);
    this.numTasks = n;
    if (shared !== null) this.numShared = shared;
    this.restored = true;
    this.restoredShared = shared;
  }
}

/** A strategy that weights the task losses from the losses alone (no per-task gradients). */
export abstract class LossStrategy extends StrategyBase {
  readonly needsGradients = false;

  combine(step: StrategyStep): StrategyResult {
    return this.weigh(stepLosses(this.label, step, this.numTasks), step);
  }

  /** The step's result from its checked losses. */
  protected abstract weigh(losses: Float64Array, step: StrategyStep): StrategyResult;
}

/** A strategy that needs the T x S per-task gradients of the shared parameters. */
export abstract class GradientStrategy extends StrategyBase {
  readonly needsGradients = true;

  combine(step: StrategyStep): StrategyResult {
    const losses = stepLosses(this.label, step, this.numTasks);
    return this.aggregate(stepGrads(this.label, step, this.numTasks, this.numShared), losses, step);
  }

  /** The step's result from its checked gradients and losses. */
  protected abstract aggregate(g: Matrix<Float64Array>, losses: Float64Array, step: StrategyStep): StrategyResult;
}
