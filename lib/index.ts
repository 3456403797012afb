/**
 * metatask: multi-task learning and meta-learning for Node.js.
 * The public API. Names exported here are a contract: they are kept, and renamed ones stay as aliases.
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
  parseFitOptions,
  type Progress,
  type FitOptions,
  type RemoteOptions,
  type WorkerOption,
  type Labels,
  type TaskMetrics,
  type Evaluation,
} from './core/estimator.js';
export {
  MultiTaskElasticNet,
  MultiTaskLasso,
  type MultiTaskElasticNetOptions,
  type MultiTaskLassoOptions,
} from './linear/multiTaskElasticNet.js';
export {
  type CdProgress,
  type CdFitOptions,
  type CdFitOptions as LinearFitOptions,
  type CdProgress as LinearProgressInfo,
} from './linear/cdEstimator.js';
export {
  MultiTaskElasticNetCV,
  MultiTaskLassoCV,
  type MultiTaskElasticNetCVOptions,
  type MultiTaskLassoCVOptions,
} from './linear/multiTaskElasticNetCV.js';
export { WorkerPool, defaultWorkerPool, type WorkerPoolOptions } from './parallel/pool.js';
export type { TransferMode } from './parallel/transfer.js';
export { connectQueue, JobQueue, type QueueOptions } from './distributed/queue.js';
export { runWorker, type WorkerOptions, type QueueWorker } from './distributed/worker.js';
export { crossValidate, fitMany, type CrossValidateOptions, type CrossValidation, type FanOutOptions, type FitJob } from './distributed/fanout.js';
export { saveData, type DataRef } from './distributed/payload.js';
export * as metrics from './metrics/index.js';
export * as functional from './meta/functional.js';
export { MultiTaskDataset, StandardScaler, type Task, type TaskInput, type TaskType, type SharedData, type SplitOptions, type FromCSVOptions, type FromSharedOptions } from './data/dataset.js';
export {
  MultiTaskNet,
  type MultiTaskNetOptions,
  type MultiTaskNetTask,
  type MultiTaskData,
  type WeightingOption,
  type MultiTaskNetFitOptions,
  type MultiTaskNetFitOptions as MultiTaskFitOptions,
  type MultiTaskNetProgress,
  type EarlyStoppingOptions,
  type History as MultiTaskHistory,
  type EpochRecord,
  type MultiTaskEvaluation,
  type MultiTaskEvaluateOptions,
  type GradientDiagnostics,
  type TaskPredictions,
  type TaskProbabilities,
  type PredictionOf,
  type ProbabilityOf,
  type ValuesOf,
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
export { ClusteredRegression, ClusteredLogistic, type ClusteredOptions } from './linear/clustered.js';
export { DirtyRegression, type DirtyOptions } from './linear/dirty.js';
export { RobustL21Regression, RobustL21Logistic, type RobustL21Options } from './linear/robustL21.js';
export { LowRankSparseRegression, type LowRankSparseOptions } from './linear/lowRankSparse.js';
export { GraphRegularizedRegression, type GraphRegularizedOptions } from './linear/graphRegularized.js';
export { TemporalGroupRegression, type TemporalGroupOptions } from './linear/temporalGroup.js';
export type { StructuredOptions } from './linear/structuredModel.js';
export type { TaskEdge, TaskRef } from './linear/taskGraph.js';
export { TaskLinearModel, type TaskData, type TaskPrediction, type FitProgress as TaskFitProgress, type TaskFitOptions } from './linear/taskModel.js';
export type { CvPath } from './linear/taskCV.js';
export {
  SinusoidTasks,
  SeededSampler,
  TaskSplit,
  MultiTaskSplit,
  MetaNetwork,
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
  type TaskSource,
  type TaskLike,
  type TaskDataLike,
  type MetaLoss,
  type NetworkConfig,
  type LearnerOptions,
  type EvaluationRow,
  type MetaFitOptions,
  type MetaProgress,
  type MetaHistory,
  type MetaHistory as MetaFitResult,
  type MetaPrediction,
  type MetaProbability,
  type AdaptOptions,
  type EvaluateOptions,
  type SinusoidOptions,
  type SamplerDocument,
  type PredictAsyncOptions,
  type SinusoidConfig,
  type TaskSplitOptions,
  type TaskSplitConfig,
  type MultiTaskSplitOptions,
  type MultiTaskSplitConfig,
  type MultiTaskProblem,
  type SharedTaskData,
  type MetaNetworkOptions,
  type NetworkOption,
  type SingleTaskNetwork,
  type MultiTaskNetworkConfig,
  type AdaptedOf,
  type Immutable,
  type MAMLOptions,
  type MAMLInput,
  type MetaSGDOptions,
  type MetaSGDInput,
  type ReptileOptions,
  type ReptileInput,
  type IMAMLOptions,
  type IMAMLInput,
  type PretrainedOptions,
  type PretrainedInput,
} from './meta/index.js';
export {
  FewShotTasks,
  splitClasses,
  rotateSquare,
  type FewShotOptions,
  type FewShotInput,
  type FewShotConfig,
  type FewShotSource,
  type LabelledSet,
  type ClassSplit,
  type SplitClassesOptions,
} from './meta/fewShot.js';
export {
  type EpisodicOptions,
  type EpisodicHistory,
  type EpisodicHistory as EpisodicFitResult,
  type EpisodicFitOptions,
  type EpisodicProgress,
  type EpisodicEvaluateOptions,
} from './meta/episodic.js';
export { ProtoNet, ProtoModel, type ProtoNetOptions, type ProtoNetInput, type ProtoDistance } from './meta/protoNet.js';
export { MetaRidge, RidgeModel, type MetaRidgeOptions, type MetaRidgeInput, type MetaRidgeLoss, type RidgePrediction } from './meta/metaRidge.js';
export { type OmniglotData } from './data/omniglot.js';
export { createStrategy, registerStrategy, knownStrategies, type StrategyFactory } from './mtl/weighting/registry.js';
export type { WeightingStrategy, StrategyStep, StrategyResult } from './mtl/weighting/strategy.js';
export { createOptimizer, Optimizer, type OptimizerOptions, type OptimizerType } from './nn/optim.js';
export { createSchedule, type ScheduleOptions, type ScheduleType, type LrSchedule } from './nn/schedule.js';
export { compileNetwork, initParams, type CompiledNetwork } from './nn/spec.js';
export { conv4Spec, type Conv4Config, type Conv4Downsample } from './nn/backbones.js';
export { RunningNormStats } from './nn/normStats.js';
export type { ConvTrunk } from './mtl/architectures.js';
export type { NetworkSpec, NodeSpec, HeadSpec, ActivationName, LossName, NetworkBatch, NormStats, Size2 } from './kernels/types.js';
