/**
 * Running calls on a model away from its caller: the part a WorkerPool thread
 * (lib/parallel/thread.ts) and a queue worker (lib/distributed/worker.ts) share. Rebuild the model
 * and the arguments, run each method as an in-thread call with the runner's AbortSignal and
 * progress callback, and collect the results and the arguments' new call states.
 */
import { ConfigError } from '../core/errors.js';
import { CALL_STATE, RESTORE, type ModelSnapshot, type Portable, type PortableClass, type SnapshotModel } from '../core/portable.js';
import { REMOTE_METHODS, type RemoteCall } from './protocol.js';
import { unpack } from './transfer.js';

/** The classes a runner can rebuild: models by their snapshot kind, argument objects by class name. */
export interface ClassRegistry {
  models: ReadonlyMap<string, new (options: any) => SnapshotModel>;
  portables: ReadonlyMap<string, PortableClass>;
}

/** Build a model from its snapshot. */
export function rebuildModel(registry: ClassRegistry, s: ModelSnapshot): SnapshotModel {
  const cls = registry.models.get(s.kind);
  if (!cls) throw new ConfigError(`a ${s.kind} cannot be rebuilt here: the models known are ${[...registry.models.keys()].join(', ')}`);
  const model = new cls(s.options);
  model[RESTORE](s);
  return model;
}

export interface ExecuteHooks {
  signal: AbortSignal;
  /** Receives the fit's progress records. */
  onProgress?: (record: unknown) => void;
  /** Turns a call's unpacked arguments into the argument list (a queue worker's CV-fold markers). */
  resolveArgs?: (args: unknown) => unknown[];
}

/** Run `calls` on `model` in order; the values of the calls and the new states of stateful arguments. */
export async function executeCalls(registry: ClassRegistry, model: SnapshotModel, calls: RemoteCall[], hooks: ExecuteHooks): Promise<{ values: unknown[]; states: unknown[] }> {
  const values: unknown[] = [];
  const stateful: Portable[] = [];
  for (const c of calls) {
    if (!REMOTE_METHODS.includes(c.method)) throw new ConfigError(`${c.method}() cannot be called remotely; the methods are ${REMOTE_METHODS.join(', ')}`);
    const args = unpack(c.args, registry.portables);
    const options = unpack(c.options, registry.portables).value as Record<string, unknown> | undefined;
    stateful.push(...args.stateful);
    const list = hooks.resolveArgs ? hooks.resolveArgs(args.value) : (args.value as unknown[]);
    const fn = (model as unknown as Record<string, (...a: unknown[]) => unknown>)[c.method]!;
    const extra =
      c.method === 'score' ? [] : [{ ...options, signal: hooks.signal, ...(c.method === 'fit' && hooks.onProgress ? { onProgress: hooks.onProgress } : {}) }];
    const value = await fn.apply(model, [...list, ...extra]);
    values.push(c.method === 'fit' ? undefined : value);
  }
  return { values, states: stateful.map((o) => o?.[CALL_STATE]?.()) };
}
