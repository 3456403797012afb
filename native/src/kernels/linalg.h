// Dense linear algebra kernels (twin: lib/kernels/js/linalg.ts).
#pragma once
#include "kernels/common.h"

namespace metatask::linalg {

// C = alpha op(A) op(B) + beta C. With beta == 0, C's old contents are ignored (even NaN).
// At most `threads` threads; the result does not depend on the count.
template <typename T>
void gemm(const CMatMap<T>& a, bool transA, const CMatMap<T>& b, bool transB, MatMap<T>& c, T alpha, T beta, int threads);

// out = X^T X.
void gram(const CMatMap<double>& x, MatMap<double>& out, int threads);
// out (cols x rows) = a^T, by cache tiles.
void transpose(const CMatMap<double>& a, MatMap<double>& out);

// out[i, j] = a[rows[i], cols[j]] (entries in range: checked by the binding).
void gatherBlock(const CMatMap<double>& a, const int32_t* rows, const int32_t* cols, MatMap<double>& out);

// out[row + i, col + j] = a[i, j] for the whole of a (placed inside out: checked by the binding).
void setBlock(MatMap<double>& out, int64_t row, int64_t col, const CMatMap<double>& a);

// Row r of out = row rows[r] of a, for r < out.rows() (entries in [0, a.rows()), checked by the
// binding); on at most `threads` threads.
template <typename T>
void gatherRows(const CMatMap<T>& a, const int32_t* rows, MatMap<T>& out, int threads);

// Solve A X = B (A symmetric positive definite); throws KernelValueError otherwise.
void choleskySolve(const CMatMap<double>& a, const CMatMap<double>& b, MatMap<double>& x);

// Symmetric eigendecomposition from the lower triangle: ascending values, vectors as columns.
void symEig(const CMatMap<double>& a, VecMap<double>& values, MatMap<double>& vectors);

// Thin SVD, k = min(m, n): u m x k, s descending, vt k x n.
void svd(const CMatMap<double>& a, MatMap<double>& u, VecMap<double>& s, MatMap<double>& vt);

}  // namespace metatask::linalg
