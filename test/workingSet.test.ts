/**
 * The working-set solver of the multi-task elastic net (lib/linear/solvers/): it reaches the
 * optimum of scikit-learn's plain coordinate descent (run here as the reference, sweep after sweep
 * to a tight gap), its duality gap at the returned point computed over ALL features with
 * scikit-learn's formula is below tol ||Y||^2, gap-safe screening never removes a feature that is
 * non-zero at the optimum (problems with a planted support), the Gram and residual inner forms
 * agree, a path carried in one EnetState equals cold solves, and Anderson extrapolation is exact
 * on a linear iteration.
 */
import { expect } from 'chai';

import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { kernels } from '../lib/kernels/index.js';
import { cdDesignCorrelations } from '../lib/kernels/js/cd.js';
import { ACTIVE_SWEEPS_MIN_VALUES, Anderson, residualBlock } from '../lib/kernels/js/cdsolve.js';
import { ANDERSON_K, useGramForm } from '../lib/linear/solvers/inner.js';
import { ShapeError } from '../lib/core/errors.js';
import { dualityGapOf, normsOf, provenZero, safeRadius } from '../lib/linear/solvers/dualGap.js';
import { ColumnPool } from '../lib/linear/solvers/columnPool.js';
import type { CdWorkingSetArgs, Kernels } from '../lib/kernels/types.js';
import { afterFullSet, denseSolution, EnetState, gramPays, MAX_GRAM_FEATURES, MIN_WORKING_SET, MIN_WORKING_SET_FLOOR, minWorkingSetFor, prepareProblem, solveEnet, withGram, withPooled, type EnetProblem, type SolveSettings } from '../lib/linear/solvers/workingSet.js';
import { randMatrix } from './helpers.js';

type M = Matrix<Float64Array>;

/** ||R||^2 and <R, Y> from R^T and Y^T (T x n). */
function residualParts(rt: Float64Array, yt: Float64Array): { rNormSq: number; ry: number } {
  let rNormSq = 0;
  let ry = 0;
  for (let i = 0; i < rt.length; i++) {
    rNormSq += rt[i]! * rt[i]!;
    ry += rt[i]! * yt[i]!;
  }
  return { rNormSq, ry };
}

/** X ~ N(0,1) + column offsets, a planted support of `active` rows of W, Y = X W + offsets + noise. */
function problem(seed: number, n: number, d: number, T: number, active: number, noise = 0.5): { X: M; Y: M } {
  const rng = new Rng(seed);
  const X = randMatrix(rng, n, d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) X.data[i * d + j]! += (j % 4) * 3;
  const Y = randMatrix(rng, n, T, noise);
  const support = rng.permutation(d).subarray(0, active);
  for (const j of support) {
    for (let t = 0; t < T; t++) {
      const c = 2 * rng.normal();
      for (let i = 0; i < n; i++) Y.data[i * T + t]! += c * X.data[i * d + j]!;
    }
  }
  for (let i = 0; i < n; i++) for (let t = 0; t < T; t++) Y.data[i * T + t]! += 1 + t;
  return { X, Y };
}

/** scikit-learn's duality gap of the n-scaled problem at W (d x T), over every feature. */
function fullGap(p: EnetProblem, w: Float64Array, l1Reg: number, l2Reg: number): number {
  const st = new EnetState(kernels(), p, w);
  st.refresh(Int32Array.from({ length: p.d }, (_, j) => j));
  let dual = 0;
  for (let j = 0; j < p.d; j++) {
    let s = 0;
    for (let t = 0; t < p.T; t++) s += (st.corr[j * p.T + t]! - l2Reg * w[j * p.T + t]!) ** 2;
    dual = Math.max(dual, Math.sqrt(s));
  }
  return dualityGapOf({ ...residualParts(st.rt.data, p.yt.data), ...normsOf(w, p.T) }, dual, l1Reg, l2Reg);
}

/** P(W) of the n-scaled problem. */
function objective(p: EnetProblem, w: Float64Array, l1Reg: number, l2Reg: number): number {
  const st = new EnetState(kernels(), p, w);
  const { rNormSq } = residualParts(st.rt.data, p.yt.data);
  const { l21, wNormSq } = normsOf(w, p.T);
  return 0.5 * rNormSq + l1Reg * l21 + 0.5 * l2Reg * wNormSq;
}

/**
 * scikit-learn's plain loop (every feature, cyclic, gap checked after each sweep) on the
 * transposed centred design, from W = 0, to the given tolerance; returns W and every iterate.
 */
function plainCd(p: EnetProblem, l1Reg: number, l2Reg: number, tol: number, maxSweeps = 100_000): { w: Float64Array; iterates: Float64Array[] } {
  const K = kernels();
  const { n, d, T } = p;
  const all = Int32Array.from({ length: d }, (_, j) => j);
  const xt: M = { rows: d, cols: n, data: new Float64Array(d * n) };
  K.cdGatherColumns(p.design, all, xt);
  const w: M = { rows: d, cols: T, data: new Float64Array(d * T) };
  const rt: M = { rows: T, cols: n, data: p.yt.data.slice() };
  const iterates: Float64Array[] = [];
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    K.mtenetSweep({ xt, rt, w, colNormSq: p.design.colNormSq, l1Reg, l2Reg, order: all });
    iterates.push(w.data.slice());
    if (fullGap(p, w.data, l1Reg, l2Reg) < tol * p.yNormSq) break;
  }
  return { w: w.data, iterates };
}

function settings(l1Reg: number, l2Reg: number, tol: number, extra: Partial<SolveSettings> = {}): SolveSettings {
  return { l1Reg, l2Reg, tol, maxIter: 100_000, selection: 'cyclic', rng: new Rng(0), ...extra };
}

function solve(p: EnetProblem, s: SolveSettings, st = new EnetState(kernels(), p)): { st: EnetState; r: ReturnType<typeof run> } {
  return { st, r: run(p, st, s) };
}

function run(p: EnetProblem, st: EnetState, s: SolveSettings) {
  const gen = solveEnet(kernels(), p, st, s);
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
  }
}

function supportOf(w: Float64Array, d: number, T: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < d; j++) {
    let nz = false;
    for (let t = 0; t < T; t++) if (w[j * T + t] !== 0) nz = true;
    if (nz) out.push(j);
  }
  return out;
}

const CASES: { name: string; n: number; d: number; T: number; active: number; fitIntercept: boolean; l1Ratio: number; alphaFraction: number }[] = [
  { name: 'n 120, d 300 (d > n), T 4, intercept', n: 120, d: 300, T: 4, active: 8, fitIntercept: true, l1Ratio: 1, alphaFraction: 0.1 },
  { name: 'n 400, d 60, T 3, no intercept', n: 400, d: 60, T: 3, active: 10, fitIntercept: false, l1Ratio: 1, alphaFraction: 0.05 },
  { name: 'n 200, d 150, T 1, elastic net 0.6, intercept', n: 200, d: 150, T: 1, active: 12, fitIntercept: true, l1Ratio: 0.6, alphaFraction: 0.05 },
  { name: 'n 90, d 200, T 6, elastic net 0.9, small alpha (large support)', n: 90, d: 200, T: 6, active: 40, fitIntercept: true, l1Ratio: 0.9, alphaFraction: 0.01 },
];

/** The problem of X (n x d) and Y (n x T) of independent standard normal values, from `seed`. */
function gaussianProblem(n: number, d: number, T: number, seed: number, fitIntercept: boolean): EnetProblem {
  const rng = new Rng(seed);
  const X = randMatrix(rng, n, d);
  const Y = randMatrix(rng, n, T);
  return prepareProblem(kernels(), X, Y, fitIntercept);
}

/** alpha_max of the lasso part: max_j ||X_j^T Y|| (n-scaled l1Reg at which W = 0). */
function l1Max(p: EnetProblem): number {
  const st = new EnetState(kernels(), p);
  st.refresh(Int32Array.from({ length: p.d }, (_, j) => j));
  return Math.max(...st.corrNorm);
}

/** An inner solve's columns xs (k x n) and targets yt (T x n), random from `seed`. */
function innerSolveData(seed: number, n: number, k: number, T: number): { xs: M; yt: M } {
  const rng = new Rng(seed);
  const xs = randMatrix(rng, k, n);
  return { xs, yt: randMatrix(rng, T, n) };
}

