/**
 * N-way K-shot classification episodes over any labelled data set (Vinyals et al. 2016, "Matching
 * Networks for One Shot Learning"; the protocol of Snell et al. 2017 and Finn et al. 2017):
 * an episode picks N classes at random, then K support and Q query examples of each, and relabels
 * the N classes 0..N-1 in the order they were drawn (so a label means nothing across episodes).
 *
 * - `splitClasses` splits the classes (not the rows) between meta-training and meta-testing, so a
 *   test episode only holds characters the learner never saw.
 * - `rotations` adds classes made by rotating square images by 90, 180 and 270 degrees (Santoro
 *   et al. 2016, customary on Omniglot): (class c, rotation r) is a class of its own, and every
 *   example of an episode's class gets that class's rotation.
 */
import { ConfigError, ShapeError, ValueError } from '../core/errors.js';
import { describe, toMatrix, type FloatArray, type Matrix } from '../core/matrix.js';
import { custom, num, parseOptions } from '../core/options.js';
import { Rng } from '../core/rng.js';
import { REVIVE } from '../core/portable.js';
import { SeededSampler, type Task, type TaskData } from './tasks.js';

/** A labelled data set: X (n x d) and one integer class label per row. */
export interface LabelledSet {
  X: unknown;
  labels: ArrayLike<number>;
}

/** What FewShotTasks reads: { X, labels }, or a classification task { X, y } of a MultiTaskDataset. */
export type FewShotSource = LabelledSet | { X: unknown; y: ArrayLike<number>; type?: string };

/** FewShotTasks' settings as it holds them (every default filled in). */
export interface FewShotConfig {
  /** N: classes per episode. */
  ways: number;
  /** K: support examples per class. */
  shots: number;
  /** Q: query examples per class (default 15). */
  queries: number;
  /** Seed of the episode stream. Default 0. */
  seed: number;
  /** Draw only from these class labels (e.g. the meta-training part of splitClasses). Default all. */
  classes: readonly number[] | undefined;
  /**
   * Extra classes by rotating square images: true = [0, 90, 180, 270], or a list of those angles
   * (counter-clockwise, numpy.rot90's direction). Default none.
   */
  rotations: boolean | readonly number[];
}

/** Options of FewShotTasks: `ways`, `shots` and any of the other settings. */
export interface FewShotOptions extends Partial<FewShotConfig> {
  ways: number;
  shots: number;
}

/** @deprecated The earlier name of {@link FewShotOptions}. */
export type FewShotInput = FewShotOptions;

const ANGLES = [0, 90, 180, 270];

/**
 * Rotate a square side x side image (row-major) by `angle` degrees counter-clockwise, into `out`
 * (numpy.rot90(img, angle / 90)). angle 0 copies.
 */
export function rotateSquare(src: ArrayLike<number>, side: number, angle: number, out: { [i: number]: number }, outOffset = 0): void {
  const n = side;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let v: number;
      switch (angle) {
        case 90:
          v = src[j * n + (n - 1 - i)]!;
          break;
        case 180:
          v = src[(n - 1 - i) * n + (n - 1 - j)]!;
          break;
        case 270:
          v = src[(n - 1 - j) * n + i]!;
          break;
        default:
          v = src[i * n + j]!;
      }
      out[outOffset + i * n + j] = v;
    }
  }
}

/** Integer labels of a source, with NaN and negative labels (missing, as in MultiTaskDataset) as -1. */
function readLabels(values: ArrayLike<number>, name: string, rows: number): Int32Array {
  if (!values || typeof values.length !== 'number') throw new ShapeError(`${name} must be an array of class labels, got ${describe(values)}`);
  if (values.length !== rows) throw new ShapeError(`${name} has ${values.length} labels, X has ${rows} rows`);
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const v = values[i]!;
    if (typeof v !== 'number') throw new ValueError(`${name}[${i}] is ${describe(v)}, expected an integer class label`);
    if (Number.isNaN(v) || v < 0) out[i] = -1;
    else if (!Number.isInteger(v) || v > 0x7fffffff) throw new ValueError(`${name}[${i}] is ${v}; class labels must be integers`);
    else out[i] = v;
  }
  return out;
}

export interface SplitClassesOptions {
  /** Fraction of the classes for meta-training (the rest for meta-testing). */
  trainFraction?: number;
  /** Exact class counts instead: { train, test, validation? } (their sum may be below the total). */
  counts?: { train: number; test: number; validation?: number };
  seed?: number;
}

export interface ClassSplit {
  train: number[];
  test: number[];
  validation?: number[];
}

/**
 * Split the distinct class labels (missing labels excluded) at random into disjoint meta-training,
 * meta-testing (and optionally validation) sets; each list is sorted.
 */
