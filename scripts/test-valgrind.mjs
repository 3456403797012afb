#!/usr/bin/env node
// valgrind memcheck of a short fit on the portable build (build/Release): runs
// scripts/valgrind-fit.mjs (MultiTaskNet, MultiTaskLasso, MAML, then garbage collection) under
// memcheck with full leak checking, at METATASK_SIMD=avx2 (valgrind does not run AVX-512 code;
// METATASK_VALGRIND_SIMD=sse2 for the baseline kernels), and fails when
//   - any block is definitely lost with a frame of the addon (metatask.node) in its allocation stack,
//   - memcheck reports any error (invalid read or write, use of uninitialised values, bad free)
//     with a frame of the addon in its stack,
//   - or the workload itself fails.
// Errors and leaks wholly inside node and V8 are counted and shown, not failed on: the addon is
// what is under test. scripts/valgrind-node.supp suppresses one known false report of V8's
// conservative stack scan. Needs valgrind (apt-get install valgrind); run after the builds.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ADDON_FRAME = /metatask\.node\)|native\/src\//;
const simd = process.env.METATASK_VALGRIND_SIMD || 'avx2';

const dir = mkdtempSync(join(tmpdir(), 'metatask-valgrind-'));
const log = join(dir, 'memcheck.log');
const args = [
  '--tool=memcheck', '--leak-check=full', '--show-leak-kinds=definite', '--errors-for-leak-kinds=definite',
  '--num-callers=50', `--suppressions=${join(root, 'scripts', 'valgrind-node.supp')}`, `--log-file=${log}`,
  process.execPath, '--expose-gc', join(root, 'scripts', 'valgrind-fit.mjs'),
];
console.log(`test-valgrind: valgrind memcheck of scripts/valgrind-fit.mjs at METATASK_SIMD=${simd}`);
const t0 = Date.now();
const r = spawnSync('valgrind', args, { cwd: root, stdio: 'inherit', env: { ...process.env, METATASK_BACKEND: 'native', METATASK_SIMD: simd } });
const text = readFileSync(log, 'utf8');
rmSync(dir, { recursive: true, force: true });

// memcheck's report: records separated by blank "==pid== " lines; the first line says what it is.
const records = text
  .split(/\n==\d+== \n/)
  .map((block) => block.split('\n').map((l) => l.replace(/^==\d+== ?/, '')).join('\n').trim())
  .filter(Boolean);
const isError = (rec) => /^(Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument 'size')/.test(rec);
const isDefinite = (rec) => / are definitely lost in loss record /.test(rec);
const ours = (rec) => ADDON_FRAME.test(rec);

const errors = records.filter(isError);
const definite = records.filter(isDefinite);
const problems = [...errors.filter(ours), ...definite.filter(ours)];
const summary = text.match(/definitely lost: ([\d,]+) bytes in ([\d,]+) blocks/);
const errorSummary = text.match(/ERROR SUMMARY: (\d+) errors/);

console.log(`test-valgrind: ${((Date.now() - t0) / 1000).toFixed(0)} s; workload exit ${r.status ?? r.signal}`);
console.log(`test-valgrind: definitely lost ${summary ? `${summary[1]} bytes in ${summary[2]} blocks` : '(no leak summary)'} in all; ` +
  `${definite.filter(ours).length} of ${definite.length} definitely-lost records and ${errors.filter(ours).length} of ${errors.length} error records involve the addon ` +
  `(ERROR SUMMARY: ${errorSummary?.[1] ?? '?'})`);
for (const rec of [...errors, ...definite].filter((x) => !ours(x)).slice(0, 3)) console.log(`  (node or V8, not failed on)\n    ${rec.split('\n').slice(0, 4).join('\n    ')}`);
let failed = false;
if (r.status !== 0) {
  console.log('test-valgrind: FAIL the workload did not finish');
  failed = true;
}
if (!summary) {
  console.log('test-valgrind: FAIL memcheck printed no leak summary');
  failed = true;
}
for (const p of problems) {
  console.log(`test-valgrind: FAIL\n  ${p.split('\n').join('\n  ')}`);
  failed = true;
}
if (failed) process.exit(1);
console.log('test-valgrind: no definitely-lost bytes and no memcheck error from the addon');
