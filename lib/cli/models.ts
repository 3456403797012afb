/**
 * Every model family by the name the command gives it (`--model l21`), with the class behind it,
 * the family that decides how the command feeds it data, and how to rebuild it from a model file
 * (the file's `kind` is the class name). A misspelt name gets "did you mean".
 */
import { FormatError } from '../core/errors.js';
import { UsageError } from './command.js';
import { closestName } from '../core/suggest.js';
import type { TaskType } from '../data/dataset.js';
import { ClusteredLogistic, ClusteredRegression } from '../linear/clustered.js';
import { DirtyRegression } from '../linear/dirty.js';
import { GraphRegularizedRegression } from '../linear/graphRegularized.js';
import { L21Logistic, L21Regression } from '../linear/l21.js';
import { LowRankSparseRegression } from '../linear/lowRankSparse.js';
import { MeanRegularizedRegression } from '../linear/meanRegularized.js';
import { MultiTaskElasticNet, MultiTaskLasso } from '../linear/multiTaskElasticNet.js';
import { MultiTaskElasticNetCV, MultiTaskLassoCV } from '../linear/multiTaskElasticNetCV.js';
import { IndependentRidge, PooledRidge } from '../linear/ridge.js';
import { RobustL21Logistic, RobustL21Regression } from '../linear/robustL21.js';
import type { TaskLinearModel } from '../linear/taskModel.js';
import { TemporalGroupRegression } from '../linear/temporalGroup.js';
import { TraceNormRegression } from '../linear/traceNorm.js';
import { iMAML } from '../meta/imaml.js';
import type { MetaLearner } from '../meta/learner.js';
import { ANIL, MAML } from '../meta/maml.js';
import { MetaRidge } from '../meta/metaRidge.js';
import { MetaSGD } from '../meta/metasgd.js';
import { Pretrained } from '../meta/pretrained.js';
import { ProtoNet } from '../meta/protoNet.js';
import { Reptile } from '../meta/reptile.js';
import { MultiTaskNet } from '../mtl/multiTaskNet.js';

/**
 * How a family takes data:
 * - 'shared': one X and one target column per task (`fit(X, Y)`);
 * - 'tasks': a dataset of tasks, each with its own rows (`fit(dataset)`);
 * - 'network': MultiTaskNet, either form;
 * - 'meta': gradient-based meta-learners, few-shot tasks drawn from the data;
 * - 'episodic': ProtoNet and MetaRidge, few-shot episodes drawn from the data.
 */
export type Family = 'shared' | 'tasks' | 'network' | 'meta' | 'episodic';

/** A per-task model; the logistic ones add predictProba. */
export type TaskModel = TaskLinearModel<any, any, Float64Array | Int32Array> & { predictProba?(taskName: string, X: unknown): Float64Array };

/** A model of a family, with its family (so a command can switch on it). */
export type CliModel =
  | { family: 'shared'; model: MultiTaskElasticNet | MultiTaskElasticNetCV }
  | { family: 'tasks'; model: TaskModel }
  | { family: 'network'; model: MultiTaskNet }
  | { family: 'meta'; model: MetaLearner<any, any, any> }
  | { family: 'episodic'; model: ProtoNet | MetaRidge };

export interface ModelEntry {
  /** The name `--model` takes. */
  name: string;
  aliases: readonly string[];
  /** The class, which is also the `kind` of its model files. */
  className: string;
  family: Family;
  /** The task type the model needs, when it has one (the logistic models: 'binary'). */
  taskType?: TaskType;
  summary: string;
  create(options: Record<string, unknown>): CliModel;
  load(doc: unknown): CliModel;
}

type SharedModelClass = { new (options?: any): MultiTaskElasticNet | MultiTaskElasticNetCV; fromJSON(doc: unknown): MultiTaskElasticNet | MultiTaskElasticNetCV };

const shared = (name: string, className: string, summary: string, C: SharedModelClass, aliases: string[] = []): ModelEntry => ({
  name,
  aliases,
  className,
  family: 'shared',
  summary,
  create: (o) => ({ family: 'shared', model: new C(o) }),
  load: (doc) => ({ family: 'shared', model: C.fromJSON(doc) }),
});

type TaskModelClass = { new (options?: any): TaskModel; fromJSON(doc: unknown): TaskModel };

const perTask = (name: string, C: TaskModelClass, summary: string, aliases: string[] = [], taskType?: TaskType): ModelEntry => ({
  name,
  aliases,
  className: C.name,
  family: 'tasks',
  ...(taskType ? { taskType } : {}),
  summary,
  create: (o) => ({ family: 'tasks', model: new C(o) }),
  load: (doc) => ({ family: 'tasks', model: C.fromJSON(doc) }),
});

type MetaClass = { new (options: any): MetaLearner<any, any, any>; readonly kind: string; fromJSON(doc: unknown): MetaLearner<any, any, any> };

const meta = (name: string, C: MetaClass, summary: string, aliases: string[] = []): ModelEntry => ({
  name,
  aliases,
  className: C.kind,
  family: 'meta',
  summary,
  create: (o) => ({ family: 'meta', model: new C(o) }),
  load: (doc) => ({ family: 'meta', model: C.fromJSON(doc) }),
});

