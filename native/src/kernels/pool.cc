// Max and average pooling, one image plane per task (formulas in pool.h).
#include "kernels/pool.h"

#include "runtime/threads.h"

namespace metatask::pool {

namespace {

constexpr int64_t kParallelMin = int64_t(1) << 15;

// visit(out, base) for every output pixel of plane `plane` (image r, channel c: plane = r C + c):
// `out` its index in y, `base` the index in x of its window's top-left value.
template <typename F>
void planes(const Geometry& g, int n, int threads, const F& visit) {
  const int64_t inPlane = int64_t(g.h) * g.w, outPlane = g.outPlane();
  const int count = n * g.c;
  const int t = int64_t(count) * inPlane >= kParallelMin ? threads : 1;
  runtime::parallelFor(count, t, [&](int plane, int) {
    int64_t out = plane * outPlane;
    const int64_t in = plane * inPlane;
    for (int oy = 0; oy < g.ho; oy++)
      for (int ox = 0; ox < g.wo; ox++, out++) visit(out, in + int64_t(oy) * g.sh * g.w + int64_t(ox) * g.sw);
  });
}


}  // namespace

template <typename T>
void maxForward(const Geometry& g, int n, const T* x, T* y, uint8_t* argmax, int threads) {
  if (g.kh == 2 && g.kw == 2) {
    // The common 2 x 2 window (conv-4): the same comparisons, unrolled.
    planes(g, n, threads, [&](int64_t o, int64_t base) {
      const T* r0 = x + base;
      const T* r1 = r0 + g.w;
      T best = r0[0];
      uint8_t k = 0;
      if (r0[1] > best) best = r0[1], k = 1;
      if (r1[0] > best) best = r1[0], k = 2;
      if (r1[1] > best) best = r1[1], k = 3;
      y[o] = best;
      argmax[o] = k;
    });
    return;
  }
  planes(g, n, threads, [&](int64_t o, int64_t base) {
    T best = x[base];
    int k = 0;
    for (int a = 0; a < g.kh; a++) {
      const T* row = x + base + int64_t(a) * g.w;
      for (int b = 0; b < g.kw; b++) {
        if (row[b] > best) {
          best = row[b];
          k = a * g.kw + b;
        }
      }
    }
    y[o] = best;
    argmax[o] = static_cast<uint8_t>(k);
  });
}

template <typename T>
void maxGather(const Geometry& g, int n, const T* x, const uint8_t* argmax, T* y, int threads) {
  const WindowOffsets w(g);
  planes(g, n, threads, [&](int64_t o, int64_t base) { y[o] = x[base + w.off[argmax[o]]]; });
}

template <typename T>
void maxScatter(const Geometry& g, int n, const T* gy, const uint8_t* argmax, T* gx, int threads) {
  const WindowOffsets w(g);
  planes(g, n, threads, [&](int64_t o, int64_t base) { gx[base + w.off[argmax[o]]] += gy[o]; });
}

template <typename T>
void avgForward(const Geometry& g, int n, const T* x, T* y, int threads) {
  const double scale = 1.0 / (double(g.kh) * g.kw);
  planes(g, n, threads, [&](int64_t o, int64_t base) {
    double s = 0;
    for (int a = 0; a < g.kh; a++) {
      const T* row = x + base + int64_t(a) * g.w;
      for (int b = 0; b < g.kw; b++) s += row[b];
    }
    y[o] = static_cast<T>(s * scale);
  });
}

template <typename T>
void avgBackward(const Geometry& g, int n, const T* gy, T* gx, int threads) {
  const double scale = 1.0 / (double(g.kh) * g.kw);
  planes(g, n, threads, [&](int64_t o, int64_t base) {
    const T v = static_cast<T>(gy[o] * scale);
    for (int a = 0; a < g.kh; a++) {
      T* row = gx + base + int64_t(a) * g.w;
      for (int b = 0; b < g.kw; b++) row[b] += v;
    }
  });
}

#define METATASK_POOL_INSTANTIATE(T)                                                         \
  template void maxForward<T>(const Geometry&, int, const T*, T*, uint8_t*, int);           \
  template void maxGather<T>(const Geometry&, int, const T*, const uint8_t*, T*, int);      \
  template void maxScatter<T>(const Geometry&, int, const T*, const uint8_t*, T*, int);     \
  template void avgForward<T>(const Geometry&, int, const T*, T*, int);                     \
  template void avgBackward<T>(const Geometry&, int, const T*, T*, int);
METATASK_POOL_INSTANTIATE(float)
METATASK_POOL_INSTANTIATE(double)
#undef METATASK_POOL_INSTANTIATE

}  // namespace metatask::pool
