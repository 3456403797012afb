// Binding of the network kernels: class Network, a Napi::ObjectWrap holding one compiled network
// (native/src/kernels/network.h), its per-batch-size buffers and its meta-batch workers.
//
//   new Network(ints: Int32Array, floats: Float64Array, dtype: 'float32' | 'float64')
//       the program of lib/kernels/program.ts encodeProgram; re-validated in C++ (parseProgram)
//   forward(params, x, masks, stats, statsOut, out)         out: n x outputWidth
//   lossGrad(params, x, y, masks, stats, statsOut, weights, grad | null, losses)
//   headGrads(params, x, y, masks, stats, statsOut, out, losses)   out: H x P
//   hvp(params, x, y, masks, stats, statsOut, weights, v, out)
//   vjp(params, x, masks, stats, statsOut, outGrad, grad, reuseForward)
//       outGrad: n x outputWidth; grad = J^T outGrad; reuseForward (boolean): use the activations of
//       the forward() called just before with the same arrays instead of a new forward pass
//   metaGradient(params, x, y, offsets, innerLr, innerSteps, firstOrder, innerMask | null, grad) -> loss
//       the MAML/ANIL meta-gradient of a whole meta-batch (native/src/kernels/metabatch.h): x, y
//       stack the tasks' support and query rows, offsets (Int32Array, 2T+1 entries) delimits them;
//       innerMask is null or a Uint8Array of paramCount; grad a Float64Array of paramCount.
//   metaGradientStart(params, x, y, offsets, innerLr, innerSteps, firstOrder, innerMask | null)
//   metaGradientFinish(grad) -> loss
//       metaGradient in two halves: the start copies its arguments, starts the tasks on the worker
//       threads and returns; the finish joins them on the calling thread. In between the handle
//       refuses every other call (ERR_VALUE); dispose() and garbage collection wait for the tasks.
//   info() -> { paramCount, inputSize, outputWidth, targetCols, heads, nodes, dtype, bytes }
//   dispose()                                               frees everything; later calls throw
//                                                           (called from a getter during a method:
//                                                           that method throws, memory freed after it)
// x, y, out are { rows, cols, data } matrices of the handle's dtype; masks is null or an array
// with one entry per node (null, or the n x width mask of a dropout node); weights and losses
// are Float64Arrays of one value per head. stats (null, or statsCount values of the handle's
// dtype) are batchnorm running statistics to normalise with; statsOut (null, or a Float64Array of
// statsCount values) receives a batch-mode pass's batch statistics; at most one of the two. Products use up to setThreads threads, with results
// that do not depend on the count.
//
// Every method goes through one dispatcher (call): it checks the type tag of `this`
// (napi_type_tag_object; any other object gets TypeError "Illegal invocation", better-sqlite3's
// approach), refuses a disposed handle, reads and checks the arguments (args.h rules: typed
// arrays guarded, offsets and the inner mask copied), runs the kernel for the handle's dtype, and
// reports the change of the native memory held to the JavaScript engine, so that the garbage
// collector sees what a handle costs.
#include "config.h"

#include <napi.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "binding/args.h"
#include "binding/registry.h"
#include "kernels/metabatch.h"
#include "kernels/network.h"

namespace metatask::binding {

namespace {

// Random 128-bit tag, unique to this class.
const napi_type_tag kNetworkTag = {0x8f3c2a61d94e4b07ULL, 0xa1b2e6f47c5d9e13ULL};

class NetworkWrap : public Napi::ObjectWrap<NetworkWrap> {
 public:
  using Method = Napi::Value (*)(NetworkWrap*, const Napi::CallbackInfo&, const ArgGuard&);
  struct MethodSpec {
    const char* name;
    size_t arity;
    Method f32, f64;
  };

