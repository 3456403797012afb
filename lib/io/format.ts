/**
 * The versioned model format: a JSON document
 *   { format: "metatask/1", kind, config, state, data?, checksum }
 * where `state` holds the fitted parameters (typed arrays encoded as { dtype, shape, base64 }
 * of little-endian bytes, so float64 values survive exactly), optimizer and strategy state, and
 * the optional `data` says what the program that saved the model knows of its input (the
 * `metatask` command records the columns of the table it was fitted on). `checksum` is the
 * SHA-256 of the canonical JSON of everything else, so a corrupted file is detected before any of
 * it is used.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';

import { FormatError } from '../core/errors.js';
import type { FloatArray, Matrix } from '../core/matrix.js';

export const FORMAT = 'metatask/1';

export interface ModelDocument {
  format: typeof FORMAT;
  kind: string;
  config: unknown;
  state: unknown;
  /** What the saving program recorded about the model's input (covered by the checksum). */
  data?: unknown;
  checksum: string;
}

interface EncodedArray {
  $array: 'float64' | 'float32' | 'int32';
  shape: number[];
  base64: string;
}

/** Turn typed arrays and Matrix objects into JSON-safe values (recursively). */
export function encodeValue(v: unknown): unknown {
  if (v instanceof Float64Array || v instanceof Float32Array || v instanceof Int32Array) {
    const kind = v instanceof Float64Array ? 'float64' : v instanceof Float32Array ? 'float32' : 'int32';
    const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    // Typed arrays are platform-endian; every platform Node supports here is little-endian.
    return { $array: kind, shape: [v.length], base64: bytes.toString('base64') } satisfies EncodedArray;
  }
  if (Array.isArray(v)) return v.map(encodeValue);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = encodeValue(x);
    return out;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return { $number: String(v) };
  return v;
}

export function decodeValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decodeValue);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.$array === 'string') {
      const bytes = Buffer.from(String(o.base64 ?? ''), 'base64');
      const copy = new Uint8Array(bytes).buffer;
      switch (o.$array) {
        case 'float64':
          if (copy.byteLength % 8) throw new FormatError('model file: a float64 array has a truncated payload');
          return new Float64Array(copy);
        case 'float32':
          if (copy.byteLength % 4) throw new FormatError('model file: a float32 array has a truncated payload');
          return new Float32Array(copy);
        case 'int32':
          if (copy.byteLength % 4) throw new FormatError('model file: an int32 array has a truncated payload');
          return new Int32Array(copy);
        default:
          throw new FormatError(`model file: unknown array type '${String(o.$array)}'`);
      }
    }
    if (typeof o.$number === 'string' && Object.keys(o).length === 1) return Number(o.$number);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) out[k] = decodeValue(x);
    return out;
  }
  return v;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function checksumOf(kind: string, config: unknown, state: unknown, data?: unknown): string {
  const body = data === undefined ? { format: FORMAT, kind, config, state } : { format: FORMAT, kind, config, state, data };
  return createHash('sha256').update(canonical(body)).digest('hex');
}

/** Build the document for a model (typed arrays inside config/state are encoded). */
export function toDocument(kind: string, config: unknown, state: unknown): ModelDocument {
  const c = encodeValue(config);
  const s = encodeValue(state);
  return { format: FORMAT, kind, config: c, state: s, checksum: checksumOf(kind, c, s) };
}

/** `doc` with `data` recorded in it (encoded like the state) and its checksum renewed. */
export function withData(doc: ModelDocument, data: unknown): ModelDocument {
  const d = encodeValue(data);
  return { format: doc.format, kind: doc.kind, config: doc.config, state: doc.state, data: d, checksum: checksumOf(doc.kind, doc.config, doc.state, d) };
}

/**
 * Check a parsed document and return its decoded config and state. `kind` is the class that is
 * loading it; a document of another kind is refused with a message naming both.
 */
export function fromDocument(doc: unknown, kind: string): { config: any; state: any } {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new FormatError(`not a metatask model: expected a JSON object with format '${FORMAT}'`);
  }
  const d = doc as Partial<ModelDocument>;
  if (typeof d.format !== 'string' || !d.format.startsWith('metatask/')) {
    throw new FormatError(`not a metatask model: the 'format' field is ${JSON.stringify(d.format)}, expected '${FORMAT}'`);
  }
  if (d.format !== FORMAT) {
    throw new FormatError(`unsupported model format '${d.format}': this version of metatask reads '${FORMAT}'`);
  }
  if (d.kind !== kind) {
    throw new FormatError(`this file holds a ${String(d.kind)}, not a ${kind}: load it with ${String(d.kind)}.load()`);
  }
  if (typeof d.checksum !== 'string' || checksumOf(d.kind, d.config, d.state, d.data) !== d.checksum) {
    throw new FormatError(`the ${kind} model is corrupted: its checksum does not match its contents`);
  }
  return { config: decodeValue(d.config), state: decodeValue(d.state) };
}

export async function saveDocument(path: string, doc: ModelDocument): Promise<void> {
  await writeFile(path, JSON.stringify(doc));
}

export function saveDocumentSync(path: string, doc: ModelDocument): void {
  writeFileSync(path, JSON.stringify(doc));
}

export async function readDocument(path: string): Promise<unknown> {
  return parseDocument(await readFile(path, 'utf8'), path);
}

export function readDocumentSync(path: string): unknown {
  return parseDocument(readFileSync(path, 'utf8'), path);
}

function parseDocument(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${path} is not a metatask model (not valid JSON: ${(err as Error).message})`);
  }
}

/** A Matrix from decoded state, checked. */
export function matrixFromState(v: unknown, name: string): Matrix<Float64Array> {
  const o = v as { rows?: unknown; cols?: unknown; data?: unknown } | null;
  if (!o || typeof o.rows !== 'number' || typeof o.cols !== 'number' || !(o.data instanceof Float64Array) || o.data.length !== o.rows * o.cols) {
    throw new FormatError(`model file: '${name}' is not a valid float64 matrix`);
  }
  return { rows: o.rows, cols: o.cols, data: o.data };
}

export function arrayFromState<T extends FloatArray>(v: unknown, name: string, type: new (n: number) => T, length?: number): T {
  if (!(v instanceof type) || (length !== undefined && v.length !== length)) {
    throw new FormatError(`model file: '${name}' is not a valid ${type.name}${length !== undefined ? ` of length ${length}` : ''}`);
  }
  return v;
}
