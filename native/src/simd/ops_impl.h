// The per-level kernels of simd/ops.h, written once over simd/vec.h and compiled once per level
// (simd/<level>.cc includes this file after choosing its flags). Everything here has internal
// linkage (an anonymous namespace) and uses no standard-library templates, so the linker can
// never hand one level's out-of-line code to another level, and a unit compiled for AVX2 holds no
// code that runs before the dispatcher has checked the CPU. Only the table object
// (METATASK_DEFINE_OPS) is visible outside the unit, and it is constant data.
//
// GEMM follows the structure of Goto & van de Geijn, "Anatomy of high-performance matrix
// multiplication" (ACM TOMS 2008) and BLIS (Van Zee & van de Geijn, 2015): B packed in panels of
// kGemmKc x NC as slivers NR columns wide, A packed in blocks of MC x kGemmKc as slivers MR rows
// tall, an MR x NR register-tile micro-kernel. Reproducibility: every element of C is summed over
// k in the same order on every path (the packed path, the small-product path and edge tiles): per
// block of kGemmKc, from zero, one multiply-add per k in increasing k; then C <- C + alpha * block.
#pragma once

#include <cstdint>

#include "simd/ops.h"
#include "simd/vec.h"

namespace metatask::simd {
namespace {

template <typename T>
struct Tile;

#if defined(METATASK_VEC_AVX512)
template <> struct Tile<float> { static constexpr int kMr = 12, kNr = 32; };
template <> struct Tile<double> { static constexpr int kMr = 12, kNr = 16; };
#elif defined(METATASK_VEC_AVX2)
template <> struct Tile<float> { static constexpr int kMr = 6, kNr = 16; };
template <> struct Tile<double> { static constexpr int kMr = 6, kNr = 8; };
#elif defined(METATASK_VEC_SSE2)
template <> struct Tile<float> { static constexpr int kMr = 4, kNr = 8; };
template <> struct Tile<double> { static constexpr int kMr = 4, kNr = 4; };
#elif defined(METATASK_VEC_NEON)
template <> struct Tile<float> { static constexpr int kMr = 8, kNr = 8; };
template <> struct Tile<double> { static constexpr int kMr = 8, kNr = 4; };
#else
template <> struct Tile<float> { static constexpr int kMr = 4, kNr = 4; };
template <> struct Tile<double> { static constexpr int kMr = 4, kNr = 4; };
#endif

constexpr int64_t kKc = kGemmKc;

template <typename T>
struct Blocking {
  static constexpr int64_t kMc = int64_t(Tile<T>::kMr) * 16;
  static constexpr int64_t kNc = int64_t(Tile<T>::kNr) * (1024 / Tile<T>::kNr);
};

inline int64_t minOf(int64_t a, int64_t b) { return a < b ? a : b; }

// op(A)[i, p] and op(B)[p, j].
template <typename T>
inline T elemA(const GemmCall<T>& g, int64_t i, int64_t p) {
  return g.transA ? g.a[p * g.lda + i] : g.a[i * g.lda + p];
}
template <typename T>
inline T elemB(const GemmCall<T>& g, int64_t p, int64_t j) {
  return g.transB ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
}

// B[pc:pc+kc, jc:jc+nc] into slivers of NR columns: sliver s holds, for p = 0..kc-1, the NR values
// of row p (zero past column n).
template <typename T>
void packPanelB(const GemmCall<T>& g, int64_t pc, int64_t kc, int64_t jc, int64_t nc, T* out) {
  constexpr int NR = Tile<T>::kNr;
  for (int64_t js = 0; js < nc; js += NR) {
    const int64_t w = minOf(NR, nc - js);
    T* dst = out + js * kc;
    if (!g.transB && w == NR) {
      using VT = VecOf<T>;
      for (int64_t p = 0; p < kc; p++) {
        const T* src = g.b + (pc + p) * g.ldb + jc + js;
        for (int v = 0; v < NR; v += VT::kWidth) VT::store(dst + p * NR + v, VT::load(src + v));
      }
    } else {
      for (int64_t p = 0; p < kc; p++) {
        for (int64_t j = 0; j < w; j++) dst[p * NR + j] = elemB(g, pc + p, jc + js + j);
        for (int64_t j = w; j < NR; j++) dst[p * NR + j] = T(0);
      }
    }
  }
}

// A[ic:ic+mc, pc:pc+kc] into slivers of MR rows: sliver s holds, for p = 0..kc-1, the MR values of
// column p (zero past row m).
template <typename T>
void packBlockA(const GemmCall<T>& g, int64_t ic, int64_t mc, int64_t pc, int64_t kc, T* out) {
  constexpr int MR = Tile<T>::kMr;
  for (int64_t is = 0; is < mc; is += MR) {
    const int64_t h = minOf(MR, mc - is);
    T* dst = out + is * kc;
    if (g.transA) {
      for (int64_t p = 0; p < kc; p++) {
        const T* src = g.a + (pc + p) * g.lda + ic + is;
        for (int64_t i = 0; i < h; i++) dst[p * MR + i] = src[i];
        for (int64_t i = h; i < MR; i++) dst[p * MR + i] = T(0);
      }
    } else {
      for (int64_t i = 0; i < h; i++) {
        const T* src = g.a + (ic + is + i) * g.lda + pc;
        for (int64_t p = 0; p < kc; p++) dst[p * MR + i] = src[p];
      }
      for (int64_t i = h; i < MR; i++)
        for (int64_t p = 0; p < kc; p++) dst[p * MR + i] = T(0);
    }
  }
}

// The register tile: acc = sum_p pa[:, p] pb[p, :] over kc, then C[0:h, 0:w] += alpha acc.
template <typename T>
void microKernel(int64_t kc, const T* pa, const T* pb, T* c, int64_t ldc, int64_t h, int64_t w, T alpha) {
  using VT = VecOf<T>;
  using V = typename VT::V;
  constexpr int MR = Tile<T>::kMr;
  constexpr int NR = Tile<T>::kNr;
  constexpr int NV = NR / VT::kWidth;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[i][v] = VT::zero();
  for (int64_t p = 0; p < kc; p++) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) b[v] = VT::load(pb + p * NR + v * VT::kWidth);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      const V a = VT::set1(pa[p * MR + i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) acc[i][v] = VT::madd(a, b[v], acc[i][v]);
    }
  }
  const V va = VT::set1(alpha);
  if (h == MR && w == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) {
        T* dst = c + i * ldc + v * VT::kWidth;
        VT::store(dst, VT::add(VT::load(dst), VT::mul(va, acc[i][v])));
      }
    return;
  }
  alignas(64) T tile[MR * NR];
  for (int i = 0; i < MR; i++)
    for (int v = 0; v < NV; v++) VT::store(tile + i * NR + v * VT::kWidth, acc[i][v]);
  for (int64_t i = 0; i < h; i++)
    for (int64_t j = 0; j < w; j++) c[i * ldc + j] = c[i * ldc + j] + alpha * tile[i * NR + j];
}

