#!/usr/bin/env node
// npm install step, in this order:
//   1. A native addon that loads (the prebuilt one of prebuilds/<platform>-<arch>/, or an earlier
//      source build): use it, compile nothing.
//   2. Else build it from source with node-gyp (C++17 compiler, make, pkg-config and Eigen 3.4),
//      then delete the compiler's intermediates: only build/Release/metatask.node stays.
//   3. If that cannot run or fails, installation still succeeds: one line says why and how to fix
//      it, and the library runs on its TypeScript kernels (sharp's install story). npm 11 hides
//      this output, so the library says it again, once, when it is first used.
// METATASK_BUILD_FROM_SOURCE=1 (or `npm install --build-from-source`) skips step 1, and so does
// METATASK_MARCH_NATIVE=1 (a build for this CPU only). METATASK_SKIP_NATIVE=1 skips 1 and 2.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');

const root = path.resolve(__dirname, '..');
const ADDON = 'metatask.node';

/** The binary node-gyp-build would load from `dir` and whether it loads: { file } or { error }. */
function loadable(dir = root) {
  const ngb = require('node-gyp-build');
  let file;
  try {
    file = ngb.resolve(dir);
    require(file);
    return { file };
  } catch (err) {
    const first = String(err && err.message).split('\n')[0];
    return { error: file ? `${path.relative(dir, file)}: ${first}` : first };
  }
}

/** node-gyp: the copy npm bundles (npm names it in npm_config_node_gyp for lifecycle scripts), else the one on PATH. */
function nodeGyp(args) {
  const gyp = process.env.npm_config_node_gyp;
  return gyp ? [process.execPath, [gyp, ...args]] : ['node-gyp', args];
}

function jobs() {
  return `--jobs=${Math.max(1, os.availableParallelism?.() ?? os.cpus().length)}`;
}

/** Delete everything node-gyp left under `dir`/build except build/Release/metatask.node. */
function keepOnlyAddon(dir = root) {
  const build = path.join(dir, 'build');
  const release = path.join(build, 'Release');
  for (const e of fs.readdirSync(build)) {
    if (e !== 'Release') fs.rmSync(path.join(build, e), { recursive: true, force: true });
  }
  for (const e of fs.readdirSync(release)) {
    if (e !== ADDON) fs.rmSync(path.join(release, e), { recursive: true, force: true });
  }
}

function has(cmd, args) {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

/** Why Eigen's headers cannot be found where binding.gyp looks (EIGEN3_INCLUDE_DIR, else pkg-config), or null. */
function eigenMissing() {
  if (process.env.EIGEN3_INCLUDE_DIR) {
    return fs.existsSync(path.join(process.env.EIGEN3_INCLUDE_DIR, 'Eigen', 'Core')) ? null : `no Eigen/Core in EIGEN3_INCLUDE_DIR=${process.env.EIGEN3_INCLUDE_DIR}`;
  }
  return has('pkg-config', ['--exists', 'eigen3']) ? null : 'Eigen 3 not found by pkg-config';
}

function fallback(reason, fix) {
  console.log(`metatask: native addon not built (${reason}); using the TypeScript kernels. To build it: ${fix}, then 'npm rebuild metatask'.`);
  process.exit(0);
}

function main() {
  const env = process.env;
  if (env.METATASK_SKIP_NATIVE === '1') fallback('METATASK_SKIP_NATIVE=1', 'unset METATASK_SKIP_NATIVE');

  let why =
    (env.METATASK_BUILD_FROM_SOURCE === '1' && 'METATASK_BUILD_FROM_SOURCE=1') ||
    (env.npm_config_build_from_source === 'true' && '--build-from-source') ||
    (env.METATASK_MARCH_NATIVE === '1' && 'METATASK_MARCH_NATIVE=1');
  if (!why) {
    const found = loadable();
    if (found.file) {
      console.log(`metatask: using the native addon ${path.relative(root, found.file)}`);
      process.exit(0);
    }
    why = `no prebuilt binary loads: ${found.error}`;
  }

  const installHint = process.platform === 'darwin' ? 'brew install eigen pkg-config' : 'apt-get install g++ make pkg-config python3 libeigen3-dev';
  const noEigen = eigenMissing();
  if (noEigen) fallback(noEigen, installHint);
  if (process.platform !== 'win32' && !has(env.CXX || 'c++', ['--version'])) fallback('no C++ compiler', installHint);

  console.log(`metatask: building the native addon from source (${why}); this takes a few minutes`);
  const log = path.join(root, 'build-native.log');
  const out = fs.openSync(log, 'w');
  const [cmd, args] = nodeGyp(['rebuild', jobs()]);
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  if (r.status !== 0) {
    fs.rmSync(path.join(root, 'build'), { recursive: true, force: true });
    fallback(`the source build failed, see ${log}`, installHint);
  }
  keepOnlyAddon();
  const built = loadable();
  if (!built.file) fallback(`the built addon does not load (${built.error}), see ${log}`, installHint);
  fs.rmSync(log, { force: true });
  console.log(`metatask: native addon built (${path.relative(root, built.file)})`);
}

module.exports = { loadable, nodeGyp, jobs, keepOnlyAddon };

if (require.main === module) main();
