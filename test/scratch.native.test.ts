/**
 * The native kernels' per-thread scratch buffers: a thread's products take only the memory their
 * form writes (none for a small product on the direct path, a few KiB for one that copies op(B),
 * never a 2 MiB panel of huge pages, which a first write must clear whole), large ones grow them.
 * Each case runs in a worker, whose thread starts with no scratch. Skipped when the native addon is
 * not available.
 */
import { expect } from 'chai';
import { Worker } from 'node:worker_threads';

import { availableBackends, rawAddon } from '../lib/kernels/index.js';

interface Held {
  before: number;
  direct: number;
  skinny: number;
  small: number;
  large: number;
  sums: number[];
}

/**
 * In a fresh thread: the scratch bytes before any product, after an 8 x 8 x 8 one (direct: no
 * packing), after a skinny 8 x 829 x 200 one (A transposed: the multi-task lasso's residual of a
 * working set of 200 features), after the 8 x 8 x 8 one with B transposed
 * (its op(B) copied), after a 300 x 300 x 300 one.
 */
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
      const a = m(8, 8, (i) => (i % 7) - 3), c = m(8, 8, () => 0), ct = m(8, 8, () => 0);
      addon.gemm(a, a, c, false, false, 1, 0);
      const direct = held();
      const wt = m(200, 8, (i) => (i % 5) - 2), xs = m(200, 829, (i) => (i % 9) - 4), r = m(8, 829, () => 0);
      addon.gemm(wt, xs, r, true, false, 1, 0);
      const skinny = held();
      addon.gemm(a, a, ct, false, true, 1, 0);
      const small = held();
      const b = m(300, 300, (i) => ((i * 37) % 11) - 5), d = m(300, 300, () => 0);
      addon.gemm(b, b, d, false, false, 1, 0);
      const sum = (x) => x.data.reduce((s, v) => s + v, 0);
      parentPort.postMessage({ before, direct, skinny, small, large: held(), sums: [sum(c), sum(ct), sum(d), sum(r)] });
    });
  `;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true });
    worker.once('message', (m: Held) => void worker.terminate().then(() => resolve(m)));
    worker.once('error', reject);
  });
}

/** C = A A (or A A^T) by the definition, summed: what the worker's products must give. */
function productSum(n: number, f: (i: number) => number, transB = false): number {
  let s = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let e = 0;
      for (let p = 0; p < n; p++) e += f(i * n + p) * f(transB ? j * n + p : p * n + j);
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

  it("hold what a thread's products wrote: nothing for a direct product, a few KiB for a small copy, whole huge pages for a large one", async function () {
    this.timeout(30_000);
    const held = await scratchInWorker();
    expect(held.before).to.equal(0);
    // The direct path reads its operands where they are: no scratch taken.
    expect(held.direct).to.equal(0);
    // The skinny one keeps C's rows in registers (AVX-512) or streams their sums through 32 KiB:
    // within the arena's first page. It once asked for room to copy op(B), 1.3 MB, which a
    // process's first call then faulted in, in a buffer of its own.
    expect(held.skinny).to.be.at.most(256 * 1024);
    // The copy of a small op(B) fits the arena's first page (256 KiB of ordinary memory).
    expect(held.small).to.be.above(0).and.at.most(256 * 1024);
    // The large one's panel of B (256 x 304 values) needs a region of 1 MiB: a 2 MiB page of the arena.
    expect(held.large).to.be.at.least(held.small + 2 * 1024 * 1024);
    // And the products are right (integer values: exact in any order).
    const f = (i: number) => (i % 7) - 3;
    expect(held.sums[0]).to.equal(productSum(8, f));
    expect(held.sums[1]).to.equal(productSum(8, f, true));
    expect(held.sums[2]).to.equal(productSum(300, (i) => ((i * 37) % 11) - 5));
    let residual = 0;
    for (let t = 0; t < 8; t++)
      for (let j = 0; j < 829; j++)
        for (let p = 0; p < 200; p++) residual += (((p * 8 + t) % 5) - 2) * (((p * 829 + j) % 9) - 4);
    expect(held.sums[3]).to.equal(residual);
  });
});
