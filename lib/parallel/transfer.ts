/**
 * Values on their way to a worker thread and back. Nothing is transferred unless the caller asks
 * for it, and the caller's arrays stay usable:
 *
 * - 'copy' (the default): postMessage copies each typed array (serialising it in the caller's
 *   thread, so the caller's arrays may be changed or reused as soon as the call returns its
 *   promise). A view of part of a larger buffer is first copied to a buffer of its own, since
 *   postMessage would copy the whole buffer.
 * - 'move': the caller's own buffers are transferred, no copy at all; they are detached (length
 *   0) in the caller's thread afterwards. For large inputs the caller will not read again.
 * - An array on a SharedArrayBuffer is shared, never copied: the worker reads the caller's
 *   memory, so the caller must not write to it until the call settles.
 *
 * Why copies and not transfers: transferring a buffer detaches it, and the first buffer detached
 * in a thread makes V8 check every typed-array access of that thread from then on; the TypeScript
 * kernels' loops (and the caller's own) ran a third slower for the rest of the process after one
 * transferred call (a Gram matrix of 400 x 300, 29 -> 38 ms). Copying into a SharedArrayBuffer
 * would save one of postMessage's two copies, but V8 frees shared memory late: 3,000 calls with
 * 1 MB inputs grew the process to 850 MB, against 150 MB with postMessage's copies. A worker
 * answers with 'clone': as 'copy', and arrays on shared memory are copied to ordinary ones first,
 * so that a model never comes back sharing memory with the thread.
 *
 * Objects of the library's own classes (datasets, task samplers) travel as { type, value }
 * (lib/core/portable.ts) and are rebuilt on the other side; the ones a call changes (a sampler's
 * random stream) report their state back. Functions, and objects of other classes, cannot
 * travel: they are a ConfigError that names where they were found.
 */
import { ConfigError } from '../core/errors.js';
import { CALL_STATE, isPortable, isSnapshotModel, PORTABLE, REVIVE, SET_CALL_STATE, type Portable, type PortableClass } from '../core/portable.js';

/** How the caller's typed arrays reach the worker (see the module comment). */
export type TransferMode = 'copy' | 'move';

/**
 * How pack treats typed arrays: a caller's TransferMode, 'clone' (a worker's answer: see the
 * module comment) or 'keep' (neither copied nor transferred, for a value about to be written as JSON).
 */
export type PackMode = TransferMode | 'clone' | 'keep';

/** Tag of a portable object inside a packed value. */
const TAG = '$metatask';

interface PackedPortable {
  [TAG]: 'portable';
  type: string;
  value: unknown;
  /** Index into the call's stateful objects, when the object reports its state back. */
  slot?: number;
  /** That object's call state when it left (its value rebuilds it at its start). */
  state?: unknown;
}

export interface Packed {
  value: unknown;
  /** The buffers to pass as postMessage's transfer list. */
  transfer: ArrayBuffer[];
  /** Objects whose state the call changes, by slot (their new state comes back in this order). */
  stateful: Portable[];
}

/** Pack `value` for postMessage; `where` names it in error messages (e.g. "MultiTaskNet.fit options"). */
export function pack(value: unknown, mode: PackMode, where: string): Packed {
  const transfer = new Set<ArrayBuffer>();
  const stateful: Portable[] = [];
  const seen = new Map<object, unknown>();

  const walk = (v: unknown, path: string): unknown => {
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return v;
    if (typeof v === 'function') throw new ConfigError(`${path} is a function; functions cannot go to a worker thread`);
    const done = seen.get(v);
    if (done !== undefined) return done;
    let out: unknown;
    if (ArrayBuffer.isView(v)) out = view(v as ArrayBufferView);
    else if (v instanceof ArrayBuffer) {
      // postMessage copies it unless it is moved.
      out = v;
      if (mode === 'move') transfer.add(v);
    } else if (isShared(v)) out = mode === 'clone' ? copyOf(new Uint8Array(v)).buffer : v;
    else if (Array.isArray(v)) {
      const a: unknown[] = new Array(v.length);
      seen.set(v, a);
      for (let i = 0; i < v.length; i++) a[i] = walk(v[i], `${path}[${i}]`);
      return a;
    } else if (isPortable(v)) {
      const { type, value } = v[PORTABLE]();
      const p: PackedPortable = { [TAG]: 'portable', type, value: undefined };
      seen.set(v, p);
      p.value = walk(value, `${path} (${type})`);
      if (typeof v[CALL_STATE] === 'function') {
        p.slot = stateful.length;
        p.state = v[CALL_STATE]();
        stateful.push(v);
      }
      return p;
    } else if (isSnapshotModel(v)) {
      throw new ConfigError(`${path} is a model; pass models as the object a method is called on, not inside arguments`);
    } else if (isPlain(v)) {
      const o: Record<string, unknown> = {};
      seen.set(v, o);
      for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = walk(x, `${path}.${k}`);
      return o;
    } else if (v instanceof Map || v instanceof Set || v instanceof Date || v instanceof RegExp) out = v;
    else {
      const name = (v as object).constructor?.name ?? 'unknown';
      throw new ConfigError(`${path} is an object of class ${name}, which cannot go to a worker thread; pass plain objects, arrays, typed arrays, or the library's datasets and task samplers`);
    }
    seen.set(v, out);
    return out;
  };

  const view = (v: ArrayBufferView): ArrayBufferView => {
    const buffer = v.buffer as ArrayBuffer | SharedArrayBuffer;
    if (mode === 'keep') return v;
    if (isShared(buffer)) return mode === 'clone' ? copyOf(v) : v;
    if (mode === 'move') {
      transfer.add(buffer as ArrayBuffer);
      return v;
    }
    return v.byteOffset === 0 && v.byteLength === buffer.byteLength ? v : copyOf(v);
  };

  const out = walk(value, where);
  return { value: out, transfer: [...transfer], stateful };
}

