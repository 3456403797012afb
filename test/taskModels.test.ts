/**
 * The per-task linear models: closed forms against a direct solve of the full stacked normal
 * equations, optimality conditions at the FISTA solutions (L2,1 KKT; trace norm as a fixed point
 * of the prox-gradient map), logistic separation, cross-backend fit/predict, save/load, CV
 * determinism, bad input at every entry point, and aborts that leave the old model intact.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbortError, ConfigError, FormatError, NotFittedError, ShapeError, ValueError } from '../lib/core/errors.js';
import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { MultiTaskDataset } from '../lib/data/dataset.js';
import { availableBackends, kernels, kernelsFor, setBackend } from '../lib/kernels/index.js';
import { L21Logistic, L21Regression } from '../lib/linear/l21.js';
import { MeanRegularizedRegression } from '../lib/linear/meanRegularized.js';
import { IndependentRidge, PooledRidge } from '../lib/linear/ridge.js';
import { TraceNormRegression } from '../lib/linear/traceNorm.js';
import { centrePerTask, runSync, stackTasks } from '../lib/linear/taskModel.js';
import { solveDense, throwsWith } from './helpers.js';
import { negLossGradient } from './structuredFixtures.js';
import { solveProx } from '../lib/linear/fista.js';

const tmp = mkdtempSync(join(tmpdir(), 'metatask-taskmodels-'));
// Removed when the file's tests end, also when one of them failed.
after(() => rmSync(tmp, { recursive: true, force: true }));

/** T regression tasks of d features sharing part of their weights, with n_t rows each. */
function makeData(seed: number, T = 4, d = 5, sizes = [12, 15, 9, 20], sparse = false): MultiTaskDataset {
  const rng = new Rng(seed);
  const base = Array.from({ length: d }, (_, j) => (sparse && j >= 3 ? 0 : rng.normal()));
  return new MultiTaskDataset(
    Array.from({ length: T }, (_, t) => {
      const n = sizes[t % sizes.length]!;
      const w = base.map((b) => (b === 0 ? 0 : b + 0.3 * rng.normal()));
      const X = Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal()));
      const y = X.map((r) => r.reduce((s, v, j) => s + v * w[j]!, 0) + 0.5 * t + 0.3 * rng.normal());
      return { name: `task${t}`, X, y };
    }),
  );
}

/**
 * Minimise ||Z theta - y||^2 + sum_k pen_k theta_k^2 over the stacked design Z whose row for
 * task t, row x is design(t, x).
 */
