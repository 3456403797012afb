/**
 * The multi-task lasso on shapes drawn at random from the family the convex workload samples by
 * hand: n 200..20,000, d 50..5,000, T 2..50 (each log-uniform), with or without intercept, a planted
 * support of 1 to 30 % of the features, alpha 0.01 to 0.3 alpha_max, a quarter of the problems with
 * columns on unequal scales; n d at most MAX_VALUES (drawn again above it), so that the workload
 * stays within a few minutes. The draws come from a fixed seed: every run, on every machine, fits
 * the same problems, which nobody chose. The hand-picked shapes of the convex workload show where a
 * change helps; these show whether the lead holds on problems nobody tuned for.
 *
 * Per shape, as in the convex workload (bench/convex.ts runCase): metatask native (and, on a CPU
 * with AVX-512, native capped at AVX2) and scikit-learn, each in fresh processes with one thread, the
 * sides taking turns; a cold first fit and at least five warm fits per process (on small shapes
 * more: until they took a second). The table gives each shape's ratios of CPU time
 * to scikit-learn's, warm (median of the pooled warm fits) and cold (median of the processes' first
 * fits), and a summary: the median ratio over the shapes, and on how many of
 * them metatask took at most 0.3x scikit-learn's time and on how many more than scikit-learn's.
 * METATASK_BENCH_SAMPLED=<count> draws another number of shapes (the first ones are the same).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Rng } from '../lib/core/rng.js';
import { availableBackends, kernels, setBackend } from '../lib/kernels/index.js';
import { alphaMax } from '../lib/linear/alphaGrid.js';
import { prepareProblem } from '../lib/linear/solvers/workingSet.js';
import { formatRatio, generate, processNote, runCase, timeRatio, type ProblemShape, type SideRow } from './convex.js';
import { benchOptions, markdownTable, stats, type ChartPanel, type WorkloadResult } from './harness.js';

const TITLE = 'Multi-task lasso on shapes drawn at random from the family, metatask vs scikit-learn';
/** The seed of the draws (fixed: the same problems in every run). */
const SEED = 20_261_205;
const DEFAULT_COUNT = 16;
/** Largest n d drawn (32 MB of X): the largest problems take scikit-learn about a second a fit. */
const MAX_VALUES = 4_000_000;
const ALPHA_FRACTIONS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3];
const SUPPORT_FRACTIONS = [0.01, 0.05, 0.1, 0.3];
/** metatask's goal on every shape of the family: at most this fraction of scikit-learn's time. */
const GOAL = 0.3;

export interface SampledShape extends ProblemShape {
  alphaFraction: number;
}

/** An integer drawn log-uniformly from [lo, hi]. */
function logUniform(rng: Rng, lo: number, hi: number): number {
  return Math.round(Math.exp(Math.log(lo) + rng.uniform() * (Math.log(hi) - Math.log(lo))));
}

/** The first `count` shapes of the fixed draw (a larger count adds shapes after the same first ones). */
export function sampledShapes(count: number): SampledShape[] {
  const rng = new Rng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.min(xs.length - 1, Math.floor(rng.uniform() * xs.length))]!;
  const shapes: SampledShape[] = [];
  while (shapes.length < count) {
    const n = logUniform(rng, 200, 20_000);
    const d = logUniform(rng, 50, 5_000);
    const T = logUniform(rng, 2, 50);
    const fitIntercept = rng.uniform() < 0.5;
    const unequalScales = rng.uniform() < 0.25;
    const support = Math.max(1, Math.round(d * pick(SUPPORT_FRACTIONS)));
    const alphaFraction = pick(ALPHA_FRACTIONS);
    if (n * d > MAX_VALUES) continue;
    shapes.push({ n, d, T, support, fitIntercept, unequalScales, alphaFraction });
  }
  return shapes;
}

/**
 * Fresh processes per side: three at most (about two and a half minutes for sixteen shapes of three
 * sides). The median of two cold fits is their mean, which one process's first full garbage
 * collection or fresh huge page moved by half its cost: with two, a shape's cold ratio changed by
 * up to 2x from run to run.
 */
