/**
 * The reproducibility contract (docs/reproducibility.md): on one machine, backend and SIMD level,
 * every kernel gives bit-identical outputs for the same input values, whatever the buffer
 * addresses and element offsets of its arrays, the thread count and the order of calls. Each case
 * below runs a kernel once at element offset 0 with one thread, then at offsets 0..7 (inputs and
 * outputs placed at that offset in a larger array) with 1, 2 and 3 threads, and compares bits.
 * Sizes are large enough that the native products split across threads.
 */
import { expect } from 'chai';

import type { DType, FloatArray, Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { backend, kernels, setThreads } from '../lib/kernels/index.js';
import type { Kernels, NetworkHandle, NetworkSpec } from '../lib/kernels/types.js';
import { compileNetwork, dropoutMasks, initParams } from '../lib/nn/spec.js';

/** Where every input and output of one run is allocated: at element `offset` of a larger array. */
class Arena {
  private readonly rng: Rng;
  constructor(
    readonly offset: number,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }

  array(dtype: DType, n: number, fill: (rng: Rng, i: number) => number = (r) => r.normal()): FloatArray {
    const whole = dtype === 'float32' ? new Float32Array(n + this.offset) : new Float64Array(n + this.offset);
    const a = whole.subarray(this.offset);
    for (let i = 0; i < n; i++) a[i] = fill(this.rng, i);
    return a;
  }
  f64(n: number, fill?: (rng: Rng, i: number) => number): Float64Array {
    return this.array('float64', n, fill) as Float64Array;
  }
  matrix<T extends FloatArray>(dtype: DType, rows: number, cols: number, fill?: (rng: Rng, i: number) => number): Matrix<T> {
    return { rows, cols, data: this.array(dtype, rows * cols, fill) as T };
  }
  int32(values: ArrayLike<number>): Int32Array {
    const a = new Int32Array(values.length + this.offset).subarray(this.offset);
    a.set(values);
    return a;
  }
  /** A copy of `src` placed at this arena's offset. */
  place<T extends FloatArray>(src: T): T {
    const whole = new (src.constructor as new (n: number) => T)(src.length + this.offset);
    const a = whole.subarray(this.offset) as T;
    a.set(src);
    return a;
  }
}

/** Every output of a run as raw bytes, so comparison is bit for bit (NaN payloads and -0 included). */
type Outputs = Uint8Array[];
const bits = (...xs: (FloatArray | Int32Array | Float64Array | number)[]): Outputs =>
  xs.map((x) => (typeof x === 'number' ? new Uint8Array(Float64Array.of(x).buffer) : new Uint8Array(x.buffer, x.byteOffset, x.byteLength).slice()));

type Case = { covers: (keyof Kernels)[]; run: (k: Kernels, a: Arena) => Outputs };

function spd(a: Arena, n: number): Matrix<Float64Array> {
  const m = a.matrix<Float64Array>('float64', n, n + 3);
  const out = a.matrix<Float64Array>('float64', n, n, () => 0);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? n : 0;
      for (let k = 0; k < n + 3; k++) s += m.data[i * (n + 3) + k]! * m.data[j * (n + 3) + k]!;
      out.data[i * n + j] = s;
    }
  return out;
}

/** The five head nodes everyLoss takes: three on node a (the third four classes wide), two on node b. */
function headNodes(a: number, b: number): NetworkSpec['nodes'] {
  return [
    { op: 'dense', input: a, units: 1 },
    { op: 'dense', input: a, units: 1 },
    { op: 'dense', input: a, units: 4 },
    { op: 'dense', input: b, units: 1 },
    { op: 'dense', input: b, units: 1 },
  ];
}

/** One head of each loss on the given nodes, target t on the t-th (networkCase draws the targets to match). */
function everyLoss(nodes: number[]): NetworkSpec['heads'] {
  const losses = ['mse', 'bce-logits', 'softmax-ce', 'huber', 'poisson'] as const;
  return losses.map((loss, t) => ({ node: nodes[t]!, loss, target: t }));
}