describe('working-set solver of the multi-task elastic net', function () {
  this.timeout(120_000);

  for (const c of CASES) {
    describe(c.name, () => {
      const { X, Y } = problem(c.n * 31 + c.d, c.n, c.d, c.T, c.active);
      const p = prepareProblem(kernels(), X, Y, c.fitIntercept);
      const lmax = l1Max(p);
      const l1Reg = c.alphaFraction * lmax;
      // Same alpha for both parts: l1Reg = alpha l1Ratio n, l2Reg = alpha (1 - l1Ratio) n.
      const l2Reg = (l1Reg / c.l1Ratio) * (1 - c.l1Ratio);
      const reference = plainCd(p, l1Reg, l2Reg, 1e-13);
      const refObjective = objective(p, reference.w, l1Reg, l2Reg);
      const refSupport = supportOf(reference.w, c.d, c.T);

      it('reaches the plain solver\'s objective (1e-9 relative) at tol 1e-10, and its support', () => {
        const { st, r } = solve(p, settings(l1Reg, l2Reg, 1e-10));
        expect(r.converged).to.equal(true);
        const obj = objective(p, st.w.data, l1Reg, l2Reg);
        expect(Math.abs(obj - refObjective) / refObjective).to.be.below(1e-9);
        expect(supportOf(st.w.data, c.d, c.T)).to.deep.equal(refSupport);
        expect(refSupport.length).to.be.greaterThan(0);
      });

      for (const tol of [1e-4, 1e-8]) {
        it(`stops with scikit-learn's duality gap over all features below tol ||Y||^2 (tol ${tol}); objective within 1e-6 for tol 1e-8`, () => {
          const { st, r } = solve(p, settings(l1Reg, l2Reg, tol));
          const gap = fullGap(p, st.w.data, l1Reg, l2Reg);
          expect(gap).to.be.below(tol * p.yNormSq);
          // The reported gap is a duality gap too, at least scikit-learn's (its dual point may
          // be scaled by bounds of the correlations instead of their exact values).
          expect(r.gap).to.be.below(tol * p.yNormSq);
          expect(gap).to.be.at.most(r.gap + 1e-12 * p.yNormSq);
          const obj = objective(p, st.w.data, l1Reg, l2Reg);
          expect(obj - refObjective).to.be.at.most(gap + 1e-12 * refObjective);
          if (tol <= 1e-8) expect(Math.abs(obj - refObjective) / refObjective).to.be.below(1e-6);
        });
      }

      it('never screens out a feature of the optimum\'s support (small working sets: several outer iterations)', () => {
        const { st, r } = solve(p, settings(l1Reg, l2Reg, 1e-10, { minWorkingSet: 2 }));
        const screened = new Set(r.screened);
        for (const j of refSupport) expect(screened.has(j), `support feature ${j} screened`).to.equal(false);
        const obj = objective(p, st.w.data, l1Reg, l2Reg);
        expect(Math.abs(obj - refObjective) / refObjective).to.be.below(1e-9);
      });

      it('the sphere test at every iterate of the plain solver keeps the support', () => {
        let screenedSomewhere = 0;
        for (const w of reference.iterates) {
          const st = new EnetState(kernels(), p, w);
          st.refresh(Int32Array.from({ length: c.d }, (_, j) => j));
          const xi = Array.from({ length: c.d }, (_, j) => {
            let s = 0;
            for (let t = 0; t < c.T; t++) s += (st.corr[j * c.T + t]! - l2Reg * w[j * c.T + t]!) ** 2;
            return Math.sqrt(s);
          });
          const scale = Math.max(l1Reg, ...xi);
          const gap = dualityGapOf({ ...residualParts(st.rt.data, p.yt.data), ...normsOf(w, c.T) }, scale, l1Reg, l2Reg);
          const radius = safeRadius(gap, l1Reg, p.yNormSq);
          for (let j = 0; j < c.d; j++) {
            const out = provenZero(xi[j]!, scale, radius, p.design.colNormSq[j]!, l2Reg);
            if (out) screenedSomewhere++;
            if (refSupport.includes(j)) expect(out, `support feature ${j}`).to.equal(false);
          }
        }
        expect(screenedSomewhere).to.be.greaterThan(0);
      });

      it('the Gram and residual inner forms reach the same point', () => {
        const a = solve(p, settings(l1Reg, l2Reg, 1e-12, { innerForm: 'gram' }));
        const b = solve(p, settings(l1Reg, l2Reg, 1e-12, { innerForm: 'residual' }));
        const oa = objective(p, a.st.w.data, l1Reg, l2Reg);
        const ob = objective(p, b.st.w.data, l1Reg, l2Reg);
        expect(Math.abs(oa - ob) / ob).to.be.below(1e-10);
      });

      it('with the whole Gram matrix (withGram): the same optimum, along a path too, and X is not read again', () => {
        const reads: string[] = [];
        const K = spyKernels(reads, ['cdCorrelations', 'cdResidualCorrelations', 'cdResidualColumns', 'cdGramColumns', 'cdGatherColumns', 'mtenetResidualSolve']);
        const pg = withGram(kernels(), p);
        const st = new EnetState(K, pg);
        const grid = [0.6, 0.3, c.alphaFraction].map((f) => f * lmax);
        let previous: number | undefined;
        for (const l1 of grid) {
          const l2 = (l1 / c.l1Ratio) * (1 - c.l1Ratio);
          const gen = solveEnet(K, pg, st, settings(l1, l2, 1e-10, previous === undefined ? {} : { previousL1Reg: previous }));
          let r = gen.next();
          while (!r.done) r = gen.next();
          expect(r.value.converged).to.equal(true);
          expect(fullGap(p, st.w.data, l1, l2)).to.be.below(1e-10 * p.yNormSq);
          const cold = solve(p, settings(l1, l2, 1e-10));
          const ow = objective(p, st.w.data, l1, l2);
          const oc = objective(p, cold.st.w.data, l1, l2);
          expect(Math.abs(ow - oc) / oc, `l1Reg ${l1}`).to.be.below(1e-8);
          previous = l1;
        }
        expect(supportOf(st.w.data, c.d, c.T)).to.deep.equal(refSupport);
        expect(reads, 'kernels that read X').to.deep.equal([]);
      });

      it('a warm-started path in one state (strong rule, bound screening) equals cold solves', () => {
        const st = new EnetState(kernels(), p);
        const grid = [1, 0.6, 0.3, 0.15, c.alphaFraction, c.alphaFraction / 2].map((f) => f * lmax);
        let previous: number | undefined;
        let screenedAlongPath = 0;
        for (const l1 of grid) {
          const l2 = (l1 / c.l1Ratio) * (1 - c.l1Ratio);
          const r = run(p, st, settings(l1, l2, 1e-10, previous === undefined ? {} : { previousL1Reg: previous }));
          expect(r.converged).to.equal(true);
          const cold = solve(p, settings(l1, l2, 1e-10));
          const coldSupport = supportOf(cold.st.w.data, c.d, c.T);
          for (const j of r.screened) expect(coldSupport.includes(j), `l1Reg ${l1}: support feature ${j} screened`).to.equal(false);
          screenedAlongPath += r.screened.length;
          const ow = objective(p, st.w.data, l1, l2);
          const oc = objective(p, cold.st.w.data, l1, l2);
          expect(Math.abs(ow - oc) / oc, `l1Reg ${l1}`).to.be.below(1e-8);
          expect(fullGap(p, st.w.data, l1, l2)).to.be.below(1e-10 * p.yNormSq);
          previous = l1;
        }
        expect(screenedAlongPath).to.be.greaterThan(0);
      });
    });
  }

  it('solves W = 0 exactly at and above alpha_max, with every feature screened', () => {
    const { X, Y } = problem(5, 60, 30, 2, 4);
    const p = prepareProblem(kernels(), X, Y, true);
    const { st, r } = solve(p, settings(l1Max(p) * 1.01, 0, 1e-10));
    expect(Array.from(st.w.data).every((v) => v === 0)).to.equal(true);
    expect(r.converged).to.equal(true);
    expect(r.nIter).to.be.at.most(1);
  });

  it('random selection reaches the same optimum', () => {
    const { X, Y } = problem(6, 80, 120, 3, 6);
    const p = prepareProblem(kernels(), X, Y, true);
    const l1 = 0.08 * l1Max(p);
    const a = solve(p, settings(l1, 0, 1e-11));
    const b = solve(p, settings(l1, 0, 1e-11, { selection: 'random', rng: new Rng(3) }));
    const oa = objective(p, a.st.w.data, l1, 0);
    expect(Math.abs(objective(p, b.st.w.data, l1, 0) - oa) / oa).to.be.below(1e-9);
  });
});

