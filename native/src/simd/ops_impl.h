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

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

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
inline int64_t maxOf(int64_t a, int64_t b) { return a > b ? a : b; }

// dst (k x n, rows ldD apart) = the transpose of src (n x k, rows ldS apart). On x86, 4 x 4 blocks
// through registers (SSE2, every level has it: four loads, the shuffles and four stores for 16
// values); elsewhere and at the edges, four rows of src at a time, so each row of dst is written
// four values at a time.
template <typename T>
void transposeInto(const T* src, int64_t ldS, int64_t n, int64_t k, T* dst, int64_t ldD) {
  int64_t j = 0;
#if defined(METATASK_VEC_AVX512) || defined(METATASK_VEC_AVX2) || defined(METATASK_VEC_SSE2)
  if constexpr (std::is_same_v<T, float>) {
    for (; j + 4 <= n; j += 4) {
      const float* s0 = src + j * ldS;
      int64_t p = 0;
      for (; p + 4 <= k; p += 4) {
        __m128 r0 = _mm_loadu_ps(s0 + p), r1 = _mm_loadu_ps(s0 + ldS + p);
        __m128 r2 = _mm_loadu_ps(s0 + 2 * ldS + p), r3 = _mm_loadu_ps(s0 + 3 * ldS + p);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        float* d = dst + p * ldD + j;
        _mm_storeu_ps(d, r0);
        _mm_storeu_ps(d + ldD, r1);
        _mm_storeu_ps(d + 2 * ldD, r2);
        _mm_storeu_ps(d + 3 * ldD, r3);
      }
      for (; p < k; p++)
        for (int64_t r = 0; r < 4; r++) dst[p * ldD + j + r] = s0[r * ldS + p];
    }
  }
#endif
  for (; j + 4 <= n; j += 4) {
    const T* b0 = src + j * ldS;
    const T* b1 = b0 + ldS;
    const T* b2 = b1 + ldS;
    const T* b3 = b2 + ldS;
    for (int64_t p = 0; p < k; p++) {
      T* d = dst + p * ldD + j;
      d[0] = b0[p];
      d[1] = b1[p];
      d[2] = b2[p];
      d[3] = b3[p];
    }
  }
  for (; j < n; j++) {
    const T* s1 = src + j * ldS;
    for (int64_t p = 0; p < k; p++) dst[p * ldD + j] = s1[p];
  }
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
    } else if (g.transB) {
      // op(B) = B^T: row p of the sliver is column p of B's rows jc+js.., transposed in blocks
      // (one value at a time, a dH = dZ W^T product of a dense layer spent a fifth of its time here).
      transposeInto(g.b + (jc + js) * g.ldb + pc, g.ldb, w, kc, dst, NR);
      for (int64_t p = 0; p < kc; p++)
        for (int64_t j = w; j < NR; j++) dst[p * NR + j] = T(0);
    } else {
      for (int64_t p = 0; p < kc; p++) {
        for (int64_t j = 0; j < w; j++) dst[p * NR + j] = g.b[(pc + p) * g.ldb + jc + js + j];
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

// Small or narrow products (too small to repay packing, or narrower than the register tile): the
// same arithmetic per element, read straight from A and B (rows of op(B) must be contiguous:
// transB false). R rows of C at a time, so that R independent sums hide the latency of the
// multiply-add; columns in the widest vectors that fit, then narrower ones, then single lanes.

// C[i0:i0+R, j:j+U*V::kWidth] += alpha * block sum over p in [pc, pc+kc); TA = g.transA. Partial:
// only the first `width` of those columns are written (op(B)'s rows padded past n); each column's
// value is the same as a narrower tile's.
template <typename T, bool TA, typename V, int R, int U, bool Partial = false>
METATASK_INLINE void directTile(const GemmCall<T>& g, int64_t i0, int64_t j, int64_t pc, int64_t kc, int64_t width = U * V::kWidth) {
  constexpr int W = V::kWidth;
  typename V::V acc[R][U];
#pragma GCC unroll 16
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int u = 0; u < U; u++) acc[r][u] = V::zero();
  for (int64_t p = pc; p < pc + kc; p++) {
    const T* brow = g.b + p * g.ldb + j;
    typename V::V b[U];
#pragma GCC unroll 4
    for (int u = 0; u < U; u++) b[u] = V::load(brow + u * W);
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) {
      const typename V::V a = V::set1(TA ? g.a[p * g.lda + i0 + r] : g.a[(i0 + r) * g.lda + p]);
#pragma GCC unroll 4
      for (int u = 0; u < U; u++) acc[r][u] = V::madd(a, b[u], acc[r][u]);
    }
  }
  const typename V::V va = V::set1(g.alpha);
  if constexpr (Partial) {
    // dst + alpha acc lane by lane: the vector form's two roundings (the build does not contract).
    alignas(64) T scaled[U * W];
    for (int r = 0; r < R; r++) {
      for (int u = 0; u < U; u++) V::store(scaled + u * W, V::mul(va, acc[r][u]));
      T* dst = g.c + (i0 + r) * g.ldc + j;
      for (int64_t q = 0; q < width; q++) dst[q] = dst[q] + scaled[q];
    }
    return;
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int u = 0; u < U; u++) {
      T* dst = g.c + (i0 + r) * g.ldc + j + u * W;
      V::store(dst, V::add(V::load(dst), V::mul(va, acc[r][u])));
    }
}

template <typename T, bool TA, int R>
void directRows(const GemmCall<T>& g, int64_t i0, int64_t pc, int64_t kc) {
  using Wide = typename Widths<T>::Wide;
  using Half = typename Widths<T>::Half;
  using Quarter = typename Widths<T>::Quarter;
  constexpr int W = Wide::kWidth;
  int64_t j = 0;
  for (; j + 2 * W <= g.n; j += 2 * W) directTile<T, TA, Wide, R, 2>(g, i0, j, pc, kc);
  // Padded rows of op(B): the last columns in one full-width tile instead of a cascade of narrower
  // ones, each of which keeps R sums in flight and waits on the multiply-add's latency (T = 13
  // tasks at AVX2 took a tile of 8, one of 4 and one of 1; now two of 8).
  const int64_t rest = g.n - j;
  if (rest > W && g.bCols >= j + 2 * W) return directTile<T, TA, Wide, R, 2, true>(g, i0, j, pc, kc, rest);
  if (rest > 0 && rest < W && g.bCols >= j + W) return directTile<T, TA, Wide, R, 1, true>(g, i0, j, pc, kc, rest);
  for (; j + W <= g.n; j += W) directTile<T, TA, Wide, R, 1>(g, i0, j, pc, kc);
  if constexpr (Half::kWidth < Wide::kWidth)
    for (; j + Half::kWidth <= g.n; j += Half::kWidth) directTile<T, TA, Half, R, 1>(g, i0, j, pc, kc);
  if constexpr (Quarter::kWidth < Half::kWidth)
    for (; j + Quarter::kWidth <= g.n; j += Quarter::kWidth) directTile<T, TA, Quarter, R, 1>(g, i0, j, pc, kc);
  for (; j < g.n; j++) directTile<T, TA, Lane1<T>, R, 1>(g, i0, j, pc, kc);
}

// Rows of C go in blocks of at most kDirectRows, split as evenly as they go: a block of R rows keeps
// 2 R sums in flight, and a lone block of two rows (10 = 4 + 4 + 2) waits on the multiply-add's
// latency, so 10 rows run as 5 + 5. Five rows of two vectors, the two B vectors and the broadcast
// take 13 registers, within the 16 of SSE2 and AVX2; AVX-512's 32 registers hold twelve rows (27),
// which read each vector of B for 24 multiply-adds instead of 10 (a working set's 50 x 50 Gram
// block over 20,000 rows: 1.8 -> 1.5 ms).
#if defined(METATASK_VEC_AVX512)
constexpr int kDirectRows = 12;
#else
constexpr int kDirectRows = 5;
#endif

