/**
 * What travels through the job queue, as JSON: models, arguments and results encoded as the model
 * format encodes them (typed arrays as base64 of their bytes, so float64 values are exact), and
 * data either inline in the job or by reference.
 *
 * Data by reference: saveData(path, data) writes a data file (the same encoding, with a SHA-256)
 * and returns a DataRef { url, sha256, bytes } to pass instead of the data; a worker reads the URL
 * (file:// on a shared file system, or http(s)://), checks the hash and keeps the data in memory
 * for the next jobs on it. Data inline is copied into every job that uses it (a CV fold each), so
 * a job whose JSON would pass `inlineLimit` (default 1 MiB) is refused with a message saying to
 * save the data first.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { ConfigError, FormatError } from '../core/errors.js';
import { decodeValue, encodeValue } from '../io/format.js';
import { pack, unpack } from '../parallel/transfer.js';
import { classRegistry } from './registry.js';

const DATA_FORMAT = 'metatask-data/1';

/** A data set the workers read from a URL; pass it wherever the data would go. */
export interface DataRef {
  $metatask: 'ref';
  /** file:///... (a file system the workers share) or http(s)://... */
  url: string;
  /** SHA-256 of the file's content (a worker checks it). */
  sha256: string;
  bytes: number;
}

export function isDataRef(v: unknown): v is DataRef {
  return v !== null && typeof v === 'object' && (v as { $metatask?: unknown }).$metatask === 'ref';
}

/** The JSON form of a value: library objects described, typed arrays encoded. */
export function encodePayload(value: unknown, where: string): unknown {
  return encodeValue(pack(value, 'keep', where).value);
}

/**
 * Write `data` (matrices, a MultiTaskDataset, { X, Y }, ...) to `path` as a data file and return
 * its reference. `url` is the address the workers will read it at (default: the file's file://
 * URL, for a file system they share).
 */
export async function saveData(path: string, data: unknown, options: { url?: string } = {}): Promise<DataRef> {
  const text = JSON.stringify({ format: DATA_FORMAT, value: encodePayload(data, 'saveData(data)') });
  await writeFile(path, text);
  const ref: DataRef = {
    $metatask: 'ref',
    url: options.url ?? pathToFileURL(resolve(path)).href,
    sha256: createHash('sha256').update(text).digest('hex'),
    bytes: Buffer.byteLength(text),
  };
  // The submitter keeps the data itself at hand (not part of the reference's JSON).
  Object.defineProperty(ref, 'value', { value: data, enumerable: false });
  return ref;
}

const cache = new Map<string, Promise<unknown>>();
const CACHE_ENTRIES = 4;

/**
 * The packed value behind a reference (read once per process and kept: the most recent few).
 * Callers get their own copy of it (structuredClone), so that rebuilding objects from it never
 * touches the cached one.
 */
export async function readData(ref: DataRef): Promise<unknown> {
  let p = cache.get(ref.sha256);
  if (!p) {
    p = fetchData(ref);
    cache.set(ref.sha256, p);
    p.catch(() => cache.delete(ref.sha256));
    while (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  }
  return structuredClone(await p);
}

async function fetchData(ref: DataRef): Promise<unknown> {
  let text: string;
  const u = new URL(ref.url);
  if (u.protocol === 'file:') text = await readFile(fileURLToPath(u), 'utf8');
  else if (u.protocol === 'http:' || u.protocol === 'https:') {
    const res = await fetch(u);
    if (!res.ok) throw new FormatError(`data ${ref.url}: the server answered ${res.status} ${res.statusText}`);
    text = await res.text();
  } else throw new ConfigError(`data ${ref.url}: a worker reads file://, http:// and https:// URLs`);
  const hash = createHash('sha256').update(text).digest('hex');
  if (hash !== ref.sha256) throw new FormatError(`data ${ref.url} changed or is corrupted: its SHA-256 is ${hash}, the reference says ${ref.sha256}`);
  const doc = JSON.parse(text) as { format?: unknown; value?: unknown };
  if (doc.format !== DATA_FORMAT) throw new FormatError(`data ${ref.url} is not a metatask data file (format ${JSON.stringify(doc.format)})`);
  return decodeValue(doc.value);
}

/** The data behind a reference, on the submitter's side (kept by saveData, else read). */
export async function dataOf(v: unknown): Promise<unknown> {
  if (!isDataRef(v)) return v;
  const kept = (v as { value?: unknown }).value;
  if (kept !== undefined) return kept;
  return unpack(await readData(v), classRegistry().portables).value;
}

/**
 * Decode a job's JSON value: typed arrays back, references replaced by their (packed) data. The
 * result still holds the library objects in packed form (lib/parallel/transfer.ts unpacks them).
 */
export async function decodePayload(json: unknown): Promise<unknown> {
  const refs: { holder: Record<string, unknown> | unknown[]; key: string | number; ref: DataRef }[] = [];
  const find = (v: unknown, holder: Record<string, unknown> | unknown[] | null, key: string | number): void => {
    if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return;
    if (isDataRef(v) && holder) {
      refs.push({ holder, key, ref: v });
      return;
    }
    if (Array.isArray(v)) v.forEach((x, i) => find(x, v, i));
    else for (const [k, x] of Object.entries(v)) find(x, v as Record<string, unknown>, k);
  };
  const value = decodeValue(json);
  const root = [value];
  find(value, root, 0);
  for (const r of refs) (r.holder as Record<string | number, unknown>)[r.key] = await readData(r.ref);
  return root[0];
}
