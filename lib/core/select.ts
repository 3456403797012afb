/**
 * The k-th smallest of the values (0-based): the value `values.slice().sort()[k]` gives, in
 * expected linear time instead of a sort's n log n (Hoare's selection, "Algorithm 65: FIND",
 * CACM 4(7), 1961, with median-of-three pivots). Reorders `values`; they must not hold NaN.
 */
export function kthSmallestInPlace(values: Float64Array, k: number): number {
  if (!(k >= 0 && k < values.length)) throw new RangeError(`kthSmallestInPlace: k = ${k} is outside [0, ${values.length})`);
  const a = values;
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    // The median of a[lo], a[mid], a[hi] as the pivot: sorted or reversed input stays linear.
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < a[lo]!) swap(a, mid, lo);
    if (a[hi]! < a[lo]!) swap(a, hi, lo);
    if (a[hi]! < a[mid]!) swap(a, hi, mid);
    const pivot = a[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    // Now a[lo..j] <= pivot <= a[i..hi], and every entry between j and i equals the pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}
