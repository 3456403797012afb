/**
 * Coordinate descent for the multi-task elastic net in plain TypeScript: the fallback twin of
 * native/src/kernels/cd.cc. One sweep of scikit-learn's enet_coordinate_descent_multi_task
 * (sklearn/linear_model/_cd_fast.pyx), which minimises
 *   (1/2) ||Y - X W||_F^2 + l1Reg sum_j ||W[j,:]||_2 + (l2Reg/2) ||W||_F^2
 * by exact block minimisation over one row W[j,:] at a time (block coordinate descent; Friedman,
 * Hastie & Tibshirani, J. Stat. Softw. 33, 2010; Obozinski, Taskar & Jordan 2010):
 *   tmp = X[:,j]^T R + ||X[:,j]||^2 W[j,:]          (R the residual before the update)
 *   W[j,:] = tmp max(0, 1 - l1Reg / ||tmp||) / (||X[:,j]||^2 + l2Reg)
 *   R -= X[:,j] (W[j,:]_new - W[j,:]_old)
 * X and R are stored transposed (xt d x n, rt T x n) so every dot product and residual update runs
 * along a contiguous row.
 */
import { ShapeError } from '../../core/errors.js';
import type { Matrix } from '../../core/matrix.js';
import type { CdDesign, CdSweepArgs, CdSweepResult, CdTargets, DesignAllocator, GramSweepArgs } from '../types.js';
import { allocatedFor, designStatistics } from '../designStatistics.js';
import { gemm, transposeSummingColumns } from './linalg.js';
import { moduleBuffers } from './moduleMemory.js';
import { listedRowDots } from './products.js';
import { scratchDoubles, type ScratchSlot } from './scratch.js';

/**
 * The group soft-threshold and ridge step of feature j from v = X[:,j]^T R + ||X[:,j]||^2 W[j,:]
 * (v[vo..vo+T), nrmSq = ||v||^2): W[j,:] = v max(0, 1 - l1Reg / ||v||) / (cj + l2Reg), with
 * `nrm > l1Reg` also covering nrm = 0 (no 0/0). delta[dOff..dOff+T) receives W_new - W_old; `change`
 * the largest |delta| (dw) and |W_new| (wa) of the row. The twin of cd.cc's groupStep.
 */
function groupStep(
  v: Float64Array, vo: number, nrmSq: number, cj: number, l1Reg: number, l2Reg: number,
  W: Float64Array, wBase: number, delta: Float64Array, dOff: number, T: number, change: { dw: number; wa: number },
): void {
  const nrm = Math.sqrt(nrmSq);
  const shrink = nrm > l1Reg ? (1 - l1Reg / nrm) / (cj + l2Reg) : 0;
  let dw = 0;
  let wa = 0;
  for (let t = 0; t < T; t++) {
    const next = v[vo + t]! * shrink;
    const d = next - W[wBase + t]!;
    delta[dOff + t] = d;
    W[wBase + t] = next;
    dw = Math.max(dw, Math.abs(d));
    wa = Math.max(wa, Math.abs(next));
  }
  change.dw = dw;
  change.wa = wa;
}

export function mtenetSweep(args: CdSweepArgs): CdSweepResult {
  if (args.blockGram !== undefined && args.blockSize !== undefined) return sweepBlocked(args, args.blockGram, args.blockSize);
  const { xt, rt, w, colNormSq, l1Reg, l2Reg, order } = args;
  const n = xt.cols;
  const T = w.cols;
  const X = xt.data;
  const R = rt.data;
  const W = w.data;
  const tmp = new Float64Array(T);
  const delta = new Float64Array(T);
  const change = { dw: 0, wa: 0 };
  let wMax = 0;
  let dwMax = 0;
  for (let o = 0; o < order.length; o++) {
    const j = order[o]!;
    const cj = colNormSq[j]!;
    // An all-zero feature has no effect on the fit; scikit-learn leaves its coefficients alone
    // and does not count it in wMax / dwMax.
    if (cj === 0) continue;
    const xBase = j * n;
    const wBase = j * T;
    let nrmSq = 0;
    for (let t = 0; t < T; t++) {
      const v = dot(X, xBase, R, t * n, n) + cj * W[wBase + t]!;
      tmp[t] = v;
      nrmSq += v * v;
    }
    groupStep(tmp, 0, nrmSq, cj, l1Reg, l2Reg, W, wBase, delta, 0, T, change);
    for (let t = 0; t < T; t++) {
      // Skipping unchanged tasks saves a pass over n samples per zero row, the common case
      // for sparse solutions.
      const dt = delta[t]!;
      if (dt !== 0) {
        const rBase = t * n;
        for (let i = 0; i < n; i++) R[rBase + i]! -= X[xBase + i]! * dt;
      }
    }
    dwMax = Math.max(dwMax, change.dw);
    wMax = Math.max(wMax, change.wa);
  }
  return { wMax, dwMax };
}

