/**
 * Optimisers over one flat parameter vector: SGD (momentum, dampening, Nesterov),
 * Adam (Kingma & Ba 2015), AdamW (Loshchilov & Hutter 2019) and RMSprop (Hinton 2012), with
 * PyTorch's update rules (see lib/kernels/js/optim.ts for the formulas), optional clipping by
 * global norm and a per-epoch learning-rate schedule (./schedule.ts).
 *
 * One step:  g' = g min(1, clipNorm / (||g|| + 1e-6))   (torch.nn.utils.clip_grad_norm_)
 *            params <- kernel update(params, g', lr = schedule.lr(), step = t)
 *
 * The class holds what the kernels do not: hyperparameters, the step counter, the moment buffers
 * (typed arrays of the params' dtype, created at the first step) and the schedule. getState() /
 * setState() capture all of it, so a restored optimiser continues bit for bit.
 */
import { ConfigError, FormatError, ShapeError, ValueError } from '../core/errors.js';
import { describe, type FloatArray } from '../core/matrix.js';
import { bool, custom, num, oneOf, parseOptions } from '../core/options.js';
import { kernels as selectedKernels } from '../kernels/index.js';
import type { OptimKernels } from '../kernels/types.js';
import { createSchedule, type LrSchedule, type ScheduleOptions, type ScheduleState, type ScheduleType } from './schedule.js';

export type OptimizerType = 'sgd' | 'adam' | 'adamw' | 'rmsprop';

export interface OptimizerOptions {
  type: OptimizerType;
  /** Default: 1e-3 (sgd, adam, adamw), 1e-2 (rmsprop), PyTorch's defaults. */
  lr?: number;
  /** sgd and rmsprop; default 0. */
  momentum?: number;
  /** sgd only; needs momentum > 0 and dampening 0. Default false. */
  nesterov?: boolean;
  /** sgd only; default 0. */
  dampening?: number;
  /** adam/adamw; defaults 0.9, 0.999. */
  beta1?: number;
  beta2?: number;
  /** adam/adamw default 1e-8, rmsprop 1e-8. */
  eps?: number;
  /** rmsprop smoothing constant; default 0.99. */
  alpha?: number;
  /** L2 penalty (decoupled for adamw). Default 0, or 0.01 for adamw (PyTorch). */
  weightDecay?: number;
  /** Clip the gradient to this global L2 norm before each step. */
  clipNorm?: number;
  /** Learning-rate schedule, stepped by epochEnd(). Default constant. */
  schedule?: ScheduleOptions | ScheduleType;
}

/** The options with every default filled in. */
export interface ResolvedOptimizerOptions {
  type: OptimizerType;
  lr: number;
  momentum: number;
  nesterov: boolean;
  dampening: number;
  beta1: number;
  beta2: number;
  eps: number;
  alpha: number;
  weightDecay: number;
  clipNorm: number | undefined;
  schedule: ScheduleOptions | ScheduleType | undefined;
}

export interface OptimizerState {
  type: OptimizerType;
  /** Completed steps. */
  step: number;
  /** Moment buffers by name (m, v / velocity / squareAvg, momentumBuf), absent before step 1. */
  buffers: Record<string, FloatArray>;
  schedule: ScheduleState;
}

export interface OptimizerDeps {
  /** The kernel set doing the updates (default: the TypeScript kernels). */
  kernels?: OptimKernels;
}

const TYPES: readonly OptimizerType[] = ['sgd', 'adam', 'adamw', 'rmsprop'];

/** Which options each type understands (everything else is a ConfigError, not silently ignored). */
const APPLIES: Record<OptimizerType, readonly (keyof OptimizerOptions)[]> = {
  sgd: ['momentum', 'nesterov', 'dampening'],
  adam: ['beta1', 'beta2', 'eps'],
  adamw: ['beta1', 'beta2', 'eps'],
  rmsprop: ['momentum', 'eps', 'alpha'],
};
const TYPE_SPECIFIC: readonly (keyof OptimizerOptions)[] = ['momentum', 'nesterov', 'dampening', 'beta1', 'beta2', 'eps', 'alpha'];

