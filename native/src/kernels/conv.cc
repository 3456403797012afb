// 2-d convolution of NCHW images by im2col and simd::gemm (formulas and threading in conv.h); the
// three products of 3 x 3 'same' convolutions on enough channels go to Winograd's form instead
// (winograd.h), which needs 2.25 times fewer multiply-adds.
//
//   forward:       Y_chunk  = W (F x K) cols (K x cols)             then scattered to NCHW (+ bias)
//   data grad.:    dcols    = W^T (K x F) GY_chunk (F x cols)       then col2im added into GX
//   weight grad.:  gW^T_group += [cols; 1] ((K+1) x cols) GY_chunk^T (cols x F) per image group (or
//                  gW_group += GY_chunk [colsT, 1] when K + 1 < F), groups summed in order; the
//                  row of ones gives the bias gradient
// A chunk is a run of consecutive images whose patches sit side by side (about kTargetCols
// columns), so late layers with a few pixels per image still make wide products; with one image
// per chunk the GEMM reads and writes the NCHW buffers directly. The weight gradient puts the
// larger operand on the GEMM's A side, which it packs with contiguous reads: the patch matrix for
// the deep layers (K = 576), GY for a first layer of few channels (K = 9).
#include "kernels/conv.h"

#include <algorithm>
#include <vector>

#include "kernels/winograd.h"
#include "runtime/threads.h"
#include "simd/gemm.h"

