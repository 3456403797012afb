// The avx2 level's kernels: simd/ops_impl.h compiled with -mavx2 -mfma (MSVC: /arch:AVX2).
// Only constant data leaves this unit (see simd/ops_impl.h).
#include "simd/ops.h"

#if defined(__x86_64__) || defined(_M_X64)
#if !(defined(__AVX2__) && (defined(__FMA__) || defined(_MSC_VER)) && !defined(__AVX512F__))
#error "simd/avx2.cc must be compiled with the avx2 flags (-mavx2 -mfma (MSVC: /arch:AVX2))"
#endif
#include "simd/ops_impl.h"
METATASK_DEFINE_OPS(kOpsAvx2Table, Level::kAvx2)
namespace metatask::simd {
const Ops* const kOpsAvx2 = &kOpsAvx2Table;
}
#else
namespace metatask::simd {
const Ops* const kOpsAvx2 = nullptr;
}
#endif
