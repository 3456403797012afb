// Instruction-set levels the kernels are compiled for, and what this CPU supports. Each level's
// kernels live in their own translation unit (simd/<level>.cc, compiled with that level's flags);
// everything else is compiled for the architecture's baseline. The level is chosen once, when the
// addon loads: the best one the CPU and the OS support, capped by METATASK_SIMD (simd/dispatch.cc).
#pragma once
#include "config.h"

namespace metatask::simd {

// kGeneric: plain C++ for architectures without a tuned level.
enum class Level : int { kSse2 = 0, kAvx2 = 1, kAvx512 = 2, kNeon = 3, kGeneric = 4, kCount = 5 };

// "sse2", "avx2", "avx512", "neon", "generic".
const char* levelName(Level level);
// The level named `name`, or false if no level has that name.
bool parseLevel(const char* name, Level* out);

// Whether this CPU and OS can run `level` (cpuid feature bits, and xgetbv for the register state
// the OS saves: YMM for avx2, ZMM and opmask for avx512). Levels of another architecture: false.
bool cpuSupports(Level level);
// Whether this binary holds kernels for `level` (the architecture's levels, minus any a compiler
// could not build).
bool compiledIn(Level level);

}  // namespace metatask::simd
