/**
 * Demo, first part: the School data (Goldstein 1991; 139 schools, 15,362 students), the classic
 * multi-task regression benchmark, on the protocol of Evgeniou & Pontil (KDD 2004) and Argyriou,
 * Evgeniou & Pontil (2008): 10 random 75/25 splits within each school, hyperparameters chosen by
 * k-fold CV on the training part only, and the percentage of explained variance
 *     100 (1 - MSE / Var(y_test))   pooled over the test students,
 * reported as mean +- sd over the splits for the two baselines (one pooled ridge, one ridge per
 * school) and three multi-task models (mean-regularised, L2,1, trace norm).
 */
import { datasets } from '../../lib/data/school.js';
import { backend } from '../../lib/kernels/index.js';
import { L21Regression } from '../../lib/linear/l21.js';
import { MeanRegularizedRegression } from '../../lib/linear/meanRegularized.js';
import { IndependentRidge, PooledRidge } from '../../lib/linear/ridge.js';
import { TraceNormRegression } from '../../lib/linear/traceNorm.js';
import type { TaskLinearModel, Params } from '../../lib/linear/taskModel.js';

export const title = 'School: 139 schools, explained variance of convex multi-task models (Evgeniou & Pontil 2004 protocol)';

const SPLITS = 10;

// Grid sizes are kept small so the whole part runs in about a minute on the TypeScript kernels:
// closed forms get 5-fold CV over 13 alphas (ridge) or 7 x 7 (lambda1, lambda2) pairs; the FISTA
// models get 3-fold CV over 6 alphas from alpha_max down to 1e-2 alpha_max at tol 1e-4.
const fistaOptions = { cv: 3, nAlphas: 6, eps: 1e-2, tol: 1e-4, maxIter: 1000 };
const models: { name: string; grid: string; make: (seed: number) => TaskLinearModel<Params> }[] = [
  { name: 'PooledRidge', grid: '5-fold, 13 alphas', make: (seed) => new PooledRidge({ cv: 5, seed }) },
  { name: 'IndependentRidge', grid: '5-fold, 13 alphas', make: (seed) => new IndependentRidge({ cv: 5, seed }) },
  { name: 'MeanRegularizedRegression', grid: '5-fold, 7x7 pairs', make: (seed) => new MeanRegularizedRegression({ cv: 5, seed }) },
  { name: 'L21Regression', grid: '3-fold, 6 alphas', make: (seed) => new L21Regression({ ...fistaOptions, seed }) },
  { name: 'TraceNormRegression', grid: '3-fold, 6 alphas', make: (seed) => new TraceNormRegression({ ...fistaOptions, seed }) },
];

function meanSd(v: number[]): [number, number] {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, v.length - 1));
  return [m, sd];
}

export async function run(log: (line: string) => void = console.log): Promise<void> {
  const data = datasets.school();
  log(`${data.nTasks} schools, ${data.nRows} students, ${data.nFeatures} features; backend: ${backend().name}`);
  log(`${SPLITS} random 75/25 splits within each school; hyperparameters by CV on the training part.`);
  const scores = models.map(() => [] as number[]);
  const seconds = models.map(() => 0);
  for (let s = 0; s < SPLITS; s++) {
    const { train, test } = data.split({ testFraction: 0.25, seed: 1000 + s });
    for (let m = 0; m < models.length; m++) {
      const t0 = performance.now();
      const model = await models[m]!.make(s).fit(train);
      seconds[m]! += (performance.now() - t0) / 1000;
      scores[m]!.push(100 * model.score(test));
    }
    log(`  split ${s + 1}/${SPLITS}: ${models.map((x, m) => `${x.name.replace(/Regression|Ridge/, '')} ${scores[m]![s]!.toFixed(1)}`).join(', ')}`);
  }
  log('');
  const w = Math.max(...models.map((m) => m.name.length));
  log(`${'model'.padEnd(w)}  explained variance %   CV grid             time`);
  log(`${'-'.repeat(w)}  --------------------   -----------------   ------`);
  models.forEach((m, i) => {
    const [mean, sd] = meanSd(scores[i]!);
    log(`${m.name.padEnd(w)}  ${mean.toFixed(1).padStart(8)} +- ${sd.toFixed(1).padEnd(8)}   ${m.grid.padEnd(17)}   ${seconds[i]!.toFixed(1).padStart(5)}s`);
  });
  log('Reference (../shared/data/README.md): pooled 34.0 +- 1.0, independent 34.2 +- 1.2, mean-regularised 37.5 +- 1.1;');
  log('Evgeniou & Pontil (KDD 2004, Table 3): 34.26 +- 0.4 for regularised multi-task learning.');
}
