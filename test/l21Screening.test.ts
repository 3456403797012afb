/**
 * Gap-safe screening of the L2,1 per-task least squares (lib/linear/solvers/l21Screening.ts,
 * used by L21Regression's FISTA solve): the screened solve reaches the unscreened optimum and
 * support; the sphere test keeps every feature of the optimum's support at any point (the start,
 * loose solves) and discards most of the others near the optimum.
 */
import { expect } from 'chai';

import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { kernels } from '../lib/kernels/index.js';
import { alphaMax, solveProx, type ProxSolveOptions } from '../lib/linear/fista.js';
import { groupNorms, screenL21, smoothAtZero, type L21Rows } from '../lib/linear/solvers/l21Screening.js';
import { runSync } from '../lib/linear/taskModel.js';
import type { TaskProblem } from '../lib/linear/taskProblem.js';

/** T tasks of their own rows, d features of which `support` are used by every task. */
function problem(seed: number, sizes: number[], d: number, support: number): TaskProblem {
  const rng = new Rng(seed);
  const T = sizes.length;
  const offsets = new Int32Array(T + 1);
  sizes.forEach((s, t) => (offsets[t + 1] = offsets[t]! + s));
  const N = offsets[T]!;
  const x = new Float64Array(N * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const y = new Float64Array(N);
  const used = rng.permutation(d).subarray(0, support);
  for (let t = 0; t < T; t++) {
    const w = Array.from(used, () => 2 * rng.normal());
    for (let i = offsets[t]!; i < offsets[t + 1]!; i++) {
      let s = 0.5 * rng.normal() + t;
      used.forEach((j, c) => (s += x[i * d + j]! * w[c]!));
      y[i] = s;
    }
  }
  return { x: { rows: N, cols: d, data: x }, y, offsets, T, d };
}

function support(coef: Matrix<Float64Array>): number[] {
  const out: number[] = [];
  for (let j = 0; j < coef.cols; j++) {
    let nz = false;
    for (let t = 0; t < coef.rows; t++) if (coef.data[t * coef.cols + j] !== 0) nz = true;
    if (nz) out.push(j);
  }
  return out;
}

/** The problem's rows as the screening sees them: centred per task, scale 1/n_t, no compression. */
function rowsOf(p: TaskProblem): L21Rows {
  const { d, T } = p;
  const x = p.x.data.slice();
  const y = p.y.slice();
  const scale = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const a = p.offsets[t]!;
    const b = p.offsets[t + 1]!;
    scale[t] = 1 / (b - a);
    for (let j = 0; j < d; j++) {
      let m = 0;
      for (let i = a; i < b; i++) m += x[i * d + j]!;
      m /= b - a;
      for (let i = a; i < b; i++) x[i * d + j]! -= m;
    }
    let m = 0;
    for (let i = a; i < b; i++) m += y[i]!;
    m /= b - a;
    for (let i = a; i < b; i++) y[i]! -= m;
  }
  return { x: { rows: p.x.rows, cols: d, data: x }, y, offsets: p.offsets, scale, constant: 0 };
}

describe('gap-safe screening of L2,1 least squares (FISTA)', function () {
  this.timeout(60_000);
  const p = problem(3, [70, 90, 60, 80], 160, 8);
  const hi = alphaMax(p, 'squared', 'l21', true);
  const alpha = 0.1 * hi;
  const opts = (tol: number, screening: boolean): ProxSolveOptions => ({ loss: 'squared', kind: 'l21', alpha, fitIntercept: true, tol, maxIter: 100_000, screening });

  it('a warm-started solve screened at its start reaches the unscreened optimum and support', () => {
    const previous = runSync(solveProx(p, { ...opts(1e-12, false), alpha: 1.05 * alpha }, null));
    // The warm start is close enough that the test discards most features before FISTA starts.
    const q = rowsOf(p);
    const pw = (previous.warm as { w: Matrix<Float64Array> }).w;
    const { keep } = screenL21(kernels(), q, alpha, pw, groupNorms(q), smoothAtZero(kernels(), q, p.T));
    expect(keep.length).to.be.below(0.75 * p.d);
    const plain = runSync(solveProx(p, opts(1e-12, false), previous));
    const screened = runSync(solveProx(p, opts(1e-12, true), previous));
    const f = (h: number[] | undefined): number => h![h!.length - 1]!;
    expect(Math.abs(f(screened.history) - f(plain.history)) / Math.abs(f(plain.history))).to.be.below(1e-9);
    expect(support(screened.coef)).to.deep.equal(support(plain.coef));
    expect(support(plain.coef).length).to.be.within(1, 40);
  });

  it('the sphere test keeps the optimum\'s support at the start, at loose solves and at the optimum, and discards most others there', () => {
    const optimum = runSync(solveProx(p, opts(1e-12, false), null));
    const keepSupport = support(optimum.coef);
    const q = rowsOf(p);
    const norms = groupNorms(q);
    const zero = smoothAtZero(kernels(), q, p.T);
    const points: Matrix<Float64Array>[] = [{ rows: p.T, cols: p.d, data: new Float64Array(p.T * p.d) }];
    for (const tol of [1e-1, 1e-2, 1e-3, 1e-5]) points.push(runSync(solveProx(p, opts(tol, false), null)).coef);
    points.push(optimum.coef);
    let lastKept = 0;
    for (const w of points) {
      const { keep } = screenL21(kernels(), q, alpha, w, norms, zero);
      for (const j of keepSupport) expect(Array.from(keep), `support feature ${j}`).to.include(j);
      lastKept = keep.length;
    }
    expect(lastKept).to.be.below(p.d / 2);
  });
});
