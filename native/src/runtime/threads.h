// One process-wide pool of worker threads shared by every kernel (GEMM tiles, meta-batch tasks,
// convolution images). Kernels say how many threads a call may use; the pool never decides what
// a result is: work is split into tasks whose outputs are combined by the caller in task order,
// so a result does not depend on the thread count or on which thread ran which task.
#pragma once
#include "config.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>

namespace metatask::runtime {

// Runs body(task, slot) for every task in [0, count) on at most `threads` threads, the calling
// thread included, and returns when all have ended. `slot` (0 <= slot < min(threads, count))
// names the participating thread, for per-thread scratch; tasks are claimed dynamically, so which
// slot runs which task varies between calls. If tasks throw, every task still runs to its end and
// the exception of the lowest-numbered failing task is rethrown.
void parallelFor(int count, int threads, const std::function<void(int task, int slot)>& body);

// A parallelFor that starts now and is joined later: the pool's workers start on its tasks at once
// while the calling thread does other work; join() then runs the tasks still unclaimed on the
// calling thread (slot 0), waits for the rest and rethrows as parallelFor does. With one thread
// there are no workers and every task runs in join(). A section not joined is joined by the
// destructor (its errors dropped), so it never outlives the state its body reads.
class PendingFor {
 public:
  PendingFor(int count, int threads, std::function<void(int task, int slot)> body);
  ~PendingFor();
  PendingFor(const PendingFor&) = delete;
  PendingFor& operator=(const PendingFor&) = delete;
  void join();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs body(from, to) over [0, len) cut into consecutive chunks of `chunk` elements (the last may
// be shorter), on at most `threads` threads; one call when there is one chunk. For element-wise
// work, where which thread handles which chunk cannot change a result.
template <typename F>
void parallelRanges(int64_t len, int64_t chunk, int threads, const F& body) {
  const int64_t chunks = (len + chunk - 1) / chunk;
  if (chunks <= 1 || threads <= 1) {
    if (len > 0) body(int64_t(0), len);
    return;
  }
  parallelFor(static_cast<int>(chunks), threads, [&](int c, int) { body(c * chunk, c + 1 == chunks ? len : (c + 1) * chunk); });
}

// Runs body(from, to) over [0, len) cut into at most `threads` near-equal parts (multiples of 16
// elements, none under minPart), for element-wise work: the parts depend on the thread count,
// which cannot change an element-wise result, and every thread gets the same share (fixed chunks
// of 64 Ki left a 100 Ki vector split 64 : 36 over two threads).
template <typename F>
void parallelParts(int64_t len, int64_t minPart, int threads, const F& body) {
  const int64_t byMin = std::max<int64_t>(1, len / std::max<int64_t>(1, minPart));
  const int64_t parts = std::min<int64_t>(std::max(1, threads), byMin);
  const int64_t part = ((len + parts - 1) / parts + 15) / 16 * 16;
  parallelRanges(len, std::max<int64_t>(1, part), threads, body);
}

// The number of hardware threads (at least 1).
int hardwareThreads();

}  // namespace metatask::runtime
