/**
 * The registry of weighting strategies: `weighting` options of MultiTaskNet are resolved here.
 *
 *   createStrategy('uncertainty')
 *   createStrategy({ type: 'fixed', weights: [1, 0.5] })     // `name` is accepted instead of `type`
 *   createStrategy(myStrategyObject)                         // any WeightingStrategy, returned as is
 *
 * Every name maps to a factory that receives the remaining options (checked by the strategy's own
 * constructor, so an unknown option is a ConfigError naming the strategy). registerStrategy()
 * lets a user make their own strategy available by name (e.g. in saved configs).
 */
import { ConfigError } from '../../core/errors.js';
import { describe } from '../../core/matrix.js';
import { unknownName } from '../../core/suggest.js';
import type { WeightingStrategy } from './strategy.js';

// Loss-based strategies.
import { DbMtl } from './dbmtl.js';
import { DynamicWeightAverage } from './dwa.js';
import { EqualWeighting } from './equal.js';
import { Famo } from './famo.js';
import { FixedWeighting } from './fixed.js';
import { GeometricLossStrategy } from './gls.js';
import { RandomLossWeighting } from './rlw.js';
import { UncertaintyWeighting } from './uncertainty.js';
// Gradient-based strategies.
import { CAGrad } from './cagrad.js';
import { GradNorm } from './gradnorm.js';
import { GradVac } from './gradvac.js';
import { IMTL } from './imtl.js';
import { MGDA } from './mgda.js';
import { PCGrad } from './pcgrad.js';
import { NashMTL } from './nashmtl.js';
import { AlignedMTL } from './alignedmtl.js';
import { UPGrad } from './upgrad.js';
import { GradDrop } from './graddrop.js';
import { MoCo } from './moco.js';
import { ExcessMTL } from './excessmtl.js';
import { FairGrad } from './fairgrad.js';
import { MoDo } from './modo.js';
import { SDMGrad } from './sdmgrad.js';
import { STCH } from './stch.js';

/** Builds a strategy from its options (everything but `type` / `name`). */
export type StrategyFactory = (options: Record<string, unknown> | undefined) => WeightingStrategy;

const factories = new Map<string, StrategyFactory>([
  ['equal', (o) => new EqualWeighting(o)],
  ['fixed', (o) => new FixedWeighting(o as never)],
  ['uncertainty', (o) => new UncertaintyWeighting(o)],
  ['dwa', (o) => new DynamicWeightAverage(o)],
  ['rlw', (o) => new RandomLossWeighting(o)],
  ['gls', (o) => new GeometricLossStrategy(o)],
  ['dbmtl', (o) => new DbMtl(o)],
  ['famo', (o) => new Famo(o)],
  ['stch', (o) => new STCH(o as never)],

  // gradient-based strategies register here
  ['gradnorm', (o) => new GradNorm(o as never)],
  ['mgda', (o) => new MGDA(o as never)],
  ['pcgrad', (o) => new PCGrad(o as never)],
  ['gradvac', (o) => new GradVac(o as never)],
  ['cagrad', (o) => new CAGrad(o as never)],
  ['imtl', (o) => new IMTL(o as never)],
  ['nashmtl', (o) => new NashMTL(o as never)],
  ['alignedmtl', (o) => new AlignedMTL(o as never)],
  ['upgrad', (o) => new UPGrad(o as never)],
  ['graddrop', (o) => new GradDrop(o as never)],
  ['moco', (o) => new MoCo(o as never)],
  ['excessmtl', (o) => new ExcessMTL(o as never)],
  ['fairgrad', (o) => new FairGrad(o as never)],
  ['modo', (o) => new MoDo(o as never)],
  ['sdmgrad', (o) => new SDMGrad(o as never)],
]);

/** Other spellings users type, mapped to the registered names. */
const aliases: Record<string, string> = {
  ew: 'equal',
  uw: 'uncertainty',
  'db-mtl': 'dbmtl',
  'imtl-g': 'imtl',
  'nash-mtl': 'nashmtl',
  'aligned-mtl': 'alignedmtl',
  'excess-mtl': 'excessmtl',
};

/** The registered names, sorted. */
export function knownStrategies(): string[] {
  return [...factories.keys()].sort();
}

/** Make a strategy available by name (refuses to replace an existing one unless `replace`). */
export function registerStrategy(name: string, factory: StrategyFactory, options: { replace?: boolean } = {}): void {
  if (typeof name !== 'string' || name.length === 0) throw new ConfigError(`registerStrategy: name must be a non-empty string, got ${describe(name)}`);
  if (typeof factory !== 'function') throw new ConfigError(`registerStrategy: factory for '${name}' must be a function, got ${describe(factory)}`);
  if (factories.has(name) && !options.replace) {
    throw new ConfigError(`registerStrategy: '${name}' is already registered; pass { replace: true } to override it`);
  }
  factories.set(name, factory);
}

export function isWeightingStrategy(v: unknown): v is WeightingStrategy {
  const s = v as Partial<WeightingStrategy> | null;
  return (
    s !== null &&
    typeof s === 'object' &&
    typeof s.combine === 'function' &&
    typeof s.init === 'function' &&
    typeof s.getState === 'function' &&
    typeof s.setState === 'function'
  );
}

export function createStrategy(nameOrOptions: string | ({ type?: string; name?: string } & Record<string, unknown>) | WeightingStrategy): WeightingStrategy {
  if (isWeightingStrategy(nameOrOptions)) {
    if (typeof nameOrOptions.name !== 'string' || typeof nameOrOptions.needsGradients !== 'boolean') {
      throw new ConfigError('weighting: a custom strategy needs a string `name` and a boolean `needsGradients`');
    }
    return nameOrOptions;
  }
  let name: unknown;
  let options: Record<string, unknown> | undefined;
  if (typeof nameOrOptions === 'string') {
    name = nameOrOptions;
  } else if (nameOrOptions !== null && typeof nameOrOptions === 'object' && !Array.isArray(nameOrOptions)) {
    const { type, name: n, ...rest } = nameOrOptions as Record<string, unknown>;
    if (type !== undefined && n !== undefined && type !== n) {
      throw new ConfigError(`weighting: 'type' (${describe(type)}) and 'name' (${describe(n)}) disagree; give one of them`);
    }
    name = type ?? n;
    if (name === undefined) {
      throw new ConfigError(`weighting: an options object needs 'type' (one of ${knownStrategies().join(', ')}), e.g. { type: 'dwa', temperature: 2 }`);
    }
    options = rest;
  } else {
    throw new ConfigError(`weighting must be a strategy name, { type, ...options } or a WeightingStrategy object; got ${describe(nameOrOptions)}`);
  }
  const key = typeof name === 'string' ? (aliases[name.toLowerCase()] ?? name.toLowerCase()) : undefined;
  const factory = key !== undefined ? factories.get(key) : undefined;
  if (!factory) {
    throw new ConfigError(unknownName('weighting', 'strategy', name, knownStrategies(), 'strategies'));
  }
  return factory(options);
}
