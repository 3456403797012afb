/**
 * What a command of `metatask` is (its options, help text and run function), how its arguments
 * are parsed (Node's util.parseArgs, strict, with "did you mean" for a misspelt option) and how
 * it writes: results to stdout (JSON alone there with --json), everything meant for a person to
 * stderr.
 */
import { parseArgs } from 'node:util';

import { closestName } from '../core/suggest.js';

/** Where a command writes; the process's streams, or buffers in a test. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
}

/** One option of a command: its parseArgs type, a short letter, the value's placeholder and help. */
export interface OptionDef {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder of the value in the help, e.g. '<file>'. */
  value?: string;
  description: string;
}

/** Parsed arguments: option values by name and the positionals. */
export interface Args {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export interface Command {
  name: string;
  /** One line for `metatask --help`. */
  summary: string;
  /** The synopsis, e.g. 'metatask fit --model <name> [options] <data>'. */
  usage: string;
  /** Paragraphs after the synopsis in `metatask <name> --help`. */
  description: string;
  /** The command's own options (the common ones, COMMON_OPTIONS, are added to every command). */
  options: Record<string, OptionDef>;
  /** Example command lines, shown at the end of the help. */
  examples?: readonly string[];
  run(args: Args, io: CliIo): Promise<number>;
}

/** A mistake in the command line: reported with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure outside the library's own errors (a file that cannot be written): its message, exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** Options every command takes. */
export const COMMON_OPTIONS: Record<string, OptionDef> = {
  json: { type: 'boolean', description: 'print the result as one JSON object on stdout (and nothing else there)' },
  quiet: { type: 'boolean', short: 'q', description: 'no progress and no notes on stderr' },
  help: { type: 'boolean', short: 'h', description: 'this help' },
};

/** Parse `argv` for `command` (strict: an unknown option or a missing value is a UsageError). */
export function parseCommandArgs(command: Command, argv: readonly string[]): Args {
  const defs = { ...command.options, ...COMMON_OPTIONS };
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, d] of Object.entries(defs)) options[name] = { type: d.type, ...(d.short ? { short: d.short } : {}), ...(d.multiple ? { multiple: true } : {}) };
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { values: values as Args['values'], positionals };
  } catch (err) {
    throw new UsageError(parseErrorMessage(err, Object.keys(defs)));
  }
}

/** parseArgs' error, reworded to name the option and suggest the closest known one. */
function parseErrorMessage(err: unknown, known: string[]): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  // parseArgs quotes the option as '--name', '-n' or '-n, --name <value>'; the long name reads best.
  const quoted = /'[^']*?(--[\w-]+(?:=[^' ]*)?)/.exec(message)?.[1] ?? /'(-[^' ,]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) {
    const name = quoted.replace(/^-+/, '').split('=')[0]!;
    const hint = quoted.startsWith('--') ? closestName(name, known) : undefined;
    return `unknown option '${quoted}'${hint ? ` (did you mean '--${hint}'?)` : ''}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted) {
    return /argument missing/.test(message) ? `option '${quoted}' needs a value` : `option '${quoted}' takes no value`;
  }
  return message;
}

/** The help of one command: synopsis, description, options (its own, then the common ones), examples. */
export function commandHelp(command: Command): string {
  const rows = (defs: Record<string, OptionDef>) =>
    Object.entries(defs).map(([name, d]) => [`${d.short ? `-${d.short}, ` : '    '}--${name}${d.value ? ` ${d.value}` : ''}`, d.description + (d.multiple ? ' (repeatable)' : '')] as const);
  const own = rows(command.options);
  const common = rows(COMMON_OPTIONS);
  const width = Math.min(34, Math.max(...[...own, ...common].map(([a]) => a.length)) + 2);
  const format = (list: readonly (readonly [string, string])[]) =>
    list.map(([a, b]) => (a.length + 2 > width ? `  ${a}\n  ${' '.repeat(width)}${b}` : `  ${a.padEnd(width)}${b}`)).join('\n');
  const parts = [`usage: ${command.usage}`, command.description.trim()];
  if (own.length) parts.push(`options:\n${format(own)}`);
  parts.push(`common options:\n${format(common)}`);
  if (command.examples?.length) parts.push(`examples:\n${command.examples.map((e) => `  ${e}`).join('\n')}`);
  return `${parts.join('\n\n')}\n`;
}

/** A string option's value, or undefined. */
export function stringOption(args: Args, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A repeatable string option's values (empty when absent). */
export function listOption(args: Args, name: string): string[] {
  const v = args.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/** A comma-separated list option ('a,b,c'), or undefined. */
export function csvOption(args: Args, name: string): string[] | undefined {
  const v = stringOption(args, name);
  if (v === undefined) return undefined;
  const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new UsageError(`option '--${name}' needs a comma-separated list, got '${v}'`);
  return items;
}

/** A numeric option, checked: an integer when `integer`, at least `min`. */
export function numberOption(args: Args, name: string, spec: { integer?: boolean; min?: number; max?: number } = {}): number | undefined {
  const raw = stringOption(args, name);
  if (raw === undefined) return undefined;
  const v = Number(raw);
  const what = spec.integer ? 'an integer' : 'a number';
  if (raw.trim() === '' || !Number.isFinite(v) || (spec.integer && !Number.isInteger(v))) throw new UsageError(`option '--${name}' must be ${what}, got '${raw}'`);
  if (spec.min !== undefined && v < spec.min) throw new UsageError(`option '--${name}' must be ${what} >= ${spec.min}, got ${raw}`);
  if (spec.max !== undefined && v > spec.max) throw new UsageError(`option '--${name}' must be ${what} <= ${spec.max}, got ${raw}`);
  return v;
}

/** A list of integers ('0,1,10'), or undefined. */
export function intListOption(args: Args, name: string, min = 0): number[] | undefined {
  const items = csvOption(args, name);
  if (items === undefined) return undefined;
  return items.map((s) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < min) throw new UsageError(`option '--${name}' must list integers >= ${min}, got '${s}'`);
    return v;
  });
}

/** One of `choices`, or undefined; anything else is a UsageError with "did you mean". */
export function choiceOption<T extends string>(args: Args, name: string, choices: readonly T[]): T | undefined {
  const v = stringOption(args, name);
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) {
    const hint = closestName(v, choices);
    throw new UsageError(`option '--${name}' must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got '${v}'${hint ? ` (did you mean '${hint}'?)` : ''}`);
  }
  return v as T;
}

/** The positional arguments, exactly `names.length` of them (named in the message when not). */
export function positionals(args: Args, names: readonly string[]): string[] {
  if (args.positionals.length < names.length) throw new UsageError(`missing ${names.slice(args.positionals.length).map((n) => `<${n}>`).join(' ')}`);
  if (args.positionals.length > names.length) throw new UsageError(`unexpected argument '${args.positionals[names.length]}' (expected ${names.map((n) => `<${n}>`).join(' ')})`);
  return args.positionals;
}

/** Writes of a command: results on stdout, human notes on stderr (none with --quiet). */
export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  constructor(
    readonly io: CliIo,
    args: Args,
  ) {
    this.json = args.values.json === true;
    this.quiet = args.values.quiet === true;
  }

  /** The command's result: `value` as JSON with --json, else `text` (a human rendering) on stdout. */
  result(value: unknown, text: string): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else if (text !== '') this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** A note for a person (what was written where, a warning): stderr, unless --quiet. */
  note(text: string): void {
    if (!this.quiet) this.io.stderr.write(`${text}\n`);
  }
}
