/**
 * Cross-validated multi-task elastic net and lasso (sklearn.linear_model.MultiTaskElasticNetCV,
 * MultiTaskLassoCV): for each l1Ratio, scikit-learn's alpha grid (alpha_max = max_j ||X_j^T Y||_2 /
 * (n l1Ratio) on the centred data, nAlphas values down to eps alpha_max; see alphaGrid.ts), then on
 * each of k folds (KFold, contiguous and unshuffled unless `shuffle`) the regularisation path
 * solved by coordinate descent warm-started from the previous alpha (Friedman, Hastie & Tibshirani,
 * J. Stat. Softw. 33, 2010) with the sequential strong rule and gap-safe screening carried along the
 * path (solvers/workingSet.ts), scoring the held-out mean squared error (mean over samples and tasks).
 * A fold whose path would read X more often than its Gram matrix costs (gramPays) solves the path
 * from Xc^T Xc and Xc^T Y, computed once (Friedman et al.'s covariance updates, section 2.2).
 * The (l1Ratio, alpha) with the lowest mean MSE over the folds is refitted on all the data.
 */
import { BufferLease } from '../core/bufferLease.js';
import { ConfigError, FormatError, ShapeError, ValueError } from '../core/errors.js';
import { describe, type Matrix, type MatrixLike } from '../core/matrix.js';
import { bool, custom, num, parseOptions } from '../core/options.js';
import { throwIfAborted } from '../core/async.js';
import { parseFitOptions, parseSyncFitOptions } from '../core/estimator.js';
import { offload } from '../parallel/offload.js';
import { Rng } from '../core/rng.js';
import { kernels } from '../kernels/index.js';
import type { CdDesign, Kernels } from '../kernels/types.js';
import { arrayFromState, matrixFromState } from '../io/format.js';
import { alphaGrid } from './alphaGrid.js';
import { CdEstimator, cdProgress, checkPredictX, checkSharedData, linearPredict, openDocument, type CdFitted } from './cdEstimator.js';
import { parseLassoOptions, SELECTION_SPEC, SOLVER_SPEC } from './cdOptions.js';
import { checkFitOptions, checkXY, convergenceWarning, finish, meanR2, runAsync, runSync, toTargets, type FitOptions } from './multiTaskElasticNet.js';
import { EnetState, gramPays, prepareProblem, rowsOf, solveEnet, withGram, type EnetProblem, type ProgressInfo, type SolveSettings } from './solvers/workingSet.js';

/** Options of {@link MultiTaskElasticNetCV}. */
export interface MultiTaskElasticNetCVOptions {
  /**
   * Mixing parameter(s) in [0, 1] (1 = lasso). With a list, every value is cross-validated and the
   * best is kept (as in scikit-learn, put values near 1 more densely). Default 0.5.
   */
  l1Ratio?: number | readonly number[];
  /** Length of the path: alpha_min / alpha_max. Default 1e-3. */
  eps?: number;
  /** Number of alphas along the path (per l1Ratio). Default 100. */
  nAlphas?: number;
  /** Your own alphas (sorted descending before use); replaces the automatic grid. */
  alphas?: readonly number[] | Float64Array;
  /** Fit intercepts (X and Y centred, per fold). Default true. */
  fitIntercept?: boolean;
  /** Tolerance of each coordinate-descent solve (see MultiTaskElasticNet). Default 1e-4. */
  tol?: number;
  /** Maximum sweeps of each solve. Default 1000. */
  maxIter?: number;
  /** Number of folds (KFold). Default 5. */
  cv?: number;
  /** Shuffle the samples before splitting into folds (with `seed`). Default false, like scikit-learn's KFold. */
  shuffle?: boolean;
  /** Seed for the shuffle and for selection 'random'. Default 0. */
  seed?: number;
  /** 'cyclic' or 'random' feature order (see MultiTaskElasticNet). Default 'cyclic'. */
  selection?: 'cyclic' | 'random';
}

