/**
 * The dirty model (Jalali, Ravikumar, Sanghavi & Ruan, "A dirty model for multi-task learning",
 * NIPS 2010): the weights are a block-sparse part P (features used by all tasks or none) plus an
 * elementwise sparse part Q (task-specific features),
 *     W = P + Q,
 *     min_{P, Q, b}  sum_t (1/n_t) (1/2) ||X_t (p_t + q_t) + b_t - y_t||^2
 *                    + lambdaGroup ||P||_block + lambdaSparse sum_{t,j} |Q_tj|,
 * with ||P||_block = sum_j max_t |P_tj| (the paper's L1,inf norm; groupNorm 'l1inf', the default)
 * or sum_j ||P[:, j]||_2 (groupNorm 'l21'). P, Q are T x d (row t = task t). The paper shows that
 * when tasks share only part of their support, the sum beats both the block-sparse and the
 * elementwise-sparse model alone; it recommends lambdaGroup / lambdaSparse between 1 and T.
 * Optimality: with G = -grad_W of the loss term (the same for P and Q),
 *     G in lambdaGroup d||P||_block   and   G in lambdaSparse d||Q||_1   (subdifferentials),
 * e.g. for Q: G_tj = lambdaSparse sign(Q_tj) where Q_tj != 0, |G_tj| <= lambdaSparse elsewhere.
 * Solved by FISTA (structuredSolver.ts); intercepts unpenalised. Both norms are separable over
 * features, so a feature whose blocks in P and in Q are both proven zero (gap-safe screening of the
 * infimal-convolution norm, solvers/featureScreening.ts) leaves the solve.
 */
import type { Matrix } from '../core/matrix.js';
import { oneOf } from '../core/options.js';
import { logGrid, type TaskProblem } from './taskModel.js';
import { lossGradientAtZero, type Structure } from './structuredSolver.js';
import { PART_PENALTIES } from './partPenalties.js';
import { StructuredTaskModel, strengthSpecs, structuredSpec, type StrengthSpec, type StructuredOptions } from './structuredModel.js';

export interface DirtyOptions extends StructuredOptions {
  /** Strength of the block norm of P (>= 0; default 1). */
  lambdaGroup?: number;
  /** Strength of the elementwise L1 norm of Q (>= 0; default 1). */
  lambdaSparse?: number;
  /** The block norm of P: 'l1inf' (sum_j max_t |P_tj|, the paper's; default) or 'l21' (sum_j ||P[:, j]||_2). */
  groupNorm?: 'l1inf' | 'l21';
}

type DirtyParams = { lambdaGroup: number; lambdaSparse: number };

const strengths: StrengthSpec[] = [
  { name: 'lambdaGroup', default: 1 },
  { name: 'lambdaSparse', default: 1 },
];

/** Multi-task regression with a block-sparse plus an elementwise-sparse part (W = P + Q). */
export class DirtyRegression extends StructuredTaskModel<DirtyParams, DirtyOptions> {
  protected readonly loss = 'squared' as const;
  protected readonly strengths = strengths;
  constructor(options?: DirtyOptions) {
    super(options, { ...structuredSpec, ...strengthSpecs(strengths), groupNorm: oneOf(['l1inf', 'l21'], 'l1inf') }, strengths);
  }
  private get blockPenalty() {
    return this.config.groupNorm === 'l21' ? ('features' as const) : ('l1inf' as const);
  }
  protected structure(_p: TaskProblem, s: DirtyParams): Structure {
    return {
      parts: [
        { name: 'group', penalty: this.blockPenalty, strength: s.lambdaGroup },
        { name: 'sparse', penalty: 'l1', strength: s.lambdaSparse },
      ],
    };
  }
  /**
   * lambdaGroup from the value where P = 0 down to eps times it; lambdaSparse at 1, 1/10 and 1/100 of
   * the value where Q = 0.
   */
  protected defaultAxes(p: TaskProblem) {
    const g = lossGradientAtZero(p, this.loss, this.config.fitIntercept);
    const gMax = PART_PENALTIES[this.blockPenalty].dual(g) || 1;
    const sMax = PART_PENALTIES.l1.dual(g) || 1;
    return {
      lambdaGroup: logGrid(gMax, gMax * this.config.eps!, this.config.nLambdas!),
      lambdaSparse: [sMax, sMax / 10, sMax / 100],
    };
  }

  /** P (T x d): the block-sparse part (features shared by the tasks). */
  get groupPart(): Matrix<Float64Array> {
    return this.part('group');
  }
  /** Q (T x d): the elementwise sparse part (task-specific features). */
  get sparsePart(): Matrix<Float64Array> {
    return this.part('sparse');
  }
}