/** Every op and loss, wide enough for the products to run on several threads. */
const wideSpec: NetworkSpec = {
  nodes: [
    { op: 'input', size: 48 },
    { op: 'dense', input: 0, units: 96 }, // 1
    { op: 'layernorm', input: 1 }, // 2
    { op: 'activation', input: 2, fn: 'gelu' }, // 3
    { op: 'dropout', input: 3, rate: 0.25 }, // 4
    { op: 'dense', input: 4, units: 64 }, // 5 expert 0
    { op: 'activation', input: 5, fn: 'relu' }, // 6
    { op: 'dense', input: 4, units: 64 }, // 7 expert 1
    { op: 'activation', input: 7, fn: 'tanh' }, // 8
    { op: 'dense', input: 4, units: 2 }, // 9 gate logits
    { op: 'softmax', input: 9 }, // 10
    { op: 'mixture', gate: 10, experts: [6, 8] }, // 11
    { op: 'stitch', inputs: [6, 8], self: 0 }, // 12
    { op: 'add', inputs: [11, 12] }, // 13
    { op: 'concat', inputs: [13, 6] }, // 14
    ...headNodes(14, 13), // 15-19
  ],
  heads: everyLoss([15, 16, 17, 18, 19]),
};

/**
 * wideSpec without its layer normalisation: every op computes a row from that row alone, so on
 * one thread the native lossGrad runs its row chunks' forward passes as one pass over the batch.
 */
const rowLocalSpec: NetworkSpec = {
  nodes: wideSpec.nodes.map((nd, i) => (i === 2 ? { op: 'activation', input: 1, fn: 'identity' } : nd)) as NetworkSpec['nodes'],
  heads: wideSpec.heads,
};

/** Dense parameters only: on one thread the native lossGrad runs its row chunks' backward passes as one too. */
const denseSpec: NetworkSpec = {
  nodes: [
    { op: 'input', size: 48 },
    { op: 'dense', input: 0, units: 96 }, // 1
    { op: 'activation', input: 1, fn: 'gelu' }, // 2
    { op: 'dropout', input: 2, rate: 0.25 }, // 3
    { op: 'dense', input: 3, units: 80 }, // 4
    { op: 'activation', input: 4, fn: 'relu' }, // 5
    { op: 'concat', inputs: [5, 2] }, // 6
    ...headNodes(6, 5), // 7-11
  ],
  heads: everyLoss([7, 8, 9, 10, 11]),
};

/** n = 96: one pass whose products split across threads; n = 136: the native lossGrad's two row chunks (72 and 64 rows). */
function networkCase(dtype: DType, n: number, spec: NetworkSpec = wideSpec): Case {
  return {
    covers: ['network'],
    run: (k, a) => {
      const compiled = compileNetwork(spec);
      const rng = new Rng(3);
      const params = a.place(initParams(compiled, rng, dtype));
      const masks = new Map([...dropoutMasks(compiled, rng, n, dtype)].map(([i, m]) => [i, a.place(m)]));
      const x = a.matrix<FloatArray>(dtype, n, 48);
      const y = a.matrix<FloatArray>(dtype, n, 5, (r, i) => {
        const col = i % 5;
        return col === 1 ? r.int(2) : col === 2 ? r.int(4) : col === 4 ? r.int(5) : r.normal();
      });
      const batch = { x, y, masks };
      const weights = a.f64(5, (_, h) => 0.5 + h);
      const h = k.network(spec, dtype as 'float64') as unknown as NetworkHandle<FloatArray>;
      const out = h.forward(params, batch);
      const grad = a.array(dtype, compiled.paramCount, () => 0);
      const losses = h.lossGrad(params, batch, weights, grad);
      const heads = a.matrix<FloatArray>(dtype, 5, compiled.paramCount, () => 0);
      const headLosses = h.headGrads(params, batch, heads);
      const v = a.array(dtype, compiled.paramCount);
      const hv = a.array(dtype, compiled.paramCount, () => 0);
      h.hvp(params, batch, weights, v, hv);
      const outGrad = a.matrix<FloatArray>(dtype, n, compiled.outputWidth);
      const vj = a.array(dtype, compiled.paramCount, () => 0);
      h.vjp(params, batch, outGrad, vj);
      h.dispose();
      return bits(out.data, grad, losses, heads.data, headLosses, hv, vj);
    },
  };
}

