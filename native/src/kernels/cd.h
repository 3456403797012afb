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
// one product R -= X_c Delta_c for the rows c that changed. Blocks of at most kFusedBlockMax
// features instead take one fused pass over R per block (the changes of one block with the dot
// products of the next).
constexpr int64_t kFusedBlockMax = 4;
SweepStats mtenetSweepBlocked(const CMatMap<double>& xt, MatMap<double>& rt, MatMap<double>& w,
                              const CVecMap<double>& colNormSq, double l1Reg, double l2Reg,
                              const int32_t* order, int64_t orderLen, const double* gram, int64_t blockSize);

}  // namespace metatask::cd

namespace metatask::cd {

// ---- Working-set solver kernels (lib/linear/solvers/): X is the caller's n x d row-major design,
// read in place and never copied whole; `mean` (length d, or null for no centring) is subtracted
// from every column as it is read. Index lists (cols, order) are checked by the binding.

// mean[j] = (1/n) sum_i x[i,j] when centre (else 0) and sqNorm[j] = sum_i (x[i,j] - mean[j])^2, in
// one pass over x. Returns whether every mean and sqNorm is finite: false whenever x holds a NaN or
// an infinity (and when a sum overflows).
bool columnStats(const double* x, int64_t n, int64_t d, bool centre, double* mean, double* sqNorm);

// out[c T + t] = sum_i (x[i, cols[c]] - mean[cols[c]]) rt[t n + i] for c < m, t < T: the
// correlations X_c^T R of the listed centred columns with the residual R^T (T x n, row-major),
// read from x in place; mean and sqNorm (the design's, from columnStats) are both null for no
// centring. When norms is not null, norms[c] = ||out[c, :]||. Uses at most `threads` threads.
void correlations(const double* x, int64_t n, int64_t d, const double* mean, const double* sqNorm, const double* rt, int64_t T,
                  const int32_t* cols, int64_t m, double* out, double* norms, int threads);

// columnStats(x, n, d, centre, mean, sqNorm), then correlations(x, ..., yt, T, every column 0..d-1,
// out (d x T), norms) of the centred columns with yt (T x n), in one pass over x: the same values
// as the two calls, bit for bit. norms may be null. Returns columnStats' value.
bool columnStatsCorrelations(const double* x, int64_t n, int64_t d, bool centre, double* mean, double* sqNorm, const double* yt,
                             int64_t T, double* out, double* norms, int threads);

// out[c n + i] = x[i, cols[c]] - mean[cols[c]]: the listed centred columns as rows (m x n).
void gatherColumns(const double* x, int64_t n, int64_t d, const double* mean, const int32_t* cols, int64_t m, double* out);

// One coordinate-descent sweep of the elastic net restricted to k features, in Gram form
// (the covariance updates of Friedman, Hastie & Tibshirani 2010, section 2.2): gram is X_k^T X_k
// (k x k), ht holds X_k^T R transposed (T x k) and is kept exact as rows of w (k x T) change:
//   tmp = ht[:, j] + gram[j,j] w[j,:];  w[j,:] = tmp max(0, 1 - l1Reg/||tmp||) / (gram[j,j] + l2Reg)
//   ht[t, :] -= (w_new - w_old)[j, t] gram[j, :]
// Rows with gram[j,j] = 0 (all-zero columns) are skipped. order entries are in [0, k).
SweepStats gramSweep(const double* gram, int64_t k, double* ht, int64_t T, double* w, double l1Reg, double l2Reg,
                     const int32_t* order, int64_t orderLen);

// The targets of a fit: yMean[t] = (1/n) sum_i y[i,t] when centre (else 0), yt (T x n) = (Y - 1
// yMean^T)^T. Returns ||yt||_F^2 (NaN or infinite when y holds a NaN or an infinity).
double targets(const double* y, int64_t n, int64_t T, bool centre, double* yt, double* yMean);

// A fit's public coefficients from its support: coef[t, cols[c]] = w[c, t] (coef T x d; its other
// entries are left as they are: the caller gives it zeroed), and the intercept that undoes the
// centring, intercept[t] = yMean[t] - sum_c mean[cols[c]] w[c, t], subtracted in the order of cols.
// w is m x T; cols entries are in [0, d).
void coefficients(const int32_t* cols, int64_t m, const double* w, int64_t T, const double* mean, const double* yMean, int64_t d,
                  double* coef, double* intercept);

struct ResidualParts {
  double rNormSq;  // ||R||_F^2
  double ry;       // <R, Y>
};

// rt (T x n) = yt - w^T xs for the k gathered columns xs (k x n) and their coefficients w (k x T),
// with ||R||^2 and <R, Y> (yt = Y^T).
ResidualParts residual(const double* xs, int64_t k, int64_t n, const double* w, int64_t T, const double* yt, double* rt, int threads);

// out (a x b) = Xc[:, rows]^T Xc[:, cols]: the Gram entries of two lists of centred columns, read
// from x in place by blocks of rows (never gathered whole). The same values, bit for bit, as the
// product of their gathered copies (gatherColumns) by simd::gemm.
void gramColumns(const double* x, int64_t n, int64_t d, const double* mean, const int32_t* rows, int64_t a, const int32_t* cols,
                 int64_t b, double* out, int threads);

// residual() for the listed centred columns of x read in place: rt (T x n) = yt - w^T Xc[:, cols]^T
// for w (k x T); the same values, bit for bit, as residual() on their gathered copy.
ResidualParts residualColumns(const double* x, int64_t n, int64_t d, const double* mean, const int32_t* cols, int64_t k,
                              const double* w, int64_t T, const double* yt, double* rt, int threads);

// residualColumns() and then correlations() of the new residual, in one pass over the rows of x:
// rt = yt - w^T Xc[:, resCols]^T (T x n, overwritten; w k x T), out (m x T) = Xc[:, cols]^T R and
// norms (or null) their row norms; returns ||R||^2 and <R, Y>. The same values, bit for bit, as
// the two calls.
ResidualParts residualCorrelations(const double* x, int64_t n, int64_t d, const double* mean, const double* sqNorm, const int32_t* resCols,
                                   int64_t k, const double* w, int64_t T, const double* yt, double* rt, const int32_t* cols, int64_t m,
                                   double* out, double* norms, int threads);

}  // namespace metatask::cd
