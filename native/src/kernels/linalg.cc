// Dense linear algebra on Eigen 3.4: GEMM, Gram, Cholesky solve (LLT), symmetric
// eigendecomposition (SelfAdjointEigenSolver: tridiagonalisation + implicit QL) and thin SVD
// (BDCSVD, divide and conquer, Jacobi for small blocks). Twin: lib/kernels/js/linalg.ts.
#include "kernels/linalg.h"

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
  // SYRK on the lower triangle, then mirror: half the flops of a full GEMM.
  RowMat<double> g = RowMat<double>::Zero(d, d);
  g.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose());
  out = g.selfadjointView<Eigen::Lower>();
}

void choleskySolve(const CMatMap<double>& a, const CMatMap<double>& b, MatMap<double>& x) {
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
