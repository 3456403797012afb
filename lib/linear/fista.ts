/**
 * FISTA (Beck & Teboulle, "A fast iterative shrinkage-thresholding algorithm for linear inverse
 * problems", SIAM J. Imaging Sci. 2, 2009) with adaptive restart (O'Donoghue & Candes, "Adaptive
 * restart for accelerated gradient schemes", Found. Comput. Math. 15, 2015) for
 *     min_{W, b}  F(W, b) = f(W, b) + g(W)
 * with f smooth (per-task losses through kernels().taskLoss) and g a penalty with a cheap prox
 * (groupSoftThreshold for L2,1, svt for the trace norm). The intercepts b are unpenalised: their
 * prox is the identity, and they are only updated when `optimizeIntercept` is set.
 *
 * Iteration k (step 1/L):
 *     y = x_k + ((t_{k-1} - 1) / t_k) (x_k - x_{k-1}),   z = prox_{g/L}(y - grad f(y) / L),
 *     t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2.
 * - Step size: L is a global Lipschitz constant of grad f computed from the data (for the losses
 *   here, f's Hessian is block-diagonal over tasks, so L = max_t c lambda_max(X_t^T X_t) / n_t with
 *   c = 1 for squared and 1/4 for logistic loss; see `prepared`). The sufficient-decrease test
 *   f(z) <= f(y) + <grad f(y), z - y> + (L/2) ||z - y||^2 is still checked every iteration and
 *   doubles L if it ever fails (backtracking as a safeguard only; with a valid L it never fires).
 * - Restart (O'Donoghue & Candes): the gradient scheme drops the momentum (t = 1) whenever
 *   <y - z, z - x_k> > 0, i.e. the momentum points against the gradient-mapping step; the
 *   function scheme rejects a step that increases F and retries from x_k without momentum, which
 *   keeps the iterates monotone. A step without momentum cannot increase F (descent lemma), so if
 *   one does, x_k is optimal up to rounding and the solver stops.
 * - Quadratic f (squared loss): the gradient is affine, so grad f(y) = grad f(x_k) +
 *   m (grad f(x_k) - grad f(x_{k-1})) and f(y) follows exactly from f(x_k) and the same two
 *   gradients; each iteration then costs ONE taskLoss call (loss and gradient at z, which is the
 *   next x) and one prox, and F is known at every iterate for the history.
 * - Stopping rule: the gradient-mapping step ||z - y||_F (zero exactly at a fixed point of the
 *   prox-gradient map, i.e. at an optimum; L ||z - y|| bounds the distance of 0 from the
 *   subdifferential up to a factor 2) and the objective change, both relative:
 *     ||z - y||_F <= tol max(1, ||z||_F)   and   |F_{k+1} - F_k| <= tol max(1, |F_{k+1}|).
 */
import { transpose, type Matrix } from '../core/matrix.js';
import { screenable, screenedFista } from './solvers/featureScreening.js';
import { kernels } from '../kernels/index.js';
import { centredGrams, centrePerTask, interceptsFrom, taskGrams, type Centred, type Solution, type TaskProblem, type Work } from './taskModel.js';

export interface FistaSpec {
  /** f(W, b); when gw/gb are given, writes the gradient into them. */
  smooth(w: Matrix<Float64Array>, b: Float64Array, gw: Matrix<Float64Array> | null, gb: Float64Array | null): number;
  /** In place: W <- prox_{step g}(W); returns g(W) at the result. */
  prox(w: Matrix<Float64Array>, step: number): number;
  /** g(W). */
  penalty(w: Matrix<Float64Array>): number;
  /** Update the intercepts (unpenalised) too. */
  optimizeIntercept: boolean;
  /** f is quadratic (its gradient is affine): one smooth() call per iteration instead of two. */
  quadratic?: boolean;
}

export interface FistaOptions {
  /** Relative tolerance of the stopping rule (see the file comment). */
  tol: number;
  maxIter: number;
  /** Lipschitz constant of grad f (or an initial estimate, doubled when the descent test fails). Default 1. */
  lipschitz?: number;
  /**
   * Called with each accepted iterate W (a view, valid during the call) and the iteration; true
   * ends the run there (not converged), e.g. for the caller to screen features and restart on a
   * smaller problem.
   */
  pause?: (w: Matrix<Float64Array>, iter: number) => boolean;
}

