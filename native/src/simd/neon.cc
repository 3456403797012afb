// The neon level's kernels: simd/ops_impl.h compiled with the arm64 baseline, NEON.
// Only constant data leaves this unit (see simd/ops_impl.h).
#include "simd/ops.h"

#if defined(__aarch64__) || defined(_M_ARM64)
#if !(defined(__ARM_NEON) || defined(_M_ARM64))
#error "simd/neon.cc must be compiled with the neon flags (the arm64 baseline, NEON)"
#endif
#include "simd/ops_impl.h"
METATASK_DEFINE_OPS(kOpsNeonTable, Level::kNeon)
namespace metatask::simd {
const Ops* const kOpsNeon = &kOpsNeonTable;
}
#else
namespace metatask::simd {
const Ops* const kOpsNeon = nullptr;
}
#endif
