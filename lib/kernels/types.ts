/**
 * The kernels contract: the ONLY thing algorithms call for heavy math.
 * Two implementations exist, file for file: native/src/kernels/*.cc (C++/Eigen, reached through
 * lib/kernels/native.ts) and lib/kernels/js/*.ts. The parity suite (test/kernels.parity.test.ts)
 * runs both on the same inputs.
 *
 * Rules every implementation keeps:
 * - Inputs are already validated by the public API (shapes, dtypes, finiteness); the native
 *   binding re-checks lengths and types only so that a wrong call cannot crash the process.
 * - Kernels are deterministic; randomness (orders, masks) is passed in from TypeScript.
 * - Matrices are row-major; outputs documented as "in place" are written into the caller's arrays.
 */
import type { BufferSource } from '../core/bufferLease.js';
import type { FloatArray, Matrix } from '../core/matrix.js';

export interface GemmOptions {
  /** Use A^T instead of A. Default false. */
  transA?: boolean;
  /** Use B^T instead of B. Default false. */
  transB?: boolean;
  /** Default 1. */
  alpha?: number;
  /** Default 0 (C's old values are ignored, even NaN). */
  beta?: number;
}

export interface SymEigResult {
  /** Eigenvalues in ascending order. */
  values: Float64Array;
  /** n x n, column i is the unit eigenvector of values[i]. */
  vectors: Matrix<Float64Array>;
}

export interface SvdResult {
  /** m x k, k = min(m, n), orthonormal columns. */
  u: Matrix<Float64Array>;
  /** k singular values, descending. */
  s: Float64Array;
  /** k x n, orthonormal rows. */
  vt: Matrix<Float64Array>;
}

export interface SvtResult {
  /** U max(S - threshold, 0) V^T. */
  result: Matrix<Float64Array>;
  /** Number of singular values above the threshold. */
  rank: number;
  /** Sum of the thresholded singular values (the trace norm of `result`). */
  nuclearNorm: number;
}

/**
 * One coordinate-descent sweep of the multi-task elastic net (scikit-learn's
 * enet_coordinate_descent_multi_task), in the layout that keeps every inner loop contiguous.
 * Objective: (1/2) ||Y - X W||_F^2 + l1Reg sum_j ||W[j,:]||_2 + (l2Reg/2) ||W||_F^2
 * (scikit-learn's with l1Reg = alpha l1Ratio n and l2Reg = alpha (1 - l1Ratio) n).
 */
export interface CdSweepArgs {
  /** X^T, d x n. */
  xt: Matrix<Float64Array>;
  /** Residual R^T = (Y - X W)^T, T x n, updated in place. */
  rt: Matrix<Float64Array>;
  /** Coefficients, d x T (row j = feature j across tasks), updated in place. */
  w: Matrix<Float64Array>;
  /** ||X[:, j]||^2 for each feature j (length d). */
  colNormSq: Float64Array;
  l1Reg: number;
  l2Reg: number;
  /** The order in which to visit features (a permutation of 0..d-1 or any index list). */
  order: Int32Array;
  /**
   * Optional, with `blockSize`: the block Gram matrices of `mtenetBlockGram(xt, order, blockSize)`
   * for this very `order` (same entries, same block size). When given, the sweep runs blocked:
   * per block of `blockSize` consecutive entries of `order`, G = X_b^T R in one matrix product,
   * the block's rows visited in order with G[k] -= (x_k . x_j) delta_j after each change of row j
   * (the block Gram), then one product R -= X_c Delta_c for the rows that changed. Same iterates
   * as the plain sweep up to rounding, compute-bound instead of memory-bound. The Grams depend only
   * on xt and the order, so a caller sweeping a fixed order (cyclic selection) computes them once
   * per fit; without them (or without blockSize) the plain sweep runs.
   */
  blockGram?: Float64Array;
  /** Block size (an integer >= 1) of `blockGram`; required with it. */
  blockSize?: number;
}

export interface CdSweepResult {
  /** max_j ||W[j,:]||_inf after the sweep. */
  wMax: number;
  /** max_j ||W_new[j,:] - W_old[j,:]||_inf during the sweep. */
  dwMax: number;
}

/**
 * The design matrix of a working-set coordinate-descent fit as the correlation kernels read it:
 * the caller's X (n x d, row-major, never modified) with every column centred by `mean` (zeros
 * when no intercept is fitted) as it is read. Built once per fit by `cdDesign`.
 */
export interface CdDesign {
  readonly x: Matrix<Float64Array>;
  /** Whether the columns are centred (mean holds the column means) or not (mean is all zeros). */
  readonly centred: boolean;
  /** Column means, length d (zeros when not centred). */
  readonly mean: Float64Array;
  /** Squared norms of the centred columns, length d. */
  readonly colNormSq: Float64Array;
  /**
   * Whether every mean and squared norm is finite: false whenever x holds a NaN or an infinity
   * (the caller then finds and names the value; the kernels do not check x otherwise).
   */
  readonly finite: boolean;
  /**
   * The TypeScript kernels' transposed centred copy (d x n: contiguous columns for their dot
   * products); the native kernels read x in place and leave this undefined.
   */
  readonly xt?: Matrix<Float64Array>;
}

