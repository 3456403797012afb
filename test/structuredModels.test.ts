/**
 * The contract every structured model keeps (ClusteredRegression/Logistic, DirtyRegression,
 * RobustL21Regression/Logistic, LowRankSparseRegression, GraphRegularizedRegression,
 * TemporalGroupRegression): bad input at every entry point, save/load with the fitted parts, the
 * CV grid (default axes, snake order, user axes, warm starts), async fit and abort, and the same
 * fit on both backends. Also the proximal operators of partPenalties.ts and the solver's warm
 * starts.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbortError, ConfigError, FormatError, NotFittedError, ShapeError, ValueError } from '../lib/core/errors.js';
import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import type { MultiTaskDataset } from '../lib/data/dataset.js';
import { availableBackends, kernels, setBackend } from '../lib/kernels/index.js';
import { ClusteredLogistic, ClusteredRegression } from '../lib/linear/clustered.js';
import { DirtyRegression } from '../lib/linear/dirty.js';
import { GraphRegularizedRegression } from '../lib/linear/graphRegularized.js';
import { LowRankSparseRegression } from '../lib/linear/lowRankSparse.js';
import { PART_PENALTIES, type PartPenaltyName } from '../lib/linear/partPenalties.js';
import { RobustL21Logistic, RobustL21Regression } from '../lib/linear/robustL21.js';
import { solveStructured, type Structure } from '../lib/linear/structuredSolver.js';
import type { StructuredTaskModel } from '../lib/linear/structuredModel.js';
import { TemporalGroupRegression } from '../lib/linear/temporalGroup.js';
import { runSync, stackTasks } from '../lib/linear/taskModel.js';
import { maxAbs, randMatrix, relErr, throwsWith } from './helpers.js';
import { expectNoDescent, plantedTasks } from './structuredFixtures.js';

type AnyModel = StructuredTaskModel<Record<string, number>, Record<string, unknown>> & Record<string, unknown>;

const tmp = mkdtempSync(join(tmpdir(), 'metatask-structured-'));
// Removed when the file's tests end, also when one of them failed.
after(() => rmSync(tmp, { recursive: true, force: true }));

const rng = new Rng(1);
const W = Array.from({ length: 5 }, (_, t) => Array.from({ length: 4 }, (_, j) => (j < 2 ? 1 + 0.3 * rng.normal() : t === 3 ? rng.normal() : 0)));
const regression = plantedTasks(2, W, { rows: [12, 15, 10], noise: 0.3, intercepts: [0, 1, 0, -1, 2] });
const binary = plantedTasks(3, W.map((w) => w.map((v) => 2 * v)), { rows: 40, logistic: true });

/** Each model with options that make a quick fit, the strengths it has, and the parts it exposes. */
const cases: { C: new (o?: any) => AnyModel; options: Record<string, unknown>; strengths: string[]; parts: string[]; data: MultiTaskDataset }[] = [
  { C: ClusteredRegression as never, options: { clusters: 2 }, strengths: ['lambdaCluster', 'lambdaRidge'], parts: ['taskSimilarity', 'clusterAssignment', 'clusterMembers'], data: regression },
  { C: ClusteredLogistic as never, options: { clusters: 2 }, strengths: ['lambdaCluster', 'lambdaRidge'], parts: ['taskSimilarity', 'clusterAssignment'], data: binary },
  { C: DirtyRegression as never, options: { lambdaGroup: 0.2, lambdaSparse: 0.1 }, strengths: ['lambdaGroup', 'lambdaSparse'], parts: ['groupPart', 'sparsePart'], data: regression },
  { C: RobustL21Regression as never, options: { lambdaGroup: 0.2, lambdaOutlier: 0.3 }, strengths: ['lambdaGroup', 'lambdaOutlier'], parts: ['sharedPart', 'outlierPart', 'outlierTasks'], data: regression },
  { C: RobustL21Logistic as never, options: { lambdaGroup: 0.05, lambdaOutlier: 0.1 }, strengths: ['lambdaGroup', 'lambdaOutlier'], parts: ['sharedPart', 'outlierPart', 'outlierTasks'], data: binary },
  { C: LowRankSparseRegression as never, options: { lambdaRank: 0.2, lambdaSparse: 0.2 }, strengths: ['lambdaRank', 'lambdaSparse'], parts: ['lowRankPart', 'sparsePart', 'outlierTasks'], data: regression },
  { C: GraphRegularizedRegression as never, options: { edges: [[0, 1], [1, 2], [3, 4]], lambdaSparse: 0.05 }, strengths: ['lambdaGraph', 'lambdaSparse', 'lambdaRidge'], parts: [], data: regression },
  { C: TemporalGroupRegression as never, options: { lambdaGroup: 0.1 }, strengths: ['lambdaGroup', 'lambdaTime', 'lambdaRidge'], parts: [], data: regression },
];