/** The kernels, recording the calls of the listed ones into `calls`. */
function spyKernels(calls: string[], names: string[]): Kernels {
  const K = kernels();
  const spy: Record<string, unknown> = { ...K };
  for (const name of names) {
    const f = (K as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
    spy[name] = (...a: unknown[]) => {
      calls.push(name);
      return f.apply(K, a);
    };
  }
  return spy as unknown as Kernels;
}

describe('the correlations at W = 0 (prepareProblem, EnetState)', () => {
  for (const fitIntercept of [true, false])
    it(`a problem holds Xc^T Yc and its norms from the design's pass, and a cold state starts from them (intercept ${fitIntercept})`, () => {
      const { X, Y } = problem(52, 120, 40, 3, 5);
      const calls: string[] = [];
      const K = spyKernels(calls, ['cdDesign', 'cdCorrelations', 'cdDesignCorrelations', 'cdResidualCorrelations', 'cdGramCorrelations']);
      const p = prepareProblem(K, X, Y, fitIntercept);
      expect(calls, 'kernels that prepare the problem').to.deep.equal(['cdDesignCorrelations']);
      const { n, d, T } = p;
      for (let j = 0; j < d; j++) {
        let norm = 0;
        for (let t = 0; t < T; t++) {
          let s = 0;
          for (let i = 0; i < n; i++) s += (X.data[i * d + j]! - p.design.mean[j]!) * p.yt.data[t * n + i]!;
          expect(p.xty.data[j * T + t]).to.be.closeTo(s, 1e-10 * Math.max(1, Math.abs(s)));
          norm += p.xty.data[j * T + t]! ** 2;
        }
        expect(p.xtyNorms[j]).to.be.closeTo(Math.sqrt(norm), 1e-12 * Math.max(1, Math.sqrt(norm)));
      }
      // A cold state knows every correlation: at and above alpha_max the solve proves W = 0
      // without computing any.
      const st = new EnetState(K, p);
      expect(Array.from({ length: d }, (_, j) => st.fresh(j)).every(Boolean)).to.equal(true);
      expect(Array.from(st.corr)).to.deep.equal(Array.from(p.xty.data));
      calls.length = 0;
      const gen = solveEnet(K, p, st, settings(1.01 * Math.max(...p.xtyNorms), 0, 1e-10));
      let r = gen.next();
      while (!r.done) r = gen.next();
      expect(r.value.converged).to.equal(true);
      expect(Array.from(st.w.data).every((v) => v === 0)).to.equal(true);
      expect(calls, 'correlation kernels').to.deep.equal([]);
      // A warm start has its own residual: its correlations are computed.
      const warm = new EnetState(K, p, Float64Array.from({ length: d * T }, (_, i) => (i < T ? 0.1 : 0)));
      expect(warm.fresh(0)).to.equal(false);
    });
});

describe('the correlations at W = 0: bad shapes', () => {
  it('prepareProblem refuses X and Y with different row counts, naming both', () => {
    const { X, Y } = problem(53, 30, 8, 2, 2);
    const short = { rows: 29, cols: 2, data: Y.data.subarray(0, 58) };
    expect(() => prepareProblem(kernels(), X, short, true, { x: 'X', y: 'Y of task 3' })).to.throw(ShapeError, /X has 30 rows but Y of task 3 has 29/);
  });

  it('the TypeScript cdDesignCorrelations refuses targets, outputs or norms of the wrong shape', () => {
    const x = randMatrix(new Rng(54), 12, 5);
    const yt = randMatrix(new Rng(55), 3, 12);
    const out = (r: number, c: number): M => ({ rows: r, cols: c, data: new Float64Array(r * c) });
    expect(() => cdDesignCorrelations(x, true, yt, out(5, 3), new Float64Array(5))).to.not.throw();
    expect(() => cdDesignCorrelations(x, true, randMatrix(new Rng(56), 3, 11), out(5, 3), new Float64Array(5))).to.throw(ShapeError, /cdDesignCorrelations/);
    expect(() => cdDesignCorrelations(x, true, yt, out(4, 3), new Float64Array(5))).to.throw(ShapeError);
    expect(() => cdDesignCorrelations(x, true, yt, out(5, 2), new Float64Array(5))).to.throw(ShapeError);
    expect(() => cdDesignCorrelations(x, true, yt, out(5, 3), new Float64Array(4))).to.throw(ShapeError);
  });
});

describe('the whole Gram matrix (withGram, gramPays)', () => {
  it('holds Xc^T Xc (symmetric, bit for bit) and Xc^T Yc of the centred problem', () => {
    const { X, Y } = problem(41, 150, 140, 3, 4);
    const p = withGram(kernels(), prepareProblem(kernels(), X, Y, true));
    const { d, T, n } = p;
    for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) expect(p.gram!.gram.data[a * d + b]).to.equal(p.gram!.gram.data[b * d + a]);
    const xc = (i: number, j: number): number => X.data[i * d + j]! - p.design.mean[j]!;
    for (let a = 0; a < d; a++) {
      for (let b = 0; b < d; b++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += xc(i, a) * xc(i, b);
        expect(p.gram!.gram.data[a * d + b]).to.be.closeTo(s, 1e-10 * Math.max(1, Math.abs(s)));
      }
      for (let t = 0; t < T; t++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += xc(i, a) * p.yt.data[t * n + i]!;
        expect(p.xty.data[a * T + t]).to.be.closeTo(s, 1e-10 * Math.max(1, Math.abs(s)));
      }
    }
  });

  it('pays when a path\'s passes over X (2 T per solve) outnumber the features, within the size limit', () => {
    expect(gramPays(300, 6, 100)).to.equal(true);
    expect(gramPays(1199, 6, 100)).to.equal(true);
    expect(gramPays(1200, 6, 100)).to.equal(false);
    expect(gramPays(50, 5, 1)).to.equal(false);
    expect(gramPays(MAX_GRAM_FEATURES + 1, 50, 100)).to.equal(false);
    expect(gramPays(MAX_GRAM_FEATURES, 50, 100)).to.equal(true);
  });
});

describe('EnetState.refresh', () => {
  // X_j^T R of every feature, computed feature by feature (the reference for the rows refresh writes).
  function correlationsOf(p: EnetProblem, st: EnetState): Float64Array {
    const all = new Float64Array(p.d * p.T);
    const out: M = { rows: 1, cols: p.T, data: new Float64Array(p.T) };
    for (let j = 0; j < p.d; j++) {
      kernels().cdCorrelations(p.design, st.rt, Int32Array.of(j), out);
      all.set(out.data, j * p.T);
    }
    return all;
  }

  // Consecutive lists, lists with a few holes (computed whole) and scattered lists (scratch, copied
  // run by run) all leave exact rows and norms, mark the listed features fresh, and touch no other row.
  const lists: Array<[string, (d: number) => number[]]> = [
    ['consecutive', (d) => Array.from({ length: d - 10 }, (_, c) => c + 5)],
    ['a few holes', (d) => Array.from({ length: d }, (_, j) => j).filter((j) => j % 17 !== 3)],
    ['scattered, with long runs', (d) => Array.from({ length: d }, (_, j) => j).filter((j) => j % 3 === 0 || (j >= 40 && j < 60))],
  ];
  for (const [name, listOf] of lists) for (const gram of [false, true]) {
    it(`${name}${gram ? ', from the whole Gram matrix' : ''}: the listed rows are X_j^T R, the others untouched`, () => {
      const { X, Y } = problem(31, 50, 90, 3, 5);
      const plain = prepareProblem(kernels(), X, Y, true);
      const p = gram ? withGram(kernels(), plain) : plain;
      const w = new Float64Array(p.d * p.T);
      w[4 * p.T] = 0.5;
      w[50 * p.T + 1] = -0.25;
      const st = new EnetState(kernels(), p, w);
      const expected = correlationsOf(p, st);
      const cols = Int32Array.from(listOf(p.d));
      const listed = new Set(cols);
      expect(st.refresh(cols)).to.equal(true);
      for (let j = 0; j < p.d; j++) {
        const row = Array.from(st.corr.subarray(j * p.T, (j + 1) * p.T));
        if (listed.has(j)) {
          expect(st.fresh(j), `feature ${j} fresh`).to.equal(true);
          // From the Gram matrix, X_j^T Y - G_j W: rounding relative to the larger terms.
          row.forEach((v, t) => expect(v).to.be.closeTo(expected[j * p.T + t]!, gram ? 1e-10 : 1e-12));
          expect(st.corrNorm[j]).to.be.closeTo(Math.hypot(...row), 1e-12);
        } else if (j < cols[0]! || j > cols[cols.length - 1]!) {
          expect(st.fresh(j), `feature ${j} stale`).to.equal(false);
          expect(row.every((v) => v === 0)).to.equal(true);
        }
      }
      // firstStale: none among the refreshed features; the first stale one of a list that has one.
      expect(st.firstStale(cols)).to.equal(-1);
      const stale = Array.from({ length: p.d }, (_, j) => j).find((j) => !st.fresh(j));
      if (stale !== undefined) expect(st.firstStale(Int32Array.from([cols[0]!, stale, cols[cols.length - 1]!]))).to.equal(stale);
      if (name === 'consecutive') expect(stale).to.equal(0);
    });
  }

  it('returns false and changes nothing for an empty list', () => {
    const { X, Y } = problem(32, 20, 12, 2, 3);
    const p = prepareProblem(kernels(), X, Y, false);
    const st = new EnetState(kernels(), p, new Float64Array(p.d * p.T));
    expect(st.refresh(new Int32Array(0))).to.equal(false);
    expect(Array.from(st.corr).every((v) => v === 0)).to.equal(true);
  });
});

describe('EnetState\'s row buffers', () => {
  it('a pending residual keeps its own copy of the rows: the next working set\'s rows, gathered into the same room, do not change it', () => {
    const p = gaussianProblem(60, 20, 3, 5, true);
    const cols = Int32Array.from([1, 4, 7]);
    const rows: M = randMatrix(new Rng(9), 3, 3);
    const kept = rows.data.slice();
    const ref = new EnetState(kernels(), p);
    ref.setResidual(cols, { rows: 3, cols: 3, data: kept });
    const st = new EnetState(kernels(), p);
    st.setPendingResidual(cols, rows, ref.rNormSq, ref.ry);
    rows.data.fill(0);
    expect(Array.from(st.rt.data)).to.deep.equal(Array.from(ref.rt.data));
  });

  it('working sets of a state share one room, which grows for a larger set; the support\'s rows have a room of their own', () => {
    const p = gaussianProblem(60, 20, 3, 5, true);
    const st = new EnetState(kernels(), p);
    // The same memory: one buffer, one offset (lent buffers may be parts of one larger buffer).
    const same = (x: Float64Array, y: Float64Array) => x.buffer === y.buffer && x.byteOffset === y.byteOffset;
    const a = st.workingSetRows(12);
    const b = st.workingSetRows(9);
    expect(same(a.w, b.w) && same(a.h, b.h)).to.equal(true);
    expect(same(b.w, b.h)).to.equal(false);
    const c = st.workingSetRows(30);
    expect(c.w.length).to.equal(30);
    expect(same(c.w, a.w)).to.equal(false);
    expect(same(st.supportRows().w.data, st.workingSetRows(12).w)).to.equal(false);
  });
});

