/**
 * datasets.school(): the School data (Goldstein 1991; ILEA exam scores, 139 schools, 15,362
 * students), in the binary-coded 27+1 feature version of Argyriou, Evgeniou & Pontil (2008),
 * shipped inside the package as data/school.bin.gz (format and terms in data/README.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { FormatError } from '../core/errors.js';
import { MultiTaskDataset, type TaskInput } from './dataset.js';
import { omniglot } from './omniglot.js';

interface Packed {
  rows: number;
  columns: string[];
  body: Uint8Array;
}

let cache: Packed | undefined;

/** Where data/ lives: two levels above lib/data in the sources, three above dist/lib/data. */
function dataFile(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const p = join(here, up, 'data', name);
    if (existsSync(p)) return p;
  }
  throw new FormatError(`the packaged data file data/${name} is missing from this installation of metatask`);
}

function load(): Packed {
  if (cache) return cache;
  const raw = gunzipSync(readFileSync(dataFile('school.bin.gz')));
  if (raw.subarray(0, 4).toString('latin1') !== 'MTSC') throw new FormatError('data/school.bin.gz is not a packed School file');
  const len = raw.readUInt32LE(4);
  const header = JSON.parse(raw.subarray(8, 8 + len).toString('utf8')) as { rows: number; columns: string[] };
  const body = new Uint8Array(raw.buffer, raw.byteOffset + 8 + len, raw.length - 8 - len);
  if (body.length !== header.rows * header.columns.length) throw new FormatError('data/school.bin.gz is truncated');
  cache = { rows: header.rows, columns: header.columns, body };
  return cache;
}

/** The 28 feature names of the School data, in column order. */
export function schoolFeatureNames(): string[] {
  return load().columns.slice(2);
}

/**
 * The School data as a MultiTaskDataset: 139 regression tasks 'school-0'..'school-138', 28
 * features (the last is the constant bias column), target = exam score (1-70). Rows keep the
 * order of the original file within each school. Returns a fresh copy on every call.
 */
export function school(): MultiTaskDataset {
  const { rows, columns, body } = load();
  const d = columns.length - 2;
  const col = (j: number, i: number) => body[j * rows + i]!;
  const byTask = new Map<number, number[]>();
  for (let i = 0; i < rows; i++) {
    const t = col(0, i);
    let g = byTask.get(t);
    if (!g) byTask.set(t, (g = []));
    g.push(i);
  }
  const ids = [...byTask.keys()].sort((a, b) => a - b);
  const tasks: TaskInput[] = ids.map((t) => {
    const idx = byTask.get(t)!;
    const X = new Float64Array(idx.length * d);
    const y = new Float64Array(idx.length);
    idx.forEach((r, i) => {
      y[i] = col(1, r);
      for (let k = 0; k < d; k++) X[i * d + k] = col(k + 2, r);
    });
    return { name: `school-${t}`, X: { rows: idx.length, cols: d, data: X }, y, type: 'regression' };
  });
  return new MultiTaskDataset(tasks);
}

/** The datasets shipped with metatask, and readers of those it does not ship (Omniglot). */
export const datasets = { school, omniglot };
