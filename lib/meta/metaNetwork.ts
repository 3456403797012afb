/**
 * The network a meta-learner learns an initialisation of, in any of the forms a model is written:
 *
 * - an MLP `{ inputSize, hidden, outputSize?, activation? }` with one head (loss from the options);
 * - the conv-4 backbone `{ type: 'conv4', inputShape, filters?, outputSize }` (lib/nn/backbones.ts)
 *   with one head on `outputSize` logits or values;
 * - a NetworkSpec `{ nodes, heads }`: one head, or several (one per target column);
 * - a multi-task network as MultiTaskNet takes it: `{ inputSize, tasks, architecture?, dtype? }`
 *   (hard sharing by default, or MMoE, CGC, PLE, cross-stitch);
 * - a MultiTaskNet itself: its architecture, and its current parameters as the starting point.
 *
 * The training loss of a labelled set is the sum over heads of their mean losses (missing labels,
 * NaN or -1 for classes, count for nothing), as in the meta-batch kernel. A one-head network
 * adapts into an AdaptedModel; a multi-task network into a MultiTaskNet of the same configuration
 * (predictions by task name). MetaNetwork is what the meta-learners and the functional API
 * (functional.ts) share: the network resolved and compiled once, labelled sets converted and
 * checked, and the kernel calls.
 */
import { BackendError, ConfigError, ShapeError, ValueError } from '../core/errors.js';
import { allocate, describe, toMatrix, type DType, type FloatArray, type Matrix } from '../core/matrix.js';
import type { Rng } from '../core/rng.js';
import { didYouMean } from '../core/suggest.js';
import { kernels } from '../kernels/index.js';
import type { ActivationName, MetaBatchTasks, NetworkBatch, NetworkHandle, NetworkKernels, NetworkSpec } from '../kernels/types.js';
import { conv4Spec, isBackbone, type Conv4Config } from '../nn/backbones.js';
import { ACTIVATIONS, compileNetwork, initParams, type CompiledNetwork } from '../nn/spec.js';
import type { ArchitectureOptions, ArchitectureType } from '../mtl/architectures.js';
import { MultiTaskNet, type MultiTaskNetTask } from '../mtl/multiTaskNet.js';
import { AdaptedModel, META_LOSSES, toBatch, type MetaLoss } from './adaptedModel.js';

/** T, with every array and object in it readonly (so literal options type-check as given). */
export type Immutable<T> = T extends (infer U)[] ? readonly Immutable<U>[] : T extends object ? { readonly [K in keyof T]: Immutable<T[K]> } : T;

/** A multilayer perceptron: dense layers of `hidden` widths, each followed by `activation`. */
export interface NetworkConfig {
  inputSize: number;
  hidden: readonly number[];
  /** Width of the output layer. Default 1 (regression, bce-logits); softmax-ce needs one per class. */
  outputSize?: number;
  /** Default 'relu'. */
  activation?: ActivationName;
}

/** A multi-task network as MultiTaskNet takes it: one head per task, the tasks sharing the body. */
export interface MultiTaskNetworkConfig<Ts extends readonly MultiTaskNetTask[] = readonly MultiTaskNetTask[], D extends DType = DType> {
  /** Input columns; or inputShape for images (a convolutional trunk). */
  inputSize?: number;
  inputShape?: readonly [number, number, number];
  tasks: Ts;
  /** Default 'hard-sharing'. */
  architecture?: Immutable<ArchitectureOptions> | ArchitectureType;
  /** Default: the learner's dtype. */
  dtype?: D;
}

/** Every form a meta-learner's `network` option takes. */
export type NetworkOption = NetworkConfig | Conv4Config | Immutable<NetworkSpec> | MultiTaskNetworkConfig | MultiTaskNet<any, any>;

/** The forms with one head (adapt gives an AdaptedModel). */
export type SingleTaskNetwork = NetworkConfig | Conv4Config | Immutable<NetworkSpec>;

type DTypeOf<N> = N extends { dtype: 'float64' } ? 'float64' : 'float32';

/**
 * What `adapt` returns for a network given as N: a MultiTaskNet (typed by its tasks) for the
 * multi-task forms, an AdaptedModel with loss L otherwise.
 */
