/**
 * The inner solve of the working-set method: coordinate descent on the k features of a working set
 * from the current coefficients until the duality gap of the problem restricted to them is below a
 * tolerance, run by the kernels (mtenetGramSolve / mtenetResidualSolve: sweeps, gap checks and
 * Anderson extrapolation in one call). Two forms of the same iteration, chosen by cost
 * (useGramForm): the Gram form (O(k^2 T) per sweep whatever n is, after n k^2 for the Gram matrix)
 * and scikit-learn's residual form (O(n k T) per sweep). This file chooses the form, splits long
 * solves into calls of bounded work (so that fit() can yield to the event loop between them), draws
 * the feature orders of selection 'random', and reports every sweep.
 */
import type { Matrix } from '../../core/matrix.js';
import type { Rng } from '../../core/rng.js';
import type { InnerSolveResult, Kernels } from '../../kernels/types.js';

/** The two forms of the inner iteration. */
export type InnerForm = 'gram' | 'residual';

/** Sweeps between two gap checks / extrapolations in the kernels (skglm's default). */
export const ANDERSON_K = 5;

/**
 * Values of a working set's columns that stay in a 2 MiB level-2 cache from one sweep to the next.
 * A constant, not the running CPU's cache size: the form decides the order of the arithmetic, and
 * so a fit gives the same bits on every CPU that runs its kernels the same way (the TypeScript
 * kernels everywhere, the native ones at one SIMD level). Where the level-2 cache is smaller (512
 * KiB on AMD Zen 3), sets between 64 Ki and 256 Ki values are costed at the in-cache rate.
 */
const RESIDUAL_CACHED_VALUES = 1 << 18;

/**
 * Whether the Gram form is cheaper for an inner solve of about `sweeps` sweeps on k features, when
 * its take must first compute `gramEntries` new Gram entries (ColumnPool.gramEntriesToFill: the rows
 * of the features without any yet, each against every pooled feature), for n samples and T tasks.
 * In nanoseconds on one core, from the rates the native kernels reach on working sets of 50 to 465
 * features:
 * - Gram form: the new Gram entries, n multiply-adds each by blocked products (20 to 35 GMAC/s;
 *   under 1000 samples about 40 ns an entry whatever n, the products' fixed costs); its sweeps, at
 *   most k^2 T multiply-adds (about 8 GMAC/s); and the residual Y - X_k W that it leaves to be
 *   rebuilt when the next pass over X reads it (n k T, about 10 GMAC/s).
 * - Residual form: its sweeps and the exact check that ends the solve (the residual and X_k^T R
 *   recomputed from W), 2 n k T multiply-adds each (T dot products and T updates of length n per
 *   feature): 14 GMAC/s while the set's columns (k n values) fit a 2 MiB level-2 cache, 8 when
 *   every sweep streams them from further out.
 * Both forms read the new features' columns from X alike (into Gram rows or into the pool), so that
 * pass is left out. Without the rebuild, the check and the columns' size (one rate of 10 for every
 * residual sweep), 2625 x 476 x 6 took the residual form at 200 features (150 new): 6.1 ms in its
 * gather, solves and next correlations, where the Gram form takes 4.4 ms (its rows 2.8 ms, the
 * correlations with the rebuild 1.4 ms); 8.9 -> 7.25 ms a fit. Of 26 benchmark shapes 5 now choose
 * otherwise somewhere: that one, 243 x 918 x 4 3.37 -> 3.27 ms, and 226 x 799 x 6, 395 x 2839 x 46
 * and 338 x 2904 x 4 within 1 %. The sweeps are an estimate: the caller's last inner solve's (most
 * end within 4 to 6, so a fixed 10 favoured the Gram form on few tasks, where its rows cost more
 * than the sweeps they save). At most 4096 features.
 */
export function useGramForm(k: number, gramEntries: number, n: number, T: number, sweeps: number): boolean {
  const solve = n * k * T;
  const gram = (n * gramEntries) / (25 * Math.min(1, n / 1000)) + (sweeps * k * k * T) / 8 + solve / 10;
  const residual = ((sweeps + 1) * 2 * solve) / (k * n <= RESIDUAL_CACHED_VALUES ? 14 : 8);
  return k <= 4096 && gram < residual;
}

/**
 * Multiply-adds one kernel call may spend before returning, so that an async fit yields to the
 * event loop every few milliseconds (the TypeScript kernels run about ten times slower).
 */
