/**
 * A fitted model applied to a table: predictions in the table's row order, and per-task metrics.
 * Meta-learners first adapt to each task from its rows in a support table (the few labelled
 * examples of a new task); without one, `evaluate` draws few-shot tasks from the table itself.
 */
import { ConfigError, ValueError } from '../core/errors.js';
import type { Evaluation, TaskMetrics } from '../core/estimator.js';
import type { Matrix } from '../core/matrix.js';
import { evaluation } from '../metrics/task.js';
import { AdaptedModel } from '../meta/adaptedModel.js';
import type { EvaluationRow } from '../meta/learner.js';
import { checkKnownTasks, datasetOf, featureMatrix, pickRows, rowsByTask, targetMatrix, type DataSchema } from './data.js';
import { samplerFor, type FitSettings } from './fitting.js';
import type { CliModel, ModelEntry } from './models.js';
import type { Column, Table } from './table.js';

type Values = ArrayLike<number>;

/** The model of one task as prediction needs it: values or labels, and P(y = 1) of a binary task. */
interface TaskPredictor {
  predict(X: Matrix<Float64Array>): Values;
  probability?(X: Matrix<Float64Array>): Values;
}

/** A meta-learner adapted to one task: a predictor that also measures itself on labelled rows. */
interface AdaptedPredictor extends TaskPredictor {
  evaluate(X: Matrix<Float64Array>, y: Float64Array): TaskMetrics;
}

/** How a meta-learner adapts (the command line's --steps). */
export interface AdaptSettings {
  steps?: number;
}

/** Predictions for every row of `table`, as output columns (the task column first in the 'tasks' layout). */
export function predictTable(cli: CliModel, schema: DataSchema, table: Table, support: Table | undefined, adapt: AdaptSettings): Column[] {
  const X = featureMatrix(table, schema);
  if (schema.layout === 'shared') {
    const out: Column[] = [];
    for (const [t, name] of schema.targets!.entries()) {
      const p = predictorFor(cli, schema, name, t, support, adapt);
      out.push({ name, values: p.predict(X) });
      if (p.probability) out.push({ name: `${name}_probability`, values: p.probability(X) });
    }
    return out;
  }
  const groups = rowsByTask(table, schema);
  checkKnownTasksUnlessMeta(cli, groups.keys(), schema, table.source);
  const prediction = new Float64Array(table.rows);
  let probability: Float64Array | undefined;
  for (const [name, rows] of groups) {
    const p = predictorFor(cli, schema, name, schema.tasks.indexOf(name), support, adapt);
    const Xt = pickRows(X, rows);
    const v = p.predict(Xt);
    rows.forEach((r, i) => (prediction[r] = v[i]!));
    if (p.probability) {
      probability ??= new Float64Array(table.rows).fill(NaN);
      const q = p.probability(Xt);
      rows.forEach((r, i) => (probability![r] = q[i]!));
    }
  }
  return [
    { name: schema.taskColumn!, values: table.text.get(schema.taskColumn!)! },
    { name: 'prediction', values: prediction },
    ...(probability ? [{ name: 'probability', values: probability }] : []),
  ];
}

/** Per-task metrics on a labelled table (the model's evaluate, or adapt-then-evaluate for meta-learners). */
export function evaluateTable(cli: CliModel, schema: DataSchema, table: Table, support: Table | undefined, adapt: AdaptSettings): Evaluation {
  switch (cli.family) {
    case 'shared': {
      const ev = cli.model.evaluate(featureMatrix(table, schema), targetMatrix(table, schema));
      // The model keys tasks by column index; the table names them.
      return evaluation(Object.fromEntries(schema.targets!.map((name, t) => [name, ev.tasks[String(t)]!])));
    }
    case 'tasks': {
      const data = datasetOf(table, schema);
      checkKnownTasks(data.names, schema, table.source);
      return cli.model.evaluate(data);
    }
    case 'network':
      return cli.model.evaluate(datasetOf(table, schema));
    default: {
      if (!support) throw new ConfigError('a meta-learner adapts to each task from labelled examples first: give --support <file>, or --tasks <n> to draw few-shot tasks from the table');
      const data = datasetOf(table, schema);
      const tasks: Record<string, TaskMetrics> = {};
      for (const task of data.tasks) tasks[task.name] = adaptedPredictor(cli, schema, task.name, support, adapt).evaluate(task.X, task.y);
      return evaluation(tasks);
    }
  }
}

/** A meta-learner's query loss (and accuracy) after each number of adaptation steps, over few-shot tasks drawn from `table`. */
export function evaluateFewShot(cli: CliModel, entry: ModelEntry, schema: DataSchema, table: Table, settings: FitSettings & { tasks: number; steps?: number[] }): EvaluationRow[] {
  const sampler = samplerFor(entry, datasetOf(table, schema), settings);
  if (cli.family === 'meta') return cli.model.evaluate(sampler, { tasks: settings.tasks, ...(settings.steps ? { steps: settings.steps } : {}) });
  if (cli.family === 'episodic') return cli.model.evaluate(sampler, { tasks: settings.tasks });
  throw new ConfigError(`--tasks draws few-shot tasks for a meta-learner; a ${entry.className} is evaluated on the table's rows (leave --tasks out)`);
}

