// The per-thread buffers of scratch.h.
//
// Slots share a per-thread arena: each slot holds a region carved from it, a power of two of at
// least 4 KiB, and a slot asked for more takes a new region (its old one is left unused). The
// arena's first page is 256 KiB of ordinary memory, faulted in 4 KiB at a time as regions are
// written, so that the small products and kernels of a process's first calls (a working set of a
// few columns) clear only what they use; from then on its pages are of 2 MiB (allocateBuffer's),
// marked for transparent huge pages when those are on (memory.h). A huge page is faulted in whole
// on its first write; where the host must then back it (a process's first kernels on a virtual
// machine that gave the memory back) that cost up to 4.6 ms a page, so four slots of 100 KiB to
// 400 KiB, each with a page of its own as they had before, cost four such faults where one page
// now holds them all.
// Requests of half a huge page or more get a buffer of their own.
// The arena never hands a region out twice, so a slot's new memory has never been written: the
// bytes asked for are faulted in by one call before the kernel writes them (prefaultNewMemory).
#include "runtime/scratch.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "runtime/memory.h"

#if defined(__SANITIZE_ADDRESS__)
#define METATASK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define METATASK_ASAN 1
#endif
#endif
#ifdef METATASK_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace metatask::runtime {

namespace {

// Under AddressSanitizer a slot's memory past the bytes last asked for is poisoned: a kernel that
// writes more than it asked for (which the arena would let run into the next slot's region) is
// reported by the sanitizer tests instead of corrupting another temporary.
void* asked(void* data, size_t held, size_t bytes) {
#ifdef METATASK_ASAN
  ASAN_UNPOISON_MEMORY_REGION(data, bytes);
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(data) + bytes, held - bytes);
#else
  (void)held;
  (void)bytes;
#endif
  return data;
}

// From this size on a request gets a buffer of its own (whole huge pages).
constexpr size_t kOwnFrom = kHugePageBytes / 2;
// The smallest region of the arena: 64 cache lines.
constexpr size_t kMinRegion = size_t(4) << 10;
// The arena's first page (ordinary memory: allocateBuffer may mark huge pages from kHugeBytes on).
constexpr size_t kFirstPageBytes = size_t(256) << 10;
static_assert(kFirstPageBytes < kHugeBytes, "the arena's first page must be ordinary memory");

struct FreeDeleter {
  void operator()(void* p) const { freeBuffer(p); }
};
using Owned = std::unique_ptr<void, FreeDeleter>;

constexpr int kSlots = static_cast<int>(Scratch::kCount);

struct Buffers {
  void* data[kSlots] = {};
  size_t bytes[kSlots] = {};
  // A slot's own buffer (requests of kOwnFrom or more).
  Owned own[kSlots];
  // The arena's pages, kept until the thread ends, and the unused part of the last one.
  std::vector<Owned> pages;
  char* free = nullptr;
  size_t freeBytes = 0;
  size_t pageBytes = 0;  // the arena's pages together
};

Buffers& buffers() {
  thread_local Buffers b;
  return b;
}

// The smallest power of two of at least kMinRegion that holds `bytes` (< kOwnFrom): a slot that
// grows with a working set (a panel of 256 rows by 50, then 100, then 200 columns) takes a new
// region a few times at most.
size_t regionFor(size_t bytes) {
  size_t r = kMinRegion;
  while (r < bytes) r *= 2;
  return r;
}

}  // namespace

void* scratchBytes(Scratch slot, size_t bytes) {
  Buffers& b = buffers();
  const int s = static_cast<int>(slot);
  if (b.bytes[s] >= bytes) return asked(b.data[s], b.bytes[s], bytes);
  b.own[s].reset();  // freed before a larger one is taken
  b.data[s] = nullptr;
  b.bytes[s] = 0;
  if (bytes >= kOwnFrom) {
    const size_t want = std::max(bytes, kHugePageBytes);
    b.own[s].reset(allocateBuffer(want));
    b.data[s] = b.own[s].get();
    b.bytes[s] = bufferCapacity(want);
    prefaultNewMemory(b.data[s], bytes);
    return asked(b.data[s], b.bytes[s], bytes);
  }
  const size_t region = regionFor(bytes);
  if (region > b.freeBytes) {
    const size_t page = b.pages.empty() && region <= kFirstPageBytes ? kFirstPageBytes : kHugePageBytes;
    b.pages.emplace_back();  // may throw before the page is taken: nothing then refers to it
    b.pages.back().reset(allocateBuffer(page));
    b.free = static_cast<char*>(b.pages.back().get());
    b.freeBytes = bufferCapacity(page);
    b.pageBytes += b.freeBytes;
  }
  b.data[s] = b.free;
  b.bytes[s] = region;
  b.free += region;
  b.freeBytes -= region;
  prefaultNewMemory(b.data[s], bytes);
  return asked(b.data[s], region, bytes);
}

size_t scratchHeldBytes() {
  const Buffers& b = buffers();
  size_t held = b.pageBytes;
  for (int s = 0; s < kSlots; ++s)
    if (b.own[s]) held += b.bytes[s];
  return held;
}

}  // namespace metatask::runtime