/**
 * x[xo..xo+n) . r[ro..ro+n) with four independent accumulators: V8 does not vectorise, and a
 * single running sum is bound by the latency of each addition (about 3x slower here).
 */
function dot(x: Float64Array, xo: number, r: Float64Array, ro: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += x[xo + i]! * r[ro + i]!;
    s1 += x[xo + i + 1]! * r[ro + i + 1]!;
    s2 += x[xo + i + 2]! * r[ro + i + 2]!;
    s3 += x[xo + i + 3]! * r[ro + i + 3]!;
  }
  for (; i < n; i++) s0 += x[xo + i]! * r[ro + i]!;
  return s0 + s1 + (s2 + s3);
}

// ---------------------------------------------------------------------------------------------
// Blocked sweep (twin of mtenetSweepBlocked / blockGram in native/src/kernels/cd.cc). Per block of
// B consecutive entries of `order`: G = X_b R^T (B x T) by a register-blocked product (each value
// loaded serves several dot products, where the plain sweep's dot loads two values per multiply-add),
// then the rows are visited in order with G[k] -= gram(k, j) delta after a change of row j, then
// R -= Delta_c^T X_c for the rows c that changed, four rows per pass over R.
// ---------------------------------------------------------------------------------------------

/** The block Gram matrices (layout in types.ts, Kernels.mtenetBlockGram): lower triangles, row stride B. */
export function mtenetBlockGram(xt: Matrix<Float64Array>, order: Int32Array, blockSize: number): Float64Array {
  const B = blockSize;
  const n = xt.cols;
  const X = xt.data;
  const len = order.length;
  const out = new Float64Array(Math.ceil(len / B) * B * B);
  for (let s = 0, b = 0; s < len; s += B, b++) {
    const L = Math.min(B, len - s);
    const rows = order.subarray(s, s + L);
    // The block's rows against themselves (the whole square: its products run two at a time), the
    // lower triangle kept.
    const gathered = scratchDoubles('gatheredRows', L * n);
    for (let p = 0; p < L; p++) gathered.set(X.subarray(rows[p]! * n, (rows[p]! + 1) * n), p * n);
    const square = scratchDoubles('gramBlock', L * L);
    listedRowDots(X, rows, gathered, L, n, square);
    const base = b * B * B;
    for (let p = 0; p < L; p++) out.set(square.subarray(p * L, p * L + p + 1), base + p * B);
  }
  return out;
}

function sweepBlocked(args: CdSweepArgs, gram: Float64Array, B: number): CdSweepResult {
  const { xt, rt, w, colNormSq, l1Reg, l2Reg, order } = args;
  const n = xt.cols;
  const T = w.cols;
  const X = xt.data;
  const R = rt.data;
  const len = order.length;
  const g = new Float64Array(B * T); // X_k^T R for the block's rows k
  const dl = new Float64Array(B * T); // changes of the rows that changed
  const changed = new Int32Array(B); // their feature indices
  const maxes = new Float64Array(2); // wMax, dwMax
  // The work of a block lives in functions of its own: V8 optimises them after a few calls with
  // complete type feedback, where one long loop here would be compiled on stack mid-loop and
  // thrown away when the sweep returns, every sweep.
  for (let s = 0, b = 0; s < len; s += B, b++) {
    const L = Math.min(B, len - s);
    if (!anyActive(colNormSq, order, s, L)) continue; // all-zero features are skipped, as in the plain sweep
    listedRowDots(X, order.subarray(s, s + L), R, T, n, g); // g[p T + t] = x_{order[s+p]} . r_t
    const nc = visitBlock(w.data, T, colNormSq, l1Reg, l2Reg, order, s, L, g, gram, b * B * B, B, dl, changed, maxes);
    if (nc > 0) updateResidual(X, R, n, T, dl, changed, nc);
  }
  return { wMax: maxes[0]!, dwMax: maxes[1]! };
}

