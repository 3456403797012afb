// Batch normalisation, one channel per task (formulas in lib/kernels/js/batchnorm.ts). The forward
// and backward passes of batch mode, on the training path of every convolutional network, are
// written for speed: channel sums run eight accumulators (a fixed pattern, so the order never
// depends on addresses or threads), and the elementwise updates are affine maps with per-channel
// constants, y = x a + b and gx += gy A + x B + C, evaluated in T. The R-passes (second-order
// methods only) keep the plain expressions of batchnorm.ts.
#include "kernels/batchnorm.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/pool.h"
#include "runtime/threads.h"
#include "simd/ops.h"

namespace metatask::batchnorm {

namespace {

// Below this many values a layer runs on one thread: waking a worker costs more.
constexpr int64_t kParallelMin = int64_t(1) << 15;

// body(c0, c1) for blocks of consecutive channels, one block per thread (up to `threads` when the
// layer is large enough); nothing for an empty batch (no statistics exist, and nothing depends on
// them). Every channel's values are computed by one thread, so the split never changes a result.
template <typename F>
void channelBlocks(int C, int64_t values, int threads, const F& body) {
  if (values == 0 || C == 0) return;
  const int parts = values >= kParallelMin ? std::max(1, std::min(threads, C)) : 1;
  runtime::parallelFor(parts, parts, [&](int part, int) { body(C * part / parts, C * (part + 1) / parts); });
}

// visit(ch, o) for the plane of every image and channel ch of [c0, c1), image by image (memory
// order: the hardware prefetches it, where one channel at a time jumps between images); o is the
// plane's offset. Each channel still sees its planes in image order.
template <typename T, typename F>
inline void planes(const Node<T>& b, int c0, int c1, const F& visit) {
  for (int r = 0; r < b.n; r++)
    for (int ch = c0; ch < c1; ch++) visit(ch, (int64_t(r) * b.C + ch) * b.HW);
}

// acc[0..7] += f(o + p) over the plane's HW values in eight accumulators by pixel index mod 8
// (independent lanes the compiler can vectorise).
template <typename F>
inline void add8(int64_t HW, int64_t o, double* acc, const F& f) {
  double a[8];  // in registers: acc may alias what f reads
  for (int l = 0; l < 8; l++) a[l] = acc[l];
  int64_t p = 0;
  for (; p + 8 <= HW; p += 8)
    for (int l = 0; l < 8; l++) a[l] += f(o + p + l);
  for (; p < HW; p++) a[p % 8] += f(o + p);
  for (int l = 0; l < 8; l++) acc[l] = a[l];
}

// The eight accumulators combined pairwise in a fixed tree.
inline double tree8(const double* a) { return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])); }

// sum over channel ch of f(o), for every channel of [c0, c1): images in order, pixels by add8.
template <typename T, typename F>
std::vector<double> sums8(const Node<T>& b, int c0, int c1, const F& f) {
  std::vector<double> acc(size_t(c1 - c0) * 8, 0.0);
  planes(b, c0, c1, [&](int ch, int64_t o) { add8(b.HW, o, acc.data() + size_t(ch - c0) * 8, f); });
  std::vector<double> out(size_t(c1 - c0));
  for (int ch = c0; ch < c1; ch++) out[ch - c0] = tree8(acc.data() + size_t(ch - c0) * 8);
  return out;
}

// The batch means and (biased) variances of channels [c0, c1) in one pass over x: sums of d = x - K
// and d^2 with K the channel's first value (a shift that keeps the difference of sums well
// conditioned), eight accumulators each as in add8 (the level's bnMoments).
template <typename T>
void moments(const Node<T>& b, int c0, int c1, const T* x, double* mean, double* var) {
  const double M = double(b.n) * double(b.HW);
  const int count = c1 - c0;
  std::vector<double> s1(size_t(count) * 8, 0.0), s2(size_t(count) * 8, 0.0);
  const auto add = simd::elementOps<T>().bnMoments;
  planes(b, c0, c1, [&](int ch, int64_t o) {
    add(x + o, b.HW, double(x[int64_t(ch) * b.HW]), s1.data() + size_t(ch - c0) * 8, s2.data() + size_t(ch - c0) * 8);
  });
  for (int k = 0; k < count; k++) {
    const double t1 = tree8(s1.data() + size_t(k) * 8), t2 = tree8(s2.data() + size_t(k) * 8);
    mean[k] = double(x[int64_t(c0 + k) * b.HW]) + t1 / M;
    double v = (t2 - t1 * t1 / M) / M;
    var[k] = v < 0 ? 0 : v;  // rounding of a constant channel
  }
}

