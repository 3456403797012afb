// Argument reading and checking for every binding function. A wrong call from JavaScript,
// whatever it is, must end in a thrown TypeError/RangeError that names the argument, never in a
// crash (better-sqlite3's model). The rules every binding function follows:
//
// 1. Read each argument once. Reading a matrix's `rows`, `cols` or `data`, an options object's
//    fields or an array's elements may run JavaScript (getters, Proxies) that detaches or resizes
//    a typed array read earlier, or rewrites its contents. So:
//    - typed arrays the kernel reads or writes in place are recorded by the ArgGuard declared
//      first; verify(), called after the last argument is read and before the kernel runs,
//      re-reads each one's data pointer and length without running JavaScript and refuses the
//      call if any changed;
//    - index arrays (orders, offsets, masks of indices), whose contents decide which memory a
//      kernel touches, are copied into native memory as they are read (indexArg, byteArg) and
//      checked on the copy: neither a later getter nor another thread writing through a
//      SharedArrayBuffer can change what was checked.
// 2. Nothing is read from JavaScript after verify().
// 3. Every function is exported through exportFunction, which turns any C++ exception (a kernel's
//    KernelValueError, std::bad_alloc, anything else) into a JavaScript error: no exception can
//    reach Node-API and terminate the process.
#pragma once
#include "config.h"

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

#include "kernels/common.h"

namespace metatask::binding {

template <typename T>
struct ArrayKind;
template <>
struct ArrayKind<double> {
  static constexpr napi_typedarray_type type = napi_float64_array;
  static constexpr const char* name = "Float64Array";
};
template <>
struct ArrayKind<float> {
  static constexpr napi_typedarray_type type = napi_float32_array;
  static constexpr const char* name = "Float32Array";
};
template <>
struct ArrayKind<int32_t> {
  static constexpr napi_typedarray_type type = napi_int32_array;
  static constexpr const char* name = "Int32Array";
};
template <>
struct ArrayKind<uint8_t> {
  static constexpr napi_typedarray_type type = napi_uint8_array;
  static constexpr const char* name = "Uint8Array";
};

[[noreturn]] inline void typeError(Napi::Env env, const std::string& fn, const std::string& msg) {
  throw Napi::TypeError::New(env, fn + ": " + msg);
}
[[noreturn]] inline void rangeError(Napi::Env env, const std::string& fn, const std::string& msg) {
  throw Napi::RangeError::New(env, fn + ": " + msg);
}

inline void expectArgs(const Napi::CallbackInfo& info, size_t n, const char* fn) {
  if (info.Length() != n) {
    typeError(info.Env(), fn, "expected " + std::to_string(n) + " arguments, got " + std::to_string(info.Length()));
  }
}

// Records the typed arrays read during one call and checks, before the kernel runs, that none was
// detached or resized since (rule 1 above). The first kInline records need no allocation.
class ArgGuard {
 public:
  ArgGuard() : prev_(current_) { current_ = this; }
  ~ArgGuard() { current_ = prev_; }
  ArgGuard(const ArgGuard&) = delete;
  ArgGuard& operator=(const ArgGuard&) = delete;

  static void record(napi_value arr, const void* data, size_t length) {
    if (current_ == nullptr) return;
    if (current_->count_ < kInline) current_->inline_[current_->count_++] = {arr, data, length};
    else current_->more_.push_back({arr, data, length});
  }

  void verify(Napi::Env env, const char* fn) const {
    for (size_t i = 0; i < count_; ++i) check(env, fn, inline_[i]);
    for (const Item& it : more_) check(env, fn, it);
  }

 private:
  struct Item {
    napi_value arr;
    const void* data;
    size_t length;
  };
  static void check(Napi::Env env, const char* fn, const Item& it) {
    size_t length = 0;
    void* data = nullptr;
    // No type asked for: an object's element type never changes, and finding it is a chain of
    // type tests, a third of this call's cost.
    const napi_status st = napi_get_typedarray_info(env, it.arr, nullptr, &length, &data, nullptr, nullptr);
    if (st != napi_ok || length != it.length || (length > 0 && data != it.data)) {
      throw Napi::RangeError::New(env, std::string(fn) +
                                           ": a typed array argument was detached or resized while the arguments "
                                           "were read (by a getter or Proxy)");
    }
  }
  static constexpr size_t kInline = 16;
  Item inline_[kInline];
  size_t count_ = 0;
  std::vector<Item> more_;
  ArgGuard* prev_;
  static inline thread_local ArgGuard* current_ = nullptr;
};

// A typed array argument: its elements, read by one napi_get_typedarray_info call (which refuses
// anything that is not a typed array without running JavaScript).
template <typename T>
struct TypedArg {
  napi_value value;
  T* data;
  size_t length;
};

template <typename T>
TypedArg<T> typedArrayOf(const Napi::Value& v, const char* fn, const std::string& name) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (v.IsEmpty() || napi_get_typedarray_info(v.Env(), v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != ArrayKind<T>::type) {
    typeError(v.Env(), fn, "argument '" + name + "' must be a " + ArrayKind<T>::name);
  }
  return {v, static_cast<T*>(data), length};
}

// Whether v is a Float32Array (one napi_get_typedarray_info call).
inline bool isFloat32Array(const Napi::Value& v) {
  napi_typedarray_type type;
  return !v.IsEmpty() && napi_get_typedarray_info(v.Env(), v, &type, nullptr, nullptr, nullptr, nullptr) == napi_ok &&
         type == napi_float32_array;
}

// Every one of the n values finite and >= 0 (squared norms: a negative or NaN one would make a
// coordinate update meaningless, a division by it plus l2Reg).
inline void expectFiniteNonNegative(Napi::Env env, const char* fn, const std::string& name, const double* v, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    if (!(v[j] >= 0) || !std::isfinite(v[j])) {
      rangeError(env, fn, "argument '" + name + "' must hold finite values >= 0 (index " + std::to_string(j) + ")");
    }
  }
}

