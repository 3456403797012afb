/**
 * The centred columns of the features that have been in a working set, gathered from X once, and
 * their Gram matrix, kept across the outer iterations of a solve and across the solves of a path:
 * a working set then costs the gathering and Gram rows of its new features only (n k_new k
 * multiply-adds) instead of a pass over X and n k^2 for the whole set. Columns are kept in the
 * order they arrived (slot s holds feature features[s]), the Gram matrix packed (count x count).
 * A working set made of every pooled feature (the common case: sets grow) is handed out in slot
 * order as views, without a copy; otherwise its rows are copied out. Pooling never overwrites
 * what a view shows. When the pool would outgrow its budget it starts again, in new buffers, from
 * the working set at hand.
 */
import type { Matrix } from '../../core/matrix.js';
import type { CdDesign, Kernels } from '../../kernels/types.js';

/** Most doubles the pool keeps (columns plus Gram): 2^25 (256 MiB). */
const POOL_BUDGET = 2 ** 25;

export interface PooledSet {
  /** The working set's features in the order of the rows below (slot order when viewed). */
  features: Int32Array;
  /** Their centred columns, k x n. */
  xws: Matrix<Float64Array>;
  /** Their Gram matrix, k x k (when asked for). */
  gram?: Matrix<Float64Array>;
}

export class ColumnPool {
  private readonly slotOf: Int32Array;
  private features = new Int32Array(0);
  private cols = new Float64Array(0);
  /** Gram entries of the slots below gramCount, packed gramCount x gramCount. */
  private gram = new Float64Array(0);
  private cap = 0;
  private count = 0;
  private gramCount = 0;

  constructor(
    private readonly K: Kernels,
    private readonly design: CdDesign,
    private readonly n: number,
  ) {
    this.slotOf = new Int32Array(design.x.cols).fill(-1);
  }

  /** The pooled features, in slot order (a view, valid until the pool changes). */
  pooled(): Int32Array {
    return this.features.subarray(0, this.count);
  }

  /** The number of features of `ws` not yet pooled. */
  missing(ws: Int32Array): number {
    let m = 0;
    for (let c = 0; c < ws.length; c++) if (this.slotOf[ws[c]!]! < 0) m++;
    return m;
  }

  /**
   * The working set's columns (k x n) and, when `withGram`, its Gram matrix (k x k), after pooling
   * the missing features; views of the pool when ws holds exactly the pooled features (then in
   * slot order), else copies in ws order. Valid until the next take.
   */
  take(ws: Int32Array, withGram: boolean): PooledSet {
    this.add(ws, withGram);
    const { n } = this;
    const k = ws.length;
    if (k === this.count && (!withGram || this.gramCount === k)) {
      const features = this.features.slice(0, k);
      const xws: Matrix<Float64Array> = { rows: k, cols: n, data: this.cols.subarray(0, k * n) };
      return withGram ? { features, xws, gram: { rows: k, cols: k, data: this.gram.subarray(0, k * k) } } : { features, xws };
    }
    const xws: Matrix<Float64Array> = { rows: k, cols: n, data: new Float64Array(k * n) };
    for (let a = 0; a < k; a++) {
      const s = this.slotOf[ws[a]!]!;
      xws.data.set(this.cols.subarray(s * n, (s + 1) * n), a * n);
    }
    if (!withGram) return { features: ws, xws };
    const g = this.gramCount;
    const slots = new Int32Array(k);
    for (let a = 0; a < k; a++) slots[a] = this.slotOf[ws[a]!]!;
    const src = this.gram;
    const dst = new Float64Array(k * k);
    for (let a = 0; a < k; a++) {
      const row = slots[a]! * g;
      for (let b = 0; b < k; b++) dst[a * k + b] = src[row + slots[b]!]!;
    }
    return { features: ws, xws, gram: { rows: k, cols: k, data: dst } };
  }

  private add(ws: Int32Array, withGram: boolean): void {
    const fresh: number[] = [];
    for (let c = 0; c < ws.length; c++) if (this.slotOf[ws[c]!]! < 0) fresh.push(ws[c]!);
    if (fresh.length === 0 && (!withGram || this.gramCount === this.count)) return;
    const { n } = this;
    const need = this.count + fresh.length;
    if (need > this.cap) {
      const cap = Math.min(Math.max(2 * this.cap, need, 16), this.design.x.cols);
      if (cap * (n + cap) > POOL_BUDGET && this.count > 0) {
        this.reset();
        this.add(ws, withGram);
        return;
      }
      this.grow(cap);
    }
    const first = this.count;
    if (fresh.length > 0) {
      const idx = Int32Array.from(fresh);
      this.K.cdGatherColumns(this.design, idx, { rows: fresh.length, cols: n, data: this.cols.subarray(first * n, need * n) });
      this.features.set(idx, first);
      for (let c = 0; c < fresh.length; c++) this.slotOf[fresh[c]!] = first + c;
      this.count = need;
    }
    if (withGram) this.fillGram();
  }

  /** The Gram rows of the slots from gramCount on, against every pooled slot (the packed matrix grows). */
  private fillGram(): void {
    const { n } = this;
    const from = this.gramCount;
    const to = this.count;
    if (from === to) return;
    const gram = new Float64Array(to * to);
    for (let a = 0; a < from; a++) gram.set(this.gram.subarray(a * from, (a + 1) * from), a * to);
    // Rows from..to of the Gram: X_new X_pool^T ((to - from) x to), written in place and mirrored
    // into the columns.
    const newRows: Matrix<Float64Array> = { rows: to - from, cols: n, data: this.cols.subarray(from * n, to * n) };
    const all: Matrix<Float64Array> = { rows: to, cols: n, data: this.cols.subarray(0, to * n) };
    const block: Matrix<Float64Array> = { rows: to - from, cols: to, data: gram.subarray(from * to, to * to) };
    this.K.gemm(newRows, all, block, { transB: true });
    for (let a = from; a < to; a++) for (let b = 0; b < from; b++) gram[b * to + a] = gram[a * to + b]!;
    this.gram = gram;
    this.gramCount = to;
  }

  private grow(cap: number): void {
    const { n } = this;
    const cols = new Float64Array(cap * n);
    cols.set(this.cols.subarray(0, this.count * n));
    const features = new Int32Array(cap);
    features.set(this.features.subarray(0, this.count));
    this.cols = cols;
    this.features = features;
    this.cap = cap;
  }

  /** Start again, with new buffers: views handed out before stay valid. */
  private reset(): void {
    for (let s = 0; s < this.count; s++) this.slotOf[this.features[s]!] = -1;
    this.count = 0;
    this.gramCount = 0;
    this.cap = 0;
    this.cols = new Float64Array(0);
    this.features = new Int32Array(0);
    this.gram = new Float64Array(0);
  }
}