// The statistics of channels [c0, c1) (batch or running; batchOut written in batch mode), cached
// in b, and the affine maps y = x a + c of the normalisation (a, c indexed from c0).
template <typename T>
void channelMaps(const Node<T>& b, int c0, int c1, const T* x, double* batchOut, T* a, T* c) {
  const int count = c1 - c0;
  std::vector<double> m(count), v(count);
  if (b.running) {
    for (int k = 0; k < count; k++) {
      m[k] = b.running[c0 + k];
      v[k] = b.running[b.C + c0 + k];
    }
  } else {
    moments(b, c0, c1, x, m.data(), v.data());
    if (batchOut) {
      for (int k = 0; k < count; k++) {
        batchOut[c0 + k] = m[k];
        batchOut[b.C + c0 + k] = v[k];
      }
    }
  }
  for (int k = 0; k < count; k++) {
    const int ch = c0 + k;
    const double s = 1 / std::sqrt(v[k] + b.eps);
    b.mean[ch] = m[k];
    b.invStd[ch] = s;
    a[k] = static_cast<T>(s * b.gamma[ch]);
    c[k] = static_cast<T>(b.gamma[b.C + ch] - m[k] * s * b.gamma[ch]);
  }
}

// The ReLU of the normalised value, as the two unfused ops compute it.
template <typename T>
inline T reluOf(T x, T a, T c) {
  const T y = x * a + c;
  return y > T(0) ? y : T(0);
}

// The backward pass per channel of [c0, c1), from sb = sum gy and sgx = sum gy x over the batch
// (M values per channel): gx += s (gy gamma - mean g - xhat mean(g xhat)) = gy A + x B + C
// (B = C = 0 in running mode, left as given), and the gradients of gamma (sum gy xhat =
// s (sgx - m sb)) and beta (sb) added into g when it is given.
template <typename T>
void backwardMaps(const Node<T>& b, int c0, int c1, const double* sb, const double* sgx, double M, T* g, T* A, T* B, T* C) {
  for (int k = 0; k < c1 - c0; k++) {
    const int ch = c0 + k;
    const double m = b.mean[ch], s = b.invStd[ch], gam = b.gamma[ch];
    const double sg = s * (sgx[k] - m * sb[k]);
    if (g) {
      g[ch] += static_cast<T>(sg);
      g[b.C + ch] += static_cast<T>(sb[k]);
    }
    A[k] = static_cast<T>(s * gam);
    if (!b.running) {
      const double mg = sb[k] * gam / M, mgx = sg * gam / M;
      B[k] = static_cast<T>(-s * s * mgx);
      C[k] = static_cast<T>(s * (s * mgx * m - mg));
    }
  }
}

}  // namespace

template <typename T>
void forward(const Node<T>& b, const T* x, T* y, double* batchOut, int threads) {
  channelBlocks(b.C, int64_t(b.n) * b.C * b.HW, threads, [&](int c0, int c1) {
    std::vector<T> a(c1 - c0), c(c1 - c0);
    channelMaps(b, c0, c1, x, batchOut, a.data(), c.data());
    planes(b, c0, c1, [&](int ch, int64_t o) {
      const T ac = a[ch - c0], cc = c[ch - c0];
      const T* xi = x + o;
      T* yi = y + o;
      for (int64_t p = 0; p < b.HW; p++) yi[p] = xi[p] * ac + cc;
    });
  });
}