function rounds(): number {
  return Math.min(3, benchOptions().rounds);
}

function shapeCount(): number {
  if (benchOptions().quick) return 2;
  const env = process.env.METATASK_BENCH_SAMPLED;
  if (env === undefined || env === '') return DEFAULT_COUNT;
  const count = Number(env);
  if (!Number.isInteger(count) || count < 1) throw new Error(`METATASK_BENCH_SAMPLED: a number of shapes (a positive integer), got '${env}'`);
  return count;
}

export interface ShapeResult {
  shape: SampledShape;
  alpha: number;
  rows: SideRow[];
}

/** A side's warm median and cold CPU times. */
const cpuTimes = (r: SideRow): string => `${(r.cpuWarm!.median * 1000).toFixed(2)} / ${(r.cpuCold! * 1000).toFixed(2)} ms`;

/** The sides of metatask that ran on every shape, in table order. */
function metataskSides(results: readonly ShapeResult[]): string[] {
  const names = results[0]?.rows.filter((r) => r.impl.startsWith('metatask') && r.warm).map((r) => r.impl) ?? [];
  return names.filter((name) => results.every((res) => res.rows.some((r) => r.impl === name && r.warm)));
}

function sklearnRow(res: ShapeResult): SideRow | undefined {
  return res.rows.find((r) => r.impl.startsWith('scikit-learn') && r.warm);
}

/** One row per shape: its ratios to scikit-learn, or without it the sides' own CPU times. */
export function shapeTable(results: readonly ShapeResult[], sides: readonly string[]): string {
  // Without scikit-learn (not installed, or --no-peers) the sides' own times stand in for the ratios.
  const peer = results.some((res) => sklearnRow(res) !== undefined);
  const header = ['shape (n x d x T)', 'intercept', 'alpha / alpha_max', 'non-zero rows', 'scikit-learn warm / cold, CPU'];
  for (const side of sides) header.push(`${side}: warm / cold, ${peer ? 'CPU ratio' : 'CPU'}`, `${side}: sweeps (scikit-learn's)`);
  header.push('objective rel. to scikit-learn');
  const rows = results.map((res) => {
    const s = res.shape;
    const sk = sklearnRow(res);
    const cells: (string | number)[] = [
      `${s.n} x ${s.d} x ${s.T}${s.unequalScales ? ', scales 1-3' : ''}`,
      s.fitIntercept ? 'yes' : 'no',
      s.alphaFraction,
      res.rows.find((r) => r.warm)?.nonZeroRows ?? '-',
      sk ? cpuTimes(sk) : '-',
    ];
    for (const side of sides) {
      const r = res.rows.find((q) => q.impl === side)!;
      const ratios = `${formatRatio(timeRatio(r.cpuWarm!.median, sk?.cpuWarm!.median))} / ${formatRatio(timeRatio(r.cpuCold, sk?.cpuCold))}`;
      cells.push(peer ? ratios : cpuTimes(r), `${r.nIter} (${sk?.nIter ?? '-'})`);
    }
    const native = res.rows.find((r) => r.impl === sides[0]);
    const rel = native && sk ? (native.objective! - sk.objective!) / Math.abs(sk.objective!) : undefined;
    cells.push(rel === undefined ? '-' : `${rel >= 0 ? '+' : ''}${rel.toExponential(1)}`);
    return cells;
  });
  return markdownTable(header, rows);
}

