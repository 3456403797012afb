// One sweep of block coordinate descent for the multi-task elastic net, as scikit-learn's
// enet_coordinate_descent_multi_task (sklearn/linear_model/_cd_fast.pyx), minimising
//   (1/2) ||Y - X W||_F^2 + l1Reg sum_j ||W[j,:]||_2 + (l2Reg/2) ||W||_F^2
// by exact minimisation over one row W[j,:] at a time (Friedman, Hastie & Tibshirani, J. Stat.
// Softw. 33, 2010; Obozinski, Taskar & Jordan 2010):
//   tmp = X[:,j]^T R + ||X[:,j]||^2 W[j,:]
//   W[j,:] = tmp max(0, 1 - l1Reg / ||tmp||) / (||X[:,j]||^2 + l2Reg)
//   R -= X[:,j] (W[j,:]_new - W[j,:]_old)
// Twin: lib/kernels/js/cd.ts. X and R arrive transposed (xt d x n, rt T x n) so every dot
// product and residual update runs along a contiguous row and vectorises; the residual update
// of one feature is fused with the dot products of the next (one pass over R per feature).
#include "kernels/cd.h"

#include "runtime/scratch.h"
#include "simd/gemm.h"
#include "simd/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace metatask::cd {

namespace {
// One feature's step of the sweeps (the group soft-threshold, then the ridge shrinkage):
//   w_j <- max(0, 1 - l1Reg / ||v||) v / (c_j + l2Reg),   v = X_j^T R + c_j w_j (T values),
// with nrmSq = ||v||^2; `nrm > l1Reg` also covers nrm = 0 (no 0/0). delta receives the change of
// w_j. Returns max_t |delta_t| and max_t |w_j,t|.
struct RowChange {
  double dw, wa;
};
inline RowChange groupStep(const double* v, double nrmSq, double cj, double l1Reg, double l2Reg, double* wj, double* delta, int64_t T) {
  const double nrm = std::sqrt(nrmSq);
  const double shrink = nrm > l1Reg ? (1.0 - l1Reg / nrm) / (cj + l2Reg) : 0.0;
  RowChange c{0.0, 0.0};
  for (int64_t t = 0; t < T; ++t) {
    const double next = v[t] * shrink;
    delta[t] = next - wj[t];
    wj[t] = next;
    c.dw = std::max(c.dw, std::abs(delta[t]));
    c.wa = std::max(c.wa, std::abs(next));
  }
  return c;
}
}  // namespace

SweepStats mtenetSweep(const CMatMap<double>& xt, MatMap<double>& rt, MatMap<double>& w,
                       const CVecMap<double>& colNormSq, double l1Reg, double l2Reg,
                       const int32_t* order, int64_t orderLen) {
  const int64_t n = xt.cols();
  const int64_t T = w.cols();
  const simd::Ops& ops = simd::ops();
  // Scratch allocated once per sweep, never inside the feature loop.
  std::vector<double> dots(static_cast<size_t>(T));   // X[:,j]^T R for the feature about to be updated
  std::vector<double> delta(static_cast<size_t>(T));  // W_new[j,:] - W_old[j,:]
  double wMax = 0.0;
  double dwMax = 0.0;
  // An all-zero feature cannot change the fit; scikit-learn leaves it alone and does not count
  // it in wMax / dwMax.
  auto nextActive = [&](int64_t o) {
    while (o < orderLen && colNormSq[order[o]] == 0.0) ++o;
    return o;
  };
  double* r = rt.data();
  auto xRow = [&](int64_t j) { return xt.data() + j * n; };

  int64_t o = nextActive(0);
  if (o < orderLen) {
    const double* x = xRow(order[o]);
    for (int64_t t = 0; t < T; ++t) dots[t] = ops.ddot(r + t * n, x, n);
  }
  while (o < orderLen) {
    const int64_t j = order[o];
    const double cj = colNormSq[j];
    double* wj = w.data() + j * T;
    double nrmSq = 0.0;
    for (int64_t t = 0; t < T; ++t) {
      const double v = dots[t] + cj * wj[t];
      dots[t] = v;  // now tmp_t
      nrmSq += v * v;
    }
    const RowChange change = groupStep(dots.data(), nrmSq, cj, l1Reg, l2Reg, wj, delta.data(), T);
    dwMax = std::max(dwMax, change.dw);
    wMax = std::max(wMax, change.wa);

    // R[t,:] -= delta_t X[:,j]^T, fused with the next feature's dot products X[:,jn]^T R[t,:]
    // (simd daxpyDotsRows with one source and one target): one pass over the residual per feature
    // instead of two, X[:,j] and X[:,jn] read once for four tasks. Unchanged tasks (delta 0, the
    // common case for zero rows) skip the update.
    const int64_t on = nextActive(o + 1);
    const double* x = xRow(j);
    for (int64_t t = 0; t < T; ++t) delta[t] = -delta[t];
    if (on < orderLen) {
      const double* next = xRow(order[on]);
      ops.daxpyDotsRows(delta.data(), 1, &x, r, n, &next, 1, dots.data(), T, n);
    } else {
      for (int64_t t = 0; t < T; ++t) {
        if (delta[t] != 0.0) ops.daxpy(delta[t], x, r + t * n, n);
      }
    }
    o = on;
  }
  return {wMax, dwMax};
}