/**
 * Where a kernel set takes the memory a design keeps (the TypeScript kernels' transposed copy of X,
 * d n values; the native kernels keep none and never call it): `length` values, any contents, that
 * stay the design's as long as it is used. Default: new arrays. A fit passes its BufferLease's, so
 * that the next fits reuse the memory: fresh pages cost a fault each on their first write, about
 * 10 us where freed pages go back to the host, some 40 ms of a 90 ms fit for the 16 MB copy of a
 * 2000 x 1000 design. `source`: where the kernel set would have the memory (the TypeScript kernels'
 * WebAssembly memory, whose products then read the copy in place); an allocator may ignore it.
 */
export type DesignAllocator = (length: number, source?: BufferSource) => Float64Array;

/** The targets of a working-set fit (cdTargets). */
export interface CdTargets {
  /** (Y - 1 yMean^T)^T, T x n. */
  readonly yt: Matrix<Float64Array>;
  /** Column means of Y (zeros when not centred). */
  readonly yMean: Float64Array;
  /** ||yt||_F^2; NaN or infinite when Y holds a NaN or an infinity. */
  readonly yNormSq: number;
}

/**
 * The settings of an inner solve (mtenetGramSolve, mtenetResidualSolve): coordinate descent on the
 * k features of a working set, a gap check and an Anderson extrapolation every 5 sweeps (kept only
 * when it lowers the objective), until the working-set duality gap is at most `tol` or
 * `maxSweeps` sweeps have run. Objective (n-scaled, scikit-learn's):
 *   (1/2) ||Y - X_k W||_F^2 + l1Reg sum_j ||W_j||_2 + (l2Reg/2) ||W||_F^2.
 * Rows of w of all-zero columns are set to 0 first (their optimum).
 */
export interface InnerSolveSettings {
  l1Reg: number;
  l2Reg: number;
  tol: number;
  /** An integer >= 1. */
  maxSweeps: number;
  /**
   * Feature orders of the sweeps, maxSweeps x k entries in [0, k) (sweep s visits
   * orders[s k .. (s+1) k)); omitted: cyclic sweeps 0..k-1.
   */
  orders?: Int32Array;
  /**
   * Another call continues this solve from the returned state (a long solve split into calls). A
   * residual-form call that ends unconverged then returns the parts of the residual its sweeps
   * kept instead of recomputing it from W (half a sweep a call); the last call ends exact. The
   * Gram form always ends exact (its next call starts from the returned correlations). Default false.
   */
  continues?: boolean;
}

/** What an inner solve returns: the gap and its parts at the returned point. */
export interface InnerSolveResult {
  sweeps: number;
  gap: number;
  /** ||R||^2, <R, Y>, sum_j ||W_j||, ||W||_F^2 and max_j ||X_j^T R - l2Reg W_j|| (over the k features). */
  rNormSq: number;
  ry: number;
  l21: number;
  wNormSq: number;
  dualNorm: number;
  /** ||R_end - R_start||_F = ||X_k (W_end - W_start)||_F: how far the residual moved. */
  residualChange: number;
  /** gap <= tol. */
  converged: boolean;
}

/**
 * Gram form of the inner solve: gram = X_k^T X_k (k x k); ht = (X_k^T R)^T (T x k) and w (k x T)
 * at the start, updated in place (on return ht is exact for the returned w); r0NormSq = ||R||^2
 * and r0y = <R, Y> at the start.
 */
export interface GramSolveArgs extends InnerSolveSettings {
  gram: Matrix<Float64Array>;
  ht: Matrix<Float64Array>;
  w: Matrix<Float64Array>;
  r0NormSq: number;
  r0y: number;
  /**
   * X_k^T Y (k x T, finite) when the caller knows it (a design's correlations with the targets):
   * the solve then uses it instead of forming H0 + G W0, a product of the Gram matrix.
   */
  xty?: Matrix<Float64Array>;
}

/**
 * Residual form of the inner solve: xs (k x n) the working set's centred columns, yt = Y^T (T x n),
 * rt (T x n) the residual at the start and w (k x T), both updated in place (rt exact on return);
 * h (k x T) receives X_k^T R at the returned w. Cyclic sweeps on a residual of 4,096 values or more
 * run by blocks of features (mtenetSweep with blockGram: the same iterates up to rounding).
 */
export interface ResidualSolveArgs extends InnerSolveSettings {
  xs: Matrix<Float64Array>;
  yt: Matrix<Float64Array>;
  rt: Matrix<Float64Array>;
  w: Matrix<Float64Array>;
  h: Matrix<Float64Array>;
  /**
   * ||xs[j, :]||^2 for each row j (length k, finite, >= 0) when the caller knows them (a design's
   * column norms): the solve then uses them instead of a pass over xs to compute them.
   */
  colNormSq?: Float64Array;
}

/**
 * What a working-set solve knows of each of its d features (T tasks), as cdDualNorms reads it
 * (cdStaleFeatures reads its versions; cdScreen and cdWorkingSet take the xi that cdDualNorms
 * derives from it). corr row j holds X~_j^T R' for
 * the residual R' of version corrVersion[j] (-1: never computed); `version` is the current
 * residual's and `drift` the running sum of ||R_e - R_{e-1}|| over its changes, corrDrift[j] its
 * value when row j was computed.
 */
