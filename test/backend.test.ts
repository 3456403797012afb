import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { availableBackends, backend, kernels, setBackend } from '../lib/kernels/index.js';
import { packageRoot } from '../lib/kernels/native.js';
import { BackendError, ConfigError } from '../lib/core/errors.js';

describe('backend selection', () => {
  const requested = process.env.METATASK_BACKEND;

  it('runs the backend named by METATASK_BACKEND', () => {
    if (requested === 'native' || requested === 'js') expect(backend().name).to.equal(requested);
    expect(kernels().name).to.equal(backend().name);
  });

  it('reports name, version, simd and threads', () => {
    const info = backend();
    expect(info.name).to.be.oneOf(['native', 'js']);
    expect(info.version).to.be.a('string').and.not.empty;
    expect(info.simd).to.be.a('string');
    expect(info.threads).to.be.a('number').greaterThan(0);
  });

  it('loads the addon when the suite is required to test it', function () {
    if (process.env.METATASK_REQUIRE_NATIVE !== '1') this.skip();
    expect(availableBackends()).to.include('native');
  });

  it('setBackend switches and rejects unknown names', () => {
    const before = backend().name;
    try {
      expect(setBackend('js').name).to.equal('js');
      if (availableBackends().includes('native')) expect(setBackend('native').name).to.equal('native');
      else expect(() => setBackend('native')).to.throw(BackendError, /could not be loaded/);
      expect(() => setBackend('gpu' as never)).to.throw(ConfigError, /'native', 'js' or 'auto'/);
    } finally {
      setBackend(before);
    }
  });
});

describe('METATASK_ADDON (an explicit addon file)', () => {
  // A child process that loads the kernels with METATASK_ADDON set and prints what it got.
  function probe(addonPath: string): { loaded: boolean; attempts: string[]; mapped: boolean } {
    const index = pathToFileURL(join(packageRoot(), 'dist', 'lib', 'kernels', 'index.js')).href;
    const script =
      `import { nativeStatus } from ${JSON.stringify(index)};` +
      `import { existsSync, readFileSync } from 'node:fs';` +
      `const s = nativeStatus();` +
      // On Linux the mapped files show which binary was loaded.
      `const maps = existsSync('/proc/self/maps') ? readFileSync('/proc/self/maps', 'utf8') : '';` +
      `console.log(JSON.stringify({ loaded: s.loaded, attempts: s.attempts, mapped: maps.includes(process.env.METATASK_ADDON) }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, METATASK_ADDON: addonPath, METATASK_BACKEND: 'js' },
    });
    expect(r.status, r.stderr).to.equal(0);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  }

  it('loads the file it names', function () {
    if (!availableBackends().includes('native')) this.skip();
    const dir = mkdtempSync(join(tmpdir(), 'metatask-addon-'));
    try {
      const copy = join(dir, 'copy.node');
      copyFileSync(join(packageRoot(), 'build', 'Release', 'metatask.node'), copy);
      const r = probe(copy);
      expect(r.loaded).to.equal(true);
      if (process.platform === 'linux') expect(r.mapped).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tries nothing else when that file does not load, and says why', () => {
    const missing = join(tmpdir(), 'metatask-no-such-addon', 'metatask.node');
    const r = probe(missing);
    expect(r.loaded).to.equal(false);
    expect(r.attempts).to.have.length(1);
    expect(r.attempts[0]).to.contain(`METATASK_ADDON=${missing}`);
  });
});

describe('native/sources.json', () => {
  it('lists every native source file once, and only existing ones', () => {
    const root = packageRoot();
    const sources: { common: string[]; levels: Record<string, string[]> } = JSON.parse(readFileSync(join(root, 'native', 'sources.json'), 'utf8'));
    const listed = [...sources.common, ...Object.values(sources.levels).flat()];
    expect(new Set(listed).size).to.equal(listed.length);
    const onDisk = readdirSync(join(root, 'native'), { recursive: true })
      .map((f) => `native/${String(f).replaceAll('\\', '/')}`)
      .filter((f) => f.endsWith('.cc'))
      .sort();
    expect([...listed].sort()).to.deep.equal(onDisk);
  });
});
