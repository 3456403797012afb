/**
 * The functional API of meta-learning, for writing one's own meta-training loop (the pieces the
 * learners are made of, as plain functions over a parameter vector; learn2learn's and higher's
 * functional style):
 *
 *   metaNetwork(network, options)     a network of any form (MLP, NetworkSpec, multi-task
 *                                     { inputSize, tasks, architecture }, a MultiTaskNet), compiled
 *   initialParams(net, seed)          its starting parameters theta
 *   taskLoss(net, params, data)       L(params) on a labelled set, optionally with its gradient
 *   adaptStep(net, params, support)   one adaptation step  phi' = phi - a grad L_S(phi)
 *   adapt(net, params, support)       `steps` of them from params (params unchanged)
 *   metaGradient(net, theta, tasks)   the MAML meta-gradient of a batch of tasks (Finn et al. 2017):
 *                                     mean_t d L_Q,t(theta_k,t(theta)) / d theta, exact second order
 *                                     through the k inner steps (one fused kernel call), or first
 *                                     order; ANIL with an innerMask
 *   applyUpdate(params, grad, opt)    theta <- an optimiser step (an Optimizer, or plain SGD at a rate)
 *   net.model(params)                 the model these parameters make (AdaptedModel or MultiTaskNet)
 *
 * Tasks are { support, query }, each { X, y } ({ X, Y } with one column per task for a multi-task
 * network), as TaskSplit, SinusoidTasks, FewShotTasks and MultiTaskSplit draw them.
 */
import { ConfigError, ShapeError, ValueError } from '../core/errors.js';
import { allocate, describe, type FloatArray } from '../core/matrix.js';
import { parseOptions, bool, custom, num } from '../core/options.js';
import { Rng } from '../core/rng.js';
import { Optimizer } from '../nn/optim.js';
import type { MetaLoss, TaskDataLike } from './adaptedModel.js';
import { MetaNetwork, type AdaptedOf, type MetaNetworkOptions, type NetworkOption } from './metaNetwork.js';

/** A task as the functional API takes it. */
export interface FunctionalTask {
  support: TaskDataLike;
  query: TaskDataLike;
}

/** Options of adaptStep and adapt. */
export interface AdaptStepOptions {
  /** Inner learning rate a (>= 0). */
  lr: number;
  /** Adaptation steps (adapt only). Default 1. */
  steps?: number;
}

/** Options of metaGradient. */
export interface MetaGradientOptions {
  /** Inner learning rate a (>= 0). Default 0.01. */
  innerLr?: number;
  /** Inner steps k. Default 1. */
  innerSteps?: number;
  /** Drop the Hessian-vector products (first-order MAML). Default false. */
  firstOrder?: boolean;
  /** 1 where the inner loop may move a parameter (ANIL: the head); default everywhere. */
  innerMask?: Uint8Array;
}

/**
 * A network to meta-learn, from any of the forms a meta-learner's `network` option takes; `loss`
 * is the loss of a one-head MLP (default 'mse'), `dtype` the element type (default 'float32', a
 * MultiTaskNet's own), `seed` seeds the parameters of a multi-task network built from tasks.
 */
export function metaNetwork<const N extends NetworkOption, L extends MetaLoss = MetaLoss>(network: N, options: MetaNetworkOptions<L> = {}): MetaNetwork<AdaptedOf<N, L>> {
  const o = parseOptions<MetaNetworkOptions>('metaNetwork', options, {
    loss: custom("'mse', 'softmax-ce' or 'bce-logits'", (v) => v === 'mse' || v === 'softmax-ce' || v === 'bce-logits'),
    dtype: custom("'float32' or 'float64'", (v) => v === 'float32' || v === 'float64'),
    seed: num(),
  });
  return new MetaNetwork<AdaptedOf<N, L>>('metaNetwork', network, o);
}

/** Starting parameters: initParams's draw from `seed` (a MultiTaskNet's own parameters, copied). */
export function initialParams(net: MetaNetwork<unknown>, seed = 0): FloatArray {
  return net.init(new Rng(seed));
}

function checkParams(net: MetaNetwork<unknown>, params: unknown, what: string): FloatArray {
  const Ctor = net.dtype === 'float64' ? Float64Array : Float32Array;
  if (!(params instanceof Ctor) || params.length !== net.paramCount) {
    throw new ShapeError(`${what}: params must be a ${Ctor.name} of ${net.paramCount} values (the network's parameters), got ${describe(params)}${ArrayBuffer.isView(params) ? ` of length ${(params as FloatArray).length}` : ''}`);
  }
  return params;
}

/**
 * The training loss of a labelled set at `params` (the sum of the heads' mean losses); with
 * `grad` (a vector of the params' type and length), also its gradient, written into `grad`.
 */
