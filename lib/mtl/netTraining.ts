/**
 * MultiTaskNet's training loop: the weighted sum of the task losses
 *
 *     L(theta) = sum_t w_t L_t(theta),   L_t = mean loss of task t over its labelled rows of the batch,
 *
 * where the weights w_t (and, for gradient strategies such as PCGrad or MGDA, the update direction
 * of the shared parameters) come from a WeightingStrategy (lib/mtl/weighting/); each task's own
 * parameters get w_t times its gradient. Missing labels are masked inside the kernels.
 */
import { ConfigError, ValueError } from '../core/errors.js';
import { Yielder } from '../core/async.js';
import { allocate, type FloatArray, type Matrix } from '../core/matrix.js';
import { bool, num, oneOf, parseOptions } from '../core/options.js';
import type { Rng } from '../core/rng.js';
import type { Kernels, NetworkHandle } from '../kernels/types.js';
import { dropoutMasks, type CompiledNetwork } from '../nn/spec.js';
import type { RunningNormStats } from '../nn/normStats.js';
import type { Optimizer } from '../nn/optim.js';
import type { ParameterOwners } from './architectures.js';
import { subsample, type Prepared } from './netData.js';
import { accumulateDiagnostics, finishDiagnostics } from './netDiagnostics.js';
import { byName, meanDefined } from './netMetrics.js';
import { KIND, type EarlyStoppingOptions, type EpochRecord, type History, type MultiTaskEvaluation, type MultiTaskNetProgress, type NetConfig } from './netOptions.js';
import type { StrategyResult, WeightingStrategy } from './weighting/strategy.js';

/** Rows of the training data the epoch metrics are taken on when there is no validation data. */
const METRIC_ROWS = 4096;

/** The parts of a net training reads (fixed for the net's life). */
export interface NetParts {
  readonly config: NetConfig;
  readonly compiled: CompiledNetwork;
  readonly handle: NetworkHandle<FloatArray>;
  /** The kernel set of the handle (batches are gathered by it). */
  readonly kernels: Kernels;
  readonly owners: ParameterOwners;
  readonly optimizer: Optimizer;
  readonly strategy: WeightingStrategy;
  readonly rng: Rng;
  /** Batchnorm running statistics: every training step updates them, predictions use them. */
  readonly norm: RunningNormStats;
}

/** What training changes, and a saved net keeps. */
export interface NetState {
  params: FloatArray;
  /** Completed epochs over the net's whole training. */
  epoch: number;
  stepCount: number;
  /** The weights of the previous step: if a step's weights repeat them, one pass suffices. */
  lastWeights: Float64Array;
  weightsStable: boolean;
  fitted: boolean;
}

/** The fit options the loop reads (checked by MultiTaskNet.fit). */
export interface TrainOptions {
  epochs: number;
  batchSize: number;
  shuffle: boolean;
  diagnostics: boolean;
  signal?: AbortSignal;
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
  onProgress?: (p: MultiTaskNetProgress) => void;
}

/**
 * Train for o.epochs over `train`: per step a batch, the heads' losses (and per-task gradients
 * for gradient strategies), the strategy's weights (and shared direction), one optimiser step;
 * per epoch the record of History (losses, weights, metrics on `val` or a fixed training
 * subsample, diagnostics), early stopping. Updates `s` in place.
 */