// directRows with R = rows (1 <= rows <= kDirectRows).
template <typename T, bool TA, int R = kDirectRows>
METATASK_INLINE void directRowsOf(const GemmCall<T>& g, int64_t rows, int64_t i, int64_t pc, int64_t kc) {
  if constexpr (R > 1) {
    if (rows < R) return directRowsOf<T, TA, R - 1>(g, rows, i, pc, kc);
  }
  directRows<T, TA, R>(g, i, pc, kc);
}

template <typename T, bool TA>
void gemmDirectAs(const GemmCall<T>& g) {
  const int64_t blocks = (g.m + kDirectRows - 1) / kDirectRows;
  for (int64_t pc = 0; pc < g.k; pc += kKc) {
    const int64_t kc = minOf(kKc, g.k - pc);
    int64_t i = 0;
    for (int64_t b = 0; b < blocks; b++) {
      const int64_t left = blocks - b;
      const int64_t rows = (g.m - i + left - 1) / left;
      directRowsOf<T, TA>(g, rows, i, pc, kc);
      i += rows;
    }
  }
}

template <typename T>
void gemmDirect(const GemmCall<T>& g) {
  if (g.transA) gemmDirectAs<T, true>(g);
  else gemmDirectAs<T, false>(g);
}

// Skinny products: C with at most kSkinnyRows rows and the rows of op(B) contiguous. Every row of
// C is in registers at once for a chunk of columns, so op(B), the large operand, is read once
// (the direct path's blocks of four rows would read it m / 4 times, packing would copy it).
// One block [pc, pc + kc) of the sum: C += alpha * block.
#if defined(METATASK_VEC_AVX512) || defined(METATASK_VEC_NEON)
constexpr int kSkinnyRows = 16;
#elif defined(METATASK_VEC_PLAIN)
constexpr int kSkinnyRows = 8;
#else
constexpr int kSkinnyRows = 12;  // 16 vector registers: 12 sums, one row of B, one broadcast
#endif

// Vectors of columns a skinny tile of R rows holds: as many as keep R U sums, the U vectors of B
// and the broadcast within the level's registers (16, or 32 at AVX-512), up to four. With a few
// rows (the tasks of a multi-task product) one vector per row kept too few sums in flight and
// loaded B once per R multiply-adds.
#if defined(METATASK_VEC_AVX512)
constexpr int kSkinnySums = 24;
#else
constexpr int kSkinnySums = 12;
#endif
constexpr int skinnyVectors(int rows) {
  const int u = kSkinnySums / rows;
  return u < 1 ? 1 : u > 4 ? 4 : u;
}
// The vectors of columns skinnyBlock's tiles really hold: rows too many for two vectors each go in
// two halves (skinnyBlock), each with its own wider tile.
constexpr int skinnyTileVectors(int rows) {
  return skinnyVectors(rows) > 1 || rows < 2 ? skinnyVectors(rows) : skinnyVectors((rows + 1) / 2);
}

template <typename T, bool TA, int R>
void skinnyBlock(const GemmCall<T>& g, int64_t pc, int64_t kc) {
  using Wide = typename Widths<T>::Wide;
  using Half = typename Widths<T>::Half;
  using Quarter = typename Widths<T>::Quarter;
  constexpr int U = skinnyVectors(R);
  // Rows too many for two vectors each (8 tasks at AVX2: eight sums, each vector of B serving 8
  // multiply-adds for 9 loads) go in two halves over the same columns, each half with its wider
  // tile; the columns' block of B is still in L1 for the second half. 600 x 8 x 256 A^T B^T at
  // AVX2: 74.4 -> 51.3 us.
  constexpr int R1 = (R + 1) / 2;
  constexpr int US = skinnyTileVectors(R);
  int64_t j = 0;
  if constexpr (U == 1 && US > 1) {
    for (; j + US * Wide::kWidth <= g.n; j += US * Wide::kWidth) {
      directTile<T, TA, Wide, R1, US>(g, 0, j, pc, kc);
      directTile<T, TA, Wide, R - R1, US>(g, R1, j, pc, kc);
    }
  }
  if constexpr (U > 1)
    for (; j + U * Wide::kWidth <= g.n; j += U * Wide::kWidth) directTile<T, TA, Wide, R, U>(g, 0, j, pc, kc);
  for (; j + Wide::kWidth <= g.n; j += Wide::kWidth) directTile<T, TA, Wide, R, 1>(g, 0, j, pc, kc);
  if constexpr (Half::kWidth < Wide::kWidth)
    for (; j + Half::kWidth <= g.n; j += Half::kWidth) directTile<T, TA, Half, R, 1>(g, 0, j, pc, kc);
  if constexpr (Quarter::kWidth < Half::kWidth)
    for (; j + Quarter::kWidth <= g.n; j += Quarter::kWidth) directTile<T, TA, Quarter, R, 1>(g, 0, j, pc, kc);
  for (; j < g.n; j++) directTile<T, TA, Lane1<T>, R, 1>(g, 0, j, pc, kc);
}

template <typename T, bool TA, int R = kSkinnyRows>
void skinnyBlockOf(const GemmCall<T>& g, int64_t pc, int64_t kc) {
  if constexpr (R > 1) {
    if (g.m < R) return skinnyBlockOf<T, TA, R - 1>(g, pc, kc);
  }
  skinnyBlock<T, TA, R>(g, pc, kc);
}

template <typename T>
void skinnyPart(const GemmCall<T>& g, int64_t pc, int64_t kc) {
  if (g.transA) skinnyBlockOf<T, true>(g, pc, kc);
  else skinnyBlockOf<T, false>(g, pc, kc);
}

// The streaming form of a skinny block, for long rows of op(B): the register tiles above walk down
// the rows of op(B) one vector of columns at a time, a stride of ldb between loads (a new page per
// row when rows are long, which defeats the prefetchers); here P rows of op(B) are read together
// along their length, and the block sums of a chunk of columns of C live in `acc` (m x w, in L1)
// instead of registers. Each element's arithmetic is that of directTile: from zero, one madd per p
// in increasing p (each lane of every width does the same scalar operation), then C + alpha * sum.
// Most rows of C a streamed block handles (the register tiles stop at kSkinnyRows).
constexpr int kStreamRows = 64;

// acc[r, j:w) += sum_q a[r][q] b[q][j:w) for r < m, in vectors of V from column j while they
// fit; returns the first column not done. When `ahead` is not 0, the same columns `ahead`
// elements further on (the next P rows) are prefetched: the loads walk across P rows at a stride
// the hardware prefetchers do not follow, and would otherwise wait on memory.
template <typename T, typename V, int P>
METATASK_INLINE int64_t streamColumns(const T* const (&b)[P], const T (&a)[kStreamRows][P], int64_t m, int64_t j, int64_t w,
                                      T* acc, int64_t ahead) {
  constexpr int W = V::kWidth;
  for (; j + W <= w; j += W) {
    typename V::V bv[P];
    if (ahead != 0) {
#pragma GCC unroll 8
      for (int q = 0; q < P; q++) __builtin_prefetch(b[q] + j + ahead);
    }
#pragma GCC unroll 8
    for (int q = 0; q < P; q++) bv[q] = V::load(b[q] + j);
    for (int64_t r = 0; r < m; r++) {
      T* dst = acc + r * w + j;
      typename V::V s = V::load(dst);
#pragma GCC unroll 8
      for (int q = 0; q < P; q++) s = V::madd(V::set1(a[r][q]), bv[q], s);
      V::store(dst, s);
    }
  }
  return j;
}

