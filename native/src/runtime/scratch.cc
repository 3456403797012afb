// The per-thread buffers of scratch.h.
#include "runtime/scratch.h"

#include <algorithm>
#include <memory>

#include "runtime/memory.h"

namespace metatask::runtime {

namespace {
// A slot asked for more than this takes a whole huge page at once:
// its first use then costs one fault instead of one per 4 KiB, and a slot that grows with the
// working set (a panel of 256 rows by 50, then 100, then 200 columns) is not allocated and
// faulted again at every size. A thread then holds at most a few such pages, only for the slots
// its kernels use.
constexpr size_t kWholePageFrom = size_t(64) << 10;

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
    const size_t want = bytes > kWholePageFrom ? std::max(bytes, kHugePageBytes) : bytes;
    b.data[s].reset(allocateBuffer(want));
    b.bytes[s] = bufferCapacity(want);
  }
  return b.data[s].get();
}

}  // namespace metatask::runtime
