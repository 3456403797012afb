// The per-thread pools of temporaries.h.
#include "runtime/temporaries.h"

#include <deque>

#include "runtime/memory.h"

namespace metatask::runtime {

namespace {

struct Held {
  void* p;
  size_t capacity;
};

// The arrays given back and not yet taken again, the longest-held first.
struct Pool {
  std::deque<Held> held;
  size_t bytes = 0;
  ~Pool() {
    for (const Held& h : held) freeBuffer(h.p);
  }
};

Pool& pool() {
  thread_local Pool p;
  return p;
}

}  // namespace

void* takeTemporary(size_t bytes, size_t* capacity) {
  Pool& pl = pool();
  // The smallest array that holds the request (no larger than twice the capacity a new one would
  // have, so that a small request does not tie up a large array).
  const size_t fresh = bufferCapacity(bytes);
  size_t best = pl.held.size();
  for (size_t i = 0; i < pl.held.size(); ++i) {
    const size_t c = pl.held[i].capacity;
    if (c >= bytes && c <= 2 * fresh && (best == pl.held.size() || c < pl.held[best].capacity)) best = i;
  }
  if (best < pl.held.size()) {
    const Held h = pl.held[best];
    pl.held.erase(pl.held.begin() + static_cast<std::ptrdiff_t>(best));
    pl.bytes -= h.capacity;
    *capacity = h.capacity;
    return h.p;
  }
  void* p = allocateBuffer(bytes);
  *capacity = fresh;
  // New memory: mostly pages never written (malloc maps large blocks afresh), about to be.
  prefaultNewMemory(p, bytes);
  return p;
}

void giveTemporary(void* p, size_t capacity) {
  if (p == nullptr) return;
  Pool& pl = pool();
  if (capacity > kPoolBytes) {
    freeBuffer(p);
    return;
  }
  while (!pl.held.empty() && (pl.bytes + capacity > kPoolBytes || pl.held.size() >= kPoolCount)) {
    freeBuffer(pl.held.front().p);
    pl.bytes -= pl.held.front().capacity;
    pl.held.pop_front();
  }
  // std::deque::push_back may throw: then the memory is freed instead of kept.
  try {
    pl.held.push_back({p, capacity});
  } catch (...) {
    freeBuffer(p);
    return;
  }
  pl.bytes += capacity;
}

size_t pooledBytes() { return pool().bytes; }

}  // namespace metatask::runtime
