// Bindings of the linalg kernels: read and check every argument, then call the kernel in place.
#include "config.h"

#include <napi.h>

#include <algorithm>

#include "binding/args.h"
#include "binding/registry.h"
#include "kernels/linalg.h"

namespace metatask::binding {

namespace {

template <typename T>
void gemmTyped(const Napi::CallbackInfo& info, const ArgGuard& guard, const RawMatrix& ra, const RawMatrix& rb,
               const RawMatrix& rc, bool transA, bool transB, double alpha, double beta) {
  const char* fn = "gemm";
  MatMap<T> a = ra.as<T>();
  MatMap<T> b = rb.as<T>();
  const int64_t m = transA ? a.cols() : a.rows();
  const int64_t k = transA ? a.rows() : a.cols();
  const int64_t kb = transB ? b.cols() : b.rows();
  const int64_t n = transB ? b.rows() : b.cols();
  if (k != kb) {
    rangeError(info.Env(), fn, "inner dimensions differ: op(a) is " + std::to_string(m) + " x " + std::to_string(k) +
                                   ", op(b) is " + std::to_string(kb) + " x " + std::to_string(n));
  }
  MatMap<T> c = rc.as<T>(m, n);
  expectDisjoint(info.Env(), fn, c, "c", a, "a");
  expectDisjoint(info.Env(), fn, c, "c", b, "b");
  guard.verify(info.Env(), fn);
  CMatMap<T> ca(a.data(), a.rows(), a.cols());
  CMatMap<T> cb(b.data(), b.rows(), b.cols());
  linalg::gemm<T>(ca, transA, cb, transB, c, static_cast<T>(alpha), static_cast<T>(beta), threadsOf(info.Env()));
}

// gemm(a, b, c, transA, transB, alpha, beta): C = alpha op(A) op(B) + beta C; all three of one dtype.
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  const char* fn = "gemm";
  expectArgs(info, 7, fn);
  ArgGuard guard;
  const RawMatrix a = rawMatrixArg(info[0], fn, "a");
  const RawMatrix b = rawMatrixArg(info[1], fn, "b");
  const RawMatrix c = rawMatrixArg(info[2], fn, "c");
  const bool transA = boolArg(info[3], fn, "transA");
  const bool transB = boolArg(info[4], fn, "transB");
  const double alpha = numberArg(info[5], fn, "alpha");
  const double beta = numberArg(info[6], fn, "beta");
  if (a.isFloat32()) gemmTyped<float>(info, guard, a, b, c, transA, transB, alpha, beta);
  else gemmTyped<double>(info, guard, a, b, c, transA, transB, alpha, beta);
  return info.Env().Undefined();
}

// gram(x, out): out = X^T X.
Napi::Value Gram(const Napi::CallbackInfo& info) {
  const char* fn = "gram";
  expectArgs(info, 2, fn);
  ArgGuard guard;
  MatMap<double> x = matrixArg<double>(info[0], fn, "x");
  MatMap<double> out = matrixArg<double>(info[1], fn, "out", x.cols(), x.cols());
  expectDisjoint(info.Env(), fn, out, "out", x, "x");
  guard.verify(info.Env(), fn);
  CMatMap<double> cx(x.data(), x.rows(), x.cols());
  linalg::gram(cx, out, threadsOf(info.Env()));
  return info.Env().Undefined();
}

// transpose(a, out): out = a^T (out a.cols x a.rows).
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  const char* fn = "transpose";
  expectArgs(info, 2, fn);
  ArgGuard guard;
  MatMap<double> a = matrixArg<double>(info[0], fn, "a");
  MatMap<double> out = matrixArg<double>(info[1], fn, "out", a.cols(), a.rows());
  expectDisjoint(info.Env(), fn, out, "out", a, "a");
  guard.verify(info.Env(), fn);
  CMatMap<double> ca(a.data(), a.rows(), a.cols());
  linalg::transpose(ca, out);
  return info.Env().Undefined();
}

// gatherBlock(a, rows, cols, out): out[i, j] = a[rows[i], cols[j]], out len(rows) x len(cols).
Napi::Value GatherBlock(const Napi::CallbackInfo& info) {
  const char* fn = "gatherBlock";
  expectArgs(info, 4, fn);
  ArgGuard guard;
  MatMap<double> a = matrixArg<double>(info[0], fn, "a");
  // Copied (args.h rule 1): their checked entries decide which elements of a the kernel reads.
  const std::vector<int32_t> rows = indexArg(info[1], fn, "rows");
  const std::vector<int32_t> cols = indexArg(info[2], fn, "cols");
  MatMap<double> out = matrixArg<double>(info[3], fn, "out", int64_t(rows.size()), int64_t(cols.size()));
  expectIndices(info.Env(), fn, "rows", rows, a.rows());
  expectIndices(info.Env(), fn, "cols", cols, a.cols());
  expectDisjoint(info.Env(), fn, out, "out", a, "a");
  guard.verify(info.Env(), fn);
  CMatMap<double> ca(a.data(), a.rows(), a.cols());
  linalg::gatherBlock(ca, rows.data(), cols.data(), out);
  return info.Env().Undefined();
}

