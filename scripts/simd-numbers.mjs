#!/usr/bin/env node
// A fixed set of kernel outputs, to compare across SIMD levels, backends and (emulated) CPUs.
//
//   node scripts/simd-numbers.mjs compute > out.json
//       runs the kernels on the backend and SIMD level this process selects (METATASK_BACKEND,
//       METATASK_SIMD) and prints { backend, simd, outputs: { name: { storage, precision, bits } } }, every
//       value as the hex of its IEEE bits so that equality is exact.
//   node scripts/simd-numbers.mjs compare a.json b.json ...
//       checks every pair: bit-identical when backend and level are the same (another machine or
//       an emulated CPU running that level), and between any two runs of the TypeScript kernels
//       (with or without WebAssembly SIMD), else within the tolerances below, which are those
//       written in docs/reproducibility.md ("Across SIMD levels and backends").
//       A file may carry `label` and `libm` fields (added by the caller): glibc picks its own
//       variant of exp, log, tanh... by CPU (an FMA one where FMA and AVX2 exist), and the
//       network kernels call them, so bit-identity across CPUs is expected only between runs of
//       the same `libm` variant; other pairs of the same level must agree within the tolerances.
// Run after `npm run build`.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lib = (p) => import(pathToFileURL(join(root, 'dist', 'lib', p)).href);

/**
 * Difference allowed between two levels or backends, per output, by the precision it was computed
 * in: max_i |a_i - b_i| <= tolerance * max(1, max_i |b_i|) (the parity tests' rule).
 */
const TOLERANCE = { float64: 1e-10, float32: 1e-4 };

const [mode, ...files] = process.argv.slice(2);
if (mode === 'compute') await compute();
else if (mode === 'compare') compare(files);
else {
  console.error('usage: simd-numbers.mjs compute | compare a.json b.json ...');
  process.exit(2);
}

