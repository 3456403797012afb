// The inner solve of the working-set method for the multi-task elastic net (twin:
// lib/kernels/js/cdsolve.ts): coordinate descent on the k features of a working set, with a gap
// check and an Anderson extrapolation every kAndersonK sweeps, until the duality gap of the
// problem restricted to those features is at most tol or maxSweeps sweeps have run. Checks use
// the correlations (or residual) the sweeps keep up to date; a gap below tol is confirmed from
// quantities recomputed from W, and the solve returns those exact ones. Objective
// (n-scaled, as scikit-learn's enet_coordinate_descent_multi_task):
//   P(W) = (1/2) ||Y - X_k W||_F^2 + l1Reg sum_j ||W_j||_2 + (l2Reg/2) ||W||_F^2,
// gap = (1/2)(1 + c^2) ||R||^2 + l1Reg sum_j ||W_j|| - c <R, Y> + (l2Reg/2)(1 + c^2) ||W||^2,
// c = min(1, l1Reg / max_j ||X_j^T R - l2Reg W_j||).
// Large residual-form sweeps go as glmnet's active-set iteration (Friedman, Hastie & Tibshirani,
// J. Stat. Softw. 33, 2010): the first sweep of a call and the first after every check visit every
// row, the others only the rows of W that are non-zero as they start; every check is over all k
// rows, so a row that should enter keeps the gap above tol until a full sweep takes it in. See
// kActiveSweepsMinValues for where.
#pragma once
#include "kernels/cd.h"
#include "kernels/common.h"
#include "runtime/temporaries.h"

#include <vector>

