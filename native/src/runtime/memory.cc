// The large-buffer allocation of memory.h.
#include "runtime/memory.h"

#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace metatask::runtime {

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
}  // namespace

void* allocateBuffer(size_t bytes) {
  const size_t size = bytes == 0 ? 64 : bytes;
  void* p = nullptr;
  if (size >= kHugeBytes) {
    const size_t rounded = (size + kHugePage - 1) / kHugePage * kHugePage;
    p = std::aligned_alloc(kHugePage, rounded);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // Advice only: where huge pages are off (or the call fails) the buffer is ordinary memory.
    if (p) madvise(p, rounded, MADV_HUGEPAGE);
#endif
  } else {
    p = std::aligned_alloc(64, (size + 63) / 64 * 64);
  }
  if (!p) throw std::bad_alloc();
  return p;
}

void freeBuffer(void* p) { std::free(p); }

}  // namespace metatask::runtime