// Small products (and any product too small to repay packing): the same arithmetic per element,
// read straight from A and B. Rows of op(B) must be contiguous (transB false).
template <typename T>
void gemmDirect(const GemmCall<T>& g) {
  using VT = VecOf<T>;
  using V = typename VT::V;
  constexpr int W = VT::kWidth;
  const V va = VT::set1(g.alpha);
  for (int64_t pc = 0; pc < g.k; pc += kKc) {
    const int64_t kc = minOf(kKc, g.k - pc);
    for (int64_t i = 0; i < g.m; i++) {
      T* crow = g.c + i * g.ldc;
      int64_t j = 0;
      for (; j + 2 * W <= g.n; j += 2 * W) {
        V acc0 = VT::zero(), acc1 = VT::zero();
        for (int64_t p = pc; p < pc + kc; p++) {
          const V a = VT::set1(elemA(g, i, p));
          const T* brow = g.b + p * g.ldb + j;
          acc0 = VT::madd(a, VT::load(brow), acc0);
          acc1 = VT::madd(a, VT::load(brow + W), acc1);
        }
        VT::store(crow + j, VT::add(VT::load(crow + j), VT::mul(va, acc0)));
        VT::store(crow + j + W, VT::add(VT::load(crow + j + W), VT::mul(va, acc1)));
      }
      for (; j + W <= g.n; j += W) {
        V acc = VT::zero();
        for (int64_t p = pc; p < pc + kc; p++) acc = VT::madd(VT::set1(elemA(g, i, p)), VT::load(g.b + p * g.ldb + j), acc);
        VT::store(crow + j, VT::add(VT::load(crow + j), VT::mul(va, acc)));
      }
      for (; j < g.n; j++) {
        T acc = T(0);
        for (int64_t p = pc; p < pc + kc; p++) acc = smadd(elemA(g, i, p), g.b[p * g.ldb + j], acc);
        crow[j] = crow[j] + g.alpha * acc;
      }
    }
  }
}

