/**
 * `metatask bench`: how long fitting takes on this machine, per model, backend and thread count,
 * on the user's table or on the School data shipped with the package. Every configuration fits a
 * fresh model `--repeat` times in this process, after one untimed warm-up fit (the first fit
 * also pays for compiling and loading, which the "cold" figure reports apart); medians with min
 * and max. A ratio between backends compares rows of the same run. The repository's bench/ folder
 * has the full benchmarks against other libraries; this is the quick check of one machine.
 */
import { availableBackends, backend, setBackend, setThreads } from '../../kernels/index.js';
import { school } from '../../data/school.js';
import type { MultiTaskDataset } from '../../data/dataset.js';
import { barChart, type Bar } from '../../plot/barChart.js';
import { formatNumber } from '../../plot/scale.js';
import { csvOption, intListOption, numberOption, Output, stringOption, UsageError, type Command } from '../command.js';
import { FEW_SHOT_OPTIONS, fitSettings, MODEL_OPTIONS, modelOptions, TRAINING_OPTIONS, writePlot } from '../common.js';
import { DATA_OPTIONS, standardize, trainingData } from '../data.js';
import { defaultScaling, fitModel } from '../fitting.js';
import { findModel, type ModelEntry } from '../models.js';

interface BenchRow {
  model: string;
  backend: 'native' | 'js';
  threads: number;
  /** Seconds of each timed fit. */
  runs: number[];
  /** The first (untimed) fit of this configuration. */
  cold: number;
  median: number;
  min: number;
  max: number;
}

