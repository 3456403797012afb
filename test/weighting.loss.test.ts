/**
 * Loss-based weighting strategies, each against its defining property on hand-made losses (and,
 * for DB-MTL, hand-made gradients), plus save/load round trips and the registry.
 */
import { expect } from 'chai';
import { ConfigError, FormatError, ShapeError, ValueError } from '../lib/core/errors.js';
import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { fromDocument, toDocument } from '../lib/io/format.js';
import { DbMtl } from '../lib/mtl/weighting/dbmtl.js';
import { DynamicWeightAverage } from '../lib/mtl/weighting/dwa.js';
import { EqualWeighting } from '../lib/mtl/weighting/equal.js';
import { Famo } from '../lib/mtl/weighting/famo.js';
import { FixedWeighting } from '../lib/mtl/weighting/fixed.js';
import { GeometricLossStrategy } from '../lib/mtl/weighting/gls.js';
import { createStrategy, knownStrategies, registerStrategy } from '../lib/mtl/weighting/registry.js';
import { RandomLossWeighting } from '../lib/mtl/weighting/rlw.js';
import type { StrategyStep, WeightingStrategy } from '../lib/mtl/weighting/strategy.js';
import { UncertaintyWeighting } from '../lib/mtl/weighting/uncertainty.js';

function stepOf(losses: number[], k = 0, rng = new Rng(0), grads?: Matrix<Float64Array>): StrategyStep {
  return { losses: Float64Array.from(losses), epoch: 0, step: k, rng, grads };
}

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0);

/** Save through the model format (JSON text), restore into a fresh strategy before init. */
function roundTrip(s: WeightingStrategy, fresh: WeightingStrategy, numTasks: number, numShared: number): WeightingStrategy {
  const text = JSON.stringify(toDocument('test', {}, s.getState()));
  fresh.setState(fromDocument(JSON.parse(text), 'test').state);
  fresh.init(numTasks, numShared);
  return fresh;
}

describe('weighting: equal and fixed', () => {
  it('equal gives ones', () => {
    const s = new EqualWeighting();
    s.init(3, 10);
    expect(s.needsGradients).to.equal(false);
    expect(Array.from(s.combine(stepOf([0.1, 5, 100])).weights)).to.deep.equal([1, 1, 1]);
  });

  it('fixed gives the user weights and checks them', () => {
    const s = new FixedWeighting({ weights: [1, 0.5, 2] });
    s.init(3, 0);
    expect(Array.from(s.combine(stepOf([1, 2, 3])).weights)).to.deep.equal([1, 0.5, 2]);
    expect(() => new FixedWeighting({ weights: [1, 2] }).init(3, 0)).to.throw(ConfigError, /2 values but there are 3 tasks/);
    expect(() => new FixedWeighting({} as never)).to.throw(ConfigError, /'weights' is required/);
    expect(() => new FixedWeighting({ weights: [1, -1] })).to.throw(ConfigError, /non-negative/);
  });

  it('check the losses they are given', () => {
    const s = new EqualWeighting();
    expect(() => s.combine(stepOf([1]))).to.throw(ValueError, /before init/);
    s.init(2, 0);
    expect(() => s.combine(stepOf([1]))).to.throw(ShapeError, /1 values, expected one per task \(2\)/);
    expect(() => s.combine(stepOf([1, NaN]))).to.throw(ValueError, /task 1 is NaN/);
  });
});

describe('weighting: uncertainty (Kendall et al. 2018)', () => {
  it('starts at 1 and moves each weight toward 1 / L_t', () => {
    const s = new UncertaintyWeighting({ lr: 0.05 });
    s.init(2, 0);
    expect(Array.from(s.combine(stepOf([0.5, 4])).weights)).to.deep.equal([1, 1]);
    let w: Float64Array = new Float64Array(2);
    for (let k = 1; k < 3000; k++) w = s.combine(stepOf([0.5, 4], k)).weights;
    // the fixed point of d/ds [exp(-s) L + s] = 0 is exp(-s) = 1/L
    expect(w[0]).to.be.closeTo(2, 0.02);
    expect(w[1]).to.be.closeTo(0.25, 0.0025);
    expect(s.logVariances[1]).to.be.closeTo(Math.log(4), 0.01);
  });

  it('state round trip resumes identically', () => {
    const s = new UncertaintyWeighting({ lr: 0.1 });
    s.init(3, 0);
    const L = (k: number) => [1 + Math.sin(k), 2, 0.3 + k / 100];
    for (let k = 0; k < 7; k++) s.combine(stepOf(L(k), k));
    const r = roundTrip(s, new UncertaintyWeighting({ lr: 0.1 }), 3, 0);
    for (let k = 7; k < 12; k++) expect(Array.from(r.combine(stepOf(L(k), k)).weights)).to.deep.equal(Array.from(s.combine(stepOf(L(k), k)).weights));
  });
});

