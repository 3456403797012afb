// Binding of the multi-task elastic-net coordinate-descent kernels (kernels/cd.h): check every
// argument (shapes against each other, index entries in range, squared norms >= 0, finite
// regularisers >= 0, outputs sharing no memory with anything), then run the kernel in place.
#include "config.h"

#include <napi.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "binding/args.h"
#include "binding/registry.h"
#include "kernels/cd.h"
#include "kernels/cdgram.h"
#include "kernels/cdscreen.h"
#include "kernels/cdsolve.h"

namespace metatask::binding {

namespace {

// blockSize: an integer in [1, 2^20].
int64_t blockSizeArg(const Napi::Value& v, const char* fn) {
  const double b = numberArg(v, fn, "blockSize");
  if (!(b >= 1) || b != std::floor(b) || b > 1048576.0) rangeError(v.Env(), fn, "argument 'blockSize' must be an integer in [1, 2^20]");
  return static_cast<int64_t>(b);
}

int64_t gramLength(int64_t orderLen, int64_t blockSize) {
  return (orderLen + blockSize - 1) / blockSize * blockSize * blockSize;
}

// mtenetBlockGram(xt, order, blockSize, out): out (length ceil(len(order) / blockSize) blockSize^2)
// receives the lower triangles of the block Gram matrices (kernels/cd.h blockGram).
Napi::Value MtenetBlockGram(const Napi::CallbackInfo& info) {
  const char* fn = "mtenetBlockGram";
  Napi::Env env = info.Env();
  expectArgs(info, 4, fn);
  ArgGuard guard;
  MatMap<double> xt = matrixArg<double>(info[0], fn, "xt");
  // Copied (args.h rule 1): its checked entries decide which rows of xt the kernel reads.
  const std::vector<int32_t> order = indexArg(info[1], fn, "order");
  const int64_t orderLen = static_cast<int64_t>(order.size());
  const int64_t blockSize = blockSizeArg(info[2], fn);
  const int64_t len = gramLength(orderLen, blockSize);
  if (len > (int64_t{1} << 40)) rangeError(env, fn, "the block Gram matrices would be too large");
  VecMap<double> out = vectorArg<double>(info[3], fn, "out", len);
  expectIndices(env, fn, "order", order, xt.rows());
  expectDisjoint(env, fn, out, "out", xt, "xt");
  guard.verify(env, fn);
  CMatMap<double> cxt(xt.data(), xt.rows(), xt.cols());
  cd::blockGram(cxt, order.data(), orderLen, blockSize, out.data());
  return env.Undefined();
}

// The seven arguments both sweeps take, read and checked once: xt d x n, rt T x n and w d x T
// (both updated in place), colNormSq length d (finite, >= 0), l1Reg, l2Reg >= 0, order entries in
// [0, d). The outputs rt and w must share no memory with the inputs.
struct SweepArgs {
  MatMap<double> xt, rt, w;
  VecMap<double> colNormSq;
  double l1Reg, l2Reg;
  std::vector<int32_t> order;  // a copy (args.h rule 1)
};

SweepArgs sweepArgs(const Napi::CallbackInfo& info, const char* fn) {
  Napi::Env env = info.Env();
  MatMap<double> xt = matrixArg<double>(info[0], fn, "xt");
  const int64_t d = xt.rows();
  MatMap<double> rt = matrixArg<double>(info[1], fn, "rt", -1, xt.cols());
  MatMap<double> w = matrixArg<double>(info[2], fn, "w", d, rt.rows());
  VecMap<double> colNormSq = vectorArg<double>(info[3], fn, "colNormSq", d);
  const double l1Reg = nonNegativeArg(info[4], fn, "l1Reg");
  const double l2Reg = nonNegativeArg(info[5], fn, "l2Reg");
  std::vector<int32_t> order = indexArg(info[6], fn, "order");
  expectFiniteNonNegative(env, fn, "colNormSq", colNormSq.data(), d);
  expectIndices(env, fn, "order", order, d);
  expectDisjoint(env, fn, rt, "rt", xt, "xt");
  expectDisjoint(env, fn, rt, "rt", w, "w");
  expectDisjoint(env, fn, rt, "rt", colNormSq, "colNormSq");
  expectDisjoint(env, fn, w, "w", xt, "xt");
  expectDisjoint(env, fn, w, "w", colNormSq, "colNormSq");
  return {xt, rt, w, colNormSq, l1Reg, l2Reg, std::move(order)};
}

Napi::Value statsObject(Napi::Env env, const cd::SweepStats& s) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("wMax", s.wMax);
  r.Set("dwMax", s.dwMax);
  return r;
}

// mtenetSweep(xt, rt, w, colNormSq, l1Reg, l2Reg, order) -> { wMax, dwMax }.
Napi::Value MtenetSweep(const Napi::CallbackInfo& info) {
  const char* fn = "mtenetSweep";
  expectArgs(info, 7, fn);
  ArgGuard guard;
  SweepArgs a = sweepArgs(info, fn);
  guard.verify(info.Env(), fn);
  CMatMap<double> cxt(a.xt.data(), a.xt.rows(), a.xt.cols());
  CVecMap<double> cn(a.colNormSq.data(), a.colNormSq.size());
  return statsObject(info.Env(), cd::mtenetSweep(cxt, a.rt, a.w, cn, a.l1Reg, a.l2Reg, a.order.data(), int64_t(a.order.size())));
}

// mtenetSweepBlocked(xt, rt, w, colNormSq, l1Reg, l2Reg, order, blockGram, blockSize) -> { wMax, dwMax }:
// mtenetSweep's arguments plus the block Gram matrices of mtenetBlockGram(xt, order, blockSize).
Napi::Value MtenetSweepBlocked(const Napi::CallbackInfo& info) {
  const char* fn = "mtenetSweepBlocked";
  Napi::Env env = info.Env();
  expectArgs(info, 9, fn);
  ArgGuard guard;
  SweepArgs a = sweepArgs(info, fn);
  const int64_t blockSize = blockSizeArg(info[8], fn);
  VecMap<double> gram = vectorArg<double>(info[7], fn, "blockGram", gramLength(int64_t(a.order.size()), blockSize));
  expectDisjoint(env, fn, a.rt, "rt", gram, "blockGram");
  expectDisjoint(env, fn, a.w, "w", gram, "blockGram");
  guard.verify(env, fn);
  CMatMap<double> cxt(a.xt.data(), a.xt.rows(), a.xt.cols());
  CVecMap<double> cn(a.colNormSq.data(), a.colNormSq.size());
  return statsObject(env, cd::mtenetSweepBlocked(cxt, a.rt, a.w, cn, a.l1Reg, a.l2Reg, a.order.data(), int64_t(a.order.size()),
                                                 gram.data(), blockSize));
}


// The design arguments of the working-set kernels: x (n x d), mean and sqNorm (length d, finite,
// sqNorm >= 0), both empty for no centring. cdGatherColumns takes no sqNorm.
struct DesignArgs {
  MatMap<double> x;
  VecMap<double> mean;
  VecMap<double> sqNorm;
};

DesignArgs designArgs(const Napi::Value& xv, const Napi::Value& mv, const Napi::Value* sv, const char* fn) {
  Napi::Env env = xv.Env();
  MatMap<double> x = matrixArg<double>(xv, fn, "x");
  VecMap<double> mean = vectorArg<double>(mv, fn, "mean");
  if (mean.size() != 0 && mean.size() != x.cols()) {
    rangeError(env, fn, "argument 'mean' has " + std::to_string(mean.size()) + " elements, expected 0 or " + std::to_string(x.cols()));
  }
  for (int64_t j = 0; j < mean.size(); ++j) {
    if (!std::isfinite(mean[j])) rangeError(env, fn, "argument 'mean' must be finite (index " + std::to_string(j) + ")");
  }
  // Constructed, never assigned: assigning to an Eigen map copies into the memory it views.
  VecMap<double> sqNorm = sv != nullptr ? vectorArg<double>(*sv, fn, "sqNorm", mean.size()) : VecMap<double>(nullptr, 0);
  if (sv != nullptr) expectFiniteNonNegative(env, fn, "sqNorm", sqNorm.data(), sqNorm.size());
  return {x, mean, sqNorm};
}

// cdColumnStats(x, centre, mean, sqNorm) -> finite: mean and sqNorm (length d) are overwritten;
// returns false when x holds a NaN or an infinity.
Napi::Value CdColumnStats(const Napi::CallbackInfo& info) {
  const char* fn = "cdColumnStats";
  Napi::Env env = info.Env();
  expectArgs(info, 4, fn);
  ArgGuard guard;
  MatMap<double> x = matrixArg<double>(info[0], fn, "x");
  const bool centre = boolArg(info[1], fn, "centre");
  VecMap<double> mean = vectorArg<double>(info[2], fn, "mean", x.cols());
  VecMap<double> sqNorm = vectorArg<double>(info[3], fn, "sqNorm", x.cols());
  expectDisjoint(env, fn, mean, "mean", x, "x");
  expectDisjoint(env, fn, sqNorm, "sqNorm", x, "x");
  expectDisjoint(env, fn, mean, "mean", sqNorm, "sqNorm");
  guard.verify(env, fn);
  return Napi::Boolean::New(env, cd::columnStats(x.data(), x.rows(), x.cols(), centre, mean.data(), sqNorm.data()));
}

// cdColumnStatsCorrelations(x, centre, mean, sqNorm, yt, out, norms) -> finite: cdColumnStats and then
// the correlations of every centred column with yt (T x n) into out (d x T) and norms (empty or of
// length d), in one pass over x. mean, sqNorm, out and norms are overwritten.
Napi::Value CdColumnStatsCorrelations(const Napi::CallbackInfo& info) {
  const char* fn = "cdColumnStatsCorrelations";
  Napi::Env env = info.Env();
  expectArgs(info, 7, fn);
  ArgGuard guard;
  MatMap<double> x = matrixArg<double>(info[0], fn, "x");
  const bool centre = boolArg(info[1], fn, "centre");
  VecMap<double> mean = vectorArg<double>(info[2], fn, "mean", x.cols());
  VecMap<double> sqNorm = vectorArg<double>(info[3], fn, "sqNorm", x.cols());
  MatMap<double> yt = matrixArg<double>(info[4], fn, "yt", -1, x.rows());
  MatMap<double> out = matrixArg<double>(info[5], fn, "out", x.cols(), yt.rows());
  VecMap<double> norms = vectorArg<double>(info[6], fn, "norms");
  if (x.cols() > INT32_MAX) rangeError(env, fn, "argument 'x' has more than 2^31 - 1 columns");
  if (norms.size() != 0 && norms.size() != x.cols()) {
    rangeError(env, fn, "argument 'norms' has " + std::to_string(norms.size()) + " elements, expected 0 or " + std::to_string(x.cols()));
  }
  expectDisjoint(env, fn, mean, "mean", x, "x");
  expectDisjoint(env, fn, mean, "mean", yt, "yt");
  expectDisjoint(env, fn, sqNorm, "sqNorm", x, "x");
  expectDisjoint(env, fn, sqNorm, "sqNorm", yt, "yt");
  expectDisjoint(env, fn, mean, "mean", sqNorm, "sqNorm");
  expectDisjoint(env, fn, out, "out", x, "x");
  expectDisjoint(env, fn, out, "out", yt, "yt");
  expectDisjoint(env, fn, out, "out", mean, "mean");
  expectDisjoint(env, fn, out, "out", sqNorm, "sqNorm");
  expectDisjoint(env, fn, norms, "norms", x, "x");
  expectDisjoint(env, fn, norms, "norms", yt, "yt");
  expectDisjoint(env, fn, norms, "norms", mean, "mean");
  expectDisjoint(env, fn, norms, "norms", sqNorm, "sqNorm");
  expectDisjoint(env, fn, norms, "norms", out, "out");
  guard.verify(env, fn);
  return Napi::Boolean::New(env, cd::columnStatsCorrelations(x.data(), x.rows(), x.cols(), centre, mean.data(), sqNorm.data(), yt.data(),
                                                             yt.rows(), out.data(), norms.size() ? norms.data() : nullptr, threadsOf(env)));
}

// cdCorrelations(x, mean, sqNorm, rt, cols, out, norms): rt T x n, out len(cols) x T (overwritten),
// norms empty or of length len(cols) (overwritten with the norms of out's rows).
Napi::Value CdCorrelations(const Napi::CallbackInfo& info) {
  const char* fn = "cdCorrelations";
  Napi::Env env = info.Env();
  expectArgs(info, 7, fn);
  ArgGuard guard;
  const Napi::Value sqNormArg = info[2];
  DesignArgs a = designArgs(info[0], info[1], &sqNormArg, fn);
  MatMap<double> rt = matrixArg<double>(info[3], fn, "rt", -1, a.x.rows());
  // Copied (args.h rule 1): its checked entries decide which columns of x the kernel reads.
  const std::vector<int32_t> cols = indexArg(info[4], fn, "cols");
  MatMap<double> out = matrixArg<double>(info[5], fn, "out", int64_t(cols.size()), rt.rows());
  VecMap<double> norms = vectorArg<double>(info[6], fn, "norms");
  if (norms.size() != 0 && norms.size() != int64_t(cols.size())) {
    rangeError(env, fn, "argument 'norms' has " + std::to_string(norms.size()) + " elements, expected 0 or " + std::to_string(cols.size()));
  }
  expectIndices(env, fn, "cols", cols, a.x.cols());
  expectDisjoint(env, fn, out, "out", a.x, "x");
  expectDisjoint(env, fn, out, "out", a.mean, "mean");
  expectDisjoint(env, fn, out, "out", a.sqNorm, "sqNorm");
  expectDisjoint(env, fn, out, "out", rt, "rt");
  expectDisjoint(env, fn, norms, "norms", out, "out");
  expectDisjoint(env, fn, norms, "norms", a.x, "x");
  expectDisjoint(env, fn, norms, "norms", a.mean, "mean");
  expectDisjoint(env, fn, norms, "norms", a.sqNorm, "sqNorm");
  expectDisjoint(env, fn, norms, "norms", rt, "rt");
  guard.verify(env, fn);
  const bool centred = a.mean.size() != 0;
  cd::correlations(a.x.data(), a.x.rows(), a.x.cols(), centred ? a.mean.data() : nullptr, centred ? a.sqNorm.data() : nullptr,
                   rt.data(), rt.rows(), cols.data(), int64_t(cols.size()), out.data(), norms.size() ? norms.data() : nullptr,
                   threadsOf(env));
  return env.Undefined();
}

// cdTargets(y, centre, yt, yMean) -> ||yt||^2: y n x T; yt T x n and yMean length T overwritten.
Napi::Value CdTargets(const Napi::CallbackInfo& info) {
  const char* fn = "cdTargets";
  Napi::Env env = info.Env();
  expectArgs(info, 4, fn);
  ArgGuard guard;
  MatMap<double> y = matrixArg<double>(info[0], fn, "y");
  const bool centre = boolArg(info[1], fn, "centre");
  MatMap<double> yt = matrixArg<double>(info[2], fn, "yt", y.cols(), y.rows());
  VecMap<double> yMean = vectorArg<double>(info[3], fn, "yMean", y.cols());
  expectDisjoint(env, fn, yt, "yt", y, "y");
  expectDisjoint(env, fn, yMean, "yMean", y, "y");
  expectDisjoint(env, fn, yMean, "yMean", yt, "yt");
  guard.verify(env, fn);
  return Napi::Number::New(env, cd::targets(y.data(), y.rows(), y.cols(), centre, yt.data(), yMean.data()));
}

// cdCoefficients(cols, w, mean, yMean, coef, intercept): coef[t, cols[c]] = w[c, t] (its other
// entries untouched), intercept[t] = yMean[t] - sum_c mean[cols[c]] w[c, t] (overwritten); coef
// T x d, w len(cols) x T, mean length d, yMean and intercept length T.
Napi::Value CdCoefficients(const Napi::CallbackInfo& info) {
  const char* fn = "cdCoefficients";
  Napi::Env env = info.Env();
  expectArgs(info, 6, fn);
  ArgGuard guard;
  // Copied (args.h rule 1): their checked entries decide which entries of coef and mean are touched.
  const std::vector<int32_t> cols = indexArg(info[0], fn, "cols");
  MatMap<double> coef = matrixArg<double>(info[4], fn, "coef");
  MatMap<double> w = matrixArg<double>(info[1], fn, "w", int64_t(cols.size()), coef.rows());
  VecMap<double> mean = vectorArg<double>(info[2], fn, "mean", coef.cols());
  VecMap<double> yMean = vectorArg<double>(info[3], fn, "yMean", coef.rows());
  VecMap<double> intercept = vectorArg<double>(info[5], fn, "intercept", coef.rows());
  expectIndices(env, fn, "cols", cols, coef.cols());
  expectDisjointFrom(env, fn, coef, "coef", w, "w", mean, "mean", yMean, "yMean", intercept, "intercept");
  expectDisjointFrom(env, fn, intercept, "intercept", w, "w", mean, "mean", yMean, "yMean");
  guard.verify(env, fn);
  cd::coefficients(cols.data(), int64_t(cols.size()), w.data(), coef.rows(), mean.data(), yMean.data(), coef.cols(), coef.data(),
                   intercept.data());
  return env.Undefined();
}

Napi::Value partsObject(Napi::Env env, double rNormSq, double ry) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("rNormSq", rNormSq);
  r.Set("ry", ry);
  return r;
}

