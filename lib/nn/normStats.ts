/**
 * Running batch-normalisation statistics, as PyTorch's BatchNorm keeps running_mean and
 * running_var: after every training pass (which normalises with the batch's own statistics and
 * reports them through NetworkBatch.stats.batchOut),
 *     mean <- (1 - momentum) mean + momentum batchMean
 *     var  <- (1 - momentum) var  + momentum batchVar M / (M - 1)       (unbiased; M values per channel)
 * with each batchnorm node's momentum (default 0.1), starting from mean 0 and variance 1.
 * Inference passes normalise with them (stats.running), so a row's output no longer depends on
 * the other rows of its batch.
 */
import { FormatError } from '../core/errors.js';
import { allocate, type DType, type FloatArray } from '../core/matrix.js';
import { BN_MOMENTUM, type CompiledNetwork } from '../kernels/networkSpec.js';
import type { NodeSpec } from '../kernels/types.js';

export class RunningNormStats {
  /** The running statistics, in the layout of CompiledNetwork.statsOffset. */
  readonly values: Float64Array;
  /** Where a training pass writes its batch statistics (pass it as stats.batchOut). */
  readonly batch: Float64Array;
  private cast: FloatArray | null = null;

  constructor(private readonly compiled: CompiledNetwork) {
    this.values = new Float64Array(compiled.statsCount);
    this.batch = new Float64Array(compiled.statsCount);
    for (const i of compiled.normNodes) this.values.fill(1, compiled.statsOffset[i]! + compiled.normChannels[i]!, compiled.statsOffset[i]! + 2 * compiled.normChannels[i]!);
  }

  /** Whether the network has batchnorm nodes at all. */
  get active(): boolean {
    return this.compiled.statsCount > 0;
  }

  /** Fold in the batch statistics of a training pass over `rows` rows (written to `batch`). */
  update(rows: number): void {
    const c = this.compiled;
    for (const i of c.normNodes) {
      const C = c.normChannels[i]!;
      const o = c.statsOffset[i]!;
      const m = (c.spec.nodes[i] as Extract<NodeSpec, { op: 'batchnorm' }>).momentum ?? BN_MOMENTUM;
      const M = rows * (c.widths[i]! / C);
      const unbias = M > 1 ? M / (M - 1) : 1;
      for (let k = 0; k < C; k++) {
        this.values[o + k] = (1 - m) * this.values[o + k]! + m * this.batch[o + k]!;
        this.values[o + C + k] = (1 - m) * this.values[o + C + k]! + m * this.batch[o + C + k]! * unbias;
      }
    }
    this.cast = null;
  }

  /** The running statistics in the network's dtype (stats.running), cached until the next update. */
  running(dtype: DType): FloatArray {
    if (!this.cast || (dtype === 'float32') !== this.cast instanceof Float32Array) {
      this.cast = allocate(dtype, this.values.length);
      this.cast.set(this.values);
    }
    return this.cast;
  }

  /** Restore saved statistics (a model file's). */
  restore(saved: unknown, what: string): void {
    if (!(saved instanceof Float64Array) || saved.length !== this.values.length) {
      throw new FormatError(`${what}: 'normStats' must be a Float64Array of length ${this.values.length} (the batchnorm running statistics)`);
    }
    this.values.set(saved);
    this.cast = null;
  }
}
