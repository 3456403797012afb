/**
 * iMAML (Rajeswaran, Finn, Kakade & Levine 2019, "Meta-Learning with Implicit Gradients").
 *
 * Inner problem per task, a proximally regularised fit of the support set:
 *     phi*(theta) = argmin_phi  L_s(phi) + (lambda/2) ||phi - theta||^2,
 * solved approximately by k gradient steps from phi = theta. At the optimum,
 * grad L_s(phi) + lambda (phi - theta) = 0; differentiating gives d phi/d theta = (I + H_s/lambda)^{-1},
 * so the meta-gradient needs no backpropagation through the inner steps:
 *     dL_q(phi*)/d theta = (I + H_s(phi)/lambda)^{-1} grad L_q(phi)
 * computed by conjugate gradient (at most cgSteps iterations, relative residual cgTol) with one
 * exact Hessian-vector product per iteration. Adaptation at test time solves the same inner problem.
 */
import { type FloatArray } from '../core/matrix.js';
import { num, type OptionSpec } from '../core/options.js';
import type { NetworkBatch } from '../kernels/types.js';
import { COMMON_OPTIONS, MetaLearner, type LearnerOptions, type MetaLoss, type NetworkOption, type SingleTaskNetwork, type PreparedTask, type Resolved, type TaskLike } from './learner.js';

/** Options of iMAML (innerSteps defaults to 5 here). */
export interface IMAMLOptions<L extends MetaLoss = MetaLoss, N extends NetworkOption = NetworkOption> extends LearnerOptions<L, N> {
  /** Strength of the proximal term. Default 1. */
  lambda?: number;
  /** Conjugate-gradient iterations. Default 5 (the paper's). */
  cgSteps?: number;
  /** Stop CG when ||r|| <= cgTol ||b||. Default 1e-10. */
  cgTol?: number;
}

/** @deprecated The name of {@link IMAMLOptions} when that name meant the resolved options. */
export type IMAMLInput<L extends MetaLoss = MetaLoss, N extends NetworkOption = NetworkOption> = IMAMLOptions<L, N>;

const SPEC = {
  ...COMMON_OPTIONS,
  innerSteps: num({ default: 5, min: 1, integer: true }),
  lambda: num({ default: 1, min: 0, exclusiveMin: true }),
  cgSteps: num({ default: 5, min: 1, integer: true }),
  cgTol: num({ default: 1e-10, min: 0 }),
} satisfies Record<keyof IMAMLOptions, OptionSpec>;

export class iMAML<L extends MetaLoss = MetaLoss, const N extends NetworkOption = SingleTaskNetwork> extends MetaLearner<Resolved<IMAMLOptions>, L, N> {
  static override readonly kind: string = 'iMAML';

  constructor(options: IMAMLOptions<L, N>) {
    super(new.target.kind, options, SPEC);
  }

  /** grad of L_s(phi) + (lambda/2)||phi - theta||^2. */
  protected override innerGrad(phi: FloatArray, batch: NetworkBatch<FloatArray>, grad: FloatArray, theta: FloatArray): number {
    const loss = this.lossGrad(phi, batch, grad);
    const lam = this.options.lambda;
    for (let j = 0; j < this.P; j++) grad[j] = grad[j]! + lam * (phi[j]! - theta[j]!);
    return loss;
  }

  /** The implicit meta-gradient of the mean query loss over `tasks`, without updating. */
  metaGradient(tasks: readonly TaskLike[]): { loss: number; grad: Float64Array } {
    const grad = new Float64Array(this.P);
    return { loss: this.meanOverTasks(this.prepare(tasks), grad, (t, acc) => this.taskMetaGradient(t, acc)), grad };
  }

  protected override metaStep(tasks: PreparedTask[]): number {
    // Independent tasks: the place for a native batched kernel (see MAML.metaStep).
    const grad = new Float64Array(this.P);
    const loss = this.meanOverTasks(tasks, grad, (t, acc) => this.taskMetaGradient(t, acc));
    this.stepAlong(grad);
    return loss;
  }

  private taskMetaGradient(task: PreparedTask, acc: Float64Array): number {
    const phi = this.adaptParams(task.support, this.options.innerSteps, null);
    const b = this.alloc();
    const loss = this.lossGrad(phi, task.query, b);
    const x = this.conjugateGradient(phi, task.support, b);
    for (let j = 0; j < this.P; j++) acc[j] = acc[j]! + x[j]!;
    return loss;
  }

  /** Solve (I + H_s(phi)/lambda) x = b by CG from x = 0 (vectors in double, hvp in the net's dtype). */
  private conjugateGradient(phi: FloatArray, support: NetworkBatch<FloatArray>, bIn: FloatArray): Float64Array {
    const P = this.P;
    const lam = this.options.lambda;
    const x = new Float64Array(P);
    const r = Float64Array.from(bIn);
    const p = Float64Array.from(bIn);
    const Ap = new Float64Array(P);
    const pT = this.alloc();
    const hv = this.alloc();
    const dot = (u: Float64Array, w: Float64Array): number => {
      let s = 0;
      for (let j = 0; j < P; j++) s += u[j]! * w[j]!;
      return s;
    };
    let rr = dot(r, r);
    const stop = this.options.cgTol ** 2 * rr;
    for (let it = 0; it < this.options.cgSteps && rr > stop && rr > 0; it++) {
      pT.set(p);
      this.hvp(phi, support, pT, hv);
      for (let j = 0; j < P; j++) Ap[j] = p[j]! + hv[j]! / lam;
      const pAp = dot(p, Ap);
      // A is positive definite when lambda exceeds the most negative Hessian eigenvalue; if
      // not, stop with the current iterate rather than step along a direction of negative curvature.
      if (!(pAp > 0)) {
        if (it === 0) x.set(r);
        break;
      }
      const step = rr / pAp;
      for (let j = 0; j < P; j++) {
        x[j] = x[j]! + step * p[j]!;
        r[j] = r[j]! - step * Ap[j]!;
      }
      const rrNew = dot(r, r);
      const beta = rrNew / rr;
      rr = rrNew;
      for (let j = 0; j < P; j++) p[j] = r[j]! + beta * p[j]!;
    }
    return x;
  }
}
