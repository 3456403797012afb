/**
 * The install step (scripts/install.cjs): when the addon cannot be built (here: no pkg-config,
 * hence no Eigen), `npm install` must still succeed and print one line saying why and how to fix it.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { packageRoot } from '../lib/kernels/native.js';

describe('install script', () => {
  it('falls back to the TypeScript kernels with one clear line when the build cannot run', function () {
    if (process.platform === 'win32') this.skip();
    const root = packageRoot();
    const dir = mkdtempSync(join(tmpdir(), 'metatask-install-'));
    try {
      // A package copy without build/ (so no addon loads) whose PATH holds only node.
      for (const f of ['package.json', 'binding.gyp', 'scripts/install.cjs', 'scripts/native-flags.cjs', 'native/sources.json']) {
        mkdirSync(dirname(join(dir, f)), { recursive: true });
        cpSync(join(root, f), join(dir, f));
      }
      symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      symlinkSync(process.execPath, join(bin, 'node'));
      const r = spawnSync(process.execPath, [join(dir, 'scripts', 'install.cjs')], {
        encoding: 'utf8',
        env: { PATH: bin, HOME: dir },
      });
      expect(r.status).to.equal(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(/^metatask: native addon not built \(Eigen 3 not found by pkg-config\); using the TypeScript kernels/);
      expect(lines[0]).to.match(/libeigen3-dev/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('METATASK_SKIP_NATIVE=1 skips the build with the same kind of line', () => {
    const r = spawnSync(process.execPath, [join(packageRoot(), 'scripts', 'install.cjs')], {
      encoding: 'utf8',
      env: { ...process.env, METATASK_SKIP_NATIVE: '1' },
    });
    expect(r.status).to.equal(0);
    expect(r.stdout.trim()).to.match(/^metatask: native addon not built \(METATASK_SKIP_NATIVE=1\)/);
  });
});
