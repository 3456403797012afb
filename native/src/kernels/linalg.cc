// Dense linear algebra on Eigen 3.4: GEMM, Gram, Cholesky solve (LLT), symmetric
// eigendecomposition (SelfAdjointEigenSolver: tridiagonalisation + implicit QL) and thin SVD
// (BDCSVD, divide and conquer, Jacobi for small blocks). Twin: lib/kernels/js/linalg.ts.
#include "kernels/linalg.h"

#include <algorithm>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/SVD>

namespace metatask::linalg {

template <typename T>
void gemm(const CMatMap<T>& a, bool transA, const CMatMap<T>& b, bool transB, MatMap<T>& c, T alpha, T beta) {
  if (beta == T(0)) {
    c.setZero();
  } else if (beta != T(1)) {
    c *= beta;
  }
  if (a.size() == 0 || b.size() == 0 || alpha == T(0)) return;
  // noalias: C never aliases A or B (the binding rejects shared buffers).
  if (!transA && !transB) c.noalias() += alpha * a * b;
  else if (transA && !transB) c.noalias() += alpha * a.transpose() * b;
  else if (!transA && transB) c.noalias() += alpha * a * b.transpose();
  else c.noalias() += alpha * a.transpose() * b.transpose();
}

template void gemm<double>(const CMatMap<double>&, bool, const CMatMap<double>&, bool, MatMap<double>&, double, double);
template void gemm<float>(const CMatMap<float>&, bool, const CMatMap<float>&, bool, MatMap<float>&, float, float);

void gram(const CMatMap<double>& x, MatMap<double>& out) {
  const Eigen::Index d = x.cols();
  // No rows: X^T X = 0. Returning early also keeps Eigen from touching an empty map's null data
  // pointer (undefined behaviour that UBSan reports, though nothing is read).
  if (x.rows() == 0) {
    out.setZero();
    return;
  }
  // SYRK on the lower triangle, then mirror: half the flops of a full GEMM.
  RowMat<double> g = RowMat<double>::Zero(d, d);
  g.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
  out = g.selfadjointView<Eigen::Lower>();
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
