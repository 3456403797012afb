/**
 * Runtime dispatch of the native kernels: the addon picks the best SIMD level the CPU runs, and
 * METATASK_SIMD caps it (a level the CPU cannot run is a BackendError naming the ones it can).
 * Each case runs in a child process, since the level is chosen once per process.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

  it('on Linux x86-64, offers exactly the levels the CPU flags in /proc/cpuinfo allow', function () {
    // The kernel lists a feature only where the CPU has it and the OS saves its registers. The
    // avx512 level needs F, CD, BW, DQ and VL (what MSVC's /arch:AVX512 compiles for), not F alone.
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    const flags = new Set((readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/));
    const has = (...names: string[]) => names.every((f) => flags.has(f));
    const expected = ['sse2'];
    if (has('avx', 'avx2', 'fma')) expected.push('avx2');
    if (has('avx', 'avx2', 'fma', 'avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl')) expected.push('avx512');
    expect(native().simdAvailable).to.deep.equal(expected);
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

  it('the column statistics of a design are the same bits at every level, and match the two-pass formula', () => {
    // 301 rows (blocks of 32 and a partial one), 37 columns (vectors and a scalar tail), columns
    // of very different means and scales; centred and not.
    const body = `const k = (await import(${JSON.stringify(join(packageRoot(), 'dist', 'lib', 'kernels', 'index.js'))})).kernels();
      const n = 301, d = 37, x = new Float64Array(n * d);
      for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = (j % 5) * 1e3 + Math.sin(i * 0.7 + j) * (1 + j);
      const out = {};
      for (const centre of [true, false]) {
        const s = k.cdDesign({ rows: n, cols: d, data: x }, centre);
        out[centre] = { mean: Array.from(s.mean), sq: Array.from(s.colNormSq) };
      }
      console.log(JSON.stringify({ x: Array.from(x), out }));`;
    const runs = native().simdAvailable.map((level) => {
      const r = inChild({ METATASK_SIMD: level }, body);
      expect(r.status, r.stderr).to.equal(0);
      return JSON.parse(r.stdout) as { x: number[]; out: Record<string, { mean: number[]; sq: number[] }> };
    });
    for (const r of runs.slice(1)) expect(r.out).to.deep.equal(runs[0]!.out);
    const { x, out } = runs[0]!;
    const n = 301;
    const d = 37;
    for (let j = 0; j < d; j++) {
      let m = 0;
      for (let i = 0; i < n; i++) m += x[i * d + j]!;
      m /= n;
      let dev = 0;
      let sq = 0;
      for (let i = 0; i < n; i++) {
        dev += (x[i * d + j]! - m) ** 2;
        sq += x[i * d + j]! ** 2;
      }
      expect(Math.abs(out['true']!.mean[j]! - m)).to.be.below(1e-12 * Math.max(1, Math.abs(m)));
      expect(Math.abs(out['true']!.sq[j]! - dev)).to.be.below(1e-10 * dev);
      expect(out['false']!.mean[j]).to.equal(0);
      expect(Math.abs(out['false']!.sq[j]! - sq)).to.be.below(1e-12 * sq);
    }
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
