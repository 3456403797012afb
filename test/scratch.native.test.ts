/**
 * The native kernels' per-thread scratch buffers: a thread's small products take only the memory
 * they write (no 2 MiB panel of huge pages, which a first write must clear whole), large ones grow
 * them. Each case runs in a worker, whose thread starts with no scratch. Skipped when the native
 * addon is not available.
 */
import { expect } from 'chai';
import { Worker } from 'node:worker_threads';

import { availableBackends, rawAddon } from '../lib/kernels/index.js';

interface Held {
  before: number;
  small: number;
  large: number;
  sums: number[];
}

/** In a fresh thread: the scratch bytes before any product, after an 8 x 8 x 8 one, after a 300 x 300 x 300 one. */
function scratchInWorker(): Promise<Held> {
  const index = new URL('../lib/kernels/index.js', import.meta.url).href;
  const code = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(index)}).then((k) => {
      const addon = k.rawAddon();
      addon.setThreads(1);
      const m = (r, c, f) => ({ rows: r, cols: c, data: Float64Array.from({ length: r * c }, (_, i) => f(i)) });
      const held = () => addon.info().scratchBytes;
      const before = held();
      const a = m(8, 8, (i) => (i % 7) - 3), c = m(8, 8, () => 0);
      addon.gemm(a, a, c, false, false, 1, 0);
      const small = held();
      const b = m(300, 300, (i) => ((i * 37) % 11) - 5), d = m(300, 300, () => 0);
      addon.gemm(b, b, d, false, false, 1, 0);
      parentPort.postMessage({ before, small, large: held(), sums: [c.data.reduce((s, v) => s + v, 0), d.data.reduce((s, v) => s + v, 0)] });
    });
  `;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true });
    worker.once('message', (m: Held) => void worker.terminate().then(() => resolve(m)));
    worker.once('error', reject);
  });
}

/** C = A A by the definition, summed: what the worker's products must give. */
function productSum(n: number, f: (i: number) => number): number {
  let s = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let e = 0;
      for (let p = 0; p < n; p++) e += f(i * n + p) * f(p * n + j);
      s += e;
    }
  return s;
}

describe('native scratch buffers', () => {
  let saved = 1;
  before(function () {
    if (!availableBackends().includes('native')) this.skip();
    saved = rawAddon()!.info().threads; // the workers set one thread
  });
  after(() => {
    if (availableBackends().includes('native')) rawAddon()!.setThreads(saved);
  });

  it("hold what a thread's products wrote: a few KiB for a small product, whole huge pages for a large one", async function () {
    this.timeout(30_000);
    const held = await scratchInWorker();
    expect(held.before).to.equal(0);
    // The small product's packing fits the arena's first page (256 KiB of ordinary memory).
    expect(held.small).to.be.above(0).and.at.most(256 * 1024);
    // The large one's panel of B (256 x 304 values) needs a region of 1 MiB: a 2 MiB page of the arena.
    expect(held.large).to.be.at.least(held.small + 2 * 1024 * 1024);
    // And the products are right (integer values: exact in any order).
    expect(held.sums[0]).to.equal(productSum(8, (i) => (i % 7) - 3));
    expect(held.sums[1]).to.equal(productSum(300, (i) => ((i * 37) % 11) - 5));
  });
});