describe('structured models: the shared contract', () => {
  it('the public entry point exports every model class', async () => {
    const api = await import('../lib/index.js');
    for (const { C } of cases) expect(api, C.name).to.have.property(C.name, C);
  });

  describe('bad input at every entry point', () => {
    it('options: unknown option (with a suggestion), wrong types, negative strengths, bad grids', () => {
      for (const { C, options, strengths } of cases) {
        const s = strengths[0]!;
        throwsWith(() => new C({ ...options, [`${s}s`]: [1] }), ConfigError, new RegExp(`unknown option '${s}s'`));
        throwsWith(() => new C({ ...options, [s.slice(0, -1)]: 1 }), ConfigError, new RegExp(`did you mean '${s}'`));
        throwsWith(() => new C({ ...options, [s]: -1 }), ConfigError, new RegExp(`'${s}' must be >`));
        throwsWith(() => new C({ ...options, [s]: '1' }), ConfigError, new RegExp(`'${s}' must be a number`));
        throwsWith(() => new C({ ...options, tol: -1 }), ConfigError, /'tol' must be >= 0/);
        throwsWith(() => new C({ ...options, cv: 1 }), ConfigError, /'cv'/);
        throwsWith(() => new C({ ...options, nLambdas: 0 }), ConfigError, /'nLambdas'/);
        throwsWith(() => new C({ ...options, grid: [1, 2] }), ConfigError, /'grid' must be an object/);
        throwsWith(() => new C({ ...options, grid: { [`${s}x`]: [1] } }), ConfigError, new RegExp(`'grid'.*unknown option '${s}x' \\(did you mean '${s}'\\?\\)`));
        throwsWith(() => new C({ ...options, grid: { [s]: [] } }), ConfigError, new RegExp(`'grid'.*'${s}' must be a non-empty array`));
        throwsWith(() => new C({ ...options, grid: { [s]: [1, -1] } }), ConfigError, new RegExp(`'${s}'`));
        throwsWith(() => new C('fast' as never), ConfigError, /must be an object/);
      }
    });

    it('data: NaN, ragged rows, mismatched lengths, empty tasks, widths, labels', () => {
      const bad: [unknown, Function, RegExp][] = [
        [[{ name: 'a', X: [[1, NaN]], y: [1] }], ValueError, /task 'a'.*row 0/],
        [[{ name: 'a', X: [[1, 2], [1]], y: [1, 2] }], ShapeError, /ragged/],
        [[{ name: 'a', X: [[1, 2], [1, 3]], y: [1] }], ShapeError, /2 rows but y has 1/],
        [[{ name: 'a', X: [], y: [] }], ValueError, /'a' has no rows/],
        [[{ name: 'a', X: [[1, 2]], y: [1] }, { name: 'b', X: [[1]], y: [1] }], ShapeError, /different widths/],
        [[], ValueError, /at least one task/],
        [42, ValueError, /MultiTaskDataset or an array/],
      ];
      for (const { C, options } of cases) {
        for (const [input, cls, re] of bad) throwsWith(() => new C(options).fitSync(input as never), cls, re);
      }
      for (const C of [ClusteredLogistic, RobustL21Logistic]) throwsWith(() => new C().fitSync([{ name: 'a', X: [[1], [2]], y: [0, 2] }]), ValueError, /task 'a'.*label/, /row 1/);
    });

    it('fitted attributes, predict and score: not fitted, unknown task, wrong width, bad X', async () => {
      for (const { C, options, parts, data } of cases) {
        const m = new C(options);
        for (const name of ['coef', 'chosen', ...parts]) throwsWith(() => m[name], NotFittedError, /not fitted/);
        throwsWith(() => m.predict('task0', [[1, 2, 3, 4]]), NotFittedError, /not fitted/);
        m.fitSync(data);
        throwsWith(() => m.predict('tsak0', [[1, 2, 3, 4]]), ValueError, /unknown task/, /'task0'/);
        throwsWith(() => m.predict('task0', [[1, 2, 3]]), ShapeError, /3 columns/, /fitted on 4/);
        throwsWith(() => m.predict('task0', [[1, 2, NaN, 4]]), ValueError, /non-finite/);
        throwsWith(() => m.score([{ name: 'other', X: [[1, 2, 3, 4]], y: [1] }]), ValueError, /unknown task/);
        let err: unknown;
        await m.fit(data, { sigal: 1 } as never).catch((e) => (err = e));
        expect(err).to.be.instanceOf(ConfigError);
        expect((err as Error).message).to.match(/unknown option 'sigal'/);
      }
    });

    it('a failed fit leaves a fitted model unchanged', () => {
      for (const { C, options, data } of cases) {
        const m = new C(options).fitSync(data);
        const coef = m.coef.data.slice();
        expect(() => m.fitSync([{ name: 'a', X: [[NaN]], y: [1] }])).to.throw(ValueError);
        expect(m.coef.data).to.deep.equal(coef);
        expect(m.taskNames).to.deep.equal(data.names);
      }
    });
  });

  it('save/load round trips every model with its fitted parts', async () => {
    for (const { C, options, parts, data } of cases) {
      const m = new C(options).fitSync(data);
      const path = join(tmp, `${C.name}.json`);
      await m.save(path);
      const back = await (C as unknown as { load(p: string): Promise<AnyModel> }).load(path);
      expect(back.constructor).to.equal(C);
      expect(Array.from(back.coef.data)).to.deep.equal(Array.from(m.coef.data));
      expect(back.chosen).to.deep.equal(m.chosen);
      expect(back.history).to.deep.equal(m.history);
      for (const name of parts) expect(back[name], `${C.name}.${name}`).to.deep.equal(m[name]);
      const X = data.tasks[1]!.X;
      expect(Array.from(back.predict('task1', X))).to.deep.equal(Array.from(m.predict('task1', X)));
    }
    // A part that is not a matrix any more is a FormatError; so is another model's file.
    const doc = new RobustL21Regression({ lambdaGroup: 0.2 }).fitSync(regression).toJSON() as unknown as { state: { parts: { outliers: unknown } } };
    doc.state.parts.outliers = { rows: 2, cols: 2, data: [1, 2, 3, 4] };
    throwsWith(() => RobustL21Regression.fromJSON(doc), FormatError, /corrupted|parts\.outliers/);
    const path = join(tmp, 'dirty.json');
    writeFileSync(path, JSON.stringify(new DirtyRegression().fitSync(regression).toJSON()));
    throwsWith(() => RobustL21Regression.loadSync(path), FormatError, /holds a DirtyRegression, not a RobustL21Regression/);
  });

  describe('cross-validation', () => {
    it('walks the product of the default axes as a snake and picks the smallest mean error', () => {
      for (const { C, options, strengths, data } of cases) {
        const m = new C({ ...options, cv: 3, nLambdas: 3, cvTol: 1e-5 }).fitSync(data);
        const path = m.cvPath!;
        // Consecutive grid points differ in one strength only (each fit warm-starts from a neighbour).
        for (let g = 1; g < path.grid.length; g++) {
          const changed = strengths.filter((s) => path.grid[g]![s] !== path.grid[g - 1]![s]);
          expect(changed.length, `${C.name} grid ${g}`).to.equal(1);
        }
        expect(new Set(path.grid.map((g) => g[strengths[0]!])).size, `${C.name}: the path axis`).to.equal(3);
        for (let g = 0; g < path.grid.length; g++) expect(path.meanError[path.chosenIndex]!).to.be.at.most(path.meanError[g]!);
        expect(m.chosen).to.deep.equal(path.grid[path.chosenIndex]);
        const again = new C({ ...options, cv: 3, nLambdas: 3, cvTol: 1e-5 }).fitSync(data);
        expect(again.chosen).to.deep.equal(m.chosen);
      }
    });

    it('the path axis starts where its part is zero', () => {
      for (const C of [DirtyRegression, RobustL21Regression, LowRankSparseRegression, TemporalGroupRegression]) {
        const m = new C({ cv: 3, nLambdas: 3 }).fitSync(regression);
        const top = m.cvPath!.grid[0]!;
        const at = new C(Object.fromEntries(Object.entries(top).map(([k, v]) => [k, v * 1.0001])) as never).fitSync(regression);
        expect(maxAbs(at.coef.data), C.name).to.be.below(1e-10);
        const below = new C(Object.fromEntries(Object.entries(top).map(([k, v]) => [k, v * 0.9])) as never).fitSync(regression);
        expect(maxAbs(below.coef.data), C.name).to.be.above(0);
      }
    });

    it('a user axis replaces the default one, or searches a fixed strength', () => {
      const m = new GraphRegularizedRegression({ edges: [[0, 1]], cv: 3, grid: { lambdaGraph: [0.1, 1], lambdaSparse: [0, 0.01, 0.1], lambdaRidge: [0.5] } }).fitSync(regression);
      const grid = m.cvPath!.grid;
      expect(grid.length).to.equal(6);
      expect(grid.map((g) => g.lambdaSparse)).to.deep.equal([0.1, 0.1, 0.01, 0.01, 0, 0]);
      expect(grid.map((g) => g.lambdaGraph)).to.deep.equal([1, 0.1, 0.1, 1, 1, 0.1]);
      for (const g of grid) expect(g.lambdaRidge).to.equal(0.5);
      // Without a grid, lambdaSparse stays at its option value.
      const fixed = new GraphRegularizedRegression({ edges: [[0, 1]], cv: 3, nLambdas: 2, lambdaSparse: 0.02 }).fitSync(regression);
      for (const g of fixed.cvPath!.grid) expect(g.lambdaSparse).to.equal(0.02);
      expect(fixed.cvPath!.grid.length).to.equal(6);
    });
  });

  it('fitIntercept: false keeps every intercept at zero and still fits the data', () => {
    // Data without offsets: the model through the origin is the right one.
    const origin = plantedTasks(4, W, { rows: 20, noise: 0.1 });
    const originBinary = plantedTasks(5, W.map((w) => w.map((v) => 2 * v)), { rows: 60, logistic: true });
    for (const { C, options, data } of cases) {
      const ds = data === binary ? originBinary : origin;
      const m = new C({ ...options, fitIntercept: false }).fitSync(ds);
      expect(Array.from(m.intercept), C.name).to.deep.equal(new Array(5).fill(0));
      expect(m.score(ds), C.name).to.be.above(data === binary ? 0.7 : 0.8);
    }
  });

  it('warm starts along a path save iterations', () => {
    const p = stackTasks(regression);
    const st = (lg: number): Structure => ({
      parts: [
        { name: 'shared', penalty: 'features', strength: lg },
        { name: 'outliers', penalty: 'tasks', strength: 0.3 },
      ],
    });
    const o = { loss: 'squared' as const, fitIntercept: true, tol: 1e-10, maxIter: 100000 };
    const first = runSync(solveStructured(p, st(0.2), o, null));
    const cold = runSync(solveStructured(p, st(0.18), o, null));
    const warm = runSync(solveStructured(p, st(0.18), o, first));
    expect(warm.nIter!).to.be.below(cold.nIter!);
    expect(relErr(warm.coef.data, cold.coef.data)).to.be.below(1e-6);
    const again = runSync(solveStructured(p, st(0.18), o, warm));
    expect(again.nIter).to.be.at.most(5);
  });

  describe('async fit', () => {
    it('gives the fitSync result and reports progress', async () => {
      for (const { C, options, data } of cases) {
        const seen: number[] = [];
        const a = await new C(options).fit(data, { onProgress: (p) => p.iter !== undefined && seen.push(p.iter) });
        const s = new C(options).fitSync(data);
        expect(seen.length, C.name).to.be.greaterThan(0);
        expect(Array.from(a.coef.data)).to.deep.equal(Array.from(s.coef.data));
      }
    });

    it('an AbortSignal aborts and leaves the old model intact', async () => {
      const m = new ClusteredRegression({ cv: 3, nLambdas: 3 });
      await m.fit(regression);
      const coef = m.coef.data.slice();
      const similarity = m.taskSimilarity.data.slice();
      const ac = new AbortController();
      let calls = 0;
      let err: unknown;
      await m.fit(plantedTasks(9, W, { rows: 20 }), { signal: ac.signal, onProgress: () => ++calls === 5 && ac.abort() }).catch((e) => (err = e));
      expect(err).to.be.instanceOf(AbortError);
      expect(m.coef.data).to.deep.equal(coef);
      expect(m.taskSimilarity.data).to.deep.equal(similarity);
    });
  });

  it('every backend fits the same model', () => {
    const here = kernels().name;
    try {
      for (const { C, options, data } of cases) {
        const fits = availableBackends().map((b) => {
          setBackend(b);
          return new C({ ...options, tol: 1e-12, maxIter: 100000 }).fitSync(data);
        });
        for (const f of fits) {
          expect(relErr(f.coef.data, fits[0]!.coef.data), C.name).to.be.below(1e-7);
          expect(relErr(f.intercept, fits[0]!.intercept, 1), C.name).to.be.below(1e-7);
        }
      }
    } finally {
      setBackend(here);
    }
  });
});

