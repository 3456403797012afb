// Memory for the kernels' large buffers (packing panels, per-thread scratch).
//
// Buffers of at least kHugeBytes are aligned to 2 MiB, and marked for transparent huge pages
// (madvise) when setHugePageAdvice(true) asked for it: then one fault per 2 MiB instead of one per
// 4 KiB page. Off by default. On a virtual machine that hands freed memory back to its host, a
// huge page is memory the host must back again, 512 pages at once (64 MiB written a byte per 4 KiB:
// 14-146 ms in huge pages, 26-36 ms in small ones, on the KVM guest we measure on), and where
// Linux defrags for advised memory (its default) a first write may also wait for compaction:
// first fits of the convex solvers ran slower with the advice and some took 10-30 ms more
// (2785 x 1312 x 2 cold 28.3 ms median with it, 25.9 ms without; 380 x 124 x 12 4.5 / 3.65 ms, two
// runs of eight at 15.3 ms), while warm fits, networks and meta-learning ran the same. Stalls like
// these are why servers turn huge pages off; where 4 KiB faults are the expensive ones (measured
// 10 us on hosts that page guests out), METATASK_HUGE_PAGES=on turns the advice on
// (lib/kernels/index.ts).
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

// Whether allocateBuffer marks its buffers for transparent huge pages from now on (process-wide;
// default false), and whether it does.
void setHugePageAdvice(bool on);
bool hugePageAdvice();

// The whole 2 MiB pages inside memory allocated elsewhere ([p, p + bytes): a JavaScript
// ArrayBuffer not yet written), marked for transparent huge pages (whatever setHugePageAdvice
// says: the caller asks for it): their offset from p and their length (0 when none fits). Advice
// only.
struct PageSpan {
  size_t offset;
  size_t bytes;
};
PageSpan adviseHugePages(void* p, size_t bytes);

// Faults in the pages holding [p, p + bytes) in one system call, as a first write to each would,
// their contents unchanged (Linux 5.14 on: madvise MADV_POPULATE_WRITE; nothing elsewhere, or
// where the call fails: the first writes then fault them in as before). For memory about to be
// written for the first time: where a fault is dear it costs about half as much in all (the
// virtual machine we measure on: a fault 9-11 us a 4 KiB page; the call 0.5-0.9 us a page and the
// first write after it 3.7-5.2 us); on pages already present the call costs 0.05-0.1 us a page.
// [p, p + bytes) must lie in memory the process allocated. Returns whether the system faulted them
// in (false: not Linux, a kernel before 5.14, or the call failed).
bool prefaultPages(void* p, size_t bytes);

// The kernels' new memory (scratch regions, temporaries), about to be written: prefaultPages,
// unless huge pages are advised (a first write then takes a whole 2 MiB page anyway).
void prefaultNewMemory(void* p, size_t bytes);

}  // namespace metatask::runtime
