/**
 * Network specs: validation, widths, the flat parameter layout and the native program.
 * compileNetwork is the one place that decides what a NetworkSpec means; both kernel sets receive
 * its result (the TS kernel reads CompiledNetwork, the native binding an Int32Array/Float64Array
 * program built by `encodeProgram`), so the two can never disagree about shapes or layout. It
 * lives with the kernels because both kernel sets need it; initialisation and dropout masks, which
 * only the training code needs, are in lib/nn/spec.ts (which also re-exports everything here).
 */
import { ConfigError, ShapeError, ValueError } from '../core/errors.js';
import { describe, type FloatArray } from '../core/matrix.js';
import { didYouMean } from '../core/suggest.js';
import type { ActivationName, HeadSpec, LossName, NetworkSpec, NodeSpec, NormStats, ParamSlot, Size2 } from './types.js';

export const ACTIVATIONS: readonly ActivationName[] = ['relu', 'leaky-relu', 'elu', 'gelu', 'tanh', 'sigmoid', 'identity'];
export const LOSSES: readonly LossName[] = ['mse', 'huber', 'bce-logits', 'softmax-ce', 'poisson'];
export const OPS = [
  'input', 'dense', 'activation', 'dropout', 'layernorm', 'softmax', 'mixture', 'stitch', 'concat', 'add',
  'conv2d', 'batchnorm', 'maxpool2d', 'avgpool2d', 'flatten',
] as const;
export type OpName = (typeof OPS)[number];

/** Default alpha of leaky-relu (PyTorch's negative_slope) and elu. */
export const DEFAULT_ALPHA: Readonly<Record<string, number>> = { 'leaky-relu': 0.01, elu: 1 };

/** Batch normalisation defaults (PyTorch's BatchNorm2d). */
export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

/** The largest pooling window (kh x kw) a kernel records a position in (one byte). */
export const MAX_POOL_WINDOW = 256;

/** An image: channels x height x width. */
export type Shape3 = readonly [number, number, number];

/**
 * Geometry of a conv2d or pooling node: input c x h x w, window kh x kw, stride sh x sw, zero
 * padding ph x pw (0 for pools), output f x ho x wo (f = filters for conv2d, c for pools).
 */
export interface Geometry {
  c: number;
  h: number;
  w: number;
  f: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  ho: number;
  wo: number;
}

export interface CompiledNetwork {
  /** The spec as given (not copied deeply; treat as read-only). */
  readonly spec: NetworkSpec;
  readonly inputSize: number;
  /** Output width of every node. */
  readonly widths: Int32Array;
  /** Every parameter tensor, in node order (dense W then b; layernorm gamma then beta; stitch a). */
  readonly params: ParamSlot[];
  /** Offset of a node's first parameter in the flat vector, -1 when it has none. */
  readonly paramOffset: Int32Array;
  readonly paramCount: number;
  /** Column of head h's first output in forward()'s result; headOffsets[H] = total width. */
  readonly headOffsets: Int32Array;
  readonly outputWidth: number;
  /** Number of target columns the y matrix needs (1 + the largest head target). */
  readonly targetCols: number;
  /** Activation alpha (resolved default), dropout rate, else 0; by node. */
  readonly alpha: Float64Array;
  /** Huber delta (resolved default 1), else 0; by head. */
  readonly delta: Float64Array;
  /** Indices of dropout nodes. */
  readonly dropoutNodes: number[];
  /** The image shape of every node's output, null for flat nodes. */
  readonly shapes: (Shape3 | null)[];
  /** Window geometry of conv2d and pooling nodes, else null. */
  readonly geometry: (Geometry | null)[];
  /** Batchnorm nodes: channels normalised (C of an image, else the width), else 0. */
  readonly normChannels: Int32Array;
  /** Offset of a batchnorm node's statistics (C means then C variances) in a NormStats vector, else -1. */
  readonly statsOffset: Int32Array;
  /** Length of a NormStats vector (0 without batchnorm). */
  readonly statsCount: number;
  /** Indices of batchnorm nodes. */
  readonly normNodes: number[];
  /** ancestors[h][i]: node i feeds head h's node (or is it); the nodes a backward pass for h visits. */
  readonly ancestors: Uint8Array[];
}

