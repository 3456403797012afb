/**
 * The file round trip of every linear model, written once: each model class says what its fitted
 * state is (toJSON, and its static fromJSON), and this base turns that into save/saveSync and the
 * static load/loadSync, so that every model is written and read through lib/io/format.ts the same
 * way (same atomic write, checksum and FormatErrors).
 */
import { readDocument, readDocumentSync, saveDocument, saveDocumentSync, type ModelDocument } from '../io/format.js';

export abstract class PersistentModel {
  /** The model as a versioned JSON document (format metatask/1). */
  abstract toJSON(): ModelDocument;

  /** Write the model to `path` (JSON). */
  async save(path: string): Promise<void> {
    await saveDocument(path, this.toJSON());
  }
  saveSync(path: string): void {
    saveDocumentSync(path, this.toJSON());
  }

  /**
   * Read a model written by `save`. Typed by the constructor it is called on, so that
   * `MultiTaskLasso.load(path)` is a Promise<MultiTaskLasso>.
   */
  static async load<M>(this: (new (options?: any) => M) & { fromJSON(doc: unknown): M }, path: string): Promise<M> {
    return this.fromJSON(await readDocument(path));
  }
  static loadSync<M>(this: (new (options?: any) => M) & { fromJSON(doc: unknown): M }, path: string): M {
    return this.fromJSON(readDocumentSync(path));
  }
}
