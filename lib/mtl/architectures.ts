/**
 * Multi-task architectures as NetworkSpecs (a DAG of nodes with one head per task, see
 * lib/kernels/types.ts). Every builder returns a plain spec, so both kernel sets run it and the
 * gradient checks of the blocks cover it.
 *
 * - hard-sharing: shared trunk, one tower per task (Caruana 1997; Ruder 2017's "hard parameter sharing").
 * - mmoe: Multi-gate Mixture-of-Experts (Ma et al., KDD 2018): K shared experts, one gate per task,
 *   g_t(x) = softmax(x W_t), f_t(x) = sum_k g_t(x)_k e_k(x), then task t's tower.
 * - cgc: Customized Gate Control (Tang et al., RecSys 2020): shared experts plus experts owned by each
 *   task; task t's gate mixes only its own and the shared experts.
 * - ple: Progressive Layered Extraction (Tang et al. 2020): `levels` CGC layers stacked; at inner
 *   levels a shared gate over all experts feeds the next level's shared experts.
 * - cross-stitch (Misra et al., CVPR 2016): one column per task; after each layer a cross-stitch unit
 *   per task mixes the columns with learned scalars, x~_t = sum_s a_ts x_s.
 *
 * Any architecture can sit on a convolutional trunk (`trunk: { type: 'conv4' }`, lib/nn/backbones.ts)
 * shared by every task: its flattened features take the place of the raw input. The trunk needs
 * image inputs (buildArchitecture's `inputShape`).
 *
 * `parameterOwners` says which parameters are shared and which belong to one task, by graph
 * reachability from the heads: gradient strategies act on the shared part only.
 */
import { ConfigError } from '../core/errors.js';
import { describe } from '../core/matrix.js';
import { didYouMean, unknownName } from '../core/suggest.js';
import { ACTIVATIONS, nodeInputs } from '../nn/spec.js';
import type { ActivationName, HeadSpec, LossName, NetworkSpec, NodeSpec, ParamSlot } from '../kernels/types.js';
import { conv4Nodes, type Conv4Downsample } from '../nn/backbones.js';

export type TaskType = 'regression' | 'binary' | 'multiclass';

/** A task as the builders see it. */
export interface ArchitectureTask {
  name: string;
  type: TaskType;
  /** Number of classes (multiclass only). */
  classes?: number;
  /** This task's tower: hidden layer widths before its output layer (default none). */
  head?: { hidden?: number[]; activation?: ActivationName };
}

/** A convolutional trunk shared by every task (the conv-4 backbone without its input and head). */
export interface ConvTrunk {
  type: 'conv4';
  /** Filters of every convolution (default 64). */
  filters?: number;
  /** Conv-batchnorm-relu-maxpool blocks (default 4). */
  blocks?: number;
  /** How each block halves the image: 'maxpool' (default) or 'stride' (see Conv4Config). */
  downsample?: Conv4Downsample;
}

interface Common {
  /** Activation of every hidden layer (default 'relu'). */
  activation?: ActivationName;
  /** Dropout rate after each hidden activation (default 0: no dropout node). */
  dropout?: number;
  /** A convolutional trunk under the architecture (image inputs only). */
  trunk?: ConvTrunk;
}

export type ArchitectureOptions =
  | (Common & { type: 'hard-sharing'; shared?: readonly number[]; layerNorm?: boolean })
  | (Common & { type: 'mmoe'; experts?: number; expertUnits?: readonly number[] })
  | (Common & { type: 'cgc'; sharedExperts?: number; taskExperts?: number; expertUnits?: readonly number[] })
  | (Common & { type: 'ple'; levels?: number; sharedExperts?: number; taskExperts?: number; expertUnits?: readonly number[] })
  | (Common & { type: 'cross-stitch'; layers?: readonly number[] });

export type ArchitectureType = ArchitectureOptions['type'];
export const ARCHITECTURES: readonly ArchitectureType[] = ['hard-sharing', 'mmoe', 'cgc', 'ple', 'cross-stitch'];

const ACTS = ACTIVATIONS;