// ---------------------------------------------------------------------------------------------
// Blocked sweep. The plain sweep does T dot products of length n per feature against the whole
// residual: 2 T n flops for T n + n doubles read, memory-bound. Here a block of B consecutive
// entries of `order` gets all its X_j^T R at once, G = X_b R^T (B x T, one cache-blocked matrix
// product), then its features are visited in order: when row j changes by delta (T-vector), the
// later rows k of the block see X_k^T R_new = G[k] - (x_k . x_j) delta, so G[k] -= gram(k, j) delta
// keeps G exact; after the block one product R -= Delta_c^T X_c updates the residual with the rows
// c that changed. Mathematically the iterates are those of mtenetSweep; only rounding differs.
// ---------------------------------------------------------------------------------------------
namespace {

bool consecutive(const int32_t* idx, int64_t len) {
  for (int64_t p = 1; p < len; ++p) {
    if (idx[p] != idx[0] + p) return false;
  }
  return true;
}

// Rows idx[0..len) of xt as a len x n matrix: a view when they are consecutive, else a copy in scratch.
const double* blockRows(const CMatMap<double>& xt, const int32_t* idx, int64_t len, RowMat<double>& scratch) {
  const Eigen::Index n = xt.cols();
  if (consecutive(idx, len)) return xt.data() + static_cast<Eigen::Index>(idx[0]) * n;
  for (int64_t p = 0; p < len; ++p) scratch.row(p) = xt.row(idx[p]);
  return scratch.data();
}

}  // namespace

void blockGram(const CMatMap<double>& xt, const int32_t* order, int64_t orderLen, int64_t blockSize, double* out) {
  const int64_t n = xt.cols();
  const int64_t B = blockSize;
  RowMat<double> scratch(B, n);
  RowMat<double> square(B, B);
  for (int64_t s = 0, b = 0; s < orderLen; s += B, ++b) {
    const int64_t L = std::min<int64_t>(B, orderLen - s);
    double* g = out + b * B * B;
    if (B <= kFusedBlockMax) {
      // A few pairs: simd ddot on the rows in place.
      for (int64_t p = 0; p < L; ++p)
        for (int64_t q = 0; q <= p; ++q) g[p * B + q] = simd::ops().ddot(xt.data() + order[s + p] * n, xt.data() + order[s + q] * n, n);
      continue;
    }
    // The whole square X_b X_b^T (simd::gemm: a fixed summation order at the SIMD level in use), its
    // lower triangle kept.
    const double* xb = blockRows(xt, order + s, L, scratch);
    simd::gemm<double>(L, L, n, 1.0, xb, n, false, xb, n, true, 0.0, square.data(), L, 1);
    for (int64_t p = 0; p < L; ++p) std::copy_n(square.data() + p * L, p + 1, g + p * B);
  }
}

namespace {

// Visits the rows idx[0..L) of a block whose X_k^T R are g (L x T, row p for idx[p]), in order: each
// row's group step, then G[q] -= gram(q, p) delta for the later rows q of the block (gb: the
// block's Gram, row stride B). The changes of the rows that changed go to dl (row c for block
// position changed[c]); returns how many changed.
int64_t visitBlock(const int32_t* idx, int64_t L, double* g, const double* gb, int64_t B, MatMap<double>& w,
                   const CVecMap<double>& colNormSq, double l1Reg, double l2Reg, double* dl, int32_t* changed, double& wMax,
                   double& dwMax) {
  const int64_t T = w.cols();
  int64_t nc = 0;
  for (int64_t p = 0; p < L; ++p) {
    const int64_t j = idx[p];
    const double cj = colNormSq[j];
    if (cj == 0.0) continue;  // all-zero features are skipped, as in mtenetSweep
    double* wj = w.data() + j * T;
    double* gp = g + p * T;
    double nrmSq = 0.0;
    for (int64_t t = 0; t < T; ++t) {
      const double v = gp[t] + cj * wj[t];
      gp[t] = v;  // now tmp_t
      nrmSq += v * v;
    }
    double* dp = dl + nc * T;
    const RowChange change = groupStep(gp, nrmSq, cj, l1Reg, l2Reg, wj, dp, T);
    dwMax = std::max(dwMax, change.dw);
    wMax = std::max(wMax, change.wa);
    if (change.dw == 0.0) continue;
    // Later rows of the block: X_k^T R_new = G[k] - (x_k . x_j) delta.
    for (int64_t q = p + 1; q < L; ++q) {
      const double c = gb[q * B + p];
      double* gq = g + q * T;
      for (int64_t t = 0; t < T; ++t) gq[t] -= c * dp[t];
    }
    changed[nc++] = static_cast<int32_t>(p);
  }
  return nc;
}

// Blocks of at most kFusedBlockMax features: one pass over R per block (simd daxpyDotsRows) applies
// the block's changes and takes the next block's dot products, where matrix products that small
// would cost more in calls and copies than they save.
SweepStats fusedSweep(const CMatMap<double>& xt, MatMap<double>& rt, MatMap<double>& w, const CVecMap<double>& colNormSq,
                      double l1Reg, double l2Reg, const int32_t* order, int64_t orderLen, const double* gram, int64_t B) {
  const int64_t n = xt.cols();
  const int64_t T = w.cols();
  const simd::Ops& ops = simd::ops();
  double* r = rt.data();
  auto row = [&](int64_t j) { return xt.data() + j * n; };
  std::vector<double> g(static_cast<size_t>(B * T));   // X_k^T R of the block's rows, B x T
  std::vector<double> dl(static_cast<size_t>(B * T));  // the changes of the rows that changed
  int32_t changed[kFusedBlockMax];
  const double* sources[kFusedBlockMax];
  const double* targets[kFusedBlockMax];
  double wMax = 0.0;
  double dwMax = 0.0;
  int64_t L = std::min<int64_t>(B, orderLen);
  for (int64_t p = 0; p < L; ++p) targets[p] = row(order[p]);
  ops.daxpyDotsRows(nullptr, 0, sources, r, n, targets, L, g.data(), T, n);
  for (int64_t s = 0, b = 0; s < orderLen; s += B, ++b) {
    const int64_t nc = visitBlock(order + s, L, g.data(), gram + b * B * B, B, w, colNormSq, l1Reg, l2Reg, dl.data(), changed, wMax, dwMax);
    for (int64_t c = 0; c < nc; ++c) {
      sources[c] = row(order[s + changed[c]]);
      for (int64_t t = 0; t < T; ++t) dl[c * T + t] = -dl[c * T + t];
    }
    const int64_t next = s + B;
    const int64_t Ln = next < orderLen ? std::min<int64_t>(B, orderLen - next) : 0;
    for (int64_t p = 0; p < Ln; ++p) targets[p] = row(order[next + p]);
    // R[t,:] -= sum_c delta_c,t X_c^T, then the next block's X_k^T R[t,:], in one pass over R.
    if (nc > 0 || Ln > 0) ops.daxpyDotsRows(dl.data(), nc, sources, r, n, targets, Ln, g.data(), T, n);
    L = Ln;
  }
  return {wMax, dwMax};
}

}  // namespace

