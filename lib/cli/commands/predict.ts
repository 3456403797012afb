/**
 * `metatask predict`: a fitted model's predictions for every row of a table, in the table's row
 * order, as CSV (or JSON records) on stdout or in the --output file.
 */
import { writeFileSync } from 'node:fs';

import { predictTable } from '../apply.js';
import { CliError, numberOption, Output, positionals, stringOption, type Command } from '../command.js';
import { applyBackend, BACKEND_OPTIONS } from '../common.js';
import { readTableFor } from '../data.js';
import { loadModelFile } from '../modelFile.js';
import { columnsToCsv, columnsToRecords } from '../table.js';

export const predict: Command = {
  name: 'predict',
  summary: "a model's predictions for every row of a table",
  usage: 'metatask predict [options] <model.json> <data.csv|data.json|->',
  description: `Reads the model file written by 'metatask fit' and a table with the same feature
columns (and the task column, when the model was fitted with one); writes one prediction per row,
in the table's order: the task column and 'prediction' (and 'probability' of class 1 for a binary
task), or one column per task for shared inputs. CSV goes to stdout unless --output names a file
(.json for JSON records); --json prints JSON records on stdout.

Meta-learners predict for a task after adapting to a few labelled rows of it: give them in a
--support table (same columns, with the target).`,
  options: {
    output: { type: 'string', short: 'o', value: '<file>', description: 'write the predictions to this file (.csv or .json) instead of stdout' },
    support: { type: 'string', value: '<file>', description: "meta-learners: labelled rows of each task to adapt from" },
    steps: { type: 'string', value: '<n>', description: "meta-learners: adaptation steps (default: the model's innerSteps)" },
    ...BACKEND_OPTIONS,
  },
  examples: ['metatask predict model.json new-students.csv > predictions.csv', 'metatask predict --json model.json rows.json', 'metatask predict --support labelled.csv maml.json new-school.csv'],
  async run(args, io) {
    const out = new Output(io, args);
    const [modelPath, input] = positionals(args, ['model.json', 'data']);
    applyBackend(args);
    const { cli, schema } = loadModelFile(modelPath!);
    const table = readTableFor(input!, schema, false);
    const supportPath = stringOption(args, 'support');
    const support = supportPath === undefined ? undefined : readTableFor(supportPath, schema, true);
    const steps = numberOption(args, 'steps', { integer: true, min: 0 });
    const columns = predictTable(cli, schema, table, support, steps !== undefined ? { steps } : {});
    const file = stringOption(args, 'output');
    if (file === undefined) {
      if (out.json) out.result(columnsToRecords(columns), '');
      else io.stdout.write(columnsToCsv(columns));
      return 0;
    }
    const text = file.toLowerCase().endsWith('.json') ? `${JSON.stringify(columnsToRecords(columns))}\n` : columnsToCsv(columns);
    try {
      writeFileSync(file, text);
    } catch (err) {
      throw new CliError(`cannot write ${file}: ${(err as Error).message}`);
    }
    out.result({ file, rows: table.rows, columns: columns.map((c) => c.name) }, `${table.rows} predictions written to ${file}`);
    return 0;
  },
};
