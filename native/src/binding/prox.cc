// Bindings of the proximal operators (kernels/prox.h): check every argument, then call the
// kernel in place.
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
  CMatMap<double> cw(w.data(), w.rows(), w.cols());
  prox::SvtStats stats{0, 0.0};
  guard.verify(info.Env(), fn);
  runKernel(info.Env(), fn, [&] { stats = prox::svt(cw, threshold, out); });
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("rank", static_cast<double>(stats.rank));
  r.Set("nuclearNorm", stats.nuclearNorm);
  return r;
}

}  // namespace

void registerProx(Napi::Env env, Napi::Object exports) {
  exports.Set("groupSoftThreshold", Napi::Function::New(env, GroupSoftThreshold, "groupSoftThreshold"));
  exports.Set("svt", Napi::Function::New(env, Svt, "svt"));
}

}  // namespace metatask::binding
