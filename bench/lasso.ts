/**
 * A multi-task lasso on the benchmarks' fixed data:
 *   min_W (1/(2n)) ||Y - X W||_F^2 + alpha sum_j ||W[j,:]||_2,  alpha = 0.6093889149314188, no intercept,
 * on its fixed data (X 2000 x 1000, Y 2000 x 20; optimum 124.869862908929), solved by
 * MultiTaskLasso at tol 1e-8 on each backend and by scikit-learn's MultiTaskLasso(alpha,
 * fit_intercept=False, tol=1e-8), each side in --rounds fresh processes with one thread, the sides
 * taking turns (convex.ts runs them): cold first fits, median / min / max of the warm fits after
 * them, sweeps, non-zero rows and the objective reached against the known optimum.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../lib/kernels/native.js';
import { backendRatioNote, casePanel, caseTable, processNote, runCase, type ConvexCase } from './convex.js';
import { benchOptions } from './harness.js';
import type { WorkloadResult } from './run.js';

const ALPHA = 0.6093889149314188;
const OPTIMUM = 124.869862908929;

export async function run(): Promise<WorkloadResult> {
  const folder = join(packageRoot(), '..', 'shared', 'data', 'w1');
  const title = 'Multi-task lasso on the benchmark data set (X 2000 x 1000, Y 2000 x 20, no intercept, tol 1e-8)';
  if (!existsSync(join(folder, 'X.f64'))) {
    return { id: 'lasso', title, table: '(skipped)', notes: [`skipped: no data at ${folder}`], data: { skipped: true } };
  }
  const c: ConvexCase = {
    title,
    folder,
    n: 2000,
    d: 1000,
    T: 20,
    model: 'lasso',
    options: { alpha: ALPHA, fitIntercept: false, tol: 1e-8 },
    warmRuns: benchOptions().quick ? 1 : 5,
  };
  const rows = runCase(c);
  const notes = rows.filter((r) => r.skipped).map((r) => r.skipped!);
  const backends = backendRatioNote(rows);
  if (backends) notes.push(backends);
  notes.push(`${processNote(benchOptions().quick ? 'one per process' : 'at least five per process')}. Known optimum ${OPTIMUM}`);
  return {
    id: 'lasso',
    title,
    table: caseTable(rows, OPTIMUM, false),
    notes,
    data: { alpha: ALPHA, optimum: OPTIMUM, rows },
    charts: [{ title, panels: [casePanel('time of a fit', rows)] }],
  };
}
