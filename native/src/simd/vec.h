// The vector types of one level, chosen by the compiler's target macros of the translation unit
// that includes this header (simd/<level>.cc): AVX-512, AVX2 + FMA, SSE2, NEON, or one-lane plain
// C++. Only simd/ops_impl.h uses them. Everything is in an anonymous namespace, so no out-of-line
// copy compiled for one level can be picked by the linker for another.
//
// Each level offers several widths of the same element type (for example 16, 8 and 4 floats and
// a scalar on AVX-512) so that narrow products still use vectors; every width rounds the same way:
// madd(a, b, c) = a * b + c is one fused rounding on every width where the level has FMA (AVX2,
// AVX-512, NEON) and a multiply then an add on SSE2 and the plain level. The level units are
// compiled with -ffp-contract=off, so the compiler never fuses on its own. Hence one element
// computed through any width gets the same bits.
//
// Besides arithmetic, each type has what the pooling kernels need, all exact: a comparison mask
// (gt: a > b, false where either is NaN) and select(m, a, b) (a where m, else b); evenOdd(lo, hi),
// the even- and odd-indexed elements of the 2 kWidth values lo then hi, and interleave, its inverse.
// The double types also load kWidth floats, converted exactly.
#pragma once

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE2__) || defined(_M_X64)
#include <immintrin.h>
#elif defined(__ARM_NEON) || defined(_M_ARM64)
#include <arm_neon.h>
#endif

#if defined(__AVX512F__)
#define METATASK_VEC_AVX512 1
#elif defined(__AVX2__) && (defined(__FMA__) || defined(_MSC_VER))
#define METATASK_VEC_AVX2 1
#elif defined(__SSE2__) || defined(_M_X64)
#define METATASK_VEC_SSE2 1
#elif defined(__ARM_NEON) || defined(_M_ARM64)
#define METATASK_VEC_NEON 1
#else
#define METATASK_VEC_PLAIN 1
#endif

#if defined(METATASK_VEC_AVX512) || defined(METATASK_VEC_AVX2)
#define METATASK_VEC_FMA 1
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#define METATASK_INLINE static __forceinline
#else
#define METATASK_INLINE static inline __attribute__((always_inline))
#endif

// An anonymous namespace: every name below has internal linkage in the including unit.
namespace {

// The scalar multiply-add of the level (the tails of every loop).
#if defined(METATASK_VEC_FMA)
METATASK_INLINE float smadd(float a, float b, float c) { return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c))); }
METATASK_INLINE double smadd(double a, double b, double c) { return _mm_cvtsd_f64(_mm_fmadd_sd(_mm_set_sd(a), _mm_set_sd(b), _mm_set_sd(c))); }
#elif defined(METATASK_VEC_NEON)
METATASK_INLINE float smadd(float a, float b, float c) { return vget_lane_f32(vfma_f32(vdup_n_f32(c), vdup_n_f32(a), vdup_n_f32(b)), 0); }
METATASK_INLINE double smadd(double a, double b, double c) { return vget_lane_f64(vfma_f64(vdup_n_f64(c), vdup_n_f64(a), vdup_n_f64(b)), 0); }
#else
METATASK_INLINE float smadd(float a, float b, float c) { return a * b + c; }
METATASK_INLINE double smadd(double a, double b, double c) { return a * b + c; }
#endif

// Correctly rounded square roots (IEEE), inlined at the level's width.
#if defined(_MSC_VER) && !defined(__clang__)
METATASK_INLINE float sqrtOf(float x) { return _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(x))); }
METATASK_INLINE double sqrtOf(double x) { return _mm_cvtsd_f64(_mm_sqrt_sd(_mm_setzero_pd(), _mm_set_sd(x))); }
#else
METATASK_INLINE float sqrtOf(float x) { return __builtin_sqrtf(x); }
METATASK_INLINE double sqrtOf(double x) { return __builtin_sqrt(x); }
#endif

// One lane, with the interface of the vector types.
template <typename T>
struct Lane1 {
  using V = T;
  using Scalar = T;
  static constexpr int kWidth = 1;
  METATASK_INLINE V zero() { return T(0); }
  METATASK_INLINE V set1(T x) { return x; }
  METATASK_INLINE V load(const T* p) { return *p; }
  template <typename U>
  METATASK_INLINE V load(const U* p) { return V(*p); }
  METATASK_INLINE void store(T* p, V v) { *p = v; }
  METATASK_INLINE V add(V a, V b) { return a + b; }
  METATASK_INLINE V sub(V a, V b) { return a - b; }
  METATASK_INLINE V mul(V a, V b) { return a * b; }
  METATASK_INLINE V madd(V a, V b, V c) { return smadd(a, b, c); }
  using M = bool;
  METATASK_INLINE M gt(V a, V b) { return a > b; }
  METATASK_INLINE V select(M m, V a, V b) { return m ? a : b; }
  METATASK_INLINE void evenOdd(V lo, V hi, V& even, V& odd) { even = lo; odd = hi; }
  METATASK_INLINE void interleave(V even, V odd, V& lo, V& hi) { lo = even; hi = odd; }
};

