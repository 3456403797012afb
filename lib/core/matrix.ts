/**
 * Matrix: the one dense type every algorithm and kernel works on.
 * Row-major, `data` a Float64Array (linear models, solvers) or Float32Array (networks).
 * Public functions accept number[][], a Matrix-like object, or a typed array with a shape, and
 * convert once through `toMatrix`.
 */
import { ShapeError, ValueError } from './errors.js';

export type FloatArray = Float64Array | Float32Array;
export type DType = 'float64' | 'float32';

export interface Matrix<T extends FloatArray = Float64Array> {
  readonly rows: number;
  readonly cols: number;
  readonly data: T;
}

/** What public functions accept as a matrix. */
export type MatrixLike =
  | Matrix<FloatArray>
  | readonly (readonly number[])[]
  | { data: ArrayLike<number>; shape: readonly [number, number] }
  | { rows: number; cols: number; data: ArrayLike<number> };

/** What public functions accept as a vector. */
export type VectorLike = ArrayLike<number>;

export function dtypeOf(a: FloatArray): DType {
  return a instanceof Float32Array ? 'float32' : 'float64';
}

export function allocate(dtype: DType, length: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(length) : new Float64Array(length);
}

export function zeros(rows: number, cols: number): Matrix<Float64Array>;
export function zeros(rows: number, cols: number, dtype: 'float64'): Matrix<Float64Array>;
export function zeros(rows: number, cols: number, dtype: 'float32'): Matrix<Float32Array>;
export function zeros(rows: number, cols: number, dtype: DType): Matrix<FloatArray>;
export function zeros(rows: number, cols: number, dtype: DType = 'float64'): Matrix<FloatArray> {
  return { rows, cols, data: allocate(dtype, rows * cols) };
}

export function matrix<T extends FloatArray>(rows: number, cols: number, data: T): Matrix<T> {
  if (data.length !== rows * cols) {
    throw new ShapeError(`matrix data has ${data.length} values, expected rows x cols = ${rows} x ${cols} = ${rows * cols}`);
  }
  return { rows, cols, data };
}

export function identity(n: number): Matrix<Float64Array> {
  const m = zeros(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
  return m;
}

export function transpose<T extends FloatArray>(a: Matrix<T>): Matrix<T> {
  const out = new (a.data.constructor as new (n: number) => T)(a.rows * a.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) out[j * a.rows + i] = a.data[i * a.cols + j]!;
  }
  return { rows: a.cols, cols: a.rows, data: out };
}

export function cloneMatrix<T extends FloatArray>(a: Matrix<T>): Matrix<T> {
  return { rows: a.rows, cols: a.cols, data: a.data.slice() as T };
}

/** Row i as a copy. */
export function row<T extends FloatArray>(a: Matrix<T>, i: number): T {
  return a.data.slice(i * a.cols, (i + 1) * a.cols) as T;
}

/** Rows picked by index, as a new matrix. */
export function takeRows<T extends FloatArray>(a: Matrix<T>, idx: ArrayLike<number>): Matrix<T> {
  const out = new (a.data.constructor as new (n: number) => T)(idx.length * a.cols);
  for (let r = 0; r < idx.length; r++) {
    const i = idx[r]!;
    out.set(a.data.subarray(i * a.cols, (i + 1) * a.cols), r * a.cols);
  }
  return { rows: idx.length, cols: a.cols, data: out };
}

/** Nested arrays, for display and tests. */
export function toArray(a: Matrix<FloatArray>): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < a.rows; i++) out.push(Array.from(a.data.subarray(i * a.cols, (i + 1) * a.cols)));
  return out;
}

export interface ToMatrixOptions {
  /** Element type of the result (default float64). */
  dtype?: DType;
  /** Accept NaN (missing labels); Infinity is always rejected. Default false. */
  allowNaN?: boolean;
  /** Copy even when the input is already a Matrix of the right dtype. Default false. */
  copy?: boolean;
  /** Accept a matrix with zero rows. Default false. */
  allowEmpty?: boolean;
  /**
   * Check that every value is finite (default true). A caller that turns this off checks the
   * values itself, typically in a kernel that reads them anyway, and names a bad one with
   * assertFinite.
   */
  checkFinite?: boolean;
}

/**
 * Convert any accepted matrix form into a Matrix of the requested dtype, checking shape and
 * values. `name` goes into error messages ("X", "Y of task 'school-7'").
 */
