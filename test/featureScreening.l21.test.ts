/**
 * Gap-safe screening of the L2,1 per-task least squares (lib/linear/solvers/featureScreening.ts,
 * used by L21Regression's FISTA solve): the screened solve reaches the unscreened optimum and
 * support; the sphere test keeps every feature of the optimum's support at any point (the start,
 * loose solves) and discards most of the others near the optimum.
 */
import { expect } from 'chai';

import type { Matrix } from '../lib/core/matrix.js';
import { kernels } from '../lib/kernels/index.js';
import { alphaMax, solveProx, type ProxSolveOptions } from '../lib/linear/fista.js';
import { screenFeatures, smoothAtZero, taskColumnNorms } from '../lib/linear/solvers/featureScreening.js';
import { runSync } from '../lib/linear/taskModel.js';
import { rowsOf, screenedProblem, sparseProblem as problem, support } from './screeningFixtures.js';

const l21 = (strength: number) => screenedProblem([{ penalty: 'features', strength }]);

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
    const { keep } = screenFeatures(kernels(), q, l21(alpha), pw, taskColumnNorms(q), smoothAtZero(kernels(), q, p.T));
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
    const norms = taskColumnNorms(q);
    const zero = smoothAtZero(kernels(), q, p.T);
    const points: Matrix<Float64Array>[] = [{ rows: p.T, cols: p.d, data: new Float64Array(p.T * p.d) }];
    for (const tol of [1e-1, 1e-2, 1e-3, 1e-5]) points.push(runSync(solveProx(p, opts(tol, false), null)).coef);
    points.push(optimum.coef);
    let lastKept = 0;
    for (const w of points) {
      const { keep } = screenFeatures(kernels(), q, l21(alpha), w, norms, zero);
      for (const j of keepSupport) expect(Array.from(keep), `support feature ${j}`).to.include(j);
      lastKept = keep.length;
    }
    expect(lastKept).to.be.below(p.d / 2);
  });
});
