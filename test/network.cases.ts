/**
 * Shared network fixtures for the network tests: a spec for every op, activation and loss, and
 * small multi-task architectures, with random parameters, inputs and loss-appropriate targets.
 */
import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import type { LossName, NetworkBatch, NetworkSpec, NodeSpec } from '../lib/kernels/types.js';
import { compileNetwork, dropoutMasks, initParams } from '../lib/nn/spec.js';
import { randMatrix } from './helpers.js';

export const N = 6;

/** Targets suited to each head's loss, with a few missing entries when `missing`. */
export function targets(spec: NetworkSpec, rng: Rng, n: number, missing = false): Matrix<Float64Array> {
  const c = compileNetwork(spec);
  const y = new Float64Array(n * c.targetCols);
  spec.heads.forEach((h) => {
    const C = c.widths[h.node]!;
    for (let r = 0; r < n; r++) {
      let v: number;
      switch (h.loss) {
        case 'softmax-ce':
          v = rng.int(C);
          break;
        case 'bce-logits':
          v = rng.int(2);
          break;
        case 'poisson':
          v = rng.int(5);
          break;
        default:
          v = 2 * rng.normal();
      }
      if (missing && r % 3 === 1) v = h.loss === 'softmax-ce' || h.loss === 'bce-logits' ? -1 : NaN;
      y[r * c.targetCols + h.target] = v;
    }
  });
  return { rows: n, cols: c.targetCols, data: y };
}

export interface Case {
  name: string;
  spec: NetworkSpec;
  mask?: boolean;
  /** Batchnorm nodes normalise with random running statistics passed in the batch (else the batch's own). */
  running?: boolean;
}

/** Whether a row's outputs depend on the other rows of the batch (batchnorm with batch statistics). */
export function rowsCoupled(c: Case): boolean {
  return !c.running && c.spec.nodes.some((n) => n.op === 'batchnorm');
}

/** input(4) -> dense(5) -> [body] -> dense(heads) */
export function chain(body: (prev: number) => NodeSpec[], loss: LossName = 'mse', outWidth = 1): NetworkSpec {
  const nodes: NodeSpec[] = [{ op: 'input', size: 4 }, { op: 'dense', input: 0, units: 5 }];
  for (const n of body(1)) nodes.push(n);
  nodes.push({ op: 'dense', input: nodes.length - 1, units: outWidth });
  return { nodes, heads: [{ node: nodes.length - 1, loss, target: 0 }] };
}

export const cases: Case[] = [];
for (const fn of ['relu', 'leaky-relu', 'elu', 'gelu', 'tanh', 'sigmoid', 'identity'] as const) {
  cases.push({ name: `activation ${fn}`, spec: chain((p) => [{ op: 'activation', input: p, fn }]) });
}
cases.push({ name: 'activation leaky-relu alpha 0.2', spec: chain((p) => [{ op: 'activation', input: p, fn: 'leaky-relu', alpha: 0.2 }]) });
cases.push({ name: 'activation elu alpha 0.5', spec: chain((p) => [{ op: 'activation', input: p, fn: 'elu', alpha: 0.5 }]) });
for (const loss of ['mse', 'huber', 'bce-logits', 'poisson'] as const) {
  cases.push({ name: `loss ${loss}`, spec: chain((p) => [{ op: 'activation', input: p, fn: 'tanh' }], loss) });
}
cases.push({
  name: 'loss huber delta 0.3',
  spec: { ...chain((p) => [{ op: 'activation', input: p, fn: 'tanh' }], 'huber'), heads: [{ node: 3, loss: 'huber', target: 0, delta: 0.3 }] },
});
cases.push({ name: 'loss softmax-ce', spec: chain((p) => [{ op: 'activation', input: p, fn: 'tanh' }], 'softmax-ce', 3) });
cases.push({ name: 'dropout with a fixed mask', spec: chain((p) => [{ op: 'activation', input: p, fn: 'tanh' }, { op: 'dropout', input: p + 1, rate: 0.4 }]), mask: true });
cases.push({ name: 'layernorm', spec: chain((p) => [{ op: 'layernorm', input: p }, { op: 'activation', input: p + 1, fn: 'gelu' }]) });
cases.push({ name: 'softmax node', spec: chain((p) => [{ op: 'softmax', input: p }]) });
cases.push({
  name: 'concat and add',
  spec: chain((p) => [
    { op: 'activation', input: p, fn: 'tanh' },
    { op: 'dense', input: 0, units: 5 },
    { op: 'add', inputs: [p + 1, p + 2, p] },
    { op: 'concat', inputs: [p + 3, p + 1, 0] },
  ]),
});
cases.push({
  name: 'hard sharing, 2 heads (regression + 3-class)',
  spec: {
    nodes: [
      { op: 'input', size: 4 },
      { op: 'dense', input: 0, units: 6 },
      { op: 'activation', input: 1, fn: 'relu' },
      { op: 'dense', input: 2, units: 5 },
      { op: 'activation', input: 3, fn: 'tanh' },
      { op: 'dense', input: 4, units: 1 },
      { op: 'dense', input: 4, units: 3 },
    ],
    heads: [
      { node: 5, loss: 'mse', target: 0 },
      { node: 6, loss: 'softmax-ce', target: 1 },
    ],
  },
});
cases.push({
  name: 'MMoE: 3 experts, 2 softmax gates, 2 mixtures',
  spec: {
    nodes: [
      { op: 'input', size: 4 },
      { op: 'dense', input: 0, units: 4 }, // 1 expert 0
      { op: 'activation', input: 1, fn: 'elu' },
      { op: 'dense', input: 0, units: 4 }, // 3 expert 1
      { op: 'activation', input: 3, fn: 'tanh' },
      { op: 'dense', input: 0, units: 4 }, // 5 expert 2
      { op: 'activation', input: 5, fn: 'sigmoid' },
      { op: 'dense', input: 0, units: 3 }, // 7 gate 0 logits
      { op: 'softmax', input: 7 },
      { op: 'dense', input: 0, units: 3 }, // 9 gate 1 logits
      { op: 'softmax', input: 9 },
      { op: 'mixture', gate: 8, experts: [2, 4, 6] }, // 11
      { op: 'mixture', gate: 10, experts: [2, 4, 6] }, // 12
      { op: 'dense', input: 11, units: 1 }, // 13 tower 0
      { op: 'dense', input: 12, units: 1 }, // 14 tower 1
    ],
    heads: [
      { node: 13, loss: 'mse', target: 0 },
      { node: 14, loss: 'bce-logits', target: 1 },
    ],
  },
});
cases.push({
  name: 'cross-stitch: 2 columns, one stitch layer',
  spec: {
    nodes: [
      { op: 'input', size: 4 },
      { op: 'dense', input: 0, units: 5 },
      { op: 'activation', input: 1, fn: 'tanh' },
      { op: 'dense', input: 0, units: 5 },
      { op: 'activation', input: 3, fn: 'gelu' },
      { op: 'stitch', inputs: [2, 4], self: 0 }, // 5
      { op: 'stitch', inputs: [2, 4], self: 1 }, // 6
      { op: 'dense', input: 5, units: 1 },
      { op: 'dense', input: 6, units: 1 },
    ],
    heads: [
      { node: 7, loss: 'huber', target: 0 },
      { node: 8, loss: 'poisson', target: 1 },
    ],
  },
});