export function toMatrix(input: unknown, name: string, options?: ToMatrixOptions & { dtype?: 'float64' }): Matrix<Float64Array>;
export function toMatrix(input: unknown, name: string, options: ToMatrixOptions & { dtype: 'float32' }): Matrix<Float32Array>;
export function toMatrix(input: unknown, name: string, options: ToMatrixOptions): Matrix<FloatArray>;
export function toMatrix(input: unknown, name: string, options: ToMatrixOptions = {}): Matrix<FloatArray> {
  const dtype = options.dtype ?? 'float64';
  let rows: number;
  let cols: number;
  let out: FloatArray;
  if (Array.isArray(input)) {
    rows = input.length;
    if (rows === 0) {
      if (options.allowEmpty) return zeros(0, 0, dtype);
      throw new ShapeError(`${name} has no rows; expected a non-empty 2-D array`);
    }
    const first = input[0];
    if (!Array.isArray(first) && !ArrayBuffer.isView(first)) {
      throw new ShapeError(`${name} must be a 2-D array (an array of rows); row 0 is ${describe(first)}`);
    }
    cols = (first as ArrayLike<number>).length;
    out = allocate(dtype, rows * cols);
    for (let i = 0; i < rows; i++) {
      const r = input[i] as ArrayLike<number>;
      if (!Array.isArray(r) && !ArrayBuffer.isView(r)) {
        throw new ShapeError(`${name} must be a 2-D array; row ${i} is ${describe(r)}`);
      }
      if (r.length !== cols) {
        throw new ShapeError(`${name} is ragged: row ${i} has ${r.length} values, row 0 has ${cols}`);
      }
      for (let j = 0; j < cols; j++) {
        const v = r[j];
        if (typeof v !== 'number') throw new ValueError(`${name}[${i}][${j}] is ${describe(v)}, expected a number`);
        out[i * cols + j] = v;
      }
    }
  } else if (input !== null && typeof input === 'object' && 'data' in input) {
    const obj = input as { data: unknown; rows?: unknown; cols?: unknown; shape?: unknown };
    if (Array.isArray(obj.shape)) {
      if (obj.shape.length !== 2) throw new ShapeError(`${name}.shape must have 2 entries, got ${obj.shape.length}`);
      [rows, cols] = obj.shape as [number, number];
    } else {
      rows = obj.rows as number;
      cols = obj.cols as number;
    }
    if (!isCount(rows) || !isCount(cols)) {
      throw new ShapeError(`${name} must have non-negative integer rows and cols, got ${String(rows)} x ${String(cols)}`);
    }
    const data = obj.data;
    if (!ArrayBuffer.isView(data) && !Array.isArray(data)) {
      throw new ShapeError(`${name}.data must be a typed array or an array of numbers, got ${describe(data)}`);
    }
    const src = data as ArrayLike<number>;
    if (src.length !== rows * cols) {
      throw new ShapeError(`${name}.data has ${src.length} values, expected ${rows} x ${cols} = ${rows * cols}`);
    }
    if (!options.copy && dtype === 'float64' && src instanceof Float64Array) out = src;
    else if (!options.copy && dtype === 'float32' && src instanceof Float32Array) out = src;
    else {
      out = allocate(dtype, src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i];
        if (typeof v !== 'number' && typeof v !== 'bigint') throw new ValueError(`${name}.data[${i}] is ${describe(v)}, expected a number`);
        out[i] = Number(v);
      }
    }
  } else {
    throw new ShapeError(`${name} must be a 2-D array, a Matrix {rows, cols, data} or {data, shape}; got ${describe(input)}`);
  }
  if (rows === 0 && !options.allowEmpty) throw new ShapeError(`${name} has no rows; expected at least one`);
  if (options.checkFinite ?? true) checkFinite(out, name, cols, options.allowNaN ?? false);
  return { rows, cols, data: out };
}

/** Convert a vector input, with the same checks as toMatrix. */
export function toVector(input: unknown, name: string, options: { dtype?: DType; allowNaN?: boolean; length?: number; checkFinite?: boolean } = {}): FloatArray {
  if (!Array.isArray(input) && !ArrayBuffer.isView(input)) {
    throw new ShapeError(`${name} must be an array or typed array of numbers, got ${describe(input)}`);
  }
  const src = input as ArrayLike<number>;
  if (options.length !== undefined && src.length !== options.length) {
    throw new ShapeError(`${name} has ${src.length} values, expected ${options.length}`);
  }
  const out = allocate(options.dtype ?? 'float64', src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (typeof v !== 'number') throw new ValueError(`${name}[${i}] is ${describe(v)}, expected a number`);
    out[i] = v;
  }
  if (options.checkFinite ?? true) checkFinite(out, name, 0, options.allowNaN ?? false);
  return out;
}

/**
 * Throw a ValueError naming the first NaN or infinity of `a` (by row and column when `cols` > 0,
 * else by index); return when every value is finite.
 */
export function assertFinite(a: FloatArray, name: string, cols = 0): void {
  checkFinite(a, name, cols, false);
}

function checkFinite(a: FloatArray, name: string, cols: number, allowNaN: boolean): void {
  // Fast path for the common case (all finite); the loop below finds and names the first bad value.
  if (a instanceof Float64Array ? allFinite64(a) : allFinite32(a as Float32Array)) return;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v - v !== 0) {
      if (allowNaN && Number.isNaN(v)) continue;
      const where = cols > 0 ? `row ${Math.floor(i / cols)}, column ${i % cols}` : `index ${i}`;
      throw new ValueError(`${name} has a non-finite value (${v}) at ${where}; clean or impute the data first`);
    }
  }
}

/*
 * Whether every value is finite, four values per test: v - v is 0 for a finite v and NaN for
 * NaN or +-Infinity, so the sum of four is 0 exactly when all four are finite. One copy per array
 * type keeps each loop monomorphic (a single loop over FloatArray runs ~2x slower in V8).
 */
function allFinite64(a: Float64Array): boolean {
  const n = a.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    if (a[i]! - a[i]! + (a[i + 1]! - a[i + 1]!) + (a[i + 2]! - a[i + 2]!) + (a[i + 3]! - a[i + 3]!) !== 0) return false;
  }
  for (; i < n; i++) if (a[i]! - a[i]! !== 0) return false;
  return true;
}

function allFinite32(a: Float32Array): boolean {
  const n = a.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    if (a[i]! - a[i]! + (a[i + 1]! - a[i + 1]!) + (a[i + 2]! - a[i + 2]!) + (a[i + 3]! - a[i + 3]!) !== 0) return false;
  }
  for (; i < n; i++) if (a[i]! - a[i]! !== 0) return false;
  return true;
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  return `${typeof v} ${String(v)}`;
}