async function compute() {
  const { kernels, backend } = await lib('kernels/index.js');
  const { Rng } = await lib('core/rng.js');
  const { zeros } = await lib('core/matrix.js');
  const { compileNetwork, initParams } = await lib('nn/spec.js');
  const k = kernels();
  const rng = new Rng(20240607);
  const fill = (m) => {
    for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal();
    return m;
  };
  const outputs = {};
  // `precision`: the dtype of the computation (a float32 network's losses come as float64 values).
  const put = (name, arr, precision = arr instanceof Float32Array ? 'float32' : 'float64') => {
    const storage = arr instanceof Float32Array ? 'float32' : 'float64';
    const bits = Array.from(storage === 'float32' ? new Uint32Array(arr.buffer, arr.byteOffset, arr.length) : new BigUint64Array(arr.buffer, arr.byteOffset, arr.length), (b) => b.toString(16));
    outputs[name] = { storage, precision, bits };
  };

  // gemm: sizes that are not multiples of any vector width or tile, both transposes.
  for (const dtype of ['float64', 'float32']) {
    const a = fill(zeros(67, 45, dtype));
    const b = fill(zeros(45, 39, dtype));
    const c = fill(zeros(67, 39, dtype));
    k.gemm(a, b, c, { alpha: 0.75, beta: 0.5 });
    put(`gemm ${dtype} 67x45 * 45x39`, c.data);
    const ct = zeros(45, 45, dtype);
    k.gemm(a, a, ct, { transA: true });
    put(`gemm ${dtype} A^T A 45x45`, ct.data);
  }
  const x = fill(zeros(50, 21));
  const g = zeros(21, 21);
  k.gram(x, g);
  put('gram 50x21', g.data);

  // A network with two heads (regression and 3-class): forward, lossGrad, hvp, in both dtypes.
  const spec = {
    nodes: [
      { op: 'input', size: 7 },
      { op: 'dense', input: 0, units: 13 },
      { op: 'activation', input: 1, fn: 'tanh' },
      { op: 'dense', input: 2, units: 9 },
      { op: 'activation', input: 3, fn: 'gelu' },
      { op: 'layernorm', input: 4 },
      { op: 'dense', input: 5, units: 1 },
      { op: 'dense', input: 5, units: 3 },
    ],
    heads: [
      { node: 6, loss: 'mse', target: 0 },
      { node: 7, loss: 'softmax-ce', target: 1 },
    ],
  };
  const compiled = compileNetwork(spec);
  for (const dtype of ['float64', 'float32']) {
    const net = k.network(spec, dtype);
    const params = initParams(compiled, new Rng(7), dtype);
    const n = 37;
    const bx = fill(zeros(n, 7, dtype));
    const by = zeros(n, 2, dtype);
    for (let r = 0; r < n; r++) {
      by.data[2 * r] = rng.normal();
      by.data[2 * r + 1] = rng.int(3);
    }
    const batch = { x: bx, y: by };
    put(`network ${dtype} forward`, net.forward(params, batch).data);
    const weights = Float64Array.from([0.7, 1.3]);
    const grad = new params.constructor(params.length);
    put(`network ${dtype} lossGrad losses`, net.lossGrad(params, batch, weights, grad), dtype);
    put(`network ${dtype} lossGrad grad`, grad);
    const v = params.constructor.from(params, () => rng.normal());
    const hv = new params.constructor(params.length);
    net.hvp(params, batch, weights, v, hv);
    put(`network ${dtype} hvp`, hv);
    net.dispose?.();
  }

  // Three coordinate-descent sweeps of the multi-task elastic net, plain and blocked.
  const d = 30;
  const ns = 40;
  const T = 4;
  const xt = fill(zeros(d, ns));
  const colNormSq = new Float64Array(d);
  for (let j = 0; j < d; j++) for (let i = 0; i < ns; i++) colNormSq[j] += xt.data[j * ns + i] ** 2;
  const order = Int32Array.from({ length: d }, (_, j) => (j * 7) % d);
  const rt0 = fill(zeros(T, ns));
  for (const blocked of [false, true]) {
    const rt = { rows: T, cols: ns, data: rt0.data.slice() };
    const w = zeros(d, T);
    const extra = blocked ? { blockGram: k.mtenetBlockGram(xt, order, 4), blockSize: 4 } : {};
    const stats = [];
    for (let s = 0; s < 3; s++) {
      const r = k.mtenetSweep({ xt, rt, w, colNormSq, l1Reg: 2.5, l2Reg: 0.3, order, ...extra });
      stats.push(r.wMax, r.dwMax);
    }
    put(`cd sweep${blocked ? ' blocked' : ''} w`, w.data);
    put(`cd sweep${blocked ? ' blocked' : ''} rt`, rt.data);
    put(`cd sweep${blocked ? ' blocked' : ''} stats`, Float64Array.from(stats));
  }

  // A design's correlations with residuals (rows of X^T against rows of R) and their refresh after
  // a residual update: the products the TypeScript kernels run in WebAssembly SIMD where they can.
  {
    const nx = 301;
    const dx = 57;
    const Tx = 5;
    const xd = fill(zeros(nx, dx));
    const yt = fill(zeros(Tx, nx));
    const corr = zeros(dx, Tx);
    const norms = new Float64Array(dx);
    const design = k.cdDesignCorrelations(xd, true, yt, corr, norms);
    put('cd design correlations', corr.data);
    put('cd design correlation norms', norms);
    const cols = Int32Array.from({ length: 23 }, (_, j) => (j * 5) % dx);
    const wx = fill(zeros(cols.length, Tx));
    const rt = zeros(Tx, nx);
    const out = zeros(dx, Tx);
    const all = Int32Array.from({ length: dx }, (_, j) => j);
    const parts = k.cdResidualCorrelations(design, cols, wx, yt, rt, all, out);
    put('cd residual correlations', out.data);
    put('cd residual', rt.data);
    put('cd residual norms', Float64Array.from([parts.rNormSq, parts.ry]));
  }

  // Per-task losses and gradients of linear models.
  for (const loss of ['squared', 'logistic']) {
    const tx = fill(zeros(60, 11));
    const ty = Float64Array.from({ length: 60 }, () => (loss === 'logistic' ? rng.int(2) : rng.normal()));
    const offsets = Int32Array.from([0, 13, 13, 41, 60]);
    const tw = fill(zeros(4, 11));
    const gradW = zeros(4, 11);
    const gradIntercept = new Float64Array(4);
    const out = k.taskLoss({
      x: tx, y: ty, offsets, w: tw, intercept: Float64Array.from([0.1, -0.2, 0.3, 0]), scale: Float64Array.from([1, 2, 0.5, 1]),
      loss, gradW, gradIntercept,
    });
    put(`taskLoss ${loss} losses`, out);
    put(`taskLoss ${loss} gradW`, gradW.data);
    put(`taskLoss ${loss} gradIntercept`, gradIntercept);
  }

  const info = backend();
  console.log(JSON.stringify({ backend: info.name, simd: info.simd, wasmSimd: info.wasmSimd, outputs }));
}

