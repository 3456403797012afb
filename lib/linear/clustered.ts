/**
 * Convex clustered multi-task learning (Jacob, Bach & Vert, "Clustered multi-task learning: a
 * convex formulation", NIPS 2008; in the form of Zhou, Chen & Ye, "Clustered multi-task learning
 * via alternating structure optimization", NIPS 2011):
 *     min_{W, b, M}  sum_t (1/n_t) loss_t(X_t w_t + b_t, y_t) + c tr(W^T (eta I + M)^{-1} W)
 *     s.t. tr(M) = k,  0 <= M <= I  (M symmetric T x T),
 *     eta = lambdaRidge / lambdaCluster,  c = lambdaCluster eta (1 + eta),
 * W T x d (row t = task t), k = `clusters`, loss (1/2)||.||^2 (ClusteredRegression) or logistic
 * (ClusteredLogistic). When M = F F^T for the normalised indicator F of a partition of the tasks
 * into k clusters, the penalty is
 *     lambdaCluster sum_t ||w_t - mean of the w_s in t's cluster||^2 + lambdaRidge ||W||_F^2
 * (k-means on the tasks' weights plus a ridge); the constraint set is the convex hull of those
 * M, and the penalty is jointly convex in (W, M).
 *
 * Solved in W alone. For fixed W = U diag(sigma) V^T (sigma padded with zeros to length T) the
 * best M is U diag(gamma) U^T, gamma minimising sum_i sigma_i^2 / (eta + gamma_i) subject to
 * sum_i gamma_i = k, 0 <= gamma_i <= 1: gamma_i = clip(sigma_i s - eta, 0, 1) with s set by the
 * sum (`clusterEigenvalues`). So h(W) = min_M c tr(W^T (eta I + M)^{-1} W) is explicit and
 * convex (a partial minimum of a jointly convex function). Each penalty with M fixed is a
 * quadratic in W with Hessian 2 c (eta I + M)^{-1} <= (2 c / eta) I, and (L/2)||W||^2 - h is a
 * maximum of convex functions for L = 2 c / eta = 2 (lambdaCluster + lambdaRidge), so h is
 * L-smooth with grad h(W) = 2 c (eta I + M*)^{-1} W at the best M* (Danskin). FISTA
 * (structuredSolver.ts) then runs on W with h as its smooth penalty and no prox.
 * Optimality: grad_W of the loss term + 2 c (eta I + M*(W))^{-1} W = 0.
 *
 * The fitted M* is the learned task similarity (`taskSimilarity`); `clusterAssignment` is
 * k-means on the rows of U_k diag(sqrt(gamma_k)) (its top k eigenpairs), a spectral clustering
 * of M* (M*_st is the inner product of rows s and t).
 */
import { ValueError } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { num } from '../core/options.js';
import { kernels } from '../kernels/index.js';
import { kmeans } from './kmeans.js';
import { logGrid, type Solution, type TaskPrediction, type TaskProblem } from './taskModel.js';
import { lossScale, type SmoothPenalty, type Structure } from './structuredSolver.js';
import { StructuredTaskModel, sigmoidInPlace, strengthSpecs, structuredSpec, type StrengthSpec, type StructuredOptions } from './structuredModel.js';

export interface ClusteredOptions extends StructuredOptions {
  /** Number of task clusters k (an integer from 1 to the number of tasks; default 2). */
  clusters?: number;
  /** Strength of the pull of each task towards its cluster's mean (> 0; default 1). */
  lambdaCluster?: number;
  /** Strength of the ridge on all weights (> 0, which makes the relaxation convex; default 0.1). */
  lambdaRidge?: number;
}

type ClusteredParams = { lambdaCluster: number; lambdaRidge: number };

const strengths: StrengthSpec[] = [
  { name: 'lambdaCluster', default: 1, positive: true },
  { name: 'lambdaRidge', default: 0.1, positive: true },
];

/**
 * The gamma of the best M for singular values sigma (length T, zeros for the missing ones):
 * argmin sum_i sigma_i^2 / (eta + gamma_i) s.t. sum gamma = k, 0 <= gamma <= 1. With P the
 * positive sigma: if |P| <= k every sigma in P gets 1 and the zeros share the rest equally;
 * otherwise gamma_i = clip(sigma_i s - eta, 0, 1), where s solves phi(s) = sum_i gamma_i = k
 * (phi is piecewise linear and increasing: swept over its sorted breakpoints eta / sigma_i, where
 * gamma_i leaves 0, and (1 + eta) / sigma_i, where it reaches 1).
 */
