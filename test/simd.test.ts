/**
 * Runtime dispatch of the native kernels: the addon picks the best SIMD level the CPU runs, and
 * METATASK_SIMD caps it (a level the CPU cannot run is a BackendError naming the ones it can).
 * Each case runs in a child process, since the level is chosen once per process.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { backend, rawAddon, setBackend } from '../lib/kernels/index.js';
import { nativeInfo, packageRoot } from '../lib/kernels/native.js';

const entry = join(packageRoot(), 'dist', 'lib', 'index.js');

function inChild(env: Record<string, string>, body: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const mt = await import(${JSON.stringify(entry)});\n${body}`], {
    env: { ...process.env, METATASK_BACKEND: 'native', ...env },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// The addon's own report, whichever backend this run of the suite selected.
const native = () => nativeInfo(rawAddon()!);

describe('native SIMD dispatch', () => {
  it('reports the level in use, one of the levels this CPU runs, the best by default', () => {
    const info = native();
    expect(info.simdAvailable.length).to.be.greaterThan(0);
    expect(info.simd).to.equal(info.simdAvailable[info.simdAvailable.length - 1]);
    if (process.arch === 'x64') expect(info.simdAvailable[0]).to.equal('sse2');
  });

  it('METATASK_SIMD caps the level at any level the CPU runs, and the kernels still agree', () => {
    const coefs: number[][] = [];
    for (const level of native().simdAvailable) {
      const r = inChild(
        { METATASK_SIMD: level },
        `const lasso = await new mt.MultiTaskLasso({ alpha: 0.1 }).fit([[1, 2], [3, 5], [5, 7], [2, 2]], [[1, 0], [2, 1], [3, 1], [1, 0]]);
         console.log(JSON.stringify({ simd: mt.backend().simd, coef: Array.from(lasso.coef.data) }));`,
      );
      expect(r.status, r.stderr).to.equal(0);
      const out = JSON.parse(r.stdout) as { simd: string; coef: number[] };
      expect(out.simd).to.equal(level);
      coefs.push(out.coef);
    }
    // Levels order sums differently: the same fit agrees to rounding, not bit for bit.
    for (const c of coefs) c.forEach((v, i) => expect(v).to.be.closeTo(coefs[0]![i]!, 1e-10 * Math.max(1, Math.abs(v))));
  });

  it('a level the CPU cannot run, or an unknown one, is a BackendError naming the levels it runs', () => {
    const foreign = process.arch === 'arm64' ? 'avx2' : 'neon';
    for (const level of [foreign, 'avx9000']) {
      const r = inChild({ METATASK_SIMD: level }, `try { mt.backend(); console.log('no error'); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }`);
      expect(r.status, r.stderr).to.equal(0);
      const e = JSON.parse(r.stdout) as { name: string; code: string; message: string };
      expect(e.name).to.equal('BackendError');
      expect(e.code).to.equal('ERR_SIMD_UNAVAILABLE');
      expect(e.message).to.include(native().simdAvailable.join(', '));
    }
  });
});

describe('backend report of the TypeScript kernels', () => {
  it("has no SIMD level: simd 'none', no levels available", () => {
    const before = backend().name;
    try {
      const info = setBackend('js');
      expect(info.simd).to.equal('none');
      expect(info.simdAvailable).to.deep.equal([]);
    } finally {
      setBackend(before);
    }
  });
});
