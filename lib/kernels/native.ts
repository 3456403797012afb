/**
 * Adapter over the native addon: loads it, forwards calls, maps its errors to ours. No
 * validation (the public API did it; the binding re-checks for safety) and no math.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { HugePageAdvice, Prefault } from '../core/bufferLease.js';
import { BackendError, DisposedError, MetataskError, OutOfMemoryError, ShapeError, ValueError } from '../core/errors.js';
import { zeros, type FloatArray, type Matrix } from '../core/matrix.js';
import { designStatistics } from './designStatistics.js';
import { checkNormStats, compileNetwork, encodeProgram, type CompiledNetwork } from './networkSpec.js';
import type {
  AdamArgs, BackendInfo, CdDesign, CdFeatureState, DesignAllocator, CdRowsSet, CdScreenArgs, CdSweepArgs, CdWorkingSetArgs, CdTargets, SimdLevel, CdSweepResult, GemmOptions, GramSolveArgs, GramSweepArgs, InnerSolveResult, Kernels,
  ResidualSolveArgs, MetaBatchTasks, MetaGradientOptions, NetworkBatch, NetworkHandle, NetworkSpec, PendingMetaGradient,
  RmspropArgs, SgdArgs, SvdResult, SvtResult, SymEigResult, TaskLossArgs,
} from './types.js';

/** The raw functions the addon exports (native/src/binding/*.cc). */
export interface Addon {
  /**
   * temporaryBytes: what the calling thread's pool of kernel temporaries holds
   * (native/src/runtime/temporaries.h); scratchBytes: what its kernels' scratch buffers hold
   * (native/src/runtime/scratch.h).
   */
  info(): {
    version: string; simd: SimdLevel; simdAvailable: SimdLevel[]; threads: number; eigen: string; hardwareConcurrency: number;
    temporaryBytes: number; scratchBytes: number; hugePages: boolean;
  };
  setThreads(n: number): void;
  /** Whether the kernels' large buffers are marked for transparent huge pages from now on (process-wide). */
  setHugePages(on: boolean): void;
  /** Marks the whole 2 MiB pages inside `buffer` for transparent huge pages: [offset, bytes]. */
  hugePageSpan(buffer: ArrayBuffer): [number, number];
  /**
   * Faults in the pages of view's elements in one system call, as first writes would (contents
   * unchanged); whether the system did (Linux 5.14 on).
   */
  prefaultPages(view: Float64Array): boolean;
  /** Use that SIMD level from now on (process-wide); RangeError if this CPU cannot run it. */
  setSimd(name: string): void;
  gemm(a: Matrix<FloatArray>, b: Matrix<FloatArray>, c: Matrix<FloatArray>, transA: boolean, transB: boolean, alpha: number, beta: number): void;
  gram(x: Matrix, out: Matrix): void;
  transpose(a: Matrix, out: Matrix): void;
  gatherRows(a: Matrix<FloatArray>, rows: Int32Array, out: Matrix<FloatArray>): void;
  setBlock(out: Matrix<Float64Array>, row: number, col: number, a: Matrix<Float64Array>): void;
  gatherBlock(a: Matrix<Float64Array>, rows: Int32Array, cols: Int32Array, out: Matrix<Float64Array>): void;
  choleskySolve(a: Matrix, b: Matrix, x: Matrix): void;
  symEig(a: Matrix, values: Float64Array, vectors: Matrix): void;
  svd(a: Matrix, u: Matrix, s: Float64Array, vt: Matrix): void;
  groupSoftThreshold(w: Matrix, threshold: number): number;
  svt(w: Matrix, threshold: number, out: Matrix): { rank: number; nuclearNorm: number };
  mtenetSweep(xt: Matrix, rt: Matrix, w: Matrix, colNormSq: Float64Array, l1Reg: number, l2Reg: number, order: Int32Array): { wMax: number; dwMax: number };
  mtenetSweepBlocked(
    xt: Matrix, rt: Matrix, w: Matrix, colNormSq: Float64Array, l1Reg: number, l2Reg: number, order: Int32Array,
    blockGram: Float64Array, blockSize: number,
  ): { wMax: number; dwMax: number };
  mtenetBlockGram(xt: Matrix, order: Int32Array, blockSize: number, out: Float64Array): void;
  mtenetGramSweep(gram: Matrix, ht: Matrix, w: Matrix, l1Reg: number, l2Reg: number, order: Int32Array): { wMax: number; dwMax: number };
  cdColumnStats(x: Matrix, centre: boolean, mean: Float64Array, sqNorm: Float64Array): boolean;
  cdColumnStatsCorrelations(x: Matrix, centre: boolean, mean: Float64Array, sqNorm: Float64Array, yt: Matrix, out: Matrix, norms: Float64Array): boolean;
  cdCorrelations(x: Matrix, mean: Float64Array, sqNorm: Float64Array, rt: Matrix, cols: Int32Array, out: Matrix, norms: Float64Array): void;
  cdGatherColumns(x: Matrix, mean: Float64Array, cols: Int32Array, out: Matrix): void;
  cdTargets(y: Matrix, centre: boolean, yt: Matrix, yMean: Float64Array): number;
  cdCoefficients(cols: Int32Array, w: Matrix, mean: Float64Array, yMean: Float64Array, coef: Matrix, intercept: Float64Array): void;
  cdResidual(xs: Matrix, w: Matrix, yt: Matrix, rt: Matrix): { rNormSq: number; ry: number };
  cdGramColumns(x: Matrix, mean: Float64Array, rows: Int32Array, cols: Int32Array, out: Matrix): void;
  cdResidualColumns(x: Matrix, mean: Float64Array, cols: Int32Array, w: Matrix, yt: Matrix, rt: Matrix): { rNormSq: number; ry: number };
  cdResidualCorrelations(
    x: Matrix, mean: Float64Array, sqNorm: Float64Array, resCols: Int32Array, w: Matrix, yt: Matrix, rt: Matrix, cols: Int32Array, out: Matrix,
    norms: Float64Array,
  ): { rNormSq: number; ry: number };
  cdGramCorrelations(gram: Matrix, xty: Matrix, w: Matrix, support: Int32Array, cols: Int32Array, out: Matrix, norms: Float64Array): void;
  mtenetGramSolve(
    gram: Matrix, ht: Matrix, w: Matrix, r0NormSq: number, r0y: number, l1Reg: number, l2Reg: number, tol: number, maxSweeps: number, orders: Int32Array,
    xty: Matrix,
  ): InnerSolveResult;
  mtenetResidualSolve(
    xs: Matrix, yt: Matrix, rt: Matrix, w: Matrix, h: Matrix, l1Reg: number, l2Reg: number, tol: number, maxSweeps: number, orders: Int32Array,
    continues: boolean, colNormSq: Float64Array,
  ): InnerSolveResult;
  cdDualNorms(
    colNormSq: Float64Array, corr: Matrix, corrNorm: Float64Array, corrVersion: Int32Array, corrDrift: Float64Array, nonZero: Uint8Array, w: Matrix,
    version: number, drift: number, l1Reg: number, l2Reg: number, xi: Float64Array,
  ): number;
  cdScreen(active: Uint8Array, nonZero: Uint8Array, xi: Float64Array, colNormSq: Float64Array, scale: number, radius: number, l2Reg: number, threshold: number): number;
  cdStaleFeatures(corrVersion: Int32Array, version: number, eligible: Uint8Array, xi: Float64Array, limit: number, out: Int32Array): number;
  cdFlaggedFeatures(flags: Uint8Array, out: Int32Array, except: Uint8Array | null): number;
  cdFlagPositive(values: Float64Array, flags: Uint8Array): number;
  cdWorkingSet(active: Uint8Array, nonZero: Uint8Array, xi: Float64Array, strong: number, minSize: number, out: Int32Array, violation?: number, fullSetLimit?: number): number;
  cdSetRows(w: Matrix<Float64Array>, nonZero: Uint8Array, rows: Int32Array, values: Matrix<Float64Array>): CdRowsSet;
  cdSetCorrelations(
    corr: Matrix<Float64Array>, corrNorm: Float64Array, corrVersion: Int32Array, corrDrift: Float64Array, version: number, drift: number,
    cols: Int32Array, values: Matrix<Float64Array>, norms: Float64Array,
  ): void;
  taskLoss(
    x: Matrix, y: Float64Array, offsets: Int32Array, w: Matrix, intercept: Float64Array, scale: Float64Array,
    loss: string, gradW: Matrix | null, gradIntercept: Float64Array | null, out: Float64Array,
  ): void;
  /** One object each, the fields of AdamArgs / SgdArgs / RmspropArgs (native/src/binding/optim.cc). */
  adamStep(args: AdamArgs<FloatArray>): void;
  sgdStep(args: SgdArgs<FloatArray>): void;
  rmspropStep(args: RmspropArgs<FloatArray>): void;
  fillMask(state: Int32Array, out: FloatArray, rate: number, keep: number): void;
  /** A compiled network (native/src/binding/network.cc): the program of encodeProgram and a dtype. */
  Network: new (ints: Int32Array, floats: Float64Array, dtype: 'float32' | 'float64') => NativeNetworkObject;
  [name: string]: unknown;
}

