// Binding of the network kernels: class Network, a Napi::ObjectWrap holding one compiled network
// (native/src/kernels/network.h) and its per-batch-size buffers.
//
//   new Network(ints: Int32Array, floats: Float64Array, dtype: 'float32' | 'float64')
//       the program of lib/nn/spec.ts encodeProgram; re-validated in C++ (parseProgram)
//   forward(params, x, masks, out)                          out: n x outputWidth
//   lossGrad(params, x, y, masks, weights, grad | null, losses)
//   headGrads(params, x, y, masks, out, losses)             out: H x P
//   hvp(params, x, y, masks, weights, v, out)
//   vjp(params, x, masks, outGrad, grad)                    outGrad: n x outputWidth; grad = J^T outGrad
//   metaGradient(params, x, y, offsets, innerLr, innerSteps, firstOrder, innerMask | null, grad) -> loss
//       the MAML/ANIL meta-gradient of a whole meta-batch (native/src/kernels/metabatch.h): x, y
//       stack the tasks' support and query rows, offsets (Int32Array, 2T+1 entries) delimits them;
//       innerMask is null or a Uint8Array of paramCount; grad a Float64Array of paramCount. The
//       tasks run on up to threads() threads (setThreads) with the same result as one thread.
//   info() -> { paramCount, inputSize, outputWidth, targetCols, heads, nodes, dtype }
//   dispose()                                               frees the batch buffers early
// x, y, out are { rows, cols, data } matrices of the handle's dtype; masks is null or an array
// with one entry per node (null, or the n x width mask of a dropout node); weights and losses
// are Float64Arrays of one value per head.
//
// Every method first checks the type tag of `this` (napi_type_tag_object), so calling a method
// on any other object throws TypeError "Illegal invocation" instead of reinterpreting memory
// (better-sqlite3's approach), then checks every argument before touching memory. Every method
// (and the constructor) declares an ArgGuard before reading any argument and verifies it right
// before the kernel runs: a getter or Proxy met while reading the arguments that detaches or
// shrinks a typed array read earlier makes the call throw instead of touching freed memory.
// Disjointness checks use the maps already read (x and y are not read a second time, so a getter
// cannot hand the checks a different array than the kernel gets), and the mask pointer table lives
// on the caller's stack, so a re-entrant call from a getter cannot overwrite it.
#include "config.h"

#include <napi.h>

#include <cmath>
#include <memory>
#include <type_traits>
#include <string>
#include <vector>

#include "binding/args.h"
#include "binding/registry.h"
#include "kernels/metabatch.h"
#include "kernels/network.h"

namespace metatask::binding {

int threads();  // addon.cc: the bound set by setThreads

namespace {

// Random 128-bit tag, unique to this class.
const napi_type_tag kNetworkTag = {0x8f3c2a61d94e4b07ULL, 0xa1b2e6f47c5d9e13ULL};

class NetworkWrap : public Napi::ObjectWrap<NetworkWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    Napi::Function ctor = DefineClass(env, "Network", {});
    Napi::Object proto = ctor.Get("prototype").As<Napi::Object>();
    // Plain functions (not InstanceMethod) so that the tag check runs before any unwrap.
    proto.Set("forward", Napi::Function::New(env, &NetworkWrap::Forward, "forward"));
    proto.Set("lossGrad", Napi::Function::New(env, &NetworkWrap::LossGrad, "lossGrad"));
    proto.Set("headGrads", Napi::Function::New(env, &NetworkWrap::HeadGrads, "headGrads"));
    proto.Set("hvp", Napi::Function::New(env, &NetworkWrap::Hvp, "hvp"));
    proto.Set("vjp", Napi::Function::New(env, &NetworkWrap::Vjp, "vjp"));
    proto.Set("metaGradient", Napi::Function::New(env, &NetworkWrap::MetaGradient, "metaGradient"));
    proto.Set("info", Napi::Function::New(env, &NetworkWrap::Info, "info"));
    proto.Set("dispose", Napi::Function::New(env, &NetworkWrap::Dispose, "dispose"));
    return ctor;
  }

