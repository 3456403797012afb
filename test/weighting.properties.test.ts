/**
 * GradDrop, MoCo, STCH, ExcessMTL, FairGrad, MoDo and SDMGrad against what their papers define or
 * prove, on hand-made and random gradients: every expected number is computed here from the
 * paper's formula with plain loops, never by the code under test. Plus determinism, state round
 * trips through the model format and bad input. The Gram products go through kernels().gemm, so
 * this runs on both backends.
 */
import { expect } from 'chai';
import { ConfigError, FormatError, ShapeError, ValueError } from '../lib/core/errors.js';
import { Rng } from '../lib/core/rng.js';
import { fromDocument, toDocument } from '../lib/io/format.js';
import { ExcessMTL } from '../lib/mtl/weighting/excessmtl.js';
import { FairGrad } from '../lib/mtl/weighting/fairgrad.js';
import { GradDrop, gradDrop } from '../lib/mtl/weighting/graddrop.js';
import { MGDA } from '../lib/mtl/weighting/mgda.js';
import { MoCo } from '../lib/mtl/weighting/moco.js';
import { MoDo } from '../lib/mtl/weighting/modo.js';
import { NashMTL } from '../lib/mtl/weighting/nashmtl.js';
import { createStrategy } from '../lib/mtl/weighting/registry.js';
import { SDMGrad } from '../lib/mtl/weighting/sdmgrad.js';
import { STCH, stchValue } from '../lib/mtl/weighting/stch.js';
import type { StrategyResult, StrategyStep, WeightingStrategy } from '../lib/mtl/weighting/strategy.js';
import { randMatrix } from './helpers.js';
import { bruteSimplexQP, combo, dot, expectClose, mat, naiveGram as gram, projectByBisection, rowOf, type M } from './weighting.cases.js';

function stepOf(losses: ArrayLike<number>, grads?: M, options: { rng?: Rng; epoch?: number; step?: number } = {}): StrategyStep {
  return { losses: Float64Array.from(losses), grads, epoch: options.epoch ?? 0, step: options.step ?? 0, rng: options.rng ?? new Rng(0) };
}

function fresh<T extends WeightingStrategy>(s: T, tasks: number, shared: number): T {
  s.init(tasks, shared);
  return s;
}

const sum = (a: ArrayLike<number>): number => Array.from(a).reduce((x, y) => x + y, 0);

// ------------------------------------------------------------------------------------------

