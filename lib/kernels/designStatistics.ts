import { ShapeError } from '../core/errors.js';
import type { DesignAllocator } from './types.js';

/**
 * The first `length` values of an array from a design's allocator (`source`: where the caller
 * would like the memory, passed on to it), checked: too few values is a ShapeError.
 */
export function allocatedFor(allocate: DesignAllocator, length: number, source?: Parameters<DesignAllocator>[1]): Float64Array {
  const a = allocate(length, source);
  if (!(a instanceof Float64Array) || a.length < length) {
    throw new ShapeError(`cdDesign: the allocator gave ${a instanceof Float64Array ? `${a.length} values` : 'no Float64Array'} for ${length}`);
  }
  return a.length === length ? a : a.subarray(0, length);
}

/**
 * The zeroed arrays of a design's column means and squared norms (length d each), for both kernel
 * sets' cdDesign: in the allocator's memory when there is one (a fit's lease, whose buffers the
 * next fits reuse: a new array per fit is memory the system must hand out and clear again until
 * the garbage collector frees the last ones), else new.
 */
export function designStatistics(d: number, allocate?: DesignAllocator): { mean: Float64Array; colNormSq: Float64Array } {
  if (!allocate) return { mean: new Float64Array(d), colNormSq: new Float64Array(d) };
  const both = allocatedFor(allocate, 2 * d).fill(0);
  return { mean: both.subarray(0, d), colNormSq: both.subarray(d, 2 * d) };
}