export async function runEpochs(
  p: NetParts,
  s: NetState,
  train: Prepared,
  val: Prepared | undefined,
  o: TrainOptions,
  es: Required<EarlyStoppingOptions> | null,
  evaluate: (data: Prepared, yielder: Yielder) => Promise<MultiTaskEvaluation>,
): Promise<History> {
  const T = p.config.tasks.length;
  const n = train.X.rows;
  const bs = Math.min(o.batchSize, n);
  const yielder = new Yielder(o.signal);
  const diag = o.diagnostics;
  const b = stepBuffers(p, train, bs, diag);
  const history: History = { epochs: [], stoppedEarly: false };
  let best = Infinity;
  let bestParams: FloatArray | null = null;
  let bestNorm: Float64Array | null = null;
  let bestEpoch = -1;
  let bad = 0;
  let metricRows: Prepared | undefined;

  for (let e = 0; e < o.epochs; e++) {
    const t0 = performance.now();
    const order = o.shuffle ? p.rng.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
    const lossSum = new Float64Array(T);
    const countSum = new Float64Array(T);
    const weightSum = new Float64Array(T);
    let steps = 0;
    const cos = diag ? new Float64Array(T * T) : null;
    const neg = diag ? new Float64Array(T * T) : null;
    const pairs = diag ? new Float64Array(T * T) : null;
    const normSum = diag ? new Float64Array(T) : null;
    const normCount = diag ? new Float64Array(T) : null;
    let trainMs = 0;

    for (let start = 0; start < n; start += bs) {
      await yielder.maybeYield();
      const s0 = performance.now();
      const { losses, weights, labelled } = trainStep(p, s, train, order.subarray(start, Math.min(n, start + bs)), b);
      steps++;
      for (let t = 0; t < T; t++) {
        lossSum[t]! += losses[t]! * labelled[t]!;
        countSum[t]! += labelled[t]!;
        weightSum[t]! += weights[t]!;
      }
      if (diag) accumulateDiagnostics(b.gShared!, cos!, neg!, pairs!, normSum!, normCount!);
      trainMs += performance.now() - s0;
    }

    const taskLoss = Float64Array.from(lossSum, (s, t) => (countSum[t]! > 0 ? s / countSum[t]! : NaN));
    p.strategy.onEpochEnd?.(taskLoss, s.epoch);
    s.fitted = true;
    const names = p.config.tasks.map((t) => t.name);
    // Without validation data, metrics come from a fixed subsample of the training rows (every
    // k-th row, at most METRIC_ROWS), so they cost a small part of an epoch and no randomness.
    const ev = await evaluate(val ?? (metricRows ??= subsample(train, METRIC_ROWS)), yielder);
    const trainLoss = meanDefined(taskLoss);
    const record: EpochRecord = {
      epoch: s.epoch,
      loss: trainLoss,
      taskLosses: byName(names, taskLoss),
      weights: byName(names, Float64Array.from(weightSum, (w) => w / Math.max(1, steps))),
      metrics: ev.tasks,
      lr: p.optimizer.lr,
      seconds: 0,
      trainSeconds: trainMs / 1000,
    };
    if (val) {
      record.valLoss = ev.loss;
      record.valTaskLosses = Object.fromEntries(names.map((nm) => [nm, ev.tasks[nm]!.loss]));
    }
    if (diag) record.diagnostics = finishDiagnostics(names, cos!, neg!, pairs!, normSum!, normCount!);
    const monitorValue = val ? ev.loss : trainLoss;
    p.optimizer.epochEnd(monitorValue);
    s.epoch++;
    record.seconds = (performance.now() - t0) / 1000;
    history.epochs.push(record);
    if (o.onEpoch) await o.onEpoch(record);
    o.onProgress?.({ phase: 'fit', step: e + 1, total: o.epochs, loss: record.loss, epoch: record.epoch, ...(record.valLoss !== undefined ? { valLoss: record.valLoss } : {}) });

    if (es) {
      const m = es.monitor === 'val_loss' ? record.valLoss! : record.loss;
      if (m < best - es.minDelta) {
        best = m;
        bad = 0;
        bestEpoch = record.epoch;
        if (es.restoreBest) {
          bestParams = s.params.slice();
          bestNorm = p.norm.values.slice();
        }
      } else if (++bad >= es.patience) {
        history.stoppedEarly = true;
        break;
      }
    }
  }
  if (es?.restoreBest && bestParams && bestEpoch !== s.epoch - 1) {
    s.params = bestParams;
    if (bestNorm) p.norm.restore(bestNorm, 'MultiTaskNet');
    history.bestEpoch = bestEpoch;
  }
  return history;
}

/** The buffers of every training step (allocated once per fit). */
interface StepBuffers {
  /** Rows of a full batch. */
  batchSize: number;
  diagnostics: boolean;
  grad: FloatArray;
  /** Per-task gradients (T x P), for gradient strategies and diagnostics. */
  G: Matrix<FloatArray> | null;
  /** Their shared-parameter columns in float64 (T x S). */
  gShared: Matrix<Float64Array> | null;
  xFull: FloatArray;
  yFull: FloatArray;
}