  explicit NetworkWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetworkWrap>(info) {
    ArgGuard guard;
    const char* fn = "Network";
    expectArgs(info, 3, fn);
    VecMap<int32_t> ints = vectorArg<int32_t>(info[0], fn, "ints");
    VecMap<double> floats = vectorArg<double>(info[1], fn, "floats");
    const std::string dtype = stringArg(info[2], fn, "dtype");
    if (dtype != "float32" && dtype != "float64") rangeError(info.Env(), fn, "argument 'dtype' must be 'float32' or 'float64'");
    guard.verify(info.Env(), fn);
    network::Program prog;
    try {
      prog = network::parseProgram(ints.data(), static_cast<size_t>(ints.size()), floats.data(), static_cast<size_t>(floats.size()));
    } catch (const network::ProgramError& e) {
      rangeError(info.Env(), fn, e.what());
    }
    f32_ = dtype == "float32";
    if (f32_) f_ = std::make_unique<network::Network<float>>(std::move(prog));
    else d_ = std::make_unique<network::Network<double>>(std::move(prog));
    info.This().As<Napi::Object>().TypeTag(&kNetworkTag);
  }

 private:
  const network::Program& program() const { return f32_ ? f_->program() : d_->program(); }
  template <typename T>
  network::Network<T>& net() {
    if constexpr (std::is_same_v<T, float>) return *f_;
    else return *d_;
  }

  static NetworkWrap* self(const Napi::CallbackInfo& info) {
    Napi::Value t = info.This();
    if (!t.IsObject() || !t.As<Napi::Object>().CheckTypeTag(&kNetworkTag)) {
      throw Napi::TypeError::New(info.Env(), "Illegal invocation");
    }
    return Unwrap(t.As<Napi::Object>());
  }

  // x (cols = input size), y (n rows, >= targetCols columns) and masks into a Batch; `ptrs` (the
  // caller's) receives the mask pointer table, one entry per node.
  template <typename T>
  network::Batch<T> batchArgs(const Napi::CallbackInfo& info, const char* fn, int xi, int yi, int mi,
                              std::vector<const T*>& ptrs) {
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
      VecMap<T> mm = vectorArg<T>(m, fn, name.c_str(), int64_t(b.n) * prog.nodes[i].width);
      ptrs[i] = mm.data();
    }
    b.masks = ptrs.data();
    return b;
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
  // An output must not share memory with any dropout mask either (the backward pass reads them).
  template <typename T, typename Out>
  static void expectDisjointFromMasks(Napi::Env env, const char* fn, const Out& out, const char* name,
                                      const network::Batch<T>& b, const network::Program& prog) {
    if (!b.masks) return;
    for (size_t i = 0; i < prog.nodes.size(); i++) {
      if (!b.masks[i]) continue;
      const std::string mn = "masks[" + std::to_string(i) + "]";
      expectDisjoint(env, fn, out, name, CVecMap<T>(b.masks[i], int64_t(b.n) * prog.nodes[i].width), mn.c_str());
    }
  }

  VecMap<double> weightsArg(const Napi::CallbackInfo& info, int k, const char* fn) {
    VecMap<double> w = vectorArg<double>(info[k], fn, "weights", static_cast<int64_t>(program().heads.size()));
    for (Eigen::Index h = 0; h < w.size(); h++)
      if (!std::isfinite(w[h])) rangeError(info.Env(), fn, "argument 'weights' must be finite");
    return w;
  }

  template <typename F>
  static void run(Napi::Env env, const char* fn, F&& f) {
    try {
      runKernel(env, fn, f);
    } catch (const network::NetworkValueError& e) {
      throw Napi::Error::New(env, std::string("ERR_VALUE:") + fn + ": " + e.message);
    }
  }