export interface CdFeatureState {
  /** Squared norms of the (centred) columns, length d. */
  colNormSq: Float64Array;
  /** X_j^T R' as last computed, d x T. */
  corr: Matrix<Float64Array>;
  /** ||corr[j, :]||, length d. */
  corrNorm: Float64Array;
  corrVersion: Int32Array;
  corrDrift: Float64Array;
  /** 1 where row j of w is not zero. */
  nonZero: Uint8Array;
  /** The coefficients, d x T. */
  w: Matrix<Float64Array>;
  version: number;
  drift: number;
}

/**
 * The gap-safe sphere test over the features (cdScreen): active[j] is cleared where
 * active[j] = 1, nonZero[j] = 0 and xi[j] / scale + radius sqrt(colNormSq[j] + l2Reg) < threshold.
 */
export interface CdScreenArgs {
  /** 1 for the features still in the solve, length d; updated in place. */
  active: Uint8Array;
  nonZero: Uint8Array;
  /** ||X~_j^T R~|| or an upper bound of it, length d. */
  xi: Float64Array;
  colNormSq: Float64Array;
  /** The dual scaling, >= 0 (Infinity allowed). */
  scale: number;
  /** Radius of the safe sphere, finite and >= 0. */
  radius: number;
  l2Reg: number;
  /** 1 minus the test's safety margin. */
  threshold: number;
}

/**
 * The next working set (cdWorkingSet): every active feature with nonZero[j] = 1 or xi[j] >= strong,
 * then, up to min(active count, max(minSize, 2 nnz, that count)) features, the other active ones of
 * largest xi[j] (ties to the lower index).
 */
export interface CdWorkingSetArgs {
  active: Uint8Array;
  nonZero: Uint8Array;
  xi: Float64Array;
  /** Features with xi >= strong join in any case (-Infinity: every active feature). */
  strong: number;
  /** An integer >= 0. */
  minSize: number;
  /**
   * The level at or above which xi[j] of a zero row violates its optimality condition (l1Reg).
   * When given, the set grows from the support by twice the number of violators (at least a
   * quarter of the support) where that is less than doubling it; from an empty support, when
   * minSize is less than the active features, it holds twice the violators where that is less
   * than minSize, at least 10 (the features that join in any case still join).
   */
  violation?: number;
  /**
   * The last set filled up (an integer >= 1): this set holds the support plus twice its violators,
   * at least twice the support and at most fullSetLimit (without a violation level, fullSetLimit),
   * and at least minSize.
   */
  fullSetLimit?: number;
  /** Receives the set, ascending, in its first entries; length d. */
  out: Int32Array;
}

/** What cdSetRows returns. */
export interface CdRowsSet {
  /** Rows that became non-zero minus rows that became zero. */
  supportChange: number;
  /** sum_c ||values[c]|| over the rows written. */
  l21: number;
  /** sum_c ||values[c]||^2 over the rows written. */
  normSq: number;
}

/**
 * One sweep of multi-task elastic-net coordinate descent restricted to k features, in Gram form
 * (covariance updates, Friedman, Hastie & Tibshirani 2010, section 2.2): no residual is kept,
 * only its correlations with the k features.
 */
export interface GramSweepArgs {
  /** X_k^T X_k, k x k (symmetric; its diagonal holds the squared column norms). */
  gram: Matrix<Float64Array>;
  /** (X_k^T R)^T, T x k, updated in place so that it stays exact as w changes. */
  ht: Matrix<Float64Array>;
  /** Coefficients, k x T, updated in place. */
  w: Matrix<Float64Array>;
  l1Reg: number;
  l2Reg: number;
  /** Rows of w to visit, in order (entries in [0, k)). */
  order: Int32Array;
}

/**
 * Losses of per-task linear models over stacked rows: task t owns rows offsets[t]..offsets[t+1]-1
 * of X and y, and its model is z = x . W[t,:] + intercept[t].
 *   squared:  l_t = scale[t] * (1/2) sum_i (z_i - y_i)^2
 *   logistic: l_t = scale[t] * sum_i log(1 + exp(z_i)) - y_i z_i      (y in {0, 1})
 */
export interface TaskLossArgs {
  x: Matrix<Float64Array>;
  y: Float64Array;
  offsets: Int32Array;
  /** T x d. */
  w: Matrix<Float64Array>;
  /** Length T. */
  intercept: Float64Array;
  scale: Float64Array;
  loss: 'squared' | 'logistic';
  /** If given (T x d and length T), receive the gradients, overwritten. */
  gradW?: Matrix<Float64Array>;
  gradIntercept?: Float64Array;
}

/** Every kernel both sets implement: linear algebra, networks and optimiser updates. */
export interface Kernels extends NetworkKernels, OptimKernels, RandomKernels {
  readonly name: 'native' | 'js';

