// The inner solves of the working-set method (cdsolve.h gives the formulas). Every sum runs in an
// order fixed by the shapes and the SIMD level (plain loops in increasing index order, simd::gemm,
// simd ddot and daxpyRows), so the result is a function of the input values alone. Twin:
// lib/kernels/js/cdsolve.ts.
#include "kernels/cdsolve.h"

#include "kernels/cd.h"
#include "runtime/scratch.h"
#include "simd/gemm.h"
#include "simd/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace metatask::cd {

// ---------------------------------------------------------------------------------------------
// Anderson extrapolation
// ---------------------------------------------------------------------------------------------

Anderson::Anderson(int64_t length)
    : length_(length), iterates_(runtime::uninitialisedArray<double>((K + 1) * length)) {}

void Anderson::push(const double* x) {
  std::copy_n(x, length_, iterates_.data() + (count_ % (K + 1)) * length_);
  ++count_;
}

bool Anderson::extrapolate(double* out) {
  if (!ready()) return false;
  const int64_t L = length_;
  // Iterates in chronological order: the oldest of the ring first.
  const int64_t first = count_ % (K + 1);
  const double* x[K + 1];
  for (int i = 0; i <= K; ++i) x[i] = iterates_.data() + ((first + i) % (K + 1)) * L;
  // A = U^T U in one pass over the iterates, each difference u_i = x_{i+1} - x_i formed as it is
  // read: each of the K (K + 1) / 2 sums runs over p in increasing order, as a dot product of
  // stored differences would (the same values), side by side so that no sum waits on its own last
  // addition (K constant: they stay in registers). K dot products one after another, each a chain
  // of additions, took 6 % of a fit.
  double tri[K * (K + 1) / 2] = {};
  for (int64_t p = 0; p < L; ++p) {
    double u[K];
    for (int i = 0; i < K; ++i) u[i] = x[i + 1][p] - x[i][p];
    for (int i = 0, q = 0; i < K; ++i)
      for (int j = 0; j <= i; ++j, ++q) tri[q] += u[i] * u[j];
  }
  double A[K * K];
  for (int i = 0, q = 0; i < K; ++i) {
    for (int j = 0; j <= i; ++j, ++q) {
      A[i * K + j] = tri[q];
      A[j * K + i] = tri[q];
    }
  }
  // Solve (A + ridge I) z = 1 by Cholesky.
  double trace = 0.0;
  for (int i = 0; i < K; ++i) trace += A[i * K + i];
  if (!(trace > 0.0) || !std::isfinite(trace)) return false;
  const double ridge = 1e-14 * trace / K;
  double Lc[K * K] = {};
  for (int i = 0; i < K; ++i) {
    for (int j = 0; j <= i; ++j) {
      double s = A[i * K + j] + (i == j ? ridge : 0.0);
      for (int p = 0; p < j; ++p) s -= Lc[i * K + p] * Lc[j * K + p];
      if (i == j) {
        if (!(s > 0.0)) return false;
        Lc[i * K + i] = std::sqrt(s);
      } else {
        Lc[i * K + j] = s / Lc[j * K + j];
      }
    }
  }
  double z[K];
  for (int i = 0; i < K; ++i) {
    double s = 1.0;
    for (int p = 0; p < i; ++p) s -= Lc[i * K + p] * z[p];
    z[i] = s / Lc[i * K + i];
  }
  for (int i = K - 1; i >= 0; --i) {
    double s = z[i];
    for (int p = i + 1; p < K; ++p) s -= Lc[p * K + i] * z[p];
    z[i] = s / Lc[i * K + i];
  }
  double sum = 0.0;
  for (int i = 0; i < K; ++i) sum += z[i];
  if (!std::isfinite(sum) || sum == 0.0) return false;
  double c[K];
  for (int i = 0; i < K; ++i) c[i] = z[i] / sum;
  // x_acc = sum_i c_i x_{i+1}, added in order of i at every p.
  for (int64_t p = 0; p < L; ++p) {
    double v = 0.0;
    for (int i = 0; i < K; ++i) v += c[i] * x[i + 1][p];
    out[p] = v;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The shared loop
// ---------------------------------------------------------------------------------------------
namespace {

struct Parts {
  double rNormSq = 0, ry = 0, l21 = 0, wNormSq = 0;
};

double primal(const Parts& p, double l1Reg, double l2Reg) { return 0.5 * p.rNormSq + l1Reg * p.l21 + 0.5 * l2Reg * p.wNormSq; }

double gapOf(const Parts& p, double dualNorm, double l1Reg, double l2Reg) {
  const double c = dualNorm > l1Reg ? l1Reg / dualNorm : 1.0;
  return 0.5 * (1 + c * c) * p.rNormSq + l1Reg * p.l21 - c * p.ry + 0.5 * l2Reg * (1 + c * c) * p.wNormSq;
}

// sum_j ||W_j|| and ||W||^2 of w (k x T) into p.
void addNorms(const double* w, int64_t k, int64_t T, Parts& p) {
  p.l21 = 0.0;
  p.wNormSq = 0.0;
  for (int64_t j = 0; j < k; ++j) {
    double s = 0.0;
    for (int64_t t = 0; t < T; ++t) s += w[j * T + t] * w[j * T + t];
    if (s > 0.0) {
      p.l21 += std::sqrt(s);
      p.wNormSq += s;
    }
  }
}

// max_j ||H_j - l2Reg W_j|| over the k rows; H k x T, or T x k when hTransposed.
double dualNormOf(const double* h, bool hTransposed, const double* w, int64_t k, int64_t T, double l2Reg) {
  double m = 0.0;
  for (int64_t j = 0; j < k; ++j) {
    double s = 0.0;
    for (int64_t t = 0; t < T; ++t) {
      const double v = (hTransposed ? h[t * k + j] : h[j * T + t]) - l2Reg * w[j * T + t];
      s += v * v;
    }
    m = std::max(m, s);
  }
  return std::sqrt(m);
}

// The rows j of w (k x T) with a non-zero entry, in increasing order, into rows; returns their number.
int64_t nonZeroRows(const double* w, int64_t k, int64_t T, int32_t* rows) {
  int64_t count = 0;
  for (int64_t j = 0; j < k; ++j) {
    const double* row = w + j * T;
    if (std::any_of(row, row + T, [](double v) { return v != 0.0; })) rows[count++] = static_cast<int32_t>(j);
  }
  return count;
}

// What one form provides to the loop (solveLoop): a sweep over the given rows (whether it may be
// over some rows only: activeSweeps); a check at the current coefficients,
// either from the state the sweeps keep (cheap: the correlations, or the residual, updated feature
// by feature) or exact (recomputed from W, so that no rounding of the updates accumulates); and the
// objective at a candidate point that `accept` then moves to. A cheap check that finds the gap
// below tol is confirmed by an exact one, and the solve ends on an exact check (or, where the form
// allows it and another call continues, on one of the state the sweeps kept: InnerSettings).
template <typename Form>
InnerResult solveLoop(Form& form, double* w, int64_t k, int64_t T, const InnerSettings& s) {
  const int64_t L = k * T;
  Anderson anderson(L);
  runtime::TempArray<double> candidate = runtime::uninitialisedArray<double>(L);
  std::vector<int32_t> cyclic(static_cast<size_t>(k));
  for (int64_t j = 0; j < k; ++j) cyclic[j] = static_cast<int32_t>(j);
  InnerResult r{};
  r.gap = std::numeric_limits<double>::infinity();
  double objectiveAtCheck = std::numeric_limits<double>::infinity();
  bool exactHere = false;
  auto check = [&](bool exact) {
    Parts p;
    double dualNorm = 0.0;
    form.check(p, dualNorm, exact);
    r.gap = gapOf(p, dualNorm, s.l1Reg, s.l2Reg);
    r.rNormSq = p.rNormSq;
    r.ry = p.ry;
    r.l21 = p.l21;
    r.wNormSq = p.wNormSq;
    r.dualNorm = dualNorm;
    objectiveAtCheck = primal(p, s.l1Reg, s.l2Reg);
    exactHere = exact;
    r.converged = r.gap <= s.tol;
    return r.converged;
  };
  auto converged = [&]() { return check(false) && check(true); };
  // The starting point is the first iterate: the first extrapolation then comes with the first
  // check, K sweeps in, so a solve split into calls of K sweeps (long solves are, so that fit()
  // can yield) is extrapolated as one call is.
  anderson.push(w);
  int64_t lastCheck = 0;
  int64_t earlyWait = 1;
  std::vector<int32_t> nonZero(form.activeSweeps() ? static_cast<size_t>(k) : 0);
  while (r.sweeps < s.maxSweeps) {
    // Cyclic sweeps where the form allows it: the first of the call and the first after every check
    // visit every row, the others only the rows of W that are non-zero when they start (cdsolve.h).
    const int32_t* order = s.orders != nullptr ? s.orders + r.sweeps * k : cyclic.data();
    int64_t orderLen = k;
    if (s.orders == nullptr && form.activeSweeps() && r.sweeps != lastCheck) {
      orderLen = nonZeroRows(w, k, T, nonZero.data());
      order = nonZero.data();
    }
    const SweepStats st = form.sweep(order, orderLen);
    ++r.sweeps;
    exactHere = false;
    anderson.push(w);
    // Check after every K sweeps, and before that once the coefficients stop moving (small problems
    // converge in fewer sweeps than K). Where a check is a pass over the data (Form::kCheapChecks
    // false), those early checks back off: each waits twice as many sweeps as the last one did, as a
    // solve near its optimum moves little at every sweep (a check after each cost as much as the sweeps).
    const bool due = r.sweeps % kAndersonK == 0;
    const bool stopped = st.dwMax <= 1e-3 * st.wMax || st.wMax == 0.0;
    const bool early = !due && stopped && r.sweeps - lastCheck >= earlyWait;
    if (!due && !early) continue;
    if (early && !Form::kCheapChecks) earlyWait *= 2;
    lastCheck = r.sweeps;
    if (converged()) break;
    if (anderson.ready() && anderson.extrapolate(candidate.data())) {
      if (form.tryPoint(candidate.data()) < objectiveAtCheck) {
        form.accept();
        if (converged()) break;
      }
      anderson.reset();
      anderson.push(w);
    }
  }
  if (!exactHere) check(!(Form::kMayEndOnKeptState && s.continues));
  r.residualChange = form.residualChange();
  return r;
}

class GramForm {
 public:
  // A cheap check reads the correlations the sweeps keep (k T values).
  static constexpr bool kCheapChecks = true;
  // The next call starts from the returned correlations: they must be exact.
  static constexpr bool kMayEndOnKeptState = false;

  GramForm(const double* gram, int64_t k, int64_t T, double* ht, double* w, double r0NormSq, double r0y, const InnerSettings& s,
           const double* xty)
      : gram_(gram), k_(k), T_(T), ht_(ht), w_(w), r0NormSq_(r0NormSq), r0y_(r0y), s_(s),
        w0_(runtime::uninitialisedArray<double>(k * T)), h0_(runtime::uninitialisedArray<double>(k * T)),
        xty_(runtime::uninitialisedArray<double>(k * T)), gwT_(runtime::uninitialisedArray<double>(k * T)),
        coef_(runtime::uninitialisedArray<double>(k * T)), rowsOfGram_(runtime::uninitialisedArray<const double*>(k)),
        candW_(runtime::uninitialisedArray<double>(k * T)), candHt_(runtime::uninitialisedArray<double>(k * T)) {
    std::copy_n(w, k * T, w0_.data());
    for (int64_t j = 0; j < k; ++j)
      for (int64_t t = 0; t < T; ++t) h0_[j * T + t] = ht[t * k + j];
    if (xty != nullptr) {
      std::copy_n(xty, k * T, xty_.data());
      return;
    }
    // X_k^T Y = H0 + G W0.
    multiplyGram(w0_.data());
    for (int64_t j = 0; j < k; ++j)
      for (int64_t t = 0; t < T; ++t) xty_[j * T + t] = h0_[j * T + t] + gwT_[t * k + j];
  }

  bool activeSweeps() const { return false; }
  SweepStats sweep(const int32_t* order, int64_t orderLen) { return gramSweep(gram_, k_, ht_, T_, w_, s_.l1Reg, s_.l2Reg, order, orderLen); }

  // Cheap: ht as the sweeps kept it; exact: recomputed as (X_k^T Y - G W)^T.
  void check(Parts& p, double& dualNorm, bool exact) {
    if (exact) exactHt(w_, ht_);
    partsAt(w_, ht_, p);
    dualNorm = dualNormOf(ht_, true, w_, k_, T_, s_.l2Reg);
  }

  double tryPoint(const double* w) {
    std::copy_n(w, k_ * T_, candW_.data());
    exactHt(candW_.data(), candHt_.data());
    Parts p;
    partsAt(candW_.data(), candHt_.data(), p);
    return primal(p, s_.l1Reg, s_.l2Reg);
  }

  void accept() {
    std::copy(candW_.begin(), candW_.end(), w_);
    std::copy(candHt_.begin(), candHt_.end(), ht_);
  }

  // ||X_k dW|| = sqrt(<dW, G dW>) with G dW = H0 - H (ht exact), dW = W - W0; the rounding of
  // H0 - H is added (4 eps sum |dW| (|H0| + |H|)) so that the result bounds the true change.
  double residualChange() const {
    double s = 0.0;
    double err = 0.0;
    for (int64_t j = 0; j < k_; ++j) {
      for (int64_t t = 0; t < T_; ++t) {
        const double dw = w_[j * T_ + t] - w0_[j * T_ + t];
        if (dw == 0.0) continue;
        const double h0 = h0_[j * T_ + t];
        const double h = ht_[t * k_ + j];
        s += dw * (h0 - h);
        err += std::abs(dw) * (std::abs(h0) + std::abs(h));
      }
    }
    return std::sqrt(std::max(s, 0.0) + 4 * std::numeric_limits<double>::epsilon() * err);
  }

 private:
  // gwT (T x k) = (G w)^T = w^T G, G being symmetric: row t is sum_p w[p, t] G[p, :] over the rows p
  // of w that are not zero, in order (simd daxpyRows). Rows of G are contiguous, so this reads G
  // once at the vector width, and skips the working set's members that are still zero.
  void multiplyGram(const double* w) {
    std::fill(gwT_.begin(), gwT_.end(), 0.0);
    int64_t nb = 0;
    for (int64_t p = 0; p < k_; ++p) {
      const double* wp = w + p * T_;
      if (std::all_of(wp, wp + T_, [](double v) { return v == 0.0; })) continue;
      std::copy_n(wp, T_, coef_.data() + nb * T_);
      rowsOfGram_[nb++] = gram_ + p * k_;
    }
    simd::ops().daxpyRows(coef_.data(), nb, rowsOfGram_.data(), gwT_.data(), T_, k_, k_);
  }

  // out (T x k) = (X_k^T Y - G w)^T.
  void exactHt(const double* w, double* out) {
    multiplyGram(w);
    for (int64_t j = 0; j < k_; ++j)
      for (int64_t t = 0; t < T_; ++t) out[t * k_ + j] = xty_[j * T_ + t] - gwT_[t * k_ + j];
  }

  void partsAt(const double* w, const double* ht, Parts& p) const {
    double dh = 0.0;
    double dy = 0.0;
    for (int64_t j = 0; j < k_; ++j) {
      for (int64_t t = 0; t < T_; ++t) {
        const double dw = w[j * T_ + t] - w0_[j * T_ + t];
        if (dw == 0.0) continue;
        dh += dw * (h0_[j * T_ + t] + ht[t * k_ + j]);
        dy += dw * xty_[j * T_ + t];
      }
    }
    p.rNormSq = r0NormSq_ - dh;
    p.ry = r0y_ - dy;
    addNorms(w, k_, T_, p);
  }

  const double* gram_;
  int64_t k_, T_;
  double* ht_;
  double* w_;
  double r0NormSq_, r0y_;
  const InnerSettings& s_;
  // k x T each (rowsOfGram_ k): runtime/temporaries.h, not faulted in again on every call.
  runtime::TempArray<double> w0_, h0_, xty_, gwT_, coef_;
  runtime::TempArray<const double*> rowsOfGram_;
  runtime::TempArray<double> candW_, candHt_;
};

class ResidualForm {
 public:
  // A check computes X_k^T R (k n T multiply-adds, half a sweep).
  static constexpr bool kCheapChecks = false;
  // The next call copies the residual as returned: the rounding its updates kept carries over, and
  // the last call's exact end removes it.
  static constexpr bool kMayEndOnKeptState = true;

  ResidualForm(const double* xs, int64_t k, int64_t n, int64_t T, const double* yt, double* rt, double* w, double* h,
               const InnerSettings& s, int threads, const double* colNormSq)
      : xs_(xs), k_(k), n_(n), T_(T), yt_(yt), rt_(rt), w_(w), h_(h), s_(s), threads_(threads), colNormSq_(runtime::uninitialisedArray<double>(k)),
        candW_(runtime::uninitialisedArray<double>(k * T)),
        // T x n each: kept per thread (runtime/scratch.h), not faulted in again on every call.
        candRt_(runtime::scratchDoubles(runtime::Scratch::kCandidateResidual, static_cast<size_t>(T * n))),
        rt0_(runtime::scratchDoubles(runtime::Scratch::kStartResidual, static_cast<size_t>(T * n))) {
    std::copy_n(rt, T * n, rt0_);
    const simd::Ops& ops = simd::ops();
    for (int64_t j = 0; j < k; ++j) {
      // Given, or in vector lanes (simd ddot): a plain loop's single chain of additions took 7 % of a
      // fit whose working sets held 2,000 features, and the pass itself 5.6-6.7 % of fits whose
      // solves were called with the norms their design already held (2625 x 476 x 6, 2785 x 1312 x 2).
      const double v = colNormSq != nullptr ? colNormSq[j] : ops.ddot(xs + j * n, xs + j * n, n);
      colNormSq_[j] = v;
      if (v == 0.0) std::fill(w + j * T, w + (j + 1) * T, 0.0);
    }
  }

  // Plain sweeps over at least kActiveSweepsMinValues values of columns (cdsolve.h).
  bool activeSweeps() const { return residualBlock(T_, n_) == 0 && k_ * n_ >= kActiveSweepsMinValues; }

  SweepStats sweep(const int32_t* order, int64_t orderLen) {
    CMatMap<double> xt(xs_, k_, n_);
    MatMap<double> rt(rt_, T_, n_);
    MatMap<double> w(w_, k_, T_);
    CVecMap<double> cn(colNormSq_.data(), k_);
    const int64_t B = residualBlock(T_, n_);
    if (s_.orders != nullptr || B == 0) return mtenetSweep(xt, rt, w, cn, s_.l1Reg, s_.l2Reg, order, orderLen);
    // Cyclic order over all k rows (no active sweeps here): the block Grams of 0..k-1 serve every
    // sweep of the call.
    if (blockGram_.empty()) {
      blockGram_.reset(static_cast<size_t>((k_ + B - 1) / B * B * B));
      blockGram(xt, order, k_, B, blockGram_.data());
    }
    return mtenetSweepBlocked(xt, rt, w, cn, s_.l1Reg, s_.l2Reg, order, k_, blockGram_.data(), B);
  }

  // Cheap: the residual as the sweeps kept it; exact: recomputed as Y - X_k W.
  void check(Parts& p, double& dualNorm, bool exact) {
    if (exact) {
      residualAt(w_, rt_, p);
    } else {
      double rr = 0.0;
      double ry = 0.0;
      for (int64_t q = 0; q < T_ * n_; ++q) {
        rr += rt_[q] * rt_[q];
        ry += rt_[q] * yt_[q];
      }
      p.rNormSq = rr;
      p.ry = ry;
    }
    if (k_ > 0 && n_ > 0) simd::gemm<double>(k_, T_, n_, 1.0, xs_, n_, false, rt_, n_, true, 0.0, h_, T_, threads_);
    else std::fill(h_, h_ + k_ * T_, 0.0);
    addNorms(w_, k_, T_, p);
    dualNorm = dualNormOf(h_, false, w_, k_, T_, s_.l2Reg);
  }

  double tryPoint(const double* w) {
    std::copy_n(w, k_ * T_, candW_.data());
    Parts p;
    residualAt(candW_.data(), candRt_, p);
    addNorms(candW_.data(), k_, T_, p);
    return primal(p, s_.l1Reg, s_.l2Reg);
  }

  void accept() {
    std::copy(candW_.begin(), candW_.end(), w_);
    std::copy_n(candRt_, T_ * n_, rt_);
  }

  double residualChange() const {
    double s = 0.0;
    for (int64_t q = 0; q < T_ * n_; ++q) {
      const double v = rt_[q] - rt0_[q];
      s += v * v;
    }
    return std::sqrt(s);
  }

 private:
  void residualAt(const double* w, double* rt, Parts& p) const {
    const ResidualParts r = residual(xs_, k_, n_, w, T_, yt_, rt, threads_);
    p.rNormSq = r.rNormSq;
    p.ry = r.ry;
  }

  const double* xs_;
  int64_t k_, n_, T_;
  const double* yt_;
  double* rt_;
  double* w_;
  double* h_;
  const InnerSettings& s_;
  int threads_;
  runtime::TempArray<double> colNormSq_, candW_;
  runtime::TempArray<double> blockGram_;  // of the cyclic order, at the first blocked sweep
  double* candRt_;
  double* rt0_;
};

}  // namespace

InnerResult gramSolve(const double* gram, int64_t k, int64_t T, double* ht, double* w, double r0NormSq, double r0y,
                      const InnerSettings& s, const double* xty) {
  for (int64_t j = 0; j < k; ++j) {
    if (gram[j * k + j] == 0.0) std::fill(w + j * T, w + (j + 1) * T, 0.0);
  }
  GramForm form(gram, k, T, ht, w, r0NormSq, r0y, s, xty);
  return solveLoop(form, w, k, T, s);
}

InnerResult residualSolve(const double* xs, int64_t k, int64_t n, int64_t T, const double* yt, double* rt, double* w,
                          double* h, const InnerSettings& s, int threads, const double* colNormSq) {
  ResidualForm form(xs, k, n, T, yt, rt, w, h, s, threads, colNormSq);
  return solveLoop(form, w, k, T, s);
}

}  // namespace metatask::cd