export interface FistaResult {
  w: Matrix<Float64Array>;
  b: Float64Array;
  /** F at the start and after every iteration (length nIter + 1). */
  history: number[];
  nIter: number;
  /** The final Lipschitz estimate (for warm starts). */
  lipschitz: number;
  converged: boolean;
  /** Momentum restarts (gradient and function schemes). */
  restarts: number;
}

/** A point (W, b) of the solver: one vector [W row-major, b], with views on its two parts. */
interface Pt {
  v: Float64Array;
  w: Matrix<Float64Array>;
  b: Float64Array;
}

export function* fista(spec: FistaSpec, w0: Matrix<Float64Array>, b0: Float64Array, o: FistaOptions): Work<FistaResult> {
  const { rows, cols } = w0;
  const nw = rows * cols;
  const T = b0.length;
  const n = nw + T;
  const ib = spec.optimizeIntercept;
  const quad = spec.quadratic === true;
  const pt = (): Pt => {
    const v = new Float64Array(n);
    return { v, w: { rows, cols, data: v.subarray(0, nw) }, b: v.subarray(nw) };
  };
  const start = (): Pt => {
    const p = pt();
    p.w.data.set(w0.data);
    p.b.set(b0);
    return p;
  };
  // x: current iterate, xp: previous iterate, y: extrapolated point, z: candidate. When the
  // intercepts are fixed their gradient is never requested and stays 0, so z.b = y.b = b0 and the
  // b part of every sum below is 0: one loop over the whole vector covers both cases.
  let x = start();
  let xp = start();
  const y = pt();
  let z = pt();
  // Gradients at y; for quadratic f also at x, xp and z (grad f(y) is their combination).
  const gy = pt();
  let gx = pt();
  let gxp = pt();
  let gz = pt();
  const gb = (g: Pt) => (ib ? g.b : null);
  let L = o.lipschitz && o.lipschitz > 0 && Number.isFinite(o.lipschitz) ? o.lipschitz : 1;
  let fx = quad ? spec.smooth(x.w, x.b, gx.w, gb(gx)) : spec.smooth(x.w, x.b, null, null);
  if (quad) gxp.v.set(gx.v);
  let Fx = fx + spec.penalty(x.w);
  const history = [Fx];
  let t = 1;
  let iter = 0;
  let restarts = 0;
  let converged = false;
  const Y = y.v;
  const GY = gy.v;
  const sums = new Float64Array(4);
  while (iter < o.maxIter) {
    iter++;
    const tNext = (1 + Math.sqrt(1 + 4 * t * t)) / 2;
    const mom = (t - 1) / tNext;
    const X = x.v;
    const XP = xp.v;
    // y = x + mom (x - xp), and f(y), grad f(y).
    let fy: number;
    if (quad) {
      // f quadratic: f(x + m D) = f(x) + m <g(x), D> + (m^2/2) <H D, D>, with H D = g(x) - g(xp),
      // and g(x + m D) = g(x) + m (g(x) - g(xp)).
      // The same pass writes the first gradient step into z.
      extrapolateQuadratic(X, XP, gx.v, gxp.v, Y, GY, z.v, mom, 1 / L, sums);
      fy = mom === 0 ? fx : fx + mom * sums[0]! + 0.5 * mom * mom * sums[1]!;
    } else {
      for (let i = 0; i < n; i++) Y[i] = X[i]! + mom * (X[i]! - XP[i]!);
      fy = spec.smooth(y.w, y.b, gy.w, gb(gy));
    }
    // z = prox(y - grad f(y) / L), with the sufficient-decrease test as a safeguard on L.
    const Z = z.v;
    let fz = 0;
    let pz = 0;
    let sq = 0;
    let dir = 0;
    let zz = 0;
    for (let bt = 0; ; bt++) {
      const step = 1 / L;
      if (bt > 0 || !quad) for (let i = 0; i < n; i++) Z[i] = Y[i]! - step * GY[i]!;
      pz = spec.prox(z.w, step);
      fz = quad ? spec.smooth(z.w, z.b, gz.w, gb(gz)) : spec.smooth(z.w, z.b, null, null);
      stepSums(Z, Y, GY, X, sums);
      const lin = sums[0]!;
      sq = sums[1]!;
      dir = sums[2]!;
      zz = sums[3]!;
      // A relative slack of a few thousand ulps keeps rounding from doubling L near the optimum.
      if (fz <= fy + lin + 0.5 * L * sq + 1e-12 * Math.max(Math.abs(fy), Math.abs(fz)) || sq === 0 || bt >= 60) break;
      L *= 2;
    }
    const Fz = fz + pz;
    if (!(Fz <= Fx)) {
      restarts++;
      // A step without momentum obeys F(z) <= F(x) - (L/2)||z - x||^2: an increase is rounding,
      // and x is optimal to working precision.
      if (mom === 0 || !Number.isFinite(Fz)) {
        converged = mom === 0;
        history.push(Fx);
        yield { phase: 'fit', iter, objective: Fx };
        break;
      }
      // Function-scheme restart: reject z, retry from x without momentum.
      t = 1;
      history.push(Fx);
      yield { phase: 'fit', iter, objective: Fx };
      continue;
    }
    // Gradient-scheme restart: the momentum (z - x) points against the step (z - y).
    if (dir > 0) {
      t = 1;
      restarts++;
    } else t = tNext;
    // Accept z: xp <- x, x <- z (buffer swaps, no copies).
    [xp, x, z] = [x, z, xp];
    if (quad) [gxp, gx, gz] = [gx, gz, gxp];
    const change = Math.abs(Fx - Fz);
    fx = fz;
    Fx = Fz;
    history.push(Fx);
    yield { phase: 'fit', iter, objective: Fx };
    if (Math.sqrt(sq) <= o.tol * Math.max(1, Math.sqrt(zz)) && change <= o.tol * Math.max(1, Math.abs(Fx))) {
      converged = true;
      break;
    }
    if (o.pause?.(x.w, iter)) break;
  }
  return { w: { rows, cols, data: x.w.data.slice() }, b: x.b.slice(), history, nIter: iter, lipschitz: L, converged, restarts };
}

