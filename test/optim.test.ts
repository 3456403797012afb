/**
 * Optimisers (lib/nn/optim.ts over lib/kernels/js/optim.ts) and learning-rate schedules.
 *
 * Reference values: three steps on p0 = [1, -2, 0.5] with the gradients G below, computed once by
 * an independent plain-Python restatement of torch.optim's single-tensor update rules (torch 2.x
 * _single_tensor_adam / _single_tensor_sgd / _single_tensor_rmsprop; PyTorch itself is not
 * installed here) and pasted in. Step 1 of each is also easy to check by hand, e.g. Adam's first
 * step is p - lr sign(g) (up to eps) and AdamW's is that minus lr wd p.
 */
import { expect } from 'chai';
import { ConfigError, ShapeError, ValueError } from '../lib/core/errors.js';
import { fromDocument, toDocument } from '../lib/io/format.js';
import { jsOptim } from '../lib/kernels/js/optim.js';
import type { AdamArgs, OptimKernels } from '../lib/kernels/types.js';
import { createOptimizer, type OptimizerOptions } from '../lib/nn/optim.js';
import { createSchedule, PlateauSchedule } from '../lib/nn/schedule.js';

const P0 = [1, -2, 0.5];
const G = [
  [0.1, -0.2, 0.3],
  [-0.5, 0.4, 0.05],
  [0.2, 0.2, -0.1],
];

const REF: Record<string, { options: OptimizerOptions; steps: number[][] }> = {
  adam: {
    options: { type: 'adam', lr: 0.1 },
    steps: [
      [0.900000009999999, -1.9000000049999999, 0.4000000033333332],
      [0.9598354265523341, -1.9366103565460369, 0.321667272150606],
      [0.9795549188742791, -1.9885344363316624, 0.28412186418272706],
    ],
  },
  'adam with L2 weight decay': {
    options: { type: 'adam', lr: 0.1, weightDecay: 0.1 },
    steps: [
      [0.9000000049999998, -1.9000000025, 0.40000000285714277],
      [0.937522034544049, -1.87528316883678, 0.31656659378840796],
      [0.9273037988393159, -1.857948684170344, 0.2650792999410155],
    ],
  },
  adamw: {
    options: { type: 'adamw', lr: 0.1, weightDecay: 0.1 },
    steps: [
      [0.890000009999999, -1.8800000049999999, 0.3950000033333332],
      [0.9409354264523341, -1.897810356496037, 0.3127172721172726],
      [0.9512455645097557, -1.930756332716702, 0.27204469142822096],
    ],
  },
  sgd: {
    options: { type: 'sgd', lr: 0.1 },
    steps: [
      [0.99, -1.98, 0.47],
      [1.04, -2.02, 0.46499999999999997],
      [1.02, -2.04, 0.475],
    ],
  },
  'sgd with momentum, dampening and weight decay': {
    options: { type: 'sgd', lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 },
    steps: [
      [0.989, -1.978, 0.46950000000000003],
      [1.0232099, -1.9924198, 0.43712745000000003],
      [1.0350779210899999, -2.02160444218, 0.41659874029500005],
    ],
  },
  'sgd nesterov with weight decay': {
    options: { type: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
    steps: [
      [0.9791, -1.9582, 0.44205],
      [1.06332971, -2.01265942, 0.407005105],
      [1.0549973125510002, -2.061611225102, 0.39858923480049996],
    ],
  },
  rmsprop: {
    options: { type: 'rmsprop', lr: 0.01 },
    steps: [
      [0.9000000999999, -1.900000049999975, 0.40000003333332224],
      [0.9980770110928694, -1.9895323261670683, 0.3834795737804585],
      [0.9613968080518667, -2.030562469372621, 0.41499474221946947],
    ],
  },
  'rmsprop with momentum and weight decay': {
    options: { type: 'rmsprop', lr: 0.01, alpha: 0.9, momentum: 0.5, weightDecay: 0.1 },
    steps: [
      [0.9683772283983154, -1.968377225898316, 0.4683772262554588],
      [0.981178358359682, -1.9674915397333432, 0.44371205516150913],
      [0.9693535148180178, -1.9673004371235232, 0.436665253499138],
    ],
  },
};

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-12): void {
  expect(actual.length).to.equal(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tol = rel * Math.max(1, Math.abs(expected[i]!));
    expect(Math.abs(actual[i]! - expected[i]!), `index ${i}: ${actual[i]} vs ${expected[i]}`).to.be.at.most(tol);
  }
}