export const bench: Command = {
  name: 'bench',
  summary: 'time fitting on this machine, per model, backend and thread count',
  usage: 'metatask bench [--model <a,b,...>] [--backends native,js] [--threads 1,2] [--repeat n] [options] [<data.csv|data.json>]',
  description: `Fits each model --repeat times per backend and thread count, after one warm-up fit, and
prints the median, min and max seconds (and the cold first fit). Without a data file it uses the
School data shipped with metatask (139 schools, 15,362 students) with --model l21.
The machine should be otherwise idle: other work running at the same time slows every figure.`,
  options: {
    model: { type: 'string', short: 'm', value: '<a,b,...>', description: 'models to time (default l21)' },
    backends: { type: 'string', value: '<list>', description: 'native, js or both (default: every backend that loads)' },
    threads: { type: 'string', value: '<list>', description: 'native thread counts to try, e.g. 1,2 (default: the current setting)' },
    repeat: { type: 'string', value: '<n>', description: 'timed fits per configuration (default 3)' },
    ...DATA_OPTIONS,
    ...MODEL_OPTIONS,
    ...TRAINING_OPTIONS,
    ...FEW_SHOT_OPTIONS,
    plot: { type: 'string', value: '<file.svg>', description: 'write the timings as an SVG bar chart' },
  },
  examples: ['metatask bench', 'metatask bench --model l21,trace-norm --threads 1,2 --plot bench.svg', 'metatask bench --model mtnet --epochs 3 --task-column school --target score data.csv'],
  async run(args, io) {
    const out = new Output(io, args);
    if (args.positionals.length > 1) throw new UsageError(`unexpected argument '${args.positionals[1]}' (expected at most one data file)`);
    const entries = (csvOption(args, 'model') ?? ['l21']).map(findModel);
    const backends = (csvOption(args, 'backends') ?? availableBackends()).map((b) => {
      if (b !== 'native' && b !== 'js') throw new UsageError(`option '--backends' lists native and js, got '${b}'`);
      if (!availableBackends().includes(b)) throw new UsageError(`the ${b} backend is not available here ('metatask info' says why)`);
      return b;
    });
    const repeat = numberOption(args, 'repeat', { integer: true, min: 1 }) ?? 3;
    const threadList = intListOption(args, 'threads', 1);
    const options = modelOptions(args);
    const settings = fitSettings(args);
    const input = args.positionals[0];
    const defaultThreads = backends.includes('native') ? nativeThreads() : 1;
    const source = input ?? 'the School data shipped with metatask';

    const rows: BenchRow[] = [];
    for (const entry of entries) {
      const dataset = benchData(input, args, entry);
      for (const name of backends) {
        for (const threads of name === 'native' ? (threadList ?? [defaultThreads]) : [1]) {
          setBackend(name);
          if (name === 'native') setThreads(threads);
          const label = `${entry.name} on ${name}${name === 'native' ? `, ${threads} thread${threads === 1 ? '' : 's'}` : ''}`;
          out.note(`bench: ${label}: warm-up and ${repeat} timed fit${repeat === 1 ? '' : 's'}`);
          const time = async () => {
            const t0 = performance.now();
            await fitModel(entry, options, dataset, settings, () => {});
            return (performance.now() - t0) / 1000;
          };
          const cold = await time();
          const runs: number[] = [];
          for (let r = 0; r < repeat; r++) runs.push(await time());
          const sorted = [...runs].sort((a, b) => a - b);
          rows.push({ model: entry.name, backend: name, threads, runs, cold, median: (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2, min: sorted[0]!, max: sorted[sorted.length - 1]! });
        }
      }
    }
    if (backends.includes('native')) setThreads(defaultThreads);

    const plot = stringOption(args, 'plot');
    if (plot !== undefined) writePlot(plot, benchChart(rows, source));
    out.result({ data: source, repeat, rows }, renderRows(rows, source));
    return 0;
  },
};

function nativeThreads(): number {
  setBackend('native');
  return backend().threads;
}

/** The dataset a model is timed on: the user's table, or School. */
function benchData(input: string | undefined, args: Parameters<Command['run']>[0], entry: ModelEntry): MultiTaskDataset {
  const scaling = defaultScaling(entry);
  if (input !== undefined) return trainingData(input, args, entry.taskType ?? 'regression', scaling).dataset;
  if (entry.family === 'shared') throw new UsageError(`model '${entry.name}' takes one target column per task, which the School data has not: give a data file with --targets`);
  const data = school();
  return scaling === 'standard' ? standardize(data).dataset : data;
}

function renderRows(rows: readonly BenchRow[], source: string): string {
  const s = (v: number) => `${formatNumber(v)} s`;
  const header = ['model', 'backend', 'threads', 'median', 'min', 'max', 'cold'];
  const cells = rows.map((r) => [r.model, r.backend, String(r.threads), s(r.median), s(r.min), s(r.max), s(r.cold)]);
  const widths = header.map((h, j) => Math.max(h.length, ...cells.map((c) => c[j]!.length)));
  const line = (c: string[]) => c.map((v, j) => (j < 2 ? v.padEnd(widths[j]!) : v.padStart(widths[j]!))).join('  ');
  const lines = [`fit time on ${source}`, line(header), ...cells.map(line)];
  for (const model of new Set(rows.map((r) => r.model))) {
    const js = rows.find((r) => r.model === model && r.backend === 'js');
    const native = rows.filter((r) => r.model === model && r.backend === 'native');
    for (const n of native) if (js) lines.push(`${model}: native with ${n.threads} thread${n.threads === 1 ? '' : 's'} is ${formatNumber(js.median / n.median)}x the speed of js (medians of this run)`);
  }
  return lines.join('\n');
}

function benchChart(rows: readonly BenchRow[], source: string): string {
  const bars: Bar[] = rows.map((r) => ({
    label: `${r.model} ${r.backend}${r.backend === 'native' ? ` ${r.threads}t` : ''}`,
    value: r.median,
    min: r.min,
    max: r.max,
    group: r.backend,
  }));
  return barChart({
    title: 'metatask fit time',
    subtitle: `${source}; medians of ${rows[0]?.runs.length ?? 0} fits`,
    groups: [
      { key: 'native', label: 'native' },
      { key: 'js', label: 'js' },
    ],
    note: 'bar: median; whisker: min to max',
    panels: [{ title: 'seconds per fit', better: 'lower', unit: 's', bars }],
  });
}