function stackedSolve(data: MultiTaskDataset, p: number, design: (t: number, x: number[]) => number[], pen: number[]): number[] {
  const A = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  const b = new Array<number>(p).fill(0);
  data.tasks.forEach((task, t) => {
    const d = task.X.cols;
    for (let i = 0; i < task.X.rows; i++) {
      const z = design(t, Array.from(task.X.data.subarray(i * d, (i + 1) * d)));
      for (let k = 0; k < p; k++) {
        b[k]! += z[k]! * task.y[i]!;
        for (let l = 0; l < p; l++) A[k]![l]! += z[k]! * z[l]!;
      }
    }
  });
  for (let k = 0; k < p; k++) A[k]![k]! += pen[k]!;
  return solveDense(A, b);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('per-task linear models', () => {
  const data = makeData(1);
  const T = data.nTasks;
  const d = data.nFeatures;

  describe('closed forms against the stacked normal equations', () => {
    it('IndependentRidge (with per-task intercepts)', () => {
      const alpha = 0.7;
      const m = new IndependentRidge({ alpha }).fitSync(data);
      // theta = [w_1 .. w_T, b_1 .. b_T]
      const p = T * d + T;
      const theta = stackedSolve(data, p, (t, x) => {
        const z = new Array<number>(p).fill(0);
        x.forEach((v, j) => (z[t * d + j] = v));
        z[T * d + t] = 1;
        return z;
      }, Array.from({ length: p }, (_, k) => (k < T * d ? alpha : 0)));
      expect(maxDiff(m.coef.data, theta.slice(0, T * d))).to.be.below(1e-9);
      expect(maxDiff(m.intercept, theta.slice(T * d))).to.be.below(1e-9);
    });

    it('IndependentRidge without intercept', () => {
      const m = new IndependentRidge({ alpha: 0.3, fitIntercept: false }).fitSync(data);
      const theta = stackedSolve(data, T * d, (t, x) => {
        const z = new Array<number>(T * d).fill(0);
        x.forEach((v, j) => (z[t * d + j] = v));
        return z;
      }, new Array(T * d).fill(0.3));
      expect(maxDiff(m.coef.data, theta)).to.be.below(1e-9);
      expect(Array.from(m.intercept)).to.deep.equal(new Array(T).fill(0));
    });

    it('PooledRidge (one w, one intercept)', () => {
      const alpha = 2;
      const m = new PooledRidge({ alpha }).fitSync(data);
      const theta = stackedSolve(data, d + 1, (_t, x) => [...x, 1], [...new Array(d).fill(alpha), 0]);
      for (let t = 0; t < T; t++) expect(maxDiff(m.coef.data.subarray(t * d, (t + 1) * d), theta.slice(0, d))).to.be.below(1e-9);
      for (let t = 0; t < T; t++) expect(m.intercept[t]).to.be.closeTo(theta[d]!, 1e-9);
    });

    it('MeanRegularizedRegression (w_t = w0 + v_t)', () => {
      const lambda1 = 1.3;
      const lambda2 = 0.4;
      const m = new MeanRegularizedRegression({ lambda1, lambda2 }).fitSync(data);
      // theta = [w0, v_1 .. v_T, b_1 .. b_T]
      const p = d + T * d + T;
      const theta = stackedSolve(data, p, (t, x) => {
        const z = new Array<number>(p).fill(0);
        x.forEach((v, j) => {
          z[j] = v;
          z[d + t * d + j] = v;
        });
        z[d + T * d + t] = 1;
        return z;
      }, Array.from({ length: p }, (_, k) => (k < d ? lambda2 : k < d + T * d ? lambda1 : 0)));
      for (let t = 0; t < T; t++) {
        const wt = theta.slice(0, d).map((w0, j) => w0 + theta[d + t * d + j]!);
        expect(maxDiff(m.coef.data.subarray(t * d, (t + 1) * d), wt)).to.be.below(1e-8);
        expect(m.intercept[t]).to.be.closeTo(theta[d + T * d + t]!, 1e-8);
      }
    });
  });

  /** Per-task residual gradient G[t, j] = X_t[:, j]^T R_t / n_t at the model's solution. */
  const residualGradient = (model: { coef: Matrix<Float64Array>; intercept: Float64Array }, ds: MultiTaskDataset): Float64Array =>
    negLossGradient(ds, model.coef, model.intercept, 'squared').data;

  it('L21Regression satisfies the optimality conditions', () => {
    const ds = makeData(2, 4, 6, [30, 25, 40, 35], true);
    const T = ds.nTasks;
    const d = ds.nFeatures - 1; // indices below use d + 1 = the width
    const alpha = 0.15;
    const m = new L21Regression({ alpha, tol: 1e-15, maxIter: 50000 }).fitSync(ds);
    const G = residualGradient(m, ds);
    let zero = 0;
    for (let j = 0; j < d + 1; j++) {
      let wn = 0;
      let gn = 0;
      for (let t = 0; t < T; t++) {
        wn += m.coef.data[t * (d + 1) + j]! ** 2;
        gn += G[t * (d + 1) + j]! ** 2;
      }
      wn = Math.sqrt(wn);
      gn = Math.sqrt(gn);
      if (wn > 0) {
        // G[:, j] = alpha W[:, j] / ||W[:, j]||
        for (let t = 0; t < T; t++) expect(G[t * (d + 1) + j]!).to.be.closeTo((alpha * m.coef.data[t * (d + 1) + j]!) / wn, 1e-6);
      } else {
        zero++;
        expect(gn).to.be.at.most(alpha + 1e-8);
      }
    }
    expect(zero, 'some features are dropped at this alpha').to.be.greaterThan(0);
    expect(m.history.length).to.equal(m.nIter + 1);
    // Intercepts are unpenalised: every task's residuals sum to zero.
    expect(m.history[m.history.length - 1]).to.be.at.most(m.history[0]!);
  });

  it('TraceNormRegression: the solution is a fixed point of the prox-gradient map', () => {
    const ds = makeData(3, 6, 5, [30, 25, 40, 35, 20, 28]);
    const alpha = 0.2;
    const m = new TraceNormRegression({ alpha, tol: 1e-15, maxIter: 50000 }).fitSync(ds);
    const G = residualGradient(m, ds); // = -grad of the smooth part
    const L = 4;
    const step = { rows: 6, cols: 5, data: m.coef.data.map((w, i) => w + G[i]! / L) };
    const next = kernels().svt(step, alpha / L).result;
    expect(maxDiff(next.data, m.coef.data)).to.be.below(1e-8);
    const rank = kernels().svt(m.coef, 1e-9).rank;
    expect(rank, 'the penalty lowers the rank').to.be.below(5);
  });

  describe('FISTA converges reliably on an ill-conditioned problem', () => {
    /**
     * Like School: tasks of different sizes, and one feature on a 30x larger scale in some tasks
     * only (School's within-school percentages), so the Lipschitz constant is set by a few tasks
     * and the problem is badly conditioned for the others.
     */
    function illConditioned(seed: number): MultiTaskDataset {
      const rng = new Rng(seed);
      const T = 8;
      const d = 6;
      const base = Array.from({ length: d }, (_, j) => (j === 4 ? 0 : rng.normal()));
      return new MultiTaskDataset(
        Array.from({ length: T }, (_, t) => {
          const n = 10 + 7 * t;
          const sc = (j: number) => (j === 0 && t % 3 === 0 ? 30 : 1);
          const w = base.map((b) => (b === 0 ? 0 : b + 0.3 * rng.normal()));
          const X = Array.from({ length: n }, () => Array.from({ length: d }, (_, j) => sc(j) * rng.normal()));
          const y = X.map((r) => r.reduce((s, v, j) => s + (v * w[j]!) / sc(j), 0) + rng.normal());
          return { name: `t${t}`, X, y };
        }),
      );
    }
    const ds = illConditioned(11);
    const p = stackTasks(ds);
    const cases = [
      { C: L21Regression, kind: 'l21' as const, alpha: 0.1 },
      { C: L21Regression, kind: 'l21' as const, alpha: 0.5 },
      { C: TraceNormRegression, kind: 'trace' as const, alpha: 0.1 },
      { C: TraceNormRegression, kind: 'trace' as const, alpha: 0.5 },
    ];

    it('tightening tol moves the solution less and less, and the default tol is already accurate', function () {
      this.timeout(60000);
      for (const { C, alpha } of cases) {
        const tols = [1e-6, 1e-8, 1e-10, 1e-12];
        const fits = tols.map((tol) => new C({ alpha, tol, maxIter: 100000 }).fitSync(ds));
        const ref = fits[fits.length - 1]!;
        const scale = Math.max(...Array.from(ref.coef.data, Math.abs));
        const err = fits.map((m) => maxDiff(m.coef.data, ref.coef.data) / scale);
        const label = `${C.name} alpha ${alpha}: relative coefficient errors ${err.map((e) => e.toExponential(1)).join(', ')}`;
        // Each 100x tighter tol brings the solution closer to the tightest one.
        expect(err[1]!, label).to.be.below(err[0]!);
        expect(err[2]!, label).to.be.below(err[1]!);
        expect(err[2]!, label).to.be.below(1e-4);
        // The default tol (1e-6) gives the same fit quality as tol 1e-12 to far below 0.1 point.
        const def = new C({ alpha }).fitSync(ds);
        expect(Math.abs(def.score(ds) - ref.score(ds)), label).to.be.below(1e-3);
        expect(maxDiff(def.coef.data, fits[0]!.coef.data), label).to.equal(0);
        // The objective trace never increases (rejected steps keep the iterate).
        for (let i = 1; i < ref.history.length; i++) expect(ref.history[i]!).to.be.at.most(ref.history[i - 1]!);
      }
    });

    it('a converged solution is a fixed point: a warm restart from it does not move', function () {
      this.timeout(30000);
      for (const { kind, alpha } of cases) {
        const o = { loss: 'squared' as const, kind, alpha, fitIntercept: true, tol: 1e-12, maxIter: 100000 };
        const first = runSync(solveProx(p, o, null));
        const again = runSync(solveProx(p, o, first));
        expect(again.nIter, `${kind} alpha ${alpha}`).to.be.at.most(20);
        const scale = Math.max(...Array.from(first.coef.data, Math.abs));
        expect(maxDiff(again.coef.data, first.coef.data) / scale, `${kind} alpha ${alpha}`).to.be.below(1e-8);
        expect(maxDiff(again.intercept, first.intercept), `${kind} alpha ${alpha}`).to.be.below(1e-8 * Math.max(1, scale));
      }
    });
  });

  it('L21Logistic separates a simple problem', () => {
    const rng = new Rng(5);
    const tasks = [0, 1, 2].map((t) => {
      const X = Array.from({ length: 60 }, () => [rng.normal(), rng.normal(), rng.normal()]);
      return { name: `c${t}`, X, y: X.map((r) => (r[0]! + 0.5 * t * r[1]! > 0 ? 1 : 0)), type: 'binary' as const };
    });
    const m = new L21Logistic({ alpha: 0.01, maxIter: 3000 }).fitSync(tasks);
    const ds = new MultiTaskDataset(tasks);
    expect(m.score(ds)).to.be.at.least(0.95);
    const p = m.predictProba('c0', [[3, 0, 0], [-3, 0, 0]]);
    expect(p[0]).to.be.above(0.9);
    expect(p[1]).to.be.below(0.1);
    expect(Array.from(m.predict('c0', [[3, 0, 0], [-3, 0, 0]]))).to.deep.equal([1, 0]);
    throwsWith(() => new L21Logistic().fitSync([{ name: 'a', X: [[1], [2]], y: [0, 2] }]), ValueError, /'a'/, /0 or 1/);
  });

  it('score is the pooled explained variance', () => {
    const m = new IndependentRidge({ alpha: 0.1 }).fitSync(data);
    const s = m.score(data);
    let sse = 0;
    const ys: number[] = [];
    for (const t of data.tasks) {
      const p = m.predict(t.name, t.X);
      t.y.forEach((y, i) => {
        sse += (p[i]! - y) ** 2;
        ys.push(y);
      });
    }
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    const v = ys.reduce((a, b) => a + (b - mean) ** 2, 0) / ys.length;
    expect(s).to.be.closeTo(1 - sse / ys.length / v, 1e-12);
  });

  it('fit on one backend, predict on the other', function () {
    const other = availableBackends().includes('native') ? 'native' : null;
    if (!other) this.skip();
    const models = [new IndependentRidge({ alpha: 0.5 }), new MeanRegularizedRegression(), new L21Regression({ alpha: 0.05, tol: 1e-12 })];
    try {
      for (const model of models) {
        setBackend('js');
        model.fitSync(data);
        const pJs = model.predict('task2', data.task('task2').X);
        setBackend('native');
        const pNative = model.predict('task2', data.task('task2').X);
        expect(maxDiff(pJs, pNative)).to.be.below(1e-9);
        // and the other way round
        const again = new (model.constructor as new (o?: unknown) => typeof model)(model.config).fitSync(data);
        setBackend('js');
        expect(maxDiff(again.predict('task2', data.task('task2').X), pJs)).to.be.below(1e-6);
      }
    } finally {
      setBackend(process.env.METATASK_BACKEND === 'native' ? 'native' : 'js');
    }
    void kernelsFor;
  });

  it('save/load round trips every model', async () => {
    const models = [
      new IndependentRidge({ cv: 3, nAlphas: 4 }),
      new PooledRidge({ alpha: 3 }),
      new MeanRegularizedRegression({ lambda1: 2, lambda2: 0.5 }),
      new L21Regression({ alpha: 0.05 }),
      new TraceNormRegression({ alpha: 0.05 }),
    ];
    for (const m of models) {
      m.fitSync(data);
      const path = join(tmp, `${m.constructor.name}.json`);
      await m.save(path);
      const C = m.constructor as unknown as { load(p: string): Promise<typeof m>; fromJSON(doc: unknown): typeof m };
      const back = await C.load(path);
      expect(back.constructor).to.equal(m.constructor);
      expect(Array.from(back.coef.data)).to.deep.equal(Array.from(m.coef.data));
      expect(Array.from(back.intercept)).to.deep.equal(Array.from(m.intercept));
      expect(back.taskNames).to.deep.equal(m.taskNames);
      expect(back.chosen).to.deep.equal(m.chosen);
      expect(back.history).to.deep.equal(m.history);
      expect(Array.from(back.predict('task1', data.task('task1').X))).to.deep.equal(Array.from(m.predict('task1', data.task('task1').X)));
      expect(C.fromJSON(JSON.parse(JSON.stringify(m.toJSON()))).coef.data).to.deep.equal(m.coef.data);
    }
    const m0 = models[0]!;
    expect(Array.from((await IndependentRidge.load(join(tmp, 'IndependentRidge.json'))).cvPath!.meanError)).to.deep.equal(Array.from(m0.cvPath!.meanError));
  });

  it('a corrupted or foreign model file gives a FormatError', async () => {
    const m = new IndependentRidge({ alpha: 1 }).fitSync(data);
    const path = join(tmp, 'corrupt.json');
    const doc = m.toJSON() as unknown as { state: { intercept: { base64: string } } };
    const b = Buffer.from(doc.state.intercept.base64, 'base64');
    b[3] ^= 0xff;
    doc.state.intercept.base64 = b.toString('base64');
    writeFileSync(path, JSON.stringify(doc));
    let err: unknown;
    await IndependentRidge.load(path).catch((e) => (err = e));
    expect(err).to.be.instanceOf(FormatError);
    expect((err as Error).message).to.match(/corrupted/);
    writeFileSync(path, '{"format": "metatask/1", "kind": "Ridge');
    throwsWith(() => IndependentRidge.loadSync(path), FormatError, /not valid JSON/);
    m.saveSync(path);
    throwsWith(() => PooledRidge.loadSync(path), FormatError, /IndependentRidge, not a PooledRidge/);
    expect(JSON.parse(readFileSync(path, 'utf8')).format).to.equal('metatask/1');
  });

  describe('cross-validation', () => {
    it('picks grid values, reports the path, and is deterministic with a seed', () => {
      const a = new IndependentRidge({ cv: 3, seed: 7, alphas: [0.01, 10, 1, 0.1, 100] }).fitSync(data);
      const b = new IndependentRidge({ cv: 3, seed: 7, alphas: [0.01, 10, 1, 0.1, 100] }).fitSync(data);
      const path = a.cvPath!;
      expect(path.grid.map((g) => g.alpha)).to.deep.equal([100, 10, 1, 0.1, 0.01]);
      expect(path.meanError.length).to.equal(5);
      expect(path.foldError.length).to.equal(15);
      expect(a.chosen.alpha).to.equal(path.grid[path.chosenIndex]!.alpha);
      for (let g = 0; g < 5; g++) expect(path.meanError[path.chosenIndex]).to.be.at.most(path.meanError[g]!);
      expect(b.chosen).to.deep.equal(a.chosen);
      expect(Array.from(b.cvPath!.meanError)).to.deep.equal(Array.from(path.meanError));
      const direct = new IndependentRidge({ alpha: a.chosen.alpha }).fitSync(data);
      expect(maxDiff(direct.coef.data, a.coef.data)).to.be.below(1e-12);
    });

    it('MeanRegularizedRegression searches both strengths', () => {
      const m = new MeanRegularizedRegression({ cv: 3, nLambdas: 3 }).fitSync(data);
      expect(m.cvPath!.grid.length).to.equal(9);
      expect(m.chosen).to.have.keys('lambda1', 'lambda2');
    });

    it('L21Regression and TraceNormRegression walk a warm-started path from alpha_max', () => {
      for (const C of [L21Regression, TraceNormRegression]) {
        const m = new C({ cv: 3, nAlphas: 5, seed: 1 }).fitSync(data);
        const grid = m.cvPath!.grid.map((g) => g.alpha);
        expect(grid.length).to.equal(5);
        for (let i = 1; i < 5; i++) expect(grid[i]).to.be.below(grid[i - 1]!);
        // At alpha_max the solution is W = 0.
        const top = new C({ alpha: grid[0]! * 1.0001 }).fitSync(data);
        expect(Math.max(...Array.from(top.coef.data, Math.abs))).to.be.below(1e-10);
        const again = new C({ cv: 3, nAlphas: 5, seed: 1 }).fitSync(data);
        expect(again.chosen).to.deep.equal(m.chosen);
      }
    });
  });

  describe('bad input at every entry point', () => {
    const good = [
      { name: 'a', X: [[1, 2], [2, 1], [3, 3]], y: [1, 2, 3] },
      { name: 'b', X: [[0, 1], [1, 0]], y: [0, 1] },
    ];
    const ctors = [IndependentRidge, PooledRidge, MeanRegularizedRegression, L21Regression, TraceNormRegression, L21Logistic];
    it('options: unknown option, wrong type, negative strength, bad cv', () => {
      for (const C of ctors) {
        throwsWith(() => new C({ alpah: 1 } as never), ConfigError, /unknown option 'alpah'/);
        throwsWith(() => new C({ fitIntercept: 'yes' } as never), ConfigError, /fitIntercept/, /true or false/);
        throwsWith(() => new C({ cv: 1 } as never), ConfigError, /cv/);
        throwsWith(() => new C('fast' as never), ConfigError, /must be an object/);
      }
      for (const C of [IndependentRidge, PooledRidge, L21Regression, TraceNormRegression, L21Logistic]) {
        throwsWith(() => new C({ alpha: -1 }), ConfigError, /'alpha' must be >= 0/);
        throwsWith(() => new C({ alpha: '1' } as never), ConfigError, /'alpha' must be a number/);
        throwsWith(() => new C({ alphas: [1, -2] }), ConfigError, /'alphas'/);
      }
      throwsWith(() => new MeanRegularizedRegression({ lambda1: -1 }), ConfigError, /'lambda1'/);
      throwsWith(() => new MeanRegularizedRegression({ lambda2: 0 }), ConfigError, /'lambda2' must be > 0/);
    });
    it('data: NaN, Infinity, ragged rows, mismatched lengths, empty task, widths, duplicates', () => {
      const cases: [unknown, Function, RegExp][] = [
        [[{ name: 'a', X: [[1, NaN]], y: [1] }], ValueError, /task 'a'.*row 0/],
        [[{ name: 'a', X: [[1, 2]], y: [Infinity] }], ValueError, /y of task 'a'.*non-finite/],
        [[{ name: 'a', X: [[1, 2], [1]], y: [1, 2] }], ShapeError, /ragged/],
        [[{ name: 'a', X: [[1, 2], [1, 3]], y: [1] }], ShapeError, /2 rows but y has 1/],
        [[{ name: 'a', X: [], y: [] }], ValueError, /'a' has no rows/],
        [[{ name: 'a', X: [[1, 2]], y: [1] }, { name: 'b', X: [[1]], y: [1] }], ShapeError, /different widths/],
        [[{ name: 'a', X: [[1, 2]], y: [1] }, { name: 'a', X: [[1, 2]], y: [1] }], ValueError, /duplicate task name 'a'/],
        [[], ValueError, /at least one task/],
        ['data', ValueError, /MultiTaskDataset or an array/],
      ];
      for (const C of [IndependentRidge, MeanRegularizedRegression, L21Regression]) {
        for (const [input, cls, re] of cases) throwsWith(() => new C().fitSync(input as never), cls, re);
      }
    });
    it('predict: not fitted, unknown task, wrong width, bad X', () => {
      throwsWith(() => new IndependentRidge().predict('a', [[1, 2]]), NotFittedError, /not fitted/);
      throwsWith(() => new IndependentRidge().coef, NotFittedError, /coef/);
      const m = new IndependentRidge().fitSync(good);
      throwsWith(() => m.predict('zz', [[1, 2]]), ValueError, /unknown task 'zz'|unknown task the string "zz"/, /'a', 'b'/);
      throwsWith(() => m.predict('a', [[1, 2, 3]]), ShapeError, /3 columns/, /fitted on 2/);
      throwsWith(() => m.predict('a', [[1, NaN]]), ValueError, /non-finite/);
      throwsWith(() => m.predict('a', [[1, 2], [3]]), ShapeError, /ragged/);
      throwsWith(() => m.score([{ name: 'c', X: [[1, 2]], y: [1] }]), ValueError, /unknown task/);
    });
    it('fit options: unknown option, wrong signal type', async () => {
      const m = new IndependentRidge();
      let err: unknown;
      await m.fit(good, { sigal: 1 } as never).catch((e) => (err = e));
      expect(err).to.be.instanceOf(ConfigError);
      err = undefined;
      await m.fit(good, { signal: 'stop' } as never).catch((e) => (err = e));
      expect(err).to.be.instanceOf(ConfigError);
    });
    it('a failed fit leaves a fitted model unchanged', () => {
      const m = new MeanRegularizedRegression().fitSync(data);
      const coef = m.coef.data.slice();
      expect(() => m.fitSync([{ name: 'a', X: [[NaN]], y: [1] }])).to.throw(ValueError);
      expect(m.coef.data).to.deep.equal(coef);
      expect(m.taskNames).to.deep.equal(data.names);
    });
  });

  describe('async fit', () => {
    it('yields, reports progress, and gives the same result as fitSync', async () => {
      const progress: number[] = [];
      const m = await new L21Regression({ alpha: 0.05 }).fit(data, { onProgress: (p) => p.iter !== undefined && progress.push(p.iter) });
      const s = new L21Regression({ alpha: 0.05 }).fitSync(data);
      expect(progress.length).to.be.greaterThan(0);
      expect(Array.from(m.coef.data)).to.deep.equal(Array.from(s.coef.data));
    });

    it('an AbortSignal aborts and leaves the old model intact', async () => {
      const m = new TraceNormRegression({ alpha: 0.01, cv: 3 });
      await m.fit(data);
      const coef = m.coef.data.slice();
      const chosen = { ...m.chosen };
      const ac = new AbortController();
      let calls = 0;
      let err: unknown;
      await m
        .fit(makeData(9), {
          signal: ac.signal,
          onProgress: () => {
            if (++calls === 5) ac.abort();
          },
        })
        .catch((e) => (err = e));
      expect(err).to.be.instanceOf(AbortError);
      expect(m.coef.data).to.deep.equal(coef);
      expect(m.chosen).to.deep.equal(chosen);
      err = undefined;
      await m.fit(data, { signal: AbortSignal.abort() }).catch((e) => (err = e));
      expect(err).to.be.instanceOf(AbortError);
      expect(m.coef.data).to.deep.equal(coef);
    });
  });

  it('per-task centring gives the intercepts of an unpenalised bias', () => {
    const p = stackTasks(data);
    const c = centrePerTask(p, true);
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let i = c.p.offsets[t]!; i < c.p.offsets[t + 1]!; i++) s += c.p.y[i]!;
      expect(Math.abs(s)).to.be.below(1e-10);
    }
  });
});
