/**
 * BufferLease: large buffers lent zeroed, never to two live leases, kept after release for the
 * next fits up to a cap; solves that take turns (as async fits do) and fits that reuse earlier
 * fits' buffers give the coefficients they give alone.
 */
import { expect } from 'chai';

import { BufferLease, spareBufferBytes } from '../lib/core/bufferLease.js';
import { Rng } from '../lib/core/rng.js';
import { MultiTaskElasticNet, MultiTaskLasso } from '../lib/linear/multiTaskElasticNet.js';
import { MultiTaskLassoCV } from '../lib/linear/multiTaskElasticNetCV.js';
import { EnetState, prepareProblem, solveEnet, type SolveSettings } from '../lib/linear/solvers/workingSet.js';
import { kernels } from '../lib/kernels/index.js';
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

  it('serves a request from a spare buffer up to twice its size, as a zeroed view', () => {
    const a = new BufferLease();
    const x = a.f64(30_000);
    x.fill(3);
    a.release();
    const b = new BufferLease();
    expect(b.f64(10_000).buffer).to.not.equal(x.buffer); // would waste more than half
    const y = b.f64(20_000);
    expect(y.buffer).to.equal(x.buffer);
    expect(y.length).to.equal(20_000);
    expect(y.every((v) => v === 0)).to.equal(true);
    b.release();
  });

  it('allocates small buffers as usual and keeps at most its cap between fits', () => {
    const small = new BufferLease();
    const s = small.f64(10);
    small.release();
    expect(new BufferLease().f64(10)).to.not.equal(s);
    const big = new BufferLease();
    for (let i = 0; i < 12; i++) big.f64(1_000_000 + i); // 12 x 8 MB of different sizes
    big.release();
    expect(spareBufferBytes()).to.be.at.most(64 * 1024 * 1024);
    expect(spareBufferBytes()).to.be.above(0);
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
});
