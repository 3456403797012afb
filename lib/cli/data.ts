/**
 * How a table maps to a model, and the data built from it. Two layouts:
 * - 'tasks': one row per example and a column naming its task (`--task-column school --target
 *   score`): every task has rows of its own, as in the School data;
 * - 'shared': one row per input and one target column per task (`--targets a,b,c`; a single
 *   `--target` without a task column is the one-task case); an empty cell is a missing label.
 * `fit` records the schema (columns, task names, task type, the feature scaling it fitted) in the
 * model file, so `predict` and `evaluate` read later tables the same way.
 */
import { ConfigError, ValueError } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { didYouMean, listKnown } from '../core/suggest.js';
import { MultiTaskDataset, StandardScaler, type TaskInput, type TaskType } from '../data/dataset.js';
import { csvOption, stringOption, UsageError, type Args } from './command.js';
import { checkColumns, readTable, type Table } from './table.js';

export interface DataSchema {
  layout: 'tasks' | 'shared';
  /** Feature columns, in the order the model reads them. */
  features: string[];
  /** 'tasks': the column naming each row's task, and the target column. */
  taskColumn?: string;
  target?: string;
  /** 'shared': one target column per task (the task's name). */
  targets?: string[];
  /** The type of every task. */
  taskType: TaskType;
  /** The tasks the model was fitted on, in its order. */
  tasks: string[];
  /** The feature standardisation fitted on the training table, applied to every later table. */
  scaler?: { mean: number[]; scale: number[] };
}

/** The data options shared by the commands that read a training table. */
export const DATA_OPTIONS = {
  'task-column': { type: 'string', value: '<column>', description: "the column naming each row's task (one row per example)" },
  target: { type: 'string', value: '<column>', description: 'the target column (with --task-column; alone: a single task)' },
  targets: { type: 'string', value: '<a,b,...>', description: 'one target column per task, for shared inputs (an empty cell: no label)' },
  features: { type: 'string', value: '<a,b,...>', description: 'the feature columns (default: every other column)' },
  ignore: { type: 'string', value: '<a,b,...>', description: 'columns that are neither features nor targets (ids, names)' },
  type: { type: 'string', value: '<type>', description: "task type: regression, binary or multiclass (default from the model, else regression)" },
} as const;

const TASK_TYPES: readonly TaskType[] = ['regression', 'binary', 'multiclass'];

/** The schema a training table gets from the command line (tasks and scaler filled in later). */
export function schemaFromArgs(args: Args, header: readonly string[], source: string, defaultType: TaskType): Omit<DataSchema, 'tasks'> {
  const taskColumn = stringOption(args, 'task-column');
  const target = stringOption(args, 'target');
  const targets = csvOption(args, 'targets');
  const ignore = csvOption(args, 'ignore') ?? [];
  const typeArg = stringOption(args, 'type');
  if (typeArg !== undefined && !(TASK_TYPES as readonly string[]).includes(typeArg)) {
    throw new UsageError(`option '--type' must be one of 'regression', 'binary', 'multiclass', got '${typeArg}'${didYouMean(typeArg, TASK_TYPES)}`);
  }
  const taskType = (typeArg as TaskType | undefined) ?? defaultType;
  if (targets && (target || taskColumn)) throw new UsageError("give either --targets a,b,... (one column per task) or --target with an optional --task-column, not both");
  if (!targets && !target) throw new UsageError('which column is the target? give --target <column> (with --task-column <column> when a column names the task), or --targets a,b,... for one column per task');
  const used = [...(taskColumn ? [taskColumn] : []), ...(target ? [target] : []), ...(targets ?? []), ...ignore];
  checkColumns(header, used, source);
  const features = csvOption(args, 'features') ?? header.filter((h) => !used.includes(h));
  checkColumns(header, features, source);
  const clash = features.find((f) => used.includes(f));
  if (clash) throw new UsageError(`column '${clash}' cannot be a feature and also the task column, a target or ignored`);
  if (features.length === 0) throw new UsageError(`${source}: no feature columns are left (columns: ${header.join(', ')})`);
  if (taskColumn) {
    if (!target) throw new UsageError(`with --task-column, give --target <column>: the column to predict`);
    return { layout: 'tasks', features, taskColumn, target, taskType };
  }
  return { layout: 'shared', features, targets: targets ?? [target!], taskType };
}

/** Read a training table: features and targets as numbers, the task column as text. */
export function readTrainingTable(path: string, args: Args, defaultType: TaskType): { table: Table; schema: Omit<DataSchema, 'tasks'> } {
  let schema: Omit<DataSchema, 'tasks'> | undefined;
  const table = readTable(path, (header, source) => {
    schema = schemaFromArgs(args, header, source, defaultType);
    const targets = schema.layout === 'tasks' ? [schema.target!] : schema.targets!;
    return { numeric: [...schema.features, ...targets], missing: schema.layout === 'shared' ? targets : [] };
  });
  return { table, schema: schema! };
}

/**
 * Read a table for a fitted model: its features (and its targets when `withTargets`) as numbers.
 * In the 'tasks' layout the task column is required.
 */
export function readTableFor(path: string, schema: DataSchema, withTargets: boolean): Table {
  return readTable(path, (header, source) => {
    if (schema.layout === 'tasks') checkColumns(header, [schema.taskColumn!], source);
    const targets = !withTargets ? [] : schema.layout === 'tasks' ? [schema.target!] : schema.targets!;
    checkColumns(header, [...schema.features, ...targets], source);
    return { numeric: [...schema.features, ...targets], missing: schema.layout === 'shared' ? targets : [] };
  });
}

