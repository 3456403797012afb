/**
 * Robust multi-task feature learning (Gong, Ye & Zhang, "Robust multi-task feature learning",
 * KDD 2012): the weights are a part P that selects features jointly across tasks plus a part Q
 * that is zero except for the rows of outlier tasks,
 *     W = P + Q,
 *     min_{P, Q, b}  sum_t (1/n_t) loss_t(X_t (p_t + q_t) + b_t, y_t)
 *                    + lambdaGroup sum_j ||P[:, j]||_2 + lambdaOutlier sum_t ||Q[t, :]||_2,
 * (P, Q are T x d, row t = task t; the paper's W is d x T, so its row groups of P are our feature
 * columns and its column groups of Q our task rows), with the squared loss (1/2)||.||^2
 * (RobustL21Regression) or the logistic loss (RobustL21Logistic, labels 0/1). A task whose row of
 * Q is not zero is an outlier: it does not follow the shared feature pattern.
 * Optimality: with G = -grad_W of the loss term (the same for P and Q),
 *     G[:, j] = lambdaGroup P[:, j] / ||P[:, j]||  (P[:, j] != 0),   ||G[:, j]|| <= lambdaGroup  (else),
 *     G[t, :] = lambdaOutlier q_t / ||q_t||          (q_t != 0),       ||G[t, :]|| <= lambdaOutlier (else).
 * Solved by FISTA (structuredSolver.ts).
 */
import type { Matrix } from '../core/matrix.js';
import { logGrid, type TaskPrediction, type TaskProblem } from './taskModel.js';
import { lossGradientAtZero, type Structure } from './structuredSolver.js';
import { PART_PENALTIES } from './partPenalties.js';
import { StructuredTaskModel, sigmoidInPlace, strengthSpecs, structuredSpec, type StrengthSpec, type StructuredOptions } from './structuredModel.js';

export interface RobustL21Options extends StructuredOptions {
  /** Strength of the feature-group norm of the shared part P (>= 0; default 1). */
  lambdaGroup?: number;
  /** Strength of the task-group norm of the outlier part Q (>= 0; default 1). */
  lambdaOutlier?: number;
}

type RobustParams = { lambdaGroup: number; lambdaOutlier: number };

const strengths: StrengthSpec[] = [
  { name: 'lambdaGroup', default: 1 },
  { name: 'lambdaOutlier', default: 1 },
];

abstract class RobustL21Model<Y extends TaskPrediction = Float64Array> extends StructuredTaskModel<RobustParams, RobustL21Options, Y> {
  protected readonly strengths = strengths;
  constructor(options?: RobustL21Options) {
    super(options, { ...structuredSpec, ...strengthSpecs(strengths) }, strengths);
  }
  protected structure(_p: TaskProblem, s: RobustParams): Structure {
    return {
      parts: [
        { name: 'shared', penalty: 'features', strength: s.lambdaGroup },
        { name: 'outliers', penalty: 'tasks', strength: s.lambdaOutlier },
      ],
    };
  }
  /**
   * lambdaGroup from the value where P = 0 down to eps times it; lambdaOutlier at 1, 1/10 and 1/100
   * of the value where Q = 0 (from no outlier task towards several).
   */
  protected defaultAxes(p: TaskProblem) {
    const g = lossGradientAtZero(p, this.loss, this.config.fitIntercept);
    const gMax = PART_PENALTIES.features.dual(g) || 1;
    const oMax = PART_PENALTIES.tasks.dual(g) || 1;
    return {
      lambdaGroup: logGrid(gMax, gMax * this.config.eps!, this.config.nLambdas!),
      lambdaOutlier: [oMax, oMax / 10, oMax / 100],
    };
  }

  /** P (T x d): the part of W that selects features jointly across tasks. */
  get sharedPart(): Matrix<Float64Array> {
    return this.part('shared');
  }
  /** Q (T x d): zero except for the rows of outlier tasks. */
  get outlierPart(): Matrix<Float64Array> {
    return this.part('outliers');
  }
  /** The tasks whose row of Q is not zero, in task order. */
  get outlierTasks(): string[] {
    return this.tasksWithNonZeroRows('outliers');
  }
}

/** Multi-task regression with shared features and outlier tasks (W = P + Q). */
export class RobustL21Regression extends RobustL21Model {
  protected readonly loss = 'squared' as const;
}

/** Multi-task logistic regression (binary tasks, labels 0/1) with shared features and outlier tasks. */
export class RobustL21Logistic extends RobustL21Model<Int32Array> {
  protected readonly loss = 'logistic' as const;
  /** P(y = 1 | x) for the task called `taskName`. */
  predictProba(taskName: string, X: unknown): Float64Array {
    return sigmoidInPlace(this.decisionFunction(taskName, X));
  }
}