// The per-iteration vector work, in small functions outside the generator (V8 optimises them
// early and independently of it).

/** y = x + m (x - xp), gy = gx + m (gx - gxp), z = y - step gy; sums = [<gx, x - xp>, <gx - gxp, x - xp>]. */
function extrapolateQuadratic(
  X: Float64Array,
  XP: Float64Array,
  GX: Float64Array,
  GXP: Float64Array,
  Y: Float64Array,
  GY: Float64Array,
  Z: Float64Array,
  mom: number,
  step: number,
  sums: Float64Array,
): void {
  let a = 0;
  let c = 0;
  for (let i = 0; i < X.length; i++) {
    const dlt = X[i]! - XP[i]!;
    const dg = GX[i]! - GXP[i]!;
    const yi = X[i]! + mom * dlt;
    const gi = GX[i]! + mom * dg;
    Y[i] = yi;
    GY[i] = gi;
    Z[i] = yi - step * gi;
    a += GX[i]! * dlt;
    c += dg * dlt;
  }
  sums[0] = a;
  sums[1] = c;
}

/** sums = [<gy, z - y>, ||z - y||^2, <y - z, z - x>, ||z||^2]. */
function stepSums(Z: Float64Array, Y: Float64Array, GY: Float64Array, X: Float64Array, sums: Float64Array): void {
  let lin = 0;
  let sq = 0;
  let dir = 0;
  let zz = 0;
  for (let i = 0; i < Z.length; i++) {
    const zi = Z[i]!;
    const dlt = zi - Y[i]!;
    lin += GY[i]! * dlt;
    sq += dlt * dlt;
    dir -= dlt * (zi - X[i]!);
    zz += zi * zi;
  }
  sums[0] = lin;
  sums[1] = sq;
  sums[2] = dir;
  sums[3] = zz;
}

// ------------------------------------------------------------------------------------------------
// The adapter used by L21Regression, L21Logistic and TraceNormRegression: per-task losses over
// stacked rows, each task's loss scaled by 1/n_t (so the smooth part is the sum over tasks of the
// task's mean loss: sum_t (1/(2 n_t)) ||X_t w_t + b_t - y_t||^2 for squared loss, which is
// scikit-learn's MultiTaskLasso data term when all tasks share their rows), plus alpha g(W).
// ------------------------------------------------------------------------------------------------

export type PenaltyKind = 'l21' | 'trace';

