/**
 * GradVac: "Gradient Vaccine: Investigating and Improving Multi-task Optimization in Massively
 * Multilingual Models", Wang, Tsvetkov, Firat & Cao, ICLR 2021 (Algorithm 1).
 *
 * Each ordered pair (i, j) keeps an EMA target of its cosine similarity, phi_hat_ij (starting
 * at 0). For each task i, visiting the other tasks j in a random order, with
 * phi_ij = cos(g_i', g_j) for the current (already adjusted) g_i':
 *
 *   if phi_ij < phi_hat_ij:
 *     g_i' <- g_i' + ||g_i'|| (phi_hat sqrt(1 - phi^2) - phi sqrt(1 - phi_hat^2))
 *                    / (||g_j|| sqrt(1 - phi_hat^2)) * g_j
 *   phi_hat_ij <- (1 - beta) phi_hat_ij + beta phi_ij          (beta = 0.01)
 *
 * The added multiple of g_j is the one that makes cos(g_i', g_j) exactly phi_hat_ij (the
 * paper's closed form), so a pair below its target is raised to it. The target of every pair is
 * updated at every step, as in the paper's Algorithm 1 and in LibMTL since 2024 (its earlier
 * releases updated it only when an adjustment happened). LibMTL's default beta is 0.5; 0.01 here
 * is the paper's. The paper also offers per-layer granularity; here the gradient is the whole
 * shared-parameter vector (the paper's "whole model" setting).
 *
 * As in PCGrad, everything runs on coefficient vectors over the Gram matrix M = G G^T, and the
 * shared direction is d = sum_i g_i' = G^T (sum_i c_i). Head weights are 1 (the adjustment is
 * applied to the shared parameters only).
 */
import { num, parseOptions } from '../../core/options.js';
import type { Matrix } from '../../core/matrix.js';
import { GradientStrategy, stateArray } from './base.js';
import { combineRows, gramMatrix, ones } from './linalg.js';
import { sequentialSurgery, sumRows } from './surgery.js';
import type { StrategyResult, StrategyStep } from './strategy.js';

export interface GradVacOptions {
  /** EMA rate of the cosine-similarity targets (default 0.01). */
  beta?: number;
}

export class GradVac extends GradientStrategy {
  readonly name = 'gradvac';
  readonly beta: number;
  /** T x T targets phi_hat (row i: task being adjusted, column j: the reference task). */
  private targets: Float64Array = new Float64Array(0);

  constructor(options?: GradVacOptions) {
    super('GradVac');
    const o = parseOptions<Required<GradVacOptions>>('GradVac', options, { beta: num({ default: 0.01, min: 0, max: 1 }) });
    this.beta = o.beta;
  }

  protected override reset(): void {
    this.targets = new Float64Array(this.numTasks * this.numTasks);
  }

  protected aggregate(g: Matrix<Float64Array>, _losses: Float64Array, step: StrategyStep): StrategyResult {
    const n = this.numTasks;
    const rows = gradvacAdjust(gramMatrix(g), n, this.targets, this.beta, step.rng);
    return { weights: ones(n), shared: combineRows(g, sumRows(rows, n)) };
  }

  protected override saveState(): Record<string, unknown> {
    return { targets: Array.from(this.targets) };
  }

  protected override loadState(s: Record<string, unknown>, n: number): void {
    this.targets = stateArray(this.label, s.targets, 'targets', n * n);
  }
}

/**
 * The adjusted gradients as coefficient vectors over the rows of G (g_i' = G^T c_i), computed on
 * M = G G^T; updates the T x T targets in place (EMA with rate beta).
 */
export function gradvacAdjust(
  m: Float64Array,
  n: number,
  targets: Float64Array,
  beta: number,
  rng: { permutation(n: number): Int32Array },
): Float64Array[] {
  return sequentialSurgery(n, rng, (c, i, j) => {
    const njj = m[j * n + j]!;
    // ||g_i'||^2 = c^T M c and g_i' . g_j = (M c)_j.
    let gij = 0;
    let nii = 0;
    for (let k = 0; k < n; k++) {
      let mck = 0;
      for (let l = 0; l < n; l++) mck += m[k * n + l]! * c[l]!;
      nii += c[k]! * mck;
      if (k === j) gij = mck;
    }
    if (njj <= 0 || nii <= 0) return; // a zero gradient has no direction to vaccinate
    const normI = Math.sqrt(nii);
    const normJ = Math.sqrt(njj);
    const phi = Math.max(-1, Math.min(1, gij / (normI * normJ)));
    const target = targets[i * n + j]!;
    if (phi < target) {
      // The multiple of g_j that brings cos(g_i', g_j) up to exactly the target. target < 1
      // (it is an EMA of cosines started at 0, or a restored value above phi), so the
      // denominator is positive except in the degenerate target = 1, which we skip.
      const w = (normI * (target * Math.sqrt(1 - phi * phi) - phi * Math.sqrt(1 - target * target))) /
        (normJ * Math.sqrt(1 - target * target));
      if (Number.isFinite(w)) c[j] = c[j]! + w;
    }
    targets[i * n + j] = (1 - beta) * target + beta * phi;
  });
}
