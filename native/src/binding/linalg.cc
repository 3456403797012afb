// Bindings of the linalg kernels: check every argument, then call the kernel in place.
#include "config.h"

#include <napi.h>

#include "binding/args.h"
#include "binding/registry.h"
#include "kernels/linalg.h"

namespace metatask::binding {

namespace {

template <typename T>
void gemmTyped(const Napi::CallbackInfo& info, const ArgGuard& guard) {
  const char* fn = "gemm";
  const bool transA = boolArg(info[3], fn, "transA");
  const bool transB = boolArg(info[4], fn, "transB");
  const double alpha = numberArg(info[5], fn, "alpha");
  const double beta = numberArg(info[6], fn, "beta");
  MatMap<T> a = matrixArg<T>(info[0], fn, "a");
  MatMap<T> b = matrixArg<T>(info[1], fn, "b");
  const int64_t m = transA ? a.cols() : a.rows();
  const int64_t k = transA ? a.rows() : a.cols();
  const int64_t kb = transB ? b.cols() : b.rows();
  const int64_t n = transB ? b.rows() : b.cols();
  if (k != kb) {
    rangeError(info.Env(), fn, "inner dimensions differ: op(a) is " + std::to_string(m) + " x " + std::to_string(k) +
                                   ", op(b) is " + std::to_string(kb) + " x " + std::to_string(n));
  }
  MatMap<T> c = matrixArg<T>(info[2], fn, "c", m, n);
  expectDisjoint(info.Env(), fn, c, "c", a, "a");
  expectDisjoint(info.Env(), fn, c, "c", b, "b");
  CMatMap<T> ca(a.data(), a.rows(), a.cols());
  CMatMap<T> cb(b.data(), b.rows(), b.cols());
  guard.verify(info.Env(), fn);
  linalg::gemm<T>(ca, transA, cb, transB, c, static_cast<T>(alpha), static_cast<T>(beta));
}

// gemm(a, b, c, transA, transB, alpha, beta): C = alpha op(A) op(B) + beta C.
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  expectArgs(info, 7, "gemm");
  ArgGuard guard;
  Napi::Value data = info[0].IsObject() ? info[0].As<Napi::Object>().Get("data") : info.Env().Undefined();
  if (data.IsTypedArray() && data.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
    gemmTyped<float>(info, guard);
  } else {
    gemmTyped<double>(info, guard);
  }
  return info.Env().Undefined();
}

// gram(x, out): out = X^T X.
Napi::Value Gram(const Napi::CallbackInfo& info) {
  expectArgs(info, 2, "gram");
  ArgGuard guard;
  MatMap<double> x = matrixArg<double>(info[0], "gram", "x");
  MatMap<double> out = matrixArg<double>(info[1], "gram", "out", x.cols(), x.cols());
  expectDisjoint(info.Env(), "gram", out, "out", x, "x");
  CMatMap<double> cx(x.data(), x.rows(), x.cols());
  guard.verify(info.Env(), "gram");
  linalg::gram(cx, out);
  return info.Env().Undefined();
}

// transpose(a, out): out = a^T (out a.cols x a.rows).
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  expectArgs(info, 2, "transpose");
  ArgGuard guard;
  MatMap<double> a = matrixArg<double>(info[0], "transpose", "a");
  MatMap<double> out = matrixArg<double>(info[1], "transpose", "out", a.cols(), a.rows());
  expectDisjoint(info.Env(), "transpose", out, "out", a, "a");
  CMatMap<double> ca(a.data(), a.rows(), a.cols());
  guard.verify(info.Env(), "transpose");
  linalg::transpose(ca, out);
  return info.Env().Undefined();
}

// choleskySolve(a, b, x): solves A X = B into x.
Napi::Value CholeskySolve(const Napi::CallbackInfo& info) {
  const char* fn = "choleskySolve";
  expectArgs(info, 3, fn);
  ArgGuard guard;
  MatMap<double> a = matrixArg<double>(info[0], fn, "a");
  if (a.rows() != a.cols()) rangeError(info.Env(), fn, "argument 'a' must be square");
  MatMap<double> b = matrixArg<double>(info[1], fn, "b", a.rows());
  MatMap<double> x = matrixArg<double>(info[2], fn, "x", a.rows(), b.cols());
  expectDisjoint(info.Env(), fn, x, "x", a, "a");
  expectDisjoint(info.Env(), fn, x, "x", b, "b");
  CMatMap<double> ca(a.data(), a.rows(), a.cols());
  CMatMap<double> cb(b.data(), b.rows(), b.cols());
  guard.verify(info.Env(), fn);
  runKernel(info.Env(), fn, [&] { linalg::choleskySolve(ca, cb, x); });
  return info.Env().Undefined();
}

// symEig(a, values, vectors).
Napi::Value SymEig(const Napi::CallbackInfo& info) {
  const char* fn = "symEig";
  expectArgs(info, 3, fn);
  ArgGuard guard;
  MatMap<double> a = matrixArg<double>(info[0], fn, "a");
  if (a.rows() != a.cols()) rangeError(info.Env(), fn, "argument 'a' must be square");
  VecMap<double> values = vectorArg<double>(info[1], fn, "values", a.rows());
  MatMap<double> vectors = matrixArg<double>(info[2], fn, "vectors", a.rows(), a.rows());
  expectDisjoint(info.Env(), fn, vectors, "vectors", a, "a");
  expectDisjoint(info.Env(), fn, values, "values", a, "a");
  CMatMap<double> ca(a.data(), a.rows(), a.cols());
  guard.verify(info.Env(), fn);
  runKernel(info.Env(), fn, [&] { linalg::symEig(ca, values, vectors); });
  return info.Env().Undefined();
}

// svd(a, u, s, vt): thin SVD into caller-allocated outputs.
Napi::Value Svd(const Napi::CallbackInfo& info) {
  const char* fn = "svd";
  expectArgs(info, 4, fn);
  ArgGuard guard;
  MatMap<double> a = matrixArg<double>(info[0], fn, "a");
  const int64_t k = std::min(a.rows(), a.cols());
  MatMap<double> u = matrixArg<double>(info[1], fn, "u", a.rows(), k);
  VecMap<double> s = vectorArg<double>(info[2], fn, "s", k);
  MatMap<double> vt = matrixArg<double>(info[3], fn, "vt", k, a.cols());
  expectDisjoint(info.Env(), fn, u, "u", a, "a");
  expectDisjoint(info.Env(), fn, vt, "vt", a, "a");
  expectDisjoint(info.Env(), fn, s, "s", a, "a");
  CMatMap<double> ca(a.data(), a.rows(), a.cols());
  guard.verify(info.Env(), fn);
  runKernel(info.Env(), fn, [&] { linalg::svd(ca, u, s, vt); });
  return info.Env().Undefined();
}

}  // namespace

void registerLinalg(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
  exports.Set("gram", Napi::Function::New(env, Gram, "gram"));
  exports.Set("transpose", Napi::Function::New(env, Transpose, "transpose"));
  exports.Set("choleskySolve", Napi::Function::New(env, CholeskySolve, "choleskySolve"));
  exports.Set("symEig", Napi::Function::New(env, SymEig, "symEig"));
  exports.Set("svd", Napi::Function::New(env, Svd, "svd"));
}

}  // namespace metatask::binding
