/**
 * MultiTaskLasso / MultiTaskElasticNet and their CV versions: scikit-learn's objective and optimum
 * (the multi-task lasso benchmark problem, and an elastic-net reference computed with scikit-learn 1.2.1), the KKT
 * conditions of the L2,1 problem, cross-backend use, save/load, bad input, abort and event-loop
 * responsiveness.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AbortError, ConfigError, FormatError, NotFittedError, ShapeError, ValueError } from '../lib/core/errors.js';
import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { availableBackends, backend, kernels, rawAddon, setBackend } from '../lib/kernels/index.js';
import { packageRoot } from '../lib/kernels/native.js';
import { MultiTaskElasticNet, MultiTaskLasso } from '../lib/linear/multiTaskElasticNet.js';
import { kFold, MultiTaskElasticNetCV, MultiTaskLassoCV } from '../lib/linear/multiTaskElasticNetCV.js';
import { takeRows } from '../lib/core/matrix.js';
import { gramPays } from '../lib/linear/solvers/workingSet.js';
import * as api from '../lib/index.js';

type M = Matrix<Float64Array>;

/**
 * A deterministic problem: X ~ N(0,1) (n x d), the first `active` rows of W ~ N(0, 4), per-task
 * offsets 1.5 + t, noise 0.5 N(0,1). Y = X W + offsets + noise.
 */
function makeProblem(seed: number, n: number, d: number, T: number, active: number): { X: M; Y: M } {
  const rng = new Rng(seed);
  const X = new Float64Array(n * d);
  const W = new Float64Array(d * T);
  const Y = new Float64Array(n * T);
  for (let i = 0; i < n * d; i++) X[i] = rng.normal();
  for (let j = 0; j < active; j++) for (let t = 0; t < T; t++) W[j * T + t] = rng.normal() * 2;
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < T; t++) {
      let s = 1.5 + t;
      for (let j = 0; j < d; j++) s += X[i * d + j]! * W[j * T + t]!;
      Y[i * T + t] = s + 0.5 * rng.normal();
    }
  }
  return { X: { rows: n, cols: d, data: X }, Y: { rows: n, cols: T, data: Y } };
}

/** Residual R = Y - X coef^T - 1 b^T computed directly (n x T). */
function residual(X: M, Y: M, coef: M, b: Float64Array): Float64Array {
  const { rows: n, cols: d } = X;
  const T = Y.cols;
  const R = new Float64Array(n * T);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < T; t++) {
      let s = b[t]!;
      for (let j = 0; j < d; j++) s += X.data[i * d + j]! * coef.data[t * d + j]!;
      R[i * T + t] = Y.data[i * T + t]! - s;
    }
  }
  return R;
}

/** scikit-learn's objective at (coef, intercept). */
function objective(X: M, Y: M, coef: M, b: Float64Array, alpha: number, l1Ratio: number): number {
  const R = residual(X, Y, coef, b);
  let rss = 0;
  for (const r of R) rss += r * r;
  let l21 = 0;
  let fro = 0;
  for (let j = 0; j < coef.cols; j++) {
    let s = 0;
    for (let t = 0; t < coef.rows; t++) s += coef.data[t * coef.cols + j]! ** 2;
    l21 += Math.sqrt(s);
    fro += s;
  }
  return rss / (2 * X.rows) + alpha * l1Ratio * l21 + ((alpha * (1 - l1Ratio)) / 2) * fro;
}

function nonZeroRows(coef: M): number {
  let nz = 0;
  for (let j = 0; j < coef.cols; j++) {
    let any = false;
    for (let t = 0; t < coef.rows; t++) if (coef.data[t * coef.cols + j] !== 0) any = true;
    if (any) nz++;
  }
  return nz;
}

function relDiff(a: number, b: number): number {
  return Math.abs(a - b) / Math.abs(b);
}