// Rows p..p+P-1 of op(B), columns [j0, j0 + w), into acc. The widest vectors first, then narrower
// ones for the last columns (each lane does the same scalar operation at every width).
template <typename T, bool TA, int P>
METATASK_INLINE void streamRows(const GemmCall<T>& g, int64_t p, int64_t j0, int64_t w, T* acc) {
  using Wd = Widths<T>;
  const int64_t m = g.m;
  const T* b[P];
#pragma GCC unroll 8
  for (int q = 0; q < P; q++) b[q] = g.b + (p + q) * g.ldb + j0;
  T a[kStreamRows][P];
  for (int64_t r = 0; r < m; r++)
#pragma GCC unroll 8
    for (int q = 0; q < P; q++) a[r][q] = TA ? g.a[(p + q) * g.lda + r] : g.a[r * g.lda + p + q];
  // The next P rows, when op(B) has them (the widest vectors cover all but the last columns).
  const int64_t ahead = p + 3 * P <= g.k ? 2 * P * g.ldb : 0;
  int64_t j = streamColumns<T, typename Wd::Wide, P>(b, a, m, 0, w, acc, ahead);
  if constexpr (Wd::Half::kWidth < Wd::Wide::kWidth) j = streamColumns<T, typename Wd::Half, P>(b, a, m, j, w, acc, 0);
  if constexpr (Wd::Quarter::kWidth < Wd::Half::kWidth) j = streamColumns<T, typename Wd::Quarter, P>(b, a, m, j, w, acc, 0);
  if constexpr (Wd::Quarter::kWidth > 1) streamColumns<T, Lane1<T>, P>(b, a, m, j, w, acc, 0);
}

// Elements of `acc` per call: 4096 doubles (32 KiB), 8192 floats.
template <typename T>
constexpr int64_t kStreamTile = 32768 / int64_t(sizeof(T));

// The columns of C whose block sums streamBlock keeps at once for m rows: as many whole vectors
// as kStreamTile<T> holds, at least one.
template <typename T>
int64_t streamChunkColumns(int64_t m) {
  constexpr int64_t W = Widths<T>::Wide::kWidth;
  const int64_t cw = (kStreamTile<T> / m) / W * W;
  return cw > W ? cw : W;
}

// The elements of `acc` streamBlock writes for C of m x n.
template <typename T>
int64_t streamAccSize(int64_t m, int64_t n) {
  return m * minOf(streamChunkColumns<T>(m), n);
}

// C[0:m, :] += alpha * block over [pc, pc + kc) (m <= kStreamRows, rows of op(B) contiguous), by
// chunks of columns whose sums fit in `acc` (streamAccSize elements of scratch).
template <typename T, bool TA>
void streamBlock(const GemmCall<T>& g, int64_t pc, int64_t kc, T* acc) {
  using Wide = typename Widths<T>::Wide;
  constexpr int W = Wide::kWidth;
  const int64_t m = g.m;
  const int64_t cw = streamChunkColumns<T>(m);
  const typename Wide::V va = Wide::set1(g.alpha);
  for (int64_t j0 = 0; j0 < g.n; j0 += cw) {
    const int64_t w = minOf(cw, g.n - j0);
    for (int64_t q = 0; q < m * w; q++) acc[q] = T(0);
    int64_t p = pc;
    for (; p + 8 <= pc + kc; p += 8) streamRows<T, TA, 8>(g, p, j0, w, acc);
    for (; p < pc + kc; p++) streamRows<T, TA, 1>(g, p, j0, w, acc);
    for (int64_t r = 0; r < m; r++) {
      T* crow = g.c + r * g.ldc + j0;
      const T* arow = acc + r * w;
      int64_t j = 0;
      for (; j + W <= w; j += W) Wide::store(crow + j, Wide::add(Wide::load(crow + j), Wide::mul(va, Wide::load(arow + j))));
      for (; j < w; j++) crow[j] = crow[j] + g.alpha * arow[j];
    }
  }
}

// Rows of op(B) this long or longer are streamed (streamBlock); shorter ones use the register tiles
// when C has at most kSkinnyRows rows.
constexpr int64_t kStreamMinColumns = 64;
// With more than kSkinnyRows rows of C, streaming beats packing only on long rows of op(B) (a
// page or more apart); on short ones, as a convolution's chunk of about 200 output pixels, the
// packed register tiles reuse each packed value MR times and win.
constexpr int64_t kStreamWideMinColumns = 256;
// The length from which streamsWide streams: kStreamWideMinColumns at AVX-512 (and NEON), where
// streaming rows of 256 to 1,000 values stayed 2-5 % faster than the 12-row tiles. The 6-row tiles
// of AVX2 and SSE2 beat streaming up to a page: a dense layer's 64 x 256 x 256 float product 10 %
// faster packed, a convolution's 64 x 576 x 784 15 %, a 40 x 1000 x 300 double product 7 %.
#if defined(METATASK_VEC_AVX512) || defined(METATASK_VEC_NEON)
template <typename T>
constexpr int64_t kStreamWideRowLength = kStreamWideMinColumns;
#else
template <typename T>
constexpr int64_t kStreamWideRowLength = 4096 / int64_t(sizeof(T));
#endif
// Rows of op(B) from this long are also streamed when the register tiles' edges would waste more
// than a tenth of the packed product (64 rows of C in tiles of 12, 196 columns in tiles of 32:
// a fifth of it).
constexpr int64_t kStreamEdgeMinColumns = 128;

// Rows of op(B) at most this far apart (8 KiB) are walked down by a few rows of C in register
// tiles of several vectors each, however long: the prefetchers follow the stride (X^T R on designs
// of 100 to 900 columns and 3 to 8 tasks: 1.1-1.4x the streamed speed; at 1,000 columns and 3
// tasks 3-5% slower, and farther apart the streamed form wins).
template <typename T>
constexpr int64_t kTileMaxStride = 8192 / int64_t(sizeof(T));

// Whether C with kSkinnyRows < m <= kStreamRows rows and n columns is streamed: long rows, or rows
// of middling length whose packed product would be mostly tile edges.
template <typename T>
bool streamsWide(int64_t m, int64_t n) {
  if (n >= kStreamWideRowLength<T>) return true;
  if (n < kStreamEdgeMinColumns) return false;
  constexpr int64_t MR = Tile<T>::kMr, NR = Tile<T>::kNr;
  const int64_t paddedM = (m + MR - 1) / MR * MR, paddedN = (n + NR - 1) / NR * NR;
  return 10 * m * n < 9 * paddedM * paddedN;
}

// Whether a skinny product (C with at most kStreamRows rows) is streamed rather than walked in
// register tiles (the same for every block of its sum).
template <typename T>
bool skinnyStreams(const GemmCall<T>& g) {
  return !(g.m <= kSkinnyRows && (g.n < kStreamMinColumns || (skinnyTileVectors(int(g.m)) > 1 && g.ldb <= kTileMaxStride<T>)));
}

// One block of a skinny product, by whichever form suits it.
template <typename T>
void skinnyOrStream(const GemmCall<T>& g, int64_t pc, int64_t kc, T* acc) {
  if (!skinnyStreams(g)) skinnyPart(g, pc, kc);
  else if (g.transA) streamBlock<T, true>(g, pc, kc, acc);
  else streamBlock<T, false>(g, pc, kc, acc);
}

template <typename T>
void gemmSkinny(const GemmCall<T>& g, T* acc) {
  for (int64_t pc = 0; pc < g.k; pc += kKc) skinnyOrStream(g, pc, minOf(kKc, g.k - pc), acc);
}

// The packing buffers' capacity: the blocking's panels, by which the paths below size their chunks.
template <typename T>
GemmScratch gemmCapacity() {
  return {Blocking<T>::kMc * kKc, kKc * Blocking<T>::kNc};
}

// The rows of C per chunk of gemmSkinnyTransposed: as many as C^T's chunk (n x rows) in A's
// packing buffer at its capacity.
template <typename T>
int64_t skinnyTransposedChunk(const GemmCall<T>& g) {
  return minOf(g.m, gemmCapacity<T>().packA / g.n);
}

// The skinny product of gemmSkinnyTransposed for rows [i0, i0 + mc) of C, into tmp (n x mc).
template <typename T>
GemmCall<T> transposedPart(const GemmCall<T>& g, int64_t i0, int64_t mc, T* tmp) {
  GemmCall<T> h{};
  h.m = g.n;
  h.n = mc;
  h.k = g.k;
  h.alpha = g.alpha;
  h.a = g.b;  // op(B)^T: row t is column t of op(B)
  h.lda = g.ldb;
  h.transA = !g.transB;
  h.b = g.a + i0;  // A^T's rows: row p of A from column i0
  h.ldb = g.lda;
  h.transB = false;
  h.c = tmp;
  h.ldc = mc;
  return h;
}

