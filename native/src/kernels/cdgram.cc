// Correlations from a precomputed Gram matrix (see cdgram.h; twin lib/kernels/js/cdgram.ts).
#include "kernels/cdgram.h"

#include <cmath>

namespace metatask::cd {

void gramCorrelations(const double* gram, int64_t d, const double* xty, const double* w, int64_t T, const int32_t* support, int64_t m,
                      const int32_t* cols, int64_t k, double* out, double* norms) {
  for (int64_t c = 0; c < k; ++c) {
    const int64_t j = cols[c];
    const double* g = gram + j * d;
    const double* __restrict cj = xty + j * T;
    // Restrict: the binding refuses an out that overlaps w or xty, so the t loop may be vectorised
    // (each element still takes its products one at a time, in support order).
    double* __restrict o = out + c * T;
    if (T == 1) {
      // One task: the running difference stays in a register.
      double v = cj[0];
      for (int64_t s = 0; s < m; ++s) {
        const int64_t q = support[s];
        v = v - g[q] * w[q];
      }
      o[0] = v;
    } else {
      for (int64_t t = 0; t < T; ++t) o[t] = cj[t];
      for (int64_t s = 0; s < m; ++s) {
        const int64_t q = support[s];
        const double gs = g[q];
        const double* __restrict ws = w + q * T;
        for (int64_t t = 0; t < T; ++t) o[t] = o[t] - gs * ws[t];
      }
    }
    if (norms != nullptr) {
      double sq = 0;
      for (int64_t t = 0; t < T; ++t) sq += o[t] * o[t];
      norms[c] = std::sqrt(sq);
    }
  }
}

}  // namespace metatask::cd