function readF64(path: string): Float64Array {
  const b = readFileSync(path);
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

// The multi-task lasso benchmark problem (X 2000 x 1000, Y 2000 x 20), in the data folder next to
// this repository; its tests run where it is present (CI has it).
const LASSO_DATA = join(packageRoot(), '..', 'shared', 'data', 'w1');
const LASSO_ALPHA = 0.6093889149314188;
const LASSO_OPTIMUM = 124.869862908929;

describe('MultiTaskLasso / MultiTaskElasticNet', function () {
  this.timeout(120_000);

  it('is exported from the package entry point', () => {
    expect(api.MultiTaskLasso).to.equal(MultiTaskLasso);
    expect(api.MultiTaskElasticNet).to.equal(MultiTaskElasticNet);
    expect(api.MultiTaskLassoCV).to.equal(MultiTaskLassoCV);
    expect(api.MultiTaskElasticNetCV).to.equal(MultiTaskElasticNetCV);
    expect(new MultiTaskLasso()).to.be.instanceOf(MultiTaskElasticNet);
  });

  it('has scikit-learn defaults', () => {
    const o = new MultiTaskElasticNet().options;
    expect(o).to.include({ alpha: 1, l1Ratio: 0.5, fitIntercept: true, tol: 1e-4, maxIter: 1000, warmStart: false, selection: 'cyclic' });
    expect(new MultiTaskLasso().options.l1Ratio).to.equal(1);
  });

  it('reaches the benchmark problem\'s optimum (scikit-learn\'s) with 50 non-zero rows', function () {
    if (!existsSync(join(LASSO_DATA, 'X.f64'))) this.skip();
    const X: M = { rows: 2000, cols: 1000, data: readF64(join(LASSO_DATA, 'X.f64')) };
    const Y: M = { rows: 2000, cols: 20, data: readF64(join(LASSO_DATA, 'Y.f64')) };
    const m = new MultiTaskLasso({ alpha: LASSO_ALPHA, fitIntercept: false, tol: 1e-8 }).fitSync(X, Y);
    expect(m.coef.rows).to.equal(20);
    expect(m.coef.cols).to.equal(1000);
    expect(Array.from(m.intercept)).to.deep.equal(new Array(20).fill(0));
    const obj = objective(X, Y, m.coef, m.intercept, LASSO_ALPHA, 1);
    expect(relDiff(obj, LASSO_OPTIMUM)).to.be.below(1e-6);
    expect(nonZeroRows(m.coef)).to.equal(50);
    expect(m.nIter).to.be.within(1, 50);
    expect(m.dualGap).to.be.a('number').and.at.least(0);
    // And the coefficients match scikit-learn's tol=1e-15 solution.
    const Wref = readF64(join(LASSO_DATA, 'W_ref.f64'));
    let maxErr = 0;
    let maxRef = 0;
    for (let j = 0; j < 1000; j++) {
      for (let t = 0; t < 20; t++) {
        maxErr = Math.max(maxErr, Math.abs(m.coef.data[t * 1000 + j]! - Wref[j * 20 + t]!));
        maxRef = Math.max(maxRef, Math.abs(Wref[j * 20 + t]!));
      }
    }
    expect(maxErr / maxRef).to.be.below(1e-3);
  });

  for (const fitIntercept of [false, true]) {
    it(`satisfies the KKT conditions of the L2,1 problem (fitIntercept ${fitIntercept})`, () => {
      for (const [seed, n, d, T] of [
        [1, 50, 20, 3],
        [2, 30, 60, 4],
        [3, 100, 8, 1],
      ] as const) {
        const { X, Y } = makeProblem(seed, n, d, T, 5);
        const alpha = 0.4;
        const m = new MultiTaskLasso({ alpha, fitIntercept, tol: 1e-14, maxIter: 100_000 }).fitSync(X, Y);
        const R = residual(X, Y, m.coef, m.intercept);
        let nonZero = 0;
        for (let j = 0; j < d; j++) {
          const g = new Float64Array(T);
          let wn = 0;
          for (let t = 0; t < T; t++) {
            let s = 0;
            for (let i = 0; i < n; i++) s += X.data[i * d + j]! * R[i * T + t]!;
            g[t] = s / n;
            wn += m.coef.data[t * d + j]! ** 2;
          }
          wn = Math.sqrt(wn);
          if (wn > 0) {
            nonZero++;
            for (let t = 0; t < T; t++) {
              expect(Math.abs(g[t]! - (alpha * m.coef.data[t * d + j]!) / wn), `seed ${seed} row ${j} task ${t}`).to.be.below(1e-6 * alpha);
            }
          } else {
            expect(Math.hypot(...g), `seed ${seed} zero row ${j}`).to.be.at.most(alpha * (1 + 1e-9));
          }
        }
        expect(nonZero).to.be.greaterThan(0);
        if (fitIntercept) {
          // The residual of every task sums to zero at the optimal intercept.
          for (let t = 0; t < T; t++) {
            let s = 0;
            for (let i = 0; i < n; i++) s += R[i * T + t]!;
            expect(Math.abs(s)).to.be.below(1e-8 * n);
          }
        } else {
          expect(Array.from(m.intercept).every((b) => b === 0)).to.equal(true);
        }
      }
    });
  }

  // Reference objectives computed once with scikit-learn 1.2.1 (/usr/bin/python3): the problem
  // makeProblem(2024, 80, 30, 5, 6) written to X.f64 / Y.f64 and
  //   MultiTaskElasticNet(alpha=0.3, l1_ratio=0.7, fit_intercept=fi, tol=1e-14, max_iter=100000).fit(X, Y)
  // then (1/(2n))||Y - X W - b||^2 + 0.21 sum_j ||W_j|| + 0.045 ||W||_F^2 evaluated in numpy
  // (26 sweeps / 12 non-zero rows with the intercept, 38 sweeps / 30 rows without).
  for (const [fitIntercept, reference] of [
    [true, 8.345650890553202],
    [false, 36.548218058932584],
  ] as const) {
    it(`MultiTaskElasticNet matches scikit-learn's optimum (fitIntercept ${fitIntercept})`, () => {
      const { X, Y } = makeProblem(2024, 80, 30, 5, 6);
      const m = new MultiTaskElasticNet({ alpha: 0.3, l1Ratio: 0.7, fitIntercept, tol: 1e-12, maxIter: 100_000 }).fitSync(X, Y);
      expect(relDiff(objective(X, Y, m.coef, m.intercept, 0.3, 0.7), reference)).to.be.below(1e-9);
    });
  }

  it('random selection converges to the same optimum, reproducibly for a seed', () => {
    const { X, Y } = makeProblem(7, 60, 40, 3, 6);
    const opts = { alpha: 0.2, l1Ratio: 0.9, tol: 1e-13, maxIter: 100_000 };
    const cyc = new MultiTaskElasticNet(opts).fitSync(X, Y);
    const r1 = new MultiTaskElasticNet({ ...opts, selection: 'random', seed: 5 }).fitSync(X, Y);
    const r2 = new MultiTaskElasticNet({ ...opts, selection: 'random', seed: 5 }).fitSync(X, Y);
    const fc = objective(X, Y, cyc.coef, cyc.intercept, 0.2, 0.9);
    const fr = objective(X, Y, r1.coef, r1.intercept, 0.2, 0.9);
    expect(relDiff(fr, fc)).to.be.below(1e-9);
    expect(Array.from(r1.coef.data)).to.deep.equal(Array.from(r2.coef.data));
  });

  it('warmStart continues from the previous coefficients', () => {
    const { X, Y } = makeProblem(8, 80, 50, 4, 8);
    const cold = new MultiTaskLasso({ alpha: 0.1, tol: 1e-10, maxIter: 10_000 }).fitSync(X, Y);
    const warm = new MultiTaskLasso({ alpha: 0.1, tol: 1e-10, maxIter: 10_000, warmStart: true }).fitSync(X, Y);
    const before = warm.nIter;
    warm.fitSync(X, Y);
    expect(warm.nIter).to.be.below(before);
    expect(warm.nIter).to.be.at.most(2);
    expect(relDiff(objective(X, Y, warm.coef, warm.intercept, 0.1, 1), objective(X, Y, cold.coef, cold.intercept, 0.1, 1))).to.be.below(1e-9);
    // Without warmStart a refit starts again from zero.
    const coldAgain = cold.nIter;
    cold.fitSync(X, Y);
    expect(cold.nIter).to.equal(coldAgain);
  });

  it('accepts a vector Y as one task, number[][] inputs, and scores R^2', () => {
    const { X, Y } = makeProblem(9, 40, 6, 1, 3);
    const rows = Array.from({ length: 40 }, (_, i) => Array.from(X.data.subarray(i * 6, i * 6 + 6)));
    const y = Array.from(Y.data);
    const m = new MultiTaskLasso({ alpha: 0.01 }).fitSync(rows, y);
    expect(m.coef.rows).to.equal(1);
    const p = m.predict(rows);
    expect([p.rows, p.cols]).to.deep.equal([40, 1]);
    const s = m.score(rows, y);
    expect(s).to.be.within(0.8, 1);
    const m2 = new MultiTaskLasso({ alpha: 0.01 }).fitSync(X, Y);
    expect(m2.score(X, Y)).to.be.closeTo(s, 1e-12);
  });

  it('emits a ConvergenceWarning when maxIter is reached', async () => {
    const { X, Y } = makeProblem(10, 40, 20, 2, 5);
    const warnings: Error[] = [];
    const on = (w: Error): void => void warnings.push(w);
    process.on('warning', on);
    try {
      const m = new MultiTaskLasso({ alpha: 0.01, tol: 0, maxIter: 2 }).fitSync(X, Y);
      expect(m.nIter).to.equal(2);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', on);
    }
    expect(warnings.some((w) => w.name === 'ConvergenceWarning' && /did not converge/.test(w.message))).to.equal(true);
  });

  it('reports progress and fits asynchronously to the same result', async () => {
    const { X, Y } = makeProblem(11, 60, 30, 3, 5);
    const seen: { iter: number; dualGap: number | null }[] = [];
    const a = await new MultiTaskLasso({ alpha: 0.1, tol: 1e-10 }).fit(X, Y, { onProgress: (i) => seen.push(i) });
    const b = new MultiTaskLasso({ alpha: 0.1, tol: 1e-10 }).fitSync(X, Y);
    expect(Array.from(a.coef.data)).to.deep.equal(Array.from(b.coef.data));
    expect(seen.length).to.equal(a.nIter);
    expect(seen.map((s) => s.iter)).to.deep.equal(Array.from({ length: a.nIter }, (_, i) => i + 1));
    expect(seen[seen.length - 1]!.dualGap).to.equal(a.dualGap);
  });

  it('save/load round trip gives identical predictions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtl-'));
    try {
      const { X, Y } = makeProblem(12, 50, 12, 3, 4);
      const en = new MultiTaskElasticNet({ alpha: 0.05, l1Ratio: 0.6 }).fitSync(X, Y);
      await en.save(join(dir, 'en.json'));
      const back = await MultiTaskElasticNet.load(join(dir, 'en.json'));
      expect(back).to.be.instanceOf(MultiTaskElasticNet);
      expect(back.options).to.deep.equal(en.options);
      expect(Array.from(back.predict(X).data)).to.deep.equal(Array.from(en.predict(X).data));
      expect([back.nIter, back.dualGap]).to.deep.equal([en.nIter, en.dualGap]);

      const la = new MultiTaskLasso({ alpha: 0.05 }).fitSync(X, Y);
      la.saveSync(join(dir, 'lasso.json'));
      const lb = MultiTaskLasso.loadSync(join(dir, 'lasso.json'));
      expect(lb).to.be.instanceOf(MultiTaskLasso);
      expect(Array.from(lb.predict(X).data)).to.deep.equal(Array.from(la.predict(X).data));
      const viaJSON = MultiTaskLasso.fromJSON(JSON.parse(JSON.stringify(la)));
      expect(Array.from(viaJSON.coef.data)).to.deep.equal(Array.from(la.coef.data));
      // A lasso file is not an elastic-net file.
      expect(() => MultiTaskElasticNet.loadSync(join(dir, 'lasso.json'))).to.throw(FormatError, /MultiTaskLasso/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fits on one backend and predicts on the other', function () {
    if (!availableBackends().includes('native')) this.skip();
    const before = backend().name;
    const { X, Y } = makeProblem(13, 70, 25, 4, 6);
    const nativeHasCd = typeof rawAddon()?.mtenetSweep === 'function';
    try {
      setBackend('js');
      const a = new MultiTaskLasso({ alpha: 0.1, tol: 1e-12 }).fitSync(X, Y);
      const pJs = a.predict(X);
      setBackend('native');
      const pNative = a.predict(X);
      for (let i = 0; i < pJs.data.length; i++) expect(pNative.data[i]).to.be.closeTo(pJs.data[i]!, 1e-10 * (1 + Math.abs(pJs.data[i]!)));
      if (nativeHasCd) {
        const b = new MultiTaskLasso({ alpha: 0.1, tol: 1e-12 }).fitSync(X, Y);
        setBackend('js');
        const pb = b.predict(X);
        for (let i = 0; i < pJs.data.length; i++) expect(pb.data[i]).to.be.closeTo(pJs.data[i]!, 1e-8 * (1 + Math.abs(pJs.data[i]!)));
      }
    } finally {
      setBackend(before);
    }
  });

  describe('bad input', () => {
    const { X, Y } = makeProblem(14, 20, 5, 2, 3);
    const fitted = (): MultiTaskLasso => new MultiTaskLasso({ alpha: 0.1 }).fitSync(X, Y);

    it('rejects NaN and Infinity in X or Y, naming the place', () => {
      const xNaN = { rows: X.rows, cols: X.cols, data: X.data.slice() };
      xNaN.data[7] = NaN;
      expect(() => new MultiTaskLasso().fitSync(xNaN, Y)).to.throw(ValueError, /X has a non-finite value \(NaN\) at row 1, column 2/);
      const yInf = { rows: Y.rows, cols: Y.cols, data: Y.data.slice() };
      yInf.data[3] = Infinity;
      expect(() => new MultiTaskLasso().fitSync(X, yInf)).to.throw(ValueError, /Y has a non-finite value \(Infinity\) at row 1, column 1/);
      expect(() => new MultiTaskLasso().fitSync([[1, 2], [3, -Infinity]], [1, 2])).to.throw(ValueError, /X has a non-finite/);
      expect(() => new MultiTaskLasso().fitSync([[1, 2], [3, 4]], [1, NaN])).to.throw(ValueError, /Y has a non-finite/);
    });

    it('rejects ragged rows and mismatched row counts', () => {
      expect(() => new MultiTaskLasso().fitSync([[1, 2], [3]], [1, 2])).to.throw(ShapeError, /X is ragged: row 1 has 1 values, row 0 has 2/);
      expect(() => new MultiTaskLasso().fitSync([[1, 2], [3, 4]], [[1], [2, 3]])).to.throw(ShapeError, /Y is ragged/);
      expect(() => new MultiTaskLasso().fitSync([[1, 2], [3, 4], [5, 6]], [[1], [2]])).to.throw(ShapeError, /X has 3 rows but Y has 2/);
      expect(() => new MultiTaskLasso().fitSync([], [])).to.throw(ShapeError, /X has no rows/);
      expect(() => new MultiTaskLasso().fitSync([[], []], [1, 2])).to.throw(ShapeError, /X has no columns/);
      expect(() => new MultiTaskLasso().fitSync('abc' as never, [1])).to.throw(ShapeError, /X must be a 2-D array/);
    });

    it('rejects bad options with a ConfigError naming the option', () => {
      expect(() => new MultiTaskLasso({ alpha: -1 })).to.throw(ConfigError, /option 'alpha' must be >= 0, got -1/);
      expect(() => new MultiTaskElasticNet({ l1Ratio: 1.5 })).to.throw(ConfigError, /option 'l1Ratio' must be <= 1/);
      expect(() => new MultiTaskElasticNet({ l1Ratio: -0.1 })).to.throw(ConfigError, /option 'l1Ratio' must be >= 0/);
      expect(() => new MultiTaskLasso({ l1Ratio: 0.5 } as never)).to.throw(ConfigError, /'l1Ratio' is fixed at 1/);
      expect(() => new MultiTaskLasso({ alpah: 1 } as never)).to.throw(ConfigError, /unknown option 'alpah' \(did you mean 'alpha'\?\)/);
      expect(() => new MultiTaskLasso({ alpha: '1' } as never)).to.throw(ConfigError, /option 'alpha' must be a number, got the string "1"/);
      expect(() => new MultiTaskLasso({ fitIntercept: 1 } as never)).to.throw(ConfigError, /option 'fitIntercept' must be true or false/);
      expect(() => new MultiTaskLasso({ maxIter: 2.5 })).to.throw(ConfigError, /option 'maxIter' must be an integer/);
      expect(() => new MultiTaskLasso({ selection: 'shuffle' } as never)).to.throw(ConfigError, /option 'selection' must be one of 'cyclic', 'random'/);
      expect(() => new MultiTaskLasso({ tol: NaN })).to.throw(ConfigError, /option 'tol' must be a number/);
      expect(() => new MultiTaskLasso(42 as never)).to.throw(ConfigError, /options must be an object/);
      expect(() => new MultiTaskLasso().fitSync(X, Y, { signal: 1 } as never)).to.throw(ConfigError, /'signal' must be an AbortSignal/);
      expect(() => new MultiTaskLasso().fitSync(X, Y, { verbose: true } as never)).to.throw(ConfigError, /unknown option 'verbose'/);
    });

    it('needs a fitted model, of the right width', () => {
      const m = new MultiTaskLasso();
      expect(() => m.predict(X)).to.throw(NotFittedError, /MultiTaskLasso is not fitted yet: call fit\(\) before predict\(\)/);
      expect(() => m.coef).to.throw(NotFittedError, /before coef\(\)/);
      expect(() => m.toJSON()).to.throw(NotFittedError);
      const f = fitted();
      expect(() => f.predict([[1, 2, 3]])).to.throw(ShapeError, /X has 3 columns but the model was fitted on 5 features/);
      expect(() => f.predict([[1, 2, 3, 4, NaN]])).to.throw(ValueError, /non-finite/);
      expect(() => f.score(X, [[1, 2]])).to.throw(ShapeError, /X has 20 rows but Y has 1/);
    });

    it('rejects a corrupted or foreign model file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mtl-'));
      try {
        const f = fitted();
        const path = join(dir, 'm.json');
        await f.save(path);
        const text = readFileSync(path, 'utf8');
        // Flip one character inside the coefficients' payload.
        const at = text.indexOf('"base64":"') + '"base64":"'.length + 5;
        const flipped = text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
        writeFileSync(path, flipped);
        await expectReject(MultiTaskLasso.load(path), FormatError, /corrupted: its checksum does not match/);
        writeFileSync(path, text.slice(0, 100));
        await expectReject(MultiTaskLasso.load(path), FormatError, /not valid JSON/);
        writeFileSync(path, JSON.stringify({ hello: 1 }));
        await expectReject(MultiTaskLasso.load(path), FormatError, /not a metatask model/);
        expect(() => MultiTaskLasso.fromJSON(null)).to.throw(FormatError);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('leaves a fitted model unchanged when a later fit fails', () => {
      const f = fitted();
      const coef = Array.from(f.coef.data);
      expect(() => f.fitSync([[1, NaN]], [1])).to.throw(ValueError);
      expect(() => f.fitSync(X, [[1]])).to.throw(ShapeError);
      expect(Array.from(f.coef.data)).to.deep.equal(coef);
      expect(f.predict(X).cols).to.equal(2);
    });
  });

  describe('async fit', () => {
    // Fewer samples than features at a small alpha: coordinate descent creeps, and at tol 0 the
    // duality gap never reaches zero, so the fit runs its maxIter sweeps.
    const big = makeProblem(15, 100, 300, 5, 20);

    it('aborts with an AbortError and keeps the previous coefficients', async () => {
      const { X, Y } = makeProblem(16, 400, 300, 5, 20);
      const m = new MultiTaskLasso({ alpha: 0.01, tol: 1e-14, maxIter: 100_000 });
      const first = makeProblem(17, 60, 300, 5, 20);
      await m.fit(first.X, first.Y);
      const coef = Array.from(m.coef.data);
      const nIter = m.nIter;
      const ac = new AbortController();
      let calls = 0;
      await expectReject(
        m.fit(X, Y, { signal: ac.signal, onProgress: () => { if (++calls === 3) ac.abort(); } }),
        AbortError,
        /aborted/,
      );
      expect(calls).to.equal(3);
      expect(Array.from(m.coef.data)).to.deep.equal(coef);
      expect(m.nIter).to.equal(nIter);
      // An already aborted signal rejects before any work.
      await expectReject(new MultiTaskLasso().fit(X, Y, { signal: AbortSignal.abort() }), AbortError, /aborted/);
    });

    it('keeps the event loop responsive during a long fit', async () => {
      const { X, Y } = big;
      let ticks = 0;
      let ticksDuringFit = 0;
      let fitting = true;
      const timer = setInterval(() => {
        ticks++;
        if (fitting) ticksDuringFit++;
      }, 1);
      try {
        // tol 0: runs all 3,000 sweeps (and warns), over a hundred milliseconds, long enough to
        // need many yields (the sweeps run on working sets, tens of microseconds each).
        const m = new MultiTaskLasso({ alpha: 0.001, tol: 0, maxIter: 3_000 });
        let sweeps = 0;
        await m.fit(X, Y, { onProgress: () => void sweeps++ });
        fitting = false;
        expect(sweeps).to.equal(3_000);
      } finally {
        clearInterval(timer);
      }
      expect(ticksDuringFit).to.be.greaterThan(0);
      expect(ticks).to.equal(ticksDuringFit);
    });
  });
});

