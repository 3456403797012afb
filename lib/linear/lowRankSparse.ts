/**
 * A shared low-rank part plus sparse task deviations:
 *     W = L + S,
 *     min_{L, S, b}  sum_t (1/n_t) (1/2) ||X_t (l_t + s_t) + b_t - y_t||^2 + lambdaRank ||L||_* + lambdaSparse ||S||_s,
 * L, S T x d (row t = task t), ||L||_* the trace norm (sum of singular values: the tasks' weights
 * share a low-dimensional subspace), and
 * - sparsity 'entries' (default): ||S||_s = sum_{t,j} |S_tj|, sparse deviations in single
 *   weights (Chen, Liu & Ye, "Learning incoherent sparse and low-rank patterns from multiple
 *   tasks", ACM TKDD 5(4), 2012; the paper bounds ||L||_* <= tau, this is its Lagrangian form);
 * - sparsity 'tasks': ||S||_s = sum_t ||S[t, :]||_2, a few outlier tasks with deviations of their
 *   own (the robust variant of Chen, Zhou & Ye, "Integrating low-rank and group-sparse structures
 *   for robust multi-task learning", KDD 2011); `outlierTasks` lists them.
 * Optimality: with G = -grad_W of the loss term (the same for L and S), G in lambdaRank d||L||_*
 * (G = lambdaRank (U V^T + N), U^T N = 0, N V = 0, ||N||_2 <= 1 for L = U S V^T) and
 * G in lambdaSparse d||S||_s. Solved by FISTA (structuredSolver.ts); intercepts unpenalised.
 */
import type { Matrix } from '../core/matrix.js';
import { oneOf } from '../core/options.js';
import { logGrid, type TaskProblem } from './taskModel.js';
import { lossGradientAtZero, type Structure } from './structuredSolver.js';
import { PART_PENALTIES } from './partPenalties.js';
import { StructuredTaskModel, strengthSpecs, structuredSpec, type StrengthSpec, type StructuredOptions } from './structuredModel.js';

export interface LowRankSparseOptions extends StructuredOptions {
  /** Strength of the trace norm of the low-rank part L (>= 0; default 1). */
  lambdaRank?: number;
  /** Strength of the sparsity norm of S (>= 0; default 1). */
  lambdaSparse?: number;
  /** 'entries' (elementwise L1 on S; default) or 'tasks' (one L2 group per task: outlier tasks). */
  sparsity?: 'entries' | 'tasks';
}

type LrsParams = { lambdaRank: number; lambdaSparse: number };

const strengths: StrengthSpec[] = [
  { name: 'lambdaRank', default: 1 },
  { name: 'lambdaSparse', default: 1 },
];

/** Multi-task regression with a low-rank shared part plus sparse deviations (W = L + S). */
export class LowRankSparseRegression extends StructuredTaskModel<LrsParams, LowRankSparseOptions> {
  protected readonly loss = 'squared' as const;
  protected readonly strengths = strengths;
  constructor(options?: LowRankSparseOptions) {
    super(options, { ...structuredSpec, ...strengthSpecs(strengths), sparsity: oneOf(['entries', 'tasks'], 'entries') }, strengths);
  }
  private get sparsePenalty() {
    return this.config.sparsity === 'tasks' ? ('tasks' as const) : ('l1' as const);
  }
  protected structure(_p: TaskProblem, s: LrsParams): Structure {
    return {
      parts: [
        { name: 'lowRank', penalty: 'trace', strength: s.lambdaRank },
        { name: 'sparse', penalty: this.sparsePenalty, strength: s.lambdaSparse },
      ],
    };
  }
  /** lambdaRank from the value where L = 0 down to eps times it; lambdaSparse at 1, 1/10, 1/100 of the value where S = 0. */
  protected defaultAxes(p: TaskProblem) {
    const g = lossGradientAtZero(p, this.loss, this.config.fitIntercept);
    const rMax = PART_PENALTIES.trace.dual(g) || 1;
    const sMax = PART_PENALTIES[this.sparsePenalty].dual(g) || 1;
    return {
      lambdaRank: logGrid(rMax, rMax * this.config.eps!, this.config.nLambdas!),
      lambdaSparse: [sMax, sMax / 10, sMax / 100],
    };
  }

  /** L (T x d): the low-rank part. */
  get lowRankPart(): Matrix<Float64Array> {
    return this.part('lowRank');
  }
  /** S (T x d): the sparse deviations. */
  get sparsePart(): Matrix<Float64Array> {
    return this.part('sparse');
  }
  /** The tasks whose row of S is not zero (with sparsity 'tasks': the outlier tasks). */
  get outlierTasks(): string[] {
    return this.tasksWithNonZeroRows('sparse');
  }
}