  static Napi::Function Define(Napi::Env env) {
    static const MethodSpec kMethods[] = {
        {"Network.forward", 6, &forwardT<float>, &forwardT<double>},
        {"Network.lossGrad", 9, &lossGradT<float>, &lossGradT<double>},
        {"Network.headGrads", 8, &headGradsT<float>, &headGradsT<double>},
        {"Network.hvp", 9, &hvpT<float>, &hvpT<double>},
        {"Network.vjp", 8, &vjpT<float>, &vjpT<double>},
        {"Network.metaGradient", 9, &metaGradientT<float>, &metaGradientT<double>},
        {"Network.metaGradientStart", 8, &metaGradientStartT<float>, &metaGradientStartT<double>},
        {"Network.metaGradientFinish", 1, &metaGradientFinishT<float>, &metaGradientFinishT<double>},
        {"Network.info", 0, &infoT, &infoT},
    };
    Napi::Function ctor = DefineClass(env, "Network", {});
    Napi::Object proto = ctor.Get("prototype").As<Napi::Object>();
    // Plain functions (not InstanceMethod) so that the tag check runs before any unwrap.
    for (const MethodSpec& m : kMethods) {
      const char* method = std::strchr(m.name, '.') + 1;
      proto.Set(method, Napi::Function::New(
                            env, [&m](const Napi::CallbackInfo& info) { return guardedCall(m.name, info, [&] { return call(info, m); }); },
                            method));
    }
    proto.Set("dispose", Napi::Function::New(
                             env, [](const Napi::CallbackInfo& info) { return guardedCall("Network.dispose", info, [&] { return Dispose(info); }); },
                             "dispose"));
    return ctor;
  }

  explicit NetworkWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetworkWrap>(info) {
    guardedCall("Network", info, [&] {
      construct(info);
      return info.Env().Undefined();
    });
  }

  void Finalize(Napi::Env env) override { report(env, 0); }

 private:
  void construct(const Napi::CallbackInfo& info) {
    const char* fn = "Network";
    ArgGuard guard;
    expectArgs(info, 3, fn);
    // The program is copied: parseProgram reads it after every argument is in.
    const std::vector<int32_t> ints = indexArg(info[0], fn, "ints");
    VecMap<double> floats = vectorArg<double>(info[1], fn, "floats");
    const std::string dtype = stringArg(info[2], fn, "dtype");
    if (dtype != "float32" && dtype != "float64") rangeError(info.Env(), fn, "argument 'dtype' must be 'float32' or 'float64'");
    guard.verify(info.Env(), fn);
    network::Program prog;
    try {
      prog = network::parseProgram(ints.data(), ints.size(), floats.data(), static_cast<size_t>(floats.size()));
    } catch (const network::ProgramError& e) {
      rangeError(info.Env(), fn, e.what());
    }
    f32_ = dtype == "float32";
    if (f32_) f_ = std::make_unique<network::Network<float>>(std::move(prog));
    else d_ = std::make_unique<network::Network<double>>(std::move(prog));
    info.This().As<Napi::Object>().TypeTag(&kNetworkTag);
  }

  // Marks the handle as in a call. Reading the arguments may run JavaScript (getters, Proxies)
  // that calls dispose() on this very handle: the method still holds references into the
  // program, so dispose() then only marks the handle, net() refuses to run the kernel, and the
  // memory is freed when the outermost call ends.
  class InCall {
   public:
    InCall(NetworkWrap* w, Napi::Env env) : w_(w), env_(env) { w_->calls_++; }
    ~InCall() {
      if (--w_->calls_ == 0 && w_->disposed_) w_->release(env_);
    }
    InCall(const InCall&) = delete;
    InCall& operator=(const InCall&) = delete;

   private:
    NetworkWrap* w_;
    Napi::Env env_;
  };

  static Napi::Value call(const Napi::CallbackInfo& info, const MethodSpec& m) {
    ArgGuard guard;
    NetworkWrap* w = self(info);
    if (w->running() && m.f32 != &metaGradientFinishT<float>) {
      throw KernelValueError{"a meta-gradient started on this network (metaGradientStart) is still running; call metaGradientFinish first"};
    }
    expectArgs(info, m.arity, m.name);
    InCall inCall(w, info.Env());
    Napi::Value result = (w->f32_ ? m.f32 : m.f64)(w, info, guard);
    w->report(info.Env(), w->bytesHeld());
    return result;
  }

  static NetworkWrap* self(const Napi::CallbackInfo& info) {
    Napi::Value t = info.This();
    if (!t.IsObject() || !t.As<Napi::Object>().CheckTypeTag(&kNetworkTag)) {
      throw Napi::TypeError::New(info.Env(), "Illegal invocation");
    }
    NetworkWrap* w = Unwrap(t.As<Napi::Object>());
    if (w->disposed_) throw DisposedError{"Network"};
    return w;
  }

