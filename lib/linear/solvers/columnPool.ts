/**
 * The features that have been in a working set, with their Gram matrix and (for residual-form
 * solves) their gathered centred columns, kept across the outer iterations of a solve and across
 * the solves of a path: a working set then costs the Gram rows (and columns) of its new features
 * only (n k_new k multiply-adds) instead of n k^2 for the whole set. Features keep the slot they
 * arrived in (slot s holds feature features[s]); the Gram matrix is packed (count x count) and
 * computed from X in place (cdGramColumns), so a Gram-form solve gathers no column: on n-heavy
 * problems the gathered copy (k x n) cost more in fresh memory than the products. Columns are
 * gathered only when a residual-form solve asks for them. A working set made of every pooled
 * feature (the common case: sets grow) is handed out in slot order as views, without a copy;
 * otherwise its rows are copied out. Pooling never overwrites what a view shows. When the pool
 * would outgrow its budget it starts again, in new buffers, from the working set at hand.
 */
import type { Matrix } from '../../core/matrix.js';
import { BufferLease } from '../../core/bufferLease.js';
import type { CdDesign, Kernels } from '../../kernels/types.js';

/** Most doubles the pool keeps (columns plus Gram): 2^25 (256 MiB). */
const POOL_BUDGET = 2 ** 25;
/**
 * The gathered columns' buffer is first allocated with room for this many doubles (32 MiB, at
 * most d columns), so that it seldom grows: a grown buffer is new memory that the old columns are
 * copied into, and on a process's first fit every page of it is a fresh page fault. Pages past
 * the gathered columns are never written, so the room costs address space only (its pages are
 * faulted in as columns are gathered into them: f64Room, prefaultView), and the buffer stays small
 * enough to be kept for the next fits (BufferLease).
 */
const COLUMN_ROOM = 2 ** 22;

export interface PooledSet {
  /** The working set's features in the order of the rows below (slot order when viewed). */
  features: Int32Array;
  /** Their centred columns, k x n (when asked for: residual form). */
  xws?: Matrix<Float64Array>;
  /** Their Gram matrix, k x k (when asked for: Gram form). */
  gram?: Matrix<Float64Array>;
}

/** A PooledSet, always of the same hidden class (ColumnPool.take). */
function pooledSet(features: Int32Array, xws: Matrix<Float64Array> | undefined, gram: Matrix<Float64Array> | undefined): PooledSet {
  return { features, xws, gram };
}

/** What a take needs: the Gram matrix (Gram form) or the gathered columns (residual form). */
export type PoolNeed = 'gram' | 'columns';

export class ColumnPool {
  private readonly slotOf: Int32Array;
  private features = new Int32Array(0);
  /** Gathered columns of the slots below colCount, k x n (room for cap rows once allocated). */
  private cols = new Float64Array(0);
  /** Gram entries of the slots below gramCount, packed gramCount x gramCount. */
  private gram = new Float64Array(0);
  private cap = 0;
  private count = 0;
  private colCount = 0;
  private gramCount = 0;

  constructor(
    private readonly K: Kernels,
    private readonly design: CdDesign,
    private readonly n: number,
    /** The whole Gram matrix Xc^T Xc (d x d) when precomputed: Gram entries are then copied from it. */
    private readonly fullGram?: Matrix<Float64Array>,
    /** Where the buffers come from (the state's lease). */
    private readonly lease = new BufferLease(),
  ) {
    this.slotOf = lease.i32(design.x.cols).fill(-1);
  }

  /** The pooled features, in slot order (a view, valid until the pool changes). */
  pooled(): Int32Array {
    return this.features.subarray(0, this.count);
  }

  /**
   * The Gram entries a Gram-form take of `ws` would compute (fillGram): a row for every slot pooled
   * since the Gram was last filled (features pooled for a residual-form solve, and those `ws` adds),
   * each against every pooled feature, not only against the set's own.
   */
  gramEntriesToFill(ws: Int32Array): number {
    let fresh = 0;
    for (let c = 0; c < ws.length; c++) if (this.slotOf[ws[c]!]! < 0) fresh++;
    const to = this.count + fresh;
    if (this.outgrows(to)) return ws.length * ws.length;
    return (to - this.gramCount) * to;
  }

  /**
   * The working set's Gram matrix (k x k, need 'gram') or centred columns (k x n, need
   * 'columns'), after pooling the missing features; views of the pool when ws holds exactly the
   * pooled features (then in slot order), else copies in ws order. Valid until the next take.
   */
  take(ws: Int32Array, need: PoolNeed): PooledSet {
    this.add(ws);
    const k = ws.length;
    if (need === 'gram') this.fillGram();
    else this.fillColumns();
    const { n } = this;
    // Every set comes as one shape of object, both fields present (one undefined): the solver's
    // code optimised on sets of one form was thrown away at the first set of the other (a 'wrong
    // map' deoptimisation of solveEnet, then about 19 ms of compiling it again, in a CV fit).
    if (k === this.count) {
      const features = this.features.slice(0, k);
      return need === 'gram'
        ? pooledSet(features, undefined, { rows: k, cols: k, data: this.gram.subarray(0, k * k) })
        : pooledSet(features, { rows: k, cols: n, data: this.cols.subarray(0, k * n) }, undefined);
    }
    const slots = slotsOf(this.slotOf, ws);
    if (need === 'columns') {
      const xws: Matrix<Float64Array> = { rows: k, cols: n, data: this.lease.f64Uncleared(k * n) };
      this.K.gatherRows({ rows: this.colCount, cols: n, data: this.cols.subarray(0, this.colCount * n) }, slots, xws);
      return pooledSet(ws, xws, undefined);
    }
    // The copy by kernel (gatherBlock), the slots by a small function of their own: a take() made
    // hot by its own loops was optimised with everything it calls inlined, at about 8 ms of
    // compiling in each of a process's first fits.
    const g = this.gramCount;
    const gram: Matrix<Float64Array> = { rows: k, cols: k, data: this.lease.f64Uncleared(k * k) };
    this.K.gatherBlock({ rows: g, cols: g, data: this.gram }, slots, slots, gram);
    return pooledSet(ws, undefined, gram);
  }