/**
 * Rebuild a packed value (in place: the message is ours). Portable objects are revived by their
 * class from `classes`; the stateful ones are returned by slot, to report their state after the call.
 */
export function unpack(value: unknown, classes: ReadonlyMap<string, PortableClass>): { value: unknown; stateful: Portable[] } {
  const stateful: Portable[] = [];
  const seen = new Map<object, unknown>();
  const walk = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return v;
    const done = seen.get(v);
    if (done !== undefined) return done;
    if (Array.isArray(v)) {
      seen.set(v, v);
      for (let i = 0; i < v.length; i++) v[i] = walk(v[i]);
      return v;
    }
    if (!isPlain(v)) return v;
    const o = v as Record<string, unknown>;
    if (o[TAG] === 'portable') {
      const p = o as unknown as PackedPortable;
      const cls = classes.get(p.type);
      if (!cls) throw new ConfigError(`a ${p.type} cannot be rebuilt in a worker thread: the worker knows ${[...classes.keys()].join(', ')}`);
      const obj = cls[REVIVE](walk(p.value)) as Portable;
      seen.set(v, obj);
      if (p.slot !== undefined) {
        obj[SET_CALL_STATE]?.(p.state);
        stateful[p.slot] = obj;
      }
      return obj;
    }
    seen.set(v, v);
    for (const k of Object.keys(o)) o[k] = walk(o[k]);
    return v;
  };
  return { value: walk(value), stateful };
}

function isShared(buffer: unknown): buffer is SharedArrayBuffer {
  return typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer;
}

type ViewClass = new (buffer: ArrayBufferLike) => ArrayBufferView;

/** The standard typed-array classes, which postMessage delivers (a Buffer arrives as a Uint8Array). */
const VIEW_CLASSES: ViewClass[] = [
  Float64Array, Float32Array, Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array, Uint8Array, Uint8ClampedArray,
  BigInt64Array, BigUint64Array, DataView,
];

/**
 * A view over a new ArrayBuffer of its own holding v's bytes, of v's standard class: a subclass's
 * own constructor may not take a buffer (Node's Buffer warns that it is deprecated).
 */
function copyOf(v: ArrayBufferView): ArrayBufferView {
  const into = new ArrayBuffer(v.byteLength);
  new Uint8Array(into).set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  const Type = VIEW_CLASSES.find((C) => v instanceof C) ?? Uint8Array;
  return new Type(into);
}

function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * A 64-bit fingerprint (two 32-bit lanes) of a value's content: typed arrays by their bytes,
 * everything else by its text. Tells whether a worker's copy of a model is still the model.
 */
export function fingerprint(value: unknown): string {
  const h = new Int32Array([0x811c9dc5 | 0, 0x6a09e667 | 0]);
  const text: string[] = [];
  const walk = (v: unknown): void => {
    if (ArrayBuffer.isView(v)) {
      text.push(`${v.constructor.name}:${v.byteLength}`);
      const n = (v.byteOffset & 3) === 0 ? v.byteLength >>> 2 : 0;
      hashWords(h, new Int32Array(v.buffer, v.byteOffset, n));
      if (n * 4 < v.byteLength) hashWords(h, Int32Array.from(new Uint8Array(v.buffer, v.byteOffset + n * 4, v.byteLength - n * 4)));
      return;
    }
    if (Array.isArray(v)) {
      text.push(`[${v.length}`);
      for (const x of v) walk(x);
      return;
    }
    if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        text.push(k);
        walk(x);
      }
      return;
    }
    text.push(typeof v === 'number' && Object.is(v, -0) ? '-0' : `${typeof v}:${String(v)}`);
  };
  walk(value);
  const t = text.join('\u0000');
  hashWords(h, Int32Array.from({ length: t.length }, (_, i) => t.charCodeAt(i)));
  return (h[0]! >>> 0).toString(16).padStart(8, '0') + (h[1]! >>> 0).toString(16).padStart(8, '0');
}

/** Fold 32-bit words into the two lanes of `h` (FNV-1a and a multiplicative hash); a tight loop. */
function hashWords(h: Int32Array, w: Int32Array): void {
  let a = h[0]!;
  let b = h[1]!;
  for (let i = 0; i < w.length; i++) {
    const x = w[i]!;
    a = Math.imul(a ^ x, 0x01000193);
    b = Math.imul(b + x, 0x5bd1e995);
  }
  h[0] = a;
  h[1] = b ^ (b >>> 15);
}
