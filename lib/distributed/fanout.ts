/**
 * Embarrassingly parallel work as independent jobs: the folds of a cross-validation, the fits of
 * many models (a grid of hyperparameters, one model per task or per customer). Each runs where
 * the options say, with the same results everywhere (each job is a fit from a model's snapshot, bit
 * for bit the in-thread fit):
 *
 *   - default: one after another in this thread;
 *   - `worker`: on a WorkerPool's threads, as many at once as it has threads;
 *   - `queue`: as jobs of a JobQueue (connectQueue), run by `metatask worker` processes on any
 *     number of machines. Data goes inline in each job, or by reference (saveData) when large.
 */
import { abortError, throwIfAborted } from '../core/async.js';
import { ConfigError } from '../core/errors.js';
import { bool, custom, num, parseOptions } from '../core/options.js';
import { isSnapshotModel, isWorkerOption, RESTORE, SNAPSHOT, WORKER_POOL, type SnapshotModel, type WorkerOption } from '../core/portable.js';
import type { Progress } from '../core/estimator.js';
import { kernels } from '../kernels/index.js';
import { defaultWorkerPool, type WorkerPool } from '../parallel/pool.js';
import type { CallResult, RemoteCall, RemoteMethod } from '../parallel/protocol.js';
import { pack } from '../parallel/transfer.js';
import { familyOf, foldArgs, foldsOf, type Family } from './folds.js';
import { dataOf, encodePayload, isDataRef } from './payload.js';
import type { JobQueue, QueuedJob } from './queue.js';
import type { FoldMarker } from './worker.js';

