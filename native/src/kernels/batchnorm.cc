// Batch normalisation, one channel per task (formulas in lib/kernels/js/batchnorm.ts). The forward
// and backward passes of batch mode, on the training path of every convolutional network, are
// written for speed: channel sums run eight accumulators (a fixed pattern, so the order never
// depends on addresses or threads), and the elementwise updates are affine maps with per-channel
// constants, y = x a + b and gx += gy A + x B + C, evaluated in T. The R-passes (second-order
// methods only) keep the plain expressions of batchnorm.ts.
#include "kernels/batchnorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/pool.h"
#include "runtime/threads.h"

namespace metatask::batchnorm {

namespace {

// Below this many values a layer runs on one thread: waking a worker costs more.
constexpr int64_t kParallelMin = int64_t(1) << 15;

// body(ch) for every channel, on up to `threads` threads when the layer is large enough; nothing
// for an empty batch (no statistics exist, and nothing depends on them).
template <typename F>
void channels(int C, int64_t values, int threads, const F& body) {
  if (values == 0) return;
  runtime::parallelFor(C, values >= kParallelMin ? threads : 1, [&](int ch, int) { body(ch); });
}

// sum over the channel of f(o), rows then pixels, in eight accumulators by pixel index mod 8
// (independent lanes the compiler can vectorise), combined pairwise in a fixed tree.
template <typename T, typename F>
inline double sum8(const Node<T>& b, int ch, const F& f) {
  const int64_t row = int64_t(b.C) * b.HW;
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int r = 0; r < b.n; r++) {
    const int64_t o = r * row + ch * b.HW;
    int64_t p = 0;
    for (; p + 8 <= b.HW; p += 8)
      for (int l = 0; l < 8; l++) a[l] += f(o + p + l);
    for (; p < b.HW; p++) a[p % 8] += f(o + p);
  }
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

// The batch mean and (biased) variance of channel ch in one pass over x: sums of d = x - K and d^2
// with K the channel's first value (a shift that keeps the difference of sums well conditioned),
// eight accumulators each as in sum8.
template <typename T>
inline void moments(const Node<T>& b, int ch, const T* x, double& mean, double& var) {
  const double M = double(b.n) * double(b.HW);
  const double K = x[int64_t(ch) * b.HW];
  const int64_t row = int64_t(b.C) * b.HW;
  double s1[8] = {0, 0, 0, 0, 0, 0, 0, 0}, s2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int r = 0; r < b.n; r++) {
    const T* v = x + r * row + ch * b.HW;
    int64_t p = 0;
    for (; p + 8 <= b.HW; p += 8) {
      for (int l = 0; l < 8; l++) {
        const double d = double(v[p + l]) - K;
        s1[l] += d;
        s2[l] += d * d;
      }
    }
    for (; p < b.HW; p++) {
      const double d = double(v[p]) - K;
      s1[p % 8] += d;
      s2[p % 8] += d * d;
    }
  }
  const auto tree = [](const double* a) { return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])); };
  const double t1 = tree(s1), t2 = tree(s2);
  mean = K + t1 / M;
  var = (t2 - t1 * t1 / M) / M;
  if (var < 0) var = 0;  // rounding of a constant channel
}

// visit(o) for the offset o of every value of channel ch, rows then pixels.
template <typename T, typename F>
inline void each(const Node<T>& b, int ch, const F& visit) {
  const int64_t row = int64_t(b.C) * b.HW;
  for (int r = 0; r < b.n; r++) {
    const int64_t o = r * row + ch * b.HW;
    for (int64_t p = 0; p < b.HW; p++) visit(o + p);
  }
}

// The statistics of channel ch (batch or running; batchOut written in batch mode), cached in b, and
// the affine map y = x a + c of the normalisation.
template <typename T>
void channelMap(const Node<T>& b, int ch, const T* x, double* batchOut, T& a, T& c) {
  double m, v;
  if (b.running) {
    m = b.running[ch];
    v = b.running[b.C + ch];
  } else {
    moments(b, ch, x, m, v);
    if (batchOut) {
      batchOut[ch] = m;
      batchOut[b.C + ch] = v;
    }
  }
  const double s = 1 / std::sqrt(v + b.eps);
  b.mean[ch] = m;
  b.invStd[ch] = s;
  a = static_cast<T>(s * b.gamma[ch]);
  c = static_cast<T>(b.gamma[b.C + ch] - m * s * b.gamma[ch]);
}

// The ReLU of the normalised value, as the two unfused ops compute it.
template <typename T>
inline T reluOf(T x, T a, T c) {
  const T y = x * a + c;
  return y > T(0) ? y : T(0);
}

}  // namespace

template <typename T>
void forward(const Node<T>& b, const T* x, T* y, double* batchOut, int threads) {
  channels(b.C, int64_t(b.n) * b.C * b.HW, threads, [&](int ch) {
    T a, c;
    channelMap(b, ch, x, batchOut, a, c);
    each(b, ch, [&](int64_t o) { y[o] = x[o] * a + c; });
  });
}

