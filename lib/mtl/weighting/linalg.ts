/**
 * Small dense linear algebra for the weighting strategies.
 *
 * Every gradient strategy reduces its per-step work to a T x T problem on the Gram matrix
 * M = G G^T of the per-task gradients (T tasks, usually 2..16): min-norm points, simplex QPs,
 * eigendecompositions, tiny linear systems. Those are microseconds of work, far below the size
 * where a native call pays for its overhead, so they live here in plain TypeScript. The products
 * that touch the S shared parameters -- M = G G^T, the combination d = G^T w and the product
 * G v -- go through kernels().gemm so they run native when the addon is loaded.
 *
 * T x T matrices are plain row-major Float64Arrays of length n * n.
 */
import type { Matrix } from '../../core/matrix.js';
import { kernels } from '../../kernels/index.js';

// ---------------------------------------------------------------------------------------------
// The products with the gradient matrix (kernels)
// ---------------------------------------------------------------------------------------------

/** M = G G^T (T x T) for G (T x S), computed by the selected backend's gemm. */
export function gramMatrix(g: Matrix<Float64Array>): Float64Array {
  const out: Matrix<Float64Array> = { rows: g.rows, cols: g.rows, data: new Float64Array(g.rows * g.rows) };
  kernels().gemm(g, g, out, { transB: true });
  // gemm may round the two triangles differently; the solvers below assume exact symmetry.
  const n = g.rows;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (out.data[i * n + j]! + out.data[j * n + i]!);
      out.data[i * n + j] = v;
      out.data[j * n + i] = v;
    }
  }
  return out.data;
}

/** d = G^T w (length S): the shared direction as a combination of the task gradients. */
export function combineRows(g: Matrix<Float64Array>, w: Float64Array): Float64Array {
  const out: Matrix<Float64Array> = { rows: 1, cols: g.cols, data: new Float64Array(g.cols) };
  kernels().gemm({ rows: 1, cols: g.rows, data: w }, g, out);
  return out.data;
}

/** G v (length T): each task gradient's inner product with a vector v of length S. */
export function applyRows(g: Matrix<Float64Array>, v: Float64Array): Float64Array {
  const out: Matrix<Float64Array> = { rows: g.rows, cols: 1, data: new Float64Array(g.rows) };
  kernels().gemm(g, { rows: g.cols, cols: 1, data: v }, out);
  return out.data;
}

// ---------------------------------------------------------------------------------------------
// Vectors and tiny matrices
// ---------------------------------------------------------------------------------------------

export function ones(n: number): Float64Array {
  return new Float64Array(n).fill(1);
}

/** Numerically stable softmax of a small vector. */
export function softmax(z: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) max = Math.max(max, z[i]!);
  const out = new Float64Array(z.length);
  let sum = 0;
  for (let i = 0; i < z.length; i++) {
    out[i] = Math.exp(z[i]! - max);
    sum += out[i]!;
  }
  for (let i = 0; i < z.length; i++) out[i]! /= sum;
  return out;
}

/** (M x)_i for a symmetric n x n M. */
export function matVec(m: Float64Array, x: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += m[i * n + j]! * x[j]!;
    out[i] = s;
  }
  return out;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** x^T M x. */
export function quad(m: Float64Array, x: Float64Array, n: number): number {
  return dot(x, matVec(m, x, n));
}

/**
 * Solve A x = b for a small square A (n x n, row-major) by Gaussian elimination with partial
 * pivoting. Returns null when A is singular to working precision (pivot below
 * 1e-13 times the largest entry), so callers can choose their own fallback.
 */
