// CPU feature detection for simd/level.h, compiled for the baseline. x86-64: cpuid leaf 1 (FMA,
// OSXSAVE, AVX), leaf 7 (AVX2 and AVX-512 F, DQ, CD, BW, VL) and xgetbv (XCR0: the OS saves SSE/AVX
// state, bits 1-2, and the AVX-512 opmask and ZMM state, bits 5-7), as in Intel's SDM section
// 15.2-15.4. The avx512 level asks for F, CD, BW, DQ and VL, not F alone: MSVC's /arch:AVX512
// compiles its unit for all five (GCC's flags use F), and every AVX-512 CPU but the Xeon Phi has
// them, so no build of the unit meets a CPU that lacks an instruction it may contain.
// arm64: NEON (Advanced SIMD) is part of the baseline.
#include <cstring>

#include "simd/level.h"

#if defined(__x86_64__) || defined(_M_X64)
#define METATASK_X86 1
#if defined(_MSC_VER)
#include <immintrin.h>
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

namespace metatask::simd {

namespace {

#if defined(METATASK_X86)
struct Regs {
  unsigned a, b, c, d;
};

Regs cpuid(unsigned leaf, unsigned sub) {
  Regs r{0, 0, 0, 0};
#if defined(_MSC_VER)
  int v[4];
  __cpuidex(v, int(leaf), int(sub));
  r = {unsigned(v[0]), unsigned(v[1]), unsigned(v[2]), unsigned(v[3])};
#else
  if (leaf > __get_cpuid_max(leaf & 0x80000000u, nullptr)) return r;
  __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
#endif
  return r;
}

unsigned long long xcr0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
#endif
}

struct X86Features {
  bool avx2 = false;
  bool avx512 = false;
};

X86Features detect() {
  X86Features f;
  const Regs l1 = cpuid(1, 0);
  const bool osxsave = l1.c & (1u << 27);
  const bool avx = l1.c & (1u << 28);
  const bool fma = l1.c & (1u << 12);
  if (!osxsave || !avx) return f;
  const unsigned long long xcr = xcr0();
  const bool ymmState = (xcr & 0x6) == 0x6;
  const bool zmmState = (xcr & 0xe6) == 0xe6;
  const Regs l7 = cpuid(7, 0);
  f.avx2 = ymmState && fma && (l7.b & (1u << 5));
  // EBX bits 16 F, 17 DQ, 28 CD, 30 BW, 31 VL.
  const unsigned avx512Bits = (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);
  f.avx512 = f.avx2 && zmmState && (l7.b & avx512Bits) == avx512Bits;
  return f;
}
#endif

const char* const kNames[] = {"sse2", "avx2", "avx512", "neon", "generic"};

}  // namespace

const char* levelName(Level level) { return kNames[static_cast<int>(level)]; }

bool parseLevel(const char* name, Level* out) {
  for (int i = 0; i < static_cast<int>(Level::kCount); i++) {
    if (std::strcmp(name, kNames[i]) == 0) {
      *out = static_cast<Level>(i);
      return true;
    }
  }
  return false;
}

bool cpuSupports(Level level) {
#if defined(METATASK_X86)
  static const X86Features f = detect();
  switch (level) {
    case Level::kSse2: return true;
    case Level::kAvx2: return f.avx2;
    case Level::kAvx512: return f.avx512;
    default: return false;
  }
#elif defined(__aarch64__) || defined(_M_ARM64)
  return level == Level::kNeon;
#else
  return level == Level::kGeneric;
#endif
}

}  // namespace metatask::simd