describe('weighting: GradDrop (Chen et al. 2020)', () => {
  it('keeps one sign per parameter, the positive one exactly when the purity P beats the draw U', () => {
    const g = randMatrix(new Rng(1), 4, 300);
    const d = run(fresh(new GradDrop(), 4, 300), g, new Rng(9));
    const draws = new Rng(9);
    for (let k = 0; k < 300; k++) {
      const col = [0, 1, 2, 3].map((t) => g.data[t * 300 + k]!);
      const pos = col.filter((v) => v > 0).reduce((a, b) => a + b, 0);
      const neg = col.filter((v) => v < 0).reduce((a, b) => a + b, 0);
      const purity = 0.5 * (1 + (pos + neg) / (pos - neg));
      const u = draws.uniform();
      expect(d[k]!, `parameter ${k}`).to.equal(purity > u ? pos : neg);
    }
  });

  it('chooses the positive sign with probability P, so E[d] = P pos + (1 - P) neg', () => {
    // Every parameter has gradients 3 and -1: P = (1 + 2 / 4) / 2 = 0.75.
    const S = 40000;
    const g: M = { rows: 2, cols: S, data: new Float64Array(2 * S) };
    g.data.fill(3, 0, S);
    g.data.fill(-1, S);
    const d = run(fresh(new GradDrop(), 2, S), g, new Rng(2));
    const positive = Array.from(d).filter((v) => v === 3).length;
    expect(Array.from(d).every((v) => v === 3 || v === -1)).to.equal(true);
    // Binomial(40000, 0.75): standard deviation 0.0022 of the fraction.
    expect(positive / S).to.be.closeTo(0.75, 0.01);
    expect(sum(d) / S).to.be.closeTo(0.75 * 3 + 0.25 * -1, 0.04);
  });

  it('never drops a parameter where all tasks agree; leak 1 is the plain sum, leak l passes l of the dropped sign', () => {
    const g = mat([
      [1, -2, 0.5, 0],
      [3, -1, -0.5, 0],
      [0.5, -4, 0.25, 0],
    ]);
    const plain = combo(g, [1, 1, 1]);
    const d = run(fresh(new GradDrop(), 3, 4), g, new Rng(3));
    expect(d[0]).to.equal(plain[0]);
    expect(d[1]).to.equal(plain[1]);
    expect(d[3]).to.equal(0);
    expectClose(run(fresh(new GradDrop({ leak: 1 }), 3, 4), g, new Rng(3)), plain, 1e-15, 'leak 1');
    // Parameter 2: P = (1 + 0.25 / 1.25) / 2 = 0.6; with leak 0.3 the dropped side keeps 30 %.
    const draws = new Rng(4);
    const u = [0, 1, 2].map(() => draws.uniform())[2]!;
    const leaky = run(fresh(new GradDrop({ leak: 0.3 }), 3, 4), g, new Rng(4));
    expect(leaky[2]).to.be.closeTo(0.6 > u ? 0.75 + 0.3 * -0.5 : -0.5 + 0.3 * 0.75, 1e-15);
  });

  it('gradDrop on its own and the strategy agree; heads get weight 1', () => {
    const g = randMatrix(new Rng(5), 3, 20);
    const s = fresh(new GradDrop({ leak: 0.2 }), 3, 20);
    const r = s.combine(stepOf([1, 1, 1], g, { rng: new Rng(6) }));
    const rng = new Rng(6);
    expect(Array.from(r.shared!)).to.deep.equal(Array.from(gradDrop(g, 0.2, () => rng.uniform())));
    expect(Array.from(r.weights)).to.deep.equal([1, 1, 1]);
  });

  function run(s: GradDrop, g: M, rng: Rng): Float64Array {
    return s.combine(stepOf(new Array(g.rows).fill(1), g, { rng })).shared!;
  }
});

