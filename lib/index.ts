/**
 * metatask: multi-task learning and meta-learning for Node.js.
 * The public API (DESIGN.md section 3). Names exported here are a contract.
 */
export * from './core/errors.js';
export { Rng } from './core/rng.js';
export {
  matrix,
  zeros,
  identity,
  toMatrix,
  toArray,
  transpose,
  type Matrix,
  type MatrixLike,
  type VectorLike,
  type FloatArray,
  type DType,
} from './core/matrix.js';
export { backend, setBackend, setThreads, availableBackends, type BackendName } from './kernels/index.js';
export type { BackendInfo } from './kernels/types.js';
export {
  MultiTaskElasticNet,
  MultiTaskLasso,
  type MultiTaskElasticNetOptions,
  type MultiTaskLassoOptions,
  type FitOptions as LinearFitOptions,
  type ProgressInfo as LinearProgressInfo,
} from './linear/multiTaskElasticNet.js';
export {
  MultiTaskElasticNetCV,
  MultiTaskLassoCV,
  type MultiTaskElasticNetCVOptions,
  type MultiTaskLassoCVOptions,
} from './linear/multiTaskElasticNetCV.js';
export * as metrics from './metrics/index.js';
export { MultiTaskDataset, StandardScaler, type Task, type TaskInput, type TaskType, type SharedData, type SplitOptions, type FromCSVOptions, type FromSharedOptions } from './data/dataset.js';
export {
  MultiTaskNet,
  type MultiTaskNetOptions,
  type MultiTaskNetTask,
  type MultiTaskData,
  type WeightingOption,
  type FitOptions as MultiTaskFitOptions,
  type EarlyStoppingOptions,
  type History as MultiTaskHistory,
  type EpochRecord,
  type Evaluation as MultiTaskEvaluation,
  type TaskMetrics,
  type GradientDiagnostics,
} from './mtl/multiTaskNet.js';
export {
  buildArchitecture,
  parameterOwners,
  headShape,
  ARCHITECTURES,
  type ArchitectureOptions,
  type ArchitectureType,
  type ArchitectureTask,
  type ParameterOwners,
} from './mtl/architectures.js';
export { datasets } from './data/school.js';
export { IndependentRidge, PooledRidge, type RidgeOptions } from './linear/ridge.js';
export { MeanRegularizedRegression, type MeanRegularizedOptions } from './linear/meanRegularized.js';
export { L21Regression, L21Logistic, type L21Options } from './linear/l21.js';
export { TraceNormRegression, type TraceNormOptions } from './linear/traceNorm.js';
export { TaskLinearModel, type TaskData, type FitProgress as TaskFitProgress, type FitOptions as TaskFitOptions } from './linear/taskModel.js';
export type { CvPath } from './linear/taskCV.js';
export {
  SinusoidTasks,
  TaskSplit,
  MAML,
  ANIL,
  MetaSGD,
  Reptile,
  iMAML,
  Pretrained,
  MetaLearner,
  AdaptedModel,
  type Task as MetaTask,
  type TaskData as MetaTaskData,
  type TaskSampler,
  type TaskLike,
  type MetaLoss,
  type NetworkConfig,
  type EvaluationRow,
  type FitResult as MetaFitResult,
  type FitOptions as MetaFitOptions,
  type MAMLOptions,
  type MetaSGDOptions,
  type ReptileOptions,
  type IMAMLOptions,
} from './meta/index.js';
export { FewShotTasks, splitClasses, rotateSquare, type FewShotOptions, type FewShotSource, type LabelledSet, type ClassSplit, type SplitClassesOptions } from './meta/fewShot.js';
export { type EpisodicFitResult, type EpisodicEvaluateOptions } from './meta/episodic.js';
export { ProtoNet, ProtoModel, type ProtoNetOptions, type ProtoDistance } from './meta/protoNet.js';
export { MetaRidge, RidgeModel, type MetaRidgeOptions } from './meta/metaRidge.js';
export { type OmniglotData } from './data/omniglot.js';
export { createStrategy, registerStrategy, knownStrategies, type StrategyFactory } from './mtl/weighting/registry.js';
export type { WeightingStrategy, StrategyStep, StrategyResult } from './mtl/weighting/strategy.js';
export { createOptimizer, Optimizer, type OptimizerOptions, type OptimizerType } from './nn/optim.js';
export { createSchedule, type ScheduleOptions, type ScheduleType, type LrSchedule } from './nn/schedule.js';
export { compileNetwork, initParams, type CompiledNetwork } from './nn/spec.js';
export { conv4Spec, type Conv4Config } from './nn/backbones.js';
export { RunningNormStats } from './nn/normStats.js';
export type { ConvTrunk } from './mtl/architectures.js';
export type { NetworkSpec, NodeSpec, HeadSpec, ActivationName, LossName, NetworkBatch, NormStats, Size2 } from './kernels/types.js';