describe('Anderson extrapolation', () => {
  it('finds the fixed point of a linear iteration exactly when K > the dimension', () => {
    // x <- A x + b with a contraction A (3 x 3): x* = (I - A)^{-1} b.
    const A = [0.5, 0.1, 0, 0.2, 0.3, 0.1, 0, 0.1, 0.6];
    const b = [1, -2, 0.5];
    const step = (x: Float64Array): Float64Array => Float64Array.from({ length: 3 }, (_, i) => A[3 * i]! * x[0]! + A[3 * i + 1]! * x[1]! + A[3 * i + 2]! * x[2]! + b[i]!);
    // K = 4 differences: 0 is then in the affine hull of the residuals x_{i+1} - x_i.
    const acc = new Anderson(4, 3);
    let x: Float64Array = new Float64Array(3);
    acc.push(x);
    for (let k = 0; k < 4; k++) {
      x = step(x);
      acc.push(x);
    }
    const out = new Float64Array(3);
    expect(acc.extrapolate(out)).to.equal(true);
    const next = step(out);
    for (let i = 0; i < 3; i++) expect(Math.abs(next[i]! - out[i]!)).to.be.below(1e-6);
    // Without the extrapolation, 4 steps are far from the fixed point.
    expect(Math.abs(step(x)[0]! - x[0]!)).to.be.above(1e-3);
  });

  it('an inner solve split into calls of K sweeps (as long solves are) extrapolates as one call does: about the same sweeps and point', () => {
    // 240 x 240 x 2, every feature in the set, a small l1Reg: a long, ill-conditioned solve.
    const [n, k, T] = [240, 240, 2];
    const rng = new Rng(11);
    const xs = randMatrix(rng, k, n); // the set's columns, k x n
    const yt = randMatrix(rng, T, n);
    // X^T Y, where every solve starts (W = 0), and l1Reg = 0.005 max_j ||X_j^T Y||.
    const xty = new Float64Array(k * T);
    for (let j = 0; j < k; j++) for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) xty[j * T + t]! += xs.data[j * n + i]! * yt.data[t * n + i]!;
    let l1Reg = 0;
    for (let j = 0; j < k; j++) l1Reg = Math.max(l1Reg, 0.005 * Math.hypot(...xty.subarray(j * T, (j + 1) * T)));
    const solve = (perCall: number) => {
      const K = kernels();
      const w: M = { rows: k, cols: T, data: new Float64Array(k * T) };
      const rt: M = { rows: T, cols: n, data: yt.data.slice() };
      const h: M = { rows: k, cols: T, data: xty.slice() };
      let sweeps = 0;
      for (;;) {
        // Every call but the last is continued (as innerSolve does): those that end unconverged
        // return the residual their sweeps kept.
        const r = K.mtenetResidualSolve({ xs, yt, rt, w, h, l1Reg, l2Reg: 0, tol: 1e-6, maxSweeps: perCall, continues: sweeps + perCall < 5000 });
        sweeps += r.sweeps;
        if (r.converged || sweeps >= 5000) return { sweeps, converged: r.converged, w: w.data, rt: rt.data, rNormSq: r.rNormSq };
      }
    };
    const whole = solve(100_000);
    const split = solve(ANDERSON_K);
    expect(whole.converged && split.converged).to.equal(true);
    // The solve ends exact either way: the residual returned is Y - X W recomputed, bit for bit.
    for (const run of [whole, split]) {
      const exact: M = { rows: T, cols: n, data: new Float64Array(T * n) };
      const parts = kernels().cdResidual(xs, { rows: k, cols: T, data: run.w }, yt, exact);
      expect(Array.from(run.rt)).to.deep.equal(Array.from(exact.data));
      expect(run.rNormSq).to.equal(parts.rNormSq);
    }
    // Without the extrapolation (calls too short to collect K + 1 iterates) it took 6 times the sweeps.
    expect(Math.abs(split.sweeps - whole.sweeps), `sweeps ${split.sweeps} split, ${whole.sweeps} whole`).to.be.at.most(2 * ANDERSON_K);
    let diff = 0;
    let norm = 0;
    for (let q = 0; q < k * T; q++) {
      diff = Math.max(diff, Math.abs(split.w[q]! - whole.w[q]!));
      norm = Math.max(norm, Math.abs(whole.w[q]!));
    }
    expect(diff).to.be.below(1e-2 * norm);
  });

  it('sweeps the residual form by blocks once the residual holds 4096 values: of 32 features from 20 tasks, else of 4', () => {
    expect(residualBlock(4, 1023)).to.equal(0);
    expect(residualBlock(4, 1024)).to.equal(4);
    expect(residualBlock(19, 300)).to.equal(4);
    expect(residualBlock(20, 204)).to.equal(0);
    expect(residualBlock(20, 205)).to.equal(32);
    expect(residualBlock(46, 395)).to.equal(32);
  });

  it('chooses the inner form by the sweeps expected: the Gram rows of new features pay only over enough sweeps', () => {
    // 2,785 samples, 2 tasks, 105 of 305 features new (105 rows of 305 entries): for one sweep the new
    // Gram rows cost far more than the residual sweep, over 50 sweeps far less.
    expect(useGramForm(305, 105 * 305, 2785, 2, 1)).to.equal(false);
    expect(useGramForm(305, 105 * 305, 2785, 2, 50)).to.equal(true);
    // With every Gram row there, a Gram sweep (k^2 T) is cheaper than a residual one (2 n k T).
    expect(useGramForm(305, 0, 2785, 2, 1)).to.equal(true);
    // Six tasks: the rows pay within the usual five or six sweeps.
    expect(useGramForm(200, 100 * 200, 2625, 6, 6)).to.equal(true);
    // Few samples, many features: residual sweeps are cheap.
    expect(useGramForm(465, 186 * 465, 243, 4, 5)).to.equal(false);
    expect(useGramForm(4097, 0, 100_000, 50, 100)).to.equal(false);
    // 1,000 samples, 3 tasks, a set of 124 after a residual-form solve on 200: counted against the set
    // alone (74 rows of 124) the Gram form looks cheaper; the take computes 160 rows of 210 (every
    // pooled feature without rows), which the residual form's eight sweeps beat.
    expect(useGramForm(124, 74 * 124, 1000, 3, 8)).to.equal(true);
    expect(useGramForm(124, 160 * 210, 1000, 3, 8)).to.equal(false);
  });

  it('counts what each form leaves: the exact check of the residual form, the rebuilt residual of the Gram form, columns out of cache, Gram rows of few samples', () => {
    // 2,625 samples, 6 tasks, a set of 200 after a Gram-form solve on 50: its columns (525,000
    // values) stream from memory at every residual sweep, and the Gram rows pay within five sweeps.
    expect(useGramForm(200, 150 * 200, 2625, 6, 5)).to.equal(true);
    // 829 samples, 8 tasks: the same set's columns (165,800 values) stay in cache; residual sweeps.
    expect(useGramForm(200, 150 * 200, 829, 8, 5)).to.equal(false);
    // 2,785 samples, 2 tasks: 200 new Gram rows cost more than six residual passes out of cache.
    expect(useGramForm(200, 200 * 200, 2785, 2, 5)).to.equal(false);
    // 243 samples: a Gram entry costs its products' fixed part, more than the few sweeps it saves.
    expect(useGramForm(84, 34 * 84, 243, 4, 5)).to.equal(false);
    expect(useGramForm(50, 50 * 50, 243, 4, 5)).to.equal(false);
  });

  it('residual-form sweeps over at least ACTIVE_SWEEPS_MIN_VALUES values of columns go by active sets: the first full, the next over the rows it left non-zero', () => {
    // 100 samples, 2 tasks (plain sweeps), 1,310 or 1,311 features: 131,000 values of columns, just
    // under the rule's 131,072, or 131,100, just over. With l1Reg 20, seven rows at zero after the
    // first sweep would enter in a second full sweep.
    const [n, T, l1Reg] = [100, 2, 20];
    const rng = new Rng(3);
    const x = randMatrix(rng, 1311, n);
    const yt = randMatrix(rng, T, n);
    const K = kernels();
    for (const k of [1310, 1311]) {
      expect(k * n >= ACTIVE_SWEEPS_MIN_VALUES).to.equal(k === 1311);
      const xs: M = { rows: k, cols: n, data: x.data.subarray(0, k * n) };
      const all = Int32Array.from({ length: k }, (_, j) => j);
      const zeroRow = (w: M, j: number): boolean => w.data.subarray(j * T, (j + 1) * T).every((v) => v === 0);
      const fresh = (): M => ({ rows: k, cols: T, data: new Float64Array(k * T) });
      const colNormSq = Float64Array.from(all, (j) => xs.data.subarray(j * n, (j + 1) * n).reduce((s, v) => s + v * v, 0));
      // Two plain sweeps of the same kernel set, the second over every row or the non-zero ones.
      const sweepsOf = (second: 'all' | 'nonZero'): M => {
        const w = fresh();
        const rt: M = { rows: T, cols: n, data: yt.data.slice() };
        K.mtenetSweep({ xt: xs, rt, w, colNormSq, l1Reg, l2Reg: 0, order: all });
        const order = second === 'all' ? all : Int32Array.from(all.filter((j) => !zeroRow(w, j)));
        K.mtenetSweep({ xt: xs, rt, w, colNormSq, l1Reg, l2Reg: 0, order });
        return w;
      };
      const [full, active] = [sweepsOf('all'), sweepsOf('nonZero')];
      const enterInFull = all.filter((j) => zeroRow(active, j) && !zeroRow(full, j));
      expect(enterInFull.length, 'rows that only a full second sweep takes in').to.be.at.least(1);
      const w = fresh();
      const r = K.mtenetResidualSolve({ xs, yt, rt: { rows: T, cols: n, data: yt.data.slice() }, w, h: fresh(), l1Reg, l2Reg: 0, tol: 0, maxSweeps: 2 });
      expect(r.sweeps).to.equal(2);
      const expected = k === 1311 ? active : full;
      for (const j of enterInFull) expect(zeroRow(w, j), `k ${k}: row ${j}`).to.equal(k === 1311);
      // The column norms the solve computes may round otherwise than this test's loop.
      const scale = Math.max(...expected.data.map(Math.abs));
      for (let q = 0; q < k * T; q++) expect(Math.abs(w.data[q]! - expected.data[q]!)).to.be.at.most(1e-12 * scale);
    }
  });

  it('a residual-form solve given its column norms uses them instead of computing them, and refuses wrong ones', () => {
    const [n, k, T] = [50, 30, 3];
    const { xs, yt } = innerSolveData(8, n, k, T);
    const K = kernels();
    const norms = Float64Array.from({ length: k }, (_, j) => xs.data.subarray(j * n, (j + 1) * n).reduce((s, v) => s + v * v, 0));
    const solve = (colNormSq: Float64Array | undefined, maxSweeps: number) => {
      const w: M = { rows: k, cols: T, data: new Float64Array(k * T) };
      const r = K.mtenetResidualSolve({ xs, yt, rt: { rows: T, cols: n, data: yt.data.slice() }, w, h: { rows: k, cols: T, data: new Float64Array(k * T) }, l1Reg: 5, l2Reg: 0, tol: 1e-10, maxSweeps, colNormSq });
      return { w: w.data, r };
    };
    // The norms it would compute: the same solve (the same bits in TypeScript, whose loop is this
    // test's; the native ddot sums in vector lanes).
    const [own, given] = [solve(undefined, 200), solve(norms, 200)];
    expect(given.r.converged).to.equal(true);
    const scale = Math.max(...own.w.map(Math.abs));
    for (let q = 0; q < k * T; q++) expect(Math.abs(given.w[q]! - own.w[q]!)).to.be.at.most(1e-10 * scale);
    if (K.name === 'js') expect(Array.from(given.w)).to.deep.equal(Array.from(own.w));
    // Other norms change the step of every coordinate update: one sweep lands elsewhere.
    const doubled = solve(norms.map((v) => 2 * v), 1);
    const plain = solve(undefined, 1);
    expect(Math.max(...doubled.w.map((v, q) => Math.abs(v - plain.w[q]!)))).to.be.greaterThan(1e-3 * scale);
    // Wrong lengths and values are refused (the TypeScript kernel's typed errors, the binding's RangeError).
    for (const bad of [norms.subarray(1), Float64Array.from(norms, (v, j) => (j === 3 ? -1 : v)), Float64Array.from(norms, (v, j) => (j === 0 ? NaN : v))]) {
      expect(() => solve(bad, 1)).to.throw(/colNormSq/);
    }
  });

  it("the working-set solver gives its residual-form solves the design's norms of their columns", () => {
    const p = gaussianProblem(80, 300, 3, 4, true);
    const seen: number[] = [];
    const K = Object.create(kernels()) as Kernels;
    K.mtenetResidualSolve = (a) => {
      const { rows: k, cols: n, data } = a.xs;
      expect(a.colNormSq, 'norms given').to.be.instanceOf(Float64Array);
      for (let j = 0; j < k; j++) {
        const own = data.subarray(j * n, (j + 1) * n).reduce((s, v) => s + v * v, 0);
        expect(Math.abs(a.colNormSq![j]! - own)).to.be.at.most(1e-12 * Math.max(own, 1));
      }
      seen.push(k);
      return kernels().mtenetResidualSolve(a);
    };
    const st = new EnetState(K, p);
    const gen = solveEnet(K, p, st, settings(0.05 * l1Max(p), 0, 1e-6, { innerForm: 'residual' }));
    let r = gen.next();
    while (!r.done) r = gen.next();
    expect(r.value.converged).to.equal(true);
    expect(seen.length).to.be.at.least(1);
  });

  it('a Gram-form solve given X_k^T Y uses it instead of forming it, and refuses a wrong one', () => {
    const [n, k, T] = [60, 25, 3];
    const { xs, yt } = innerSolveData(9, n, k, T);
    const K = kernels();
    // G = X_k^T X_k and X_k^T Y (k x T), from the columns (rows of xs).
    const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
    const row = (m: M, i: number) => m.data.subarray(i * m.cols, (i + 1) * m.cols);
    const gram: M = { rows: k, cols: k, data: Float64Array.from({ length: k * k }, (_, q) => dot(row(xs, Math.floor(q / k)), row(xs, q % k))) };
    const xty: M = { rows: k, cols: T, data: Float64Array.from({ length: k * T }, (_, q) => dot(row(xs, Math.floor(q / T)), row(yt, q % T))) };
    // A warm start away from zero (so that forming X_k^T Y = H0 + G W0 costs a product), its
    // correlations ht = (X_k^T Y - G W0)^T and residual parts.
    const w0 = Float64Array.from({ length: k * T }, (_, q) => (q % 4 === 0 ? 0.01 * ((q % 7) - 3) : 0));
    const r0 = Float64Array.from(yt.data);
    for (let j = 0; j < k; j++) for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) r0[t * n + i]! -= xs.data[j * n + i]! * w0[j * T + t]!;
    const ht0 = Float64Array.from({ length: T * k }, (_, q) => {
      const [t, j] = [Math.floor(q / k), q % k];
      return dot(row(xs, j), r0.subarray(t * n, (t + 1) * n));
    });
    const solve = (given: M | undefined, maxSweeps: number) => {
      const w: M = { rows: k, cols: T, data: w0.slice() };
      const ht: M = { rows: T, cols: k, data: ht0.slice() };
      const r = K.mtenetGramSolve({ gram, ht, w, r0NormSq: dot(r0, r0), r0y: dot(r0, yt.data), l1Reg: 2, l2Reg: 0.5, tol: 1e-10, maxSweeps, xty: given });
      return { w: w.data, ht: ht.data, r };
    };
    const [formed, given] = [solve(undefined, 200), solve(xty, 200)];
    expect(given.r.converged).to.equal(true);
    const scale = Math.max(...formed.w.map(Math.abs));
    for (let q = 0; q < k * T; q++) expect(Math.abs(given.w[q]! - formed.w[q]!)).to.be.at.most(1e-10 * scale);
    expect(Math.abs(given.r.gap - formed.r.gap)).to.be.at.most(1e-8 * Math.max(1, Math.abs(formed.r.rNormSq)));
    // The returned correlations are (X_k^T Y - G W)^T from the given X_k^T Y: one moved by 1 moves them by 1.
    const moved = solve({ rows: k, cols: T, data: xty.data.map((v) => v + 1) }, 1);
    const plain = solve(xty, 1);
    for (let q = 0; q < T * k; q++) expect(moved.ht[q]! - plain.ht[q]!).to.be.closeTo(1, 1e-9);
    // Wrong shapes and values are refused (the TypeScript kernel's typed errors, the binding's RangeError).
    for (const bad of [
      { rows: k - 1, cols: T, data: xty.data.subarray(T) },
      { rows: k, cols: T, data: xty.data.map((v, q) => (q === 4 ? NaN : v)) },
      { rows: k, cols: T, data: xty.data.map((v, q) => (q === 0 ? -Infinity : v)) },
    ]) {
      expect(() => solve(bad, 1)).to.throw(/xty/);
    }
  });

  it('the working-set solver gives its Gram-form solves X_k^T Y of their features', () => {
    for (const [name, p] of [['pooled Gram entries', gaussianProblem(200, 120, 4, 6, true)], ['the whole Gram matrix', withGram(kernels(), gaussianProblem(200, 120, 4, 7, false))]] as const) {
      let calls = 0;
      const K = Object.create(kernels()) as Kernels;
      K.mtenetGramSolve = (a) => {
        const { rows: k } = a.gram;
        const T = a.w.cols;
        expect(a.xty, `${name}: X_k^T Y given`).to.not.equal(undefined);
        expect([a.xty!.rows, a.xty!.cols]).to.deep.equal([k, T]);
        // The set holds the support, so R = Y - X_k W and X_k^T Y = H + G W.
        for (let j = 0; j < k; j++) {
          for (let t = 0; t < T; t++) {
            let v = a.ht.data[t * k + j]!;
            for (let q = 0; q < k; q++) v += a.gram.data[j * k + q]! * a.w.data[q * T + t]!;
            expect(Math.abs(a.xty!.data[j * T + t]! - v), `${name}: row ${j}, task ${t}`).to.be.at.most(1e-9 * Math.max(1, Math.abs(v)));
          }
        }
        calls++;
        return kernels().mtenetGramSolve(a);
      };
      const st = new EnetState(K, p);
      let r: IteratorResult<unknown, { converged: boolean }> | undefined;
      for (const fraction of [0.2, 0.05]) {
        const gen = solveEnet(K, p, st, settings(fraction * l1Max(p), 0, 1e-6, { innerForm: 'gram' }));
        r = gen.next();
        while (!r.done) r = gen.next();
        expect(r.value.converged).to.equal(true);
      }
      expect(calls, name).to.be.at.least(2);
    }
  });

  it('a continued residual-form call that ends unconverged returns its kept residual and that residual\'s parts; a last call ends exact', () => {
    const [n, k, T] = [120, 90, 3];
    const rng = new Rng(5);
    const xs = randMatrix(rng, k, n);
    const yt = randMatrix(rng, T, n);
    for (const continues of [true, false]) {
      const K = kernels();
      const w: M = { rows: k, cols: T, data: new Float64Array(k * T) };
      const rt: M = { rows: T, cols: n, data: yt.data.slice() };
      const h: M = { rows: k, cols: T, data: new Float64Array(k * T) };
      // Seven sweeps of a long solve: it ends between two checks, unconverged.
      const r = K.mtenetResidualSolve({ xs, yt, rt, w, h, l1Reg: 1e-3, l2Reg: 0, tol: 0, maxSweeps: 7, continues });
      expect(r.converged).to.equal(false);
      let rr = 0;
      for (const v of rt.data) rr += v * v;
      expect(Math.abs(r.rNormSq - rr)).to.be.at.most(1e-12 * rr);
      const exact: M = { rows: T, cols: n, data: new Float64Array(T * n) };
      const parts = K.cdResidual(xs, w, yt, exact);
      // Kept or recomputed, the residual is Y - X W up to the rounding of its updates.
      let diff = 0;
      for (let q = 0; q < T * n; q++) diff = Math.max(diff, Math.abs(rt.data[q]! - exact.data[q]!));
      expect(diff).to.be.at.most(1e-10 * Math.sqrt(parts.rNormSq));
      if (!continues) expect(Array.from(rt.data)).to.deep.equal(Array.from(exact.data));
    }
  });

  it('refuses to extrapolate before K + 1 iterates, and on a stalled sequence', () => {
    const acc = new Anderson(2, 4);
    const out = new Float64Array(4);
    acc.push(new Float64Array(4).fill(1));
    expect(acc.extrapolate(out)).to.equal(false);
    acc.push(new Float64Array(4).fill(1));
    acc.push(new Float64Array(4).fill(1));
    expect(acc.extrapolate(out)).to.equal(false);
  });
});

