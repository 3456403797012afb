#!/usr/bin/env node
// The same built addon on older CPUs: runs node under qemu-user as a Haswell (AVX2 and FMA, no
// AVX-512) and as a Nehalem (SSE4.2, no AVX) and checks, on each,
//   1. that the emulated CPU really lacks the instructions above its level (a probe compiled with
//      AVX2 dies with SIGILL on the Nehalem), when a C++ compiler is at hand;
//   2. backend().simd is 'avx2' and 'sse2' respectively, and METATASK_SIMD above it is refused;
//   3. the kernel parity, reproducibility, network gradient and binding tests pass (native backend);
//   4. the kernel outputs of scripts/simd-numbers.mjs are bit-identical to the host's at the same
//      level (with the host's glibc on the same math-function variant as the emulated CPU's),
//      and within the stated tolerances of every other level and of the TypeScript kernels;
//   5. the TypeScript kernels on an emulated Core 2 (no SSE4.1, so no WebAssembly SIMD in V8) run
//      their scalar loops and give the bits of the host's, whose products run in WebAssembly SIMD.
// Exit 1 on any failure. x64 Linux only; needs qemu-x86_64 (apt-get install qemu-user).
//   node scripts/test-cpus.mjs [--files a,b]        (after npm run build and the addon build)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const QEMU = process.env.QEMU || 'qemu-x86_64';
const argv = process.argv.slice(2);
// libm: the variant of glibc's exp, log, tanh... that CPU gets (glibc picks an FMA one where FMA
// and AVX2 exist); results are bit-identical across CPUs only between runs of the same variant.
const CPUS = [
  { model: 'Haswell', simd: 'avx2', above: 'avx512', libm: 'fma' },
  { model: 'Nehalem', simd: 'sse2', above: 'avx2', libm: 'generic' },
];
const hostFlags = (readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/);
const HOST_LIBM = hostFlags.includes('fma') && hostFlags.includes('avx2') ? 'fma' : 'generic';
// Makes the host's glibc take its generic (non-FMA) math paths, as on a CPU without FMA.
const GENERIC_LIBM = { GLIBC_TUNABLES: 'glibc.cpu.hwcaps=-AVX2,-FMA' };
// The native-heavy tests: kernel parity, kernel reproducibility (offsets, threads), network
// gradients, the binding. Left out under emulation for time: the network parity file (a large
// float32 network; the gradient checks and the network outputs compared in step 4 cover the
// network kernels) and the seeded-fit reproducibility file (whole fits; the suite runs it on the
// host, and the kernels it relies on are checked here). The TypeScript kernels' products file runs too:
// the emulated CPUs have WebAssembly SIMD (SSE4.1), and its tests compare it with the scalar loops.
const FILES = argv.includes('--files')
  ? argv[argv.indexOf('--files') + 1]
  : 'backend,kernels.parity,reproducibility,network.gradcheck,network.native,network.vjp,metabatch,binding.robustness,wasmProducts';

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error('test-cpus: x64 Linux only (qemu-user emulates x86-64 CPU models)');
  process.exit(1);
}
if (spawnSync(QEMU, ['--version']).status !== 0) {
  console.error(`test-cpus: ${QEMU} not found (apt-get install qemu-user)`);
  process.exit(1);
}
if (!existsSync(join(root, 'build', 'Release', 'metatask.node'))) {
  console.error('test-cpus: build/Release/metatask.node is missing (npm run build:native)');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'metatask-cpus-'));
let failures = 0;
const fail = (msg) => {
  console.log(`test-cpus: FAIL ${msg}`);
  failures++;
};

// qemu warns on stderr about CPU features its emulator lacks (TSX, x2apic, ...) that no program
// here uses; those lines are dropped, everything else is passed on.
// The AVX2 probe's expected death is reported as "qemu: uncaught target signal 4", dropped too.
const QEMU_NOISE = /^qemu-x86_64: warning: TCG doesn't support requested feature|^qemu: uncaught target signal 4 \(Illegal instruction\)/;
function run(cmd, args, env, { capture = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', capture ? 'pipe' : 'inherit', 'pipe'] });
    let out = '';
    let err = '';
    if (capture) child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => {
      err += d;
      const lines = err.split('\n');
      err = lines.pop();
      for (const l of lines) if (!QEMU_NOISE.test(l)) process.stderr.write(`${l}\n`);
    });
    child.on('close', (status, signal) => {
      if (err && !QEMU_NOISE.test(err)) process.stderr.write(`${err}\n`);
      resolve({ status, signal, stdout: out });
    });
  });
}
const emulated = (cpu, script, env, opts) => run(QEMU, ['-cpu', cpu.model, process.execPath, ...script], env, opts);
const seconds = (t0) => `${((Date.now() - t0) / 1000).toFixed(0)} s`;

