/**
 * Graph-regularised multi-task regression: tasks joined by an edge of weight a_st should have
 * similar weights (Evgeniou, Micchelli & Pontil, "Learning multiple tasks with kernel methods",
 * JMLR 6, 2005, section 3.1.2), optionally with an elementwise L1 term for sparse weights:
 *     min_{W, b}  sum_t (1/n_t) (1/2) ||X_t w_t + b_t - y_t||^2
 *                 + lambdaGraph sum_{edges (s, t)} a_st ||w_s - w_t||^2 + lambdaRidge ||W||_F^2 + lambdaSparse sum_{t,j} |W_tj|.
 * The graph is `edges` ([task, task, weight?], tasks by name or index; weight default 1) or a
 * symmetric `similarity` matrix (tasks x tasks, a_st = similarity[s][t] for s < t, diagonal
 * ignored). With lambdaSparse = 0 the problem is a linear system; otherwise
 * 2 lambdaGraph (Lap W)_tj + 2 lambdaRidge W_tj - G_tj = -lambdaSparse sign(W_tj) where W_tj != 0
 * and |.| <= lambdaSparse elsewhere (G = -grad_W of the loss term). Solved by FISTA
 * (structuredSolver.ts) with the Laplacian term as smooth part (taskGraph.ts). The Laplacian acts
 * on each feature's column on its own, so with the L1 term the problem is a lasso on an augmented
 * design and features proven zero in every task leave the solve (gap-safe screening,
 * solvers/featureScreening.ts).
 */
import { ConfigError } from '../core/errors.js';
import { custom } from '../core/options.js';
import type { Matrix } from '../core/matrix.js';
import { logGrid, type TaskProblem } from './taskModel.js';
import { lossScale, type Structure } from './structuredSolver.js';
import { StructuredTaskModel, strengthSpecs, structuredSpec, type StrengthSpec, type StructuredOptions } from './structuredModel.js';
import { adjacencyFromEdges, adjacencyFromSimilarity, checkEdges, checkSimilarity, laplacian, laplacianPenalty, type Laplacian, type TaskEdge } from './taskGraph.js';

export interface GraphRegularizedOptions extends StructuredOptions {
  /** The task graph as edges [task, task, weight?] (tasks by name or by index; weight > 0, default 1). */
  edges?: TaskEdge[];
  /** The task graph as a symmetric similarity matrix (tasks x tasks, entries >= 0, diagonal ignored). */
  similarity?: number[][] | Matrix<Float64Array>;
  /** Strength of the graph penalty (>= 0; default 1). */
  lambdaGraph?: number;
  /** Strength of the elementwise L1 term (>= 0; default 0). */
  lambdaSparse?: number;
  /** Strength of the ridge term (>= 0; default 0). */
  lambdaRidge?: number;
}

type GraphParams = { lambdaGraph: number; lambdaSparse: number; lambdaRidge: number };

const strengths: StrengthSpec[] = [
  { name: 'lambdaGraph', default: 1 },
  { name: 'lambdaSparse', default: 0 },
  { name: 'lambdaRidge', default: 0 },
];

/** Multi-task regression with a task-graph (Laplacian) penalty and an optional L1 term. */
export class GraphRegularizedRegression extends StructuredTaskModel<GraphParams, GraphRegularizedOptions> {
  protected readonly loss = 'squared' as const;
  protected readonly strengths = strengths;
  private readonly similarityMatrix: Matrix<Float64Array> | undefined;
  private readonly laplacians = new WeakMap<object, Laplacian>();

  constructor(options?: GraphRegularizedOptions) {
    super(
      options,
      {
        ...structuredSpec,
        ...strengthSpecs(strengths),
        edges: custom('an array of [task, task, weight?] edges', () => true),
        similarity: custom('a square matrix', () => true),
      },
      strengths,
    );
    const owner = this.constructor.name;
    const { edges, similarity } = this.config;
    if ((edges === undefined) === (similarity === undefined)) {
      throw new ConfigError(`${owner} needs the task graph as exactly one of the options 'edges' ([task, task, weight?] list) or 'similarity' (tasks x tasks matrix)`);
    }
    if (edges !== undefined) checkEdges(owner, edges);
    else this.similarityMatrix = checkSimilarity(owner, similarity);
  }

  /** The graph's Laplacian for the tasks of `p` (computed once per fit). */
  private graph(p: TaskProblem): Laplacian {
    const names = p.names ?? Array.from({ length: p.T }, (_, t) => String(t));
    let g = this.laplacians.get(names);
    if (!g) {
      const owner = this.constructor.name;
      const a = this.similarityMatrix ? adjacencyFromSimilarity(owner, this.similarityMatrix, p.T) : adjacencyFromEdges(owner, this.config.edges!, names);
      this.laplacians.set(names, (g = laplacian(a)));
    }
    return g;
  }

  protected structure(p: TaskProblem, s: GraphParams): Structure {
    return {
      parts: [{ name: 'w', penalty: 'l1', strength: s.lambdaSparse }],
      smooth: laplacianPenalty(this.graph(p), s.lambdaGraph, s.lambdaRidge),
    };
  }

  /**
   * lambdaGraph: nLambdas points from 100 h / D down to 0.01 h / D, log-spaced (h the mean diagonal
   * of the loss Hessian, D the mean degree: from tasks pulled together to tasks nearly independent);
   * lambdaRidge at 0.1 h, 0.01 h and 0.001 h (the graph term alone leaves a task with fewer rows
   * than features, or a graph's mean weights, unregularised). lambdaSparse stays at its option
   * value unless `grid` gives it.
   */
  protected defaultAxes(p: TaskProblem) {
    const g = this.graph(p);
    const h = lossScale(p, this.loss, this.config.fitIntercept).hessianDiagonal;
    const unit = h / (g.meanDegree || 1);
    return { lambdaGraph: logGrid(100 * unit, 0.01 * unit, this.config.nLambdas!), lambdaRidge: [0.1 * h, 0.01 * h, 0.001 * h] };
  }
}
