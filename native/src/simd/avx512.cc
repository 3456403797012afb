// The avx512 level's kernels: simd/ops_impl.h compiled with -mavx512f -mavx2 -mfma (MSVC: /arch:AVX512).
// Only constant data leaves this unit (see simd/ops_impl.h).
#include "simd/ops.h"

#if defined(__x86_64__) || defined(_M_X64)
#if !(defined(__AVX512F__))
#error "simd/avx512.cc must be compiled with the avx512 flags (-mavx512f -mavx2 -mfma (MSVC: /arch:AVX512))"
#endif
#include "simd/ops_impl.h"
METATASK_DEFINE_OPS(kOpsAvx512Table, Level::kAvx512)
namespace metatask::simd {
const Ops* const kOpsAvx512 = &kOpsAvx512Table;
}
#else
namespace metatask::simd {
const Ops* const kOpsAvx512 = nullptr;
}
#endif