SweepStats mtenetSweepBlocked(const CMatMap<double>& xt, MatMap<double>& rt, MatMap<double>& w,
                              const CVecMap<double>& colNormSq, double l1Reg, double l2Reg,
                              const int32_t* order, int64_t orderLen, const double* gram, int64_t blockSize) {
  if (blockSize <= kFusedBlockMax) return fusedSweep(xt, rt, w, colNormSq, l1Reg, l2Reg, order, orderLen, gram, blockSize);
  const int64_t n = xt.cols();
  const int64_t T = w.cols();
  const int64_t B = blockSize;
  // Scratch allocated once per sweep.
  RowMat<double> xc(std::min<int64_t>(B, orderLen), n);  // gathered rows that changed
  RowMat<double> g(B, T);                               // X_k^T R for the block's rows k
  RowMat<double> dl(B, T);                              // the changes of the rows that changed
  std::vector<int32_t> changed(B);                      // their positions in the block
  RowMat<double> xs(std::min<int64_t>(B, orderLen), n);  // gathered rows of a non-consecutive block
  double wMax = 0.0;
  double dwMax = 0.0;
  for (int64_t s = 0, b = 0; s < orderLen; s += B, ++b) {
    const int64_t L = std::min<int64_t>(B, orderLen - s);
    const int32_t* idx = order + s;
    bool anyActive = false;
    for (int64_t p = 0; p < L && !anyActive; ++p) anyActive = colNormSq[idx[p]] != 0.0;
    if (!anyActive) continue;  // all-zero features are skipped, as in mtenetSweep
    // The block's products by simd::gemm: vectorised at the SIMD level in use and summed in an
    // order fixed by the shapes. (A hand-written register-tiled dot kernel reading the rows in
    // place measured slower than the packed product here.)
    const double* xb = blockRows(xt, idx, L, xs);
    simd::gemm<double>(L, T, n, 1.0, xb, n, false, rt.data(), n, true, 0.0, g.data(), T, 1);
    const int64_t nc = visitBlock(idx, L, g.data(), gram + b * B * B, B, w, colNormSq, l1Reg, l2Reg, dl.data(), changed.data(), wMax, dwMax);
    if (nc == 0) continue;
    const double* x = xb;
    if (nc < L) {
      for (int64_t c = 0; c < nc; ++c) std::copy_n(xb + changed[c] * n, n, xc.data() + c * n);
      x = xc.data();
    }
    // R (T x n) -= Delta_c^T (T x nc) X_c (nc x n).
    simd::gemm<double>(T, n, nc, -1.0, dl.data(), T, true, x, n, false, 1.0, rt.data(), n, 1);
  }
  return {wMax, dwMax};
}

}  // namespace metatask::cd

