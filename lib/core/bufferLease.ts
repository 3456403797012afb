/**
 * Large Float64Arrays lent to one fit and taken back when it ends, for the next fits of the
 * process.
 *
 * A typed array's memory goes back to the system allocator only when V8 collects the array, well
 * after its fit has ended, and the allocator then returns those pages to the system: the next
 * fit's arrays come from fresh pages, each faulted in on its first write. Where freed pages go
 * back to the host (virtual machines with free-page reporting, as small cloud machines have) a
 * fault costs about 10 us; on a fit of a few milliseconds the faults of its d x T and T x n
 * buffers were a quarter of its time. scikit-learn's NumPy arrays, freed as soon as they are
 * dropped, reuse the allocator's memory instead.
 *
 * A buffer belongs to at most one lease until that lease is released, so fits interleaved on one
 * thread (async fits yield to the event loop) never share one; worker threads have their own
 * module instance. Buffers are lent zeroed, as new ones are. A lease that is never released (a fit
 * that threw or was aborted) only leaves its buffers to the garbage collector.
 */

/** Smaller buffers are allocated as usual: the allocator reuses small blocks itself. */
const MIN_LENT = 4096;
/** Most bytes kept between fits; beyond it the buffers of the sizes least recently kept are dropped. */
const SPARE_BYTES = 64 * 1024 * 1024;

/** Spare buffers by length, the most recently kept sizes last. */
type Buffer = Float64Array<ArrayBuffer>;

const spare = new Map<number, Buffer[]>();
let spareBytes = 0;

export class BufferLease {
  private lent: Buffer[] = [];

  /** A zeroed Float64Array of `length` elements, this lease's until release(). */
  f64(length: number): Buffer {
    if (length < MIN_LENT) return new Float64Array(length);
    const kept = spare.get(length);
    let b = kept?.pop();
    if (b) {
      spareBytes -= b.byteLength;
      if (kept!.length === 0) spare.delete(length);
      b.fill(0);
    } else {
      b = new Float64Array(length);
    }
    this.lent.push(b);
    return b;
  }

  /** A copy of `src` in a lent buffer. */
  copyOf(src: Float64Array): Buffer {
    const b = this.f64(src.length);
    b.set(src);
    return b;
  }

  /** Give every buffer back (the caller keeps no view of them). */
  release(): void {
    for (const b of this.lent) {
      const list = spare.get(b.length) ?? [];
      spare.delete(b.length); // set again below: the sizes most recently kept come last
      list.push(b);
      spare.set(b.length, list);
      spareBytes += b.byteLength;
    }
    this.lent = [];
    for (const [length, list] of spare) {
      if (spareBytes <= SPARE_BYTES) break;
      spare.delete(length);
      for (const b of list) spareBytes -= b.byteLength;
    }
  }
}

/** The bytes kept between fits (for tests). */
export function spareBufferBytes(): number {
  return spareBytes;
}
