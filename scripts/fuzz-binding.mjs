#!/usr/bin/env node
// Fuzzes the native binding: calls every export of the addon (its functions, the Network
// constructor and every Network method) with malformed argument lists built from valid ones:
//   - wrong argument counts, wrong types (undefined, null, numbers, strings, symbols, bigints,
//     arrays, functions, objects), wrong lengths and shapes, NaN / Infinity / negative / huge
//     numbers, typed arrays of the wrong element type;
//   - detached ArrayBuffers, arrays on resizable ArrayBuffers, arrays on SharedArrayBuffers that a
//     worker thread keeps rewriting during the calls;
//   - matrix objects and option objects whose getters, or Proxies around them, detach, resize or
//     rewrite arrays already read (index arrays included: order, offsets, the program), dispose
//     the Network being called, call the addon again, or throw;
//   - outputs that alias inputs; methods called on a wrong `this` or a disposed Network.
// Every call must return or throw; the process must not crash. It fails (exit 1) when a call
// throws an error that is not one of the binding's (TypeError, RangeError, or an Error whose
// message starts with the binding's ERR_ prefixes), when a message reports an "internal error",
// when some export never returned for its valid arguments, or when the addon computes a wrong
// product after the run.
//
//   node scripts/fuzz-binding.mjs [--calls 100000] [--seed 1] [--addon path/to/metatask.node]
// The addon is --addon, else METATASK_ADDON, else build/Release/metatask.node. Run after
// `npm run build` (it takes its network programs from dist/). The calls are the same for a seed;
// only the worker's rewrites of shared memory vary between runs.
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const CALLS = Number(opt('--calls', '100000'));
// --trace: print each call's number and export before it runs (to find the call that crashed).
const TRACE = argv.includes('--trace');
const SEED = Number(opt('--seed', '1'));
const addonPath = resolve(opt('--addon', process.env.METATASK_ADDON || join(root, 'build', 'Release', 'metatask.node')));

const addon = createRequire(import.meta.url)(addonPath);
const { cases: networkCases, targets } = await import(pathToFileURL(join(root, 'dist', 'test', 'network.cases.js')).href);
const { compileNetwork, encodeProgram } = await import(pathToFileURL(join(root, 'dist', 'lib', 'kernels', 'networkSpec.js')).href);
const { Rng } = await import(pathToFileURL(join(root, 'dist', 'lib', 'core', 'rng.js')).href);

