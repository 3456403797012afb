/**
 * Learning-rate schedules, stepped once per epoch (PyTorch's torch.optim.lr_scheduler semantics,
 * closed forms where PyTorch has them, so a resumed run needs only the epoch counter):
 *
 *   constant:          lr_e = base
 *   step:              lr_e = base gamma^floor(e / stepSize)                     (StepLR)
 *   exponential:       lr_e = base gamma^e                                       (ExponentialLR)
 *   cosine:            lr_e = etaMin + (base - etaMin) (1 + cos(pi e / tMax)) / 2 (CosineAnnealingLR;
 *                      past tMax it follows the same cosine back up, as PyTorch does)
 *   reduce-on-plateau: lr <- max(lr factor, minLr) after more than `patience` epochs without an
 *                      improvement of the observed metric (ReduceLROnPlateau, threshold_mode 'rel':
 *                      'min' improves when m < best (1 - threshold), 'max' when m > best (1 + threshold)),
 *                      then `cooldown` epochs during which bad epochs are not counted.
 *
 * `e` is the number of completed epochs (epochEnd calls).
 */
import { ConfigError, FormatError, ValueError } from '../core/errors.js';
import { describe } from '../core/matrix.js';
import { num, oneOf, parseOptions } from '../core/options.js';
import { unknownName } from '../core/suggest.js';

export type ScheduleType = 'constant' | 'step' | 'exponential' | 'cosine' | 'reduce-on-plateau';

export type ScheduleOptions =
  | { type: 'constant' }
  | { type: 'step'; stepSize: number; gamma?: number }
  | { type: 'exponential'; gamma: number }
  | { type: 'cosine'; tMax: number; etaMin?: number }
  | {
      type: 'reduce-on-plateau';
      mode?: 'min' | 'max';
      factor?: number;
      patience?: number;
      threshold?: number;
      cooldown?: number;
      minLr?: number;
    };

/** JSON-safe schedule state for exact resume. */
export interface ScheduleState {
  type: ScheduleType;
  epoch: number;
  /** reduce-on-plateau only. */
  lr?: number;
  best?: number;
  badEpochs?: number;
  cooldownLeft?: number;
}

export interface LrSchedule {
  readonly type: ScheduleType;
  /** The learning rate for the current epoch. */
  lr(): number;
  /** One epoch is over. reduce-on-plateau needs the epoch's metric (e.g. validation loss). */
  epochEnd(metric?: number): void;
  getState(): ScheduleState;
  setState(state: unknown): void;
}

abstract class EpochSchedule implements LrSchedule {
  abstract readonly type: ScheduleType;
  protected epoch = 0;
  constructor(protected readonly baseLr: number) {}
  abstract lr(): number;
  epochEnd(_metric?: number): void {
    this.epoch++;
  }
  getState(): ScheduleState {
    return { type: this.type, epoch: this.epoch };
  }
  setState(state: unknown): void {
    const s = checkState(state, this.type);
    this.epoch = s.epoch;
  }
}

export class ConstantSchedule extends EpochSchedule {
  readonly type = 'constant' as const;
  lr(): number {
    return this.baseLr;
  }
}

export class StepSchedule extends EpochSchedule {
  readonly type = 'step' as const;
  constructor(baseLr: number, readonly stepSize: number, readonly gamma: number) {
    super(baseLr);
  }
  lr(): number {
    return this.baseLr * Math.pow(this.gamma, Math.floor(this.epoch / this.stepSize));
  }
}

export class ExponentialSchedule extends EpochSchedule {
  readonly type = 'exponential' as const;
  constructor(baseLr: number, readonly gamma: number) {
    super(baseLr);
  }
  lr(): number {
    return this.baseLr * Math.pow(this.gamma, this.epoch);
  }
}

export class CosineSchedule extends EpochSchedule {
  readonly type = 'cosine' as const;
  constructor(baseLr: number, readonly tMax: number, readonly etaMin: number) {
    super(baseLr);
  }
  lr(): number {
    return this.etaMin + ((this.baseLr - this.etaMin) * (1 + Math.cos((Math.PI * this.epoch) / this.tMax))) / 2;
  }
}

export class PlateauSchedule implements LrSchedule {
  readonly type = 'reduce-on-plateau' as const;
  private epoch = 0;
  private current: number;
  private best: number;
  private badEpochs = 0;
  private cooldownLeft = 0;

  constructor(
    baseLr: number,
    readonly mode: 'min' | 'max',
    readonly factor: number,
    readonly patience: number,
    readonly threshold: number,
    readonly cooldown: number,
    readonly minLr: number,
  ) {
    this.current = baseLr;
    this.best = mode === 'min' ? Infinity : -Infinity;
  }

  lr(): number {
    return this.current;
  }