#if defined(METATASK_VEC_AVX512) || defined(METATASK_VEC_AVX2) || defined(METATASK_VEC_SSE2)
// 128-bit lanes: FMA3 forms where the level has FMA.
struct F32x4 {
  using V = __m128;
  using Scalar = float;
  static constexpr int kWidth = 4;
  METATASK_INLINE V zero() { return _mm_setzero_ps(); }
  METATASK_INLINE V set1(float x) { return _mm_set1_ps(x); }
  METATASK_INLINE V load(const float* p) { return _mm_loadu_ps(p); }
  METATASK_INLINE void store(float* p, V v) { _mm_storeu_ps(p, v); }
  METATASK_INLINE V add(V a, V b) { return _mm_add_ps(a, b); }
  METATASK_INLINE V sub(V a, V b) { return _mm_sub_ps(a, b); }
  METATASK_INLINE V mul(V a, V b) { return _mm_mul_ps(a, b); }
#if defined(METATASK_VEC_FMA)
  METATASK_INLINE V madd(V a, V b, V c) { return _mm_fmadd_ps(a, b, c); }
#else
  METATASK_INLINE V madd(V a, V b, V c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
#endif
  using M = __m128;
  METATASK_INLINE M gt(V a, V b) { return _mm_cmpgt_ps(a, b); }
  METATASK_INLINE V select(M m, V a, V b) { return _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b)); }
  METATASK_INLINE void evenOdd(V lo, V hi, V& even, V& odd) {
    even = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    odd = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
  }
  METATASK_INLINE void interleave(V even, V odd, V& lo, V& hi) {
    lo = _mm_unpacklo_ps(even, odd);
    hi = _mm_unpackhi_ps(even, odd);
  }
};
struct F64x2 {
  using V = __m128d;
  using Scalar = double;
  static constexpr int kWidth = 2;
  METATASK_INLINE V zero() { return _mm_setzero_pd(); }
  METATASK_INLINE V set1(double x) { return _mm_set1_pd(x); }
  METATASK_INLINE V load(const double* p) { return _mm_loadu_pd(p); }
  METATASK_INLINE V load(const float* p) { return _mm_cvtps_pd(_mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(p))); }
  METATASK_INLINE void store(double* p, V v) { _mm_storeu_pd(p, v); }
  METATASK_INLINE V add(V a, V b) { return _mm_add_pd(a, b); }
  METATASK_INLINE V sub(V a, V b) { return _mm_sub_pd(a, b); }
  METATASK_INLINE V mul(V a, V b) { return _mm_mul_pd(a, b); }
#if defined(METATASK_VEC_FMA)
  METATASK_INLINE V madd(V a, V b, V c) { return _mm_fmadd_pd(a, b, c); }
#else
  METATASK_INLINE V madd(V a, V b, V c) { return _mm_add_pd(_mm_mul_pd(a, b), c); }
#endif
  using M = __m128d;
  METATASK_INLINE M gt(V a, V b) { return _mm_cmpgt_pd(a, b); }
  METATASK_INLINE V select(M m, V a, V b) { return _mm_or_pd(_mm_and_pd(m, a), _mm_andnot_pd(m, b)); }
  METATASK_INLINE void evenOdd(V lo, V hi, V& even, V& odd) {
    even = _mm_unpacklo_pd(lo, hi);
    odd = _mm_unpackhi_pd(lo, hi);
  }
  METATASK_INLINE void interleave(V even, V odd, V& lo, V& hi) {
    lo = _mm_unpacklo_pd(even, odd);
    hi = _mm_unpackhi_pd(even, odd);
  }
};
#endif

