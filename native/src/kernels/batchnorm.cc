// Batch normalisation, one channel per task (formulas in lib/kernels/js/batchnorm.ts, same
// expressions in the same order, so the two kernel sets agree to rounding).
#include "kernels/batchnorm.h"

#include <cmath>

#include "runtime/threads.h"

namespace metatask::batchnorm {

namespace {

// Below this many values a layer runs on one thread: waking a worker costs more.
constexpr int64_t kParallelMin = int64_t(1) << 15;

// body(ch) for every channel, on up to `threads` threads when the layer is large enough.
template <typename F>
void channels(int C, int64_t values, int threads, const F& body) {
  runtime::parallelFor(C, values >= kParallelMin ? threads : 1, [&](int ch, int) { body(ch); });
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

}  // namespace

template <typename T>
void forward(const Node<T>& b, const T* x, T* y, double* batchOut, int threads) {
  const double M = double(b.n) * double(b.HW);
  const T* beta = b.gamma + b.C;
  channels(b.C, int64_t(b.n) * b.C * b.HW, threads, [&](int ch) {
    double m, v;
    if (b.running) {
      m = b.running[ch];
      v = b.running[b.C + ch];
    } else {
      m = 0;
      each(b, ch, [&](int64_t o) { m += x[o]; });
      m /= M;
      v = 0;
      each(b, ch, [&](int64_t o) {
        const double d = x[o] - m;
        v += d * d;
      });
      v /= M;
      if (batchOut) {
        batchOut[ch] = m;
        batchOut[b.C + ch] = v;
      }
    }
    const double s = 1 / std::sqrt(v + b.eps);
    b.mean[ch] = m;
    b.invStd[ch] = s;
    const double gam = b.gamma[ch], bet = beta[ch];
    each(b, ch, [&](int64_t o) { y[o] = static_cast<T>((x[o] - m) * s * gam + bet); });
  });
}

template <typename T>
void backward(const Node<T>& b, const T* x, const T* gy, T* gx, T* g, int threads) {
  const double M = double(b.n) * double(b.HW);
  channels(b.C, int64_t(b.n) * b.C * b.HW, threads, [&](int ch) {
    const double m = b.mean[ch], s = b.invStd[ch], gam = b.gamma[ch];
    double sg = 0, sb = 0;
    each(b, ch, [&](int64_t o) {
      const double d = gy[o];
      sg += d * ((x[o] - m) * s);
      sb += d;
    });
    if (g) {
      g[ch] += static_cast<T>(sg);
      g[b.C + ch] += static_cast<T>(sb);
    }
    if (b.running) {
      each(b, ch, [&](int64_t o) { gx[o] += static_cast<T>(gy[o] * gam * s); });
      return;
    }
    const double mg = sb * gam / M, mgx = sg * gam / M;
    each(b, ch, [&](int64_t o) {
      const double h = (x[o] - m) * s;
      gx[o] += static_cast<T>(s * (gy[o] * gam - mg - h * mgx));
    });
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

#define METATASK_BN_INSTANTIATE(T)                                                               \
  template void forward<T>(const Node<T>&, const T*, T*, double*, int);                          \
  template void backward<T>(const Node<T>&, const T*, const T*, T*, T*, int);                    \
  template void rForward<T>(const Node<T>&, const T*, const T*, T*, int);                        \
  template void rBackward<T>(const Node<T>&, const T*, const T*, const T*, const T*, T*, T*, int);
METATASK_BN_INSTANTIATE(float)
METATASK_BN_INSTANTIATE(double)
#undef METATASK_BN_INSTANTIATE

}  // namespace metatask::batchnorm