const CALL_BUDGET = { native: 4e7, js: 4e6 };

/** The working set's data and the state at the start of an inner solve. */
export interface InnerProblem {
  n: number;
  T: number;
  /** Centred columns of the working set, k x n (the residual form needs them). */
  xws?: Matrix<Float64Array>;
  /** Their Gram matrix, k x k: given, the Gram form runs. */
  gram?: Matrix<Float64Array>;
  /** Y^T (centred), T x n. */
  yt: Matrix<Float64Array>;
  /** Coefficients k x T, updated in place. */
  w: Matrix<Float64Array>;
  /** X_k^T R at w, k x T; updated in place (exact at the returned w). */
  h: Matrix<Float64Array>;
  /** The residual R^T (T x n) at w, which the residual form updates in place (the Gram form needs none). */
  rt?: Matrix<Float64Array>;
  /** Room for (X_k^T R)^T, at least T k values, that the Gram form may use (else it allocates). */
  htRoom?: Float64Array;
  /** The squared norms of the rows of xws, when known (the residual form then skips computing them). */
  colNormSq?: Float64Array;
  /** X_k^T Y (k x T), when known (the Gram form then skips forming it from h, w and the Gram matrix). */
  xty?: Matrix<Float64Array>;
  /** ||R||^2 and <R, Y> at w. */
  rNormSq: number;
  ry: number;
}

export interface InnerSettings {
  l1Reg: number;
  l2Reg: number;
  tol: number;
  /** Most sweeps this solve may run. */
  maxSweeps: number;
  selection: 'cyclic' | 'random';
  rng: Rng;
}

/**
 * Run the inner solve, yielding the number of sweeps of each kernel call (the caller reports
 * them); returns the result at the end, with the sweeps of every call added up and the residual's
 * total change (a sum over the calls: an upper bound of ||R_end - R_start||).
 */
export function* innerSolve(K: Kernels, p: InnerProblem, s: InnerSettings): Generator<number, InnerSolveResult, void> {
  const k = p.w.rows;
  if (!p.gram && !p.xws) throw new Error('innerSolve: the residual form needs the working set\'s columns (xws)');
  const { T } = p;
  const cost = p.gram ? 2 * k * k * T + 1 : 4 * p.n * k * T + 1;
  const perCall = Math.max(ANDERSON_K, ANDERSON_K * Math.floor(CALL_BUDGET[K.name] / cost / ANDERSON_K));
  // The Gram form keeps (X_k^T R)^T, T x k.
  const ht: Matrix<Float64Array> | undefined = p.gram
    ? { rows: T, cols: k, data: p.htRoom && p.htRoom.length >= T * k ? p.htRoom.subarray(0, T * k) : new Float64Array(T * k) }
    : undefined;
  if (ht) K.transpose(p.h, ht);
  let sweeps = 0;
  let change = 0;
  let rNormSq = p.rNormSq;
  let ry = p.ry;
  for (;;) {
    const maxSweeps = Math.min(perCall, s.maxSweeps - sweeps);
    const orders = s.selection === 'random' ? randomOrders(s.rng, k, maxSweeps) : undefined;
    // One shape of settings whether or not orders are drawn (a conditional spread made two).
    const settings = { l1Reg: s.l1Reg, l2Reg: s.l2Reg, tol: s.tol, maxSweeps, orders };
    const r = ht
      ? K.mtenetGramSolve({ gram: p.gram!, ht, w: p.w, r0NormSq: rNormSq, r0y: ry, xty: p.xty, ...settings })
      : K.mtenetResidualSolve({ xs: p.xws!, yt: p.yt, rt: p.rt!, w: p.w, h: p.h, colNormSq: p.colNormSq, ...settings, continues: sweeps + maxSweeps < s.maxSweeps });
    sweeps += r.sweeps;
    change += r.residualChange;
    rNormSq = r.rNormSq;
    ry = r.ry;
    if (r.converged || sweeps >= s.maxSweeps) {
      if (ht) K.transpose(ht, p.h);
      return { ...r, sweeps, residualChange: change };
    }
    yield r.sweeps;
  }
}

/** `sweeps` orders of k features drawn with replacement (scikit-learn's selection 'random'). */
function randomOrders(rng: Rng, k: number, sweeps: number): Int32Array {
  const out = new Int32Array(k * sweeps);
  for (let i = 0; i < out.length; i++) out[i] = rng.int(k);
  return out;
}
