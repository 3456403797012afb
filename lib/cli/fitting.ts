/**
 * Fitting a model of any family on a dataset read from a table: the options the data decides
 * (input width, tasks, a default network) completed around what the user gave, the few-shot
 * sampler of the meta-learners, the fit itself with progress, and the learning curve it traced.
 */
import { ConfigError, ValueError } from '../core/errors.js';
import type { Progress } from '../core/estimator.js';
import type { MultiTaskDataset } from '../data/dataset.js';
import { FewShotTasks } from '../meta/fewShot.js';
import { TaskSplit, type TaskSampler } from '../meta/tasks.js';
import type { Series } from '../plot/lineChart.js';
import type { CliModel, ModelEntry } from './models.js';

/** What the command line sets about a fit, besides the model's options. */
export interface FitSettings {
  /** MultiTaskNet: passes over the data, rows per step, a fraction held out for validation. */
  epochs?: number;
  batchSize?: number;
  validation?: number;
  /** Meta-learners: meta-iterations. Default 1000. */
  iterations?: number;
  /** Few-shot tasks: support rows per task (or per class), query rows, classes per episode, seed. */
  shots?: number;
  queries?: number;
  ways?: number;
  seed?: number;
}

/** The points of a fit's learning curve, gathered from its progress records. */
export interface Curve {
  series: Series[];
  xLabel: string;
  yLabel: string;
}

/** The progress record fields the curve reads (models add them to Progress). */
type CurveRecord = Progress & { valLoss?: number; dualGap?: number | null };

/** Features are standardised by default for networks and meta-learners, not for the linear models (whose penalties users tune on their own features). */
export function defaultScaling(entry: ModelEntry): 'standard' | 'none' {
  return entry.family === 'shared' || entry.family === 'tasks' ? 'none' : 'standard';
}

/** The unit of a fit's steps, as the progress bar names them. */
export function stepUnit(entry: ModelEntry): string {
  return entry.family === 'network' ? 'epochs' : entry.family === 'meta' || entry.family === 'episodic' ? 'iterations' : entry.family === 'shared' ? 'sweeps' : 'iterations';
}

/**
 * Build the model of `entry` with `options` (completed from the data), fit it on `dataset` and
 * return it with its learning curve. `onProgress` gets every progress record.
 */
export async function fitModel(entry: ModelEntry, options: Record<string, unknown>, dataset: MultiTaskDataset, settings: FitSettings, onProgress: (p: Progress) => void): Promise<{ cli: CliModel; curve: Curve }> {
  const steps: number[] = [];
  const loss: number[] = [];
  const valLoss: number[] = [];
  const gap: number[] = [];
  const record = (p: CurveRecord) => {
    onProgress(p);
    if (p.phase !== 'fit') return;
    steps.push(p.step);
    loss.push(p.loss ?? NaN);
    valLoss.push(p.valLoss ?? NaN);
    gap.push(p.dualGap ?? NaN);
  };
  const cli = entry.create(completeOptions(entry, options, dataset, settings));
  switch (cli.family) {
    case 'shared': {
      if (!dataset.shared) {
        throw new ConfigError(`model '${entry.name}' takes one X and one target column per task: give --targets a,b,... (or --target alone), not --task-column; for tasks with rows of their own use 'l21' or another per-task model`);
      }
      await cli.model.fit(dataset.shared.X, dataset.shared.Y, { onProgress: record });
      break;
    }
    case 'tasks':
      await cli.model.fit(dataset, { onProgress: record });
      break;
    case 'network':
      await cli.model.fit(dataset, {
        onProgress: record,
        ...(settings.epochs !== undefined ? { epochs: settings.epochs } : {}),
        ...(settings.batchSize !== undefined ? { batchSize: settings.batchSize } : {}),
        ...(settings.validation !== undefined ? { validation: settings.validation } : {}),
      });
      break;
    case 'meta':
      await cli.model.fit(samplerFor(entry, dataset, settings), { iterations: settings.iterations ?? 1000, onProgress: record });
      break;
    case 'episodic':
      await cli.model.fit(samplerFor(entry, dataset, settings), { iterations: settings.iterations ?? 1000, onProgress: record });
      break;
  }
  const series: Series[] = [];
  const has = (v: number[]) => v.some((x) => Number.isFinite(x));
  if (has(loss)) series.push({ name: entry.family === 'meta' || entry.family === 'episodic' ? 'meta-training loss' : entry.family === 'tasks' ? 'training objective' : 'training loss', x: steps, y: loss });
  if (has(valLoss)) series.push({ name: 'validation loss', x: steps, y: valLoss, dashed: true });
  const gapOnly = series.length === 0 && has(gap);
  if (gapOnly) series.push({ name: 'duality gap', x: steps, y: gap });
  const xLabel = stepUnit(entry).replace(/s$/, '');
  return { cli, curve: { series, xLabel, yLabel: gapOnly ? 'duality gap' : entry.family === 'tasks' ? 'objective' : 'loss' } };
}