describe('working sets and the column pool', () => {
  // A pool holding features 2, 5, 7, 9 and 11 (gathered in that order) of a 12-feature design.
  const pooledOf = (): ColumnPool => {
    const { X, Y } = problem(7, 30, 12, 2, 3);
    const pool = new ColumnPool(kernels(), prepareProblem(kernels(), X, Y, true).design, 30);
    pool.take(Int32Array.from([2, 5, 7, 9, 11]), 'gram');
    return pool;
  };
  const allActive = new Uint8Array(12).fill(1);

  it('a set that leaves out a few active pooled features takes them too, and the pool then hands out views', () => {
    const pool = pooledOf();
    const ws = withPooled(kernels(), Int32Array.from([0, 2, 5, 7, 9]), pool, allActive);
    expect([...ws]).to.deep.equal([0, 2, 5, 7, 9, 11]);
    const taken = pool.take(ws, 'gram');
    // Every pooled feature is in the set: the Gram matrix is the pool's own buffer, in slot order,
    // computed from X in place (no column gathered).
    expect([...taken.features]).to.deep.equal([2, 5, 7, 9, 11, 0]);
    expect(taken.xws).to.equal(undefined);
    expect(taken.gram!.rows).to.equal(6);
    expect(pool.take(ws, 'gram').gram!.data.buffer).to.equal(taken.gram!.data.buffer);
  });

  it('holds the Gram matrix and the gathered columns of the pooled features, in slot order or in the set order', () => {
    const { X, Y } = problem(7, 30, 12, 2, 3);
    const { design } = prepareProblem(kernels(), X, Y, true);
    const pool = new ColumnPool(kernels(), design, 30);
    pool.take(Int32Array.from([2, 5, 7]), 'gram');
    // Two more features, then a set in another order: Gram entries and columns against their definition.
    const grown = pool.take(Int32Array.from([2, 5, 7, 9, 0]), 'gram');
    expect([...grown.features]).to.deep.equal([2, 5, 7, 9, 0]);
    const ws = Int32Array.from([9, 2, 0, 5]);
    const gram = pool.take(ws, 'gram').gram!;
    const { xws } = pool.take(ws, 'columns');
    const col = (j: number): number[] => Array.from({ length: 30 }, (_, i) => X.data[i * 12 + j]! - design.mean[j]!);
    const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
    const expectClose = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number): void => {
      expect(got.length).to.equal(want.length);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).to.be.at.most(tol * Math.max(1, Math.abs(want[i]!)));
    };
    for (let a = 0; a < 4; a++) {
      expectClose(xws!.data.subarray(a * 30, (a + 1) * 30), col(ws[a]!), 1e-12);
      for (let b = 0; b < 4; b++) expectClose([gram.data[a * 4 + b]!], [dot(col(ws[a]!), col(ws[b]!))], 1e-10);
    }
    // The pooled set as a whole: columns handed out as a view of the pool.
    const all = pool.take(Int32Array.from([2, 5, 7, 9, 0]), 'columns');
    expect([...all.features]).to.deep.equal([2, 5, 7, 9, 0]);
    expectClose(all.xws!.data.subarray(4 * 30, 5 * 30), col(0), 1e-12);
  });

  it('gathers the columns of growing sets into one buffer, allocated once with room for every feature', () => {
    // 40 features of 30 rows fit the first buffer's room: the sets' views all share it, and a
    // column gathered first still holds its values after the sets grew past the first capacity.
    const { X, Y } = problem(8, 30, 40, 2, 3);
    const { design } = prepareProblem(kernels(), X, Y, true);
    const pool = new ColumnPool(kernels(), design, 30);
    const first = pool.take(Int32Array.from([3, 17]), 'columns').xws!;
    // Nested sets (each holds every pooled feature), so that each take is a view of the pool.
    const order = [3, 17, ...Array.from({ length: 40 }, (_, j) => j).filter((j) => j !== 3 && j !== 17)];
    const sets = [5, 12, 25, 40].map((k) => pool.take(Int32Array.from(order.slice(0, k)), 'columns'));
    for (const { xws } of sets) expect(xws!.data.buffer).to.equal(first.data.buffer);
    const last = sets.at(-1)!;
    expect(last.xws!.rows).to.equal(40);
    for (let a = 0; a < 40; a++) {
      const j = last.features[a]!;
      for (let i = 0; i < 30; i++) expect(Math.abs(last.xws!.data[a * 30 + i]! - (X.data[i * 40 + j]! - design.mean[j]!))).to.be.at.most(1e-12);
    }
  });

  it('counts the Gram entries a Gram-form take would compute: a row per feature without one, against every pooled feature', () => {
    const pool = pooledOf();
    expect(pool.gramEntriesToFill(Int32Array.from([2, 5, 7, 9, 11]))).to.equal(0);
    // A new feature: its row against the six features then pooled.
    expect(pool.gramEntriesToFill(Int32Array.from([2, 4]))).to.equal(6);
    // 1 and 3 pooled with their columns only (a residual-form solve), 4 not pooled at all: three rows
    // of eight, although the set [1, 4] holds only two of them.
    pool.take(Int32Array.from([1, 2, 3, 5, 7, 9, 11]), 'columns');
    expect(pool.gramEntriesToFill(Int32Array.from([1, 2, 3, 4]))).to.equal(3 * 8);
    expect(pool.gramEntriesToFill(Int32Array.from([1, 4]))).to.equal(3 * 8);
    // The take computes what was counted: afterwards only 4's row is missing.
    pool.take(Int32Array.from([1, 2, 3, 5, 7, 9, 11]), 'gram');
    expect(pool.gramEntriesToFill(Int32Array.from([1, 2, 3, 4]))).to.equal(8);
    expect(pool.gramEntriesToFill(Int32Array.from([1, 2, 3]))).to.equal(0);
  });

  it('takes left-out pooled features beyond a quarter of the set while the set stays within the room given', () => {
    const pool = pooledOf();
    // [1, 3, 4, 11] leaves out four pooled features (2, 5, 7 and 9): the eight fit a room of eight.
    expect([...withPooled(kernels(), Int32Array.from([1, 3, 4, 11]), pool, allActive, 8)]).to.deep.equal([1, 2, 3, 4, 5, 7, 9, 11]);
    expect([...withPooled(kernels(), Int32Array.from([1, 3, 4, 11]), pool, allActive, 7)]).to.deep.equal([1, 3, 4, 11]);
  });

  it('keeps the set as it is when a left-out pooled feature was screened, or when too many are left out', () => {
    const pool = pooledOf();
    const screened = allActive.slice();
    screened[11] = 0;
    expect([...withPooled(kernels(), Int32Array.from([0, 2, 5, 7, 9]), pool, screened)]).to.deep.equal([0, 2, 5, 7, 9]);
    // Four features left out of a set of four: more than a quarter of it.
    expect([...withPooled(kernels(), Int32Array.from([1, 3, 4, 11]), pool, allActive)]).to.deep.equal([1, 3, 4, 11]);
    expect([...withPooled(kernels(), Int32Array.from([2, 5, 7, 9, 11]), pool, allActive)]).to.deep.equal([2, 5, 7, 9, 11]);
  });
});