describe('weighting: DWA (Liu et al. 2019)', () => {
  it('ones for the first two epochs, then T softmax(ratio / 2): a stalled task gains weight', () => {
    const s = new DynamicWeightAverage();
    s.init(2, 0);
    expect(Array.from(s.combine(stepOf([1, 1])).weights)).to.deep.equal([1, 1]);
    s.onEpochEnd(Float64Array.of(1, 1), 0);
    expect(Array.from(s.combine(stepOf([1, 1])).weights)).to.deep.equal([1, 1]);
    s.onEpochEnd(Float64Array.of(1, 0.5), 1); // task 0 stalls, task 1 halves
    const w = s.combine(stepOf([1, 0.5])).weights;
    // ratios [1, 0.5] / T=2 -> 2 softmax([0.5, 0.25]); by hand 2 / (1 + e^-0.25) = 1.12435300...
    expect(w[0]).to.be.closeTo(2 / (1 + Math.exp(-0.25)), 1e-15);
    expect(w[1]).to.be.closeTo(2 / (1 + Math.exp(0.25)), 1e-15);
    expect(w[0]).to.be.above(w[1]!);
    expect(sum(w)).to.be.closeTo(2, 1e-15);
    // Only the last two epochs count: if task 1 now stalls and task 0 improves, the order flips.
    s.onEpochEnd(Float64Array.of(0.5, 0.5), 2);
    const w2 = s.combine(stepOf([1, 1])).weights;
    expect(w2[1]).to.be.above(w2[0]!);
  });

  it('state round trip resumes identically; bad epoch losses are refused', () => {
    const s = new DynamicWeightAverage({ temperature: 1 });
    s.init(3, 0);
    s.onEpochEnd(Float64Array.of(3, 2, 1), 0);
    s.onEpochEnd(Float64Array.of(2, 2, 0.5), 1);
    const r = roundTrip(s, new DynamicWeightAverage({ temperature: 1 }), 3, 0);
    expect(Array.from(r.combine(stepOf([1, 1, 1])).weights)).to.deep.equal(Array.from(s.combine(stepOf([1, 1, 1])).weights));
    r.onEpochEnd!(Float64Array.of(1, 1, 1), 2);
    s.onEpochEnd(Float64Array.of(1, 1, 1), 2);
    expect(Array.from(r.combine(stepOf([1, 1, 1])).weights)).to.deep.equal(Array.from(s.combine(stepOf([1, 1, 1])).weights));
    expect(() => s.onEpochEnd(Float64Array.of(1, 1), 3)).to.throw(ShapeError);
    expect(() => s.onEpochEnd(Float64Array.of(1, NaN, 1), 3)).to.throw(ValueError, /task 1/);
  });
});

describe('weighting: RLW (Lin et al. 2022)', () => {
  it('positive weights summing to T, drawn from the run generator', () => {
    const s = new RandomLossWeighting();
    s.init(4, 0);
    const a = s.combine(stepOf([1, 1, 1, 1], 0, new Rng(7))).weights;
    const b = s.combine(stepOf([1, 1, 1, 1], 0, new Rng(7))).weights;
    const c = s.combine(stepOf([1, 1, 1, 1], 0, new Rng(8))).weights;
    expect(sum(a)).to.be.closeTo(4, 1e-12);
    expect(Array.from(a).every((w) => w > 0)).to.equal(true);
    expect(Array.from(a)).to.deep.equal(Array.from(b));
    expect(Array.from(a)).to.not.deep.equal(Array.from(c));
    // successive steps of one generator differ, and average out to 1 per task
    const rng = new Rng(1);
    const mean = new Float64Array(4);
    for (let k = 0; k < 4000; k++) {
      const w = s.combine(stepOf([1, 1, 1, 1], k, rng)).weights;
      for (let t = 0; t < 4; t++) mean[t]! += w[t]! / 4000;
    }
    for (const m of mean) expect(m).to.be.closeTo(1, 0.05);
  });
});

