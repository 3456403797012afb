/**
 * The seeded generator's stream is a contract (a seed fixes a run, across versions): Rng(seed)
 * must give xoshiro128** (Blackman & Vigna 2018) from four SplitMix32 outputs of the folded seed.
 * Checked against a plain reference written from the two algorithms' definitions.
 */
import { expect } from 'chai';

import { Rng } from '../lib/core/rng.js';

/** The seed folded into 32 bits as Rng documents it: integer part, its high word and the fraction. */
function foldSeed(seed: number): number {
  let s = (Math.trunc(seed) | 0) ^ Math.trunc(seed / 4294967296);
  s ^= Math.trunc((seed - Math.trunc(seed)) * 4294967296);
  return s | 0;
}

/** SplitMix32 (Steele, Lea & Flood's SplitMix with 32-bit constants): four outputs from a state. */
function splitMix32Outputs(state: number, count: number): number[] {
  const out: number[] = [];
  let s = state >>> 0;
  for (let i = 0; i < count; i++) {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    out.push((z ^ (z >>> 16)) >>> 0);
  }
  return out;
}

/** xoshiro128**: result = rotl(s1 * 5, 7) * 9; then the xor-shift update of the state. */
function xoshiro128ss(state: number[], count: number): number[] {
  const s = state.map((v) => v >>> 0);
  if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1;
  const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0);
    const t = (s[1]! << 9) >>> 0;
    s[2] = (s[2]! ^ s[0]!) >>> 0;
    s[3] = (s[3]! ^ s[1]!) >>> 0;
    s[1] = (s[1]! ^ s[2]!) >>> 0;
    s[0] = (s[0]! ^ s[3]!) >>> 0;
    s[2] = (s[2]! ^ t) >>> 0;
    s[3] = rotl(s[3]!, 11);
  }
  return out;
}

describe('Rng stream', () => {
  for (const seed of [0, 1, 42, -7, 0.5, 2 ** 40, 123456789.25]) {
    it(`seed ${seed}: xoshiro128** seeded by SplitMix32`, () => {
      const rng = new Rng(seed);
      const got = Array.from({ length: 64 }, () => rng.nextU32());
      expect(got).to.deep.equal(xoshiro128ss(splitMix32Outputs(foldSeed(seed), 4), 64));
    });
  }

  it('two generators of one seed give one stream, of different seeds different ones', () => {
    const a = new Rng(9);
    const b = new Rng(9);
    const c = new Rng(10);
    const draw = (r: Rng) => Array.from({ length: 16 }, () => r.nextU32());
    const [sa, sb, sc] = [draw(a), draw(b), draw(c)];
    expect(sa).to.deep.equal(sb);
    expect(sa).to.not.deep.equal(sc);
  });
});
