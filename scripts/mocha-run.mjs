// One mocha run of the compiled suite (dist/test) on the backend named by METATASK_BACKEND;
// writes { passes, failures, pending } to the file named by the first argument.
import Mocha from 'mocha';
import { readdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [statsFile, ...rest] = process.argv.slice(2);
const grep = rest.includes('--grep') ? rest[rest.indexOf('--grep') + 1] : undefined;

const mocha = new Mocha({ reporter: 'spec', timeout: 120_000, grep });
const testDir = join(root, 'dist', 'test');
for (const f of readdirSync(testDir, { recursive: true }).map(String).sort()) {
  if (f.endsWith('.test.js')) mocha.addFile(join(testDir, f));
}
await mocha.loadFilesAsync();
const runner = mocha.run((failures) => {
  const s = runner.stats;
  writeFileSync(statsFile, JSON.stringify({ passes: s.passes, failures: s.failures, pending: s.pending }));
  process.exitCode = failures ? 1 : 0;
});