template <typename T>
void backward(const Node<T>& b, const T* x, const T* gy, T* gx, T* g, int threads) {
  const double M = double(b.n) * double(b.HW);
  channelBlocks(b.C, int64_t(b.n) * b.C * b.HW, threads, [&](int c0, int c1) {
    const int count = c1 - c0;
    // sum gy xhat = s (sum gy x - m sum gy)
    const std::vector<double> sb = sums8(b, c0, c1, [&](int64_t o) { return double(gy[o]); });
    const std::vector<double> sgx = sums8(b, c0, c1, [&](int64_t o) { return double(gy[o]) * x[o]; });
    std::vector<T> A(count), B(count, T(0)), C(count, T(0));
    backwardMaps(b, c0, c1, sb.data(), sgx.data(), M, g, A.data(), B.data(), C.data());
    planes(b, c0, c1, [&](int ch, int64_t o) {
      const T a = A[ch - c0], bb = B[ch - c0], cc = C[ch - c0];
      if (b.running) {
        for (int64_t p = o; p < o + b.HW; p++) gx[p] += gy[p] * a;
      } else {
        for (int64_t p = o; p < o + b.HW; p++) gx[p] += gy[p] * a + x[p] * bb + cc;
      }
    });
  });
}

template <typename T>
void rForward(const Node<T>& b, const T* x, const T* rx, T* ry, int threads) {
  const double M = double(b.n) * double(b.HW);
  const T* vbeta = b.vgamma + b.C;
  channelBlocks(b.C, int64_t(b.n) * b.C * b.HW, threads, [&](int c0, int c1) {
    const int count = c1 - c0;
    std::vector<double> a(count, 0.0), ax(count, 0.0);
    if (!b.running) {
      planes(b, c0, c1, [&](int ch, int64_t o) {
        const double m = b.mean[ch], s = b.invStd[ch];
        double& sa = a[ch - c0];
        double& sax = ax[ch - c0];
        for (int64_t p = o; p < o + b.HW; p++) {
          sa += rx[p];
          sax += (x[p] - m) * s * rx[p];
        }
      });
      for (int k = 0; k < count; k++) {
        a[k] /= M;
        ax[k] /= M;
      }
    }
    for (int k = 0; k < count; k++) {
      b.rMean[c0 + k] = a[k];
      b.rMeanX[c0 + k] = ax[k];
    }
    planes(b, c0, c1, [&](int ch, int64_t o) {
      const double m = b.mean[ch], s = b.invStd[ch], am = a[ch - c0], axm = ax[ch - c0];
      const double gam = b.gamma[ch], vg = b.vgamma[ch], vb = vbeta[ch];
      for (int64_t p = o; p < o + b.HW; p++) {
        const double h = (x[p] - m) * s;
        const double rh = s * (rx[p] - am - h * axm);
        ry[p] = static_cast<T>(rh * gam + h * vg + vb);
      }
    });
  });
}

