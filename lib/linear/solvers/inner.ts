/**
 * The inner solver of the working-set method: coordinate descent on the k features of a working
 * set (their centred columns gathered as the rows of xws, k x n), from the current coefficients,
 * until the duality gap of the problem restricted to them is below a tolerance. Two forms of the
 * same iteration, chosen by cost (see useGramForm):
 * - Gram form (the covariance updates of Friedman, Hastie & Tibshirani, J. Stat. Softw. 33, 2010,
 *   section 2.2): G = X_k^T X_k once, then each sweep costs O(k^2 T) whatever n is; the residual is
 *   never formed, only H = X_k^T R (kept by mtenetGramSweep), and the gap's ||R||^2 and <R, Y> follow
 *   from H exactly: with dW = W - W0 and R0, H0 the residual and correlations at W0,
 *     ||R||^2 = ||R0||^2 - <dW, H0 + H>,   <R, Y> = <R0, Y> - <dW, X_k^T Y>,   X_k^T Y = H0 + G W0.
 * - Residual form: scikit-learn's sweep (mtenetSweep) on xws with the residual R^T (T x n), for
 *   working sets too large for a Gram matrix.
 * Every K sweeps the gap is checked and an Anderson extrapolation of the last K + 1 iterates is
 * tried (anderson.ts), kept only when it lowers the objective.
 */
import type { Matrix } from '../../core/matrix.js';
import type { Rng } from '../../core/rng.js';
import type { Kernels } from '../../kernels/types.js';
import { Anderson } from './anderson.js';
import { dualityGapOf, normsOf, primalObjective, type GapParts } from './dualGap.js';

/** Sweeps between two gap checks / extrapolations (skglm's default). */
export const ANDERSON_K = 5;

export interface InnerProblem {
  /** Gathered centred columns of the working set, k x n. */
  xws: Matrix<Float64Array>;
  /** Their Gram matrix xws xws^T (k x k): given, the Gram form runs; absent, the residual form. */
  gram?: Matrix<Float64Array>;
  /** Centred targets Y^T, T x n. */
  yt: Matrix<Float64Array>;
  /** Coefficients of the working set at the start, k x T (copied). */
  w0: Float64Array;
  /** Residual R0^T (T x n) at the start: Y - X_k W0 (the coefficients outside the set are zero). */
  rt0: Matrix<Float64Array>;
  /** X_k^T R0, k x T. */
  h0: Float64Array;
  /** ||R0||^2 and <R0, Y>. */
  r0NormSq: number;
  r0y: number;
  l1Reg: number;
  l2Reg: number;
}

/** The two forms of the inner iteration (see the file comment). */
export type InnerForm = 'gram' | 'residual';

export interface InnerSettings {
  /** Stop when the working-set gap is below this. */
  tol: number;
  selection: 'cyclic' | 'random';
  rng: Rng;
}

/**
 * Whether the Gram form is cheaper for k features of which `missing` have no Gram rows yet, n
 * samples and T tasks, over about 10 sweeps: the Gram costs n k missing multiply-adds, a Gram
 * sweep 2 k^2 T, a residual sweep about 4 n k T. At most 4096 features.
 */
export function useGramForm(k: number, missing: number, n: number, T: number): boolean {
  const sweeps = 10;
  return k <= 4096 && n * missing + 2 * sweeps * k * T * k < 4 * sweeps * n * T * k;
}

/** The state one form keeps; the loop in InnerSolver is shared. */
interface Form {
  /** One sweep over `order` (indices into the working set). */
  sweep(order: Int32Array): { wMax: number; dwMax: number };
  /** Make the kept correlations exact (they drift by rounding during sweeps) and return the gap parts and dual norm. */
  check(): { parts: GapParts; dualNorm: number };
  /** The objective at candidate coefficients; keeps the candidate's state for `accept`. */
  tryPoint(w: Float64Array): number;
  /** Move to the last candidate of tryPoint. */
  accept(): void;
  /** The residual R^T (T x n) at the current coefficients. */
  residual(out: Matrix<Float64Array>): void;
  /** X_k^T R (k x T) as of the last check(), into out. */
  correlations(out: Float64Array): void;
}

export class InnerSolver {
  readonly k: number;
  readonly T: number;
  /** Current coefficients of the working set, k x T (row-major). */
  readonly w: Matrix<Float64Array>;
  private readonly form: Form;
  private readonly anderson: Anderson;
  private readonly order: Int32Array;
  private readonly candidate: Float64Array;
  private sweeps = 0;
  /** Last working-set gap checked, and the objective at that check. */
  gap = Infinity;
  private objectiveAtCheck = Infinity;
  /** The last check was made at the current coefficients (its correlations are exact). */
  private checkedHere = false;

