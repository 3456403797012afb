// The per-thread buffers of scratch.h.
#include "runtime/scratch.h"

#include <cstdlib>
#include <memory>
#include <new>

namespace metatask::runtime {

namespace {
struct FreeDeleter {
  void operator()(double* p) const { std::free(p); }
};

struct Buffers {
  std::unique_ptr<double, FreeDeleter> data[static_cast<int>(Scratch::kCount)];
  size_t size[static_cast<int>(Scratch::kCount)] = {};
};
}  // namespace

double* scratchDoubles(Scratch slot, size_t n) {
  thread_local Buffers b;
  const int s = static_cast<int>(slot);
  if (b.size[s] < n) {
    b.data[s].reset();
    b.size[s] = 0;
    const size_t bytes = (n * sizeof(double) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
    if (!p) throw std::bad_alloc();
    b.data[s].reset(static_cast<double*>(p));
    b.size[s] = n;
  }
  return b.data[s].get();
}

}  // namespace metatask::runtime
