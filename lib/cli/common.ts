/**
 * Options and steps several commands share: the backend and threads, progress, the model's
 * options from a JSON file and `--set key=value`, the few-shot settings of meta-learners, and
 * writing a plot.
 */
import { readFileSync, writeFileSync } from 'node:fs';

import { describe } from '../core/matrix.js';
import { setBackend, setThreads } from '../kernels/index.js';
import { choiceOption, CliError, intListOption, listOption, numberOption, stringOption, UsageError, type Args, type CliIo, type OptionDef } from './command.js';
import type { FitSettings } from './fitting.js';
import { defaultProgressMode, ProgressReporter, type ProgressMode } from './progress.js';

export const BACKEND_OPTIONS: Record<string, OptionDef> = {
  backend: { type: 'string', value: '<name>', description: 'native or js (default: METATASK_BACKEND, else native when the addon loads)' },
  threads: { type: 'string', value: '<n>', description: 'threads of the native kernels (default: the cores)' },
};

export const PROGRESS_OPTIONS: Record<string, OptionDef> = {
  progress: { type: 'string', value: '<mode>', description: 'bar, lines or none (default: bar on a terminal, else lines)' },
};

export const MODEL_OPTIONS: Record<string, OptionDef> = {
  options: { type: 'string', value: '<file.json>', description: "the model's options as a JSON object (its class's options, e.g. L21Options)" },
  set: { type: 'string', short: 's', multiple: true, value: '<key=value>', description: "one model option, e.g. alpha=0.01, cv=5, architecture.type=mmoe, hidden=[64,64] (after --options)" },
};

export const FEW_SHOT_OPTIONS: Record<string, OptionDef> = {
  shots: { type: 'string', value: '<n>', description: 'meta-learners: labelled rows per task to adapt from (per class in episodes; default 10, episodes 5)' },
  queries: { type: 'string', value: '<n>', description: 'meta-learners: rows per task to measure the adapted model on (default: the rest)' },
  ways: { type: 'string', value: '<n>', description: 'meta-learners on class labels: classes per episode (default 5)' },
  seed: { type: 'string', value: '<n>', description: 'seed of the few-shot task draws (and of the model, where it has one)' },
};

/** Apply --backend and --threads. */
export function applyBackend(args: Args): void {
  const name = choiceOption(args, 'backend', ['native', 'js'] as const);
  if (name) setBackend(name);
  const threads = numberOption(args, 'threads', { integer: true, min: 1 });
  if (threads !== undefined) setThreads(threads);
}

/** The progress reporter --progress asks for (nothing with --quiet). */
export function progressReporter(args: Args, io: CliIo, unit: string): ProgressReporter {
  const mode: ProgressMode = args.values.quiet === true ? 'none' : (choiceOption(args, 'progress', ['bar', 'lines', 'none'] as const) ?? defaultProgressMode(io));
  return new ProgressReporter(io, mode, unit);
}

export const TRAINING_OPTIONS: Record<string, OptionDef> = {
  epochs: { type: 'string', value: '<n>', description: 'mtnet: passes over the data (default 10)' },
  'batch-size': { type: 'string', value: '<n>', description: 'mtnet: rows per step (default 32)' },
  validation: { type: 'string', value: '<fraction>', description: 'mtnet: the fraction of rows held out to report a validation loss' },
  iterations: { type: 'string', value: '<n>', description: 'meta-learners: meta-iterations (default 1000)' },
};

/** The fit settings of the command line (the flags a command does not define are absent). */
export function fitSettings(args: Args): FitSettings {
  const s: FitSettings = {};
  const set = <K extends keyof FitSettings>(key: K, v: number | undefined) => {
    if (v !== undefined) s[key] = v;
  };
  set('epochs', numberOption(args, 'epochs', { integer: true, min: 1 }));
  set('batchSize', numberOption(args, 'batch-size', { integer: true, min: 1 }));
  set('validation', numberOption(args, 'validation', { min: 1e-9, max: 1 - 1e-9 }));
  set('iterations', numberOption(args, 'iterations', { integer: true, min: 1 }));
  set('shots', numberOption(args, 'shots', { integer: true, min: 1 }));
  set('queries', numberOption(args, 'queries', { integer: true, min: 1 }));
  set('ways', numberOption(args, 'ways', { integer: true, min: 2 }));
  set('seed', numberOption(args, 'seed', { integer: true }));
  return s;
}

/** The adaptation step counts of --steps ('0,1,10'). */
export function stepsOption(args: Args): number[] | undefined {
  return intListOption(args, 'steps');
}

/**
 * The model's options: the JSON object of --options, then each --set key=value over it (a dotted
 * key sets a nested option; the value is read as JSON when it parses, else as text).
 */
export function modelOptions(args: Args): Record<string, unknown> {
  let options: Record<string, unknown> = {};
  const file = stringOption(args, 'options');
  if (file !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new UsageError(code === 'ENOENT' ? `--options ${file}: no such file` : `--options ${file}: not valid JSON (${(err as Error).message})`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`--options ${file} must hold a JSON object of model options, got ${describe(parsed)}`);
    options = parsed as Record<string, unknown>;
  }
  for (const item of listOption(args, 'set')) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set takes key=value, got '${item}'`);
    const path = item.slice(0, eq).split('.');
    const raw = item.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    let node = options;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      node = node[key] = next !== null && typeof next === 'object' && !Array.isArray(next) ? { ...(next as object) } : {};
    }
    node[path[path.length - 1]!] = value;
  }
  return options;
}

/** Write an SVG file (a CliError when it cannot be written). */
export function writePlot(path: string, svg: string): void {
  try {
    writeFileSync(path, svg);
  } catch (err) {
    throw new CliError(`cannot write the plot ${path}: ${(err as Error).message}`);
  }
}
