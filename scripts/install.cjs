#!/usr/bin/env node
// npm install step: use a prebuilt binary when one matches, else build the addon from source.
// If neither works, installation still succeeds: print one clear line and fall back to the
// TypeScript kernels (sharp's install story). METATASK_BACKEND=native makes that an error later.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');

const root = path.resolve(__dirname, '..');

function prebuildLoads() {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

function has(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.status === 0;
}

function fallback(reason, fix) {
  console.log(`metatask: native addon not built (${reason}); using the TypeScript kernels. To build it: ${fix}, then 'npm rebuild metatask'.`);
  process.exit(0);
}

if (process.env.METATASK_SKIP_NATIVE === '1') fallback('METATASK_SKIP_NATIVE=1', 'unset METATASK_SKIP_NATIVE');
if (prebuildLoads()) process.exit(0);

const installHint = process.platform === 'darwin' ? 'brew install eigen pkg-config' : 'apt-get install g++ make pkg-config libeigen3-dev';
if (!has('pkg-config', ['--exists', 'eigen3'])) fallback('Eigen 3 not found by pkg-config', installHint);
if (process.platform !== 'win32' && !has(process.env.CXX || 'c++', ['--version'])) fallback('no C++ compiler', installHint);

// npm puts its bundled node-gyp on PATH during lifecycle scripts and names it in npm_config_node_gyp.
const gyp = process.env.npm_config_node_gyp;
const cmd = gyp ? process.execPath : 'node-gyp';
const args = [...(gyp ? [gyp] : []), 'rebuild', `--jobs=${Math.max(1, os.availableParallelism?.() ?? os.cpus().length)}`];
const log = path.join(root, 'build-native.log');
const out = fs.openSync(log, 'w');
const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', out, out] });
fs.closeSync(out);
if (r.status !== 0) fallback(`the source build failed, see ${log}`, installHint);
if (!prebuildLoads()) fallback(`the built addon does not load, see ${log}`, installHint);
fs.rmSync(log, { force: true });
console.log('metatask: native addon built');
