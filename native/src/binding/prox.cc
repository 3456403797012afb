// Bindings of the proximal operators (kernels/prox.h): read and check every argument, then call
// the kernel in place.
#include "config.h"

#include <napi.h>

#include "binding/args.h"
#include "binding/registry.h"
#include "kernels/prox.h"

namespace metatask::binding {

namespace {

// groupSoftThreshold(w, threshold) -> number of non-zero rows; w is updated in place.
Napi::Value GroupSoftThreshold(const Napi::CallbackInfo& info) {
  const char* fn = "groupSoftThreshold";
  expectArgs(info, 2, fn);
  ArgGuard guard;
  MatMap<double> w = matrixArg<double>(info[0], fn, "w");
  const double threshold = nonNegativeArg(info[1], fn, "threshold");
  guard.verify(info.Env(), fn);
  const int64_t nonZero = prox::groupSoftThreshold(w, threshold);
  return Napi::Number::New(info.Env(), static_cast<double>(nonZero));
}

// svt(w, threshold, out) -> { rank, nuclearNorm }; out (same shape as w) receives the result.
Napi::Value Svt(const Napi::CallbackInfo& info) {
  const char* fn = "svt";
  expectArgs(info, 3, fn);
  ArgGuard guard;
  MatMap<double> w = matrixArg<double>(info[0], fn, "w");
  const double threshold = nonNegativeArg(info[1], fn, "threshold");
  MatMap<double> out = matrixArg<double>(info[2], fn, "out", w.rows(), w.cols());
  expectDisjoint(info.Env(), fn, out, "out", w, "w");
  guard.verify(info.Env(), fn);
  CMatMap<double> cw(w.data(), w.rows(), w.cols());
  const prox::SvtStats stats = prox::svt(cw, threshold, out);
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("rank", static_cast<double>(stats.rank));
  r.Set("nuclearNorm", stats.nuclearNorm);
  return r;
}

}  // namespace

void registerProx(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "groupSoftThreshold", GroupSoftThreshold);
  exportFunction(env, exports, "svt", Svt);
}

}  // namespace metatask::binding
