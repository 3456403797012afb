/**
 * Micro-benchmark of one network lossGrad call (forward + backward, no optimiser) on the multi-task
 * MLP of the benchmarks: batch 128, 128-256-256 relu trunk, one-unit mse heads (8 by default; many
 * heads show the per-task costs), float32. Median of 50 timed calls after 10 warm-up calls, per
 * available backend.
 * Run: npm run build && node dist/bench/network_step.js [--heads 8] [--threads 1]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { Rng } from '../lib/core/rng.js';
import { availableBackends, kernelsFor, setThreads } from '../lib/kernels/index.js';
import type { NetworkSpec } from '../lib/kernels/types.js';
import { compileNetwork, initParams } from '../lib/nn/spec.js';

const { values } = parseArgs({ options: { heads: { type: 'string', default: '8' }, threads: { type: 'string', default: '1' } } });
const H = Number(values.heads);
const threads = Number(values.threads);
if (!Number.isInteger(H) || H < 1) throw new Error(`--heads must be a positive integer, got ${values.heads}`);
if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads must be a positive integer, got ${values.threads}`);

const spec: NetworkSpec = {
  nodes: [
    { op: 'input', size: 128 },
    { op: 'dense', input: 0, units: 256 },
    { op: 'activation', input: 1, fn: 'relu' },
    { op: 'dense', input: 2, units: 256 },
    { op: 'activation', input: 3, fn: 'relu' },
    ...Array.from({ length: H }, () => ({ op: 'dense' as const, input: 4, units: 1 })),
  ],
  heads: Array.from({ length: H }, (_, h) => ({ node: 5 + h, loss: 'mse' as const, target: h })),
};

const rng = new Rng(1);
const params = initParams(compileNetwork(spec), rng, 'float32');
const n = 128;
const x = { rows: n, cols: 128, data: Float32Array.from({ length: n * 128 }, () => rng.normal()) };
const y = { rows: n, cols: H, data: Float32Array.from({ length: n * H }, () => rng.normal()) };
const weights = new Float64Array(H).fill(1);

setThreads(threads);
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
  const threadsUsed = name === 'native' ? threads : 1;
  console.log(`${name} (${threadsUsed} thread${threadsUsed > 1 ? 's' : ''}): lossGrad multi-task MLP (batch ${n}, 128-256-256, ${H} heads, f32): median ${med.toFixed(0)} us (min ${times[0]!.toFixed(0)}), ${Math.round((n / med) * 1e6)} samples/s`);
}