export type AdaptedOf<N, L extends MetaLoss = MetaLoss> =
  N extends MultiTaskNet<infer Ts, infer D>
    ? MultiTaskNet<Ts, D>
    : N extends MultiTaskNetworkConfig<infer Ts>
      ? MultiTaskNet<Ts, DTypeOf<N>>
      : AdaptedModel<L>;

const isPosInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 1;

/** A single-head spec from the MLP shorthand. */
export function mlpSpec(net: NetworkConfig, loss: MetaLoss): NetworkSpec {
  const nodes: NetworkSpec['nodes'] = [{ op: 'input', size: net.inputSize }];
  for (const units of net.hidden) {
    nodes.push({ op: 'dense', input: nodes.length - 1, units });
    nodes.push({ op: 'activation', input: nodes.length - 1, fn: net.activation ?? 'relu' });
  }
  nodes.push({ op: 'dense', input: nodes.length - 1, units: net.outputSize ?? 1 });
  return { nodes, heads: [{ node: nodes.length - 1, loss, target: 0 }] };
}

/** The MLP shorthand checked: known fields, positive integer widths, a known activation. */
export function checkMlp(owner: string, network: object, what = 'network'): Required<NetworkConfig> {
  const n = network as Partial<NetworkConfig>;
  const known = ['inputSize', 'hidden', 'outputSize', 'activation'];
  for (const k of Object.keys(n)) if (!known.includes(k)) throw new ConfigError(`${owner}: unknown ${what} option '${k}'${didYouMean(k, known)}; known: ${known.join(', ')}`);
  if (!isPosInt(n.inputSize)) throw new ConfigError(`${owner}: ${what}.inputSize must be a positive integer, got ${describe(n.inputSize)}`);
  if (!Array.isArray(n.hidden) || !n.hidden.every(isPosInt)) throw new ConfigError(`${owner}: ${what}.hidden must be an array of positive integers, got ${describe(n.hidden)}`);
  const activation = n.activation ?? 'relu';
  if (!ACTIVATIONS.includes(activation)) throw new ConfigError(`${owner}: ${what}.activation must be one of ${ACTIVATIONS.join(', ')}, got ${describe(activation)}${didYouMean(activation, ACTIVATIONS)}`);
  return { inputSize: n.inputSize!, hidden: n.hidden, outputSize: n.outputSize as number, activation };
}

/** Which form a `network` option is. */
export function networkForm(network: unknown): 'net' | 'tasks' | 'spec' | 'backbone' | 'mlp' | undefined {
  if (network instanceof MultiTaskNet) return 'net';
  if (network === null || typeof network !== 'object') return undefined;
  if ('tasks' in network) return 'tasks';
  if ('nodes' in network) return 'spec';
  if (isBackbone(network)) return 'backbone';
  return 'mlp';
}

/** A MultiTaskNet as the { inputSize, tasks, architecture, dtype } it can be rebuilt from (for model files). */
export function networkConfigOf(net: MultiTaskNet<any, any>): MultiTaskNetworkConfig {
  const c = net.config;
  const tasks = c.tasks.map((k) => ({ name: k.name, type: k.type, ...(k.labels ? { classes: k.labels } : {}), ...(k.head ? { head: k.head } : {}) }));
  return { ...(c.inputShape ? { inputShape: c.inputShape } : { inputSize: c.inputSize }), tasks, architecture: c.architecture, dtype: c.dtype };
}

const FORMS = "{ inputSize, hidden, outputSize?, activation? }, { type: 'conv4', inputShape, outputSize }, a NetworkSpec { nodes, heads }, { inputSize, tasks, architecture? } or a MultiTaskNet";

export interface MetaNetworkOptions<L extends MetaLoss = MetaLoss> {
  /** The loss of a one-head MLP (default 'mse'); must match a spec's head; not for multi-task forms. */
  loss?: L;
  /** The dtype asked for (undefined: the network's own, else 'float32'). */
  dtype?: DType;
  /** Seeds the parameters of a network built from `{ inputSize, tasks }`. */
  seed?: number;
}

/**
 * A network to meta-learn: resolved from any form, compiled, with its kernel handle. `M` is the
 * model its parameters make (model(params)): an AdaptedModel or a MultiTaskNet.
 */
