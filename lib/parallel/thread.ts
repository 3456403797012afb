/**
 * The worker-thread side of a WorkerPool: take calls (lib/parallel/protocol.ts), rebuild the
 * model and the arguments, run the method as an in-thread call with this thread's AbortSignal and
 * a progress forwarder, and answer with the fitted model's snapshot or the method's result.
 * The classes it can rebuild come from the program that starts it (lib/distributed/thread.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';

import { ConfigError, serializeError } from '../core/errors.js';
import { CALL_STATE, RESTORE, SNAPSHOT, type ModelSnapshot, type PortableClass, type SnapshotModel } from '../core/portable.js';
import { backend, setBackend, setThreads } from '../kernels/index.js';
import type { CallMessage, FromThread, ThreadData, ToThread } from './protocol.js';
import { pack, unpack } from './transfer.js';

/** The classes a thread can rebuild: models by their snapshot kind, argument objects by class name. */
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

/** Serve calls on this worker thread's parent port. */
export function serveThread(registry: ClassRegistry): void {
  const port = parentPort;
  if (!port) throw new Error('serveThread runs in a worker thread');
  const data = workerData as ThreadData;
  if (data?.threads) setThreads(data.threads);
  const cache = new Map<string, SnapshotModel>();
  const running = new Map<number, AbortController>();
  const post = (m: FromThread, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

  const call = async (m: CallMessage): Promise<void> => {
    const controller = new AbortController();
    running.set(m.id, controller);
    try {
      for (const k of m.evict) cache.delete(k);
      if (backend().name !== m.backend) setBackend(m.backend);
      let model: SnapshotModel | undefined = m.model.key !== null ? cache.get(m.model.key) : undefined;
      if (!model) {
        if (!m.model.snapshot) throw new ConfigError(`internal: the worker thread does not hold model ${m.model.key}`);
        model = rebuildModel(registry, m.model.snapshot);
        if (m.model.key !== null) cache.set(m.model.key, model);
      }
      const args = unpack(m.args, registry.portables);
      const options = unpack(m.options, registry.portables).value as Record<string, unknown>;
      const fn = (model as unknown as Record<string, unknown>)[m.method];
      if (typeof fn !== 'function') throw new ConfigError(`a ${m.model.snapshot?.kind ?? 'model'} has no method ${m.method}()`);
      const value = await fn.apply(model, [
        ...(args.value as unknown[]),
        { ...options, signal: controller.signal, ...(m.progress ? { onProgress: (record: unknown) => post({ type: 'progress', id: m.id, record }) } : {}) },
      ]);
      const states = args.stateful.map((o) => o?.[CALL_STATE]?.());
      if (m.method === 'fit') {
        // This thread's copy is dropped after the call: its arrays can move.
        const out = pack({ snapshot: model[SNAPSHOT]('train'), states }, 'move', 'the fitted model');
        const v = out.value as { snapshot: ModelSnapshot; states: unknown[] };
        post({ type: 'done', id: m.id, snapshot: v.snapshot, states: v.states }, out.transfer);
      } else {
        // The model stays cached here, and a result may share its arrays: copy.
        const out = pack({ value, states }, 'copy', `the result of ${m.method}`);
        const v = out.value as { value: unknown; states: unknown[] };
        post({ type: 'done', id: m.id, value: v.value, states: v.states }, out.transfer);
      }
    } catch (err) {
      post({ type: 'error', id: m.id, error: serializeError(err) });
    } finally {
      running.delete(m.id);
    }
  };

  port.on('message', (m: ToThread) => {
    if (m.type === 'abort') running.get(m.id)?.abort(new Error(m.reason));
    else void call(m);
  });
  post({ type: 'ready' });
}