function resolve(input: unknown): ResolvedOptimizerOptions {
  const p = parseOptions<OptimizerOptions>('optimizer', input, {
    type: oneOf(TYPES),
    lr: num({ min: 0 }),
    momentum: num({ default: 0, min: 0 }),
    nesterov: bool(false),
    dampening: num({ default: 0, min: 0, max: 1 }),
    beta1: num({ default: 0.9, min: 0, max: 1, exclusiveMax: true }),
    beta2: num({ default: 0.999, min: 0, max: 1, exclusiveMax: true }),
    eps: num({ default: 1e-8, min: 0 }),
    alpha: num({ default: 0.99, min: 0, max: 1 }),
    weightDecay: num({ min: 0 }),
    clipNorm: num({ min: 0, exclusiveMin: true }),
    schedule: custom<ScheduleOptions>(
      "a schedule { type: 'step' | 'exponential' | 'cosine' | 'reduce-on-plateau', ... } or its type name",
      (v) => typeof v === 'string' || (v !== null && typeof v === 'object' && !Array.isArray(v)),
    ),
  });
  if (p.type === undefined) {
    throw new ConfigError(`optimizer: option 'type' is required; one of ${TYPES.map((t) => `'${t}'`).join(', ')}`);
  }
  const given = input as Record<string, unknown>;
  for (const key of TYPE_SPECIFIC) {
    if (given[key] !== undefined && !APPLIES[p.type].includes(key)) {
      throw new ConfigError(
        `optimizer: option '${key}' does not apply to '${p.type}' (it takes ${APPLIES[p.type].join(', ')}, lr, weightDecay, clipNorm, schedule)`,
      );
    }
  }
  if (p.nesterov && (p.momentum! <= 0 || p.dampening! !== 0)) {
    throw new ConfigError(`optimizer: nesterov needs momentum > 0 and dampening 0, got momentum ${p.momentum} and dampening ${p.dampening}`);
  }
  return {
    type: p.type,
    lr: p.lr ?? (p.type === 'rmsprop' ? 1e-2 : 1e-3),
    momentum: p.momentum!,
    nesterov: p.nesterov!,
    dampening: p.dampening!,
    beta1: p.beta1!,
    beta2: p.beta2!,
    eps: p.eps!,
    alpha: p.alpha!,
    weightDecay: p.weightDecay ?? (p.type === 'adamw' ? 0.01 : 0),
    clipNorm: p.clipNorm,
    schedule: p.schedule,
  };
}

export class Optimizer {
  readonly options: ResolvedOptimizerOptions;
  readonly schedule: LrSchedule;
  private readonly kernels: OptimKernels;
  private t = 0;
  private buffers: Record<string, FloatArray> = {};
  private scratch: FloatArray | null = null;

  constructor(options: OptimizerOptions, deps: OptimizerDeps = {}) {
    this.options = resolve(options);
    this.schedule = createSchedule(this.options.schedule, this.options.lr);
    // The selected backend's optimiser kernels unless a caller injects others (tests, parity).
    this.kernels = deps.kernels ?? selectedKernels();
  }

  get type(): OptimizerType {
    return this.options.type;
  }

  /** The learning rate the next step uses. */
  get lr(): number {
    return this.schedule.lr();
  }

  /** Number of steps taken. */
  get stepCount(): number {
    return this.t;
  }

  /** One update of `params` in place from `grad` (not modified, even when clipped). */
  step<T extends FloatArray>(params: T, grad: T): void {
    this.checkArrays(params, grad);
    const o = this.options;
    let g = grad;
    if (o.clipNorm !== undefined) g = this.clip(grad, o.clipNorm);
    const lr = this.schedule.lr();
    const step = this.t + 1;
    switch (o.type) {
      case 'adam':
      case 'adamw':
        this.kernels.adamStep({
          params,
          grad: g,
          m: this.buffer('m', params) as T,
          v: this.buffer('v', params) as T,
          lr,
          beta1: o.beta1,
          beta2: o.beta2,
          eps: o.eps,
          weightDecay: o.weightDecay,
          decoupledWeightDecay: o.type === 'adamw',
          step,
        });
        break;
      case 'sgd':
        this.kernels.sgdStep({
          params,
          grad: g,
          velocity: o.momentum > 0 ? (this.buffer('velocity', params) as T) : null,
          lr,
          momentum: o.momentum,
          dampening: o.dampening,
          nesterov: o.nesterov,
          weightDecay: o.weightDecay,
          step,
        });
        break;
      case 'rmsprop':
        this.kernels.rmspropStep({
          params,
          grad: g,
          squareAvg: this.buffer('squareAvg', params) as T,
          momentumBuf: o.momentum > 0 ? (this.buffer('momentumBuf', params) as T) : null,
          lr,
          alpha: o.alpha,
          eps: o.eps,
          momentum: o.momentum,
          weightDecay: o.weightDecay,
        });
        break;
    }
    this.t = step;
  }