/** The feature matrix of every row (standardised when the schema has a scaler). */
export function featureMatrix(table: Table, schema: DataSchema): Matrix<Float64Array> {
  const d = schema.features.length;
  const data = new Float64Array(table.rows * d);
  schema.features.forEach((f, j) => {
    const col = table.numbers.get(f)!;
    for (let i = 0; i < table.rows; i++) data[i * d + j] = col[i]!;
  });
  const X = { rows: table.rows, cols: d, data };
  return schema.scaler ? new StandardScaler(Float64Array.from(schema.scaler.mean), Float64Array.from(schema.scaler.scale)).transform(X) : X;
}

/** The target matrix of the 'shared' layout (rows x tasks, NaN for a missing label). */
export function targetMatrix(table: Table, schema: DataSchema): Matrix<Float64Array> {
  const names = schema.targets!;
  const T = names.length;
  const data = new Float64Array(table.rows * T);
  names.forEach((name, t) => {
    const col = table.numbers.get(name)!;
    for (let i = 0; i < table.rows; i++) data[i * T + t] = col[i]!;
  });
  return { rows: table.rows, cols: T, data };
}

/** The rows of each task, in order of first appearance ('tasks' layout). */
export function rowsByTask(table: Table, schema: DataSchema): Map<string, number[]> {
  const names = table.text.get(schema.taskColumn!)!;
  const groups = new Map<string, number[]>();
  names.forEach((name, i) => {
    if (name === '') throw new ValueError(`${table.source} row ${i + 1}: the task column '${schema.taskColumn}' is empty`);
    let g = groups.get(name);
    if (!g) groups.set(name, (g = []));
    g.push(i);
  });
  return groups;
}

/** Rows `idx` of a matrix. */
export function pickRows(m: Matrix<Float64Array>, idx: readonly number[]): Matrix<Float64Array> {
  const d = m.cols;
  const data = new Float64Array(idx.length * d);
  idx.forEach((r, i) => data.set(m.data.subarray(r * d, (r + 1) * d), i * d));
  return { rows: idx.length, cols: d, data };
}

/** A labelled table as a MultiTaskDataset of the schema's layout and task type. */
export function datasetOf(table: Table, schema: DataSchema | Omit<DataSchema, 'tasks'>): MultiTaskDataset {
  const X = featureMatrix(table, schema as DataSchema);
  if (schema.layout === 'shared') {
    return MultiTaskDataset.fromShared(X, targetMatrix(table, schema as DataSchema), { names: schema.targets!, types: schema.taskType });
  }
  const y = table.numbers.get(schema.target!)!;
  const tasks: TaskInput[] = [];
  for (const [name, rows] of rowsByTask(table, schema as DataSchema)) {
    tasks.push({ name, X: pickRows(X, rows), y: Float64Array.from(rows, (r) => y[r]!), type: schema.taskType });
  }
  return new MultiTaskDataset(tasks);
}

/** Fit the feature scaler on a training dataset; returns the standardised dataset and the schema's scaler. */
export function standardize(dataset: MultiTaskDataset): { dataset: MultiTaskDataset; scaler: { mean: number[]; scale: number[] } } {
  const { dataset: scaled, scaler } = dataset.standardize();
  return { dataset: scaled, scaler: { mean: Array.from(scaler.mean), scale: Array.from(scaler.scale) } };
}

/** Every task of `names` is one the model knows (else a ValueError with "did you mean"). */
export function checkKnownTasks(names: Iterable<string>, schema: DataSchema, source: string): void {
  for (const name of names) {
    if (!schema.tasks.includes(name)) {
      throw new ValueError(`${source}: task '${name}' is not one the model was fitted on${didYouMean(name, schema.tasks)}; its tasks: ${listKnown(schema.tasks)}`);
    }
  }
}

/** A schema read back from a model file, checked enough to be used. */
export function schemaFromFile(data: unknown, path: string): DataSchema {
  const s = data as Partial<DataSchema> | undefined;
  const ok =
    s !== null &&
    typeof s === 'object' &&
    (s.layout === 'tasks' || s.layout === 'shared') &&
    Array.isArray(s.features) &&
    Array.isArray(s.tasks) &&
    (s.layout === 'shared' ? Array.isArray(s.targets) : typeof s.taskColumn === 'string' && typeof s.target === 'string');
  if (!ok) {
    throw new ConfigError(
      `${path} was not written by 'metatask fit', so it does not say which columns of a table the model reads; ` +
        'fit it with the metatask command, or use it from code (Model.load)',
    );
  }
  return s as DataSchema;
}

/**
 * A training table read as a dataset: the table, the dataset (features standardised when
 * `scaling` is 'standard') and the complete schema to record in the model file.
 */
export function trainingData(path: string, args: Args, defaultType: TaskType, scaling: 'standard' | 'none'): { table: Table; dataset: MultiTaskDataset; schema: DataSchema } {
  const { table, schema: draft } = readTrainingTable(path, args, defaultType);
  let dataset = datasetOf(table, draft);
  let scaler: DataSchema['scaler'];
  if (scaling === 'standard') ({ dataset, scaler } = standardize(dataset));
  return { table, dataset, schema: { ...draft, tasks: dataset.names, ...(scaler ? { scaler } : {}) } };
}
