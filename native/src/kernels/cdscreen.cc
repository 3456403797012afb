// The per-feature passes of the working-set elastic-net solver (see cdscreen.h; formulas in the
// twin lib/kernels/js/cdscreen.ts).
#include "kernels/cdscreen.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace metatask::cd {

double dualNorms(const FeatureState& s, double l1Reg, double l2Reg, double* xi) {
  const int64_t T = s.T;
  double scale = l1Reg;
  for (int64_t j = 0; j < s.d; ++j) {
    const double c = s.colNormSq[j];
    if (!(c > 0)) continue;
    const int32_t at = s.corrVersion[j];
    double v;
    if (at == s.version) {
      if (l2Reg == 0 || !s.nonZero[j]) {
        v = s.corrNorm[j];
      } else {
        double q = 0;
        for (int64_t t = 0; t < T; ++t) {
          const double e = s.corr[j * T + t] - l2Reg * s.w[j * T + t];
          q += e * e;
        }
        v = std::sqrt(q);
      }
    } else if (s.nonZero[j] || at < 0) {
      v = std::numeric_limits<double>::infinity();
    } else {
      v = s.corrNorm[j] + std::sqrt(c) * (s.drift - s.corrDrift[j]);
    }
    xi[j] = v;
    if (v > scale) scale = v;
  }
  return scale;
}

int64_t screen(uint8_t* active, const uint8_t* nonZero, const double* xi, const double* colNormSq, int64_t d, double scale,
               double radius, double l2Reg, double threshold) {
  int64_t removed = 0;
  for (int64_t j = 0; j < d; ++j) {
    if (active[j] && !nonZero[j] && xi[j] / scale + radius * std::sqrt(colNormSq[j] + l2Reg) < threshold) {
      active[j] = 0;
      ++removed;
    }
  }
  return removed;
}

int64_t staleFeatures(const int32_t* corrVersion, int32_t version, const uint8_t* eligible, const double* xi, int64_t d,
                      double limit, int32_t* out) {
  int64_t m = 0;
  for (int64_t j = 0; j < d; ++j) {
    if (eligible[j] && corrVersion[j] != version && !(xi[j] <= limit)) out[m++] = static_cast<int32_t>(j);
  }
  return m;
}

int64_t flaggedFeatures(const uint8_t* flags, const uint8_t* except, int64_t d, int32_t* out, int64_t outLen) {
  int64_t m = 0;
  for (int64_t j = 0; j < d; ++j) {
    if (flags[j] && !(except && except[j])) {
      if (m < outLen) out[m] = static_cast<int32_t>(j);
      ++m;
    }
  }
  return m;
}

int64_t flagPositive(const double* values, int64_t d, uint8_t* flags) {
  int64_t m = 0;
  for (int64_t j = 0; j < d; ++j) {
    const bool positive = values[j] > 0;
    flags[j] = positive ? 1 : 0;
    m += positive;
  }
  return m;
}

namespace {

// The k-th smallest of a[0..n) (0-based), reordering a: the twin of lib/core/select.ts
// (Hoare's FIND with median-of-three pivots), the same comparisons in the same order. The scans
// are also bounded by [lo, hi], which never binds for values without NaN and keeps a NaN (which
// compares false with everything) from walking out of the range.
double kthSmallestInPlace(double* a, int64_t n, int64_t k) {
  int64_t lo = 0;
  int64_t hi = n - 1;
  while (hi > lo) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (a[mid] < a[lo]) std::swap(a[mid], a[lo]);
    if (a[hi] < a[lo]) std::swap(a[hi], a[lo]);
    if (a[hi] < a[mid]) std::swap(a[hi], a[mid]);
    const double pivot = a[mid];
    int64_t i = lo;
    int64_t j = hi;
    while (i <= j) {
      while (i < hi && a[i] < pivot) ++i;
      while (j > lo && a[j] > pivot) --j;
      if (i <= j) {
        std::swap(a[i], a[j]);
        ++i;
        --j;
      }
    }
    if (k <= j) {
      hi = j;
    } else if (k >= i) {
      lo = i;
    } else {
      return a[k];
    }
  }
  return a[k];
}

// The working set's size from its support of nnz rows (twin: setGrowth in cdscreen.ts): twice the
// support, or, with a violation level given, the support plus twice its violators, at least a
// quarter of the support, where that is less.
int64_t setGrowth(int64_t nnz, int64_t violators, bool levelGiven) {
  if (!levelGiven) return 2 * nnz;
  return std::min(2 * nnz, nnz + std::max(2 * violators, (nnz + 3) / 4));
}

// Smallest first set from an empty support (twin: FIRST_SET_FLOOR in cdscreen.ts).
constexpr int64_t kFirstSetFloor = 10;