  template <typename T>
  static void forwardT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    const char* fn = "Network.forward";
    const network::Program& prog = w->program();
    std::vector<const T*> maskPtrs;
    VecMap<T> params = vectorArg<T>(info[0], fn, "params", prog.paramCount);
    network::Batch<T> b = w->batchArgs<T>(info, fn, 1, -1, 2, maskPtrs);
    MatMap<T> out = matrixArg<T>(info[3], fn, "out", b.n, prog.outputWidth);
    expectDisjoint(info.Env(), fn, out, "out", params, "params");
    expectDisjoint(info.Env(), fn, out, "out", xMap(b, prog), "x");
    expectDisjointFromMasks(info.Env(), fn, out, "out", b, prog);
    guard.verify(info.Env(), fn);
    run(info.Env(), fn, [&] { w->net<T>().forward(params.data(), b, out.data()); });
  }

  template <typename T>
  static void lossGradT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    const char* fn = "Network.lossGrad";
    const network::Program& prog = w->program();
    std::vector<const T*> maskPtrs;
    VecMap<T> params = vectorArg<T>(info[0], fn, "params", prog.paramCount);
    network::Batch<T> b = w->batchArgs<T>(info, fn, 1, 2, 3, maskPtrs);
    VecMap<double> weights = w->weightsArg(info, 4, fn);
    T* grad = nullptr;
    if (!info[5].IsNull()) {
      VecMap<T> g = vectorArg<T>(info[5], fn, "grad", prog.paramCount);
      expectDisjoint(info.Env(), fn, g, "grad", params, "params");
      expectDisjoint(info.Env(), fn, g, "grad", xMap(b, prog), "x");
      expectDisjoint(info.Env(), fn, g, "grad", yMap(b), "y");
      expectDisjointFromMasks(info.Env(), fn, g, "grad", b, prog);
      grad = g.data();
    }
    VecMap<double> losses = vectorArg<double>(info[6], fn, "losses", static_cast<int64_t>(prog.heads.size()));
    expectDisjoint(info.Env(), fn, losses, "losses", weights, "weights");
    guard.verify(info.Env(), fn);
    run(info.Env(), fn, [&] { w->net<T>().lossGrad(params.data(), b, weights.data(), grad, losses.data()); });
  }

  template <typename T>
  static void headGradsT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    const char* fn = "Network.headGrads";
    const network::Program& prog = w->program();
    std::vector<const T*> maskPtrs;
    VecMap<T> params = vectorArg<T>(info[0], fn, "params", prog.paramCount);
    network::Batch<T> b = w->batchArgs<T>(info, fn, 1, 2, 3, maskPtrs);
    MatMap<T> out = matrixArg<T>(info[4], fn, "out", static_cast<int64_t>(prog.heads.size()), prog.paramCount);
    expectDisjoint(info.Env(), fn, out, "out", params, "params");
    expectDisjoint(info.Env(), fn, out, "out", xMap(b, prog), "x");
    expectDisjoint(info.Env(), fn, out, "out", yMap(b), "y");
    expectDisjointFromMasks(info.Env(), fn, out, "out", b, prog);
    VecMap<double> losses = vectorArg<double>(info[5], fn, "losses", static_cast<int64_t>(prog.heads.size()));
    guard.verify(info.Env(), fn);
    run(info.Env(), fn, [&] { w->net<T>().headGrads(params.data(), b, out.data(), losses.data()); });
  }

  template <typename T>
  static void hvpT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    const char* fn = "Network.hvp";
    const network::Program& prog = w->program();
    std::vector<const T*> maskPtrs;
    VecMap<T> params = vectorArg<T>(info[0], fn, "params", prog.paramCount);
    network::Batch<T> b = w->batchArgs<T>(info, fn, 1, 2, 3, maskPtrs);
    VecMap<double> weights = w->weightsArg(info, 4, fn);
    VecMap<T> v = vectorArg<T>(info[5], fn, "v", prog.paramCount);
    VecMap<T> out = vectorArg<T>(info[6], fn, "out", prog.paramCount);
    expectDisjoint(info.Env(), fn, out, "out", params, "params");
    expectDisjoint(info.Env(), fn, out, "out", v, "v");
    expectDisjoint(info.Env(), fn, out, "out", xMap(b, prog), "x");
    expectDisjoint(info.Env(), fn, out, "out", yMap(b), "y");
    expectDisjointFromMasks(info.Env(), fn, out, "out", b, prog);
    guard.verify(info.Env(), fn);
    run(info.Env(), fn, [&] { w->net<T>().hvp(params.data(), b, weights.data(), v.data(), out.data()); });
  }

  template <typename T>
  static void vjpT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    const char* fn = "Network.vjp";
    const network::Program& prog = w->program();
    std::vector<const T*> maskPtrs;
    VecMap<T> params = vectorArg<T>(info[0], fn, "params", prog.paramCount);
    network::Batch<T> b = w->batchArgs<T>(info, fn, 1, -1, 2, maskPtrs);
    MatMap<T> outGrad = matrixArg<T>(info[3], fn, "outGrad", b.n, prog.outputWidth);
    VecMap<T> grad = vectorArg<T>(info[4], fn, "grad", prog.paramCount);
    expectDisjoint(info.Env(), fn, grad, "grad", params, "params");
    expectDisjoint(info.Env(), fn, grad, "grad", xMap(b, prog), "x");
    expectDisjoint(info.Env(), fn, grad, "grad", outGrad, "outGrad");
    expectDisjointFromMasks(info.Env(), fn, grad, "grad", b, prog);
    guard.verify(info.Env(), fn);
    run(info.Env(), fn, [&] { w->net<T>().vjp(params.data(), b, outGrad.data(), grad.data()); });
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

  template <typename T>
  static double metaGradientT(NetworkWrap* w, const Napi::CallbackInfo& info, const ArgGuard& guard) {
    const char* fn = "Network.metaGradient";
    Napi::Env env = info.Env();
    const network::Program& prog = w->program();
    VecMap<T> params = vectorArg<T>(info[0], fn, "params", prog.paramCount);
    MatMap<T> x = matrixArg<T>(info[1], fn, "x", -1, prog.inputSize);
    MatMap<T> y = matrixArg<T>(info[2], fn, "y", x.rows());
    if (y.cols() < prog.targetCols) {
      rangeError(env, fn, "argument 'y' has " + std::to_string(y.cols()) + " columns, the heads need " + std::to_string(prog.targetCols));
    }
    VecMap<int32_t> offsets = vectorArg<int32_t>(info[3], fn, "offsets");
    if (offsets.size() < 3 || offsets.size() % 2 != 1) {
      rangeError(env, fn, "argument 'offsets' must have 2T+1 entries (support and query row ranges of T >= 1 tasks), got " +
                              std::to_string(offsets.size()));
    }
    if (offsets[0] != 0 || offsets[offsets.size() - 1] != x.rows()) {
      rangeError(env, fn, "argument 'offsets' must start at 0 and end at the row count of x (" + std::to_string(x.rows()) + ")");
    }
    for (Eigen::Index i = 1; i < offsets.size(); i++) {
      if (offsets[i] <= offsets[i - 1]) {
        rangeError(env, fn, "argument 'offsets' must be strictly increasing (every support and query set needs a row); offsets[" +
                                std::to_string(i) + "] = " + std::to_string(offsets[i]));
      }
    }
    metabatch::Options o;
    o.innerLr = nonNegativeArg(info[4], fn, "innerLr");
    const double steps = numberArg(info[5], fn, "innerSteps");
    if (steps < 0 || steps > 100000 || steps != std::floor(steps)) rangeError(env, fn, "argument 'innerSteps' must be an integer in [0, 100000]");
    o.innerSteps = static_cast<int>(steps);
    o.firstOrder = boolArg(info[6], fn, "firstOrder");
    if (!info[7].IsNull()) o.mask = vectorArg<uint8_t>(info[7], fn, "innerMask", prog.paramCount).data();
    VecMap<double> grad = vectorArg<double>(info[8], fn, "grad", prog.paramCount);
    expectDisjoint(env, fn, grad, "grad", params, "params");
    expectDisjoint(env, fn, grad, "grad", x, "x");
    expectDisjoint(env, fn, grad, "grad", y, "y");
    expectDisjoint(env, fn, grad, "grad", offsets, "offsets");
    if (o.mask) expectDisjoint(env, fn, grad, "grad", CVecMap<uint8_t>(o.mask, prog.paramCount), "innerMask");
    guard.verify(env, fn);
    // No JavaScript runs from here on; the kernel reads the checked arrays in place.
    metabatch::Tasks<T> tasks;
    tasks.x = x.data();
    tasks.y = y.data();
    tasks.yCols = static_cast<int>(y.cols());
    tasks.offsets = offsets.data();
    tasks.count = static_cast<int>(offsets.size() / 2);
    double loss = 0;
    run(env, fn, [&] { loss = w->metaBatch<T>().metaGradient(params.data(), tasks, o, grad.data(), threads()); });
    return loss;
  }

  static Napi::Value MetaGradient(const Napi::CallbackInfo& info) {
    ArgGuard guard;
    NetworkWrap* w = self(info);
    expectArgs(info, 9, "Network.metaGradient");
    const double loss = w->f32_ ? metaGradientT<float>(w, info, guard) : metaGradientT<double>(w, info, guard);
    return Napi::Number::New(info.Env(), loss);
  }

  static Napi::Value Forward(const Napi::CallbackInfo& info) {
    ArgGuard guard;
    NetworkWrap* w = self(info);
    expectArgs(info, 4, "Network.forward");
    if (w->f32_) forwardT<float>(w, info, guard);
    else forwardT<double>(w, info, guard);
    return info.Env().Undefined();
  }

  static Napi::Value LossGrad(const Napi::CallbackInfo& info) {
    ArgGuard guard;
    NetworkWrap* w = self(info);
    expectArgs(info, 7, "Network.lossGrad");
    if (w->f32_) lossGradT<float>(w, info, guard);
    else lossGradT<double>(w, info, guard);
    return info.Env().Undefined();
  }

  static Napi::Value HeadGrads(const Napi::CallbackInfo& info) {
    ArgGuard guard;
    NetworkWrap* w = self(info);
    expectArgs(info, 6, "Network.headGrads");
    if (w->f32_) headGradsT<float>(w, info, guard);
    else headGradsT<double>(w, info, guard);
    return info.Env().Undefined();
  }

  static Napi::Value Hvp(const Napi::CallbackInfo& info) {
    ArgGuard guard;
    NetworkWrap* w = self(info);
    expectArgs(info, 7, "Network.hvp");
    if (w->f32_) hvpT<float>(w, info, guard);
    else hvpT<double>(w, info, guard);
    return info.Env().Undefined();
  }

  static Napi::Value Vjp(const Napi::CallbackInfo& info) {
    ArgGuard guard;
    NetworkWrap* w = self(info);
    expectArgs(info, 5, "Network.vjp");
    if (w->f32_) vjpT<float>(w, info, guard);
    else vjpT<double>(w, info, guard);
    return info.Env().Undefined();
  }

  // info() and dispose() read no arguments; the guard is declared and verified all the same so
  // that every method follows one pattern.
  static Napi::Value Info(const Napi::CallbackInfo& info) {
    ArgGuard guard;
    NetworkWrap* w = self(info);
    guard.verify(info.Env(), "Network.info");
    const network::Program& p = w->program();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("paramCount", static_cast<double>(p.paramCount));
    o.Set("inputSize", p.inputSize);
    o.Set("outputWidth", p.outputWidth);
    o.Set("targetCols", p.targetCols);
    o.Set("heads", static_cast<double>(p.heads.size()));
    o.Set("nodes", static_cast<double>(p.nodes.size()));
    o.Set("dtype", w->f32_ ? "float32" : "float64");
    return o;
  }

  static Napi::Value Dispose(const Napi::CallbackInfo& info) {
    ArgGuard guard;
    NetworkWrap* w = self(info);
    guard.verify(info.Env(), "Network.dispose");
    // The meta-batch workers (their networks and scratch) go too; they come back on the next call.
    w->mbf_.reset();
    w->mbd_.reset();
    if (w->f32_) w->f_->releaseBuffers();
    else w->d_->releaseBuffers();
    return info.Env().Undefined();
  }

  bool f32_ = false;
  std::unique_ptr<network::Network<float>> f_;
  std::unique_ptr<network::Network<double>> d_;
  std::unique_ptr<metabatch::MetaBatch<float>> mbf_;  // declared after f_/d_: destroyed first
  std::unique_ptr<metabatch::MetaBatch<double>> mbd_;
};

}  // namespace

void registerNetwork(Napi::Env env, Napi::Object exports) {
  exports.Set("Network", NetworkWrap::Define(env));
}

}  // namespace metatask::binding
