import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { packageRoot } from '../lib/kernels/native.js';

const cli = join(packageRoot(), 'dist', 'lib', 'cli', 'main.js');

describe('metatask command', () => {
  it('info prints the selected backend as JSON', () => {
    const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: process.env });
    expect(r.status).to.equal(0);
    const info = JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf('}') + 1));
    const requested = process.env.METATASK_BACKEND;
    if (requested === 'js' || requested === 'native') expect(info.name).to.equal(requested);
    else expect(info.name).to.be.oneOf(['native', 'js']);
    expect(info.available).to.include('js');
  });

  it('an unknown command exits 2 with the usage', () => {
    const r = spawnSync(process.execPath, [cli, 'frobnicate'], { encoding: 'utf8' });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/unknown command 'frobnicate'/).and.match(/usage: metatask/);
  });
});
