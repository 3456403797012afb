// The addon module: per-environment state (safe in worker_threads), the SIMD level and thread
// bound, and registration of every binding file's functions.
//
//   info() -> { version, simd, simdAvailable, threads, eigen, hardwareConcurrency, temporaryBytes,
//               scratchBytes, hugePages }
//       simd: the level in use; simdAvailable: the levels this binary holds and the CPU runs;
//       temporaryBytes: what the calling thread's pool of kernel temporaries holds now
//       (runtime/temporaries.h); scratchBytes: what its kernels' scratch buffers hold
//       (runtime/scratch.h); hugePages: whether the kernels' large buffers are marked for
//       transparent huge pages (setHugePages)
//   setSimd(name)      use that level from now on (process-wide); RangeError naming the levels
//                      the CPU runs if it is not one of them
//   setThreads(n)      bound the threads of this environment's kernel calls (1..256)
//   setHugePages(on)   whether the kernels' large buffers are marked for transparent huge pages
//                      from now on (process-wide; off until asked: runtime/memory.h says why)
//   hugePageSpan(buffer) -> [offset, bytes]
//                      marks the whole 2 MiB pages inside an ArrayBuffer for transparent huge
//                      pages (Linux; advice only) and returns where they are
//   prefaultPages(view) -> boolean
//                      faults in the pages of a Float64Array's elements in one system call, as
//                      their first writes would (contents unchanged); whether the system did
//                      (Linux 5.14 on): runtime/memory.h
#include "config.h"

#include <napi.h>

#include <Eigen/Core>
#include <string>

#include "binding/args.h"
#include "binding/registry.h"
#include "runtime/memory.h"
#include "runtime/scratch.h"
#include "runtime/temporaries.h"
#include "runtime/threads.h"
#include "simd/level.h"
#include "simd/ops.h"

namespace metatask::binding {

namespace {

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    exportFunction(env, exports, "info", Info);
    exportFunction(env, exports, "setThreads", SetThreads);
    exportFunction(env, exports, "setSimd", SetSimd);
    exportFunction(env, exports, "setHugePages", SetHugePages);
    exportFunction(env, exports, "hugePageSpan", HugePageSpan);
    exportFunction(env, exports, "prefaultPages", PrefaultPages);
    registerLinalg(env, exports);
    registerProx(env, exports);
    registerCd(env, exports);
    registerTaskLoss(env, exports);
    registerOptim(env, exports);
    registerNetwork(env, exports);
    registerRandom(env, exports);
  }

  int threads = runtime::hardwareThreads();

 private:
  static Napi::Array availableLevels(Napi::Env env) {
    Napi::Array out = Napi::Array::New(env);
    uint32_t k = 0;
    for (int i = 0; i < static_cast<int>(simd::Level::kCount); i++) {
      const auto l = static_cast<simd::Level>(i);
      if (simd::compiledIn(l) && simd::cpuSupports(l)) out.Set(k++, simd::levelName(l));
    }
    return out;
  }

  static Napi::Value Info(const Napi::CallbackInfo& info) {
    expectArgs(info, 0, "info");
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("version", METATASK_NATIVE_VERSION);
    o.Set("simd", simd::levelName(simd::activeLevel()));
    o.Set("simdAvailable", availableLevels(env));
    o.Set("threads", threadsOf(env));
    o.Set("eigen", std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                       std::to_string(EIGEN_MINOR_VERSION));
    o.Set("hardwareConcurrency", runtime::hardwareThreads());
    o.Set("temporaryBytes", double(runtime::pooledBytes()));
    o.Set("scratchBytes", double(runtime::scratchHeldBytes()));
    o.Set("hugePages", runtime::hugePageAdvice());
    return o;
  }

  static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
    expectArgs(info, 1, "setThreads");
    const int64_t n = integerArg(info[0], "setThreads", "n", 1, 256);
    info.Env().GetInstanceData<Addon>()->threads = static_cast<int>(n);
    return info.Env().Undefined();
  }

  static Napi::Value SetHugePages(const Napi::CallbackInfo& info) {
    expectArgs(info, 1, "setHugePages");
    runtime::setHugePageAdvice(boolArg(info[0], "setHugePages", "on"));
    return info.Env().Undefined();
  }

  // Memory from V8's allocator is faulted in 4 KiB at a time on first write; the buffer lease
  // carves its new buffers from such whole pages instead (bufferLease.ts). The memory stays V8's.
  static Napi::Value HugePageSpan(const Napi::CallbackInfo& info) {
    expectArgs(info, 1, "hugePageSpan");
    if (!info[0].IsArrayBuffer()) typeError(info.Env(), "hugePageSpan", "buffer must be an ArrayBuffer");
    Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
    const runtime::PageSpan span = runtime::adviseHugePages(buffer.Data(), buffer.ByteLength());
    Napi::Array out = Napi::Array::New(info.Env(), 2);
    out.Set(uint32_t(0), double(span.offset));
    out.Set(uint32_t(1), double(span.bytes));
    return out;
  }

  // The buffer lease's buffers, just before their first writes (bufferLease.ts prefault): one
  // system call instead of a fault a page (runtime/memory.h).
  static Napi::Value PrefaultPages(const Napi::CallbackInfo& info) {
    expectArgs(info, 1, "prefaultPages");
    const TypedArg<double> view = typedArrayOf<double>(info[0], "prefaultPages", "view");
    return Napi::Boolean::New(info.Env(), runtime::prefaultPages(view.data, view.length * sizeof(double)));
  }

  static Napi::Value SetSimd(const Napi::CallbackInfo& info) {
    const char* fn = "setSimd";
    expectArgs(info, 1, fn);
    const std::string name = stringArg(info[0], fn, "name");
    simd::Level level;
    const bool known = simd::parseLevel(name.c_str(), &level);
    if (!known || !simd::setLevel(level)) {
      std::string have;
      Napi::Array levels = availableLevels(info.Env());
      for (uint32_t i = 0; i < levels.Length(); i++) have += (i ? ", " : "") + levels.Get(i).As<Napi::String>().Utf8Value();
      rangeError(info.Env(), fn, (known ? "this CPU cannot run '" : "unknown SIMD level '") + name + "'; it runs: " + have);
    }
    return info.Env().Undefined();
  }
};

}  // namespace

int threadsOf(Napi::Env env) { return env.GetInstanceData<Addon>()->threads; }

}  // namespace metatask::binding

using MetataskAddon = metatask::binding::Addon;
NODE_API_ADDON(MetataskAddon)
