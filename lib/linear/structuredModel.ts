/**
 * The shared part of the structured per-task models (ClusteredRegression, DirtyRegression,
 * RobustL21Regression, LowRankSparseRegression, GraphRegularizedRegression,
 * TemporalGroupRegression and their logistic versions), all solved by structuredSolver.ts:
 * options, strengths named after the penalty they weigh (the same name in every model:
 * lambdaSparse for an elementwise L1 term, lambdaGroup for a feature-group term, lambdaRidge for
 * a squared Frobenius term, ...), and the CV grid.
 *
 * CV grid: one axis per strength; the product of the axes is walked as a warm-started path. The
 * first axis (the model's path strength) has nLambdas points, log-spaced: for a non-smooth part,
 * from where that part of W is zero down to eps times that (glmnet's path); for a smooth penalty,
 * over a range in units of the loss Hessian (each model says which). Further axes have a few
 * points; strengths not on an axis stay at their option value. `grid: { name: [values] }`
 * replaces an axis (or puts a strength on one). The product is walked with the path axis
 * innermost and its direction alternating (a "snake"), so every fit is warm-started from a
 * neighbouring grid point.
 */
import { ConfigError } from '../core/errors.js';
import { custom, num, parseOptions, type OptionSpec } from '../core/options.js';
import { solveStructured, type Structure } from './structuredSolver.js';
import { TaskLinearModel, baseSpec, gridSpec, type BaseOptions, type Solution, type TaskPrediction, type TaskProblem, type Work } from './taskModel.js';

export type Strengths = Record<string, number>;

export interface StructuredOptions extends BaseOptions {
  /**
   * CV grid by strength: `{ lambdaSparse: [1, 0.1] }` replaces that strength's default axis (or
   * searches a strength the default grid holds fixed). Values must be >= 0 (> 0 where the
   * strength must be positive).
   */
  grid?: Record<string, number[]>;
  /** Points on the path axis of the default CV grid (default 6). */
  nLambdas?: number;
  /** Smallest value of the path axis relative to its largest (default 1e-2). */
  eps?: number;
  /**
   * FISTA stops when both the gradient-mapping step and the objective change are small relative
   * to the solution (see fista.ts; default 1e-6).
   */
  tol?: number;
  /** FISTA tolerance of the fits of the CV path (default: tol). */
  cvTol?: number;
  /** FISTA iteration limit per fit (default 10000). */
  maxIter?: number;
}

export const structuredSpec = {
  ...baseSpec,
  grid: custom<Record<string, number[]> | undefined>('an object { strength: [values] }', (v) => v !== null && typeof v === 'object' && !Array.isArray(v)),
  nLambdas: num({ default: 6, min: 1, integer: true }),
  eps: num({ default: 1e-2, min: 0, max: 1, exclusiveMin: true }),
  tol: num({ default: 1e-6, min: 0 }),
  cvTol: num({ min: 0 }),
  maxIter: num({ default: 10000, min: 1, integer: true }),
};

/** A strength: its name, its option spec, and whether it must be > 0. */
export interface StrengthSpec {
  name: string;
  default: number;
  positive?: boolean;
}

/** The option specs of a model's strengths (lambdaX: number, default, >= 0 or > 0). */
export function strengthSpecs(strengths: readonly StrengthSpec[]): Record<string, OptionSpec> {
  return Object.fromEntries(strengths.map((s) => [s.name, num({ default: s.default, min: 0, exclusiveMin: s.positive === true })]));
}

export abstract class StructuredTaskModel<P extends Strengths, C extends StructuredOptions, Y extends TaskPrediction = Float64Array> extends TaskLinearModel<P, C, Y> {
  protected override readonly warmStarts = true;
  /** The strengths, path axis first. */
  protected abstract readonly strengths: readonly StrengthSpec[];

  protected constructor(options: unknown, spec: Record<string, OptionSpec>, strengths: readonly StrengthSpec[]) {
    super(options, spec);
    const grid = this.config.grid;
    if (grid !== undefined) {
      // Checked like options: an unknown strength gets a "did you mean".
      const owner = `${this.constructor.name}: option 'grid'`;
      const axes = Object.fromEntries(strengths.map((s) => [s.name, gridSpec()]));
      parseOptions(owner, grid, axes as never);
      for (const s of strengths) {
        if (s.positive && grid[s.name]?.some((v) => v <= 0)) throw new ConfigError(`${owner}: the values of '${s.name}' must be > 0`);
      }
    }
  }

  /** The structure (parts and smooth penalty) at given strengths, on problem p. */
  protected abstract structure(p: TaskProblem, params: P): Structure;
  /** The default CV axes (largest first), by strength; strengths absent here stay fixed. */
  protected abstract defaultAxes(p: TaskProblem): Partial<Record<keyof P & string, number[]>>;
  /** Extra fitted matrices computed from the final solution (e.g. a task similarity). */
  protected finish(_p: TaskProblem, _params: P, _sol: Solution): void {}

  protected params(): P {
    const cfg = this.config as unknown as Record<string, number>;
    return Object.fromEntries(this.strengths.map((s) => [s.name, cfg[s.name]!])) as P;
  }

  protected grid(p: TaskProblem): P[] {
    const user: Record<string, number[]> = this.config.grid ?? {};
    const defaults = this.defaultAxes(p) as Record<string, number[] | undefined>;
    const fixed = this.params() as Record<string, number>;
    const axes = this.strengths.map((s) => {
      const values = user[s.name] ?? defaults[s.name] ?? [fixed[s.name]!];
      return { name: s.name, values: [...new Set(values)].sort((a, b) => b - a) };
    });
    // Outer axes in lexicographic order, the path axis innermost, reversed on every other pass.
    const [path, ...outer] = axes;
    const out: P[] = [];
    const counters = outer.map(() => 0);
    for (let pass = 0; ; pass++) {
      const base: Record<string, number> = {};
      outer.forEach((a, i) => (base[a.name] = a.values[counters[i]!]!));
      const inner = pass % 2 === 0 ? path!.values : [...path!.values].reverse();
      for (const v of inner) out.push({ ...base, [path!.name]: v } as P);
      let i = outer.length - 1;
      while (i >= 0 && ++counters[i]! === outer[i]!.values.length) counters[i--] = 0;
      if (i < 0) break;
    }
    return out;
  }

  protected *solve(p: TaskProblem, params: P, warm: Solution | null, phase: 'cv' | 'fit'): Work<Solution> {
    const tol = phase === 'cv' ? (this.config.cvTol ?? this.config.tol!) : this.config.tol!;
    const o = { loss: this.loss, fitIntercept: this.config.fitIntercept as boolean, tol, maxIter: this.config.maxIter! };
    const sol = yield* solveStructured(p, this.structure(p, params), o, warm);
    if (phase === 'fit') this.finish(p, params, sol);
    return sol;
  }

  /** Names of the tasks whose row of the fitted part `name` is not zero. */
  protected tasksWithNonZeroRows(name: string): string[] {
    const m = this.part(name);
    return this.taskNames.filter((_, t) => m.data.subarray(t * m.cols, (t + 1) * m.cols).some((v) => v !== 0));
  }
}

/** P(y = 1) = sigmoid(z), in place, without overflow. */
export function sigmoidInPlace(z: Float64Array): Float64Array {
  for (let i = 0; i < z.length; i++) z[i] = z[i]! >= 0 ? 1 / (1 + Math.exp(-z[i]!)) : Math.exp(z[i]!) / (1 + Math.exp(z[i]!));
  return z;
}
