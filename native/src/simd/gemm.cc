// The threaded driver of simd/gemm.h: applies beta, splits C into strips (columns when C is wide,
// rows when it is tall) whose edges fall on the level's register tiles, and runs the level's
// serial GEMM on each strip with per-thread packing buffers. Every element of C is computed by one
// strip with the order fixed by the level (simd/ops.h), so the split never changes a result.
#include "simd/gemm.h"

#include <algorithm>

#include "runtime/scratch.h"
#include "runtime/threads.h"
#include "simd/ops.h"

namespace metatask::simd {

namespace {

// Below this many multiply-adds a product runs on one thread: waking a worker costs more.
constexpr int64_t kParallelMinWork = int64_t(1) << 18;

template <typename T>
void serial(const Ops& o, const GemmCall<T>& call);

template <>
void serial<float>(const Ops& o, const GemmCall<float>& call) {
  const GemmScratch s = o.sgemmScratch(call);
  o.sgemm(call, runtime::scratchOf<float>(runtime::Scratch::kGemmPackA, size_t(s.packA)), runtime::scratchOf<float>(runtime::Scratch::kGemmPackB, size_t(s.packB)));
}

template <>
void serial<double>(const Ops& o, const GemmCall<double>& call) {
  const GemmScratch s = o.dgemmScratch(call);
  o.dgemm(call, runtime::scratchOf<double>(runtime::Scratch::kGemmPackA, size_t(s.packA)), runtime::scratchOf<double>(runtime::Scratch::kGemmPackB, size_t(s.packB)));
}

template <typename T>
int tileRows(const Ops& o);
template <>
int tileRows<float>(const Ops& o) { return o.sgemmMr; }
template <>
int tileRows<double>(const Ops& o) { return o.dgemmMr; }
template <typename T>
int tileCols(const Ops& o);
template <>
int tileCols<float>(const Ops& o) { return o.sgemmNr; }
template <>
int tileCols<double>(const Ops& o) { return o.dgemmNr; }

// C[r0:r1, c0:c1] *= beta (set to zero when beta is 0).
template <typename T>
void scaleBlock(T* c, int64_t ldc, int64_t r0, int64_t r1, int64_t c0, int64_t c1, T beta) {
  if (beta == T(1)) return;
  for (int64_t i = r0; i < r1; i++) {
    T* row = c + i * ldc;
    if (beta == T(0)) std::fill(row + c0, row + c1, T(0));
    else
      for (int64_t j = c0; j < c1; j++) row[j] *= beta;
  }
}

}  // namespace

template <typename T>
void gemm(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, bool transA, const T* b, int64_t ldb,
          bool transB, T beta, T* c, int64_t ldc, int threads) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == T(0)) {
    scaleBlock(c, ldc, 0, m, 0, n, beta);
    return;
  }
  const Ops& o = ops();
  const GemmCall<T> whole{m, n, k, alpha, a, lda, transA, b, ldb, transB, c, ldc};
  const bool byCols = n >= m;
  const int64_t unit = byCols ? tileCols<T>(o) : tileRows<T>(o);
  const int64_t extent = byCols ? n : m;
  const int64_t units = (extent + unit - 1) / unit;
  int strips = int(std::min<int64_t>(std::max(1, threads), units));
  if (m * n * k < kParallelMinWork) strips = 1;
  if (strips <= 1) {
    scaleBlock(c, ldc, 0, m, 0, n, beta);
    serial<T>(o, whole);
    return;
  }
  runtime::parallelFor(strips, strips, [&](int s, int) {
    // Strip s covers units [s units / strips, (s + 1) units / strips).
    const int64_t from = (units * s / strips) * unit;
    const int64_t to = std::min(extent, (units * (s + 1) / strips) * unit);
    if (from >= to) return;
    GemmCall<T> part = whole;
    // Each strip applies beta to its own part of C: zeroing all of C on the calling thread left
    // the other strips' lines in that thread's cache, for their threads to take back (256 x 256 x 64
    // products took 70 us on two threads, 50 on one).
    if (byCols) {
      part.n = to - from;
      part.b = transB ? b + from * ldb : b + from;
      part.c = c + from;
      scaleBlock(c, ldc, 0, m, from, to, beta);
    } else {
      part.m = to - from;
      part.a = transA ? a + from : a + from * lda;
      part.c = c + from * ldc;
      scaleBlock(c, ldc, from, to, 0, n, beta);
    }
    serial<T>(o, part);
  });
}

template void gemm<float>(int64_t, int64_t, int64_t, float, const float*, int64_t, bool, const float*, int64_t, bool,
                          float, float*, int64_t, int);
template void gemm<double>(int64_t, int64_t, int64_t, double, const double*, int64_t, bool, const double*, int64_t,
                           bool, double, double*, int64_t, int);

}  // namespace metatask::simd
