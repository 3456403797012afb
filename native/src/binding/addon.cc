// The addon module: per-environment state (safe in worker_threads) and registration of every
// binding file's functions.
#include "config.h"

#include <napi.h>

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <thread>

#include "binding/args.h"
#include "binding/registry.h"

namespace metatask::binding {

namespace {
std::atomic<int> gThreads{static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};

Napi::Value Info(const Napi::CallbackInfo& info) {
  expectArgs(info, 0, "info");
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", METATASK_NATIVE_VERSION);
  o.Set("simd", Eigen::SimdInstructionSetsInUse());
  o.Set("threads", gThreads.load());
  o.Set("eigen", std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                     std::to_string(EIGEN_MINOR_VERSION));
  o.Set("hardwareConcurrency", static_cast<double>(std::thread::hardware_concurrency()));
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  expectArgs(info, 1, "setThreads");
  const double n = numberArg(info[0], "setThreads", "n");
  if (n < 1 || n > 256 || n != static_cast<int>(n)) rangeError(info.Env(), "setThreads", "argument 'n' must be an integer in [1, 256]");
  gThreads.store(static_cast<int>(n));
  return info.Env().Undefined();
}
}  // namespace

int threads() { return gThreads.load(); }

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    exports.Set("info", Napi::Function::New(env, Info, "info"));
    exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
    registerLinalg(env, exports);
    registerProx(env, exports);
    registerCd(env, exports);
    registerTaskLoss(env, exports);
    registerOptim(env, exports);
    registerNetwork(env, exports);
  }
};

}  // namespace metatask::binding

using MetataskAddon = metatask::binding::Addon;
NODE_API_ADDON(MetataskAddon)
