// The table of per-level kernels. Every level's translation unit (simd/<level>.cc) fills one Ops
// from the same source (simd/ops_impl.h) compiled with its own flags; simd/dispatch.cc picks the
// table at load. Callers use ops() and never see the level.
//
// Every function here is deterministic in the sense of the reproducibility contract: its result
// depends on the values of its inputs only (never on buffer addresses, alignment or how a caller
// splits the work among threads), and differs between levels only by rounding (vector widths and
// fused multiply-add change the order and rounding of sums).
#pragma once
#include "config.h"

#include <cstddef>
#include <cstdint>

#include "simd/level.h"

namespace metatask::simd {

// C[0:m, 0:n] += alpha op(A) op(B) for row-major operands with leading dimensions lda, ldb, ldc,
// op(A) m x k, op(B) k x n. Each element's sum runs over k in blocks of kGemmKc from k = 0, each
// block summed in order from zero and added to C as C + alpha * block, so the result of one
// element does not depend on m, n or where the rectangle sits in a larger product.
template <typename T>
struct GemmCall {
  int64_t m, n, k;
  T alpha;
  const T* a;
  int64_t lda;
  bool transA;
  const T* b;
  int64_t ldb;
  bool transB;
  T* c;
  int64_t ldc;
};

constexpr int64_t kGemmKc = 256;

// Scratch sizes (elements, per calling thread) that gemm needs for packing at a level.
struct GemmScratch {
  int64_t packA;
  int64_t packB;
};

struct Ops {
  Level level;
  // Serial GEMM accumulation (see GemmCall); packA/packB: scratch of gemmScratch() elements,
  // 64-byte aligned. The threaded driver is simd/gemm.h.
  void (*sgemm)(const GemmCall<float>& call, float* packA, float* packB);
  void (*dgemm)(const GemmCall<double>& call, double* packA, double* packB);
  GemmScratch (*sgemmScratch)();
  GemmScratch (*dgemmScratch)();
  // The column strip widths the serial GEMM prefers (its register tile): a threaded driver splits
  // C into strips of multiples of these so that no strip ends mid-tile.
  int sgemmNr, dgemmNr, sgemmMr, dgemmMr;
  // sum_i x[i] y[i], in a fixed order for a given n (lanes of fixed width, then a fixed tree).
  double (*ddot)(const double* x, const double* y, int64_t n);
  // y += a x.
  void (*daxpy)(double a, const double* x, double* y, int64_t n);
};

// The active table (selected at load; see setLevel).
const Ops& ops();
// The level in use.
Level activeLevel();
// The best level the CPU supports and this binary holds.
Level bestLevel();
// Use `level` from now on. Returns false (and changes nothing) if the CPU cannot run it or the
// binary lacks it. Meant to be called once, at load, before any kernel runs.
bool setLevel(Level level);

// Each level's table, or null where the level does not exist for this architecture; defined as
// constant data in simd/<level>.cc. Only simd/dispatch.cc reads them.
extern const Ops* const kOpsSse2;
extern const Ops* const kOpsAvx2;
extern const Ops* const kOpsAvx512;
extern const Ops* const kOpsNeon;
extern const Ops* const kOpsGeneric;

}  // namespace metatask::simd
