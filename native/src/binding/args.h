// Argument checks and conversions for every binding function. A wrong call from JavaScript,
// whatever it is, must end in a thrown TypeError/RangeError that names the argument, never in a
// crash (NATIVE.md, better-sqlite3's model).
#pragma once
#include "config.h"

#include <napi.h>

#include <cmath>
#include <cstdint>
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

// Reading a matrix's `rows`, `cols` or `data` (or an args object's fields) may run JavaScript
// (getters, Proxies) that detaches or shrinks a typed array read earlier in the same call, leaving
// its map pointing at freed memory. Every binding function therefore declares an ArgGuard first:
// each typed array read while it lives is recorded, and verify() (called after the last argument
// is read, right before the kernel) re-reads each one's data pointer and length without running
// JavaScript and refuses the call if any changed.
class ArgGuard {
 public:
  ArgGuard() : prev_(current_) { current_ = this; }
  ~ArgGuard() { current_ = prev_; }
  ArgGuard(const ArgGuard&) = delete;
  ArgGuard& operator=(const ArgGuard&) = delete;

  static void record(const Napi::TypedArray& arr, const void* data, size_t length) {
    if (current_) current_->items_.push_back({arr, data, length});
  }

  void verify(Napi::Env env, const char* fn) const {
    for (const Item& it : items_) {
      napi_typedarray_type type;
      size_t length = 0;
      void* data = nullptr;
      napi_value buffer;
      size_t offset = 0;
      const napi_status st = napi_get_typedarray_info(env, it.arr, &type, &length, &data, &buffer, &offset);
      if (st != napi_ok || length != it.length || (length > 0 && data != it.data)) {
        throw Napi::RangeError::New(env, std::string(fn) +
                                             ": a typed array argument was detached or resized while the arguments "
                                             "were read (by a getter or Proxy)");
      }
    }
  }

 private:
  struct Item {
    Napi::TypedArray arr;
    const void* data;
    size_t length;
  };
  std::vector<Item> items_;
  ArgGuard* prev_;
  static inline thread_local ArgGuard* current_ = nullptr;
};

// A typed array of element type T; `expected` >= 0 checks its length.
template <typename T>
VecMap<T> vectorArg(const Napi::Value& v, const char* fn, const char* name, int64_t expected = -1) {
  Napi::Env env = v.Env();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != ArrayKind<T>::type) {
    typeError(env, fn, std::string("argument '") + name + "' must be a " + ArrayKind<T>::name);
  }
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  const int64_t len = static_cast<int64_t>(arr.ElementLength());
  if (expected >= 0 && len != expected) {
    rangeError(env, fn, std::string("argument '") + name + "' has " + std::to_string(len) + " elements, expected " +
                            std::to_string(expected));
  }
  ArgGuard::record(arr, arr.Data(), arr.ElementLength());
  return VecMap<T>(len == 0 ? nullptr : arr.Data(), len);
}

inline int64_t countProp(const Napi::Object& o, const char* prop, const char* fn, const char* name) {
  Napi::Value v = o.Get(prop);
  if (!v.IsNumber()) typeError(o.Env(), fn, std::string("argument '") + name + "." + prop + "' must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != std::floor(d) || d > 2147483647.0) {
    rangeError(o.Env(), fn, std::string("argument '") + name + "." + prop + "' must be a non-negative integer");
  }
  return static_cast<int64_t>(d);
}

// A matrix object { rows, cols, data } whose data is a typed array of T with rows * cols elements.
template <typename T>
MatMap<T> matrixArg(const Napi::Value& v, const char* fn, const char* name, int64_t rows = -1, int64_t cols = -1) {
  Napi::Env env = v.Env();
  if (!v.IsObject() || v.IsTypedArray() || v.IsArray()) {
    typeError(env, fn, std::string("argument '") + name + "' must be a matrix object { rows, cols, data }");
  }
  Napi::Object o = v.As<Napi::Object>();
  const int64_t r = countProp(o, "rows", fn, name);
  const int64_t c = countProp(o, "cols", fn, name);
  if ((rows >= 0 && r != rows) || (cols >= 0 && c != cols)) {
    rangeError(env, fn, std::string("argument '") + name + "' is " + std::to_string(r) + " x " + std::to_string(c) +
                            ", expected " + (rows >= 0 ? std::to_string(rows) : "any") + " x " +
                            (cols >= 0 ? std::to_string(cols) : "any"));
  }
  VecMap<T> data = vectorArg<T>(o.Get("data"), fn, (std::string(name) + ".data").c_str(), r * c);
  return MatMap<T>(data.data(), r, c);
}

inline double numberArg(const Napi::Value& v, const char* fn, const char* name) {
  if (!v.IsNumber()) typeError(v.Env(), fn, std::string("argument '") + name + "' must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) rangeError(v.Env(), fn, std::string("argument '") + name + "' must be finite");
  return d;
}

inline double nonNegativeArg(const Napi::Value& v, const char* fn, const char* name) {
  const double d = numberArg(v, fn, name);
  if (d < 0) rangeError(v.Env(), fn, std::string("argument '") + name + "' must be >= 0");
  return d;
}

inline bool boolArg(const Napi::Value& v, const char* fn, const char* name) {
  if (!v.IsBoolean()) typeError(v.Env(), fn, std::string("argument '") + name + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

inline std::string stringArg(const Napi::Value& v, const char* fn, const char* name) {
  if (!v.IsString()) typeError(v.Env(), fn, std::string("argument '") + name + "' must be a string");
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

// Runs a kernel, turning its KernelValueError into a JS Error the TS adapter maps to ValueError.
template <typename F>
void runKernel(Napi::Env env, const char* fn, F&& f) {
  try {
    f();
  } catch (const KernelValueError& e) {
    throw Napi::Error::New(env, std::string("ERR_VALUE:") + fn + ": " + e.message);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, std::string(fn) + ": out of memory");
  }
}

}  // namespace metatask::binding
