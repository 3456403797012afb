#!/usr/bin/env node
// `npm run build:prebuilds [-- --arch <arch>]`: the Node-API binary of this platform, written where
// node-gyp-build looks in an installed package:
//     prebuilds/<platform>-<arch>/metatask.napi[.glibc|.musl].node
// It is compiled from a clean copy of the sources (the development build/ is left alone), never
// with -march=native (the SIMD level is chosen at load, so one binary runs on every CPU of its
// architecture), on Linux with libstdc++ linked in (so it needs only the C library), and stripped.
// On Linux it then prints the oldest glibc the binary needs (scripts/check-glibc.cjs).
// --arch cross-compiles where the toolchain can (x64 <-> arm64 on macOS); the binary is loaded
// as a check only when it was built for this machine.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { nodeGyp, jobs } = require('./install.cjs');

const root = path.resolve(__dirname, '..');

/** The C library of this Linux (what node-gyp-build's libc tag names), or undefined elsewhere. */
function hostLibc() {
  if (process.platform !== 'linux') return undefined;
  return process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** prebuilds/<platform>-<arch>/metatask.napi[.<libc>].node, relative to the package root. */
function prebuildPath(platform = process.platform, arch = process.arch, libc = hostLibc()) {
  return path.join('prebuilds', `${platform}-${arch}`, `metatask.napi${libc ? `.${libc}` : ''}.node`);
}

/** Remove symbols the loader does not need (Windows binaries carry none: MSVC writes a separate .pdb). */
function strip(file) {
  if (process.platform === 'win32') return;
  const args = process.platform === 'darwin' ? ['-x', file] : ['--strip-all', file];
  const r = spawnSync(process.env.STRIP || 'strip', args, { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`strip ${args.join(' ')} failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ''})`);
}

/** Copy binary `src` to the prebuild path under `pkgRoot`, stripped; returns the written file. */
function installPrebuild(src, pkgRoot, target = {}) {
  const dest = path.join(pkgRoot, prebuildPath(target.platform, target.arch, target.libc));
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(src, dest);
  strip(dest);
  return dest;
}

/** native/prebuild/glibc-compat.c compiled into `dir`; returns the object file (linked first, see the file). */
function compileGlibcCompat(dir) {
  const obj = path.join(dir, 'glibc-compat.o');
  const args = ['-c', '-O2', '-fPIC', path.join(root, 'native', 'prebuild', 'glibc-compat.c'), '-o', obj];
  const r = spawnSync(process.env.CC || 'cc', args, { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`cc ${args.join(' ')} failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ''})`);
  return obj;
}

/** Compile the addon in a temporary copy of the sources; returns the path of the built binary and the copy. */
function compile(arch) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metatask-prebuild-'));
  for (const f of ['package.json', 'binding.gyp', 'native', 'scripts/native-flags.cjs']) {
    fs.cpSync(path.join(root, f), path.join(dir, f), { recursive: true });
  }
  // binding.gyp asks node-addon-api for its headers from the folder it sits in.
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'junction');
  const env = { ...process.env };
  delete env.METATASK_MARCH_NATIVE;
  if (process.platform === 'linux') {
    // libstdc++ inside the binary, its symbols kept private: the prebuilt needs no particular GCC
    // runtime on the user's machine, only the C library.
    const ldflags = ['-static-libstdc++', '-Wl,--exclude-libs,ALL'];
    if (hostLibc() === 'glibc') ldflags.unshift(compileGlibcCompat(dir));
    env.LDFLAGS = `${env.LDFLAGS ?? ''} ${ldflags.join(' ')}`.trim();
  }
  const [cmd, args] = nodeGyp(['rebuild', jobs(), ...(arch ? [`--arch=${arch}`] : [])]);
  console.log(`build:prebuilds: compiling in ${dir} (${cmd === 'node-gyp' ? 'node-gyp' : args[0]} ${args.slice(1).join(' ')})`);
  const r = spawnSync(cmd, args, { cwd: dir, env, stdio: 'inherit' });
  if (r.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`node-gyp failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ''})`);
  }
  return { binary: path.join(dir, 'build', 'Release', 'metatask.node'), dir };
}

function main() {
  const argv = process.argv.slice(2);
  const archAt = argv.indexOf('--arch');
  const arch = archAt >= 0 ? argv[archAt + 1] : undefined;
  if (archAt >= 0 && !arch) throw new Error('build:prebuilds: --arch needs a value (x64, arm64)');
  const { binary, dir } = compile(arch);
  let dest;
  try {
    dest = installPrebuild(binary, root, { arch: arch ?? process.arch });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const kb = Math.round(fs.statSync(dest).size / 1024);
  console.log(`build:prebuilds: wrote ${path.relative(root, dest)} (${kb} KiB)`);
  if (!arch || arch === process.arch) {
    const addon = require(dest);
    const info = addon.info();
    console.log(`build:prebuilds: it loads here: SIMD ${info.simd} (this CPU runs ${info.simdAvailable.join(', ')})`);
  }
  if (process.platform === 'linux') {
    const { requirements, describe } = require('./check-glibc.cjs');
    const req = requirements(dest);
    console.log(`build:prebuilds: ${describe(req)}`);
    if (req.libstdcxx) throw new Error('build:prebuilds: the binary still needs the shared libstdc++ (-static-libstdc++ did not apply)');
  }
}

module.exports = { prebuildPath, installPrebuild, hostLibc, strip };

if (require.main === module) {
  try {
    main();
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
