// The generic level's kernels: simd/ops_impl.h compiled with the baseline of an architecture without a tuned level.
// Only constant data leaves this unit (see simd/ops_impl.h).
#include "simd/ops.h"

#if !(defined(__x86_64__) || defined(_M_X64) || defined(__aarch64__) || defined(_M_ARM64))
#if !(1)
#error "simd/generic.cc must be compiled with the generic flags (the baseline of an architecture without a tuned level)"
#endif
#include "simd/ops_impl.h"
METATASK_DEFINE_OPS(kOpsGenericTable, Level::kGeneric)
namespace metatask::simd {
const Ops* const kOpsGeneric = &kOpsGenericTable;
}
#else
namespace metatask::simd {
const Ops* const kOpsGeneric = nullptr;
}
#endif
