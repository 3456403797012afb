/**
 * MAML (Finn, Abbeel & Levine 2017, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep
 * Networks") and ANIL (Raghu, Raghu, Bengio & Vinyals 2020, "Rapid Learning or Feature Reuse?").
 *
 * Inner loop (per task, k SGD steps on the support loss L_s from theta_0 = theta):
 *     theta_{i+1} = theta_i - a M grad L_s(theta_i)            (M = I for MAML, the head mask for ANIL)
 * Meta-gradient of the query loss L_q(theta_k) by the chain rule through every step, exactly:
 *     d L_q(theta_k)/d theta = prod_{i=0}^{k-1} (I - a H_s(theta_i) M) grad L_q(theta_k)
 * (each Jacobian I - a M H transposed; H is symmetric), applied right to left as
 *     v <- grad L_q(theta_k);  for i = k-1..0:  v <- v - a H_s(theta_i) (M v)
 * with one exact Hessian-vector product per step (no finite differences, no Hessian formed).
 * First-order MAML drops the products: v = grad L_q(theta_k).
 * ANIL adapts only the head's slice, yet the meta-gradient still reaches the body through the
 * H_s (M v) terms (second order).
 *
 * A meta-step makes ONE kernel call for the whole meta-batch (NetworkHandle.metaGradient: the
 * loop of taskMetaGradient below, fused; lib/kernels/js/metabatch.ts and its native twin, which
 * runs the tasks in parallel). taskMetaGradient stays as the readable reference of that kernel
 * (metaGradient(tasks, { perTask: true })), and the base of learners that change the inner loop.
 */
import { allocate, type FloatArray } from '../core/matrix.js';
import { ValueError } from '../core/errors.js';
import { bool, type OptionSpec } from '../core/options.js';
import type { MetaBatchTasks, NetworkBatch } from '../kernels/types.js';
import { COMMON_OPTIONS, MetaLearner, type LearnerOptions, type MetaLoss, type NetworkOption, type SingleTaskNetwork, type PreparedTask, type Resolved, type TaskLike } from './learner.js';

/** Options of MAML and ANIL. */
export interface MAMLOptions<L extends MetaLoss = MetaLoss, N extends NetworkOption = NetworkOption> extends LearnerOptions<L, N> {
  /** Drop the second-order terms (FOMAML). Default false. */
  firstOrder?: boolean;
}

/** @deprecated The name of {@link MAMLOptions} when that name meant the resolved options. */
export type MAMLInput<L extends MetaLoss = MetaLoss, N extends NetworkOption = NetworkOption> = MAMLOptions<L, N>;

const MAML_SPEC = { ...COMMON_OPTIONS, firstOrder: bool(false) } satisfies Record<keyof MAMLOptions, OptionSpec>;

export class MAML<L extends MetaLoss = MetaLoss, const N extends NetworkOption = SingleTaskNetwork> extends MetaLearner<Resolved<MAMLOptions>, L, N> {
  static override readonly kind: string = 'MAML';
  /** 1 where the inner loop may move a parameter; null = everywhere (ANIL sets the head slice). */
  protected innerMask: Uint8Array | null = null;
  /** theta_0..theta_k of the current task and the per-task vectors (reused across tasks). */
  private traj: FloatArray[] = [];
  private scratch: { g: FloatArray; v: FloatArray; hv: FloatArray; mv: FloatArray } | null = null;
  /** The meta-batch stacked for the fused kernel, and the gradient it fills (reused across steps). */
  private stacked: MetaBatchTasks<FloatArray> | null = null;
  private metaGrad: Float64Array | null = null;
  private stepGrad: FloatArray | null = null;

  constructor(options: MAMLOptions<L, N>) {
    super(new.target.kind, options, MAML_SPEC);
  }

  protected override innerStep(phi: FloatArray, grad: FloatArray, out: FloatArray, lr: number | null): void {
    const a = lr ?? this.options.innerLr;
    const m = this.innerMask;
    if (!m) {
      for (let j = 0; j < this.P; j++) out[j] = phi[j]! - a * grad[j]!;
    } else {
      for (let j = 0; j < this.P; j++) out[j] = m[j] ? phi[j]! - a * grad[j]! : phi[j]!;
    }
  }

  /**
   * The meta-gradient of the mean query loss over `tasks` at the current theta, without updating
   * anything (tests and custom loops). `perTask: true` runs the per-task reference loop instead of
   * the fused meta-batch kernel (same result up to rounding).
   */
  metaGradient(tasks: readonly TaskLike[], options: { perTask?: boolean } = {}): { loss: number; grad: Float64Array } {
    const prepared = this.prepare(tasks);
    if (!options.perTask) {
      const grad = new Float64Array(this.P);
      return { loss: this.batchMetaGradient(prepared, grad), grad };
    }
    const grad = new Float64Array(this.P);
    return { loss: this.meanOverTasks(prepared, grad, (t, acc) => this.taskMetaGradient(t, acc)), grad };
  }