template <typename T>
void rBackward(const Node<T>& b, const T* x, const T* rx, const T* gy, const T* rgy, T* rgx, T* rg, int threads) {
  const double M = double(b.n) * double(b.HW);
  channelBlocks(b.C, int64_t(b.n) * b.C * b.HW, threads, [&](int c0, int c1) {
    const int count = c1 - c0;
    // Per channel: mean g, mean g xhat, mean Rg, mean (Rg xhat + g R{xhat}), R{dgamma}, R{dbeta}.
    std::vector<double> acc(size_t(count) * 6, 0.0);
    planes(b, c0, c1, [&](int ch, int64_t o) {
      const double m = b.mean[ch], s = b.invStd[ch], a = b.rMean[ch], ax = b.rMeanX[ch];
      const double gam = b.gamma[ch], vg = b.vgamma[ch];
      double* t = acc.data() + size_t(ch - c0) * 6;
      for (int64_t p = o; p < o + b.HW; p++) {
        const double d = gy[p], rd = rgy[p];
        const double h = (x[p] - m) * s;
        const double rh = s * (rx[p] - a - h * ax);
        const double gj = d * gam, rgj = rd * gam + d * vg;
        t[0] += gj;
        t[1] += gj * h;
        t[2] += rgj;
        t[3] += rgj * h + gj * rh;
        t[4] += rd * h + d * rh;
        t[5] += rd;
      }
    });
    for (int k = 0; k < count; k++) {
      double* t = acc.data() + size_t(k) * 6;
      rg[c0 + k] += static_cast<T>(t[4]);
      rg[b.C + c0 + k] += static_cast<T>(t[5]);
      for (int j = 0; j < 4; j++) t[j] /= M;
    }
    planes(b, c0, c1, [&](int ch, int64_t o) {
      const double m = b.mean[ch], s = b.invStd[ch], a = b.rMean[ch], ax = b.rMeanX[ch];
      const double gam = b.gamma[ch], vg = b.vgamma[ch];
      if (b.running) {
        for (int64_t p = o; p < o + b.HW; p++) rgx[p] += static_cast<T>(s * (rgy[p] * gam + gy[p] * vg));
        return;
      }
      const double* t = acc.data() + size_t(ch - c0) * 6;
      const double mg = t[0], mgx = t[1], mrg = t[2], mr2 = t[3];
      const double Rs = -s * s * ax;
      for (int64_t p = o; p < o + b.HW; p++) {
        const double d = gy[p];
        const double h = (x[p] - m) * s;
        const double rh = s * (rx[p] - a - h * ax);
        const double gj = d * gam, rgj = double(rgy[p]) * gam + d * vg;
        rgx[p] += static_cast<T>(Rs * (gj - mg - h * mgx) + s * (rgj - mrg - rh * mgx - h * mr2));
      }
    });
  });
}

template <typename T>
void forwardReluMaxPool(const Node<T>& b, const conv::Geometry& g, const T* x, T* y, uint8_t* argmax, T* xmax,
                        double* batchOut, int threads) {
  const int64_t outPlane = g.outPlane();
  const bool twoByTwo = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2;
  channelBlocks(b.C, int64_t(b.n) * b.C * b.HW, threads, [&](int c0, int c1) {
    std::vector<T> a(c1 - c0), c(c1 - c0);
    channelMaps(b, c0, c1, x, batchOut, a.data(), c.data());
    planes(b, c0, c1, [&](int ch, int64_t o) {
      const T ac = a[ch - c0], cc = c[ch - c0];
      const int64_t pl = o / b.HW;  // the plane's index (image r, channel ch)
      const T* in = x + o;
      T* out = y + pl * outPlane;
      uint8_t* am = argmax + pl * outPlane;
      T* xm = xmax + pl * outPlane;
      if (twoByTwo) {
        // The conv-4 window: the level's vector kernel (the values of the loop below).
        simd::elementOps<T>().bnReluMaxPool2x2(in, g.h, g.w, ac, cc, out, am, xm);
        return;
      }
      for (int oy = 0; oy < g.ho; oy++) {
        for (int ox = 0; ox < g.wo; ox++) {
          const T* base = in + int64_t(oy) * g.sh * g.w + int64_t(ox) * g.sw;
          T best = reluOf(base[0], ac, cc);
          int k = 0;
          for (int i = 0; i < g.kh; i++) {
            for (int j = 0; j < g.kw; j++) {
              const T v = reluOf(base[int64_t(i) * g.w + j], ac, cc);
              const bool more = v > best;
              best = more ? v : best;
              k = more ? i * g.kw + j : k;
            }
          }
          out[int64_t(oy) * g.wo + ox] = best;
          am[int64_t(oy) * g.wo + ox] = static_cast<uint8_t>(k);
          xm[int64_t(oy) * g.wo + ox] = base[int64_t(k / g.kw) * g.w + k % g.kw];
        }
      }
    });
  });
}

