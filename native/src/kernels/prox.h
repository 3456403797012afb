// Proximal operators (twin: lib/kernels/js/prox.ts).
#pragma once
#include "kernels/common.h"

namespace metatask::prox {

// Row-wise group soft-thresholding, in place: W[j,:] <- max(0, 1 - threshold / ||W[j,:]||) W[j,:].
// Returns the number of rows left non-zero.
int64_t groupSoftThreshold(MatMap<double>& w, double threshold);

struct SvtStats {
  int64_t rank;
  double nuclearNorm;
};

// Singular-value thresholding: out = U max(S - threshold, 0) V^T (out must not alias w).
SvtStats svt(const CMatMap<double>& w, double threshold, MatMap<double>& out);

}  // namespace metatask::prox