export class MetaNetwork<M = AdaptedModel | MultiTaskNet<any, any>> {
  readonly spec: NetworkSpec;
  readonly compiled: CompiledNetwork;
  readonly handle: NetworkHandle<FloatArray>;
  readonly dtype: DType;
  /** The multi-task net this network came from or was built as (adapted parameters become copies of it). */
  readonly template: MultiTaskNet<any, any> | undefined;
  /** A given MultiTaskNet's parameters: the starting point. */
  private readonly given: FloatArray | undefined;
  /** The one head's loss (one-head networks), for the AdaptedModels it makes. */
  readonly loss: MetaLoss;
  /** 1 per head: the training loss is the sum of the heads' mean losses. */
  readonly headWeights: Float64Array;

  constructor(
    readonly owner: string,
    network: unknown,
    options: MetaNetworkOptions = {},
  ) {
    const form = networkForm(network);
    let dtype: DType = options.dtype ?? 'float32';
    if (form === 'net' || form === 'tasks') {
      if (options.loss !== undefined) throw new ConfigError(`${owner}: option 'loss' does not apply to a multi-task network: each task's type gives its head's loss`);
      let net: MultiTaskNet<any, any>;
      if (form === 'net') net = network as MultiTaskNet<any, any>;
      else {
        const c = network as MultiTaskNetworkConfig;
        const known = ['inputSize', 'inputShape', 'tasks', 'architecture', 'dtype'];
        for (const k of Object.keys(c)) if (!known.includes(k)) throw new ConfigError(`${owner}: unknown network option '${k}'${didYouMean(k, known)}; known for a multi-task network: ${known.join(', ')}`);
        net = new MultiTaskNet({
          ...(c.inputSize !== undefined ? { inputSize: c.inputSize } : {}),
          ...(c.inputShape !== undefined ? { inputShape: c.inputShape } : {}),
          tasks: c.tasks,
          architecture: c.architecture as ArchitectureOptions,
          seed: options.seed ?? 0,
          dtype: c.dtype ?? options.dtype ?? 'float32',
        } as ConstructorParameters<typeof MultiTaskNet>[0]);
      }
      if (options.dtype !== undefined && options.dtype !== net.config.dtype) {
        throw new ConfigError(`${owner}: option 'dtype' is '${options.dtype}' but the multi-task network is '${net.config.dtype}'; give one of them`);
      }
      dtype = net.config.dtype;
      this.template = net;
      this.given = form === 'net' ? net.getParams() : undefined;
      this.spec = net.spec;
      this.loss = 'mse';
    } else if (form === 'spec') {
      const spec = network as NetworkSpec;
      if (!Array.isArray(spec.heads) || spec.heads.length === 0) throw new ConfigError(`${owner}: the network's heads must be a non-empty array, got ${describe(spec.heads)}`);
      for (const h of spec.heads) {
        if (!META_LOSSES.includes(h.loss as MetaLoss)) throw new ConfigError(`${owner}: head loss must be one of ${META_LOSSES.join(', ')}, got ${describe(h.loss)}${didYouMean(h.loss, META_LOSSES)}`);
      }
      const headLoss = spec.heads[0]!.loss as MetaLoss;
      if (options.loss !== undefined && (spec.heads.length > 1 || options.loss !== headLoss)) {
        throw new ConfigError(`${owner}: option 'loss' is '${options.loss}' but the network's head${spec.heads.length > 1 ? 's name their own losses' : ` uses '${headLoss}'`}`);
      }
      this.template = undefined;
      this.given = undefined;
      this.spec = spec;
      this.loss = headLoss;
    } else if (form === 'backbone') {
      const out = (network as Partial<Conv4Config>).outputSize;
      if (out === undefined) throw new ConfigError(`${owner}: network.outputSize is required (the classifier's width: N for N-way episodes, 1 for regression)`);
      const l = options.loss ?? (out >= 2 ? 'softmax-ce' : 'mse');
      if (l === 'softmax-ce' ? out < 2 : out !== 1) {
        throw new ConfigError(`${owner}: loss '${l}' needs ${l === 'softmax-ce' ? 'outputSize >= 2 (one logit per class)' : 'outputSize 1'}, got ${out}`);
      }
      this.template = undefined;
      this.given = undefined;
      this.spec = conv4Spec(owner, network as Conv4Config, l);
      this.loss = l;
    } else if (form === 'mlp') {
      const n = checkMlp(owner, network as object);
      const l = options.loss ?? 'mse';
      const outputSize = n.outputSize ?? 1;
      if (!isPosInt(outputSize)) throw new ConfigError(`${owner}: network.outputSize must be a positive integer, got ${describe(n.outputSize)}`);
      if (l === 'softmax-ce' ? outputSize < 2 : outputSize !== 1) {
        throw new ConfigError(`${owner}: loss '${l}' needs ${l === 'softmax-ce' ? 'outputSize >= 2 (one logit per class)' : 'outputSize 1'}, got ${outputSize}`);
      }
      this.template = undefined;
      this.given = undefined;
      this.spec = mlpSpec({ ...n, outputSize }, l);
      this.loss = l;
    } else {
      throw new ConfigError(`${owner}: option 'network' is required: ${FORMS}; got ${describe(network)}`);
    }
    this.compiled = compileNetwork(this.spec);
    this.dtype = dtype;
    const k = kernels() as unknown as Partial<NetworkKernels>;
    if (typeof k.network !== 'function') throw new BackendError(`the ${kernels().name} backend has no network kernels; ${owner} needs them`, 'ERR_BACKEND');
    this.handle = k.network(this.spec, dtype as 'float64') as unknown as NetworkHandle<FloatArray>;
    this.headWeights = new Float64Array(this.spec.heads.length).fill(1);
  }

