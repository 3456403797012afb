/**
 * Micro-benchmark of one network lossGrad call (forward + backward, no optimiser) on the multi-task
 * MLP of the benchmarks: batch 128, 128-256-256 relu trunk, 8 separate 1-unit mse heads, float32.
 * Median of 50 timed calls after 10 warm-up calls, per available backend.
 * Run: npm run build && node dist/bench/network_step.js
 */
import { performance } from 'node:perf_hooks';

import { Rng } from '../lib/core/rng.js';
import { availableBackends, kernelsFor } from '../lib/kernels/index.js';
import type { NetworkSpec } from '../lib/kernels/types.js';
import { compileNetwork, initParams } from '../lib/nn/spec.js';

const spec: NetworkSpec = {
  nodes: [
    { op: 'input', size: 128 },
    { op: 'dense', input: 0, units: 256 },
    { op: 'activation', input: 1, fn: 'relu' },
    { op: 'dense', input: 2, units: 256 },
    { op: 'activation', input: 3, fn: 'relu' },
    ...Array.from({ length: 8 }, () => ({ op: 'dense' as const, input: 4, units: 1 })),
  ],
  heads: Array.from({ length: 8 }, (_, h) => ({ node: 5 + h, loss: 'mse' as const, target: h })),
};

const rng = new Rng(1);
const params = initParams(compileNetwork(spec), rng, 'float32');
const n = 128;
const x = { rows: n, cols: 128, data: Float32Array.from({ length: n * 128 }, () => rng.normal()) };
const y = { rows: n, cols: 8, data: Float32Array.from({ length: n * 8 }, () => rng.normal()) };
const weights = new Float64Array(8).fill(1);

for (const name of availableBackends()) {
  const net = kernelsFor(name).network(spec, 'float32');
  const grad = new Float32Array(net.paramCount);
  for (let i = 0; i < 10; i++) net.lossGrad(params, { x, y }, weights, grad);
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    net.lossGrad(params, { x, y }, weights, grad);
    times.push((performance.now() - t0) * 1000);
  }
  times.sort((a, b) => a - b);
  const med = (times[24]! + times[25]!) / 2;
  console.log(`${name}: lossGrad multi-task MLP (batch ${n}, 128-256-256-8 heads, f32): median ${med.toFixed(0)} us (min ${times[0]!.toFixed(0)}), ${Math.round((n / med) * 1e6)} samples/s`);
}
