// Proximal operators (twin: lib/kernels/js/prox.ts).
// - groupSoftThreshold: prox of threshold * sum_j ||W[j,:]||_2 (the l2,1 norm), row-wise
//   W[j,:] <- max(0, 1 - threshold / ||W[j,:]||) W[j,:] (Yuan & Lin 2006; Parikh & Boyd,
//   "Proximal Algorithms", 2014, sec. 6.5.4).
// - svt: prox of threshold * ||W||_* (trace norm), U max(S - threshold, 0) V^T
//   (Cai, Candes & Shen, SIAM J. Optim. 20, 2010), on Eigen's BDCSVD (divide and conquer).
#include "kernels/prox.h"

#include <Eigen/SVD>
#include <cmath>

namespace metatask::prox {

int64_t groupSoftThreshold(MatMap<double>& w, double threshold) {
  int64_t nonZero = 0;
  for (Eigen::Index j = 0; j < w.rows(); ++j) {
    auto r = w.row(j);  // contiguous (row-major)
    const double nrm = std::sqrt(r.squaredNorm());
    // `nrm > threshold` is false for an all-zero row even at threshold 0, which avoids 0/0.
    if (nrm > threshold) {
      r *= 1.0 - threshold / nrm;
      ++nonZero;
    } else {
      r.setZero();
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
  const Vec<double> shrunk = s.head(rank).array() - threshold;
  out.noalias() = solver.matrixU().leftCols(rank) * shrunk.asDiagonal() * solver.matrixV().leftCols(rank).transpose();
  return {static_cast<int64_t>(rank), nuclear};
}

}  // namespace metatask::prox