// 1. The emulation is real: an AVX2 + FMA instruction is illegal on the emulated Nehalem.
const cxx = process.env.CXX || 'c++';
const probe = join(work, 'avx2-probe');
const probeSource =
  '#include <immintrin.h>\n#include <cstdio>\nint main(int argc, char**) { volatile double in[4] = {1, 2, 3, double(argc)};\n' +
  '__m256d a = _mm256_loadu_pd(const_cast<const double*>(in)); a = _mm256_fmadd_pd(a, a, a);\n' +
  'double out[4]; _mm256_storeu_pd(out, a); std::printf("%g\\n", out[3]); return 0; }\n';
const compiled = spawnSync(cxx, ['-x', 'c++', '-O1', '-mavx2', '-mfma', '-o', probe, '-'], { input: probeSource });
if (compiled.status === 0) {
  for (const cpu of CPUS) {
    const r = await run(QEMU, ['-cpu', cpu.model, probe], {}, { capture: true });
    const trapped = r.signal === 'SIGILL' || r.status === 132;
    if (trapped !== (cpu.simd === 'sse2')) fail(`the AVX2 probe on the emulated ${cpu.model}: ${trapped ? 'SIGILL' : 'ran'}, expected ${cpu.simd === 'sse2' ? 'SIGILL' : 'to run'}`);
    else console.log(`test-cpus: emulated ${cpu.model}: an AVX2+FMA instruction ${trapped ? 'is illegal (SIGILL)' : 'runs'}, as on the real CPU`);
  }
} else {
  console.log(`test-cpus: no C++ compiler (${cxx}): the AVX2 probe is left out`);
}

const levelScript = [
  '--input-type=module', '-e',
  `import { backend } from ${JSON.stringify(new URL(`file://${join(root, 'dist', 'lib', 'kernels', 'index.js')}`).href)};` +
    `try { const b = backend(); console.log(JSON.stringify({ name: b.name, simd: b.simd, available: b.simdAvailable })); }` +
    `catch (e) { console.log(JSON.stringify({ error: e.name, code: e.code, message: e.message })); }`,
];
const lastJson = (s) => JSON.parse(s.trim().split('\n').pop());

for (const cpu of CPUS) {
  const t0 = Date.now();
  console.log(`\n===== emulated ${cpu.model} (expected level: ${cpu.simd}) =====`);
  // 2. The level chosen at load, and the cap above it refused.
  const info = lastJson((await emulated(cpu, levelScript, { METATASK_BACKEND: 'native' }, { capture: true })).stdout);
  if (info.name !== 'native' || info.simd !== cpu.simd) fail(`${cpu.model}: backend() is ${JSON.stringify(info)}, expected native ${cpu.simd}`);
  else console.log(`test-cpus: ${cpu.model}: backend().simd = '${info.simd}', levels this CPU runs: ${info.available.join(', ')}`);
  const capped = lastJson((await emulated(cpu, levelScript, { METATASK_BACKEND: 'native', METATASK_SIMD: cpu.above }, { capture: true })).stdout);
  if (capped.code !== 'ERR_SIMD_UNAVAILABLE') fail(`${cpu.model}: METATASK_SIMD=${cpu.above} gave ${JSON.stringify(capped)}, expected a BackendError ERR_SIMD_UNAVAILABLE`);
  else console.log(`test-cpus: ${cpu.model}: METATASK_SIMD=${cpu.above} refused: ${capped.message}`);

  // 3. The tests.
  const stats = join(work, `${cpu.model}.json`);
  // Emulation runs 10 to 50 times slower than the host: tests get 20 minutes each, not 2.
  await emulated(cpu, [join(root, 'scripts', 'mocha-run.mjs'), stats, '--files', FILES, '--timeout', '1200000'], { METATASK_BACKEND: 'native', METATASK_REQUIRE_NATIVE: '1' });
  if (!existsSync(stats)) fail(`${cpu.model}: the test run ended without results`);
  else {
    const s = JSON.parse(readFileSync(stats, 'utf8'));
    if (s.failures > 0 || s.passes === 0) fail(`${cpu.model}: ${s.passes} passed, ${s.failures} failed`);
    console.log(`test-cpus: ${cpu.model}: ${s.passes} passed, ${s.failures} failed, ${s.pending} skipped (${FILES})`);
  }

  // 4. The numbers, at the emulated CPU's own level and at sse2 on it.
  for (const level of [...new Set([cpu.simd, 'sse2'])]) {
    const r = await emulated(cpu, [join(root, 'scripts', 'simd-numbers.mjs'), 'compute'], { METATASK_BACKEND: 'native', METATASK_SIMD: level }, { capture: true });
    if (r.status !== 0) fail(`${cpu.model}: simd-numbers at ${level} exited with ${r.status ?? r.signal}`);
    else writeFileSync(join(work, `numbers-qemu-${cpu.model}-${level}.json`), JSON.stringify({ label: `emulated ${cpu.model}`, libm: cpu.libm, ...JSON.parse(r.stdout) }));
  }
  console.log(`test-cpus: ${cpu.model} done in ${seconds(t0)}`);
}

