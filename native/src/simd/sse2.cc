// The sse2 level's kernels: simd/ops_impl.h compiled with the x86-64 baseline, SSE2.
// Only constant data leaves this unit (see simd/ops_impl.h).
#include "simd/ops.h"

#if defined(__x86_64__) || defined(_M_X64)
#if !(defined(__SSE2__) || defined(_M_X64))
#error "simd/sse2.cc must be compiled with the sse2 flags (the x86-64 baseline, SSE2)"
#endif
#include "simd/ops_impl.h"
METATASK_DEFINE_OPS(kOpsSse2Table, Level::kSse2)
namespace metatask::simd {
const Ops* const kOpsSse2 = &kOpsSse2Table;
}
#else
namespace metatask::simd {
const Ops* const kOpsSse2 = nullptr;
}
#endif