  // ---- linalg ----
  /** C = alpha op(A) op(B) + beta C, in place. All three of one dtype. */
  gemm<T extends FloatArray>(a: Matrix<T>, b: Matrix<T>, c: Matrix<T>, options?: GemmOptions): void;
  /** out = X^T X (the d x d Gram matrix of an n x d X), in place. */
  gram(x: Matrix<Float64Array>, out: Matrix<Float64Array>): void;
  /** out = A^T (A m x n, out n x m), in place. */
  transpose(a: Matrix<Float64Array>, out: Matrix<Float64Array>): void;
  /** out[i, j] = a[rows[i], cols[j]] (out rows.length x cols.length), in place. */
  gatherBlock(a: Matrix<Float64Array>, rows: Int32Array, cols: Int32Array, out: Matrix<Float64Array>): void;
  /** out[row + i, col + j] = a[i, j] for every element of a, which must fit inside out there. */
  setBlock(out: Matrix<Float64Array>, row: number, col: number, a: Matrix<Float64Array>): void;
  /**
   * Row r of out = row rows[r] of A (out rows.length x A.cols, overwritten; A and out of one dtype;
   * every entry of rows in [0, A.rows)): a training batch's shuffled rows.
   */
  gatherRows<T extends FloatArray>(a: Matrix<T>, rows: Int32Array, out: Matrix<T>): void;
  /**
   * Solve A X = B for symmetric positive definite A (n x n), B n x k. Throws a ValueError when A
   * is not positive definite.
   */
  choleskySolve(a: Matrix<Float64Array>, b: Matrix<Float64Array>): Matrix<Float64Array>;
  /** Eigendecomposition of a symmetric matrix (only its lower triangle is read). */
  symEig(a: Matrix<Float64Array>): SymEigResult;
  /** Thin SVD. */
  svd(a: Matrix<Float64Array>): SvdResult;

  // ---- prox ----
  /**
   * Proximal operator of threshold * sum_j ||W[j,:]||_2 (row-wise group soft-thresholding),
   * in place: W[j,:] <- max(0, 1 - threshold / ||W[j,:]||) W[j,:]. Returns the number of non-zero rows.
   */
  groupSoftThreshold(w: Matrix<Float64Array>, threshold: number): number;
  /** Proximal operator of threshold * ||W||_* (singular-value thresholding). */
  svt(w: Matrix<Float64Array>, threshold: number): SvtResult;