describe('weighting: GLS (Chennupati et al. 2019)', () => {
  it('w_t = (prod L)^(1/T) / (T L_t)', () => {
    const s = new GeometricLossStrategy();
    s.init(2, 0);
    // geometric mean of [1, 4] is 2: w = [2 / (2 * 1), 2 / (2 * 4)]
    const w = s.combine(stepOf([1, 4])).weights;
    expect(w[0]).to.be.closeTo(1, 1e-15);
    expect(w[1]).to.be.closeTo(0.25, 1e-15);
    // every task contributes w_t L_t = (prod L)^(1/T) / T: scale-invariant
    s.init(3, 0);
    const L = [0.01, 3, 250];
    const w3 = s.combine(stepOf(L)).weights;
    const geo = Math.cbrt(0.01 * 3 * 250);
    for (let t = 0; t < 3; t++) expect(w3[t]! * L[t]!).to.be.closeTo(geo / 3, 1e-12);
    expect(() => s.combine(stepOf([1, -1, 1]))).to.throw(ValueError, /task 1 is -1/);
    // a zero loss is floored, not an Infinity
    expect(Number.isFinite(s.combine(stepOf([0, 1, 1])).weights[0]!)).to.equal(true);
  });
});

describe('weighting: DB-MTL (Lin et al. 2023)', () => {
  const grads = (rows: number[][]): Matrix<Float64Array> => ({ rows: rows.length, cols: rows[0]!.length, data: Float64Array.from(rows.flat()) });

  it('log-loss gradients, EMA, every task scaled to the largest norm', () => {
    const s = new DbMtl();
    expect(s.needsGradients).to.equal(true);
    s.init(2, 2);
    // losses [1, 10], gradients of L_t: log-gradients are g_t / L_t = [2, 0] and [0, 5];
    // step 1: beta_1 = 0.9, h = 0.1 g/L = [0.2, 0] and [0, 0.5]; both scaled to norm 0.5.
    const r = s.combine(stepOf([1, 10], 0, new Rng(0), grads([[2, 0], [0, 50]])));
    expect(r.weights[0]).to.be.closeTo(1, 1e-7);
    expect(r.weights[1]).to.be.closeTo(0.1, 1e-8);
    expect(r.shared![0]).to.be.closeTo(0.5, 1e-6);
    expect(r.shared![1]).to.be.closeTo(0.5, 1e-6);
    // step 2: beta_2 = 0.9 / sqrt(2); same log-gradients -> h = g/L + beta_2 (h - g/L)
    const b2 = 0.9 / Math.SQRT2;
    const h0 = 2 + b2 * (0.2 - 2);
    const h1 = 5 + b2 * (0.5 - 5);
    const r2 = s.combine(stepOf([1, 10], 1, new Rng(0), grads([[2, 0], [0, 50]])));
    expect(r2.shared![0]).to.be.closeTo(h1, 1e-6); // task 0 rescaled to task 1's (larger) norm
    expect(r2.shared![1]).to.be.closeTo(h1, 1e-6);
    expect(h0).to.be.below(h1);
  });

  it('needs gradients of the right shape; state round trip resumes identically', () => {
    const s = new DbMtl({ beta: 0.5 });
    s.init(2, 3);
    expect(() => s.combine(stepOf([1, 1]))).to.throw(ValueError, /needs the per-task gradients/);
    expect(() => s.combine(stepOf([1, 1], 0, new Rng(0), grads([[1, 2], [3, 4]])))).to.throw(ShapeError, /2 x 2, expected .* 2 x 3/);
    const G = (k: number) => grads([[Math.sin(k), 1, -2], [0.5, Math.cos(k), 3]]);
    for (let k = 0; k < 4; k++) s.combine(stepOf([1 + k, 2], k, new Rng(0), G(k)));
    const r = roundTrip(s, new DbMtl({ beta: 0.5 }), 2, 3);
    for (let k = 4; k < 7; k++) {
      const a = s.combine(stepOf([1 + k, 2], k, new Rng(0), G(k)));
      const b = r.combine(stepOf([1 + k, 2], k, new Rng(0), G(k)));
      expect(Array.from(b.shared!)).to.deep.equal(Array.from(a.shared!));
    }
    expect(() => new DbMtl().setState({ ...(s.getState() as object), numShared: 4 })).to.throw(FormatError, /buffer/);
  });
});

