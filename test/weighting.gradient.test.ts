/**
 * The gradient-based weighting strategies against their papers' defining properties on
 * hand-made and random gradient sets: PCGrad removes conflicts, MGDA finds the min-norm point of
 * the convex hull (checked against exhaustive face search), CAGrad solves its max-min problem
 * (checked by strong duality and random search), IMTL equalises projections, Nash-MTL solves
 * G G^T alpha = 1/alpha, Aligned-MTL equalises singular values, UPGrad conflicts with no task,
 * GradNorm and GradVac move in the right direction; plus state round trips, determinism and bad
 * input. The Gram matrix goes through kernels().gemm, so this runs on both backends.
 */
import { expect } from 'chai';
import { ConfigError, FormatError, ShapeError, ValueError } from '../lib/core/errors.js';
import { Rng } from '../lib/core/rng.js';
import { AlignedMTL, alignmentMatrix } from '../lib/mtl/weighting/alignedmtl.js';
import { CAGrad, cagradSolve } from '../lib/mtl/weighting/cagrad.js';
import { GradNorm } from '../lib/mtl/weighting/gradnorm.js';
import { GradVac, gradvacAdjust } from '../lib/mtl/weighting/gradvac.js';
import { IMTL, imtlWeights } from '../lib/mtl/weighting/imtl.js';
import { MGDA } from '../lib/mtl/weighting/mgda.js';
import { NashMTL, nashSolve } from '../lib/mtl/weighting/nashmtl.js';
import { PCGrad, pcgradProjections } from '../lib/mtl/weighting/pcgrad.js';
import { createStrategy } from '../lib/mtl/weighting/registry.js';
import {
  gramMatrix,
  minNormSimplex,
  nonnegQP,
  projectSimplex,
  solveSmall,
  symEigSmall,
} from '../lib/mtl/weighting/linalg.js';
import type { StrategyResult, WeightingStrategy } from '../lib/mtl/weighting/strategy.js';
import { UPGrad } from '../lib/mtl/weighting/upgrad.js';
import { randMatrix } from './helpers.js';
import { bruteSimplexQP, combo, dot, expectClose, mat, naiveGram, norm, rowOf, type M } from './weighting.cases.js';

function run(s: WeightingStrategy, g: M, losses: number[], rng = new Rng(0), step = 0): StrategyResult {
  return s.combine({ losses: Float64Array.from(losses), grads: g, epoch: 0, step, rng });
}

function fresh<T extends WeightingStrategy>(s: T, g: M): T {
  s.init(g.rows, g.cols);
  return s;
}

/** Exact min-norm point of the convex hull of the rows of G by exhaustive face search. */
function bruteMinNorm(g: M): { alpha: Float64Array; normSq: number } {
  const alpha = bruteSimplexQP(naiveGram(g), g.rows);
  const v = combo(g, alpha);
  return { alpha, normSq: dot(v, v) };
}

// ------------------------------------------------------------------------------------------