// ---- convolutional networks: image inputs (NCHW rows) ----
const image = (shape: [number, number, number], body: NodeSpec[], loss: LossName = 'mse', outWidth = 1): NetworkSpec => {
  const nodes: NodeSpec[] = [{ op: 'input', size: shape[0] * shape[1] * shape[2], shape }, ...body];
  nodes.push({ op: 'dense', input: nodes.length - 1, units: outWidth });
  return { nodes, heads: [{ node: nodes.length - 1, loss, target: 0 }] };
};
/** Two 3x3 convolutions (the second reads the first: a data gradient), batchnorm, relu, max-pool. */
const convBlock: NodeSpec[] = [
  { op: 'conv2d', input: 0, filters: 3, kernel: 3, padding: 1 }, // 1: 3 x 5 x 5
  { op: 'activation', input: 1, fn: 'tanh' },
  { op: 'conv2d', input: 2, filters: 4, kernel: 3, padding: 1 }, // 3: 4 x 5 x 5
  { op: 'batchnorm', input: 3 },
  { op: 'activation', input: 4, fn: 'relu' },
  { op: 'maxpool2d', input: 5, size: 2 }, // 6: 4 x 2 x 2
  { op: 'flatten', input: 6 },
];
cases.push({ name: 'conv2d 3x3 padding 1, batchnorm, relu, maxpool2d, flatten', spec: image([2, 5, 5], convBlock) });
cases.push({ name: 'the same with running batchnorm statistics', spec: image([2, 5, 5], convBlock), running: true });
/**
 * A 3x3 'same' convolution on 16 channels, which the native kernels compute in Winograd's form,
 * reading another convolution (a data gradient); odd image sides leave the last tiles half outside.
 */