function metaCase(dtype: DType): Case {
  return {
    covers: ['network'],
    run: (k, a) => {
      const spec: NetworkSpec = {
        nodes: [
          { op: 'input', size: 8 },
          { op: 'dense', input: 0, units: 64 },
          { op: 'activation', input: 1, fn: 'relu' },
          { op: 'dense', input: 2, units: 64 },
          { op: 'activation', input: 3, fn: 'tanh' },
          { op: 'dense', input: 4, units: 1 },
        ],
        heads: [{ node: 5, loss: 'mse', target: 0 }],
      };
      const compiled = compileNetwork(spec);
      const params = a.place(initParams(compiled, new Rng(4), dtype));
      const tasks = 7;
      const rows = 20;
      const x = a.matrix<FloatArray>(dtype, tasks * 2 * rows, 8);
      const y = a.matrix<FloatArray>(dtype, tasks * 2 * rows, 1);
      const offsets = a.int32(Array.from({ length: 2 * tasks + 1 }, (_, i) => i * rows));
      const h = k.network(spec, dtype as 'float64') as unknown as NetworkHandle<FloatArray>;
      const out: Outputs = [];
      for (const firstOrder of [false, true]) {
        const grad = a.f64(compiled.paramCount, () => 0);
        const loss = h.metaGradient(params, { x, y, offsets }, { innerLr: 0.05, innerSteps: 2, firstOrder }, grad);
        out.push(...bits(grad, loss));
      }
      h.dispose();
      return out;
    },
  };
}

function optimCase(dtype: DType): Case {
  return {
    covers: ['adamStep', 'sgdStep', 'rmspropStep'],
    run: (k, a) => {
      const n = 10_007;
      const p = () => a.array(dtype, n);
      const adam = { params: p(), grad: p(), m: p(), v: a.array(dtype, n, (r) => r.uniform()) };
      k.adamStep({ ...adam, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupledWeightDecay: true, step: 3 });
      const sgd = { params: p(), grad: p(), velocity: p() };
      k.sgdStep({ ...sgd, lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-4, step: 2 });
      const rms = { params: p(), grad: p(), squareAvg: a.array(dtype, n, (r) => r.uniform()), momentumBuf: p() };
      k.rmspropStep({ ...rms, lr: 1e-2, alpha: 0.99, eps: 1e-8, momentum: 0.5, weightDecay: 0 });
      return bits(adam.params, adam.m, adam.v, sgd.params, sgd.velocity, rms.params, rms.squareAvg, rms.momentumBuf);
    },
  };
}