// ---- deterministic randomness ------------------------------------------------------------------
let state = SEED >>> 0 || 1;
function rand() {
  // mulberry32
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (xs) => xs[int(xs.length)];
const chance = (p) => rand() < p;
const randn = () => rand() * 2 - 1;

// ---- shared memory rewritten by a worker thread --------------------------------------------------
const SAB_COUNT = 8;
const SAB_BYTES = 1 << 16;
const sabs = Array.from({ length: SAB_COUNT }, () => new SharedArrayBuffer(SAB_BYTES));
const stop = new Int32Array(new SharedArrayBuffer(8));
// Writes junk (out-of-range indices, NaN, huge and negative values) all over the shared buffers
// until told to stop; a counter of rounds goes back in stop[1].
const scribbler = new Worker(
  `
  const { workerData } = require('node:worker_threads');
  const { sabs, stop } = workerData;
  const ints = sabs.map((b) => new Int32Array(b));
  const floats = sabs.map((b) => new Float64Array(b));
  const junkInts = [-1, 0, 1, 2, 7, 1 << 20, 2147483647, -2147483648];
  const junkFloats = [NaN, Infinity, -Infinity, -1, 1e308, 0, 3.5, -0];
  let x = 12345, rounds = 0;
  while (Atomics.load(stop, 0) === 0) {
    for (let k = 0; k < 4096; k++) {
      x = (x * 1103515245 + 12345) >>> 0;
      const b = x % ints.length;
      if (x & 1024) ints[b][(x >>> 11) % ints[b].length] = junkInts[(x >>> 3) % junkInts.length];
      else floats[b][(x >>> 12) % floats[b].length] = junkFloats[(x >>> 3) % junkFloats.length];
    }
    rounds++;
    Atomics.store(stop, 1, rounds);
  }
  `,
  { eval: true, workerData: { sabs, stop } },
);
let sabNext = 0;
/** A copy of `arr` on one of the shared buffers (the worker rewrites it from now on). */
function onShared(arr) {
  const Ctor = arr.constructor;
  const bytes = arr.length * Ctor.BYTES_PER_ELEMENT;
  if (bytes > SAB_BYTES) return arr;
  const sab = sabs[sabNext++ % SAB_COUNT];
  const start = int((SAB_BYTES - bytes) / 8 + 1) * 8;
  const view = new Ctor(sab, start, arr.length);
  view.set(arr);
  return view;
}

// ---- valid arguments, per export ------------------------------------------------------------------
const F64 = Float64Array;
const F32 = Float32Array;
const vec = (len, Ctor = F64, f = randn) => Ctor.from({ length: len }, f);
const mat = (rows, cols, Ctor = F64, f = randn) => ({ rows, cols, data: vec(rows * cols, Ctor, f) });
const dim = (lo = 0, hi = 6) => lo + int(hi - lo + 1);
function spd(k) {
  const a = new F64(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) a[i * k + j] = i === j ? k + 1 : 0.5 / (1 + i + j);
  return { rows: k, cols: k, data: a };
}
const perm = (d) => {
  const o = Int32Array.from({ length: d }, (_, i) => i);
  for (let i = d - 1; i > 0; i--) {
    const j = int(i + 1);
    [o[i], o[j]] = [o[j], o[i]];
  }
  return o;
};
const levels = addon.info().simdAvailable;

/** maxSweeps permutations of 0..k-1 end to end: the orders argument of the inner solves. */
function sweepOrders(k, sweeps) {
  const out = new Int32Array(k * sweeps);
  for (let s = 0; s < sweeps; s++) out.set(perm(k), s * k);
  return out;
}
function sweep() {
  const d = dim(1), n = dim(1), T = dim(1);
  return [mat(d, n), mat(T, n), mat(d, T, F64, () => 0), vec(d, F64, () => n + rand()), rand(), rand() * 0.1, perm(d)];
}

const functions = {
  info: () => [],
  setThreads: () => [1 + int(3)],
  setSimd: () => [pick(levels)],
  setHugePages: () => [chance(0.5)],
  // Mostly small buffers; now and then one holding whole 2 MiB pages.
  hugePageSpan: () => [new ArrayBuffer(chance(0.9) ? int(8192) : (2 << 20) + int(6 << 20))],
  // Views anywhere in a buffer, of any length (empty ones too).
  prefaultPages: () => {
    const b = new Float64Array(int(4096));
    const from = int(b.length + 1);
    return [b.subarray(from, from + int(b.length - from + 1))];
  },
  gemm: () => {
    const m = dim(), k = dim(), n = dim();
    const T = chance(0.5) ? F64 : F32;
    const ta = chance(0.5), tb = chance(0.5);
    return [mat(ta ? k : m, ta ? m : k, T), mat(tb ? n : k, tb ? k : n, T), mat(m, n, T), ta, tb, randn(), chance(0.5) ? 0 : randn()];
  },
  fillMask: () => [Int32Array.from({ length: 4 }, () => int(2 ** 31)), vec(dim(), chance(0.5) ? F64 : F32), rand(), 1 + rand()],
  gram: () => {
    const n = dim(), d = dim();
    return [mat(n, d), mat(d, d)];
  },
  gatherBlock: () => {
    const r = dim(1), c = dim(1), m = dim(0), n = dim(0);
    return [mat(r, c), Int32Array.from({ length: m }, () => int(r)), Int32Array.from({ length: n }, () => int(c)), mat(m, n)];
  },
  setBlock: () => {
    const r = dim(0), c = dim(0), m = dim(0, r), n = dim(0, c);
    return [mat(r, c), int(r - m + 1), int(c - n + 1), mat(m, n)];
  },
  transpose: () => {
    const r = dim(), c = dim();
    return [mat(r, c), mat(c, r)];
  },
  gatherRows: () => {
    const r = dim(1), c = dim(), m = dim();
    const T = chance(0.5) ? F64 : F32;
    return [mat(r, c, T), Int32Array.from({ length: m }, () => int(r)), mat(m, c, T)];
  },
  choleskySolve: () => {
    const k = dim(1), m = dim(1, 3);
    return [spd(k), mat(k, m), mat(k, m)];
  },
  symEig: () => {
    const k = dim(1);
    return [spd(k), new F64(k), mat(k, k)];
  },
  svd: () => {
    const m = dim(1), n = dim(1), k = Math.min(m, n);
    return [mat(m, n), mat(m, k), new F64(k), mat(k, n)];
  },
  groupSoftThreshold: () => [mat(dim(), dim()), rand()],
  svt: () => {
    const r = dim(), c = dim();
    return [mat(r, c), rand(), mat(r, c)];
  },
  mtenetSweep: sweep,
  mtenetSweepBlocked: () => {
    const a = sweep();
    const bs = dim(1, 4);
    const len = Math.ceil(a[6].length / bs) * bs * bs;
    return [...a, vec(len), bs];
  },
  mtenetBlockGram: () => {
    const d = dim(1), n = dim(1), bs = dim(1, 4);
    const order = perm(d).subarray(0, dim(1, d));
    return [mat(d, n), order, bs, new F64(Math.ceil(order.length / bs) * bs * bs)];
  },
  cdColumnStats: () => {
    const n = dim(1), d = dim(1);
    return [mat(n, d), chance(0.5), new F64(d), new F64(d)];
  },
  cdColumnStatsCorrelations: () => {
    const n = dim(1), d = dim(1), T = dim(1);
    return [mat(n, d), chance(0.5), new F64(d), new F64(d), mat(T, n), mat(d, T), chance(0.5) ? new F64(d) : new F64(0)];
  },
  cdCorrelations: () => {
    const n = dim(1), d = dim(1), T = dim(1);
    const cols = perm(d).subarray(0, dim(0, d));
    const centred = chance(0.5);
    return [
      mat(n, d), centred ? vec(d) : new F64(0), centred ? vec(d, F64, () => 1 + rand()) : new F64(0), mat(T, n), cols,
      mat(cols.length, T), chance(0.5) ? new F64(cols.length) : new F64(0),
    ];
  },
  cdTargets: () => {
    const n = dim(1), T = dim(1);
    return [mat(n, T), chance(0.5), mat(T, n), new F64(T)];
  },
  cdCoefficients: () => {
    const d = dim(1), T = dim(1);
    const cols = perm(d).subarray(0, dim(0, d));
    return [cols, mat(cols.length, T), vec(d), vec(T), mat(T, d, F64, () => 0), new F64(T)];
  },
  cdResidual: () => {
    const n = dim(1), k = dim(0), T = dim(1);
    return [mat(k, n), mat(k, T), mat(T, n), mat(T, n)];
  },
  mtenetGramSolve: () => {
    const k = dim(1), T = dim(1), sweeps = dim(1, 4);
    return [
      spd(k), mat(T, k), mat(k, T, F64, () => 0), 1 + rand(), rand(), rand(), rand() * 0.1, 1e-6, sweeps, chance(0.5) ? new Int32Array(0) : sweepOrders(k, sweeps),
      chance(0.5) ? { rows: 0, cols: 0, data: new F64(0) } : mat(k, T),
    ];
  },
  mtenetResidualSolve: () => {
    const n = dim(1), k = dim(1), T = dim(1), sweeps = dim(1, 4);
    return [
      mat(k, n), mat(T, n), mat(T, n), mat(k, T, F64, () => 0), mat(k, T), rand(), rand() * 0.1, 1e-6, sweeps, chance(0.5) ? new Int32Array(0) : sweepOrders(k, sweeps), chance(0.5),
      chance(0.5) ? new F64(0) : vec(k, F64, () => rand() * n),
    ];
  },
  cdGramColumns: () => {
    const n = dim(1), d = dim(1);
    const cols = perm(d).subarray(0, dim(0, d));
    const rows = chance(0.5) ? cols.subarray(int(cols.length + 1)) : perm(d).subarray(0, dim(0, d));
    return [mat(n, d), chance(0.5) ? vec(d) : new F64(0), rows, cols, mat(rows.length, cols.length)];
  },
  cdResidualColumns: () => {
    const n = dim(1), d = dim(1), T = dim(1);
    const cols = perm(d).subarray(0, dim(0, d));
    return [mat(n, d), chance(0.5) ? vec(d) : new F64(0), cols, mat(cols.length, T), mat(T, n), mat(T, n)];
  },
  cdResidualCorrelations: () => {
    const n = dim(1), d = dim(1), T = dim(1);
    const resCols = perm(d).subarray(0, dim(0, d));
    const cols = perm(d).subarray(0, dim(0, d));
    const centred = chance(0.5);
    return [
      mat(n, d), centred ? vec(d) : new F64(0), centred ? vec(d, F64, () => 1 + rand()) : new F64(0), resCols, mat(resCols.length, T), mat(T, n),
      mat(T, n), cols, mat(cols.length, T), chance(0.5) ? new F64(cols.length) : new F64(0),
    ];
  },
  cdGramCorrelations: () => {
    const d = dim(0), T = dim(0);
    const support = perm(d).subarray(0, dim(0, d));
    // Columns repeated and unsorted, as the solver may list them.
    const cols = Int32Array.from({ length: d > 0 ? dim(0, 8) : 0 }, () => int(d));
    return [mat(d, d), mat(d, T), mat(d, T), support, cols, mat(cols.length, T), chance(0.5) ? new F64(cols.length) : new F64(0)];
  },
  cdGatherColumns: () => {
    const n = dim(1), d = dim(1);
    const cols = perm(d).subarray(0, dim(0, d));
    return [mat(n, d), chance(0.5) ? vec(d) : new F64(0), cols, mat(cols.length, n)];
  },
  cdDualNorms: () => {
    const d = dim(0), T = dim(1), version = int(4) - 1;
    const flags = () => Uint8Array.from({ length: d }, () => int(2));
    return [
      vec(d, F64, () => (chance(0.2) ? 0 : rand() * 3)), mat(d, T), vec(d, F64, rand), Int32Array.from({ length: d }, () => int(4) - 1),
      vec(d, F64, rand), flags(), mat(d, T), version, rand(), rand(), rand() * 0.1, new F64(d),
    ];
  },
  cdScreen: () => {
    const d = dim(0);
    const flags = () => Uint8Array.from({ length: d }, () => int(2));
    return [flags(), flags(), vec(d, F64, rand), vec(d, F64, rand), chance(0.2) ? Infinity : rand() + 0.1, rand(), rand() * 0.1, 1 - 1e-9];
  },
  cdStaleFeatures: () => {
    const d = dim(0);
    return [Int32Array.from({ length: d }, () => int(4) - 1), int(3), Uint8Array.from({ length: d }, () => int(2)), vec(d, F64, rand), chance(0.3) ? -Infinity : rand(), new Int32Array(d)];
  },
  cdFlaggedFeatures: () => {
    const d = dim(0);
    const flags = () => Uint8Array.from({ length: d }, () => int(3));
    return [flags(), new Int32Array(dim(0, d + 2)), chance(0.5) ? null : flags()];
  },
  cdFlagPositive: () => {
    const d = dim(0);
    return [vec(d, F64, () => pick([0, -0, NaN, -1, rand()])), new Uint8Array(d)];
  },
  cdWorkingSet: () => {
    const d = dim(0);
    const flags = () => Uint8Array.from({ length: d }, () => int(2));
    return [flags(), flags(), vec(d, F64, rand), pick([Infinity, -Infinity, rand()]), dim(0, 8), new Int32Array(d), pick([undefined, Infinity, -Infinity, rand()]), pick([undefined, 1 + int(2 * d + 2)])];
  },
  cdSetRows: () => {
    const d = dim(0), T = dim(1), k = dim(0, d);
    return [mat(d, T), Uint8Array.from({ length: d }, () => int(2)), perm(d).subarray(0, k), mat(k, T, F64, () => (chance(0.3) ? 0 : rand()))];
  },
  cdSetCorrelations: () => {
    const d = dim(0), T = dim(1), k = dim(0, d);
    return [mat(d, T), vec(d, F64, rand), new Int32Array(d), vec(d, F64, rand), int(4) - 1, rand(), perm(d).subarray(0, k), mat(k, T), chance(0.5) ? vec(k, F64, rand) : new F64(0)];
  },
  mtenetGramSweep: () => {
    const k = dim(1), T = dim(1);
    return [spd(k), mat(T, k), mat(k, T, F64, () => 0), rand(), rand() * 0.1, perm(k)];
  },
  taskLoss: () => {
    const T = dim(1, 4), d = dim(1);
    const offsets = new Int32Array(T + 1);
    for (let t = 1; t <= T; t++) offsets[t] = offsets[t - 1] + int(4);
    const n = offsets[T];
    const logistic = chance(0.5);
    const grads = chance(0.7);
    return [
      mat(n, d), vec(n, F64, logistic ? () => int(2) : randn), offsets, mat(T, d), vec(T), vec(T, F64, () => 1 + rand()),
      logistic ? 'logistic' : 'squared', grads ? mat(T, d) : null, grads ? new F64(T) : null, new F64(T),
    ];
  },
  adamStep: () => {
    const len = dim(), T = chance(0.5) ? F64 : F32;
    return [{ params: vec(len, T), grad: vec(len, T), m: new T(len), v: new T(len), lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: rand() * 0.01, decoupledWeightDecay: chance(0.5), step: 1 + int(10) }];
  },
  sgdStep: () => {
    const len = dim(), T = chance(0.5) ? F64 : F32;
    const momentum = chance(0.5) ? 0 : 0.9;
    return [{ params: vec(len, T), grad: vec(len, T), velocity: momentum === 0 && chance(0.5) ? null : new T(len), lr: 0.1, momentum, dampening: 0, nesterov: false, weightDecay: 0, step: 1 + int(10) }];
  },
  rmspropStep: () => {
    const len = dim(), T = chance(0.5) ? F64 : F32;
    return [{ params: vec(len, T), grad: vec(len, T), squareAvg: new T(len), momentumBuf: new T(len), lr: 0.01, alpha: 0.99, eps: 1e-8, momentum: 0.5, weightDecay: 0 }];
  },
};

// Networks: every architecture of the network test fixtures, in both dtypes.
const specs = networkCases.map((c) => ({ name: c.name, compiled: compileNetwork(c.spec), spec: c.spec }));
const fixtureRng = new Rng(SEED);
function networkCtorArgs() {
  const s = pick(specs);
  const { ints, floats } = encodeProgram(s.compiled);
  return [ints, floats, chance(0.5) ? 'float32' : 'float64'];
}
function newNetwork() {
  const s = pick(specs);
  const { ints, floats } = encodeProgram(s.compiled);
  const dtype = chance(0.5) ? 'float32' : 'float64';
  return { obj: new addon.Network(ints, floats, dtype), s, T: dtype === 'float32' ? F32 : F64 };
}
const liveNetworks = [];
function someNetwork() {
  if (liveNetworks.length < 6 || chance(0.05)) {
    const net = newNetwork();
    if (liveNetworks.length >= 6) liveNetworks.splice(int(liveNetworks.length), 1, net);
    else liveNetworks.push(net);
    return net;
  }
  const net = pick(liveNetworks);
  if (net.disposed && chance(0.9)) {
    const fresh = newNetwork();
    liveNetworks[liveNetworks.indexOf(net)] = fresh;
    return fresh;
  }
  return net;
}
function batchOf(net, n) {
  const c = net.s.compiled;
  const x = mat(n, c.widths[0], net.T);
  const yd = targets(net.s.spec, fixtureRng, n, chance(0.3));
  const y = { rows: n, cols: yd.cols, data: net.T.from(yd.data) };
  let masks = null;
  if (c.dropoutNodes.length > 0 && chance(0.7)) {
    masks = new Array(c.widths.length).fill(null);
    for (const i of c.dropoutNodes) masks[i] = vec(n * c.widths[i], net.T, () => (chance(0.5) ? 0 : 2));
  }
  return { x, y, masks };
}
const methods = {
  forward: (net) => {
    const n = dim(), { x, masks } = batchOf(net, n);
    return [vec(net.s.compiled.paramCount, net.T), x, masks, null, null, mat(n, net.s.compiled.outputWidth, net.T)];
  },
  lossGrad: (net) => {
    const c = net.s.compiled, { x, y, masks } = batchOf(net, dim());
    return [vec(c.paramCount, net.T), x, y, masks, null, null, vec(c.spec.heads.length, F64, () => rand()), chance(0.8) ? new net.T(c.paramCount) : null, new F64(c.spec.heads.length)];
  },
  headGrads: (net) => {
    const c = net.s.compiled, H = c.spec.heads.length, { x, y, masks } = batchOf(net, dim());
    return [vec(c.paramCount, net.T), x, y, masks, null, null, mat(H, c.paramCount, net.T), new F64(H)];
  },
  hvp: (net) => {
    const c = net.s.compiled, { x, y, masks } = batchOf(net, dim());
    return [vec(c.paramCount, net.T), x, y, masks, null, null, vec(c.spec.heads.length, F64, () => rand()), vec(c.paramCount, net.T), new net.T(c.paramCount)];
  },
  vjp: (net) => {
    const c = net.s.compiled, n = dim(), { x, masks } = batchOf(net, n);
    return [vec(c.paramCount, net.T), x, masks, null, null, mat(n, c.outputWidth, net.T), new net.T(c.paramCount), chance(0.5)];
  },
  metaGradient: (net) => {
    const c = net.s.compiled, T = dim(1, 3);
    const offsets = new Int32Array(2 * T + 1);
    for (let i = 1; i <= 2 * T; i++) offsets[i] = offsets[i - 1] + 1 + int(3);
    const { x, y } = batchOf(net, offsets[2 * T]);
    const mask = chance(0.3) ? Uint8Array.from({ length: c.paramCount }, () => int(2)) : null;
    return [vec(c.paramCount, net.T, () => randn() * 0.3), x, y, offsets, rand() * 0.1, int(3), chance(0.5), mask, new F64(c.paramCount)];
  },
  // The same arguments without grad; the network refuses other calls until metaGradientFinish.
  metaGradientStart: (net) => methods.metaGradient(net).slice(0, 8),
  metaGradientFinish: (net) => [new F64(net.s.compiled.paramCount)],
  info: () => [],
  dispose: () => [],
};

// ---- malformed values and mutations ---------------------------------------------------------------
const JUNK_NUMBERS = [NaN, Infinity, -Infinity, -1, -0, 0, 0.5, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 31), 1e308, 5e-324, 100001];
const TYPED = [F64, F32, Int32Array, Uint8Array, Int8Array, Uint32Array, Float32Array, Uint8ClampedArray, BigInt64Array];
function junk() {
  switch (int(12)) {
    case 0: return undefined;
    case 1: return null;
    case 2: return pick(JUNK_NUMBERS);
    case 3: return pick(['', 'x', 'float32', 'squared', 'avx2', '1']);
    case 4: return Symbol('s');
    case 5: return pick([0n, 10n, -1n]);
    case 6: return pick([[], [1, 2, 3], [[1]]]);
    case 7: return () => 0;
    case 8: return pick([{}, { rows: 1, cols: 1 }, { rows: 1, cols: 1, data: [1] }, { length: 3 }]);
    case 9: return new (pick(TYPED))(int(8));
    case 10: return detached(new (pick(TYPED))(int(8)));
    default: return pick([true, false]);
  }
}
function detached(arr) {
  try {
    structuredClone(arr.buffer, { transfer: [arr.buffer] });
  } catch {
    // shared or already detached
  }
  return arr;
}
/** The same values on a resizable ArrayBuffer; length-tracking or fixed-length view. */
function onResizable(arr, ctx) {
  const Ctor = arr.constructor;
  const bytes = arr.length * Ctor.BYTES_PER_ELEMENT;
  const buf = new ArrayBuffer(bytes, { maxByteLength: bytes + 64 });
  const view = chance(0.5) ? new Ctor(buf) : new Ctor(buf, 0, arr.length);
  view.set(arr);
  ctx.resizables.push(buf);
  return view;
}