describe('MultiTaskLassoCV / MultiTaskElasticNetCV', function () {
  this.timeout(120_000);
  const { X, Y } = makeProblem(21, 90, 25, 3, 5);

  it('picks an alpha from scikit-learn\'s grid; msePath is nAlphas x folds; the first alpha zeroes everything', () => {
    const cv = new MultiTaskLassoCV({ nAlphas: 20, cv: 3 }).fitSync(X, Y);
    expect(cv.alphas.length).to.equal(20);
    for (let i = 1; i < 20; i++) expect(cv.alphas[i]).to.be.below(cv.alphas[i - 1]!);
    expect(cv.alphas[19]! / cv.alphas[0]!).to.be.closeTo(1e-3, 1e-12);
    expect(Array.from(cv.alphas)).to.include(cv.alpha);
    expect(cv.l1Ratio).to.equal(1);
    expect([cv.msePath.rows, cv.msePath.cols]).to.deep.equal([20, 3]);
    expect(Array.from(cv.msePath.data).every((v) => Number.isFinite(v) && v > 0)).to.equal(true);
    // The chosen alpha minimises the mean held-out MSE.
    const mean = (i: number): number => (cv.msePath.data[i * 3]! + cv.msePath.data[i * 3 + 1]! + cv.msePath.data[i * 3 + 2]!) / 3;
    const best = cv.alphas.indexOf(cv.alpha);
    for (let i = 0; i < 20; i++) expect(mean(best)).to.be.at.most(mean(i));
    // alpha_max: all coefficients zero there (to rounding: the grid's top is
    // 10^log10(max_j ||X_j^T Y|| / n), as in scikit-learn, which can exceed the exact threshold
    // by an ulp), and not just below it.
    const top = new MultiTaskLasso({ alpha: cv.alphas[0]! }).fitSync(X, Y);
    expect(Math.max(...Array.from(top.coef.data, Math.abs))).to.be.at.most(1e-12);
    const below = new MultiTaskLasso({ alpha: cv.alphas[0]! * 0.99 }).fitSync(X, Y);
    expect(nonZeroRows(below.coef)).to.be.greaterThan(0);
    // The refit equals a plain fit at the chosen alpha.
    const plain = new MultiTaskLasso({ alpha: cv.alpha }).fitSync(X, Y);
    expect(Array.from(cv.coef.data)).to.deep.equal(Array.from(plain.coef.data));
    expect(cv.score(X, Y)).to.be.greaterThan(0.5);
  });

  // The held-out errors come from the support only, and a fold's paths read X once for its Gram
  // matrix when that pays: both must give each fold's error at its solution.
  const msePathCases: [string, number, number, boolean, 'lasso' | 'enet', boolean][] = [
    ['few features: the whole Gram matrix, with intercept', 25, 3, true, 'lasso', true],
    ['more features, one task: X read by every solve, no intercept', 50, 1, false, 'lasso', false],
    ['few features, elastic net 0.5, no intercept', 20, 2, false, 'enet', true],
  ];
  for (const [name, d, T, fitIntercept, model, gram] of msePathCases) {
    it(`msePath[i, f] is fold f's held-out MSE at its solution for alphas[i] (${name})`, () => {
      const nAlphas = 6;
      expect(gramPays(d, T, nAlphas), 'the case takes the intended form').to.equal(gram);
      const { X: x, Y: y } = makeProblem(23 + d, 90, d, T, 5);
      const l1Ratio = model === 'lasso' ? 1 : 0.5;
      const cv =
        model === 'lasso'
          ? new MultiTaskLassoCV({ nAlphas, cv: 3, tol: 1e-12, fitIntercept }).fitSync(x, y)
          : new MultiTaskElasticNetCV({ l1Ratio, nAlphas, cv: 3, tol: 1e-12, fitIntercept }).fitSync(x, y);
      const folds = kFold(90, 3, false, new Rng(0));
      folds.forEach(({ train, test }, f) => {
        for (let i = 0; i < nAlphas; i++) {
          const m = new MultiTaskElasticNet({ alpha: cv.alphas[i]!, l1Ratio, tol: 1e-12, fitIntercept }).fitSync(takeRows(x, train), takeRows(y, train));
          const yTe = takeRows(y, test);
          const pred = m.predict(takeRows(x, test));
          let s = 0;
          for (let q = 0; q < yTe.data.length; q++) s += (pred.data[q]! - yTe.data[q]!) ** 2;
          const mse = s / yTe.data.length;
          expect(cv.msePath.data[i * 3 + f], `fold ${f}, alpha ${i}`).to.be.closeTo(mse, 1e-8 * mse);
        }
      });
    });
  }

  it('chooses l1Ratio from a list, accepts user alphas, shuffles with a seed', async () => {
    const cv = await new MultiTaskElasticNetCV({ l1Ratio: [0.2, 0.9], alphas: [0.01, 1, 0.1], cv: 4, shuffle: true, seed: 3 }).fit(X, Y);
    expect([0.2, 0.9]).to.include(cv.l1Ratio);
    expect(Array.from(cv.alphas)).to.deep.equal([1, 0.1, 0.01]);
    expect([0.01, 0.1, 1]).to.include(cv.alpha);
    expect(cv.msePaths.length).to.equal(2);
    expect([cv.msePath.rows, cv.msePath.cols]).to.deep.equal([3, 4]);
    const again = new MultiTaskElasticNetCV({ l1Ratio: [0.2, 0.9], alphas: [0.01, 1, 0.1], cv: 4, shuffle: true, seed: 3 }).fitSync(X, Y);
    expect(Array.from(again.msePaths[0]!.data)).to.deep.equal(Array.from(cv.msePaths[0]!.data));
  });

  it('save/load round trip gives identical predictions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtlcv-'));
    try {
      const cv = new MultiTaskElasticNetCV({ nAlphas: 8, cv: 3 }).fitSync(X, Y);
      cv.saveSync(join(dir, 'cv.json'));
      const back = MultiTaskElasticNetCV.loadSync(join(dir, 'cv.json'));
      expect(Array.from(back.predict(X).data)).to.deep.equal(Array.from(cv.predict(X).data));
      expect(back.alpha).to.equal(cv.alpha);
      expect(Array.from(back.msePath.data)).to.deep.equal(Array.from(cv.msePath.data));
      expect(() => MultiTaskLassoCV.loadSync(join(dir, 'cv.json'))).to.throw(FormatError, /MultiTaskElasticNetCV/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad input', () => {
    expect(() => new MultiTaskLassoCV({ l1Ratio: 0.5 } as never)).to.throw(ConfigError, /'l1Ratio' is fixed at 1/);
    expect(() => new MultiTaskElasticNetCV({ l1Ratio: [0.5, 2] })).to.throw(ConfigError, /option 'l1Ratio' must be a number in \[0, 1\] or a non-empty list/);
    expect(() => new MultiTaskLassoCV({ alphas: [0.1, -1] })).to.throw(ConfigError, /option 'alphas'/);
    expect(() => new MultiTaskLassoCV({ cv: 1 })).to.throw(ConfigError, /option 'cv' must be >= 2/);
    expect(() => new MultiTaskLassoCV({ eps: 0 })).to.throw(ConfigError, /option 'eps'/);
    expect(() => new MultiTaskLassoCV({ cv: 30 }).fitSync([[1], [2], [3]], [1, 2, 3])).to.throw(ValueError, /cannot split 3 samples into cv = 30 folds/);
    expect(() => new MultiTaskElasticNetCV({ l1Ratio: 0 }).fitSync(X, Y)).to.throw(ConfigError, /l1Ratio > 0/);
    expect(() => new MultiTaskLassoCV().predict(X)).to.throw(NotFittedError, /MultiTaskLassoCV is not fitted yet/);
    expect(() => new MultiTaskLassoCV().fitSync(X, [[1]])).to.throw(ShapeError, /X has 90 rows but Y has 1/);
  });
});

async function expectReject(p: Promise<unknown>, cls: new (...a: never[]) => Error, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(cls);
    expect((err as Error).message).to.match(re);
    return;
  }
  expect.fail(`expected a rejection with ${cls.name}`);
}
