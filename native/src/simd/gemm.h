// General matrix product for every kernel that multiplies matrices (dense layers, convolutions
// through im2col, Gram matrices, the gemm kernel itself), on the level chosen at load.
#pragma once
#include "config.h"

#include <cstdint>

namespace metatask::simd {

// C = alpha op(A) op(B) + beta C for row-major A, B, C with leading dimensions lda, ldb, ldc;
// op(A) is m x k (A^T when transA), op(B) k x n. beta == 0 ignores C's old contents (even NaN).
// Uses at most `threads` threads. The result is a function of the values alone: the same for
// any buffer addresses, any thread count and any split of C (simd/ops.h describes the order of
// every sum); it differs between SIMD levels by rounding only.
template <typename T>
void gemm(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, bool transA, const T* b, int64_t ldb,
          bool transB, T beta, T* c, int64_t ldc, int threads = 1);

extern template void gemm<float>(int64_t, int64_t, int64_t, float, const float*, int64_t, bool, const float*, int64_t,
                                 bool, float, float*, int64_t, int);
extern template void gemm<double>(int64_t, int64_t, int64_t, double, const double*, int64_t, bool, const double*,
                                  int64_t, bool, double, double*, int64_t, int);

}  // namespace metatask::simd