/** Typed arrays reachable from the arguments (walked before any getter is installed). */
function collectArrays(args, out = []) {
  for (const a of args) {
    if (ArrayBuffer.isView(a)) out.push(a);
    else if (Array.isArray(a)) collectArrays(a, out);
    else if (a && typeof a === 'object') collectArrays(Object.values(a), out);
  }
  return out;
}

class Sentinel extends Error {}
let nested = 0;
let depth = 0;

// Getters misbehave only while the binding reads the arguments, not while they are built.
let armed = false;

// Something a getter or Proxy trap does in the middle of argument reading.
function evil(ctx) {
  if (!armed) return;
  const arrays = ctx.arrays;
  switch (int(9)) {
    case 0:
    case 1: {
      if (arrays.length) detached(pick(arrays));
      return;
    }
    case 2: {
      if (ctx.resizables.length) {
        const b = pick(ctx.resizables);
        try {
          b.resize(chance(0.5) ? 0 : int(b.maxByteLength / 8 + 1) * 8);
        } catch {
          // detached
        }
      }
      return;
    }
    case 3: {
      // Rewrite an array already read: index arrays get out-of-range entries.
      const a = arrays.length ? pick(arrays) : null;
      if (!a || a.length === 0) return;
      if (a instanceof Int32Array) a.fill(pick([-1, 2147483647, a.length + 3, -2147483648]), int(a.length));
      else if (a instanceof BigInt64Array) a.fill(-1n);
      else if (a instanceof Uint8Array) a.fill(255);
      else a.fill(pick([NaN, Infinity, -1, 1e308]), int(a.length));
      return;
    }
    case 4:
      if (ctx.net) {
        ctx.net.obj.dispose();
        ctx.net.disposed = true;
      }
      return;
    case 5:
      if (depth < 1) {
        depth++;
        nested++;
        try {
          const name = pick(Object.keys(functions).filter((k) => k !== 'setSimd'));
          addon[name](...functions[name]());
        } catch {
          // a nested call may fail; only a crash matters
        } finally {
          depth--;
        }
      }
      return;
    case 6:
      addon.setThreads(1 + int(3));
      return;
    case 7:
      throw new Sentinel('thrown by a getter');
    default:
      if (ctx.net && depth < 1 && !ctx.net.disposed) {
        // Call another method on the Network whose method is reading its arguments.
        depth++;
        nested++;
        try {
          ctx.net.obj.forward(...methods.forward(ctx.net));
        } catch {
          // disposed, or a bad combination: fine
        } finally {
          depth--;
        }
      }
  }
}

