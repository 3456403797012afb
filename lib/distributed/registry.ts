/**
 * The classes a worker (a WorkerPool thread or a queue worker process) can rebuild: the models,
 * by their snapshot kind, and the argument classes (datasets, task samplers), by name. A test
 * checks that every such class of the public API is listed here.
 */
import { REVIVE, SNAPSHOT, type PortableClass, type SnapshotModel } from '../core/portable.js';
import { MultiTaskDataset } from '../data/dataset.js';
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
import { TemporalGroupRegression } from '../linear/temporalGroup.js';
import { TraceNormRegression } from '../linear/traceNorm.js';
import { FewShotTasks } from '../meta/fewShot.js';
import { iMAML } from '../meta/imaml.js';
import { ANIL, MAML } from '../meta/maml.js';
import { MetaRidge } from '../meta/metaRidge.js';
import { MetaSGD } from '../meta/metasgd.js';
import { Pretrained } from '../meta/pretrained.js';
import { ProtoNet } from '../meta/protoNet.js';
import { Reptile } from '../meta/reptile.js';
import { MultiTaskSplit, SinusoidTasks, TaskSplit } from '../meta/tasks.js';
import { MultiTaskNet } from '../mtl/multiTaskNet.js';
import type { ClassRegistry } from '../parallel/thread.js';

const MODELS: unknown[] = [
  MultiTaskElasticNet, MultiTaskLasso, MultiTaskElasticNetCV, MultiTaskLassoCV,
  IndependentRidge, PooledRidge, MeanRegularizedRegression, L21Regression, L21Logistic, TraceNormRegression,
  ClusteredRegression, ClusteredLogistic, DirtyRegression, RobustL21Regression, RobustL21Logistic,
  LowRankSparseRegression, GraphRegularizedRegression, TemporalGroupRegression,
  MultiTaskNet,
  MAML, ANIL, MetaSGD, Reptile, iMAML, Pretrained, ProtoNet, MetaRidge,
];

const PORTABLES: unknown[] = [MultiTaskDataset, SinusoidTasks, TaskSplit, MultiTaskSplit, FewShotTasks];

/** A model class's snapshot kind: its static `kind` (its model-file kind) or its class name. */
export function kindOf(cls: { name: string; kind?: unknown }): string {
  return typeof cls.kind === 'string' ? cls.kind : cls.name;
}

let registry: ClassRegistry | undefined;

export function classRegistry(): ClassRegistry {
  if (registry) return registry;
  const models = new Map<string, new (options: any) => SnapshotModel>();
  for (const m of MODELS) {
    const cls = m as { name: string; kind?: unknown; prototype: Record<PropertyKey, unknown> };
    if (typeof cls.prototype[SNAPSHOT] !== 'function') throw new Error(`registry: ${cls.name} takes no snapshots`);
    models.set(kindOf(cls), m as new (options: any) => SnapshotModel);
  }
  const portables = new Map<string, PortableClass>();
  for (const p of PORTABLES) {
    const cls = p as PortableClass & Record<PropertyKey, unknown>;
    if (typeof cls[REVIVE] !== 'function') throw new Error(`registry: ${cls.name} cannot be revived`);
    portables.set(cls.name, cls);
  }
  registry = { models, portables };
  return registry;
}
