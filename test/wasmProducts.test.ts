/**
 * The TypeScript kernels' matrix products (lib/kernels/js/products.ts): the WebAssembly SIMD code
 * and the scalar loops give the same bits, both follow their stated summation orders, and the
 * module the package carries is the assembly of its source. Then a whole fit and a network's
 * gradients on the TypeScript backend, in a process without the WebAssembly code and in one with
 * it: the same bits.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { Rng } from '../lib/core/rng.js';
import { rawAddon } from '../lib/kernels/index.js';
import { listedRowDots, multiply, rowDots, scalarLoops, wasmMemoryBuffer, wasmSimdActive } from '../lib/kernels/js/products.js';
import { PRODUCTS_WASM } from '../lib/kernels/js/wasm/productsBytes.js';
import { packageRoot } from '../lib/kernels/native.js';
import { firstDifference, randomValues } from './helpers.js';

/** The paired order, written out: even and odd positions in two sums, an odd length's last product in the even one. */
function pairedReference(x: Float64Array, xo: number, y: Float64Array, yo: number, k: number): number {
  let even = 0;
  let odd = 0;
  const pairs = k - (k % 2);
  for (let p = 0; p < pairs; p++) {
    if (p % 2 === 0) even += x[xo + p]! * y[yo + p]!;
    else odd += x[xo + p]! * y[yo + p]!;
  }
  if (k % 2 === 1) even += x[xo + k - 1]! * y[yo + k - 1]!;
  return even + odd;
}