/** An object with the same fields where one is a getter that misbehaves first. */
function withGetter(obj, ctx) {
  const keys = Object.keys(obj);
  if (keys.length === 0) return obj;
  const k = pick(keys);
  const out = { ...obj };
  const value = obj[k];
  const lie = chance(0.2);
  Object.defineProperty(out, k, {
    enumerable: true,
    get() {
      evil(ctx);
      return lie ? junk() : value;
    },
  });
  return out;
}
function asProxy(obj, ctx) {
  let calls = 0;
  const when = int(4);
  return new Proxy(obj, {
    get(t, k, r) {
      if (calls++ === when) evil(ctx);
      return Reflect.get(t, k, r);
    },
    has(t, k) {
      if (chance(0.3)) evil(ctx);
      return Reflect.has(t, k);
    },
  });
}

function mutateTyped(a, ctx) {
  switch (int(9)) {
    case 0: {
      const Other = pick(TYPED.filter((T) => T !== a.constructor));
      return new Other(a.length);
    }
    case 1: return new a.constructor(Math.max(0, a.length + pick([-1, 1, 7])));
    case 2: return detached(a);
    case 3: return onShared(a);
    case 4: return onResizable(a, ctx);
    case 5: {
      // A view at an element offset (valid) or sharing another argument's memory (aliasing).
      const same = ctx.arrays.filter((b) => b !== a && b.constructor === a.constructor && b.length >= a.length);
      if (same.length && chance(0.7)) {
        const b = pick(same);
        const off = int(b.length - a.length + 1);
        return b.subarray(off, off + a.length);
      }
      const big = new a.constructor(a.length + 3);
      big.set(a, 1);
      return big.subarray(1, 1 + a.length);
    }
    case 6: {
      const b = a.slice();
      if (b.length) b[int(b.length)] = b instanceof BigInt64Array ? -1n : pick([-1, NaN, 2147483647, Infinity, 1e308]);
      return b;
    }
    case 7: return Array.from(a);
    default: return junk();
  }
}