describe('weighting: gradient-based strategies', () => {
  describe('small T x T helpers', () => {
    it('gramMatrix (through kernels().gemm) equals G G^T', () => {
      const g = randMatrix(new Rng(1), 4, 37);
      expectClose(gramMatrix(g), naiveGram(g), 1e-12, 'gram');
    });

    it('symEigSmall: A V = V diag(values), V orthonormal, ascending values', () => {
      const rng = new Rng(2);
      for (const n of [1, 2, 5, 12]) {
        const x = randMatrix(rng, n, n + 3);
        const a = naiveGram(x);
        a[0] = a[0]! - 3; // make it indefinite
        const { values, vectors } = symEigSmall(a, n);
        for (let k = 1; k < n; k++) expect(values[k]!).to.be.at.least(values[k - 1]!);
        for (let k = 0; k < n; k++) {
          for (let i = 0; i < n; i++) {
            let av = 0;
            for (let j = 0; j < n; j++) av += a[i * n + j]! * vectors[j * n + k]!;
            expect(Math.abs(av - values[k]! * vectors[i * n + k]!)).to.be.below(1e-10 * (1 + Math.abs(values[n - 1]!)));
          }
          for (let l = 0; l < n; l++) {
            let vv = 0;
            for (let i = 0; i < n; i++) vv += vectors[i * n + k]! * vectors[i * n + l]!;
            expect(Math.abs(vv - (k === l ? 1 : 0))).to.be.below(1e-12);
          }
        }
      }
    });

    it('solveSmall solves A x = b with pivoting and reports a singular A as null', () => {
      const rng = new Rng(4);
      for (const n of [1, 3, 7]) {
        const a = Float64Array.from({ length: n * n }, () => rng.normal());
        const b = Float64Array.from({ length: n }, () => rng.normal());
        const x = solveSmall(a, b, n)!;
        for (let i = 0; i < n; i++) expect(dot(a.subarray(i * n, (i + 1) * n), x)).to.be.closeTo(b[i]!, 1e-10);
      }
      // A zero leading entry needs a row swap; a rank-1 matrix is singular.
      expectClose(solveSmall(Float64Array.of(0, 1, 1, 0), Float64Array.of(2, 3), 2)!, [3, 2], 1e-15, 'swap');
      expect(solveSmall(Float64Array.of(1, 2, 2, 4), Float64Array.of(1, 1), 2)).to.equal(null);
    });

    it('projectSimplex is the Euclidean projection (KKT: x_i > 0 share one shift)', () => {
      const p = projectSimplex([0.5, 2, -1, 0.7]);
      expect(p.reduce((s, v) => s + v, 0)).to.be.closeTo(1, 1e-15);
      expect(Array.from(p).every((v) => v >= 0)).to.equal(true);
      expectClose(p, [0, 1, 0, 0], 1e-15, 'projection');
      expectClose(projectSimplex([0.2, 0.3, 0.1]), [1 / 3, 0.3 + 2 / 15, 0.1 + 2 / 15], 1e-15, 'projection');
    });

    it('nonnegQP satisfies the KKT conditions, also for a singular M', () => {
      const rng = new Rng(3);
      for (const [n, s] of [[4, 10], [5, 3]] as const) {
        const g = randMatrix(rng, n, s);
        const m = naiveGram(g);
        const q = Float64Array.from({ length: n }, () => rng.normal());
        const z = nonnegQP(m, q, n);
        for (let j = 0; j < n; j++) {
          let grad = q[j]!;
          for (let k = 0; k < n; k++) grad += m[j * n + k]! * z[k]!;
          expect(z[j]!).to.be.at.least(0);
          if (z[j]! > 0) expect(Math.abs(grad)).to.be.below(1e-10);
          else expect(grad).to.be.at.least(-1e-10);
        }
      }
    });
  });

  describe('PCGrad (Yu et al. 2020)', () => {
    it('leaves two conflicting gradients with non-negative inner products', () => {
      const rng = new Rng(4);
      let conflicts = 0;
      for (let trial = 0; trial < 50; trial++) {
        const g = randMatrix(rng, 2, 6);
        const m = naiveGram(g);
        if (m[1]! < 0) conflicts++;
        const [c1, c2] = pcgradProjections(m, 2, new Rng(trial));
        const p1 = combo(g, c1!);
        const p2 = combo(g, c2!);
        expect(dot(p1, p2)).to.be.at.least(-1e-12);
        expect(dot(p1, rowOf(g, 1))).to.be.at.least(-1e-12);
        expect(dot(p2, rowOf(g, 0))).to.be.at.least(-1e-12);
      }
      expect(conflicts).to.be.greaterThan(10); // the set did exercise the projection
    });

    it('removes every conflict of hand-made 3-task sets, pairwise, in every random order', () => {
      // Every pair conflicts in both sets. (For three or more tasks PCGrad does not guarantee
      // this in general -- a later projection can re-create a conflict -- so the sets are chosen
      // where the paper's picture holds.)
      const third = (k: number): number[] => [Math.cos((2 * Math.PI * k) / 3), Math.sin((2 * Math.PI * k) / 3), 0.5];
      for (const g of [
        mat([third(0), third(1), third(2)]),
        mat([
          [1, 0, 0],
          [-0.3, 1, 0],
          [-0.3, -0.3, 1],
        ]),
      ]) {
        const m = naiveGram(g);
        for (const [i, j] of [[0, 1], [0, 2], [1, 2]] as const) expect(m[i * 3 + j]!).to.be.below(0);
        for (let seed = 0; seed < 20; seed++) {
          const proj = pcgradProjections(m, 3, new Rng(seed)).map((c) => combo(g, c));
          for (let i = 0; i < 3; i++) {
            for (let j = i + 1; j < 3; j++) expect(dot(proj[i]!, proj[j]!), `pair ${i},${j}`).to.be.at.least(-1e-12);
          }
        }
      }
    });

    it('leaves non-conflicting gradients unchanged (direction = sum)', () => {
      const g = mat([
        [1, 0.2, 0, 3],
        [0.5, 1, 0, 0],
        [0, 0.1, 2, 1],
      ]);
      const r = run(fresh(new PCGrad(), g), g, [1, 1, 1], new Rng(5));
      expectClose(r.shared!, combo(g, [1, 1, 1]), 1e-14, 'direction');
      expectClose(r.weights, [1, 1, 1], 0, 'weights');
    });

    it('equals the reference full-vector procedure with the same random order', () => {
      const g = randMatrix(new Rng(6), 4, 9);
      const r = run(fresh(new PCGrad(), g), g, [1, 1, 1, 1], new Rng(77));
      // Reference: the paper's loop on explicit vectors, drawing the same permutations.
      const rng = new Rng(77);
      const sum = new Float64Array(g.cols);
      for (let i = 0; i < g.rows; i++) {
        const gi = rowOf(g, i);
        for (const j of rng.permutation(g.rows)) {
          if (j === i) continue;
          const gj = rowOf(g, j);
          const ij = dot(gi, gj);
          if (ij < 0) for (let k = 0; k < g.cols; k++) gi[k] = gi[k]! - (ij / dot(gj, gj)) * gj[k]!;
        }
        for (let k = 0; k < g.cols; k++) sum[k] = sum[k]! + gi[k]!;
      }
      expectClose(r.shared!, sum, 1e-12, 'direction');
    });
  });

  describe('MGDA min-norm (Sener & Koltun 2018)', () => {
    for (const n of [2, 3, 4]) {
      it(`returns the min-norm point of the convex hull for ${n} tasks (vs exhaustive face search)`, () => {
        const rng = new Rng(10 + n);
        for (let trial = 0; trial < 20; trial++) {
          const g = randMatrix(rng, n, 6);
          // Shift some gradients so that the optimum is sometimes a vertex, edge or inner point.
          if (trial % 3 === 1) for (let k = 0; k < 6; k++) g.data[k] = g.data[k]! * 0.1;
          const brute = bruteMinNorm(g);
          const r = run(fresh(new MGDA(), g), g, new Array(n).fill(1));
          expect(r.weights.reduce((s, v) => s + v, 0)).to.be.closeTo(1, 1e-12);
          expect(Array.from(r.weights).every((v) => v >= 0)).to.equal(true);
          const d = r.shared!;
          expectClose(d, combo(g, r.weights), 1e-12, 'direction');
          expect(dot(d, d)).to.be.closeTo(brute.normSq, 1e-10 * Math.max(1, brute.normSq));
          expectClose(r.weights, brute.alpha, 1e-6, 'alpha');
        }
      });
    }

    it('agrees with a dense grid search on the simplex (3 tasks)', () => {
      const g = randMatrix(new Rng(20), 3, 4);
      const r = run(fresh(new MGDA(), g), g, [1, 1, 1]);
      let best = Infinity;
      const steps = 400;
      for (let a = 0; a <= steps; a++) {
        for (let b = 0; a + b <= steps; b++) {
          const v = combo(g, [a / steps, b / steps, (steps - a - b) / steps]);
          best = Math.min(best, dot(v, v));
        }
      }
      expect(dot(r.shared!, r.shared!)).to.be.at.most(best + 1e-12);
      expect(best - dot(r.shared!, r.shared!)).to.be.below(1e-3 * Math.max(1, best));
    });

    it('finds the zero vector when the origin is in the hull', () => {
      const g = mat([
        [1, 0],
        [-1, 1],
        [-1, -1],
      ]);
      const r = run(fresh(new MGDA(), g), g, [1, 1, 1]);
      expect(norm(r.shared!)).to.be.below(1e-6);
      expectClose(r.weights, [0.5, 0.25, 0.25], 1e-6, 'alpha');
    });

    it("normalises gradients ('l2', 'loss+') and rescales with scale: 'tasks'", () => {
      const g = mat([
        [3, 0, 1],
        [0, 0.5, 0.2],
        [-1, 1, 0],
      ]);
      const losses = [2, 0.5, 1];
      const norms = [0, 1, 2].map((t) => norm(rowOf(g, t)));
      for (const [normalization, div] of [
        ['l2', norms],
        ['loss+', norms.map((v, t) => v * losses[t]!)],
      ] as const) {
        const gn = mat([0, 1, 2].map((t) => Array.from(rowOf(g, t), (v) => v / div[t]!)));
        const r = run(fresh(new MGDA({ normalization }), g), g, losses);
        const brute = bruteMinNorm(gn);
        expectClose(r.weights, brute.alpha, 1e-6, `${normalization} alpha`);
        expectClose(r.shared!, combo(gn, brute.alpha), 1e-6, `${normalization} direction`);
      }
      const plain = run(fresh(new MGDA(), g), g, losses);
      const tasks = run(fresh(new MGDA({ scale: 'tasks' }), g), g, losses);
      expectClose(tasks.weights, Array.from(plain.weights, (v) => 3 * v), 1e-12, 'scaled weights');
      expectClose(tasks.shared!, Array.from(plain.shared!, (v) => 3 * v), 1e-12, 'scaled direction');
    });

    it('minNormSimplex reports a tiny duality gap', () => {
      const g = randMatrix(new Rng(21), 8, 5); // more tasks than dimensions: a degenerate hull
      const m = naiveGram(g);
      const { alpha, normSq } = minNormSimplex(m, 8);
      let minGrad = Infinity;
      for (let r = 0; r < 8; r++) {
        let v = 0;
        for (let c = 0; c < 8; c++) v += m[r * 8 + c]! * alpha[c]!;
        minGrad = Math.min(minGrad, v);
      }
      expect(normSq - minGrad).to.be.below(1e-9);
    });
  });

  describe('CAGrad (Liu et al. 2021)', () => {
    for (const n of [2, 3, 4]) {
      it(`maximises the worst-case improvement in the ball for ${n} tasks (duality + random search)`, () => {
        const rng = new Rng(30 + n);
        const c = 0.5;
        for (let trial = 0; trial < 4; trial++) {
          const s = 4;
          const g = randMatrix(rng, n, s);
          const r = run(fresh(new CAGrad({ c, rescale: false }), g), g, new Array(n).fill(1));
          const d = r.shared!;
          const g0 = combo(g, new Array(n).fill(1 / n));
          const radius = c * norm(g0);
          const worst = (v: Float64Array): number => Math.min(...[...Array(n).keys()].map((t) => dot(rowOf(g, t), v)));
          // Feasible.
          expect(norm(d.map((v, k) => v - g0[k]!))).to.be.at.most(radius * (1 + 1e-9));
          // Strong duality: the primal value equals the dual value F(w), which certifies optimality.
          const sol = cagradSolve(naiveGram(g), n, c);
          expect(worst(d)).to.be.closeTo(sol.dualValue, 1e-8 * Math.max(1, Math.abs(sol.dualValue)));
          // Random search over the ball (mostly its boundary, where the optimum lies) never beats it.
          let best = -Infinity;
          for (let k = 0; k < 40000; k++) {
            const u = Float64Array.from({ length: s }, () => rng.normal());
            const scale = (k % 2 === 0 ? 1 : Math.pow(rng.uniform(), 1 / s)) * radius / norm(u);
            best = Math.max(best, worst(g0.map((v, q) => v + scale * u[q]!)));
          }
          expect(worst(d)).to.be.at.least(best - 1e-4);
        }
      });
    }

    it('rescales by 1 / (1 + c^2) and reduces to the mean gradient for c = 0', () => {
      const g = randMatrix(new Rng(40), 3, 5);
      const raw = run(fresh(new CAGrad({ c: 0.4, rescale: false }), g), g, [1, 1, 1]);
      const scaled = run(fresh(new CAGrad({ c: 0.4 }), g), g, [1, 1, 1]);
      expectClose(scaled.shared!, Array.from(raw.shared!, (v) => v / 1.16), 1e-12, 'rescaled');
      expectClose(scaled.shared!, combo(g, scaled.weights), 1e-12, 'weights match direction');
      const zero = run(fresh(new CAGrad({ c: 0 }), g), g, [1, 1, 1]);
      expectClose(zero.shared!, combo(g, [1 / 3, 1 / 3, 1 / 3]), 1e-14, 'c = 0');
    });
  });

  describe('IMTL-G (Liu et al. 2021)', () => {
    it('gives the aggregated gradient equal projections on all unit task gradients', () => {
      const rng = new Rng(50);
      for (const n of [2, 3, 5]) {
        for (let trial = 0; trial < 5; trial++) {
          const g = randMatrix(rng, n, 8);
          for (let k = 0; k < 8; k++) g.data[k] = g.data[k]! * 5; // unbalanced norms
          const s = fresh(new IMTL(), g);
          const r = run(s, g, new Array(n).fill(1));
          const alpha = s.lastAlpha;
          expect(alpha.reduce((s, v) => s + v, 0)).to.be.closeTo(1, 1e-12);
          const d = r.shared!;
          expectClose(d, combo(g, alpha), 1e-12, 'direction = G^T alpha');
          const proj = [...Array(n).keys()].map((t) => dot(d, rowOf(g, t)) / norm(rowOf(g, t)));
          for (const p of proj) expect(p).to.be.closeTo(proj[0]!, 1e-9 * Math.max(1, Math.abs(proj[0]!)));
        }
      }
    });

    it('falls back to equal weights when the condition is singular', () => {
      const g = mat([
        [1, 0],
        [2, 0],
      ]);
      expect(imtlWeights(naiveGram(g), 2)).to.equal(null);
      const s = fresh(new IMTL(), g);
      const r = run(s, g, [1, 1]);
      expectClose(s.lastAlpha, [0.5, 0.5], 0, 'alpha');
      expectClose(r.shared!, [1.5, 0], 1e-15, 'direction');
    });
  });

  describe('Nash-MTL (Navon et al. 2022)', () => {
    it('by default solves the paper equation (G G^T alpha)_t = 1 / alpha_t with alpha > 0 (residual check)', () => {
      const rng = new Rng(60);
      for (const n of [2, 3, 4, 8]) {
        for (let trial = 0; trial < 5; trial++) {
          const g = randMatrix(rng, n, 10);
          for (let k = 0; k < 10; k++) g.data[k] = g.data[k]! * 20; // very different scales
          const s = fresh(new NashMTL(), g);
          const r = run(s, g, new Array(n).fill(1));
          const alpha = r.weights;
          const m = naiveGram(g);
          for (let t = 0; t < n; t++) {
            expect(alpha[t]!).to.be.greaterThan(0);
            let ma = 0;
            for (let j = 0; j < n; j++) ma += m[t * n + j]! * alpha[j]!;
            expect(Math.abs(ma - 1 / alpha[t]!)).to.be.at.most(1e-6 * (1 / alpha[t]!));
          }
          expectClose(r.shared!, combo(g, alpha), 1e-12, 'direction');
          const sol = nashSolve(m, n);
          expect(sol.converged).to.equal(true);
          expect(sol.ridge).to.equal(0); // the exact equation, not the ridge fallback
          // A warm-started second step gives the same answer.
          expectClose(run(s, g, new Array(n).fill(1)).weights, alpha, 1e-8, 'warm start');
        }
      }
    });

    it('with normalizeGram solves the equation for G G^T / ||G G^T||_F: alpha scaled by ||G G^T||_F^(1/2)', () => {
      const g = randMatrix(new Rng(61), 3, 7);
      for (let k = 0; k < 7; k++) g.data[k] = g.data[k]! * 50;
      const m = naiveGram(g);
      const frob = Math.sqrt(m.reduce((s, v) => s + v * v, 0));
      const alpha = run(fresh(new NashMTL({ normalizeGram: true }), g), g, [1, 1, 1]).weights;
      const exact = run(fresh(new NashMTL(), g), g, [1, 1, 1]).weights;
      expectClose(alpha, Array.from(exact, (v) => v * Math.sqrt(frob)), 1e-8, 'scaled alpha');
      for (let t = 0; t < 3; t++) {
        let ma = 0;
        for (let j = 0; j < 3; j++) ma += (m[t * 3 + j]! / frob) * alpha[j]!;
        expect(Math.abs(ma - 1 / alpha[t]!)).to.be.at.most(1e-6 / alpha[t]!);
      }
      // Scaling every gradient by 10 leaves alpha unchanged and scales the direction by 10.
      const g10 = { ...g, data: g.data.map((v) => 10 * v) };
      const r10 = run(fresh(new NashMTL({ normalizeGram: true }), g10), g10, [1, 1, 1]);
      expectClose(r10.weights, alpha, 1e-8, 'scale-free alpha');
    });

    it('stays finite when the gradients cancel (no exact solution) or one is zero', () => {
      const g = mat([
        [1, 2],
        [-1, -2],
        [0, 0],
      ]);
      const r = run(fresh(new NashMTL(), g), g, [1, 1, 1]);
      expect(Array.from(r.weights).every((v) => Number.isFinite(v) && v > 0)).to.equal(true);
      expect(Array.from(r.shared!).every(Number.isFinite)).to.equal(true);
      const sol = nashSolve(naiveGram(mat([[1, 2], [-1, -2]])), 2);
      expect(sol.ridge).to.be.greaterThan(0);
    });
  });

  describe('Aligned-MTL (Senushkin et al. 2023)', () => {
    function alignedSingularValuesSq(g: M, scale: 'min' | 'median' | 'rmse' = 'min'): { eig: Float64Array; b: Float64Array } {
      const n = g.rows;
      const b = alignmentMatrix(naiveGram(g), n, scale);
      // G_hat = B G explicitly, then the eigenvalues of G_hat G_hat^T.
      const gh = mat([...Array(n).keys()].map((i) => Array.from(combo(g, b.subarray(i * n, (i + 1) * n)))));
      return { eig: symEigSmall(naiveGram(gh), n).values, b };
    }

    it('gives the aligned gradient matrix equal singular values, the smallest of G', () => {
      const rng = new Rng(70);
      for (const n of [2, 3, 5]) {
        const g = randMatrix(rng, n, 9);
        for (let k = 0; k < 9; k++) g.data[k] = g.data[k]! * 10; // ill-conditioned
        const { eig } = alignedSingularValuesSq(g);
        const sigmaMinSq = symEigSmall(naiveGram(g), n).values[0]!;
        for (const v of eig) expect(v).to.be.closeTo(sigmaMinSq, 1e-9 * sigmaMinSq);
        const r = run(fresh(new AlignedMTL(), g), g, new Array(n).fill(1));
        const b = alignmentMatrix(naiveGram(g), n);
        const rowSums = [...Array(n).keys()].map((i) => b.subarray(i * n, (i + 1) * n).reduce((s, v) => s + v, 0));
        expectClose(r.shared!, combo(g, rowSums), 1e-10, 'direction = sum of aligned rows');
      }
    });

    it('handles linearly dependent gradients: the non-zero singular values are equal', () => {
      const g = mat([
        [1, 0],
        [0, 3],
        [1, 3],
      ]);
      const { eig } = alignedSingularValuesSq(g);
      expect(eig[0]!).to.be.closeTo(0, 1e-9);
      expect(eig[1]!).to.be.closeTo(eig[2]!, 1e-9 * eig[2]!);
      for (const scale of ['median', 'rmse'] as const) {
        const { eig: e } = alignedSingularValuesSq(g, scale);
        expect(e[1]!).to.be.closeTo(e[2]!, 1e-9 * e[2]!);
      }
    });
  });

  describe('UPGrad (Quinton & Rey 2024)', () => {
    it('has a non-negative inner product with every task gradient', () => {
      const rng = new Rng(80);
      for (const [n, s] of [[2, 5], [3, 5], [4, 3], [6, 4], [5, 20]] as const) {
        for (let trial = 0; trial < 10; trial++) {
          const g = randMatrix(rng, n, s);
          const r = run(fresh(new UPGrad(), g), g, new Array(n).fill(1));
          const d = r.shared!;
          const scale = Math.max(...[...Array(n).keys()].map((t) => dot(rowOf(g, t), rowOf(g, t))));
          for (let t = 0; t < n; t++) expect(dot(d, rowOf(g, t)), `task ${t}`).to.be.at.least(-1e-10 * scale);
        }
      }
    });

    it('is the mean of the projections onto the dual cone (KKT of each projection)', () => {
      const g = randMatrix(new Rng(81), 3, 6);
      const m = naiveGram(g);
      const n = 3;
      // Each projection pi(g_i) = G^T (e_i + z_i): check primal feasibility and complementarity.
      let sum = new Float64Array(g.cols);
      for (let i = 0; i < n; i++) {
        const q = Float64Array.from({ length: n }, (_, j) => m[j * n + i]!);
        const z = nonnegQP(m, q, n);
        const v = combo(g, Array.from(z, (zj, j) => zj + (j === i ? 1 : 0)));
        for (let j = 0; j < n; j++) {
          const gj = dot(v, rowOf(g, j));
          expect(gj).to.be.at.least(-1e-10);
          if (z[j]! > 0) expect(Math.abs(gj)).to.be.below(1e-10);
        }
        sum = sum.map((x, k) => x + v[k]! / n);
      }
      const r = run(fresh(new UPGrad(), g), g, [1, 1, 1]);
      expectClose(r.shared!, sum, 1e-10, 'direction');
    });

    it('returns the mean gradient when no task conflicts', () => {
      const g = mat([
        [1, 0.1, 0],
        [0.3, 1, 0],
        [0, 0.2, 1],
      ]);
      const r = run(fresh(new UPGrad(), g), g, [1, 1, 1]);
      expectClose(r.shared!, combo(g, [1 / 3, 1 / 3, 1 / 3]), 1e-14, 'direction');
    });
  });

  describe('GradNorm (Chen et al. 2018)', () => {
    it('moves weight toward the task whose gradient norm is too small', () => {
      const g = mat([
        [10, 0, 0],
        [0, 1, 0],
      ]);
      const s = fresh(new GradNorm(), g);
      const first = run(s, g, [1, 1]);
      expectClose(first.weights, [1, 1], 0, 'first weights');
      expectClose(first.shared!, [10, 1, 0], 1e-14, 'first direction');
      const w = s.currentWeights();
      expect(w[1]!).to.be.greaterThan(1);
      expect(w[0]!).to.be.lessThan(1);
      expect(w[0]! + w[1]!).to.be.closeTo(2, 1e-12);
      // Keeps going in the same direction while the imbalance lasts.
      for (let k = 0; k < 5; k++) run(s, g, [1, 1]);
      expect(s.currentWeights()[1]!).to.be.greaterThan(w[1]!);
    });

    it('favours the task that trains slower when gradient norms are equal', () => {
      const g = mat([
        [1, 0],
        [0, 1],
      ]);
      const s = fresh(new GradNorm({ alpha: 1.5 }), g);
      run(s, g, [1, 1]); // L(0)
      run(s, g, [0.2, 0.9]); // task 1 learns slowly
      const w = s.currentWeights();
      expect(w[1]!).to.be.greaterThan(w[0]!);
    });
  });

  describe('GradVac (Wang et al. 2021)', () => {
    it('raises a cosine similarity below its target to the target', () => {
      // cos(g1, g2) = -0.5
      const g = mat([
        [1, 0],
        [-0.5, Math.sqrt(3) / 2],
      ]);
      const m = naiveGram(g);
      const targets = Float64Array.from([0, 0.3, 0.3, 0]);
      const rows = gradvacAdjust(m, 2, targets, 0.01, new Rng(1));
      for (const [i, j] of [[0, 1], [1, 0]] as const) {
        const gi = combo(g, rows[i]!);
        const cos = dot(gi, rowOf(g, j)) / (norm(gi) * norm(rowOf(g, j)));
        expect(cos).to.be.closeTo(0.3, 1e-12);
      }
      // EMA of the targets with the observed similarity.
      expectClose(targets, [0, 0.99 * 0.3 + 0.01 * -0.5, 0.99 * 0.3 + 0.01 * -0.5, 0], 1e-14, 'targets');
    });

    it('makes conflicting gradients orthogonal at first (targets start at 0), leaves aligned ones', () => {
      const g = mat([
        [1, 0],
        [-0.5, Math.sqrt(3) / 2],
        [1, 0.2],
      ]);
      const s = fresh(new GradVac(), g);
      const r = run(s, g, [1, 1, 1], new Rng(3));
      expectClose(r.weights, [1, 1, 1], 0, 'weights');
      const state = s.getState() as { targets: number[] };
      expect(state.targets[0 * 3 + 2]!).to.be.greaterThan(0); // aligned pair: target moved up
      const rows = gradvacAdjust(naiveGram(g), 3, new Float64Array(9), 0.01, new Rng(3));
      expectClose(r.shared!, combo(g, rows.reduce((a, c) => a.map((v, k) => v + c[k]!), new Float64Array(3))), 1e-12, 'direction');
      // With two tasks and fresh (zero) targets, each adjusted gradient ends orthogonal to the
      // other task's gradient: the conflict is raised exactly to the target.
      const g2 = mat([
        [1, 0],
        [-0.5, Math.sqrt(3) / 2],
      ]);
      const two = gradvacAdjust(naiveGram(g2), 2, new Float64Array(4), 0.01, new Rng(0));
      expect(dot(combo(g2, two[0]!), rowOf(g2, 1))).to.be.closeTo(0, 1e-12);
      expect(dot(combo(g2, two[1]!), rowOf(g2, 0))).to.be.closeTo(0, 1e-12);
    });
  });

  describe('every gradient strategy', () => {
    const names = ['gradnorm', 'mgda', 'pcgrad', 'gradvac', 'cagrad', 'imtl', 'nashmtl', 'alignedmtl', 'upgrad'];
    const T = 4;
    const S = 11;
    const gradsAt = (k: number): M => randMatrix(new Rng(1000 + k), T, S);
    const lossesAt = (k: number): number[] => [1, 2, 3, 4].map((v) => v / (1 + 0.1 * k));

    for (const name of names) {
      it(`${name}: needs gradients, returns finite weights and direction of the right sizes`, () => {
        const s = createStrategy(name);
        expect(s.name).to.equal(name);
        expect(s.needsGradients).to.equal(true);
        s.init(T, S);
        const r = run(s, gradsAt(0), lossesAt(0));
        expect(r.weights.length).to.equal(T);
        expect(r.shared!.length).to.equal(S);
        expect([...r.weights, ...r.shared!].every(Number.isFinite)).to.equal(true);
      });

      it(`${name}: is deterministic for a seed and its state round-trips through JSON`, () => {
        const a = createStrategy(name);
        const b = createStrategy(name);
        a.init(T, S);
        b.init(T, S);
        const rngA = new Rng(9);
        const rngB = new Rng(9);
        for (let k = 0; k < 3; k++) {
          const ra = a.combine({ losses: Float64Array.from(lossesAt(k)), grads: gradsAt(k), epoch: 0, step: k, rng: rngA });
          const rb = b.combine({ losses: Float64Array.from(lossesAt(k)), grads: gradsAt(k), epoch: 0, step: k, rng: rngB });
          expect(Array.from(ra.weights)).to.deep.equal(Array.from(rb.weights));
          expect(Array.from(ra.shared!)).to.deep.equal(Array.from(rb.shared!));
        }
        // Resume: a new strategy restored from JSON (setState before and after init) continues
        // exactly like the original.
        const saved = JSON.parse(JSON.stringify(a.getState()));
        const c = createStrategy(name);
        c.setState(saved);
        c.init(T, S);
        const d = createStrategy(name);
        d.init(T, S);
        d.setState(saved);
        expect(c.getState()).to.deep.equal(saved);
        expect(d.getState()).to.deep.equal(saved);
        const rngState = rngA.getState();
        const next = (s: WeightingStrategy): StrategyResult => {
          const rng = new Rng(0);
          rng.setState(rngState);
          return s.combine({ losses: Float64Array.from(lossesAt(3)), grads: gradsAt(3), epoch: 0, step: 3, rng });
        };
        const ra = next(a);
        for (const s of [c, d]) {
          const rs = next(s);
          expect(Array.from(rs.weights)).to.deep.equal(Array.from(ra.weights));
          expect(Array.from(rs.shared!)).to.deep.equal(Array.from(ra.shared!));
        }
      });

      it(`${name}: clear errors for missing or mis-sized gradients, bad options and bad state`, () => {
        const s = createStrategy(name);
        s.init(T, S);
        expect(() => s.combine({ losses: new Float64Array(T), epoch: 0, step: 0, rng: new Rng(0) })).to.throw(ValueError);
        expect(() => run(s, randMatrix(new Rng(1), T, S + 1), [1, 1, 1, 1])).to.throw(ShapeError);
        expect(() => run(s, randMatrix(new Rng(1), T, S), [1, 1, 1])).to.throw(ShapeError);
        expect(() => createStrategy({ type: name, bogus: 1 })).to.throw(ConfigError, /bogus/);
        expect(() => s.setState('nonsense')).to.throw(FormatError);
      });
    }

    it('rejects out-of-range options', () => {
      expect(() => new CAGrad({ c: 1.5 })).to.throw(ConfigError, /'c'/);
      expect(() => new GradNorm({ lr: 0 })).to.throw(ConfigError, /'lr'/);
      expect(() => new GradNorm({ alpha: -1 })).to.throw(ConfigError, /'alpha'/);
      expect(() => new MGDA({ normalization: 'max' as never })).to.throw(ConfigError, /normalization/);
      expect(() => new GradVac({ beta: 2 })).to.throw(ConfigError, /'beta'/);
      expect(() => new AlignedMTL({ scale: 'max' as never })).to.throw(ConfigError, /scale/);
      expect(() => new NashMTL({ maxIter: 0.5 })).to.throw(ConfigError, /maxIter/);
    });

    it('setState rejects a state for another number of tasks', () => {
      const s = new GradNorm();
      s.init(3, 5);
      expect(() => s.setState({ numTasks: 2, weights: [1, 1], initialLosses: null })).to.throw(FormatError);
    });
  });
});