function stepBuffers(p: NetParts, train: Prepared, batchSize: number, diagnostics: boolean): StepBuffers {
  const T = p.config.tasks.length;
  const P = p.compiled.paramCount;
  const S = p.owners.shared.length;
  const dtype = p.config.dtype;
  const perTask = p.strategy.needsGradients || diagnostics;
  return {
    batchSize,
    diagnostics,
    grad: allocate(dtype, P),
    G: perTask ? { rows: T, cols: P, data: allocate(dtype, T * P) } : null,
    gShared: perTask ? { rows: T, cols: S, data: new Float64Array(T * S) } : null,
    xFull: allocate(dtype, batchSize * train.X.cols),
    yFull: allocate(dtype, batchSize * T),
  };
}

/**
 * One optimiser step on the training rows `rows`: the heads' losses, the strategy's weights (and
 * shared direction), the gradient, the update. Returns the losses, the weights and each task's
 * labelled rows in the batch. A function of its own, not part of runEpochs' loop, so that the
 * engine optimises it as one small function: compiling the whole async loop with it took V8 80 ms
 * of a core, twice, during which a threaded step ran about as slowly as on one thread.
 */
function trainStep(p: NetParts, s: NetState, train: Prepared, rows: Int32Array, b: StepBuffers): { losses: Float64Array; weights: ArrayLike<number>; labelled: Float64Array } {
  const T = p.config.tasks.length;
  const S = p.owners.shared.length;
  const d = train.X.cols;
  const dtype = p.config.dtype;
  const needGrads = p.strategy.needsGradients;
  const { grad, G, gShared } = b;
  const nb = rows.length;
  // Full batches reuse one pair of buffers; only a last, shorter batch allocates.
  const x = nb === b.batchSize ? b.xFull : allocate(dtype, nb * d);
  const y = nb === b.batchSize ? b.yFull : allocate(dtype, nb * T);
  const cnt = new Float64Array(T);
  p.kernels.gatherRows(train.X, rows, { rows: nb, cols: d, data: x });
  p.kernels.gatherRows(train.Y, rows, { rows: nb, cols: T, data: y });
  for (let q = 0; q < nb * T; q++) if (y[q] === y[q]) cnt[q % T]!++;
  const masks = p.compiled.dropoutNodes.length > 0 ? dropoutMasks(p.compiled, p.rng, nb, dtype, (s, o, r, k) => p.kernels.fillMask(s, o, r, k)) : undefined;
  const batch = {
    x: { rows: nb, cols: d, data: x },
    y: { rows: nb, cols: T, data: y },
    ...(masks ? { masks } : {}),
    // Batchnorm trains on the batch's statistics and reports them for the running averages.
    ...(p.norm.active ? { stats: { batchOut: p.norm.batch } } : {}),
  };

  let losses: Float64Array;
  let res: StrategyResult;
  if (needGrads) {
    losses = p.handle.headGrads(s.params, batch, G!);
    checkLosses(p.config, s, losses);
    gatherShared(p.owners, G!, gShared!);
    res = p.strategy.combine({ losses, grads: gShared!, epoch: s.epoch, step: s.stepCount, rng: p.rng });
    checkResult(p.strategy, res, T, S);
    assemble(p.owners, G!, res, grad);
  } else {
    // Loss-based strategies need this batch's losses before they can give its weights. When
    // the weights did not change last step (equal, fixed) assume they repeat and compute the
    // gradient in the same pass; otherwise take the losses from a forward pass first.
    const guess = s.lastWeights;
    if (s.weightsStable) {
      losses = p.handle.lossGrad(s.params, batch, guess, grad);
      checkLosses(p.config, s, losses);
      res = p.strategy.combine({ losses, epoch: s.epoch, step: s.stepCount, rng: p.rng });
      checkResult(p.strategy, res, T, S);
      if (!sameWeights(res.weights, guess)) {
        p.handle.lossGrad(s.params, batch, res.weights, grad);
        s.weightsStable = false;
      }
    } else {
      losses = p.handle.lossGrad(s.params, batch, guess, null);
      checkLosses(p.config, s, losses);
      res = p.strategy.combine({ losses, epoch: s.epoch, step: s.stepCount, rng: p.rng });
      checkResult(p.strategy, res, T, S);
      p.handle.lossGrad(s.params, batch, res.weights, grad);
      s.weightsStable = sameWeights(res.weights, guess);
    }
    if (res.shared) throw new ConfigError(`weighting '${p.strategy.name}' returned a shared direction but does not declare needsGradients`);
    if (b.diagnostics) {
      p.handle.headGrads(s.params, batch, G!);
      gatherShared(p.owners, G!, gShared!);
    }
  }
  s.lastWeights = Float64Array.from(res.weights);
  if (p.norm.active) p.norm.update(nb);
  p.optimizer.step(s.params, grad);
  s.stepCount++;
  return { losses, weights: res.weights, labelled: cnt };
}

