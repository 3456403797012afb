/**
 * MultiTaskNet's model file (format metatask/1, lib/io/format.ts): the configuration, and the
 * state that lets a loaded net predict the same and resume training exactly (parameters,
 * optimiser, strategy and RNG states, epoch and step counters, the last step's weights, the
 * batchnorm running statistics).
 */
import { FormatError } from '../core/errors.js';
import { fromDocument, toDocument, type ModelDocument } from '../io/format.js';
import { isCustom, KIND, type NetConfig, type WeightingOption } from './netOptions.js';
import type { NetParts, NetState } from './netTraining.js';
import type { WeightingStrategy } from './weighting/strategy.js';

/** The document of a net. */
export function netDocument(p: NetParts, s: NetState): ModelDocument {
  return toDocument(KIND, p.config, netState(p, s));
}

/** Everything a net's document keeps of its state (typed arrays copied, not encoded). */
export function netState(p: NetParts, s: NetState): Record<string, unknown> {
  return {
    params: s.params.slice(),
    optimizer: p.optimizer.getState(),
    strategy: p.strategy.getState(),
    rng: p.rng.getState(),
    epoch: s.epoch,
    step: s.stepCount,
    lastWeights: s.lastWeights,
    weightsStable: s.weightsStable,
    fitted: s.fitted,
    ...(p.norm.active ? { normStats: p.norm.values.slice() } : {}),
  };
}

/**
 * The configuration and state of a document, and the weighting to rebuild the net with (a custom
 * strategy object cannot be saved: the caller passes it back as `weighting`).
 */
export function readNetDocument(doc: unknown, weighting: WeightingStrategy | undefined): { config: NetConfig; state: Record<string, unknown>; weighting: WeightingOption } {
  const { config, state } = fromDocument(doc, KIND);
  const c = config as NetConfig;
  if (!c || typeof c !== 'object' || !Array.isArray(c.tasks) || !state || typeof state !== 'object') throw new FormatError(`${KIND} model file: config or state is missing`);
  if (!weighting && isCustom(c.weighting)) {
    throw new FormatError(`${KIND} model file: it was trained with a custom weighting strategy '${String((c.weighting as Record<string, unknown>).name)}'; pass it as load(path, { weighting })`);
  }
  return { config: c, state: state as Record<string, unknown>, weighting: weighting ?? (c.weighting as WeightingOption) };
}

/** Put a document's state into a net built from its configuration. */
export function restoreNetState(p: NetParts, s: NetState, state: Record<string, unknown>): void {
  const Arr = p.config.dtype === 'float64' ? Float64Array : Float32Array;
  if (!(state.params instanceof Arr) || state.params.length !== s.params.length) {
    throw new FormatError(`${KIND} model file: 'params' must be a ${Arr.name} of length ${s.params.length}`);
  }
  s.params = state.params;
  p.optimizer.setState(state.optimizer);
  p.strategy.setState(state.strategy);
  if (!Array.isArray(state.rng)) throw new FormatError(`${KIND} model file: 'rng' state is missing`);
  p.rng.setState(state.rng as number[]);
  s.epoch = Number(state.epoch) || 0;
  s.stepCount = Number(state.step) || 0;
  if (state.lastWeights instanceof Float64Array && state.lastWeights.length === p.config.tasks.length) s.lastWeights = state.lastWeights;
  s.weightsStable = state.weightsStable !== false;
  s.fitted = state.fitted === true;
  if (p.norm.active) p.norm.restore(state.normStats, `${KIND} model file`);
}
