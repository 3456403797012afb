// Pooling of NCHW images over kh x kw windows moved by (sh, sw), no padding (twin:
// lib/kernels/js/pool.ts). The geometry is a convolution's (conv::Geometry with f = c, no padding).
// - Max: y = the window's largest value, the first in row-major window order on a tie; its
//   position in the window (one byte) is recorded so that the backward and R-passes select the
//   same value: GX[argmax] += GY, RY = RX[argmax], RGX[argmax] += RGY.
// - Average: y = the window's mean (sum in double, times 1 / (kh kw)); GX[window] += GY / (kh kw).
// One thread per image plane at a time, windows in order: results do not depend on the thread count.
#pragma once
#include "config.h"

#include <cstdint>

#include "kernels/conv.h"

namespace metatask::pool {

using conv::Geometry;

// The offset in the input plane of each position of a max-pool window (row-major, at most 256
// positions), from the window's top-left value: a table instead of a division per lookup.
struct WindowOffsets {
  explicit WindowOffsets(const Geometry& g) {
    for (int i = 0; i < g.kh; i++)
      for (int j = 0; j < g.kw && i * g.kw + j < 256; j++) off[i * g.kw + j] = int64_t(i) * g.w + j;
  }
  int64_t off[256] = {};
};

template <typename T>
void maxForward(const Geometry& g, int n, const T* x, T* y, uint8_t* argmax, int threads);
// y = x at the recorded positions (the R-forward pass: y = RX[argmax]).
template <typename T>
void maxGather(const Geometry& g, int n, const T* x, const uint8_t* argmax, T* y, int threads);
// gx[recorded positions] += gy.
template <typename T>
void maxScatter(const Geometry& g, int n, const T* gy, const uint8_t* argmax, T* gx, int threads);

template <typename T>
void avgForward(const Geometry& g, int n, const T* x, T* y, int threads);
// gx += gy / (kh kw) over every window.
template <typename T>
void avgBackward(const Geometry& g, int n, const T* gy, T* gx, int threads);

}  // namespace metatask::pool
