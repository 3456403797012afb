/**
 * Options objects with defaults, checked once at the public API: an unknown option, a value of the
 * wrong type or out of range gives a ConfigError that names the owner, the option and what was
 * expected (scikit-learn's parameter validation, better-sqlite3's argument checks).
 */
import { ConfigError } from './errors.js';
import { describe } from './matrix.js';
import { closestName, didYouMean } from './suggest.js';

export interface NumberSpec {
  kind: 'number';
  default?: number;
  min?: number;
  max?: number;
  /** The bound itself is not allowed. */
  exclusiveMin?: boolean;
  exclusiveMax?: boolean;
  integer?: boolean;
}
export interface EnumSpec<T extends string> {
  kind: 'enum';
  values: readonly T[];
  default?: T;
}
export interface BooleanSpec {
  kind: 'boolean';
  default?: boolean;
}
/** Anything, checked by `check` (returns an error message or null). */
export interface CustomSpec<T> {
  kind: 'custom';
  default?: T;
  expected: string;
  check: (value: unknown) => boolean;
}
export type OptionSpec = NumberSpec | EnumSpec<string> | BooleanSpec | CustomSpec<unknown>;

export function num(spec: Omit<NumberSpec, 'kind'> = {}): NumberSpec {
  return { kind: 'number', ...spec };
}
export function oneOf<T extends string>(values: readonly T[], defaultValue?: T): EnumSpec<T> {
  return { kind: 'enum', values, default: defaultValue };
}
export function bool(defaultValue?: boolean): BooleanSpec {
  return { kind: 'boolean', default: defaultValue };
}
export function custom<T>(expected: string, check: (v: unknown) => boolean, defaultValue?: T): CustomSpec<T> {
  return { kind: 'custom', expected, check, default: defaultValue } as CustomSpec<T>;
}

/**
 * Check `input` against `spec` and return a complete options object (defaults filled in).
 * Options whose spec has no default and that are absent stay undefined.
 */
export function parseOptions<T>(owner: string, input: unknown, spec: { [K in keyof T]-?: OptionSpec }): T {
  if (input === undefined || input === null) input = {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(`${owner} options must be an object, got ${describe(input)}`);
  }
  const given = input as Record<string, unknown>;
  const known = Object.keys(spec);
  for (const key of Object.keys(given)) {
    if (!known.includes(key)) {
      const hint = closestName(key, known);
      throw new ConfigError(
        `${owner}: unknown option '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}; known options: ${known.join(', ')}`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const key of known) {
    const s = (spec as Record<string, OptionSpec>)[key]!;
    const value = given[key];
    if (value === undefined) {
      out[key] = s.default;
      continue;
    }
    out[key] = checkOption(owner, key, s, value);
  }
  return out as T;
}

export function checkOption(owner: string, key: string, s: OptionSpec, value: unknown): unknown {
  const where = `${owner}: option '${key}'`;
  switch (s.kind) {
    case 'number': {
      if (typeof value !== 'number' || Number.isNaN(value)) throw new ConfigError(`${where} must be a number, got ${describe(value)}`);
      if (s.integer && !Number.isInteger(value)) throw new ConfigError(`${where} must be an integer, got ${value}`);
      if (!Number.isFinite(value) && !(value === Infinity && s.max === Infinity)) {
        throw new ConfigError(`${where} must be finite, got ${value}`);
      }
      if (s.min !== undefined && (s.exclusiveMin ? value <= s.min : value < s.min)) {
        throw new ConfigError(`${where} must be ${s.exclusiveMin ? '>' : '>='} ${s.min}, got ${value}`);
      }
      if (s.max !== undefined && (s.exclusiveMax ? value >= s.max : value > s.max)) {
        throw new ConfigError(`${where} must be ${s.exclusiveMax ? '<' : '<='} ${s.max}, got ${value}`);
      }
      return value;
    }
    case 'enum':
      if (typeof value !== 'string' || !s.values.includes(value)) {
        throw new ConfigError(`${where} must be one of ${s.values.map((v) => `'${v}'`).join(', ')}, got ${describe(value)}${didYouMean(value, s.values)}`);
      }
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw new ConfigError(`${where} must be true or false, got ${describe(value)}`);
      return value;
    case 'custom':
      if (!s.check(value)) throw new ConfigError(`${where} must be ${s.expected}, got ${describe(value)}`);
      return value;
  }
}

/** The candidate nearest to `word` by edit distance, when near enough to suggest ("did you mean"). */
export const closest = closestName;

/**
 * An on/off switch from the environment variable `name`: 'on' or 'off', unset (or empty) meaning
 * `unset`. Anything else is a ConfigError, so that a user who writes 1 or 0 is told, not silently
 * given the default.
 */
export function onOffSetting(name: string, unset: 'on' | 'off'): boolean {
  const setting = process.env[name] ?? '';
  if (!['', 'on', 'off'].includes(setting)) throw new ConfigError(`${name} must be 'on' or 'off' (or unset, the same as '${unset}'), got '${setting}'`);
  return (setting === '' ? unset : setting) === 'on';
}
