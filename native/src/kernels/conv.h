// 2-d convolution of NCHW images (twin: lib/kernels/js/conv.ts), as PyTorch's Conv2d
// (cross-correlation): Y[n, f, oy, ox] = b[f] + sum_{c,i,j} W[f, c, i, j] X[n, c, oy sh + i - ph, ox sw + j - pw],
// X zero outside the image. The network kernel (network.cc) calls these three products for the
// forward pass, the backward pass and both R-passes (convolution is bilinear in X and W).
//
// im2col (Chellapilla et al. 2006) plus simd::gemm: the patches of a chunk of images side by side
// as a K x (images HWo) matrix (K = C kh kw), so small late layers still give the GEMM wide
// products. Threads run chunks of images; every output value is computed by one thread with the
// GEMM's fixed summation order, and the weight gradient is summed over a fixed number of image
// groups in group order, so results do not depend on the thread count.
#pragma once
#include "config.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace metatask::conv {

struct Geometry {
  int c = 0, h = 0, w = 0;    // input image
  int f = 0;                  // filters (output channels)
  int kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
  int ho = 0, wo = 0;         // output image
  int64_t patch() const { return int64_t(c) * kh * kw; }
  int64_t outPlane() const { return int64_t(ho) * wo; }
  int64_t inSize() const { return int64_t(c) * h * w; }
  int64_t outSize() const { return int64_t(f) * ho * wo; }
};

// Scratch buffers of the threads of a call (slot s of runtime::parallelFor uses set s), kept by
// the caller between calls so that a steady-state call allocates nothing.
template <typename T>
class Scratch {
 public:
  // Make room for `slots` slots; called before the threads start (get never resizes the table).
  void reserve(int slots);
  // Buffer `which` (0..3) of slot `slot`, at least `size` elements.
  T* get(int slot, int which, int64_t size);
  int64_t bytesHeld() const;

 private:
  std::vector<std::vector<T>> bufs_;  // slot * 4 + which
};

// Images per chunk: enough for about `target` units (output pixels, or tiles) at `perImage` each,
// at least one, at most `count`.
inline int imagesPerChunk(int64_t perImage, int count, int64_t target) {
  const int64_t per = std::max<int64_t>(1, (target + perImage - 1) / perImage);
  return static_cast<int>(std::min<int64_t>(per, std::max(1, count)));
}

// Image groups of a weight gradient, each summed into its own partial by one task and the partials
// added in group order: at most eight (enough to keep the threads busy) and at least `minUnits`
// units each (small batches, as MAML's support sets, make one group: a group's partial costs a
// pass over the gradient). A function of the batch and the geometry only, so the summation order
// never depends on the thread count.
inline int weightGroups(int64_t perImage, int count, int64_t minUnits) {
  constexpr int64_t kMaxGroups = 8;
  const int64_t byWork = std::max<int64_t>(1, int64_t(count) * perImage / minUnits);
  return static_cast<int>(std::min<int64_t>({int64_t(count), kMaxGroups, byWork}));
}

// y[n] = conv(x[n], w) + bias for n < count (bias may be null: no bias); with accumulate, y[n] +=
// conv(x[n], w) (bias must then be null).
template <typename T>
void forward(const Geometry& g, int count, const T* x, const T* w, const T* bias, T* y, bool accumulate, Scratch<T>& s,
             int threads);

// gx[n] += conv^T(gy[n], w): the gradient of the input.
template <typename T>
void backwardData(const Geometry& g, int count, const T* gy, const T* w, T* gx, Scratch<T>& s, int threads);

// gw += sum_n gy[n] cols(x[n])^T (F x K, W's layout) and, when gb is not null, gb[f] += the sum of
// gy[n, f, :, :] over images and pixels.
template <typename T>
void backwardWeights(const Geometry& g, int count, const T* x, const T* gy, T* gw, T* gb, Scratch<T>& s, int threads);

extern template class Scratch<float>;
extern template class Scratch<double>;

}  // namespace metatask::conv
