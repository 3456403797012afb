/**
 * The one mechanism behind the `worker` option of every model's fit, evaluate and predictAsync:
 *
 *   fit:      snapshot the model, fit a copy on a worker thread (progress records and the
 *             AbortSignal cross over), then put the fitted state into the caller's object, as if
 *             it had been fitted in-thread (the same state, bit for bit; history included). If
 *             the call fails, is aborted or its thread dies, the caller's model keeps its state.
 *   evaluate, predictAsync:
 *             the thread keeps a copy of the model (refreshed when the model's state changes) and
 *             returns the method's result.
 *
 * Arguments that a call changes (a task sampler's random stream) end in the state an in-thread
 * call would have left them in. Inputs travel as lib/parallel/transfer.ts describes.
 */
import { ConfigError } from '../core/errors.js';
import { identityOf, isSnapshotModel, RESTORE, SET_CALL_STATE, SNAPSHOT, type ModelSnapshot, type SnapshotModel, type WorkerOption } from '../core/portable.js';
import { kernels } from '../kernels/index.js';
import { defaultWorkerPool, WorkerPool, type PoolCall } from './pool.js';
import type { RemoteMethod } from './protocol.js';
import { fingerprint, pack, type TransferMode } from './transfer.js';

const fitting = new WeakSet<object>();

/** The pool and transfer mode of a `worker` option (already checked by the method's option spec). */
function resolve(worker: WorkerOption): { pool: WorkerPool; transfer: TransferMode } {
  if (worker === true) return { pool: defaultWorkerPool(), transfer: 'copy' };
  if (worker instanceof WorkerPool) return { pool: worker, transfer: 'copy' };
  const o = worker as { pool?: WorkerPool; transfer?: TransferMode };
  return { pool: o.pool ?? defaultWorkerPool(), transfer: o.transfer ?? 'copy' };
}

/** The options a remote call passes on: everything but what stays here. */
function remoteOptions(options: Record<string, unknown>): Record<string, unknown> {
  const { worker: _w, signal: _s, onProgress: _p, ...rest } = options;
  return rest;
}

/**
 * Run `model[method](...args, options)` on a worker thread. `options` is the method's options as
 * the caller gave them (with `worker` set); `owner` names the call in messages ("MAML.fit").
 * fit resolves to the model, after it took the fitted state; the others to the method's result.
 */
export async function offload<R>(model: object, method: RemoteMethod, owner: string, args: unknown[], options: Record<string, unknown>): Promise<R> {
  if (!isSnapshotModel(model)) throw new ConfigError(`${owner}: this model cannot run on a worker thread`);
  const { pool, transfer } = resolve(options.worker as WorkerOption);
  const m: SnapshotModel = model;
  const signal = options.signal as AbortSignal | undefined;
  const onProgress = options.onProgress as ((r: unknown) => void) | undefined;
  const id = identityOf(m);
  const isFit = method === 'fit';
  if (isFit) {
    if (fitting.has(m)) throw new ConfigError(`${owner}: this model is already being fitted on a worker thread; await that fit first`);
    fitting.add(m);
  }
  try {
    const packedArgs = pack(args, transfer, `${owner} arguments`);
    const packedOptions = pack(remoteOptions(options), transfer, `${owner} options`);
    const what = `the ${owner.split('.')[0]} model`;
    let ref: PoolCall['model'];
    if (isFit) {
      // A fit starts from the model as it is now, whatever happens to it while the fit waits.
      const packed = pack(m[SNAPSHOT]('train'), 'copy', what);
      ref = { id, key: null, take: () => ({ key: null, packed }) };
    } else {
      // A thread keeps its copy of the model under this key; the snapshot is packed only for a
      // thread that lacks it (taken then: a model that changed while the call waited is sent as it is).
      const keyOf = (s: ModelSnapshot) => `${id}:${s.version ?? fingerprint(s)}`;
      ref = {
        id,
        key: keyOf(m[SNAPSHOT]('predict')),
        take: () => {
          const s = m[SNAPSHOT]('predict');
          return { key: keyOf(s), packed: pack(s, 'copy', what) };
        },
      };
    }
    const done = await pool.run({
      label: owner,
      backend: kernels().name,
      calls: [{ method, args: packedArgs.value, options: packedOptions.value }],
      transfer: [...packedArgs.transfer, ...packedOptions.transfer],
      returnModel: isFit,
      model: ref,
      ...(onProgress ? { onProgress } : {}),
      ...(signal ? { signal } : {}),
    });
    packedArgs.stateful.forEach((o, i) => o[SET_CALL_STATE]?.(done.states[i]));
    if (isFit) {
      m[RESTORE](done.snapshot!);
      return m as R;
    }
    return done.values[0] as R;
  } finally {
    if (isFit) fitting.delete(m);
  }
}