  get inputSize(): number {
    return this.compiled.inputSize;
  }
  get paramCount(): number {
    return this.compiled.paramCount;
  }
  /** Heads (tasks) of the network. */
  get heads(): number {
    return this.spec.heads.length;
  }
  /** Classes of a one-head softmax-ce network (the head's width), else 1. */
  get classes(): number {
    return this.compiled.headOffsets[1]!;
  }
  /** Task names of a multi-task network (one per head), else undefined. */
  get taskNames(): string[] | undefined {
    return this.template?.taskNames;
  }

  /**
   * Starting parameters: a given MultiTaskNet's own (a copy), else drawn by initParams from `rng`
   * (for { inputSize, tasks }, the same as a MultiTaskNet seeded like `rng` would start from).
   */
  init(rng: Rng): FloatArray {
    if (this.given) return this.given.slice() as FloatArray;
    return initParams(this.compiled, rng, this.dtype);
  }

  /**
   * One labelled set as a kernel batch. One head: { X, y } with y a vector (class indices for
   * classification). Several heads: { X, Y } (or y) with Y n x T, one column per head; NaN (or
   * -1 for a classification task) marks a missing label; a multi-task net's multiclass labels
   * are mapped to class indices as in MultiTaskNet.
   */
  batch(data: unknown, name: string): NetworkBatch<FloatArray> {
    if (this.heads === 1 && !this.template) return toBatch(data, name, this.inputSize, this.loss, this.classes, this.dtype);
    if (data === null || typeof data !== 'object' || !('X' in data) || !('Y' in data || 'y' in data)) {
      throw new ShapeError(`${name} must be { X, Y } with one column of Y per task, got ${describe(data)}`);
    }
    const d = data as { X: unknown; Y?: unknown; y?: unknown };
    const x = toMatrix(d.X, `${name}.X`, { dtype: this.dtype });
    if (x.cols !== this.inputSize) throw new ShapeError(`${name}.X has ${x.cols} columns, the network expects inputSize = ${this.inputSize}`);
    const yIn = 'Y' in d ? d.Y : d.y;
    const isVector = ArrayBuffer.isView(yIn) || (Array.isArray(yIn) && !Array.isArray(yIn[0]) && !ArrayBuffer.isView(yIn[0]));
    const Yin = isVector
      ? toMatrix({ rows: (yIn as ArrayLike<number>).length, cols: 1, data: Float64Array.from(yIn as ArrayLike<number>) }, `${name}.y`, { allowNaN: true })
      : toMatrix(yIn, `${name}.Y`, { allowNaN: true });
    const T = this.compiled.targetCols;
    if (Yin.rows !== x.rows) throw new ShapeError(`${name}: X has ${x.rows} rows but Y has ${Yin.rows}`);
    if (Yin.cols !== T) throw new ShapeError(`${name}.Y has ${Yin.cols} columns, expected one per task (${T}${this.taskNames ? `: ${this.taskNames.join(', ')}` : ''})`);
    const y = toMatrix({ rows: x.rows, cols: T, data: new Float64Array(x.rows * T).fill(NaN) }, name, { dtype: this.dtype, allowNaN: true });
    const tasks = this.template?.config.tasks;
    this.spec.heads.forEach((h, k) => {
      const t = h.target;
      const label = tasks?.[k]?.labels;
      const where = this.taskNames ? `task '${this.taskNames[k]}'` : `head ${k}`;
      for (let i = 0; i < x.rows; i++) {
        const v = Yin.data[i * T + t]!;
        if (Number.isNaN(v) || (h.loss !== 'mse' && v === -1)) continue;
        let c = v;
        if (h.loss === 'bce-logits' && v !== 0 && v !== 1) throw new ValueError(`${name}: ${where} has label ${v} at row ${i}; expected 0, 1 (or -1 / NaN for missing)`);
        if (h.loss === 'softmax-ce') {
          c = label ? label.indexOf(v) : v;
          const C = this.compiled.headOffsets[k + 1]! - this.compiled.headOffsets[k]!;
          if (!(Number.isInteger(c) && c >= 0 && c < C)) throw new ValueError(`${name}: ${where} has label ${v} at row ${i}; expected ${label ? `one of ${label.join(', ')}` : `a class index 0..${C - 1}`} (or -1 / NaN for missing)`);
        }
        y.data[i * T + t] = c;
      }
    });
    return { x, y };
  }

