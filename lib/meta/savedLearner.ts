/**
 * What every meta-learner keeps between runs and how it is saved and loaded: the meta-parameters,
 * the iteration count, the outer optimiser's state and the RNG's state, in the versioned model
 * format of lib/io/format.ts. Shared by MetaLearner (MAML family) and EpisodicLearner (ProtoNet,
 * MetaRidge), so a saved model resumes training exactly.
 */
import { ConfigError, FormatError, NotFittedError, ShapeError, ValueError } from '../core/errors.js';
import { throwIfAborted } from '../core/async.js';
import { REMOTE_OPTION_SPEC, type RemoteOptions } from '../core/estimator.js';
import { custom, parseOptions, type OptionSpec } from '../core/options.js';
import { RESTORE, SNAPSHOT, type ModelSnapshot, type SnapshotPurpose } from '../core/portable.js';
import { offload } from '../parallel/offload.js';
import type { DType, FloatArray } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import { fromDocument, readDocument, readDocumentSync, saveDocument, toDocument, type ModelDocument } from '../io/format.js';
import type { Optimizer, OptimizerState } from '../nn/optim.js';

/** A labelled set { X, y } (or { X, Y } for a multi-task network) to adapt to. */
type Support = { X: unknown; y: unknown } | { X: unknown; Y: unknown };

/** Options of a meta-learner's predictAsync: the support set to adapt to, and where to run. */
export interface PredictAsyncOptions extends RemoteOptions {
  /** The new task's labelled rows: the model adapts to them, then predicts. */
  support: Support;
  /** Adaptation steps (the MAML family; default the learner's innerSteps). */
  steps?: number;
  /** Inner learning rate of the adaptation (the MAML family). */
  lr?: number;
}

/** A concrete learner class: constructible from its options, with its model-file kind. */
export type LearnerClass<M> = { new (options: any): M; readonly kind: string };

export abstract class SavedLearner {
  /** The model-file kind of this class (format.ts). */
  static readonly kind: string = 'SavedLearner';
  /** Meta-iterations run so far (0 = never trained). */
  iteration = 0;

  abstract readonly options: unknown;
  abstract params: FloatArray;
  abstract get dtype(): DType;
  protected abstract readonly optimizer: Optimizer;
  protected abstract readonly rng: Rng;

  get kind(): string {
    return (this.constructor as unknown as LearnerClass<this>).kind;
  }

  /** What the last fit recorded. */
  abstract get history(): unknown;
  protected abstract setHistory(history: unknown): void;

  /** The model of one new task, fitted from its support set. */
  abstract adapt(support: Support, options?: object): { predict(X: unknown): unknown };

  /** Checks of the adaptation options predictAsync passes to adapt (the MAML family's steps and lr). */
  protected adaptOptionSpec(): Record<string, OptionSpec> {
    return {};
  }

  /**
   * Adapt to `support` and predict X, as `adapt(support, { steps, lr }).predict(X)` does; with
   * `worker`, on a worker thread (which keeps its copy of the learner between calls).
   */
  async predictAsync(X: unknown, options: PredictAsyncOptions): Promise<ReturnType<ReturnType<this['adapt']>['predict']>> {
    const owner = `${this.kind}.predictAsync`;
    const o = parseOptions<PredictAsyncOptions>(owner, options, {
      support: custom<Support>('a labelled set { X, y }', (v) => v !== null && typeof v === 'object' && 'X' in v),
      ...this.adaptOptionSpec(),
      ...REMOTE_OPTION_SPEC,
    } as never);
    if (o.support === undefined) throw new ConfigError(`${owner}: option 'support' is required (the labelled rows of the task to adapt to)`);
    if (o.worker) return offload(this, 'predictAsync', owner, [X], o as unknown as Record<string, unknown>);
    throwIfAborted(o.signal);
    const { support, worker: _w, signal: _s, ...adapt } = o;
    return this.adapt(support, adapt).predict(X) as ReturnType<ReturnType<this['adapt']>['predict']>;
  }

  /** The options and the whole state, as a model file keeps them (lib/core/portable.ts). */
  [SNAPSHOT](purpose: SnapshotPurpose): ModelSnapshot {
    return { kind: this.kind, options: this.savedOptions(), state: this.stateOf(purpose), history: this.history };
  }

  [RESTORE](s: ModelSnapshot): void {
    this.restore(s.state as { params: unknown; iteration: unknown; optimizer: unknown; rng: unknown });
    if (s.history !== undefined) this.setHistory(s.history);
  }

  /** A copy of the flat meta-parameter vector (the network's layout), as MultiTaskNet.getParams. */
  getParams(): FloatArray {
    return this.params.slice();
  }

  /** Replace the meta-parameters (same length, finite values; converted to the learner's dtype). */
  setParams(p: ArrayLike<number>): void {
    if (p.length !== this.params.length) throw new ShapeError(`${this.kind}.setParams: got ${p.length} values, expected ${this.params.length}`);
    for (let i = 0; i < p.length; i++) if (!Number.isFinite(p[i]!)) throw new ValueError(`${this.kind}.setParams: value ${i} is ${p[i]}`);
    this.params.set(p);
  }

  /** The options as the model file keeps them (and the constructor reads them back). */
  protected savedOptions(): unknown {
    return this.options;
  }

  toJSON(): ModelDocument {
    return toDocument(this.kind, this.savedOptions(), this.stateOf('train'));
  }

  /** The state a model file keeps; for predictions, without the optimiser's and the random stream's. */
  private stateOf(purpose: SnapshotPurpose): Record<string, unknown> {
    const training = purpose === 'train' ? { optimizer: this.optimizer.getState(), rng: this.rng.getState() } : {};
    return { params: this.params, iteration: this.iteration, ...training, ...this.extraState() };
  }

  /** Further state a subclass saves (batchnorm running statistics). */
  protected extraState(): Record<string, unknown> {
    return {};
  }

  /** Restore what extraState() saved. */
  protected restoreExtra(_state: Record<string, unknown>): void {}

  async save(path: string): Promise<void> {
    await saveDocument(path, this.toJSON());
  }

  static fromJSON<M extends SavedLearner>(this: LearnerClass<M>, doc: unknown): M {
    const { config, state } = fromDocument(doc, this.kind);
    const m = new this(config);
    m.restore(state);
    return m;
  }

  static async load<M extends SavedLearner>(this: LearnerClass<M>, path: string): Promise<M> {
    return (this as unknown as { fromJSON(d: unknown): M }).fromJSON(await readDocument(path));
  }

  static loadSync<M extends SavedLearner>(this: LearnerClass<M>, path: string): M {
    return (this as unknown as { fromJSON(d: unknown): M }).fromJSON(readDocumentSync(path));
  }

  protected restore(state: { params: unknown; iteration: unknown; optimizer: unknown; rng: unknown }): void {
    const p = state.params;
    const Ctor = this.dtype === 'float32' ? Float32Array : Float64Array;
    if (!(p instanceof Ctor) || p.length !== this.params.length) {
      throw new FormatError(`${this.kind} model file: 'params' is not a ${Ctor.name} of length ${this.params.length}`);
    }
    this.params.set(p);
    this.iteration = Number(state.iteration) || 0;
    if (state.optimizer) this.optimizer.setState(state.optimizer as OptimizerState);
    if (Array.isArray(state.rng)) this.rng.setState(state.rng);
    this.restoreExtra(state as Record<string, unknown>);
  }

  /** Throws NotFittedError before any meta-training (for callers that require a trained model). */
  assertFitted(method: string): void {
    if (this.iteration === 0) throw new NotFittedError(this.kind, method);
  }
}