/** g(W) for W T x d: L2,1 = sum over features j of ||W[:, j]||_2; trace = sum of singular values. */
export function penaltyValue(kind: PenaltyKind, w: Matrix<Float64Array>): number {
  if (kind === 'trace') {
    if (w.rows === 0 || w.cols === 0) return 0;
    let s = 0;
    for (const v of kernels().svd(w).s) s += v;
    return s;
  }
  const { rows: T, cols: d, data } = w;
  let s = 0;
  for (let j = 0; j < d; j++) {
    let ss = 0;
    for (let t = 0; t < T; t++) ss += data[t * d + j]! * data[t * d + j]!;
    s += Math.sqrt(ss);
  }
  return s;
}

/** In place prox of threshold * g. L2,1 groups are features (columns of the T x d W). */
export function penaltyProx(kind: PenaltyKind, w: Matrix<Float64Array>, threshold: number): number {
  if (kind === 'trace') return traceProx(w, threshold);
  // groupSoftThreshold works on rows: work on W^T (d x T, row j = feature j across tasks).
  const wt = transpose(w);
  kernels().groupSoftThreshold(wt, threshold);
  const { rows: T, cols: d, data } = w;
  const src = wt.data;
  let s = 0;
  for (let j = 0; j < d; j++) {
    let ss = 0;
    for (let t = 0; t < T; t++) {
      const v = src[j * T + t]!;
      data[t * d + j] = v;
      ss += v * v;
    }
    s += Math.sqrt(ss);
  }
  return s;
}

/**
 * In place singular-value thresholding W <- U max(S - threshold, 0) V^T, through the smaller Gram
 * matrix: for W T x d with d <= T, W^T W = V S^2 V^T (kernels().gram, then symEig), and
 *     svt(W) = W V diag(max(0, 1 - threshold / s)) V^T        (two gemms),
 * which is exact in exact arithmetic (W V = U S). Rounding moves a singular value s by about
 * eps s_max^2 / s, so the result is accurate to about eps s_max / threshold relative to ||W||:
 * ample here, since every singular value kept is above the threshold. On School's 139 x 28 W
 * this costs a 28 x 28 eigendecomposition instead of the Jacobi SVD of the whole matrix (about
 * 10x less work in the TypeScript kernels). For d > T the same is done on W^T. Returns the trace
 * norm of the result.
 */
export function traceProx(w: Matrix<Float64Array>, threshold: number): number {
  // threshold 0 (alpha = 0): the identity; the Gram route would lose the small singular values.
  if (!(threshold > 0)) return penaltyValue('trace', w);
  const K = kernels();
  const wide = w.cols > w.rows;
  const a = wide ? transpose(w) : w;
  const k = a.cols;
  if (a.rows === 0 || k === 0) return 0;
  const g = { rows: k, cols: k, data: new Float64Array(k * k) };
  K.gram(a, g);
  const { values, vectors } = K.symEig(g);
  // Columns of V whose factor is non-zero, scaled by it: M = V_kept diag(f) V_kept^T.
  let kept = 0;
  let nuclear = 0;
  const f = new Float64Array(k);
  for (let l = 0; l < k; l++) {
    const s = Math.sqrt(Math.max(values[l]!, 0));
    if (s > threshold) {
      f[l] = 1 - threshold / s;
      nuclear += s - threshold;
      kept++;
    }
  }
  if (kept === 0) {
    w.data.fill(0);
    return 0;
  }
  const vk = { rows: k, cols: kept, data: new Float64Array(k * kept) };
  const vf = { rows: k, cols: kept, data: new Float64Array(k * kept) };
  const V = vectors.data;
  for (let i = 0; i < k; i++) {
    let c = 0;
    for (let l = 0; l < k; l++) {
      if (f[l] === 0) continue;
      vk.data[i * kept + c] = V[i * k + l]!;
      vf.data[i * kept + c] = V[i * k + l]! * f[l]!;
      c++;
    }
  }
  const av = { rows: a.rows, cols: kept, data: new Float64Array(a.rows * kept) };
  K.gemm(a, vk, av);
  const out = { rows: a.rows, cols: k, data: new Float64Array(a.rows * k) };
  K.gemm(av, vf, out, { transB: true });
  w.data.set(wide ? transpose(out).data : out.data);
  return nuclear;
}

