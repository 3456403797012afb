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

#include "simd/gemm.h"
#include "simd/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace metatask::cd {

namespace {
// Residual rows are processed in blocks that stay in L1 between the update and the dot product.
constexpr Eigen::Index kBlock = 512;
}  // namespace

SweepStats mtenetSweep(const CMatMap<double>& xt, MatMap<double>& rt, MatMap<double>& w,
                       const CVecMap<double>& colNormSq, double l1Reg, double l2Reg,
                       const int32_t* order, int64_t orderLen) {
  const Eigen::Index n = xt.cols();
  const Eigen::Index T = w.cols();
  // Scratch allocated once per sweep, never inside the feature loop.
  Vec<double> dots(T);   // X[:,j]^T R for the feature about to be updated
  Vec<double> delta(T);  // W_new[j,:] - W_old[j,:]
  double wMax = 0.0;
  double dwMax = 0.0;
  // An all-zero feature cannot change the fit; scikit-learn leaves it alone and does not count
  // it in wMax / dwMax.
  auto nextActive = [&](int64_t o) {
    while (o < orderLen && colNormSq[order[o]] == 0.0) ++o;
    return o;
  };
  auto rowOf = [&](double* base, Eigen::Index i) { return VecMap<double>(base + i * n, n); };
  auto xRow = [&](Eigen::Index j) { return CVecMap<double>(xt.data() + j * n, n); };

  int64_t o = nextActive(0);
  if (o < orderLen) {
    const auto x = xRow(order[o]);
    for (Eigen::Index t = 0; t < T; ++t) dots[t] = rowOf(rt.data(), t).dot(x);
  }
  while (o < orderLen) {
    const Eigen::Index j = order[o];
    const double cj = colNormSq[j];
    double* wj = w.data() + j * T;
    double nrmSq = 0.0;
    for (Eigen::Index t = 0; t < T; ++t) {
      const double v = dots[t] + cj * wj[t];
      dots[t] = v;  // now tmp_t
      nrmSq += v * v;
    }
    const double nrm = std::sqrt(nrmSq);
    // Group soft-threshold then ridge shrinkage; `nrm > l1Reg` also covers nrm = 0 (no 0/0).
    const double shrink = nrm > l1Reg ? (1.0 - l1Reg / nrm) / (cj + l2Reg) : 0.0;
    double dw = 0.0;
    double wa = 0.0;
    for (Eigen::Index t = 0; t < T; ++t) {
      const double next = dots[t] * shrink;
      delta[t] = next - wj[t];
      wj[t] = next;
      dw = std::max(dw, std::abs(delta[t]));
      wa = std::max(wa, std::abs(next));
    }
    dwMax = std::max(dwMax, dw);
    wMax = std::max(wMax, wa);

    // R[t,:] -= delta_t X[:,j]^T, fused with the next feature's dot products X[:,jn]^T R[t,:]:
    // one pass over the residual per feature instead of two. Unchanged tasks (delta 0, the
    // common case for zero rows) skip the update.
    const int64_t on = nextActive(o + 1);
    const auto x = xRow(j);
    if (on < orderLen) {
      const auto xn = xRow(order[on]);
      for (Eigen::Index t = 0; t < T; ++t) {
        auto r = rowOf(rt.data(), t);
        if (delta[t] == 0.0) {
          dots[t] = r.dot(xn);
          continue;
        }
        const double dt = delta[t];
        double acc = 0.0;
        for (Eigen::Index b = 0; b < n; b += kBlock) {
          const Eigen::Index len = std::min(kBlock, n - b);
          auto rb = r.segment(b, len);
          rb.noalias() -= dt * x.segment(b, len);
          acc += rb.dot(xn.segment(b, len));
        }
        dots[t] = acc;
      }
    } else {
      for (Eigen::Index t = 0; t < T; ++t) {
        if (delta[t] != 0.0) rowOf(rt.data(), t).noalias() -= delta[t] * x;
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

using StrideMap = Eigen::Map<RowMat<double>, Eigen::Unaligned, Eigen::OuterStride<>>;

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
  const Eigen::Index n = xt.cols();
  const Eigen::Index B = blockSize;
  RowMat<double> scratch(B, n);
  for (int64_t s = 0, b = 0; s < orderLen; s += B, ++b) {
    const Eigen::Index L = std::min<int64_t>(B, orderLen - s);
    if (n == 0) {
      // No samples: every Gram entry is 0 (and Eigen must not see the empty map's null pointer).
      StrideMap(out + b * B * B, L, L, Eigen::OuterStride<>(B)).triangularView<Eigen::Lower>().setZero();
      continue;
    }
    CMatMap<double> xb(blockRows(xt, order + s, L, scratch), L, n);
    StrideMap g(out + b * B * B, L, L, Eigen::OuterStride<>(B));
    g.triangularView<Eigen::Lower>() = xb * xb.transpose();
  }
}

SweepStats mtenetSweepBlocked(const CMatMap<double>& xt, MatMap<double>& rt, MatMap<double>& w,
                              const CVecMap<double>& colNormSq, double l1Reg, double l2Reg,
                              const int32_t* order, int64_t orderLen, const double* gram, int64_t blockSize) {
  const Eigen::Index n = xt.cols();
  const Eigen::Index T = w.cols();
  const Eigen::Index B = blockSize;
  // Scratch allocated once per sweep.
  RowMat<double> xc(std::min<int64_t>(B, orderLen), n);  // gathered rows that changed
  RowMat<double> g(B, T);                               // X_k^T R for the block's rows k
  RowMat<double> dl(B, T);                              // the changes of the rows that changed
  std::vector<int32_t> changed(B);                      // their positions in the block
  RowMat<double> xs(std::min<int64_t>(B, orderLen), n);  // gathered rows of a non-consecutive block
  double wMax = 0.0;
  double dwMax = 0.0;
  for (int64_t s = 0, b = 0; s < orderLen; s += B, ++b) {
    const Eigen::Index L = std::min<int64_t>(B, orderLen - s);
    const int32_t* idx = order + s;
    bool anyActive = false;
    for (Eigen::Index p = 0; p < L && !anyActive; ++p) anyActive = colNormSq[idx[p]] != 0.0;
    if (!anyActive) continue;  // all-zero features are skipped, as in mtenetSweep
    // (A hand-written register-tiled dot kernel reading the rows in place measured slower than
    // Eigen's packed product here.)
    CMatMap<double> xb(blockRows(xt, idx, L, xs), L, n);
    g.topRows(L).noalias() = xb * rt.transpose();
    const double* gb = gram + b * B * B;
    Eigen::Index nc = 0;
    for (Eigen::Index p = 0; p < L; ++p) {
      const Eigen::Index j = idx[p];
      const double cj = colNormSq[j];
      if (cj == 0.0) continue;
      double* wj = w.data() + j * T;
      double* gp = g.data() + p * T;
      double nrmSq = 0.0;
      for (Eigen::Index t = 0; t < T; ++t) {
        const double v = gp[t] + cj * wj[t];
        gp[t] = v;  // now tmp_t
        nrmSq += v * v;
      }
      const double nrm = std::sqrt(nrmSq);
      const double shrink = nrm > l1Reg ? (1.0 - l1Reg / nrm) / (cj + l2Reg) : 0.0;
      double* dp = dl.data() + nc * T;
      double dw = 0.0;
      double wa = 0.0;
      for (Eigen::Index t = 0; t < T; ++t) {
        const double next = gp[t] * shrink;
        dp[t] = next - wj[t];
        wj[t] = next;
        dw = std::max(dw, std::abs(dp[t]));
        wa = std::max(wa, std::abs(next));
      }
      dwMax = std::max(dwMax, dw);
      wMax = std::max(wMax, wa);
      if (dw == 0.0) continue;
      // Later rows of the block: X_k^T R_new = G[k] - (x_k . x_j) delta.
      for (Eigen::Index q = p + 1; q < L; ++q) {
        const double c = gb[q * B + p];
        double* gq = g.data() + q * T;
        for (Eigen::Index t = 0; t < T; ++t) gq[t] -= c * dp[t];
      }
      changed[nc++] = static_cast<int32_t>(p);
    }
    if (nc == 0) continue;
    if (nc == L) {
      rt.noalias() -= dl.topRows(nc).transpose() * xb;
    } else {
      for (Eigen::Index c = 0; c < nc; ++c) xc.row(c) = xb.row(changed[c]);
      rt.noalias() -= dl.topRows(nc).transpose() * xc.topRows(nc);
    }
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

void columnStats(const double* x, int64_t n, int64_t d, bool centre, double* mean, double* sqNorm) {
  std::fill(mean, mean + d, 0.0);
  std::fill(sqNorm, sqNorm + d, 0.0);
  if (centre && n > 0) {
    for (int64_t i = 0; i < n; ++i) {
      const double* xi = x + i * d;
      for (int64_t j = 0; j < d; ++j) mean[j] += xi[j];
    }
    const double inv = 1.0 / static_cast<double>(n);
    for (int64_t j = 0; j < d; ++j) mean[j] *= inv;
  }
  for (int64_t i = 0; i < n; ++i) {
    const double* xi = x + i * d;
    for (int64_t j = 0; j < d; ++j) {
      const double v = xi[j] - mean[j];
      sqNorm[j] += v * v;
    }
  }
}

void correlations(const double* x, int64_t n, int64_t d, const double* mean, const double* rt, int64_t T,
                  const int32_t* cols, int64_t m, double* out, int threads) {
  // Panels of kChunk columns by kRows rows, packed centred (contiguous copies when the columns are
  // consecutive), each multiplied into out by simd::gemm: out[c, t] += sum_i panel[i, c] rt[t, i].
  // kRows is a multiple of simd's kGemmKc, so the sums run in the same order as one product over all
  // rows would (simd/ops.h): the result depends on the values only.
  // Wide panels, so that the block of rt that each product packs serves many columns.
  constexpr int64_t kChunk = 512;
  constexpr int64_t kRows = simd::kGemmKc;
  std::fill(out, out + m * T, 0.0);
  if (m == 0 || T == 0 || n == 0) return;
  bool consecutive = true;
  for (int64_t c = 1; c < m && consecutive; ++c) consecutive = cols[c] == cols[0] + c;
  if (mean == nullptr && consecutive) {
    // Nothing to centre or gather: one product on X in place (the same sums as the panels below).
    simd::gemm<double>(m, T, n, 1.0, x + cols[0], d, true, rt, n, true, 0.0, out, T, threads);
    return;
  }
  std::vector<double> panel(static_cast<size_t>(std::min(kRows, n) * kChunk));
  for (int64_t c0 = 0; c0 < m; c0 += kChunk) {
    const int64_t L = std::min(kChunk, m - c0);
    const int32_t* cc = cols + c0;
    std::vector<double> mc(static_cast<size_t>(L));
    for (int64_t l = 0; l < L; ++l) mc[l] = mean != nullptr ? mean[cc[l]] : 0.0;
    bool run = true;  // consecutive columns: contiguous (vectorised) copies
    for (int64_t l = 1; l < L && run; ++l) run = cc[l] == cc[0] + l;
    for (int64_t i0 = 0; i0 < n; i0 += kRows) {
      const int64_t rows = std::min(kRows, n - i0);
      for (int64_t i = 0; i < rows; ++i) {
        double* p = panel.data() + i * L;
        const double* xi = x + (i0 + i) * d;
        if (run) {
          const double* xr = xi + cc[0];
          for (int64_t l = 0; l < L; ++l) p[l] = xr[l] - mc[l];
        } else {
          for (int64_t l = 0; l < L; ++l) p[l] = xi[cc[l]] - mc[l];
        }
      }
      simd::gemm<double>(L, T, rows, 1.0, panel.data(), L, true, rt + i0, n, true, 1.0, out + c0 * T, T, threads);
    }
  }
}

void gatherColumns(const double* x, int64_t n, int64_t d, const double* mean, const int32_t* cols, int64_t m, double* out) {
  // Blocks of rows, so that the m output rows are written a cache line at a time.
  constexpr int64_t kB = 64;
  for (int64_t i0 = 0; i0 < n; i0 += kB) {
    const int64_t i1 = std::min(n, i0 + kB);
    for (int64_t c = 0; c < m; ++c) {
      const int64_t j = cols[c];
      const double mj = mean != nullptr ? mean[j] : 0.0;
      double* o = out + c * n;
      for (int64_t i = i0; i < i1; ++i) o[i] = x[i * d + j] - mj;
    }
  }
}

SweepStats gramSweep(const double* gram, int64_t k, double* ht, int64_t T, double* w, double l1Reg, double l2Reg,
                     const int32_t* order, int64_t orderLen) {
  std::vector<double> tmp(T), delta(T);
  double wMax = 0.0;
  double dwMax = 0.0;
  for (int64_t o = 0; o < orderLen; ++o) {
    const int64_t j = order[o];
    const double* gj = gram + j * k;
    const double cj = gj[j];
    if (cj == 0.0) continue;
    double* wj = w + j * T;
    double nrmSq = 0.0;
    for (int64_t t = 0; t < T; ++t) {
      const double v = ht[t * k + j] + cj * wj[t];
      tmp[t] = v;
      nrmSq += v * v;
    }
    const double nrm = std::sqrt(nrmSq);
    const double shrink = nrm > l1Reg ? (1.0 - l1Reg / nrm) / (cj + l2Reg) : 0.0;
    double dw = 0.0;
    double wa = 0.0;
    for (int64_t t = 0; t < T; ++t) {
      const double next = tmp[t] * shrink;
      delta[t] = next - wj[t];
      wj[t] = next;
      dw = std::max(dw, std::abs(delta[t]));
      wa = std::max(wa, std::abs(next));
    }
    dwMax = std::max(dwMax, dw);
    wMax = std::max(wMax, wa);
    if (dw == 0.0) continue;
    const simd::Ops& ops = simd::ops();
    for (int64_t t = 0; t < T; ++t) {
      if (delta[t] != 0.0) ops.daxpy(-delta[t], gj, ht + t * k, k);
    }
  }
  return {wMax, dwMax};
}

}  // namespace metatask::cd
