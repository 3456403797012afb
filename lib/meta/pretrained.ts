/**
 * The baseline of Finn et al. 2017 (section 5.1): one network trained on all tasks jointly
 * ("pretrained on all tasks"), theta <- optimiser step on mean_t [grad L_s,t + grad L_q,t] / 2,
 * then fine-tuned on a new task's support set by SGD like any meta-learner (adapt/evaluate).
 * It shows what meta-learning adds: the joint model learns the average task, not how to adapt.
 */
import { type OptionSpec } from '../core/options.js';
import { COMMON_OPTIONS, MetaLearner, type LearnerOptions, type MetaLoss, type NetworkOption, type SingleTaskNetwork, type PreparedTask, type Resolved } from './learner.js';

/** Options of Pretrained: those every learner shares. */
export type PretrainedOptions<L extends MetaLoss = MetaLoss, N extends NetworkOption = NetworkOption> = LearnerOptions<L, N>;
/** @deprecated The earlier name of {@link PretrainedOptions}. */
export type PretrainedInput<L extends MetaLoss = MetaLoss, N extends NetworkOption = NetworkOption> = PretrainedOptions<L, N>;

export class Pretrained<L extends MetaLoss = MetaLoss, const N extends NetworkOption = SingleTaskNetwork> extends MetaLearner<Resolved<LearnerOptions>, L, N> {
  static override readonly kind: string = 'Pretrained';

  constructor(options: PretrainedOptions<L, N>) {
    super(new.target.kind, options, COMMON_OPTIONS satisfies Record<keyof LearnerOptions, OptionSpec>);
  }

  protected override metaStep(tasks: PreparedTask[]): number {
    const theta = this.theta;
    const acc = new Float64Array(this.P);
    const g = this.alloc();
    let loss = 0;
    for (const t of tasks) {
      for (const b of [t.support, t.query]) {
        loss += this.lossGrad(theta, b, g);
        for (let j = 0; j < this.P; j++) acc[j] = acc[j]! + g[j]!;
      }
    }
    const n = 2 * tasks.length;
    for (let j = 0; j < this.P; j++) g[j] = acc[j]! / n;
    this.optimizer.step(this.params, g);
    return loss / n;
  }
}