/** Dual norm of g at a gradient G: max_j ||G[:, j]|| (L2,1) or the spectral norm (trace). */
export function dualNorm(kind: PenaltyKind, g: Matrix<Float64Array>): number {
  if (kind === 'trace') return g.rows === 0 || g.cols === 0 ? 0 : (kernels().svd(g).s[0] ?? 0);
  const { rows: T, cols: d, data } = g;
  let m = 0;
  for (let j = 0; j < d; j++) {
    let ss = 0;
    for (let t = 0; t < T; t++) ss += data[t * d + j]! * data[t * d + j]!;
    m = Math.max(m, Math.sqrt(ss));
  }
  return m;
}

/** The internal (centred-space) state kept for warm starts. */
interface ProxWarm {
  w: Matrix<Float64Array>;
  b: Float64Array;
  lipschitz: number;
  /** The problem solved (the Lipschitz estimate is only re-used on the same problem). */
  problem: TaskProblem;
}

/** What a FISTA solve runs on, computed once per problem (and cached: a CV path re-uses it). */
export interface Prepared {
  /** The centring (squared loss with an intercept), to recover the intercepts. */
  c: Centred | null;
  /** The rows taskLoss runs on (see `compress`). */
  q: TaskProblem;
  /** Starting intercepts. */
  b0: Float64Array;
  /** 1 / n_t (n_t of the original problem). */
  scale: Float64Array;
  /** sum_t of the constant the compression drops from task t's loss. */
  constant: number;
  /** Lipschitz constant of the gradient of the smooth part. */
  lipschitz: number;
}

const preparedCache = new WeakMap<TaskProblem, Map<string, Prepared>>();

/**
 * The problem a prox model solves. Squared loss: X (and y) centred per task when fitIntercept, so
 * the intercepts drop out, and each task compressed (see `compress`). Logistic loss: the rows as
 * they are, the intercepts optimised unpenalised, starting from the log-odds of each task.
 */
export function prepared(p: TaskProblem, loss: 'squared' | 'logistic', fitIntercept: boolean): Prepared {
  let m = preparedCache.get(p);
  if (!m) preparedCache.set(p, (m = new Map()));
  const key = `${loss}:${fitIntercept}`;
  let v = m.get(key);
  if (!v) {
    v = loss === 'squared' ? compress(p, fitIntercept) : logisticPrepared(p, fitIntercept);
    m.set(key, v);
  }
  return v;
}

function invCounts(p: TaskProblem): Float64Array {
  const s = new Float64Array(p.T);
  for (let t = 0; t < p.T; t++) {
    const n = p.offsets[t + 1]! - p.offsets[t]!;
    s[t] = n > 0 ? 1 / n : 0;
  }
  return s;
}

/**
 * Squared loss, task by task: with the (centred) Gram X_t^T X_t = V diag(lambda) V^T and
 * c_t = X_t^T y_t, the rows R_t = diag(sqrt(lambda)) V^T (one per eigenvalue above rounding) and
 * targets z_t = diag(1/sqrt(lambda)) V^T c_t give ||X_t w - y_t||^2 = ||R_t w - z_t||^2 +
 * (||y_t||^2 - ||z_t||^2) for every w: the same loss up to a constant and the same gradient, on at
 * most d rows instead of n_t (School: about a third of the rows, so a third of the work per
 * iteration). Tasks with no more rows than their rank keep their rows. The largest eigenvalue of
 * each task gives the Lipschitz constant max_t lambda_max,t / n_t exactly. A task with no more
 * rows than features (n_t <= d) cannot be compressed: it keeps its rows, and its largest eigenvalue
 * comes from the n_t x n_t Gram X_t X_t^T (the same non-zero eigenvalues) instead of the d x d one:
 * with many features (d = 2000, n_t = 50) this is the difference between seconds and milliseconds.
 */
