/**
 * The reproducibility contract at the level of models (docs/reproducibility.md): a seeded fit
 * gives a bit-identical model, for every family, when the data sit at other element offsets and
 * the kernels run on another number of threads; and resuming a saved fit equals an uninterrupted
 * one. The kernel-level contract is test/reproducibility.test.ts.
 */
import { expect } from 'chai';

import type { Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { backend, setThreads } from '../lib/kernels/index.js';
import { MultiTaskLasso } from '../lib/linear/multiTaskElasticNet.js';
import { L21Regression } from '../lib/linear/l21.js';
import { MultiTaskNet } from '../lib/mtl/multiTaskNet.js';
import { MAML } from '../lib/meta/maml.js';
import { ProtoNet } from '../lib/meta/protoNet.js';
import { SinusoidTasks } from '../lib/meta/tasks.js';
import { FewShotTasks } from '../lib/meta/fewShot.js';

/** `values` copied to element `offset` of a larger Float64Array / Float32Array. */
function at<T extends Float64Array | Float32Array>(values: T, offset: number): T {
  const whole = new (values.constructor as new (n: number) => T)(values.length + offset);
  const a = whole.subarray(offset) as T;
  a.set(values);
  return a;
}

function sameBits(a: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }, b: typeof a): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function gaussian(rng: Rng, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.normal());
}

/** Two runs of `fit`, the second on data at offset 3 with 2 threads; each returns its model's bits. */
async function twice(fit: (offset: number) => Promise<Float64Array | Float32Array>): Promise<void> {
  const threads = backend().threads;
  try {
    setThreads(1);
    const a = await fit(0);
    setThreads(2);
    const b = await fit(3);
    expect(a.length).to.be.greaterThan(0);
    expect(sameBits(a, b), 'the second fit differs from the first').to.equal(true);
  } finally {
    setThreads(threads);
  }
}

describe(`reproducibility of seeded fits (${backend().name})`, () => {
  const rng = new Rng(11);
  const n = 256;
  const d = 40;
  const T = 4;
  const X = gaussian(rng, n * d);
  const W = gaussian(rng, d * T).map((v, i) => (i % 5 === 0 ? v : 0));
  const Y = new Float64Array(n * T);
  for (let i = 0; i < n; i++)
    for (let t = 0; t < T; t++) {
      let s = 0.1 * rng.normal();
      for (let j = 0; j < d; j++) s += X[i * d + j]! * W[j * T + t]!;
      Y[i * T + t] = s;
    }
  const mat = (data: Float64Array, cols: number, offset: number): Matrix<Float64Array> => ({ rows: data.length / cols, cols, data: at(data, offset) });

  it('MultiTaskLasso: coefficients bit for bit', async () => {
    await twice(async (off) => {
      const m = await new MultiTaskLasso({ alpha: 0.05, tol: 1e-10 }).fit(mat(X, d, off), mat(Y, T, off));
      return m.coef.data;
    });
  });

  it('L21Regression: coefficients bit for bit', async () => {
    await twice(async (off) => {
      const tasks = Array.from({ length: T }, (_, t) => ({
        name: `t${t}`,
        X: mat(X.slice(t * 64 * d, (t + 1) * 64 * d), d, off),
        y: at(Float64Array.from({ length: 64 }, (_, i) => Y[(t * 64 + i) * T + t]!), off),
      }));
      const m = await new L21Regression({ alpha: 0.1 }).fit(tasks);
      return Float64Array.from(tasks.flatMap((task) => Array.from(m.predict(task.name, task.X))));
    });
  });

  it('MultiTaskNet (dropout, layer norm, float32): parameters and predictions bit for bit', async () => {
    const Xf = Float32Array.from(X);
    await twice(async (off) => {
      const Yf = Float32Array.from({ length: n * 2 }, (_, k) => (k % 2 === 0 ? Y[(k >> 1) * T]! : Y[(k >> 1) * T + 1]! > 0 ? 1 : 0));
      const net = new MultiTaskNet({
        inputSize: d,
        tasks: [
          { name: 'r', type: 'regression' },
          { name: 'b', type: 'binary' },
        ],
        architecture: { type: 'hard-sharing', shared: [128, 128], dropout: 0.1, layerNorm: true },
        optimizer: { type: 'adam', lr: 1e-2 },
        seed: 7,
      });
      await net.fit({ X: { rows: n, cols: d, data: at(Xf, off) }, Y: { rows: n, cols: 2, data: at(Yf, off) } }, { epochs: 2, batchSize: 128 });
      const p = net.predict({ rows: n, cols: d, data: at(Xf, off) });
      return Float32Array.from([...net.getParams(), ...p.r]);
    });
  });

  it('MAML (second order): meta-parameters bit for bit', async () => {
    await twice(async () => {
      const maml = new MAML({
        network: { inputSize: 1, hidden: [40, 40], outputSize: 1, activation: 'relu' },
        loss: 'mse',
        innerLr: 0.01,
        innerSteps: 1,
        metaBatchSize: 5,
        optimizer: { type: 'adam', lr: 1e-3 },
        seed: 2,
      });
      await maml.fit(new SinusoidTasks({ shots: 10, queries: 10, seed: 1 }), { iterations: 8 });
      return Float64Array.from(maml.getParams());
    });
  });

  it('ProtoNet: embedding parameters bit for bit', async () => {
    const src = new Rng(5);
    const classes = 12;
    const perClass = 8;
    const features = Float64Array.from({ length: classes * perClass * 6 }, (_, k) => src.normal() + Math.floor(k / (perClass * 6)));
    const labels = Int32Array.from({ length: classes * perClass }, (_, i) => Math.floor(i / perClass));
    await twice(async (off) => {
      const proto = new ProtoNet({ network: { inputSize: 6, hidden: [32], outputSize: 8, activation: 'relu' }, optimizer: { type: 'adam', lr: 1e-2 }, seed: 4 });
      const tasks = new FewShotTasks({ X: { rows: classes * perClass, cols: 6, data: at(features, off) }, y: labels }, { ways: 3, shots: 2, queries: 3, seed: 9 });
      await proto.fit(tasks, { iterations: 10 });
      return Float64Array.from(proto.getParams());
    });
  });

  it('MAML: a fit saved and resumed equals an uninterrupted one, bit for bit', async () => {
    const make = () =>
      new MAML({
        network: { inputSize: 1, hidden: [20], outputSize: 1, activation: 'tanh' },
        loss: 'mse',
        innerLr: 0.02,
        innerSteps: 2,
        metaBatchSize: 4,
        optimizer: { type: 'adam', lr: 1e-3 },
        seed: 6,
      });
    const whole = make();
    await whole.fit(new SinusoidTasks({ shots: 5, queries: 5, seed: 3 }), { iterations: 10 });
    const sampler = new SinusoidTasks({ shots: 5, queries: 5, seed: 3 });
    const first = make();
    await first.fit(sampler, { iterations: 4 });
    const resumed = MAML.fromJSON(JSON.parse(JSON.stringify(first.toJSON())));
    await resumed.fit(sampler, { iterations: 6 });
    expect(sameBits(Float64Array.from(resumed.getParams()), Float64Array.from(whole.getParams()))).to.equal(true);
  });
});