  static Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Napi::Value t = info.This();
    if (!t.IsObject() || !t.As<Napi::Object>().CheckTypeTag(&kNetworkTag)) {
      throw Napi::TypeError::New(info.Env(), "Illegal invocation");
    }
    expectArgs(info, 0, "Network.dispose");
    NetworkWrap* w = Unwrap(t.As<Napi::Object>());
    // Idempotent: disposing twice is not an error (as for `using` blocks that also call dispose()).
    w->disposed_ = true;
    if (w->calls_ == 0) w->release(info.Env());  // else when the method reading its arguments ends (InCall)
    return info.Env().Undefined();
  }

  // Frees everything. Runs from a destructor too, so it reports to the engine without throwing.
  void release(Napi::Env env) noexcept {
    mbf_.reset();
    mbd_.reset();
    f_.reset();
    d_.reset();
    int64_t change = 0;
    napi_adjust_external_memory(env, -reported_, &change);
    reported_ = 0;
  }

  int64_t bytesHeld() const {
    int64_t b = 0;
    if (f_) b += f_->bytesHeld();
    if (d_) b += d_->bytesHeld();
    if (mbf_) b += mbf_->bytesHeld();
    if (mbd_) b += mbd_->bytesHeld();
    return b;
  }

  // Tell the engine the handle now holds `bytes` of native memory.
  void report(Napi::Env env, int64_t bytes) {
    if (bytes != reported_) {
      Napi::MemoryManagement::AdjustExternalMemory(env, bytes - reported_);
      reported_ = bytes;
    }
  }

  const network::Program& program() const { return f32_ ? f_->program() : d_->program(); }

  // The handle's network for T, with this environment's thread bound.
  // Throws DisposedError when a getter disposed the handle while the arguments were read.
  template <typename T>
  network::Network<T>& net(Napi::Env env) {
    if (disposed_) throw DisposedError{"Network"};
    network::Network<T>& n = [&]() -> network::Network<T>& {
      if constexpr (std::is_same_v<T, float>) return *f_;
      else return *d_;
    }();
    n.setThreads(threadsOf(env));
    return n;
  }

  // x (cols = input size), y (n rows, >= targetCols columns), masks (at mi) and the batchnorm
  // statistics (stats at mi + 1, statsOut at mi + 2) into a Batch; `ptrs` (the caller's) receives
  // the mask pointer table, one entry per node.
  template <typename T>
  network::Batch<T> batchArgs(const Napi::CallbackInfo& info, const char* fn, int xi, int yi, int mi, std::vector<const T*>& ptrs) {
    const network::Program& prog = program();
    MatMap<T> x = matrixArg<T>(info[xi], fn, "x", -1, prog.inputSize);
    network::Batch<T> b;
    b.x = x.data();
    b.n = static_cast<int>(x.rows());
    if (yi >= 0) {
      MatMap<T> y = matrixArg<T>(info[yi], fn, "y", x.rows());
      if (y.cols() < prog.targetCols) {
        rangeError(info.Env(), fn, "argument 'y' has " + std::to_string(y.cols()) + " columns, the heads need " +
                                       std::to_string(prog.targetCols));
      }
      b.y = y.data();
      b.yCols = static_cast<int>(y.cols());
    }
    statsArgs<T>(info, fn, mi + 1, b);
    Napi::Value mv = info[mi];
    if (mv.IsNull() || mv.IsUndefined()) return b;
    if (!mv.IsArray()) typeError(info.Env(), fn, "argument 'masks' must be null or an array with one entry per node");
    Napi::Array arr = mv.As<Napi::Array>();
    const size_t N = prog.nodes.size();
    if (arr.Length() != N) rangeError(info.Env(), fn, "argument 'masks' must have " + std::to_string(N) + " entries (one per node)");
    ptrs.assign(N, nullptr);
    for (size_t i = 0; i < N; i++) {
      Napi::Value m = arr.Get(static_cast<uint32_t>(i));
      if (m.IsNull() || m.IsUndefined()) continue;
      const std::string name = "masks[" + std::to_string(i) + "]";
      if (prog.nodes[i].op != network::kDropout) rangeError(info.Env(), fn, "argument '" + name + "' given for a node that is not a dropout");
      VecMap<T> mm = vectorArg<T>(m, fn, name, int64_t(b.n) * prog.nodes[i].width);
      ptrs[i] = mm.data();
    }
    b.masks = ptrs.data();
    return b;
  }