#if defined(METATASK_VEC_AVX512) || defined(METATASK_VEC_AVX2)
struct F32x8 {
  using V = __m256;
  using Scalar = float;
  static constexpr int kWidth = 8;
  METATASK_INLINE V zero() { return _mm256_setzero_ps(); }
  METATASK_INLINE V set1(float x) { return _mm256_set1_ps(x); }
  METATASK_INLINE V load(const float* p) { return _mm256_loadu_ps(p); }
  METATASK_INLINE void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  METATASK_INLINE V add(V a, V b) { return _mm256_add_ps(a, b); }
  METATASK_INLINE V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  METATASK_INLINE V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  METATASK_INLINE V madd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  using M = __m256;
  METATASK_INLINE M gt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  METATASK_INLINE V select(M m, V a, V b) { return _mm256_blendv_ps(b, a, m); }
  METATASK_INLINE void evenOdd(V lo, V hi, V& even, V& odd) {
    // Within each 128-bit lane, then the 64-bit pairs put in order.
    const __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 o = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  METATASK_INLINE void interleave(V even, V odd, V& lo, V& hi) {
    const __m256 l = _mm256_unpacklo_ps(even, odd), h = _mm256_unpackhi_ps(even, odd);
    lo = _mm256_permute2f128_ps(l, h, 0x20);
    hi = _mm256_permute2f128_ps(l, h, 0x31);
  }
};
struct F64x4 {
  using V = __m256d;
  using Scalar = double;
  static constexpr int kWidth = 4;
  METATASK_INLINE V zero() { return _mm256_setzero_pd(); }
  METATASK_INLINE V set1(double x) { return _mm256_set1_pd(x); }
  METATASK_INLINE V load(const double* p) { return _mm256_loadu_pd(p); }
  METATASK_INLINE V load(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
  METATASK_INLINE void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  METATASK_INLINE V add(V a, V b) { return _mm256_add_pd(a, b); }
  METATASK_INLINE V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  METATASK_INLINE V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  METATASK_INLINE V madd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  using M = __m256d;
  METATASK_INLINE M gt(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
  METATASK_INLINE V select(M m, V a, V b) { return _mm256_blendv_pd(b, a, m); }
  METATASK_INLINE void evenOdd(V lo, V hi, V& even, V& odd) {
    even = _mm256_permute4x64_pd(_mm256_unpacklo_pd(lo, hi), _MM_SHUFFLE(3, 1, 2, 0));
    odd = _mm256_permute4x64_pd(_mm256_unpackhi_pd(lo, hi), _MM_SHUFFLE(3, 1, 2, 0));
  }
  METATASK_INLINE void interleave(V even, V odd, V& lo, V& hi) {
    const __m256d l = _mm256_unpacklo_pd(even, odd), h = _mm256_unpackhi_pd(even, odd);
    lo = _mm256_permute2f128_pd(l, h, 0x20);
    hi = _mm256_permute2f128_pd(l, h, 0x31);
  }
};
#endif

#if defined(METATASK_VEC_AVX512)
struct F32x16 {
  using V = __m512;
  using Scalar = float;
  static constexpr int kWidth = 16;
  METATASK_INLINE V zero() { return _mm512_setzero_ps(); }
  METATASK_INLINE V set1(float x) { return _mm512_set1_ps(x); }
  METATASK_INLINE V load(const float* p) { return _mm512_loadu_ps(p); }
  METATASK_INLINE void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  METATASK_INLINE V add(V a, V b) { return _mm512_add_ps(a, b); }
  METATASK_INLINE V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  METATASK_INLINE V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  METATASK_INLINE V madd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  using M = __mmask16;
  METATASK_INLINE M gt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  METATASK_INLINE V select(M m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }
  METATASK_INLINE void evenOdd(V lo, V hi, V& even, V& odd) {
    const __m512i e = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i o = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    even = _mm512_permutex2var_ps(lo, e, hi);
    odd = _mm512_permutex2var_ps(lo, o, hi);
  }
  METATASK_INLINE void interleave(V even, V odd, V& lo, V& hi) {
    const __m512i l = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i h = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    lo = _mm512_permutex2var_ps(even, l, odd);
    hi = _mm512_permutex2var_ps(even, h, odd);
  }
};
struct F64x8 {
  using V = __m512d;
  using Scalar = double;
  static constexpr int kWidth = 8;
  METATASK_INLINE V zero() { return _mm512_setzero_pd(); }
  METATASK_INLINE V set1(double x) { return _mm512_set1_pd(x); }
  METATASK_INLINE V load(const double* p) { return _mm512_loadu_pd(p); }
  METATASK_INLINE V load(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
  METATASK_INLINE void store(double* p, V v) { _mm512_storeu_pd(p, v); }
  METATASK_INLINE V add(V a, V b) { return _mm512_add_pd(a, b); }
  METATASK_INLINE V sub(V a, V b) { return _mm512_sub_pd(a, b); }
  METATASK_INLINE V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  METATASK_INLINE V madd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  using M = __mmask8;
  METATASK_INLINE M gt(V a, V b) { return _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ); }
  METATASK_INLINE V select(M m, V a, V b) { return _mm512_mask_blend_pd(m, b, a); }
  METATASK_INLINE void evenOdd(V lo, V hi, V& even, V& odd) {
    even = _mm512_permutex2var_pd(lo, _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0), hi);
    odd = _mm512_permutex2var_pd(lo, _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1), hi);
  }
  METATASK_INLINE void interleave(V even, V odd, V& lo, V& hi) {
    lo = _mm512_permutex2var_pd(even, _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0), odd);
    hi = _mm512_permutex2var_pd(even, _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4), odd);
  }
};
#endif

