/**
 * The WebAssembly module of the TypeScript kernels (wasm/products.wat) and its memory, which is the
 * only memory the module's products read. The memory is cut into regions by a first-fit allocator:
 * a product takes a region for its copied operands and gives it back before it returns; a fit
 * takes one for a buffer it keeps for its whole length (moduleBuffers: the transposed design), whose
 * rows the products then read where they are. A 2000 x 1000 design's rows copied in per
 * correlation call cost 1.5 to 2 ms of a 16 ms fit.
 *
 * The memory grows to the regions' needs and never shrinks, up to MAX_MODULE_BYTES; a region
 * that does not fit is refused (the caller then uses the scalar loops or a buffer of its own). It
 * is a shared memory, whose growth never detaches an ArrayBuffer: one detached buffer in a V8
 * process slows every later typed-array loop of it (measured: gram and symEig 35-50 % slower), and
 * the views of the regions taken before a growth stay valid.
 */
import type { BufferSource } from '../../core/bufferLease.js';
import { onOffSetting } from '../../core/options.js';
import { PRODUCTS_WASM } from './wasm/productsBytes.js';

/** The module's exports, pointers in bytes into its memory (products.wat). */
export interface ProductsModule {
  memory: WebAssembly.Memory;
  rowDots(a: number, m: number, b: number, nb: number, k: number, out: number): void;
  multiply(a: number, m: number, k: number, b: number, n: number, c: number): void;
  /** mode: 0 no sums, 1 values, 2 squares (products.wat). */
  transposeRows(src: number, rows: number, n: number, dst: number, m: number, sums: number, mode: number): void;
}

/** The memory's maximum (products.wat's 4096 pages of 64 KiB). */
export const MAX_MODULE_BYTES = 256 * 1024 * 1024;
/** A buffer kept in the memory takes at most half of it, so that the products' own regions still fit. */
const MAX_KEPT_BYTES = MAX_MODULE_BYTES / 2;
const PAGE_BYTES = 65536;
/** Regions start on cache lines. */
const ALIGN = 64;

let instance: ProductsModule | null | undefined;

/**
 * The WebAssembly module, or null where it cannot run: an engine or CPU without WebAssembly SIMD
 * (on x86-64, V8 needs SSE4.1), or METATASK_WASM=off. Any other value than on, off or unset is a
 * ConfigError (a user who writes METATASK_WASM=0 means off, and would silently get on).
 */
export function productsModule(): ProductsModule | null {
  if (instance !== undefined) return instance;
  const on = onOffSetting('METATASK_WASM', 'on');
  instance = null;
  if (!on || typeof WebAssembly !== 'object') return instance;
  const bytes = Buffer.from(PRODUCTS_WASM, 'base64');
  if (!WebAssembly.validate(bytes)) return instance;
  try {
    instance = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as ProductsModule;
  } catch {
    // An engine that validates the module but cannot give it its memory: the scalar loops.
  }
  return instance;
}

/** Whether the products run in WebAssembly SIMD in this process (else in the scalar loop). */
export function wasmSimdActive(): boolean {
  return productsModule() !== null;
}

/** The module's memory buffer (its tests check that growing it leaves earlier buffers attached), or null. */
export function wasmMemoryBuffer(): ArrayBufferLike | null {
  return productsModule()?.memory.buffer ?? null;
}

// ---- the regions ------------------------------------------------------------------------------

/** Free regions below `top`, as [start, bytes] pairs in address order, none adjacent to another. */
let holes: number[] = [];
/** The end of the highest region taken. */
let top = 0;
/** The regions taken: start -> [bytes, serial] (the serial tells a region from a later one at the same start). */
const taken = new Map<number, [bytes: number, serial: number]>();
let serial = 0;
/** Every buffer object the memory has shown (one per size it had): a view of one is in the memory. */
const memoryBuffers = new WeakSet<ArrayBufferLike>();