function anyActive(colNormSq: Float64Array, order: Int32Array, s: number, L: number): boolean {
  for (let p = 0; p < L; p++) if (colNormSq[order[s + p]!] !== 0) return true;
  return false;
}

/**
 * Visit the rows order[s..s+L) with g holding their X_k^T R: update W, keep g exact through the
 * block Gram (at gram[gb..], row stride B), record the changes in dl / changed and the running
 * wMax / dwMax in maxes. Returns the number of rows that changed.
 */
function visitBlock(
  W: Float64Array, T: number, colNormSq: Float64Array, l1Reg: number, l2Reg: number, order: Int32Array, s: number, L: number,
  g: Float64Array, gram: Float64Array, gb: number, B: number, dl: Float64Array, changed: Int32Array, maxes: Float64Array,
): number {
  let wMax = maxes[0]!;
  let dwMax = maxes[1]!;
  let nc = 0;
  const change = { dw: 0, wa: 0 };
  for (let p = 0; p < L; p++) {
    const j = order[s + p]!;
    const cj = colNormSq[j]!;
    if (cj === 0) continue;
    const wBase = j * T;
    const gp = p * T;
    let nrmSq = 0;
    for (let t = 0; t < T; t++) {
      const v = g[gp + t]! + cj * W[wBase + t]!;
      g[gp + t] = v; // now tmp_t
      nrmSq += v * v;
    }
    const dp = nc * T;
    groupStep(g, gp, nrmSq, cj, l1Reg, l2Reg, W, wBase, dl, dp, T, change);
    dwMax = Math.max(dwMax, change.dw);
    wMax = Math.max(wMax, change.wa);
    if (change.dw === 0) continue;
    // Later rows of the block: X_k^T R_new = G[k] - (x_k . x_j) delta.
    for (let q = p + 1; q < L; q++) {
      const c = gram[gb + q * B + p]!;
      const gq = q * T;
      for (let t = 0; t < T; t++) g[gq + t]! -= c * dl[dp + t]!;
    }
    changed[nc++] = j;
  }
  maxes[0] = wMax;
  maxes[1] = dwMax;
  return nc;
}