describe('weighting: MoCo (Fernando et al. 2023)', () => {
  it('tracks the gradients: with a constant G, Y_k = (1 - prod_j (1 - beta_j)) G', () => {
    const g = randMatrix(new Rng(10), 3, 6);
    const s = fresh(new MoCo({ beta: 0.5, betaSigma: 0.5 }), 3, 6);
    let keep = 1; // prod_j (1 - beta_j)
    for (let k = 1; k <= 6; k++) {
      const r = s.combine(stepOf([1, 1, 1], g));
      keep *= 1 - 0.5 / Math.sqrt(k);
      // d = Y^T lambda with Y = (1 - keep) G.
      expectClose(r.shared!, combo(g, r.weights).map((v) => v * (1 - keep)), 1e-12, `direction at step ${k}`);
      expect(sum(r.weights)).to.be.closeTo(1, 1e-12);
      expect(Array.from(r.weights).every((v) => v >= 0)).to.equal(true);
    }
  });

  it('one step by hand: lambda = Proj(1/T - gamma (Y Y^T + rho I) 1/T)', () => {
    const g = mat([
      [1, 0, 2],
      [0, 3, -1],
    ]);
    const s = fresh(new MoCo({ beta: 0.5, gamma: 0.2, rho: 0.1 }), 2, 3);
    const r = s.combine(stepOf([1, 1], g));
    // Y = 0.5 G; (Y Y^T + 0.1 I) [0.5, 0.5]: Y Y^T = 0.25 [[5, -2], [-2, 10]].
    const a = 0.25 * (5 - 2) * 0.5 + 0.1 * 0.5;
    const b = 0.25 * (-2 + 10) * 0.5 + 0.1 * 0.5;
    const lambda = projectByBisection([0.5 - 0.2 * a, 0.5 - 0.2 * b]);
    expectClose(r.weights, lambda, 1e-12, 'lambda');
    expectClose(r.shared!, combo(g, lambda).map((v) => 0.5 * v), 1e-12, 'direction');
  });

  it('converges to the weights of the regularised min-norm problem for a constant G', () => {
    const rng = new Rng(11);
    for (const rho of [0, 0.5]) {
      const g = randMatrix(rng, 3, 5);
      const m = gram(g);
      for (let t = 0; t < 3; t++) m[t * 3 + t] = m[t * 3 + t]! + rho;
      const s = fresh(new MoCo({ beta: 1, gamma: 0.05, gammaSigma: 0, rho }), 3, 5);
      let r: StrategyResult = { weights: new Float64Array(0) };
      for (let k = 0; k < 3000; k++) r = s.combine(stepOf([1, 1, 1], g));
      expectClose(r.weights, bruteSimplexQP(m, 3), 1e-6, `lambda (rho ${rho})`);
    }
  });

  it("normalization 'loss' tracks g_t L_t / ||g_t||", () => {
    const g = mat([
      [3, 4],
      [1, 0],
    ]);
    const s = fresh(new MoCo({ beta: 1, normalization: 'loss' }), 2, 2);
    const r = s.combine(stepOf([2, 0.5], g));
    const scaled = mat([
      [(3 / 5) * 2, (4 / 5) * 2],
      [0.5, 0],
    ]);
    expectClose(r.shared!, combo(scaled, r.weights), 1e-7, 'direction');
  });
});

