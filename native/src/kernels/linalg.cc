// Dense linear algebra: GEMM and Gram on simd::gemm; Cholesky solve (LLT), symmetric
// eigendecomposition (SelfAdjointEigenSolver: tridiagonalisation + implicit QL) and thin SVD
// (BDCSVD, divide and conquer, Jacobi for small blocks) on Eigen 3.4, which copies its input into
// aligned storage first, so its results do not depend on where the caller's arrays sit.
// Twin: lib/kernels/js/linalg.ts.
#include "kernels/linalg.h"

#include <algorithm>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/SVD>

#include "runtime/threads.h"
#include "simd/gemm.h"

namespace metatask::linalg {

template <typename T>
void gemm(const CMatMap<T>& a, bool transA, const CMatMap<T>& b, bool transB, MatMap<T>& c, T alpha, T beta, int threads) {
  const int64_t k = transA ? a.rows() : a.cols();
  simd::gemm<T>(c.rows(), c.cols(), k, alpha, a.data(), a.cols(), transA, b.data(), b.cols(), transB, beta, c.data(), c.cols(),
                threads);
}

template void gemm<double>(const CMatMap<double>&, bool, const CMatMap<double>&, bool, MatMap<double>&, double, double, int);
template void gemm<float>(const CMatMap<float>&, bool, const CMatMap<float>&, bool, MatMap<float>&, float, float, int);

void gram(const CMatMap<double>& x, MatMap<double>& out, int threads) {
  // X^T X as one product: entry (i, j) and (j, i) multiply the same pairs in the same order, so the
  // result is exactly symmetric.
  simd::gemm<double>(x.cols(), x.cols(), x.rows(), 1.0, x.data(), x.cols(), true, x.data(), x.cols(), false, 0.0, out.data(),
                     out.cols(), threads);
}

namespace {

// A gather is split over threads only in parts of at least this many bytes (a smaller part costs
// more to hand over than to copy).
constexpr int64_t kMinGatherBytes = int64_t(16) << 10;

}  // namespace

template <typename T>
void gatherRows(const CMatMap<T>& a, const int32_t* rows, MatMap<T>& out, int threads) {
  // Rows of a large matrix in shuffled order (a training batch), copied row by row; with threads,
  // each copies a part of the rows (a copy: no result depends on the split). Prefetching rows
  // eight ahead (with an asm statement: GCC drops a function of nothing but __builtin_prefetch
  // calls as const, so an earlier version's prefetches never reached the binary) changed nothing
  // measurable: 128 rows of 512 bytes out of 32 MiB, 25-27 us either way.
  const int64_t m = out.rows();
  const int64_t cols = a.cols();
  const T* src = a.data();
  T* dst = out.data();
  const int64_t minPart = std::max<int64_t>(1, kMinGatherBytes / std::max<int64_t>(1, cols * int64_t(sizeof(T))));
  runtime::parallelParts(m, minPart, threads, [&](int64_t from, int64_t to) {
    for (int64_t r = from; r < to; ++r) std::copy_n(src + int64_t(rows[r]) * cols, cols, dst + r * cols);
  });
}

template void gatherRows<double>(const CMatMap<double>&, const int32_t*, MatMap<double>&, int);
template void gatherRows<float>(const CMatMap<float>&, const int32_t*, MatMap<float>&, int);

void gatherBlock(const CMatMap<double>& a, const int32_t* rows, const int32_t* cols, MatMap<double>& out) {
  const int64_t m = out.rows();
  const int64_t n = out.cols();
  const int64_t ld = a.cols();
  for (int64_t i = 0; i < m; ++i) {
    const double* src = a.data() + int64_t(rows[i]) * ld;
    double* dst = out.data() + i * n;
    for (int64_t j = 0; j < n; ++j) dst[j] = src[cols[j]];
  }
}

void setBlock(MatMap<double>& out, int64_t row, int64_t col, const CMatMap<double>& a) {
  const int64_t n = a.cols();
  const int64_t ld = out.cols();
  for (int64_t i = 0; i < a.rows(); ++i) std::copy_n(a.data() + i * n, n, out.data() + (row + i) * ld + col);
}

void transpose(const CMatMap<double>& a, MatMap<double>& out) {
  // 32 x 32 tiles: the 32 rows read and the 32 rows written within a tile stay in L1 (a plain
  // loop writes with a stride of a.rows(), one cache miss per element for large matrices).
  const Eigen::Index m = a.rows();
  const Eigen::Index n = a.cols();
  constexpr Eigen::Index kTile = 32;
  const double* src = a.data();
  double* dst = out.data();
  for (Eigen::Index i0 = 0; i0 < m; i0 += kTile) {
    const Eigen::Index i1 = std::min(m, i0 + kTile);
    for (Eigen::Index j0 = 0; j0 < n; j0 += kTile) {
      const Eigen::Index j1 = std::min(n, j0 + kTile);
      for (Eigen::Index j = j0; j < j1; ++j) {
        for (Eigen::Index i = i0; i < i1; ++i) dst[j * m + i] = src[i * n + j];
      }
    }
  }
}

void choleskySolve(const CMatMap<double>& a, const CMatMap<double>& b, MatMap<double>& x) {
  if (a.rows() == 0 || b.cols() == 0) return;  // nothing to solve (and no null-pointer maps into Eigen)
  Eigen::LLT<RowMat<double>> llt(a);
  if (llt.info() != Eigen::Success) throw KernelValueError{"matrix is not positive definite"};
  x = llt.solve(b);
}

void symEig(const CMatMap<double>& a, VecMap<double>& values, MatMap<double>& vectors) {
  if (a.rows() == 0) return;
  Eigen::SelfAdjointEigenSolver<RowMat<double>> solver(a, Eigen::ComputeEigenvectors);
  if (solver.info() != Eigen::Success) throw KernelValueError{"eigendecomposition did not converge"};
  values = solver.eigenvalues();
  vectors = solver.eigenvectors();
}

void svd(const CMatMap<double>& a, MatMap<double>& u, VecMap<double>& s, MatMap<double>& vt) {
  if (a.rows() == 0 || a.cols() == 0) return;
  Eigen::BDCSVD<RowMat<double>> solver(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
  u = solver.matrixU();
  s = solver.singularValues();
  vt = solver.matrixV().transpose();
}

}  // namespace metatask::linalg
