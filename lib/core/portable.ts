/**
 * How the library's objects leave the caller's thread and come back: to a WorkerPool thread
 * (lib/parallel/) or, as JSON, to a queue worker process (lib/distributed/).
 *
 * - A model gives a {@link ModelSnapshot}: the options its constructor takes and its whole state
 *   with typed arrays as they are (what toJSON would encode), and takes one back in place. A
 *   fit on a worker is: snapshot, rebuild there (`new Class(options)`, then restore), fit,
 *   snapshot, restore into the caller's object. The state round trip is exact (float64 and
 *   float32 values are moved, not printed), so the result is the in-thread one, bit for bit.
 * - An argument that is an object of the library (a MultiTaskDataset, a task sampler) says what
 *   it is ({@link PortableValue}: a class name and plain data) and its class rebuilds it there;
 *   one whose calls change it (a sampler's random stream) also gives and takes that state, so the
 *   caller's object ends where an in-thread call would have left it.
 *
 * The keys are symbols: this is the library's own protocol, not part of a model's public surface.
 */

/** A model's configuration and complete state. */
export interface ModelSnapshot {
  /** The class that rebuilds it (its model-file kind). */
  kind: string;
  /** What the class's constructor takes. */
  options: unknown;
  /** The fitted state (typed arrays as they are); undefined before the first fit. */
  state: unknown;
  /** What the last fit recorded (the model's `history`), when it has one. */
  history?: unknown;
  /**
   * A token that changes whenever the state does, from a model that can tell (one that hands
   * out no array of its state to write into); without it, the state's content is fingerprinted.
   */
  version?: string;
}

const identities = new WeakMap<object, number>();
let nextIdentity = 1;

/** A number that names `o` for as long as it lives (for version tokens and caches). */
export function identityOf(o: object): number {
  let id = identities.get(o);
  if (id === undefined) identities.set(o, (id = nextIdentity++));
  return id;
}

/**
 * What a snapshot is for: 'train' keeps everything a fit continues from (optimiser and strategy
 * state, random streams); 'predict' may leave out what only training reads.
 */
export type SnapshotPurpose = 'train' | 'predict';

export const SNAPSHOT: unique symbol = Symbol('metatask.snapshot');
export const RESTORE: unique symbol = Symbol('metatask.restore');

/** A model that can be fitted, evaluated or asked for predictions on another thread. */
export interface SnapshotModel {
  [SNAPSHOT](purpose: SnapshotPurpose): ModelSnapshot;
  /** Replace this model's state by the snapshot's (a snapshot of the same kind and options). */
  [RESTORE](snapshot: ModelSnapshot): void;
}

export function isSnapshotModel(v: unknown): v is SnapshotModel {
  return v !== null && typeof v === 'object' && typeof (v as Partial<SnapshotModel>)[SNAPSHOT] === 'function';
}

/** An argument object described as its class's name and plain data (typed arrays as they are). */
export interface PortableValue {
  type: string;
  value: unknown;
}

export const PORTABLE: unique symbol = Symbol('metatask.portable');
/** Static method of a portable class: rebuild an object from its PortableValue's `value`. */
export const REVIVE: unique symbol = Symbol('metatask.revive');
/** The part of an argument's state that calls change (a sampler's random stream). */
export const CALL_STATE: unique symbol = Symbol('metatask.callState');
export const SET_CALL_STATE: unique symbol = Symbol('metatask.setCallState');

export interface Portable {
  [PORTABLE](): PortableValue;
  /** On objects that calls change: the state to carry back after a remote call, and its setter. */
  [CALL_STATE]?(): unknown;
  [SET_CALL_STATE]?(state: unknown): void;
}

export interface PortableClass {
  readonly name: string;
  [REVIVE](value: unknown): unknown;
}

export function isPortable(v: unknown): v is Portable {
  return v !== null && typeof v === 'object' && typeof (v as Partial<Portable>)[PORTABLE] === 'function';
}

/** Brand of a WorkerPool, so that option checks in core can recognise one. */
export const WORKER_POOL: unique symbol = Symbol('metatask.workerPool');

/** A WorkerPool (lib/parallel/pool.ts), as the option checks in core see it. */
export interface WorkerPoolLike {
  readonly [WORKER_POOL]: true;
}

/**
 * Where a fit, evaluate or predictAsync runs: false or absent, in the caller's thread; true, on
 * the library's default WorkerPool; a WorkerPool; or { pool?, transfer? } where transfer 'move'
 * hands the caller's typed-array buffers to the worker instead of copying them (they are
 * detached afterwards). See docs/deploying.md.
 */
export type WorkerOption = boolean | WorkerPoolLike | { pool?: WorkerPoolLike; transfer?: 'copy' | 'move' };

export function isWorkerOption(v: unknown): v is WorkerOption {
  if (typeof v === 'boolean') return true;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  if (WORKER_POOL in v) return true;
  const o = v as { pool?: unknown; transfer?: unknown };
  return Object.keys(o).every((k) => k === 'pool' || k === 'transfer') && (o.pool === undefined || (o.pool !== null && typeof o.pool === 'object' && WORKER_POOL in o.pool)) && (o.transfer === undefined || o.transfer === 'copy' || o.transfer === 'move');
}
