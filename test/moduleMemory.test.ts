/**
 * The TypeScript kernels' WebAssembly memory: regions that never overlap and come back whole, views
 * that outlive the memory's growth, buffers a fit keeps there (read in place by the products, with
 * the bits of the copied path) given back by the fit's lease or, when a lease is never released,
 * when the garbage collector takes the buffer.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { expect } from 'chai';

import { BufferLease, type BufferSource } from '../lib/core/bufferLease.js';
import { Rng } from '../lib/core/rng.js';
import { backend, setBackend } from '../lib/kernels/index.js';
import { MAX_MODULE_BYTES, giveRegion, moduleAddress, moduleBuffers, moduleBytesTaken, takeRegion, wasmSimdActive } from '../lib/kernels/js/moduleMemory.js';
import { listedRowDots, rowDots, scalarLoops } from '../lib/kernels/js/products.js';
import { packageRoot } from '../lib/kernels/native.js';
import { MultiTaskLasso } from '../lib/linear/multiTaskElasticNet.js';
import { firstDifference, randomValues } from './helpers.js';

describe('TypeScript kernels: the WebAssembly memory and the buffers kept in it', function () {
  before(function () {
    // Without WebAssembly SIMD (an old engine, METATASK_WASM=off) the memory does not exist and
    // every product runs the scalar loops, which wasmProducts.test.ts checks.
    if (!wasmSimdActive()) {
      expect(takeRegion(16)).to.equal(null);
      expect(moduleBuffers.take(16)).to.equal(null);
      this.skip();
    }
  });

  it('regions start on cache lines, never overlap, and come back whole: holes joined, the top lowered', () => {
    const base = moduleBytesTaken();
    const a = takeRegion(100)!;
    const b = takeRegion(1000)!;
    const c = takeRegion(10)!;
    for (const r of [a, b, c]) expect(r.byteOffset % 64).to.equal(0);
    const spans = [a, b, c].map((r) => [r.byteOffset, r.byteOffset + r.byteLength] as const).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).to.be.at.least(spans[i - 1]![1]);
    expect(moduleBytesTaken() - base).to.equal(832 + 8000 + 128);
    // The hole b leaves (or a lower one) takes a smaller region: the first that fits.
    giveRegion(b);
    const d = takeRegion(500)!;
    expect(d.byteOffset).to.be.at.most(b.byteOffset);
    // Given back, a, d, b's rest and c join (or lower the top): a region as large as the three
    // starts no higher than the lowest of them.
    giveRegion(a);
    giveRegion(d);
    giveRegion(c);
    expect(moduleBytesTaken()).to.equal(base);
    const e = takeRegion((832 + 8000 + 128) / 8)!;
    expect(e.byteOffset).to.be.at.most(Math.min(a.byteOffset, b.byteOffset, c.byteOffset));
    giveRegion(e);
    expect(moduleBytesTaken()).to.equal(base);
  });

  it('a view taken before the memory grows keeps its values and its place', () => {
    const kept = takeRegion(1000)!;
    kept.set(Float64Array.from({ length: 1000 }, (_, i) => i * 0.5));
    const grown = takeRegion(kept.buffer.byteLength / 8)!; // more than the whole memory had: it grows
    expect(grown.buffer).to.not.equal(kept.buffer);
    expect(kept.byteLength).to.equal(8000);
    expect(kept[999]).to.equal(499.5);
    expect(moduleAddress(kept)).to.equal(kept.byteOffset);
    expect(moduleAddress(grown)).to.equal(grown.byteOffset);
    expect(moduleAddress(new Float64Array(8))).to.equal(-1);
    giveRegion(grown);
    giveRegion(kept);
  });

  it('giving back a region twice, or a view the memory did not give, is an error', () => {
    const r = takeRegion(8)!;
    giveRegion(r);
    expect(() => giveRegion(r)).to.throw(/no region starts at/);
    expect(() => giveRegion(new Float64Array(8))).to.throw(/not in the memory/);
  });

  it('a kept buffer is refused beyond half the memory (the products need the rest)', () => {
    const before = moduleBytesTaken();
    expect(moduleBuffers.take(MAX_MODULE_BYTES / 16 + 1)).to.equal(null);
    expect(takeRegion(MAX_MODULE_BYTES / 8 + 1)).to.equal(null);
    expect(moduleBytesTaken()).to.equal(before);
  });

  it('rows read in place give the bits of the copied rows and of the scalar loop', () => {
    const rng = new Rng(7);
    const k = 2001; // 16 rows to a panel: 45 rows are three panels, the last partial
    const nRows = 60;
    const a = randomValues(rng, nRows * k);
    const inModule = moduleBuffers.take(nRows * k)!;
    inModule.set(a);
    const b = randomValues(rng, 3 * k);
    // Consecutive rows (read in place, one run per panel), a list of long runs (in place, a call
    // per run) and a scattered list with a repeated row (copied).
    const lists = [
      Int32Array.from({ length: 45 }, (_, i) => i + 3),
      Int32Array.from([...Array.from({ length: 20 }, (_, i) => i), ...Array.from({ length: 25 }, (_, i) => 30 + i)]),
      Int32Array.from({ length: 45 }, (_, i) => (i * 37 + 5) % nRows).fill(11, 7, 9),
    ];
    try {
      for (const rows of lists) {
        const inPlace = new Float64Array(rows.length * 3);
        const copied = new Float64Array(rows.length * 3);
        const scalar = new Float64Array(rows.length * 3);
        listedRowDots(inModule, rows, b, 3, k, inPlace);
        listedRowDots(a, rows, b, 3, k, copied);
        scalarLoops.listedRowDots(a, rows, b, 3, k, scalar);
        expect(firstDifference(inPlace, scalar)).to.equal(-1);
        expect(firstDifference(copied, scalar)).to.equal(-1);
      }
      const all = new Float64Array(nRows * 3);
      const allScalar = new Float64Array(nRows * 3);
      rowDots(inModule, nRows, b, 3, k, all);
      scalarLoops.rowDots(a, nRows, b, 3, k, allScalar);
      expect(firstDifference(all, allScalar)).to.equal(-1);
    } finally {
      moduleBuffers.give(inModule);
    }
  });

  it('a lease lends from a source and gives back at release; a source without room leaves it to the lease', () => {
    const given: Float64Array[] = [];
    let room = 1;
    const source: BufferSource = {
      take: (length) => (room-- > 0 ? new Float64Array(length) : null),
      give: (buffer) => void given.push(buffer),
    };
    const lease = new BufferLease();
    const first = lease.f64From(source, 5000);
    const second = lease.f64From(source, 5000);
    const own = lease.f64From(undefined, 5000);
    expect(first.length).to.equal(5000);
    expect(second.length).to.equal(5000);
    expect(own.length).to.equal(5000);
    lease.release();
    expect(given).to.deep.equal([first]);
  });

  it("a TypeScript lasso fit keeps its transposed design in the memory and gives it back at the fit's end", () => {
    const previous = backend().name;
    setBackend('js');
    try {
      const rng = new Rng(3);
      const n = 300;
      const d = 120;
      const T = 3;
      const X = { rows: n, cols: d, data: randomValues(rng, n * d) };
      const Y = { rows: n, cols: T, data: randomValues(rng, n * T) };
      const before = moduleBytesTaken();
      let peak = 0;
      const take = moduleBuffers.take;
      moduleBuffers.take = (length) => {
        const b = take(length);
        peak = Math.max(peak, b === null ? 0 : length);
        return b;
      };
      try {
        new MultiTaskLasso({ alpha: 0.05 }).fitSync(X, Y);
      } finally {
        moduleBuffers.take = take;
      }
      expect(peak).to.equal(n * d);
      expect(moduleBytesTaken()).to.equal(before);
    } finally {
      setBackend(previous);
    }
  });

  it('a buffer kept by a lease never released goes back when the garbage collector takes it', function () {
    this.timeout(30_000);
    const url = (...p: string[]): string => JSON.stringify(pathToFileURL(join(packageRoot(), 'dist', 'lib', ...p)).href);
    const script = `
      const { BufferLease } = await import(${url('core', 'bufferLease.js')});
      const { moduleBuffers, moduleBytesTaken } = await import(${url('kernels', 'js', 'moduleMemory.js')});
      const before = moduleBytesTaken();
      (() => { new BufferLease().f64From(moduleBuffers, 100000).fill(1); })();
      const held = moduleBytesTaken() - before;
      for (let i = 0; i < 20 && moduleBytesTaken() > before; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
      console.log(JSON.stringify({ held, after: moduleBytesTaken() - before }));
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).to.deep.equal({ held: 800000, after: 0 });
  });
});
