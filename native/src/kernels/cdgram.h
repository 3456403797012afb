// Correlations of the working-set solver from a precomputed Gram matrix (twin:
// lib/kernels/js/cdgram.ts). With G = Xc^T Xc (d x d) and Xc^T Y (d x T) computed once, the
// correlations with the residual R = Y - Xc W are
//   X_j^T R = (Xc^T Y)_j - sum_{s in S} G[j, s] W_s
// over the support S (the non-zero rows of W): |S| T multiply-adds per feature instead of n T, and
// no residual at all (the Gram variant of coordinate descent; Friedman, Hastie & Tibshirani,
// J. Stat. Softw. 33, 2010, section 2.2, "covariance updates"). Every value is a difference,
// product or square root of two doubles in a fixed order (support order, then tasks; no
// contraction: -ffp-contract=off), so the twins agree bit for bit.
#pragma once
#include "kernels/common.h"

namespace metatask::cd {

// out[c T + t] = xty[cols[c] T + t] - sum_s gram[cols[c] d + support[s]] w[support[s] T + t] for
// c < k, t < T, subtracting one product at a time in support order, starting from xty: gram d x d,
// xty and w d x T, out k x T, all row-major; entries of support (m of them) and cols in [0, d)
// (checked by the binding). When norms is not null, norms[c] = sqrt(sum_t out[c, t]^2), summed in
// t order. out and norms share no memory with the inputs.
void gramCorrelations(const double* gram, int64_t d, const double* xty, const double* w, int64_t T, const int32_t* support, int64_t m,
                      const int32_t* cols, int64_t k, double* out, double* norms);

}  // namespace metatask::cd
