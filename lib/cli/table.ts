/**
 * The tables the command reads and writes: a CSV file (header line, comma-separated, as lib/data/csv.ts
 * reads it) or a JSON file holding an array of records ([{ "school": "a", "score": 17, ... }],
 * pandas' `to_json(orient="records")`), from a path or from standard input ('-'). Columns the
 * caller needs as numbers are parsed as numbers (a bad cell is a ValueError naming the line or
 * record and the column); every other column is kept as text (task names, ids).
 */
import { readFileSync } from 'node:fs';

import { ValueError } from '../core/errors.js';
import { describe } from '../core/matrix.js';
import { didYouMean } from '../core/suggest.js';
import { parseCSV } from '../data/csv.js';

export interface Table {
  /** Where it came from (a path, or 'standard input'), for messages. */
  source: string;
  header: string[];
  rows: number;
  /** The numeric columns asked for (NaN where a missing-allowed cell was empty). */
  numbers: Map<string, Float64Array>;
  /** Every other column, as text. */
  text: Map<string, string[]>;
}

/** Which columns to read as numbers, chosen once the header is known. */
export interface ColumnChoice {
  numeric: readonly string[];
  /** Numeric columns where an empty cell (or null in JSON) is a missing value, NaN. */
  missing?: readonly string[];
}

/** Read a table from `path` ('-' = standard input); `choose` picks the numeric columns from the header. */
export function readTable(path: string, choose: (header: string[], source: string) => ColumnChoice): Table {
  const source = path === '-' ? 'standard input' : path;
  let content: string;
  try {
    content = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new ValueError(code === 'ENOENT' ? `cannot read ${source}: no such file` : `cannot read ${source}: ${(err as Error).message}`);
  }
  const start = content.trimStart()[0];
  return start === '[' || start === '{' ? jsonTable(content, source, choose) : csvTable(content, source, choose);
}

function csvTable(content: string, source: string, choose: (header: string[], source: string) => ColumnChoice): Table {
  const firstLine = content.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  const header = firstLine.split(',').map((h) => h.trim());
  const choice = choose(header, source);
  checkColumns(header, choice.numeric, source);
  const numeric = new Set(choice.numeric);
  const csv = parseCSV(content, { keepText: header.filter((h) => !numeric.has(h)), missing: choice.missing, source });
  const numbers = new Map<string, Float64Array>();
  const w = csv.header.length;
  for (const name of choice.numeric) {
    const j = csv.header.indexOf(name);
    numbers.set(name, Float64Array.from({ length: csv.rows }, (_, i) => csv.data[i * w + j]!));
  }
  return { source, header: csv.header, rows: csv.rows, numbers, text: csv.text };
}

function jsonTable(content: string, source: string, choose: (header: string[], source: string) => ColumnChoice): Table {
  let records: unknown;
  try {
    records = JSON.parse(content);
  } catch (err) {
    throw new ValueError(`${source} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(records) || records.length === 0 || records.some((r) => r === null || typeof r !== 'object' || Array.isArray(r))) {
    throw new ValueError(`${source}: expected a JSON array of records like [{ "column": value, ... }] (one object per row), got ${describe(records)}`);
  }
  const header = Object.keys(records[0] as object);
  const choice = choose(header, source);
  checkColumns(header, choice.numeric, source);
  const missing = new Set(choice.missing ?? []);
  const numbers = new Map<string, Float64Array>();
  for (const name of choice.numeric) {
    numbers.set(
      name,
      Float64Array.from(records as Record<string, unknown>[], (r, i) => {
        const v = r[name];
        if (typeof v === 'number' && Number.isFinite(v)) return v;
        if ((v === null || v === undefined || v === '') && missing.has(name)) return NaN;
        if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
        throw new ValueError(`${source} record ${i}, column '${name}': ${v === undefined ? 'missing' : `${describe(v)} is not a finite number`}`);
      }),
    );
  }
  const text = new Map<string, string[]>();
  for (const name of header) {
    if (!numbers.has(name)) text.set(name, (records as Record<string, unknown>[]).map((r) => (r[name] === undefined || r[name] === null ? '' : String(r[name]))));
  }
  return { source, header, rows: records.length, numbers, text };
}

/** Every requested column is in the header (else a ValueError with "did you mean"). */
export function checkColumns(header: readonly string[], names: readonly string[], source: string): void {
  for (const name of names) {
    if (!header.includes(name)) throw new ValueError(`${source} has no column '${name}'${didYouMean(name, header)}; its columns: ${header.join(', ')}`);
  }
}

/** A column of an output table: numbers (NaN: empty) or text. */
export interface Column {
  name: string;
  values: ArrayLike<number> | readonly string[];
}

/** Output columns as CSV text (a header line, then one line per row; NaN as an empty cell). */
export function columnsToCsv(columns: readonly Column[]): string {
  const n = columns[0]?.values.length ?? 0;
  const cell = (v: number | string) => (typeof v === 'number' ? (Number.isNaN(v) ? '' : String(v)) : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const lines = [columns.map((c) => cell(c.name)).join(',')];
  for (let i = 0; i < n; i++) lines.push(columns.map((c) => cell(c.values[i]!)).join(','));
  return `${lines.join('\n')}\n`;
}

/** Output columns as JSON records, one object per row (NaN as null). */
export function columnsToRecords(columns: readonly Column[]): Record<string, number | string | null>[] {
  const n = columns[0]?.values.length ?? 0;
  return Array.from({ length: n }, (_, i) => Object.fromEntries(columns.map((c) => {
    const v = c.values[i]!;
    return [c.name, typeof v === 'number' && !Number.isFinite(v) ? null : v];
  })));
}