// setBlock(out, row, col, a): out[row + i, col + j] = a[i, j]; a must fit inside out there.
Napi::Value SetBlock(const Napi::CallbackInfo& info) {
  const char* fn = "setBlock";
  expectArgs(info, 4, fn);
  ArgGuard guard;
  MatMap<double> out = matrixArg<double>(info[0], fn, "out");
  const int64_t row = integerArg(info[1], fn, "row", 0, double(out.rows()));
  const int64_t col = integerArg(info[2], fn, "col", 0, double(out.cols()));
  MatMap<double> a = matrixArg<double>(info[3], fn, "a");
  if (a.rows() > out.rows() - row || a.cols() > out.cols() - col) {
    rangeError(info.Env(), fn, "a (" + std::to_string(a.rows()) + " x " + std::to_string(a.cols()) + ") does not fit in out (" +
                                   std::to_string(out.rows()) + " x " + std::to_string(out.cols()) + ") at (" + std::to_string(row) + ", " +
                                   std::to_string(col) + ")");
  }
  expectDisjoint(info.Env(), fn, out, "out", a, "a");
  guard.verify(info.Env(), fn);
  CMatMap<double> ca(a.data(), a.rows(), a.cols());
  linalg::setBlock(out, row, col, ca);
  return info.Env().Undefined();
}

template <typename T>
void gatherRowsTyped(const Napi::CallbackInfo& info, const ArgGuard& guard, const RawMatrix& ra, const std::vector<int32_t>& rows,
                     const RawMatrix& rout) {
  const char* fn = "gatherRows";
  MatMap<T> a = ra.as<T>();
  expectIndices(info.Env(), fn, "rows", rows, a.rows());
  MatMap<T> out = rout.as<T>(int64_t(rows.size()), a.cols());
  expectDisjoint(info.Env(), fn, out, "out", a, "a");
  guard.verify(info.Env(), fn);
  CMatMap<T> ca(a.data(), a.rows(), a.cols());
  linalg::gatherRows<T>(ca, rows.data(), out, threadsOf(info.Env()));
}

// gatherRows(a, rows, out): row r of out = row rows[r] of a; a and out of one dtype.
Napi::Value GatherRows(const Napi::CallbackInfo& info) {
  const char* fn = "gatherRows";
  expectArgs(info, 3, fn);
  ArgGuard guard;
  const RawMatrix a = rawMatrixArg(info[0], fn, "a");
  const std::vector<int32_t> rows = indexArg(info[1], fn, "rows");
  const RawMatrix out = rawMatrixArg(info[2], fn, "out");
  if (a.isFloat32()) gatherRowsTyped<float>(info, guard, a, rows, out);
  else gatherRowsTyped<double>(info, guard, a, rows, out);
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
  guard.verify(info.Env(), fn);
  CMatMap<double> ca(a.data(), a.rows(), a.cols());
  CMatMap<double> cb(b.data(), b.rows(), b.cols());
  linalg::choleskySolve(ca, cb, x);
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
  expectDisjoint(info.Env(), fn, values, "values", vectors, "vectors");
  guard.verify(info.Env(), fn);
  CMatMap<double> ca(a.data(), a.rows(), a.cols());
  linalg::symEig(ca, values, vectors);
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
  expectDisjoint(info.Env(), fn, u, "u", vt, "vt");
  expectDisjoint(info.Env(), fn, u, "u", s, "s");
  expectDisjoint(info.Env(), fn, s, "s", vt, "vt");
  guard.verify(info.Env(), fn);
  CMatMap<double> ca(a.data(), a.rows(), a.cols());
  linalg::svd(ca, u, s, vt);
  return info.Env().Undefined();
}

}  // namespace

void registerLinalg(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "gemm", Gemm);
  exportFunction(env, exports, "gram", Gram);
  exportFunction(env, exports, "transpose", Transpose);
  exportFunction(env, exports, "gatherRows", GatherRows);
  exportFunction(env, exports, "setBlock", SetBlock);
  exportFunction(env, exports, "gatherBlock", GatherBlock);
  exportFunction(env, exports, "choleskySolve", CholeskySolve);
  exportFunction(env, exports, "symEig", SymEig);
  exportFunction(env, exports, "svd", Svd);
}

}  // namespace metatask::binding
