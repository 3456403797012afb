/**
 * BufferLease: large buffers lent zeroed, never to two live leases, kept after release for the
 * next fits up to a cap; solves that take turns (as async fits do) and fits that reuse earlier
 * fits' buffers give the coefficients they give alone.
 */
import { release as osRelease } from 'node:os';

import { expect } from 'chai';

import { BufferLease, dropSpareBuffers, setHugePageAdvice, setPrefault, spareBufferBytes } from '../lib/core/bufferLease.js';
import { Rng } from '../lib/core/rng.js';
import { MultiTaskDataset } from '../lib/data/dataset.js';
import { IndependentRidge } from '../lib/linear/ridge.js';
import { L21Logistic, L21Regression } from '../lib/linear/l21.js';
import { MeanRegularizedRegression } from '../lib/linear/meanRegularized.js';
import { MultiTaskElasticNet, MultiTaskLasso } from '../lib/linear/multiTaskElasticNet.js';
import { TraceNormRegression } from '../lib/linear/traceNorm.js';
import { MultiTaskLassoCV } from '../lib/linear/multiTaskElasticNetCV.js';
import { alphaMax } from '../lib/linear/alphaGrid.js';
import { EnetState, prepareProblem, solveEnet, type SolveSettings } from '../lib/linear/solvers/workingSet.js';
import { kernels, kernelsFor, rawAddon } from '../lib/kernels/index.js';
import { randMatrix } from './helpers.js';