describe('TypeScript kernels: matrix products in WebAssembly SIMD and in scalar loops', () => {
  it('the module the package carries is the assembly of products.wat', async () => {
    const script = pathToFileURL(join(packageRoot(), 'scripts', 'build-wasm.mjs')).href;
    const { assemble, moduleSource, watFiles } = (await import(script)) as {
      assemble(wat: string): Promise<string>;
      moduleSource(name: string, base64: string): string;
      watFiles(): { name: string; wat: string; ts: string }[];
    };
    const files = watFiles();
    expect(files.map((f) => f.name)).to.include('products');
    for (const f of files) expect(readFileSync(f.ts, 'utf8'), `${f.name}Bytes.ts`).to.equal(moduleSource(f.name, await assemble(f.wat)));
  });

  it('runs in WebAssembly SIMD wherever the engine takes the module', () => {
    const valid = WebAssembly.validate(Buffer.from(PRODUCTS_WASM, 'base64'));
    expect(wasmSimdActive()).to.equal(valid && process.env.METATASK_WASM !== 'off');
    // V8 runs WebAssembly SIMD on every x86-64 CPU with SSE4.1, so on any CPU with AVX2: the fast
    // path must not be lost silently there.
    if (rawAddon()?.info().simdAvailable.includes('avx2')) expect(valid).to.equal(true);
  });

  it('METATASK_WASM other than on, off or unset is a ConfigError naming the values it takes', () => {
    const index = JSON.stringify(pathToFileURL(join(packageRoot(), 'dist', 'lib', 'kernels', 'index.js')).href);
    const script = `const { backend } = await import(${index}); try { backend(); console.log('no error'); } catch (e) { console.log(e.name + ': ' + e.message); }`;
    const run = (value: string): string =>
      spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, METATASK_BACKEND: 'js', METATASK_WASM: value }, encoding: 'utf8' }).stdout.trim();
    expect(run('0')).to.equal("ConfigError: METATASK_WASM must be 'on' or 'off' (or unset, the same as 'on'), got '0'");
    expect(run('on')).to.equal('no error');
    expect(run('off')).to.equal('no error');
  });

  it('growing the module memory detaches no ArrayBuffer (one detach slows every typed-array loop in V8)', () => {
    if (!wasmSimdActive()) {
      expect(wasmMemoryBuffer()).to.equal(null);
      return;
    }
    const before = wasmMemoryBuffer()!;
    const bytes = before.byteLength;
    expect(before).to.be.instanceOf(SharedArrayBuffer);
    // A product whose operands need more memory than the module has: it grows.
    const k = Math.ceil(bytes / 8 / 8) + 1024;
    const a = new Float64Array(4 * k).fill(0.5);
    const b = new Float64Array(8 * k).fill(2);
    const out = new Float64Array(32);
    rowDots(a, 4, b, 8, k, out);
    expect(out[0]).to.equal(k);
    expect(wasmMemoryBuffer()!.byteLength).to.be.greaterThan(bytes);
    expect(before.byteLength).to.equal(bytes);
  });

  it('rowDots: every tile and tail gives the bits of the scalar loop and of the paired order', () => {
    const rng = new Rng(41);
    // Lengths around the vector width and a long one; row counts around the four-row tile; one or two
    // rows of b against it. Large enough calls (m nb k of 4096 or more) take the WebAssembly path.
    for (const k of [0, 1, 2, 3, 7, 64, 257, 1000]) {
      for (const m of [1, 3, 4, 5, 8, 11]) {
        for (const nb of [1, 2, 3, 5, 20]) {
          const a = randomValues(rng, m * k);
          const b = randomValues(rng, nb * k);
          const fast = new Float64Array(m * nb).fill(NaN);
          const scalar = new Float64Array(m * nb).fill(NaN);
          rowDots(a, m, b, nb, k, fast);
          scalarLoops.rowDots(a, m, b, nb, k, scalar);
          const where = `m ${m}, nb ${nb}, k ${k}`;
          expect(firstDifference(fast, scalar), where).to.equal(-1);
          const reference = new Float64Array(m * nb);
          for (let i = 0; i < m; i++) for (let j = 0; j < nb; j++) reference[i * nb + j] = pairedReference(a, i * k, b, j * k, k);
          expect(firstDifference(fast, reference), where).to.equal(-1);
        }
      }
    }
  });

  it('listedRowDots: rows in any order and repeated, over several panels of a long call', () => {
    const rng = new Rng(42);
    const k = 2001; // a panel holds 16 rows of this length: 45 rows make three panels, the last partial
    const nRows = 60;
    const a = randomValues(rng, nRows * k);
    const b = randomValues(rng, 3 * k);
    const rows = Int32Array.from({ length: 45 }, (_, i) => (i * 37 + 5) % nRows);
    rows[7] = rows[6]!;
    const fast = new Float64Array(rows.length * 3);
    const scalar = new Float64Array(rows.length * 3);
    listedRowDots(a, rows, b, 3, k, fast);
    scalarLoops.listedRowDots(a, rows, b, 3, k, scalar);
    expect(firstDifference(fast, scalar)).to.equal(-1);
    for (let i = 0; i < rows.length; i++) {
      for (let j = 0; j < 3; j++) expect(Object.is(fast[i * 3 + j], pairedReference(a, rows[i]! * k, b, j * k, k)), `row ${i}, column ${j}`).to.equal(true);
    }
  });

  it('multiply: every tile and tail gives the bits of the scalar loop and of the ordered sum', () => {
    const rng = new Rng(43);
    for (const k of [0, 1, 2, 5, 33, 300]) {
      for (const m of [1, 2, 4, 5, 7, 20]) {
        for (const n of [1, 2, 3, 4, 5, 6, 9, 130]) {
          const a = randomValues(rng, m * k);
          const b = randomValues(rng, k * n);
          const fast = new Float64Array(m * n).fill(NaN);
          const scalar = new Float64Array(m * n).fill(NaN);
          multiply(a, m, k, b, n, fast);
          scalarLoops.multiply(a, m, k, b, n, scalar);
          const where = `m ${m}, k ${k}, n ${n}`;
          expect(firstDifference(fast, scalar), where).to.equal(-1);
          const reference = new Float64Array(m * n);
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let s = 0;
              for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
              reference[i * n + j] = s;
            }
          }
          expect(firstDifference(fast, reference), where).to.equal(-1);
        }
      }
    }
  });

  it('infinities, NaN, signed zeros and subnormals come out the same on both paths', () => {
    const rng = new Rng(44);
    const special = [Infinity, -Infinity, NaN, -0, 0, 5e-324, -2.5e-310, 1e308];
    const k = 129;
    const m = 9;
    const nb = 6;
    const a = randomValues(rng, m * k);
    const b = randomValues(rng, nb * k);
    for (let q = 0; q < 40; q++) {
      a[rng.int(a.length)] = special[q % special.length]!;
      b[rng.int(b.length)] = special[(q * 3) % special.length]!;
    }
    // A row of b of zeros and a row of a of negative zeros: products of -0 summed in order.
    b.fill(0, 2 * k, 3 * k);
    a.fill(-0, 4 * k, 5 * k);
    const fast = new Float64Array(m * nb);
    const scalar = new Float64Array(m * nb);
    rowDots(a, m, b, nb, k, fast);
    scalarLoops.rowDots(a, m, b, nb, k, scalar);
    expect(firstDifference(fast, scalar)).to.equal(-1);
    expect(fast.some((v) => Number.isNaN(v))).to.equal(true);
    const c = new Float64Array(m * nb);
    const cs = new Float64Array(m * nb);
    const bt = randomValues(rng, k * nb);
    bt.fill(-0, 0, nb);
    multiply(a, m, k, bt, nb, c);
    scalarLoops.multiply(a, m, k, bt, nb, cs);
    expect(firstDifference(c, cs)).to.equal(-1);
  });

  it('a multi-task lasso fitted without the WebAssembly code has the same coefficients, bit for bit', function () {
    this.timeout(60_000);
    // Shapes whose correlations, Gram matrices and residuals all take the WebAssembly path.
    const script = `
      const { setBackend, backend } = await import(${JSON.stringify(pathToFileURL(join(packageRoot(), 'dist', 'lib', 'kernels', 'index.js')).href)});
      const { MultiTaskLasso } = await import(${JSON.stringify(pathToFileURL(join(packageRoot(), 'dist', 'lib', 'linear', 'multiTaskElasticNet.js')).href)});
      const { Rng } = await import(${JSON.stringify(pathToFileURL(join(packageRoot(), 'dist', 'lib', 'core', 'rng.js')).href)});
      setBackend('js');
      const rng = new Rng(5), n = 301, d = 90, T = 5;
      const X = { rows: n, cols: d, data: Float64Array.from({ length: n * d }, () => rng.normal()) };
      const Y = { rows: n, cols: T, data: new Float64Array(n * T) };
      for (let i = 0; i < n; i++) for (let t = 0; t < T; t++) {
        let s = 0.3 * rng.normal();
        for (let j = 0; j < 12; j++) s += X.data[i * d + j] * ((j + t) % 3 - 1);
        Y.data[i * T + t] = s;
      }
      const m = new MultiTaskLasso({ alpha: 0.02, tol: 1e-10 }).fitSync(X, Y);
      console.log(JSON.stringify({ wasmSimd: backend().wasmSimd, nIter: m.nIter, bits: Array.from(new BigUint64Array(m.coef.data.buffer, m.coef.data.byteOffset, m.coef.data.length), (b) => b.toString(16)), intercept: Array.from(m.intercept) }));
    `;
    const fit = (env: NodeJS.ProcessEnv): { wasmSimd: boolean; nIter: number; bits: string[]; intercept: number[] } => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, METATASK_BACKEND: 'js', ...env }, encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      return JSON.parse(r.stdout.trim().split('\n').pop()!);
    };
    const scalar = fit({ METATASK_WASM: 'off' });
    const simd = fit({ METATASK_WASM: '' });
    expect(scalar.wasmSimd).to.equal(false);
    expect(simd.wasmSimd).to.equal(WebAssembly.validate(Buffer.from(PRODUCTS_WASM, 'base64')));
    expect(simd.nIter).to.equal(scalar.nIter);
    expect(simd.bits).to.deep.equal(scalar.bits);
    expect(simd.intercept).to.deep.equal(scalar.intercept);
    expect(scalar.bits.some((h) => h !== '0')).to.equal(true);
  });

  it("a network's loss gradient and Hessian-vector product are the same bits without the WebAssembly code", function () {
    this.timeout(60_000);
    // Dense layers of 40 -> 64 -> 48 and two heads on a batch of 50, float32 and float64: every
    // product (X W, G W^T, X^T G) large enough for the WebAssembly path.
    const lib = (p: string): string => JSON.stringify(pathToFileURL(join(packageRoot(), 'dist', 'lib', p)).href);
    const script = `
      const { kernelsFor, backend, setBackend } = await import(${lib('kernels/index.js')});
      const { compileNetwork, initParams } = await import(${lib('nn/spec.js')});
      const { Rng } = await import(${lib('core/rng.js')});
      setBackend('js');
      const spec = { nodes: [
        { op: 'input', size: 40 }, { op: 'dense', input: 0, units: 64 }, { op: 'activation', input: 1, fn: 'tanh' },
        { op: 'dense', input: 2, units: 48 }, { op: 'activation', input: 3, fn: 'relu' },
        { op: 'dense', input: 4, units: 1 }, { op: 'dense', input: 4, units: 3 } ],
        heads: [ { node: 5, loss: 'mse', target: 0 }, { node: 6, loss: 'softmax-ce', target: 1 } ] };
      const hex = (a) => Array.from(a.constructor === Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : new BigUint64Array(a.buffer, a.byteOffset, a.length), (b) => b.toString(16));
      const out = { wasmSimd: backend().wasmSimd };
      for (const dtype of ['float32', 'float64']) {
        const rng = new Rng(9), n = 50, Arr = dtype === 'float32' ? Float32Array : Float64Array;
        const net = kernelsFor('js').network(spec, dtype);
        const params = initParams(compileNetwork(spec), rng, dtype);
        const x = { rows: n, cols: 40, data: Arr.from({ length: n * 40 }, () => rng.normal()) };
        const y = { rows: n, cols: 2, data: Arr.from({ length: n * 2 }, (_, q) => (q % 2 ? rng.int(3) : rng.normal())) };
        const weights = Float64Array.from([0.6, 1.4]);
        const grad = new Arr(params.length), hv = new Arr(params.length);
        const losses = net.lossGrad(params, { x, y }, weights, grad);
        net.hvp(params, { x, y }, weights, Arr.from(params, () => rng.normal()), hv);
        out[dtype] = { losses: hex(Float64Array.from(losses)), grad: hex(grad), hv: hex(hv) };
      }
      console.log(JSON.stringify(out));
    `;
    const run = (env: NodeJS.ProcessEnv): Record<string, unknown> => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, METATASK_BACKEND: 'js', ...env }, encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    };
    const scalar = run({ METATASK_WASM: 'off' });
    const simd = run({ METATASK_WASM: '' });
    expect(scalar.wasmSimd).to.equal(false);
    expect(simd.wasmSimd).to.equal(WebAssembly.validate(Buffer.from(PRODUCTS_WASM, 'base64')));
    expect(simd.float32).to.deep.equal(scalar.float32);
    expect(simd.float64).to.deep.equal(scalar.float64);
  });
});