template <typename T>
void backward(const Node<T>& b, const T* x, const T* gy, T* gx, T* g, int threads) {
  const double M = double(b.n) * double(b.HW);
  channels(b.C, int64_t(b.n) * b.C * b.HW, threads, [&](int ch) {
    const double m = b.mean[ch], s = b.invStd[ch], gam = b.gamma[ch];
    // sum gy xhat = s (sum gy x - m sum gy)
    const double sb = sum8(b, ch, [&](int64_t o) { return double(gy[o]); });
    const double sg = s * (sum8(b, ch, [&](int64_t o) { return double(gy[o]) * x[o]; }) - m * sb);
    if (g) {
      g[ch] += static_cast<T>(sg);
      g[b.C + ch] += static_cast<T>(sb);
    }
    if (b.running) {
      const T a = static_cast<T>(gam * s);
      each(b, ch, [&](int64_t o) { gx[o] += gy[o] * a; });
      return;
    }
    // gx += s (gy gamma - mean g - xhat mean(g xhat)) = gy A + x B + C
    const double mg = sb * gam / M, mgx = sg * gam / M;
    const T A = static_cast<T>(s * gam), B = static_cast<T>(-s * s * mgx), C = static_cast<T>(s * (s * mgx * m - mg));
    each(b, ch, [&](int64_t o) { gx[o] += gy[o] * A + x[o] * B + C; });
  });
}

template <typename T>
void rForward(const Node<T>& b, const T* x, const T* rx, T* ry, int threads) {
  const double M = double(b.n) * double(b.HW);
  const T* vbeta = b.vgamma + b.C;
  channels(b.C, int64_t(b.n) * b.C * b.HW, threads, [&](int ch) {
    const double m = b.mean[ch], s = b.invStd[ch];
    double a = 0, ax = 0;
    if (!b.running) {
      each(b, ch, [&](int64_t o) {
        a += rx[o];
        ax += (x[o] - m) * s * rx[o];
      });
      a /= M;
      ax /= M;
    }
    b.rMean[ch] = a;
    b.rMeanX[ch] = ax;
    const double gam = b.gamma[ch], vg = b.vgamma[ch], vb = vbeta[ch];
    each(b, ch, [&](int64_t o) {
      const double h = (x[o] - m) * s;
      const double rh = s * (rx[o] - a - h * ax);
      ry[o] = static_cast<T>(rh * gam + h * vg + vb);
    });
  });
}

template <typename T>
void rBackward(const Node<T>& b, const T* x, const T* rx, const T* gy, const T* rgy, T* rgx, T* rg, int threads) {
  const double M = double(b.n) * double(b.HW);
  channels(b.C, int64_t(b.n) * b.C * b.HW, threads, [&](int ch) {
    const double m = b.mean[ch], s = b.invStd[ch], a = b.rMean[ch], ax = b.rMeanX[ch];
    const double gam = b.gamma[ch], vg = b.vgamma[ch];
    double mg = 0, mgx = 0, mrg = 0, mr2 = 0, sg = 0, sb = 0;
    each(b, ch, [&](int64_t o) {
      const double d = gy[o], rd = rgy[o];
      const double h = (x[o] - m) * s;
      const double rh = s * (rx[o] - a - h * ax);
      const double gj = d * gam, rgj = rd * gam + d * vg;
      mg += gj;
      mgx += gj * h;
      mrg += rgj;
      mr2 += rgj * h + gj * rh;
      sg += rd * h + d * rh;
      sb += rd;
    });
    rg[ch] += static_cast<T>(sg);
    rg[b.C + ch] += static_cast<T>(sb);
    if (b.running) {
      each(b, ch, [&](int64_t o) { rgx[o] += static_cast<T>(s * (rgy[o] * gam + gy[o] * vg)); });
      return;
    }
    mg /= M;
    mgx /= M;
    mrg /= M;
    mr2 /= M;
    const double Rs = -s * s * ax;
    each(b, ch, [&](int64_t o) {
      const double d = gy[o];
      const double h = (x[o] - m) * s;
      const double rh = s * (rx[o] - a - h * ax);
      const double gj = d * gam, rgj = double(rgy[o]) * gam + d * vg;
      rgx[o] += static_cast<T>(Rs * (gj - mg - h * mgx) + s * (rgj - mrg - rh * mgx - h * mr2));
    });
  });
}

