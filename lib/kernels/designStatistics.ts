import { ShapeError } from '../core/errors.js';
import type { DesignAllocator } from './types.js';

/**
 * The zeroed arrays of a design's column means and squared norms (length d each), for both kernel
 * sets' cdDesign: in the allocator's memory when there is one (a fit's lease, whose buffers the
 * next fits reuse: a new array per fit is memory the system must hand out and clear again until
 * the garbage collector frees the last ones), else new.
 */
export function designStatistics(d: number, allocate?: DesignAllocator): { mean: Float64Array; colNormSq: Float64Array } {
  if (!allocate) return { mean: new Float64Array(d), colNormSq: new Float64Array(d) };
  const both = allocate(2 * d);
  if (!(both instanceof Float64Array) || both.length < 2 * d) {
    throw new ShapeError(`cdDesign: the allocator gave ${both instanceof Float64Array ? `${both.length} values` : 'no Float64Array'} for ${2 * d}`);
  }
  both.fill(0, 0, 2 * d);
  return { mean: both.subarray(0, d), colNormSq: both.subarray(d, 2 * d) };
}