describe('optimisers: PyTorch update rules', () => {
  for (const [name, { options, steps }] of Object.entries(REF)) {
    it(`${name}: three steps match torch.optim (float64)`, () => {
      const opt = createOptimizer(options);
      const p = Float64Array.from(P0);
      for (let s = 0; s < 3; s++) {
        const g = Float64Array.from(G[s]!);
        opt.step(p, g);
        expectClose(p, steps[s]!);
        expect(Array.from(g)).to.deep.equal(G[s]); // the gradient is not modified
      }
      expect(opt.stepCount).to.equal(3);
    });

    it(`${name}: float32 parameters follow the float64 path to float32 precision`, () => {
      const opt = createOptimizer(options);
      const p = Float32Array.from(P0);
      for (let s = 0; s < 3; s++) opt.step(p, Float32Array.from(G[s]!));
      expectClose(p, steps[2]!, 1e-6);
      for (const b of Object.values(opt.getState().buffers)) expect(b).to.be.instanceOf(Float32Array);
    });
  }

  it('AdamW differs from Adam only through weight decay', () => {
    const run = (o: OptimizerOptions) => {
      const opt = createOptimizer(o);
      const p = Float64Array.from(P0);
      for (const g of G) opt.step(p, Float64Array.from(g));
      return p;
    };
    // Without decay they are the same algorithm.
    expect(Array.from(run({ type: 'adamw', lr: 0.1, weightDecay: 0 }))).to.deep.equal(Array.from(run({ type: 'adam', lr: 0.1 })));
    // With decay: AdamW's first step is Adam's minus lr wd p0 (decoupled); Adam's L2 decay instead
    // goes through the moments, so its first step is unchanged up to eps (sign(g + wd p) = sign(g)).
    const w = createOptimizer({ type: 'adamw', lr: 0.1, weightDecay: 0.1 });
    const a = createOptimizer({ type: 'adam', lr: 0.1, weightDecay: 0.1 });
    const pw = Float64Array.from(P0);
    const pa = Float64Array.from(P0);
    w.step(pw, Float64Array.from(G[0]!));
    a.step(pa, Float64Array.from(G[0]!));
    expectClose(pw, REF.adam!.steps[0]!.map((v, i) => v - 0.1 * 0.1 * P0[i]!));
    expectClose(pa, [0.9, -1.9, 0.4], 1e-7);
    // AdamW's default weight decay is PyTorch's 0.01, Adam's 0.
    expect(createOptimizer({ type: 'adamw' }).options.weightDecay).to.equal(0.01);
    expect(createOptimizer({ type: 'adam' }).options.weightDecay).to.equal(0);
  });

  it('clipNorm rescales the gradient to the global norm (clip_grad_norm_), on a copy', () => {
    const opt = createOptimizer({ type: 'sgd', lr: 1, clipNorm: 1 });
    const p = new Float64Array(2);
    const g = Float64Array.from([3, 4]); // norm 5
    opt.step(p, g);
    const coef = 1 / (5 + 1e-6);
    expectClose(p, [-3 * coef, -4 * coef], 1e-15);
    expect(Array.from(g)).to.deep.equal([3, 4]);
    // Below the threshold the gradient passes unchanged.
    const small = createOptimizer({ type: 'sgd', lr: 1, clipNorm: 10 });
    const q = new Float64Array(2);
    small.step(q, g);
    expect(Array.from(q)).to.deep.equal([-3, -4]);
  });

  it('calls the injected kernel set', () => {
    const calls: AdamArgs<Float64Array>[] = [];
    const spy: OptimKernels = {
      ...jsOptim,
      adamStep: (args) => {
        calls.push(args as AdamArgs<never>);
        jsOptim.adamStep(args);
      },
    };
    const opt = createOptimizer({ type: 'adamw', lr: 0.5, weightDecay: 0.2 }, { kernels: spy });
    const p = Float64Array.from(P0);
    opt.step(p, Float64Array.from(G[0]!));
    opt.step(p, Float64Array.from(G[1]!));
    expect(calls.map((c) => c.step)).to.deep.equal([1, 2]);
    expect(calls[0]).to.include({ lr: 0.5, weightDecay: 0.2, decoupledWeightDecay: true, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  });

  it('rejects bad options with ConfigErrors that name the problem', () => {
    const bad: [unknown, RegExp][] = [
      [{ type: 'adagrad' }, /type.*'sgd'/],
      [{ lr: 0.1 }, /'type' is required/],
      [{ type: 'adam', lrr: 0.1 }, /unknown option 'lrr'.*did you mean 'lr'/],
      [{ type: 'sgd', beta1: 0.9 }, /'beta1' does not apply to 'sgd'/],
      [{ type: 'adam', momentum: 0.9 }, /'momentum' does not apply to 'adam'/],
      [{ type: 'sgd', nesterov: true }, /nesterov needs momentum > 0/],
      [{ type: 'sgd', momentum: 0.9, nesterov: true, dampening: 0.1 }, /dampening 0/],
      [{ type: 'adam', lr: -1 }, /'lr' must be >= 0/],
      [{ type: 'adam', beta2: 1 }, /'beta2' must be < 1/],
      [{ type: 'adam', clipNorm: 0 }, /'clipNorm' must be > 0/],
      [{ type: 'adam', schedule: { type: 'step' } }, /'stepSize' is required/],
      [{ type: 'adam', schedule: { type: 'linear' } }, /unknown type.*'cosine'/],
      [{ type: 'adam', schedule: { type: 'cosine', tMax: 10, gamma: 0.5 } }, /unknown option 'gamma'/],
    ];
    for (const [o, msg] of bad) {
      expect(() => createOptimizer(o as OptimizerOptions), JSON.stringify(o)).to.throw(ConfigError, msg);
    }
  });

  it('rejects mismatched params and gradients', () => {
    const opt = createOptimizer({ type: 'adam' });
    expect(() => opt.step(new Float64Array(3), new Float64Array(2))).to.throw(ShapeError, /grad has 2 values, params 3/);
    expect(() => opt.step(new Float64Array(3), new Float32Array(3) as never)).to.throw(ValueError, /one dtype/);
    opt.step(new Float64Array(3), new Float64Array(3));
    expect(() => opt.step(new Float64Array(4), new Float64Array(4))).to.throw(ShapeError, /one optimizer per parameter vector/);
  });
});

describe('learning-rate schedules', () => {
  const sequence = (o: Parameters<typeof createSchedule>[0], epochs: number, base = 1): number[] => {
    const s = createSchedule(o, base);
    const out: number[] = [];
    for (let e = 0; e < epochs; e++) {
      out.push(s.lr());
      s.epochEnd();
    }
    return out;
  };

  it('constant by default', () => {
    expect(sequence(undefined, 3, 0.01)).to.deep.equal([0.01, 0.01, 0.01]);
  });

  it('step: base gamma^floor(e / stepSize) (StepLR)', () => {
    expect(sequence({ type: 'step', stepSize: 2, gamma: 0.5 }, 6)).to.deep.equal([1, 1, 0.5, 0.5, 0.25, 0.25]);
  });

  it('exponential: base gamma^e (ExponentialLR)', () => {
    expectClose(sequence({ type: 'exponential', gamma: 0.9 }, 4, 2), [2, 1.8, 1.62, 1.458], 1e-15);
  });

  it('cosine: etaMin + (base - etaMin)(1 + cos(pi e / tMax)) / 2 (CosineAnnealingLR)', () => {
    // By hand: cos(pi/4) = 0.70710678..., so (1 + 0.7071)/2 = 0.85355..., (1 - 0.7071)/2 = 0.14644...
    expectClose(sequence({ type: 'cosine', tMax: 4 }, 6), [1, 0.8535533905932737, 0.5, 0.14644660940672627, 0, 0.14644660940672627], 1e-15);
    expectClose(sequence({ type: 'cosine', tMax: 2, etaMin: 0.1 }, 3), [1, 0.55, 0.1], 1e-15);
  });

  it('reduce-on-plateau: cuts lr after more than `patience` epochs without improvement', () => {
    const s = createSchedule({ type: 'reduce-on-plateau', factor: 0.5, patience: 2 }, 1) as PlateauSchedule;
    const metrics = [1, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85];
    const lrs = metrics.map((m) => {
      s.observe(m);
      return s.lr();
    });
    expect(lrs).to.deep.equal([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]);
  });

  it('reduce-on-plateau: threshold, minLr, cooldown and mode max', () => {
    // A relative improvement below the threshold (1 %) does not count.
    const s = createSchedule({ type: 'reduce-on-plateau', factor: 0.1, patience: 0, threshold: 0.01, minLr: 0.05 }, 1);
    s.epochEnd(1);
    s.epochEnd(0.995); // < 1 % better: bad epoch, patience 0 -> reduce
    expect(s.lr()).to.be.closeTo(0.1, 1e-15);
    s.epochEnd(0.995);
    expect(s.lr()).to.equal(0.05); // floored at minLr
    // Cooldown: after a reduction, the next `cooldown` epochs do not count as bad.
    const c = createSchedule({ type: 'reduce-on-plateau', factor: 0.5, patience: 0, cooldown: 2 }, 1);
    for (const m of [1, 2, 2, 2, 2]) c.epochEnd(m);
    // epoch 2 reduces (1 -> 0.5), epochs 3 and 4 are cooldown, epoch 5 reduces again.
    expect(c.lr()).to.equal(0.25);
    const max = createSchedule({ type: 'reduce-on-plateau', mode: 'max', factor: 0.5, patience: 0 }, 1);
    max.epochEnd(0.5);
    max.epochEnd(0.6);
    expect(max.lr()).to.equal(1);
    max.epochEnd(0.55);
    expect(max.lr()).to.equal(0.5);
  });

  it('reduce-on-plateau needs the metric', () => {
    const opt = createOptimizer({ type: 'sgd', lr: 1, schedule: { type: 'reduce-on-plateau' } });
    expect(() => opt.epochEnd()).to.throw(ValueError, /needs the epoch metric/);
    expect(() => opt.epochEnd(NaN)).to.throw(ValueError, /finite/);
  });

  it('the optimizer uses the scheduled lr, stepped by epochEnd()', () => {
    const opt = createOptimizer({ type: 'sgd', lr: 1, schedule: { type: 'step', stepSize: 1, gamma: 0.5 } });
    const p = new Float64Array(1);
    opt.step(p, Float64Array.of(1));
    opt.epochEnd();
    expect(opt.lr).to.equal(0.5);
    opt.step(p, Float64Array.of(1));
    expect(p[0]).to.equal(-1.5);
  });
});

describe('optimizer state: exact resume', () => {
  const cases: OptimizerOptions[] = [
    { type: 'adam', lr: 0.05, weightDecay: 0.01, schedule: { type: 'cosine', tMax: 5 } },
    { type: 'adamw', lr: 0.05, clipNorm: 0.5, schedule: { type: 'exponential', gamma: 0.9 } },
    { type: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, schedule: { type: 'step', stepSize: 2 } },
    { type: 'rmsprop', lr: 0.01, momentum: 0.3, schedule: { type: 'reduce-on-plateau', patience: 0, factor: 0.5 } },
  ];
  const grad = (k: number, n: number, f32: boolean) => {
    const g = f32 ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) g[i] = Math.sin(k * 1.7 + i * 0.3) * (1 + i);
    return g;
  };

  for (const options of cases) {
    for (const f32 of [false, true]) {
      it(`${options.type} (${f32 ? 'float32' : 'float64'}): save after 4 steps, restore through the model format, continue bit for bit`, () => {
        const n = 7;
        const run = (opt: ReturnType<typeof createOptimizer>, p: Float64Array | Float32Array, from: number, to: number) => {
          for (let k = from; k < to; k++) {
            opt.step(p, grad(k, n, f32) as typeof p);
            if (k % 2 === 1) opt.epochEnd(1 / (k + 1) + (k > 4 ? 1 : 0)); // plateau sees a rise late on
          }
        };
        const a = createOptimizer(options);
        const pa = f32 ? new Float32Array(n).fill(0.5) : new Float64Array(n).fill(0.5);
        run(a, pa, 0, 4);
        const doc = JSON.parse(JSON.stringify(toDocument('test', {}, { opt: a.getState(), params: pa })));
        const { state } = fromDocument(doc, 'test');
        const b = createOptimizer(options);
        b.setState(state.opt);
        const pb = state.params as typeof pa;
        run(a, pa, 4, 10);
        run(b, pb, 4, 10);
        expect(Array.from(pb)).to.deep.equal(Array.from(pa));
        expect(b.stepCount).to.equal(10);
        expect(b.lr).to.equal(a.lr);
      });
    }
  }

  it('setState refuses a state of another optimizer type or a broken buffer', () => {
    const a = createOptimizer({ type: 'adam' });
    a.step(new Float64Array(2), Float64Array.of(1, 2));
    const s = a.getState();
    expect(() => createOptimizer({ type: 'sgd' }).setState(s)).to.throw(/is for 'adam', but this optimizer is 'sgd'/);
    expect(() => createOptimizer({ type: 'adam' }).setState({ ...s, buffers: { m: [1, 2] } })).to.throw(/buffer 'm'/);
    expect(() => createOptimizer({ type: 'adam' }).setState({ ...s, step: -1 })).to.throw(/'step'/);
  });
});
