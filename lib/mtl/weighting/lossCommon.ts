/**
 * Checks shared by the loss-based weighting strategies (equal, fixed, uncertainty, dwa, rlw, gls,
 * dbmtl, famo): init arguments, the per-step losses, and reading back a saved state.
 * States are JSON-safe objects of numbers and number arrays (DB-MTL's large gradient buffer is a
 * Float64Array, which the model format encodes exactly); setState accepts either form.
 */
import { FormatError, ShapeError, ValueError } from '../../core/errors.js';
import { describe } from '../../core/matrix.js';
import type { StrategyStep } from './strategy.js';

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

/** Losses that the strategy takes logs of or divides by must be positive. */
export function checkPositive(owner: string, losses: Float64Array): void {
  for (let t = 0; t < losses.length; t++) {
    if (losses[t]! < 0) throw new ValueError(`${owner}: the loss of task ${t} is ${losses[t]}; this strategy needs non-negative losses`);
  }
}

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

export function stateInt(owner: string, value: unknown, key: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new FormatError(`${owner}: state.${key} must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

/**
 * The task count of a saved state; it must match init()'s when init already ran. Strategies
 * accept setState before init (resume: init then keeps the restored state) and after it.
 */
export function stateTasks(owner: string, s: Record<string, unknown>, numTasks: number): number {
  const n = stateInt(owner, s.numTasks, 'numTasks');
  if (numTasks > 0 && n !== numTasks) throw new FormatError(`${owner}: the state is for ${n} tasks, this strategy was initialised for ${numTasks}`);
  return n;
}

export function ones(n: number): Float64Array {
  return new Float64Array(n).fill(1);
}

/** Numerically stable softmax of a small vector. */
export function softmax(z: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) max = Math.max(max, z[i]!);
  const out = new Float64Array(z.length);
  let sum = 0;
  for (let i = 0; i < z.length; i++) {
    out[i] = Math.exp(z[i]! - max);
    sum += out[i]!;
  }
  for (let i = 0; i < z.length; i++) out[i]! /= sum;
  return out;
}