/** Options of {@link MultiTaskLassoCV}: those of the elastic-net CV without `l1Ratio` (fixed at 1). */
export type MultiTaskLassoCVOptions = Omit<MultiTaskElasticNetCVOptions, 'l1Ratio'>;

interface ResolvedCVOptions {
  l1Ratio: number | readonly number[];
  eps: number;
  nAlphas: number;
  alphas: readonly number[] | Float64Array | undefined;
  fitIntercept: boolean;
  tol: number;
  maxIter: number;
  cv: number;
  shuffle: boolean;
  seed: number | undefined;
  selection: 'cyclic' | 'random';
}

const isRatio = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v <= 1;

const CV_SPEC = {
  l1Ratio: custom<number | readonly number[]>(
    'a number in [0, 1] or a non-empty list of them',
    (v) => isRatio(v) || (Array.isArray(v) && v.length > 0 && v.every(isRatio)),
    0.5,
  ),
  eps: num({ default: 1e-3, min: 0, exclusiveMin: true }),
  nAlphas: num({ default: 100, min: 1, integer: true }),
  alphas: custom<readonly number[]>(
    'a non-empty array of finite numbers >= 0',
    (v) =>
      (Array.isArray(v) || v instanceof Float64Array) &&
      v.length > 0 &&
      Array.from(v as ArrayLike<unknown>).every((a) => typeof a === 'number' && Number.isFinite(a) && a >= 0),
  ),
  ...SOLVER_SPEC,
  cv: num({ default: 5, min: 2, integer: true }),
  shuffle: bool(false),
  seed: num(),
  selection: SELECTION_SPEC,
};

/** KFold (scikit-learn): the first n % k folds have one extra sample; test folds are contiguous runs of `idx`. */
export function kFold(n: number, k: number, shuffle: boolean, rng: Rng): { train: Int32Array; test: Int32Array }[] {
  const idx = shuffle ? rng.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
  const folds: { train: Int32Array; test: Int32Array }[] = [];
  let start = 0;
  for (let f = 0; f < k; f++) {
    const size = Math.floor(n / k) + (f < n % k ? 1 : 0);
    const test = idx.slice(start, start + size);
    const train = new Int32Array(n - size);
    train.set(idx.subarray(0, start), 0);
    train.set(idx.subarray(start + size), start);
    folds.push({ train, test });
    start += size;
  }
  return folds;
}

interface CVFitted extends CdFitted {
  alpha: number;
  l1Ratio: number;
  alphas: Float64Array;
  msePath: Matrix<Float64Array>;
  l1Ratios: Float64Array;
  alphaGrids: Float64Array[];
  msePaths: Matrix<Float64Array>[];
}

interface CVResult extends CVFitted {
  unconverged: number;
  solves: number;
  refitConverged: boolean;
}

/**
 * A fold's held-out rows, centred by the training means (X_te - 1 mean^T, Y_te - 1 yMean^T): the
 * residual of the centred rows at W is then the prediction error, intercept included. Held as a
 * design read in place and Y^T, with room for the residual.
 */
interface HeldOut {
  design: CdDesign;
  yt: Matrix<Float64Array>;
  rt: Matrix<Float64Array>;
}

function heldOut(k: Kernels, p: EnetProblem, x: Matrix<Float64Array>, y: Matrix<Float64Array>, test: Int32Array, lease: BufferLease): HeldOut {
  const xTe = takeRowsShifted(x, test, p.design.mean, lease);
  const yTe = takeRowsShifted(y, test, p.yMean, lease);
  const m = test.length;
  const yt = k.cdTargets(yTe, false, { rows: p.T, cols: m, data: lease.f64(p.T * m) }).yt;
  return { design: k.cdDesign(xTe, false, (length, source) => lease.f64From(source, length)), yt, rt: { rows: p.T, cols: m, data: lease.f64(p.T * m) } };
}

