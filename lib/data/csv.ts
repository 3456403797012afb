/**
 * A small CSV reader for numeric tables: a header line, comma-separated cells, no quoting
 * (the format of most exported numeric tables). Errors name the file,
 * the line (1-based, as an editor shows it) and the column, because a bad cell in a 15,000-line
 * file is otherwise hard to find.
 */
import { readFileSync } from 'node:fs';
import { ValueError } from '../core/errors.js';

export interface CsvTable {
  /** Column names from the header line. */
  header: string[];
  /** Cells as parsed numbers, row-major: rows x header.length. */
  data: Float64Array;
  rows: number;
  /** Raw text of the columns listed in `keepText` (e.g. a task column holding names). */
  text: Map<string, string[]>;
}

export interface CsvOptions {
  /** Columns kept as text instead of being parsed as numbers (e.g. a task name column). */
  keepText?: readonly string[];
  /** Columns where an empty cell is a missing value (NaN) instead of an error (e.g. a label a row lacks). */
  missing?: readonly string[];
  /** Used in error messages (a file path); default 'CSV'. */
  source?: string;
}

/** Parse CSV text. Empty lines (including a trailing newline) are skipped. */
export function parseCSV(text: string, options: CsvOptions = {}): CsvTable {
  const source = options.source ?? 'CSV';
  const lines = text.split(/\r?\n/);
  let li = 0;
  while (li < lines.length && lines[li]!.trim() === '') li++;
  if (li >= lines.length) throw new ValueError(`${source} is empty: expected a header line and data rows`);
  const header = lines[li]!.split(',').map((h) => h.trim());
  const seen = new Set<string>();
  header.forEach((h, j) => {
    if (h === '') throw new ValueError(`${source} line ${li + 1}: column ${j + 1} of the header has no name`);
    if (seen.has(h)) throw new ValueError(`${source} line ${li + 1}: the header names column '${h}' twice`);
    seen.add(h);
  });
  const width = header.length;
  const keep = new Set(options.keepText ?? []);
  const keepIdx = header.map((h) => keep.has(h));
  const missing = new Set(options.missing ?? []);
  const missingIdx = header.map((h) => missing.has(h));
  const textCols = new Map<string, string[]>();
  for (const h of header) if (keep.has(h)) textCols.set(h, []);
  const values: number[] = [];
  let rows = 0;
  for (let i = li + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const cells = line.split(',');
    if (cells.length !== width) {
      throw new ValueError(`${source} line ${i + 1}: ${cells.length} cells, but the header has ${width} columns`);
    }
    for (let j = 0; j < width; j++) {
      const cell = cells[j]!.trim();
      if (keepIdx[j]) {
        textCols.get(header[j]!)!.push(cell);
        values.push(NaN);
        continue;
      }
      const v = cell === '' ? NaN : Number(cell);
      if (!Number.isFinite(v) && !(cell === '' && missingIdx[j])) {
        throw new ValueError(
          `${source} line ${i + 1}, column '${header[j]}': ${cell === '' ? 'empty cell' : `'${cell.slice(0, 40)}' is not a finite number`}`,
        );
      }
      values.push(v);
    }
    rows++;
  }
  return { header, data: Float64Array.from(values), rows, text: textCols };
}

/** Read and parse a CSV file. */
export function readCSV(path: string, options: Omit<CsvOptions, 'source'> = {}): CsvTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ValueError(`cannot read CSV file ${path}: ${(err as Error).message}`);
  }
  return parseCSV(text, { ...options, source: path });
}