cases.push({
  name: 'conv2d 3x3 padding 1 from 16 to 16 channels (the native Winograd form), odd sides',
  spec: image(
    [1, 3, 3],
    [
      { op: 'conv2d', input: 0, filters: 16, kernel: 3, padding: 1 }, // 1: 16 x 3 x 3
      { op: 'activation', input: 1, fn: 'tanh' },
      { op: 'conv2d', input: 2, filters: 16, kernel: 3, padding: 1 }, // 3: 16 x 3 x 3 (Winograd)
      { op: 'batchnorm', input: 3 },
      { op: 'activation', input: 4, fn: 'relu' },
      { op: 'maxpool2d', input: 5, size: 2 }, // 6: 16 x 1 x 1
      { op: 'flatten', input: 6 },
    ],
  ),
});
cases.push({
  name: 'conv2d stride 2, kernel [2, 3], padding [1, 0]; global avgpool2d; softmax-ce',
  spec: image(
    [2, 6, 7],
    [
      { op: 'conv2d', input: 0, filters: 2, kernel: 3, padding: 1 }, // 1: 2 x 6 x 7
      { op: 'activation', input: 1, fn: 'gelu' },
      { op: 'conv2d', input: 2, filters: 3, kernel: [2, 3], stride: 2, padding: [1, 0] }, // 3: 3 x 4 x 3
      { op: 'activation', input: 3, fn: 'elu' },
      { op: 'avgpool2d', input: 4, size: 'global' }, // 5: 3 x 1 x 1
    ],
    'softmax-ce',
    3,
  ),
});
cases.push({
  name: 'overlapping pools: maxpool2d 3 stride 2, avgpool2d [2, 1] stride 1; batchnorm on a flat node',
  spec: image(
    [1, 7, 7],
    [
      { op: 'conv2d', input: 0, filters: 2, kernel: 2 }, // 1: 2 x 6 x 6
      { op: 'maxpool2d', input: 1, size: 3, stride: 2 }, // 2: 2 x 2 x 2
      { op: 'conv2d', input: 2, filters: 2, kernel: 1 }, // 3: 2 x 2 x 2
      { op: 'avgpool2d', input: 3, size: [2, 1], stride: 1 }, // 4: 2 x 1 x 2
      { op: 'dense', input: 4, units: 3 },
      { op: 'batchnorm', input: 5 },
      { op: 'activation', input: 6, fn: 'sigmoid' },
    ],
  ),
});

cases.push({
  name: 'a conv output read by a batchnorm-relu-maxpool chain and by a second pool; a relu read twice',
  spec: image(
    [2, 6, 6],
    [
      { op: 'conv2d', input: 0, filters: 3, kernel: 3, padding: 1 }, // 1: 3 x 6 x 6
      { op: 'batchnorm', input: 1 },
      { op: 'activation', input: 2, fn: 'relu' },
      { op: 'maxpool2d', input: 3, size: 2 }, // 4: 3 x 3 x 3
      { op: 'maxpool2d', input: 1, size: 2 }, // 5: the conv output's second reader
      { op: 'add', inputs: [4, 5] },
      { op: 'batchnorm', input: 6 },
      { op: 'activation', input: 7, fn: 'relu' }, // 8: read by the pool and by the concat
      { op: 'maxpool2d', input: 8, size: 3 }, // 9: 3 x 1 x 1
      { op: 'flatten', input: 8 },
      { op: 'concat', inputs: [9, 10] },
    ],
  ),
});

export interface Setup {
  spec: NetworkSpec;
  params: Float64Array;
  batch: NetworkBatch<Float64Array>;
  weights: Float64Array;
}

export function setup(c: Case, seed: number, missing = false, rows = N): Setup {
  const rng = new Rng(seed);
  const compiled = compileNetwork(c.spec);
  const params = initParams(compiled, rng, 'float64');
  // Perturb so stitch weights, gammas and betas are not at their symmetric starting values.
  for (let k = 0; k < params.length; k++) params[k]! += 0.3 * rng.normal();
  const x = randMatrix(rng, rows, compiled.inputSize);
  const y = targets(c.spec, rng, rows, missing);
  const masks = c.mask ? dropoutMasks(compiled, rng, rows, 'float64') : undefined;
  const weights = Float64Array.from(c.spec.heads, (_, h) => 0.7 + 0.6 * h);
  const batch: NetworkBatch<Float64Array> = { x, y, masks };
  if (c.running) batch.stats = { running: runningStats(compiled, rng) };
  return { spec: c.spec, params, batch, weights };
}

/** Random running statistics: means N(0, 0.5^2), variances in [0.5, 1.5). */
function runningStats(compiled: ReturnType<typeof compileNetwork>, rng: Rng): Float64Array {
  const s = new Float64Array(compiled.statsCount);
  for (const i of compiled.normNodes) {
    const o = compiled.statsOffset[i]!;
    const C = compiled.normChannels[i]!;
    for (let c = 0; c < C; c++) {
      s[o + c] = 0.5 * rng.normal();
      s[o + C + c] = 0.5 + rng.uniform();
    }
  }
  return s;
}

/** A batch in float32 (masks and running statistics included). */
export function batch32(b: NetworkBatch<Float64Array>): NetworkBatch<Float32Array> {
  const m = (x: Matrix<Float64Array>): Matrix<Float32Array> => ({ rows: x.rows, cols: x.cols, data: Float32Array.from(x.data) });
  const out: NetworkBatch<Float32Array> = { x: m(b.x) };
  if (b.y) out.y = m(b.y);
  if (b.masks) out.masks = new Map([...b.masks].map(([i, v]) => [i, Float32Array.from(v)]));
  if (b.stats?.running) out.stats = { running: Float32Array.from(b.stats.running) };
  return out;
}

