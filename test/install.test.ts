/**
 * The install step (scripts/install.cjs), run on copies of the package whose PATH holds only node:
 * it uses a binary that loads, compiles only when none does (here through a stand-in for node-gyp
 * that writes what node-gyp writes), keeps only build/Release/metatask.node afterwards, and when
 * the build cannot run, `npm install` still succeeds with one line saying why and how to fix it.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

import { packageRoot } from '../lib/kernels/native.js';

const require = createRequire(import.meta.url);

/** A package copy without build/ or prebuilds/ (so no addon loads) and a bin/ holding only node. */
function packageCopy(): { dir: string; bin: string } {
  const root = packageRoot();
  const dir = mkdtempSync(join(tmpdir(), 'metatask-install-'));
  for (const f of ['package.json', 'binding.gyp', 'scripts/install.cjs', 'scripts/native-flags.cjs', 'native/sources.json']) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(root, f), join(dir, f));
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  return { dir, bin };
}

function runInstall(dir: string, env: NodeJS.ProcessEnv): { status: number | null; lines: string[] } {
  const r = spawnSync(process.execPath, [join(dir, 'scripts', 'install.cjs')], { encoding: 'utf8', env: { HOME: dir, ...env } });
  return { status: r.status, lines: r.stdout.trim().split('\n') };
}