describe('weighting: FAMO (Liu et al. 2023)', () => {
  it('weights c z_t / L_t sum to 1; uniform at the start', () => {
    const s = new Famo();
    s.init(2, 0);
    const w = s.combine(stepOf([1, 3])).weights;
    // z uniform: w proportional to 1/L -> [3/4, 1/4]
    expect(w[0]).to.be.closeTo(0.75, 1e-8);
    expect(w[1]).to.be.closeTo(0.25, 1e-8);
  });

  it('raises the weight of the task whose loss decreases slowest', () => {
    const s = new Famo();
    s.init(3, 0);
    let L = [1, 1, 1];
    for (let k = 0; k < 100; k++) {
      s.combine(stepOf(L, k));
      L = [L[0]! * 0.9, L[1]! * 0.99, L[2]! * 0.95]; // task 1 slowest, task 0 fastest
    }
    const z = s.taskProbabilities;
    expect(z[1]).to.be.above(z[2]!);
    expect(z[2]).to.be.above(z[0]!);
    expect(sum(z)).to.be.closeTo(1, 1e-15);
    // The first step only records the losses: the logits have not moved yet.
    const e = new Famo();
    e.init(2, 0);
    e.combine(stepOf([1, 2]));
    expect(Array.from(e.taskProbabilities)).to.deep.equal([0.5, 0.5]);
  });

  it('state round trip resumes identically', () => {
    const s = new Famo({ lr: 0.1 });
    s.init(2, 0);
    const L = (k: number) => [1 / (k + 1), 1 + 0.5 * Math.sin(k)];
    for (let k = 0; k < 5; k++) s.combine(stepOf(L(k), k));
    const r = roundTrip(s, new Famo({ lr: 0.1 }), 2, 0);
    for (let k = 5; k < 9; k++) expect(Array.from(r.combine(stepOf(L(k), k)).weights)).to.deep.equal(Array.from(s.combine(stepOf(L(k), k)).weights));
    expect(() => r.setState({ ...(s.getState() as object), logits: [0, 0, 0] })).to.throw(FormatError, /logits/);
  });
});

describe('weighting: registry', () => {
  it('maps names, aliases and { type | name, ...options } to strategies', () => {
    for (const n of ['equal', 'fixed', 'uncertainty', 'dwa', 'rlw', 'gls', 'dbmtl', 'famo']) expect(knownStrategies()).to.include(n);
    // and the gradient-based ones of the same folder
    for (const n of ['gradnorm', 'mgda', 'pcgrad', 'gradvac', 'cagrad', 'imtl', 'nashmtl', 'alignedmtl', 'upgrad']) expect(knownStrategies()).to.include(n);
    expect(createStrategy('Nash-MTL').name).to.equal('nashmtl');
    expect(createStrategy('equal')).to.be.instanceOf(EqualWeighting);
    expect(createStrategy('DB-MTL')).to.be.instanceOf(DbMtl);
    expect(createStrategy('uw')).to.be.instanceOf(UncertaintyWeighting);
    const d = createStrategy({ type: 'dwa', temperature: 5 }) as DynamicWeightAverage;
    expect(d.temperature).to.equal(5);
    expect((createStrategy({ name: 'fixed', weights: [1, 2] }) as FixedWeighting).weights).to.deep.equal(Float64Array.of(1, 2));
    for (const n of knownStrategies()) {
      const s = n === 'fixed' ? createStrategy({ type: n, weights: [1] }) : createStrategy(n);
      expect(s.name).to.equal(n);
    }
  });

  it('returns a user strategy object as is, and registers new names', () => {
    const mine: WeightingStrategy = {
      name: 'mine',
      needsGradients: false,
      init() {},
      combine: (st) => ({ weights: st.losses.map(() => 2) }),
      getState: () => ({}),
      setState() {},
    };
    expect(createStrategy(mine)).to.equal(mine);
    registerStrategy('mine-test', () => mine);
    expect(createStrategy('mine-test')).to.equal(mine);
    expect(() => registerStrategy('equal', () => mine)).to.throw(ConfigError, /already registered/);
  });

  it('gives ConfigErrors listing the known names', () => {
    expect(() => createStrategy('eqaul')).to.throw(ConfigError, /unknown strategy 'eqaul' \(did you mean 'equal'\?\); known strategies: '/);
    expect(() => createStrategy({ temperature: 2 } as never)).to.throw(ConfigError, /needs 'type'/);
    expect(() => createStrategy({ type: 'dwa', name: 'rlw' })).to.throw(ConfigError, /disagree/);
    expect(() => createStrategy({ type: 'dwa', temprature: 2 })).to.throw(ConfigError, /DWA: unknown option 'temprature' \(did you mean 'temperature'\?\)/);
    expect(() => createStrategy(42 as never)).to.throw(ConfigError, /strategy name/);
  });
});