// cdResidual(xs, w, yt, rt) -> { rNormSq, ry }: xs k x n, w k x T, yt T x n; rt T x n overwritten.
Napi::Value CdResidual(const Napi::CallbackInfo& info) {
  const char* fn = "cdResidual";
  Napi::Env env = info.Env();
  expectArgs(info, 4, fn);
  ArgGuard guard;
  MatMap<double> xs = matrixArg<double>(info[0], fn, "xs");
  MatMap<double> w = matrixArg<double>(info[1], fn, "w", xs.rows());
  MatMap<double> yt = matrixArg<double>(info[2], fn, "yt", w.cols(), xs.cols());
  MatMap<double> rt = matrixArg<double>(info[3], fn, "rt", w.cols(), xs.cols());
  expectDisjoint(env, fn, rt, "rt", xs, "xs");
  expectDisjoint(env, fn, rt, "rt", w, "w");
  expectDisjoint(env, fn, rt, "rt", yt, "yt");
  guard.verify(env, fn);
  const cd::ResidualParts r = cd::residual(xs.data(), xs.rows(), xs.cols(), w.data(), w.cols(), yt.data(), rt.data(), threadsOf(env));
  return partsObject(env, r.rNormSq, r.ry);
}

// The settings every inner solve takes, read and checked once: l1Reg, l2Reg, tol >= 0 (finite),
// maxSweeps an integer in [1, 2^31), orders (Int32Array, copied) empty or maxSweeps * k entries in [0, k).
struct SolveSettingsArgs {
  double l1Reg, l2Reg, tol;
  int64_t maxSweeps;
  std::vector<int32_t> orders;
};