  // ---- cd ----
  mtenetSweep(args: CdSweepArgs): CdSweepResult;
  /**
   * The block Gram matrices of the blocked sweep: block b covers the consecutive entries
   * order[b B .. min((b+1) B, order.length)) (B = blockSize, L_b of them) and its L_b x L_b Gram
   * matrix X_b^T X_b sits at offset b B^2 with row stride B, lower triangle only: entry (p, q),
   * q <= p, is x_{order[bB+p]} . x_{order[bB+q]} (x_j = row j of xt); other entries are 0.
   * Length ceil(order.length / B) B^2. Order entries in [0, d).
   */
  mtenetBlockGram(xt: Matrix<Float64Array>, order: Int32Array, blockSize: number): Float64Array;
  /** One Gram-form sweep (GramSweepArgs); same update and result as mtenetSweep on those k features. */
  mtenetGramSweep(args: GramSweepArgs): CdSweepResult;
  /**
   * The design of a working-set fit: column means (when `centre`) and squared norms of the centred
   * columns of x (n x d); x is kept by reference and must not change while the design is used.
   * `allocate` (DesignAllocator) gives the memory the design keeps: its column statistics, and a
   * kernel set's copy of X if it keeps one.
   */
  cdDesign(x: Matrix<Float64Array>, centre: boolean, allocate?: DesignAllocator): CdDesign;
  /**
   * cdDesign(x, centre, allocate) and then cdCorrelations(design, yt, every feature, out, norms)
   * (yt T x n, out d x T, norms length d, both overwritten), with the same values: the correlations
   * at W = 0 that every fit starts from, computed as the statistics read X (the native kernel reads
   * it once).
   */
  cdDesignCorrelations(
    x: Matrix<Float64Array>, centre: boolean, yt: Matrix<Float64Array>, out: Matrix<Float64Array>, norms: Float64Array, allocate?: DesignAllocator,
  ): CdDesign;
  /**
   * Correlations of listed centred columns with a residual: out[c, t] = sum_i Xc[i, cols[c]] rt[t, i]
   * for rt T x n and out cols.length x T (overwritten). Entries of cols in [0, d). When `norms`
   * (length cols.length) is given it receives the norms of out's rows.
   */
  cdCorrelations(design: CdDesign, rt: Matrix<Float64Array>, cols: Int32Array, out: Matrix<Float64Array>, norms?: Float64Array): void;
  /** The listed centred columns as rows: out[c, i] = Xc[i, cols[c]] (out cols.length x n, overwritten). */
  cdGatherColumns(design: CdDesign, cols: Int32Array, out: Matrix<Float64Array>): void;
  /**
   * The targets of a working-set fit from Y (n x T): centred (when `centre`) and transposed, into
   * `yt` (T x n, overwritten) when given, else into a new matrix.
   */
  cdTargets(y: Matrix<Float64Array>, centre: boolean, yt?: Matrix<Float64Array>): CdTargets;
  /**
   * A fit's public coefficients from its support: coef[t, cols[c]] = w[c, t] (coef T x d; its other
   * entries are left as they are, so the caller gives it zeroed) and the intercept that undoes the
   * centring, intercept[t] = yMean[t] - sum_c mean[cols[c]] w[c, t] (overwritten), subtracted in
   * the order of cols. w is cols.length x T, mean has length d.
   */
  cdCoefficients(cols: Int32Array, w: Matrix<Float64Array>, mean: Float64Array, yMean: Float64Array, coef: Matrix<Float64Array>, intercept: Float64Array): void;
  /**
   * rt = yt - w^T xs (T x n, overwritten) for k gathered columns xs (k x n) and their coefficients
   * w (k x T); returns ||R||^2 and <R, Y> (yt = Y^T, T x n).
   */
  cdResidual(xs: Matrix<Float64Array>, w: Matrix<Float64Array>, yt: Matrix<Float64Array>, rt: Matrix<Float64Array>): { rNormSq: number; ry: number };
  /**
   * Gram entries of two lists of centred columns, read from the design in place:
   * out[a, b] = sum_i Xc[i, rows[a]] Xc[i, cols[b]] (out rows.length x cols.length, overwritten).
   * The same values as the product of their gathered copies (cdGatherColumns), without the copies.
   */
  cdGramColumns(design: CdDesign, rows: Int32Array, cols: Int32Array, out: Matrix<Float64Array>): void;
  /**
   * cdResidual for the listed centred columns read from the design in place:
   * rt = yt - w^T Xc[:, cols]^T (T x n, overwritten) for w (cols.length x T); the same values as
   * cdResidual on their gathered copy.
   */
  cdResidualColumns(design: CdDesign, cols: Int32Array, w: Matrix<Float64Array>, yt: Matrix<Float64Array>, rt: Matrix<Float64Array>): { rNormSq: number; ry: number };
  /**
   * xi[j] = ||X~_j^T R~|| = ||corr[j, :] - l2Reg w[j, :]|| for every feature of a non-zero column
   * (colNormSq[j] > 0; others are left untouched): exact where corrVersion[j] = version, else the
   * bound corrNorm[j] + sqrt(colNormSq[j]) (drift - corrDrift[j]) for a zero row computed once,
   * Infinity otherwise. Returns the dual scale max(l1Reg, max_j xi[j]).
   */
  cdDualNorms(state: CdFeatureState, l1Reg: number, l2Reg: number, xi: Float64Array): number;
  /** The gap-safe sphere test (CdScreenArgs); returns the number of features it removed. */
  cdScreen(args: CdScreenArgs): number;
  /**
   * The features j with corrVersion[j] != version, eligible[j] = 1 and xi[j] > limit (or NaN: a
   * bound that says nothing), ascending, in the first entries of out (length d); returns their number.
   */
  cdStaleFeatures(corrVersion: Int32Array, version: number, eligible: Uint8Array, xi: Float64Array, limit: number, out: Int32Array): number;
  /**
   * The features j with flags[j] != 0 and, when `except` (length d) is given, except[j] = 0,
   * ascending: the first out.length of them in out; returns their number, which may exceed
   * out.length (then only that many were written). A solve's lists of features (its support, the
   * features it screened) come from here, so that no loop over d runs in TypeScript per fit.
   */
  cdFlaggedFeatures(flags: Uint8Array, out: Int32Array, except?: Uint8Array): number;
  /** flags[j] = 1 where values[j] > 0, else 0 (NaN: 0), flags of values' length; returns the number of ones. */
  cdFlagPositive(values: Float64Array, flags: Uint8Array): number;
  /** The next working set (CdWorkingSetArgs); returns its size. */
  cdWorkingSet(args: CdWorkingSetArgs): number;
  /**
   * Rows of the coefficients from a working set's solve: w[rows[c]] = values[c] (w d x T, values
   * rows.length x T) and nonZero[rows[c]] = 1 where that row is not zero, 0 where it is, in the
   * order of rows. Returns the change of the number of non-zero rows, sum_c ||values[c]|| and
   * sum_c ||values[c]||^2 (each squared norm summed over t in order, as every twin does).
   */
  cdSetRows(w: Matrix<Float64Array>, nonZero: Uint8Array, rows: Int32Array, values: Matrix<Float64Array>): CdRowsSet;
  /**
   * The correlations of the listed features at the state's residual: row cols[c] of state.corr =
   * values[c] (cols.length x T), corrNorm = norms[c] (or ||values[c]|| when norms is omitted),
   * corrVersion = state.version and corrDrift = state.drift at those features.
   */
  cdSetCorrelations(state: CdFeatureState, cols: Int32Array, values: Matrix<Float64Array>, norms?: Float64Array): void;
  /**
   * cdResidualColumns(design, resCols, w, yt, rt) and then cdCorrelations(design, rt, cols, out,
   * norms) of the new residual, in one pass over X (its rows are read once for both); the same
   * values as the two calls. Returns ||R||^2 and <R, Y>.
   */
  cdResidualCorrelations(
    design: CdDesign, resCols: Int32Array, w: Matrix<Float64Array>, yt: Matrix<Float64Array>, rt: Matrix<Float64Array>,
    cols: Int32Array, out: Matrix<Float64Array>, norms?: Float64Array,
  ): { rNormSq: number; ry: number };
  /**
   * Correlations of listed features from a precomputed Gram matrix, without the residual:
   * out[c, t] = xty[cols[c], t] - sum_s gram[cols[c], support[s]] w[support[s], t] (sums in support
   * order) for gram = Xc^T Xc (d x d), xty = Xc^T Y and w (d x T); the norms of out's rows into
   * `norms` when given. Entries of cols and support in [0, d).
   */
  cdGramCorrelations(
    gram: Matrix<Float64Array>, xty: Matrix<Float64Array>, w: Matrix<Float64Array>, support: Int32Array,
    cols: Int32Array, out: Matrix<Float64Array>, norms?: Float64Array,
  ): void;
  /** The inner solve in Gram form (GramSolveArgs). */
  mtenetGramSolve(args: GramSolveArgs): InnerSolveResult;
  /** The inner solve in residual form (ResidualSolveArgs). */
  mtenetResidualSolve(args: ResidualSolveArgs): InnerSolveResult;