// The size the set aims at before the features that join in any case (twin: targetSize in
// cdscreen.ts): from an empty support with a violation level, when minSize leaves active features
// out anyway, twice the violators within [kFirstSetFloor, minSize]; after a full set (a limit
// given), the support plus twice its violators within [2 nnz, fullSetLimit] (the limit itself
// without a level); else the growth; at least minSize but for the first set.
int64_t targetSize(int64_t minSize, int64_t nnz, int64_t violators, int64_t activeCount, bool levelGiven, int64_t fullSetLimit) {
  if (levelGiven && nnz == 0 && minSize < activeCount) return std::min(minSize, std::max(2 * violators, kFirstSetFloor));
  if (fullSetLimit > 0) {
    return std::max(minSize, levelGiven ? std::min(fullSetLimit, std::max(2 * nnz, nnz + 2 * violators)) : fullSetLimit);
  }
  return std::max(minSize, setGrowth(nnz, violators, levelGiven));
}

}  // namespace

int64_t workingSet(const uint8_t* active, const uint8_t* nonZero, const double* xi, int64_t d, double strong, int64_t minSize,
                   double violation, int64_t fullSetLimit, int32_t* out) {
  std::vector<uint8_t> chosen(static_cast<size_t>(d), 0);
  int64_t count = 0;
  int64_t activeCount = 0;
  int64_t nnz = 0;
  int64_t violators = 0;  // stays 0 with no level: a NaN compares false
  for (int64_t j = 0; j < d; ++j) {
    if (!active[j]) continue;
    ++activeCount;
    if (nonZero[j]) {
      ++nnz;
    } else if (xi[j] >= violation) {
      ++violators;
    }
    if (nonZero[j] || xi[j] >= strong) {
      chosen[j] = 1;
      ++count;
    }
  }
  const int64_t size = std::min(activeCount, std::max(targetSize(minSize, nnz, violators, activeCount, !std::isnan(violation), fullSetLimit), count));
  if (count < size) {
    const int64_t rest = activeCount - count;
    std::vector<double> scores(static_cast<size_t>(rest));
    std::vector<int32_t> ids(static_cast<size_t>(rest));
    int64_t q = 0;
    for (int64_t j = 0; j < d; ++j) {
      if (!active[j] || chosen[j]) continue;
      scores[q] = -xi[j];
      ids[q++] = static_cast<int32_t>(j);
    }
    const int64_t need = size - count;
    std::vector<double> copy(scores);
    const double threshold = kthSmallestInPlace(copy.data(), rest, need - 1);
    int64_t below = 0;
    for (int64_t i = 0; i < rest; ++i) {
      if (scores[i] < threshold) ++below;
    }
    int64_t ties = need - below;
    for (int64_t i = 0; i < rest; ++i) {
      const double v = scores[i];
      if (v < threshold || (v == threshold && ties-- > 0)) chosen[ids[i]] = 1;
    }
  }
  int64_t m = 0;
  for (int64_t j = 0; j < d; ++j) {
    if (chosen[j]) out[m++] = static_cast<int32_t>(j);
  }
  return m;
}

namespace {

// row = v (T values); returns sum_t v[t]^2, summed in order.
double copyRow(const double* v, double* row, int64_t T) {
  double q = 0.0;
  for (int64_t t = 0; t < T; ++t) {
    row[t] = v[t];
    q += v[t] * v[t];
  }
  return q;
}

}  // namespace

RowsSet setRows(double* w, uint8_t* nonZero, int64_t T, const int32_t* rows, int64_t k, const double* values) {
  RowsSet r{0, 0.0, 0.0};
  for (int64_t c = 0; c < k; ++c) {
    const int64_t j = rows[c];
    const double q = copyRow(values + c * T, w + j * T, T);
    const uint8_t now = q > 0.0 ? 1 : 0;
    r.supportChange += int64_t(now) - int64_t(nonZero[j]);
    nonZero[j] = now;
    if (q > 0.0) {
      r.l21 += std::sqrt(q);
      r.normSq += q;
    }
  }
  return r;
}

void setCorrelations(double* corr, double* corrNorm, int32_t* corrVersion, double* corrDrift, int64_t T, int32_t version,
                     double drift, const int32_t* cols, int64_t k, const double* values, const double* norms) {
  for (int64_t c = 0; c < k; ++c) {
    const int64_t j = cols[c];
    const double q = copyRow(values + c * T, corr + j * T, T);
    corrNorm[j] = norms != nullptr ? norms[c] : std::sqrt(q);
    corrVersion[j] = version;
    corrDrift[j] = drift;
  }
}

}  // namespace metatask::cd
