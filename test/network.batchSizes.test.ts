/**
 * A network handle keeps its buffers from call to call, and a batch uses the first rows of any kept
 * buffers large enough for it: whatever batch sizes a handle saw before, every result of a call
 * must be bit for bit the one a fresh handle gives. The sequence below grows and shrinks the batch,
 * asks for Hessian-vector products (whose buffers come later than the others) at a smaller batch
 * than the next one, and crosses the native lossGrad's split into row chunks (128 rows and more).
 * On every backend, every op of the shared cases, in float64 and float32.
 */
import { expect } from 'chai';

import type { FloatArray, Matrix } from '../lib/core/matrix.js';
import { Rng } from '../lib/core/rng.js';
import { availableBackends, kernelsFor } from '../lib/kernels/index.js';
import type { NetworkBatch, NetworkHandle, NetworkSpec } from '../lib/kernels/types.js';
import { compileNetwork, dropoutMasks } from '../lib/nn/spec.js';
import { randMatrix } from './helpers.js';
import { batch32, cases, setup, targets } from './network.cases.js';

type Call = 'forward' | 'lossGrad' | 'hvp' | 'headGrads' | 'vjp';

/** forward and hvp at 9 rows, then hvp at 2 (on the 9-row buffers), 9 again, more, fewer. */
const SEQUENCE: [Call, number][] = [
  ['forward', 9], ['hvp', 2], ['hvp', 9], ['lossGrad', 3], ['headGrads', 9], ['vjp', 1], ['lossGrad', 130],
  ['hvp', 5], ['forward', 130], ['lossGrad', 129], ['vjp', 7], ['headGrads', 2], ['hvp', 130],
];

/** A batch of n rows for the case (targets, masks and running statistics as the case has them). */
function batchOf(spec: NetworkSpec, base: NetworkBatch<Float64Array>, rng: Rng, n: number, mask: boolean): NetworkBatch<Float64Array> {
  const compiled = compileNetwork(spec);
  const b: NetworkBatch<Float64Array> = { x: randMatrix(rng, n, compiled.inputSize), y: targets(spec, rng, n, true) };
  if (mask) b.masks = dropoutMasks(compiled, rng, n, 'float64');
  if (base.stats) b.stats = base.stats;
  return b;
}

/** Every output of one call, as plain numbers (losses first). */
function run<T extends FloatArray>(h: NetworkHandle<T>, call: Call, params: T, b: NetworkBatch<T>, weights: Float64Array, rng: Rng): number[] {
  const P = h.paramCount;
  const Ctor = params.constructor as new (n: number) => T;
  const vec = (): T => new Ctor(P);
  switch (call) {
    case 'forward':
      return Array.from(h.forward(params, b).data);
    case 'lossGrad': {
      const g = vec();
      return [...h.lossGrad(params, b, weights, g), ...g];
    }
    case 'hvp': {
      const v = vec();
      for (let k = 0; k < P; k++) v[k] = Math.cos(3 * k + 1);
      const out = vec();
      h.hvp(params, b, weights, v, out);
      return Array.from(out);
    }
    case 'headGrads': {
      const H = weights.length;
      const out: Matrix<T> = { rows: H, cols: P, data: new Ctor(H * P) };
      return [...h.headGrads(params, b, out), ...out.data];
    }
    case 'vjp': {
      const width = h.forward(params, b).cols;
      const r = randMatrix(rng, b.x.rows, width);
      const outGrad: Matrix<T> = { rows: r.rows, cols: r.cols, data: (params instanceof Float32Array ? Float32Array.from(r.data) : r.data) as T };
      const g = vec();
      h.vjp(params, b, outGrad, g);
      return Array.from(g);
    }
  }
}

describe('network handles: results do not depend on the batch sizes a handle saw before', function () {
  this.timeout(60000);
  for (const backend of availableBackends()) {
    for (const dtype of ['float64', 'float32'] as const) {
      it(`${backend}, ${dtype}: every case, a fresh handle per call against one handle for all`, () => {
        const K = kernelsFor(backend);
        for (const c of cases) {
          const s = setup(c, 31);
          const params = dtype === 'float64' ? s.params : Float32Array.from(s.params);
          const kept = K.network(c.spec, dtype as 'float64') as unknown as NetworkHandle<FloatArray>;
          const rng = new Rng(5);
          for (const [call, n] of SEQUENCE) {
            const b64 = batchOf(c.spec, s.batch, rng, n, c.mask === true);
            const b = (dtype === 'float64' ? b64 : batch32(b64)) as NetworkBatch<FloatArray>;
            const fresh = K.network(c.spec, dtype as 'float64') as unknown as NetworkHandle<FloatArray>;
            // vjp draws its output gradient from the generator: both handles get the same draws.
            const seed = rng.int(1 << 30);
            const expected = run(fresh, call, params, b, s.weights, new Rng(seed));
            const got = run(kept, call, params, b, s.weights, new Rng(seed));
            fresh.dispose();
            expect(got, `${c.name}: ${call} at ${n} rows`).to.deep.equal(expected);
          }
          kept.dispose();
        }
      });
    }
  }
});
