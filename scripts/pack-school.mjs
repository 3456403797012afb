#!/usr/bin/env node
// Pack the School CSV (school/school.csv in the data folder next to this repository, or the path
// given) into data/school.bin.gz, the compact form shipped in the npm package (read by
// lib/data/school.ts). Every value of the table is an integer in 0..255
// (task index, score 1-70, one-hot features, two percentages), so each column is stored as one
// byte per row, column after column: a one-hot column is then a long run of 0s and 1s that gzip
// compresses to a few hundred bytes.
// Layout (before gzip):
//   bytes 0-3    "MTSC" magic
//   bytes 4-7    uint32 LE length L of the JSON header
//   bytes 8..    JSON header { rows, columns: [names...], version: 1 }
//   then         rows bytes for column 0, rows bytes for column 1, ... (column-major uint8)
// Usage: node scripts/pack-school.mjs [path/to/school.csv]
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = process.argv[2] ?? join(root, '..', 'shared', 'data', 'school', 'school.csv');
const lines = readFileSync(src, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
const columns = lines[0].split(',');
const rows = lines.length - 1;
const body = new Uint8Array(rows * columns.length);
for (let i = 0; i < rows; i++) {
  const cells = lines[i + 1].split(',');
  if (cells.length !== columns.length) throw new Error(`${src} line ${i + 2}: ${cells.length} cells, expected ${columns.length}`);
  cells.forEach((c, j) => {
    const v = Number(c);
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new Error(`${src} line ${i + 2}, column ${columns[j]}: ${c} does not fit in a byte`);
    body[j * rows + i] = v;
  });
}
const header = Buffer.from(JSON.stringify({ version: 1, rows, columns }));
const len = Buffer.alloc(4);
len.writeUInt32LE(header.length);
const raw = Buffer.concat([Buffer.from('MTSC'), len, header, body]);
const packed = gzipSync(raw, { level: 9 });
const out = join(root, 'data', 'school.bin.gz');
writeFileSync(out, packed);
console.log(`${out}: ${rows} rows x ${columns.length} columns; csv ${readFileSync(src).length} bytes -> raw ${raw.length} -> gzip ${packed.length} bytes`);
