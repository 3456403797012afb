/**
 * Typed arrays lent to one fit and taken back when it ends, for the next fits of the process.
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
 * module instance. Buffers are lent zeroed, as new ones are (or, by f64Uncleared, as the last user
 * left them, for memory the caller overwrites whole). A lease that is never released (a fit
 * that threw or was aborted) only leaves its buffers to the garbage collector.
 *
 * New buffers come from V8's allocator, 4 KiB pages each faulted in on first write: a process's
 * first fit pays a fault for every page of its buffers (200 for the targets alone on 20000 x 5).
 * With the native backend a new buffer of PREFAULT_BYTES or more has its pages faulted in by one
 * system call before it is lent (setPrefault; Linux 5.14 on), which costs about half as much in
 * all where faults are dear; a buffer lent as room (f64Room), which its user fills from the start
 * and may never fill, has them faulted in as far as prefaultView asks. With METATASK_HUGE_PAGES=on
 * the native backend has new buffers carved from 2 MiB pages it marks for transparent huge pages
 * instead (setHugePageAdvice; Linux, where the system allows it): one fault per 2 MiB, which pays
 * where small faults are dear and costs more where huge pages are (lib/kernels/index.ts).
 */

/**
 * Requests of at most this many bytes are allocated as usual: V8 keeps such typed arrays on its own
 * heap. Larger ones have their memory from the system allocator, where a fit's d-sized arrays (a
 * few hundred KiB in all on a wide problem) came from fresh pages until the garbage collector freed
 * the earlier fits' ones: on 200 x 2000 about 100 page faults, a millisecond, in each fit.
 */
const ON_HEAP_BYTES = 64;
/** New buffers from this length on are carved from huge pages when advised (smaller ones are V8's). */
const MIN_ADVISED = 4096;
/** Most bytes kept between fits; beyond it the buffers kept longest are dropped. */
const SPARE_BYTES = 64 * 1024 * 1024;
/** Most buffers kept between fits (a request looks through them all). */
const SPARE_COUNT = 256;
/** A spare buffer serves a request of at least 1 / MAX_WASTE of its length. */
const MAX_WASTE = 2;

type Buffer = Float64Array<ArrayBuffer>;

/**
 * Marks the whole 2 MiB pages inside a buffer not yet written for huge pages; returns their byte
 * offset in the buffer and their length (0 when none fits).
 */
export type HugePageAdvice = (buffer: ArrayBuffer) => readonly [offset: number, bytes: number];

/** Faults in the pages of view's elements at once, as their first writes would (contents unchanged). */
export type Prefault = (view: Float64Array) => void;

/**
 * New buffers from this many bytes on are prefaulted: smaller ones often share pages already
 * written, where the call would be a system call for nothing.
 */
const PREFAULT_BYTES = 8192;

const HUGE_PAGE = 2 * 1024 * 1024;

let advise: HugePageAdvice | null = null;
let prefault: Prefault | null = null;
/**
 * Per lent buffer, how many of its first bytes are faulted in (prefaulted, or lent whole): a buffer
 * lent as room (f64Room) starts at 0 and grows with prefaultView. Buffers not here were written by
 * other means.
 */
const faultedBytes = new WeakMap<ArrayBuffer, number>();

/** How new lent buffers' pages are faulted in from now on (null: by their first writes); returns the one it replaces. */
export function setPrefault(p: Prefault | null): Prefault | null {
  const previous = prefault;
  prefault = p;
  return previous;
}

/** The huge page new buffers under half a page are carved from: [slabAt, slabEnd) of `slab`. */
let slab: ArrayBuffer | null = null;
let slabAt = 0;
let slabEnd = 0;

/** How new lent buffers get their pages from now on (null: as V8 allocates them); returns the advice it replaces. */
export function setHugePageAdvice(advice: HugePageAdvice | null): HugePageAdvice | null {
  const previous = advise;
  advise = advice;
  slab = null;
  slabAt = slabEnd = 0;
  return previous;
}

/**
 * A new zeroed buffer: in V8's pages (with a prefault, its pages faulted in at once for `pages`
 * 'all'; 'as-written' leaves them to the writes and to prefaultView), or with advice (from
 * MIN_ADVISED elements on), in whole huge pages of its own (half a page or more) or in a part of
 * the current huge page that no other buffer shares. The memory around the whole pages is never
 * written, so it costs address space only.
 */
function freshBuffer(length: number, pages: 'all' | 'as-written'): Buffer {
  const bytes = 8 * length;
  if (advise === null || length < MIN_ADVISED) {
    const b = new Float64Array(length);
    if (prefault === null || bytes < PREFAULT_BYTES) return b;
    if (pages === 'all') prefault(b);
    faultedBytes.set(b.buffer, pages === 'all' ? bytes : 0);
    return b;
  }
  if (2 * bytes >= HUGE_PAGE) {
    const buffer = new ArrayBuffer(Math.ceil(bytes / HUGE_PAGE) * HUGE_PAGE + HUGE_PAGE);
    const [offset, span] = advise(buffer);
    return span >= bytes ? new Float64Array(buffer, offset, length) : new Float64Array(buffer, 0, length);
  }
  if (slab === null || slabAt + bytes > slabEnd) {
    slab = new ArrayBuffer(2 * HUGE_PAGE);
    const [offset, span] = advise(slab);
    [slabAt, slabEnd] = span > 0 ? [offset, offset + span] : [0, slab.byteLength];
  }
  const b = new Float64Array(slab, slabAt, length);
  slabAt += Math.ceil(bytes / 64) * 64; // parts start on cache lines
  return b;
}