describe('weighting: STCH (Lin et al. 2024)', () => {
  it('smooth Tchebycheff bounds: max_t lambda_t f_t <= g_mu <= max + mu log T', () => {
    const rng = new Rng(20);
    for (let trial = 0; trial < 50; trial++) {
      const T = 2 + (trial % 5);
      const f = Array.from({ length: T }, () => 3 * rng.normal());
      const pref = Array.from({ length: T }, () => 0.1 + rng.uniform());
      const mu = [0.01, 0.3, 1, 5][trial % 4]!;
      const max = Math.max(...f.map((v, t) => pref[t]! * v));
      const g = stchValue(f, pref, mu);
      expect(g).to.be.at.least(max - 1e-12);
      expect(g).to.be.at.most(max + mu * Math.log(T) + 1e-12);
    }
  });

  it('its weights are T times the derivatives of g_mu with respect to each loss (finite differences)', () => {
    for (const objective of ['log', 'loss'] as const) {
      const nadir = [2, 0.5, 1];
      const pref = [1, 2, 0.5];
      const mu = 0.7;
      const s = fresh(new STCH({ objective, nadir, preference: pref, mu }), 3, 0);
      const L = [1.3, 0.2, 2.5];
      const w = s.combine(stepOf(L)).weights;
      const value = (l: number[]): number =>
        stchValue(l.map((v, t) => (objective === 'log' ? Math.log(v / nadir[t]!) : v / nadir[t]!)), pref, mu);
      for (let t = 0; t < 3; t++) {
        const h = 1e-6;
        const up = L.map((v, k) => (k === t ? v + h : v));
        const down = L.map((v, k) => (k === t ? v - h : v));
        expect(w[t]!, `${objective} task ${t}`).to.be.closeTo((3 * (value(up) - value(down))) / (2 * h), 1e-6);
      }
    }
  });

  it('as mu -> 0 the weight goes to the worst task only', () => {
    const s = fresh(new STCH({ mu: 1e-3, nadir: [1, 1, 1], objective: 'loss' }), 3, 0);
    const w = s.combine(stepOf([0.5, 0.9, 0.7])).weights;
    expect(w[1]).to.be.closeTo(3, 1e-12);
    expect(w[0]! + w[2]!).to.be.below(1e-60);
  });

  it('warm-up trains on sum log L_t, then the last warm-up epoch mean losses become the nadir', () => {
    const s = fresh(new STCH({ warmupEpochs: 2 }), 2, 0);
    expectClose(s.combine(stepOf([0.5, 4], undefined, { epoch: 0 })).weights, [2, 0.25], 1e-15, 'epoch 0');
    s.onEpochEnd(Float64Array.of(0.6, 3), 0);
    expect(s.nadirPoint).to.equal(null);
    expectClose(s.combine(stepOf([0.5, 4], undefined, { epoch: 1 })).weights, [2, 0.25], 1e-15, 'epoch 1');
    s.onEpochEnd(Float64Array.of(0.5, 2), 1);
    expectClose(s.nadirPoint!, [0.5, 2], 0, 'nadir');
    // Epoch 2, losses [0.25, 3]: f = [log 0.5, log 1.5], p = softmax(f), w = 2 p_t / L_t.
    const e0 = Math.exp(Math.log(0.5));
    const e1 = Math.exp(Math.log(1.5));
    const w = s.combine(stepOf([0.25, 3], undefined, { epoch: 2 })).weights;
    expectClose(w, [(2 * e0) / (e0 + e1) / 0.25, (2 * e1) / (e0 + e1) / 3], 1e-14, 'epoch 2');
  });

  it('checks its options against the number of tasks and its losses', () => {
    expect(() => new STCH({ preference: [1, 2] }).init(3, 0)).to.throw(ConfigError, /'preference' has 2 values but there are 3 tasks/);
    expect(() => new STCH({ nadir: [1, 0] })).to.throw(ConfigError, /nadir/);
    expect(() => new STCH({ mu: 0 })).to.throw(ConfigError, /'mu'/);
    expect(() => fresh(new STCH({ warmupEpochs: 0 }), 2, 0).combine(stepOf([1, -1]))).to.throw(ValueError, /task 1 is -1/);
  });
});

describe('weighting: ExcessMTL (He et al. 2024)', () => {
  it('two steps by hand: excess e_t = sum g^2 / sqrt(A + 1e-7), weights w exp(eta e / e(1)), sum T', () => {
    const g1 = mat([
      [1, 2],
      [0.5, 0],
    ]);
    const g2 = mat([
      [0.5, 1],
      [0.5, 0],
    ]);
    const s = fresh(new ExcessMTL({ stepSize: 0.5 }), 2, 2);
    const r1 = s.combine(stepOf([1, 1], g1));
    expectClose(r1.weights, [1, 1], 0, 'first step');
    expectClose(r1.shared!, combo(g1, [1, 1]), 1e-15, 'first direction');
    const e1 = [1 / Math.sqrt(1 + 1e-7) + 4 / Math.sqrt(4 + 1e-7), 0.25 / Math.sqrt(0.25 + 1e-7)];
    const e2 = [0.25 / Math.sqrt(1.25 + 1e-7) + 1 / Math.sqrt(5 + 1e-7), 0.25 / Math.sqrt(0.5 + 1e-7)];
    const raw = [0, 1].map((t) => Math.exp(0.5 * (e2[t]! / e1[t]!)));
    const w = raw.map((v) => (2 * v) / (raw[0]! + raw[1]!));
    const r2 = s.combine(stepOf([1, 1], g2));
    expectClose(r2.weights, w, 1e-14, 'second step');
    expectClose(r2.shared!, combo(g2, w), 1e-14, 'second direction');
  });

  it('weights by distance to convergence, not by loss: a converged task with a large loss loses weight', () => {
    // Task 0: large (noisy) loss but its gradient vanishes; task 1: small loss, steady gradient.
    const s = fresh(new ExcessMTL({ stepSize: 0.1 }), 2, 3);
    let w: Float64Array = new Float64Array(0);
    for (let k = 0; k < 50; k++) {
      const g = mat([
        [Math.pow(0.8, k), -Math.pow(0.8, k), 0.5 * Math.pow(0.8, k)],
        [0.2, 0.1, -0.3],
      ]);
      w = s.combine(stepOf([10, 0.01], g)).weights;
    }
    expect(w[1]!).to.be.greaterThan(1.2);
    expect(w[0]!).to.be.lessThan(0.8);
    expect(w[0]! + w[1]!).to.be.closeTo(2, 1e-12);
  });

  it('is invariant to the scale of a task: multiplying its gradients by 100 changes no weight', () => {
    const rng = new Rng(30);
    const grads = Array.from({ length: 6 }, () => randMatrix(rng, 3, 4));
    const a = fresh(new ExcessMTL({ stepSize: 0.1 }), 3, 4);
    const b = fresh(new ExcessMTL({ stepSize: 0.1 }), 3, 4);
    for (const g of grads) {
      const big = { ...g, data: g.data.map((v, i) => (i < 4 ? 100 * v : v)) };
      const wa = a.combine(stepOf([1, 1, 1], g)).weights;
      const wb = b.combine(stepOf([1, 1, 1], big)).weights;
      // 1e-7 inside the square root breaks exact invariance, far below this tolerance.
      expectClose(wb, wa, 1e-6, 'weights');
    }
  });
});