// C with at most kSkinnyRows columns, op(A) = A^T: C^T = op(B)^T A is skinny with contiguous rows
// of A. Each element of C^T is the same sum as the element of C, in the same order, since a * b
// and b * a round alike: block by block, C^T's part is formed in `tmp` from zero and added to C.
template <typename T>
void gemmSkinnyTransposed(const GemmCall<T>& g, T* tmp, T* acc) {
  const int64_t chunk = skinnyTransposedChunk(g);
  for (int64_t i0 = 0; i0 < g.m; i0 += chunk) {
    const int64_t mc = minOf(chunk, g.m - i0);
    const GemmCall<T> h = transposedPart(g, i0, mc, tmp);
    for (int64_t pc = 0; pc < g.k; pc += kKc) {
      for (int64_t q = 0; q < g.n * mc; q++) tmp[q] = T(0);
      skinnyOrStream(h, pc, minOf(kKc, g.k - pc), acc);
      for (int64_t i = 0; i < mc; i++) {
        T* crow = g.c + (i0 + i) * g.ldc;
        for (int64_t t = 0; t < g.n; t++) crow[t] = crow[t] + tmp[t * mc + i];
      }
    }
  }
}

// Outputs up to this many elements take the direct path at any depth where the register tile
// is large: at AVX-512 a 50 x 50 product (the Gram block of a working set) fills 65 % of the
// 12 x 16 tiles it is cut into, and packing its operands costs about as much again; direct, such
// products ran 10-50 % faster (k x k Gram blocks, k 16 to 64, 2,000 to 20,000 rows deep). At AVX2
// too since the Gram columns are formed in strips of twelve rows, each of which the packed path
// packed the panel of B for again: the multi-task lasso's Gram columns 24 % faster on 20000 x 100
// x 5, 7-11 % on 1000 x 1000 x 3, 1500 x 800 x 15 and 400 x 400 x 2. SSE2 keeps the packed path.
#if defined(METATASK_VEC_AVX512) || defined(METATASK_VEC_AVX2)
constexpr int64_t kDirectMaxOutput = 64 * 64;
#else
constexpr int64_t kDirectMaxOutput = 0;
#endif

// A^T B^T with at most kSkinnyRows columns takes the skinny form from this many rows of C: on
// a design of 50 or 60 columns and two or three tasks it ran 1.2-1.6x as fast as the direct path's
// tiles of one or two lanes.
constexpr int64_t kFewTasksMinRows = 16;

// The forms of gemmSerial.
enum class GemmPath { kSkinny, kSkinnyTransposed, kDirect, kDirectCopiedB, kPacked };

// Which form gemmSerial(g) takes (g not empty).
template <typename T>
GemmPath gemmPath(const GemmCall<T>& g) {
  // Packing costs O(mk + kn); below a few multiply-adds per packed value it does not pay, and a
  // product narrower than the register tile would spend most of the tile on padding.
  const bool direct = g.m < Tile<T>::kMr || g.n < Tile<T>::kNr || g.m * g.n * g.k <= 32 * 32 * 32 || g.m * g.n <= kDirectMaxOutput;
  // Skinny and large: one pass over the large operand, no packing.
  const bool large = g.k * (g.m > g.n ? g.m : g.n) >= 64 * 1024;
  // (Up to kStreamRows rows of C when op(B)'s rows are long enough to stream.)
  if (large && !g.transB && (g.m <= kSkinnyRows || (g.m <= kStreamRows && streamsWide<T>(g.m, g.n)))) return GemmPath::kSkinny;
  // A^T B^T with a few columns (X^T R for a few tasks, the correlations of the working-set
  // solvers, by blocks of kKc rows): skinny as C^T = B A at any depth once C has a few vectors of rows.
  // The direct path's narrow tiles read A's block once per five rows of C: 2-5x slower on
  // 100 x 5 x 256 blocks.
  const bool fewTasks = g.transB && g.n <= kSkinnyRows && g.m >= kFewTasksMinRows;
  if ((large || fewTasks) && g.transA && (g.n <= kSkinnyRows || (g.n <= kStreamRows && g.m >= kStreamWideMinColumns)))
    return GemmPath::kSkinnyTransposed;
  if (direct && !g.transB) return GemmPath::kDirect;
  if (direct && g.k * g.n <= gemmCapacity<T>().packB) return GemmPath::kDirectCopiedB;
  return GemmPath::kPacked;
}

// The direct path's copy of op(B) = B^T: k rows of this many elements (padded with zeros to whole
// tiles of two vectors when the scratch holds them).
template <typename T>
int64_t copiedRowLength(const GemmCall<T>& g) {
  const int64_t tile = 2 * VecOf<T>::kWidth;
  const int64_t padded = (g.n + tile - 1) / tile * tile;
  return g.k * padded <= gemmCapacity<T>().packB ? padded : g.n;
}

// What gemmSerial(g) writes of the packing buffers, exactly as the form it takes: the packed
// path's block of A (whole slivers of MR rows) and panel of B (whole strips of NR columns), the
// skinny transposed path's C^T chunk in A's buffer and the streamed sums in B's, the skinny path's
// streamed sums, the direct path's copy of op(B). The scratch faults in what a call asks for the
// first time it is asked (runtime/scratch.h): a 2 MiB panel in a huge page, written for the first
// time, cost a process's first product 0.3 ms of page clearing (Intel Xeon VM) to pack a few KiB,
// and asking for the largest of every form's needs instead of its own cost a process's first
// multi-task lasso fit of 829 x 600 x 8 some 400 pages it never wrote (a 1.3 MB copy of op(B) for
// a skinny product that copies nothing).
template <typename T>
GemmScratch gemmScratch(const GemmCall<T>& g) {
  if (g.m <= 0 || g.n <= 0 || g.k <= 0) return {0, 0};
  auto roundUp = [](int64_t v, int64_t to) { return (v + to - 1) / to * to; };
  switch (gemmPath(g)) {
    case GemmPath::kSkinny:
      return {0, skinnyStreams(g) ? streamAccSize<T>(g.m, g.n) : 0};
    case GemmPath::kSkinnyTransposed: {
      const int64_t chunk = skinnyTransposedChunk(g);
      // Sized by the first chunk, the widest: a narrower last chunk streams only if the first
      // does (skinnyStreams decides by the rows, the stride and a lower bound on the columns), and
      // its sums take fewer columns.
      const GemmCall<T> h = transposedPart<T>(g, 0, chunk, nullptr);
      return {g.n * chunk, skinnyStreams(h) ? streamAccSize<T>(h.m, h.n) : 0};
    }
    case GemmPath::kDirect:
      return {0, 0};
    case GemmPath::kDirectCopiedB:
      return {0, g.k * copiedRowLength(g)};
    case GemmPath::kPacked:
      break;
  }
  const int64_t kc = minOf(g.k, kKc);
  return {roundUp(minOf(g.m, Blocking<T>::kMc), Tile<T>::kMr) * kc, kc * roundUp(minOf(g.n, Blocking<T>::kNc), Tile<T>::kNr)};
}