const cases: Record<string, Case> = {
  gemm: {
    covers: ['gemm'],
    run: (k, a) => {
      const out: Outputs = [];
      for (const dtype of ['float64', 'float32'] as const)
        for (const transA of [false, true])
          for (const transB of [false, true]) {
            const [m, n, kk] = [70, 90, 300];
            const A = transA ? a.matrix(dtype, kk, m) : a.matrix(dtype, m, kk);
            const B = transB ? a.matrix(dtype, n, kk) : a.matrix(dtype, kk, n);
            const C = a.matrix(dtype, m, n);
            k.gemm(A, B, C, { transA, transB, alpha: 1.5, beta: 0.5 });
            out.push(...bits(C.data));
          }
      return out;
    },
  },
  'gram, transpose, gatherRows, setBlock, gatherBlock': {
    covers: ['gram', 'transpose', 'gatherRows', 'setBlock', 'gatherBlock'],
    run: (k, a) => {
      const x = a.matrix<Float64Array>('float64', 300, 90);
      const g = a.matrix<Float64Array>('float64', 90, 90);
      k.gram(x, g);
      const t = a.matrix<Float64Array>('float64', 90, 300);
      k.transpose(x, t);
      const rows = a.int32(Array.from({ length: 64 }, (_, r) => (r * 37) % 300));
      const picked = a.matrix<Float64Array>('float64', 64, 90);
      k.gatherRows(x, rows, picked);
      const x32 = a.matrix<Float32Array>('float32', 300, 90);
      const picked32 = a.matrix<Float32Array>('float32', 64, 90);
      k.gatherRows(x32, rows, picked32);
      k.setBlock(t, 10, 120, picked);
      const block = a.matrix<Float64Array>('float64', 64, 40);
      k.gatherBlock(t, rows.map((r) => r % 90), rows.subarray(0, 40), block);
      return bits(g.data, t.data, picked.data, picked32.data, block.data);
    },
  },
  fillMask: {
    covers: ['fillMask'],
    run: (k, a) => {
      const state = a.int32(new Rng(8).streamState());
      const m64 = a.array('float64', 5000);
      k.fillMask(state, m64, 0.3, 1 / 0.7);
      const m32 = a.array('float32', 70000);
      k.fillMask(state, m32, 0.1, 1 / 0.9);
      return bits(m64, m32, state);
    },
  },
  'choleskySolve, symEig, svd': {
    covers: ['choleskySolve', 'symEig', 'svd'],
    run: (k, a) => {
      const A = spd(a, 60);
      const x = k.choleskySolve(A, a.matrix('float64', 60, 5));
      const e = k.symEig(spd(a, 40));
      const s = k.svd(a.matrix('float64', 50, 30));
      return bits(x.data, e.values, e.vectors.data, s.u.data, s.s, s.vt.data);
    },
  },
  'groupSoftThreshold, svt': {
    covers: ['groupSoftThreshold', 'svt'],
    run: (k, a) => {
      const w = a.matrix<Float64Array>('float64', 200, 20);
      const nz = k.groupSoftThreshold(w, 4);
      const s = k.svt(a.matrix('float64', 60, 40), 3);
      return bits(w.data, nz, s.result.data, s.rank, s.nuclearNorm);
    },
  },
  'mtenetSweep (plain and blocked), mtenetBlockGram': {
    covers: ['mtenetSweep', 'mtenetBlockGram'],
    run: (k, a) => {
      const [d, n, T] = [80, 200, 6];
      const xt = a.matrix<Float64Array>('float64', d, n);
      const colNormSq = a.f64(d, (_, j) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += xt.data[j * n + i]! ** 2;
        return s;
      });
      const out: Outputs = [];
      const order = a.int32(Array.from({ length: d }, (_, j) => (j * 37) % d));
      for (const blocked of [false, true]) {
        const rt = a.matrix<Float64Array>('float64', T, n);
        const w = a.matrix<Float64Array>('float64', d, T, () => 0);
        const blockGram = blocked ? k.mtenetBlockGram(xt, order, 16) : undefined;
        for (let sweep = 0; sweep < 3; sweep++) {
          const r = k.mtenetSweep({ xt, rt, w, colNormSq, l1Reg: 20, l2Reg: 2, order, ...(blocked ? { blockGram, blockSize: 16 } : {}) });
          out.push(...bits(r.wMax, r.dwMax));
        }
        out.push(...bits(rt.data, w.data), ...(blockGram ? bits(blockGram) : []));
      }
      return out;
    },
  },
  'cd working-set kernels: cdDesign, cdDesignCorrelations, cdCorrelations, cdGatherColumns, cdGramColumns, cdTargets, cdCoefficients, cdResidual, cdResidualColumns, cdResidualCorrelations, mtenetGramSweep': {
    covers: ['cdDesign', 'cdDesignCorrelations', 'cdCorrelations', 'cdGatherColumns', 'cdGramColumns', 'cdTargets', 'cdCoefficients', 'cdResidual', 'cdResidualColumns', 'cdResidualCorrelations', 'mtenetGramSweep'],
    run: (k, a) => {
      const [n, d, T] = [700, 90, 7];
      const x = a.matrix<Float64Array>('float64', n, d, (r, i) => r.normal() + (i % d) * 0.5 + (i % d === 5 ? 1e8 : 0));
      const out: Outputs = [];
      const runs: number[] = [];
      for (let j = 0; j < d; j += j % 30 < 25 ? 1 : 6) runs.push(j);
      for (const centre of [false, true]) {
        const design = k.cdDesign(x, centre);
        out.push(...bits(design.mean, design.colNormSq, design.finite ? 1 : 0));
        const rt = a.matrix<Float64Array>('float64', T, n);
        const xty = a.matrix<Float64Array>('float64', d, T, () => 0);
        const xtyNorms = a.f64(d, () => 0);
        const withCorrelations = k.cdDesignCorrelations(x, centre, rt, xty, xtyNorms);
        out.push(...bits(withCorrelations.mean, withCorrelations.colNormSq, xty.data, xtyNorms));
        for (const cols of [a.int32(Array.from({ length: d }, (_, j) => j)), a.int32(Array.from({ length: 40 }, (_, c) => (c * 17) % d)), a.int32(runs)]) {
          const corr = a.matrix<Float64Array>('float64', cols.length, T, () => 0);
          const norms = a.f64(cols.length, () => 0);
          k.cdCorrelations(design, rt, cols, corr, norms);
          const gathered = a.matrix<Float64Array>('float64', cols.length, n, () => 0);
          k.cdGatherColumns(design, cols, gathered);
          out.push(...bits(corr.data, norms, gathered.data));
          const gram = a.matrix<Float64Array>('float64', 9, cols.length, () => 0);
          k.cdGramColumns(design, cols.subarray(3, 12), cols, gram);
          out.push(...bits(gram.data));
        }
        const y = a.matrix<Float64Array>('float64', n, T, (r, i) => r.normal() + (i % T));
        const targets = k.cdTargets(y, centre);
        out.push(...bits(targets.yt.data, targets.yMean, targets.yNormSq));
        const xs = a.matrix<Float64Array>('float64', 12, n);
        const w = a.matrix<Float64Array>('float64', 12, T);
        const r = a.matrix<Float64Array>('float64', T, n, () => 0);
        const parts = k.cdResidual(xs, w, targets.yt, r);
        out.push(...bits(r.data, parts.rNormSq, parts.ry));
        const inPlace = k.cdResidualColumns(design, a.int32(Array.from({ length: 12 }, (_, c) => (c * 7) % d)), w, targets.yt, r);
        out.push(...bits(r.data, inPlace.rNormSq, inPlace.ry));
        const coef = a.matrix<Float64Array>('float64', T, d, () => 0);
        const intercept = a.f64(T, () => 0);
        k.cdCoefficients(a.int32(Array.from({ length: 12 }, (_, c) => (c * 7) % d)), w, design.mean, targets.yMean, coef, intercept);
        out.push(...bits(coef.data, intercept));
        const fusedCorr = a.matrix<Float64Array>('float64', runs.length, T, () => 0);
        const fusedNorms = a.f64(runs.length, () => 0);
        const fused = k.cdResidualCorrelations(
          design, a.int32(Array.from({ length: 12 }, (_, c) => (c * 5) % d)), w, targets.yt, r, a.int32(runs), fusedCorr, fusedNorms,
        );
        out.push(...bits(r.data, fused.rNormSq, fused.ry, fusedCorr.data, fusedNorms));
      }
      const kk = 30;
      const xs = a.matrix<Float64Array>('float64', kk, 80);
      const gram = a.matrix<Float64Array>('float64', kk, kk, () => 0);
      k.gemm(xs, xs, gram, { transB: true });
      const ht = a.matrix<Float64Array>('float64', T, kk, (r) => 20 * r.normal());
      const w = a.matrix<Float64Array>('float64', kk, T, () => 0);
      const order = a.int32(Array.from({ length: kk }, (_, j) => (j * 7) % kk));
      for (let sweep = 0; sweep < 3; sweep++) {
        const r = k.mtenetGramSweep({ gram, ht, w, l1Reg: 15, l2Reg: 1, order });
        out.push(...bits(r.wMax, r.dwMax));
      }
      out.push(...bits(ht.data, w.data));
      return out;
    },
  },
  'cdGramCorrelations: correlations from the Gram matrix': {
    covers: ['cdGramCorrelations'],
    run: (k, a) => {
      const d = 150;
      const out: Outputs = [];
      for (const T of [1, 6]) {
        const gram = a.matrix<Float64Array>('float64', d, d, (r) => 10 * r.normal());
        const xty = a.matrix<Float64Array>('float64', d, T, (r) => 100 * r.normal());
        const w = a.matrix<Float64Array>('float64', d, T);
        // An unsorted support, and columns repeated and unsorted.
        const support = a.int32(Array.from({ length: 45 }, (_, s) => (s * 37 + 11) % d));
        const cols = a.int32(Array.from({ length: 120 }, (_, c) => (c * 53) % d).concat([7, 7, 0]));
        const corr = a.matrix<Float64Array>('float64', cols.length, T, () => 0);
        const norms = a.f64(cols.length, () => 0);
        k.cdGramCorrelations(gram, xty, w, support, cols, corr, norms);
        out.push(...bits(corr.data, norms));
        k.cdGramCorrelations(gram, xty, w, support, cols, corr);
        out.push(...bits(corr.data));
      }
      return out;
    },
  },
  'working-set screening passes: cdDualNorms, cdScreen, cdStaleFeatures, cdWorkingSet, cdFlagPositive, cdFlaggedFeatures': {
    covers: ['cdDualNorms', 'cdScreen', 'cdStaleFeatures', 'cdWorkingSet', 'cdFlagPositive', 'cdFlaggedFeatures'],
    run: (k, a) => {
      const [d, T] = [300, 4];
      const flags = (f: (j: number) => boolean): Uint8Array => Uint8Array.from({ length: d }, (_, j) => (f(j) ? 1 : 0));
      const colNormSq = a.f64(d, (r, j) => (j % 13 === 0 ? 0 : 1 + r.uniform()));
      const nonZero = flags((j) => j % 7 === 1);
      const state = {
        colNormSq, corr: a.matrix<Float64Array>('float64', d, T), corrNorm: a.f64(d, (r) => 2 * r.uniform()),
        corrVersion: a.int32(Array.from({ length: d }, (_, j) => [5, 5, 3, -1][j % 4]!)), corrDrift: a.f64(d, (r) => r.uniform()), nonZero,
        w: a.matrix<Float64Array>('float64', d, T), version: 5, drift: 1.5,
      };
      const xi = a.f64(d, () => 0);
      const scale = k.cdDualNorms(state, 0.8, 0.3, xi);
      const out: Outputs = bits(xi, scale);
      for (let j = 0; j < d; j++) if (!Number.isFinite(xi[j]!)) xi[j] = 1;
      const active = flags((j) => colNormSq[j]! > 0);
      const removed = k.cdScreen({ active, nonZero, xi, colNormSq, scale: 3, radius: 0.2, l2Reg: 0.3, threshold: 1 - 1e-9 });
      out.push(new Uint8Array(active), ...bits(removed));
      const list = a.int32(new Array<number>(d).fill(0));
      out.push(...bits(k.cdStaleFeatures(state.corrVersion, 5, active, xi, 0.8, list), list));
      out.push(...bits(k.cdWorkingSet({ active, nonZero, xi, strong: Infinity, minSize: 50, out: list }), list));
      out.push(...bits(k.cdWorkingSet({ active, nonZero, xi, strong: Infinity, minSize: 0, violation: xi[7]!, out: list }), list));
      const positive = new Uint8Array(d);
      out.push(...bits(k.cdFlagPositive(colNormSq, positive)), positive);
      out.push(...bits(k.cdFlaggedFeatures(positive, list, active), list));
      return out;
    },
  },
  'working-set state updates: cdSetRows, cdSetCorrelations': {
    covers: ['cdSetRows', 'cdSetCorrelations'],
    run: (k, a) => {
      const [d, T, m] = [300, 4, 90];
      const rows = a.int32(Array.from({ length: m }, (_, c) => (c * 7) % d));
      const values = a.matrix<Float64Array>('float64', m, T);
      const w = a.matrix<Float64Array>('float64', d, T);
      const nonZero = Uint8Array.from({ length: d }, (_, j) => j % 3 & 1);
      const r = k.cdSetRows(w, nonZero, rows, values);
      const state = {
        colNormSq: a.f64(d, () => 1), corr: a.matrix<Float64Array>('float64', d, T), corrNorm: a.f64(d, () => 0),
        corrVersion: a.int32(new Array<number>(d).fill(0)), corrDrift: a.f64(d, () => 0), nonZero, w, version: 3, drift: 0.75,
      };
      k.cdSetCorrelations(state, rows, values);
      return [...bits(w.data, r.supportChange, r.l21, r.normSq), nonZero.slice(), ...bits(state.corr.data, state.corrNorm, state.corrVersion, state.corrDrift)];
    },
  },
  'inner solves: mtenetGramSolve, mtenetResidualSolve (cyclic and random orders)': {
    covers: ['mtenetGramSolve', 'mtenetResidualSolve'],
    run: (k, a) => {
      const [kk, n, T] = [60, 300, 5];
      const xs = a.matrix<Float64Array>('float64', kk, n);
      const yt = a.matrix<Float64Array>('float64', T, n, (r) => 3 * r.normal());
      const gram = a.matrix<Float64Array>('float64', kk, kk, () => 0);
      k.gemm(xs, xs, gram, { transB: true });
      const out: Outputs = [];
      const result = (r: { sweeps: number; gap: number; rNormSq: number; ry: number; l21: number; wNormSq: number; dualNorm: number; residualChange: number; converged: boolean }): Outputs =>
        bits(r.sweeps, r.gap, r.rNormSq, r.ry, r.l21, r.wNormSq, r.dualNorm, r.residualChange, r.converged ? 1 : 0);
      for (const random of [false, true]) {
        const orders = random ? a.int32(Array.from({ length: 40 * kk }, (_, i) => (i * 31 + 7) % kk)) : undefined;
        const settings = { l1Reg: 40, l2Reg: 2, tol: 1e-9, maxSweeps: 40, ...(orders ? { orders } : {}) };
        // Residual form from W = 0 (R = Y), then the Gram form from its H.
        const rt = a.matrix<Float64Array>('float64', T, n, () => 0);
        rt.data.set(yt.data);
        const w = a.matrix<Float64Array>('float64', kk, T, () => 0);
        const h = a.matrix<Float64Array>('float64', kk, T, () => 0);
        // Cyclic: 7 sweeps, so that the Gram form has work left (random orders cover 40 sweeps).
        out.push(...result(k.mtenetResidualSolve({ xs, yt, rt, w, h, ...settings, ...(orders ? {} : { maxSweeps: 7 }) })));
        out.push(...bits(rt.data, w.data, h.data));
        let rNormSq = 0;
        let ry = 0;
        for (let q = 0; q < rt.data.length; q++) {
          rNormSq += rt.data[q]! ** 2;
          ry += rt.data[q]! * yt.data[q]!;
        }
        const ht = a.matrix<Float64Array>('float64', T, kk, () => 0);
        for (let j = 0; j < kk; j++) for (let t = 0; t < T; t++) ht.data[t * kk + j] = h.data[j * T + t]!;
        out.push(...result(k.mtenetGramSolve({ gram, ht, w, r0NormSq: rNormSq, r0y: ry, ...settings })));
        out.push(...bits(ht.data, w.data));
      }
      // 24 and 16 tasks: the residual form's blocked sweeps (blocks of 32 of the 60 features by
      // matrix products; blocks of 4 by fused passes).
      for (const tasks of [24, 16]) {
        const ytb = a.matrix<Float64Array>('float64', tasks, n, (r) => 3 * r.normal());
        const rtb = a.matrix<Float64Array>('float64', tasks, n, () => 0);
        rtb.data.set(ytb.data);
        const wb = a.matrix<Float64Array>('float64', kk, tasks, () => 0);
        const hb = a.matrix<Float64Array>('float64', kk, tasks, () => 0);
        out.push(...result(k.mtenetResidualSolve({ xs, yt: ytb, rt: rtb, w: wb, h: hb, l1Reg: 40, l2Reg: 2, tol: 1e-9, maxSweeps: 12 })));
        out.push(...bits(rtb.data, wb.data, hb.data));
      }
      return out;
    },
  },
  taskLoss: {
    covers: ['taskLoss'],
    run: (k, a) => {
      const [n, d, T] = [400, 70, 5];
      const x = a.matrix<Float64Array>('float64', n, d);
      const offsets = a.int32([0, 50, 120, 200, 330, 400]);
      const out: Outputs = [];
      for (const loss of ['squared', 'logistic'] as const) {
        const y = a.f64(n, (r) => (loss === 'logistic' ? r.int(2) : r.normal()));
        const gradW = a.matrix<Float64Array>('float64', T, d);
        const gradIntercept = a.f64(T);
        const l = k.taskLoss({ x, y, offsets, w: a.matrix('float64', T, d), intercept: a.f64(T), scale: a.f64(T, (r) => r.uniform()), loss, gradW, gradIntercept });
        out.push(...bits(l, gradW.data, gradIntercept));
      }
      return out;
    },
  },
  'network float64: forward, lossGrad, headGrads, hvp, vjp': networkCase('float64', 96),
  'network float32: forward, lossGrad, headGrads, hvp, vjp': networkCase('float32', 96),
  'network float64, 136 rows (row chunks): forward, lossGrad, headGrads, hvp, vjp': networkCase('float64', 136),
  'network float32, 136 rows (row chunks): forward, lossGrad, headGrads, hvp, vjp': networkCase('float32', 136),
  'row-local network float64, 136 rows (row chunks, one forward pass on one thread)': networkCase('float64', 136, rowLocalSpec),
  'row-local network float32, 136 rows (row chunks, one forward pass on one thread)': networkCase('float32', 136, rowLocalSpec),
  'dense network float64, 136 rows (row chunks, one pass each way on one thread)': networkCase('float64', 136, denseSpec),
  'dense network float32, 136 rows (row chunks, one pass each way on one thread)': networkCase('float32', 136, denseSpec),
  'network float64: metaGradient (second and first order)': metaCase('float64'),
  'network float32: metaGradient (second and first order)': metaCase('float32'),
  'optimisers float64': optimCase('float64'),
  'optimisers float32': optimCase('float32'),
};

