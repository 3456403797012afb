/**
 * Meta-SGD (Li, Zhou, Chen & Li 2017, "Meta-SGD: Learning to Learn Quickly for Few-Shot
 * Learning"): MAML with a learned learning rate for every parameter.
 *
 * Inner loop: theta_{i+1} = theta_i - alpha ⊙ g_i,   g_i = grad L_s(theta_i), alpha in R^P.
 * Reverse pass, with v_k = grad L_q(theta_k) the adjoint of theta_k:
 *   d theta_{i+1} / d theta_i = I - diag(alpha) H_i   =>  v_i = v_{i+1} - H_i (alpha ⊙ v_{i+1})
 *   d theta_{i+1} / d alpha   = -diag(g_i)            =>  dL/d alpha += -g_i ⊙ v_{i+1}
 * so dL/d theta = v_0 and dL/d alpha = -sum_{i=0}^{k-1} g_i ⊙ v_{i+1} (H_i = H_s(theta_i)).
 * The outer optimiser updates [theta; alpha] as one vector. alpha starts at innerLr everywhere.
 */
import { type FloatArray } from '../core/matrix.js';
import { bool, type OptionSpec } from '../core/options.js';
import { COMMON_OPTIONS, MetaLearner, type LearnerOptions, type MetaLoss, type NetworkOption, type SingleTaskNetwork, type PreparedTask, type Resolved, type TaskLike } from './learner.js';

/** Options of MetaSGD. */
export interface MetaSGDOptions<L extends MetaLoss = MetaLoss, N extends NetworkOption = NetworkOption> extends LearnerOptions<L, N> {
  /** Drop the Hessian terms in dL/d theta (the alpha gradient stays exact to first order). Default false. */
  firstOrder?: boolean;
}

/** @deprecated The name of {@link MetaSGDOptions} when that name meant the resolved options. */
export type MetaSGDInput<L extends MetaLoss = MetaLoss, N extends NetworkOption = NetworkOption> = MetaSGDOptions<L, N>;

const SPEC = { ...COMMON_OPTIONS, firstOrder: bool(false) } satisfies Record<keyof MetaSGDOptions, OptionSpec>;

export class MetaSGD<L extends MetaLoss = MetaLoss, const N extends NetworkOption = SingleTaskNetwork> extends MetaLearner<Resolved<MetaSGDOptions>, L, N> {
  static override readonly kind: string = 'MetaSGD';
  private traj: FloatArray[] = [];
  private grads: FloatArray[] = [];

  constructor(options: MetaSGDOptions<L, N>) {
    super(new.target.kind, options, SPEC);
  }

  /** `[theta; alpha]`: the outer optimiser learns both. */
  protected override initialParams(theta: FloatArray): FloatArray {
    const both = new (theta.constructor as new (n: number) => FloatArray)(2 * theta.length);
    both.set(theta);
    both.fill(this.options.innerLr, theta.length);
    return both;
  }

  /** The learned per-parameter inner learning rates (a view into the optimised vector). */
  get lrs(): FloatArray {
    return this.params.subarray(this.P);
  }

  protected override innerStep(phi: FloatArray, grad: FloatArray, out: FloatArray, lr: number | null): void {
    if (lr !== null) {
      for (let j = 0; j < this.P; j++) out[j] = phi[j]! - lr * grad[j]!;
      return;
    }
    const alpha = this.lrs;
    for (let j = 0; j < this.P; j++) out[j] = phi[j]! - alpha[j]! * grad[j]!;
  }

  /** Gradient of the mean query loss w.r.t. [theta; alpha] (length 2P), without updating. */
  metaGradient(tasks: readonly TaskLike[]): { loss: number; grad: Float64Array } {
    const grad = new Float64Array(2 * this.P);
    return { loss: this.meanOverTasks(this.prepare(tasks), grad, (t, acc) => this.taskMetaGradient(t, acc)), grad };
  }

  protected override metaStep(tasks: PreparedTask[]): number {
    // Independent tasks: the place for a native batched kernel (see MAML.metaStep).
    const grad = new Float64Array(2 * this.P);
    const loss = this.meanOverTasks(tasks, grad, (t, acc) => this.taskMetaGradient(t, acc));
    this.stepAlong(grad);
    return loss;
  }

  private taskMetaGradient(task: PreparedTask, acc: Float64Array): number {
    const k = this.options.innerSteps;
    const P = this.P;
    while (this.traj.length < k + 1) this.traj.push(this.alloc());
    while (this.grads.length < k) this.grads.push(this.alloc());
    const { traj, grads } = this;
    const alpha = this.lrs;
    traj[0]!.set(this.theta);
    for (let i = 0; i < k; i++) {
      this.lossGrad(traj[i]!, task.support, grads[i]!);
      this.innerStep(traj[i]!, grads[i]!, traj[i + 1]!, null);
    }
    const v = this.alloc();
    const loss = this.lossGrad(traj[k]!, task.query, v);
    const av = this.alloc();
    const hv = this.alloc();
    for (let i = k - 1; i >= 0; i--) {
      // v is the adjoint of theta_{i+1} here.
      const gi = grads[i]!;
      for (let j = 0; j < P; j++) acc[P + j] = acc[P + j]! - gi[j]! * v[j]!;
      if (this.options.firstOrder) continue;
      for (let j = 0; j < P; j++) av[j] = alpha[j]! * v[j]!;
      this.hvp(traj[i]!, task.support, av, hv);
      for (let j = 0; j < P; j++) v[j] = v[j]! - hv[j]!;
    }
    for (let j = 0; j < P; j++) acc[j] = acc[j]! + v[j]!;
    return loss;
  }
}