  // stats (running statistics, T) and statsOut (Float64Array) at k and k + 1, each null or
  // statsCount values; statsOut shares no memory with stats, x or y.
  template <typename T>
  void statsArgs(const Napi::CallbackInfo& info, const char* fn, int k, network::Batch<T>& b) {
    const network::Program& prog = program();
    const bool hasIn = !info[k].IsNull() && !info[k].IsUndefined();
    const bool hasOut = !info[k + 1].IsNull() && !info[k + 1].IsUndefined();
    if (hasIn && hasOut) rangeError(info.Env(), fn, "arguments 'stats' and 'statsOut' cannot both be given (a pass with running statistics computes none)");
    if ((hasIn || hasOut) && prog.statsCount == 0) rangeError(info.Env(), fn, "the network has no batchnorm node: 'stats' and 'statsOut' must be null");
    if (hasIn) b.stats = vectorArg<T>(info[k], fn, "stats", prog.statsCount).data();
    if (hasOut) b.statsOut = vectorArg<double>(info[k + 1], fn, "statsOut", prog.statsCount).data();
  }

  // statsOut (an output written during the pass) shares no memory with any input of the batch.
  template <typename T>
  void expectStatsOut(Napi::Env env, const char* fn, const VecMap<T>& params, const network::Batch<T>& b) const {
    if (!b.statsOut) return;
    const network::Program& prog = program();
    const CVecMap<double> out(b.statsOut, prog.statsCount);
    expectDisjoint(env, fn, out, "statsOut", params, "params");
    expectDisjoint(env, fn, out, "statsOut", xMap(b, prog), "x");
    if (b.y) expectDisjoint(env, fn, out, "statsOut", yMap(b), "y");
    if (!b.masks) return;
    for (size_t i = 0; i < prog.nodes.size(); i++) {
      if (!b.masks[i]) continue;
      const std::string mn = "masks[" + std::to_string(i) + "]";
      expectDisjoint(env, fn, out, "statsOut", CVecMap<T>(b.masks[i], int64_t(b.n) * prog.nodes[i].width), mn.c_str());
    }
  }

  // The batch's inputs as flat maps, for the disjointness checks of the outputs.
  template <typename T>
  static CVecMap<T> xMap(const network::Batch<T>& b, const network::Program& prog) {
    return CVecMap<T>(b.x, int64_t(b.n) * prog.inputSize);
  }
  template <typename T>
  static CVecMap<T> yMap(const network::Batch<T>& b) {
    return CVecMap<T>(b.y, int64_t(b.n) * b.yCols);
  }
  // An output must share no memory with the parameters, the batch, or any dropout mask (the
  // backward pass reads them).
  template <typename T, typename Out>
  void expectOutput(Napi::Env env, const char* fn, const Out& out, const char* name, const VecMap<T>& params,
                    const network::Batch<T>& b) const {
    const network::Program& prog = program();
    expectDisjoint(env, fn, out, name, params, "params");
    expectDisjoint(env, fn, out, name, xMap(b, prog), "x");
    if (b.y) expectDisjoint(env, fn, out, name, yMap(b), "y");
    if (b.stats) expectDisjoint(env, fn, out, name, CVecMap<T>(b.stats, prog.statsCount), "stats");
    if (b.statsOut) expectDisjoint(env, fn, out, name, CVecMap<double>(b.statsOut, prog.statsCount), "statsOut");
    if (!b.masks) return;
    for (size_t i = 0; i < prog.nodes.size(); i++) {
      if (!b.masks[i]) continue;
      const std::string mn = "masks[" + std::to_string(i) + "]";
      expectDisjoint(env, fn, out, name, CVecMap<T>(b.masks[i], int64_t(b.n) * prog.nodes[i].width), mn.c_str());
    }
  }

  VecMap<double> weightsArg(const Napi::CallbackInfo& info, int k, const char* fn) const {
    VecMap<double> w = vectorArg<double>(info[k], fn, "weights", static_cast<int64_t>(program().heads.size()));
    return w;
  }

  static void expectFinite(Napi::Env env, const char* fn, const VecMap<double>& w) {
    for (Eigen::Index h = 0; h < w.size(); h++)
      if (!std::isfinite(w[h])) rangeError(env, fn, "argument 'weights' must be finite");
  }