template <typename T>
void backwardReluMaxPool(const Node<T>& b, const conv::Geometry& g, const T* x, const T* y, const T* xmax, const T* gy,
                         const uint8_t* argmax, T* gx, bool assign, T* grad, int threads) {
  const int64_t outPlane = g.outPlane();
  const double M = double(b.n) * double(b.HW);
  const pool::WindowOffsets w(g);
  const bool twoByTwo = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2;
  channelBlocks(b.C, int64_t(b.n) * b.C * b.HW, threads, [&](int c0, int c1) {
    const int count = c1 - c0;
    // The ReLU's gradient reaches the batchnorm output only at each window's recorded position,
    // and only where the ReLU is active there, that is where the pool's output y is positive:
    // sums of gy and of gy x over those positions (x there kept by the forward pass as xmax).
    std::vector<double> sb(count, 0.0), sgx(count, 0.0);
    for (int r = 0; r < b.n; r++) {
      for (int ch = c0; ch < c1; ch++) {
        const int64_t o0 = (int64_t(r) * b.C + ch) * outPlane;
        // Four partial sums by position mod 4 (added in a fixed order), so that the additions do
        // not wait on one another. Branch-free: an inactive window adds zeros (whether y > 0 is
        // never predictable).
        double s1[4] = {0, 0, 0, 0}, s2[4] = {0, 0, 0, 0};
        const auto add = [&](int lane, int64_t o) {
          const double d = double(gy[o]) * double(y[o] > T(0));
          s1[lane] += d;
          s2[lane] += d * xmax[o];
        };
        int64_t o = o0;
        for (; o + 4 <= o0 + outPlane; o += 4)
          for (int l = 0; l < 4; l++) add(l, o + l);
        for (int l = 0; o < o0 + outPlane; o++, l++) add(l, o);
        sb[ch - c0] += (s1[0] + s1[1]) + (s1[2] + s1[3]);
        sgx[ch - c0] += (s2[0] + s2[1]) + (s2[2] + s2[3]);
      }
    }
    // gx = gy' A + x B + C, gy' the gradient at the batchnorm output: the dense part first, then
    // the sparse part.
    std::vector<T> A(count), B(count, T(0)), C(count, T(0));
    backwardMaps(b, c0, c1, sb.data(), sgx.data(), M, grad, A.data(), B.data(), C.data());
    planes(b, c0, c1, [&](int ch, int64_t o) {
      const T a = A[ch - c0], bb = B[ch - c0], cc = C[ch - c0];
      const int64_t pl = o / b.HW;
      const T* in = x + o;
      T* gi = gx + o;
      if (twoByTwo) {
        simd::elementOps<T>().bnReluMaxPool2x2Backward(in, g.h, g.w, y + pl * outPlane, gy + pl * outPlane, argmax + pl * outPlane, a,
                                                 bb, cc, gi, assign);
        return;
      }
      if (assign) {
        for (int64_t p = 0; p < b.HW; p++) gi[p] = in[p] * bb + cc;
      } else {
        for (int64_t p = 0; p < b.HW; p++) gi[p] += in[p] * bb + cc;
      }
      const T* yo = y + pl * outPlane;
      const T* go = gy + pl * outPlane;
      const uint8_t* am = argmax + pl * outPlane;
      for (int oy = 0; oy < g.ho; oy++) {
        for (int ox = 0; ox < g.wo; ox++) {
          const int64_t q = int64_t(oy) * g.wo + ox;
          const T d = go[q] * T(yo[q] > T(0));
          gi[int64_t(oy) * g.sh * g.w + int64_t(ox) * g.sw + w.off[am[q]]] += d * a;
        }
      }
    });
  });
}

#define METATASK_BN_INSTANTIATE(T)                                                               \
  template void forward<T>(const Node<T>&, const T*, T*, double*, int);                          \
  template void backward<T>(const Node<T>&, const T*, const T*, T*, T*, int);                    \
  template void rForward<T>(const Node<T>&, const T*, const T*, T*, int);                        \
  template void rBackward<T>(const Node<T>&, const T*, const T*, const T*, const T*, T*, T*, int);       \
  template void forwardReluMaxPool<T>(const Node<T>&, const conv::Geometry&, const T*, T*, uint8_t*, T*, double*, int);   \
  template void backwardReluMaxPool<T>(const Node<T>&, const conv::Geometry&, const T*, const T*, const T*, const T*,   \
                                       const uint8_t*, T*, bool, T*, int);
METATASK_BN_INSTANTIATE(float)
METATASK_BN_INSTANTIATE(double)
#undef METATASK_BN_INSTANTIATE

}  // namespace metatask::batchnorm
