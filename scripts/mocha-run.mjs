// One mocha run of the compiled suite (dist/test) on the backend named by METATASK_BACKEND;
// writes { passes, failures, pending } to the file named by the first argument.
// Options: --grep <pattern>, --files <name,name> (test file names without .test.ts), --timeout <ms>.
import Mocha from 'mocha';
import { readdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [statsFile, ...rest] = process.argv.slice(2);
const option = (name) => (rest.includes(name) ? rest[rest.indexOf(name) + 1] : undefined);
const grep = option('--grep');
// --files a,b: only test/a.test.ts and test/b.test.ts (each name must exist).
const only = option('--files')?.split(',').filter(Boolean);

// --timeout <ms>: per test (default 2 minutes; emulated CPUs run far slower).
const timeout = Number(option('--timeout') ?? 120_000);

const mocha = new Mocha({ reporter: 'spec', timeout, grep });
const testDir = join(root, 'dist', 'test');
const files = readdirSync(testDir, { recursive: true }).map(String).filter((f) => f.endsWith('.test.js')).sort();
const unknown = (only ?? []).filter((name) => !files.includes(`${name}.test.js`));
if (unknown.length) {
  console.error(`mocha-run: no test file ${unknown.map((u) => `test/${u}.test.ts`).join(', ')}`);
  process.exit(2);
}
for (const f of files) {
  if (!only || only.includes(f.slice(0, -'.test.js'.length))) mocha.addFile(join(testDir, f));
}
await mocha.loadFilesAsync();
const runner = mocha.run((failures) => {
  const s = runner.stats;
  writeFileSync(statsFile, JSON.stringify({ passes: s.passes, failures: s.failures, pending: s.pending }));
  process.exitCode = failures ? 1 : 0;
});