  template <typename T>
  static Napi::Value forwardT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    const char* fn = "Network.forward";
    const network::Program& prog = w->program();
    std::vector<const T*> maskPtrs;
    VecMap<T> params = vectorArg<T>(info[0], fn, "params", prog.paramCount);
    network::Batch<T> b = w->batchArgs<T>(info, fn, 1, -1, 2, maskPtrs);
    w->expectStatsOut(info.Env(), fn, params, b);
    MatMap<T> out = matrixArg<T>(info[5], fn, "out", b.n, prog.outputWidth);
    w->expectOutput(info.Env(), fn, out, "out", params, b);
    guard.verify(info.Env(), fn);
    w->net<T>(info.Env()).forward(params.data(), b, out.data());
    return info.Env().Undefined();
  }

  template <typename T>
  static Napi::Value lossGradT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    const char* fn = "Network.lossGrad";
    const network::Program& prog = w->program();
    std::vector<const T*> maskPtrs;
    VecMap<T> params = vectorArg<T>(info[0], fn, "params", prog.paramCount);
    network::Batch<T> b = w->batchArgs<T>(info, fn, 1, 2, 3, maskPtrs);
    w->expectStatsOut(info.Env(), fn, params, b);
    VecMap<double> weights = w->weightsArg(info, 6, fn);
    T* grad = nullptr;
    if (!info[7].IsNull()) {
      VecMap<T> g = vectorArg<T>(info[7], fn, "grad", prog.paramCount);
      w->expectOutput(info.Env(), fn, g, "grad", params, b);
      grad = g.data();
    }
    VecMap<double> losses = vectorArg<double>(info[8], fn, "losses", static_cast<int64_t>(prog.heads.size()));
    expectDisjoint(info.Env(), fn, losses, "losses", weights, "weights");
    if (b.statsOut) {
      expectDisjoint(info.Env(), fn, losses, "losses", CVecMap<double>(b.statsOut, prog.statsCount), "statsOut");
      expectDisjoint(info.Env(), fn, weights, "weights", CVecMap<double>(b.statsOut, prog.statsCount), "statsOut");
    }
    guard.verify(info.Env(), fn);
    expectFinite(info.Env(), fn, weights);
    w->net<T>(info.Env()).lossGrad(params.data(), b, weights.data(), grad, losses.data());
    return info.Env().Undefined();
  }

  template <typename T>
  static Napi::Value headGradsT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    const char* fn = "Network.headGrads";
    const network::Program& prog = w->program();
    std::vector<const T*> maskPtrs;
    VecMap<T> params = vectorArg<T>(info[0], fn, "params", prog.paramCount);
    network::Batch<T> b = w->batchArgs<T>(info, fn, 1, 2, 3, maskPtrs);
    w->expectStatsOut(info.Env(), fn, params, b);
    MatMap<T> out = matrixArg<T>(info[6], fn, "out", static_cast<int64_t>(prog.heads.size()), prog.paramCount);
    w->expectOutput(info.Env(), fn, out, "out", params, b);
    VecMap<double> losses = vectorArg<double>(info[7], fn, "losses", static_cast<int64_t>(prog.heads.size()));
    if (b.statsOut) expectDisjoint(info.Env(), fn, losses, "losses", CVecMap<double>(b.statsOut, prog.statsCount), "statsOut");
    guard.verify(info.Env(), fn);
    w->net<T>(info.Env()).headGrads(params.data(), b, out.data(), losses.data());
    return info.Env().Undefined();
  }

  template <typename T>
  static Napi::Value hvpT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    const char* fn = "Network.hvp";
    const network::Program& prog = w->program();
    std::vector<const T*> maskPtrs;
    VecMap<T> params = vectorArg<T>(info[0], fn, "params", prog.paramCount);
    network::Batch<T> b = w->batchArgs<T>(info, fn, 1, 2, 3, maskPtrs);
    w->expectStatsOut(info.Env(), fn, params, b);
    VecMap<double> weights = w->weightsArg(info, 6, fn);
    VecMap<T> v = vectorArg<T>(info[7], fn, "v", prog.paramCount);
    VecMap<T> out = vectorArg<T>(info[8], fn, "out", prog.paramCount);
    if (b.statsOut) expectDisjoint(info.Env(), fn, weights, "weights", CVecMap<double>(b.statsOut, prog.statsCount), "statsOut");
    w->expectOutput(info.Env(), fn, out, "out", params, b);
    expectDisjoint(info.Env(), fn, out, "out", v, "v");
    guard.verify(info.Env(), fn);
    expectFinite(info.Env(), fn, weights);
    w->net<T>(info.Env()).hvp(params.data(), b, weights.data(), v.data(), out.data());
    return info.Env().Undefined();
  }

  template <typename T>
  static Napi::Value vjpT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    const char* fn = "Network.vjp";
    const network::Program& prog = w->program();
    std::vector<const T*> maskPtrs;
    VecMap<T> params = vectorArg<T>(info[0], fn, "params", prog.paramCount);
    network::Batch<T> b = w->batchArgs<T>(info, fn, 1, -1, 2, maskPtrs);
    w->expectStatsOut(info.Env(), fn, params, b);
    MatMap<T> outGrad = matrixArg<T>(info[5], fn, "outGrad", b.n, prog.outputWidth);
    VecMap<T> grad = vectorArg<T>(info[6], fn, "grad", prog.paramCount);
    const bool reuse = boolArg(info[7], fn, "reuseForward");
    w->expectOutput(info.Env(), fn, grad, "grad", params, b);
    expectDisjoint(info.Env(), fn, grad, "grad", outGrad, "outGrad");
    guard.verify(info.Env(), fn);
    w->net<T>(info.Env()).vjp(params.data(), b, outGrad.data(), grad.data(), reuse);
    return info.Env().Undefined();
  }

  template <typename T>
  metabatch::MetaBatch<T>& metaBatch() {
    if constexpr (std::is_same_v<T, float>) {
      if (!mbf_) mbf_ = std::make_unique<metabatch::MetaBatch<float>>(*f_);
      return *mbf_;
    } else {
      if (!mbd_) mbd_ = std::make_unique<metabatch::MetaBatch<double>>(*d_);
      return *mbd_;
    }
  }

  // The arguments of metaGradient and metaGradientStart before 'grad': params, x, y, offsets,
  // innerLr, innerSteps, firstOrder, innerMask. Offsets and mask are copied (args.h rule 1): they
  // decide which rows and parameters every task reads, on several threads.
  template <typename T>
  struct MetaArgs {
    VecMap<T> params;
    MatMap<T> x, y;
    std::vector<int32_t> offsets;
    std::vector<uint8_t> mask;
    metabatch::Options options;
  };

  template <typename T>
  MetaArgs<T> metaArgs(const Napi::CallbackInfo& info, const char* fn) {
    Napi::Env env = info.Env();
    const network::Program& prog = program();
    VecMap<T> params = vectorArg<T>(info[0], fn, "params", prog.paramCount);
    MatMap<T> x = matrixArg<T>(info[1], fn, "x", -1, prog.inputSize);
    MatMap<T> y = matrixArg<T>(info[2], fn, "y", x.rows());
    if (y.cols() < prog.targetCols) {
      rangeError(env, fn, "argument 'y' has " + std::to_string(y.cols()) + " columns, the heads need " + std::to_string(prog.targetCols));
    }
    MetaArgs<T> a{params, x, y, indexArg(info[3], fn, "offsets"), {}, {}};
    a.options.innerLr = nonNegativeArg(info[4], fn, "innerLr");
    a.options.innerSteps = static_cast<int>(integerArg(info[5], fn, "innerSteps", 0, 100000));
    a.options.firstOrder = boolArg(info[6], fn, "firstOrder");
    if (!info[7].IsNull()) a.mask = byteArg(info[7], fn, "innerMask", prog.paramCount);
    return a;
  }

  // After guard.verify (no JavaScript runs any more): checks the offsets against x and returns the
  // tasks, pointing into `a`.
  template <typename T>
  static metabatch::Tasks<T> metaTasks(Napi::Env env, const char* fn, MetaArgs<T>& a) {
    const std::vector<int32_t>& offsets = a.offsets;
    const size_t no = offsets.size();
    if (no < 3 || no % 2 != 1) {
      rangeError(env, fn, "argument 'offsets' must have 2T+1 entries (support and query row ranges of T >= 1 tasks), got " +
                              std::to_string(no));
    }
    if (offsets[0] != 0 || offsets[no - 1] != a.x.rows()) {
      rangeError(env, fn, "argument 'offsets' must start at 0 and end at the row count of x (" + std::to_string(a.x.rows()) + ")");
    }
    for (size_t i = 1; i < no; i++) {
      if (offsets[i] <= offsets[i - 1]) {
        rangeError(env, fn, "argument 'offsets' must be strictly increasing (every support and query set needs a row); offsets[" +
                                std::to_string(i) + "] = " + std::to_string(offsets[i]));
      }
    }
    a.options.mask = a.mask.empty() ? nullptr : a.mask.data();
    metabatch::Tasks<T> tasks;
    tasks.x = a.x.data();
    tasks.y = a.y.data();
    tasks.yCols = static_cast<int>(a.y.cols());
    tasks.offsets = offsets.data();
    tasks.count = static_cast<int>(no / 2);
    return tasks;
  }

  template <typename T>
  static Napi::Value metaGradientT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    const char* fn = "Network.metaGradient";
    Napi::Env env = info.Env();
    MetaArgs<T> a = w->metaArgs<T>(info, fn);
    VecMap<double> grad = vectorArg<double>(info[8], fn, "grad", w->program().paramCount);
    expectDisjoint(env, fn, grad, "grad", a.params, "params");
    expectDisjoint(env, fn, grad, "grad", a.x, "x");
    expectDisjoint(env, fn, grad, "grad", a.y, "y");
    guard.verify(env, fn);
    const metabatch::Tasks<T> tasks = metaTasks(env, fn, a);
    w->net<T>(env);  // this environment's thread bound on the handle's own network
    const double loss = w->metaBatch<T>().metaGradient(a.params.data(), tasks, a.options, grad.data(), threadsOf(env));
    return Napi::Number::New(env, loss);
  }

  // metaGradientStart copies its inputs (MetaBatch::start) and returns at once; until
  // metaGradientFinish the handle refuses every other call (call() checks).
  template <typename T>
  static Napi::Value metaGradientStartT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    const char* fn = "Network.metaGradientStart";
    Napi::Env env = info.Env();
    MetaArgs<T> a = w->metaArgs<T>(info, fn);
    guard.verify(env, fn);
    const metabatch::Tasks<T> tasks = metaTasks(env, fn, a);
    w->net<T>(env);
    w->metaBatch<T>().start(a.params.data(), tasks, a.options, threadsOf(env));
    return env.Undefined();
  }

  template <typename T>
  static Napi::Value metaGradientFinishT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    const char* fn = "Network.metaGradientFinish";
    Napi::Env env = info.Env();
    if (!w->running()) throw KernelValueError{"no meta-gradient was started (call metaGradientStart first)"};
    VecMap<double> grad = vectorArg<double>(info[0], fn, "grad", w->program().paramCount);
    guard.verify(env, fn);
    return Napi::Number::New(env, w->metaBatch<T>().finish(grad.data()));
  }

  // Whether a metaGradientStart has not been finished.
  bool running() const { return (mbf_ && mbf_->running()) || (mbd_ && mbd_->running()); }

  static Napi::Value infoT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    guard.verify(info.Env(), "Network.info");
    const network::Program& p = w->program();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("paramCount", static_cast<double>(p.paramCount));
    o.Set("inputSize", p.inputSize);
    o.Set("outputWidth", p.outputWidth);
    o.Set("targetCols", p.targetCols);
    o.Set("heads", static_cast<double>(p.heads.size()));
    o.Set("nodes", static_cast<double>(p.nodes.size()));
    o.Set("statsCount", static_cast<double>(p.statsCount));
    o.Set("dtype", w->f32_ ? "float32" : "float64");
    o.Set("bytes", static_cast<double>(w->bytesHeld()));
    return o;
  }

  bool f32_ = false;
  bool disposed_ = false;
  int calls_ = 0;         // methods of this handle running (nested when a getter calls one)
  int64_t reported_ = 0;  // bytes last reported to the engine
  std::unique_ptr<network::Network<float>> f_;
  std::unique_ptr<network::Network<double>> d_;
  std::unique_ptr<metabatch::MetaBatch<float>> mbf_;  // declared after f_/d_: destroyed first
  std::unique_ptr<metabatch::MetaBatch<double>> mbd_;
};

}  // namespace

void registerNetwork(Napi::Env env, Napi::Object exports) { exports.Set("Network", NetworkWrap::Define(env)); }

}  // namespace metatask::binding