// Every one of the n values finite.
inline void expectFinite(Napi::Env env, const char* fn, const std::string& name, const double* v, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    if (!std::isfinite(v[j])) rangeError(env, fn, "argument '" + name + "' must hold finite values (index " + std::to_string(j) + ")");
  }
}

inline void expectLength(Napi::Env env, const char* fn, const std::string& name, int64_t len, int64_t expected) {
  if (expected >= 0 && len != expected) {
    rangeError(env, fn, "argument '" + name + "' has " + std::to_string(len) + " elements, expected " + std::to_string(expected));
  }
}

// A typed array of element type T, used in place (recorded by the guard); `expected` >= 0 checks
// its length.
template <typename T>
VecMap<T> vectorArg(const Napi::Value& v, const char* fn, const std::string& name, int64_t expected = -1) {
  const TypedArg<T> arr = typedArrayOf<T>(v, fn, name);
  const int64_t len = static_cast<int64_t>(arr.length);
  expectLength(v.Env(), fn, name, len, expected);
  ArgGuard::record(arr.value, arr.data, arr.length);
  return VecMap<T>(len == 0 ? nullptr : arr.data, len);
}

// The contents of an Int32Array (or of a Uint8Array, byteArg), copied into native memory (rule 1).
inline std::vector<int32_t> indexArg(const Napi::Value& v, const char* fn, const std::string& name, int64_t expected = -1) {
  const TypedArg<int32_t> arr = typedArrayOf<int32_t>(v, fn, name);
  expectLength(v.Env(), fn, name, static_cast<int64_t>(arr.length), expected);
  return std::vector<int32_t>(arr.data, arr.data + arr.length);
}
inline std::vector<uint8_t> byteArg(const Napi::Value& v, const char* fn, const std::string& name, int64_t expected = -1) {
  const TypedArg<uint8_t> arr = typedArrayOf<uint8_t>(v, fn, name);
  expectLength(v.Env(), fn, name, static_cast<int64_t>(arr.length), expected);
  return std::vector<uint8_t>(arr.data, arr.data + arr.length);
}

// Every entry of `idx` in [0, bound).
inline void expectIndices(Napi::Env env, const char* fn, const char* name, const std::vector<int32_t>& idx, int64_t bound) {
  for (size_t o = 0; o < idx.size(); ++o) {
    if (idx[o] < 0 || idx[o] >= bound) {
      rangeError(env, fn, std::string("argument '") + name + "' entry " + std::to_string(o) + " is " + std::to_string(idx[o]) +
                              ", expected an index in [0, " + std::to_string(bound) + ")");
    }
  }
}

inline int64_t countProp(const Napi::Object& o, const char* prop, const char* fn, const std::string& name) {
  Napi::Value v = o.Get(prop);
  if (!v.IsNumber()) typeError(o.Env(), fn, "argument '" + name + "." + prop + "' must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != std::floor(d) || d > 2147483647.0) {
    rangeError(o.Env(), fn, "argument '" + name + "." + prop + "' must be a non-negative integer");
  }
  return static_cast<int64_t>(d);
}

// A matrix object { rows, cols, data }, each field read once, whatever the element type of data.
struct RawMatrix {
  int64_t rows = 0, cols = 0;
  Napi::Value data;
  const char* fn = "";
  std::string name;

  bool isFloat32() const { return isFloat32Array(data); }

  // The data as a T matrix of rows x cols (recorded by the guard); `rows`/`cols` >= 0 check the shape.
  template <typename T>
  MatMap<T> as(int64_t wantRows = -1, int64_t wantCols = -1) const {
    Napi::Env env = data.Env();
    if ((wantRows >= 0 && rows != wantRows) || (wantCols >= 0 && cols != wantCols)) {
      rangeError(env, fn, "argument '" + name + "' is " + std::to_string(rows) + " x " + std::to_string(cols) + ", expected " +
                              (wantRows >= 0 ? std::to_string(wantRows) : "any") + " x " +
                              (wantCols >= 0 ? std::to_string(wantCols) : "any"));
    }
    VecMap<T> d = vectorArg<T>(data, fn, name + ".data", rows * cols);
    return MatMap<T>(d.data(), rows, cols);
  }
};