/** A model of a meta family adapts to any task; the others know only the tasks they were fitted on. */
function checkKnownTasksUnlessMeta(cli: CliModel, names: Iterable<string>, schema: DataSchema, source: string): void {
  if (cli.family !== 'meta' && cli.family !== 'episodic') checkKnownTasks(names, schema, source);
}

/** The predictor of task `name` (column `t` of the model's tasks). */
function predictorFor(cli: CliModel, schema: DataSchema, name: string, t: number, support: Table | undefined, adapt: AdaptSettings): TaskPredictor {
  switch (cli.family) {
    case 'shared': {
      const model = cli.model;
      return { predict: (X) => column(model.predict(X), t) };
    }
    case 'tasks': {
      const model = cli.model;
      const proba = model.predictProba?.bind(model);
      return {
        predict: (X) => model.predict(name, X),
        ...(proba ? { probability: (X: Matrix<Float64Array>) => proba(name, X) } : {}),
      };
    }
    case 'network': {
      const net = cli.model;
      const binary = net.config.tasks[t]?.type === 'binary';
      return {
        predict: (X) => net.predict(X)[name]!,
        ...(binary ? { probability: (X: Matrix<Float64Array>) => net.predictProba(X)[name] as Values } : {}),
      };
    }
    default:
      return adaptedPredictor(cli, schema, name, support, adapt);
  }
}

/** Column t of an n x T matrix. */
function column(m: Matrix<Float64Array>, t: number): Float64Array {
  return Float64Array.from({ length: m.rows }, (_, i) => m.data[i * m.cols + t]!);
}

/**
 * A meta-learner adapted to task `name` from its rows in the support table (every row, in the
 * 'shared' layout). Class labels of a softmax head are mapped to 0..C-1 for adaptation and back.
 */
function adaptedPredictor(cli: CliModel & { family: 'meta' | 'episodic' }, schema: DataSchema, name: string, support: Table | undefined, adapt: AdaptSettings): AdaptedPredictor {
  if (!support) throw new ConfigError(`a ${cli.model.kind} predicts for a task after adapting to a few labelled rows of it: give --support <file> (a table with the target column)`);
  const rows = schema.layout === 'tasks' ? rowsByTask(support, schema).get(name) : Array.from({ length: support.rows }, (_, i) => i);
  if (!rows || rows.length === 0) throw new ValueError(`${support.source} has no labelled rows of task '${name}': the model adapts to a task from its support rows`);
  const X = pickRows(featureMatrix(support, schema), rows);
  const target = schema.layout === 'tasks' ? schema.target! : schema.targets![0]!;
  const yAll = support.numbers.get(target)!;
  const y = Float64Array.from(rows, (r) => yAll[r]!);
  if (cli.family === 'episodic') {
    const m = cli.model.adapt({ X, y });
    return { predict: (q) => m.predict(q), evaluate: (q, yq) => m.evaluate({ X: q, y: yq }) };
  }
  const learner = cli.model;
  const classes = learner.loss === 'softmax-ce' ? [...new Set(y)].sort((a, b) => a - b) : undefined;
  const index = (v: number, where: string) => {
    const k = classes!.indexOf(v);
    if (k < 0) throw new ValueError(`${where}: label ${v} is not among the support labels ${classes!.join(', ')}`);
    return k;
  };
  const adapted = learner.adapt({ X, y: classes ? y.map((v) => index(v, support.source)) : y }, adapt.steps !== undefined ? { steps: adapt.steps } : undefined);
  if (!(adapted instanceof AdaptedModel)) throw new ConfigError('the command adapts single-task networks; use a multi-task network from code');
  return {
    predict: (q) => {
      const p = adapted.predict(q);
      return classes ? Float64Array.from(p, (k) => classes[k]!) : p;
    },
    ...(learner.loss === 'bce-logits' ? { probability: (q: Matrix<Float64Array>) => adapted.predictProba(q) as Values } : {}),
    evaluate: (q, yq) => adapted.evaluate({ X: q, y: classes ? yq.map((v) => index(v, 'the evaluation table')) : yq }),
  };
}

/** The headline metric of an evaluation: R² for regression, accuracy for classification. */
export function headlineMetric(ev: Evaluation): 'r2' | 'accuracy' {
  return Object.values(ev.tasks).some((m) => m.accuracy !== undefined) ? 'accuracy' : 'r2';
}

/** The mean over tasks (with rows) of a metric. */
export function meanMetric(ev: Evaluation, metric: string): number {
  const values = Object.values(ev.tasks)
    .filter((m) => m.n > 0 && m[metric] !== undefined)
    .map((m) => m[metric]!);
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}
