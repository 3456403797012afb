/**
 * datasets.omniglot(file): Omniglot (Lake, Salakhutdinov & Tenenbaum, Science 2015; MIT licence)
 * from an `.u8` image file and the `.json` index beside it, in this format
 * (the package does not ship Omniglot):
 * - `name.u8`: count images of height x width bytes, row-major, 255 = paper, 0 = ink;
 * - `name.json`: { count, height, width, images: [[alphabet, character, drawer, charId], ...] }
 *   (a bare array of those entries is read too, with 28 x 28 images).
 * Pixels come back as ink intensity, x = 1 - byte / 255, in float32: strokes are 1 and the
 * background 0, so an empty region contributes nothing to a dot product.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { FormatError } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';

export interface OmniglotData {
  /** n x (height * width), float32 ink intensity in [0, 1]. */
  X: Matrix<Float32Array>;
  /** The global character id of each image (charId): the class label. */
  labels: Int32Array;
  /** Alphabet name of each image. */
  alphabet: string[];
  /** Character folder name within its alphabet (character01, ...) of each image. */
  character: string[];
  /** Which of the 20 drawers drew each image (1..20). */
  drawer: Int32Array;
  /** Distinct alphabet names in order of first appearance. */
  alphabets: string[];
  height: number;
  width: number;
}

/** Resolve the image file and its index from a .u8 path, a .json path or a directory. */
function resolveFiles(file: string): { u8: string; json: string } {
  if (typeof file !== 'string' || file === '') throw new FormatError(`datasets.omniglot(file): expected the path of an .u8 file, got ${String(file)}`);
  if (existsSync(file) && statSync(file).isDirectory()) {
    const u8 = join(file, 'omniglot28_background.u8');
    return { u8, json: join(file, 'omniglot28_background.json') };
  }
  const base = file.replace(/\.(u8|json)$/i, '');
  return { u8: `${base}.u8`, json: `${base}.json` };
}

type Entry = [string, string, number, number];

export function omniglot(file: string): OmniglotData {
  const { u8, json } = resolveFiles(file);
  if (!existsSync(u8)) throw new FormatError(`datasets.omniglot: image file ${u8} not found`);
  if (!existsSync(json)) throw new FormatError(`datasets.omniglot: index file ${json} not found (it must sit beside ${u8}, same name, .json)`);
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(json, 'utf8'));
  } catch (err) {
    throw new FormatError(`datasets.omniglot: ${json} is not valid JSON (${(err as Error).message})`);
  }
  let images: unknown;
  let height = 28;
  let width = 28;
  let count: number | undefined;
  if (Array.isArray(index)) images = index;
  else if (index !== null && typeof index === 'object') {
    const o = index as Record<string, unknown>;
    images = o.images;
    if (o.height !== undefined) height = o.height as number;
    if (o.width !== undefined) width = o.width as number;
    if (o.count !== undefined) count = o.count as number;
  }
  if (!Array.isArray(images)) throw new FormatError(`datasets.omniglot: ${json} has no 'images' list of [alphabet, character, drawer, charId]`);
  for (const [k, v] of [['height', height], ['width', width]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new FormatError(`datasets.omniglot: ${json}: '${k}' must be a positive integer, got ${String(v)}`);
  }
  const n = images.length;
  if (count !== undefined && count !== n) throw new FormatError(`datasets.omniglot: ${json} says count = ${String(count)} but lists ${n} images`);

  const bytes = readFileSync(u8);
  const d = height * width;
  if (bytes.length !== n * d) {
    throw new FormatError(
      `datasets.omniglot: ${u8} has ${bytes.length} bytes; the index lists ${n} images of ${height} x ${width} = ${n * d} bytes` +
        (bytes.length % d === 0 ? ` (the file holds ${bytes.length / d} images)` : ''),
    );
  }

  const labels = new Int32Array(n);
  const drawer = new Int32Array(n);
  const alphabet: string[] = new Array(n);
  const character: string[] = new Array(n);
  const alphabets: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const e = images[i] as Entry;
    if (!Array.isArray(e) || e.length !== 4 || typeof e[0] !== 'string' || typeof e[1] !== 'string' || !Number.isInteger(e[2]) || !Number.isInteger(e[3])) {
      throw new FormatError(`datasets.omniglot: ${json}: image ${i} must be [alphabet, character, drawer, charId] (strings then integers), got ${JSON.stringify(e)}`);
    }
    alphabet[i] = e[0];
    character[i] = e[1];
    drawer[i] = e[2];
    labels[i] = e[3];
    if (!seen.has(e[0])) {
      seen.add(e[0]);
      alphabets.push(e[0]);
    }
  }

  // A lookup table: 256 entries instead of a division per pixel.
  const lut = new Float32Array(256);
  for (let b = 0; b < 256; b++) lut[b] = 1 - b / 255;
  const data = new Float32Array(n * d);
  for (let k = 0; k < data.length; k++) data[k] = lut[bytes[k]!]!;
  return { X: { rows: n, cols: d, data }, labels, alphabet, character, drawer, alphabets, height, width };
}