SolveSettingsArgs solveSettingsArgs(const Napi::CallbackInfo& info, size_t first, int64_t k, const char* fn) {
  Napi::Env env = info.Env();
  SolveSettingsArgs a;
  a.l1Reg = nonNegativeArg(info[first], fn, "l1Reg");
  a.l2Reg = nonNegativeArg(info[first + 1], fn, "l2Reg");
  a.tol = nonNegativeArg(info[first + 2], fn, "tol");
  a.maxSweeps = integerArg(info[first + 3], fn, "maxSweeps", 1, 2147483647.0);
  a.orders = indexArg(info[first + 4], fn, "orders");
  if (!a.orders.empty()) {
    if (int64_t(a.orders.size()) != a.maxSweeps * k) {
      rangeError(env, fn, "argument 'orders' has " + std::to_string(a.orders.size()) + " elements, expected 0 or maxSweeps * k = " +
                              std::to_string(a.maxSweeps * k));
    }
    expectIndices(env, fn, "orders", a.orders, k);
  }
  return a;
}

Napi::Value innerResultObject(Napi::Env env, const cd::InnerResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("sweeps", double(r.sweeps));
  o.Set("gap", r.gap);
  o.Set("rNormSq", r.rNormSq);
  o.Set("ry", r.ry);
  o.Set("l21", r.l21);
  o.Set("wNormSq", r.wNormSq);
  o.Set("dualNorm", r.dualNorm);
  o.Set("residualChange", r.residualChange);
  o.Set("converged", r.converged);
  return o;
}

