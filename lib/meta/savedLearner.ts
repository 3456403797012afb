/**
 * What every meta-learner keeps between runs and how it is saved and loaded: the meta-parameters,
 * the iteration count, the outer optimiser's state and the RNG's state, in the versioned model
 * format of lib/io/format.ts. Shared by MetaLearner (MAML family) and EpisodicLearner (ProtoNet,
 * MetaRidge), so a saved model resumes training exactly.
 */
import { FormatError, NotFittedError, ShapeError, ValueError } from '../core/errors.js';
import type { DType, FloatArray } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import { fromDocument, readDocument, readDocumentSync, saveDocument, toDocument, type ModelDocument } from '../io/format.js';
import type { Optimizer, OptimizerState } from '../nn/optim.js';

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
    return toDocument(this.kind, this.savedOptions(), {
      params: this.params,
      iteration: this.iteration,
      optimizer: this.optimizer.getState(),
      rng: this.rng.getState(),
      ...this.extraState(),
    });
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
