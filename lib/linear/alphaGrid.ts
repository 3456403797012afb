/**
 * scikit-learn's regularisation grid for the (multi-task) elastic net (sklearn.linear_model._alpha_grid):
 *   alpha_max = max_j ||X_j^T Y||_2 / (n l1Ratio)        (X, Y centred when fitIntercept)
 * the smallest alpha for which W = 0 is optimal, then nAlphas values log-spaced from alpha_max down to
 * eps alpha_max (numpy's logspace, reversed). Friedman, Hastie & Tibshirani, J. Stat. Softw. 33, 2010,
 * section 2.5.
 */
import { ConfigError } from '../core/errors.js';
import type { EnetProblem } from './solvers/workingSet.js';

/** numpy's float64 resolution (np.finfo(float).resolution), sklearn's floor for alpha_max. */
const RESOLUTION = 1e-15;

export interface AlphaGridOptions {
  /** Mixing parameter in (0, 1]. */
  l1Ratio: number;
  /** Length of the path: alpha_min = eps alpha_max. Default 1e-3. */
  eps?: number;
  /** Number of alphas. Default 100. */
  nAlphas?: number;
}

/** alpha_max of a prepared (centred) problem. */
export function alphaMax(p: EnetProblem, l1Ratio: number): number {
  if (!(l1Ratio > 0)) {
    throw new ConfigError(
      `alphaGrid: automatic alpha grid generation is not supported for l1Ratio = 0; give your own 'alphas'`,
    );
  }
  // The norms of X^T Y's rows (the centred columns' correlations with the centred targets).
  let best = 0;
  for (let j = 0; j < p.d; j++) best = Math.max(best, p.xtyNorms[j]!);
  return best / (p.n * l1Ratio);
}

/** The descending alpha grid of scikit-learn for a prepared problem. */
export function alphaGrid(p: EnetProblem, options: AlphaGridOptions): Float64Array {
  const eps = options.eps ?? 1e-3;
  const nAlphas = options.nAlphas ?? 100;
  const aMax = alphaMax(p, options.l1Ratio);
  const out = new Float64Array(nAlphas);
  if (aMax <= RESOLUTION) {
    out.fill(RESOLUTION);
    return out;
  }
  return logspaceDescending(Math.log10(aMax * eps), Math.log10(aMax), nAlphas);
}

/** numpy.logspace(start, stop, num)[::-1]. */
export function logspaceDescending(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) {
    out[0] = 10 ** stop;
    return out;
  }
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) {
    const e = i === num - 1 ? stop : start + i * step;
    out[num - 1 - i] = 10 ** e;
  }
  return out;
}