// The Gram form of an inner solve: gram k x k, ht T x k and w k x T (arguments 0, 1, 2).
struct GramFormArgs {
  MatMap<double> gram, ht, w;
  int64_t k() const { return gram.rows(); }
};

GramFormArgs gramFormArgs(const Napi::CallbackInfo& info, const char* fn) {
  MatMap<double> gram = matrixArg<double>(info[0], fn, "gram");
  const int64_t k = gram.rows();
  if (gram.cols() != k) rangeError(info.Env(), fn, "argument 'gram' must be square, got " + std::to_string(k) + " x " + std::to_string(gram.cols()));
  MatMap<double> ht = matrixArg<double>(info[1], fn, "ht", -1, k);
  MatMap<double> w = matrixArg<double>(info[2], fn, "w", k, ht.rows());
  return {gram, ht, w};
}

// Checked once every argument is read: a finite, non-negative diagonal and no aliasing.
void checkGramForm(Napi::Env env, const char* fn, const GramFormArgs& a) {
  for (int64_t j = 0; j < a.k(); ++j) {
    const double g = a.gram(j, j);
    if (!(g >= 0) || !std::isfinite(g)) rangeError(env, fn, "argument 'gram' must have a finite diagonal >= 0 (index " + std::to_string(j) + ")");
  }
  expectDisjoint(env, fn, a.ht, "ht", a.gram, "gram");
  expectDisjoint(env, fn, a.ht, "ht", a.w, "w");
  expectDisjoint(env, fn, a.w, "w", a.gram, "gram");
}

// mtenetGramSolve(gram, ht, w, r0NormSq, r0y, l1Reg, l2Reg, tol, maxSweeps, orders, xty) -> InnerResult:
// gram k x k (diagonal finite, >= 0), ht T x k and w k x T updated in place; xty X_k^T Y (k x T,
// finite; copied) or a 0 x 0 matrix (the solve forms it from ht, w and gram).
Napi::Value MtenetGramSolve(const Napi::CallbackInfo& info) {
  const char* fn = "mtenetGramSolve";
  Napi::Env env = info.Env();
  expectArgs(info, 11, fn);
  ArgGuard guard;
  GramFormArgs g = gramFormArgs(info, fn);
  const int64_t k = g.k();
  const int64_t T = g.ht.rows();
  const double r0NormSq = numberArg(info[3], fn, "r0NormSq");
  const double r0y = numberArg(info[4], fn, "r0y");
  const SolveSettingsArgs a = solveSettingsArgs(info, 5, k, fn);
  const RawMatrix xtyArg = rawMatrixArg(info[10], fn, "xty");
  const bool given = xtyArg.rows != 0 || xtyArg.cols != 0;
  const MatMap<double> xtyMap = xtyArg.as<double>(given ? k : 0, given ? T : 0);
  // Copied, then checked: the solve reads the copy only.
  const std::vector<double> xty(xtyMap.data(), xtyMap.data() + xtyMap.size());
  expectFinite(env, fn, "xty", xty.data(), int64_t(xty.size()));
  checkGramForm(env, fn, g);
  guard.verify(env, fn);
  const cd::InnerSettings s{a.l1Reg, a.l2Reg, a.tol, a.maxSweeps, a.orders.empty() ? nullptr : a.orders.data()};
  return innerResultObject(env, cd::gramSolve(g.gram.data(), k, T, g.ht.data(), g.w.data(), r0NormSq, r0y, s,
                                              given ? xty.data() : nullptr));
}

// mtenetResidualSolve(xs, yt, rt, w, h, l1Reg, l2Reg, tol, maxSweeps, orders, continues, colNormSq) -> InnerResult:
// xs k x n, yt T x n; rt T x n and w k x T updated in place, h k x T overwritten; colNormSq the
// squared norms of the rows of xs (length k, finite, >= 0; copied) or empty (the solve computes them).
Napi::Value MtenetResidualSolve(const Napi::CallbackInfo& info) {
  const char* fn = "mtenetResidualSolve";
  Napi::Env env = info.Env();
  expectArgs(info, 12, fn);
  ArgGuard guard;
  MatMap<double> xs = matrixArg<double>(info[0], fn, "xs");
  const int64_t k = xs.rows();
  MatMap<double> yt = matrixArg<double>(info[1], fn, "yt", -1, xs.cols());
  MatMap<double> rt = matrixArg<double>(info[2], fn, "rt", yt.rows(), xs.cols());
  MatMap<double> w = matrixArg<double>(info[3], fn, "w", k, yt.rows());
  MatMap<double> h = matrixArg<double>(info[4], fn, "h", k, yt.rows());
  const SolveSettingsArgs a = solveSettingsArgs(info, 5, k, fn);
  const bool continues = boolArg(info[10], fn, "continues");
  const VecMap<double> normsArg = vectorArg<double>(info[11], fn, "colNormSq");
  if (normsArg.size() != 0 && normsArg.size() != k) {
    rangeError(env, fn, "argument 'colNormSq' has " + std::to_string(normsArg.size()) + " elements, expected 0 or " + std::to_string(k));
  }
  // Copied, then checked: the solve reads the copy only.
  const std::vector<double> colNormSq(normsArg.data(), normsArg.data() + normsArg.size());
  expectFiniteNonNegative(env, fn, "colNormSq", colNormSq.data(), int64_t(colNormSq.size()));
  expectDisjoint(env, fn, rt, "rt", xs, "xs");
  expectDisjoint(env, fn, rt, "rt", yt, "yt");
  expectDisjoint(env, fn, rt, "rt", w, "w");
  expectDisjoint(env, fn, rt, "rt", h, "h");
  expectDisjoint(env, fn, w, "w", xs, "xs");
  expectDisjoint(env, fn, w, "w", yt, "yt");
  expectDisjoint(env, fn, w, "w", h, "h");
  expectDisjoint(env, fn, h, "h", xs, "xs");
  expectDisjoint(env, fn, h, "h", yt, "yt");
  guard.verify(env, fn);
  const cd::InnerSettings s{a.l1Reg, a.l2Reg, a.tol, a.maxSweeps, a.orders.empty() ? nullptr : a.orders.data(), continues};
  return innerResultObject(env, cd::residualSolve(xs.data(), k, xs.cols(), yt.rows(), yt.data(), rt.data(), w.data(), h.data(), s,
                                                  threadsOf(env), colNormSq.empty() ? nullptr : colNormSq.data()));
}