function mutateValue(v, ctx) {
  if (ArrayBuffer.isView(v)) {
    // The new array is a target of later getters too.
    let out;
    try {
      out = mutateTyped(v, ctx);
    } catch {
      out = junk(); // v was detached by an earlier mutation
    }
    if (ArrayBuffer.isView(out)) ctx.arrays.push(out);
    return out;
  }
  if (Array.isArray(v)) {
    // masks: entries replaced, getters on entries, wrong length
    const out = v.slice();
    if (chance(0.3)) out.length = Math.max(0, out.length + pick([-1, 1]));
    else if (out.length && chance(0.5)) out[int(out.length)] = mutateValue(out[int(out.length)], ctx);
    else if (out.length) {
      const i = int(out.length);
      const value = out[i];
      Object.defineProperty(out, i, { get() { evil(ctx); return value; } });
    }
    return out;
  }
  if (v && typeof v === 'object') {
    switch (int(5)) {
      case 0: return withGetter(v, ctx);
      case 1: return asProxy(v, ctx);
      case 2: {
        const k = pick(Object.keys(v));
        return k === undefined ? v : { ...v, [k]: mutateValue(v[k], ctx) };
      }
      case 3: {
        // rows / cols off by one, or fields dropped
        const out = { ...v };
        if ('rows' in out && chance(0.5)) out.rows += pick([-1, 1]);
        else if ('cols' in out) out.cols += pick([-1, 1]);
        else delete out[pick(Object.keys(out))];
        return out;
      }
      default: return junk();
    }
  }
  if (typeof v === 'number') return chance(0.7) ? pick(JUNK_NUMBERS) : junk();
  return junk();
}

