// Bindings of the optimiser updates (kernels/optim.h). Argument form: each function takes ONE
// plain object, the fields of types.ts AdamArgs / SgdArgs / RmspropArgs:
//   adamStep({ params, grad, m, v, lr, beta1, beta2, eps, weightDecay, decoupledWeightDecay, step })
//   sgdStep({ params, grad, velocity, lr, momentum, dampening, nesterov, weightDecay, step })
//   rmspropStep({ params, grad, squareAvg, momentumBuf, lr, alpha, eps, momentum, weightDecay })
// All vectors are Float32Array or all Float64Array (the dtype of `params`), of one length, and
// share no memory; velocity / momentumBuf may be null (or absent) when momentum is 0. Numbers must
// be finite: lr, eps, weightDecay, momentum >= 0; beta1, beta2 in [0, 1); alpha in [0, 1];
// step an integer >= 1. Updates happen in place; nothing is returned.
#include "config.h"

#include <napi.h>

#include <cmath>
#include <optional>

#include "binding/args.h"
#include "binding/registry.h"
#include "kernels/optim.h"

namespace metatask::binding {

namespace {

Napi::Object argsObject(const Napi::CallbackInfo& info, const char* fn) {
  expectArgs(info, 1, fn);
  if (!info[0].IsObject() || info[0].IsArray() || info[0].IsTypedArray() || info[0].IsFunction()) {
    typeError(info.Env(), fn, "argument 'args' must be a plain object");
  }
  return info[0].As<Napi::Object>();
}

std::string field(const char* name) { return std::string("args.") + name; }

double num(const Napi::Object& o, const char* fn, const char* name) {
  return numberArg(o.Get(name), fn, field(name).c_str());
}

double nonNeg(const Napi::Object& o, const char* fn, const char* name) {
  return nonNegativeArg(o.Get(name), fn, field(name).c_str());
}

double inRange(const Napi::Object& o, const char* fn, const char* name, double lo, double hi, bool hiOpen) {
  const double d = num(o, fn, name);
  if (d < lo || d > hi || (hiOpen && d == hi)) {
    rangeError(o.Env(), fn, "argument '" + field(name) + "' must be in [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + (hiOpen ? ")" : "]"));
  }
  return d;
}

double stepArg(const Napi::Object& o, const char* fn) {
  const double s = num(o, fn, "step");
  if (s < 1 || s != std::floor(s) || s > 9007199254740992.0) {
    rangeError(o.Env(), fn, "argument 'args.step' must be an integer >= 1");
  }
  return s;
}

bool boolField(const Napi::Object& o, const char* fn, const char* name) {
  return boolArg(o.Get(name), fn, field(name).c_str());
}

template <typename T>
VecMap<T> vec(const Napi::Object& o, const char* fn, const char* name, int64_t n) {
  return vectorArg<T>(o.Get(name), fn, field(name).c_str(), n);
}

// An optional buffer: null/undefined when momentum is 0, otherwise required.
template <typename T>
std::optional<VecMap<T>> optVec(const Napi::Object& o, const char* fn, const char* name, int64_t n, bool required) {
  Napi::Value v = o.Get(name);
  if (v.IsNull() || v.IsUndefined()) {
    if (required) typeError(o.Env(), fn, "argument '" + field(name) + "' is required when momentum > 0");
    return std::nullopt;
  }
  return vectorArg<T>(v, fn, field(name).c_str(), n);
}

// Whether `params` (read once, by the caller) is a Float32Array: the dtype of every other vector.
bool isFloat32(const Napi::Value& p) { return isFloat32Array(p); }

template <typename T>
void pairwiseDisjoint(Napi::Env env, const char* fn, std::initializer_list<std::pair<const VecMap<T>*, const char*>> vs) {
  for (auto a = vs.begin(); a != vs.end(); ++a) {
    for (auto b = a + 1; b != vs.end(); ++b) {
      if (a->first && b->first) expectDisjoint(env, fn, *a->first, a->second, *b->first, b->second);
    }
  }
}

template <typename T>
void adamTyped(const Napi::Object& o, const Napi::Value& paramsValue, const char* fn, const ArgGuard& guard) {
  Napi::Env env = o.Env();
  VecMap<T> params = vectorArg<T>(paramsValue, fn, field("params"));
  const int64_t n = params.size();
  VecMap<T> grad = vec<T>(o, fn, "grad", n);
  VecMap<T> m = vec<T>(o, fn, "m", n);
  VecMap<T> v = vec<T>(o, fn, "v", n);
  optim::AdamHyper h{};
  h.lr = nonNeg(o, fn, "lr");
  h.beta1 = inRange(o, fn, "beta1", 0, 1, true);
  h.beta2 = inRange(o, fn, "beta2", 0, 1, true);
  h.eps = nonNeg(o, fn, "eps");
  h.weightDecay = nonNeg(o, fn, "weightDecay");
  h.decoupledWeightDecay = boolField(o, fn, "decoupledWeightDecay");
  h.step = stepArg(o, fn);
  pairwiseDisjoint<T>(env, fn, {{&params, "params"}, {&grad, "grad"}, {&m, "m"}, {&v, "v"}});
  guard.verify(env, fn);
  optim::adamStep<T>(params.data(), grad.data(), m.data(), v.data(), n, h, threadsOf(env));
}

template <typename T>
void sgdTyped(const Napi::Object& o, const Napi::Value& paramsValue, const char* fn, const ArgGuard& guard) {
  Napi::Env env = o.Env();
  VecMap<T> params = vectorArg<T>(paramsValue, fn, field("params"));
  const int64_t n = params.size();
  VecMap<T> grad = vec<T>(o, fn, "grad", n);
  optim::SgdHyper h{};
  h.lr = nonNeg(o, fn, "lr");
  h.momentum = nonNeg(o, fn, "momentum");
  h.dampening = num(o, fn, "dampening");
  h.nesterov = boolField(o, fn, "nesterov");
  h.weightDecay = nonNeg(o, fn, "weightDecay");
  h.step = stepArg(o, fn);
  // PyTorch refuses Nesterov without momentum or with dampening.
  if (h.nesterov && (h.momentum <= 0 || h.dampening != 0)) {
    rangeError(env, fn, "Nesterov momentum requires args.momentum > 0 and args.dampening = 0");
  }
  std::optional<VecMap<T>> velocity = optVec<T>(o, fn, "velocity", n, h.momentum != 0);
  pairwiseDisjoint<T>(env, fn, {{&params, "params"}, {&grad, "grad"}, {velocity ? &*velocity : nullptr, "velocity"}});
  guard.verify(env, fn);
  optim::sgdStep<T>(params.data(), grad.data(), h.momentum != 0 ? velocity->data() : nullptr, n, h, threadsOf(env));
}

template <typename T>
void rmspropTyped(const Napi::Object& o, const Napi::Value& paramsValue, const char* fn, const ArgGuard& guard) {
  Napi::Env env = o.Env();
  VecMap<T> params = vectorArg<T>(paramsValue, fn, field("params"));
  const int64_t n = params.size();
  VecMap<T> grad = vec<T>(o, fn, "grad", n);
  VecMap<T> squareAvg = vec<T>(o, fn, "squareAvg", n);
  optim::RmspropHyper h{};
  h.lr = nonNeg(o, fn, "lr");
  h.alpha = inRange(o, fn, "alpha", 0, 1, false);
  h.eps = nonNeg(o, fn, "eps");
  h.momentum = nonNeg(o, fn, "momentum");
  h.weightDecay = nonNeg(o, fn, "weightDecay");
  std::optional<VecMap<T>> buf = optVec<T>(o, fn, "momentumBuf", n, h.momentum > 0);
  pairwiseDisjoint<T>(env, fn,
                      {{&params, "params"}, {&grad, "grad"}, {&squareAvg, "squareAvg"}, {buf ? &*buf : nullptr, "momentumBuf"}});
  guard.verify(env, fn);
  optim::rmspropStep<T>(params.data(), grad.data(), squareAvg.data(), h.momentum > 0 ? buf->data() : nullptr, n, h, threadsOf(env));
}

Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  const char* fn = "adamStep";
  ArgGuard guard;
  Napi::Object o = argsObject(info, fn);
  const Napi::Value params = o.Get("params");
  if (isFloat32(params)) adamTyped<float>(o, params, fn, guard);
  else adamTyped<double>(o, params, fn, guard);
  return info.Env().Undefined();
}

Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  const char* fn = "sgdStep";
  ArgGuard guard;
  Napi::Object o = argsObject(info, fn);
  const Napi::Value params = o.Get("params");
  if (isFloat32(params)) sgdTyped<float>(o, params, fn, guard);
  else sgdTyped<double>(o, params, fn, guard);
  return info.Env().Undefined();
}

Napi::Value RmspropStep(const Napi::CallbackInfo& info) {
  const char* fn = "rmspropStep";
  ArgGuard guard;
  Napi::Object o = argsObject(info, fn);
  const Napi::Value params = o.Get("params");
  if (isFloat32(params)) rmspropTyped<float>(o, params, fn, guard);
  else rmspropTyped<double>(o, params, fn, guard);
  return info.Env().Undefined();
}

}  // namespace

void registerOptim(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "adamStep", AdamStep);
  exportFunction(env, exports, "sgdStep", SgdStep);
  exportFunction(env, exports, "rmspropStep", RmspropStep);
}

}  // namespace metatask::binding