  // ---- taskloss ----
  /** Per-task losses (length T); fills gradW / gradIntercept when given. */
  taskLoss(args: TaskLossArgs): Float64Array;
}

/**
 * The instruction-set level of the native kernels: x86-64 'sse2' (any x86-64 CPU), 'avx2' (AVX2 and
 * FMA), 'avx512' (AVX-512F); arm64 'neon'; 'generic' on other architectures.
 */
export type SimdLevel = 'sse2' | 'avx2' | 'avx512' | 'neon' | 'generic';

export interface BackendInfo {
  name: 'native' | 'js';
  version: string;
  /** The SIMD level the native kernels run at (chosen at load, capped by METATASK_SIMD), or 'none' for the TypeScript kernels. */
  simd: SimdLevel | 'none';
  /** The levels this CPU and binary can run (native), lowest first; empty for the TypeScript kernels. */
  simdAvailable: SimdLevel[];
  /** Upper bound on the threads a kernel may use. */
  threads: number;
  /**
   * Whether new buffers come from 2 MiB pages marked for transparent huge pages (native backend
   * with METATASK_HUGE_PAGES=on; always false for the TypeScript kernels).
   */
  hugePages: boolean;
  /**
   * Whether the TypeScript kernels' matrix products run in WebAssembly SIMD in this process: false
   * where the engine or CPU lacks it (on x86-64, CPUs without SSE4.1) or with METATASK_WASM=off.
   * Their results are the same bits either way; only their speed differs.
   */
  wasmSimd: boolean;
}

// ---------------------------------------------------------------------------------------------
// Networks. A network is a DAG of nodes over one input, compiled once into a
// handle (networkSpec.ts compiles and validates specs; both kernel sets receive the compiled
// program). Parameters live in one flat vector owned by the caller; its layout (which slice is
// which weight) is fixed by compileNetwork, so initialisation and optimisers stay in TypeScript.
// ---------------------------------------------------------------------------------------------

export type ActivationName = 'relu' | 'leaky-relu' | 'elu' | 'gelu' | 'tanh' | 'sigmoid' | 'identity';
export type LossName = 'mse' | 'huber' | 'bce-logits' | 'softmax-ce' | 'poisson';

/** A size per spatial axis: one number for both, or [height, width]. */
export type Size2 = number | readonly [number, number];

/**
 * One node. Node 0 is always { op: 'input' }; node i reads only nodes < i.
 * Image nodes: an input with a `shape` [channels, height, width] carries images stored NCHW (each
 * row of x is one image, channel-major, then rows, then columns, as PyTorch's tensor.flatten(1)).
 * Convolutions and pools need such an input and produce images; elementwise ops keep the shape;
 * `flatten` (or any dense layer) reads an image as the flat vector of its C x H x W values.
 * - dense: y = x W + b, W stored [in, out] row-major then b (out).
 * - dropout: y = x * mask, the mask (values 0 or 1/(1-rate)) drawn in TypeScript and passed per call;
 *   without a mask (inference) dropout is the identity.
 * - layernorm: normalise each row over its features (eps 1e-5), then * gamma + beta (params gamma, beta).
 * - softmax: row-wise softmax (gates of MMoE/CGC/PLE).
 * - mixture: sum_k gate[:, k] * experts[k] (gate a softmax node with K columns; experts of equal width).
 * - stitch: sum_k a_k * inputs[k] with learned scalars a (cross-stitch units; params a, K values).
 * - concat / add: along features / elementwise.
 */