#if defined(METATASK_VEC_NEON)
struct F32x4 {
  using V = float32x4_t;
  using Scalar = float;
  static constexpr int kWidth = 4;
  METATASK_INLINE V zero() { return vdupq_n_f32(0.0f); }
  METATASK_INLINE V set1(float x) { return vdupq_n_f32(x); }
  METATASK_INLINE V load(const float* p) { return vld1q_f32(p); }
  METATASK_INLINE void store(float* p, V v) { vst1q_f32(p, v); }
  METATASK_INLINE V add(V a, V b) { return vaddq_f32(a, b); }
  METATASK_INLINE V sub(V a, V b) { return vsubq_f32(a, b); }
  METATASK_INLINE V mul(V a, V b) { return vmulq_f32(a, b); }
  METATASK_INLINE V madd(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  using M = uint32x4_t;
  METATASK_INLINE M gt(V a, V b) { return vcgtq_f32(a, b); }
  METATASK_INLINE V select(M m, V a, V b) { return vbslq_f32(m, a, b); }
  METATASK_INLINE void evenOdd(V lo, V hi, V& even, V& odd) {
    even = vuzp1q_f32(lo, hi);
    odd = vuzp2q_f32(lo, hi);
  }
  METATASK_INLINE void interleave(V even, V odd, V& lo, V& hi) {
    lo = vzip1q_f32(even, odd);
    hi = vzip2q_f32(even, odd);
  }
};
struct F64x2 {
  using V = float64x2_t;
  using Scalar = double;
  static constexpr int kWidth = 2;
  METATASK_INLINE V zero() { return vdupq_n_f64(0.0); }
  METATASK_INLINE V set1(double x) { return vdupq_n_f64(x); }
  METATASK_INLINE V load(const double* p) { return vld1q_f64(p); }
  METATASK_INLINE V load(const float* p) { return vcvt_f64_f32(vld1_f32(p)); }
  METATASK_INLINE void store(double* p, V v) { vst1q_f64(p, v); }
  METATASK_INLINE V add(V a, V b) { return vaddq_f64(a, b); }
  METATASK_INLINE V sub(V a, V b) { return vsubq_f64(a, b); }
  METATASK_INLINE V mul(V a, V b) { return vmulq_f64(a, b); }
  METATASK_INLINE V madd(V a, V b, V c) { return vfmaq_f64(c, a, b); }
  using M = uint64x2_t;
  METATASK_INLINE M gt(V a, V b) { return vcgtq_f64(a, b); }
  METATASK_INLINE V select(M m, V a, V b) { return vbslq_f64(m, a, b); }
  METATASK_INLINE void evenOdd(V lo, V hi, V& even, V& odd) {
    even = vuzp1q_f64(lo, hi);
    odd = vuzp2q_f64(lo, hi);
  }
  METATASK_INLINE void interleave(V even, V odd, V& lo, V& hi) {
    lo = vzip1q_f64(even, odd);
    hi = vzip2q_f64(even, odd);
  }
};
#endif

// The widths of each element type at this level, widest first: Wide, then Half and Quarter
// (Lane1 where the level has no such width).
template <typename T>
struct Widths;
#if defined(METATASK_VEC_AVX512)
template <> struct Widths<float> { using Wide = F32x16; using Half = F32x8; using Quarter = F32x4; };
template <> struct Widths<double> { using Wide = F64x8; using Half = F64x4; using Quarter = F64x2; };
#elif defined(METATASK_VEC_AVX2)
template <> struct Widths<float> { using Wide = F32x8; using Half = F32x4; using Quarter = Lane1<float>; };
template <> struct Widths<double> { using Wide = F64x4; using Half = F64x2; using Quarter = Lane1<double>; };
#elif defined(METATASK_VEC_SSE2) || defined(METATASK_VEC_NEON)
template <> struct Widths<float> { using Wide = F32x4; using Half = Lane1<float>; using Quarter = Lane1<float>; };
template <> struct Widths<double> { using Wide = F64x2; using Half = Lane1<double>; using Quarter = Lane1<double>; };
#else
template <> struct Widths<float> { using Wide = Lane1<float>; using Half = Lane1<float>; using Quarter = Lane1<float>; };
template <> struct Widths<double> { using Wide = Lane1<double>; using Half = Lane1<double>; using Quarter = Lane1<double>; };
#endif

template <typename T>
using VecOf = typename Widths<T>::Wide;

}  // namespace