/** R[t,:] -= sum_c dl[c T + t] X[changed[c],:], up to four changed rows per pass over each residual row. */
function updateResidual(X: Float64Array, R: Float64Array, n: number, T: number, dl: Float64Array, changed: Int32Array, nc: number): void {
  for (let t = 0; t < T; t++) {
    const r = t * n;
    let c = 0;
    for (; c + 4 <= nc; c += 4) {
      const d0 = dl[c * T + t]!;
      const d1 = dl[(c + 1) * T + t]!;
      const d2 = dl[(c + 2) * T + t]!;
      const d3 = dl[(c + 3) * T + t]!;
      if (d0 === 0 && d1 === 0 && d2 === 0 && d3 === 0) continue;
      const x0 = changed[c]! * n;
      const x1 = changed[c + 1]! * n;
      const x2 = changed[c + 2]! * n;
      const x3 = changed[c + 3]! * n;
      for (let i = 0; i < n; i++) R[r + i] = R[r + i]! - (d0 * X[x0 + i]! + d1 * X[x1 + i]! + (d2 * X[x2 + i]! + d3 * X[x3 + i]!));
    }
    // The last one to three rows in one pass as well.
    const rem = nc - c;
    if (rem === 0) continue;
    const d0 = dl[c * T + t]!;
    const d1 = rem > 1 ? dl[(c + 1) * T + t]! : 0;
    const d2 = rem > 2 ? dl[(c + 2) * T + t]! : 0;
    if (d0 === 0 && d1 === 0 && d2 === 0) continue;
    const x0 = changed[c]! * n;
    if (rem === 1) {
      for (let i = 0; i < n; i++) R[r + i]! -= d0 * X[x0 + i]!;
    } else if (rem === 2) {
      const x1 = changed[c + 1]! * n;
      for (let i = 0; i < n; i++) R[r + i] = R[r + i]! - (d0 * X[x0 + i]! + d1 * X[x1 + i]!);
    } else {
      const x1 = changed[c + 1]! * n;
      const x2 = changed[c + 2]! * n;
      for (let i = 0; i < n; i++) R[r + i] = R[r + i]! - (d0 * X[x0 + i]! + d1 * X[x1 + i]! + d2 * X[x2 + i]!);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Working-set solver kernels (twins of columnStats / correlations / gatherColumns / gramSweep in
// native/src/kernels/cd.cc). The native kernels read the caller's row-major X in place; these keep
// a transposed centred copy in the design (built once per fit), so that every correlation is a dot
// product of two contiguous rows (products.ts' listedRowDots).
// ---------------------------------------------------------------------------------------------

export function cdDesign(x: Matrix<Float64Array>, centre: boolean, allocate?: DesignAllocator): CdDesign {
  const { rows: n, cols: d } = x;
  const xt: Matrix<Float64Array> = { rows: d, cols: n, data: allocate ? allocatedFor(allocate, d * n, moduleBuffers) : new Float64Array(d * n) };
  const { mean, colNormSq } = designStatistics(d, allocate);
  // The transposing pass sums each column (for its mean) or, uncentred, its squares: one pass over
  // X less. Both sums run down the column in order.
  transposeSummingColumns(x, xt, centre ? mean : colNormSq, centre ? 'values' : 'squares');
  const Xt = xt.data;
  let finite = true;
  for (let j = 0; j < d; j++) {
    let m = 0;
    if (centre && n > 0) {
      m = mean[j]! / n;
      mean[j] = m;
      // Centred in place, the squares of the centred values summed in the same pass.
      const o = j * n;
      let s = 0;
      for (let i = 0; i < n; i++) {
        const v = Xt[o + i]! - m;
        Xt[o + i] = v;
        s += v * v;
      }
      colNormSq[j] = s;
    }
    const s = colNormSq[j]!;
    // A NaN or an infinity in the column makes its mean or its squared norm NaN or infinite.
    if (!(m - m === 0 && s - s === 0)) finite = false;
  }
  return { x, centred: centre, mean, colNormSq, finite, xt };
}

export function cdDesignCorrelations(
  x: Matrix<Float64Array>, centre: boolean, yt: Matrix<Float64Array>, out: Matrix<Float64Array>, norms: Float64Array, allocate?: DesignAllocator,
): CdDesign {
  if (yt.cols !== x.rows || out.rows !== x.cols || out.cols !== yt.rows || norms.length !== x.cols) {
    throw new ShapeError(`cdDesignCorrelations: x ${x.rows} x ${x.cols}, yt ${yt.rows} x ${yt.cols}, out ${out.rows} x ${out.cols} and norms of length ${norms.length} do not match`);
  }
  // The transposed copy makes every correlation a dot product of contiguous rows: no pass to share.
  const design = cdDesign(x, centre, allocate);
  const all = new Int32Array(x.cols);
  for (let j = 0; j < all.length; j++) all[j] = j;
  cdCorrelations(design, yt, all, out, norms);
  return design;
}

/** The design's transposed copy (built by this kernel set's cdDesign). */
function transposed(design: CdDesign): Float64Array {
  if (design.xt === undefined) throw new Error('cd kernels: the design was not built by the TypeScript kernels (no transposed copy)');
  return design.xt.data;
}

export function cdCorrelations(design: CdDesign, rt: Matrix<Float64Array>, cols: Int32Array, out: Matrix<Float64Array>, norms?: Float64Array): void {
  const T = rt.rows;
  const O = out.data;
  const m = cols.length;
  listedRowDots(transposed(design), cols, rt.data, T, design.x.rows, O);
  if (norms !== undefined) {
    for (let q = 0; q < m; q++) {
      let s = 0;
      for (let t = 0; t < T; t++) s += O[q * T + t]! * O[q * T + t]!;
      norms[q] = Math.sqrt(s);
    }
  }
}

export function cdTargets(y: Matrix<Float64Array>, centre: boolean, out?: Matrix<Float64Array>): CdTargets {
  const { rows: n, cols: T, data: Y } = y;
  const yMean = new Float64Array(T);
  if (centre && n > 0) {
    for (let i = 0; i < n; i++) for (let t = 0; t < T; t++) yMean[t]! += Y[i * T + t]!;
    for (let t = 0; t < T; t++) yMean[t]! /= n;
  }
  if (out && (out.rows !== T || out.cols !== n || out.data.length !== T * n)) throw new ShapeError(`cdTargets: yt must be ${T} x ${n}`);
  const yt: Matrix<Float64Array> = out ?? { rows: T, cols: n, data: new Float64Array(T * n) };
  const Yt = yt.data;
  // By blocks of 64 rows, so that each row of Yt is written 64 consecutive values at a time, and in
  // functions called once a block, which V8 optimises within a process's first fit.
  const sums = new Float64Array(4);
  for (let i0 = 0; i0 < n; i0 += 64) {
    const i1 = Math.min(n, i0 + 64);
    centreTargetRows(Y, Yt, yMean, i0, i1, T, n);
  }
  // Four interleaved sums (entry q into sum q mod 4), added pairwise: the order of cd.cc's targets.
  for (let t = 0; t < T; t++) addSquaresInterleaved(Yt, t * n, (t + 1) * n, sums);
  return { yt, yMean, yNormSq: sums[0]! + sums[1]! + (sums[2]! + sums[3]!) };
}

export function cdCoefficients(cols: Int32Array, w: Matrix<Float64Array>, mean: Float64Array, yMean: Float64Array, coef: Matrix<Float64Array>, intercept: Float64Array): void {
  const { rows: T, cols: d, data: C } = coef;
  const m = cols.length;
  if (w.rows !== m || w.cols !== T || w.data.length !== m * T) throw new ShapeError(`cdCoefficients: w must be ${m} x ${T}`);
  if (C.length !== T * d || mean.length !== d || yMean.length !== T || intercept.length !== T) {
    throw new ShapeError(`cdCoefficients: coef must be ${T} x ${d}, mean of length ${d}, yMean and intercept of length ${T}`);
  }
  for (let c = 0; c < m; c++) if (!(cols[c]! >= 0 && cols[c]! < d)) throw new ShapeError(`cdCoefficients: cols[${c}] = ${cols[c]} is not a feature of ${d}`);
  intercept.set(yMean);
  const W = w.data;
  for (let c = 0; c < m; c++) {
    const j = cols[c]!;
    const xm = mean[j]!;
    for (let t = 0; t < T; t++) {
      const v = W[c * T + t]!;
      C[t * d + j] = v;
      intercept[t]! -= xm * v;
    }
  }
}

/** Yt[t, i] = Y[i, t] - yMean[t] for rows i0..i1-1. */
function centreTargetRows(Y: Float64Array, Yt: Float64Array, yMean: Float64Array, i0: number, i1: number, T: number, n: number): void {
  for (let t = 0; t < T; t++) {
    const m = yMean[t]!;
    for (let i = i0; i < i1; i++) Yt[t * n + i] = Y[i * T + t]! - m;
  }
}

/** sums[q mod 4] += v[q]^2 for q in [from, to), q counted from 0 at the array's start, in order. */
function addSquaresInterleaved(v: Float64Array, from: number, to: number, sums: Float64Array): void {
  let q = from;
  // Up to the next multiple of four, then four at a time, then the rest: entry q always joins sum q mod 4.
  for (; q < to && (q & 3) !== 0; q++) sums[q & 3]! += v[q]! * v[q]!;
  let s0 = sums[0]!;
  let s1 = sums[1]!;
  let s2 = sums[2]!;
  let s3 = sums[3]!;
  for (; q + 4 <= to; q += 4) {
    s0 += v[q]! * v[q]!;
    s1 += v[q + 1]! * v[q + 1]!;
    s2 += v[q + 2]! * v[q + 2]!;
    s3 += v[q + 3]! * v[q + 3]!;
  }
  sums[0] = s0;
  sums[1] = s1;
  sums[2] = s2;
  sums[3] = s3;
  for (; q < to; q++) sums[q & 3]! += v[q]! * v[q]!;
}

export function cdResidual(xs: Matrix<Float64Array>, w: Matrix<Float64Array>, yt: Matrix<Float64Array>, rt: Matrix<Float64Array>): { rNormSq: number; ry: number } {
  const R = rt.data;
  const Y = yt.data;
  R.set(Y);
  if (xs.rows > 0) gemm(w, xs, rt, { transA: true, alpha: -1, beta: 1 });
  return residualParts(R, Y);
}

/**
 * ||R||^2 and <R, Y> of a residual R and the targets Y, each summed in order (twin of
 * residualParts in native/src/kernels/cd.cc). The loops are in a function that returns a number:
 * with a loop here, V8 compiled it on stack replacement in a call made once or twice a fit and then
 * dropped that code at the returned object, on every call (in the first eight fits of 2000 x 1000
 * x 20, seven deoptimisations, each followed by a recompilation of a few milliseconds).
 */
export function residualParts(R: Float64Array, Y: Float64Array): { rNormSq: number; ry: number } {
  return { rNormSq: dotOf(R, R), ry: dotOf(R, Y) };
}

/** sum_q a[q] b[q], in order. */
function dotOf(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let q = 0; q < a.length; q++) s += a[q]! * b[q]!;
  return s;
}

export function cdGatherColumns(design: CdDesign, cols: Int32Array, out: Matrix<Float64Array>): void {
  const Xt = transposed(design);
  const n = design.x.rows;
  for (let c = 0; c < cols.length; c++) out.data.set(Xt.subarray(cols[c]! * n, (cols[c]! + 1) * n), c * n);
}

/**
 * The listed columns of the transposed copy as a k x n matrix: a view when they are consecutive,
 * else a gathered copy in `slot`'s scratch (valid until the next use of the slot).
 */
function columnsOf(design: CdDesign, cols: Int32Array, slot: ScratchSlot): Matrix<Float64Array> {
  const Xt = transposed(design);
  const n = design.x.rows;
  const k = cols.length;
  let consecutive = true;
  for (let c = 1; c < k && consecutive; c++) consecutive = cols[c] === cols[0]! + c;
  if (consecutive && k > 0) return { rows: k, cols: n, data: Xt.subarray(cols[0]! * n, (cols[0]! + k) * n) };
  const out: Matrix<Float64Array> = { rows: k, cols: n, data: scratchDoubles(slot, k * n) };
  cdGatherColumns(design, cols, out);
  return out;
}

/** Rows of a strip of the symmetric part of cdGramColumns (the native kernel's kStrip). */
const GRAM_STRIP = 12;

export function cdGramColumns(design: CdDesign, rows: Int32Array, cols: Int32Array, out: Matrix<Float64Array>): void {
  const a = rows.length;
  const b = cols.length;
  const off = runWithin(rows, cols);
  if (off < 0 || a <= GRAM_STRIP) {
    gemm(columnsOf(design, rows, 'gatheredRows'), columnsOf(design, cols, 'gatheredColumns'), out, { transB: true });
    return;
  }
  // The rows are the run of columns from off on: out[:, off:off+a] is symmetric. Each strip of
  // rows is computed from its diagonal on and the rest mirrored (an entry and its mirror are the
  // same products summed in the same order), as the native kernel does.
  const xb = columnsOf(design, cols, 'gatheredColumns');
  const n = xb.cols;
  const O = out.data;
  const rowsOfB = (from: number, to: number): Matrix<Float64Array> => ({ rows: to - from, cols: n, data: xb.data.subarray(from * n, to * n) });
  if (off > 0) {
    const left: Matrix<Float64Array> = { rows: a, cols: off, data: scratchDoubles('gramBlock', a * off) };
    gemm(rowsOfB(off, off + a), rowsOfB(0, off), left, { transB: true });
    for (let i = 0; i < a; i++) O.set(left.data.subarray(i * off, (i + 1) * off), i * b);
  }
  for (let s0 = 0; s0 < a; s0 += GRAM_STRIP) {
    const h = Math.min(GRAM_STRIP, a - s0);
    const c0 = off + s0;
    const w = b - c0;
    const strip: Matrix<Float64Array> = { rows: h, cols: w, data: scratchDoubles('gramBlock', h * w) };
    gemm(rowsOfB(c0, c0 + h), rowsOfB(c0, b), strip, { transB: true });
    for (let i = 0; i < h; i++) O.set(strip.data.subarray(i * w, (i + 1) * w), (s0 + i) * b + c0);
  }
  for (let i = GRAM_STRIP; i < a; i++) {
    for (let j = 0; j < i - (i % GRAM_STRIP); j++) O[i * b + off + j] = O[j * b + off + i]!;
  }
}

/** The offset at which rows appears as a run of consecutive entries of cols, or -1. */
function runWithin(rows: Int32Array, cols: Int32Array): number {
  const a = rows.length;
  for (let off = 0; off + a <= cols.length; off++) {
    if (cols[off] !== rows[0]) continue;
    let q = 1;
    while (q < a && cols[off + q] === rows[q]) q++;
    if (q === a) return off;
  }
  return -1;
}

export function cdResidualColumns(design: CdDesign, cols: Int32Array, w: Matrix<Float64Array>, yt: Matrix<Float64Array>, rt: Matrix<Float64Array>): { rNormSq: number; ry: number } {
  return cdResidual(columnsOf(design, cols, 'gatheredColumns'), w, yt, rt);
}

export function mtenetGramSweep(args: GramSweepArgs): CdSweepResult {
  const { gram, ht, w, l1Reg, l2Reg, order } = args;
  const k = gram.rows;
  const T = w.cols;
  const G = gram.data;
  const H = ht.data;
  const W = w.data;
  const tmp = new Float64Array(T);
  const delta = new Float64Array(T);
  const change = { dw: 0, wa: 0 };
  let wMax = 0;
  let dwMax = 0;
  for (let o = 0; o < order.length; o++) {
    const j = order[o]!;
    const gj = j * k;
    const cj = G[gj + j]!;
    if (cj === 0) continue;
    const wj = j * T;
    let nrmSq = 0;
    for (let t = 0; t < T; t++) {
      const v = H[t * k + j]! + cj * W[wj + t]!;
      tmp[t] = v;
      nrmSq += v * v;
    }
    groupStep(tmp, 0, nrmSq, cj, l1Reg, l2Reg, W, wj, delta, 0, T, change);
    dwMax = Math.max(dwMax, change.dw);
    wMax = Math.max(wMax, change.wa);
    if (change.dw === 0) continue;
    let t = 0;
    // Four tasks (then two) per pass over row j of G (one read of each entry for several
    // updates); each entry of H still gets its one update, so the values are those of one pass
    // per task.
    for (; t + 4 <= T; t += 4) {
      const d0 = delta[t]!;
      const d1 = delta[t + 1]!;
      const d2 = delta[t + 2]!;
      const d3 = delta[t + 3]!;
      if (d0 === 0 || d1 === 0 || d2 === 0 || d3 === 0) {
        for (let u = t; u < t + 4; u++) updateRow(H, u * k, delta[u]!, G, gj, k);
        continue;
      }
      const h0 = t * k;
      const h1 = h0 + k;
      const h2 = h1 + k;
      const h3 = h2 + k;
      for (let q = 0; q < k; q++) {
        const g = G[gj + q]!;
        H[h0 + q]! -= d0 * g;
        H[h1 + q]! -= d1 * g;
        H[h2 + q]! -= d2 * g;
        H[h3 + q]! -= d3 * g;
      }
    }
    if (t + 2 <= T && delta[t] !== 0 && delta[t + 1] !== 0) {
      const d0 = delta[t]!;
      const d1 = delta[t + 1]!;
      const h0 = t * k;
      const h1 = h0 + k;
      for (let q = 0; q < k; q++) {
        const g = G[gj + q]!;
        H[h0 + q]! -= d0 * g;
        H[h1 + q]! -= d1 * g;
      }
      t += 2;
    }
    for (; t < T; t++) updateRow(H, t * k, delta[t]!, G, gj, k);
  }
  return { wMax, dwMax };
}

/** H[h .. h + k) -= dt G[gj .. gj + k), skipped when dt is 0. */
function updateRow(H: Float64Array, h: number, dt: number, G: Float64Array, gj: number, k: number): void {
  if (dt === 0) return;
  for (let q = 0; q < k; q++) H[h + q]! -= dt * G[gj + q]!;
}

/** The TypeScript kernels read the transposed copy anyway: the two calls, in order. */
export function cdResidualCorrelations(
  design: CdDesign, resCols: Int32Array, w: Matrix<Float64Array>, yt: Matrix<Float64Array>, rt: Matrix<Float64Array>,
  cols: Int32Array, out: Matrix<Float64Array>, norms?: Float64Array,
): { rNormSq: number; ry: number } {
  const parts = cdResidualColumns(design, resCols, w, yt, rt);
  cdCorrelations(design, rt, cols, out, norms);
  return parts;
}