export type NodeSpec =
  | {
      op: 'input';
      /** Columns of x (C x H x W for images). */
      size: number;
      /** [channels, height, width] when the input rows are images (NCHW); size must be their product. */
      shape?: readonly [number, number, number];
    }
  | { op: 'dense'; input: number; units: number }
  | { op: 'activation'; input: number; fn: ActivationName; alpha?: number }
  | { op: 'dropout'; input: number; rate: number }
  | { op: 'layernorm'; input: number }
  | { op: 'softmax'; input: number }
  | { op: 'mixture'; gate: number; experts: number[] }
  | {
      op: 'stitch';
      inputs: number[];
      /**
       * Position in `inputs` of this unit's own task (optional, initialisation only): then
       * initParams sets a_self = 0.9 and shares 0.1 among the others (Misra et al. 2016);
       * without it every a_k starts at 1/K.
       */
      self?: number;
    }
  | { op: 'concat'; inputs: number[] }
  | { op: 'add'; inputs: number[] }
  | {
      /**
       * 2-d convolution (cross-correlation, as PyTorch's Conv2d) of an image node: `filters`
       * output channels, kernel kh x kw, stride (default 1), zero padding (default 0). Params:
       * W [filters, channels, kh, kw] then b [filters]. Output [filters, ho, wo] with
       * ho = floor((h + 2 padding - kh) / stride) + 1.
       */
      op: 'conv2d';
      input: number;
      filters: number;
      kernel: Size2;
      stride?: Size2;
      padding?: Size2;
    }
  | {
      /**
       * Batch normalisation (Ioffe & Szegedy 2015): per channel of an image node (per feature of a
       * flat node), y = (x - mean) / sqrt(var + eps) gamma + beta. Params gamma, beta. The mean and
       * (biased) variance are the batch's own, over rows and pixels, unless the call passes
       * running statistics (NetworkBatch.stats). The batch statistics make every row's output
       * depend on the whole batch: in meta-learning that is the transductive per-task
       * normalisation of Finn et al. 2017 (each support or query set normalised by its own
       * statistics). `momentum` (default 0.1) is the weight of a new batch in running averages
       * kept by the models that keep them; eps default 1e-5 (PyTorch's).
       */
      op: 'batchnorm';
      input: number;
      eps?: number;
      momentum?: number;
    }
  | {
      /** Max over kh x kw windows of an image node, moved by stride (default: the window size); no padding. */
      op: 'maxpool2d';
      input: number;
      size: Size2;
      stride?: Size2;
    }
  | {
      /** Mean over kh x kw windows (as maxpool2d); size 'global' averages each channel's whole plane (output [C, 1, 1]). */
      op: 'avgpool2d';
      input: number;
      size: Size2 | 'global';
      stride?: Size2;
    }
  | {
      /** The same values as a flat vector (C x H x W columns, NCHW order). */
      op: 'flatten';
      input: number;
    };

/**
 * A head: one task's output node, its loss, and its column of the target matrix.
 * mse/huber/poisson/bce-logits: the node has 1 column; softmax-ce: C columns, target = class index.
 * A target that is NaN (or < 0 for bce-logits and softmax-ce) is missing: it adds nothing to the
 * loss or gradient. A head's loss is the mean over its non-missing rows of the batch (0 when none).
 */
export interface HeadSpec {
  node: number;
  loss: LossName;
  target: number;
  /** Huber's delta (default 1). */
  delta?: number;
}

export interface NetworkSpec {
  nodes: NodeSpec[];
  heads: HeadSpec[];
}

/** Where one parameter tensor lives in the flat vector. */
export interface ParamSlot {
  node: number;
  name: 'W' | 'b' | 'gamma' | 'beta' | 'a';
  offset: number;
  shape: number[];
  /** Fan-in, for initialisers. */
  fanIn: number;
}

export interface NetworkBatch<T extends FloatArray> {
  x: Matrix<T>;
  /** n x (number of target columns); required by loss/gradient calls. */
  y?: Matrix<T>;
  /** Dropout masks by node index (n x width of that node), for training passes. */
  masks?: ReadonlyMap<number, T>;
  /** Batch normalisation statistics of this call (networks with batchnorm nodes). */
  stats?: NormStats<T>;
}

/**
 * Statistics of the batchnorm nodes, in the layout of CompiledNetwork.statsOffset: per batchnorm
 * node (in node order), the mean of each channel then the variance of each channel
 * (statsCount values in all).
 */
export interface NormStats<T extends FloatArray> {
  /**
   * Normalise with these (running) statistics instead of the batch's own: inference, or any
   * pass that must not depend on the other rows of the batch.
   */
  running?: T;
  /** Receives the statistics the pass computed from the batch (mean and biased variance), to update running averages. */
  batchOut?: Float64Array;
}

export interface NetworkHandle<T extends FloatArray> {
  readonly paramCount: number;
  readonly dtype: 'float32' | 'float64';
  /** Every head's output concatenated in head order: n x (sum of head widths). Raw (logits). */
  forward(params: T, batch: NetworkBatch<T>): Matrix<T>;
  /**
   * Per-head mean losses (length H). If `grad` is given it receives
   * d/dparams sum_h weights[h] L_h (overwritten).
   */
  lossGrad(params: T, batch: NetworkBatch<T>, weights: Float64Array, grad: T | null): Float64Array;
  /** Row h of `out` (H x P) receives dL_h/dparams; returns the per-head losses. */
  headGrads(params: T, batch: NetworkBatch<T>, out: Matrix<T>): Float64Array;
  /** out = Hessian of sum_h weights[h] L_h (w.r.t. params) times v: exact, not finite differences. */
  hvp(params: T, batch: NetworkBatch<T>, weights: Float64Array, v: T, out: T): void;
  /**
   * Vector-Jacobian product through the network: `grad` (length P) receives J^T outGrad, where
   * outGrad (n x sum of head widths, same layout as forward's output) is the gradient of some
   * loss computed outside the kernel w.r.t. the raw outputs (ProtoNet, MetaRidge).
   * With `reuseForward`, the activations of the forward() call made on this handle just before
   * are used instead of a new forward pass (a forward() then a vjp() then cost one forward and one
   * backward): params and batch must be the arrays of that call, unchanged, with no other call
   * on the handle in between; otherwise a ValueError.
   */
  vjp(params: T, batch: NetworkBatch<T>, outGrad: Matrix<T>, grad: T, reuseForward?: boolean): void;
  /**
   * The MAML/ANIL meta-gradient of a whole meta-batch in one call (twin files metabatch.ts /
   * metabatch.cc; it fuses the per-task loop of lib/meta/maml.ts). Per task t, from theta_0 = params:
   *     theta_{i+1} = theta_i - a M grad L_S(theta_i)   (k steps; M = diag(innerMask), I without one)
   *     v_t = grad L_Q(theta_k);  second order: v_t <- v_t - a H_S(theta_i) (M v_t), i = k-1..0
   * `grad` (overwritten) receives mean_t v_t; returns mean_t L_Q(theta_k^t). L is the sum of the
   * heads' mean losses (meta-learners have one head). The native kernel may run the tasks in
   * parallel (bounded by setThreads) with a result identical to one thread.
   */
  metaGradient(params: T, tasks: MetaBatchTasks<T>, options: MetaGradientOptions, grad: Float64Array): number;
  /**
   * metaGradient in two halves, so that the caller can draw the next meta-batch while this one
   * runs: the native backend copies the arguments, starts the tasks on its worker threads and
   * returns; the JavaScript backend computes here. Nothing passed is read after this returns.
   * `finish(grad)` on the result completes it (the same result as metaGradient). Until then every
   * other call on the handle throws a ValueError; dispose() waits for the tasks.
   */
  metaGradientStart(params: T, tasks: MetaBatchTasks<T>, options: MetaGradientOptions): PendingMetaGradient;
  /**
   * Free the handle's memory now (garbage collection frees it too). Idempotent; any later call
   * of another method throws a DisposedError.
   */
  dispose(): void;
}

