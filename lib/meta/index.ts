/** Meta-learning: task samplers and the gradient-based meta-learners. */
export {
  SinusoidTasks,
  SeededSampler,
  TaskSplit,
  MultiTaskSplit,
  type MultiTaskSplitOptions,
  type MultiTaskSplitConfig,
  type MultiTaskProblem,
  type SharedTaskData,
  type Task,
  type TaskData,
  type TaskSampler,
  type TaskSource,
  type SinusoidOptions,
  type SinusoidConfig,
  type TaskSplitOptions,
  type TaskSplitConfig,
  type SamplerDocument,
} from './tasks.js';
export type { PredictAsyncOptions } from './savedLearner.js';
export {
  MetaLearner,
  AdaptedModel,
  mlpSpec,
  type MetaLoss,
  type AdaptedOf,
  type Immutable,
  type MultiTaskNetworkConfig,
  type NetworkOption,
  type SingleTaskNetwork,
  type NetworkConfig,
  type LearnerOptions,
  type Resolved,
  type MetaFitOptions,
  type MetaProgress,
  type MetaHistory,
  type MetaPrediction,
  type MetaProbability,
  type FitOptions,
  type FitResult,
  type AdaptOptions,
  type EvaluateOptions,
  type EvaluationRow,
  type TaskDataLike,
  type TaskLike,
} from './learner.js';
export { MAML, ANIL, type MAMLOptions, type MAMLInput } from './maml.js';
export { MetaSGD, type MetaSGDOptions, type MetaSGDInput } from './metasgd.js';
export { Reptile, type ReptileOptions, type ReptileInput } from './reptile.js';
export { iMAML, type IMAMLOptions, type IMAMLInput } from './imaml.js';
export { Pretrained, type PretrainedOptions, type PretrainedInput } from './pretrained.js';
export { MetaNetwork, type MetaNetworkOptions } from './metaNetwork.js';