template <typename T>
void gemmSerial(const GemmCall<T>& g, T* packA, T* packB) {
  if (g.m <= 0 || g.n <= 0 || g.k <= 0) return;
  constexpr int MR = Tile<T>::kMr;
  constexpr int NR = Tile<T>::kNr;
  switch (gemmPath(g)) {
    case GemmPath::kSkinny:
      gemmSkinny(g, packB);
      return;
    case GemmPath::kSkinnyTransposed:
      gemmSkinnyTransposed(g, packA, packB);
      return;
    case GemmPath::kDirect:
      gemmDirect(g);
      return;
    case GemmPath::kDirectCopiedB: {
      // op(B) = B^T copied row-major (k x n) first, so the direct path reads contiguous rows.
      const int64_t ld = copiedRowLength(g);
      T* bt = packB;
      transposeInto(g.b, g.ldb, g.n, g.k, bt, ld);
      if (ld > g.n)
        for (int64_t p = 0; p < g.k; p++) std::fill(bt + p * ld + g.n, bt + (p + 1) * ld, T(0));
      GemmCall<T> h = g;
      h.b = bt;
      h.ldb = ld;
      h.transB = false;
      h.bCols = ld;
      gemmDirect(h);
      return;
    }
    case GemmPath::kPacked:
      break;
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

// R rows of daxpyDotsRows with NX sources and NZ targets: NX R coefficient broadcasts and NZ R
// accumulators (R independent chains of multiply-adds per target), each source and target vector
// loaded once for the R rows. A row whose coefficients are all zero is read, not written (the
// common case: a feature's row of W unchanged in some tasks).
template <int R, int NX, int NZ>
METATASK_INLINE void daxpyDotsGroup(const double* a, int64_t m, const double* const* x, double* y, int64_t ldy, const double* const* z,
                                    double* out, int64_t n) {
  using VT = VecOf<double>;
  using V = VT::V;
  constexpr int W = VT::kWidth;
  V va[NX > 0 ? NX : 1][R];
  V acc[NZ > 0 ? NZ : 1][R];
  // The source and target rows in locals: the compiler then keeps them in registers across the
  // stores to y.
  const double* xr[NX > 0 ? NX : 1];
  const double* zr[NZ > 0 ? NZ : 1];
  for (int c = 0; c < NX; c++) xr[c] = x[c];
  for (int b = 0; b < NZ; b++) zr[b] = z[b];
  bool update[R];
  for (int r = 0; r < R; r++) {
    update[r] = false;
    for (int c = 0; c < NX; c++) {
      va[c][r] = VT::set1(a[c * m + r]);
      update[r] = update[r] || a[c * m + r] != 0.0;
    }
  }
  for (int b = 0; b < NZ; b++)
    for (int r = 0; r < R; r++) acc[b][r] = VT::zero();
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    V vx[NX > 0 ? NX : 1], vz[NZ > 0 ? NZ : 1];
    for (int c = 0; c < NX; c++) vx[c] = VT::load(xr[c] + i);
    for (int b = 0; b < NZ; b++) vz[b] = VT::load(zr[b] + i);
    for (int r = 0; r < R; r++) {
      double* yr = y + r * ldy + i;
      V v = VT::load(yr);
      if (update[r]) {
        for (int c = 0; c < NX; c++) v = VT::madd(va[c][r], vx[c], v);
        VT::store(yr, v);
      }
      for (int b = 0; b < NZ; b++) acc[b][r] = VT::madd(v, vz[b], acc[b][r]);
    }
  }
  alignas(64) double lanes[W];
  for (int r = 0; r < R; r++) {
    double* yr = y + r * ldy;
    double s[NZ > 0 ? NZ : 1];
    for (int b = 0; b < NZ; b++) {
      VT::store(lanes, acc[b][r]);
      s[b] = 0;
      for (int l = 0; l < W; l++) s[b] += lanes[l];
    }
    for (int64_t q = i; q < n; q++) {
      double v = yr[q];
      if (update[r]) {
        for (int c = 0; c < NX; c++) v = smadd(a[c * m + r], xr[c][q], v);
        yr[q] = v;
      }
      for (int b = 0; b < NZ; b++) s[b] = smadd(v, zr[b][q], s[b]);
    }
    for (int b = 0; b < NZ; b++) out[b * m + r] = s[b];
  }
}

// Rows four at a time for one source and one target (a plain sweep's step: x and z loaded once per
// four rows), two at a time for more (their broadcasts and accumulators fill the registers).
template <int NX, int NZ>
void daxpyDotsFixed(const double* a, const double* const* x, double* y, int64_t ldy, const double* const* z, double* out, int64_t m, int64_t n) {
  int64_t r = 0;
  if constexpr (NX + NZ <= 2)
    for (; r + 4 <= m; r += 4) daxpyDotsGroup<4, NX, NZ>(a + r, m, x, y + r * ldy, ldy, z, out + r, n);
  for (; r + 2 <= m; r += 2) daxpyDotsGroup<2, NX, NZ>(a + r, m, x, y + r * ldy, ldy, z, out + r, n);
  for (; r < m; r++) daxpyDotsGroup<1, NX, NZ>(a + r, m, x, y + r * ldy, ldy, z, out + r, n);
}

template <int NX>
void daxpyDotsOf(const double* a, const double* const* x, double* y, int64_t ldy, const double* const* z, int64_t nz, double* out,
                 int64_t m, int64_t n) {
  switch (nz) {
    case 0: return daxpyDotsFixed<NX, 0>(a, x, y, ldy, z, out, m, n);
    case 1: return daxpyDotsFixed<NX, 1>(a, x, y, ldy, z, out, m, n);
    case 2: return daxpyDotsFixed<NX, 2>(a, x, y, ldy, z, out, m, n);
    case 3: return daxpyDotsFixed<NX, 3>(a, x, y, ldy, z, out, m, n);
    default: return daxpyDotsFixed<NX, 4>(a, x, y, ldy, z, out, m, n);
  }
}

void daxpyDotsRowsImpl(const double* a, int64_t nx, const double* const* x, double* y, int64_t ldy, const double* const* z, int64_t nz,
                       double* out, int64_t m, int64_t n) {
  switch (nx) {
    case 0: return daxpyDotsOf<0>(a, x, y, ldy, z, nz, out, m, n);
    case 1: return daxpyDotsOf<1>(a, x, y, ldy, z, nz, out, m, n);
    case 2: return daxpyDotsOf<2>(a, x, y, ldy, z, nz, out, m, n);
    case 3: return daxpyDotsOf<3>(a, x, y, ldy, z, nz, out, m, n);
    default: return daxpyDotsOf<4>(a, x, y, ldy, z, nz, out, m, n);
  }
}

// The Gram sweep defers its per-coordinate updates of a few correlation rows and applies them here
// in blocks: each element of y is loaded and stored once per block instead of once per source (the
// eager updates were bound by those stores). R rows at a time keep R independent chains of
// multiply-adds in flight; the zero tests are skipped when no coefficient is zero.
template <int NB, int R, int C, bool kMaySkip>
METATASK_INLINE void daxpyRowGroup(const double* a, const typename VecOf<double>::V (*xs)[NB], double* y, int64_t m, int64_t r0,
                                   int64_t ldy) {
  using VT = VecOf<double>;
  constexpr int W = VT::kWidth;
  typename VT::V acc[C][R];
  for (int c = 0; c < C; c++)
    for (int q = 0; q < R; q++) acc[c][q] = VT::load(y + (r0 + q) * ldy + c * W);
  for (int b = 0; b < NB; b++) {
    for (int q = 0; q < R; q++) {
      const double ab = a[b * m + r0 + q];
      if (kMaySkip && ab == 0.0) continue;
      const typename VT::V va = VT::set1(ab);
      for (int c = 0; c < C; c++) acc[c][q] = VT::madd(va, xs[c][b], acc[c][q]);
    }
  }
  for (int c = 0; c < C; c++)
    for (int q = 0; q < R; q++) VT::store(y + (r0 + q) * ldy + c * W, acc[c][q]);
}

// C blocks of the vector width at a time (C = 2: twice the independent chains of multiply-adds).
template <int NB, int C, bool kMaySkip>
METATASK_INLINE int64_t daxpyRowsBlocks(const double* a, const double* const* x, double* y, int64_t m, int64_t ldy, int64_t n,
                                        int64_t i) {
  using VT = VecOf<double>;
  constexpr int W = VT::kWidth;
  for (; i + C * W <= n; i += C * W) {
    typename VT::V xs[C][NB];
    for (int c = 0; c < C; c++)
      for (int b = 0; b < NB; b++) xs[c][b] = VT::load(x[b] + i + c * W);
    int64_t r = 0;
    for (; r + 4 <= m; r += 4) daxpyRowGroup<NB, 4, C, kMaySkip>(a, xs, y + i, m, r, ldy);
    for (; r + 2 <= m; r += 2) daxpyRowGroup<NB, 2, C, kMaySkip>(a, xs, y + i, m, r, ldy);
    for (; r < m; r++) daxpyRowGroup<NB, 1, C, kMaySkip>(a, xs, y + i, m, r, ldy);
  }
  return i;
}

template <int NB, bool kMaySkip>
void daxpyRowsFixed(const double* a, const double* const* x, double* y, int64_t m, int64_t ldy, int64_t n) {
  int64_t i = daxpyRowsBlocks<NB, 2, kMaySkip>(a, x, y, m, ldy, n, 0);
  i = daxpyRowsBlocks<NB, 1, kMaySkip>(a, x, y, m, ldy, n, i);
  for (; i < n; i++) {
    for (int64_t r = 0; r < m; r++) {
      double v = y[r * ldy + i];
      for (int b = 0; b < NB; b++) {
        const double ab = a[b * m + r];
        if (ab != 0.0) v = smadd(ab, x[b][i], v);
      }
      y[r * ldy + i] = v;
    }
  }
}

template <int NB>
void daxpyRowsOf(const double* a, const double* const* x, double* y, int64_t m, int64_t ldy, int64_t n) {
  bool anyZero = false;
  for (int64_t q = 0; q < NB * m; q++) anyZero = anyZero || a[q] == 0.0;
  if (anyZero) daxpyRowsFixed<NB, true>(a, x, y, m, ldy, n);
  else daxpyRowsFixed<NB, false>(a, x, y, m, ldy, n);
}

void daxpyRowsImpl(const double* a, int64_t nb, const double* const* x, double* y, int64_t m, int64_t ldy, int64_t n) {
  // Sources four at a time, in order: each element still gets its multiply-adds in source order.
  for (; nb >= 4; nb -= 4, a += 4 * m, x += 4) daxpyRowsOf<4>(a, x, y, m, ldy, n);
  switch (nb) {
    case 1: return daxpyRowsOf<1>(a, x, y, m, ldy, n);
    case 2: return daxpyRowsOf<2>(a, x, y, m, ldy, n);
    case 3: return daxpyRowsOf<3>(a, x, y, m, ldy, n);
    default: return;
  }
}

// ---- per-element operations (simd/ops.h ElementOps): plain loops the compiler vectorises at the
// level's width; each element is computed alone, so every level gives the same bits.

template <typename T>
void reluImpl(const T* __restrict x, T* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <typename T>
void reluBackwardImpl(const T* __restrict x, const T* __restrict gy, T* __restrict gx, int64_t n) {
  for (int64_t i = 0; i < n; i++) gx[i] += x[i] > T(0) ? gy[i] : T(0);
}

template <typename T>
void reluGateImpl(const T* __restrict x, const T* __restrict v, T* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] > T(0) ? v[i] : T(0);
}

// Column sums and squared deviations, down the rows in order for each column (out[j] + term of
// row 0 + term of row 1 + ...): every column's arithmetic is the scalar loop's, the same bits at
// every level. The sums of a chunk of columns stay in registers for all the rows (a loop over the
// rows with out[] in memory waited on a store and a reload of each vector at every row); a chunk
// of kSumVectors vectors keeps that many independent chains of adds in flight.
constexpr int kSumVectors = 4;

struct SumTerm {
  template <typename V>
  METATASK_INLINE typename V::V add(typename V::V acc, typename V::V x, typename V::V) { return V::add(acc, x); }
};
struct SquaredDeviationTerm {  // (x - c)^2, rounded, then added: no fused multiply-add
  template <typename V>
  METATASK_INLINE typename V::V add(typename V::V acc, typename V::V x, typename V::V c) {
    const typename V::V v = V::sub(x, c);
    return V::add(acc, V::mul(v, v));
  }
};

// Columns [j, j + U W) of out, down the rows.
template <typename T, typename V, int U, typename Term>
METATASK_INLINE void columnChunk(T* __restrict out, const T* __restrict g, int64_t rows, int64_t ld, const T* __restrict centre,
                                 int64_t j) {
  constexpr int W = V::kWidth;
  typename V::V acc[U], c[U];
#pragma GCC unroll 4
  for (int u = 0; u < U; u++) {
    acc[u] = V::load(out + j + u * W);
    c[u] = centre != nullptr ? V::load(centre + j + u * W) : V::zero();
  }
  for (int64_t r = 0; r < rows; r++) {
    const T* row = g + r * ld + j;
#pragma GCC unroll 4
    for (int u = 0; u < U; u++) acc[u] = Term::template add<V>(acc[u], V::load(row + u * W), c[u]);
  }
#pragma GCC unroll 4
  for (int u = 0; u < U; u++) V::store(out + j + u * W, acc[u]);
}

template <typename T, typename Term>
void columnReduce(T* __restrict out, const T* __restrict g, int64_t rows, int64_t cols, int64_t ld, const T* __restrict centre) {
  using Wide = typename Widths<T>::Wide;
  using Half = typename Widths<T>::Half;
  using Quarter = typename Widths<T>::Quarter;
  int64_t j = 0;
  for (; j + kSumVectors * Wide::kWidth <= cols; j += kSumVectors * Wide::kWidth)
    columnChunk<T, Wide, kSumVectors, Term>(out, g, rows, ld, centre, j);
  for (; j + Wide::kWidth <= cols; j += Wide::kWidth) columnChunk<T, Wide, 1, Term>(out, g, rows, ld, centre, j);
  if constexpr (Half::kWidth < Wide::kWidth)
    for (; j + Half::kWidth <= cols; j += Half::kWidth) columnChunk<T, Half, 1, Term>(out, g, rows, ld, centre, j);
  if constexpr (Quarter::kWidth < Half::kWidth)
    for (; j + Quarter::kWidth <= cols; j += Quarter::kWidth) columnChunk<T, Quarter, 1, Term>(out, g, rows, ld, centre, j);
  for (; j < cols; j++) columnChunk<T, Lane1<T>, 1, Term>(out, g, rows, ld, centre, j);
}

template <typename T>
void addColumnSumsImpl(T* __restrict out, const T* __restrict g, int64_t rows, int64_t cols, int64_t ld) {
  columnReduce<T, SumTerm>(out, g, rows, cols, ld, nullptr);
}

template <typename T>
void addSquaredDeviationsImpl(T* __restrict out, const T* __restrict g, int64_t rows, int64_t cols, int64_t ld, const T* __restrict centre) {
  columnReduce<T, SquaredDeviationTerm>(out, g, rows, cols, ld, centre);
}

// The mean of vectors (meanOfRows): a chunk of columns' sums stays in registers over all the
// vectors, as in columnChunk (a loop over the vectors with the sums in memory stored and reloaded
// each of them: 44,000 values took 8 us), each sum in the scalar order, then divided by count.
template <typename T, typename V, int U>
METATASK_INLINE void meanChunk(double* __restrict out, const T* const* rows, int64_t count, int64_t from, int64_t j) {
  constexpr int W = V::kWidth;
  typename V::V acc[U];
#pragma GCC unroll 4
  for (int u = 0; u < U; u++) acc[u] = V::zero();
  for (int64_t r = 0; r < count; r++) {
    const T* row = rows[r] + from + j;
#pragma GCC unroll 4
    for (int u = 0; u < U; u++) acc[u] = V::add(acc[u], V::load(row + u * W));
  }
#pragma GCC unroll 4
  for (int u = 0; u < U; u++) V::store(out + j + u * W, acc[u]);
}

template <typename T>
void meanOfRowsImpl(double* __restrict out, const T* const* rows, int64_t count, int64_t from, int64_t n) {
  using Wide = typename Widths<double>::Wide;
  int64_t j = 0;
  for (; j + kSumVectors * Wide::kWidth <= n; j += kSumVectors * Wide::kWidth) meanChunk<T, Wide, kSumVectors>(out, rows, count, from, j);
  for (; j + Wide::kWidth <= n; j += Wide::kWidth) meanChunk<T, Wide, 1>(out, rows, count, from, j);
  for (; j < n; j++) meanChunk<T, Lane1<double>, 1>(out, rows, count, from, j);
  const double c = double(count);
  for (int64_t i = 0; i < n; i++) out[i] /= c;
}

// MAML's inner step (kernels/metabatch.cc), a loop the compiler vectorises at the level's width.
template <typename T>
void gradientStepImpl(const T* x, const T* __restrict g, double a, const uint8_t* __restrict mask, T* y, int64_t n) {
  if (!mask) {
    for (int64_t j = 0; j < n; j++) y[j] = static_cast<T>(double(x[j]) - a * double(g[j]));
    return;
  }
  for (int64_t j = 0; j < n; j++) y[j] = mask[j] ? static_cast<T>(double(x[j]) - a * double(g[j])) : x[j];
}

// The optimiser updates (kernels/optim.cc gives the formulas). Float64 parameters are updated in
// double; float32 parameters in float arithmetic, as PyTorch does (a division and a square root
// per element cost four times less in float lanes); with the coefficients rounded to float once.
//
// Optimiser state below the smallest normal number of its stored type is stored as zero. The
// moments of a parameter whose gradient stays zero (a dead ReLU unit) decay geometrically: Adam's
// first moment reaches the subnormal range after about 800 steps, and on x86 every operation on a
// subnormal float takes a microcode assist, so an update over such a vector runs ten times slower
// (and one subnormal lane slows its whole vector). A zero moment gives the same parameter update
// to within a subnormal step.
template <typename S, typename A>
METATASK_INLINE A flushSubnormal(A x) {
  return std::abs(x) < A(std::numeric_limits<S>::min()) ? A(0) : x;
}

template <typename T, typename A>
void adamLoop(T* __restrict params, const T* __restrict grad, T* __restrict m, T* __restrict v, int64_t n, const AdamCoeffs& c) {
  const A b1 = A(c.beta1), b2 = A(c.beta2), omb1 = A(1.0 - c.beta1), omb2 = A(1.0 - c.beta2), eps = A(c.eps);
  const A stepSize = A(c.stepSize), bc2Sqrt = A(c.bc2Sqrt), decay = A(c.decay), l2 = A(c.l2);
  for (int64_t i = 0; i < n; ++i) {
    A p = params[i];
    const A g = A(grad[i]) + l2 * p;
    p *= decay;
    const A mi = flushSubnormal<T>(b1 * A(m[i]) + omb1 * g);
    const A vi = flushSubnormal<T>(b2 * A(v[i]) + omb2 * g * g);
    m[i] = T(mi);
    v[i] = T(vi);
    params[i] = T(p - stepSize * mi / (sqrtOf(vi) / bc2Sqrt + eps));
  }
}

template <typename T>
void adamImpl(T* params, const T* grad, T* m, T* v, int64_t n, const AdamCoeffs& c) {
  adamLoop<T, T>(params, grad, m, v, n, c);
}

template <typename T>
void sgdImpl(T* __restrict params, const T* __restrict grad, T* __restrict velocity, int64_t n, const SgdCoeffs& c) {
  const double lr = c.lr, mom = c.momentum, damp = c.dampening, wd = c.weightDecay;
  if (mom == 0.0) {
    for (int64_t i = 0; i < n; ++i) {
      const double p = params[i];
      params[i] = static_cast<T>(p - lr * (static_cast<double>(grad[i]) + wd * p));
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const double p = params[i];
    const double g = static_cast<double>(grad[i]) + wd * p;
    // PyTorch creates the buffer as a copy of the gradient at the first step (no dampening).
    const double buf = flushSubnormal<T>(c.first ? g : mom * static_cast<double>(velocity[i]) + (1.0 - damp) * g);
    velocity[i] = static_cast<T>(buf);
    params[i] = static_cast<T>(p - lr * (c.nesterov ? g + mom * buf : buf));
  }
}

template <typename T>
void rmspropImpl(T* __restrict params, const T* __restrict grad, T* __restrict squareAvg, T* __restrict momentumBuf, int64_t n,
                 const RmspropCoeffs& c) {
  const double lr = c.lr, alpha = c.alpha, eps = c.eps, mom = c.momentum, wd = c.weightDecay;
  for (int64_t i = 0; i < n; ++i) {
    const double p = params[i];
    const double g = static_cast<double>(grad[i]) + wd * p;
    const double s = flushSubnormal<T>(alpha * static_cast<double>(squareAvg[i]) + (1.0 - alpha) * g * g);
    squareAvg[i] = static_cast<T>(s);
    const double avg = sqrtOf(s) + eps;
    if (mom > 0.0) {
      const double buf = flushSubnormal<T>(mom * static_cast<double>(momentumBuf[i]) + g / avg);
      momentumBuf[i] = static_cast<T>(buf);
      params[i] = static_cast<T>(p - lr * buf);
    } else {
      params[i] = static_cast<T>(p - lr * g / avg);
    }
  }
}

// Eight lanes of double in 8 / kWidth vectors (eight scalars on the plain level).
template <typename T>
void bnMomentsImpl(const T* x, int64_t n, double shift, double* s1, double* s2) {
  using D = VecOf<double>;
  constexpr int W = D::kWidth;
  constexpr int NV = 8 / W;
  static_assert(8 % W == 0, "eight lanes of whole vectors");
  typename D::V a1[NV], a2[NV];
  for (int v = 0; v < NV; v++) {
    a1[v] = D::load(s1 + v * W);
    a2[v] = D::load(s2 + v * W);
  }
  const typename D::V k = D::set1(shift);
  int64_t p = 0;
  for (; p + 8 <= n; p += 8) {
    for (int v = 0; v < NV; v++) {
      const typename D::V d = D::sub(D::load(x + p + v * W), k);
      a1[v] = D::add(a1[v], d);
      a2[v] = D::add(a2[v], D::mul(d, d));
    }
  }
  for (int v = 0; v < NV; v++) {
    D::store(s1 + v * W, a1[v]);
    D::store(s2 + v * W, a2[v]);
  }
  for (; p < n; p++) {
    const double d = double(x[p]) - shift;
    s1[p % 8] += d;
    s2[p % 8] += d * d;
  }
}

// ---- batchnorm -> ReLU -> 2 x 2 max-pool chains (simd/ops.h), one plane at a time: each window's
// four values are the even and odd elements of two input rows; every output is computed alone
// by comparisons and selects, so all widths give the same bits.

template <typename V>
METATASK_INLINE typename V::V reluAffine(typename V::V x, typename V::V a, typename V::V c) {
  const typename V::V t = V::add(V::mul(x, a), c);
  return V::select(V::gt(t, V::zero()), t, V::zero());
}

// Outputs [j, j + W) of one output row; r0, r1 the window's two input rows from column 2j.
template <typename T, typename V>
METATASK_INLINE void poolChunk(const T* r0, const T* r1, T a, T c, T* y, uint8_t* argmax, T* xmax) {
  constexpr int W = V::kWidth;
  using R = typename V::V;
  R x00, x01, x10, x11;
  V::evenOdd(V::load(r0), V::load(r0 + W), x00, x01);
  V::evenOdd(V::load(r1), V::load(r1 + W), x10, x11);
  const R va = V::set1(a), vc = V::set1(c);
  const R t01 = reluAffine<V>(x01, va, vc), t10 = reluAffine<V>(x10, va, vc), t11 = reluAffine<V>(x11, va, vc);
  R best = reluAffine<V>(x00, va, vc), at = V::zero(), xb = x00;
  typename V::M m = V::gt(t01, best);
  best = V::select(m, t01, best);
  at = V::select(m, V::set1(T(1)), at);
  xb = V::select(m, x01, xb);
  m = V::gt(t10, best);
  best = V::select(m, t10, best);
  at = V::select(m, V::set1(T(2)), at);
  xb = V::select(m, x10, xb);
  m = V::gt(t11, best);
  best = V::select(m, t11, best);
  at = V::select(m, V::set1(T(3)), at);
  xb = V::select(m, x11, xb);
  V::store(y, best);
  V::store(xmax, xb);
  T codes[W];
  V::store(codes, at);
  for (int l = 0; l < W; l++) argmax[l] = static_cast<uint8_t>(codes[l]);
}

// chunk(V{}, j) for output columns [j, j + V::kWidth) covering [0, wo) of a pooled row: the
// widest vectors that fit the row, the last one shifted back to end at wo. Columns it computes
// twice get the same bits both times (every output is computed alone), so a row of 14 costs two
// vectors of 8 instead of a vector of 8, one of 4 and two single lanes. Only for chunks that
// assign their outputs.
template <typename T, typename F>
METATASK_INLINE void overlappingChunks(int64_t wo, const F& chunk) {
  using Wd = Widths<T>;
  const auto run = [&](auto v) {
    constexpr int64_t W = decltype(v)::kWidth;
    int64_t j = 0;
    for (; j + W <= wo; j += W) chunk(v, j);
    if (j < wo) chunk(v, wo - W);
  };
  if (wo >= Wd::Wide::kWidth) run(typename Wd::Wide{});
  else if (wo >= Wd::Half::kWidth) run(typename Wd::Half{});
  else if (wo >= Wd::Quarter::kWidth) run(typename Wd::Quarter{});
  else run(Lane1<T>{});
}

template <typename T>
void bnReluMaxPool2x2Impl(const T* x, int64_t h, int64_t w, T a, T c, T* y, uint8_t* argmax, T* xmax) {
  const int64_t ho = h / 2, wo = w / 2;
  for (int64_t oy = 0; oy < ho; oy++) {
    const T* r0 = x + 2 * oy * w;
    const T* r1 = r0 + w;
    T* yo = y + oy * wo;
    uint8_t* am = argmax + oy * wo;
    T* xo = xmax + oy * wo;
    overlappingChunks<T>(wo, [&](auto v, int64_t j) {
      poolChunk<T, decltype(v)>(r0 + 2 * j, r1 + 2 * j, a, c, yo + j, am + j, xo + j);
    });
  }
}

// The dense part of the backward pass at n positions: g = x B + C, or g + (x B + C).
template <typename T>
void denseBnGrad(const T* x, int64_t n, T B, T C, T* g, bool assign) {
  if (assign) {
    for (int64_t p = 0; p < n; p++) g[p] = x[p] * B + C;
  } else {
    for (int64_t p = 0; p < n; p++) g[p] += x[p] * B + C;
  }
}

template <typename T, typename V>
METATASK_INLINE void poolBackChunk(const T* x0, const T* x1, const T* y, const T* gy, const uint8_t* argmax, T A, T B, T C,
                                   T* g0, T* g1, bool assign) {
  constexpr int W = V::kWidth;
  using R = typename V::V;
  const R vb = V::set1(B), vc = V::set1(C);
  // The dense part of both rows, in input order.
  R d0 = V::add(V::mul(V::load(x0), vb), vc), d1 = V::add(V::mul(V::load(x0 + W), vb), vc);
  R d2 = V::add(V::mul(V::load(x1), vb), vc), d3 = V::add(V::mul(V::load(x1 + W), vb), vc);
  if (!assign) {
    d0 = V::add(V::load(g0), d0);
    d1 = V::add(V::load(g0 + W), d1);
    d2 = V::add(V::load(g1), d2);
    d3 = V::add(V::load(g1 + W), d3);
  }
  R g00, g01, g10, g11;
  V::evenOdd(d0, d1, g00, g01);
  V::evenOdd(d2, d3, g10, g11);
  // d A at the recorded position: codes 0..3 told apart by comparisons with 0.5, 1.5, 2.5.
  T codes[W];
  for (int l = 0; l < W; l++) codes[l] = T(argmax[l]);
  const R k = V::load(codes);
  const R one = V::set1(T(1));
  const R dA = V::mul(V::mul(V::load(gy), V::select(V::gt(V::load(y), V::zero()), one, V::zero())), V::set1(A));
  const typename V::M above0 = V::gt(k, V::set1(T(0.5))), above1 = V::gt(k, V::set1(T(1.5))), above2 = V::gt(k, V::set1(T(2.5)));
  g00 = V::select(above0, g00, V::add(g00, dA));
  g01 = V::select(above1, g01, V::select(above0, V::add(g01, dA), g01));
  g10 = V::select(above2, g10, V::select(above1, V::add(g10, dA), g10));
  g11 = V::select(above2, V::add(g11, dA), g11);
  R lo, hi;
  V::interleave(g00, g01, lo, hi);
  V::store(g0, lo);
  V::store(g0 + W, hi);
  V::interleave(g10, g11, lo, hi);
  V::store(g1, lo);
  V::store(g1 + W, hi);
}

template <typename T>
void bnReluMaxPool2x2BackwardImpl(const T* x, int64_t h, int64_t w, const T* y, const T* gy, const uint8_t* argmax, T A, T B,
                                  T C, T* g, bool assign) {
  using Wide = typename Widths<T>::Wide;
  using Half = typename Widths<T>::Half;
  using Quarter = typename Widths<T>::Quarter;
  const int64_t ho = h / 2, wo = w / 2;
  for (int64_t oy = 0; oy < ho; oy++) {
    const T* x0 = x + 2 * oy * w;
    const T* x1 = x0 + w;
    T* g0 = g + 2 * oy * w;
    T* g1 = g0 + w;
    const int64_t o = oy * wo;
    if (assign) {
      // Overlapping chunks write the same values twice; accumulating ones would add twice.
      overlappingChunks<T>(wo, [&](auto v, int64_t j) {
        poolBackChunk<T, decltype(v)>(x0 + 2 * j, x1 + 2 * j, y + o + j, gy + o + j, argmax + o + j, A, B, C, g0 + 2 * j,
                                      g1 + 2 * j, true);
      });
    }
    int64_t j = assign ? wo : 0;
#define METATASK_POOL_BACK(V)                                                                                         \
  poolBackChunk<T, V>(x0 + 2 * j, x1 + 2 * j, y + o + j, gy + o + j, argmax + o + j, A, B, C, g0 + 2 * j, g1 + 2 * j, \
                      assign)
    for (; j + Wide::kWidth <= wo; j += Wide::kWidth) METATASK_POOL_BACK(Wide);
    if constexpr (Half::kWidth < Wide::kWidth)
      for (; j + Half::kWidth <= wo; j += Half::kWidth) METATASK_POOL_BACK(Half);
    if constexpr (Quarter::kWidth < Half::kWidth)
      for (; j + Quarter::kWidth <= wo; j += Quarter::kWidth) METATASK_POOL_BACK(Quarter);
    for (; j < wo; j++) METATASK_POOL_BACK(Lane1<T>);
#undef METATASK_POOL_BACK
    // An odd last column belongs to no window.
    if (w > 2 * wo) {
      denseBnGrad(x0 + 2 * wo, w - 2 * wo, B, C, g0 + 2 * wo, assign);
      denseBnGrad(x1 + 2 * wo, w - 2 * wo, B, C, g1 + 2 * wo, assign);
    }
  }
  // So does an odd last row.
  if (h > 2 * ho) denseBnGrad(x + 2 * ho * w, (h - 2 * ho) * w, B, C, g + 2 * ho * w, assign);
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
                    kDirectMaxOutput,                                                                  \
                    &ddotImpl,                                                                         \
                    &daxpyImpl,                                                                        \
                    &daxpyRowsImpl,                                                                    \
                    &daxpyDotsRowsImpl,                                                                \
                    {&reluImpl<float>, &reluBackwardImpl<float>, &reluGateImpl<float>, &addColumnSumsImpl<float>, &addSquaredDeviationsImpl<float>,            \
                     &adamImpl<float>, &sgdImpl<float>, &rmspropImpl<float>,                              \
                     &bnMomentsImpl<float>, &bnReluMaxPool2x2Impl<float>, &bnReluMaxPool2x2BackwardImpl<float>, &meanOfRowsImpl<float>, &gradientStepImpl<float>},                          \
                    {&reluImpl<double>, &reluBackwardImpl<double>, &reluGateImpl<double>, &addColumnSumsImpl<double>, &addSquaredDeviationsImpl<double>,         \
                     &adamImpl<double>, &sgdImpl<double>, &rmspropImpl<double>,                           \
                     &bnMomentsImpl<double>, &bnReluMaxPool2x2Impl<double>, &bnReluMaxPool2x2BackwardImpl<double>, &meanOfRowsImpl<double>, &gradientStepImpl<double>}};                      \
  }