export function solveSmall(a: Float64Array, b: Float64Array, n: number): Float64Array | null {
  const m = a.slice();
  const x = b.slice();
  let scale = 0;
  for (let i = 0; i < m.length; i++) scale = Math.max(scale, Math.abs(m[i]!));
  if (scale === 0) return null;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i * n + k]!) > Math.abs(m[p * n + k]!)) p = i;
    if (Math.abs(m[p * n + k]!) <= 1e-13 * scale) return null;
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = m[k * n + j]!;
        m[k * n + j] = m[p * n + j]!;
        m[p * n + j] = t;
      }
      const t = x[k]!;
      x[k] = x[p]!;
      x[p] = t;
    }
    const piv = m[k * n + k]!;
    for (let i = k + 1; i < n; i++) {
      const f = m[i * n + k]! / piv;
      if (f === 0) continue;
      for (let j = k; j < n; j++) m[i * n + j] = m[i * n + j]! - f * m[k * n + j]!;
      x[i] = x[i]! - f * x[k]!;
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i]!;
    for (let j = i + 1; j < n; j++) s -= m[i * n + j]! * x[j]!;
    x[i] = s / m[i * n + i]!;
  }
  return x;
}

// ---------------------------------------------------------------------------------------------
// Symmetric eigendecomposition (cyclic Jacobi)
// ---------------------------------------------------------------------------------------------

export interface SmallEig {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** n x n row-major; column k is the unit eigenvector of values[k]. */
  vectors: Float64Array;
}

/**
 * Eigendecomposition of a symmetric n x n matrix by cyclic Jacobi rotations. Jacobi is the
 * right tool at this size: simple, unconditionally stable, and it gives eigenvalues to high
 * relative accuracy, which matters for Aligned-MTL where the smallest eigenvalue sets the scale.
 */
export function symEigSmall(a: Float64Array, n: number): SmallEig {
  const m = a.slice();
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const x = m[i * n + j]! * m[i * n + j]!;
        total += x;
        if (i !== j) off += x;
      }
    }
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (apq === 0) continue;
        const app = m[p * n + p]!;
        const aqq = m[q * n + q]!;
        // Rotation angle that zeroes m[p][q] (Golub & Van Loan, Algorithm 8.5.1).
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p]!;
          const mkq = m[k * n + q]!;
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k]!;
          const mqk = m[q * n + k]!;
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[i * n + i]! - m[j * n + j]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, k) => {
    values[k] = m[src * n + src]!;
    for (let r = 0; r < n; r++) vectors[r * n + k] = v[r * n + src]!;
  });
  return { values, vectors };
}

// ---------------------------------------------------------------------------------------------
// Simplex
// ---------------------------------------------------------------------------------------------

/**
 * Euclidean projection onto the probability simplex {x >= 0, sum x = 1} (the sort-based
 * algorithm of Held, Wolfe & Crowder 1974; Duchi et al. 2008).
 */