  protected override metaStep(tasks: PreparedTask[]): number {
    return this.startMetaStep(tasks)();
  }

  /** The fused kernel starts here (on the worker threads, native backend); the optimiser steps in the returned function. */
  protected override startMetaStep(tasks: PreparedTask[]): () => number {
    const acc = (this.metaGrad ??= new Float64Array(this.P));
    const pending = this.startBatchMetaGradient(tasks);
    return () => {
      const loss = pending(acc);
      const g = (this.stepGrad ??= this.alloc());
      // Rounded to the parameters' type by set(), as element stores round (half the time of a loop:
      // about 2 us of a step at 1,761 parameters).
      g.set(acc);
      this.optimizer.step(this.params, g);
      return loss;
    };
  }

  /**
   * grad <- the mean meta-gradient of the meta-batch by one fused kernel call; returns the
   * meta-loss. A subclass that changes the inner loop (innerGrad/innerStep) gets the per-task path.
   */
  protected batchMetaGradient(tasks: PreparedTask[], grad: Float64Array): number {
    return this.startBatchMetaGradient(tasks)(grad);
  }

  /** batchMetaGradient started: the returned function writes the gradient and returns the meta-loss. */
  private startBatchMetaGradient(tasks: PreparedTask[]): (grad: Float64Array) => number {
    if (tasks.length === 0) throw new ValueError(`${this.kind}: a meta-batch needs at least one task`);
    const o = this.options;
    if (this.innerStep !== MAML.prototype.innerStep || this.innerGrad !== MetaLearner.prototype['innerGrad']) {
      return (grad) => this.meanOverTasks(tasks, grad, (t, acc) => this.taskMetaGradient(t, acc));
    }
    // The kernel copies what it reads, so the next meta-batch may be stacked into the same buffers.
    this.stacked = this.net.stack(tasks, this.stacked);
    const pending = this.handle.metaGradientStart(this.theta, this.stacked, {
      innerLr: o.innerLr, innerSteps: o.innerSteps, firstOrder: o.firstOrder, innerMask: this.innerMask,
    });
    return (grad) => pending.finish(grad);
  }

  /** Add d L_q(theta_k(theta))/d theta of one task into `acc`; returns L_q(theta_k). */
  protected taskMetaGradient(task: PreparedTask, acc: Float64Array): number {
    const k = this.options.innerSteps;
    const a = this.options.innerLr;
    while (this.traj.length < k + 1) this.traj.push(this.alloc());
    const traj = this.traj;
    const s = (this.scratch ??= { g: this.alloc(), v: this.alloc(), hv: this.alloc(), mv: this.alloc() });
    traj[0]!.set(this.theta);
    for (let i = 0; i < k; i++) {
      this.innerGrad(traj[i]!, task.support, s.g, this.theta);
      this.innerStep(traj[i]!, s.g, traj[i + 1]!, null);
    }
    const v = s.v;
    const loss = this.lossGrad(traj[k]!, task.query, v);
    if (!this.options.firstOrder && k > 0) this.backward(traj, task.support, v, a);
    for (let j = 0; j < this.P; j++) acc[j] = acc[j]! + v[j]!;
    return loss;
  }

  /** v <- prod_i (I - a H_s(theta_i) M) v, right to left (i = k-1 down to 0). */
  private backward(traj: FloatArray[], support: NetworkBatch<FloatArray>, v: FloatArray, a: number): void {
    const k = this.options.innerSteps;
    const { hv } = this.scratch!;
    const m = this.innerMask;
    const mv = m ? this.scratch!.mv : v;
    for (let i = k - 1; i >= 0; i--) {
      if (m) for (let j = 0; j < this.P; j++) mv[j] = m[j] ? v[j]! : 0;
      this.hvp(traj[i]!, support, mv, hv);
      for (let j = 0; j < this.P; j++) v[j] = v[j]! - a * hv[j]!;
    }
  }
}

/**
 * ANIL: MAML whose inner loop adapts only the head (the output layer's parameters); the body is
 * learned by the outer loop alone. Same options as MAML.
 */
export class ANIL<L extends MetaLoss = MetaLoss, const N extends NetworkOption = SingleTaskNetwork> extends MAML<L, N> {
  static override readonly kind: string = 'ANIL';

  constructor(options: MAMLOptions<L, N>) {
    super(options);
    const mask = new Uint8Array(this.P);
    const headNodes = new Set(this.spec.heads.map((h) => h.node));
    for (const s of this.compiled.params) {
      if (!headNodes.has(s.node)) continue;
      const size = s.shape.reduce((x, y) => x * y, 1);
      mask.fill(1, s.offset, s.offset + size);
    }
    this.innerMask = mask;
  }

  /** Indices of the parameters the inner loop adapts (the head). */
  get headSlice(): [number, number] {
    const m = this.innerMask!;
    return [m.indexOf(1), m.lastIndexOf(1) + 1];
  }
}
