// Per-task losses of linear models over stacked rows (twin: lib/kernels/js/taskloss.ts).
#pragma once
#include "kernels/common.h"

namespace metatask::taskloss {

enum class Loss { Squared, Logistic };

// Task t owns rows offsets[t]..offsets[t+1]-1 of x (n x d) and y; w is T x d. offsets (length
// T + 1, from 0 to n, non-decreasing) is checked by the binding. out (length T) receives the
// losses; gradW (T x d) and gradIntercept (T) are overwritten when non-null.
void taskLoss(const CMatMap<double>& x, const CVecMap<double>& y, const int32_t* offsets, const CMatMap<double>& w,
              const CVecMap<double>& intercept, const CVecMap<double>& scale, Loss loss, MatMap<double>* gradW,
              VecMap<double>* gradIntercept, VecMap<double>& out);

}  // namespace metatask::taskloss