export function taskLoss(net: MetaNetwork<unknown>, params: FloatArray, data: TaskDataLike, grad: FloatArray | null = null): number {
  checkParams(net, params, 'taskLoss');
  if (grad !== null) checkParams(net, grad, 'taskLoss (grad)');
  return net.lossGrad(params, net.batch(data, 'taskLoss(data)'), grad);
}

/** One adaptation step on the support set: a new vector phi - lr grad L_S(phi); `params` is unchanged. */
export function adaptStep(net: MetaNetwork<unknown>, params: FloatArray, support: TaskDataLike, options: AdaptStepOptions): FloatArray {
  return adapt(net, params, support, { ...options, steps: 1 });
}

/** `steps` adaptation steps (plain SGD on the support loss) from `params`; returns the adapted vector. */
export function adapt(net: MetaNetwork<unknown>, params: FloatArray, support: TaskDataLike, options: AdaptStepOptions): FloatArray {
  const o = parseOptions<AdaptStepOptions>('adapt', options, { lr: num({ min: 0 }), steps: num({ min: 0, integer: true, default: 1 }) });
  if (o.lr === undefined) throw new ConfigError(`adapt: option 'lr' is required (the inner learning rate)`);
  checkParams(net, params, 'adapt');
  const b = net.batch(support, 'adapt(support)');
  const phi = params.slice() as FloatArray;
  const g = allocate(net.dtype, net.paramCount);
  for (let i = 0; i < o.steps!; i++) {
    net.lossGrad(phi, b, g);
    for (let j = 0; j < phi.length; j++) phi[j] = phi[j]! - o.lr * g[j]!;
  }
  return phi;
}

/**
 * The MAML meta-gradient of a batch of tasks at theta: for each task, k SGD steps of rate a on its
 * support loss from theta, then the gradient of its query loss with respect to theta through the
 * steps (exact Hessian-vector products; none when firstOrder); the mean over tasks. `theta` is
 * unchanged. Returns the mean query loss after adaptation and the gradient (float64).
 */
export function metaGradient(net: MetaNetwork<unknown>, theta: FloatArray, tasks: readonly FunctionalTask[], options: MetaGradientOptions = {}): { loss: number; grad: Float64Array } {
  const o = parseOptions<MetaGradientOptions>('metaGradient', options, {
    innerLr: num({ min: 0, default: 0.01 }),
    innerSteps: num({ min: 0, integer: true, default: 1 }),
    firstOrder: bool(false),
    innerMask: custom<Uint8Array>('a Uint8Array with one entry per parameter', (v) => v instanceof Uint8Array && v.length === net.paramCount),
  });
  checkParams(net, theta, 'metaGradient');
  if (!Array.isArray(tasks) || tasks.length === 0) throw new ValueError(`metaGradient: tasks must be a non-empty array of { support, query }, got ${describe(tasks)}`);
  const prepared = tasks.map((t, i) => {
    if (t === null || typeof t !== 'object' || !('support' in t) || !('query' in t)) throw new ShapeError(`metaGradient: task ${i} must be { support, query }, got ${describe(t)}`);
    return { support: net.batch(t.support, `task ${i} support`), query: net.batch(t.query, `task ${i} query`) };
  });
  const grad = new Float64Array(net.paramCount);
  const loss = net.handle.metaGradient(theta, net.stack(prepared), { innerLr: o.innerLr!, innerSteps: o.innerSteps!, firstOrder: o.firstOrder!, innerMask: o.innerMask ?? null }, grad);
  return { loss, grad };
}

/**
 * Apply an update to `params` in place: an optimiser step (an Optimizer from createOptimizer,
 * which keeps its own state across calls) or, given a number, plain SGD at that rate
 * (params <- params - rate grad).
 */
export function applyUpdate(params: FloatArray, grad: ArrayLike<number>, update: Optimizer | number): void {
  if (!ArrayBuffer.isView(params) || !(params instanceof Float32Array || params instanceof Float64Array)) throw new ShapeError(`applyUpdate: params must be a Float32Array or Float64Array, got ${describe(params)}`);
  if (grad === null || typeof grad !== 'object' || grad.length !== params.length) throw new ShapeError(`applyUpdate: grad must have ${params.length} values (one per parameter), got ${describe(grad)}`);
  if (typeof update === 'number') {
    if (!(update >= 0) || !Number.isFinite(update)) throw new ConfigError(`applyUpdate: the rate must be a finite number >= 0, got ${update}`);
    for (let j = 0; j < params.length; j++) params[j] = params[j]! - update * grad[j]!;
    return;
  }
  if (!(update instanceof Optimizer)) throw new ConfigError(`applyUpdate: expected an Optimizer (createOptimizer) or a learning rate, got ${describe(update)}`);
  // The optimiser steps vectors of the parameters' own type.
  if (params instanceof Float32Array) update.step(params, grad instanceof Float32Array ? grad : Float32Array.from(grad));
  else update.step(params, grad instanceof Float64Array ? grad : Float64Array.from(grad));
}
