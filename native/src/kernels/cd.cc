// One sweep of block coordinate descent for the multi-task elastic net, as scikit-learn's
// enet_coordinate_descent_multi_task (sklearn/linear_model/_cd_fast.pyx), minimising
//   (1/2) ||Y - X W||_F^2 + l1Reg sum_j ||W[j,:]||_2 + (l2Reg/2) ||W||_F^2
// by exact minimisation over one row W[j,:] at a time (Friedman, Hastie & Tibshirani, J. Stat.
// Softw. 33, 2010; Obozinski, Taskar & Jordan 2010):
//   tmp = X[:,j]^T R + ||X[:,j]||^2 W[j,:]
//   W[j,:] = tmp max(0, 1 - l1Reg / ||tmp||) / (||X[:,j]||^2 + l2Reg)
//   R -= X[:,j] (W[j,:]_new - W[j,:]_old)
// Twin: lib/kernels/js/cd.ts. X and R arrive transposed (xt d x n, rt T x n) so every dot
// product and residual update runs along a contiguous row and vectorises.
#include "kernels/cd.h"

#include <algorithm>
#include <cmath>

namespace metatask::cd {

SweepStats mtenetSweep(const CMatMap<double>& xt, MatMap<double>& rt, MatMap<double>& w,
                       const CVecMap<double>& colNormSq, double l1Reg, double l2Reg,
                       const int32_t* order, int64_t orderLen) {
  const Eigen::Index n = xt.cols();
  const Eigen::Index T = w.cols();
  // Scratch allocated once per sweep, never inside the feature loop.
  Vec<double> tmp(T);
  Vec<double> wOld(T);
  double wMax = 0.0;
  double dwMax = 0.0;
  for (int64_t o = 0; o < orderLen; ++o) {
    const Eigen::Index j = order[o];
    const double cj = colNormSq[j];
    // An all-zero feature cannot change the fit; scikit-learn leaves it alone and does not count
    // it in wMax / dwMax.
    if (cj == 0.0) continue;
    const double* xj = xt.data() + j * n;
    double* wj = w.data() + j * T;
    CVecMap<double> x(xj, n);
    double nrmSq = 0.0;
    for (Eigen::Index t = 0; t < T; ++t) {
      wOld[t] = wj[t];
      const double v = CVecMap<double>(rt.data() + t * n, n).dot(x) + cj * wj[t];
      tmp[t] = v;
      nrmSq += v * v;
    }
    const double nrm = std::sqrt(nrmSq);
    // Group soft-threshold then ridge shrinkage; `nrm > l1Reg` also covers nrm = 0 (no 0/0).
    const double shrink = nrm > l1Reg ? (1.0 - l1Reg / nrm) / (cj + l2Reg) : 0.0;
    double dw = 0.0;
    double wa = 0.0;
    for (Eigen::Index t = 0; t < T; ++t) {
      const double next = tmp[t] * shrink;
      wj[t] = next;
      const double delta = next - wOld[t];
      // Skipping unchanged tasks saves a pass over n samples per zero row, the common case for
      // sparse solutions.
      if (delta != 0.0) VecMap<double>(rt.data() + t * n, n).noalias() -= delta * x;
      dw = std::max(dw, std::abs(delta));
      wa = std::max(wa, std::abs(next));
    }
    dwMax = std::max(dwMax, dw);
    wMax = std::max(wMax, wa);
  }
  return {wMax, dwMax};
}

}  // namespace metatask::cd