// cdGatherColumns(x, mean, cols, out): out len(cols) x n (overwritten).
Napi::Value CdGatherColumns(const Napi::CallbackInfo& info) {
  const char* fn = "cdGatherColumns";
  Napi::Env env = info.Env();
  expectArgs(info, 4, fn);
  ArgGuard guard;
  DesignArgs a = designArgs(info[0], info[1], nullptr, fn);
  const std::vector<int32_t> cols = indexArg(info[2], fn, "cols");
  MatMap<double> out = matrixArg<double>(info[3], fn, "out", int64_t(cols.size()), a.x.rows());
  expectIndices(env, fn, "cols", cols, a.x.cols());
  expectDisjoint(env, fn, out, "out", a.x, "x");
  expectDisjoint(env, fn, out, "out", a.mean, "mean");
  guard.verify(env, fn);
  cd::gatherColumns(a.x.data(), a.x.rows(), a.x.cols(), a.mean.size() ? a.mean.data() : nullptr, cols.data(), int64_t(cols.size()),
                    out.data());
  return env.Undefined();
}

// cdGramColumns(x, mean, rows, cols, out): out (len(rows) x len(cols)) overwritten with the Gram
// entries Xc[:, rows]^T Xc[:, cols] of the listed centred columns; mean empty for no centring.
Napi::Value CdGramColumns(const Napi::CallbackInfo& info) {
  const char* fn = "cdGramColumns";
  Napi::Env env = info.Env();
  expectArgs(info, 5, fn);
  ArgGuard guard;
  DesignArgs a = designArgs(info[0], info[1], nullptr, fn);
  // Copied (args.h rule 1): their checked entries decide which columns of x the kernel reads.
  const std::vector<int32_t> rows = indexArg(info[2], fn, "rows");
  const std::vector<int32_t> cols = indexArg(info[3], fn, "cols");
  MatMap<double> out = matrixArg<double>(info[4], fn, "out", int64_t(rows.size()), int64_t(cols.size()));
  expectIndices(env, fn, "rows", rows, a.x.cols());
  expectIndices(env, fn, "cols", cols, a.x.cols());
  expectDisjoint(env, fn, out, "out", a.x, "x");
  expectDisjoint(env, fn, out, "out", a.mean, "mean");
  guard.verify(env, fn);
  cd::gramColumns(a.x.data(), a.x.rows(), a.x.cols(), a.mean.size() ? a.mean.data() : nullptr, rows.data(), int64_t(rows.size()),
                  cols.data(), int64_t(cols.size()), out.data(), threadsOf(env));
  return env.Undefined();
}

// cdResidualColumns(x, mean, cols, w, yt, rt) -> { rNormSq, ry }: w len(cols) x T, yt T x n; rt
// T x n overwritten with yt - w^T Xc[:, cols]^T.
Napi::Value CdResidualColumns(const Napi::CallbackInfo& info) {
  const char* fn = "cdResidualColumns";
  Napi::Env env = info.Env();
  expectArgs(info, 6, fn);
  ArgGuard guard;
  DesignArgs a = designArgs(info[0], info[1], nullptr, fn);
  const std::vector<int32_t> cols = indexArg(info[2], fn, "cols");
  MatMap<double> w = matrixArg<double>(info[3], fn, "w", int64_t(cols.size()));
  MatMap<double> yt = matrixArg<double>(info[4], fn, "yt", w.cols(), a.x.rows());
  MatMap<double> rt = matrixArg<double>(info[5], fn, "rt", w.cols(), a.x.rows());
  expectIndices(env, fn, "cols", cols, a.x.cols());
  expectDisjoint(env, fn, rt, "rt", a.x, "x");
  expectDisjoint(env, fn, rt, "rt", a.mean, "mean");
  expectDisjoint(env, fn, rt, "rt", w, "w");
  expectDisjoint(env, fn, rt, "rt", yt, "yt");
  guard.verify(env, fn);
  const cd::ResidualParts r = cd::residualColumns(a.x.data(), a.x.rows(), a.x.cols(), a.mean.size() ? a.mean.data() : nullptr,
                                                  cols.data(), int64_t(cols.size()), w.data(), w.cols(), yt.data(), rt.data(),
                                                  threadsOf(env));
  return partsObject(env, r.rNormSq, r.ry);
}

// cdResidualCorrelations(x, mean, sqNorm, resCols, w, yt, rt, cols, out, norms) -> { rNormSq, ry }:
// cdResidualColumns(x, mean, resCols, w, yt, rt) and then cdCorrelations(x, mean, sqNorm, rt, cols,
// out, norms) in one pass over x; the outputs rt, out and norms share no memory with anything.
Napi::Value CdResidualCorrelations(const Napi::CallbackInfo& info) {
  const char* fn = "cdResidualCorrelations";
  Napi::Env env = info.Env();
  expectArgs(info, 10, fn);
  ArgGuard guard;
  const Napi::Value sqNormArg = info[2];
  DesignArgs a = designArgs(info[0], info[1], &sqNormArg, fn);
  // Copied (args.h rule 1): their checked entries decide which columns of x the kernel reads.
  const std::vector<int32_t> resCols = indexArg(info[3], fn, "resCols");
  MatMap<double> w = matrixArg<double>(info[4], fn, "w", int64_t(resCols.size()));
  MatMap<double> yt = matrixArg<double>(info[5], fn, "yt", w.cols(), a.x.rows());
  MatMap<double> rt = matrixArg<double>(info[6], fn, "rt", w.cols(), a.x.rows());
  const std::vector<int32_t> cols = indexArg(info[7], fn, "cols");
  MatMap<double> out = matrixArg<double>(info[8], fn, "out", int64_t(cols.size()), w.cols());
  VecMap<double> norms = vectorArg<double>(info[9], fn, "norms");
  if (norms.size() != 0 && norms.size() != int64_t(cols.size())) {
    rangeError(env, fn, "argument 'norms' has " + std::to_string(norms.size()) + " elements, expected 0 or " + std::to_string(cols.size()));
  }
  expectIndices(env, fn, "resCols", resCols, a.x.cols());
  expectIndices(env, fn, "cols", cols, a.x.cols());
  expectDisjointFrom(env, fn, rt, "rt", a.x, "x", a.mean, "mean", a.sqNorm, "sqNorm", w, "w", yt, "yt");
  expectDisjointFrom(env, fn, out, "out", a.x, "x", a.mean, "mean", a.sqNorm, "sqNorm", w, "w", yt, "yt", rt, "rt");
  expectDisjointFrom(env, fn, norms, "norms",
                     a.x, "x", a.mean, "mean", a.sqNorm, "sqNorm", w, "w", yt, "yt", rt, "rt", out, "out");
  guard.verify(env, fn);
  const bool centred = a.mean.size() != 0;
  const cd::ResidualParts r = cd::residualCorrelations(
      a.x.data(), a.x.rows(), a.x.cols(), centred ? a.mean.data() : nullptr, centred ? a.sqNorm.data() : nullptr, resCols.data(),
      int64_t(resCols.size()), w.data(), w.cols(), yt.data(), rt.data(), cols.data(), int64_t(cols.size()), out.data(),
      norms.size() ? norms.data() : nullptr, threadsOf(env));
  return partsObject(env, r.rNormSq, r.ry);
}