/** The start of a new region of at least `bytes` bytes, or -1 when the memory cannot hold it. */
function takeBytes(m: ProductsModule, bytes: number): number {
  const need = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  let at = -1;
  for (let i = 0; i < holes.length; i += 2) {
    if (holes[i + 1]! < need) continue;
    at = holes[i]!;
    if (holes[i + 1] === need) holes.splice(i, 2);
    else {
      holes[i] = at + need;
      holes[i + 1] = holes[i + 1]! - need;
    }
    break;
  }
  if (at < 0) {
    if (top + need > MAX_MODULE_BYTES) return -1;
    const have = m.memory.buffer.byteLength;
    if (top + need > have) {
      try {
        m.memory.grow(Math.ceil((top + need - have) / PAGE_BYTES));
      } catch {
        return -1;
      }
    }
    at = top;
    top += need;
  }
  taken.set(at, [need, ++serial]);
  return at;
}

/** Give back the region starting at `at`: it joins its free neighbours, or lowers the top. */
function giveBytes(at: number): void {
  const region = taken.get(at);
  if (region === undefined) throw new Error(`module memory: no region starts at ${at}`);
  taken.delete(at);
  let start = at;
  let bytes = region[0];
  let i = 0;
  while (i < holes.length && holes[i]! < at) i += 2;
  // Join the hole just after it, then the one just before it.
  if (i < holes.length && holes[i] === start + bytes) {
    bytes += holes[i + 1]!;
    holes.splice(i, 2);
  }
  if (i >= 2 && holes[i - 2]! + holes[i - 1]! === start) {
    start = holes[i - 2]!;
    bytes += holes[i - 1]!;
    holes.splice(i - 2, 2);
    i -= 2;
  }
  if (start + bytes === top) top = start;
  else holes.splice(i, 0, start, bytes);
}

/** A view of `values` float64 values at byte `at` of the memory. */
function viewAt(m: ProductsModule, at: number, values: number): Float64Array {
  const buffer = m.memory.buffer;
  memoryBuffers.add(buffer);
  return new Float64Array(buffer, at, values);
}

/**
 * A region of `values` float64 values (of any contents) for the length of one call, or null when
 * the module is off or its memory cannot hold them; give it back with giveRegion.
 */
export function takeRegion(values: number): Float64Array | null {
  const m = productsModule();
  if (m === null) return null;
  const at = takeBytes(m, 8 * values);
  return at < 0 ? null : viewAt(m, at, values);
}

/** Give back a region from takeRegion or moduleBuffers (the view itself, not a part of it). */
export function giveRegion(view: Float64Array): void {
  if (!memoryBuffers.has(view.buffer)) throw new Error('module memory: the view is not in the memory');
  giveBytes(view.byteOffset);
}

/** The byte address in the module's memory of a[0], or -1 when `a` is not in the memory. */
export function moduleAddress(a: Float64Array): number {
  return memoryBuffers.has(a.buffer) ? a.byteOffset : -1;
}

/** Bytes of the regions taken now (tests: a fit gives back all it took). */
export function moduleBytesTaken(): number {
  let bytes = 0;
  for (const [b] of taken.values()) bytes += b;
  return bytes;
}

/**
 * A kept buffer whose holder was collected without giving it back (a fit that threw or was
 * aborted never releases its lease): its region goes back then. The serial keeps a stale
 * collection from freeing a later region at the same start.
 */
const collected = new FinalizationRegistry<[at: number, serial: number]>(([at, s]) => {
  if (taken.get(at)?.[1] === s) giveBytes(at);
});

/**
 * The module's memory as a BufferSource, for buffers a fit keeps that the products read (a lease
 * lends them and gives them back at its release). Refuses buffers over half the memory.
 */
export const moduleBuffers: BufferSource = {
  take(length: number): Float64Array | null {
    if (8 * length > MAX_KEPT_BYTES) return null;
    const view = takeRegion(length);
    if (view !== null) collected.register(view, [view.byteOffset, taken.get(view.byteOffset)![1]], view);
    return view;
  },
  give(buffer: Float64Array): void {
    collected.unregister(buffer);
    giveRegion(buffer);
  },
};