/**
 * Rows idx of a, each minus `shift` (one value per column), in a buffer of `lease`. One small
 * function for X and Y: V8 compiles its loop once for both (two loops inline in heldOut were
 * compiled on the stack and discarded at their exit, fold after fold).
 */
function takeRowsShifted(a: Matrix<Float64Array>, idx: Int32Array, shift: Float64Array, lease: BufferLease): Matrix<Float64Array> {
  const c = a.cols;
  const src = a.data;
  const out = lease.f64(idx.length * c);
  for (let i = 0; i < idx.length; i++) {
    const from = idx[i]! * c;
    const to = i * c;
    for (let j = 0; j < c; j++) out[to + j] = src[from + j]! - shift[j]!;
  }
  return { rows: idx.length, cols: c, data: out };
}

/**
 * Mean squared error (over samples and tasks) of the held-out rows at a solve's coefficients,
 * ||Y_te - b - X_te W||^2 / (m T) with the intercept b = yMean - sum_j mean_j W_j, from the
 * support S only (cdResidualColumns on the centred rows reads |S| of the d columns).
 */
function heldOutMse(k: Kernels, state: EnetState, h: HeldOut): number {
  const { cols, w } = state.supportRows();
  return k.cdResidualColumns(h.design, cols, w, h.yt, h.rt).rNormSq / h.rt.data.length;
}

/** The settings of one path solve at (alpha, l1Ratio), warm-started from previousAlpha's. */
function solveSettings(o: Readonly<ResolvedCVOptions>, rng: Rng, n: number, alpha: number, l1: number, previousAlpha?: number): SolveSettings {
  const s: SolveSettings = { l1Reg: alpha * l1 * n, l2Reg: alpha * (1 - l1) * n, tol: o.tol, maxIter: o.maxIter, selection: o.selection, rng };
  if (previousAlpha !== undefined) s.previousL1Reg = previousAlpha * l1 * n;
  return s;
}

/** What the cross-validation of one fit works on (MultiTaskElasticNetCV.run reads and checks it). */
interface CvRun {
  o: Readonly<ResolvedCVOptions>;
  k: Kernels;
  x: Matrix<Float64Array>;
  y: Matrix<Float64Array>;
  /** The whole data's problem, and the lease it lives in until the refit has read W. */
  full: EnetProblem;
  fullLease: BufferLease;
  grids: Float64Array[];
  l1Ratios: Float64Array;
  folds: { train: Int32Array; test: Int32Array }[];
  /** Solves of one fold's paths (every l1Ratio's grid). */
  pathSolves: number;
  cdRng: Rng;
  kind: string;
}

/**
 * The CV paths of every fold, then the refit at the chosen alpha and l1Ratio, as a generator. A
 * module-level function, not a closure made per fit: V8 gives each closure's generators their own
 * hidden class, and the code that drives them (runSync) was deoptimised and optimised again in every
 * fit of a process.
 */