/**
 * Solve at l1Reg (tol 1e-4) with kernels K, recording the size of every working set; the run must
 * converge.
 */
function solveCountingSets(
  K: Kernels, p: EnetProblem, l1Reg: number, tol = 1e-4, extra: Partial<SolveSettings> = {},
): { sizes: number[]; sweeps: number; support: number; objective: number; gap: number } {
  const sizes: number[] = [];
  const counted = Object.create(K) as Kernels;
  counted.cdWorkingSet = (a) => {
    const m = K.cdWorkingSet(a);
    sizes.push(m);
    return m;
  };
  const st = new EnetState(counted, p);
  const gen = solveEnet(counted, p, st, settings(l1Reg, 0, tol, extra));
  let r = gen.next();
  while (!r.done) r = gen.next();
  expect(r.value.converged).to.equal(true);
  return { sizes, sweeps: r.value.nIter, support: st.supportSize, objective: objective(p, st.w.data, l1Reg, 0), gap: r.value.gap };
}

/** The kernels, with the arguments of every cdWorkingSet call changed by `change`. */
function withSetArgs(change: (a: CdWorkingSetArgs) => CdWorkingSetArgs): Kernels {
  const k = Object.create(kernels()) as Kernels;
  k.cdWorkingSet = (a) => kernels().cdWorkingSet(change(a));
  return k;
}

