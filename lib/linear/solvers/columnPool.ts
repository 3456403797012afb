/**
 * The centred columns of the features that have been in a working set, gathered from X once, and
 * their Gram matrix, kept across the outer iterations of a solve and across the solves of a path:
 * a working set then costs the gathering and Gram rows of its new features only (n k_new k
 * multiply-adds) instead of a pass over X and n k^2 for the whole set. Columns are kept in the
 * order they arrived (slot s holds feature features[s]); when the pool would outgrow its budget it
 * starts again from the working set at hand.
 */
import type { Matrix } from '../../core/matrix.js';
import type { CdDesign, Kernels } from '../../kernels/types.js';

/** Most doubles the pool keeps (columns plus Gram): 2^25 (256 MiB). */
const POOL_BUDGET = 2 ** 25;

export class ColumnPool {
  private readonly slotOf: Int32Array;
  private features = new Int32Array(0);
  private cols = new Float64Array(0);
  /** Gram entries of the pooled columns, cap x cap (row-major; valid for slots < count). */
  private gram = new Float64Array(0);
  private cap = 0;
  private count = 0;
  /** Slots below this have their Gram rows. */
  private gramCount = 0;

  constructor(
    private readonly K: Kernels,
    private readonly design: CdDesign,
    private readonly n: number,
  ) {
    this.slotOf = new Int32Array(design.x.cols).fill(-1);
  }

  /** The number of features of `ws` not yet pooled. */
  missing(ws: Int32Array): number {
    let m = 0;
    for (const j of ws) if (this.slotOf[j]! < 0) m++;
    return m;
  }

  /**
   * The working set's columns (k x n, in ws order) and, when `withGram`, its Gram matrix (k x k),
   * both copied out of the pool after pooling the missing features.
   */
  take(ws: Int32Array, withGram: boolean): { xws: Matrix<Float64Array>; gram?: Matrix<Float64Array> } {
    this.add(ws, withGram);
    const { n } = this;
    const k = ws.length;
    const xws: Matrix<Float64Array> = { rows: k, cols: n, data: new Float64Array(k * n) };
    for (let a = 0; a < k; a++) {
      const s = this.slotOf[ws[a]!]!;
      xws.data.set(this.cols.subarray(s * n, (s + 1) * n), a * n);
    }
    if (!withGram) return { xws };
    const gram: Matrix<Float64Array> = { rows: k, cols: k, data: new Float64Array(k * k) };
    for (let a = 0; a < k; a++) {
      const row = this.slotOf[ws[a]!]! * this.cap;
      for (let b = 0; b < k; b++) gram.data[a * k + b] = this.gram[row + this.slotOf[ws[b]!]!]!;
    }
    return { xws, gram };
  }

  private add(ws: Int32Array, withGram: boolean): void {
    const fresh: number[] = [];
    for (const j of ws) if (this.slotOf[j]! < 0) fresh.push(j);
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

  /** The Gram rows of the slots from gramCount on, against every pooled slot. */
  private fillGram(): void {
    const { n, cap } = this;
    const from = this.gramCount;
    const to = this.count;
    if (from === to) return;
    // Rows from..to of the Gram: X_new X_pool^T ((to - from) x to), mirrored into the columns.
    const block: Matrix<Float64Array> = { rows: to - from, cols: to, data: new Float64Array((to - from) * to) };
    const newRows: Matrix<Float64Array> = { rows: to - from, cols: n, data: this.cols.subarray(from * n, to * n) };
    const all: Matrix<Float64Array> = { rows: to, cols: n, data: this.cols.subarray(0, to * n) };
    this.K.gemm(newRows, all, block, { transB: true });
    for (let a = from; a < to; a++) {
      for (let b = 0; b < to; b++) {
        const v = block.data[(a - from) * to + b]!;
        this.gram[a * cap + b] = v;
        this.gram[b * cap + a] = v;
      }
    }
    this.gramCount = to;
  }

  private grow(cap: number): void {
    const { n } = this;
    const cols = new Float64Array(cap * n);
    cols.set(this.cols.subarray(0, this.count * n));
    const gram = new Float64Array(cap * cap);
    for (let a = 0; a < this.gramCount; a++) gram.set(this.gram.subarray(a * this.cap, a * this.cap + this.gramCount), a * cap);
    const features = new Int32Array(cap);
    features.set(this.features.subarray(0, this.count));
    this.cols = cols;
    this.gram = gram;
    this.features = features;
    this.cap = cap;
  }

  private reset(): void {
    for (let s = 0; s < this.count; s++) this.slotOf[this.features[s]!] = -1;
    this.count = 0;
    this.gramCount = 0;
  }
}