function values({ storage, bits }) {
  if (storage === 'float32') return Float32Array.from(new Float32Array(Uint32Array.from(bits, (h) => parseInt(h, 16)).buffer));
  return new Float64Array(BigUint64Array.from(bits, (h) => BigInt(`0x${h}`)).buffer);
}

function compare(paths) {
  const runs = paths.map((p) => ({ path: p, ...JSON.parse(readFileSync(p, 'utf8')) }));
  let problems = 0;
  const worst = {}; // output name -> largest normwise relative difference between different levels/backends
  for (let i = 0; i < runs.length; i++) {
    for (let j = i + 1; j < runs.length; j++) {
      const a = runs[i];
      const b = runs[j];
      // Bit-identity is expected at the same backend and level when the C library's math
      // functions take the same path too (see `libm` in the header).
      // The TypeScript kernels give the same bits on every CPU: their WebAssembly SIMD products and
      // their scalar loops sum in the same order, and V8's Math functions are its own.
      const same = a.backend === 'js' && b.backend === 'js' ? true : a.backend === b.backend && a.simd === b.simd && (a.libm ?? '') === (b.libm ?? '');
      const name = (r) => `${r.label ?? r.path} (${r.backend} ${r.backend === 'js' ? (r.wasmSimd ? 'wasm-simd' : 'scalar') : r.simd}${r.libm ? `, libm ${r.libm}` : ''})`;
      const label = `${name(a)} vs ${name(b)}`;
      let pairProblems = 0;
      let pairWorst = 0;
      for (const [name, oa] of Object.entries(a.outputs)) {
        const ob = b.outputs[name];
        if (!ob || ob.bits.length !== oa.bits.length) {
          console.log(`  FAIL ${label}: ${name} missing or of another length`);
          pairProblems++;
          continue;
        }
        if (same) {
          const diff = oa.bits.findIndex((h, t) => h !== ob.bits[t]);
          if (diff >= 0) {
            console.log(`  FAIL ${label}: ${name} not bit-identical (same backend and level) from element ${diff}`);
            pairProblems++;
          }
          continue;
        }
        const va = values(oa);
        const vb = values(ob);
        let num = 0;
        let den = 0;
        for (let t = 0; t < va.length; t++) {
          num = Math.max(num, Math.abs(va[t] - vb[t]));
          den = Math.max(den, Math.abs(vb[t]));
        }
        const rel = num / Math.max(1, den);
        worst[name] = Math.max(worst[name] ?? 0, rel);
        pairWorst = Math.max(pairWorst, rel / TOLERANCE[oa.precision]);
        if (!(rel <= TOLERANCE[oa.precision])) {
          console.log(`  FAIL ${label}: ${name} differs by ${rel.toExponential(2)} of max(1, |b|), tolerance ${TOLERANCE[oa.precision]}`);
          pairProblems++;
        }
      }
      if (!pairProblems) {
        console.log(`  ok ${label}: ${same ? 'bit-identical' : `within tolerance (largest difference ${(pairWorst * 100).toFixed(1)} % of it)`}`);
      }
      problems += pairProblems;
    }
  }
  if (Object.keys(worst).length) {
    console.log('  largest difference between different levels or backends, per output (max |a - b| / max(1, max |b|)):');
    for (const [name, w] of Object.entries(worst)) console.log(`    ${name.padEnd(36)} ${w.toExponential(2)}`);
  }
  if (problems) {
    console.log(`simd-numbers: ${problems} problem(s)`);
    process.exit(1);
  }
}