describe('BufferLease', () => {
  it('lends zeroed buffers, reuses released ones and never lends one buffer to two live leases', () => {
    const n = 5000;
    const a = new BufferLease();
    const x = a.f64(n);
    expect(x.length).to.equal(n);
    x.fill(7);
    a.release();
    const b = new BufferLease();
    const y = b.f64(n);
    expect(y).to.equal(x); // the released buffer comes back...
    expect(y.every((v) => v === 0)).to.equal(true); // ...zeroed
    const c = new BufferLease();
    const z = c.f64(n);
    expect(z).to.not.equal(y); // b still holds y
    const copy = c.copyOf(Float64Array.from({ length: n }, (_, i) => i));
    expect(copy[n - 1]).to.equal(n - 1);
    b.release();
    c.release();
  });

  it('lends a released buffer uncleared when asked (f64Uncleared), a new one zeroed', () => {
    dropSpareBuffers();
    const a = new BufferLease();
    const fresh = a.f64Uncleared(3000);
    expect(fresh.every((v) => v === 0)).to.equal(true);
    fresh.fill(5);
    a.release();
    const b = new BufferLease();
    const again = b.f64Uncleared(2000);
    expect(again.buffer).to.equal(fresh.buffer); // the released buffer, as it was left
    expect(again.length).to.equal(2000);
    expect(again.every((v) => v === 5)).to.equal(true);
    b.release();
    const c = new BufferLease();
    expect(c.f64(3000).every((v) => v === 0)).to.equal(true); // f64 still clears it
    c.release();
  });

  it('lends Int32Arrays and Uint8Arrays zeroed, in lent buffers, reused after release', () => {
    dropSpareBuffers();
    const a = new BufferLease();
    const i = a.i32(1001);
    const u = a.u8(3001);
    const f = a.f64(1001);
    expect([i.length, u.length]).to.deep.equal([1001, 3001]);
    i.fill(-1);
    u.fill(9);
    f.fill(2);
    // Three disjoint memory ranges.
    const ranges = [i, u, f].map((v) => [v.buffer, v.byteOffset, v.byteOffset + v.byteLength] as const);
    for (let p = 0; p < 3; p++)
      for (let q = p + 1; q < 3; q++) {
        const [bp, sp, ep] = ranges[p]!;
        const [bq, sq, eq] = ranges[q]!;
        expect(bp !== bq || ep <= sq || eq <= sp, `arrays ${p} and ${q} overlap`).to.equal(true);
      }
    a.release();
    const b = new BufferLease();
    const i2 = b.i32(1001);
    expect(i2.buffer === i.buffer && i2.byteOffset === i.byteOffset).to.equal(true);
    expect(i2.every((v) => v === 0)).to.equal(true);
    const u2 = b.u8(3001);
    expect(u2.buffer === u.buffer && u2.byteOffset === u.byteOffset).to.equal(true);
    expect(u2.every((v) => v === 0)).to.equal(true);
    b.release();
  });

  it('serves a request from a spare buffer up to twice its size, as a zeroed view', () => {
    const a = new BufferLease();
    const x = a.f64(30_000);
    x.fill(3);
    a.release();
    const b = new BufferLease();
    // Buffers may be parts of one larger ArrayBuffer (huge-page slabs): same memory = same start.
    const sameStart = (p: Float64Array, q: Float64Array) => p.buffer === q.buffer && p.byteOffset === q.byteOffset;
    expect(sameStart(b.f64(10_000), x)).to.equal(false); // would waste more than half
    const y = b.f64(20_000);
    expect(sameStart(y, x)).to.equal(true);
    expect(y.length).to.equal(20_000);
    expect(y.every((v) => v === 0)).to.equal(true);
    b.release();
  });

  it('allocates buffers of at most 64 bytes as usual and keeps at most its caps between fits', () => {
    const small = new BufferLease();
    const s = small.f64(8);
    const i = small.i32(16);
    small.release();
    const again = new BufferLease();
    expect(again.f64(8)).to.not.equal(s);
    expect(again.i32(16).buffer).to.not.equal(i.buffer);
    again.release();
    dropSpareBuffers();
    const many = new BufferLease();
    const first = Array.from({ length: 300 }, (_, k) => many.f64(100 + k)); // 300 buffers of different sizes
    many.release();
    const kept = new BufferLease();
    const reused = Array.from({ length: 300 }, (_, k) => kept.f64(100 + k)).filter((b) => first.some((f) => f.buffer === b.buffer && f.byteOffset === b.byteOffset));
    expect(reused.length).to.be.within(200, 256); // the 256 kept last, and no more
    kept.release();
    const big = new BufferLease();
    for (let i = 0; i < 12; i++) big.f64(1_000_000 + i); // 12 x 8 MB of different sizes
    big.release();
    expect(spareBufferBytes()).to.be.at.most(64 * 1024 * 1024);
    expect(spareBufferBytes()).to.be.above(0);
  });

  it('with huge-page advice, carves new buffers from the advised pages: zeroed, disjoint, on cache lines', () => {
    const MiB = 1024 * 1024;
    const advised: ArrayBuffer[] = [];
    // Pretend the whole pages start 4 KiB into every buffer and span all but the last 2 MiB of it.
    const previous = setHugePageAdvice((buffer) => {
      advised.push(buffer);
      return [4096, Math.floor((buffer.byteLength - 4096) / (2 * MiB)) * 2 * MiB];
    });
    try {
      dropSpareBuffers(); // every request below is new
      const lease = new BufferLease();
      const sizes = [5000, 7001, 40_000, 60_000]; // 40 KB .. 480 KB: parts of one 2 MiB page
      const parts = sizes.map((n) => lease.f64(n));
      expect(advised.length).to.equal(1);
      let at = 4096;
      parts.forEach((p, i) => {
        expect(p.buffer).to.equal(advised[0]);
        expect(p.byteOffset, `part ${i}`).to.equal(at);
        at += Math.ceil((8 * sizes[i]!) / 64) * 64;
        expect(p.every((v) => v === 0)).to.equal(true);
        p.fill(i + 1);
      });
      parts.forEach((p, i) => expect(p.every((v) => v === i + 1), `part ${i} kept its values`).to.equal(true));
      const more = lease.f64(200_000); // 1.6 MB does not fit in what is left: a new page
      expect(advised.length).to.equal(2);
      expect(more.buffer).to.equal(advised[1]);
      const big = lease.f64(300_000); // 2.4 MB: whole pages of its own, starting on one
      expect(advised.length).to.equal(3);
      expect(big.buffer).to.equal(advised[2]);
      expect(big.byteOffset).to.equal(4096);
      expect(big.buffer.byteLength - big.byteOffset).to.be.at.least(2.4e6);
      lease.release();
      const next = new BufferLease();
      const again = next.f64(40_000); // released parts are lent again
      expect([again.buffer, again.byteOffset]).to.deep.equal([advised[0], parts[2]!.byteOffset]);
      next.release();
    } finally {
      setHugePageAdvice(previous);
    }
  });

  it('with a prefault, faults in new buffers whole from 8 KiB on, and room (f64Room) only as far as prefaultView asks, once', () => {
    const seen: [ArrayBufferLike, number, number][] = [];
    const previous = setPrefault((view) => {
      seen.push([view.buffer, view.byteOffset, view.byteLength]);
    });
    const advice = setHugePageAdvice(null);
    try {
      dropSpareBuffers(); // every request below is new
      const lease = new BufferLease();
      lease.f64(1000); // 8,000 bytes: left to its writes
      expect(seen).to.deep.equal([]);
      const whole = lease.f64(1024);
      expect(seen).to.deep.equal([[whole.buffer, 0, 8192]]);
      lease.prefaultView(whole.subarray(0, 100)); // faulted in already
      const room = lease.f64Room(100_000);
      expect(seen.length).to.equal(1);
      lease.prefaultView(room.subarray(0, 5000));
      lease.prefaultView(room.subarray(1000, 5000)); // nothing new
      lease.prefaultView(room.subarray(6000, 7000)); // from the faulted part's end: room fills from its start
      expect(seen.slice(1)).to.deep.equal([
        [room.buffer, 0, 40_000],
        [room.buffer, 40_000, 16_000],
      ]);
      lease.release();
      const next = new BufferLease();
      const again = next.f64Room(100_000); // the same buffer, its faulted part remembered
      expect(again.buffer).to.equal(room.buffer);
      next.prefaultView(again.subarray(0, 7000));
      expect(seen.length).to.equal(3);
      next.prefaultView(again.subarray(0, 7001));
      expect(seen[3]).to.deep.equal([room.buffer, 56_000, 8]);
      next.release();
    } finally {
      setPrefault(previous);
      setHugePageAdvice(advice);
    }
  });

  it('a working-set fit prefaults the columns it gathers, not the room after them', () => {
    const K = kernels(); // selected first: the native backend's selection sets its prefault
    const views: Float64Array[] = [];
    const previous = setPrefault((view) => {
      views.push(view);
    });
    try {
      dropSpareBuffers(); // every buffer of the fit is new
      const rng = new Rng(5);
      const X = randMatrix(rng, 300, 2000);
      const Y = randMatrix(rng, 300, 3);
      const alpha = 0.2 * alphaMax(prepareProblem(K, X, Y, true), 1);
      new MultiTaskLasso({ alpha }).fitSync(X, Y);
      // The column pool's buffer has room for every feature (2000 x 300 doubles, 4.8 MB).
      const room = views.filter((v) => v.buffer.byteLength === 8 * 2000 * 300);
      expect(room.length, 'prefaults of the gathered columns').to.be.at.least(1);
      const roomBytes = room.reduce((sum, v) => sum + v.byteLength, 0);
      expect(roomBytes, "at most the columns gathered (about 590 of 2000)").to.be.at.most(0.5 * 8 * 2000 * 300);
      expect(roomBytes % (8 * 300), 'whole columns').to.equal(0);
    } finally {
      setPrefault(previous);
    }
  });

  it("the addon's prefault faults in a buffer's pages in one call and leaves its contents", function () {
    const addon = rawAddon();
    if (!addon) this.skip();
    // 40 MiB: above the largest size glibc serves from its heap, so V8 maps it afresh, no page in.
    const pages = 10_240;
    const b = new Float64Array(pages * 512);
    b[3] = 1.5; // the first and last pages written before
    b[b.length - 1] = -2;
    const view = b.subarray(1, b.length - 1);
    const f0 = process.resourceUsage().minorPageFault;
    const done = addon!.prefaultPages(view);
    const f1 = process.resourceUsage().minorPageFault;
    for (let i = 0; i < b.length; i += 512) b[i] = i;
    const f2 = process.resourceUsage().minorPageFault;
    const [major, minor] = osRelease().split('.').map(Number) as [number, number];
    if (process.platform === 'linux' && (major > 5 || (major === 5 && minor >= 14))) expect(done, 'MADV_POPULATE_WRITE on this kernel').to.equal(true);
    if (done) {
      expect(f1 - f0, 'faults in the call').to.be.at.least(0.9 * pages);
      expect(f2 - f1, 'faults of the writes after it').to.be.below(0.05 * pages);
    }
    expect([b[3], b[b.length - 1], b[1], b[b.length - 2]]).to.deep.equal([1.5, -2, 0, 0]);
    for (let i = 0; i < b.length; i += 512) expect(b[i]).to.equal(i);
    expect(addon!.prefaultPages(new Float64Array(0))).to.be.a('boolean');
  });

  it("the addon's advice names the whole 2 MiB pages inside a buffer", function () {
    const addon = rawAddon();
    if (!addon) this.skip();
    const page = 2 * 1024 * 1024;
    for (const bytes of [6 * page, 4 * page + 1, 3 * page, 2 * page, page - 1, 64]) {
      const buffer = new ArrayBuffer(bytes);
      const [offset, span] = addon!.hugePageSpan(buffer);
      expect(Number.isInteger(offset) && offset >= 0 && offset < page, `offset ${offset} of ${bytes}`).to.equal(true);
      expect(span % page, `span of ${bytes}`).to.equal(0);
      expect(offset + span).to.be.at.most(bytes);
      // Every whole page is named: what is left before and after is less than a page.
      expect(bytes - span, `unused of ${bytes}`).to.be.below(2 * page);
      if (bytes >= 3 * page) expect(span).to.be.at.least(2 * page);
      new Uint8Array(buffer).fill(1); // still ordinary memory
    }
  });

  it("the native inner solves' temporaries come from a per-thread pool that repeated solves reuse", function () {
    const addon = rawAddon();
    if (!addon) this.skip();
    const K = kernelsFor('native');
    const rng = new Rng(12);
    // Wide (the residual form's arrays) and narrow (the Gram form's), each solved to the end.
    const problems = [
      prepareProblem(K, randMatrix(rng, 60, 900), randMatrix(rng, 60, 8), true),
      prepareProblem(K, randMatrix(rng, 400, 120), randMatrix(rng, 400, 5), false),
    ];
    const solveAll = () =>
      problems.map((p, i) => {
        const st = new EnetState(K, p);
        const gen = solveEnet(K, p, st, { l1Reg: [3, 20][i]!, l2Reg: 0.5, tol: 1e-10, maxIter: 100_000, selection: 'cyclic', rng: new Rng(i) });
        while (!gen.next().done);
        return Array.from(st.w.data);
      });
    const first = solveAll();
    const second = solveAll();
    const held = addon!.info().temporaryBytes;
    expect(held).to.be.above(0).and.at.most(64 * 1024 * 1024);
    for (let r = 0; r < 3; r++) {
      expect(solveAll()).to.deep.equal(first);
      // The same requests again are served by the arrays the last solves gave back: nothing new.
      expect(addon!.info().temporaryBytes, `round ${r}`).to.equal(held);
    }
    expect(second).to.deep.equal(first);
  });

  it('solves that take turns, each with its own lease, give the coefficients they give alone', () => {
    // What async fits do when they yield to the event loop between sweeps, here in a fixed order:
    // the generators of three solves advanced in turn, one sweep at a time.
    const K = kernels();
    const rng = new Rng(5);
    const problems = [
      prepareProblem(K, randMatrix(rng, 300, 400), randMatrix(rng, 300, 6), true),
      prepareProblem(K, randMatrix(rng, 300, 400), randMatrix(rng, 300, 6), false),
      prepareProblem(K, randMatrix(rng, 200, 900), randMatrix(rng, 200, 3), true),
    ];
    const settings = (i: number): SolveSettings => ({ l1Reg: [8, 12, 5][i]!, l2Reg: [0, 3, 0][i]!, tol: 1e-9, maxIter: 100_000, selection: 'cyclic', rng: new Rng(i) });
    const finishOf = (i: number, lease: BufferLease) => {
      const st = new EnetState(K, problems[i]!, undefined, lease);
      return { st, gen: solveEnet(K, problems[i]!, st, settings(i)) };
    };
    const alone = problems.map((_, i) => {
      const lease = new BufferLease();
      const { st, gen } = finishOf(i, lease);
      while (!gen.next().done);
      const w = Array.from(st.w.data);
      lease.release(); // the next solves reuse these buffers
      return w;
    });
    const leases = problems.map(() => new BufferLease());
    const runs = problems.map((_, i) => ({ ...finishOf(i, leases[i]!), done: false }));
    let turns = 0;
    while (runs.some((r) => !r.done)) {
      for (const r of runs) if (!r.done) r.done = r.gen.next().done === true;
      turns++;
    }
    expect(turns).to.be.above(2); // they did take turns
    runs.forEach((r, i) => expect(Array.from(r.st.w.data), `solve ${i}`).to.deep.equal(alone[i]));
    leases.forEach((l) => l.release());
  });

  it('fits reusing the buffers of earlier fits give the same coefficients, async and sync', async () => {
    const rng = new Rng(6);
    const X = randMatrix(rng, 200, 300);
    const Y = randMatrix(rng, 200, 5);
    const lasso = () => new MultiTaskLasso({ alpha: 0.02, tol: 1e-8 });
    const enet = () => new MultiTaskElasticNet({ alpha: 0.04, l1Ratio: 0.5, tol: 1e-8 });
    const first = [Array.from(lasso().fitSync(X, Y).coef.data), Array.from(enet().fitSync(X, Y).coef.data)];
    for (let r = 0; r < 2; r++) {
      expect(Array.from((await lasso().fit(X, Y)).coef.data)).to.deep.equal(first[0]);
      expect(Array.from(enet().fitSync(X, Y).coef.data)).to.deep.equal(first[1]);
    }
    const cv = () => new MultiTaskLassoCV({ cv: 3, nAlphas: 5, tol: 1e-6 });
    const a = cv().fitSync(X, Y);
    const b = await cv().fit(X, Y);
    expect(Array.from(b.coef.data)).to.deep.equal(Array.from(a.coef.data));
    expect(b.alpha).to.equal(a.alpha);
  });

  it('per-task models: fits on memory an earlier fit of other data left give the coefficients of fits on fresh memory, and fitted models keep theirs', async () => {
    // Two datasets of one shape: tall tasks (rows compressed), wide tasks (rows kept), binary labels.
    const dataset = (seed: number, rows: number, binary: boolean): MultiTaskDataset => {
      const rng = new Rng(seed);
      const d = 12;
      return new MultiTaskDataset(
        Array.from({ length: 4 }, (_, t) => {
          const X = randMatrix(rng, rows + t, d);
          const y = Float64Array.from({ length: rows + t }, (_, i) => {
            const v = X.data[i * d]! - 0.5 * X.data[i * d + 1]! + 0.3 * rng.normal() + t;
            return binary ? (v > t ? 1 : 0) : v;
          });
          return { name: `t${t}`, type: binary ? 'binary' : 'regression', X, y };
        }),
      );
    };
    const fits: [string, (ds: MultiTaskDataset) => Promise<{ coef: { data: Float64Array }; intercept: Float64Array }> | { coef: { data: Float64Array }; intercept: Float64Array }, boolean][] = [
      ['L21Regression, tall tasks', (ds) => new L21Regression({ alpha: 0.05, tol: 1e-10 }).fitSync(ds), false],
      ['L21Regression, async', (ds) => new L21Regression({ alpha: 0.05, tol: 1e-10 }).fit(ds), false],
      ['L21Regression with CV', (ds) => new L21Regression({ cv: 3, nAlphas: 4, tol: 1e-8 }).fitSync(ds), false],
      ['L21Logistic', (ds) => new L21Logistic({ alpha: 0.01, tol: 1e-8 }).fitSync(ds), true],
      ['TraceNormRegression', (ds) => new TraceNormRegression({ alpha: 0.1, tol: 1e-10 }).fitSync(ds), false],
      ['MeanRegularizedRegression', (ds) => new MeanRegularizedRegression({ lambda1: 1, lambda2: 0.5 }).fitSync(ds), false],
      ['IndependentRidge with CV', (ds) => new IndependentRidge({ cv: 3 }).fitSync(ds), false],
    ];
    for (const rows of [40, 8]) {
      for (const [name, fit, binary] of fits) {
        // B has more rows: the fits of A after B reuse buffers that hold B's values past A's lengths.
        const [a, b] = [dataset(1, rows, binary), dataset(2, rows + 5, binary)];
        const bits = async (ds: MultiTaskDataset): Promise<number[]> => {
          const m = await fit(ds);
          return [...m.coef.data, ...m.intercept];
        };
        dropSpareBuffers();
        const aloneA = await bits(a);
        dropSpareBuffers();
        const aloneB = await bits(b);
        // Now on the memory the fits above released, dirtied by the other dataset's values.
        const modelA = await fit(a);
        const keptA = [...modelA.coef.data, ...modelA.intercept];
        expect(keptA, `${name}, ${rows} rows: A after B`).to.deep.equal(aloneA);
        expect(await bits(b), `${name}, ${rows} rows: B after A`).to.deep.equal(aloneB);
        expect([...modelA.coef.data, ...modelA.intercept], `${name}, ${rows} rows: A's model after B's fit`).to.deep.equal(keptA);
      }
    }
  });
});
