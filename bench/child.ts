/**
 * The child side of harness.inChild: `node dist/bench/child.js <module> <function> <json argument>`
 * imports bench/<module>.js, awaits `<function>(argument)` and prints the result on the line the
 * parent looks for. Errors go to stderr with a non-zero exit.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { reportToParent } from './harness.js';

async function main(): Promise<void> {
  const [module, fn, arg] = process.argv.slice(2);
  if (!module || !fn || !/^[A-Za-z0-9_]+$/.test(module)) throw new Error('usage: child.js <module> <function> <json argument>');
  const mod = (await import(pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), `${module}.js`)).href)) as Record<string, unknown>;
  const f = mod[fn];
  if (typeof f !== 'function') throw new Error(`bench/${module} exports no function ${fn}`);
  reportToParent(await (f as (a: unknown) => unknown)(JSON.parse(arg ?? 'null')));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