describe('proximal operators of the structured parts', () => {
  const names: PartPenaltyName[] = ['l1', 'features', 'tasks', 'l1inf', 'trace'];
  const r = new Rng(4);

  it('prox_{thr g}(V) minimises (1/2)||X - V||^2 + thr g(X) and returns g at the result', () => {
    for (const name of names) {
      const pen = PART_PENALTIES[name];
      for (const thr of [0.3, 1.5]) {
        const V = randMatrix(r, 4, 3);
        const X = { ...V, data: V.data.slice() };
        const g = pen.prox(X, thr);
        expect(g, name).to.be.closeTo(pen.value(X), 1e-12);
        const F = (x: Float64Array) => 0.5 * x.reduce((s, v, i) => s + (v - V.data[i]!) ** 2, 0) + thr * pen.value({ rows: 4, cols: 3, data: x });
        expectNoDescent(F, X.data, 5, 1e-10);
      }
    }
  });

  it('the dual norm of V is the smallest threshold whose prox is zero', () => {
    for (const name of names) {
      const pen = PART_PENALTIES[name];
      const V = randMatrix(r, 5, 3);
      const dual = pen.dual(V);
      const zero = { ...V, data: V.data.slice() };
      pen.prox(zero, dual * (1 + 1e-9));
      expect(maxAbs(zero.data), name).to.be.below(1e-12);
      const some = { ...V, data: V.data.slice() };
      pen.prox(some, dual * 0.99);
      expect(maxAbs(some.data), name).to.be.above(0);
    }
  });

  it('L1,inf prox clips each feature at the level set by the L1-ball projection', () => {
    const V: Matrix<Float64Array> = { rows: 3, cols: 2, data: Float64Array.from([3, 0.5, 1, 0.5, -2, 0.5]) };
    // Column 0 (3, 1, -2), thr 2: theta = 1.5. Column 1 (0.5, 0.5, 0.5): ||.||_1 = 1.5 <= 2, zero.
    expect(PART_PENALTIES.l1inf.prox(V, 2)).to.equal(1.5);
    expect(Array.from(V.data)).to.deep.equal([1.5, 0, 1, 0, -1.5, 0]);
  });
});