function mutate(args, ctx) {
  const rounds = 1 + int(3);
  for (let r = 0; r < rounds; r++) {
    const what = int(10);
    if (what === 0) {
      // argument count
      if (chance(0.5) && args.length) args.length = int(args.length);
      else args.push(junk());
    } else if (args.length) {
      const i = int(args.length);
      try {
        args[i] = mutateValue(args[i], ctx);
      } catch {
        args[i] = junk(); // a mutation of an already mutated value that does not apply (e.g. a bigint + 1)
      }
    }
  }
}

// ---- the run --------------------------------------------------------------------------------------
const bindingErrorPrefix = /^(ERR_VALUE:|ERR_DISPOSED:|ERR_OUT_OF_MEMORY:)/;
const stats = new Map();
const failures = [];
let returned = 0;
let threw = 0;
let sentinel = 0;
const byType = { TypeError: 0, RangeError: 0, Error: 0 };
const exportNames = [...Object.keys(functions), 'new Network', ...Object.keys(methods).map((m) => `Network.${m}`)];
for (const name of exportNames) stats.set(name, { calls: 0, returned: 0, validReturned: 0, valid: 0 });
// Every export of the addon is fuzzed: a new export without a generator here fails the run.
const missing = Object.keys(addon).filter((k) => k !== 'Network' && !(k in functions));
const missingMethods = Object.getOwnPropertyNames(addon.Network.prototype).filter((k) => k !== 'constructor' && !(k in methods));
if (missing.length || missingMethods.length) {
  console.error(`fuzz-binding: no argument generator for ${[...missing, ...missingMethods.map((m) => `Network.${m}`)].join(', ')}`);
  process.exit(1);
}