describe('weighting: FairGrad (Ban & Ji 2024)', () => {
  it('solves (G G^T w)_t = w_t^(-1/alpha) with w > 0: every task improves, <g_t, d> = w_t^(-1/alpha)', () => {
    const rng = new Rng(40);
    for (const alpha of [0.5, 1, 2, 5]) {
      for (const n of [2, 3, 6]) {
        const g = randMatrix(rng, n, 8);
        for (let k = 0; k < 8; k++) g.data[k] = g.data[k]! * 10; // unbalanced norms
        const r = fresh(new FairGrad({ alpha }), n, 8).combine(stepOf(new Array(n).fill(1), g));
        expectClose(r.shared!, combo(g, r.weights), 1e-12, 'direction');
        for (let t = 0; t < n; t++) {
          const w = r.weights[t]!;
          expect(w).to.be.greaterThan(0);
          const improvement = dot(rowOf(g, t), r.shared!);
          expect(improvement, `alpha ${alpha}, task ${t}`).to.be.greaterThan(0);
          expect(Math.abs(improvement / Math.pow(w, -1 / alpha) - 1)).to.be.below(1e-8);
        }
      }
    }
  });

  it('alpha = 1 is Nash-MTL; as alpha grows d tends to max-min fairness, the direction of MGDA', () => {
    const rng = new Rng(41);
    for (let trial = 0; trial < 5; trial++) {
      const g = randMatrix(rng, 4, 6);
      for (let k = 0; k < 6; k++) g.data[k] = g.data[k]! * 5;
      const fair = fresh(new FairGrad(), 4, 6).combine(stepOf([1, 1, 1, 1], g));
      const nash = fresh(new NashMTL(), 4, 6).combine(stepOf([1, 1, 1, 1], g));
      expectClose(fair.weights, nash.weights, 1e-8, 'alpha 1 = Nash-MTL');
      // max over ||d|| = 1 of min_t <g_t, d> is ||d_MGDA|| (the min-norm point of the hull).
      const mgda = fresh(new MGDA(), 4, 6).combine(stepOf([1, 1, 1, 1], g)).shared!;
      const maxMin = Math.sqrt(dot(mgda, mgda));
      const worst = (alpha: number): number => {
        const d = fresh(new FairGrad({ alpha }), 4, 6).combine(stepOf([1, 1, 1, 1], g)).shared!;
        return Math.min(...[0, 1, 2, 3].map((t) => dot(rowOf(g, t), d))) / Math.sqrt(dot(d, d)) / maxMin;
      };
      const ratios = [0.5, 1, 2, 8, 50, 200].map(worst);
      for (let i = 1; i < ratios.length; i++) expect(ratios[i]!, `alpha index ${i}: ${ratios.join(', ')}`).to.be.above(ratios[i - 1]!);
      expect(ratios[5]!).to.be.within(0.99, 1 + 1e-12);
    }
  });

  it('a task with a zero gradient takes no part and gets the mean weight of the others', () => {
    const g = mat([
      [1, 0],
      [0, 0],
      [0, 2],
    ]);
    const r = fresh(new FairGrad({ alpha: 2 }), 3, 2).combine(stepOf([1, 1, 1], g));
    // Orthogonal gradients: w_t = ||g_t||^(-2 alpha / (alpha + 1)) = ||g_t||^(-4/3).
    const w0 = 1;
    const w2 = Math.pow(2, -4 / 3);
    expectClose(r.weights, [w0, (w0 + w2) / 2, w2], 1e-9, 'weights');
    expectClose(r.shared!, [w0, 2 * w2], 1e-9, 'direction');
  });
});