// ---------------------------------------------------------------------------------------------
// Working-set solver kernels. Every sum runs in an order fixed by the shapes alone (plain loops
// over the samples in increasing order, or simd::gemm and simd daxpy), never by buffer addresses
// or the thread count.
// ---------------------------------------------------------------------------------------------
namespace metatask::cd {

namespace {

// Rows of the blocks columnStats reads twice (once for the block's means, once for its squared
// deviations, from cache).
constexpr int64_t kStatRows = 32;

// Whether column j's correlations need its centred values: when |mean| exceeds 1000 standard
// deviations (or the column is constant but not zero), X_j^T R - mean_j (1^T R) would lose more
// than three digits to cancellation; below that the error is under 1e-12 of ||Xc_j|| ||R||.
bool needsCentring(double mean, double sqNorm, int64_t n) {
  return mean != 0.0 && mean * mean * static_cast<double>(n) > 1e6 * sqNorm;
}

}  // namespace

namespace {

// Rows [i0, i1) and columns [c0, c1) of columnStats' pass, added to the statistics of the rows
// before them (zeroed before the first call); a column's arithmetic does not depend on the
// columns a call takes with it. Blocks of kStatRows start at multiples of kStatRows, so any split
// into calls at such multiples sums exactly as one call over all rows.
void statsRows(const double* x, int64_t n, int64_t d, bool centre, int64_t i0, int64_t i1, int64_t c0, int64_t c1, double* mean,
               double* sqNorm) {
  const simd::ElementOps<double>& e = simd::ops().f64;
  // Columns [c0, c1) only: x, mean and sqNorm are offset to c0, the blocks are w wide (ld d).
  const int64_t w = c1 - c0;
  x += c0;
  mean += c0;
  sqNorm += c0;
  double* bm = runtime::scratchDoubles(runtime::Scratch::kColumnStats, static_cast<size_t>(2 * d));
  double* bs = bm + w;
  if (!centre) {
    std::fill(bm, bm + w, 0.0);  // x - 0 is x: the plain sums of squares
    e.addSquaredDeviations(sqNorm, x + i0 * d, i1 - i0, w, d, bm);
    return;
  }
  // Per block of rows: its column means and squared deviations (two reads of the block, the
  // second from cache), merged into the running ones by Chan, Golub & LeVeque's update
  // ("Algorithms for computing the sample variance", Am. Stat. 37, 1983):
  //   delta = mean_b - mean_a,  mean += delta n_b / (n_a + n_b),
  //   M2 += M2_b + delta^2 n_a n_b / (n_a + n_b).
  // One pass over X from memory, as accurate as the two-pass formula. The block's sums run along
  // its rows, every column at once in the SIMD level's vectors (simd/ops.h's exact row-order
  // sums: each column's arithmetic is the scalar formula's, the same bits at every level); the
  // columns taken eight at a time down the rows ran at a third of that, latency-bound.
  for (int64_t b0 = i0; b0 < i1; b0 += kStatRows) {
    const int64_t nb = std::min(kStatRows, n - b0);
    const double* xb = x + b0 * d;
    std::fill(bm, bm + 2 * w, 0.0);
    e.addColumnSums(bm, xb, nb, w, d);
    const double inv = 1.0 / static_cast<double>(nb);
    for (int64_t j = 0; j < w; ++j) bm[j] *= inv;
    e.addSquaredDeviations(bs, xb, nb, w, d, bm);
    if (b0 == 0) {
      std::copy_n(bm, w, mean);
      std::copy_n(bs, w, sqNorm);
      continue;
    }
    const double total = static_cast<double>(b0 + nb);
    const double f = static_cast<double>(nb) / total;
    const double g = static_cast<double>(b0) * static_cast<double>(nb) / total;
    for (int64_t j = 0; j < w; ++j) {
      const double delta = bm[j] - mean[j];
      mean[j] += delta * f;
      sqNorm[j] += bs[j] + delta * delta * g;
    }
  }
}

// A NaN or infinite value of X makes its column's sum (or squared deviations) NaN or infinite.
bool statsFinite(const double* mean, const double* sqNorm, int64_t d) {
  bool finite = true;
  for (int64_t j = 0; j < d; ++j) finite = finite && std::isfinite(mean[j]) && std::isfinite(sqNorm[j]);
  return finite;
}

}  // namespace

bool columnStats(const double* x, int64_t n, int64_t d, bool centre, double* mean, double* sqNorm) {
  std::fill(mean, mean + d, 0.0);
  std::fill(sqNorm, sqNorm + d, 0.0);
  statsRows(x, n, d, centre, 0, n, 0, d, mean, sqNorm);
  return statsFinite(mean, sqNorm, d);
}

namespace {

// correlationsByBlocks' shortest span: shorter runs of listed columns are gathered with the
// scattered columns.
constexpr int64_t kMinSpan = 16;
// columnStatsCorrelations' column chunks, and the tasks from which it keeps blocks whole.
constexpr int64_t kStatColumns = 256;
constexpr int64_t kStatChunkMaxTasks = 16;

// correlations() by blocks of kGemmKc rows, each block's products added to the output in order
// (simd/ops.h: the sums of one product over all rows), so that `fill(i0, rows)` can write rows
// [i0, i0 + rows) of rt just before they are read: residualCorrelations() builds the residual
// in the same pass over x. A span's product runs `spanColumns` columns at a time (the same sums:
// gemm's order depends on its inner dimension only), each after `fillColumns(i0, rows, a, e)`
// for its columns [a, e): columnStatsCorrelations() sums a block's statistics there. Every
// column's value is one sum, (sum_i x[i, j] rt[t, i]) - mean_j (sum_i rt[t, i]), whatever path
// computes it: runs of listed columns close together are one
// product over their span of X (the columns between them computed and dropped), read in place;
// scattered columns are gathered into panels first. Columns whose mean dwarfs their spread
// (needsCentring) are then recomputed from centred copies.
template <typename Fill, typename FillColumns>
void correlationsByBlocks(const double* x, int64_t n, int64_t d, const double* mean, const double* sqNorm, double* rt, int64_t T,
                          const int32_t* cols, int64_t m, double* out, double* norms, int threads, Fill&& fill,
                          FillColumns&& fillColumns, int64_t spanColumns = std::numeric_limits<int64_t>::max()) {
  constexpr int64_t kChunk = 512;
  constexpr int64_t kRows = simd::kGemmKc;
  constexpr int64_t kGap = 8;  // listed columns at most this far apart share a span
  constexpr size_t kDirect = SIZE_MAX;
  std::fill(out, out + m * T, 0.0);
  // The plan: spans (written straight into out when every column of the span is listed, else
  // into their own buffer) and the scattered columns.
  struct Span {
    int64_t c, e, a, span;
    size_t buf;  // offset in spanOut, or kDirect
  };
  std::vector<Span> spans;
  std::vector<int32_t> gathered;
  size_t spanLen = 0;
  for (int64_t c = 0; c < m;) {
    int64_t e = c + 1;
    while (e < m && cols[e] > cols[e - 1] && cols[e] - cols[e - 1] <= kGap) ++e;
    const int64_t a = cols[c];
    const int64_t span = cols[e - 1] - a + 1;
    if (span < kMinSpan) {
      for (int64_t q = c; q < e; ++q) gathered.push_back(cols[q]);
    } else {
      spans.push_back({c, e, a, span, span == e - c ? kDirect : spanLen});
      if (span != e - c) spanLen += static_cast<size_t>(span * T);
    }
    c = e;
  }
  using runtime::Scratch;
  double* spanOut = runtime::scratchDoubles(Scratch::kSpanOut, spanLen);
  std::fill(spanOut, spanOut + spanLen, 0.0);
  const int64_t g = static_cast<int64_t>(gathered.size());
  double* panel = runtime::scratchDoubles(Scratch::kPanelB, g > 0 ? static_cast<size_t>(std::min(kRows, n) * std::min(kChunk, g)) : 0);
  double* gatheredOut = runtime::scratchDoubles(Scratch::kGatheredOut, static_cast<size_t>(g * T));
  std::fill(gatheredOut, gatheredOut + g * T, 0.0);
  const bool products = m > 0 && T > 0;
  for (int64_t i0 = 0; i0 < n; i0 += kRows) {
    const int64_t rows = std::min(kRows, n - i0);
    fill(i0, rows);
    if (!products) continue;
    const double beta = i0 == 0 ? 0.0 : 1.0;
    for (const Span& s : spans) {
      double* dst = s.buf == kDirect ? out + s.c * T : spanOut + s.buf;
      for (int64_t c0 = 0; c0 < s.span; c0 += spanColumns) {
        const int64_t w = std::min(spanColumns, s.span - c0);
        fillColumns(i0, rows, s.a + c0, s.a + c0 + w);
        simd::gemm<double>(w, T, rows, 1.0, x + i0 * d + s.a + c0, d, true, rt + i0, n, true, beta, dst + c0 * T, T, threads);
      }
    }
    // The scattered columns, in panels of kChunk columns.
    for (int64_t c0 = 0; c0 < g; c0 += kChunk) {
      const int64_t L = std::min(kChunk, g - c0);
      const int32_t* cc = gathered.data() + c0;
      for (int64_t i = 0; i < rows; ++i) {
        double* p = panel + i * L;
        const double* xi = x + (i0 + i) * d;
        for (int64_t l = 0; l < L; ++l) p[l] = xi[cc[l]];
      }
      simd::gemm<double>(L, T, rows, 1.0, panel, L, true, rt + i0, n, true, 1.0, gatheredOut + c0 * T, T, threads);
    }
  }
  for (const Span& s : spans) {
    if (s.buf == kDirect || !products) continue;
    for (int64_t q = s.c; q < s.e; ++q) std::copy_n(spanOut + s.buf + (cols[q] - s.a) * T, T, out + q * T);
  }
  if (g > 0 && products) {
    for (int64_t c = 0, q = 0; c < m && q < g; ++c) {
      if (cols[c] == gathered[q]) std::copy_n(gatheredOut + (q++) * T, T, out + c * T);
    }
  }
  if (mean != nullptr && n > 0 && products) {
    // The centring term, then the columns that need their centred values.
    std::vector<double> rowSum(static_cast<size_t>(T), 0.0);
    for (int64_t t = 0; t < T; ++t) {
      const double* r = rt + t * n;
      double s = 0.0;
      for (int64_t i = 0; i < n; ++i) s += r[i];
      rowSum[t] = s;
    }
    std::vector<int32_t> centred;
    std::vector<int64_t> where;
    for (int64_t c = 0; c < m; ++c) {
      const int64_t j = cols[c];
      if (needsCentring(mean[j], sqNorm[j], n)) {
        centred.push_back(cols[c]);
        where.push_back(c);
        continue;
      }
      double* o = out + c * T;
      for (int64_t t = 0; t < T; ++t) o[t] -= mean[j] * rowSum[t];
    }
    if (!centred.empty()) {
      const int64_t gc = static_cast<int64_t>(centred.size());
      double* xc = runtime::scratchDoubles(Scratch::kCentredColumns, static_cast<size_t>(gc * n));
      gatherColumns(x, n, d, mean, centred.data(), gc, xc);
      double* co = runtime::scratchDoubles(Scratch::kCentredOut, static_cast<size_t>(gc * T));
      simd::gemm<double>(gc, T, n, 1.0, xc, n, false, rt, n, true, 0.0, co, T, threads);
      for (int64_t q = 0; q < gc; ++q) std::copy_n(co + q * T, T, out + where[q] * T);
    }
  }
  if (norms != nullptr) {
    for (int64_t c = 0; c < m; ++c) {
      const double* o = out + c * T;
      double s = 0.0;
      for (int64_t t = 0; t < T; ++t) s += o[t] * o[t];
      norms[c] = std::sqrt(s);
    }
  }
}

}  // namespace

void correlations(const double* x, int64_t n, int64_t d, const double* mean, const double* sqNorm, const double* rt, int64_t T,
                  const int32_t* cols, int64_t m, double* out, double* norms, int threads) {
  // rt is only read: the blocks' fill does nothing.
  correlationsByBlocks(x, n, d, mean, sqNorm, const_cast<double*>(rt), T, cols, m, out, norms, threads, [](int64_t, int64_t) {},
                       [](int64_t, int64_t, int64_t, int64_t) {});
}

bool columnStatsCorrelations(const double* x, int64_t n, int64_t d, bool centre, double* mean, double* sqNorm, const double* yt,
                             int64_t T, double* out, double* norms, int threads) {
  static_assert(simd::kGemmKc % kStatRows == 0, "the blocks of the products must be whole blocks of the statistics");
  std::fill(mean, mean + d, 0.0);
  std::fill(sqNorm, sqNorm + d, 0.0);
  std::vector<int32_t> all(static_cast<size_t>(d));
  for (int64_t j = 0; j < d; ++j) all[static_cast<size_t>(j)] = static_cast<int32_t>(j);
  // Each block's statistics are summed just before its products read it: X is read from memory
  // once. The centring term and needsCentring, applied after the last block, see the final stats.
  // Every column listed makes one span of all d columns when d reaches kMinSpan and there are
  // products: the statistics then go with its column chunks; else with the blocks of rows. With
  // few tasks the product is bound by reading X, and a whole block of a wide X (256 rows of 1,000
  // columns, 2 MiB) fell out of the level-2 cache between the statistics and the product: chunks of
  // kStatColumns columns (512 KiB) are read from memory once. Measured at n 800-2,000 and d
  // 1,000-3,000 (Intel Xeon, AVX-512, one thread): 0.65-0.9x the time at 2 to 12 tasks; at 20,
  // 1.1-1.2x (the product is then bound by its arithmetic), so from kStatChunkMaxTasks on the
  // blocks stay whole.
  const bool byColumns = d >= kMinSpan && T > 0;
  const int64_t spanColumns = T < kStatChunkMaxTasks ? kStatColumns : d;
  correlationsByBlocks(
      x, n, d, centre ? mean : nullptr, centre ? sqNorm : nullptr, const_cast<double*>(yt), T, all.data(), d, out, norms, threads,
      [&](int64_t i0, int64_t rows) {
        if (!byColumns) statsRows(x, n, d, centre, i0, i0 + rows, 0, d, mean, sqNorm);
      },
      [&](int64_t i0, int64_t rows, int64_t a, int64_t e) {
        if (byColumns) statsRows(x, n, d, centre, i0, i0 + rows, a, e, mean, sqNorm);
      },
      spanColumns);
  return statsFinite(mean, sqNorm, d);
}

void gatherColumns(const double* x, int64_t n, int64_t d, const double* mean, const int32_t* cols, int64_t m, double* out) {
  // By tiles of rows: a tile's rows of x (about 128 KiB of them) stay in cache while each
  // of its columns is written as one contiguous run of its output row. Row by row instead, every
  // row of x wrote one value to each of the m output rows, a different page each: with tens of
  // columns the TLB missed on almost every write.
  constexpr int64_t kTileBytes = 128 * 1024;
  const int64_t tileRows = std::max<int64_t>(8, kTileBytes / (8 * std::max<int64_t>(d, 1)));
  for (int64_t i0 = 0; i0 < n; i0 += tileRows) {
    const int64_t i1 = std::min(n, i0 + tileRows);
    for (int64_t c = 0; c < m; ++c) {
      const double* xc = x + cols[c];
      const double mu = mean != nullptr ? mean[cols[c]] : 0.0;
      double* oc = out + c * n;
      for (int64_t i = i0; i < i1; ++i) oc[i] = xc[i * d] - mu;
    }
  }
}

double targets(const double* y, int64_t n, int64_t T, bool centre, double* yt, double* yMean) {
  std::fill(yMean, yMean + T, 0.0);
  if (centre && n > 0) {
    for (int64_t i = 0; i < n; ++i) {
      const double* yi = y + i * T;
      for (int64_t t = 0; t < T; ++t) yMean[t] += yi[t];
    }
    const double inv = 1.0 / static_cast<double>(n);
    for (int64_t t = 0; t < T; ++t) yMean[t] *= inv;
  }
  // Transposed by blocks of rows: each row of yt is written kBlock consecutive values at a time
  // (element by element, column-strided writes cost a cache line and often a TLB entry each).
  constexpr int64_t kBlock = 64;
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t i1 = std::min(n, i0 + kBlock);
    for (int64_t t = 0; t < T; ++t) {
      double* row = yt + t * n;
      const double m = yMean[t];
      for (int64_t i = i0; i < i1; ++i) row[i] = y[i * T + t] - m;
    }
  }
  // Four interleaved sums (entry q into sum q mod 4), added pairwise at the end: one serial sum
  // waited on its adds' latency. The twin sums in the same order.
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  const int64_t len = n * T;
  int64_t q = 0;
  for (; q + 4 <= len; q += 4) {
    for (int l = 0; l < 4; ++l) s[l] += yt[q + l] * yt[q + l];
  }
  for (int l = 0; q < len; ++q, ++l) s[l] += yt[q] * yt[q];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

void coefficients(const int32_t* cols, int64_t m, const double* w, int64_t T, const double* mean, const double* yMean, int64_t d,
                  double* coef, double* intercept) {
  std::copy_n(yMean, T, intercept);
  for (int64_t c = 0; c < m; ++c) {
    const int64_t j = cols[c];
    const double xm = mean[j];
    const double* wc = w + c * T;
    for (int64_t t = 0; t < T; ++t) {
      coef[t * d + j] = wc[t];
      intercept[t] -= xm * wc[t];
    }
  }
}

namespace {

// ||R||^2 and <R, Y>, summed in order.
ResidualParts residualParts(const double* rt, const double* yt, int64_t len) {
  double rr = 0.0;
  double ry = 0.0;
  for (int64_t q = 0; q < len; ++q) {
    rr += rt[q] * rt[q];
    ry += rt[q] * yt[q];
  }
  return {rr, ry};
}

}  // namespace

ResidualParts residual(const double* xs, int64_t k, int64_t n, const double* w, int64_t T, const double* yt, double* rt, int threads) {
  std::copy_n(yt, n * T, rt);
  if (k > 0) simd::gemm<double>(T, n, k, -1.0, w, T, true, xs, n, false, 1.0, rt, n, threads);
  return residualParts(rt, yt, n * T);
}

namespace {

// The listed centred columns of rows [i0, i0 + rows) of x (n rows) as a row-major panel
// (rows x m). The same entries kPanelAhead rows on are prefetched as each row is read: scattered
// reads of consecutive rows otherwise wait on memory at every row.
constexpr int64_t kPanelAhead = 8;

// The listed columns to prefetch in a row: one per run of columns within a cache line's worth of
// each other (a prefetch per column cost as much as the gather itself when the columns were dense
// in the row, 50 of 100). The same for every block of rows, so a product computes it once.
std::vector<int32_t> prefetchColumns(const int32_t* cols, int64_t m) {
  constexpr int32_t kLine = 64 / int32_t(sizeof(double));
  std::vector<int32_t> ahead;
  for (int64_t c = 0; c < m; ++c) {
    if (ahead.empty() || cols[c] < ahead.back() || cols[c] >= ahead.back() + kLine) ahead.push_back(cols[c]);
  }
  return ahead;
}

void gatherPanel(const double* x, int64_t n, int64_t d, const double* mean, const int32_t* cols, int64_t m,
                 const std::vector<int32_t>& ahead, int64_t i0, int64_t rows, double* panel) {
  for (int64_t i = 0; i < rows; ++i) {
    const double* xi = x + (i0 + i) * d;
    double* p = panel + i * m;
    if (i0 + i + kPanelAhead < n) {
      const double* next = xi + kPanelAhead * d;
      for (const int32_t j : ahead) __builtin_prefetch(next + j);
    }
    if (mean != nullptr) {
      for (int64_t c = 0; c < m; ++c) p[c] = xi[cols[c]] - mean[cols[c]];
    } else {
      for (int64_t c = 0; c < m; ++c) p[c] = xi[cols[c]] - 0.0;
    }
  }
}

// Where `rows` sits inside `cols` as a run of consecutive entries, or -1.
int64_t runWithin(const int32_t* rows, int64_t a, const int32_t* cols, int64_t b) {
  for (int64_t off = 0; off + a <= b; ++off) {
    if (cols[off] != rows[0]) continue;
    int64_t q = 1;
    while (q < a && cols[off + q] == rows[q]) ++q;
    if (q == a) return off;
  }
  return -1;
}

}  // namespace

void gramColumns(const double* x, int64_t n, int64_t d, const double* mean, const int32_t* rows, int64_t a, const int32_t* cols,
                 int64_t b, double* out, int threads) {
  // The product of the gathered copies sums each entry over i in blocks of kGemmKc from i = 0
  // (simd/ops.h); so does one product per block of kGemmKc rows added to out, on panels gathered
  // from those rows (contiguous reads of x, panels in L2). A's panel is a run of B's when the rows
  // are such a run (a pool's new slots against all of them), else gathered on its own.
  constexpr int64_t kRows = simd::kGemmKc;
  std::fill(out, out + a * b, 0.0);
  if (a == 0 || b == 0 || n == 0) return;
  const int64_t off = runWithin(rows, a, cols, b);
  double* panelB = runtime::scratchDoubles(runtime::Scratch::kPanelB, static_cast<size_t>(std::min(kRows, n) * b));
  double* panelA = runtime::scratchDoubles(runtime::Scratch::kPanelA, off < 0 ? static_cast<size_t>(std::min(kRows, n) * a) : 0);
  // When the rows are the run of columns from off on, out[:, off:off+a] is the symmetric Gram
  // matrix of those columns: each strip of kStrip rows is computed from its diagonal on (about
  // half the multiply-adds for a square Gram), the rest mirrored at the end. An entry and its
  // mirror are the same sum (the same products in the same order), so the values are those of
  // the whole product. Strips of twelve rows (one block of AVX-512's direct product) did 16%
  // fewer multiply-adds than 24 on a 50-column working set and ran 3-10% faster.
  constexpr int64_t kStrip = 12;
  const bool symmetric = off >= 0 && a > kStrip;
  const std::vector<int32_t> aheadB = prefetchColumns(cols, b);
  const std::vector<int32_t> aheadA = off < 0 ? prefetchColumns(rows, a) : std::vector<int32_t>();
  for (int64_t i0 = 0; i0 < n; i0 += kRows) {
    const int64_t r = std::min(kRows, n - i0);
    gatherPanel(x, n, d, mean, cols, b, aheadB, i0, r, panelB);
    if (off < 0) {
      gatherPanel(x, n, d, mean, rows, a, aheadA, i0, r, panelA);
      simd::gemm<double>(a, b, r, 1.0, panelA, a, true, panelB, b, false, 1.0, out, b, threads);
    } else if (!symmetric) {
      simd::gemm<double>(a, b, r, 1.0, panelB + off, b, true, panelB, b, false, 1.0, out, b, threads);
    } else {
      const double* pa = panelB + off;
      // Columns before the run: every row.
      if (off > 0) simd::gemm<double>(a, off, r, 1.0, pa, b, true, panelB, b, false, 1.0, out, b, threads);
      for (int64_t s0 = 0; s0 < a; s0 += kStrip) {
        const int64_t h = std::min(kStrip, a - s0);
        const int64_t c0 = off + s0;  // the strip's diagonal, then every column after it
        simd::gemm<double>(h, b - c0, r, 1.0, pa + s0, b, true, panelB + c0, b, false, 1.0, out + s0 * b + c0, b, threads);
      }
    }
  }
  if (symmetric) {
    for (int64_t s0 = kStrip; s0 < a; s0 += kStrip) {
      const int64_t h = std::min(kStrip, a - s0);
      for (int64_t i = s0; i < s0 + h; ++i)
        for (int64_t j = 0; j < s0; ++j) out[i * b + off + j] = out[j * b + off + i];
    }
  }
}

ResidualParts residualColumns(const double* x, int64_t n, int64_t d, const double* mean, const int32_t* cols, int64_t k,
                              const double* w, int64_t T, const double* yt, double* rt, int threads) {
  // Each entry of rt is a sum over the k columns (simd/ops.h's order), whichever block of rows its
  // column of rt falls in: blocks of rows of x, gathered as panels of columns (k x r, the layout
  // of residual()'s gathered copy, so the product reads contiguous rows), give residual()'s values.
  std::copy_n(yt, n * T, rt);
  if (k > 0 && n > 0) {
    const int64_t rowsPer = std::clamp<int64_t>((int64_t(1) << 15) / k, 16, 1024);
    double* panel = runtime::scratchDoubles(runtime::Scratch::kResidualPanel, static_cast<size_t>(std::min(rowsPer, n) * k));
    for (int64_t i0 = 0; i0 < n; i0 += rowsPer) {
      const int64_t r = std::min(rowsPer, n - i0);
      gatherColumns(x + i0 * d, r, d, mean, cols, k, panel);
      simd::gemm<double>(T, r, k, -1.0, w, T, true, panel, r, false, 1.0, rt + i0, n, threads);
    }
  }
  return residualParts(rt, yt, n * T);
}

ResidualParts residualCorrelations(const double* x, int64_t n, int64_t d, const double* mean, const double* sqNorm, const int32_t* resCols,
                                   int64_t k, const double* w, int64_t T, const double* yt, double* rt, const int32_t* cols, int64_t m,
                                   double* out, double* norms, int threads) {
  // Each block of rows of the residual is built (as residualColumns builds it: every entry one sum
  // over the k columns) just before the correlations read it, while those rows of x are in cache.
  double* panel = runtime::scratchDoubles(runtime::Scratch::kResidualPanel, static_cast<size_t>(k * std::min(simd::kGemmKc, n)));
  correlationsByBlocks(x, n, d, mean, sqNorm, rt, T, cols, m, out, norms, threads, [&](int64_t i0, int64_t rows) {
    for (int64_t t = 0; t < T; ++t) std::copy_n(yt + t * n + i0, rows, rt + t * n + i0);
    if (k == 0) return;
    gatherColumns(x + i0 * d, rows, d, mean, resCols, k, panel);
    simd::gemm<double>(T, rows, k, -1.0, w, T, true, panel, rows, false, 1.0, rt + i0, n, threads);
  }, [](int64_t, int64_t, int64_t, int64_t) {});
  return residualParts(rt, yt, n * T);
}

SweepStats gramSweep(const double* gram, int64_t k, double* ht, int64_t T, double* w, double l1Reg, double l2Reg,
                     const int32_t* order, int64_t orderLen) {
  // From k = 96 the update of ht after each coordinate is deferred and applied kBlock coordinates
  // at a time (simd daxpyRows; the per-coordinate daxpys were bound by their stores):
  // every entry still gets one multiply-add per coordinate, in the same order, so the sweep gives
  // the eager sweep's bits. A coordinate read while updates are pending applies them to a copy of
  // its own entries first (the same operations). Blocks of 4 were fastest for k 100 to 1000, T 2
  // to 30 (1.3-1.7 times as fast as eager); at k 70, T 4 the eager updates were faster.
  const bool deferred = k >= 96;
  constexpr int64_t kBlock = 4;
  const simd::Ops& ops = simd::ops();
  std::vector<double> tmp(T), delta(T), coef(static_cast<size_t>(kBlock * T));
  const double* sources[kBlock];
  const double* here[kBlock];
  int64_t pending = 0;
  double wMax = 0.0;
  double dwMax = 0.0;
  for (int64_t o = 0; o < orderLen; ++o) {
    const int64_t j = order[o];
    const double* gj = gram + j * k;
    const double cj = gj[j];
    if (cj == 0.0) continue;
    double* wj = w + j * T;
    for (int64_t t = 0; t < T; ++t) tmp[t] = ht[t * k + j];
    if (pending > 0) {
      for (int64_t b = 0; b < pending; ++b) here[b] = sources[b] + j;
      ops.daxpyRows(coef.data(), pending, here, tmp.data(), T, 1, 1);
    }
    double nrmSq = 0.0;
    for (int64_t t = 0; t < T; ++t) {
      const double v = tmp[t] + cj * wj[t];
      tmp[t] = v;
      nrmSq += v * v;
    }
    const RowChange change = groupStep(tmp.data(), nrmSq, cj, l1Reg, l2Reg, wj, delta.data(), T);
    dwMax = std::max(dwMax, change.dw);
    wMax = std::max(wMax, change.wa);
    if (change.dw == 0.0) continue;
    if (!deferred) {
      for (int64_t t = 0; t < T; ++t) {
        if (delta[t] != 0.0) ops.daxpy(-delta[t], gj, ht + t * k, k);
      }
      continue;
    }
    for (int64_t t = 0; t < T; ++t) coef[pending * T + t] = -delta[t];
    sources[pending++] = gj;
    if (pending == kBlock) {
      ops.daxpyRows(coef.data(), pending, sources, ht, T, k, k);
      pending = 0;
    }
  }
  if (pending > 0) ops.daxpyRows(coef.data(), pending, sources, ht, T, k, k);
  return {wMax, dwMax};
}

}  // namespace metatask::cd