// Host numbers at every level it runs, and the TypeScript kernels'.
console.log('\n===== kernel outputs: host levels, TypeScript kernels and emulated CPUs =====');
const hostLevels = lastJson((await run(process.execPath, levelScript, { METATASK_BACKEND: 'native' }, { capture: true })).stdout).available;
const hostRuns = [...hostLevels.map((l) => ['native', l, HOST_LIBM]), ['js', '', '']];
// sse2 once more with glibc's generic math paths, to compare bit for bit with the Nehalem.
if (HOST_LIBM === 'fma') hostRuns.push(['native', 'sse2', 'generic']);
for (const [backendName, level, libm] of hostRuns) {
  const env = { METATASK_BACKEND: backendName, METATASK_SIMD: level, ...(libm !== HOST_LIBM ? GENERIC_LIBM : {}) };
  const r = await run(process.execPath, [join(root, 'scripts', 'simd-numbers.mjs'), 'compute'], env, { capture: true });
  if (r.status !== 0) fail(`host: simd-numbers (${backendName} ${level}) exited with ${r.status ?? r.signal}`);
  else writeFileSync(join(work, `numbers-host-${backendName}-${level || 'ts'}-${libm}.json`), JSON.stringify({ label: 'host', libm: libm || undefined, ...JSON.parse(r.stdout) }));
}
// 5. The TypeScript kernels without WebAssembly SIMD: on an emulated Core 2 and with METATASK_WASM=off.
console.log('\n===== the TypeScript kernels with and without WebAssembly SIMD =====');
for (const [label, r] of [
  ['emulated core2duo', await run(QEMU, ['-cpu', 'core2duo', process.execPath, join(root, 'scripts', 'simd-numbers.mjs'), 'compute'], { METATASK_BACKEND: 'js' }, { capture: true })],
  ['host, METATASK_WASM=off', await run(process.execPath, [join(root, 'scripts', 'simd-numbers.mjs'), 'compute'], { METATASK_BACKEND: 'js', METATASK_WASM: 'off' }, { capture: true })],
]) {
  if (r.status !== 0) {
    fail(`${label}: simd-numbers (js) exited with ${r.status ?? r.signal}`);
    continue;
  }
  const numbers = JSON.parse(r.stdout);
  if (numbers.wasmSimd !== false) fail(`${label}: the TypeScript kernels report wasmSimd ${numbers.wasmSimd}, expected false`);
  else console.log(`test-cpus: ${label}: the TypeScript kernels run their scalar loops`);
  writeFileSync(join(work, `numbers-${label.replace(/[^a-z0-9]+/gi, '-')}-js.json`), JSON.stringify({ label, ...numbers }));
}
const hostJsFile = join(work, 'numbers-host-js-ts-.json');
const hostJs = existsSync(hostJsFile) ? JSON.parse(readFileSync(hostJsFile, 'utf8')) : {};
if (hostJs.wasmSimd !== true) fail(`host: the TypeScript kernels report wasmSimd ${hostJs.wasmSimd}, expected true on an x86-64 CPU with SSE4.1`);
else console.log('test-cpus: host: the TypeScript kernels run their products in WebAssembly SIMD');

const numberFiles = readdirSync(work).filter((f) => f.startsWith('numbers-')).sort().map((f) => join(work, f));
const cmp = await run(process.execPath, [join(root, 'scripts', 'simd-numbers.mjs'), 'compare', ...numberFiles], {});
if (cmp.status !== 0) fail('kernel outputs differ (see above)');

rmSync(work, { recursive: true, force: true });
if (failures) {
  console.log(`\ntest-cpus: ${failures} failure(s)`);
  process.exit(1);
}
console.log('\ntest-cpus: the addon runs and agrees on the emulated Haswell (avx2) and Nehalem (sse2); the TypeScript kernels give the same bits with and without WebAssembly SIMD');