/**
 * Checked before the strategy sees the losses, so a diverged run is reported here, by task name.
 * Checking the T losses (not the P gradient entries) keeps this O(T) per step; a diverged run
 * shows up in its losses first.
 */
function checkLosses(config: NetConfig, s: NetState, losses: Float64Array): void {
  for (let t = 0; t < losses.length; t++) {
    if (!Number.isFinite(losses[t]!)) {
      throw new ValueError(
        `${KIND}.fit: the loss of task '${config.tasks[t]!.name}' became ${losses[t]} at epoch ${s.epoch}, step ${s.stepCount}; lower the learning rate or check the data`,
      );
    }
  }
}

/** The T x S matrix of shared-parameter gradients, in float64 for the strategies. */
function gatherShared(owners: ParameterOwners, G: Matrix<FloatArray>, out: Matrix<Float64Array>): void {
  const sh = owners.shared;
  const P = G.cols;
  const S = sh.length;
  for (let t = 0; t < G.rows; t++) {
    const src = t * P;
    const dst = t * S;
    for (let k = 0; k < S; k++) out.data[dst + k] = G.data[src + sh[k]!]!;
  }
}

/** grad = the strategy's direction on shared parameters, w_t g_t on task t's own parameters. */
function assemble(owners: ParameterOwners, G: Matrix<FloatArray>, res: StrategyResult, grad: FloatArray): void {
  const P = G.cols;
  const w = res.weights;
  const sh = owners.shared;
  if (res.shared) {
    for (let k = 0; k < sh.length; k++) grad[sh[k]!] = res.shared[k]!;
  } else {
    for (let k = 0; k < sh.length; k++) {
      const i = sh[k]!;
      let s = 0;
      for (let t = 0; t < G.rows; t++) s += w[t]! * G.data[t * P + i]!;
      grad[i] = s;
    }
  }
  owners.own.forEach((idx, t) => {
    const wt = w[t]!;
    for (let k = 0; k < idx.length; k++) grad[idx[k]!] = wt * G.data[t * P + idx[k]!]!;
  });
}

function checkResult(strategy: WeightingStrategy, res: StrategyResult, T: number, S: number): void {
  if (!res || !(res.weights instanceof Float64Array || Array.isArray(res.weights)) || res.weights.length !== T) {
    throw new ConfigError(`weighting '${strategy.name}' must return { weights } with ${T} values`);
  }
  if (res.shared !== undefined && res.shared.length !== S) {
    throw new ConfigError(`weighting '${strategy.name}' returned a shared direction of length ${res.shared.length}, expected ${S}`);
  }
}

export function resolveEarlyStopping(v: unknown, hasVal: boolean): Required<EarlyStoppingOptions> | null {
  if (v === undefined || v === false) return null;
  const o = parseOptions<Required<EarlyStoppingOptions>>(`${KIND}.fit: earlyStopping`, v === true ? {} : v, {
    patience: num({ integer: true, min: 1, default: 5 }),
    monitor: oneOf(['loss', 'val_loss'] as const, hasVal ? 'val_loss' : 'loss'),
    restoreBest: bool(true),
    minDelta: num({ min: 0, default: 0 }),
  });
  if (o.monitor === 'val_loss' && !hasVal) throw new ConfigError(`${KIND}.fit: earlyStopping monitors 'val_loss' but no validation data was given`);
  return o;
}

function sameWeights(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
