/**
 * `metatask evaluate`: a fitted model's metrics on a labelled table, per task (loss, R² or
 * accuracy, ...), or for a meta-learner its loss after 0, 1, 10... adaptation steps on few-shot
 * tasks drawn from the table; --plot draws them as SVG.
 */
import type { Evaluation } from '../../core/estimator.js';
import type { EvaluationRow } from '../../meta/learner.js';
import { barChart } from '../../plot/barChart.js';
import { lineChart } from '../../plot/lineChart.js';
import { formatNumber } from '../../plot/scale.js';
import { evaluateFewShot, evaluateTable, headlineMetric, meanMetric } from '../apply.js';
import { numberOption, Output, positionals, stringOption, UsageError, type Command } from '../command.js';
import { applyBackend, BACKEND_OPTIONS, FEW_SHOT_OPTIONS, fitSettings, stepsOption, writePlot } from '../common.js';
import { readTableFor } from '../data.js';
import { loadModelFile } from '../modelFile.js';

const METRICS = ['r2', 'mse', 'mae', 'accuracy', 'logloss', 'loss'] as const;

export const evaluate: Command = {
  name: 'evaluate',
  summary: "a model's metrics per task on a labelled table",
  usage: 'metatask evaluate [options] <model.json> <data.csv|data.json|->',
  description: `Reads the model file written by 'metatask fit' and a table with its feature and
target columns; prints each task's metrics (regression: loss = mse, mae, r2; classification:
loss = logloss, accuracy) and their means, or one JSON object with --json.

Meta-learners adapt to each task first: from its rows in a --support table, or, with --tasks <n>,
on n few-shot tasks drawn from the table (--shots rows to adapt from, the rest to measure), which
reports the loss after each number of adaptation steps (--steps 0,1,10).`,
  options: {
    support: { type: 'string', value: '<file>', description: 'meta-learners: labelled rows of each task to adapt from' },
    tasks: { type: 'string', value: '<n>', description: 'meta-learners: draw n few-shot tasks from the table instead' },
    steps: { type: 'string', value: '<list>', description: 'meta-learners: adaptation steps (with --support: one number; with --tasks: a list, default 0,1,10)' },
    ...FEW_SHOT_OPTIONS,
    plot: { type: 'string', value: '<file.svg>', description: 'write the per-task metric (or the loss per adaptation step) as an SVG chart' },
    metric: { type: 'string', value: '<name>', description: `the metric to plot: ${METRICS.join(', ')} (default r2, or accuracy for classification)` },
    ...BACKEND_OPTIONS,
  },
  examples: ['metatask evaluate model.json test.csv', 'metatask evaluate --plot r2.svg --json model.json test.csv', 'metatask evaluate --tasks 200 --shots 10 --steps 0,1,5,10 maml.json new-schools.csv'],
  async run(args, io) {
    const out = new Output(io, args);
    const [modelPath, input] = positionals(args, ['model.json', 'data']);
    applyBackend(args);
    const { cli, entry, schema } = loadModelFile(modelPath!);
    const table = readTableFor(input!, schema, true);
    const plot = stringOption(args, 'plot');
    const nTasks = numberOption(args, 'tasks', { integer: true, min: 1 });
    const steps = stepsOption(args);
    if (nTasks !== undefined) {
      const rows = evaluateFewShot(cli, entry, schema, table, { ...fitSettings(args), tasks: nTasks, ...(steps ? { steps } : {}) });
      if (plot !== undefined) writePlot(plot, stepsChart(rows, `${entry.name} on ${nTasks} new tasks from ${table.source}`));
      out.result({ model: entry.name, tasks: nTasks, rows }, renderSteps(rows));
      return 0;
    }
    if (steps !== undefined && steps.length !== 1) throw new UsageError('with --support, --steps takes one number of adaptation steps');
    const supportPath = stringOption(args, 'support');
    const support = supportPath === undefined ? undefined : readTableFor(supportPath, schema, true);
    const ev = evaluateTable(cli, schema, table, support, steps ? { steps: steps[0]! } : {});
    const metricArg = stringOption(args, 'metric');
    const metric = metricArg ?? headlineMetric(ev);
    if (metricArg !== undefined && !Object.values(ev.tasks).some((m) => m[metric] !== undefined)) {
      const known = Object.keys(Object.values(ev.tasks)[0] ?? {}).filter((k) => k !== 'n');
      throw new UsageError(`option '--metric': this evaluation has no metric '${metricArg}'; it has ${known.join(', ')}`);
    }
    if (plot !== undefined) writePlot(plot, metricChart(ev, metric, `${entry.name} (${entry.className}) on ${table.source}`));
    const head = headlineMetric(ev);
    out.result({ model: entry.name, ...ev, mean: { loss: ev.loss, [head]: meanMetric(ev, head) } }, renderEvaluation(ev));
    return 0;
  },
};

/** Per-task metrics as an aligned text table, with the means last ('loss' is shown as the metric it equals, mse or logloss). */
function renderEvaluation(ev: Evaluation): string {
  const names = Object.keys(ev.tasks);
  const metrics = [...new Set(Object.values(ev.tasks).flatMap((m) => Object.keys(m)))].filter((k) => k !== 'n');
  const shown = metrics.includes('mse') || metrics.includes('logloss') ? metrics.filter((k) => k !== 'loss') : metrics;
  const header = ['task', 'n', ...shown];
  const rows = names.map((name) => {
    const m = ev.tasks[name]!;
    return [name, String(m.n), ...shown.map((k) => (m[k] === undefined ? '' : formatNumber(m[k]!)))];
  });
  rows.push(['mean', '', ...shown.map((k) => formatNumber(meanMetric(ev, k)))]);
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j]!.length)));
  const line = (cells: string[]) => cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

function renderSteps(rows: readonly EvaluationRow[]): string {
  const lines = ['steps  loss (95% interval)' + (rows.some((r) => r.accuracy !== undefined) ? '  accuracy (95% interval)' : '')];
  for (const r of rows) {
    const acc = r.accuracy !== undefined ? `  ${formatNumber(r.accuracy)} ± ${formatNumber(r.accuracyCi95 ?? NaN)}` : '';
    lines.push(`${String(r.steps).padStart(5)}  ${formatNumber(r.loss)} ± ${formatNumber(r.lossCi95)}${acc}`);
  }
  return lines.join('\n');
}

/** A bar per task of `metric`. */
function metricChart(ev: Evaluation, metric: string, subtitle: string): string {
  const label = metric === 'r2' ? 'R²' : metric;
  const better = metric === 'r2' || metric === 'accuracy' ? 'higher' : 'lower';
  const bars = Object.entries(ev.tasks).map(([name, m]) => ({ label: name, value: m[metric] ?? NaN }));
  return barChart({ title: `${label} per task`, subtitle, panels: [{ title: `${label} (mean ${formatNumber(meanMetric(ev, metric))})`, better, bars }] });
}

/** The query loss after each number of adaptation steps. */
function stepsChart(rows: readonly EvaluationRow[], subtitle: string): string {
  const x = rows.map((r) => r.steps);
  return lineChart({
    title: 'Loss after adaptation',
    subtitle,
    series: [{ name: 'query loss: mean and 95% interval over tasks', x, y: rows.map((r) => r.loss), band: { lo: rows.map((r) => r.loss - r.lossCi95), hi: rows.map((r) => r.loss + r.lossCi95) }, markers: true }],
    xLabel: 'adaptation steps',
    yLabel: 'loss',
    yScale: 'linear',
  });
}