function* crossValidatedPaths(c: CvRun): Generator<ProgressInfo, CVResult, void> {
  const { o, k, x, y, full, fullLease, grids, l1Ratios, folds, pathSolves, cdRng, kind } = c;
  // Objects made here, not by closures made per fit (which gave them a new hidden class each fit).
  const msePaths: Matrix<Float64Array>[] = [];
  for (const g of grids) msePaths.push({ rows: g.length, cols: folds.length, data: new Float64Array(g.length * folds.length) });
  let unconverged = 0;
  let solves = 0;
  for (let f = 0; f < folds.length; f++) {
    const { train, test } = folds[f]!;
    const foldLease = new BufferLease();
    // The training rows in the fold's lease: the folds' copies, a few MiB each on large data, reuse
    // the last fold's pages.
    const fold = prepareProblem(k, rowsOf(k, x, train, foldLease), rowsOf(k, y, train, foldLease), o.fitIntercept, undefined, foldLease);
    // Every solve of this fold's paths reads the same Xc: its Gram matrix, once, when cheaper.
    const p = gramPays(fold.d, fold.T, pathSolves) ? withGram(k, fold, foldLease) : fold;
    const held = heldOut(k, fold, x, y, test, foldLease);
    for (let li = 0; li < l1Ratios.length; li++) {
      // One state along the path: warm starts, and the correlations that screen the next alpha.
      const lease = new BufferLease();
      const state = new EnetState(k, p, undefined, lease);
      const grid = grids[li]!;
      for (let ai = 0; ai < grid.length; ai++) {
        const r = yield* solveEnet(k, p, state, solveSettings(o, cdRng, p.n, grid[ai]!, l1Ratios[li]!, ai > 0 ? grid[ai - 1] : undefined));
        solves++;
        if (!r.converged) unconverged++;
        msePaths[li]!.data[ai * folds.length + f] = heldOutMse(k, state, held);
      }
      lease.release();
    }
    foldLease.release();
  }
  let best = { li: 0, ai: 0, mse: Infinity };
  for (let li = 0; li < l1Ratios.length; li++) {
    const m = msePaths[li]!;
    for (let ai = 0; ai < m.rows; ai++) {
      let s = 0;
      for (let f = 0; f < m.cols; f++) s += m.data[ai * m.cols + f]!;
      const mean = s / m.cols;
      if (mean < best.mse) best = { li, ai, mse: mean };
    }
  }
  if (!Number.isFinite(best.mse)) throw new ValueError(`${kind}.fit: the cross-validated errors are not finite`);
  const alpha = grids[best.li]![best.ai]!;
  const l1Ratio = l1Ratios[best.li]!;
  const lease = new BufferLease();
  const state = new EnetState(k, full, undefined, lease);
  const r = yield* solveEnet(k, full, state, solveSettings(o, cdRng, full.n, alpha, l1Ratio));
  const { coef, intercept } = finish(k, full, state.supportRows());
  lease.release();
  fullLease.release();
  return {
    alpha,
    l1Ratio,
    alphas: grids[best.li]!,
    msePath: msePaths[best.li]!,
    l1Ratios,
    alphaGrids: grids,
    msePaths,
    coef,
    intercept,
    nIter: r.nIter,
    dualGap: r.gap / full.n,
    unconverged,
    solves,
    refitConverged: r.converged,
  };
}

/**
 * Multi-task elastic net with the regularisation (alpha, and l1Ratio when a list is given) chosen by
 * k-fold cross-validation along warm-started paths, then refitted on all the data
 * (sklearn.linear_model.MultiTaskElasticNetCV).
 *
 * Attributes after fit: `alpha`, `l1Ratio` (the chosen values), `alphas` (the grid of the chosen
 * l1Ratio, descending), `msePath` (nAlphas x folds held-out MSE for the chosen l1Ratio),
 * `alphaGrids` / `msePaths` (one per l1Ratio), and the refitted `coef` (T x d), `intercept`, `nIter`, `dualGap`.
 */
export class MultiTaskElasticNetCV extends CdEstimator<CVFitted> {
  static readonly kind: string = 'MultiTaskElasticNetCV';
  readonly options: Readonly<ResolvedCVOptions>;
  protected override readonly config: Record<string, unknown>;

