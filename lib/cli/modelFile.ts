/**
 * The command's model files: the model's own document (format metatask/1, the file
 * `Model.load(path)` reads from code) with the data schema recorded in its `data` field, so
 * `predict` and `evaluate` know which columns to read and how to scale them.
 */
import { existsSync, writeFileSync } from 'node:fs';

import { decodeValue, readDocumentSync, withData, type ModelDocument } from '../io/format.js';
import { CliError } from './command.js';
import { schemaFromFile, type DataSchema } from './data.js';
import { modelOfKind, type CliModel, type ModelEntry } from './models.js';

/** Write `model` with its schema to `path`. */
export function saveModelFile(path: string, cli: CliModel, schema: DataSchema): void {
  const doc = withData(cli.model.toJSON(), schema);
  try {
    writeFileSync(path, JSON.stringify(doc));
  } catch (err) {
    throw new CliError(`cannot write the model file ${path}: ${(err as Error).message}`);
  }
}

/** Read a model file: the model (checksum checked by its class), its entry and its schema. */
export function loadModelFile(path: string): { cli: CliModel; entry: ModelEntry; schema: DataSchema } {
  if (!existsSync(path)) throw new CliError(`cannot read the model file ${path}: no such file`);
  const doc = readDocumentSync(path) as Partial<ModelDocument> | null;
  const entry = modelOfKind(doc?.kind);
  const cli = entry.load(doc);
  const schema = schemaFromFile(doc!.data === undefined ? undefined : decodeValue(doc!.data), path);
  return { cli, entry, schema };
}
