// Arrays for one kernel call's temporaries, their memory reused by the thread's later calls.
//
// A kernel that allocates a buffer on every call (a std::vector of its k x T coefficients, say)
// gets it from malloc, which maps a large one afresh and, once freed, gives the pages back to the
// system (or trims them off the heap's top): every call then faults its pages in again. Where
// freed pages go back to the host (virtual machines with free-page reporting, as the small cloud
// machines we measure on) a fault costs about 10 us, so a solve whose Anderson iterates held
// eleven copies of 2,839 x 46 coefficients paid 3 ms in faults per call, a fifth of a cold fit.
// A TempArray takes its memory from the thread's pool of arrays that earlier calls gave back, the
// smallest one large enough, and gives it back when it goes out of scope; new memory comes from
// allocateBuffer (runtime/memory.h: 2 MiB pages from 1 MiB on). The pool keeps at most
// kPoolBytes and kPoolCount arrays per thread, dropping the ones given back longest ago.
// runtime/scratch.h serves the kernels' fixed temporaries instead (one slot each, valid until the
// slot's next use, small ones sharing huge pages); a TempArray lives as long as its scope, so a
// solver may hold a dozen of them while it calls kernels that use their slots.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

namespace metatask::runtime {

// Most bytes a thread's pool keeps between calls.
constexpr size_t kPoolBytes = size_t(64) << 20;
// Most arrays a thread's pool keeps (a request looks through them all).
constexpr size_t kPoolCount = 32;

// Memory of at least `bytes` bytes, 64-byte aligned, from the calling thread's pool or new; its
// capacity (at least `bytes`) in *capacity. Throws std::bad_alloc.
void* takeTemporary(size_t bytes, size_t* capacity);
// Gives memory taken by takeTemporary on this thread back to its pool (p may be null).
void giveTemporary(void* p, size_t capacity);
// The bytes the calling thread's pool holds now (for tests).
size_t pooledBytes();

// Whether a new TempArray's elements are zeroed (as a std::vector's are) or left as the pool's
// last user left them, for arrays the caller overwrites before reading.
enum class Fill { kZeroed, kUninitialised };

template <typename T>
class TempArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>, "TempArray holds plain values");

 public:
  TempArray() = default;
  explicit TempArray(size_t n, Fill fill = Fill::kZeroed) { reset(n, fill); }
  TempArray(const TempArray&) = delete;
  TempArray& operator=(const TempArray&) = delete;
  TempArray(TempArray&& o) noexcept { swap(o); }
  TempArray& operator=(TempArray&& o) noexcept {
    TempArray(std::move(o)).swap(*this);
    return *this;
  }
  ~TempArray() { giveTemporary(data_, capacity_); }

  // n elements in place of the present ones (whose memory goes back to the pool first).
  void reset(size_t n, Fill fill = Fill::kZeroed) {
    giveTemporary(data_, capacity_);
    data_ = nullptr;
    capacity_ = 0;
    size_ = 0;
    if (n == 0) return;
    data_ = static_cast<T*>(takeTemporary(n * sizeof(T), &capacity_));
    size_ = n;
    if (fill == Fill::kZeroed) std::memset(static_cast<void*>(data_), 0, n * sizeof(T));
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

 private:
  void swap(TempArray& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(capacity_, o.capacity_);
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;  // bytes
};

// n elements (n >= 0) that the caller writes before it reads them.
template <typename T>
TempArray<T> uninitialisedArray(int64_t n) {
  return TempArray<T>(static_cast<size_t>(n), Fill::kUninitialised);
}

}  // namespace metatask::runtime
