/**
 * Temporal group lasso (Zhou, Yuan, Liu & Ye, "A multi-task learning formulation for predicting
 * disease progression", KDD 2011): tasks are time points (e.g. a score at months 6, 12, 24...),
 * consecutive tasks should have similar weights, and all time points use the same features:
 *     min_{W, b}  sum_t (1/n_t) (1/2) ||X_t w_t + b_t - y_t||^2
 *                 + lambdaRidge ||W||_F^2 + lambdaTime sum_{i=1}^{T-1} ||w_(i) - w_(i+1)||^2
 *                 + lambdaGroup sum_j ||W[:, j]||_2,
 * with (1), (2), ... the tasks in time order (`order`, default the data's task order). The paper
 * writes the temporal term ||W H||_F^2 with H the difference matrix, i.e. the Laplacian of the
 * chain of time points (taskGraph.ts); the paper's shared X with missing targets is a dataset
 * built with MultiTaskDataset.fromShared (each task keeps its labelled rows).
 * Optimality: with G = -grad_W of the loss term and S = 2 lambdaTime Lap W + 2 lambdaRidge W,
 *     (G - S)[:, j] = lambdaGroup W[:, j] / ||W[:, j]|| (W[:, j] != 0),  ||(G - S)[:, j]|| <= lambdaGroup (else).
 * Solved by FISTA (structuredSolver.ts) with gap-safe screening of the features: the smooth part
 * is a quadratic acting on each feature's column on its own, so the problem is a group lasso on an
 * augmented design (solvers/featureScreening.ts); features proven zero leave the solve.
 */
import { ShapeError, ValueError } from '../core/errors.js';
import { closest, custom } from '../core/options.js';
import { listNames } from '../data/dataset.js';
import { logGrid, type TaskProblem } from './taskModel.js';
import { lossGradientAtZero, lossScale, type Structure } from './structuredSolver.js';
import { PART_PENALTIES } from './partPenalties.js';
import { StructuredTaskModel, strengthSpecs, structuredSpec, type StrengthSpec, type StructuredOptions } from './structuredModel.js';
import { chainAdjacency, laplacian, laplacianPenalty, type Laplacian } from './taskGraph.js';

export interface TemporalGroupOptions extends StructuredOptions {
  /** Task names in time order (every task once); default: the data's task order. */
  order?: string[];
  /** Strength of the feature-group norm (joint feature selection; >= 0; default 1). */
  lambdaGroup?: number;
  /** Strength of the temporal smoothness term (>= 0; default 1). */
  lambdaTime?: number;
  /** Strength of the ridge term (>= 0; default 0). */
  lambdaRidge?: number;
}

type TemporalParams = { lambdaGroup: number; lambdaTime: number; lambdaRidge: number };

const strengths: StrengthSpec[] = [
  { name: 'lambdaGroup', default: 1 },
  { name: 'lambdaTime', default: 1 },
  { name: 'lambdaRidge', default: 0 },
];

/** Multi-task regression over time points: temporal smoothness plus joint feature selection. */
export class TemporalGroupRegression extends StructuredTaskModel<TemporalParams, TemporalGroupOptions> {
  protected readonly loss = 'squared' as const;
  protected readonly strengths = strengths;
  private readonly chains = new WeakMap<object, Laplacian>();

  constructor(options?: TemporalGroupOptions) {
    super(
      options,
      {
        ...structuredSpec,
        ...strengthSpecs(strengths),
        order: custom<string[] | undefined>('an array of task names (strings) without repeats', (v) => Array.isArray(v) && v.every((x) => typeof x === 'string') && new Set(v).size === v.length),
      },
      strengths,
    );
  }

  /** The chain of time points for the tasks of `p` (computed once per fit). */
  private chain(p: TaskProblem): Laplacian {
    const names = p.names ?? Array.from({ length: p.T }, (_, t) => String(t));
    let g = this.chains.get(names);
    if (!g) {
      const order = this.config.order;
      let idx: number[];
      if (order === undefined) idx = names.map((_, t) => t);
      else {
        const owner = `${this.constructor.name}: option 'order'`;
        idx = order.map((n) => {
          const i = names.indexOf(n);
          if (i < 0) {
            const hint = closest(n, [...names]);
            throw new ValueError(`${owner} names an unknown task '${n}'${hint ? ` (did you mean '${hint}'?)` : ''}; known tasks: ${listNames(names)}`);
          }
          return i;
        });
        if (idx.length !== names.length) {
          const missing = names.filter((n) => !order.includes(n));
          throw new ShapeError(`${owner} lists ${order.length} tasks but the data has ${names.length}; missing: ${listNames(missing)}`);
        }
      }
      this.chains.set(names, (g = laplacian(chainAdjacency(idx))));
    }
    return g;
  }

  protected structure(p: TaskProblem, s: TemporalParams): Structure {
    return {
      parts: [{ name: 'w', penalty: 'features', strength: s.lambdaGroup }],
      smooth: laplacianPenalty(this.chain(p), s.lambdaTime, s.lambdaRidge),
    };
  }

  /**
   * lambdaGroup from the value where W = 0 down to eps times it; lambdaTime at 10, 1, 0.1 and 0.01
   * times h / 2 (h the mean diagonal of the loss Hessian; 2 the degree of an inner time point), from
   * nearly equal weights at every time point to nearly independent ones.
   */
  protected defaultAxes(p: TaskProblem) {
    this.chain(p);
    const gMax = PART_PENALTIES.features.dual(lossGradientAtZero(p, this.loss, this.config.fitIntercept)) || 1;
    const unit = lossScale(p, this.loss, this.config.fitIntercept).hessianDiagonal / 2;
    return {
      lambdaGroup: logGrid(gMax, gMax * this.config.eps!, this.config.nLambdas!),
      lambdaTime: [10 * unit, unit, 0.1 * unit, 0.01 * unit],
    };
  }
}
