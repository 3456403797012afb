import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

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
