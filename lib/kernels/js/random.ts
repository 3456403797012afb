/**
 * The random kernels in TypeScript (twin: native/src/kernels/random.cc): a dropout mask drawn
 * from the generator of lib/core/rng.ts, whose stream (xoshiro128**) is written there once.
 */
import { ShapeError } from '../../core/errors.js';
import type { FloatArray } from '../../core/matrix.js';
import { fillMaskFromState } from '../../core/rng.js';

export function fillMask(state: Int32Array, out: FloatArray, rate: number, keep: number): void {
  if (!(state instanceof Int32Array) || state.length !== 4) throw new ShapeError('fillMask: state must be an Int32Array of 4 words');
  if (!(out instanceof Float32Array || out instanceof Float64Array)) throw new ShapeError('fillMask: out must be a Float32Array or a Float64Array');
  if (out.buffer === state.buffer && out.byteOffset < state.byteOffset + 16 && state.byteOffset < out.byteOffset + out.byteLength) {
    throw new ShapeError('fillMask: out and state share memory');
  }
  if (typeof rate !== 'number' || typeof keep !== 'number') throw new ShapeError('fillMask: rate and keep must be numbers');
  try {
    fillMaskFromState(state, out, rate, keep);
  } catch (e) {
    throw e instanceof RangeError ? new ShapeError(e.message) : e;
  }
}
