/**
 * Anderson extrapolation of a fixed-point iteration (Anderson, J. ACM 12, 1965), in the offline
 * form used for coordinate descent by Bertrand & Massias, "Anderson acceleration of coordinate
 * descent", AISTATS 2021 (and skglm, Bertrand et al., NeurIPS 2022): from the last K + 1 iterates
 * x_0 .. x_K, with U = [x_1 - x_0, ..., x_K - x_{K-1}],
 *   z = (U^T U)^{-1} 1,   c = z / sum(z),   x_acc = sum_i c_i x_{i+1}.
 * The caller evaluates the objective at x_acc and keeps it only when it is lower (which makes the
 * scheme safe: it can never slow the iteration down by more than the cost of that check).
 */
export class Anderson {
  private readonly iterates: Float64Array[];
  private count = 0;

  /** K (the number of differences) and the length of the iterates. */
  constructor(
    readonly K: number,
    readonly length: number,
  ) {
    this.iterates = Array.from({ length: K + 1 }, () => new Float64Array(length));
  }

  /** Record the next iterate (copied). */
  push(x: Float64Array): void {
    this.iterates[this.count % (this.K + 1)]!.set(x);
    this.count++;
  }

  /** K + 1 iterates have been recorded since the last reset. */
  get ready(): boolean {
    return this.count >= this.K + 1;
  }

  reset(): void {
    this.count = 0;
  }

  /**
   * Write the extrapolated point into `out`; false (and `out` untouched) when the differences are
   * numerically dependent (a converged or stalled sequence) or not enough iterates were recorded.
   */
  extrapolate(out: Float64Array): boolean {
    if (!this.ready) return false;
    const K = this.K;
    const L = this.length;
    // Iterates in chronological order: the oldest of the ring buffer first.
    const first = this.count % (K + 1);
    const x = (i: number): Float64Array => this.iterates[(first + i) % (K + 1)]!;
    const U = Array.from({ length: K }, (_, i) => {
      const a = x(i + 1);
      const b = x(i);
      const u = new Float64Array(L);
      for (let p = 0; p < L; p++) u[p] = a[p]! - b[p]!;
      return u;
    });
    const A = new Float64Array(K * K);
    for (let i = 0; i < K; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        const ui = U[i]!;
        const uj = U[j]!;
        for (let p = 0; p < L; p++) s += ui[p]! * uj[p]!;
        A[i * K + j] = s;
        A[j * K + i] = s;
      }
    }
    const z = solveSpd(A, K);
    if (z === null) return false;
    let sum = 0;
    for (let i = 0; i < K; i++) sum += z[i]!;
    if (!Number.isFinite(sum) || sum === 0) return false;
    out.fill(0);
    for (let i = 0; i < K; i++) {
      const c = z[i]! / sum;
      const xi = x(i + 1);
      for (let p = 0; p < L; p++) out[p]! += c * xi[p]!;
    }
    return true;
  }
}

/**
 * Solve A z = 1 for a small symmetric positive semi-definite A (K x K) by Cholesky, with a ridge of
 * 1e-14 trace(A) / K so that nearly dependent differences stay solvable; null when A is 0 or the
 * factorisation fails.
 */
function solveSpd(A: Float64Array, K: number): Float64Array | null {
  let trace = 0;
  for (let i = 0; i < K; i++) trace += A[i * K + i]!;
  if (!(trace > 0) || !Number.isFinite(trace)) return null;
  const ridge = (1e-14 * trace) / K;
  const L = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * K + j]! + (i === j ? ridge : 0);
      for (let p = 0; p < j; p++) s -= L[i * K + p]! * L[j * K + p]!;
      if (i === j) {
        if (!(s > 0)) return null;
        L[i * K + i] = Math.sqrt(s);
      } else L[i * K + j] = s / L[j * K + j]!;
    }
  }
  const z = new Float64Array(K);
  for (let i = 0; i < K; i++) {
    let s = 1;
    for (let p = 0; p < i; p++) s -= L[i * K + p]! * z[p]!;
    z[i] = s / L[i * K + i]!;
  }
  for (let i = K - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let p = i + 1; p < K; p++) s -= L[p * K + i]! * z[p]!;
    z[i] = s / L[i * K + i]!;
  }
  return z;
}