export function projectSimplex(v: ArrayLike<number>): Float64Array {
  const n = v.length;
  const u = Array.from(v).sort((a, b) => b - a);
  let cum = 0;
  let theta = 0;
  for (let k = 0; k < n; k++) {
    cum += u[k]!;
    const t = (cum - 1) / (k + 1);
    if (u[k]! - t > 0) theta = t;
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.max(0, v[i]! - theta);
  return out;
}

/**
 * Exact minimiser of || gamma a + (1 - gamma) b ||^2 over gamma in [0, 1], from the three inner
 * products: the 2-task line search of Sener & Koltun (2018), Algorithm 1.
 */
export function minNormPair(aa: number, ab: number, bb: number): number {
  if (ab >= aa) return 1;
  if (ab >= bb) return 0;
  return (bb - ab) / (aa + bb - 2 * ab);
}

export interface MinNormResult {
  /** The convex weights (on the simplex). */
  alpha: Float64Array;
  /** || sum alpha_t g_t ||^2. */
  normSq: number;
  iterations: number;
}

/**
 * Min-norm point of the convex hull of the rows of G, given M = G G^T:
 *   min_alpha alpha^T M alpha   s.t. alpha >= 0, sum alpha = 1.
 *
 * Frank-Wolfe as in Sener & Koltun (2018), Algorithm 2: start from the best pair (their
 * MinNormSolver does the same), then repeatedly move toward the vertex t = argmin_r (M alpha)_r
 * with the exact 2-point line search between the current point and g_t. Plain Frank-Wolfe only
 * converges at rate O(1/k) when the solution lies inside a face, so we add away steps
 * (Guelat & Marcotte 1986; Lacoste-Julien & Jaggi 2015): when moving away from the worst vertex
 * in the support is better, do that instead, with the same exact line search. That converges
 * linearly and reaches the optimum to ~1e-12 in a few dozen iterations at this size.
 *
 * Stops when the Frank-Wolfe duality gap 2 (alpha^T M alpha - min_r (M alpha)_r), a bound on
 * the suboptimality, is below tol * max_t M_tt, or after maxIter iterations.
 */
export function minNormSimplex(m: Float64Array, n: number, maxIter = 1000, tol = 1e-12): MinNormResult {
  let alpha = new Float64Array(n);
  if (n === 1) {
    alpha[0] = 1;
    return { alpha, normSq: m[0]!, iterations: 0 };
  }
  let maxDiag = 0;
  for (let i = 0; i < n; i++) maxDiag = Math.max(maxDiag, m[i * n + i]!);
  if (maxDiag === 0) {
    alpha.fill(1 / n);
    return { alpha, normSq: 0, iterations: 0 };
  }
  // Best pair (or vertex) as the starting point.
  let best = Infinity;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const aa = m[i * n + i]!;
      const ab = m[i * n + j]!;
      const bb = m[j * n + j]!;
      const gamma = minNormPair(aa, ab, bb);
      const cost = gamma * gamma * aa + 2 * gamma * (1 - gamma) * ab + (1 - gamma) * (1 - gamma) * bb;
      if (cost < best) {
        best = cost;
        alpha = new Float64Array(n);
        alpha[i] = gamma;
        alpha[j] = 1 - gamma;
      }
    }
  }
  let ma = matVec(m, alpha, n);
  let it = 0;
  for (; it < maxIter; it++) {
    const aMa = dot(alpha, ma);
    // Toward vertex: the smallest (M alpha)_r. Away vertex: the largest among the support.
    let s = 0;
    for (let r = 1; r < n; r++) if (ma[r]! < ma[s]!) s = r;
    let a = -1;
    for (let r = 0; r < n; r++) if (alpha[r]! > 0 && (a < 0 || ma[r]! > ma[a]!)) a = r;
    const gapFw = aMa - ma[s]!;
    if (2 * gapFw <= tol * maxDiag) break;
    const gapAway = ma[a]! - aMa;
    if (gapFw >= gapAway || alpha[a]! >= 1) {
      // Frank-Wolfe step: alpha <- (1 - gamma) alpha + gamma e_s, exact line search between
      // the current point x (|x|^2 = aMa) and g_s.
      const gamma = minNormPair(m[s * n + s]!, ma[s]!, aMa);
      if (gamma <= 0) break;
      for (let r = 0; r < n; r++) alpha[r] = (1 - gamma) * alpha[r]!;
      alpha[s] = alpha[s]! + gamma;
    } else {
      // Away step: alpha <- (1 + gamma) alpha - gamma e_a, gamma in [0, alpha_a / (1 - alpha_a)].
      // Along d = x - g_a: |x + gamma d|^2 minimised at gamma = -<x, d> / |d|^2.
      const xd = aMa - ma[a]!;
      const dd = aMa - 2 * ma[a]! + m[a * n + a]!;
      const gmax = alpha[a]! / (1 - alpha[a]!);
      let gamma = dd > 0 ? -xd / dd : gmax;
      gamma = Math.min(Math.max(gamma, 0), gmax);
      if (gamma <= 0) break;
      for (let r = 0; r < n; r++) alpha[r] = (1 + gamma) * alpha[r]!;
      alpha[a] = gamma === gmax ? 0 : alpha[a]! - gamma;
    }
    // Renormalise against drift and recompute M alpha from scratch (n^2, negligible).
    let sum = 0;
    for (let r = 0; r < n; r++) {
      if (alpha[r]! < 0) alpha[r] = 0;
      sum += alpha[r]!;
    }
    for (let r = 0; r < n; r++) alpha[r] = alpha[r]! / sum;
    ma = matVec(m, alpha, n);
  }
  return { alpha, normSq: Math.max(0, dot(alpha, ma)), iterations: it };
}