describe(`reproducibility: every kernel is bit-identical across offsets 0..7 and 1..3 threads (${backend().name})`, function () {
  after(() => setThreads(backend().threads));

  it('covers every kernel', () => {
    const covered = new Set(Object.values(cases).flatMap((c) => c.covers));
    const all = Object.keys(kernels()).filter((name) => typeof kernels()[name as keyof Kernels] === 'function');
    expect(all.filter((name) => !covered.has(name as keyof Kernels))).to.deep.equal([]);
  });

  const threadsBefore = backend().threads;
  for (const [name, c] of Object.entries(cases)) {
    it(name, () => {
      setThreads(1);
      const reference = c.run(kernels(), new Arena(0, 17));
      // The TypeScript kernels run on one thread whatever setThreads says: offsets are their variable.
      const maxThreads = backend().name === 'native' ? 3 : 1;
      for (let threads = 1; threads <= maxThreads; threads++) {
        setThreads(threads);
        for (let offset = 0; offset < 8; offset++) {
          const got = c.run(kernels(), new Arena(offset, 17));
          expect(got.length).to.equal(reference.length);
          got.forEach((g, i) => {
            if (!g.every((b, j) => b === reference[i]![j])) {
              expect.fail(`output ${i} differs from the one-thread, offset-0 run at offset ${offset} with ${threads} threads`);
            }
          });
        }
      }
      setThreads(threadsBefore);
    });
  }
});