export function clusterEigenvalues(sigma: ArrayLike<number>, eta: number, k: number): Float64Array {
  const T = sigma.length;
  const gamma = new Float64Array(T);
  const pos: number[] = [];
  for (let i = 0; i < T; i++) if (sigma[i]! > 0) pos.push(i);
  if (pos.length <= k) {
    for (const i of pos) gamma[i] = 1;
    const share = T > pos.length ? (k - pos.length) / (T - pos.length) : 0;
    for (let i = 0; i < T; i++) if (!(sigma[i]! > 0)) gamma[i] = share;
    return gamma;
  }
  const events: { s: number; i: number; enter: boolean }[] = [];
  for (const i of pos) {
    events.push({ s: eta / sigma[i]!, i, enter: true });
    events.push({ s: (1 + eta) / sigma[i]!, i, enter: false });
  }
  events.sort((a, b) => a.s - b.s || (a.enter === b.enter ? 0 : a.enter ? 1 : -1));
  // phi(s) = slope s + offset between breakpoints.
  let slope = 0;
  let offset = 0;
  let s = events[events.length - 1]!.s;
  for (const e of events) {
    if (slope * e.s + offset >= k && slope > 0) {
      s = (k - offset) / slope;
      break;
    }
    if (e.enter) {
      slope += sigma[e.i]!;
      offset -= eta;
    } else {
      slope -= sigma[e.i]!;
      offset += eta + 1;
    }
  }
  for (const i of pos) gamma[i] = Math.min(1, Math.max(0, sigma[i]! * s - eta));
  return gamma;
}

/** Eigen-decomposition of the smaller Gram matrix of W: singular values (padded to T) and vectors. */
function spectrum(w: Matrix<Float64Array>, taskSide: boolean): { sigma: Float64Array; vectors: Matrix<Float64Array>; n: number } {
  const K = kernels();
  const { rows: T, cols: d } = w;
  const n = taskSide ? T : d;
  const g = { rows: n, cols: n, data: new Float64Array(n * n) };
  if (taskSide) K.gemm(w, w, g, { transB: true });
  else K.gram(w, g);
  const { values, vectors } = K.symEig(g);
  const top = Math.max(0, values[n - 1] ?? 0);
  const sigma = new Float64Array(T);
  // Eigenvalues at rounding level of the largest are zero singular values.
  for (let i = 0; i < n; i++) sigma[i] = values[i]! > top * n * 1e-15 ? Math.sqrt(values[i]!) : 0;
  return { sigma, vectors, n };
}

/** V diag(f) V^T for the n x n eigenvectors V (columns). */
function weighted(vectors: Matrix<Float64Array>, f: Float64Array): Matrix<Float64Array> {
  const n = vectors.rows;
  const vf = { rows: n, cols: n, data: new Float64Array(n * n) };
  for (let i = 0; i < n; i++) for (let l = 0; l < n; l++) vf.data[i * n + l] = vectors.data[i * n + l]! * f[l]!;
  const out = { rows: n, cols: n, data: new Float64Array(n * n) };
  kernels().gemm(vf, vectors, out, { transB: true });
  return out;
}

/** h(W) = min_M c tr(W^T (eta I + M)^{-1} W) as a smooth penalty (see the file comment). */
export function clusteredPenalty(lambdaCluster: number, lambdaRidge: number, k: number): SmoothPenalty {
  const eta = lambdaRidge / lambdaCluster;
  const c = lambdaCluster * eta * (1 + eta);
  return {
    value(w, grad) {
      const { rows: T, cols: d } = w;
      // Work in the smaller of the task and feature spaces.
      const taskSide = T <= d;
      const { sigma, vectors, n } = spectrum(w, taskSide);
      const gamma = clusterEigenvalues(sigma, eta, k);
      let h = 0;
      const f = new Float64Array(n);
      for (let i = 0; i < T; i++) h += (sigma[i]! * sigma[i]!) / (eta + gamma[i]!);
      for (let i = 0; i < n; i++) f[i] = (2 * c) / (eta + gamma[i]!);
      if (grad) {
        // grad += 2 c (eta I + M)^{-1} W = A W (task side) or W B (feature side).
        const a = weighted(vectors, f);
        if (taskSide) kernels().gemm(a, w, grad, { beta: 1 });
        else kernels().gemm(w, a, grad, { beta: 1 });
      }
      return c * h;
    },
    lipschitz: 2 * (lambdaCluster + lambdaRidge),
    quadratic: false,
  };
}