inline RawMatrix rawMatrixArg(const Napi::Value& v, const char* fn, const std::string& name) {
  if (!v.IsObject() || v.IsTypedArray() || v.IsArray()) {
    typeError(v.Env(), fn, "argument '" + name + "' must be a matrix object { rows, cols, data }");
  }
  Napi::Object o = v.As<Napi::Object>();
  RawMatrix m;
  m.fn = fn;
  m.name = name;
  m.rows = countProp(o, "rows", fn, name);
  m.cols = countProp(o, "cols", fn, name);
  m.data = o.Get("data");
  return m;
}

// A matrix object whose data is a typed array of T with rows * cols elements.
template <typename T>
MatMap<T> matrixArg(const Napi::Value& v, const char* fn, const std::string& name, int64_t rows = -1, int64_t cols = -1) {
  return rawMatrixArg(v, fn, name).as<T>(rows, cols);
}

inline double numberArg(const Napi::Value& v, const char* fn, const std::string& name) {
  if (!v.IsNumber()) typeError(v.Env(), fn, "argument '" + name + "' must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) rangeError(v.Env(), fn, "argument '" + name + "' must be finite");
  return d;
}

inline double nonNegativeArg(const Napi::Value& v, const char* fn, const std::string& name) {
  const double d = numberArg(v, fn, name);
  if (d < 0) rangeError(v.Env(), fn, "argument '" + name + "' must be >= 0");
  return d;
}

// An integer in [lo, hi].
inline int64_t integerArg(const Napi::Value& v, const char* fn, const std::string& name, double lo, double hi) {
  const double d = numberArg(v, fn, name);
  if (d < lo || d > hi || d != std::floor(d)) {
    rangeError(v.Env(), fn, "argument '" + name + "' must be an integer in [" + std::to_string(int64_t(lo)) + ", " +
                                std::to_string(int64_t(hi)) + "]");
  }
  return static_cast<int64_t>(d);
}

inline bool boolArg(const Napi::Value& v, const char* fn, const std::string& name) {
  if (!v.IsBoolean()) typeError(v.Env(), fn, "argument '" + name + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

inline std::string stringArg(const Napi::Value& v, const char* fn, const std::string& name) {
  if (!v.IsString()) typeError(v.Env(), fn, "argument '" + name + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// Two buffers whose bytes overlap (an output aliasing an input) are refused.
template <typename A, typename B>
void expectDisjoint(Napi::Env env, const char* fn, const A& a, const char* an, const B& b, const char* bn) {
  const auto* a0 = reinterpret_cast<const char*>(a.data());
  const auto* a1 = a0 + a.size() * sizeof(typename A::Scalar);
  const auto* b0 = reinterpret_cast<const char*>(b.data());
  const auto* b1 = b0 + b.size() * sizeof(typename B::Scalar);
  if (a.size() > 0 && b.size() > 0 && a0 < b1 && b0 < a1) {
    rangeError(env, fn, std::string("arguments '") + an + "' and '" + bn + "' must not share memory");
  }
}

// An output that shares memory with none of the inputs that follow it (buffer, name pairs),
// checked in the order given.
template <typename A>
void expectDisjointFrom(Napi::Env, const char*, const A&, const char*) {}
template <typename A, typename B, typename... Rest>
void expectDisjointFrom(Napi::Env env, const char* fn, const A& out, const char* outName, const B& b, const char* bn, const Rest&... rest) {
  expectDisjoint(env, fn, out, outName, b, bn);
  expectDisjointFrom(env, fn, out, outName, rest...);
}

// Rule 3: the one place where C++ exceptions become JavaScript errors. Messages of kernel value
// errors start with "ERR_VALUE:", of allocation failures with "ERR_OUT_OF_MEMORY:", of calls on a
// disposed object with "ERR_DISPOSED:"; the TypeScript adapter maps them to its error classes.
struct DisposedError {
  std::string what;  // the object, e.g. "Network"
};

template <typename F>
Napi::Value guardedCall(const char* fn, const Napi::CallbackInfo& info, F&& f) {
  Napi::Env env = info.Env();
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const KernelValueError& e) {
    throw Napi::Error::New(env, std::string("ERR_VALUE:") + fn + ": " + e.message);
  } catch (const DisposedError& e) {
    throw Napi::Error::New(env, std::string("ERR_DISPOSED:") + fn + ": this " + e.what + " was disposed");
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, std::string("ERR_OUT_OF_MEMORY:") + fn + ": out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string(fn) + ": internal error: " + e.what());
  } catch (...) {
    throw Napi::Error::New(env, std::string(fn) + ": internal error");
  }
}

using Callback = Napi::Value (*)(const Napi::CallbackInfo&);

// target[name] = f behind guardedCall.
inline void exportFunction(Napi::Env env, Napi::Object target, const char* name, Callback f) {
  target.Set(name, Napi::Function::New(
                       env, [name, f](const Napi::CallbackInfo& info) { return guardedCall(name, info, [&] { return f(info); }); },
                       name));
}

}  // namespace metatask::binding
