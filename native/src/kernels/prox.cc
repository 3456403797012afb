// Proximal operators (twin: lib/kernels/js/prox.ts).
// - groupSoftThreshold: prox of threshold * sum_j ||W[j,:]||_2 (the l2,1 norm), row-wise
//   W[j,:] <- max(0, 1 - threshold / ||W[j,:]||) W[j,:] (Yuan & Lin 2006; Parikh & Boyd,
//   "Proximal Algorithms", 2014, sec. 6.5.4).
// - svt: prox of threshold * ||W||_* (trace norm), U max(S - threshold, 0) V^T
//   (Cai, Candes & Shen, SIAM J. Optim. 20, 2010), on Eigen's BDCSVD (divide and conquer).
#include "kernels/prox.h"

#include <Eigen/SVD>
#include <algorithm>
#include <cmath>

#include "simd/gemm.h"
#include "simd/ops.h"

namespace metatask::prox {

int64_t groupSoftThreshold(MatMap<double>& w, double threshold) {
  int64_t nonZero = 0;
  const int64_t cols = w.cols();
  const simd::Ops& o = simd::ops();
  for (int64_t j = 0; j < w.rows(); ++j) {
    double* r = w.data() + j * cols;  // contiguous (row-major)
    const double nrm = std::sqrt(o.ddot(r, r, cols));
    // `nrm > threshold` is false for an all-zero row even at threshold 0, which avoids 0/0.
    if (nrm > threshold) {
      const double f = 1.0 - threshold / nrm;
      for (int64_t k = 0; k < cols; ++k) r[k] *= f;
      ++nonZero;
    } else {
      std::fill(r, r + cols, 0.0);
    }
  }
  return nonZero;
}

SvtStats svt(const CMatMap<double>& w, double threshold, MatMap<double>& out) {
  out.setZero();
  if (w.rows() == 0 || w.cols() == 0) return {0, 0.0};
  Eigen::BDCSVD<RowMat<double>> solver(w, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Vec<double>& s = solver.singularValues();
  // s is descending, so the kept singular values are a prefix.
  Eigen::Index rank = 0;
  double nuclear = 0.0;
  while (rank < s.size() && s[rank] > threshold) {
    nuclear += s[rank] - threshold;
    ++rank;
  }
  if (rank == 0) return {0, 0.0};
  // out = (U_r diag(s_r - threshold)) V_r^T, the product on simd::gemm.
  RowMat<double> us = solver.matrixU().leftCols(rank);
  for (Eigen::Index q = 0; q < rank; ++q) us.col(q) *= s[q] - threshold;
  const RowMat<double> v = solver.matrixV().leftCols(rank);
  simd::gemm<double>(w.rows(), w.cols(), rank, 1.0, us.data(), rank, false, v.data(), rank, true, 0.0, out.data(), w.cols());
  return {static_cast<int64_t>(rank), nuclear};
}

}  // namespace metatask::prox
