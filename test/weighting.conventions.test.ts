/**
 * The options that reproduce the reference implementations' conventions (LibMTL, and torchjd for
 * UPGrad), each on a small case whose expected numbers are worked out here from the reference's
 * formulas -- its loss, its update rule, PyTorch's Adam -- and never by the code under test.
 */
import { expect } from 'chai';
import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { DbMtl } from '../lib/mtl/weighting/dbmtl.js';
import { GradNorm } from '../lib/mtl/weighting/gradnorm.js';
import { RandomLossWeighting } from '../lib/mtl/weighting/rlw.js';
import type { StrategyStep } from '../lib/mtl/weighting/strategy.js';
import { UncertaintyWeighting } from '../lib/mtl/weighting/uncertainty.js';
import { UPGrad } from '../lib/mtl/weighting/upgrad.js';
import { expectClose, mat } from './weighting.cases.js';

function stepOf(losses: number[], grads?: Matrix<Float64Array>, options: { epoch?: number; rng?: Rng } = {}): StrategyStep {
  return { losses: Float64Array.from(losses), grads, epoch: options.epoch ?? 0, step: 0, rng: options.rng ?? new Rng(0) };
}

/** PyTorch's Adam (no weight decay) on a vector, step by step, as the reference trains its parameters. */
class TorchAdam {
  private m: number[];
  private v: number[];
  private t = 0;
  constructor(
    public p: number[],
    private readonly lr: number,
  ) {
    this.m = p.map(() => 0);
    this.v = p.map(() => 0);
  }
  step(grad: number[]): void {
    this.t++;
    this.p = this.p.map((p, i) => {
      this.m[i] = 0.9 * this.m[i]! + 0.1 * grad[i]!;
      this.v[i] = 0.999 * this.v[i]! + 0.001 * grad[i]! * grad[i]!;
      const mHat = this.m[i]! / (1 - 0.9 ** this.t);
      const vHat = this.v[i]! / (1 - 0.999 ** this.t);
      return p - (this.lr * mHat) / (Math.sqrt(vHat) + 1e-8);
    });
  }
}