namespace metatask::conv {

namespace {

// Columns a chunk of images aims for. The forward product, whose chunk is the width of C: 192,
// so that a 14 x 14 plane or larger is a chunk of its own, computed straight into Y. The data
// gradient, whose chunk is also C's width: at least 384 (two 14 x 14 planes, eight 7 x 7 ones),
// where the edge of the last register tile is a small part of the row. The weight gradient,
// whose chunk is the summed dimension: 192 (its patch matrix, K + 1 rows of it, stays in L2).
constexpr int64_t kTargetCols = 192;
constexpr int64_t kDataTargetCols = 384;
constexpr int64_t kWeightTargetCols = 192;
// Output pixels per weight-gradient group at least (weightGroups in conv.h).
constexpr int64_t kGroupCols = 2048;
// The narrow weight-gradient product's width is a multiple of this (whole vectors on every level).
constexpr int64_t kNarrowMultiple = 16;

// Stride 1 with the output as wide as the input ("same" padding along the rows): output pixel q
// = oy wo + ox of patch element (i, j) reads input pixel q + shift, so a whole row of the patch
// matrix is one run of the input plane, except for whole output rows above or below the image
// and the columns whose input column falls outside it (read from the neighbouring row by the
// run, then set to zero).
struct Run {
  int64_t shift;    // input pixel - output pixel
  int64_t lo, hi;   // output pixels [lo, hi) read the plane (and only they may be zero-free)
  int xlo, xhi;     // output columns [xlo, xhi) read inside the image
};

inline bool sameWidth(const Geometry& g) { return g.sh == 1 && g.sw == 1 && g.wo == g.w; }

inline Run runOf(const Geometry& g, int i, int j) {
  const int64_t W = g.w, HW = int64_t(g.h) * g.w;
  Run r;
  r.shift = int64_t(i - g.ph) * W + (j - g.pw);
  const int64_t oyLo = std::max(0, g.ph - i), oyHi = std::min(g.ho, g.h + g.ph - i);
  r.lo = std::max(oyLo * W, -r.shift);
  r.hi = std::max(r.lo, std::min(oyHi * W, HW - r.shift));
  r.xlo = std::max(0, g.pw - j);
  r.xhi = std::min(g.wo, g.w + g.pw - j);
  return r;
}

template <typename T>
void im2colSameWidth(const Geometry& g, const T* x, T* cols, int64_t ld, int64_t col0) {
  const int64_t HW = int64_t(g.h) * g.w, n = g.outPlane();
  int64_t row = 0;
  for (int ci = 0; ci < g.c; ci++) {
    const T* plane = x + int64_t(ci) * HW;
    for (int i = 0; i < g.kh; i++) {
      for (int j = 0; j < g.kw; j++, row++) {
        T* out = cols + row * ld + col0;
        const Run r = runOf(g, i, j);
        std::fill(out, out + r.lo, T(0));
        std::copy(plane + r.lo + r.shift, plane + r.hi + r.shift, out + r.lo);
        std::fill(out + r.hi, out + n, T(0));
        for (int oy = 0; oy < g.ho; oy++) {
          T* o = out + int64_t(oy) * g.wo;
          for (int ox = 0; ox < r.xlo; ox++) o[ox] = T(0);
          for (int ox = r.xhi; ox < g.wo; ox++) o[ox] = T(0);
        }
      }
    }
  }
}

// im2col for stride 1: each channel's plane is copied once into a zero-padded plane, from which
// every patch row is a run of wo values per output row, with no bounds to test.
template <typename T>
void im2colStride1(const Geometry& g, const T* x, T* cols, int64_t ld, int64_t col0) {
  const int H = g.h, W = g.w;
  const int Hp = H + 2 * g.ph, Wp = W + 2 * g.pw;
  std::vector<T> pad(size_t(Hp) * Wp, T(0));
  int64_t row = 0;
  for (int ci = 0; ci < g.c; ci++) {
    const T* plane = x + int64_t(ci) * H * W;
    // Rows of a few dozen values: a plain loop beats a memcpy call per row.
    for (int y = 0; y < H; y++)
      for (int xx = 0; xx < W; xx++) pad[size_t(y + g.ph) * Wp + g.pw + xx] = plane[int64_t(y) * W + xx];
    for (int i = 0; i < g.kh; i++) {
      for (int j = 0; j < g.kw; j++, row++) {
        T* out = cols + row * ld + col0;
        for (int oy = 0; oy < g.ho; oy++) {
          const T* src = pad.data() + int64_t(oy + i) * Wp + j;
          T* o = out + int64_t(oy) * g.wo;
          for (int ox = 0; ox < g.wo; ox++) o[ox] = src[ox];
        }
      }
    }
  }
}

// cols[k, col0 + p] = the value patch element k of output pixel p reads from image x (row stride ld).
template <typename T>
void im2col(const Geometry& g, const T* x, T* cols, int64_t ld, int64_t col0) {
  if (sameWidth(g)) {
    im2colSameWidth(g, x, cols, ld, col0);
    return;
  }
  if (g.sh == 1 && g.sw == 1) {
    im2colStride1(g, x, cols, ld, col0);
    return;
  }
  const int H = g.h, W = g.w;
  int64_t row = 0;
  for (int ci = 0; ci < g.c; ci++) {
    const T* plane = x + int64_t(ci) * H * W;
    for (int i = 0; i < g.kh; i++) {
      for (int j = 0; j < g.kw; j++, row++) {
        T* out = cols + row * ld + col0;
        // Output columns whose input column lies inside the image: lo <= ox < hi.
        int lo = 0, hi = g.wo;
        while (lo < hi && lo * g.sw + j - g.pw < 0) lo++;
        while (hi > lo && (hi - 1) * g.sw + j - g.pw >= W) hi--;
        for (int oy = 0; oy < g.ho; oy++) {
          T* o = out + int64_t(oy) * g.wo;
          const int y = oy * g.sh + i - g.ph;
          if (y < 0 || y >= H) {
            std::fill(o, o + g.wo, T(0));
            continue;
          }
          const T* src = plane + int64_t(y) * W;
          for (int ox = 0; ox < lo; ox++) o[ox] = T(0);
          if (g.sw == 1) {
            // Short rows (a 28-pixel image): a plain loop beats a memcpy call.
            for (int ox = lo; ox < hi; ox++) o[ox] = src[ox + j - g.pw];
          } else {
            for (int ox = lo; ox < hi; ox++) o[ox] = src[ox * g.sw + j - g.pw];
          }
          for (int ox = hi; ox < g.wo; ox++) o[ox] = T(0);
        }
      }
    }
  }
}

// d[q] += v[q] for q in [lo, hi): a run of one patch row (d in GX, v in dcols; they never
// overlap, which lets the compiler vectorise it).
template <typename T>
inline void addRun(T* __restrict d, const T* __restrict v, int64_t lo, int64_t hi) {
  for (int64_t q = lo; q < hi; q++) d[q] += v[q];
}

// gx += col2im(dcols): every patch value added back to the pixel it was read from, in the order
// of im2col's loops. With sameWidth, each patch row is added as one run after its values from
// outside the image are set to zero in dcols (adding +0 leaves every sum as it was).
template <typename T>
void col2im(const Geometry& g, T* dcols, int64_t ld, int64_t col0, T* gx) {
  if (sameWidth(g)) {
    const int64_t HW = int64_t(g.h) * g.w;
    int64_t row = 0;
    for (int ci = 0; ci < g.c; ci++) {
      T* plane = gx + int64_t(ci) * HW;
      for (int i = 0; i < g.kh; i++) {
        for (int j = 0; j < g.kw; j++, row++) {
          T* in = dcols + row * ld + col0;
          const Run r = runOf(g, i, j);
          for (int oy = 0; oy < g.ho; oy++) {
            T* v = in + int64_t(oy) * g.wo;
            for (int ox = 0; ox < r.xlo; ox++) v[ox] = T(0);
            for (int ox = r.xhi; ox < g.wo; ox++) v[ox] = T(0);
          }
          addRun(plane + r.lo + r.shift, in + r.lo, 0, r.hi - r.lo);
        }
      }
    }
    return;
  }
  const int H = g.h, W = g.w;
  int64_t row = 0;
  for (int ci = 0; ci < g.c; ci++) {
    T* plane = gx + int64_t(ci) * H * W;
    for (int i = 0; i < g.kh; i++) {
      for (int j = 0; j < g.kw; j++, row++) {
        const T* in = dcols + row * ld + col0;
        int lo = 0, hi = g.wo;
        while (lo < hi && lo * g.sw + j - g.pw < 0) lo++;
        while (hi > lo && (hi - 1) * g.sw + j - g.pw >= W) hi--;
        for (int oy = 0; oy < g.ho; oy++) {
          const int y = oy * g.sh + i - g.ph;
          if (y < 0 || y >= H) continue;
          const T* v = in + int64_t(oy) * g.wo;
          T* dst = plane + int64_t(y) * W;
          if (g.sw == 1) {
            addRun(dst + j - g.pw, v, lo, hi);
          } else {
            for (int ox = lo; ox < hi; ox++) dst[ox * g.sw + j - g.pw] += v[ox];
          }
        }
      }
    }
  }
}

// colsT[(row0 + p) ld + k] = cols[k, p] of image x: one row of K patch values per output pixel
// (row stride ld >= K). Used where K is small (a first layer on few channels). At stride 1 every
// channel is first copied into a zero-padded plane, as in im2colStride1, so no read is tested.
template <typename T>
void im2colT(const Geometry& g, const T* x, T* colsT, int64_t ld, int64_t row0) {
  const int H = g.h, W = g.w;
  if (g.sh == 1 && g.sw == 1) {
    const int Hp = H + 2 * g.ph, Wp = W + 2 * g.pw;
    std::vector<T> pad(size_t(Hp) * Wp, T(0));
    for (int ci = 0; ci < g.c; ci++) {
      const T* plane = x + int64_t(ci) * H * W;
      for (int y = 0; y < H; y++)
        for (int xx = 0; xx < W; xx++) pad[size_t(y + g.ph) * Wp + g.pw + xx] = plane[int64_t(y) * W + xx];
      for (int oy = 0; oy < g.ho; oy++) {
        for (int ox = 0; ox < g.wo; ox++) {
          T* d = colsT + (row0 + int64_t(oy) * g.wo + ox) * ld + int64_t(ci) * g.kh * g.kw;
          for (int i = 0; i < g.kh; i++, d += g.kw) {
            const T* src = pad.data() + int64_t(oy + i) * Wp + ox;
            for (int j = 0; j < g.kw; j++) d[j] = src[j];
          }
        }
      }
    }
    return;
  }
  for (int oy = 0; oy < g.ho; oy++) {
    for (int ox = 0; ox < g.wo; ox++) {
      T* dst = colsT + (row0 + int64_t(oy) * g.wo + ox) * ld;
      for (int ci = 0; ci < g.c; ci++) {
        const T* plane = x + int64_t(ci) * H * W;
        for (int i = 0; i < g.kh; i++) {
          const int y = oy * g.sh + i - g.ph;
          T* d = dst + (int64_t(ci) * g.kh + i) * g.kw;
          for (int j = 0; j < g.kw; j++) {
            const int xx = ox * g.sw + j - g.pw;
            d[j] = y >= 0 && y < H && xx >= 0 && xx < W ? plane[int64_t(y) * W + xx] : T(0);
          }
        }
      }
    }
  }
}

// Chunk c of `count` images, `per` images each: [first, first + images).
struct Chunk {
  int first, images;
};
inline Chunk chunkOf(int c, int per, int count) { return {c * per, std::min(per, count - c * per)}; }

// The GEMM threads of one task: all of them when there is a single task, else one (the tasks
// themselves run in parallel). The GEMM's result does not depend on it.
inline int innerThreads(int tasks, int threads) { return tasks == 1 ? threads : 1; }

// body(chunk, slot, inner) for every chunk of images on up to `threads` threads (inner: the
// GEMM threads of one chunk), with the slots' scratch reserved.
template <typename T, typename F>
void forChunks(const Geometry& g, int count, int64_t targetCols, Scratch<T>& s, int threads, const F& body) {
  const int per = imagesPerChunk(g.outPlane(), count, targetCols);
  const int chunks = (count + per - 1) / per;
  const int inner = innerThreads(chunks, threads);
  s.reserve(std::max(1, std::min(threads, chunks)));
  runtime::parallelFor(chunks, threads, [&](int c, int slot) { body(chunkOf(c, per, count), slot, inner); });
}

// The gradient rows of `images` consecutive images (F x HWo each, NCHW) side by side as one
// F x (images HWo) matrix in `out`.
template <typename T>
void gatherChunk(const T* gy, int64_t F, int64_t HWo, int images, T* out) {
  const int64_t cols = int64_t(images) * HWo;
  for (int j = 0; j < images; j++)
    for (int64_t f = 0; f < F; f++) {
      // Runs of a few dozen values (a late layer's plane): a loop, not a memcpy call.
      T* d = out + f * cols + int64_t(j) * HWo;
      const T* v = gy + (int64_t(j) * F + f) * HWo;
      for (int64_t p = 0; p < HWo; p++) d[p] = v[p];
    }
}

}  // namespace

template <typename T>
void Scratch<T>::reserve(int slots) {
  if (bufs_.size() < size_t(slots) * 4) bufs_.resize(size_t(slots) * 4);
}

template <typename T>
T* Scratch<T>::get(int slot, int which, int64_t size) {
  std::vector<T>& b = bufs_.at(size_t(slot) * 4 + size_t(which));
  if (int64_t(b.size()) < size) b.resize(size_t(size));
  return b.data();
}

template <typename T>
int64_t Scratch<T>::bytesHeld() const {
  int64_t b = 0;
  for (const auto& v : bufs_) b += int64_t(v.capacity() * sizeof(T));
  return b;
}

template <typename T>
void forward(const Geometry& g, int count, const T* x, const T* w, const T* bias, T* y, bool accumulate, Scratch<T>& s,
             int threads) {
  if (count <= 0) return;
  if (winograd::applies(g)) {
    winograd::forward(g, count, x, w, bias, y, accumulate, s, threads);
    return;
  }
  const int64_t K = g.patch(), HWo = g.outPlane(), F = g.f;
  forChunks(g, count, kTargetCols, s, threads, [&](Chunk ch, int slot, int inner) {
    const int64_t cols = int64_t(ch.images) * HWo;
    T* buf = s.get(slot, 0, K * cols);
    for (int j = 0; j < ch.images; j++) im2col(g, x + int64_t(ch.first + j) * g.inSize(), buf, cols, int64_t(j) * HWo);
    // One image: straight into Y. Several: into a chunk buffer, then scattered to NCHW.
    T* out = ch.images == 1 ? y + int64_t(ch.first) * F * HWo : s.get(slot, 1, F * cols);
    const bool into = ch.images > 1 || !accumulate;  // `out` starts from the bias (or zero)
    if (into) {
      for (int64_t f = 0; f < F; f++) std::fill(out + f * cols, out + (f + 1) * cols, bias ? bias[f] : T(0));
    }
    simd::gemm<T>(F, cols, K, T(1), w, K, false, buf, cols, false, T(1), out, cols, inner);
    if (ch.images == 1) return;
    for (int j = 0; j < ch.images; j++) {
      T* dst = y + int64_t(ch.first + j) * F * HWo;
      for (int64_t f = 0; f < F; f++) {
        const T* src = out + f * cols + int64_t(j) * HWo;
        T* d = dst + f * HWo;
        if (accumulate) {
          for (int64_t p = 0; p < HWo; p++) d[p] += src[p];
        } else {
          for (int64_t p = 0; p < HWo; p++) d[p] = src[p];
        }
      }
    }
  });
}

template <typename T>
void backwardData(const Geometry& g, int count, const T* gy, const T* w, T* gx, Scratch<T>& s, int threads) {
  if (count <= 0) return;
  if (winograd::applies(g)) {
    winograd::backwardData(g, count, gy, w, gx, s, threads);
    return;
  }
  const int64_t K = g.patch(), HWo = g.outPlane(), F = g.f;
  forChunks(g, count, kDataTargetCols, s, threads, [&](Chunk ch, int slot, int inner) {
    const int64_t cols = int64_t(ch.images) * HWo;
    const T* src = gy + int64_t(ch.first) * F * HWo;
    if (ch.images > 1) {
      T* gather = s.get(slot, 1, F * cols);
      gatherChunk(src, F, HWo, ch.images, gather);
      src = gather;
    }
    T* dcols = s.get(slot, 0, K * cols);
    simd::gemm<T>(K, cols, F, T(1), w, K, true, src, cols, false, T(0), dcols, cols, inner);
    for (int j = 0; j < ch.images; j++) col2im(g, dcols, cols, int64_t(j) * HWo, gx + int64_t(ch.first + j) * g.inSize());
  });
}

template <typename T>
void backwardWeights(const Geometry& g, int count, const T* x, const T* gy, T* gw, T* gb, Scratch<T>& s, int threads) {
  if (count <= 0) return;
  if (winograd::applies(g)) {
    winograd::backwardWeights(g, count, x, gy, gw, gb, s, threads);
    return;
  }
  const int64_t K = g.patch(), HWo = g.outPlane(), F = g.f;
  // The patch matrix gets a row of ones, so the bias gradient (sums of GY) comes out of the same
  // product as row (or column) K. Orientation: the larger of F and K + 1 is the GEMM's row side,
  // whose operand the GEMM packs with contiguous reads; the small operand is the transposed one.
  const int64_t K1 = K + 1;
  const bool wide = K1 >= F;  // gW^T (K1 x F) = [cols; 1] GY^T   else   gW (F x K1) = GY [colsT, 1]
  // In the narrow form the product's columns are K1 rounded up to whole vectors on every level
  // (zero columns past K1): a product 10 columns wide would leave most of its last vector to
  // single lanes. Each element's sum is the same as without the padding.
  const int64_t N1 = wide ? K1 : (K1 + kNarrowMultiple - 1) / kNarrowMultiple * kNarrowMultiple;
  const int per = imagesPerChunk(g.outPlane(), count, kWeightTargetCols);
  const int groups = weightGroups(g.outPlane(), count, kGroupCols);
  const int inner = innerThreads(groups, threads);
  // Group partials (K1 x F or F x N1), each written by the one task of its group. Slot 0's fourth
  // buffer is shared by the call (no slot uses its own).
  const int64_t stride = N1 * F;
  s.reserve(std::max(1, std::min(threads, groups)));
  T* partials = s.get(0, 3, stride * groups);
  runtime::parallelFor(groups, threads, [&](int grp, int slot) {
    const int from = int(int64_t(count) * grp / groups), to = int(int64_t(count) * (grp + 1) / groups);
    T* part = partials + stride * grp;
    bool first = true;
    for (int n0 = from; n0 < to; n0 += per) {
      const int images = std::min(per, to - n0);
      const int64_t cols = int64_t(images) * HWo;
      const T* src = gy + int64_t(n0) * F * HWo;
      int64_t ld = HWo;  // GY of the chunk as F x cols with row stride ld
      if (images > 1) {
        T* gather = s.get(slot, 1, F * cols);
        gatherChunk(src, F, HWo, images, gather);
        src = gather;
        ld = cols;
      }
      T* buf = s.get(slot, 0, N1 * cols);
      const T beta = first ? T(0) : T(1);
      if (wide) {
        for (int j = 0; j < images; j++) im2col(g, x + int64_t(n0 + j) * g.inSize(), buf, cols, int64_t(j) * HWo);
        std::fill(buf + K * cols, buf + K1 * cols, T(1));
        simd::gemm<T>(K1, F, cols, T(1), buf, cols, false, src, ld, true, beta, part, F, inner);
      } else {
        for (int j = 0; j < images; j++) im2colT(g, x + int64_t(n0 + j) * g.inSize(), buf, N1, int64_t(j) * HWo);
        for (int64_t p = 0; p < cols; p++) {
          buf[p * N1 + K] = T(1);
          std::fill(buf + p * N1 + K1, buf + (p + 1) * N1, T(0));
        }
        simd::gemm<T>(F, N1, cols, T(1), src, ld, false, buf, N1, false, beta, part, N1, inner);
      }
      first = false;
    }
  });
  // Sum the groups in order (double), into gW (F x K) and gb.
  const auto at = [&](int64_t f, int64_t k) { return wide ? k * F + f : f * N1 + k; };
  for (int64_t f = 0; f < F; f++) {
    for (int64_t k = 0; k < K; k++) {
      double acc = 0;
      for (int grp = 0; grp < groups; grp++) acc += partials[stride * grp + at(f, k)];
      gw[f * K + k] = static_cast<T>(double(gw[f * K + k]) + acc);
    }
  }
  if (!gb) return;
  for (int64_t f = 0; f < F; f++) {
    double acc = 0;
    for (int grp = 0; grp < groups; grp++) acc += partials[stride * grp + at(f, K)];
    gb[f] = static_cast<T>(double(gb[f]) + acc);
  }
}

template class Scratch<float>;
template class Scratch<double>;

#define METATASK_CONV_INSTANTIATE(T)                                                                              \
  template void forward<T>(const Geometry&, int, const T*, const T*, const T*, T*, bool, Scratch<T>&, int);       \
  template void backwardData<T>(const Geometry&, int, const T*, const T*, T*, Scratch<T>&, int);                  \
  template void backwardWeights<T>(const Geometry&, int, const T*, const T*, T*, T*, Scratch<T>&, int);
METATASK_CONV_INSTANTIATE(float)
METATASK_CONV_INSTANTIATE(double)
#undef METATASK_CONV_INSTANTIATE

}  // namespace metatask::conv