// cdGramCorrelations(gram, xty, w, support, cols, out, norms): gram d x d, xty and w d x T, out
// len(cols) x T (overwritten with xty[cols] - gram[cols, support] w[support], kernels/cdgram.h),
// norms empty or of length len(cols) (overwritten with the norms of out's rows); the outputs out
// and norms share no memory with anything.
Napi::Value CdGramCorrelations(const Napi::CallbackInfo& info) {
  const char* fn = "cdGramCorrelations";
  Napi::Env env = info.Env();
  expectArgs(info, 7, fn);
  ArgGuard guard;
  MatMap<double> gram = matrixArg<double>(info[0], fn, "gram");
  const int64_t d = gram.rows();
  if (gram.cols() != d) rangeError(env, fn, "argument 'gram' must be square, got " + std::to_string(d) + " x " + std::to_string(gram.cols()));
  MatMap<double> xty = matrixArg<double>(info[1], fn, "xty", d);
  const int64_t T = xty.cols();
  MatMap<double> w = matrixArg<double>(info[2], fn, "w", d, T);
  // Copied (args.h rule 1): their checked entries decide which rows of gram, xty and w the kernel reads.
  const std::vector<int32_t> support = indexArg(info[3], fn, "support");
  const std::vector<int32_t> cols = indexArg(info[4], fn, "cols");
  MatMap<double> out = matrixArg<double>(info[5], fn, "out", int64_t(cols.size()), T);
  VecMap<double> norms = vectorArg<double>(info[6], fn, "norms");
  if (norms.size() != 0 && norms.size() != int64_t(cols.size())) {
    rangeError(env, fn, "argument 'norms' has " + std::to_string(norms.size()) + " elements, expected 0 or " + std::to_string(cols.size()));
  }
  expectIndices(env, fn, "support", support, d);
  expectIndices(env, fn, "cols", cols, d);
  expectDisjointFrom(env, fn, out, "out", gram, "gram", xty, "xty", w, "w");
  expectDisjointFrom(env, fn, norms, "norms", gram, "gram", xty, "xty", w, "w", out, "out");
  guard.verify(env, fn);
  cd::gramCorrelations(gram.data(), d, xty.data(), w.data(), T, support.data(), int64_t(support.size()), cols.data(), int64_t(cols.size()),
                       out.data(), norms.size() ? norms.data() : nullptr);
  return env.Undefined();
}

// mtenetGramSweep(gram, ht, w, l1Reg, l2Reg, order) -> { wMax, dwMax }: gram k x k (diagonal
// finite, >= 0), ht T x k and w k x T updated in place, order entries in [0, k).
Napi::Value MtenetGramSweep(const Napi::CallbackInfo& info) {
  const char* fn = "mtenetGramSweep";
  Napi::Env env = info.Env();
  expectArgs(info, 6, fn);
  ArgGuard guard;
  GramFormArgs g = gramFormArgs(info, fn);
  const int64_t k = g.k();
  const double l1Reg = nonNegativeArg(info[3], fn, "l1Reg");
  const double l2Reg = nonNegativeArg(info[4], fn, "l2Reg");
  const std::vector<int32_t> order = indexArg(info[5], fn, "order");
  expectIndices(env, fn, "order", order, k);
  checkGramForm(env, fn, g);
  guard.verify(env, fn);
  return statsObject(env, cd::gramSweep(g.gram.data(), k, g.ht.data(), g.ht.rows(), g.w.data(), l1Reg, l2Reg, order.data(), int64_t(order.size())));
}

// ---- The per-feature passes of the working-set solver (kernels/cdscreen.h). Every per-feature
// array has the length d of colNormSq (or of xi); flag arrays are Uint8Arrays, read in place (their
// values only decide which of the d entries are written). Outputs share no memory with inputs.

