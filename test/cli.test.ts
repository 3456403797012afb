import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { packageRoot } from '../lib/kernels/native.js';

const cli = join(packageRoot(), 'dist', 'lib', 'cli', 'main.js');

describe('metatask command', () => {
  it('info --json prints the selected backend and the native status as one JSON object', () => {
    const r = spawnSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8', env: process.env });
    expect(r.status).to.equal(0);
    const info = JSON.parse(r.stdout);
    const requested = process.env.METATASK_BACKEND;
    if (requested === 'js' || requested === 'native') expect(info.name).to.equal(requested);
    else expect(info.name).to.be.oneOf(['native', 'js']);
    expect(info.available).to.include('js');
    expect(info.native.loaded).to.equal(info.available.includes('native'));
  });

  it('info names the backend and, when native is loaded, the file it came from', () => {
    const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: process.env });
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/^metatask \d+\.\d+\.\d+ on Node\.js v/);
    expect(r.stdout).to.match(/^backend: +(native|js) /m);
    if (/^available: .*native/m.test(r.stdout)) expect(r.stdout).to.match(/^addon: +\S+\.node$/m);
  });

  describe('without the native addon', () => {
    let empty: string;
    before(() => {
      empty = mkdtempSync(join(tmpdir(), 'metatask-no-addon-'));
    });
    after(() => rmSync(empty, { recursive: true, force: true }));
    // node-gyp-build looks for metatask's binaries in METATASK_PREBUILD instead of the package.
    const without = (env: NodeJS.ProcessEnv) => ({ ...process.env, METATASK_PREBUILD: empty, ...env });

    it('info explains why native is unavailable and how to fix it, without the fallback warning', () => {
      const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: without({ METATASK_BACKEND: '' }) });
      expect(r.status).to.equal(0);
      expect(r.stdout).to.match(/^backend: +js \(the TypeScript kernels\)$/m);
      expect(r.stdout).to.match(/^addon: +not loaded; the loader looked in:\n {2}- node-gyp-build in .*No native build was found for platform=/m);
      expect(r.stdout).to.match(/^fix: +Install a prebuilt binary .*npm rebuild metatask.*METATASK_BACKEND=js/m);
      expect(r.stdout).to.match(/^available: js$/m);
      expect(r.stderr).to.equal('');
    });

    it('METATASK_BACKEND=native: the BackendError explanation on stderr, exit 1, no stack trace', () => {
      const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: without({ METATASK_BACKEND: 'native' }) });
      expect(r.status).to.equal(1);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.match(/^metatask: the native backend was requested but the metatask addon could not be loaded\. Looked in:\n/);
      expect(r.stderr).to.match(/METATASK_BACKEND=js/);
      expect(r.stderr).not.to.match(/^\s+at /m);
    });

    it('METATASK_BACKEND=native with --json: the error as JSON on stdout, exit 1', () => {
      const r = spawnSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8', env: without({ METATASK_BACKEND: 'native' }) });
      expect(r.status).to.equal(1);
      const out = JSON.parse(r.stdout);
      expect(out.error).to.include({ name: 'BackendError', code: 'ERR_NATIVE_UNAVAILABLE' });
      expect(out.native.loaded).to.equal(false);
      expect(out.native.attempts[0]).to.match(/No native build was found/);
    });
  });

  it('info rejects an unknown option with the usage', () => {
    const r = spawnSync(process.execPath, [cli, 'info', '--jsn'], { encoding: 'utf8' });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/unknown option '--jsn'/).and.match(/usage: metatask/);
  });

  it('an unknown command exits 2 with the usage', () => {
    const r = spawnSync(process.execPath, [cli, 'frobnicate'], { encoding: 'utf8' });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/unknown command 'frobnicate'/).and.match(/usage: metatask/);
  });
});
