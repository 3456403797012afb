/**
 * The worker-thread side of a WorkerPool: take calls (lib/parallel/protocol.ts), rebuild the
 * model and the arguments, run the method as an in-thread call with this thread's AbortSignal and
 * a progress forwarder, and answer with the fitted model's snapshot or the method's result.
 * The classes it can rebuild come from the program that starts it (lib/distributed/thread.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';

import { ConfigError, serializeError } from '../core/errors.js';
import { SNAPSHOT, type SnapshotModel } from '../core/portable.js';
import { backend, setBackend, setThreads } from '../kernels/index.js';
import { executeCalls, rebuildModel, type ClassRegistry } from './execute.js';
import type { CallMessage, FromThread, ThreadData, ToThread } from './protocol.js';
import { pack } from './transfer.js';

export type { ClassRegistry } from './execute.js';

/** Serve calls on this worker thread's parent port. */
export function serveThread(registry: ClassRegistry): void {
  const port = parentPort;
  if (!port) throw new Error('serveThread runs in a worker thread');
  const data = workerData as ThreadData;
  if (data?.threads) setThreads(data.threads);
  const cache = new Map<string, SnapshotModel>();
  const running = new Map<number, AbortController>();
  // Nothing is transferred: a buffer transferred from this thread would be detached here, which
  // slows every typed-array loop of the thread's later calls (lib/parallel/transfer.ts).
  const post = (m: FromThread): void => port.postMessage(m);

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
      const onProgress = m.progress ? (record: unknown) => post({ type: 'progress', id: m.id, record }) : undefined;
      const { values, states } = await executeCalls(registry, model, m.calls, { signal: controller.signal, ...(onProgress ? { onProgress } : {}) });
      // Copied by postMessage (results of a kept model may share its arrays); arrays on shared
      // memory (a caller's SharedArrayBuffer) become ordinary ones first.
      const out = m.returnModel
        ? pack({ snapshot: model[SNAPSHOT]('train'), values, states }, 'clone', 'the fitted model')
        : pack({ values, states }, 'clone', 'the results');
      post({ type: 'done', id: m.id, ...(out.value as { values: unknown[]; states: unknown[] }) });
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
