// The per-thread buffers of scratch.h.
#include "runtime/scratch.h"

#include <memory>

#include "runtime/memory.h"

namespace metatask::runtime {

namespace {
struct FreeDeleter {
  void operator()(double* p) const { freeBuffer(p); }
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
    b.data[s].reset(static_cast<double*>(allocateBuffer(n * sizeof(double))));
    b.size[s] = n;
  }
  return b.data[s].get();
}

}  // namespace metatask::runtime
