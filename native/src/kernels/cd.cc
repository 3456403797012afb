// One sweep of block coordinate descent for the multi-task elastic net, as scikit-learn's
// enet_coordinate_descent_multi_task (sklearn/linear_model/_cd_fast.pyx), minimising
//   (1/2) ||Y - X W||_F^2 + l1Reg sum_j ||W[j,:]||_2 + (l2Reg/2) ||W||_F^2
// by exact minimisation over one row W[j,:] at a time (Friedman, Hastie & Tibshirani, J. Stat.
// Softw. 33, 2010; Obozinski, Taskar & Jordan 2010):
//   tmp = X[:,j]^T R + ||X[:,j]||^2 W[j,:]
//   W[j,:] = tmp max(0, 1 - l1Reg / ||tmp||) / (||X[:,j]||^2 + l2Reg)
//   R -= X[:,j] (W[j,:]_new - W[j,:]_old)
// Twin: lib/kernels/js/cd.ts. X and R arrive transposed (xt d x n, rt T x n) so every dot
// product and residual update runs along a contiguous row and vectorises; the residual update
// of one feature is fused with the dot products of the next (one pass over R per feature).
#include "kernels/cd.h"

#include <algorithm>
#include <cmath>

namespace metatask::cd {

namespace {
// Residual rows are processed in blocks that stay in L1 between the update and the dot product.
constexpr Eigen::Index kBlock = 512;
}  // namespace

SweepStats mtenetSweep(const CMatMap<double>& xt, MatMap<double>& rt, MatMap<double>& w,
                       const CVecMap<double>& colNormSq, double l1Reg, double l2Reg,
                       const int32_t* order, int64_t orderLen) {
  const Eigen::Index n = xt.cols();
  const Eigen::Index T = w.cols();
  // Scratch allocated once per sweep, never inside the feature loop.
  Vec<double> dots(T);   // X[:,j]^T R for the feature about to be updated
  Vec<double> delta(T);  // W_new[j,:] - W_old[j,:]
  double wMax = 0.0;
  double dwMax = 0.0;
  // An all-zero feature cannot change the fit; scikit-learn leaves it alone and does not count
  // it in wMax / dwMax.
  auto nextActive = [&](int64_t o) {
    while (o < orderLen && colNormSq[order[o]] == 0.0) ++o;
    return o;
  };
  auto rowOf = [&](double* base, Eigen::Index i) { return VecMap<double>(base + i * n, n); };
  auto xRow = [&](Eigen::Index j) { return CVecMap<double>(xt.data() + j * n, n); };

  int64_t o = nextActive(0);
  if (o < orderLen) {
    const auto x = xRow(order[o]);
    for (Eigen::Index t = 0; t < T; ++t) dots[t] = rowOf(rt.data(), t).dot(x);
  }
  while (o < orderLen) {
    const Eigen::Index j = order[o];
    const double cj = colNormSq[j];
    double* wj = w.data() + j * T;
    double nrmSq = 0.0;
    for (Eigen::Index t = 0; t < T; ++t) {
      const double v = dots[t] + cj * wj[t];
      dots[t] = v;  // now tmp_t
      nrmSq += v * v;
    }
    const double nrm = std::sqrt(nrmSq);
    // Group soft-threshold then ridge shrinkage; `nrm > l1Reg` also covers nrm = 0 (no 0/0).
    const double shrink = nrm > l1Reg ? (1.0 - l1Reg / nrm) / (cj + l2Reg) : 0.0;
    double dw = 0.0;
    double wa = 0.0;
    for (Eigen::Index t = 0; t < T; ++t) {
      const double next = dots[t] * shrink;
      delta[t] = next - wj[t];
      wj[t] = next;
      dw = std::max(dw, std::abs(delta[t]));
      wa = std::max(wa, std::abs(next));
    }
    dwMax = std::max(dwMax, dw);
    wMax = std::max(wMax, wa);

    // R[t,:] -= delta_t X[:,j]^T, fused with the next feature's dot products X[:,jn]^T R[t,:]:
    // one pass over the residual per feature instead of two. Unchanged tasks (delta 0, the
    // common case for zero rows) skip the update.
    const int64_t on = nextActive(o + 1);
    const auto x = xRow(j);
    if (on < orderLen) {
      const auto xn = xRow(order[on]);
      for (Eigen::Index t = 0; t < T; ++t) {
        auto r = rowOf(rt.data(), t);
        if (delta[t] == 0.0) {
          dots[t] = r.dot(xn);
          continue;
        }
        const double dt = delta[t];
        double acc = 0.0;
        for (Eigen::Index b = 0; b < n; b += kBlock) {
          const Eigen::Index len = std::min(kBlock, n - b);
          auto rb = r.segment(b, len);
          rb.noalias() -= dt * x.segment(b, len);
          acc += rb.dot(xn.segment(b, len));
        }
        dots[t] = acc;
      }
    } else {
      for (Eigen::Index t = 0; t < T; ++t) {
        if (delta[t] != 0.0) rowOf(rt.data(), t).noalias() -= delta[t] * x;
      }
    }
    o = on;
  }
  return {wMax, dwMax};
}

}  // namespace metatask::cd
