/**
 * Buffers for the TypeScript kernels' temporaries, kept from one call to the next (the twin of the
 * native kernels' per-thread scratch, native/src/runtime/scratch.h).
 *
 * A typed array of a few hundred KiB allocated in every call has its memory from fresh pages each
 * time (V8 frees large arrays only when it collects them), and every page costs a fault on its
 * first write: about 10 us where freed pages go back to the host (virtual machines with free-page
 * reporting), more than the arithmetic of a gathered panel. Each thread has its own module
 * instance (worker threads load their own), so a slot is never shared between threads.
 */

/** The temporaries that may be alive together in one kernel call. */
export type ScratchSlot =
  // gemm's float64 copies of its operands and its product before C += alpha product (linalg.ts)
  | 'packA'
  | 'packB'
  | 'productRows'
  // columns of the design gathered for a product, and a product's block of Gram entries (cd.ts)
  | 'gatheredRows'
  | 'gatheredColumns'
  | 'gramBlock'
  // a dense layer's operands laid out row-major, and their product (networkOp.ts)
  | 'networkA'
  | 'networkB'
  | 'networkProduct';

/** Larger buffers are not kept: a one-off large problem does not pin its memory for the process. */
const MAX_KEPT_BYTES = 64 * 1024 * 1024;

const kept = new Map<ScratchSlot, Float64Array>();

/**
 * `length` values of any contents (whatever the last user left: the caller writes every value it
 * reads), valid until the next call with the same slot.
 */
export function scratchDoubles(slot: ScratchSlot, length: number): Float64Array {
  const b = kept.get(slot);
  if (b !== undefined && b.length >= length) return b.length === length ? b : b.subarray(0, length);
  const fresh = new Float64Array(length);
  if (8 * length <= MAX_KEPT_BYTES) kept.set(slot, fresh);
  return fresh;
}
