/**
 * Reptile (Nichol, Achiam & Schulman 2018, "On First-Order Meta-Learning Algorithms"), batched
 * version: for each task of the meta-batch run k SGD steps from theta on its support set to get
 * phi_t, then
 *     theta <- theta + epsilon * mean_t (phi_t - theta).
 * The update is applied as an SGD step of rate epsilon (`metaLr`) on the "gradient"
 * theta - mean_t phi_t, so it runs through the optimiser kernels like every other update.
 * The inner loop sees only the support set (what adapt() sees at test time); the reported
 * meta-loss is the query loss after adaptation.
 */
import { type FloatArray } from '../core/matrix.js';
import { num, type OptionSpec } from '../core/options.js';
import type { OptimizerOptions } from '../nn/optim.js';
import { COMMON_OPTIONS, MetaLearner, type LearnerOptions, type MetaLoss, type NetworkOption, type SingleTaskNetwork, type PreparedTask, type Resolved } from './learner.js';

/**
 * Options of Reptile: those of the other learners without `optimizer` (the outer step is SGD of
 * rate metaLr), with defaults innerLr 0.02, innerSteps 5, metaBatchSize 5.
 */
export interface ReptileOptions<L extends MetaLoss = MetaLoss, N extends NetworkOption = NetworkOption> extends Omit<LearnerOptions<L, N>, 'optimizer'> {
  /** epsilon, the outer step size. Default 0.1. */
  metaLr?: number;
}

/** @deprecated The name of {@link ReptileOptions} when that name meant the resolved options. */
export type ReptileInput<L extends MetaLoss = MetaLoss, N extends NetworkOption = NetworkOption> = ReptileOptions<L, N>;

const { optimizer: _unused, ...REST } = COMMON_OPTIONS;
const SPEC = {
  ...REST,
  innerLr: num({ default: 0.02, min: 0 }),
  innerSteps: num({ default: 5, min: 1, integer: true }),
  metaBatchSize: num({ default: 5, min: 1, integer: true }),
  metaLr: num({ default: 0.1, min: 0 }),
} satisfies Record<keyof ReptileOptions, OptionSpec>;

export class Reptile<L extends MetaLoss = MetaLoss, const N extends NetworkOption = SingleTaskNetwork> extends MetaLearner<Resolved<ReptileOptions & { optimizer: OptimizerOptions }>, L, N> {
  static override readonly kind: string = 'Reptile';

  constructor(options: ReptileOptions<L, N>) {
    super(new.target.kind, options, SPEC as never);
  }

  protected override optimizerOptions(): OptimizerOptions {
    return { type: 'sgd', lr: this.options.metaLr };
  }

  protected override metaStep(tasks: PreparedTask[]): number {
    const theta = this.theta;
    const acc = new Float64Array(this.P);
    let loss = 0;
    // Independent tasks: the place for a native batched kernel (see MAML.metaStep).
    for (const t of tasks) {
      const phi: FloatArray = this.adaptParams(t.support, this.options.innerSteps, null);
      loss += this.lossGrad(phi, t.query, null);
      for (let j = 0; j < this.P; j++) acc[j] = acc[j]! + (theta[j]! - phi[j]!);
    }
    const g = this.alloc();
    for (let j = 0; j < this.P; j++) g[j] = acc[j]! / tasks.length;
    this.optimizer.step(this.params, g);
    return loss / tasks.length;
  }
}