namespace metatask::cd {

// Sweeps between two gap checks / extrapolations (skglm's default).
constexpr int kAndersonK = 5;

// The residual form's cyclic sweeps run by blocks (kernels/cd.h mtenetSweepBlocked) once the T x n
// residual outgrows a level-1 cache (kBlockedMinResidual values, 32 KB): the plain sweep's pass
// over it per feature is then bound by the level-2 cache, where a block reads it once or twice.
// From kBlockedMinTasks tasks, blocks of 32 features by matrix products; with fewer tasks such
// products are too narrow, and blocks of 4 go by one fused pass over the residual each. Measured at
// 300 to 1,000 samples and 2,000 to 4,000 features: 0.6-0.85x the fit time at 24 to 46 tasks,
// 0.8-0.9x at 6 to 16; with the residual inside the level-1 cache, 1.03-1.1x (so plain there).
constexpr int64_t kBlockedMinResidual = 4096;
constexpr int64_t kBlockedMinTasks = 20;

// Active-set sweeps (above) run in the residual form's plain sweeps (cyclic order, no blocks) over
// at least this many values of columns (k n, 1 MiB): such a sweep streams its columns from beyond a
// level-2 cache, and a row at zero costs it a pass over its column and the residual for nothing.
// 338 x 2904 x 4 (working sets of up to 1,600 features, half of them at zero): 97.6-98.3 -> 88.0-90.1
// ms a fit. Smaller sets sweep from cache, where rows that enter late cost more sweeps than the skipped
// rows save (200 x 50 x 2: 4 -> 7 sweeps, 0.14 -> 0.16 ms; 400 x 400 x 2, a dense solution: 25 -> 30
// sweeps, 1.10-1.15x the time); the blocked sweeps' block Grams are those of the cyclic order, and
// computing them again for each set of non-zero rows cost more than it saved (1.04-1.25x); the
// Gram form gained nothing.
constexpr int64_t kActiveSweepsMinValues = int64_t(1) << 17;

// The block size of the residual form's cyclic sweeps for T tasks and n samples (0: plain sweeps).
constexpr int64_t residualBlock(int64_t T, int64_t n) {
  if (T * n < kBlockedMinResidual) return 0;
  return T >= kBlockedMinTasks ? 32 : kFusedBlockMax;
}

struct InnerSettings {
  double l1Reg, l2Reg;
  double tol;         // stop once the working-set gap is at most this
  int64_t maxSweeps;  // >= 1
  // Null for cyclic sweeps (0..k-1), else maxSweeps * k entries in [0, k): sweep s visits
  // orders[s k .. (s+1) k) (random selection draws them in TypeScript).
  const int32_t* orders;
  // Another call continues this solve from the returned state (TypeScript splits long solves into
  // calls). A residual-form call that ends unconverged then returns the parts of the residual its
  // sweeps kept instead of recomputing it from W (half a sweep a call); the last call ends exact.
  // The Gram form always ends exact: its next call starts from the returned correlations.
  bool continues = false;
};

struct InnerResult {
  int64_t sweeps;
  double gap;
  // The parts of the gap at the returned point: ||R||^2, <R, Y>, sum_j ||W_j||, ||W||^2, and
  // max_j ||X_j^T R - l2Reg W_j||.
  double rNormSq, ry, l21, wNormSq, dualNorm;
  // ||R_end - R_start||_F = ||X_k (W_end - W_start)||_F: how far the residual moved (the bounds
  // of stale correlations grow by ||X_j|| times it).
  double residualChange;
  bool converged;
};

// Gram form (the covariance updates of Friedman, Hastie & Tibshirani, J. Stat. Softw. 33, 2010,
// section 2.2): gram = X_k^T X_k (k x k), ht = (X_k^T R)^T (T x k) and w (k x T) at the start,
// with r0NormSq = ||R||^2 and r0y = <R, Y> there. Each sweep costs O(k^2 T) whatever n is; the
// gap's ||R||^2 and <R, Y> follow from ht exactly (dW = W - W0, H0 and X_k^T Y = H0 + G W0 from
// the start):  ||R||^2 = ||R0||^2 - <dW, H0 + H>,  <R, Y> = <R0, Y> - <dW, X_k^T Y>.
// On return w holds the coefficients and ht their exact (X_k^T R)^T. In both forms, the rows of w
// of all-zero columns (a zero Gram diagonal) are set to 0 first: such a feature does not change the
// fit and its optimum is 0. xty (k x T), when given, is X_k^T Y (the caller's design holds it): the
// solve then takes it instead of forming H0 + G W0, a product of the Gram matrix.
InnerResult gramSolve(const double* gram, int64_t k, int64_t T, double* ht, double* w, double r0NormSq, double r0y,
                      const InnerSettings& s, const double* xty = nullptr);

// Residual form (scikit-learn's sweep on the gathered columns, for working sets too large for a
// Gram matrix): xs (k x n) the working set's centred columns, yt = Y^T (T x n), rt (T x n) the
// residual Y - X_k W at the start, w (k x T). On return w holds the coefficients, rt their exact
// residual and h (k x T) their X_k^T R.
// colNormSq: the squared norms of the k rows of xs when the caller has them (a design's column
// norms), else null and the solve computes them (a pass over xs).
InnerResult residualSolve(const double* xs, int64_t k, int64_t n, int64_t T, const double* yt, double* rt, double* w,
                          double* h, const InnerSettings& s, int threads, const double* colNormSq = nullptr);

// Anderson extrapolation (Anderson, J. ACM 12, 1965) in the offline form of Bertrand & Massias,
// "Anderson acceleration of coordinate descent", AISTATS 2021: from the last K + 1 iterates
// x_0 .. x_K (K = kAndersonK), with U = [x_1 - x_0, ..., x_K - x_{K-1}],
//   z = (U^T U + ridge I)^{-1} 1,  c = z / sum(z),  x_acc = sum_i c_i x_{i+1},
// ridge = 1e-14 trace(U^T U) / K. (The TypeScript twin takes any K, for its tests.)
class Anderson {
 public:
  static constexpr int K = kAndersonK;
  explicit Anderson(int64_t length);
  void push(const double* x);
  bool ready() const { return count_ >= K + 1; }
  void reset() { count_ = 0; }
  // Writes the extrapolated point into out; false (out untouched) when the differences are
  // numerically dependent or fewer than K + 1 iterates were pushed since the last reset.
  bool extrapolate(double* out);

 private:
  int64_t length_;
  int64_t count_ = 0;
  runtime::TempArray<double> iterates_;  // (K + 1) x length, a ring
};

}  // namespace metatask::cd