function compress(p: TaskProblem, fitIntercept: boolean): Prepared {
  const K = kernels();
  const { T, d } = p;
  const wide = (t: number) => p.offsets[t + 1]! - p.offsets[t]! <= d;
  // The d x d Grams only when some task has more rows than features.
  const all = Array.from({ length: T }, (_, t) => t);
  const { c, grams, xty } = all.every(wide) ? { c: fitIntercept ? centrePerTask(p, true) : null, grams: null, xty: null } : centredGrams(p, fitIntercept);
  const src = c ? c.p : p;
  const scale = invCounts(p);
  // The stacked result, written task by task: a task keeps at most min(n_t, d) rows (all of them
  // when d is 0), so room for that many is taken at once, in the problem's lease when it has one.
  let room = 0;
  for (let t = 0; t < T; t++) {
    const n = src.offsets[t + 1]! - src.offsets[t]!;
    room += d === 0 ? n : Math.min(n, d);
  }
  const xAll = p.lease ? p.lease.f64Uncleared(room * d) : new Float64Array(room * d);
  const yAll = p.lease ? p.lease.f64Uncleared(room) : new Float64Array(room);
  const offsets = new Int32Array(T + 1);
  let lipschitz = 0;
  let constant = 0;
  for (let t = 0; t < T; t++) {
    const a = src.offsets[t]!;
    const n = src.offsets[t + 1]! - a;
    const at = offsets[t]!;
    const orig = { x: src.x.data.subarray(a * d, (a + n) * d), y: src.y.subarray(a, a + n) };
    const keepRows = (): void => {
      xAll.set(orig.x, at * d);
      yAll.set(orig.y, at);
      offsets[t + 1] = at + n;
    };
    if (n === 0 || d === 0) {
      keepRows();
      continue;
    }
    if (wide(t) || !grams || !xty) {
      const xt = { rows: n, cols: d, data: orig.x };
      const outer = { rows: n, cols: n, data: new Float64Array(n * n) };
      K.gemm(xt, xt, outer, { transB: true });
      lipschitz = Math.max(lipschitz, K.symEig(outer).values[n - 1]! * scale[t]!);
      keepRows();
      continue;
    }
    const { values, vectors } = K.symEig(grams[t]!);
    const top = values[d - 1]!;
    lipschitz = Math.max(lipschitz, top * scale[t]!);
    // Eigenvalues at rounding level belong to the null space of X_t (collinear or constant columns).
    const floor = top * d * 1e-13;
    const keep: number[] = [];
    for (let k = 0; k < d; k++) if (values[k]! > floor) keep.push(k);
    if (n <= keep.length) {
      keepRows();
      continue;
    }
    const V = vectors.data;
    let yy = 0;
    for (let i = 0; i < n; i++) yy += orig.y[i]! * orig.y[i]!;
    let zz = 0;
    keep.forEach((k, r) => {
      const s = Math.sqrt(values[k]!);
      const row = (at + r) * d;
      let vc = 0;
      for (let j = 0; j < d; j++) {
        xAll[row + j] = s * V[j * d + k]!;
        vc += V[j * d + k]! * xty[t]!.data[j]!;
      }
      const z = vc / s;
      yAll[at + r] = z;
      zz += z * z;
    });
    constant += 0.5 * scale[t]! * (yy - zz);
    offsets[t + 1] = at + keep.length;
  }
  const N = offsets[T]!;
  const x = xAll.subarray(0, N * d);
  const y = yAll.subarray(0, N);
  const q: TaskProblem = { x: { rows: N, cols: d, data: x }, y, offsets, T, d, ...(p.lease ? { lease: p.lease } : {}) };
  return { c, q, b0: new Float64Array(T), scale, constant, lipschitz: lipschitz > 0 ? lipschitz : 1 };
}

/**
 * Logistic loss: X centred per task when fitIntercept (better conditioned; the intercepts are
 * optimised unpenalised in the centred space, from the log-odds of each task). The Hessian of task
 * t's mean loss in (w_t, b_t) is at most (1/4) [X_t 1]^T [X_t 1] / n_t, block-diagonal once X_t is
 * centred, so L = max_t max(lambda_max(X_t^T X_t) / n_t, 1) / 4 (without the 1 when b is fixed).
 */
function logisticPrepared(p: TaskProblem, fitIntercept: boolean): Prepared {
  const K = kernels();
  const { T, d } = p;
  const c = fitIntercept ? centrePerTask(p, false) : null;
  const q = c ? c.p : p;
  const { grams } = taskGrams(q);
  const scale = invCounts(p);
  const b0 = new Float64Array(T);
  let lipschitz = 0;
  for (let t = 0; t < T; t++) {
    const a = p.offsets[t]!;
    const e = p.offsets[t + 1]!;
    if (e === a) continue;
    if (fitIntercept) {
      let s = 0;
      for (let i = a; i < e; i++) s += p.y[i]!;
      // Clamped so that a task with one class gives a large finite log-odds, not Infinity.
      const m = Math.min(Math.max(s / (e - a), 1e-6), 1 - 1e-6);
      b0[t] = Math.log(m / (1 - m));
      lipschitz = Math.max(lipschitz, 0.25);
    }
    if (d > 0) lipschitz = Math.max(lipschitz, 0.25 * K.symEig(grams[t]!).values[d - 1]! * scale[t]!);
  }
  return { c, q, b0, scale, constant: 0, lipschitz: lipschitz > 0 ? lipschitz : 1 };
}

