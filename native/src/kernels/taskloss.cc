// Per-task losses of linear models over stacked rows (twin: lib/kernels/js/taskloss.ts).
// Task t owns rows offsets[t]..offsets[t+1]-1, z = x . W[t,:] + b_t:
//   squared:  l_t = scale_t (1/2) sum_i (z_i - y_i)^2,         dl/dz_i = scale_t (z_i - y_i)
//   logistic: l_t = scale_t sum_i log(1 + e^{z_i}) - y_i z_i,  dl/dz_i = scale_t (sigmoid(z_i) - y_i)
// log(1 + e^z) is evaluated as log1p(e^{-|z|}) + max(z, 0), which never overflows and keeps full
// precision for large |z| (the softplus identity).
#include "kernels/taskloss.h"

#include <algorithm>
#include <cmath>

namespace metatask::taskloss {

namespace {
// Logistic sigmoid without overflow: exp is only ever taken of a non-positive number.
inline double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double ez = std::exp(z);
  return ez / (1.0 + ez);
}
}  // namespace

void taskLoss(const CMatMap<double>& x, const CVecMap<double>& y, const int32_t* offsets, const CMatMap<double>& w,
              const CVecMap<double>& intercept, const CVecMap<double>& scale, Loss loss, MatMap<double>* gradW,
              VecMap<double>* gradIntercept, VecMap<double>& out) {
  const Eigen::Index T = w.rows();
  Eigen::Index maxRows = 0;
  for (Eigen::Index t = 0; t < T; ++t) maxRows = std::max<Eigen::Index>(maxRows, offsets[t + 1] - offsets[t]);
  // One buffer for every task's z and then dl/dz (before the task's scale).
  Vec<double> r(maxRows);
  for (Eigen::Index t = 0; t < T; ++t) {
    const Eigen::Index begin = offsets[t];
    const Eigen::Index rows = offsets[t + 1] - begin;
    auto xt = x.middleRows(begin, rows);
    auto rt = r.head(rows);
    // z = X_t w_t + b_t as one GEMV.
    rt.noalias() = xt * w.row(t).transpose();
    rt.array() += intercept[t];
    double lt = 0.0;
    for (Eigen::Index i = 0; i < rows; ++i) {
      const double z = rt[i];
      const double yi = y[begin + i];
      if (loss == Loss::Logistic) {
        lt += std::log1p(std::exp(-std::abs(z))) + std::max(z, 0.0) - yi * z;
        rt[i] = sigmoid(z) - yi;
      } else {
        const double ri = z - yi;
        lt += 0.5 * ri * ri;
        rt[i] = ri;
      }
    }
    const double sc = scale[t];
    out[t] = sc * lt;
    if (gradW) gradW->row(t).noalias() = sc * (rt.transpose() * xt);
    if (gradIntercept) (*gradIntercept)[t] = sc * rt.sum();
  }
}

}  // namespace metatask::taskloss