/** The best M for W (T x T) and the spectral embedding of its top k eigenpairs (T x k). */
export function taskSimilarity(w: Matrix<Float64Array>, lambdaCluster: number, lambdaRidge: number, k: number): { similarity: Matrix<Float64Array>; embedding: Matrix<Float64Array> } {
  const T = w.rows;
  const { sigma, vectors } = spectrum(w, true);
  const gamma = clusterEigenvalues(sigma, lambdaRidge / lambdaCluster, k);
  const similarity = weighted(vectors, gamma);
  const top = Array.from({ length: T }, (_, i) => i).sort((a, b) => gamma[b]! - gamma[a]! || b - a).slice(0, k);
  const embedding = { rows: T, cols: k, data: new Float64Array(T * k) };
  for (let t = 0; t < T; t++) top.forEach((l, j) => (embedding.data[t * k + j] = vectors.data[t * T + l]! * Math.sqrt(gamma[l]!)));
  return { similarity, embedding };
}

abstract class ClusteredModel<Y extends TaskPrediction = Float64Array> extends StructuredTaskModel<ClusteredParams, ClusteredOptions, Y> {
  protected readonly strengths = strengths;
  constructor(options?: ClusteredOptions) {
    super(options, { ...structuredSpec, ...strengthSpecs(strengths), clusters: num({ default: 2, min: 1, integer: true }) }, strengths);
  }
  protected structure(p: TaskProblem, s: ClusteredParams): Structure {
    const k = this.config.clusters!;
    if (k > p.T) throw new ValueError(`${this.constructor.name}: option 'clusters' is ${k}, but the data has only ${p.T} tasks`);
    return { parts: [], smooth: clusteredPenalty(s.lambdaCluster, s.lambdaRidge, k) };
  }
  /**
   * lambdaCluster: nLambdas points from 1000 h (tasks pooled within their cluster) down to 0.1 h
   * (nearly independent tasks); lambdaRidge at 0.1 h, 0.01 h and 0.001 h (h the mean diagonal of
   * the loss Hessian).
   */
  protected defaultAxes(p: TaskProblem) {
    const h = lossScale(p, this.loss, this.config.fitIntercept).hessianDiagonal;
    return { lambdaCluster: logGrid(1000 * h, 0.1 * h, this.config.nLambdas!), lambdaRidge: [0.1 * h, 0.01 * h, 0.001 * h] };
  }
  protected override finish(_p: TaskProblem, s: ClusteredParams, sol: Solution): void {
    const k = this.config.clusters!;
    const { similarity, embedding } = taskSimilarity(sol.coef, s.lambdaCluster, s.lambdaRidge, k);
    const { labels } = kmeans(embedding, k, { seed: this.config.seed ?? 0 });
    sol.parts = { ...sol.parts, similarity, clusters: { rows: labels.length, cols: 1, data: Float64Array.from(labels) } };
  }

  /** The learned task similarity M (T x T, in taskNames order): 0 <= M <= I, trace = clusters. */
  get taskSimilarity(): Matrix<Float64Array> {
    return this.part('similarity');
  }
  /** The cluster (0..clusters-1) of every task, in taskNames order. */
  get clusterAssignment(): Int32Array {
    return Int32Array.from(this.part('clusters').data);
  }
  /** The task names of every cluster. */
  get clusterMembers(): string[][] {
    const labels = this.clusterAssignment;
    const out: string[][] = Array.from({ length: this.config.clusters! }, () => []);
    this.taskNames.forEach((n, t) => out[labels[t]!]!.push(n));
    return out;
  }
}

/** Multi-task regression with tasks in k clusters (convex relaxation; see the file comment). */
export class ClusteredRegression extends ClusteredModel {
  protected readonly loss = 'squared' as const;
}

/** Multi-task logistic regression (binary tasks, labels 0/1) with tasks in k clusters. */
export class ClusteredLogistic extends ClusteredModel<Int32Array> {
  protected readonly loss = 'logistic' as const;
  /** P(y = 1 | x) for the task called `taskName`. */
  predictProba(taskName: string, X: unknown): Float64Array {
    return sigmoidInPlace(this.decisionFunction(taskName, X));
  }
}