export function splitClasses(labels: ArrayLike<number>, options: SplitClassesOptions): ClassSplit {
  const o = parseOptions<Required<SplitClassesOptions>>('splitClasses', options, {
    trainFraction: num({ min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }),
    counts: custom(
      '{ train, test, validation? } of non-negative integers',
      (v) =>
        v !== null &&
        typeof v === 'object' &&
        Object.keys(v).every((k) => ['train', 'test', 'validation'].includes(k)) &&
        ['train', 'test'].every((k) => k in v) &&
        Object.values(v).every((x) => Number.isInteger(x) && (x as number) >= 0),
    ),
    seed: num({ default: 0 }),
  });
  if ((o.trainFraction === undefined) === (o.counts === undefined)) {
    throw new ConfigError(`splitClasses: give exactly one of 'trainFraction' (e.g. 0.8) or 'counts' ({ train, test, validation? })`);
  }
  const lab = readLabels(labels, 'splitClasses(labels)', labels?.length ?? 0);
  const classes = [...new Set(Array.from(lab).filter((c) => c >= 0))].sort((a, b) => a - b);
  const n = classes.length;
  if (n < 2) throw new ValueError(`splitClasses: need at least 2 distinct classes, got ${n}`);
  new Rng(o.seed).shuffle(classes);
  const sorted = (a: number[]) => a.sort((x, y) => x - y);
  if (o.trainFraction !== undefined) {
    const nTrain = Math.min(n - 1, Math.max(1, Math.round(o.trainFraction * n)));
    return { train: sorted(classes.slice(0, nTrain)), test: sorted(classes.slice(nTrain)) };
  }
  const { train, test, validation = 0 } = o.counts;
  if (train + test + validation > n) {
    throw new ValueError(`splitClasses: counts ask for ${train} + ${test} + ${validation} classes, the labels have only ${n}`);
  }
  const out: ClassSplit = { train: sorted(classes.slice(0, train)), test: sorted(classes.slice(train, train + test)) };
  if (o.counts.validation !== undefined) out.validation = sorted(classes.slice(train + test, train + test + validation));
  return out;
}

/** N-way K-shot episodes: support and query sets with labels 0..N-1 (class-major row order). */
export class FewShotTasks extends SeededSampler {
  readonly inputSize: number;
  readonly options: Readonly<FewShotConfig>;
  /** Class labels episodes draw from (after `classes`), ascending. */
  readonly classList: readonly number[];
  /** Rotation angles in use ([0] without rotations). */
  readonly angles: readonly number[];
  private readonly X: Matrix<FloatArray>;
  /** Row indices of each class of classList. */
  private readonly rowsOf: Int32Array[];
  private readonly side: number;
  /** The labels as read (kept to describe the sampler). */
  private readonly labels: Int32Array;

