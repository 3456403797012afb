/**
 * Network specs: validation, widths, the flat parameter layout and the native program.
 * compileNetwork is the one place that decides what a NetworkSpec means; both kernel sets receive
 * its result (the TS kernel reads CompiledNetwork, the native binding an Int32Array/Float64Array
 * program built by `encodeProgram`), so the two can never disagree about shapes or layout. It
 * lives with the kernels because both kernel sets need it; initialisation and dropout masks, which
 * only the training code needs, are in lib/nn/spec.ts (which also re-exports everything here).
 */
import { ConfigError } from '../core/errors.js';
import { describe } from '../core/matrix.js';
import { didYouMean } from '../core/suggest.js';
import type { ActivationName, HeadSpec, LossName, NetworkSpec, NodeSpec, ParamSlot } from './types.js';

export const ACTIVATIONS: readonly ActivationName[] = ['relu', 'leaky-relu', 'elu', 'gelu', 'tanh', 'sigmoid', 'identity'];
export const LOSSES: readonly LossName[] = ['mse', 'huber', 'bce-logits', 'softmax-ce', 'poisson'];
export const OPS = ['input', 'dense', 'activation', 'dropout', 'layernorm', 'softmax', 'mixture', 'stitch', 'concat', 'add'] as const;
export type OpName = (typeof OPS)[number];

/** Default alpha of leaky-relu (PyTorch's negative_slope) and elu. */
export const DEFAULT_ALPHA: Readonly<Record<string, number>> = { 'leaky-relu': 0.01, elu: 1 };

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
        break;
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
        break;
      }
      case 'dropout': {
        const x = checkIndex(i, 'input', node.input);
        if (typeof node.rate !== 'number' || !(node.rate >= 0 && node.rate < 1)) fail(`node ${i}: dropout rate must be in [0, 1), got ${describe(node.rate)}`);
        alpha[i] = node.rate;
        widths[i] = widths[x]!;
        dropoutNodes.push(i);
        break;
      }
      case 'layernorm': {
        const x = checkIndex(i, 'input', node.input);
        widths[i] = widths[x]!;
        slot(i, 'gamma', [widths[i]!], widths[i]!);
        slot(i, 'beta', [widths[i]!], widths[i]!);
        break;
      }
      case 'softmax': {
        const x = checkIndex(i, 'input', node.input);
        widths[i] = widths[x]!;
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
        break;
      }
      case 'stitch':
      case 'add':
      case 'concat': {
        const ins = checkList(i, 'inputs', node.inputs);
        if (node.op === 'concat') {
          widths[i] = ins.reduce((s, k) => s + widths[k]!, 0);
        } else {
          const w = widths[ins[0]!]!;
          ins.forEach((k, j) => {
            if (widths[k] !== w) fail(`node ${i}: ${node.op} inputs must have equal widths; input ${j} (node ${k}) has ${widths[k]}, input 0 (node ${ins[0]}) has ${w}`);
          });
          widths[i] = w;
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
  };
}

// ---- the native program -------------------------------------------------------------------------

/** Op and name codes of the native program (native/src/kernels/network.h keeps the same numbers). */
export const OP_CODE: Readonly<Record<OpName, number>> = {
  input: 0, dense: 1, activation: 2, dropout: 3, layernorm: 4, softmax: 5, mixture: 6, stitch: 7, concat: 8, add: 9,
};
export const FN_CODE: Readonly<Record<ActivationName, number>> = {
  relu: 0, 'leaky-relu': 1, elu: 2, gelu: 3, tanh: 4, sigmoid: 5, identity: 6,
};
export const LOSS_CODE: Readonly<Record<LossName, number>> = { mse: 0, huber: 1, 'bce-logits': 2, 'softmax-ce': 3, poisson: 4 };
export const PROGRAM_VERSION = 1;

/**
 * The compact form the native binding parses (it re-derives widths and the parameter layout from
 * it and checks every index, so a forged program cannot make it read out of bounds):
 *   ints:   [version, nNodes, nHeads,
 *            per node: op, arg, nIn, in_0 .. in_{nIn-1}     arg: input size | dense units | fn code | 0
 *                                                           (mixture: in_0 is the gate, then experts)
 *            per head: node, loss code, target]
 *   floats: [per node: alpha (activation) or rate (dropout) or 0, per head: huber delta or 0]
 */
export function encodeProgram(c: CompiledNetwork): { ints: Int32Array; floats: Float64Array } {
  const ints: number[] = [PROGRAM_VERSION, c.spec.nodes.length, c.spec.heads.length];
  c.spec.nodes.forEach((node, i) => {
    const ins = nodeInputs(node);
    const arg = node.op === 'input' ? node.size : node.op === 'dense' ? node.units : node.op === 'activation' ? FN_CODE[node.fn] : 0;
    ints.push(OP_CODE[node.op], arg, ins.length, ...ins);
    void i;
  });
  for (const h of c.spec.heads) ints.push(h.node, LOSS_CODE[h.loss], h.target);
  const floats = new Float64Array(c.spec.nodes.length + c.spec.heads.length);
  floats.set(c.alpha, 0);
  floats.set(c.delta, c.spec.nodes.length);
  return { ints: Int32Array.from(ints), floats };
}