/** The kernels, but given no violation level: the set grows from the support by doubling it. */
function withoutViolation(): Kernels {
  return withSetArgs(({ violation: _, ...a }) => a);
}

/**
 * The kernels, but asked for no larger working set than the smallest and given no violation level
 * or limit after a full set (the kernel then takes twice the support): plain doubling.
 */
function doublingOnly(): Kernels {
  return withSetArgs(({ violation: _, fullSetLimit: __, ...a }) => ({ ...a, minSize: Math.min(a.minSize, MIN_WORKING_SET) }));
}

/**
 * The planted problem(seed, n, d, T, k) with an intercept, solved at `fraction` of its largest
 * regularisation by the kernels and by `baseline` (solveCountingSets).
 */
function plantedSolves(seed: number, n: number, d: number, T: number, k: number, fraction: number, baseline: Kernels) {
  const { X, Y } = problem(seed, n, d, T, k);
  const p = prepareProblem(kernels(), X, Y, true);
  const l1Reg = fraction * Math.max(...p.xtyNorms);
  return { solved: solveCountingSets(kernels(), p, l1Reg), baseline: solveCountingSets(baseline, p, l1Reg) };
}

describe('working sets on columns of unequal scales', () => {
  /**
   * Celer's ranking of the candidates, (1 - xi_j / scale) / ||X_j|| ascending, as the kernel ranked
   * them before: the kernel run on xi'_j = (xi_j / scale - 1) / ||X_j||, whose largest values are
   * those smallest scores (the strong-rule threshold, which reads xi, is Infinity in a single solve).
   */
  function celerRanking(K: Kernels, colNormSq: Float64Array): Kernels {
    const ranked = Object.create(K) as Kernels;
    ranked.cdWorkingSet = (a) => {
      expect(a.strong).to.equal(Infinity);
      let scale = 0;
      for (let j = 0; j < a.xi.length; j++) if (a.active[j]) scale = Math.max(scale, a.xi[j]!);
      return K.cdWorkingSet({ ...a, xi: a.xi.map((v, j) => (v / scale - 1) / Math.sqrt(colNormSq[j]!)) });
    };
    return ranked;
  }

  it('ranks the candidates by their violation, not by their distance to the constraint: smaller working sets and no more of them, same optimum', () => {
    // Column j scaled by exp((j mod 11) / 3 - 1.5), 0.22 to 6.2: unstandardised features.
    const [n, d, T] = [300, 200, 3];
    const rng = new Rng(5);
    const X: M = { rows: n, cols: d, data: new Float64Array(n * d) };
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) X.data[i * d + j] = rng.normal() * Math.exp((j % 11) / 3 - 1.5) + (j % 4);
    const Y = randMatrix(rng, n, T);
    for (const j of rng.permutation(d).subarray(0, 10)) {
      for (let t = 0; t < T; t++) {
        const c = rng.normal();
        for (let i = 0; i < n; i++) Y.data[i * T + t]! += c * X.data[i * d + j]!;
      }
    }
    const p = prepareProblem(kernels(), X, Y, true);
    const l1Reg = 0.02 * Math.max(...p.xtyNorms);
    const outer = (K: Kernels) => {
      const r = solveCountingSets(K, p, l1Reg);
      return { sets: r.sizes.length, features: r.sizes.reduce((a, b) => a + b, 0), objective: r.objective };
    };
    const byViolation = outer(kernels());
    const byDistance = outer(celerRanking(kernels(), p.design.colNormSq));
    expect(byViolation.sets, 'working sets, ranked by violation').to.be.at.most(2);
    expect(byViolation.sets, 'no more than by Celer\'s distance').to.be.at.most(byDistance.sets);
    // Celer's ranking puts the small columns' features first and needs far larger sets to catch the violators.
    expect(byViolation.features, 'features solved over, summed over the sets').to.be.below(0.75 * byDistance.features);
    expect(byViolation.objective).to.be.closeTo(byDistance.objective, 1e-3 * byDistance.objective);
  });
});

describe('working sets of a dense solution', () => {
  it('grows a set four times past the support after a full one, doubles it otherwise', () => {
    expect(afterFullSet(50, 50, 1000)).to.equal(200);
    expect(afterFullSet(45, 50, 1000)).to.equal(180);
    expect(afterFullSet(44, 50, 1000), 'a set that did not fill up').to.equal(0);
    expect(afterFullSet(0, 0, 1000), 'the first set').to.equal(0);
    expect(afterFullSet(100, 100, 338), 'past n samples: to n').to.equal(338);
    expect(afterFullSet(200, 200, 300), 'doubling at least').to.equal(400);
  });

  it('after full working sets, fewer sets and sweeps than doubling, same optimum', () => {
    // 300 x 400 x 4 with 150 planted features at 0.05 of the largest regularisation: the sets of
    // 50 and 100 fill up (doubling: 50, 100, 200, 360).
    const { solved: grown, baseline: doubling } = plantedSolves(5, 300, 400, 4, 150, 0.05, doublingOnly());
    expect(grown.sizes[1], 'the set after the first, full one').to.equal(4 * grown.sizes[0]!);
    expect(grown.sizes.length, 'working sets').to.be.below(doubling.sizes.length);
    expect(grown.sweeps, 'sweeps').to.be.below(doubling.sweeps);
    expect(grown.objective).to.be.closeTo(doubling.objective, 1e-4 * doubling.objective);
  });

  it('after a full set with few violators left, grows by twice their number instead of to four times the support: smaller sets, same optimum', () => {
    // 1800 x 350 x 3 with 75 planted features at 0.3 of the largest regularisation: the first set
    // of 50 fills up, and a few dozen violators remain.
    const fourTimes = withSetArgs(({ fullSetLimit, ...a }) => ({ ...a, minSize: Math.max(a.minSize, fullSetLimit ?? 0) }));
    const { solved: grown, baseline: quadrupled } = plantedSolves(8, 1800, 350, 3, 75, 0.3, fourTimes);
    expect(grown.sizes[0], 'the first set').to.equal(MIN_WORKING_SET);
    expect(quadrupled.sizes[1], 'four times the full first set').to.equal(4 * MIN_WORKING_SET);
    expect(grown.sizes[1], 'the set after the full first one').to.be.below(quadrupled.sizes[1]!).and.at.least(2 * MIN_WORKING_SET);
    expect(grown.sizes[1], 'it holds the support at the optimum').to.be.at.least(grown.support);
    expect(grown.sizes.length, 'working sets').to.be.at.most(quadrupled.sizes.length);
    expect(Math.abs(grown.objective - quadrupled.objective)).to.be.at.most(Math.max(grown.gap, quadrupled.gap));
  });

  it('tells a dense solution by a full working set whose doubled support reaches half the active features', () => {
    expect(denseSolution(100, 100, 400)).to.equal(true);
    expect(denseSolution(90, 100, 360)).to.equal(true);
    expect(denseSolution(89, 100, 300), 'a set that did not fill up').to.equal(false);
    expect(denseSolution(100, 100, 401), 'doubling stays below half the active features').to.equal(false);
    expect(denseSolution(0, 0, 10), 'the first set').to.equal(false);
  });

  it('takes every active feature once the sets fill up: fewer working sets and sweeps than doubling, same optimum', () => {
    // 240 x 240 x 2 at 0.005 of the largest regularisation: most rows of W end non-zero.
    const d = 240;
    const p = gaussianProblem(240, d, 2, 11, true);
    const l1Reg = 0.005 * Math.max(...p.xtyNorms);
    const dense = solveCountingSets(kernels(), p, l1Reg);
    const doubling = solveCountingSets(doublingOnly(), p, l1Reg);
    expect(dense.support, 'a dense solution').to.be.above(d / 2);
    expect(dense.sizes.at(-1), 'the last set holds every feature').to.equal(d);
    expect(dense.sizes.length, 'working sets').to.be.below(doubling.sizes.length);
    expect(dense.sweeps, 'sweeps').to.be.below(doubling.sweeps);
    expect(dense.objective).to.be.closeTo(doubling.objective, 1e-4 * doubling.objective);
  });
});