  constructor(
    private readonly source: FewShotSource,
    options: FewShotInput,
  ) {
    super();
    const o = parseOptions<FewShotConfig>('FewShotTasks', options, {
      ways: num({ min: 2, integer: true }),
      shots: num({ min: 1, integer: true }),
      queries: num({ min: 1, integer: true, default: 15 }),
      seed: num({ default: 0 }),
      classes: custom('an array of class labels (integers)', (v) => Array.isArray(v) && v.length > 0 && v.every((c) => Number.isInteger(c))),
      rotations: custom<boolean | number[]>(
        'true, false or a list of angles from 0, 90, 180, 270',
        (v) => typeof v === 'boolean' || (Array.isArray(v) && v.length > 0 && v.every((a) => ANGLES.includes(a)) && new Set(v).size === v.length),
        false,
      ),
    });
    for (const k of ['ways', 'shots'] as const) if (o[k] === undefined) throw new ConfigError(`FewShotTasks: option '${k}' is required`);
    this.options = o;
    if (source === null || typeof source !== 'object' || !('X' in source)) {
      throw new ShapeError(`FewShotTasks: expected a labelled set { X, labels } or a classification task { X, y }, got ${describe(source)}`);
    }
    if ('type' in source && source.type === 'regression') {
      throw new ValueError(`FewShotTasks: the task is a regression task; episodes need class labels`);
    }
    // Keep float32 data as float32 (Omniglot is 15M values); anything else becomes float64.
    const raw = source.X as { data?: unknown };
    const dtype = raw && typeof raw === 'object' && raw.data instanceof Float32Array ? 'float32' : 'float64';
    this.X = toMatrix(source.X, 'FewShotTasks: X', { dtype });
    const labels = readLabels('labels' in source ? source.labels : source.y, `FewShotTasks: ${'labels' in source ? 'labels' : 'y'}`, this.X.rows);
    this.labels = labels;
    this.inputSize = this.X.cols;

    this.angles = o.rotations === true ? ANGLES : o.rotations === false ? [0] : [...o.rotations];
    this.side = Math.round(Math.sqrt(this.X.cols));
    if (this.angles.some((a) => a !== 0) && this.side * this.side !== this.X.cols) {
      throw new ShapeError(`FewShotTasks: rotations need square images; X has ${this.X.cols} columns, not a perfect square`);
    }

    const byClass = new Map<number, number[]>();
    for (let i = 0; i < labels.length; i++) {
      const c = labels[i]!;
      if (c < 0) continue;
      let list = byClass.get(c);
      if (!list) byClass.set(c, (list = []));
      list.push(i);
    }
    let classList: number[];
    if (o.classes) {
      classList = [...new Set(o.classes)].sort((a, b) => a - b);
      const absent = classList.filter((c) => !byClass.has(c));
      if (absent.length) throw new ValueError(`FewShotTasks: option 'classes' names ${absent.length} class(es) with no examples, e.g. ${absent.slice(0, 5).join(', ')}`);
    } else {
      classList = [...byClass.keys()].sort((a, b) => a - b);
    }
    const need = o.shots + o.queries;
    for (const c of classList) {
      const have = byClass.get(c)!.length;
      if (have < need) {
        throw new ValueError(`FewShotTasks: class ${c} has ${have} examples; an episode needs shots + queries = ${o.shots} + ${o.queries} = ${need} of each class (lower 'queries' or leave the class out with 'classes')`);
      }
    }
    const pool = classList.length * this.angles.length;
    if (pool < o.ways) {
      throw new ValueError(
        `FewShotTasks: ${o.ways}-way episodes need at least ${o.ways} classes; the data offers ${classList.length}` +
          (this.angles.length > 1 ? ` x ${this.angles.length} rotations = ${pool}` : ''),
      );
    }
    this.classList = classList;
    this.rowsOf = classList.map((c) => Int32Array.from(byClass.get(c)!));
    this.rng = new Rng(o.seed);
  }

  /** Number of distinct classes episodes draw from (classes x rotations). */
  get classCount(): number {
    return this.classList.length * this.angles.length;
  }

  sample(): Task {
    const { ways, shots, queries } = this.options;
    const d = this.X.cols;
    const picked = this.pick(this.classCount, ways);
    const support = { X: new Float64Array(ways * shots * d), y: new Float64Array(ways * shots) };
    const query = { X: new Float64Array(ways * queries * d), y: new Float64Array(ways * queries) };
    const names: string[] = [];
    for (let k = 0; k < ways; k++) {
      const cls = Math.floor(picked[k]! / this.angles.length);
      const angle = this.angles[picked[k]! % this.angles.length]!;
      names.push(angle ? `${this.classList[cls]}@${angle}` : String(this.classList[cls]));
      const rows = this.rowsOf[cls]!;
      const chosen = this.pick(rows.length, shots + queries);
      for (let e = 0; e < shots + queries; e++) {
        const isSupport = e < shots;
        const set = isSupport ? support : query;
        const r = isSupport ? k * shots + e : k * queries + (e - shots);
        const src = this.X.data.subarray(rows[chosen[e]!]! * d, (rows[chosen[e]!]! + 1) * d);
        if (angle) rotateSquare(src, this.side, angle, set.X, r * d);
        else set.X.set(src, r * d);
        set.y[r] = k;
      }
    }
    const asData = (s: { X: Float64Array; y: Float64Array }): TaskData => ({ X: { rows: s.y.length, cols: d, data: s.X }, y: s.y });
    return { support: asData(support), query: asData(query), info: { classes: names.join(',') } };
  }

  /** `k` distinct indices of 0..n-1 in random order (partial Fisher-Yates). */
  private pick(n: number, k: number): Int32Array {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = i;
    for (let i = 0; i < k; i++) {
      const j = i + this.rng.int(n - i);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a.subarray(0, k);
  }

  fork(seed: number): FewShotTasks {
    return new FewShotTasks(this.source, { ...this.options, seed });
  }

  /** The same data with other options (e.g. the meta-test classes, or another number of ways). */
  with(options: Partial<FewShotConfig>): FewShotTasks {
    return new FewShotTasks(this.source, { ...this.options, ...options });
  }

  protected describe(): unknown {
    return { source: { X: this.X, labels: this.labels }, options: this.options };
  }

  static [REVIVE](v: unknown): FewShotTasks {
    const { source, options } = v as { source: LabelledSet; options: FewShotInput };
    return new FewShotTasks(source, options);
  }
}