// ---------------------------------------------------------------------------------------------
// Non-negative quadratic programs
// ---------------------------------------------------------------------------------------------

/**
 * min_z 1/2 z^T M z + q^T z   s.t. z >= 0, for a symmetric positive semi-definite n x n M.
 *
 * Cyclic coordinate descent (each coordinate minimised exactly and clipped at 0, i.e. projected
 * Gauss-Seidel), then an exact active-set polish: on the support F of the iterate, solve
 * M_FF z_F = -q_F directly and keep it when it is feasible and satisfies the KKT conditions
 * (M z + q)_j >= 0 off the support. The polish removes the slow tail of coordinate descent on
 * ill-conditioned M and makes the KKT conditions hold to rounding.
 *
 * Stops when the largest KKT violation is below tol times the scale of M and q.
 */
export function nonnegQP(m: Float64Array, q: Float64Array, n: number, maxSweeps = 20000, tol = 1e-13): Float64Array {
  const z = new Float64Array(n);
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(m[i * n + i]!), Math.abs(q[i]!));
  if (scale === 0) return z;
  const grad = q.slice(); // M z + q, kept up to date
  const kkt = (): number => {
    let worst = 0;
    for (let j = 0; j < n; j++) {
      const v = z[j]! > 0 ? Math.abs(grad[j]!) : Math.max(0, -grad[j]!);
      if (v > worst) worst = v;
    }
    return worst;
  };
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    for (let j = 0; j < n; j++) {
      const mjj = m[j * n + j]!;
      if (mjj <= 0) continue; // a zero gradient row: its coordinate does not change the objective
      const next = Math.max(0, z[j]! - grad[j]! / mjj);
      const delta = next - z[j]!;
      if (delta === 0) continue;
      z[j] = next;
      for (let i = 0; i < n; i++) grad[i] = grad[i]! + m[i * n + j]! * delta;
    }
    if (sweep % 8 === 7 || sweep === 0) {
      if (kkt() <= tol * scale) break;
      if (polish(m, q, n, z, grad, tol * scale)) break;
    }
  }
  return z;
}

/** Active-set polish for nonnegQP; updates z and grad in place and returns true on success. */
function polish(m: Float64Array, q: Float64Array, n: number, z: Float64Array, grad: Float64Array, tol: number): boolean {
  const free: number[] = [];
  for (let j = 0; j < n; j++) if (z[j]! > 0) free.push(j);
  const k = free.length;
  const cand = new Float64Array(n);
  if (k > 0) {
    const a = new Float64Array(k * k);
    const b = new Float64Array(k);
    free.forEach((fi, r) => {
      b[r] = -q[fi]!;
      free.forEach((fj, c) => (a[r * k + c] = m[fi * n + fj]!));
    });
    const sol = solveSmall(a, b, k);
    if (!sol) return false;
    for (let r = 0; r < k; r++) {
      if (!(sol[r]! >= 0)) return false;
      cand[free[r]!] = sol[r]!;
    }
  }
  const g = matVec(m, cand, n);
  for (let j = 0; j < n; j++) {
    g[j] = g[j]! + q[j]!;
    const v = cand[j]! > 0 ? Math.abs(g[j]!) : Math.max(0, -g[j]!);
    if (v > tol) return false;
  }
  z.set(cand);
  grad.set(g);
  return true;
}