/** The `mean` / `sqNorm` / `norms` / `orders` arguments of the cd kernels when absent. */
const NO_MEAN = new Float64Array(0);
const NO_ORDERS = new Int32Array(0);
/** An absent optional matrix argument (mtenetGramSolve's xty). */
const NO_MATRIX: Matrix = { rows: 0, cols: 0, data: NO_MEAN };

/** The methods of the addon's Network class (argument order as in native/src/binding/network.cc). */
export interface NativeNetworkObject {
  /**
   * Every batch method takes, after the dropout masks, the batchnorm statistics of the call:
   * `stats` (running statistics to normalise with, or null) and `statsOut` (a Float64Array that
   * receives the batch statistics, or null); at most one of the two.
   */
  forward(params: FloatArray, x: Matrix<FloatArray>, masks: (FloatArray | null)[] | null, stats: FloatArray | null, statsOut: Float64Array | null, out: Matrix<FloatArray>): void;
  lossGrad(
    params: FloatArray, x: Matrix<FloatArray>, y: Matrix<FloatArray>, masks: (FloatArray | null)[] | null, stats: FloatArray | null, statsOut: Float64Array | null,
    weights: Float64Array, grad: FloatArray | null, losses: Float64Array,
  ): void;
  headGrads(
    params: FloatArray, x: Matrix<FloatArray>, y: Matrix<FloatArray>, masks: (FloatArray | null)[] | null, stats: FloatArray | null, statsOut: Float64Array | null,
    out: Matrix<FloatArray>, losses: Float64Array,
  ): void;
  hvp(
    params: FloatArray, x: Matrix<FloatArray>, y: Matrix<FloatArray>, masks: (FloatArray | null)[] | null, stats: FloatArray | null, statsOut: Float64Array | null,
    weights: Float64Array, v: FloatArray, out: FloatArray,
  ): void;
  /** grad = J^T outGrad; outGrad is n x outputWidth (forward's layout), grad has paramCount entries. */
  vjp(
    params: FloatArray, x: Matrix<FloatArray>, masks: (FloatArray | null)[] | null, stats: FloatArray | null, statsOut: Float64Array | null,
    outGrad: Matrix<FloatArray>, grad: FloatArray, reuseForward: boolean,
  ): void;
  /** The meta-batch kernel (native/src/kernels/metabatch.h); returns the mean query loss. */
  metaGradient(
    params: FloatArray, x: Matrix<FloatArray>, y: Matrix<FloatArray>, offsets: Int32Array,
    innerLr: number, innerSteps: number, firstOrder: boolean, innerMask: Uint8Array | null, grad: Float64Array,
  ): number;
  metaGradientStart(
    params: FloatArray, x: Matrix<FloatArray>, y: Matrix<FloatArray>, offsets: Int32Array,
    innerLr: number, innerSteps: number, firstOrder: boolean, innerMask: Uint8Array | null,
  ): void;
  metaGradientFinish(grad: Float64Array): number;
  info(): { paramCount: number; inputSize: number; outputWidth: number; targetCols: number; heads: number; nodes: number; statsCount: number; dtype: string; bytes: number };
  dispose(): void;
}