  constructor(options: MultiTaskElasticNetCVOptions = {}) {
    super();
    const name = (new.target as { kind?: string }).kind ?? 'MultiTaskElasticNetCV';
    this.options = Object.freeze(this.parse(name, options));
    const c: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(options)) {
      if (v === undefined) continue;
      c[key] = key === 'alphas' || key === 'l1Ratio' ? (typeof v === 'number' ? v : Array.from(v as ArrayLike<number>)) : v;
    }
    this.config = c;
  }

  protected parse(name: string, options: unknown): ResolvedCVOptions {
    return parseOptions<ResolvedCVOptions>(name, options, CV_SPEC);
  }

  /** The chosen alpha. */
  get alpha(): number {
    return this.need('alpha').alpha;
  }
  /** The chosen l1Ratio. */
  get l1Ratio(): number {
    return this.need('l1Ratio').l1Ratio;
  }
  /** The alpha grid of the chosen l1Ratio (descending). */
  get alphas(): Float64Array {
    return this.need('alphas').alphas;
  }
  /** Held-out MSE, nAlphas x folds, for the chosen l1Ratio (row i = alphas[i]). */
  get msePath(): Matrix<Float64Array> {
    return this.need('msePath').msePath;
  }
  /** The l1Ratios tried, in the order given. */
  get l1Ratios(): Float64Array {
    return this.need('l1Ratios').l1Ratios;
  }
  /** One alpha grid per l1Ratio. */
  get alphaGrids(): Float64Array[] {
    return this.need('alphaGrids').alphaGrids;
  }
  /** One msePath per l1Ratio. */
  get msePaths(): Matrix<Float64Array>[] {
    return this.need('msePaths').msePaths;
  }
  /**
   * Cross-validate and refit, yielding to the event loop between sweeps; resolves to the model.
   * onProgress gets a {@link CdProgress} record after every sweep: phase 'cv' (step = the path
   * solve, of total) along the CV paths, then phase 'fit' for the refit.
   */
  async fit(X: MatrixLike, Y: MatrixLike | ArrayLike<number>, options: FitOptions = {}): Promise<this> {
    const fo = checkFitOptions(this.kindName, options);
    if (fo.worker) return offload(this, 'fit', `${this.kindName}.fit`, [X, Y], options as Record<string, unknown>);
    throwIfAborted(fo.signal);
    const gen = this.run(X, Y);
    const progress = cdProgress(this.options.maxIter, this.pathSolves, fo.onProgress);
    this.done(await runAsync(gen, { signal: fo.signal, onProgress: progress.record }));
    this.fitHistory = progress.history;
    return this;
  }

  /** Cross-validate and refit synchronously. */
  fitSync(X: MatrixLike, Y: MatrixLike | ArrayLike<number>, options: Pick<FitOptions, 'onProgress'> = {}): this {
    const fo = parseSyncFitOptions<FitOptions>(`${this.kindName}.fitSync`, options);
    const gen = this.run(X, Y);
    const progress = cdProgress(this.options.maxIter, this.pathSolves, fo.onProgress);
    this.done(runSync(gen, progress.record));
    this.fitHistory = progress.history;
    return this;
  }

  /** Solves of the CV paths: folds x l1Ratios x alphas (set by run). */
  private pathSolves = 0;

  private done(r: CVResult): void {
    if (r.unconverged > 0) {
      convergenceWarning(
        `${this.kindName}: ${r.unconverged} of ${r.solves} path solves did not converge in ${this.options.maxIter} sweeps; ` +
          `you might want to increase maxIter or tol`,
      );
    }
    if (!r.refitConverged) {
      convergenceWarning(`${this.kindName}: the final refit did not converge in ${this.options.maxIter} sweeps; you might want to increase maxIter`);
    }
    const { unconverged: _u, solves: _s, refitConverged: _r, ...fitted } = r;
    this.fitted = fitted;
  }

  /** The whole CV as a generator (validation runs eagerly, before the first step). */
  private run(X: unknown, Y: unknown): Generator<ProgressInfo, CVResult, void> {
    const o = this.options;
    checkSharedData(this.kindName, X, Y);
    const { x, y, names } = checkXY(X, Y, this.kindName);
    const n = x.rows;
    if (o.cv > n) {
      throw new ValueError(`${this.kindName}.fit: cannot split ${n} samples into cv = ${o.cv} folds; use cv <= ${n}`);
    }
    const l1Ratios = Float64Array.from(typeof o.l1Ratio === 'number' ? [o.l1Ratio] : o.l1Ratio);
    const k = kernels();
    // The whole data's problem lives until the refit at the end has read W.
    const fullLease = new BufferLease();
    const full = prepareProblem(k, x, y, o.fitIntercept, names, fullLease);
    const grids = Array.from(l1Ratios, (l1) => {
      if (o.alphas) return Float64Array.from(o.alphas).sort().reverse();
      if (l1 === 0) {
        throw new ConfigError(`${this.kindName}: the automatic alpha grid needs l1Ratio > 0; give your own 'alphas' for l1Ratio = 0`);
      }
      return alphaGrid(full, { l1Ratio: l1, eps: o.eps, nAlphas: o.nAlphas });
    });
    const rng = new Rng(o.seed ?? 0);
    const folds = kFold(n, o.cv, o.shuffle, rng.fork());
    const pathSolves = grids.reduce((s, g) => s + g.length, 0);
    this.pathSolves = folds.length * pathSolves;
    const cdRng = rng.fork();
    return crossValidatedPaths({ o, k, x, y, full, fullLease, grids, l1Ratios, folds, pathSolves, cdRng, kind: this.kindName });
  }

  /** Mean R^2 over the tasks. */
  score(X: MatrixLike, Y: MatrixLike | ArrayLike<number>): number {
    const f = this.need('score');
    const x = checkPredictX(X, this.kindName, 'score', f.coef.cols);
    const y = toTargets(Y, `${this.kindName}.score: Y`);
    if (y.rows !== x.rows || y.cols !== f.coef.rows) {
      throw new ShapeError(`${this.kindName}.score: Y is ${y.rows} x ${y.cols}, expected ${x.rows} x ${f.coef.rows} (rows of X x tasks)`);
    }
    return meanR2(y, linearPredict(kernels(), x, f.coef, f.intercept));
  }

  static fromJSON<M extends MultiTaskElasticNetCV>(this: { new (options?: any): M; kind: string }, doc: unknown): M {
    const { model, state } = openDocument(this, doc);
    const coef = matrixFromState(state.coef, 'coef');
    const l1Ratios = arrayFromState(state.l1Ratios, 'l1Ratios', Float64Array);
    const grids = state.alphaGrids;
    const paths = state.msePaths;
    if (!Array.isArray(grids) || !Array.isArray(paths) || grids.length !== l1Ratios.length || paths.length !== l1Ratios.length) {
      throw new FormatError(`model file: the ${this.kind} state has inconsistent alpha grids or MSE paths`);
    }
    for (const key of ['alpha', 'l1Ratio', 'nIter', 'dualGap']) {
      if (typeof state[key] !== 'number') throw new FormatError(`model file: the ${this.kind} state lacks '${key}' (got ${describe(state[key])})`);
    }
    (model as MultiTaskElasticNetCV).fitted = {
      alpha: state.alpha,
      l1Ratio: state.l1Ratio,
      alphas: arrayFromState(state.alphas, 'alphas', Float64Array),
      msePath: matrixFromState(state.msePath, 'msePath'),
      l1Ratios,
      alphaGrids: grids.map((g: unknown, i: number) => arrayFromState(g, `alphaGrids[${i}]`, Float64Array)),
      msePaths: paths.map((m: unknown, i: number) => matrixFromState(m, `msePaths[${i}]`)),
      coef,
      intercept: arrayFromState(state.intercept, 'intercept', Float64Array, coef.rows),
      nIter: state.nIter,
      dualGap: state.dualGap,
    };
    return model;
  }
}

/**
 * Multi-task lasso with alpha chosen by k-fold cross-validation along a warm-started path
 * (sklearn.linear_model.MultiTaskLassoCV). Passing `l1Ratio` is a ConfigError.
 */
export class MultiTaskLassoCV extends MultiTaskElasticNetCV {
  static override readonly kind: string = 'MultiTaskLassoCV';

  constructor(options: MultiTaskLassoCVOptions = {}) {
    super(options);
  }

  protected override parse(name: string, options: unknown): ResolvedCVOptions {
    return parseLassoOptions<ResolvedCVOptions>(name, options, CV_SPEC, 'MultiTaskElasticNetCV');
  }
}
