// Memory for the kernels' large buffers (packing panels, per-thread scratch).
//
// Linux hands out anonymous memory a 4 KiB page at a time, each faulted in on its first write.
// On virtual machines that give freed pages back to the host, such a fault costs about 10 us:
// the first product of a process touched 2 MiB of packing buffer, 5 ms of faults. Buffers of at
// least kHugeBytes are aligned to 2 MiB and marked for transparent huge pages (madvise, where the
// system allows it): one fault per 2 MiB, measured 0.26 ms for 4 MiB against 10.4 ms.
#pragma once
#include <cstddef>

namespace metatask::runtime {

// A transparent huge page where base pages are 4 KiB (x86-64, most arm64 kernels).
constexpr size_t kHugePageBytes = size_t(2) << 20;

// From this size on a buffer is rounded up to whole huge pages: at most half of it unused.
constexpr size_t kHugeBytes = kHugePageBytes / 2;

// The bytes allocateBuffer(bytes) gives (all usable): `bytes` rounded up to whole 2 MiB pages
// from kHugeBytes on, to 64 bytes below.
size_t bufferCapacity(size_t bytes);

// At least `bytes` bytes (bufferCapacity(bytes)), 64-byte aligned; free with freeBuffer. Throws
// std::bad_alloc.
void* allocateBuffer(size_t bytes);
void freeBuffer(void* p);

// The whole 2 MiB pages inside memory allocated elsewhere ([p, p + bytes): a JavaScript
// ArrayBuffer not yet written), marked for transparent huge pages as allocateBuffer marks its
// own: their offset from p and their length (0 when none fits). Advice only.
struct PageSpan {
  size_t offset;
  size_t bytes;
};
PageSpan adviseHugePages(void* p, size_t bytes);

}  // namespace metatask::runtime
