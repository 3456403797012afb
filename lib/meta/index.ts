/** Meta-learning: task samplers and the gradient-based meta-learners (issue 4). */
export { SinusoidTasks, TaskSplit, type Task, type TaskData, type TaskSampler, type TaskSource, type SinusoidOptions, type TaskSplitOptions } from './tasks.js';
export {
  MetaLearner,
  AdaptedModel,
  mlpSpec,
  type MetaLoss,
  type NetworkConfig,
  type LearnerOptions,
  type FitOptions,
  type FitResult,
  type AdaptOptions,
  type EvaluateOptions,
  type EvaluationRow,
  type TaskDataLike,
  type TaskLike,
} from './learner.js';
export { MAML, ANIL, type MAMLOptions } from './maml.js';
export { MetaSGD, type MetaSGDOptions } from './metasgd.js';
export { Reptile, type ReptileOptions } from './reptile.js';
export { iMAML, type IMAMLOptions } from './imaml.js';
export { Pretrained } from './pretrained.js';