describe('working sets near the optimum', () => {
  it('grow from the support by twice its violators when few remain, not by doubling: a smaller last set, same sweeps and optimum', () => {
    // 500 x 800 x 4 with 120 planted features at 0.05 of the largest regularisation: sets of 50 and
    // 200, then a support of 132 with a few violators left (doubling: a set of 270).
    const { solved: grown, baseline: doubling } = plantedSolves(3, 500, 800, 4, 120, 0.05, withoutViolation());
    expect(grown.sizes.length, 'working sets').to.equal(doubling.sizes.length);
    expect(grown.sizes.at(-1), 'the last set').to.be.below(0.75 * doubling.sizes.at(-1)!);
    expect(grown.sizes.at(-1), 'the last set holds the support').to.be.at.least(grown.support);
    expect(grown.sweeps, 'sweeps').to.be.at.most(doubling.sweeps);
    // The same optimum: each objective is within its own duality gap of it (the doubling's last set,
    // 270 features of 500 samples, sweeps by active sets, the grown one's does not: two paths).
    expect(Math.abs(grown.objective - doubling.objective)).to.be.at.most(Math.max(grown.gap, doubling.gap));
  });
});

describe('the inner solves\' tolerance', () => {
  // 80 x 600 x 3 at 0.02 of the largest regularisation: a few hundred non-zero rows, working sets
  // of hundreds of features on 80 samples, where the residual form runs.
  const p = gaussianProblem(80, 600, 3, 23, false);
  const l1Reg = 0.02 * l1Max(p);

  /** solveEnet with every inner call's form, set size and tolerance recorded. */
  const recorded = (s: SolveSettings) => {
    const calls: { form: 'gram' | 'residual'; k: number; tol: number }[] = [];
    const K = Object.create(kernels()) as Kernels;
    K.mtenetGramSolve = (a) => (calls.push({ form: 'gram', k: a.gram.rows, tol: a.tol }), kernels().mtenetGramSolve(a));
    K.mtenetResidualSolve = (a) => (calls.push({ form: 'residual', k: a.w.rows, tol: a.tol }), kernels().mtenetResidualSolve(a));
    const st = new EnetState(K, p);
    const gen = solveEnet(K, p, st, s);
    let r = gen.next();
    while (!r.done) r = gen.next();
    return { calls, result: r.value, w: st.w.data };
  };

  it('in the residual form, once an inner solve has been slow, sets that leave active features out are solved to a fraction of the current gap; the last to the final tolerance', () => {
    const tol = 1e-8;
    const finalTol = 0.3 * tol * p.yNormSq;
    const residual = recorded(settings(l1Reg, 0, tol, { innerForm: 'residual' }));
    const gram = recorded(settings(l1Reg, 0, tol, { innerForm: 'gram' }));
    for (const { calls, result } of [residual, gram]) {
      expect(result.converged).to.equal(true);
      expect(calls.at(-1)!.tol, 'the last set').to.be.closeTo(finalTol, 1e-12 * finalTol);
    }
    // This problem's second set takes dozens of sweeps: the residual form's later sets stop at 0.3 of
    // the gap, the Gram form's at no more than a thousandth of it.
    const loosest = (calls: { tol: number }[]) => Math.max(...calls.map((c) => c.tol));
    expect(loosest(residual.calls)).to.be.greaterThan(1e6 * finalTol);
    expect(loosest(gram.calls)).to.be.below(0.1 * loosest(residual.calls));
    expect(residual.result.nIter, 'fewer sweeps').to.be.below(gram.result.nIter);
    expect(objective(p, residual.w, l1Reg, 0)).to.be.closeTo(objective(p, gram.w, l1Reg, 0), 1e-7 * objective(p, gram.w, l1Reg, 0));
  });

  it('a final tolerance of 0 still lets the working sets grow: the fit reaches the optimum instead of the first set\'s', () => {
    for (const innerForm of ['gram', 'residual'] as const) {
      const { calls, w } = recorded(settings(l1Reg, 0, 0, { innerForm, maxIter: 3000 }));
      expect(new Set(calls.map((c) => c.k)).size, `${innerForm}: working sets`).to.be.greaterThan(1);
      expect(fullGap(p, w, l1Reg, 0), innerForm).to.be.below(1e-9 * p.yNormSq);
    }
  });
});

describe('the smallest working set', () => {
  it('is MIN_WORKING_SET unless its Gram matrix costs more than an outer iteration, and never below the floor', () => {
    expect(minWorkingSetFor(200, 50, 2), 'few samples: the Gram matrix is cheap').to.equal(MIN_WORKING_SET);
    expect(minWorkingSetFor(1500, 800, 15), 'many features and tasks').to.equal(MIN_WORKING_SET);
    expect(minWorkingSetFor(10_000, 50, 50), 'many tasks').to.equal(MIN_WORKING_SET);
    const thin = minWorkingSetFor(20_000, 50, 2);
    expect(thin, 'many samples of few features and tasks').to.be.below(MIN_WORKING_SET).and.at.least(MIN_WORKING_SET_FLOOR);
    expect(minWorkingSetFor(1e9, 1, 1)).to.equal(MIN_WORKING_SET_FLOOR);
    // More samples never make the set larger; more features or tasks never make it smaller.
    let last = Infinity;
    for (const n of [100, 1000, 5000, 20_000, 100_000]) {
      const k = minWorkingSetFor(n, 60, 3);
      expect(k).to.be.at.most(last);
      last = k;
    }
    expect(minWorkingSetFor(20_000, 60, 3)).to.be.at.most(minWorkingSetFor(20_000, 120, 3));
    expect(minWorkingSetFor(20_000, 60, 3)).to.be.at.most(minWorkingSetFor(20_000, 60, 6));
  });

  it('starts from W = 0 at twice the features violating their conditions there when those are few (at least 10), and reaches the optimum', () => {
    for (const [seed, active, fraction] of [[5, 1, 0.3], [6, 3, 0.1]] as const) {
      const { X, Y } = problem(seed, 1600, 90, 5, active);
      const p = prepareProblem(kernels(), X, Y, true);
      const l1Reg = fraction * Math.max(...p.xtyNorms);
      const violators = p.xtyNorms.filter((v) => v >= l1Reg).length;
      expect(2 * violators, 'few violators').to.be.below(minWorkingSetFor(1600, 90, 5));
      const auto = solveCountingSets(kernels(), p, l1Reg, 1e-10);
      const whole = solveCountingSets(kernels(), p, l1Reg, 1e-10, { minWorkingSet: 90 });
      expect(whole.sizes[0], 'minWorkingSet d: every feature at once').to.equal(90);
      expect(auto.sizes[0], `the first working set (${violators} violators)`).to.equal(Math.max(10, 2 * violators));
      expect(auto.objective).to.be.closeTo(whole.objective, 1e-9 * whole.objective);
    }
  });

  it('starts a thin problem (many samples, few features and tasks) below MIN_WORKING_SET and reaches the same optimum', () => {
    const { X, Y } = problem(31, 6000, 48, 2, 6);
    const p = prepareProblem(kernels(), X, Y, true);
    const l1Reg = 0.01 * Math.max(...p.xtyNorms);
    // Enough features violate their conditions at W = 0 that the first set is not cut to twice their number.
    expect(2 * p.xtyNorms.filter((v) => v >= l1Reg).length).to.be.at.least(minWorkingSetFor(6000, 48, 2));
    const auto = solveCountingSets(kernels(), p, l1Reg, 1e-8);
    const fixed = solveCountingSets(kernels(), p, l1Reg, 1e-8, { minWorkingSet: MIN_WORKING_SET });
    expect(fixed.sizes[0], 'MIN_WORKING_SET covers the design').to.equal(48);
    expect(auto.sizes[0], 'the first working set').to.be.below(fixed.sizes[0]!).and.at.least(minWorkingSetFor(6000, 48, 2));
    expect(auto.objective).to.be.closeTo(fixed.objective, 1e-9 * fixed.objective);
  });
});
