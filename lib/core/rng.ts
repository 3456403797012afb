/**
 * The one seeded random generator of metatask: xoshiro128** (Blackman & Vigna, "Scrambled linear
 * pseudorandom number generators", 2018), seeded through SplitMix32. 32-bit integer arithmetic
 * only, so the same seed gives the same stream on every platform and Node version.
 * Kernels never draw random numbers; everything random (init, shuffles, dropout masks, task
 * sampling) comes from here, so a seed fixes a run on either backend.
 */

/** SplitMix32's output for the state it has just stepped to (state + 0x9e3779b9). */
function splitmix32(state: number): number {
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return z >>> 0;
}

const SPLITMIX_STEP = 0x9e3779b9;

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  constructor(seed = 0) {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    // Fold the full double (integer part and fraction) into 32 bits so that seeds like 2**40
    // and 0.5 still differ.
    let s = (Math.trunc(seed) | 0) ^ Math.trunc(seed / 4294967296);
    s ^= Math.trunc((seed - Math.trunc(seed)) * 4294967296);
    // Four SplitMix32 steps, without arrays: every fit seeds one of these, in the interpreter at first.
    s = (s + SPLITMIX_STEP) | 0;
    this.s0 = splitmix32(s);
    s = (s + SPLITMIX_STEP) | 0;
    this.s1 = splitmix32(s);
    s = (s + SPLITMIX_STEP) | 0;
    this.s2 = splitmix32(s);
    s = (s + SPLITMIX_STEP) | 0;
    this.s3 = splitmix32(s);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /**
   * Fill `out` with a dropout mask: each entry 0 with probability `rate` (a 32-bit draw below
   * rate * 2^32), else `keep`; one draw per entry, the stream of nextU32 (fillMaskFromState).
   */
  fillMask(out: { length: number; [i: number]: number }, rate: number, keep: number): void {
    const state = this.streamState();
    fillMaskFromState(state, out, rate, keep);
    this.setStreamState(state);
  }

  /**
   * The four words of the generator's state, for a kernel that draws from its stream (the
   * fillMask kernels); setStreamState takes them back. The spare normal deviate stays here.
   */
  streamState(into: Int32Array = new Int32Array(4)): Int32Array {
    into[0] = this.s0;
    into[1] = this.s1;
    into[2] = this.s2;
    into[3] = this.s3;
    return into;
  }

  setStreamState(state: Int32Array): void {
    if (!(state instanceof Int32Array) || state.length !== 4) throw new RangeError('setStreamState: state must be an Int32Array of 4 words');
    this.s0 = state[0]!;
    this.s1 = state[1]!;
    this.s2 = state[2]!;
    this.s3 = state[3]!;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform double in [low, high). */
  range(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!(n >= 1) || !Number.isInteger(n)) throw new RangeError(`int(n) needs a positive integer, got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal draw (Box-Muller, both values used). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: any }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** An independent child generator, seeded from this one's stream. */
  fork(): Rng {
    return new Rng(this.nextU32() ^ (this.nextU32() << 1));
  }

  /** Snapshot of the internal state (for save/load of a training run). */
  getState(): number[] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0, this.spareNormal ?? NaN];
  }

  setState(state: readonly number[]): void {
    if (state.length !== 5) throw new RangeError('Rng state must have 5 entries');
    [this.s0, this.s1, this.s2, this.s3] = state.slice(0, 4).map((x) => x | 0) as [number, number, number, number];
    this.spareNormal = Number.isNaN(state[4]) ? null : (state[4] as number);
  }
}

/**
 * A dropout mask from the xoshiro128** stream whose four words are `state` (Rng.streamState),
 * advanced by out.length draws: out[k] = 0 when the k-th draw is below rate * 2^32, else `keep`.
 * The reference of the fillMask kernels (lib/kernels/js/random.ts and its C++ twin). The generator
 * runs on local copies of the state: a training step's masks have tens of thousands of entries.
 */
export function fillMaskFromState(state: Int32Array, out: { length: number; [i: number]: number }, rate: number, keep: number): void {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`fillMask: rate must be in [0, 1], got ${rate}`);
  if (!Number.isFinite(keep)) throw new RangeError(`fillMask: keep must be a finite number, got ${keep}`);
  const threshold = rate * 4294967296;
  let s0 = state[0]!;
  let s1 = state[1]!;
  let s2 = state[2]!;
  let s3 = state[3]!;
  for (let k = 0; k < out.length; k++) {
    // nextU32's step on the local copies (a test holds the two streams equal).
    const u = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    out[k] = u < threshold ? 0 : keep;
  }
  state[0] = s0;
  state[1] = s1;
  state[2] = s2;
  state[3] = s3;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