// A number that is not NaN (infinities allowed: a bound may be infinite).
double orderedArg(const Napi::Value& v, const char* fn, const char* name) {
  if (!v.IsNumber()) typeError(v.Env(), fn, std::string("argument '") + name + "' must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (std::isnan(d)) rangeError(v.Env(), fn, std::string("argument '") + name + "' must not be NaN");
  return d;
}

// The dual scale: >= 0 (0 without an l1 penalty at W = 0), Infinity allowed.
double scaleArg(const Napi::Value& v, const char* fn) {
  const double d = orderedArg(v, fn, "scale");
  if (!(d >= 0)) rangeError(v.Env(), fn, "argument 'scale' must be >= 0");
  return d;
}

int32_t versionArg(const Napi::Value& v, const char* fn) {
  return static_cast<int32_t>(integerArg(v, fn, "version", -2147483648.0, 2147483647.0));
}

// cdDualNorms(colNormSq, corr, corrNorm, corrVersion, corrDrift, nonZero, w, version, drift, l1Reg,
// l2Reg, xi) -> scale: corr and w d x T, xi (length d) written where colNormSq > 0.
Napi::Value CdDualNorms(const Napi::CallbackInfo& info) {
  const char* fn = "cdDualNorms";
  Napi::Env env = info.Env();
  expectArgs(info, 12, fn);
  ArgGuard guard;
  VecMap<double> cn = vectorArg<double>(info[0], fn, "colNormSq");
  const int64_t d = cn.size();
  MatMap<double> corr = matrixArg<double>(info[1], fn, "corr", d);
  const int64_t T = corr.cols();
  VecMap<double> corrNorm = vectorArg<double>(info[2], fn, "corrNorm", d);
  VecMap<int32_t> corrVersion = vectorArg<int32_t>(info[3], fn, "corrVersion", d);
  VecMap<double> corrDrift = vectorArg<double>(info[4], fn, "corrDrift", d);
  VecMap<uint8_t> nonZero = vectorArg<uint8_t>(info[5], fn, "nonZero", d);
  MatMap<double> w = matrixArg<double>(info[6], fn, "w", d, T);
  const int32_t version = versionArg(info[7], fn);
  const double drift = numberArg(info[8], fn, "drift");
  const double l1Reg = nonNegativeArg(info[9], fn, "l1Reg");
  const double l2Reg = nonNegativeArg(info[10], fn, "l2Reg");
  VecMap<double> xi = vectorArg<double>(info[11], fn, "xi", d);
  expectDisjointFrom(env, fn, xi, "xi",
                     cn, "colNormSq", corr, "corr", corrNorm, "corrNorm", corrVersion, "corrVersion", corrDrift, "corrDrift",
                     nonZero, "nonZero", w, "w");
  guard.verify(env, fn);
  const cd::FeatureState s{cn.data(), corr.data(), corrNorm.data(), corrVersion.data(), corrDrift.data(), nonZero.data(), w.data(), d, T,
                           version, drift};
  return Napi::Number::New(env, cd::dualNorms(s, l1Reg, l2Reg, xi.data()));
}

// cdScreen(active, nonZero, xi, colNormSq, scale, radius, l2Reg, threshold) -> removed: active
// (length d) updated in place.
Napi::Value CdScreen(const Napi::CallbackInfo& info) {
  const char* fn = "cdScreen";
  Napi::Env env = info.Env();
  expectArgs(info, 8, fn);
  ArgGuard guard;
  VecMap<uint8_t> active = vectorArg<uint8_t>(info[0], fn, "active");
  const int64_t d = active.size();
  VecMap<uint8_t> nonZero = vectorArg<uint8_t>(info[1], fn, "nonZero", d);
  VecMap<double> xi = vectorArg<double>(info[2], fn, "xi", d);
  VecMap<double> cn = vectorArg<double>(info[3], fn, "colNormSq", d);
  const double scale = scaleArg(info[4], fn);
  const double radius = nonNegativeArg(info[5], fn, "radius");
  const double l2Reg = nonNegativeArg(info[6], fn, "l2Reg");
  const double threshold = numberArg(info[7], fn, "threshold");
  expectDisjointFrom(env, fn, active, "active", nonZero, "nonZero", xi, "xi", cn, "colNormSq");
  guard.verify(env, fn);
  return Napi::Number::New(env, double(cd::screen(active.data(), nonZero.data(), xi.data(), cn.data(), d, scale, radius, l2Reg, threshold)));
}

// cdStaleFeatures(corrVersion, version, eligible, xi, limit, out) -> m: out (Int32Array, length d)
// receives the features in its first m entries.
Napi::Value CdStaleFeatures(const Napi::CallbackInfo& info) {
  const char* fn = "cdStaleFeatures";
  Napi::Env env = info.Env();
  expectArgs(info, 6, fn);
  ArgGuard guard;
  VecMap<int32_t> corrVersion = vectorArg<int32_t>(info[0], fn, "corrVersion");
  const int64_t d = corrVersion.size();
  const int32_t version = versionArg(info[1], fn);
  VecMap<uint8_t> eligible = vectorArg<uint8_t>(info[2], fn, "eligible", d);
  VecMap<double> xi = vectorArg<double>(info[3], fn, "xi", d);
  const double limit = orderedArg(info[4], fn, "limit");
  VecMap<int32_t> out = vectorArg<int32_t>(info[5], fn, "out", d);
  expectDisjointFrom(env, fn, out, "out", corrVersion, "corrVersion", eligible, "eligible", xi, "xi");
  guard.verify(env, fn);
  return Napi::Number::New(env, double(cd::staleFeatures(corrVersion.data(), version, eligible.data(), xi.data(), d, limit, out.data())));
}

// cdFlaggedFeatures(flags, out, except) -> m: the j with flags[j] != 0 and (except null or
// except[j] == 0), ascending, the first out.length of them written to out.
Napi::Value CdFlaggedFeatures(const Napi::CallbackInfo& info) {
  const char* fn = "cdFlaggedFeatures";
  Napi::Env env = info.Env();
  expectArgs(info, 3, fn);
  ArgGuard guard;
  VecMap<uint8_t> flags = vectorArg<uint8_t>(info[0], fn, "flags");
  const int64_t d = flags.size();
  VecMap<int32_t> out = vectorArg<int32_t>(info[1], fn, "out");
  const bool hasExcept = !info[2].IsNull();
  VecMap<uint8_t> except = hasExcept ? vectorArg<uint8_t>(info[2], fn, "except", d) : VecMap<uint8_t>(nullptr, 0);
  expectDisjointFrom(env, fn, out, "out", flags, "flags");
  if (hasExcept) expectDisjoint(env, fn, out, "out", except, "except");
  guard.verify(env, fn);
  return Napi::Number::New(env, double(cd::flaggedFeatures(flags.data(), hasExcept ? except.data() : nullptr, d, out.data(), out.size())));
}

// cdFlagPositive(values, flags) -> m: flags (Uint8Array, length d) = 1 where values[j] > 0, else 0.
Napi::Value CdFlagPositive(const Napi::CallbackInfo& info) {
  const char* fn = "cdFlagPositive";
  Napi::Env env = info.Env();
  expectArgs(info, 2, fn);
  ArgGuard guard;
  VecMap<double> values = vectorArg<double>(info[0], fn, "values");
  VecMap<uint8_t> flags = vectorArg<uint8_t>(info[1], fn, "flags", values.size());
  expectDisjoint(env, fn, flags, "flags", values, "values");
  guard.verify(env, fn);
  return Napi::Number::New(env, double(cd::flagPositive(values.data(), values.size(), flags.data())));
}

// cdWorkingSet(active, nonZero, xi, strong, minSize, out, violation?, fullSetLimit?) -> size: out
// (Int32Array, length d) receives the set, ascending, in its first entries.
Napi::Value CdWorkingSet(const Napi::CallbackInfo& info) {
  const char* fn = "cdWorkingSet";
  Napi::Env env = info.Env();
  expectArgs(info, 8, fn);
  ArgGuard guard;
  // Copied (args.h rule 1): the count of active features sizes the kernel's score buffer, and a
  // flag changed between its two passes (through a SharedArrayBuffer) would overrun it.
  const std::vector<uint8_t> active = byteArg(info[0], fn, "active");
  const int64_t d = static_cast<int64_t>(active.size());
  const std::vector<uint8_t> nonZero = byteArg(info[1], fn, "nonZero", d);
  VecMap<double> xi = vectorArg<double>(info[2], fn, "xi", d);
  const double strong = orderedArg(info[3], fn, "strong");
  const int64_t minSize = integerArg(info[4], fn, "minSize", 0, 2147483647.0);
  VecMap<int32_t> out = vectorArg<int32_t>(info[5], fn, "out", d);
  const double violation = info[6].IsUndefined() ? std::nan("") : orderedArg(info[6], fn, "violation");
  const int64_t fullSetLimit = info[7].IsUndefined() ? 0 : integerArg(info[7], fn, "fullSetLimit", 1, 2147483647.0);
  expectDisjointFrom(env, fn, out, "out", xi, "xi");
  guard.verify(env, fn);
  return Napi::Number::New(
      env, double(cd::workingSet(active.data(), nonZero.data(), xi.data(), d, strong, minSize, violation, fullSetLimit, out.data())));
}

// cdSetRows(w, nonZero, rows, values) -> { supportChange, l21, normSq }: w d x T, nonZero length d
// (both updated in place), values len(rows) x T.
Napi::Value CdSetRows(const Napi::CallbackInfo& info) {
  const char* fn = "cdSetRows";
  Napi::Env env = info.Env();
  expectArgs(info, 4, fn);
  ArgGuard guard;
  MatMap<double> w = matrixArg<double>(info[0], fn, "w");
  const int64_t d = w.rows();
  VecMap<uint8_t> nonZero = vectorArg<uint8_t>(info[1], fn, "nonZero", d);
  // Copied (args.h rule 1): its checked entries decide which rows of w the kernel writes.
  const std::vector<int32_t> rows = indexArg(info[2], fn, "rows");
  MatMap<double> values = matrixArg<double>(info[3], fn, "values", int64_t(rows.size()), w.cols());
  expectIndices(env, fn, "rows", rows, d);
  expectDisjointFrom(env, fn, w, "w", nonZero, "nonZero", values, "values");
  expectDisjoint(env, fn, nonZero, "nonZero", values, "values");
  guard.verify(env, fn);
  const cd::RowsSet r = cd::setRows(w.data(), nonZero.data(), w.cols(), rows.data(), int64_t(rows.size()), values.data());
  Napi::Object o = Napi::Object::New(env);
  o.Set("supportChange", double(r.supportChange));
  o.Set("l21", r.l21);
  o.Set("normSq", r.normSq);
  return o;
}

// cdSetCorrelations(corr, corrNorm, corrVersion, corrDrift, version, drift, cols, values, norms):
// corr d x T and the three length-d arrays updated in place at the listed features; values
// len(cols) x T; norms empty (computed from values) or of length len(cols).
Napi::Value CdSetCorrelations(const Napi::CallbackInfo& info) {
  const char* fn = "cdSetCorrelations";
  Napi::Env env = info.Env();
  expectArgs(info, 9, fn);
  ArgGuard guard;
  MatMap<double> corr = matrixArg<double>(info[0], fn, "corr");
  const int64_t d = corr.rows();
  VecMap<double> corrNorm = vectorArg<double>(info[1], fn, "corrNorm", d);
  VecMap<int32_t> corrVersion = vectorArg<int32_t>(info[2], fn, "corrVersion", d);
  VecMap<double> corrDrift = vectorArg<double>(info[3], fn, "corrDrift", d);
  const int32_t version = versionArg(info[4], fn);
  const double drift = numberArg(info[5], fn, "drift");
  // Copied (args.h rule 1): its checked entries decide which rows the kernel writes.
  const std::vector<int32_t> cols = indexArg(info[6], fn, "cols");
  const int64_t k = int64_t(cols.size());
  MatMap<double> values = matrixArg<double>(info[7], fn, "values", k, corr.cols());
  VecMap<double> norms = vectorArg<double>(info[8], fn, "norms");
  if (norms.size() != 0 && norms.size() != k) {
    rangeError(env, fn, "argument 'norms' has " + std::to_string(norms.size()) + " elements, expected 0 or " + std::to_string(k));
  }
  expectIndices(env, fn, "cols", cols, d);
  expectDisjointFrom(env, fn, corr, "corr", corrNorm, "corrNorm", corrVersion, "corrVersion", corrDrift, "corrDrift", values, "values",
                     norms, "norms");
  expectDisjointFrom(env, fn, corrNorm, "corrNorm", corrVersion, "corrVersion", corrDrift, "corrDrift", values, "values", norms, "norms");
  expectDisjointFrom(env, fn, corrVersion, "corrVersion", corrDrift, "corrDrift", values, "values", norms, "norms");
  expectDisjointFrom(env, fn, corrDrift, "corrDrift", values, "values", norms, "norms");
  guard.verify(env, fn);
  cd::setCorrelations(corr.data(), corrNorm.data(), corrVersion.data(), corrDrift.data(), corr.cols(), version, drift, cols.data(), k,
                      values.data(), norms.size() ? norms.data() : nullptr);
  return env.Undefined();
}

}  // namespace

