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
#include <type_traits>

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
  // Columns of each row of op(B) that may be read (n, or more where the caller padded the rows):
  // the direct path then computes its last columns in full-width tiles and drops the padding's lanes.
  int64_t bCols = 0;
};

constexpr int64_t kGemmKc = 256;

// Scratch sizes (elements, per calling thread) that a serial GEMM call packs into at a level.
struct GemmScratch {
  int64_t packA;
  int64_t packB;
};

// Optimiser coefficients of one step, computed once by kernels/optim.cc (see its formulas).
struct AdamCoeffs {
  double beta1, beta2, eps, stepSize, bc2Sqrt, decay, l2;
};
struct SgdCoeffs {
  double lr, momentum, dampening, weightDecay;
  bool nesterov, first;
};
struct RmspropCoeffs {
  double lr, alpha, eps, momentum, weightDecay;
};

// Per-element operations and exact row-order sums: no reassociation and no fused rounding, so
// these give the same bits at every level (only the products and ddot differ between levels).
template <typename T>
struct ElementOps {
  // y = max(x, 0) elementwise (NaN -> 0).
  void (*relu)(const T* x, T* y, int64_t n);
  // gx += (x > 0 ? gy : 0).
  void (*reluBackward)(const T* x, const T* gy, T* gx, int64_t n);
  // y = (x > 0 ? v : 0): v through ReLU's derivative at x.
  void (*reluGate)(const T* x, const T* v, T* y, int64_t n);
  // out[j] += sum over rows r, in order, of g[r ld + j], for j < cols.
  void (*addColumnSums)(T* out, const T* g, int64_t rows, int64_t cols, int64_t ld);
  // out[j] += sum over rows r, in order, of (g[r ld + j] - centre[j])^2, for j < cols.
  void (*addSquaredDeviations)(T* out, const T* g, int64_t rows, int64_t cols, int64_t ld, const T* centre);
  void (*adam)(T* params, const T* grad, T* m, T* v, int64_t n, const AdamCoeffs& c);
  void (*sgd)(T* params, const T* grad, T* velocity, int64_t n, const SgdCoeffs& c);
  void (*rmsprop)(T* params, const T* grad, T* squareAvg, T* momentumBuf, int64_t n, const RmspropCoeffs& c);
  // The sums of batch normalisation's moments over n values: s1[l] += d and s2[l] += d d for each
  // p < n, lane l = p mod 8, d = x[p] - shift in double (every operation rounded alone).
  void (*bnMoments)(const T* x, int64_t n, double shift, double* s1, double* s2);
  // One h x w plane of a batchnorm -> ReLU -> 2 x 2 max-pool (stride 2) chain: t = max(x a + c, 0)
  // (x a rounded, then + c; NaN -> 0), y = each window's largest t, the first in row-major order
  // on a tie, argmax its position (0..3), xmax the x there; (h / 2) x (w / 2) outputs.
  void (*bnReluMaxPool2x2)(const T* x, int64_t h, int64_t w, T a, T c, T* y, uint8_t* argmax, T* xmax);
  // Its backward pass on the plane: g = x B + C (g = the old g + (x B + C) unless `assign`) at every
  // position, then + d A at each window's recorded position, d = gy (y > 0 ? 1 : 0).
  void (*bnReluMaxPool2x2Backward)(const T* x, int64_t h, int64_t w, const T* y, const T* gy, const uint8_t* argmax, T A,
                                   T B, T C, T* g, bool assign);
  // The mean of `count` vectors in double: out[j] = (0 + v_0[j] + v_1[j] + ... + v_{count-1}[j]) /
  // count for j < n, v_r = rows[r] + from (each value converted exactly, the sum in that order).
  void (*meanOfRows)(double* out, const T* const* rows, int64_t count, int64_t from, int64_t n);
  // A plain gradient step: y[j] = x[j] - a g[j] in double (x and g converted exactly, the product
  // and the difference each rounded), then rounded to T; where mask is given and mask[j] == 0,
  // y[j] = x[j]. y may be x.
  void (*gradientStep)(const T* x, const T* g, double a, const uint8_t* mask, T* y, int64_t n);
};

struct Ops {
  Level level;
  // Serial GEMM accumulation (see GemmCall); packA/packB: scratch of at least the elements that
  // gemmScratch(call) gives for the same call, 64-byte aligned. The threaded driver is simd/gemm.h.
  void (*sgemm)(const GemmCall<float>& call, float* packA, float* packB);
  void (*dgemm)(const GemmCall<double>& call, double* packA, double* packB);
  GemmScratch (*sgemmScratch)(const GemmCall<float>& call);
  GemmScratch (*dgemmScratch)(const GemmCall<double>& call);
  // The column strip widths the serial GEMM prefers (its register tile): a threaded driver splits
  // C into strips of multiples of these so that no strip ends mid-tile.
  int sgemmNr, dgemmNr, sgemmMr, dgemmMr;
  // The largest output (m n elements) the serial GEMM computes by its direct path, without packing.
  int64_t gemmDirectMaxOutput;
  // sum_i x[i] y[i], in a fixed order for a given n (lanes of fixed width, then a fixed tree).
  double (*ddot)(const double* x, const double* y, int64_t n);
  // y += a x.
  void (*daxpy)(double a, const double* x, double* y, int64_t n);
  // Row r of y (m rows, leading dimension ldy) += sum_b a[b m + r] x_b over the nb sources in
  // order b, skipping zero coefficients: each element gets the multiply-adds daxpy would
  // give it, one per source in the same order (so the same bits as nb m daxpys), in one pass over y.
  void (*daxpyRows)(const double* a, int64_t nb, const double* const* x, double* y, int64_t m, int64_t ldy, int64_t n);
  // For the m rows y_r of y (leading dimension ldy): y_r += sum_c a[c m + r] x_c over the nx <= 4
  // sources in order c (rows whose coefficients are all zero left unchanged), then
  // out[b m + r] = y_r . z_b of the updated row for the nz <= 4 targets, in one pass over y: a
  // coordinate-descent step's residual update fused with the next step's dot products (one feature
  // each in the plain sweep, a block of features in the blocked one). Rows are taken several at a
  // time (sources and targets loaded once for them); each element's multiply-adds run in source
  // order, and each dot product in lanes of the vector width, then the lanes in order, then the
  // tail in order.
  void (*daxpyDotsRows)(const double* a, int64_t nx, const double* const* x, double* y, int64_t ldy, const double* const* z, int64_t nz,
                        double* out, int64_t m, int64_t n);
  ElementOps<float> f32;
  ElementOps<double> f64;
};

// The active table (selected at load; see setLevel).
const Ops& ops();
// Its element operations for T (float or double).
template <typename T>
const ElementOps<T>& elementOps() {
  if constexpr (std::is_same_v<T, float>) return ops().f32;
  else return ops().f64;
}
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
