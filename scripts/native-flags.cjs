// Compiler flags of the native build, printed for binding.gyp and CMakeLists.txt:
//   node scripts/native-flags.cjs common        flags of every translation unit
//   node scripts/native-flags.cjs level <name>  extra flags of one SIMD level's unit
//   node scripts/native-flags.cjs eigen         the include flag of Eigen 3's headers
//   node scripts/native-flags.cjs eigen-dir     their folder (EIGEN3_INCLUDE_DIR, else pkg-config)
// Builds are portable by default: only the level units are compiled above the architecture's
// baseline, and the addon picks one of them at load. METATASK_MARCH_NATIVE=1 adds -march=native
// to every unit (a binary for this machine only; for comparison benchmarks).
'use strict';
const { spawnSync } = require('node:child_process');

const LEVEL_FLAGS = {
  gcc: { avx2: ['-mavx2', '-mfma'], avx512: ['-mavx512f', '-mavx2', '-mfma'] },
  msvc: { avx2: ['/arch:AVX2'], avx512: ['/arch:AVX512'] },
};

function flags(kind, level, env = process.env, platform = process.platform, arch = process.arch) {
  const msvc = platform === 'win32';
  const out = [];
  if (kind === 'common') {
    // The rounding of every operation is the one the source writes (no silent fused multiply-add).
    if (!msvc) out.push('-ffp-contract=off');
    if (!msvc && env.METATASK_MARCH_NATIVE === '1') out.push(arch === 'arm64' ? '-mcpu=native' : '-march=native');
    return out;
  }
  if (kind === 'level') {
    if (arch !== 'x64') return out;  // level units of another architecture compile to nothing
    const table = LEVEL_FLAGS[msvc ? 'msvc' : 'gcc'];
    if (!table[level]) throw new Error(`native-flags: unknown level '${level}'`);
    // -march=native on an AVX-512 machine would make the avx2 unit AVX-512 code (its guard refuses
    // that): each level keeps its own instructions, tuned for this CPU.
    if (!msvc && level === 'avx2' && env.METATASK_MARCH_NATIVE === '1') return [...table[level], '-mno-avx512f'];
    return table[level];
  }
  if (kind === 'eigen') return ['-isystem', eigenDir(env)];
  if (kind === 'eigen-dir') return [eigenDir(env)];
  throw new Error(`native-flags: expected 'common', 'level <name>', 'eigen' or 'eigen-dir', got '${kind}'`);
}

/** Eigen's include folder: EIGEN3_INCLUDE_DIR (where pkg-config is missing, e.g. Windows), else pkg-config's. */
function eigenDir(env = process.env) {
  if (env.EIGEN3_INCLUDE_DIR) return env.EIGEN3_INCLUDE_DIR;
  const r = spawnSync('pkg-config', ['--cflags-only-I', 'eigen3'], { encoding: 'utf8' });
  const dir = r.status === 0 ? /-I\s*(\S+)/.exec(r.stdout)?.[1] : undefined;
  if (!dir) throw new Error('native-flags: Eigen 3 not found: install it (libeigen3-dev, brew install eigen) or set EIGEN3_INCLUDE_DIR');
  return dir;
}

module.exports = { flags, eigenDir };

if (require.main === module) {
  const [kind, level] = process.argv.slice(2);
  try {
    process.stdout.write(flags(kind, level).join(' '));
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