describe('weighting: MoDo (Chen et al. 2023)', () => {
  it('three steps by hand: d_k = G_k^T lambda_k, then lambda <- Proj(lambda - gamma (G_{k-1} G_k^T lambda + rho lambda))', () => {
    const gs = [
      mat([
        [1, 0],
        [0, 2],
      ]),
      mat([
        [2, 1],
        [-1, 1],
      ]),
      mat([
        [0.5, 0.5],
        [1, -2],
      ]),
    ];
    const gamma = 0.1;
    const rho = 0.2;
    const s = fresh(new MoDo({ gamma, rho }), 2, 2);
    let lambda = [0.5, 0.5];
    gs.forEach((g, k) => {
      const r = s.combine(stepOf([1, 1], g));
      expectClose(r.weights, lambda, 1e-12, `weights at step ${k}`);
      const d = combo(g, lambda);
      expectClose(r.shared!, d, 1e-12, `direction at step ${k}`);
      if (k > 0) {
        const prev = gs[k - 1]!;
        const u = [0, 1].map((t) => dot(rowOf(prev, t), d));
        lambda = Array.from(projectByBisection(lambda.map((l, t) => l - gamma * (u[t]! + rho * l))));
      }
    });
    expectClose(s.currentWeights(), lambda, 1e-12, 'weights after three steps');
  });

  it('double sampling removes the bias of noisy gradients that a one-batch Gram matrix has', () => {
    // True gradients e_1, e_2: the min-norm weights are [1/2, 1/2]. Task 0's stochastic gradient
    // has noise of variance 4 per coordinate, so E[g_0 g_0^T] = 9 and a one-batch estimate of
    // the Gram matrix would push lambda toward (1 + rho) / (10 + 2 rho) ~ 0.1 for task 0.
    const rng = new Rng(50);
    const draw = (): M => mat([
      [1 + 2 * rng.normal(), 2 * rng.normal()],
      [0, 1],
    ]);
    const gamma = 0.005;
    const rho = 0.1;
    const s = fresh(new MoDo({ gamma, rho }), 2, 2);
    let oneBatch = [0.5, 0.5];
    let meanModo = 0;
    let meanOneBatch = 0;
    const steps = 40000;
    for (let k = 0; k < steps; k++) {
      const g = draw();
      const r = s.combine(stepOf([1, 1], g));
      // The biased variant, for contrast: the same update with G_k G_k^T.
      const m = gram(g);
      oneBatch = Array.from(projectByBisection(oneBatch.map((l, t) => l - gamma * (m[t * 2]! * oneBatch[0]! + m[t * 2 + 1]! * oneBatch[1]! + rho * l))));
      if (k >= steps / 2) {
        meanModo += r.weights[0]! / (steps / 2);
        meanOneBatch += oneBatch[0]! / (steps / 2);
      }
    }
    expect(meanModo).to.be.closeTo(0.5, 0.05);
    expect(meanOneBatch).to.be.below(0.2);
  });
});