const t0 = Date.now();
for (let call = 0; call < CALLS; call++) {
  const which = int(exportNames.length);
  const name = exportNames[which];
  const s = stats.get(name);
  const ctx = { arrays: [], resizables: [], net: null };
  let f;
  let self;
  let args;
  if (name.startsWith('Network.')) {
    const net = someNetwork();
    ctx.net = net;
    const m = name.slice('Network.'.length);
    f = addon.Network.prototype[m];
    args = methods[m](net);
    self = net.obj;
  } else if (name === 'new Network') {
    args = networkCtorArgs();
  } else {
    f = addon[name];
    args = functions[name]();
  }
  ctx.arrays = collectArrays(args);
  const valid = chance(0.1);
  if (!valid) {
    mutate(args, ctx);
    if (self && chance(0.05)) self = pick([{}, addon.Network.prototype, undefined, liveNetworks[int(liveNetworks.length)]?.obj]);
    if (name === 'new Network' && chance(0.5)) {
      // Program mutations: entries changed, cut or extended (the parser must refuse them).
      const ints = args[0] instanceof Int32Array ? args[0] : new Int32Array(0);
      try {
        if (chance(0.6)) ints[int(ints.length)] = pick([-1, 0, 1, 2, 3, 9, 255, 1 << 24, 2147483647, int(64)]);
        else args[0] = ints.subarray(0, int(ints.length));
      } catch {
        // ints was detached by a mutation above
      }
    }
  }
  s.calls++;
  if (valid) s.valid++;
  if (TRACE) writeSync(2, `${call} ${name}${valid ? ' (valid)' : ''}\n`);
  armed = true;
  try {
    if (name === 'new Network') {
      const obj = new addon.Network(...args);
      if (chance(0.5)) obj.dispose();
    } else {
      f.apply(self, args);
    }
    armed = false;
    if (name === 'Network.dispose' && self === ctx.net?.obj) ctx.net.disposed = true;
    returned++;
    s.returned++;
    if (valid) s.validReturned++;
  } catch (err) {
    armed = false;
    threw++;
    if (err instanceof Sentinel) {
      sentinel++;
      continue;
    }
    const kind = err instanceof TypeError ? 'TypeError' : err instanceof RangeError ? 'RangeError' : err instanceof Error ? 'Error' : null;
    if (kind) byType[kind]++;
    const msg = err instanceof Error ? err.message : String(err);
    if (!kind || (kind === 'Error' && !bindingErrorPrefix.test(msg)) || /internal error/.test(msg)) {
      if (failures.length < 20) failures.push(`${name}: ${kind ?? typeof err}: ${msg}`);
      else failures.length++;
    }
  }
}
const seconds = (Date.now() - t0) / 1000;