template <typename T>
GemmScratch gemmScratch() {
  return {Blocking<T>::kMc * kKc, kKc * Blocking<T>::kNc};
}

template <typename T>
void gemmSerial(const GemmCall<T>& g, T* packA, T* packB) {
  if (g.m <= 0 || g.n <= 0 || g.k <= 0) return;
  constexpr int MR = Tile<T>::kMr;
  constexpr int NR = Tile<T>::kNr;
  // Packing costs O(mk + kn); below a few multiply-adds per packed value it does not pay.
  if (!g.transB && (g.m < MR || g.m * g.n * g.k <= 32 * 32 * 32)) {
    gemmDirect(g);
    return;
  }
  for (int64_t jc = 0; jc < g.n; jc += Blocking<T>::kNc) {
    const int64_t nc = minOf(Blocking<T>::kNc, g.n - jc);
    for (int64_t pc = 0; pc < g.k; pc += kKc) {
      const int64_t kc = minOf(kKc, g.k - pc);
      packPanelB(g, pc, kc, jc, nc, packB);
      for (int64_t ic = 0; ic < g.m; ic += Blocking<T>::kMc) {
        const int64_t mc = minOf(Blocking<T>::kMc, g.m - ic);
        packBlockA(g, ic, mc, pc, kc, packA);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          for (int64_t ir = 0; ir < mc; ir += MR) {
            microKernel<T>(kc, packA + ir * kc, packB + jr * kc, g.c + (ic + ir) * g.ldc + jc + jr, g.ldc,
                           minOf(MR, mc - ir), minOf(NR, nc - jr), g.alpha);
          }
        }
      }
    }
  }
}

// Four vector accumulators over consecutive chunks, combined as (a0 + a1) + (a2 + a3), then the
// lanes in order, then the scalar tail in order.
double ddotImpl(const double* x, const double* y, int64_t n) {
  using VT = VecOf<double>;
  using V = VT::V;
  constexpr int W = VT::kWidth;
  V a0 = VT::zero(), a1 = VT::zero(), a2 = VT::zero(), a3 = VT::zero();
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    a0 = VT::madd(VT::load(x + i), VT::load(y + i), a0);
    a1 = VT::madd(VT::load(x + i + W), VT::load(y + i + W), a1);
    a2 = VT::madd(VT::load(x + i + 2 * W), VT::load(y + i + 2 * W), a2);
    a3 = VT::madd(VT::load(x + i + 3 * W), VT::load(y + i + 3 * W), a3);
  }
  for (; i + W <= n; i += W) a0 = VT::madd(VT::load(x + i), VT::load(y + i), a0);
  alignas(64) double lanes[W];
  VT::store(lanes, VT::add(VT::add(a0, a1), VT::add(a2, a3)));
  double s = 0;
  for (int l = 0; l < W; l++) s += lanes[l];
  for (; i < n; i++) s = smadd(x[i], y[i], s);
  return s;
}

void daxpyImpl(double a, const double* x, double* y, int64_t n) {
  using VT = VecOf<double>;
  constexpr int W = VT::kWidth;
  const VT::V va = VT::set1(a);
  int64_t i = 0;
  for (; i + W <= n; i += W) VT::store(y + i, VT::madd(va, VT::load(x + i), VT::load(y + i)));
  for (; i < n; i++) y[i] = smadd(a, x[i], y[i]);
}

}  // namespace
}  // namespace metatask::simd

// The table of a level, as constant data (no code runs when the addon loads).
#define METATASK_DEFINE_OPS(NAME, LEVEL)                                                                  \
  namespace metatask::simd {                                                                           \
  extern const Ops NAME;                                                                               \
  const Ops NAME = {LEVEL,                                                                             \
                    &gemmSerial<float>,                                                                \
                    &gemmSerial<double>,                                                               \
                    &gemmScratch<float>,                                                               \
                    &gemmScratch<double>,                                                              \
                    Tile<float>::kNr,                                                                  \
                    Tile<double>::kNr,                                                                 \
                    Tile<float>::kMr,                                                                  \
                    Tile<double>::kMr,                                                                 \
                    &ddotImpl,                                                                         \
                    &daxpyImpl};                                                                       \
  }