/** Every model the command knows, in the order `metatask fit --help` lists them. */
export const MODELS: readonly ModelEntry[] = [
  shared('lasso', 'MultiTaskLasso', 'multi-task lasso (L2,1 penalty, coordinate descent): one X, one target column per task', MultiTaskLasso, ['multi-task-lasso']),
  shared('elastic-net', 'MultiTaskElasticNet', 'multi-task elastic net: one X, one target column per task', MultiTaskElasticNet, ['multi-task-elastic-net', 'enet']),
  shared('lasso-cv', 'MultiTaskLassoCV', 'multi-task lasso with alpha chosen by cross-validation', MultiTaskLassoCV),
  shared('elastic-net-cv', 'MultiTaskElasticNetCV', 'multi-task elastic net with alpha and l1Ratio chosen by cross-validation', MultiTaskElasticNetCV, ['enet-cv']),
  perTask('l21', L21Regression, 'joint feature selection across tasks (L2,1 penalty), tasks with rows of their own', ['l21-regression', 'group-lasso']),
  perTask('l21-logistic', L21Logistic, 'L2,1 logistic regression for binary tasks', [], 'binary'),
  perTask('trace-norm', TraceNormRegression, 'low-rank task weights (trace-norm penalty)', ['tracenorm', 'low-rank']),
  perTask('mean-regularized', MeanRegularizedRegression, 'task weights pulled towards their mean (Evgeniou & Pontil 2004)', ['mean-regularised', 'regularized-mtl']),
  perTask('ridge', IndependentRidge, 'one ridge regression per task (a baseline)', ['independent-ridge']),
  perTask('pooled-ridge', PooledRidge, 'one ridge regression for all tasks pooled (a baseline)', ['pooled']),
  perTask('clustered', ClusteredRegression, 'tasks in clusters (convex clustered multi-task learning)', ['clustered-regression']),
  perTask('clustered-logistic', ClusteredLogistic, 'clustered multi-task logistic regression for binary tasks', [], 'binary'),
  perTask('dirty', DirtyRegression, 'shared (L1,inf) plus task-specific (L1) parts', ['dirty-model']),
  perTask('robust-l21', RobustL21Regression, 'L2,1 with outlier tasks', ['robust']),
  perTask('robust-l21-logistic', RobustL21Logistic, 'robust L2,1 logistic regression for binary tasks', [], 'binary'),
  perTask('low-rank-sparse', LowRankSparseRegression, 'low-rank plus sparse task weights', ['lrs']),
  perTask('graph-regularized', GraphRegularizedRegression, 'tasks related by a graph (set `edges` in the options)', ['graph', 'graph-regularised']),
  perTask('temporal-group', TemporalGroupRegression, 'tasks in time order (temporal group lasso)', ['temporal']),
  {
    name: 'mtnet',
    aliases: ['multi-task-net', 'multitasknet', 'net'],
    className: 'MultiTaskNet',
    family: 'network',
    summary: 'deep multi-task network (hard sharing by default; MMoE, CGC, PLE, cross-stitch; task weightings)',
    create: (o) => ({ family: 'network', model: new MultiTaskNet(o as never) }),
    load: (doc) => ({ family: 'network', model: MultiTaskNet.fromJSON(doc) }),
  },
  meta('maml', MAML, 'MAML (exact second order; firstOrder: true for FOMAML): an initialisation that adapts to a new task in a few steps', ['fomaml']),
  meta('anil', ANIL, 'ANIL: MAML adapting the last layer only'),
  meta('metasgd', MetaSGD, 'Meta-SGD: MAML with learned per-parameter step sizes', ['meta-sgd']),
  meta('reptile', Reptile, 'Reptile: first-order meta-learning without second derivatives'),
  meta('imaml', iMAML, 'iMAML: implicit gradients through a proximal inner problem', ['i-maml']),
  meta('pretrained', Pretrained, 'pretrain on every task pooled, then fine-tune (a baseline)'),
  {
    name: 'protonet',
    aliases: ['proto', 'prototypical'],
    className: 'ProtoNet',
    family: 'episodic',
    taskType: 'multiclass',
    summary: 'prototypical networks: few-shot classification by distance to class means',
    create: (o) => ({ family: 'episodic', model: new ProtoNet(o as never) }),
    load: (doc) => ({ family: 'episodic', model: ProtoNet.fromJSON(doc) }),
  },
  {
    name: 'metaridge',
    aliases: ['meta-ridge', 'r2d2'],
    className: 'MetaRidge',
    family: 'episodic',
    summary: 'R2-D2: a ridge-regression head on a meta-learned embedding (classification or regression)',
    create: (o) => ({ family: 'episodic', model: new MetaRidge(o as never) }),
    load: (doc) => ({ family: 'episodic', model: MetaRidge.fromJSON(doc) }),
  },
];

/** Every name and alias `--model` accepts. */
export function modelNames(): string[] {
  return MODELS.flatMap((m) => [m.name, ...m.aliases]);
}

/** The entry of `name` (or an alias); an unknown name is a ConfigError with "did you mean". */
export function findModel(name: string): ModelEntry {
  const key = name.toLowerCase();
  const entry = MODELS.find((m) => m.name === key || m.aliases.includes(key));
  if (entry) return entry;
  const near = closestName(key, modelNames());
  const hint = near === undefined ? undefined : MODELS.find((m) => m.name === near || m.aliases.includes(near))!.name;
  throw new UsageError(`unknown model '${name}'${hint ? ` (did you mean '${hint}'?)` : ''}; known models: ${MODELS.map((m) => m.name).join(', ')}`);
}

/** The entry whose class wrote a model file of this `kind`. */
export function modelOfKind(kind: unknown): ModelEntry {
  const entry = MODELS.find((m) => m.className === kind);
  if (!entry) throw new FormatError(`the model file holds a ${String(kind)}, which the metatask command cannot use; known kinds: ${MODELS.map((m) => m.className).join(', ')}`);
  return entry;
}
