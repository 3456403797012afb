/**
 * k-fold cross-validation over tasks for the per-task linear models: the rows of EACH task are
 * shuffled (seeded, lib/core/rng.ts) and dealt round-robin into k folds, so every fold holds about
 * 1/k of every task (a task with fewer than k rows is in fewer folds; a task with one row always
 * stays in training, so no training task is ever empty). For each fold the model is fitted on the
 * other folds at every point of the strength grid, largest strength first, each fit warm-started
 * from the previous one (the regularisation path of Friedman, Hastie & Tibshirani 2010), and
 * scored on the held-out rows. The chosen point minimises the mean over folds of the held-out
 * error (MSE for regression, mean logistic loss for classification); ties go to the larger
 * strength (earlier in the grid).
 */
import { Rng } from '../core/rng.js';
import { relabel, selectRows, type Params, type Solution, type TaskProblem, type Work } from './taskProblem.js';

/** The CV record a model keeps in `cvPath`. */
export interface CvPath<P extends Params> {
  /** The grid, in the order it was walked (largest strength first). */
  grid: P[];
  /** Mean held-out error per grid point (mean over folds). */
  meanError: Float64Array;
  /** Held-out error per fold (rows) and grid point (columns), k x grid.length row-major. */
  foldError: Float64Array;
  /** Index into grid of the chosen point. */
  chosenIndex: number;
  k: number;
  /** 'mse' for regression, 'logloss' for logistic models. */
  metric: 'mse' | 'logloss';
}

export interface CvOptions<P extends Params> {
  k: number;
  seed: number;
  warmStarts: boolean;
  metric: 'mse' | 'logloss';
  solve: (train: TaskProblem, params: P, warm: Solution | null) => Work<Solution>;
  error: (s: Solution, val: TaskProblem) => number;
  /** Called with every fitted solution (e.g. to keep warm starts for the final refit). */
  onSolution?: (fold: number, gridIndex: number, s: Solution) => void;
}

/** Fold id of every stacked row (-1: always in training). */
export function taskFolds(p: TaskProblem, k: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const fold = new Int32Array(p.x.rows).fill(-1);
  for (let t = 0; t < p.T; t++) {
    const a = p.offsets[t]!;
    const n = p.offsets[t + 1]! - a;
    if (n < 2) continue;
    const perm = rng.permutation(n);
    for (let r = 0; r < n; r++) fold[a + perm[r]!] = r % k;
  }
  return fold;
}

export function* crossValidate<P extends Params>(p: TaskProblem, grid: P[], o: CvOptions<P>): Work<CvPath<P>> {
  const fold = taskFolds(p, o.k, o.seed);
  const G = grid.length;
  const foldError = new Float64Array(o.k * G);
  for (let f = 0; f < o.k; f++) {
    const train = selectRows(p, (i) => fold[i] !== f);
    const val = selectRows(p, (i) => fold[i] === f);
    let warm: Solution | null = null;
    for (let g = 0; g < G; g++) {
      const total = o.k * G;
      const s: Solution = yield* relabel(o.solve(train, grid[g]!, o.warmStarts ? warm : null), { phase: 'cv', fold: f, gridIndex: g, step: f * G + g, total });
      warm = s;
      o.onSolution?.(f, g, s);
      foldError[f * G + g] = o.error(s, val);
      yield { phase: 'cv', fold: f, gridIndex: g, step: f * G + g + 1, total };
    }
  }
  const meanError = new Float64Array(G);
  for (let g = 0; g < G; g++) {
    let s = 0;
    for (let f = 0; f < o.k; f++) s += foldError[f * G + g]!;
    meanError[g] = s / o.k;
  }
  let chosenIndex = 0;
  for (let g = 1; g < G; g++) if (meanError[g]! < meanError[chosenIndex]!) chosenIndex = g;
  return { grid: grid.map((q) => ({ ...q })), meanError, foldError, chosenIndex, k: o.k, metric: o.metric };
}