/** Where the jobs run (at most one of worker and queue), progress and cancellation. */
export interface FanOutOptions {
  /** Run the jobs on worker threads: true (the default pool), a WorkerPool, or { pool }. */
  worker?: WorkerOption;
  /** Run the jobs on a job queue's workers (connectQueue). */
  queue?: JobQueue;
  /** Called as each job finishes: step = jobs done, total = jobs. */
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/** One job: calls on a copy of a model (or, with `inPlace`, on the model itself), data already chosen. */
interface Job {
  label: string;
  model: SnapshotModel;
  calls: { method: RemoteMethod; args: unknown[] | FoldMarker; options?: Record<string, unknown> }[];
  /** Fit the caller's model itself (fitMany): its state is replaced by the fitted one. */
  inPlace: boolean;
}

const FANOUT_SPEC = {
  worker: custom<WorkerOption>('true, false, a WorkerPool or { pool }', isWorkerOption),
  queue: custom<JobQueue>('a JobQueue (connectQueue)', (v) => v !== null && typeof v === 'object' && typeof (v as JobQueue).run === 'function'),
  onProgress: custom<(p: Progress) => void>('a function', (v) => typeof v === 'function'),
  signal: custom<AbortSignal>('an AbortSignal', (v) => v instanceof AbortSignal),
};

/** A fresh model of the same class, options and state (the in-thread runner's copy). */
function copyOf(model: SnapshotModel): SnapshotModel {
  const s = model[SNAPSHOT]('train');
  const copy = new (model.constructor as new (o: unknown) => SnapshotModel)(s.options);
  copy[RESTORE](structuredClone(s));
  return copy;
}

/** The values of every job's calls (and, for in-place jobs, the model refitted), in order. */
async function runJobs(jobs: Job[], o: FanOutOptions, resolveFold: (m: FoldMarker) => unknown[]): Promise<unknown[][]> {
  const total = jobs.length;
  let done = 0;
  const tick = (): void => o.onProgress?.({ phase: 'fit', step: ++done, total });
  const argsOf = (a: unknown[] | FoldMarker): unknown[] => (Array.isArray(a) ? a : resolveFold(a));

  if (o.queue) {
    const backend = kernels().name;
    const queued: QueuedJob[] = jobs.map((j) => ({
      label: j.label,
      backend,
      model: encodePayload(j.model[SNAPSHOT]('train'), `${j.label}: the model`),
      calls: encodePayload(j.calls.map((c) => ({ method: c.method, args: c.args, options: c.options ?? {} })), `${j.label}: the arguments`),
      returnModel: j.inPlace,
    }));
    const results = await o.queue.run(queued, { onDone: tick, ...(o.signal ? { signal: o.signal } : {}) });
    return Promise.all(results.map(async (r, i) => finish(jobs[i]!, r)));
  }

  if (o.worker) {
    const w = o.worker;
    const pool = (w === true ? defaultWorkerPool() : WORKER_POOL in (w as object) ? w : ((w as { pool?: WorkerPool }).pool ?? defaultWorkerPool())) as WorkerPool;
    return Promise.all(
      jobs.map(async (j) => {
        const calls: RemoteCall[] = [];
        const transfer: ArrayBuffer[] = [];
        for (const c of j.calls) {
          const args = pack(argsOf(c.args), 'copy', `${j.label} arguments`);
          const options = pack(c.options ?? {}, 'copy', `${j.label} options`);
          calls.push({ method: c.method, args: args.value, options: options.value });
          transfer.push(...args.transfer, ...options.transfer);
        }
        const packed = pack(j.model[SNAPSHOT]('train'), 'copy', `${j.label}: the model`);
        const r = await pool.run({
          label: j.label,
          backend: kernels().name,
          calls,
          transfer,
          returnModel: j.inPlace,
          model: { id: 0, key: null, take: () => ({ key: null, packed }) },
          ...(o.signal ? { signal: o.signal } : {}),
        });
        tick();
        return finish(j, r);
      }),
    );
  }

  const out: unknown[][] = [];
  for (const j of jobs) {
    throwIfAborted(o.signal);
    const m = j.inPlace ? j.model : copyOf(j.model);
    const values: unknown[] = [];
    for (const c of j.calls) {
      const fn = (m as unknown as Record<string, (...a: unknown[]) => unknown>)[c.method]!;
      const extra = c.method === 'score' ? [] : [{ ...c.options, ...(o.signal ? { signal: o.signal } : {}) }];
      const v = await fn.apply(m, [...argsOf(c.args), ...extra]);
      values.push(c.method === 'fit' ? undefined : v);
    }
    tick();
    out.push(values);
  }
  return out;
}

/** A remote job's values; an in-place job's model takes the fitted state (and its arguments theirs). */
function finish(job: Job, r: CallResult): unknown[] {
  if (job.inPlace) {
    if (!r.snapshot) throw new ConfigError(`${job.label}: the job returned no model`);
    job.model[RESTORE](r.snapshot);
  }
  return r.values;
}

/** Options of crossValidate. */
export interface CrossValidateOptions extends FanOutOptions {
  /** Folds (k). Default 5. */
  folds?: number;
  /** Shuffle the rows before splitting (with `seed`). Default false, like scikit-learn's KFold. */
  shuffle?: boolean;
  /** Seed of the shuffle. Default 0. */
  seed?: number;
  /** Options of each fold's fit (epochs, batchSize, ...); not signal, onProgress or worker. */
  fitOptions?: Record<string, unknown>;
}

export interface CrossValidation {
  /** The model's score (R^2 or accuracy: higher is better) on each held-out fold. */
  scores: number[];
  mean: number;
  /** Standard deviation of the scores (n - 1). */
  std: number;
}

/**
 * k-fold cross-validation of `model` (left unchanged) on `data`: for each fold, a copy of the
 * model is fitted on the other folds and scored on it (lib/distributed/folds.ts says how rows are
 * split for each kind of model). `data` is what the model's fit takes ({ X, Y }, a dataset), or a
 * DataRef from saveData. The scores are the same whichever runner the options choose.
 */
export async function crossValidate(model: unknown, data: unknown, options: CrossValidateOptions = {}): Promise<CrossValidation> {
  const owner = 'crossValidate';
  const o = parseOptions<CrossValidateOptions>(owner, options, {
    ...FANOUT_SPEC,
    folds: num({ integer: true, min: 2, default: 5 }),
    shuffle: bool(false),
    seed: num({ default: 0 }),
    fitOptions: custom('an object of fit options', (v) => v !== null && typeof v === 'object' && !Array.isArray(v), {}),
  });
  checkRunner(owner, o);
  if (!isSnapshotModel(model)) throw new ConfigError(`${owner}: expected a model of the library, got ${typeof model}`);
  const family: Family = familyOf(model, owner);
  for (const k of ['signal', 'onProgress', 'worker']) if (k in o.fitOptions!) throw new ConfigError(`${owner}: fitOptions.${k} belongs in crossValidate's own options`);
  const values = await dataOf(data);
  const folds = foldsOf(family, values, o.folds!, o.shuffle!, o.seed!, owner);
  const name = (model.constructor as { name: string }).name;
  // On a queue, a fold job carries the rows it uses as ids into the data (inline, or by reference).
  const shipped = o.queue ? data : values;
  const args = (ids: Int32Array, part: string): unknown[] | FoldMarker =>
    o.queue ? { $metatask: 'fold', family, data: isDataRef(shipped) ? shipped : values, ids, owner: `${owner} ${part}` } : foldArgs(family, values, ids, `${owner} ${part}`);
  const jobs: Job[] = folds.map((f, i) => ({
    label: `${name} fold ${i + 1} of ${folds.length}`,
    model,
    inPlace: false,
    calls: [
      { method: 'fit', args: args(f.train, `fold ${i + 1} training rows`), options: o.fitOptions! },
      { method: 'score', args: args(f.test, `fold ${i + 1} held-out rows`) },
    ],
  }));
  const results = await runJobs(jobs, o, (m) => foldArgs(m.family, m.data, m.ids, m.owner));
  const scores = results.map((v) => v[1] as number);
  const mean = scores.reduce((s, x) => s + x, 0) / scores.length;
  const std = Math.sqrt(scores.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, scores.length - 1));
  return { scores, mean, std };
}