  /** The training loss of a batch at `params` (sum of the heads' mean losses); fills `grad` when given. */
  lossGrad(params: FloatArray, batch: NetworkBatch<FloatArray>, grad: FloatArray | null): number {
    const l = this.handle.lossGrad(params, batch, this.headWeights, grad);
    let s = 0;
    for (let h = 0; h < l.length; h++) s += l[h]!;
    return s;
  }

  /** out = H(params) v, the exact Hessian of the batch's training loss times v. */
  hvp(params: FloatArray, batch: NetworkBatch<FloatArray>, v: FloatArray, out: FloatArray): void {
    this.handle.hvp(params, batch, this.headWeights, v, out);
  }

  /**
   * The model these parameters make: an AdaptedModel (one head) or a MultiTaskNet (multi-task
   * forms). `running`: batchnorm running statistics the AdaptedModel normalises with.
   */
  model(params: FloatArray, running?: FloatArray): M {
    if (this.template) return this.template.withParams(params) as M;
    return new AdaptedModel(this.handle, params, this.inputSize, this.loss, this.classes, running) as M;
  }

  /**
   * Support and query rows of every task, one after another (the layout of the meta-batch kernel:
   * task t's support is rows offsets[2t]..offsets[2t+1]-1, its query the next block), into
   * `into` when its shape fits (its buffers are reused), else into new buffers.
   */
  stack(tasks: readonly { support: NetworkBatch<FloatArray>; query: NetworkBatch<FloatArray> }[], into?: MetaBatchTasks<FloatArray> | null): MetaBatchTasks<FloatArray> {
    const d = this.inputSize;
    const yc = tasks[0]!.support.y!.cols;
    let n = 0;
    for (const t of tasks) n += t.support.x.rows + t.query.x.rows;
    let st = into;
    if (!st || st.x.rows !== n || st.y.cols !== yc || st.offsets.length !== 2 * tasks.length + 1) {
      st = {
        x: { rows: n, cols: d, data: allocate(this.dtype, n * d) },
        y: { rows: n, cols: yc, data: allocate(this.dtype, n * yc) },
        offsets: new Int32Array(2 * tasks.length + 1),
      };
    }
    let r = 0;
    tasks.forEach((t, i) => {
      for (const [k, b] of [[2 * i, t.support], [2 * i + 1, t.query]] as const) {
        st!.offsets[k] = r;
        st!.x.data.set(b.x.data, r * d);
        st!.y.data.set(b.y!.data, r * yc);
        r += b.x.rows;
      }
    });
    st.offsets[2 * tasks.length] = r;
    return st;
  }

  /** Raw outputs (every head's, concatenated) at `params`, n x width, in float64. */
  forward(params: FloatArray, X: unknown): Matrix<Float64Array> {
    const x = toMatrix(X, `${this.owner}: X`, { dtype: this.dtype });
    if (x.cols !== this.inputSize) throw new ShapeError(`${this.owner}: X has ${x.cols} columns, the network expects inputSize = ${this.inputSize}`);
    const out = this.handle.forward(params, { x });
    return { rows: out.rows, cols: out.cols, data: Float64Array.from(out.data) };
  }
}