/** Whether the few-shot tasks are episodes of one classification task (FewShotTasks) rather than the dataset's tasks (TaskSplit). */
function episodesOfOneTask(dataset: MultiTaskDataset): boolean {
  return dataset.nTasks === 1 && dataset.tasks[0]!.type !== 'regression';
}

/**
 * The few-shot tasks of a meta-learner: each task of the dataset split into `shots` support rows
 * and query rows (TaskSplit), or, for one classification task, N-way K-shot episodes of its
 * classes (FewShotTasks).
 */
export function samplerFor(entry: ModelEntry, dataset: MultiTaskDataset, settings: FitSettings): TaskSampler {
  const seed = settings.seed ?? 0;
  if (episodesOfOneTask(dataset)) {
    const task = dataset.tasks[0]!;
    const shots = settings.shots ?? 5;
    // Default queries: 15 per class (the usual protocol), fewer when the smallest class has fewer rows left.
    const counts = new Map<number, number>();
    for (const v of task.y) counts.set(v, (counts.get(v) ?? 0) + 1);
    const queries = settings.queries ?? Math.max(1, Math.min(15, Math.min(...counts.values()) - shots));
    return new FewShotTasks({ X: task.X, labels: task.y }, { ways: settings.ways ?? Math.min(5, counts.size), shots, queries, seed });
  }
  if (dataset.nTasks < 2) {
    throw new ValueError(`model '${entry.name}' learns from many tasks, and the data has one: give --task-column (a column naming each row's task), or class labels (--type multiclass) for few-shot episodes`);
  }
  return new TaskSplit(dataset, { shots: settings.shots ?? 10, seed, ...(settings.queries !== undefined ? { queries: settings.queries } : {}) });
}

/** The model's options: the user's, completed with what the data decides. */
function completeOptions(entry: ModelEntry, given: Record<string, unknown>, dataset: MultiTaskDataset, settings: FitSettings): Record<string, unknown> {
  const d = dataset.nFeatures;
  const type = dataset.tasks[0]!.type;
  if (entry.family === 'network') {
    const tasks = dataset.tasks.map((t) => (t.type === 'multiclass' ? { name: t.name, type: t.type, classes: t.classes! } : { name: t.name, type: t.type }));
    return { inputSize: d, tasks, ...given };
  }
  if (entry.family !== 'meta' && entry.family !== 'episodic') return given;
  const episodes = episodesOfOneTask(dataset);
  const ways = settings.ways ?? Math.min(5, dataset.tasks[0]!.classes?.length ?? 2);
  let loss: string | undefined;
  let outputSize: number | undefined;
  if (entry.family === 'meta') {
    loss = episodes ? 'softmax-ce' : type === 'regression' ? 'mse' : type === 'binary' ? 'bce-logits' : 'softmax-ce';
    outputSize = episodes ? ways : type === 'multiclass' ? dataset.tasks[0]!.classes!.length : 1;
    if (!episodes && type === 'multiclass') throw new ConfigError(`model '${entry.name}' on several multiclass tasks: give one class column without --task-column for few-shot episodes`);
  } else {
    loss = entry.name === 'metaridge' ? (type === 'regression' ? 'mse' : 'softmax-ce') : undefined;
    if (entry.name === 'protonet' && type === 'regression') throw new ConfigError("model 'protonet' classifies: give class labels (--type multiclass or binary)");
  }
  const defaults = entry.family === 'meta' ? { inputSize: d, hidden: [40, 40], outputSize } : { inputSize: d, hidden: [64], outputSize: 64 };
  const network = given.network;
  const mlp = network === undefined || (typeof network === 'object' && network !== null && !('nodes' in network) && !('tasks' in network));
  return {
    ...(loss !== undefined && given.loss === undefined ? { loss } : {}),
    ...given,
    network: mlp ? { ...defaults, ...(network as object | undefined) } : network,
  };
}