  constructor(
    private readonly K: Kernels,
    readonly problem: InnerProblem,
    private readonly settings: InnerSettings,
  ) {
    this.k = problem.xws.rows;
    this.T = problem.yt.rows;
    this.w = { rows: this.k, cols: this.T, data: problem.w0.slice() };
    this.form = problem.gram ? new GramForm(K, problem, problem.gram, this.w) : new ResidualForm(K, problem, this.w);
    this.anderson = new Anderson(ANDERSON_K, this.k * this.T);
    this.order = new Int32Array(this.k);
    for (let j = 0; j < this.k; j++) this.order[j] = j;
    this.candidate = new Float64Array(this.k * this.T);
  }

  /** One sweep, then every K sweeps a gap check and an extrapolation attempt. Returns true once the gap is below tol. */
  step(): boolean {
    const { k } = this;
    if (this.settings.selection === 'random') for (let o = 0; o < k; o++) this.order[o] = this.settings.rng.int(k);
    const { wMax, dwMax } = this.form.sweep(this.order);
    this.sweeps++;
    this.checkedHere = false;
    this.anderson.push(this.w.data);
    // Check after every K sweeps, and as soon as the coefficients stop moving (small problems
    // converge in fewer sweeps than K).
    if (this.sweeps % ANDERSON_K !== 0 && !(dwMax <= 1e-3 * wMax) && wMax !== 0) return false;
    if (this.converged()) return true;
    if (this.anderson.ready && this.anderson.extrapolate(this.candidate)) {
      if (this.form.tryPoint(this.candidate) < this.objectiveAtCheck) {
        this.form.accept();
        this.checkedHere = false;
        if (this.converged()) return true;
      }
      this.anderson.reset();
    }
    return false;
  }

  private converged(): boolean {
    const { parts, dualNorm } = this.form.check();
    this.gap = dualityGapOf(parts, dualNorm, this.problem.l1Reg, this.problem.l2Reg);
    this.objectiveAtCheck = primalObjective(parts, this.problem.l1Reg, this.problem.l2Reg);
    this.checkedHere = true;
    return this.gap <= this.settings.tol;
  }

  /** The residual R^T (T x n) at the current coefficients, into out. */
  residual(out: Matrix<Float64Array>): void {
    this.form.residual(out);
  }

  /** X_k^T R (k x T) at the current coefficients, exact (a check is made unless the last one was here). */
  correlations(): Float64Array {
    if (!this.checkedHere) this.converged();
    const out = new Float64Array(this.k * this.T);
    this.form.correlations(out);
    return out;
  }
}

/** ||R||^2 and <R, Y> from R^T and Y^T (T x n). */
export function residualParts(rt: Float64Array, yt: Float64Array): { rNormSq: number; ry: number } {
  let rNormSq = 0;
  let ry = 0;
  for (let i = 0; i < rt.length; i++) {
    rNormSq += rt[i]! * rt[i]!;
    ry += rt[i]! * yt[i]!;
  }
  return { rNormSq, ry };
}

/** max_j ||H_j - l2Reg W_j|| over the k rows (H k x T, or T x k when `hTransposed`). */
function dualNormOf(h: Float64Array, hTransposed: boolean, w: Float64Array, k: number, T: number, l2Reg: number): number {
  let m = 0;
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let t = 0; t < T; t++) {
      const v = (hTransposed ? h[t * k + j]! : h[j * T + t]!) - l2Reg * w[j * T + t]!;
      s += v * v;
    }
    if (s > m) m = s;
  }
  return Math.sqrt(m);
}

class GramForm implements Form {
  /** (X_k^T R)^T, T x k, kept by the sweeps. */
  private readonly ht: Matrix<Float64Array>;
  /** X_k^T Y, k x T. */
  private readonly xty: Float64Array;
  private readonly gw: Matrix<Float64Array>;
  private readonly candHt: Float64Array;
  private readonly candW: Float64Array;
  private readonly k: number;
  private readonly T: number;

  constructor(
    private readonly K: Kernels,
    private readonly p: InnerProblem,
    private readonly gram: Matrix<Float64Array>,
    private readonly w: Matrix<Float64Array>,
  ) {
    const k = (this.k = p.xws.rows);
    const T = (this.T = p.yt.rows);
    this.gw = { rows: k, cols: T, data: new Float64Array(k * T) };
    // X_k^T Y = H0 + G W0.
    K.gemm(this.gram, { rows: k, cols: T, data: p.w0 }, this.gw);
    this.xty = new Float64Array(k * T);
    for (let i = 0; i < k * T; i++) this.xty[i] = p.h0[i]! + this.gw.data[i]!;
    this.ht = { rows: T, cols: k, data: new Float64Array(T * k) };
    for (let j = 0; j < k; j++) for (let t = 0; t < T; t++) this.ht.data[t * k + j] = p.h0[j * T + t]!;
    this.candHt = new Float64Array(T * k);
    this.candW = new Float64Array(k * T);
  }

  sweep(order: Int32Array): { wMax: number; dwMax: number } {
    return this.K.mtenetGramSweep({ gram: this.gram, ht: this.ht, w: this.w, l1Reg: this.p.l1Reg, l2Reg: this.p.l2Reg, order });
  }