/** Per side: the median ratio over the shapes, and on how many it was at most GOAL and above 1, warm and cold. */
export function summaryTable(results: readonly ShapeResult[], sides: readonly string[]): string {
  const rows = sides.map((side) => {
    const of = (pick: (r: SideRow) => number | undefined): number[] =>
      results.map((res) => timeRatio(pick(res.rows.find((r) => r.impl === side)!), pick(sklearnRow(res) ?? {} as SideRow))).filter((x): x is number => x !== undefined);
    const warm = of((r) => r.cpuWarm?.median);
    const cold = of((r) => r.cpuCold);
    const summary = (xs: number[]): string[] => [
      formatRatio(xs.length ? stats(xs).median : undefined),
      `${xs.filter((x) => x <= GOAL).length} of ${xs.length}`,
      `${xs.filter((x) => x > 1).length} of ${xs.length}`,
    ];
    return [side, ...summary(warm), ...summary(cold)];
  });
  return markdownTable(
    ['side', 'warm: median ratio', `warm: at most ${GOAL}x`, 'warm: slower than scikit-learn', 'cold: median ratio', `cold: at most ${GOAL}x`, 'cold: slower than scikit-learn'],
    rows,
  );
}

function ratioPanel(results: readonly ShapeResult[], side: string): ChartPanel {
  return {
    title: `${side}: warm CPU time / scikit-learn's, per shape`,
    unit: 'x',
    better: 'lower',
    bars: results.map((res) => {
      const r = res.rows.find((q) => q.impl === side)!;
      const sk = sklearnRow(res);
      return { label: `${res.shape.n} x ${res.shape.d} x ${res.shape.T}`, value: timeRatio(r.cpuWarm!.median, sk?.cpuWarm!.median) ?? 0, ours: true };
    }),
  };
}

export async function run(): Promise<WorkloadResult> {
  if (!availableBackends().includes('native')) {
    return { id: 'convex-sampled', title: TITLE, table: '(skipped)', notes: ['skipped: the addon is not built (this workload compares the native backend with scikit-learn)'], data: { skipped: true } };
  }
  const root = mkdtempSync(join(tmpdir(), 'metatask-sampled-'));
  const results: ShapeResult[] = [];
  const notes = new Set<string>();
  try {
    sampledShapes(shapeCount()).forEach((shape, i) => {
      const folder = join(root, `shape${i}`);
      mkdirSync(folder);
      const { X, Y } = generate(shape, SEED + 1 + i);
      writeFileSync(join(folder, 'X.f64'), X.data);
      writeFileSync(join(folder, 'Y.f64'), Y.data);
      setBackend('native');
      const alpha = shape.alphaFraction * alphaMax(prepareProblem(kernels(), X, Y, shape.fitIntercept), 1);
      const rows = runCase({
        title: `${shape.n} x ${shape.d} x ${shape.T}`,
        folder,
        n: shape.n,
        d: shape.d,
        T: shape.T,
        model: 'lasso',
        options: { alpha, fitIntercept: shape.fitIntercept, tol: 1e-4 },
        warmRuns: benchOptions().quick ? 1 : 5,
        rounds: rounds(),
        backends: ['native'],
      });
      for (const r of rows) if (r.skipped) notes.add(r.skipped);
      results.push({ shape, alpha, rows });
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const sides = metataskSides(results);
  const ranSklearn = results.some((res) => sklearnRow(res) !== undefined);
  const table = ranSklearn
    ? `${summaryTable(results, sides)}\n\n${shapeTable(results, sides)}`
    : shapeTable(results, sides);
  notes.add(processNote(benchOptions().quick ? 'one per process' : 'at least five per process', rounds()));
  notes.add('ratios of CPU time (process CPU seconds, every thread) to scikit-learn\'s in the same run, both at tol 1e-4 on the same duality-gap rule; objective: metatask native\'s relative to scikit-learn\'s (negative: lower)');
  notes.add(`shapes drawn with seed ${SEED}: n, d, T log-uniform in 200..20,000, 50..5,000, 2..50 (n d at most ${MAX_VALUES.toLocaleString('en-US')}), intercept and unequal column scales by coin, support 1-30 % of d, alpha 0.01-0.3 alpha_max`);
  return {
    id: 'convex-sampled',
    title: TITLE,
    table,
    notes: [...notes],
    data: { seed: SEED, shapes: results.map((r) => ({ ...r.shape, alpha: r.alpha, rows: r.rows })) },
    charts: ranSklearn ? [{ title: TITLE, panels: sides.map((side) => ratioPanel(results, side)) }] : [],
  };
}