  /** One epoch is over: advance the schedule (reduce-on-plateau needs the epoch's metric). */
  epochEnd(metric?: number): void {
    this.schedule.epochEnd(metric);
  }

  /** Forget the moment buffers and the step count (the schedule keeps its position). */
  reset(): void {
    this.t = 0;
    this.buffers = {};
  }

  /** Everything needed to continue exactly: step count, buffer copies, schedule state. */
  getState(): OptimizerState {
    const buffers: Record<string, FloatArray> = {};
    for (const [k, b] of Object.entries(this.buffers)) buffers[k] = b.slice();
    return { type: this.options.type, step: this.t, buffers, schedule: this.schedule.getState() };
  }

  setState(state: unknown): void {
    const s = state as OptimizerState | null;
    if (!s || typeof s !== 'object') throw new FormatError(`optimizer state must be an object, got ${describe(s)}`);
    if (s.type !== this.options.type) {
      throw new FormatError(`optimizer state is for '${String(s.type)}', but this optimizer is '${this.options.type}'`);
    }
    if (!Number.isInteger(s.step) || s.step < 0) throw new FormatError(`optimizer state: 'step' must be a non-negative integer, got ${describe(s.step)}`);
    if (!s.buffers || typeof s.buffers !== 'object') throw new FormatError("optimizer state: 'buffers' is missing");
    const buffers: Record<string, FloatArray> = {};
    let length = -1;
    for (const [k, b] of Object.entries(s.buffers)) {
      if (!(b instanceof Float64Array || b instanceof Float32Array)) {
        throw new FormatError(`optimizer state: buffer '${k}' must be a Float64Array or Float32Array, got ${describe(b)}`);
      }
      if (length >= 0 && b.length !== length) throw new FormatError(`optimizer state: buffer '${k}' has ${b.length} values, the others ${length}`);
      length = b.length;
      buffers[k] = b.slice();
    }
    this.schedule.setState(s.schedule);
    this.t = s.step;
    this.buffers = buffers;
  }

  private checkArrays(params: FloatArray, grad: FloatArray): void {
    if (!(params instanceof Float64Array || params instanceof Float32Array)) {
      throw new ValueError(`optimizer.step: params must be a Float64Array or Float32Array, got ${describe(params)}`);
    }
    if (grad.constructor !== params.constructor) {
      throw new ValueError(`optimizer.step: grad is ${describe(grad)} but params ${describe(params)}; use one dtype`);
    }
    if (grad.length !== params.length) {
      throw new ShapeError(`optimizer.step: grad has ${grad.length} values, params ${params.length}`);
    }
    const any = Object.values(this.buffers)[0];
    if (any && (any.length !== params.length || any.constructor !== params.constructor)) {
      throw new ShapeError(
        `optimizer.step: params (${describe(params)} of ${params.length}) differ from the vector this optimizer was stepping ` +
          `(${describe(any)} of ${any.length}); use one optimizer per parameter vector or reset() it`,
      );
    }
  }

  private buffer(name: string, like: FloatArray): FloatArray {
    let b = this.buffers[name];
    if (!b) {
      b = new (like.constructor as new (n: number) => FloatArray)(like.length);
      this.buffers[name] = b;
    }
    return b;
  }

  /** clip_grad_norm_ on a copy, so the caller's gradient is left as it was. */
  private clip<T extends FloatArray>(grad: T, maxNorm: number): T {
    let ss = 0;
    for (let i = 0; i < grad.length; i++) ss += grad[i]! * grad[i]!;
    const coef = maxNorm / (Math.sqrt(ss) + 1e-6);
    if (!(coef < 1)) return grad;
    if (!this.scratch || this.scratch.length !== grad.length || this.scratch.constructor !== grad.constructor) {
      this.scratch = new (grad.constructor as new (n: number) => T)(grad.length);
    }
    const out = this.scratch as T;
    for (let i = 0; i < grad.length; i++) out[i] = grad[i]! * coef;
    return out;
  }
}

/** Build an optimizer from options (the `optimizer` option of MultiTaskNet, MAML, ...). */
export function createOptimizer(options: OptimizerOptions, deps: OptimizerDeps = {}): Optimizer {
  return new Optimizer(options, deps);
}