describe('weighting: SDMGrad (Xiao et al. 2023)', () => {
  /** The direction-oriented objective min_t <g_t, d> - 1/2 ||d||^2 - lambda/2 ||d - g0||^2. */
  function primal(g: M, d: Float64Array, lambda: number): number {
    const g0 = combo(g, new Array(g.rows).fill(1 / g.rows));
    const worst = Math.min(...[...Array(g.rows).keys()].map((t) => dot(rowOf(g, t), d)));
    const diff = d.map((v, k) => v - g0[k]!);
    return worst - 0.5 * dot(d, d) - 0.5 * lambda * dot(diff, diff);
  }

  it('maximises the direction-oriented objective (strong duality + random search)', () => {
    const rng = new Rng(60);
    for (const lambda of [0.3, 2]) {
      for (const n of [2, 3, 4]) {
        const g = randMatrix(rng, n, 4);
        const r = fresh(new SDMGrad({ lambda }), n, 4).combine(stepOf(new Array(n).fill(1), g));
        const d = r.shared!;
        expect(sum(r.weights)).to.be.closeTo(1, 1e-12);
        expectClose(d, combo(g, r.weights), 1e-12, 'direction');
        // Dual value at w* (recovered from the coefficients): ||g_w + lambda g0||^2 / (2 (1 + lambda)) - lambda ||g0||^2 / 2.
        const w = Array.from(r.weights, (c) => c * (1 + lambda) - lambda / n);
        const g0 = combo(g, new Array(n).fill(1 / n));
        const u = combo(g, w).map((v, k) => v + lambda * g0[k]!);
        const dual = dot(u, u) / (2 * (1 + lambda)) - (lambda * dot(g0, g0)) / 2;
        const best = primal(g, d, lambda);
        expect(best).to.be.closeTo(dual, 1e-9);
        for (let k = 0; k < 20000; k++) {
          const scale = k % 2 === 0 ? 0.01 : 0.3;
          const probe = d.map((v) => v + scale * rng.normal());
          expect(primal(g, probe, lambda)).to.be.at.most(best + 1e-12);
        }
      }
    }
  });

  it('lambda = 0 is MGDA; a very large lambda is the mean gradient', () => {
    const g = randMatrix(new Rng(61), 3, 5);
    const zero = fresh(new SDMGrad({ lambda: 0 }), 3, 5).combine(stepOf([1, 1, 1], g));
    const mgda = fresh(new MGDA(), 3, 5).combine(stepOf([1, 1, 1], g));
    expectClose(zero.shared!, mgda.shared!, 1e-10, 'lambda 0');
    const big = fresh(new SDMGrad({ lambda: 1e8 }), 3, 5).combine(stepOf([1, 1, 1], g));
    expectClose(big.shared!, combo(g, [1 / 3, 1 / 3, 1 / 3]), 1e-7, 'lambda -> infinity');
  });
});