  /** Slots for the features of ws not yet pooled (no columns, no Gram rows yet). */
  private add(ws: Int32Array): void {
    const fresh: number[] = [];
    for (let c = 0; c < ws.length; c++) if (this.slotOf[ws[c]!]! < 0) fresh.push(ws[c]!);
    if (fresh.length === 0) return;
    const need = this.count + fresh.length;
    if (need > this.cap) {
      if (this.outgrows(need)) {
        this.reset();
        this.add(ws);
        return;
      }
      const cap = this.grownCap(need);
      const features = new Int32Array(cap);
      features.set(this.features.subarray(0, this.count));
      this.features = features;
      this.cap = cap;
    }
    for (let c = 0; c < fresh.length; c++) {
      this.features[this.count + c] = fresh[c]!;
      this.slotOf[fresh[c]!] = this.count + c;
    }
    this.count = need;
  }

  /** The capacity the pool grows to for `need` features. */
  private grownCap(need: number): number {
    return Math.min(Math.max(2 * this.cap, need, 16), this.design.x.cols);
  }

  /**
   * Whether pooling `need` features starts the pool again (add): it must grow, and the grown pool
   * would pass its budget, which counts the columns too, whether or not a residual-form solve
   * gathers them.
   */
  private outgrows(need: number): boolean {
    if (need <= this.cap || this.count === 0) return false;
    const cap = this.grownCap(need);
    return cap * (this.n + cap) > POOL_BUDGET;
  }

  /** The gathered columns of the slots from colCount on (the buffer grows with the slots). */
  private fillColumns(): void {
    const { n } = this;
    const from = this.colCount;
    const to = this.count;
    if (from === to) return;
    if (to * n > this.cols.length) {
      // Not cleared: rows below `to` are copied or gathered here, the rows above by the gathers that
      // pool their features, before a take hands them out (clearing a reused 20 MB buffer cost a
      // millisecond that the gathers then overwrote).
      const rows = Math.max(this.cap, Math.min(this.design.x.cols, Math.floor(COLUMN_ROOM / n)));
      const cols = this.lease.f64Room(rows * n);
      this.lease.prefaultView(cols.subarray(0, from * n));
      cols.set(this.cols.subarray(0, from * n));
      this.cols = cols;
    }
    this.lease.prefaultView(this.cols.subarray(from * n, to * n));
    const idx = this.features.subarray(from, to);
    this.K.cdGatherColumns(this.design, idx, { rows: to - from, cols: n, data: this.cols.subarray(from * n, to * n) });
    this.colCount = to;
  }

  /** The Gram rows of the slots from gramCount on, against every pooled slot (the packed matrix grows). */
  private fillGram(): void {
    const from = this.gramCount;
    const to = this.count;
    if (from === to) return;
    const gram = this.lease.f64Uncleared(to * to);
    const grown: Matrix<Float64Array> = { rows: to, cols: to, data: gram };
    // Copies by kernel (setBlock): a row-by-row copy here made a view per row, run unoptimised
    // through a process's first fits.
    if (from > 0) this.K.setBlock(grown, 0, 0, { rows: from, cols: from, data: this.gram.subarray(0, from * from) });
    // Rows from..to of the Gram, X_new^T X_pool ((to - from) x to), from X in place; mirrored
    // into the columns.
    const block: Matrix<Float64Array> = { rows: to - from, cols: to, data: gram.subarray(from * to, to * to) };
    if (this.fullGram) this.K.gatherBlock(this.fullGram, this.features.subarray(from, to), this.features.subarray(0, to), block);
    else this.K.cdGramColumns(this.design, this.features.subarray(from, to), this.features.subarray(0, to), block);
    if (from > 0) {
      // The new rows into the old rows' new columns: the block transposed, its first `from` rows
      // set into place.
      const m = to - from;
      const t: Matrix<Float64Array> = { rows: to, cols: m, data: this.lease.f64Uncleared(to * m) };
      this.K.transpose(block, t);
      this.K.setBlock(grown, 0, from, { rows: from, cols: m, data: t.data.subarray(0, from * m) });
    }
    this.gram = gram;
    this.gramCount = to;
  }

  /** Start again, with new buffers: views handed out before stay valid. */
  private reset(): void {
    for (let s = 0; s < this.count; s++) this.slotOf[this.features[s]!] = -1;
    this.count = 0;
    this.colCount = 0;
    this.gramCount = 0;
    this.cap = 0;
    this.cols = new Float64Array(0);
    this.features = new Int32Array(0);
    this.gram = new Float64Array(0);
  }
}

/** The slots of the features of ws. */
function slotsOf(slotOf: Int32Array, ws: Int32Array): Int32Array {
  const slots = new Int32Array(ws.length);
  for (let a = 0; a < ws.length; a++) slots[a] = slotOf[ws[a]!]!;
  return slots;
}
