/**
 * `metatask fit`: read a table, fit a model of any family on it with progress, write the model
 * file (with the columns it reads) and, with --plot, the learning curve as SVG.
 */
import { lineChart } from '../../plot/lineChart.js';
import { MODELS, findModel } from '../models.js';
import { choiceOption, Output, positionals, stringOption, UsageError, type Command } from '../command.js';
import { applyBackend, BACKEND_OPTIONS, FEW_SHOT_OPTIONS, fitSettings, MODEL_OPTIONS, modelOptions, PROGRESS_OPTIONS, progressReporter, TRAINING_OPTIONS, writePlot } from '../common.js';
import { DATA_OPTIONS, trainingData } from '../data.js';
import { defaultScaling, fitModel, stepUnit } from '../fitting.js';
import { saveModelFile } from '../modelFile.js';
import { evaluateTable, headlineMetric, meanMetric } from '../apply.js';
import { formatNumber } from '../../plot/scale.js';

const nameWidth = Math.max(...MODELS.map((m) => m.name.length)) + 2;
const modelList = MODELS.map((m) => `  ${m.name.padEnd(nameWidth)}${m.summary}`).join('\n');

export const fit: Command = {
  name: 'fit',
  summary: 'fit a model on a CSV or JSON table and write the model file',
  usage: 'metatask fit --model <name> (--target <column> [--task-column <column>] | --targets <a,b,...>) -o <model.json> [options] <data.csv|data.json|->',
  description: `Reads the table (a CSV file with a header line, a JSON array of records, or '-' for
standard input), fits the model and writes it to the --output file, which 'metatask predict' and
'metatask evaluate' read, and which the library reads with <Model>.load(path).

Data layouts:
  --task-column <c> --target <y>   one row per example; column c names its task
  --targets <y1,y2,...>            one row per input; one target column per task
  --target <y>                     one task (with class labels: few-shot episodes for meta-learners)

Models (--model):
${modelList}`,
  options: {
    model: { type: 'string', short: 'm', value: '<name>', description: 'the model (list above)' },
    output: { type: 'string', short: 'o', value: '<model.json>', description: 'the model file to write' },
    ...DATA_OPTIONS,
    scale: { type: 'string', value: '<how>', description: 'standard (centre and scale every feature) or none; default standard for networks and meta-learners, none for the linear models' },
    ...MODEL_OPTIONS,
    ...TRAINING_OPTIONS,
    ...FEW_SHOT_OPTIONS,
    plot: { type: 'string', value: '<file.svg>', description: 'write the learning curve as an SVG chart' },
    ...PROGRESS_OPTIONS,
    ...BACKEND_OPTIONS,
  },
  examples: [
    'metatask fit --model l21 --task-column school --target score -o model.json school.csv',
    'metatask fit --model lasso --targets y1,y2,y3 --set alpha=0.05 -o lasso.json data.csv',
    'metatask fit --model mtnet --task-column school --target score --epochs 30 --validation 0.2 --plot curve.svg -o net.json school.csv',
    'metatask fit --model maml --task-column school --target score --iterations 2000 --shots 10 --set innerLr=0.05 -o maml.json school.csv',
  ],
  async run(args, io) {
    const out = new Output(io, args);
    const [input] = positionals(args, ['data']);
    const name = stringOption(args, 'model');
    if (name === undefined) throw new UsageError("which model? give --model <name>, e.g. --model l21 ('metatask fit --help' lists them)");
    const entry = findModel(name);
    const file = stringOption(args, 'output');
    if (file === undefined) throw new UsageError('where to write the model? give -o <model.json>');
    applyBackend(args);
    const options = modelOptions(args);
    const settings = fitSettings(args);
    if (settings.seed !== undefined && options.seed === undefined) options.seed = settings.seed;
    const scaling = choiceOption(args, 'scale', ['standard', 'none'] as const) ?? defaultScaling(entry);

    const { table, dataset, schema } = trainingData(input!, args, entry.taskType ?? 'regression', scaling);

    const progress = progressReporter(args, io, stepUnit(entry));
    const started = performance.now();
    let fitted;
    try {
      fitted = await fitModel(entry, options, dataset, settings, progress.update);
    } finally {
      progress.finish();
    }
    const seconds = (performance.now() - started) / 1000;
    saveModelFile(file, fitted.cli, schema);

    const plot = stringOption(args, 'plot');
    if (plot !== undefined) {
      const { series, xLabel, yLabel } = fitted.curve;
      writePlot(plot, lineChart({ title: `Learning curve: ${entry.name} (${entry.className})`, subtitle: `${table.source}: ${dataset.nTasks} tasks, ${dataset.nRows} rows, ${dataset.nFeatures} features`, series, xLabel, yLabel }));
    }
    // The training score says at once whether the fit learned anything (meta-learners have none: they adapt per task).
    const training = entry.family === 'meta' || entry.family === 'episodic' ? undefined : evaluateTable(fitted.cli, schema, table, undefined, {});
    const lastLoss = [...(fitted.curve.series[0]?.y ? Array.from(fitted.curve.series[0].y) : [])].filter(Number.isFinite).pop();
    const result = {
      model: entry.name,
      kind: entry.className,
      file,
      tasks: dataset.nTasks,
      rows: dataset.nRows,
      features: dataset.nFeatures,
      seconds: Number(seconds.toFixed(3)),
      ...(lastLoss !== undefined ? { finalLoss: lastLoss } : {}),
      ...(training ? { training: { loss: training.loss, [headlineMetric(training)]: meanMetric(training, headlineMetric(training)) } } : {}),
      ...(plot !== undefined ? { plot } : {}),
    };
    const lines = [
      `fitted ${entry.name} (${entry.className}) on ${dataset.nTasks} task${dataset.nTasks === 1 ? '' : 's'}, ${dataset.nRows} rows, ${dataset.nFeatures} features in ${seconds.toFixed(1)} s`,
      ...(training ? [`on the training rows: loss ${formatNumber(training.loss)}, ${headlineMetric(training) === 'r2' ? 'R²' : 'accuracy'} ${formatNumber(meanMetric(training, headlineMetric(training)))} (means over tasks)`] : []),
      `model written to ${file}`,
      ...(plot !== undefined ? [`learning curve written to ${plot}`] : []),
    ];
    out.result(result, lines.join('\n'));
    return 0;
  },
};