template <typename T>
void forwardReluMaxPool(const Node<T>& b, const conv::Geometry& g, const T* x, T* y, uint8_t* argmax, T* xmax,
                        double* batchOut, int threads) {
  const int64_t plane = int64_t(g.h) * g.w, outPlane = g.outPlane();
  const bool twoByTwo = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2;
  channels(b.C, int64_t(b.n) * b.C * b.HW, threads, [&](int ch) {
    T a, c;
    channelMap(b, ch, x, batchOut, a, c);
    std::vector<T> rows(twoByTwo ? 4 * size_t(g.wo) : 0);
    for (int r = 0; r < b.n; r++) {
      const int64_t pl = int64_t(r) * b.C + ch;
      const T* in = x + pl * plane;
      T* out = y + pl * outPlane;
      uint8_t* am = argmax + pl * outPlane;
      T* xm = xmax + pl * outPlane;
      if (twoByTwo) {
        // The conv-4 window: the ReLU of two input rows into a buffer (a loop the compiler
        // vectorises), then the four comparisons of each window on it.
        T* t0 = rows.data();
        T* t1 = t0 + 2 * g.wo;
        for (int oy = 0; oy < g.ho; oy++) {
          const T* r0 = in + int64_t(2 * oy) * g.w;
          const T* r1 = r0 + g.w;
          for (int j = 0; j < 2 * g.wo; j++) {
            t0[j] = reluOf(r0[j], a, c);
            t1[j] = reluOf(r1[j], a, c);
          }
          T* o = out + int64_t(oy) * g.wo;
          uint8_t* k = am + int64_t(oy) * g.wo;
          T* xo = xm + int64_t(oy) * g.wo;
          for (int ox = 0; ox < g.wo; ox++) {
            T best = t0[2 * ox], xb = r0[2 * ox];
            uint8_t at = 0;
            const T v1 = t0[2 * ox + 1], v2 = t1[2 * ox], v3 = t1[2 * ox + 1];
            at = v1 > best ? 1 : at;
            xb = v1 > best ? r0[2 * ox + 1] : xb;
            best = v1 > best ? v1 : best;
            at = v2 > best ? 2 : at;
            xb = v2 > best ? r1[2 * ox] : xb;
            best = v2 > best ? v2 : best;
            at = v3 > best ? 3 : at;
            xb = v3 > best ? r1[2 * ox + 1] : xb;
            best = v3 > best ? v3 : best;
            o[ox] = best;
            k[ox] = at;
            xo[ox] = xb;
          }
        }
        continue;
      }
      for (int oy = 0; oy < g.ho; oy++) {
        for (int ox = 0; ox < g.wo; ox++) {
          const T* base = in + int64_t(oy) * g.sh * g.w + int64_t(ox) * g.sw;
          T best = reluOf(base[0], a, c);
          int k = 0;
          for (int i = 0; i < g.kh; i++) {
            for (int j = 0; j < g.kw; j++) {
              const T v = reluOf(base[int64_t(i) * g.w + j], a, c);
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
    }
  });
}

template <typename T>
void backwardReluMaxPool(const Node<T>& b, const conv::Geometry& g, const T* x, const T* y, const T* xmax, const T* gy,
                         const uint8_t* argmax, T* gx, bool assign, T* grad, int threads) {
  const int64_t plane = int64_t(g.h) * g.w, outPlane = g.outPlane();
  const double M = double(b.n) * double(b.HW);
  const pool::WindowOffsets w(g);
  channels(b.C, int64_t(b.n) * b.C * b.HW, threads, [&](int ch) {
    const double m = b.mean[ch], s = b.invStd[ch], gam = b.gamma[ch];
    // The ReLU's gradient reaches the batchnorm output only at each window's recorded position,
    // and only where the ReLU is active there, that is where the pool's output y is positive:
    // sums of gy and of gy x over those positions (x there kept by the forward pass as xmax).
    double sb = 0, sgx = 0;
    for (int r = 0; r < b.n; r++) {
      const int64_t o0 = (int64_t(r) * b.C + ch) * outPlane;
      for (int64_t o = o0; o < o0 + outPlane; o++) {
        // Branch-free: an inactive window adds zeros (whether y > 0 is never predictable).
        const double d = double(gy[o]) * double(y[o] > T(0));
        sb += d;
        sgx += d * xmax[o];
      }
    }
    const double sg = s * (sgx - m * sb);
    if (grad) {
      grad[ch] += static_cast<T>(sg);
      grad[b.C + ch] += static_cast<T>(sb);
    }
    // gx = gy' A + x B + C (batch mode; B = C = 0 in running mode), gy' the gradient at the
    // batchnorm output: the dense part first, then the sparse part.
    T A = static_cast<T>(s * gam), B = T(0), C = T(0);
    if (!b.running) {
      const double mg = sb * gam / M, mgx = sg * gam / M;
      B = static_cast<T>(-s * s * mgx);
      C = static_cast<T>(s * (s * mgx * m - mg));
    }
    for (int r = 0; r < b.n; r++) {
      const int64_t pl = int64_t(r) * b.C + ch;
      const T* in = x + pl * plane;
      T* gi = gx + pl * plane;
      if (assign) {
        for (int64_t p = 0; p < plane; p++) gi[p] = in[p] * B + C;
      } else {
        for (int64_t p = 0; p < plane; p++) gi[p] += in[p] * B + C;
      }
      const T* yo = y + pl * outPlane;
      const T* go = gy + pl * outPlane;
      const uint8_t* am = argmax + pl * outPlane;
      for (int oy = 0; oy < g.ho; oy++) {
        for (int ox = 0; ox < g.wo; ox++) {
          const int64_t o = int64_t(oy) * g.wo + ox;
          const int k = am[o];
          const T d = go[o] * T(yo[o] > T(0));
          gi[int64_t(oy) * g.sh * g.w + int64_t(ox) * g.sw + w.off[k]] += d * A;
        }
      }
    }
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