/**
 * The tasks of a meta-batch stacked: task t's support set is rows offsets[2t]..offsets[2t+1]-1 of
 * x and y, its query set rows offsets[2t+1]..offsets[2t+2]-1 (offsets: 2T+1 strictly increasing
 * entries from 0 to x.rows).
 */
export interface MetaBatchTasks<T extends FloatArray> {
  x: Matrix<T>;
  y: Matrix<T>;
  offsets: Int32Array;
}

/** A meta-gradient started by NetworkHandle.metaGradientStart. */
export interface PendingMetaGradient {
  /** grad (overwritten, paramCount entries) <- the mean meta-gradient; returns the mean query loss. Once only. */
  finish(grad: Float64Array): number;
}

export interface MetaGradientOptions {
  /** Inner SGD learning rate a (>= 0). */
  innerLr: number;
  /** Inner steps k (integer >= 0). */
  innerSteps: number;
  /** Drop the Hessian-vector products (first-order MAML). */
  firstOrder: boolean;
  /** Length paramCount, 1 where the inner loop adapts a parameter (ANIL: the head); null = all. */
  innerMask?: Uint8Array | null;
}

/** The network kernels (to be joined into Kernels when both backends implement them). */
export interface NetworkKernels {
  /** Compile a spec (already checked by networkSpec.ts) into a handle of the given dtype. */
  network(spec: NetworkSpec, dtype: 'float32'): NetworkHandle<Float32Array>;
  network(spec: NetworkSpec, dtype: 'float64'): NetworkHandle<Float64Array>;
}

// ---------------------------------------------------------------------------------------------
// Optimiser updates over flat parameter vectors (twin files optim.ts / optim.cc).
// Each updates params and its state vectors in place. The classes in lib/nn/optim.ts hold the
// hyperparameters, schedules and step count and call these.
// ---------------------------------------------------------------------------------------------

/**
 * Adam (Kingma & Ba 2015) with bias correction at 1-based step `step`; AdamW (Loshchilov &
 * Hutter 2019) when `decoupledWeightDecay` is true (params *= 1 - lr weightDecay before the
 * update), otherwise L2 weight decay added to the gradient (PyTorch's Adam semantics).
 */
export interface AdamArgs<T extends FloatArray> {
  params: T;
  grad: T;
  m: T;
  v: T;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupledWeightDecay: boolean;
  step: number;
}

/** SGD with optional momentum (PyTorch semantics: buf = momentum buf + (1 - dampening) g) and Nesterov. */
export interface SgdArgs<T extends FloatArray> {
  params: T;
  grad: T;
  /** Momentum buffer (required when momentum > 0). */
  velocity: T | null;
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  /** 1-based; at step 1 the momentum buffer is set to the gradient (PyTorch). */
  step: number;
}

/** RMSprop (Hinton 2012; PyTorch semantics, eps outside the square root). */
export interface RmspropArgs<T extends FloatArray> {
  params: T;
  grad: T;
  squareAvg: T;
  /** Momentum buffer (required when momentum > 0). */
  momentumBuf: T | null;
  lr: number;
  alpha: number;
  eps: number;
  momentum: number;
  weightDecay: number;
}

export interface OptimKernels {
  adamStep<T extends FloatArray>(args: AdamArgs<T>): void;
  sgdStep<T extends FloatArray>(args: SgdArgs<T>): void;
  rmspropStep<T extends FloatArray>(args: RmspropArgs<T>): void;
}

export interface RandomKernels {
  /**
   * A dropout mask from the stream of lib/core/rng.ts (xoshiro128**, twin files random.ts /
   * random.cc): out[k] = 0 when the k-th 32-bit draw is below rate * 2^32, else keep. `state` is
   * the generator's four words (Rng.streamState), advanced by out.length draws in place; rate in
   * [0, 1], keep finite; state and out share no memory.
   */
  fillMask(state: Int32Array, out: FloatArray, rate: number, keep: number): void;
}
