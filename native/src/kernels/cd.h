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

// Block Gram matrices for the blocked sweep: block b covers the consecutive entries
// order[b B .. min((b+1) B, orderLen)) (B = blockSize, L_b entries); its L_b x L_b Gram matrix
// X_b^T X_b is written at out + b B B with row stride B, lower triangle only (entry (p, q), q <= p,
// at out[b B B + p B + q] = x_{order[bB+p]} . x_{order[bB+q]}); other entries are left untouched.
// out holds ceil(orderLen / B) B B values.
void blockGram(const CMatMap<double>& xt, const int32_t* order, int64_t orderLen, int64_t blockSize, double* out);

// The same sweep as mtenetSweep (same iterates up to rounding), by blocks of consecutive entries of
// `order`: G = X_b^T R for a whole block in one matrix product, the rows visited in order with
// G corrected by the block Gram (from blockGram, same order and blockSize) after each change, and
// one product R -= X_c Delta_c for the rows c that changed.
SweepStats mtenetSweepBlocked(const CMatMap<double>& xt, MatMap<double>& rt, MatMap<double>& w,
                              const CVecMap<double>& colNormSq, double l1Reg, double l2Reg,
                              const int32_t* order, int64_t orderLen, const double* gram, int64_t blockSize);

}  // namespace metatask::cd