/** The package root: the folder holding metatask's package.json (from dist/lib/kernels or lib/kernels). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    dir = dirname(dir);
  }
  return dirname(dirname(dirname(fileURLToPath(import.meta.url))));
}

export interface LoadResult {
  addon: Addon | null;
  /** The file the addon was loaded from. */
  path?: string;
  /** Every place looked at and why it failed (for BackendError messages). */
  attempts: string[];
}

/**
 * Load the addon: the file named by METATASK_ADDON when set (a build of its own, e.g. with
 * sanitizers; nothing else is tried then, so a broken one is not hidden), else node-gyp-build
 * (build/Release, then prebuilds/<platform>-<arch>/), then build/Debug.
 */
export function loadAddon(): LoadResult {
  const require = createRequire(import.meta.url);
  const root = packageRoot();
  const attempts: string[] = [];
  const explicit = process.env.METATASK_ADDON;
  if (explicit) {
    try {
      const path = resolve(explicit);
      return { addon: require(path) as Addon, path, attempts };
    } catch (err) {
      attempts.push(`METATASK_ADDON=${explicit}: ${firstLine(err)}`);
      return { addon: null, attempts };
    }
  }
  let file: string | undefined;
  try {
    const locate = (require('node-gyp-build') as { resolve(dir: string): string }).resolve;
    file = locate(root);
    return { addon: require(file) as Addon, path: file, attempts };
  } catch (err) {
    // A binary that was found but does not load (say, a C library too old) is named with its error.
    attempts.push(file ? `${file}: ${firstLine(err)}` : `node-gyp-build in ${root} (build/Release, prebuilds/): ${firstLine(err)}`);
  }
  for (const p of [join(root, 'build', 'Debug', 'metatask.node')]) {
    try {
      return { addon: require(p) as Addon, path: p, attempts };
    } catch (err) {
      attempts.push(`${p}: ${firstLine(err)}`);
    }
  }
  return { addon: null, attempts };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

/** The binding's message prefixes (native/src/binding/args.h) and the errors they become. */
const PREFIXED: [string, new (message: string) => MetataskError][] = [
  ['ERR_VALUE:', ValueError],
  ['ERR_DISPOSED:', DisposedError],
  ['ERR_OUT_OF_MEMORY:', OutOfMemoryError],
];

/** Translate the binding's errors (TypeError/RangeError for bad arguments, prefixed ones) into metatask errors. */
function call<R>(f: () => R): R {
  try {
    return f();
  } catch (err) {
    if (err instanceof MetataskError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    for (const [prefix, Type] of PREFIXED) if (msg.startsWith(prefix)) throw new Type(msg.slice(prefix.length));
    if (err instanceof TypeError || err instanceof RangeError) throw new ShapeError(`native kernel: ${msg}`);
    throw err;
  }
}

/** The buffer lease's prefault: the addon's prefaultPages. */
export function prefaultWith(addon: Addon): Prefault {
  return (view) => {
    call(() => addon.prefaultPages(view));
  };
}

/**
 * Turn the addon's huge-page advice for its kernels' large buffers on or off, and return the
 * matching advice for the buffer lease: the addon's hugePageSpan when on, else null.
 */
export function useHugePages(addon: Addon, on: boolean): HugePageAdvice | null {
  call(() => addon.setHugePages(on));
  return on ? (buffer) => call(() => addon.hugePageSpan(buffer)) : null;
}

export function nativeKernels(addon: Addon): Kernels {
  return {
    name: 'native',
    gemm<T extends FloatArray>(a: Matrix<T>, b: Matrix<T>, c: Matrix<T>, o: GemmOptions = {}): void {
      call(() => addon.gemm(a, b, c, o.transA ?? false, o.transB ?? false, o.alpha ?? 1, o.beta ?? 0));
    },
    gram(x: Matrix, out: Matrix): void {
      call(() => addon.gram(x, out));
    },
    transpose(a: Matrix, out: Matrix): void {
      call(() => addon.transpose(a, out));
    },
    gatherRows<T extends FloatArray>(a: Matrix<T>, rows: Int32Array, out: Matrix<T>): void {
      call(() => addon.gatherRows(a, rows, out));
    },
    setBlock(out: Matrix<Float64Array>, row: number, col: number, a: Matrix<Float64Array>): void {
      call(() => addon.setBlock(out, row, col, a));
    },
    gatherBlock(a: Matrix<Float64Array>, rows: Int32Array, cols: Int32Array, out: Matrix<Float64Array>): void {
      call(() => addon.gatherBlock(a, rows, cols, out));
    },
    choleskySolve(a: Matrix, b: Matrix): Matrix {
      const x = zeros(b.rows, b.cols);
      call(() => addon.choleskySolve(a, b, x));
      return x;
    },
    symEig(a: Matrix): SymEigResult {
      const values = new Float64Array(a.rows);
      const vectors = zeros(a.rows, a.rows);
      call(() => addon.symEig(a, values, vectors));
      return { values, vectors };
    },
    svd(a: Matrix): SvdResult {
      const k = Math.min(a.rows, a.cols);
      const u = zeros(a.rows, k);
      const s = new Float64Array(k);
      const vt = zeros(k, a.cols);
      call(() => addon.svd(a, u, s, vt));
      return { u, s, vt };
    },
    groupSoftThreshold(w: Matrix, threshold: number): number {
      return call(() => addon.groupSoftThreshold(w, threshold));
    },
    svt(w: Matrix, threshold: number): SvtResult {
      const result = zeros(w.rows, w.cols);
      const r = call(() => addon.svt(w, threshold, result));
      return { result, rank: r.rank, nuclearNorm: r.nuclearNorm };
    },
    mtenetSweep(a: CdSweepArgs): CdSweepResult {
      if (a.blockGram !== undefined && a.blockSize !== undefined) {
        const { blockGram, blockSize } = a;
        return call(() => addon.mtenetSweepBlocked(a.xt, a.rt, a.w, a.colNormSq, a.l1Reg, a.l2Reg, a.order, blockGram, blockSize));
      }
      return call(() => addon.mtenetSweep(a.xt, a.rt, a.w, a.colNormSq, a.l1Reg, a.l2Reg, a.order));
    },
    mtenetBlockGram(xt: Matrix, order: Int32Array, blockSize: number): Float64Array {
      const out = new Float64Array(Math.ceil(order.length / blockSize) * blockSize * blockSize);
      call(() => addon.mtenetBlockGram(xt, order, blockSize, out));
      return out;
    },
    mtenetGramSweep(a: GramSweepArgs): CdSweepResult {
      return call(() => addon.mtenetGramSweep(a.gram, a.ht, a.w, a.l1Reg, a.l2Reg, a.order));
    },
    // The design keeps its column statistics only (X is read in place): 2 d values from `allocate`.
    cdDesign(x: Matrix, centre: boolean, allocate?: DesignAllocator): CdDesign {
      const { mean, colNormSq } = designStatistics(x.cols, allocate);
      const finite = call(() => addon.cdColumnStats(x, centre, mean, colNormSq));
      return { x, centred: centre, mean, colNormSq, finite };
    },
    cdDesignCorrelations(x: Matrix, centre: boolean, yt: Matrix, out: Matrix, norms: Float64Array, allocate?: DesignAllocator): CdDesign {
      const { mean, colNormSq } = designStatistics(x.cols, allocate);
      const finite = call(() => addon.cdColumnStatsCorrelations(x, centre, mean, colNormSq, yt, out, norms));
      return { x, centred: centre, mean, colNormSq, finite };
    },
    cdCorrelations(design: CdDesign, rt: Matrix, cols: Int32Array, out: Matrix, norms?: Float64Array): void {
      const c = design.centred;
      call(() => addon.cdCorrelations(design.x, c ? design.mean : NO_MEAN, c ? design.colNormSq : NO_MEAN, rt, cols, out, norms ?? NO_MEAN));
    },
    cdGatherColumns(design: CdDesign, cols: Int32Array, out: Matrix): void {
      call(() => addon.cdGatherColumns(design.x, design.centred ? design.mean : NO_MEAN, cols, out));
    },
    cdTargets(y: Matrix, centre: boolean, out?: Matrix<Float64Array>): CdTargets {
      const yt = out ?? zeros(y.cols, y.rows);
      const yMean = new Float64Array(y.cols);
      const yNormSq = call(() => addon.cdTargets(y, centre, yt, yMean));
      return { yt, yMean, yNormSq };
    },
    cdCoefficients(cols: Int32Array, w: Matrix, mean: Float64Array, yMean: Float64Array, coef: Matrix, intercept: Float64Array): void {
      call(() => addon.cdCoefficients(cols, w, mean, yMean, coef, intercept));
    },
    cdResidual(xs: Matrix, w: Matrix, yt: Matrix, rt: Matrix): { rNormSq: number; ry: number } {
      return call(() => addon.cdResidual(xs, w, yt, rt));
    },
    cdGramColumns(design: CdDesign, rows: Int32Array, cols: Int32Array, out: Matrix): void {
      call(() => addon.cdGramColumns(design.x, design.centred ? design.mean : NO_MEAN, rows, cols, out));
    },
    cdResidualColumns(design: CdDesign, cols: Int32Array, w: Matrix, yt: Matrix, rt: Matrix): { rNormSq: number; ry: number } {
      return call(() => addon.cdResidualColumns(design.x, design.centred ? design.mean : NO_MEAN, cols, w, yt, rt));
    },
    cdResidualCorrelations(
      design: CdDesign, resCols: Int32Array, w: Matrix, yt: Matrix, rt: Matrix, cols: Int32Array, out: Matrix, norms?: Float64Array,
    ): { rNormSq: number; ry: number } {
      const c = design.centred;
      return call(() =>
        addon.cdResidualCorrelations(design.x, c ? design.mean : NO_MEAN, c ? design.colNormSq : NO_MEAN, resCols, w, yt, rt, cols, out, norms ?? NO_MEAN),
      );
    },
    cdGramCorrelations(gram: Matrix, xty: Matrix, w: Matrix, support: Int32Array, cols: Int32Array, out: Matrix, norms?: Float64Array): void {
      call(() => addon.cdGramCorrelations(gram, xty, w, support, cols, out, norms ?? NO_MEAN));
    },
    mtenetGramSolve(a: GramSolveArgs): InnerSolveResult {
      return call(() => addon.mtenetGramSolve(a.gram, a.ht, a.w, a.r0NormSq, a.r0y, a.l1Reg, a.l2Reg, a.tol, a.maxSweeps, a.orders ?? NO_ORDERS, a.xty ?? NO_MATRIX));
    },
    mtenetResidualSolve(a: ResidualSolveArgs): InnerSolveResult {
      return call(() => addon.mtenetResidualSolve(a.xs, a.yt, a.rt, a.w, a.h, a.l1Reg, a.l2Reg, a.tol, a.maxSweeps, a.orders ?? NO_ORDERS, a.continues ?? false, a.colNormSq ?? NO_MEAN));
    },
    cdDualNorms(s: CdFeatureState, l1Reg: number, l2Reg: number, xi: Float64Array): number {
      return call(() => addon.cdDualNorms(s.colNormSq, s.corr, s.corrNorm, s.corrVersion, s.corrDrift, s.nonZero, s.w, s.version, s.drift, l1Reg, l2Reg, xi));
    },
    cdScreen(a: CdScreenArgs): number {
      return call(() => addon.cdScreen(a.active, a.nonZero, a.xi, a.colNormSq, a.scale, a.radius, a.l2Reg, a.threshold));
    },
    cdStaleFeatures(corrVersion: Int32Array, version: number, eligible: Uint8Array, xi: Float64Array, limit: number, out: Int32Array): number {
      return call(() => addon.cdStaleFeatures(corrVersion, version, eligible, xi, limit, out));
    },
    cdFlaggedFeatures(flags: Uint8Array, out: Int32Array, except?: Uint8Array): number {
      return call(() => addon.cdFlaggedFeatures(flags, out, except ?? null));
    },
    cdFlagPositive(values: Float64Array, flags: Uint8Array): number {
      return call(() => addon.cdFlagPositive(values, flags));
    },
    cdWorkingSet(a: CdWorkingSetArgs): number {
      return call(() => addon.cdWorkingSet(a.active, a.nonZero, a.xi, a.strong, a.minSize, a.out, a.violation, a.fullSetLimit));
    },
    cdSetRows(w: Matrix<Float64Array>, nonZero: Uint8Array, rows: Int32Array, values: Matrix<Float64Array>): CdRowsSet {
      return call(() => addon.cdSetRows(w, nonZero, rows, values));
    },
    cdSetCorrelations(s: CdFeatureState, cols: Int32Array, values: Matrix<Float64Array>, norms?: Float64Array): void {
      call(() => addon.cdSetCorrelations(s.corr, s.corrNorm, s.corrVersion, s.corrDrift, s.version, s.drift, cols, values, norms ?? NO_MEAN));
    },
    taskLoss(a: TaskLossArgs): Float64Array {
      const out = new Float64Array(a.offsets.length - 1);
      call(() =>
        addon.taskLoss(a.x, a.y, a.offsets, a.w, a.intercept, a.scale, a.loss, a.gradW ?? null, a.gradIntercept ?? null, out),
      );
      return out;
    },
    network: ((spec: NetworkSpec, dtype: 'float32' | 'float64') => new NativeNetwork<FloatArray>(addon, spec, dtype)) as Kernels['network'],
    adamStep<T extends FloatArray>(a: AdamArgs<T>): void {
      call(() => addon.adamStep(a));
    },
    sgdStep<T extends FloatArray>(a: SgdArgs<T>): void {
      call(() => addon.sgdStep(a));
    },
    rmspropStep<T extends FloatArray>(a: RmspropArgs<T>): void {
      call(() => addon.rmspropStep(a));
    },
    fillMask(state: Int32Array, out: FloatArray, rate: number, keep: number): void {
      call(() => addon.fillMask(state, out, rate, keep));
    },
  };
}

export function nativeInfo(addon: Addon): Omit<BackendInfo, 'wasmSimd'> {
  const i = addon.info();
  return { name: 'native', version: `${i.version} (Eigen ${i.eigen})`, simd: i.simd, simdAvailable: i.simdAvailable, threads: i.threads, hugePages: i.hugePages };
}

/** The SIMD levels, lowest first (native/src/simd/level.h). */
export const SIMD_LEVELS = ['sse2', 'avx2', 'avx512', 'neon', 'generic'] as const;

/**
 * Cap the addon's SIMD level at `requested` (METATASK_SIMD): the level itself when this CPU runs it.
 * Throws a BackendError naming the levels the CPU runs when it does not.
 */
export function capSimd(addon: Addon, requested: string): void {
  const available = addon.info().simdAvailable;
  if (!(SIMD_LEVELS as readonly string[]).includes(requested)) {
    throw new BackendError(`METATASK_SIMD must be one of ${SIMD_LEVELS.join(', ')}, got '${requested}'; this CPU runs: ${available.join(', ')}`, 'ERR_SIMD_UNAVAILABLE');
  }
  if (!available.includes(requested as SimdLevel)) {
    throw new BackendError(`METATASK_SIMD=${requested}: this CPU cannot run the ${requested} kernels; it runs: ${available.join(', ')}`, 'ERR_SIMD_UNAVAILABLE');
  }
  addon.setSimd(requested);
}

/**
 * A network handle over the addon's Network class: the spec is compiled (and checked) once in
 * TypeScript, passed as encodeProgram's arrays, and re-validated in C++. Outputs are allocated here.
 */
class NativeNetwork<T extends FloatArray> implements NetworkHandle<T> {
  readonly paramCount: number;
  readonly dtype: 'float32' | 'float64';
  private readonly compiled: CompiledNetwork;
  private readonly obj: NativeNetworkObject;

  constructor(addon: Addon, spec: NetworkSpec, dtype: 'float32' | 'float64') {
    this.compiled = compileNetwork(spec);
    const { ints, floats } = encodeProgram(this.compiled);
    this.obj = call(() => new addon.Network(ints, floats, dtype));
    this.dtype = dtype;
    this.paramCount = this.compiled.paramCount;
  }

  /** The mask table the binding expects: one entry per node, only dropout nodes filled. */
  private masks(batch: NetworkBatch<T>): (FloatArray | null)[] | null {
    if (!batch.masks || batch.masks.size === 0) return null;
    const out: (FloatArray | null)[] = new Array(this.compiled.widths.length).fill(null);
    for (const i of this.compiled.dropoutNodes) out[i] = batch.masks.get(i) ?? null;
    return out;
  }

  /** The stats and statsOut arguments of the binding. */
  private stats(batch: NetworkBatch<T>): [FloatArray | null, Float64Array | null] {
    const { running, batchOut } = checkNormStats(this.compiled, this.dtype, batch.stats);
    return [running, batchOut];
  }

  private y(batch: NetworkBatch<T>): Matrix<T> {
    if (!batch.y) throw new ShapeError('network: batch.y is required for losses and gradients');
    return batch.y;
  }

  forward(params: T, batch: NetworkBatch<T>): Matrix<T> {
    const out = zeros(batch.x.rows, this.compiled.outputWidth, this.dtype) as Matrix<FloatArray> as Matrix<T>;
    call(() => this.obj.forward(params, batch.x, this.masks(batch), ...this.stats(batch), out));
    return out;
  }

  lossGrad(params: T, batch: NetworkBatch<T>, weights: Float64Array, grad: T | null): Float64Array {
    const losses = new Float64Array(this.compiled.spec.heads.length);
    call(() => this.obj.lossGrad(params, batch.x, this.y(batch), this.masks(batch), ...this.stats(batch), weights, grad, losses));
    return losses;
  }

  headGrads(params: T, batch: NetworkBatch<T>, out: Matrix<T>): Float64Array {
    const losses = new Float64Array(this.compiled.spec.heads.length);
    call(() => this.obj.headGrads(params, batch.x, this.y(batch), this.masks(batch), ...this.stats(batch), out, losses));
    return losses;
  }

  hvp(params: T, batch: NetworkBatch<T>, weights: Float64Array, v: T, out: T): void {
    call(() => this.obj.hvp(params, batch.x, this.y(batch), this.masks(batch), ...this.stats(batch), weights, v, out));
  }

  vjp(params: T, batch: NetworkBatch<T>, outGrad: Matrix<T>, grad: T, reuseForward = false): void {
    call(() => this.obj.vjp(params, batch.x, this.masks(batch), ...this.stats(batch), outGrad, grad, reuseForward));
  }

  metaGradient(params: T, tasks: MetaBatchTasks<T>, o: MetaGradientOptions, grad: Float64Array): number {
    return call(() =>
      this.obj.metaGradient(params, tasks.x, tasks.y, tasks.offsets, o.innerLr, o.innerSteps, o.firstOrder, o.innerMask ?? null, grad),
    );
  }

  metaGradientStart(params: T, tasks: MetaBatchTasks<T>, o: MetaGradientOptions): PendingMetaGradient {
    call(() => this.obj.metaGradientStart(params, tasks.x, tasks.y, tasks.offsets, o.innerLr, o.innerSteps, o.firstOrder, o.innerMask ?? null));
    return { finish: (grad: Float64Array): number => call(() => this.obj.metaGradientFinish(grad)) };
  }

  dispose(): void {
    this.obj.dispose();
  }
}