/** One fit of fitMany: a model, the arguments of its fit before the options, and those options. */
export interface FitJob<M> {
  model: M;
  /** fit's arguments: [X, Y] for the shared-design models, [dataset] or [sampler] for the others. */
  args: unknown[];
  /** fit's options (not signal, onProgress or worker: those are fitMany's). */
  options?: Record<string, unknown>;
}

/**
 * Fit many models, each in place (as `model.fit(...args, options)` would), as independent jobs;
 * resolves to the models. A task sampler given to a job on a pool or a queue is read as it is
 * and left unchanged (each job draws from its own copy); give each job its own sampler.
 */
export async function fitMany<M>(jobs: readonly FitJob<M>[], options: FanOutOptions = {}): Promise<M[]> {
  const owner = 'fitMany';
  const o = parseOptions<FanOutOptions>(owner, options, FANOUT_SPEC);
  checkRunner(owner, o);
  if (!Array.isArray(jobs)) throw new ConfigError(`${owner}: expected an array of { model, args, options? }`);
  const seen = new Set<unknown>();
  const list: Job[] = jobs.map((j, i) => {
    if (!j || !isSnapshotModel(j.model) || !Array.isArray(j.args)) throw new ConfigError(`${owner}: job ${i} must be { model, args: [...], options? } with a model of the library`);
    if (seen.has(j.model)) throw new ConfigError(`${owner}: job ${i} fits a model that an earlier job fits too; give each job its own model`);
    seen.add(j.model);
    for (const k of ['signal', 'onProgress', 'worker']) if (j.options && k in j.options) throw new ConfigError(`${owner}: job ${i}: option '${k}' belongs in fitMany's own options`);
    const name = (j.model.constructor as { name: string }).name;
    return { label: `${name}.fit (job ${i + 1} of ${jobs.length})`, model: j.model, inPlace: true, calls: [{ method: 'fit', args: j.args, ...(j.options ? { options: j.options } : {}) }] };
  });
  // A DataRef stays a reference for queue workers (they read it); other runners need the data.
  if (!o.queue) for (const j of list) for (const c of j.calls) c.args = await Promise.all((c.args as unknown[]).map(dataOf));
  await runJobs(list, o, () => {
    throw new ConfigError(`${owner}: internal: no folds here`);
  });
  return jobs.map((j) => j.model);
}

function checkRunner(owner: string, o: FanOutOptions): void {
  if (o.worker && o.queue) throw new ConfigError(`${owner}: give 'worker' or 'queue', not both`);
  if (o.signal?.aborted) throw abortError(o.signal.reason);
}