describe('weighting: the seven strategies added from LibMTL', () => {
  const gradientNames = ['graddrop', 'moco', 'excessmtl', 'fairgrad', 'modo', 'sdmgrad'];
  const T = 3;
  const S = 7;
  const gradsAt = (k: number): M => randMatrix(new Rng(700 + k), T, S);
  const lossesAt = (k: number): number[] => [1, 2, 3].map((v) => v / (1 + 0.1 * k));

  for (const name of [...gradientNames, 'stch']) {
    const needsGradients = name !== 'stch';
    const make = (): WeightingStrategy => createStrategy(name === 'stch' ? { type: name, warmupEpochs: 1 } : name);
    const stepAt = (k: number, rng: Rng): StrategyStep => stepOf(lossesAt(k), needsGradients ? gradsAt(k) : undefined, { rng, epoch: k > 1 ? 1 : 0, step: k });

    it(`${name}: registered, deterministic for a seed, and resumes exactly from its state in the model format`, () => {
      const a = make();
      expect(a.name).to.equal(name);
      expect(a.needsGradients).to.equal(needsGradients);
      a.init(T, S);
      const rngA = new Rng(9);
      for (let k = 0; k < 3; k++) {
        a.combine(stepAt(k, rngA));
        if (k === 0) a.onEpochEnd?.(Float64Array.from(lossesAt(0)), 0);
      }
      const text = JSON.stringify(toDocument('test', {}, a.getState()));
      const restored = fromDocument(JSON.parse(text), 'test').state;
      const before = make();
      before.setState(restored);
      before.init(T, S);
      const after = make();
      after.init(T, S);
      after.setState(restored);
      for (let k = 3; k < 6; k++) {
        const seed = rngA.getState();
        const results = [a, before, after].map((s) => {
          const rng = new Rng(0);
          rng.setState(seed);
          return s.combine(stepAt(k, rng));
        });
        rngA.normal(); // advance: each step above used a copy of the generator
        for (const r of results.slice(1)) {
          expect(Array.from(r.weights)).to.deep.equal(Array.from(results[0]!.weights));
          if (needsGradients) expect(Array.from(r.shared!)).to.deep.equal(Array.from(results[0]!.shared!));
        }
        expect([...results[0]!.weights, ...(results[0]!.shared ?? [])].every(Number.isFinite)).to.equal(true);
      }
    });

    it(`${name}: clear errors for bad options, missing or mis-sized input and a bad state`, () => {
      const s = make();
      expect(() => s.combine(stepOf(lossesAt(0), gradsAt(0)))).to.throw(ValueError, /before init/);
      s.init(T, S);
      expect(() => s.combine(stepOf([1, 2], gradsAt(0)))).to.throw(ShapeError, /one per task/);
      expect(() => s.combine(stepOf([1, NaN, 1], gradsAt(0)))).to.throw(ValueError, /task 1 is NaN/);
      if (needsGradients) {
        expect(() => s.combine(stepOf(lossesAt(0)))).to.throw(ValueError, /needs the per-task gradients/);
        expect(() => s.combine(stepOf(lossesAt(0), randMatrix(new Rng(1), T, S + 1)))).to.throw(ShapeError, /3 x 8, expected/);
      }
      expect(() => createStrategy({ type: name, bogus: 1 })).to.throw(ConfigError, /bogus/);
      expect(() => s.setState('nonsense')).to.throw(FormatError);
      const state = s.getState() as Record<string, unknown>;
      if (Object.keys(state).length > 0) expect(() => s.setState({ ...state, numTasks: T + 1 })).to.throw(FormatError, /for 4 tasks/);
    });
  }

  it('rejects out-of-range options with the option named', () => {
    expect(() => new GradDrop({ leak: 1.5 })).to.throw(ConfigError, /'leak'/);
    expect(() => new MoCo({ beta: 0 })).to.throw(ConfigError, /'beta'/);
    expect(() => new MoCo({ normalization: 'l2' as never })).to.throw(ConfigError, /normalization/);
    expect(() => new ExcessMTL({ stepSize: -1 })).to.throw(ConfigError, /'stepSize'/);
    expect(() => new FairGrad({ alpha: 0 })).to.throw(ConfigError, /'alpha'/);
    expect(() => new MoDo({ rho: -0.1 })).to.throw(ConfigError, /'rho'/);
    expect(() => new SDMGrad({ lambda: -1 })).to.throw(ConfigError, /'lambda'/);
    expect(createStrategy('Excess-MTL').name).to.equal('excessmtl');
  });
});
