// Chooses the level's table once: the best level that this binary holds and the CPU runs
// (simdjson's runtime dispatch). setLevel lets the loader cap it (METATASK_SIMD).
#include <atomic>

#include "simd/ops.h"

namespace metatask::simd {

namespace {

const Ops* tableOf(Level level) {
  switch (level) {
    case Level::kSse2: return kOpsSse2;
    case Level::kAvx2: return kOpsAvx2;
    case Level::kAvx512: return kOpsAvx512;
    case Level::kNeon: return kOpsNeon;
    case Level::kGeneric: return kOpsGeneric;
    default: return nullptr;
  }
}

const Level kPreference[] = {Level::kAvx512, Level::kAvx2, Level::kSse2, Level::kNeon, Level::kGeneric};

Level pickBest() {
  for (Level l : kPreference)
    if (compiledIn(l) && cpuSupports(l)) return l;
  return Level::kGeneric;  // unreachable: every architecture compiles its baseline level
}

std::atomic<const Ops*> gActive{nullptr};

}  // namespace

bool compiledIn(Level level) { return tableOf(level) != nullptr; }

Level bestLevel() {
  static const Level best = pickBest();
  return best;
}

const Ops& ops() {
  const Ops* p = gActive.load(std::memory_order_acquire);
  if (!p) {
    p = tableOf(bestLevel());
    gActive.store(p, std::memory_order_release);
  }
  return *p;
}

Level activeLevel() { return ops().level; }

bool setLevel(Level level) {
  if (!compiledIn(level) || !cpuSupports(level)) return false;
  gActive.store(tableOf(level), std::memory_order_release);
  return true;
}

}  // namespace metatask::simd
