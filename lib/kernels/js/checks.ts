/** Argument checks the TypeScript kernels share (the native binding makes the same ones). */
import { ShapeError } from '../../core/errors.js';

/** Every entry of idx is an index in [0, bound); otherwise a ShapeError naming the kernel, the argument and the entry. */
export function checkIndices(fn: string, name: string, idx: Int32Array, bound: number): void {
  for (let c = 0; c < idx.length; c++) {
    const j = idx[c]!;
    if (!(j >= 0 && j < bound)) throw new ShapeError(`${fn}: ${name} entry ${c} is ${j}, expected an index in [0, ${bound})`);
  }
}