void registerCd(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "mtenetSweep", MtenetSweep);
  exportFunction(env, exports, "mtenetSweepBlocked", MtenetSweepBlocked);
  exportFunction(env, exports, "mtenetBlockGram", MtenetBlockGram);
  exportFunction(env, exports, "mtenetGramSweep", MtenetGramSweep);
  exportFunction(env, exports, "cdColumnStats", CdColumnStats);
  exportFunction(env, exports, "cdColumnStatsCorrelations", CdColumnStatsCorrelations);
  exportFunction(env, exports, "cdCorrelations", CdCorrelations);
  exportFunction(env, exports, "cdGatherColumns", CdGatherColumns);
  exportFunction(env, exports, "cdTargets", CdTargets);
  exportFunction(env, exports, "cdCoefficients", CdCoefficients);
  exportFunction(env, exports, "cdResidual", CdResidual);
  exportFunction(env, exports, "cdGramColumns", CdGramColumns);
  exportFunction(env, exports, "cdResidualColumns", CdResidualColumns);
  exportFunction(env, exports, "cdResidualCorrelations", CdResidualCorrelations);
  exportFunction(env, exports, "cdGramCorrelations", CdGramCorrelations);
  exportFunction(env, exports, "mtenetGramSolve", MtenetGramSolve);
  exportFunction(env, exports, "mtenetResidualSolve", MtenetResidualSolve);
  exportFunction(env, exports, "cdDualNorms", CdDualNorms);
  exportFunction(env, exports, "cdScreen", CdScreen);
  exportFunction(env, exports, "cdStaleFeatures", CdStaleFeatures);
  exportFunction(env, exports, "cdFlaggedFeatures", CdFlaggedFeatures);
  exportFunction(env, exports, "cdFlagPositive", CdFlagPositive);
  exportFunction(env, exports, "cdWorkingSet", CdWorkingSet);
  exportFunction(env, exports, "cdSetRows", CdSetRows);
  exportFunction(env, exports, "cdSetCorrelations", CdSetCorrelations);
}

}  // namespace metatask::binding
