/**
 * The visiting order of sequential gradient surgery, shared by PCGrad and GradVac: each task's
 * gradient starts as itself (c_i = e_i, g_i' = G^T c_i) and is adjusted against every other
 * task j, visited in a fresh random order per task as in both papers' reference code. Only the
 * adjustment differs (PCGrad projects out conflicts, GradVac raises cosines to a target), and the
 * two share this loop so that they draw from the step's rng identically.
 */

/**
 * The adjusted coefficient vectors c_i (length n, in task order); `adjust(c, i, j)` updates c,
 * the coefficients of task i's gradient so far, against the original gradient of task j.
 */
export function sequentialSurgery(
  n: number,
  rng: { permutation(n: number): Int32Array },
  adjust: (c: Float64Array, i: number, j: number) => void,
): Float64Array[] {
  const out: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const c = new Float64Array(n);
    c[i] = 1;
    const order = rng.permutation(n);
    for (const j of order) if (j !== i) adjust(c, i, j);
    out.push(c);
  }
  return out;
}

/** sum_i c_i: the coefficients of the shared direction d = sum_i g_i' = G^T (sum_i c_i). */
export function sumRows(rows: readonly Float64Array[], n: number): Float64Array {
  const total = new Float64Array(n);
  for (const c of rows) for (let k = 0; k < n; k++) total[k] = total[k]! + c[k]!;
  return total;
}
