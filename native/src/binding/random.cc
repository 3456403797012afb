// Binding of the random kernels (kernels/random.h):
//   fillMask(state, out, rate, keep)
//       state: Int32Array of 4 (xoshiro128**'s words, as lib/core/rng.ts keeps them), advanced by
//       out.length draws; out: Float32Array or Float64Array, filled with 0 or keep; rate in [0, 1];
//       keep finite. state and out share no memory.
#include "config.h"

#include <napi.h>

#include <cmath>
#include <cstring>

#include "binding/args.h"
#include "binding/registry.h"
#include "kernels/random.h"

namespace metatask::binding {

namespace {

template <typename T>
void fillMaskTyped(const Napi::CallbackInfo& info, const ArgGuard& guard, VecMap<int32_t>& state) {
  const char* fn = "fillMask";
  Napi::Env env = info.Env();
  VecMap<T> out = vectorArg<T>(info[1], fn, "out");
  const double rate = numberArg(info[2], fn, "rate");
  const double keep = numberArg(info[3], fn, "keep");
  expectDisjoint(env, fn, out, "out", state, "state");
  guard.verify(env, fn);
  if (!(rate >= 0 && rate <= 1)) rangeError(env, fn, "argument 'rate' must be in [0, 1]");
  if (!std::isfinite(keep)) rangeError(env, fn, "argument 'keep' must be finite");
  uint32_t s[4];
  std::memcpy(s, state.data(), sizeof s);
  random::fillMask<T>(s, out.data(), out.size(), rate, keep);
  std::memcpy(state.data(), s, sizeof s);
}

Napi::Value FillMask(const Napi::CallbackInfo& info) {
  const char* fn = "fillMask";
  expectArgs(info, 4, fn);
  ArgGuard guard;
  VecMap<int32_t> state = vectorArg<int32_t>(info[0], fn, "state", 4);
  const Napi::Value out = info[1];
  if (isFloat32Array(out)) fillMaskTyped<float>(info, guard, state);
  else fillMaskTyped<double>(info, guard, state);
  return info.Env().Undefined();
}

}  // namespace

void registerRandom(Napi::Env env, Napi::Object exports) { exportFunction(env, exports, "fillMask", FillMask); }

}  // namespace metatask::binding
