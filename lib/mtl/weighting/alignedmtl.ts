/**
 * Aligned-MTL: "Independent Component Alignment for Multi-Task Learning", Senushkin, Patakin,
 * Kuznetsov & Konushin, CVPR 2023.
 *
 * Conflicts and dominance between task gradients show up as a large condition number of the
 * gradient matrix G (T x S). Aligned-MTL replaces G by the closest (in Frobenius norm, an
 * orthogonal Procrustes problem) matrix with all singular values equal: with the thin SVD
 * G = V Sigma U^T,
 *
 *   G_hat = sigma * V U^T = B G,     B = sigma * V Sigma^{-1} V^T   (T x T, symmetric)
 *
 * and updates along d = G_hat^T 1 = G^T (B 1). Everything needed comes from the eigen-
 * decomposition of the T x T Gram matrix M = G G^T = V Sigma^2 V^T (Jacobi, linalg.ts); only
 * the rank-R part (eigenvalues above lambda_max * T * machine epsilon, as in the official code)
 * is kept, so linearly dependent gradients are handled.
 *
 * The common scale sigma is, as in the official code, the smallest singular value ('min', the
 * paper's choice, which makes the update a stable one whose size does not exceed any
 * direction's), the median ('median', the lower median as torch.median) or the root mean square
 * of the singular values ('rmse').
 *
 * Head weights: 1 for every task (the alignment concerns the shared parameters; the official
 * code and LibMTL leave the heads' gradients unweighted).
 */
import { oneOf, parseOptions } from '../../core/options.js';
import type { Matrix } from '../../core/matrix.js';
import { GradientStrategy } from './base.js';
import { combineRows, gramMatrix, ones, symEigSmall } from './linalg.js';
import type { StrategyResult } from './strategy.js';

export type AlignedScale = 'min' | 'median' | 'rmse';

export interface AlignedMTLOptions {
  /** The common singular value of the aligned matrix (default 'min'). */
  scale?: AlignedScale;
}

/** The T x T alignment matrix B (G_hat = B G) from the Gram matrix M; all-zero when M = 0. */
export function alignmentMatrix(m: Float64Array, n: number, scale: AlignedScale = 'min'): Float64Array {
  const { values, vectors } = symEigSmall(m, n);
  const lmax = values[n - 1]!;
  const tol = Math.max(lmax, 0) * n * Number.EPSILON;
  const keep: number[] = [];
  for (let k = n - 1; k >= 0; k--) if (values[k]! > tol) keep.push(k); // descending
  const b = new Float64Array(n * n);
  if (keep.length === 0) return b;
  const kept = keep.map((k) => values[k]!);
  let sigma: number;
  if (scale === 'min') sigma = Math.sqrt(kept[kept.length - 1]!);
  else if (scale === 'median') sigma = Math.sqrt([...kept].sort((x, y) => x - y)[Math.floor((kept.length - 1) / 2)]!);
  else sigma = Math.sqrt(kept.reduce((s, v) => s + v, 0) / kept.length);
  for (const k of keep) {
    const f = sigma / Math.sqrt(values[k]!);
    for (let i = 0; i < n; i++) {
      const vi = vectors[i * n + k]! * f;
      for (let j = 0; j < n; j++) b[i * n + j] = b[i * n + j]! + vi * vectors[j * n + k]!;
    }
  }
  return b;
}

export class AlignedMTL extends GradientStrategy {
  readonly name = 'alignedmtl';
  readonly scale: AlignedScale;

  constructor(options?: AlignedMTLOptions) {
    super('AlignedMTL');
    const o = parseOptions<Required<AlignedMTLOptions>>('AlignedMTL', options, {
      scale: oneOf(['min', 'median', 'rmse'] as const, 'min'),
    });
    this.scale = o.scale;
  }

  protected aggregate(g: Matrix<Float64Array>): StrategyResult {
    const n = this.numTasks;
    const b = alignmentMatrix(gramMatrix(g), n, this.scale);
    // d = G_hat^T 1 = G^T B^T 1 = G^T (B 1) since B is symmetric.
    const coef = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) coef[i] = coef[i]! + b[i * n + j]!;
    return { weights: ones(n), shared: combineRows(g, coef) };
  }
}