/**
 * Memory of another owner that a lease can lend from: the TypeScript kernels' WebAssembly memory,
 * whose products read a buffer there in place. take gives `length` elements of any contents, or null
 * when it has no room; give takes back what take gave.
 */
export interface BufferSource {
  take(length: number): Float64Array | null;
  give(buffer: Float64Array): void;
}

/** Buffers kept between fits, the most recently kept last. */
let spare: Buffer[] = [];
let spareBytes = 0;

export class BufferLease {
  /** The whole buffers lent (a request gets a view of the first `length` elements of one). */
  private lent: Buffer[] = [];
  /** The buffers lent from sources, each to go back to its own. */
  private borrowed: { source: BufferSource; buffer: Float64Array }[] = [];

  /** A zeroed Float64Array of `length` elements, this lease's until release(). */
  f64(length: number): Buffer {
    return this.take(length, 'zeroed');
  }

  /**
   * A Float64Array of `length` elements of any contents (a reused buffer is not cleared), this
   * lease's until release(): for memory the caller overwrites whole, as a copy (clearing the 16 MB
   * copy of a 2000 x 1000 design cost a millisecond and a half that the copy then overwrote).
   */
  f64Uncleared(length: number): Buffer {
    return this.take(length, 'any');
  }

  /**
   * As f64Uncleared, for room the caller may never write whole (a buffer that grows within its
   * length): its new pages are faulted in by their writes, or ahead of them by prefaultView, not
   * all at once.
   */
  f64Room(length: number): Buffer {
    return this.take(length, 'any', 'as-written');
  }

  /**
   * Fault in at once the pages of `view` (of a buffer from f64Room) not yet faulted in, before the
   * caller writes it (one system call instead of a fault a page, where a prefault is set): from
   * the buffer's faulted part to the view's end, as room is written from its start.
   */
  prefaultView(view: Float64Array): void {
    if (prefault === null) return;
    const have = faultedBytes.get(view.buffer as ArrayBuffer);
    const end = view.byteOffset + view.byteLength;
    if (have === undefined || end <= have) return;
    prefault(new Float64Array(view.buffer, have, (end - have) / 8));
    faultedBytes.set(view.buffer as ArrayBuffer, end);
  }

  /**
   * As f64Uncleared, from `source` when it has room (the buffer goes back to it at release()),
   * else from this lease's own buffers.
   */
  f64From(source: BufferSource | undefined, length: number): Float64Array {
    const b = source?.take(length) ?? null;
    if (b === null) return this.f64Uncleared(length);
    this.borrowed.push({ source: source!, buffer: b });
    return b;
  }

  private take(length: number, contents: 'zeroed' | 'any', pages: 'all' | 'as-written' = 'all'): Buffer {
    if (8 * length <= ON_HEAP_BYTES) return new Float64Array(length);
    // The smallest spare buffer that holds it without wasting more than MAX_WASTE times its size:
    // fits of problems of other sizes reuse the buffers too.
    let best = -1;
    for (let i = 0; i < spare.length; i++) {
      const n = spare[i]!.length;
      if (n >= length && n <= MAX_WASTE * length && (best < 0 || n < spare[best]!.length)) best = i;
    }
    let whole: Buffer;
    if (best >= 0) {
      whole = spare[best]!;
      spare.splice(best, 1);
      spareBytes -= whole.byteLength;
    } else {
      whole = freshBuffer(length, pages);
    }
    this.lent.push(whole);
    const b = whole.length === length ? whole : whole.subarray(0, length);
    if (best >= 0 && contents === 'zeroed') b.fill(0);
    return b;
  }

  /** A zeroed Int32Array of `length` elements, this lease's until release() (in a lent buffer). */
  i32(length: number): Int32Array<ArrayBuffer> {
    if (4 * length <= ON_HEAP_BYTES) return new Int32Array(length);
    const b = this.f64(Math.ceil(length / 2));
    return new Int32Array(b.buffer, b.byteOffset, length);
  }

  /** A zeroed Uint8Array of `length` elements, this lease's until release() (in a lent buffer). */
  u8(length: number): Uint8Array<ArrayBuffer> {
    if (length <= ON_HEAP_BYTES) return new Uint8Array(length);
    const b = this.f64(Math.ceil(length / 8));
    return new Uint8Array(b.buffer, b.byteOffset, length);
  }

  /** A copy of `src` in a lent buffer. */
  copyOf(src: Float64Array): Buffer {
    const b = this.f64Uncleared(src.length);
    b.set(src);
    return b;
  }

  /** Give every buffer back (the caller keeps no view of them). */
  release(): void {
    for (const { source, buffer } of this.borrowed) source.give(buffer);
    this.borrowed = [];
    spare.push(...this.lent);
    for (const b of this.lent) spareBytes += b.byteLength;
    this.lent = [];
    let drop = 0;
    while ((spareBytes > SPARE_BYTES || spare.length - drop > SPARE_COUNT) && drop < spare.length) spareBytes -= spare[drop++]!.byteLength;
    if (drop > 0) spare = spare.slice(drop);
  }
}

/** Drop the buffers kept between fits (to the garbage collector). */
export function dropSpareBuffers(): void {
  spare = [];
  spareBytes = 0;
}

/** The bytes kept between fits (for tests). */
export function spareBufferBytes(): number {
  return spareBytes;
}