/** Options each architecture accepts (besides type), for unknown-option errors. */
const KNOWN: Record<ArchitectureType, string[]> = {
  'hard-sharing': ['shared', 'activation', 'dropout', 'layerNorm', 'trunk'],
  mmoe: ['experts', 'expertUnits', 'activation', 'dropout', 'trunk'],
  cgc: ['sharedExperts', 'taskExperts', 'expertUnits', 'activation', 'dropout', 'trunk'],
  ple: ['levels', 'sharedExperts', 'taskExperts', 'expertUnits', 'activation', 'dropout', 'trunk'],
  'cross-stitch': ['layers', 'activation', 'dropout', 'trunk'],
};

function fail(msg: string): never {
  throw new ConfigError(`architecture: ${msg}`);
}

function units(v: unknown, what: string, dflt: number[], allowEmpty = true): number[] {
  if (v === undefined) return dflt;
  if (!Array.isArray(v) || (!allowEmpty && v.length === 0) || !v.every((u) => Number.isInteger(u) && u >= 1)) {
    fail(`${what} must be an array of positive integers (layer widths)${allowEmpty ? '' : ', at least one'}, got ${describe(v)}`);
  }
  return v as number[];
}

function count(v: unknown, what: string, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || (v as number) < min) fail(`${what} must be an integer >= ${min}, got ${describe(v)}`);
  return v as number;
}

/** Output width and loss of a task's head. */
export function headShape(task: ArchitectureTask): { width: number; loss: LossName } {
  switch (task.type) {
    case 'regression':
      return { width: 1, loss: 'mse' };
    case 'binary':
      return { width: 1, loss: 'bce-logits' };
    case 'multiclass':
      return { width: task.classes!, loss: 'softmax-ce' };
  }
}

/** Builds the node list; each helper returns the index of the node it appended. */
class Graph {
  readonly nodes: NodeSpec[];
  constructor(inputSize: number, inputShape?: readonly [number, number, number]) {
    this.nodes = [inputShape ? { op: 'input', size: inputSize, shape: inputShape } : { op: 'input', size: inputSize }];
  }
  add(node: NodeSpec): number {
    this.nodes.push(node);
    return this.nodes.length - 1;
  }
  /** dense [-> layernorm] -> activation [-> dropout], the usual hidden layer. */
  hidden(x: number, width: number, act: ActivationName, dropout: number, layerNorm = false): number {
    let h = this.add({ op: 'dense', input: x, units: width });
    if (layerNorm) h = this.add({ op: 'layernorm', input: h });
    h = this.add({ op: 'activation', input: h, fn: act });
    if (dropout > 0) h = this.add({ op: 'dropout', input: h, rate: dropout });
    return h;
  }
  stack(x: number, widths: number[], act: ActivationName, dropout: number, layerNorm = false): number {
    for (const w of widths) x = this.hidden(x, w, act, dropout, layerNorm);
    return x;
  }
  /**
   * sum_k softmax(x W)_k experts[k]: a linear softmax gate computed from node x, as in MMoE and
   * PLE. A single expert needs no gate.
   */
  mix(x: number, experts: number[]): number {
    if (experts.length === 1) return experts[0]!;
    const gate = this.add({ op: 'softmax', input: this.add({ op: 'dense', input: x, units: experts.length }) });
    return this.add({ op: 'mixture', gate, experts });
  }
}

/**
 * The spec of a multi-task network: `tasks[t]`'s head reads target column t (class index for
 * multiclass). `inputShape` ([channels, height, width], with inputSize their product) makes the
 * input rows images, which a `trunk` needs. Throws ConfigError on bad options.
 */
