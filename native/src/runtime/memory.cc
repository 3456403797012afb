// The large-buffer allocation of memory.h.
#include "runtime/memory.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace metatask::runtime {

namespace {
std::atomic<bool> adviseHuge{false};
}  // namespace

void setHugePageAdvice(bool on) { adviseHuge.store(on, std::memory_order_relaxed); }
bool hugePageAdvice() { return adviseHuge.load(std::memory_order_relaxed); }

size_t bufferCapacity(size_t bytes) {
  const size_t size = bytes == 0 ? 64 : bytes;
  return size >= kHugeBytes ? (size + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes : (size + 63) / 64 * 64;
}

void* allocateBuffer(size_t bytes) {
  const size_t size = bufferCapacity(bytes);
  void* p = nullptr;
  if (size >= kHugeBytes) {
    p = std::aligned_alloc(kHugePageBytes, size);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // Advice only: where the system has huge pages off (or the call fails) the buffer is ordinary memory.
    if (p && hugePageAdvice()) madvise(p, size, MADV_HUGEPAGE);
#endif
  } else {
    p = std::aligned_alloc(64, size);
  }
  if (!p) throw std::bad_alloc();
  return p;
}

void freeBuffer(void* p) { std::free(p); }

PageSpan adviseHugePages(void* p, size_t bytes) {
  const auto at = reinterpret_cast<uintptr_t>(p);
  const uintptr_t from = (at + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  const uintptr_t to = (at + bytes) / kHugePageBytes * kHugePageBytes;
  if (to <= from) return {0, 0};
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  madvise(reinterpret_cast<void*>(from), to - from, MADV_HUGEPAGE);
#endif
  return {from - at, to - from};
}

bool prefaultPages(void* p, size_t bytes) {
#if defined(__linux__)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux's value, for C libraries older than the kernel call
#endif
  if (bytes == 0) return true;
  static const uintptr_t kPage = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto at = reinterpret_cast<uintptr_t>(p);
  const uintptr_t from = at / kPage * kPage;
  const uintptr_t to = (at + bytes + kPage - 1) / kPage * kPage;
  return madvise(reinterpret_cast<void*>(from), to - from, MADV_POPULATE_WRITE) == 0;
#else
  (void)p;
  (void)bytes;
  return false;
#endif
}

void prefaultNewMemory(void* p, size_t bytes) {
  if (!hugePageAdvice()) prefaultPages(p, bytes);
}

}  // namespace metatask::runtime