Atomics.store(stop, 0, 1);
const rewrites = Atomics.load(stop, 1) * 4096;
await scribbler.terminate();
for (const net of liveNetworks) net.obj.dispose();

// The addon still computes: a product with known result, at every SIMD level.
for (const level of levels) {
  addon.setSimd(level);
  const c = { rows: 2, cols: 2, data: new F64(4) };
  addon.gemm({ rows: 2, cols: 2, data: F64.from([1, 2, 3, 4]) }, { rows: 2, cols: 2, data: F64.from([5, 6, 7, 8]) }, c, false, false, 1, 0);
  if (c.data.join() !== '19,22,43,50') failures.push(`gemm at ${level} after the run: got ${c.data.join()}, expected 19,22,43,50`);
}
for (const [name, s] of stats) {
  if (s.valid > 0 && s.validReturned === 0) failures.push(`${name}: none of its ${s.valid} valid calls returned (the fuzzer's own arguments are wrong)`);
}

console.log(`fuzz-binding: ${CALLS} calls in ${seconds.toFixed(1)} s (seed ${SEED}, addon ${addonPath})`);
console.log(`  ${returned} returned, ${threw} threw: TypeError ${byType.TypeError}, RangeError ${byType.RangeError}, Error ${byType.Error}, from the fuzzer's own getters ${sentinel}`);
console.log(`  ${nested} nested calls from getters; about ${rewrites} writes to shared memory by the worker thread`);
for (const [name, s] of stats) console.log(`  ${name.padEnd(22)} ${String(s.calls).padStart(6)} calls, ${String(s.returned).padStart(6)} returned`);
if (failures.length) {
  console.log(`fuzz-binding: FAILED, ${failures.length} problem(s):`);
  for (const f of failures) if (f) console.log(`  - ${f}`);
  process.exit(1);
}
console.log('fuzz-binding: no crash, every error was a binding error');
