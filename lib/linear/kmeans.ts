/**
 * k-means on the rows of a small matrix (Lloyd's iterations from k-means++ seeds, Arthur &
 * Vassilvitskii, SODA 2007; the best of several seeded restarts by within-cluster sum of
 * squares). Used to read a cluster assignment off a learned task embedding (a few hundred tasks
 * at most), so it is plain TypeScript. Labels are renumbered in order of first appearance, so the
 * first row is always in cluster 0.
 */
import type { Matrix } from '../core/matrix.js';
import { Rng } from '../core/rng.js';

export interface KMeansResult {
  /** Cluster of every row, 0..k-1. */
  labels: Int32Array;
  /** Within-cluster sum of squared distances. */
  inertia: number;
}

export function kmeans(points: Matrix<Float64Array>, k: number, options: { seed: number; restarts?: number; maxIter?: number }): KMeansResult {
  const rng = new Rng(options.seed);
  let best: KMeansResult | undefined;
  for (let r = 0; r < (options.restarts ?? 10); r++) {
    const res = lloyd(points, k, seeds(points, k, rng), options.maxIter ?? 100);
    if (!best || res.inertia < best.inertia - 1e-12 * Math.abs(best.inertia)) best = res;
  }
  return { labels: renumber(best!.labels), inertia: best!.inertia };
}

function dist2(x: Float64Array, i: number, c: Float64Array, j: number, d: number): number {
  let s = 0;
  for (let l = 0; l < d; l++) s += (x[i * d + l]! - c[j * d + l]!) ** 2;
  return s;
}

/** k-means++: the first centre uniformly, each next one with probability proportional to D(x)^2. */
function seeds(points: Matrix<Float64Array>, k: number, rng: Rng): Float64Array {
  const { rows: n, cols: d, data } = points;
  const c = new Float64Array(k * d);
  const near = new Float64Array(n).fill(Infinity);
  let pick = rng.int(n);
  for (let j = 0; j < k; j++) {
    c.set(data.subarray(pick * d, (pick + 1) * d), j * d);
    let total = 0;
    for (let i = 0; i < n; i++) {
      near[i] = Math.min(near[i]!, dist2(data, i, c, j, d));
      total += near[i]!;
    }
    if (j + 1 === k) break;
    if (!(total > 0)) {
      pick = rng.int(n);
      continue;
    }
    let u = rng.uniform() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      u -= near[i]!;
      if (u <= 0) {
        pick = i;
        break;
      }
    }
  }
  return c;
}

function lloyd(points: Matrix<Float64Array>, k: number, c: Float64Array, maxIter: number): KMeansResult {
  const { rows: n, cols: d, data } = points;
  const labels = new Int32Array(n).fill(-1);
  let inertia = 0;
  for (let it = 0; it < maxIter; it++) {
    let changed = false;
    inertia = 0;
    for (let i = 0; i < n; i++) {
      let bj = 0;
      let bd = Infinity;
      for (let j = 0; j < k; j++) {
        const v = dist2(data, i, c, j, d);
        if (v < bd) {
          bd = v;
          bj = j;
        }
      }
      if (labels[i] !== bj) changed = true;
      labels[i] = bj;
      inertia += bd;
    }
    if (!changed) break;
    const count = new Int32Array(k);
    const sum = new Float64Array(k * d);
    for (let i = 0; i < n; i++) {
      count[labels[i]!]!++;
      for (let l = 0; l < d; l++) sum[labels[i]! * d + l]! += data[i * d + l]!;
    }
    // An emptied cluster keeps its centre.
    for (let j = 0; j < k; j++) if (count[j]! > 0) for (let l = 0; l < d; l++) c[j * d + l] = sum[j * d + l]! / count[j]!;
  }
  return { labels, inertia };
}

function renumber(labels: Int32Array): Int32Array {
  const map = new Map<number, number>();
  return labels.map((l) => {
    if (!map.has(l)) map.set(l, map.size);
    return map.get(l)!;
  });
}