describe('weighting: reference conventions', () => {
  it("uncertainty, convention 'libmtl': loss L / (2 e^s) + s / 2 from s = -0.5, s trained by Adam", () => {
    const lr = 0.05;
    const s = new UncertaintyWeighting({ convention: 'libmtl', lr });
    s.init(2, 0);
    const adam = new TorchAdam([-0.5, -0.5], lr);
    const losses = [
      [2, 0.3],
      [1.5, 0.4],
      [1.2, 0.2],
    ];
    for (const L of losses) {
      // The reference returns 1 / (2 e^s) and steps s on d/ds [L / (2 e^s) + s / 2] = 1/2 - L / (2 e^s).
      const expected = adam.p.map((si) => 1 / (2 * Math.exp(si)));
      expectClose(s.combine(stepOf(L)).weights, expected, 1e-14, 'weights');
      adam.step(adam.p.map((si, t) => 0.5 - L[t]! / (2 * Math.exp(si))));
    }
    expectClose(s.logVariances, adam.p, 1e-14, 'log-variances');
    // The first weights are e^0.5 / 2, not 1 as with the default convention.
    expect(new UncertaintyWeighting({ convention: 'libmtl' }).initLogVar).to.equal(-0.5);
    const plain = new UncertaintyWeighting();
    plain.init(1, 0);
    expect(plain.combine(stepOf([3])).weights[0]).to.equal(1);
  });

  it("RLW, scale 'simplex': weights softmax(z), z ~ N(0, 1) from the run's generator, summing to 1", () => {
    const s = new RandomLossWeighting({ scale: 'simplex' });
    s.init(3, 0);
    const draws = new Rng(7);
    const z = [draws.normal(), draws.normal(), draws.normal()];
    const e = z.map(Math.exp);
    const total = e[0]! + e[1]! + e[2]!;
    const w = s.combine(stepOf([1, 1, 1], undefined, { rng: new Rng(7) })).weights;
    expectClose(w, e.map((v) => v / total), 1e-15, 'weights');
    // The default scale is T times the same softmax.
    const tasks = new RandomLossWeighting();
    tasks.init(3, 0);
    expectClose(tasks.combine(stepOf([1, 1, 1], undefined, { rng: new Rng(7) })).weights, e.map((v) => (3 * v) / total), 1e-15, 'T softmax');
  });

  it('UPGrad, ridge 1e-4: the projections of torchjd, solved for G G^T / tr(G G^T) + 1e-4 I', () => {
    // Two conflicting gradients: M = [[1, -1], [-1, 5]], trace 6.
    const g = mat([
      [1, 0],
      [-1, 2],
    ]);
    const direction = (a: number, b: number, c: number): number[] => {
      // With b < 0, projecting g_1 onto the dual cone adds -b/c of g_2 (and vice versa); the
      // result is the mean of the two projections: coefficients ([1, -b/c] + [-b/a, 1]) / 2.
      const coef = [(1 - b / a) / 2, (1 - b / c) / 2];
      return [coef[0]! * 1 + coef[1]! * -1, coef[1]! * 2];
    };
    const ridge = 1e-4;
    const reference = direction(1 / 6 + ridge, -1 / 6, 5 / 6 + ridge);
    const r = new UPGrad({ ridge });
    r.init(2, 2);
    expectClose(r.combine(stepOf([1, 1], g)).shared!, reference, 1e-12, 'ridge 1e-4');
    const exact = new UPGrad();
    exact.init(2, 2);
    const d = exact.combine(stepOf([1, 1], g)).shared!;
    expectClose(d, direction(1, -1, 5), 1e-12, 'exact');
    // The ridge changes the answer in the 5th digit: the two conventions are distinguishable.
    expect(Math.abs(d[0]! - reference[0]!)).to.be.above(1e-6);
  });

  it("GradNorm, convention 'libmtl': w = T softmax(xi), L(0) the first epoch's mean loss, xi trained by Adam", () => {
    const g = mat([
      [3, 0],
      [0, 1],
    ]);
    const norms = [3, 1];
    const alpha = 1.5;
    const lr = 0.1;
    const s = new GradNorm({ convention: 'libmtl', alpha, lr });
    s.init(2, 2);
    // First epoch: equal weights, nothing learned.
    const first = s.combine(stepOf([2, 1], g, { epoch: 0 }));
    expectClose(first.weights, [1, 1], 0, 'first epoch');
    expectClose(first.shared!, [3, 1], 1e-15, 'first epoch direction');
    s.onEpochEnd(Float64Array.of(2, 1), 0);
    // Later steps: LibMTL's L_grad = sum_t |w_t ||g_t|| - mean_s(w_s ||g_s||) r_t^alpha| with the
    // target held constant, differentiated here numerically in the logits.
    const adam = new TorchAdam([0, 0], lr);
    const l0 = [2, 1];
    const weightsOf = (xi: number[]): number[] => {
      const e = xi.map(Math.exp);
      return e.map((v) => (2 * v) / (e[0]! + e[1]!));
    };
    for (const L of [
      [1, 0.8],
      [0.9, 0.75],
      [0.7, 0.74],
    ]) {
      const w = weightsOf(adam.p);
      const r = s.combine(stepOf(L, g, { epoch: 1 }));
      // The reference's gradient is taken by finite differences here: agreement to ~1e-9.
      expectClose(r.weights, w, 1e-8, 'weights');
      expectClose(r.shared!, [3 * w[0]!, w[1]!], 1e-8, 'direction');
      const ratio = L.map((v, t) => v / l0[t]!);
      const meanRatio = (ratio[0]! + ratio[1]!) / 2;
      const gMean = (w[0]! * norms[0]! + w[1]! * norms[1]!) / 2;
      const target = ratio.map((v) => gMean * (v / meanRatio) ** alpha);
      const lossGrad = (xi: number[]): number => weightsOf(xi).reduce((acc, wt, t) => acc + Math.abs(wt * norms[t]! - target[t]!), 0);
      const h = 1e-7;
      adam.step([0, 1].map((j) => (lossGrad(adam.p.map((v, k) => (k === j ? v + h : v))) - lossGrad(adam.p.map((v, k) => (k === j ? v - h : v)))) / (2 * h)));
    }
    expectClose(s.currentWeights(), weightsOf(adam.p), 1e-6, 'weights after three updates');
  });

  it('DB-MTL, betaSigma 0 (LibMTL default): a constant EMA factor beta', () => {
    const s = new DbMtl({ betaSigma: 0 });
    s.init(2, 2);
    const g = mat([
      [2, 0],
      [0, 50],
    ]);
    // h = g/L + beta (h - g/L) with beta = 0.9 at every step; g/(L + 1e-8) ~ [2, 0] and [0, 5].
    const a = 2 / (1 + 1e-8);
    const b = 50 / (10 + 1e-8);
    let h = [
      [0, 0],
      [0, 0],
    ];
    for (let k = 0; k < 3; k++) {
      const r = s.combine(stepOf([1, 10], g));
      h = [
        [a + 0.9 * (h[0]![0]! - a), 0],
        [0, b + 0.9 * (h[1]![1]! - b)],
      ];
      const n0 = h[0]![0]!;
      const n1 = h[1]![1]!;
      const max = Math.max(n0, n1);
      expectClose(r.shared!, [(max / (n0 + 1e-8)) * n0, (max / (n1 + 1e-8)) * n1], 1e-12, `direction at step ${k}`);
    }
  });
});