export function buildArchitecture(
  inputSize: number,
  tasks: readonly ArchitectureTask[],
  options: ArchitectureOptions | ArchitectureType,
  inputShape?: readonly [number, number, number],
): NetworkSpec {
  if (!Number.isInteger(inputSize) || inputSize < 1) fail(`inputSize must be a positive integer, got ${describe(inputSize)}`);
  if (!Array.isArray(tasks) || tasks.length === 0) fail(`at least one task is needed, got ${describe(tasks)}`);
  const opts = (typeof options === 'string' ? { type: options } : options) as ArchitectureOptions;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) fail(`expected an object { type, ... } or a type name, got ${describe(options)}`);
  if (!ARCHITECTURES.includes(opts.type)) {
    throw new ConfigError(unknownName('architecture', 'type', opts.type, ARCHITECTURES));
  }
  for (const key of Object.keys(opts)) {
    if (key !== 'type' && !KNOWN[opts.type].includes(key)) {
      fail(`unknown option '${key}' for '${opts.type}'${didYouMean(key, KNOWN[opts.type])}; known options: ${KNOWN[opts.type].join(', ')}`);
    }
  }
  const act = opts.activation ?? 'relu';
  if (!ACTS.includes(act)) fail(`activation must be one of ${ACTS.join(', ')}, got ${describe(act)}${didYouMean(act, ACTS)}`);
  const dropout = opts.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) fail(`dropout must be a number in [0, 1), got ${describe(dropout)}`);
  tasks.forEach((t, i) => checkTask(t, i));

  const g = new Graph(inputSize, inputShape);
  const T = tasks.length;
  // The node every architecture starts from: the input, or the trunk's features.
  const base = trunkOf(g, opts.trunk, inputSize, inputShape);
  // reps[t]: the node each task's tower starts from.
  let reps: number[];
  switch (opts.type) {
    case 'hard-sharing': {
      const ln = opts.layerNorm ?? false;
      if (typeof ln !== 'boolean') fail(`layerNorm must be true or false, got ${describe(ln)}`);
      const trunk = g.stack(base, units(opts.shared, 'shared', [64, 64]), act, dropout, ln);
      reps = tasks.map(() => trunk);
      break;
    }
    case 'mmoe': {
      const K = count(opts.experts, 'experts', 4, 1);
      const eu = units(opts.expertUnits, 'expertUnits', [32], false);
      const experts = Array.from({ length: K }, () => g.stack(base, eu, act, dropout));
      reps = tasks.map(() => g.mix(base, experts));
      break;
    }
    case 'cgc':
    case 'ple': {
      const levels = opts.type === 'ple' ? count(opts.levels, 'levels', 2, 1) : 1;
      const S = count(opts.sharedExperts, 'sharedExperts', 2, 0);
      const E = count(opts.taskExperts, 'taskExperts', 1, 0);
      if (S + E === 0) fail('sharedExperts + taskExperts must be at least 1');
      const eu = units(opts.expertUnits, 'expertUnits', [32], false);
      // Level inputs: each task's representation and the shared one (all the raw input at level 0).
      let taskIn = tasks.map(() => base);
      let sharedIn = base;
      for (let l = 0; l < levels; l++) {
        const last = l === levels - 1;
        const own = taskIn.map((x) => Array.from({ length: E }, () => g.stack(x, eu, act, dropout)));
        const shared = Array.from({ length: S }, () => g.stack(sharedIn, eu, act, dropout));
        const nextTask = own.map((mine, t) => {
          return g.mix(taskIn[t]!, [...mine, ...shared]);
        });
        // The shared gate of an inner level mixes every expert of the level (Tang et al., eq. 7);
        // the last level has none, since nothing reads it.
        if (!last) {
          sharedIn = g.mix(sharedIn, [...own.flat(), ...shared]);
        }
        taskIn = nextTask;
      }
      reps = taskIn;
      break;
    }
    case 'cross-stitch': {
      const layers = units(opts.layers, 'layers', [64, 64], false);
      let cols = tasks.map(() => base);
      for (const w of layers) {
        const h = cols.map((x) => g.hidden(x, w, act, dropout));
        // Unit t starts near the identity on its own column (self = t: a_tt = 0.9, Misra et al.).
        cols = T === 1 ? h : h.map((_, t) => g.add(stitch(h, t)));
      }
      reps = cols;
      break;
    }
  }

  const heads: HeadSpec[] = tasks.map((task, t) => {
    const hAct = task.head?.activation ?? act;
    const top = g.stack(reps[t]!, task.head?.hidden ?? [], hAct, dropout);
    const { width, loss } = headShape(task);
    return { node: g.add({ op: 'dense', input: top, units: width }), loss, target: t };
  });
  return { nodes: g.nodes, heads };
}

