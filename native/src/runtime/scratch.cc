// The per-thread buffers of scratch.h.
#include "runtime/scratch.h"

#include <memory>

#include "runtime/memory.h"

namespace metatask::runtime {

namespace {
struct FreeDeleter {
  void operator()(void* p) const { freeBuffer(p); }
};

struct Buffers {
  std::unique_ptr<void, FreeDeleter> data[static_cast<int>(Scratch::kCount)];
  size_t bytes[static_cast<int>(Scratch::kCount)] = {};
};
}  // namespace

void* scratchBytes(Scratch slot, size_t bytes) {
  thread_local Buffers b;
  const int s = static_cast<int>(slot);
  if (b.bytes[s] < bytes) {
    b.data[s].reset();  // freed before the larger one is taken
    b.bytes[s] = 0;
    b.data[s].reset(allocateBuffer(bytes));
    b.bytes[s] = bytes;
  }
  return b.data[s].get();
}

}  // namespace metatask::runtime
