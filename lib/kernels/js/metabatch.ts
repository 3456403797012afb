/**
 * The MAML/ANIL meta-gradient of a whole meta-batch in one call (twin: native/src/kernels/
 * metabatch.cc). It fuses the per-task loop of lib/meta/maml.ts (MAML.taskMetaGradient), written
 * on the handle's own lossGrad and hvp so that it is exactly that algorithm. Per task t (support
 * S_t, query Q_t), from theta_0 = params:
 *     theta_{i+1} = theta_i - a M grad L_S(theta_i)            (k steps; M = diag(innerMask), I without)
 *     v_t = grad L_Q(theta_k)
 *     second order: for i = k-1..0:  v_t <- v_t - a H_S(theta_i) (M v_t)   (exact Hessian-vector products)
 * and grad = (1/T) sum_t v_t (summed in task order, in double), loss = (1/T) sum_t L_Q(theta_k^t),
 * where L is the sum of the heads' mean losses (a meta-learner's network has one head).
 * Vectors are stored in the handle's dtype exactly where maml.ts stores them. The native twin runs
 * the tasks on several threads with the same result; here they run one after another.
 */
import { ShapeError } from '../../core/errors.js';
import { allocate, type FloatArray, type Matrix } from '../../core/matrix.js';
import type { MetaBatchTasks, MetaGradientOptions, NetworkBatch, NetworkHandle } from '../types.js';

interface Scratch {
  traj: FloatArray[];
  g: FloatArray;
  v: FloatArray;
  mv: FloatArray;
  hv: FloatArray;
  ones: Float64Array;
}

const scratchOf = new WeakMap<object, Scratch>();

function scratch(handle: NetworkHandle<FloatArray>, k: number, heads: number): Scratch {
  const P = handle.paramCount;
  let s = scratchOf.get(handle);
  if (!s || s.ones.length !== heads) {
    const a = (): FloatArray => allocate(handle.dtype, P);
    s = { traj: [], g: a(), v: a(), mv: a(), hv: a(), ones: new Float64Array(heads).fill(1) };
    scratchOf.set(handle, s);
  }
  while (s.traj.length < k + 1) s.traj.push(allocate(handle.dtype, P));
  return s;
}

/** Rows from..to-1 of a row-major matrix, as a view. */
function rows<T extends FloatArray>(m: Matrix<T>, from: number, to: number): Matrix<T> {
  return { rows: to - from, cols: m.cols, data: m.data.subarray(from * m.cols, to * m.cols) as T };
}

function check<T extends FloatArray>(handle: NetworkHandle<T>, params: T, tasks: MetaBatchTasks<T>, o: MetaGradientOptions, grad: Float64Array): void {
  const P = handle.paramCount;
  const fn = 'network.metaGradient';
  const dt = handle.dtype === 'float32' ? Float32Array : Float64Array;
  if (!(params instanceof dt) || params.length !== P) throw new ShapeError(`${fn}: params must be a ${dt.name} of length ${P}`);
  for (const [name, mat] of [['x', tasks?.x], ['y', tasks?.y]] as const) {
    if (!mat || !(mat.data instanceof dt) || mat.data.length !== mat.rows * mat.cols) throw new ShapeError(`${fn}: ${name} must be a ${dt.name} matrix { rows, cols, data }`);
  }
  const off = tasks.offsets;
  if (!(off instanceof Int32Array) || off.length < 3 || off.length % 2 !== 1) {
    throw new ShapeError(`${fn}: offsets must be an Int32Array of 2T+1 entries (support and query row ranges of T >= 1 tasks)`);
  }
  const n = tasks.x?.rows;
  if (off[0] !== 0 || off[off.length - 1] !== n) throw new ShapeError(`${fn}: offsets must start at 0 and end at the row count of x (${n})`);
  for (let i = 1; i < off.length; i++) {
    if (off[i]! <= off[i - 1]!) throw new ShapeError(`${fn}: offsets must be strictly increasing (every support and query set needs a row); offsets[${i}] = ${off[i]}`);
  }
  if (!tasks.y || tasks.y.rows !== n) throw new ShapeError(`${fn}: y must have the ${n} rows of x`);
  if (!(typeof o?.innerLr === 'number' && Number.isFinite(o.innerLr) && o.innerLr >= 0)) throw new ShapeError(`${fn}: innerLr must be a finite number >= 0`);
  if (!(Number.isInteger(o.innerSteps) && o.innerSteps >= 0 && o.innerSteps <= 100000)) throw new ShapeError(`${fn}: innerSteps must be an integer in [0, 100000]`);
  if (typeof o.firstOrder !== 'boolean') throw new ShapeError(`${fn}: firstOrder must be a boolean`);
  const m = o.innerMask;
  if (m != null && (!(m instanceof Uint8Array) || m.length !== P)) throw new ShapeError(`${fn}: innerMask must be null or a Uint8Array of length ${P}`);
  if (!(grad instanceof Float64Array) || grad.length !== P) throw new ShapeError(`${fn}: grad must be a Float64Array of length ${P}`);
}

/**
 * grad <- the mean meta-gradient of the stacked tasks; returns the mean query loss. `heads` is the
 * network's head count. Shapes and dtypes of x, y and params are checked by the handle's kernels.
 */
export function metaGradient<T extends FloatArray>(
  handle: NetworkHandle<T>, heads: number, params: T, tasks: MetaBatchTasks<T>, o: MetaGradientOptions, grad: Float64Array,
): number {
  check(handle, params, tasks, o, grad);
  const P = handle.paramCount;
  const k = o.innerSteps;
  const a = o.innerLr;
  const m = o.innerMask ?? null;
  const off = tasks.offsets;
  const T = (off.length - 1) / 2;
  const s = scratch(handle as unknown as NetworkHandle<FloatArray>, k, heads);
  const traj = s.traj as T[];
  const g = s.g as T;
  const v = s.v as T;
  const mv = s.mv as T;
  const hv = s.hv as T;
  grad.fill(0);
  let loss = 0;
  for (let t = 0; t < T; t++) {
    const support: NetworkBatch<T> = { x: rows(tasks.x, off[2 * t]!, off[2 * t + 1]!), y: rows(tasks.y, off[2 * t]!, off[2 * t + 1]!) };
    const query: NetworkBatch<T> = { x: rows(tasks.x, off[2 * t + 1]!, off[2 * t + 2]!), y: rows(tasks.y, off[2 * t + 1]!, off[2 * t + 2]!) };
    traj[0]!.set(params);
    for (let i = 0; i < k; i++) {
      handle.lossGrad(traj[i]!, support, s.ones, g);
      const phi = traj[i]!;
      const next = traj[i + 1]!;
      if (!m) for (let j = 0; j < P; j++) next[j] = phi[j]! - a * g[j]!;
      else for (let j = 0; j < P; j++) next[j] = m[j] ? phi[j]! - a * g[j]! : phi[j]!;
    }
    const losses = handle.lossGrad(traj[k]!, query, s.ones, v);
    for (let h = 0; h < losses.length; h++) loss += losses[h]!;
    if (!o.firstOrder && k > 0) {
      for (let i = k - 1; i >= 0; i--) {
        if (m) for (let j = 0; j < P; j++) mv[j] = m[j] ? v[j]! : 0;
        handle.hvp(traj[i]!, support, s.ones, m ? mv : v, hv);
        for (let j = 0; j < P; j++) v[j] = v[j]! - a * hv[j]!;
      }
    }
    for (let j = 0; j < P; j++) grad[j] = grad[j]! + v[j]!;
  }
  for (let j = 0; j < P; j++) grad[j] = grad[j]! / T;
  return loss / T;
}