/** Append the trunk's nodes (none without a trunk); returns the node the architecture reads. */
function trunkOf(g: Graph, trunk: ConvTrunk | undefined, inputSize: number, inputShape: readonly [number, number, number] | undefined): number {
  if (trunk === undefined) return 0;
  if (trunk === null || typeof trunk !== 'object' || trunk.type !== 'conv4') fail(`trunk must be { type: 'conv4', filters?, blocks?, downsample? }, got ${describe(trunk)}`);
  for (const k of Object.keys(trunk)) if (!['type', 'filters', 'blocks', 'downsample'].includes(k)) fail(`unknown trunk option '${k}'; known: type, filters, blocks, downsample`);
  if (!inputShape) fail(`a conv4 trunk needs image inputs: give inputShape [channels, height, width] instead of inputSize`);
  if (inputShape[0] * inputShape[1] * inputShape[2] !== inputSize) fail(`inputShape ${inputShape.join(' x ')} does not hold inputSize ${inputSize} values`);
  const nodes = conv4Nodes('architecture trunk', { type: 'conv4', inputShape, filters: trunk.filters, blocks: trunk.blocks, downsample: trunk.downsample });
  // conv4Nodes numbers its nodes from its own input (node 0), as this graph does.
  for (const node of nodes.slice(1)) g.add(node);
  return g.nodes.length - 1;
}

/** A cross-stitch node; `self` is an initialisation hint some kernel versions read (extra field). */
function stitch(inputs: number[], self: number): NodeSpec {
  const node = { op: 'stitch' as const, inputs, self };
  return node;
}

function checkTask(t: ArchitectureTask, i: number): void {
  if (t === null || typeof t !== 'object') fail(`task ${i} must be an object, got ${describe(t)}`);
  if (!['regression', 'binary', 'multiclass'].includes(t.type)) fail(`task ${i}: type must be 'regression', 'binary' or 'multiclass', got ${describe(t.type)}`);
  if (t.type === 'multiclass' && (!Number.isInteger(t.classes) || t.classes! < 2)) {
    fail(`task ${i} (multiclass) needs classes, an integer >= 2, got ${describe(t.classes)}`);
  }
  if (t.head !== undefined) {
    if (t.head === null || typeof t.head !== 'object') fail(`task ${i}: head must be an object { hidden, activation? }, got ${describe(t.head)}`);
    for (const k of Object.keys(t.head)) if (k !== 'hidden' && k !== 'activation') fail(`task ${i}: unknown head option '${k}'${didYouMean(k, ['hidden', 'activation'])}; known: hidden, activation`);
    units(t.head.hidden, `task ${i}: head.hidden`, []);
    if (t.head.activation !== undefined && !ACTS.includes(t.head.activation)) {
      fail(`task ${i}: head.activation must be one of ${ACTS.join(', ')}, got ${describe(t.head.activation)}${didYouMean(t.head.activation, ACTS)}`);
    }
  }
}

export interface ParameterOwners {
  /** owner[i] = t when parameter i reaches only head t's loss, -1 when shared (or unused). */
  owner: Int8Array | Int16Array;
  /** Indices of the shared parameters, ascending (the columns a gradient strategy sees). */
  shared: Int32Array;
  /** Indices of each task's own parameters, ascending. */
  own: Int32Array[];
}

/**
 * Split the flat parameter vector by graph reachability: a node's parameters belong to task t when
 * t's head is the only head downstream of it (its gradient from every other task is exactly 0).
 */
export function parameterOwners(spec: NetworkSpec, slots: readonly ParamSlot[], paramCount: number): ParameterOwners {
  const N = spec.nodes.length;
  const T = spec.heads.length;
  // nodeOwner: -2 = no head reads it yet, t = only head t, -1 = several.
  const nodeOwner = new Int32Array(N).fill(-2);
  spec.heads.forEach((h, t) => {
    const seen = new Uint8Array(N);
    seen[h.node] = 1;
    for (let i = h.node; i >= 0; i--) {
      if (!seen[i]) continue;
      nodeOwner[i] = nodeOwner[i] === -2 || nodeOwner[i] === t ? t : -1;
      for (const k of nodeInputs(spec.nodes[i]!)) seen[k] = 1;
    }
  });
  const owner = T < 127 ? new Int8Array(paramCount).fill(-1) : new Int16Array(paramCount).fill(-1);
  for (const s of slots) {
    const o = nodeOwner[s.node]!;
    const size = s.shape.reduce((a, b) => a * b, 1);
    if (o >= 0) owner.fill(o, s.offset, s.offset + size);
  }
  const shared: number[] = [];
  const own: number[][] = Array.from({ length: T }, () => []);
  for (let i = 0; i < paramCount; i++) {
    const o = owner[i]!;
    if (o < 0) shared.push(i);
    else own[o]!.push(i);
  }
  return { owner, shared: Int32Array.from(shared), own: own.map((a) => Int32Array.from(a)) };
}
