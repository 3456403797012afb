// Binding of the multi-task elastic-net coordinate-descent sweep (kernels/cd.h): check every
// argument (shapes against each other, order entries in [0, d), colNormSq >= 0, finite
// regularisers >= 0, outputs rt and w sharing no memory with anything), then sweep in place.
#include "config.h"

#include <napi.h>

#include "binding/args.h"
#include "binding/registry.h"
#include "kernels/cd.h"

namespace metatask::binding {

namespace {

// mtenetSweep(xt, rt, w, colNormSq, l1Reg, l2Reg, order) -> { wMax, dwMax }.
// xt d x n, rt T x n and w d x T (both updated in place), colNormSq length d, order Int32Array.
Napi::Value MtenetSweep(const Napi::CallbackInfo& info) {
  const char* fn = "mtenetSweep";
  Napi::Env env = info.Env();
  expectArgs(info, 7, fn);
  ArgGuard guard;
  MatMap<double> xt = matrixArg<double>(info[0], fn, "xt");
  const int64_t d = xt.rows();
  const int64_t n = xt.cols();
  MatMap<double> rt = matrixArg<double>(info[1], fn, "rt", -1, n);
  const int64_t T = rt.rows();
  MatMap<double> w = matrixArg<double>(info[2], fn, "w", d, T);
  VecMap<double> colNormSq = vectorArg<double>(info[3], fn, "colNormSq", d);
  const double l1Reg = nonNegativeArg(info[4], fn, "l1Reg");
  const double l2Reg = nonNegativeArg(info[5], fn, "l2Reg");
  VecMap<int32_t> order = vectorArg<int32_t>(info[6], fn, "order");
  for (int64_t j = 0; j < d; ++j) {
    // A negative or NaN squared norm would make the update meaningless (division by cj + l2Reg).
    if (!(colNormSq[j] >= 0) || !std::isfinite(colNormSq[j])) {
      rangeError(env, fn, "argument 'colNormSq' must hold finite values >= 0 (index " + std::to_string(j) + ")");
    }
  }
  for (int64_t o = 0; o < order.size(); ++o) {
    if (order[o] < 0 || order[o] >= d) {
      rangeError(env, fn, "argument 'order' entry " + std::to_string(o) + " is " + std::to_string(order[o]) +
                              ", expected an index in [0, " + std::to_string(d) + ")");
    }
  }
  expectDisjoint(env, fn, rt, "rt", xt, "xt");
  expectDisjoint(env, fn, rt, "rt", w, "w");
  expectDisjoint(env, fn, rt, "rt", colNormSq, "colNormSq");
  expectDisjoint(env, fn, rt, "rt", order, "order");
  expectDisjoint(env, fn, w, "w", xt, "xt");
  expectDisjoint(env, fn, w, "w", colNormSq, "colNormSq");
  expectDisjoint(env, fn, w, "w", order, "order");
  CMatMap<double> cxt(xt.data(), d, n);
  CVecMap<double> cn(colNormSq.data(), d);
  guard.verify(env, fn);
  const cd::SweepStats s = cd::mtenetSweep(cxt, rt, w, cn, l1Reg, l2Reg, order.data(), order.size());
  Napi::Object r = Napi::Object::New(env);
  r.Set("wMax", s.wMax);
  r.Set("dwMax", s.dwMax);
  return r;
}

}  // namespace

void registerCd(Napi::Env env, Napi::Object exports) {
  exports.Set("mtenetSweep", Napi::Function::New(env, MtenetSweep, "mtenetSweep"));
}

}  // namespace metatask::binding
