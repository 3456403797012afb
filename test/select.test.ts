/**
 * kthSmallestInPlace (lib/core/select.ts), the selection the working-set solver uses to pick the
 * features closest to their dual constraint: it must return exactly what a sort would, ties and
 * signed zeros included, on inputs that break naive pivots.
 */
import { expect } from 'chai';

import { Rng } from '../lib/core/rng.js';
import { kthSmallestInPlace } from '../lib/core/select.js';

function bySort(values: Float64Array, k: number): number {
  return values.slice().sort()[k]!;
}

describe('kthSmallestInPlace', () => {
  const rng = new Rng(7);
  const inputs: [string, Float64Array][] = [
    ['random', Float64Array.from({ length: 1000 }, () => rng.normal())],
    ['many ties', Float64Array.from({ length: 500 }, () => Math.floor(rng.uniform() * 5))],
    ['sorted', Float64Array.from({ length: 300 }, (_, i) => i)],
    ['reversed', Float64Array.from({ length: 300 }, (_, i) => -i)],
    ['all equal', new Float64Array(64).fill(2.5)],
    ['signed zeros and infinities', Float64Array.from([0, -0, 3, -Infinity, -0, 1, Infinity, 0, -2])],
    ['one value', Float64Array.of(4)],
    ['two values', Float64Array.of(9, -1)],
  ];
  for (const [name, values] of inputs)
    it(`${name}: every k gives the sorted array's k-th entry`, () => {
      const ks = values.length <= 64 ? Array.from(values, (_, k) => k) : [0, 1, 2, values.length >> 1, values.length - 2, values.length - 1, 17, 123];
      for (const k of ks) {
        // === : the solver compares scores with < and ===, for which -0 and 0 are one value.
        expect(kthSmallestInPlace(values.slice(), k), `${name}, k = ${k}`).to.equal(bySort(values, k));
      }
    });

  it('reorders its argument only (the same multiset of values)', () => {
    const values = Float64Array.from({ length: 200 }, () => rng.normal());
    const copy = values.slice();
    kthSmallestInPlace(copy, 50);
    expect(Array.from(copy.slice().sort())).to.deep.equal(Array.from(values.slice().sort()));
  });

  it('rejects a k outside the array with a RangeError', () => {
    expect(() => kthSmallestInPlace(new Float64Array(3), 3)).to.throw(RangeError, /k = 3 is outside \[0, 3\)/);
    expect(() => kthSmallestInPlace(new Float64Array(0), 0)).to.throw(RangeError);
    expect(() => kthSmallestInPlace(new Float64Array(3), -1)).to.throw(RangeError);
  });
});
