// Per-task losses of linear models over stacked rows (twin: lib/kernels/js/taskloss.ts).
// Task t owns rows offsets[t]..offsets[t+1]-1, z = x . W[t,:] + b_t:
//   squared:  l_t = scale_t (1/2) sum_i (z_i - y_i)^2,         dl/dz_i = scale_t (z_i - y_i)
//   logistic: l_t = scale_t sum_i log(1 + e^{z_i}) - y_i z_i,  dl/dz_i = scale_t (sigmoid(z_i) - y_i)
// log(1 + e^z) is evaluated as log1p(e^{-|z|}) + max(z, 0), which never overflows and keeps full
// precision for large |z| (the softplus identity).
#include "kernels/taskloss.h"

#include <algorithm>
#include <cmath>

#include "simd/ops.h"

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
  const int64_t T = w.rows();
  const int64_t d = x.cols();
  const simd::Ops& o = simd::ops();
  for (int64_t t = 0; t < T; ++t) {
    const int64_t begin = offsets[t];
    const int64_t end = offsets[t + 1];
    const double* wt = w.data() + t * d;
    double* gw = gradW ? gradW->data() + t * d : nullptr;
    if (gw) std::fill(gw, gw + d, 0.0);
    double lt = 0.0, gb = 0.0;
    for (int64_t i = begin; i < end; ++i) {
      const double* xi = x.data() + i * d;
      const double z = o.ddot(xi, wt, d) + intercept[t];
      const double yi = y[i];
      double r;
      if (loss == Loss::Logistic) {
        lt += std::log1p(std::exp(-std::abs(z))) + std::max(z, 0.0) - yi * z;
        r = sigmoid(z) - yi;
      } else {
        r = z - yi;
        lt += 0.5 * r * r;
      }
      // dl/dw_t = sum_i r_i x_i, accumulated row by row in order.
      if (gw) o.daxpy(r, xi, gw, d);
      gb += r;
    }
    const double sc = scale[t];
    out[t] = sc * lt;
    if (gw)
      for (int64_t k = 0; k < d; ++k) gw[k] *= sc;
    if (gradIntercept) (*gradIntercept)[t] = sc * gb;
  }
}

}  // namespace metatask::taskloss
