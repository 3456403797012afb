// Coordinate descent for the multi-task elastic net (twin: lib/kernels/js/cd.ts).
#pragma once
#include "kernels/common.h"

namespace metatask::cd {

struct SweepStats {
  double wMax;   // max_j ||W[j,:]||_inf after the sweep (visited, non-zero-column features)
  double dwMax;  // max_j ||W_new[j,:] - W_old[j,:]||_inf
};

// One sweep over `order` (entries in [0, d), checked by the binding).
// xt: X^T (d x n); rt: R^T (T x n), updated; w: d x T, updated; colNormSq: length d.
SweepStats mtenetSweep(const CMatMap<double>& xt, MatMap<double>& rt, MatMap<double>& w,
                       const CVecMap<double>& colNormSq, double l1Reg, double l2Reg,
                       const int32_t* order, int64_t orderLen);

}  // namespace metatask::cd