  /** Feed the epoch's metric (PyTorch's scheduler.step(metric)). */
  observe(metric: number): void {
    if (typeof metric !== 'number' || !Number.isFinite(metric)) {
      throw new ValueError(`reduce-on-plateau schedule: the observed metric must be a finite number, got ${describe(metric)}`);
    }
    this.epoch++;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.badEpochs = 0;
    } else {
      this.badEpochs++;
    }
    if (this.cooldownLeft > 0) {
      this.cooldownLeft--;
      this.badEpochs = 0;
    }
    if (this.badEpochs > this.patience) {
      const next = Math.max(this.current * this.factor, this.minLr);
      // PyTorch skips reductions smaller than eps = 1e-8 (already at minLr).
      if (this.current - next > 1e-8) this.current = next;
      this.cooldownLeft = this.cooldown;
      this.badEpochs = 0;
    }
  }

  epochEnd(metric?: number): void {
    if (metric === undefined) {
      throw new ValueError(
        'reduce-on-plateau schedule needs the epoch metric: call epochEnd(metric) (e.g. the validation loss), not epochEnd()',
      );
    }
    this.observe(metric);
  }

  private isBetter(m: number): boolean {
    return this.mode === 'min' ? m < this.best * (1 - this.threshold) : m > this.best * (1 + this.threshold);
  }

  getState(): ScheduleState {
    return { type: this.type, epoch: this.epoch, lr: this.current, best: this.best, badEpochs: this.badEpochs, cooldownLeft: this.cooldownLeft };
  }

  setState(state: unknown): void {
    const s = checkState(state, this.type);
    for (const key of ['lr', 'best', 'badEpochs', 'cooldownLeft'] as const) {
      if (typeof s[key] !== 'number' || Number.isNaN(s[key])) {
        throw new FormatError(`reduce-on-plateau schedule state: '${key}' must be a number, got ${describe(s[key])}`);
      }
    }
    this.epoch = s.epoch;
    this.current = s.lr!;
    this.best = s.best!;
    this.badEpochs = s.badEpochs!;
    this.cooldownLeft = s.cooldownLeft!;
  }
}

function checkState(state: unknown, type: ScheduleType): ScheduleState {
  const s = state as ScheduleState | null;
  if (!s || typeof s !== 'object' || s.type !== type) {
    throw new FormatError(`schedule state is for '${String(s?.type)}', expected a '${type}' schedule state`);
  }
  if (!Number.isInteger(s.epoch) || s.epoch < 0) {
    throw new FormatError(`schedule state: 'epoch' must be a non-negative integer, got ${describe(s.epoch)}`);
  }
  return s;
}

const TYPES: readonly ScheduleType[] = ['constant', 'step', 'exponential', 'cosine', 'reduce-on-plateau'];

/**
 * Build a schedule from options (a type name alone means its defaults, where it has them).
 * `baseLr` is the optimiser's lr.
 */
export function createSchedule(options: ScheduleOptions | ScheduleType | undefined, baseLr: number): LrSchedule {
  if (options === undefined) return new ConstantSchedule(baseLr);
  const o = (typeof options === 'string' ? { type: options } : options) as { type?: unknown };
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    throw new ConfigError(`schedule must be an object { type, ... } or a type name, got ${describe(options)}`);
  }
  const { type, ...rest } = o;
  switch (type) {
    case 'constant':
      parseOptions('constant schedule', rest, {});
      return new ConstantSchedule(baseLr);
    case 'step': {
      const p = parseOptions<{ stepSize: number; gamma: number }>('step schedule', rest, {
        stepSize: num({ min: 1, integer: true }),
        gamma: num({ default: 0.1, min: 0, exclusiveMin: true }),
      });
      if (p.stepSize === undefined) throw new ConfigError("step schedule: option 'stepSize' is required (epochs between decays)");
      return new StepSchedule(baseLr, p.stepSize, p.gamma);
    }
    case 'exponential': {
      const p = parseOptions<{ gamma: number }>('exponential schedule', rest, {
        gamma: num({ min: 0, exclusiveMin: true }),
      });
      if (p.gamma === undefined) throw new ConfigError("exponential schedule: option 'gamma' is required (decay per epoch)");
      return new ExponentialSchedule(baseLr, p.gamma);
    }
    case 'cosine': {
      const p = parseOptions<{ tMax: number; etaMin: number }>('cosine schedule', rest, {
        tMax: num({ min: 1, integer: true }),
        etaMin: num({ default: 0, min: 0 }),
      });
      if (p.tMax === undefined) throw new ConfigError("cosine schedule: option 'tMax' is required (epochs of one half cosine)");
      return new CosineSchedule(baseLr, p.tMax, p.etaMin);
    }
    case 'reduce-on-plateau':
    case 'plateau': {
      const p = parseOptions<{ mode: 'min' | 'max'; factor: number; patience: number; threshold: number; cooldown: number; minLr: number }>(
        'reduce-on-plateau schedule',
        rest,
        {
          mode: oneOf(['min', 'max'] as const, 'min'),
          factor: num({ default: 0.1, min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }),
          patience: num({ default: 10, min: 0, integer: true }),
          threshold: num({ default: 1e-4, min: 0 }),
          cooldown: num({ default: 0, min: 0, integer: true }),
          minLr: num({ default: 0, min: 0 }),
        },
      );
      return new PlateauSchedule(baseLr, p.mode, p.factor, p.patience, p.threshold, p.cooldown, p.minLr);
    }
    default:
      throw new ConfigError(unknownName('schedule', 'type', type, TYPES));
  }
}
