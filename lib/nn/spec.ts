/**
 * Network parameters and dropout: initialisation and inverted-dropout masks of a compiled spec.
 * Initialisation follows PyTorch's nn.Linear default (U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for W and b)
 * and cross-stitch units follow Misra et al. 2016 (a strong self weight, small cross weights).
 * Spec validation, the parameter layout and the native program are in lib/kernels/networkSpec.ts
 * (both kernel sets need them); they are re-exported here, so this module stays the one place
 * network code imports spec helpers from.
 */
import { allocate, type DType, type FloatArray } from '../core/matrix.js';
import { fillMaskFromState, type Rng } from '../core/rng.js';
import type { NodeSpec, RandomKernels } from '../kernels/types.js';
import type { CompiledNetwork } from '../kernels/networkSpec.js';

/** A kernel set's fillMask. */
type FillMask = RandomKernels['fillMask'];

export {
  ACTIVATIONS,
  DEFAULT_ALPHA,
  FN_CODE,
  LOSSES,
  LOSS_CODE,
  OPS,
  OP_CODE,
  PROGRAM_VERSION,
  compileNetwork,
  encodeProgram,
  nodeInputs,
  type CompiledNetwork,
  type OpName,
} from '../kernels/networkSpec.js';

/**
 * Initial parameters:
 * - dense W and b ~ U(-1/sqrt(fanIn), 1/sqrt(fanIn)) (PyTorch's nn.Linear default);
 * - layernorm gamma = 1, beta = 0;
 * - stitch a: with `self` set (the position of the node's own task in `inputs`), a_self = 0.9 and
 *   the others share 0.1 equally (Misra et al. 2016 start near identity: each task mostly keeps
 *   its own features); without `self`, every a_k = 1/K (a plain average).
 * Draws happen in slot order, so the same seed gives the same vector on either backend.
 */
export function initParams(compiled: CompiledNetwork, rng: Rng, dtype: 'float32'): Float32Array;
export function initParams(compiled: CompiledNetwork, rng: Rng, dtype: 'float64'): Float64Array;
export function initParams(compiled: CompiledNetwork, rng: Rng, dtype: DType): FloatArray;
export function initParams(compiled: CompiledNetwork, rng: Rng, dtype: DType = 'float64'): FloatArray {
  const p = allocate(dtype, compiled.paramCount);
  for (const s of compiled.params) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const view = p.subarray(s.offset, s.offset + size);
    switch (s.name) {
      case 'W':
      case 'b': {
        const bound = 1 / Math.sqrt(s.fanIn);
        for (let k = 0; k < size; k++) view[k] = rng.range(-bound, bound);
        break;
      }
      case 'gamma':
        view.fill(1);
        break;
      case 'beta':
        view.fill(0);
        break;
      case 'a': {
        const node = compiled.spec.nodes[s.node] as Extract<NodeSpec, { op: 'stitch' }>;
        const K = size;
        if (node.self === undefined || K === 1) view.fill(1 / K);
        else {
          view.fill(0.1 / (K - 1));
          view[node.self] = 0.9;
        }
        break;
      }
    }
  }
  return p;
}

/**
 * Inverted-dropout masks for every dropout node: each entry is 0 with probability `rate`, else
 * 1 / (1 - rate), so activations keep their expected value and inference needs no rescaling.
 * Nodes are visited in index order, rows then columns, one 32-bit draw per entry of rng's stream.
 * `fill` draws them (a kernel set's fillMask; by default the TypeScript one, lib/core/rng.ts).
 */
export function dropoutMasks(compiled: CompiledNetwork, rng: Rng, n: number, dtype: 'float32', fill?: FillMask): Map<number, Float32Array>;
export function dropoutMasks(compiled: CompiledNetwork, rng: Rng, n: number, dtype: 'float64', fill?: FillMask): Map<number, Float64Array>;
export function dropoutMasks(compiled: CompiledNetwork, rng: Rng, n: number, dtype: DType, fill?: FillMask): Map<number, FloatArray>;
export function dropoutMasks(compiled: CompiledNetwork, rng: Rng, n: number, dtype: DType = 'float64', fill: FillMask = fillMaskFromState): Map<number, FloatArray> {
  const out = new Map<number, FloatArray>();
  const state = rng.streamState();
  for (const i of compiled.dropoutNodes) {
    const rate = compiled.alpha[i]!;
    const keep = 1 / (1 - rate);
    const m = allocate(dtype, n * compiled.widths[i]!);
    fill(state, m, rate, keep);
    out.set(i, m);
  }
  rng.setStreamState(state);
  return out;
}
