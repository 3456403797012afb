#!/usr/bin/env node
// `npm test`: the whole suite once per backend (native when the addon was built or is required,
// then METATASK_BACKEND=js), and one closing line "N passed, N failed".
// Options: --grep <pattern>, --files <name,name> (only those test files), --backend native|js
// (only that one). Run after `npm run build`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const only = args.includes('--backend') ? args[args.indexOf('--backend') + 1] : undefined;
const passThrough = args.filter((a, i) => a !== '--backend' && args[i - 1] !== '--backend');

// A binary the loader finds: a source build under build/, or a prebuilt one under prebuilds/.
let built = false;
try {
  createRequire(import.meta.url)('node-gyp-build').resolve(root);
  built = true;
} catch {}
const required = process.env.METATASK_REQUIRE_NATIVE === '1';
const backends = [];
if (built || required) backends.push('native');
else console.log('test: the native addon was not built; running the TypeScript backend only');
backends.push('js');

let passed = 0;
let failed = 0;
let skipped = 0;
const dir = mkdtempSync(join(tmpdir(), 'metatask-test-'));
for (const b of backends) {
  if (only && b !== only) continue;
  console.log(`\n===== backend: ${b} =====`);
  const statsFile = join(dir, `${b}.json`);
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'mocha-run.mjs'), statsFile, ...passThrough], {
    stdio: 'inherit',
    env: { ...process.env, METATASK_BACKEND: b },
  });
  if (!existsSync(statsFile)) {
    console.log(`test: the ${b} run ended without results (exit ${r.status}, signal ${r.signal})`);
    failed += 1;
    continue;
  }
  const s = JSON.parse(readFileSync(statsFile, 'utf8'));
  passed += s.passes;
  failed += s.failures;
  skipped += s.pending;
}
rmSync(dir, { recursive: true, force: true });
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