/** The nodes a node reads, in order (mixture: gate first, then experts). */
export function nodeInputs(node: NodeSpec): number[] {
  switch (node.op) {
    case 'input':
      return [];
    case 'mixture':
      return [node.gate, ...node.experts];
    case 'stitch':
    case 'concat':
    case 'add':
      return node.inputs;
    default:
      return [node.input];
  }
}

function fail(msg: string): never {
  throw new ConfigError(`network spec: ${msg}`);
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** A Size2 option as [height, width] of integers >= min (`fallback` when undefined). */
function size2(i: number, field: string, v: Size2 | undefined, min: number, fallback?: readonly [number, number]): [number, number] {
  if (v === undefined && fallback) return [fallback[0], fallback[1]];
  const pair = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? v : null;
  if (!pair || !pair.every((x) => isInt(x) && x >= min)) {
    fail(`node ${i}: ${field} must be an integer >= ${min} or [height, width] of such integers, got ${describe(v)}`);
  }
  return [pair[0]!, pair[1]!];
}

function imageOf(i: number, op: string, x: number, shapes: (Shape3 | null)[]): Shape3 {
  const sh = shapes[x];
  if (!sh) fail(`node ${i}: ${op} needs an image input (an input with a shape [channels, height, width], or a conv2d/pool/batchnorm of one); node ${x} is flat`);
  return sh;
}

/** The output side of a window: floor((in + 2 pad - k) / stride) + 1, which must be >= 1. */
function outSide(i: number, op: string, axis: string, input: number, k: number, stride: number, pad: number): number {
  const o = Math.floor((input + 2 * pad - k) / stride) + 1;
  if (input + 2 * pad < k) fail(`node ${i}: the ${op} window (${k}) is larger than the padded ${axis} (${input} + 2 x ${pad})`);
  return o;
}

const sameShape = (a: Shape3 | null, b: Shape3 | null): boolean => !!a && !!b && a[0] === b[0] && a[1] === b[1] && a[2] === b[2];

function checkIndex(i: number, field: string, v: unknown): number {
  if (!isInt(v) || v < 0 || v >= i) fail(`node ${i}: ${field} must be the index of an earlier node (0..${i - 1}), got ${describe(v)}`);
  return v;
}

function checkList(i: number, field: string, v: unknown): number[] {
  if (!Array.isArray(v) || v.length === 0) fail(`node ${i}: ${field} must be a non-empty array of node indices, got ${describe(v)}`);
  return v.map((x, k) => checkIndex(i, `${field}[${k}]`, x));
}

/** Check a spec and compute widths, the parameter layout and head offsets. Throws ConfigError. */
export function compileNetwork(spec: NetworkSpec): CompiledNetwork {
  if (spec === null || typeof spec !== 'object') fail(`expected an object { nodes, heads }, got ${describe(spec)}`);
  const { nodes, heads } = spec;
  if (!Array.isArray(nodes) || nodes.length === 0) fail(`'nodes' must be a non-empty array, got ${describe(nodes)}`);
  if (!Array.isArray(heads) || heads.length === 0) fail(`'heads' must be a non-empty array, got ${describe(heads)}`);
  const N = nodes.length;
  const widths = new Int32Array(N);
  const paramOffset = new Int32Array(N).fill(-1);
  const alpha = new Float64Array(N);
  const params: ParamSlot[] = [];
  const dropoutNodes: number[] = [];
  const shapes: (Shape3 | null)[] = new Array(N).fill(null);
  const geometry: (Geometry | null)[] = new Array(N).fill(null);
  const normChannels = new Int32Array(N);
  const statsOffset = new Int32Array(N).fill(-1);
  const normNodes: number[] = [];
  let statsCount = 0;
  let offset = 0;
  const slot = (node: number, name: ParamSlot['name'], shape: number[], fanIn: number): void => {
    if (paramOffset[node] === -1) paramOffset[node] = offset;
    params.push({ node, name, offset, shape, fanIn });
    offset += shape.reduce((a, b) => a * b, 1);
  };

  for (let i = 0; i < N; i++) {
    const node = nodes[i] as NodeSpec;
    if (node === null || typeof node !== 'object') fail(`node ${i}: expected an object, got ${describe(node)}`);
    const op = (node as { op: unknown }).op;
    if (i === 0 && op !== 'input') fail(`node 0 must be { op: 'input', size }, got op ${describe(op)}`);
    if (i > 0 && op === 'input') fail(`node ${i}: only node 0 may be an input`);
    switch (node.op) {
      case 'input':
        if (!isInt(node.size) || node.size < 1) fail(`node 0: input size must be a positive integer, got ${describe(node.size)}`);
        widths[i] = node.size;
        if (node.shape !== undefined) {
          const sh = node.shape;
          if (!Array.isArray(sh) || sh.length !== 3 || !sh.every((v) => isInt(v) && v >= 1)) {
            fail(`node 0: shape must be [channels, height, width] of positive integers, got ${describe(sh)}`);
          }
          if (sh[0] * sh[1] * sh[2] !== node.size) fail(`node 0: shape ${sh.join(' x ')} holds ${sh[0] * sh[1] * sh[2]} values, but size is ${node.size}`);
          shapes[i] = [sh[0], sh[1], sh[2]];
        }
        break;
      case 'conv2d': {
        const x = checkIndex(i, 'input', node.input);
        const [c, h, w] = imageOf(i, 'conv2d', x, shapes);
        if (!isInt(node.filters) || node.filters < 1) fail(`node ${i}: conv2d filters must be a positive integer, got ${describe(node.filters)}`);
        const [kh, kw] = size2(i, 'conv2d kernel', node.kernel, 1);
        const [sh, sw] = size2(i, 'conv2d stride', node.stride, 1, [1, 1]);
        const [ph, pw] = size2(i, 'conv2d padding', node.padding, 0, [0, 0]);
        const ho = outSide(i, 'conv2d', 'height', h, kh, sh, ph);
        const wo = outSide(i, 'conv2d', 'width', w, kw, sw, pw);
        const f = node.filters;
        geometry[i] = { c, h, w, f, kh, kw, sh, sw, ph, pw, ho, wo };
        shapes[i] = [f, ho, wo];
        widths[i] = f * ho * wo;
        slot(i, 'W', [f, c, kh, kw], c * kh * kw);
        slot(i, 'b', [f], c * kh * kw);
        break;
      }
      case 'batchnorm': {
        const x = checkIndex(i, 'input', node.input);
        if (node.eps !== undefined && (typeof node.eps !== 'number' || !(node.eps > 0) || !Number.isFinite(node.eps))) {
          fail(`node ${i}: batchnorm eps must be a positive finite number, got ${describe(node.eps)}`);
        }
        if (node.momentum !== undefined && (typeof node.momentum !== 'number' || !(node.momentum >= 0 && node.momentum <= 1))) {
          fail(`node ${i}: batchnorm momentum must be in [0, 1], got ${describe(node.momentum)}`);
        }
        alpha[i] = node.eps ?? BN_EPS;
        widths[i] = widths[x]!;
        shapes[i] = shapes[x]!;
        const C = shapes[x] ? shapes[x]![0] : widths[x]!;
        normChannels[i] = C;
        statsOffset[i] = statsCount;
        statsCount += 2 * C;
        normNodes.push(i);
        slot(i, 'gamma', [C], C);
        slot(i, 'beta', [C], C);
        break;
      }
      case 'maxpool2d':
      case 'avgpool2d': {
        const x = checkIndex(i, 'input', node.input);
        const [c, h, w] = imageOf(i, node.op, x, shapes);
        const [kh, kw] = node.size === 'global' && node.op === 'avgpool2d' ? [h, w] : size2(i, `${node.op} size`, node.size as Size2, 1);
        const [sh, sw] = size2(i, `${node.op} stride`, node.stride, 1, [kh, kw]);
        if (node.op === 'maxpool2d' && kh * kw > MAX_POOL_WINDOW) fail(`node ${i}: maxpool2d windows may hold at most ${MAX_POOL_WINDOW} values, got ${kh} x ${kw}`);
        const ho = outSide(i, node.op, 'height', h, kh, sh, 0);
        const wo = outSide(i, node.op, 'width', w, kw, sw, 0);
        geometry[i] = { c, h, w, f: c, kh, kw, sh, sw, ph: 0, pw: 0, ho, wo };
        shapes[i] = [c, ho, wo];
        widths[i] = c * ho * wo;
        break;
      }
      case 'flatten': {
        const x = checkIndex(i, 'input', node.input);
        widths[i] = widths[x]!;
        break;
      }
      case 'dense': {
        const x = checkIndex(i, 'input', node.input);
        if (!isInt(node.units) || node.units < 1) fail(`node ${i}: dense units must be a positive integer, got ${describe(node.units)}`);
        widths[i] = node.units;
        slot(i, 'W', [widths[x]!, node.units], widths[x]!);
        slot(i, 'b', [node.units], widths[x]!);
        break;
      }
      case 'activation': {
        const x = checkIndex(i, 'input', node.input);
        if (!ACTIVATIONS.includes(node.fn)) fail(`node ${i}: unknown activation fn ${describe(node.fn)}${didYouMean(node.fn, ACTIVATIONS)}; known: ${ACTIVATIONS.join(', ')}`);
        if (node.alpha !== undefined) {
          if (node.fn !== 'leaky-relu' && node.fn !== 'elu') fail(`node ${i}: alpha applies only to leaky-relu and elu, not ${node.fn}`);
          if (typeof node.alpha !== 'number' || !Number.isFinite(node.alpha)) fail(`node ${i}: alpha must be a finite number, got ${describe(node.alpha)}`);
        }
        alpha[i] = node.alpha ?? DEFAULT_ALPHA[node.fn] ?? 0;
        widths[i] = widths[x]!;
        shapes[i] = shapes[x]!;
        break;
      }
      case 'dropout': {
        const x = checkIndex(i, 'input', node.input);
        if (typeof node.rate !== 'number' || !(node.rate >= 0 && node.rate < 1)) fail(`node ${i}: dropout rate must be in [0, 1), got ${describe(node.rate)}`);
        alpha[i] = node.rate;
        widths[i] = widths[x]!;
        shapes[i] = shapes[x]!;
        dropoutNodes.push(i);
        break;
      }
      case 'layernorm': {
        const x = checkIndex(i, 'input', node.input);
        widths[i] = widths[x]!;
        shapes[i] = shapes[x]!;
        slot(i, 'gamma', [widths[i]!], widths[i]!);
        slot(i, 'beta', [widths[i]!], widths[i]!);
        break;
      }
      case 'softmax': {
        const x = checkIndex(i, 'input', node.input);
        widths[i] = widths[x]!;
        shapes[i] = shapes[x]!;
        break;
      }
      case 'mixture': {
        const g = checkIndex(i, 'gate', node.gate);
        const ex = checkList(i, 'experts', node.experts);
        const w = widths[ex[0]!]!;
        ex.forEach((e, k) => {
          if (widths[e] !== w) fail(`node ${i}: mixture experts must have equal widths; expert ${k} (node ${e}) has ${widths[e]}, expert 0 (node ${ex[0]}) has ${w}`);
        });
        if (widths[g] !== ex.length) fail(`node ${i}: the gate (node ${g}) has width ${widths[g]}, expected the number of experts ${ex.length}`);
        widths[i] = w;
        if (ex.every((e) => sameShape(shapes[e]!, shapes[ex[0]!]!))) shapes[i] = shapes[ex[0]!]!;
        break;
      }
      case 'stitch':
      case 'add':
      case 'concat': {
        const ins = checkList(i, 'inputs', node.inputs);
        if (node.op === 'concat') {
          widths[i] = ins.reduce((s, k) => s + widths[k]!, 0);
          // Images of one height and width concatenate along channels (NCHW rows are channel-major).
          const s0 = shapes[ins[0]!];
          if (s0 && ins.every((k) => shapes[k] && shapes[k]![1] === s0[1] && shapes[k]![2] === s0[2])) {
            shapes[i] = [ins.reduce((s, k) => s + shapes[k]![0], 0), s0[1], s0[2]];
          }
        } else {
          const w = widths[ins[0]!]!;
          ins.forEach((k, j) => {
            if (widths[k] !== w) fail(`node ${i}: ${node.op} inputs must have equal widths; input ${j} (node ${k}) has ${widths[k]}, input 0 (node ${ins[0]}) has ${w}`);
          });
          widths[i] = w;
          if (ins.every((k) => sameShape(shapes[k]!, shapes[ins[0]!]!))) shapes[i] = shapes[ins[0]!]!;
        }
        if (node.op === 'stitch') {
          if (node.self !== undefined && (!isInt(node.self) || node.self < 0 || node.self >= ins.length)) {
            fail(`node ${i}: stitch self must be a position in inputs (0..${ins.length - 1}), got ${describe(node.self)}`);
          }
          slot(i, 'a', [ins.length], ins.length);
        }
        break;
      }
      default:
        fail(`node ${i}: unknown op ${describe(op)}${didYouMean(op, OPS)}; known: ${OPS.join(', ')}`);
    }
  }

  const H = heads.length;
  const headOffsets = new Int32Array(H + 1);
  const delta = new Float64Array(H);
  let targetCols = 0;
  const ancestors: Uint8Array[] = [];
  for (let h = 0; h < H; h++) {
    const head = heads[h] as HeadSpec;
    if (head === null || typeof head !== 'object') fail(`head ${h}: expected an object { node, loss, target }, got ${describe(head)}`);
    if (!isInt(head.node) || head.node < 1 || head.node >= N) fail(`head ${h}: node must be a node index in 1..${N - 1}, got ${describe(head.node)}`);
    if (!LOSSES.includes(head.loss)) fail(`head ${h}: unknown loss ${describe(head.loss)}${didYouMean(head.loss, LOSSES)}; known: ${LOSSES.join(', ')}`);
    if (!isInt(head.target) || head.target < 0) fail(`head ${h}: target must be a non-negative column index, got ${describe(head.target)}`);
    const w = widths[head.node]!;
    if (head.loss === 'softmax-ce') {
      if (w < 2) fail(`head ${h}: softmax-ce needs a node with at least 2 columns (one per class); node ${head.node} has ${w}`);
    } else if (w !== 1) {
      fail(`head ${h}: ${head.loss} needs a node with 1 column; node ${head.node} has ${w}`);
    }
    if (head.delta !== undefined) {
      if (head.loss !== 'huber') fail(`head ${h}: delta applies only to the huber loss, not ${head.loss}`);
      if (typeof head.delta !== 'number' || !(head.delta > 0) || !Number.isFinite(head.delta)) fail(`head ${h}: huber delta must be a positive finite number, got ${describe(head.delta)}`);
    }
    delta[h] = head.loss === 'huber' ? (head.delta ?? 1) : 0;
    headOffsets[h + 1] = headOffsets[h]! + w;
    targetCols = Math.max(targetCols, head.target + 1);
    const anc = new Uint8Array(N);
    anc[head.node] = 1;
    for (let i = head.node; i > 0; i--) if (anc[i]) for (const k of nodeInputs(nodes[i]!)) anc[k] = 1;
    ancestors.push(anc);
  }

  return {
    spec,
    inputSize: widths[0]!,
    widths,
    params,
    paramOffset,
    paramCount: offset,
    headOffsets,
    outputWidth: headOffsets[H]!,
    targetCols,
    alpha,
    delta,
    dropoutNodes,
    ancestors,
    shapes,
    geometry,
    normChannels,
    statsOffset,
    statsCount,
    normNodes,
  };
}

/**
 * Check a call's batchnorm statistics (NetworkBatch.stats) against the network: `running` a
 * vector of the handle's dtype and `batchOut` a Float64Array, each of statsCount values, not both.
 * Both kernel sets call this, so they refuse the same calls with the same errors.
 */
export function checkNormStats(c: CompiledNetwork, dtype: 'float32' | 'float64', stats: NormStats<FloatArray> | undefined): { running: FloatArray | null; batchOut: Float64Array | null } {
  if (stats === undefined || stats === null) return { running: null, batchOut: null };
  const count = c.statsCount;
  const dt = dtype === 'float32' ? Float32Array : Float64Array;
  const running = stats.running ?? null;
  const batchOut = stats.batchOut ?? null;
  const what = (a: unknown): string => (a instanceof Float32Array || a instanceof Float64Array ? `a ${a.constructor.name} of length ${a.length}` : describe(a));
  if (running !== null && (!(running instanceof dt) || running.length !== count)) {
    throw new ShapeError(`network: batch.stats.running must be a ${dt.name} of length ${count} (the batchnorm statistics), got ${what(running)}`);
  }
  if (batchOut !== null && (!(batchOut instanceof Float64Array) || batchOut.length !== count)) {
    throw new ShapeError(`network: batch.stats.batchOut must be a Float64Array of length ${count} (the batchnorm statistics), got ${what(batchOut)}`);
  }
  if (running !== null && batchOut !== null) {
    throw new ValueError('network: batch.stats.batchOut cannot be combined with running: a pass normalised by running statistics computes no batch statistics');
  }
  return { running, batchOut };
}

// ---- the native program -------------------------------------------------------------------------

/** Op and name codes of the native program (native/src/kernels/network.h keeps the same numbers). */
export const OP_CODE: Readonly<Record<OpName, number>> = {
  input: 0, dense: 1, activation: 2, dropout: 3, layernorm: 4, softmax: 5, mixture: 6, stitch: 7, concat: 8, add: 9,
  conv2d: 10, batchnorm: 11, maxpool2d: 12, avgpool2d: 13, flatten: 14,
};
export const FN_CODE: Readonly<Record<ActivationName, number>> = {
  relu: 0, 'leaky-relu': 1, elu: 2, gelu: 3, tanh: 4, sigmoid: 5, identity: 6,
};
export const LOSS_CODE: Readonly<Record<LossName, number>> = { mse: 0, huber: 1, 'bce-logits': 2, 'softmax-ce': 3, poisson: 4 };
export const PROGRAM_VERSION = 2;

/**
 * The compact form the native binding parses (it re-derives widths, shapes and the parameter
 * layout from it and checks every index, so a forged program cannot make it read out of bounds):
 *   ints:   [version, nNodes, nHeads,
 *            per node: op, arg, nIn, in_0 .. in_{nIn-1}, nExtra, extra_0 .. extra_{nExtra-1}
 *                      arg: input size | dense units | fn code | conv2d filters | 0
 *                      (mixture: in_0 is the gate, then experts)
 *                      extra: input [c, h, w] (images) | conv2d [kh, kw, sh, sw, ph, pw]
 *                             | pools [kh, kw, sh, sw] | none
 *            per head: node, loss code, target]
 *   floats: [per node: alpha (activation) or rate (dropout) or eps (batchnorm) or 0,
 *            per head: huber delta or 0]
 */
export function encodeProgram(c: CompiledNetwork): { ints: Int32Array; floats: Float64Array } {
  const ints: number[] = [PROGRAM_VERSION, c.spec.nodes.length, c.spec.heads.length];
  c.spec.nodes.forEach((node, i) => {
    const ins = nodeInputs(node);
    const arg = node.op === 'input' ? node.size : node.op === 'dense' ? node.units : node.op === 'activation' ? FN_CODE[node.fn] : node.op === 'conv2d' ? node.filters : 0;
    const g = c.geometry[i];
    let extra: number[] = [];
    if (node.op === 'input' && c.shapes[0]) extra = [...c.shapes[0]];
    else if (node.op === 'conv2d') extra = [g!.kh, g!.kw, g!.sh, g!.sw, g!.ph, g!.pw];
    else if (node.op === 'maxpool2d' || node.op === 'avgpool2d') extra = [g!.kh, g!.kw, g!.sh, g!.sw];
    ints.push(OP_CODE[node.op], arg, ins.length, ...ins, extra.length, ...extra);
  });
  for (const h of c.spec.heads) ints.push(h.node, LOSS_CODE[h.loss], h.target);
  const floats = new Float64Array(c.spec.nodes.length + c.spec.heads.length);
  floats.set(c.alpha, 0);
  floats.set(c.delta, c.spec.nodes.length);
  return { ints: Int32Array.from(ints), floats };
}
