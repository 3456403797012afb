// Per-thread buffers for kernels' temporaries (and the GEMM's packing panels), kept from one call
// to the next.
//
// A temporary above malloc's mapping threshold (128 KiB at first) that a kernel allocates and
// frees on every call is mapped and unmapped every time, and its pages are faulted in again on
// every call. Where freed pages go back to the host (virtual machines with free-page reporting,
// as on the small cloud machines we measure on) a fault costs about 10 us: a Gram panel of a few
// hundred KiB cost more in faults than the products that filled it. The buffers here are the
// thread's own (kernels run on the caller's thread or on pool workers, each with its own) and
// hold the largest size asked of them until the thread ends, carved from a per-thread arena of
// 2 MiB pages (runtime/memory.h; scratch.cc), so that a fault is paid once per page and thread.
#pragma once
#include <cstddef>

namespace metatask::runtime {

// The temporaries that may be alive together in one kernel call; a kernel that calls another
// uses slots the callee does not.
enum class Scratch : int {
  // The GEMM's packed panels (simd/gemm.cc): every kernel below may call a product.
  kGemmPackA,
  kGemmPackB,
  kPanelA,
  kPanelB,
  kSpanOut,
  kGatheredOut,
  kCentredColumns,
  kCentredOut,
  kResidualPanel,
  kCandidateResidual,
  kStartResidual,
  kColumnStats,
  kCount,
};

// At least `bytes` bytes, 64-byte aligned, uninitialised (whatever the last user left): the caller
// writes every element it reads. Valid until the next call with the same slot on this thread.
void* scratchBytes(Scratch slot, size_t bytes);

template <typename T>
T* scratchOf(Scratch slot, size_t n) {
  return static_cast<T*>(scratchBytes(slot, n * sizeof(T)));
}

inline double* scratchDoubles(Scratch slot, size_t n) { return scratchOf<double>(slot, n); }

// The bytes the calling thread's buffers hold (the arena's pages and the slots' own buffers).
size_t scratchHeldBytes();

}  // namespace metatask::runtime