/** Every file under dir/build, relative to dir. */
function buildFiles(dir: string): string[] {
  const build = join(dir, 'build');
  if (!existsSync(build)) return [];
  return readdirSync(build, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/**
 * A stand-in for node-gyp (named by npm_config_node_gyp, as npm does): writes intermediates as
 * node-gyp does and, unless FAKE_FAIL is set, the addon `addon` as build/Release/metatask.node.
 * A compiler stand-in `c++` and an Eigen folder complete what the install step checks for.
 */
function fakeToolchain(dir: string, bin: string, addon: string): NodeJS.ProcessEnv {
  const gyp = join(dir, 'fake-node-gyp.cjs');
  writeFileSync(
    gyp,
    `const fs = require('fs'), path = require('path');
const rel = path.join(process.cwd(), 'build', 'Release');
fs.mkdirSync(path.join(rel, 'obj.target', 'metatask', 'native'), { recursive: true });
fs.writeFileSync(path.join(process.cwd(), 'build', 'Makefile'), '');
fs.writeFileSync(path.join(process.cwd(), 'build', 'config.gypi'), '{}');
fs.writeFileSync(path.join(rel, 'obj.target', 'metatask', 'native', 'cd.o'), '');
fs.writeFileSync(path.join(rel, 'metatask_avx2.a'), '');
console.log('node-gyp', process.argv.slice(2).join(' '));
if (process.env.FAKE_FAIL) process.exit(1);
fs.copyFileSync(${JSON.stringify(addon)}, path.join(rel, 'metatask.node'));
`,
  );
  const cxx = join(bin, 'c++');
  writeFileSync(cxx, '#!/bin/sh\necho "c++ (stand-in) 1.0"\n');
  chmodSync(cxx, 0o755);
  const eigen = join(dir, 'eigen');
  mkdirSync(join(eigen, 'Eigen'), { recursive: true });
  writeFileSync(join(eigen, 'Eigen', 'Core'), '');
  return { PATH: bin, npm_config_node_gyp: gyp, EIGEN3_INCLUDE_DIR: eigen };
}

/** The addon of this checkout (a binary that loads), or skip where none was built. */
function builtAddon(ctx: Mocha.Context): string {
  try {
    return (require('node-gyp-build') as { resolve(dir: string): string }).resolve(packageRoot());
  } catch {
    if (process.env.METATASK_REQUIRE_NATIVE === '1') throw new Error('the native addon is required but was not built');
    ctx.skip();
  }
}

describe('install script', () => {
  let copy: { dir: string; bin: string };
  beforeEach(function () {
    if (process.platform === 'win32') this.skip();
    copy = packageCopy();
  });
  afterEach(() => {
    if (copy) rmSync(copy.dir, { recursive: true, force: true });
  });

  it('falls back to the TypeScript kernels with one clear line when the build cannot run', () => {
    const r = runInstall(copy.dir, { PATH: copy.bin });
    expect(r.status).to.equal(0);
    expect(r.lines).to.have.length(1);
    expect(r.lines[0]).to.match(/^metatask: native addon not built \(Eigen 3 not found by pkg-config\); using the TypeScript kernels/);
    expect(r.lines[0]).to.match(/libeigen3-dev/);
  });

  it('METATASK_SKIP_NATIVE=1 skips the build with the same kind of line', () => {
    const r = runInstall(copy.dir, { PATH: copy.bin, METATASK_SKIP_NATIVE: '1' });
    expect(r.status).to.equal(0);
    expect(r.lines).to.deep.equal([
      "metatask: native addon not built (METATASK_SKIP_NATIVE=1); using the TypeScript kernels. To build it: unset METATASK_SKIP_NATIVE, then 'npm rebuild metatask'.",
    ]);
  });

  it('compiles when no prebuilt binary loads, says so, and keeps only build/Release/metatask.node', function () {
    const env = fakeToolchain(copy.dir, copy.bin, builtAddon(this));
    const r = runInstall(copy.dir, env);
    expect(r.status).to.equal(0);
    expect(r.lines).to.have.length(2);
    expect(r.lines[0]).to.match(/^metatask: building the native addon from source \(no prebuilt binary loads: No native build was found for platform=/);
    expect(r.lines[0]).to.match(/this takes a few minutes$/);
    expect(r.lines[1]).to.equal(`metatask: native addon built (${join('build', 'Release', 'metatask.node')})`);
    expect(buildFiles(copy.dir)).to.deep.equal([join('build', 'Release', 'metatask.node')]);
    expect(existsSync(join(copy.dir, 'build-native.log'))).to.equal(false);
  });

  it('uses a prebuilt binary that loads and compiles nothing', function () {
    const { installPrebuild } = require('../../scripts/build-prebuilds.cjs') as { installPrebuild(src: string, root: string): string };
    const prebuilt = installPrebuild(builtAddon(this), copy.dir);
    const env = fakeToolchain(copy.dir, copy.bin, builtAddon(this));
    const r = runInstall(copy.dir, env);
    expect(r.status).to.equal(0);
    expect(r.lines).to.deep.equal([`metatask: using the native addon ${relative(copy.dir, prebuilt)}`]);
    expect(existsSync(join(copy.dir, 'build'))).to.equal(false);
  });

  it('METATASK_BUILD_FROM_SOURCE=1 or METATASK_MARCH_NATIVE=1 compiles even when a prebuilt binary loads', function () {
    const { installPrebuild } = require('../../scripts/build-prebuilds.cjs') as { installPrebuild(src: string, root: string): string };
    installPrebuild(builtAddon(this), copy.dir);
    const env = fakeToolchain(copy.dir, copy.bin, builtAddon(this));
    const r = runInstall(copy.dir, { ...env, METATASK_BUILD_FROM_SOURCE: '1' });
    expect(r.status).to.equal(0);
    expect(r.lines[0]).to.match(/^metatask: building the native addon from source \(METATASK_BUILD_FROM_SOURCE=1\)/);
    expect(buildFiles(copy.dir)).to.deep.equal([join('build', 'Release', 'metatask.node')]);
    const marchNative = runInstall(copy.dir, { ...env, METATASK_MARCH_NATIVE: '1' });
    expect(marchNative.lines[0]).to.match(/^metatask: building the native addon from source \(METATASK_MARCH_NATIVE=1\)/);
  });

  it('a failed source build leaves no build/ folder, keeps its log and falls back with one line', function () {
    const env = fakeToolchain(copy.dir, copy.bin, builtAddon(this));
    const r = runInstall(copy.dir, { ...env, FAKE_FAIL: '1' });
    expect(r.status).to.equal(0);
    expect(r.lines).to.have.length(2);
    expect(r.lines[1]).to.match(/^metatask: native addon not built \(the source build failed, see .*build-native\.log\); using the TypeScript kernels/);
    expect(existsSync(join(copy.dir, 'build'))).to.equal(false);
    expect(existsSync(join(copy.dir, 'build-native.log'))).to.equal(true);
  });
});

describe('native build flags: where Eigen is', () => {
  const flagsScript = join(packageRoot(), 'scripts', 'native-flags.cjs');
  const run = (kind: string, env: NodeJS.ProcessEnv) => spawnSync(process.execPath, [flagsScript, kind], { encoding: 'utf8', env });

  it('EIGEN3_INCLUDE_DIR names the folder without pkg-config (Windows, custom installs)', () => {
    const env = { PATH: '', EIGEN3_INCLUDE_DIR: '/opt/eigen 3.4/include' };
    expect(run('eigen-dir', env).stdout).to.equal('/opt/eigen 3.4/include');
    expect(run('eigen', env).stdout).to.equal('-isystem /opt/eigen 3.4/include');
  });

  it('without it and without pkg-config, the build stops with a message saying what to install', () => {
    const r = run('eigen', { PATH: '' });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/Eigen 3 not found: install it \(libeigen3-dev, brew install eigen\) or set EIGEN3_INCLUDE_DIR/);
  });
});