/** The smallest alpha whose solution is W = 0: the dual norm of the gradient at W = 0. */
export function alphaMax(p: TaskProblem, loss: 'squared' | 'logistic', kind: PenaltyKind, fitIntercept: boolean): number {
  const { q, b0, scale } = prepared(p, loss, fitIntercept);
  const gw = { rows: p.T, cols: p.d, data: new Float64Array(p.T * p.d) };
  kernels().taskLoss({ x: q.x, y: q.y, offsets: q.offsets, w: { rows: p.T, cols: p.d, data: new Float64Array(p.T * p.d) }, intercept: b0, scale, loss, gradW: gw });
  return dualNorm(kind, gw);
}

export interface ProxSolveOptions {
  /** Gap-safe screening for L2,1 with squared loss (default true; off only to compare in tests and benchmarks). */
  screening?: boolean;
  loss: 'squared' | 'logistic';
  kind: PenaltyKind;
  alpha: number;
  fitIntercept: boolean;
  tol: number;
  maxIter: number;
}

/** Solve min sum_t (1/n_t) loss_t + alpha g(W) by FISTA, warm-started from `warm` when given. */
export function* solveProx(p: TaskProblem, o: ProxSolveOptions, warm: Solution | null): Work<Solution> {
  const pr = prepared(p, o.loss, o.fitIntercept);
  const { c, q, b0, scale, constant } = pr;
  const K = kernels();
  const optimizeIntercept = o.loss === 'logistic' && o.fitIntercept;
  const specFor = (rows: { x: Matrix<Float64Array>; y: Float64Array; offsets: Int32Array }): FistaSpec => ({
    smooth(w, b, gw, gb) {
      const l = K.taskLoss({ x: rows.x, y: rows.y, offsets: rows.offsets, w, intercept: b, scale, loss: o.loss, gradW: gw ?? undefined, gradIntercept: gb ?? undefined });
      let s = constant;
      for (const v of l) s += v;
      return s;
    },
    prox: (w, step) => o.alpha * penaltyProx(o.kind, w, o.alpha * step),
    penalty: (w) => o.alpha * penaltyValue(o.kind, w),
    optimizeIntercept,
    quadratic: o.loss === 'squared',
  });
  const pw = warm?.warm as ProxWarm | undefined;
  const w0 = pw && pw.w.rows === p.T && pw.w.cols === p.d ? pw.w : { rows: p.T, cols: p.d, data: new Float64Array(p.T * p.d) };
  const start = pw && pw.b.length === p.T ? pw.b : b0;
  // The data's Lipschitz constant, or a larger one a previous solve on this problem had to use.
  const lipschitz = Math.max(pr.lipschitz, pw && pw.problem === p ? pw.lipschitz : 0);
  const run = (rows: { x: Matrix<Float64Array>; y: Float64Array; offsets: Int32Array }, w: Matrix<Float64Array>, maxIter = o.maxIter, pause?: FistaOptions['pause']) =>
    fista(specFor(rows), w, start, { tol: o.tol, maxIter, lipschitz, pause });
  // L2,1 with squared loss: gap-safe screening at the start and during the solve (solvers/featureScreening.ts).
  const parts = [{ penalty: 'features' as const, strength: o.alpha }];
  const screened = o.kind === 'l21' && o.loss === 'squared' && (o.screening ?? true) && screenable(parts, undefined, p.d);
  const rows = { x: q.x, y: q.y, offsets: q.offsets, scale, constant };
  const problem = { parts, penalty: (w: Matrix<Float64Array>) => o.alpha * penaltyValue('l21', w) };
  const r = screened ? yield* screenedFista(K, rows, problem, w0, run, { maxIter: o.maxIter }) : yield* run(q, w0);
  const intercept = c ? interceptsFrom(r.w, c, optimizeIntercept ? r.b : undefined) : r.b.slice();
  return {
    coef: { rows: p.T, cols: p.d, data: r.w.data.slice() },
    intercept,
    history: r.history,
    nIter: r.nIter,
    warm: { w: r.w, b: r.b, lipschitz: r.lipschitz, problem: p } satisfies ProxWarm,
  };
}