  /** ht_out = (X_k^T Y - G w)^T. */
  private exactHt(w: Float64Array, out: Float64Array): void {
    const { k, T } = this;
    this.K.gemm(this.gram, { rows: k, cols: T, data: w }, this.gw);
    const gw = this.gw.data;
    for (let j = 0; j < k; j++) for (let t = 0; t < T; t++) out[t * k + j] = this.xty[j * T + t]! - gw[j * T + t]!;
  }

  private parts(w: Float64Array, ht: Float64Array): GapParts {
    const { k, T, p } = this;
    let dh = 0;
    let dy = 0;
    for (let j = 0; j < k; j++) {
      for (let t = 0; t < T; t++) {
        const dw = w[j * T + t]! - p.w0[j * T + t]!;
        if (dw === 0) continue;
        dh += dw * (p.h0[j * T + t]! + ht[t * k + j]!);
        dy += dw * this.xty[j * T + t]!;
      }
    }
    return { rNormSq: p.r0NormSq - dh, ry: p.r0y - dy, ...normsOf(w, T) };
  }

  check(): { parts: GapParts; dualNorm: number } {
    this.exactHt(this.w.data, this.ht.data);
    return { parts: this.parts(this.w.data, this.ht.data), dualNorm: dualNormOf(this.ht.data, true, this.w.data, this.k, this.T, this.p.l2Reg) };
  }

  tryPoint(w: Float64Array): number {
    this.candW.set(w);
    this.exactHt(this.candW, this.candHt);
    return primalObjective(this.parts(this.candW, this.candHt), this.p.l1Reg, this.p.l2Reg);
  }

  accept(): void {
    this.w.data.set(this.candW);
    this.ht.data.set(this.candHt);
  }

  residual(out: Matrix<Float64Array>): void {
    out.data.set(this.p.yt.data);
    this.K.gemm(this.w, this.p.xws, out, { transA: true, alpha: -1, beta: 1 });
  }

  correlations(out: Float64Array): void {
    const { k, T } = this;
    for (let j = 0; j < k; j++) for (let t = 0; t < T; t++) out[j * T + t] = this.ht.data[t * k + j]!;
  }
}

class ResidualForm implements Form {
  private readonly rt: Matrix<Float64Array>;
  private readonly candRt: Matrix<Float64Array>;
  private readonly candW: Float64Array;
  private readonly colNormSq: Float64Array;
  private readonly h: Matrix<Float64Array>;
  private readonly k: number;
  private readonly T: number;

  constructor(
    private readonly K: Kernels,
    private readonly p: InnerProblem,
    private readonly w: Matrix<Float64Array>,
  ) {
    const k = (this.k = p.xws.rows);
    const T = (this.T = p.yt.rows);
    const n = p.xws.cols;
    this.rt = { rows: T, cols: n, data: p.rt0.data.slice() };
    this.candRt = { rows: T, cols: n, data: new Float64Array(T * n) };
    this.candW = new Float64Array(k * T);
    this.colNormSq = new Float64Array(k);
    const X = p.xws.data;
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let i = j * n; i < (j + 1) * n; i++) s += X[i]! * X[i]!;
      this.colNormSq[j] = s;
    }
    this.h = { rows: k, cols: T, data: new Float64Array(k * T) };
  }

  sweep(order: Int32Array): { wMax: number; dwMax: number } {
    return this.K.mtenetSweep({ xt: this.p.xws, rt: this.rt, w: this.w, colNormSq: this.colNormSq, l1Reg: this.p.l1Reg, l2Reg: this.p.l2Reg, order });
  }

  check(): { parts: GapParts; dualNorm: number } {
    // The residual kept by the sweeps is exact enough (each update is one axpy); recompute it from
    // W anyway so that the gap does not carry the rounding of thousands of updates.
    this.setResidual(this.w.data, this.rt);
    this.K.gemm(this.p.xws, this.rt, this.h, { transB: true });
    const parts = { ...residualParts(this.rt.data, this.p.yt.data), ...normsOf(this.w.data, this.T) };
    return { parts, dualNorm: dualNormOf(this.h.data, false, this.w.data, this.k, this.T, this.p.l2Reg) };
  }

  private setResidual(w: Float64Array, rt: Matrix<Float64Array>): void {
    rt.data.set(this.p.yt.data);
    this.K.gemm({ rows: this.k, cols: this.T, data: w }, this.p.xws, rt, { transA: true, alpha: -1, beta: 1 });
  }

  tryPoint(w: Float64Array): number {
    this.candW.set(w);
    this.setResidual(this.candW, this.candRt);
    const parts = { ...residualParts(this.candRt.data, this.p.yt.data), ...normsOf(this.candW, this.T) };
    return primalObjective(parts, this.p.l1Reg, this.p.l2Reg);
  }

  accept(): void {
    this.w.data.set(this.candW);
    this.rt.data.set(this.candRt.data);
  }

  residual(out: Matrix<Float64Array>): void {
    this.setResidual(this.w.data, out);
  }

  correlations(out: Float64Array): void {
    out.set(this.h.data);
  }
}
