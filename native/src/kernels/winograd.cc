// Winograd F(2 x 2, 3 x 3) convolution (formulas in winograd.h). With
//
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1],
//
// a chunk of images is computed in three steps: V[e, c, t] = (B^T d_c(t) B)[e] for the 16 transform
// elements e, channels c and tiles t of the chunk; M[e] = U[e] V[e] (F x C times C x tiles, by
// simd::gemm); Y(t) = A^T M[., f, t] A. U[e, f, c] = (G g_fc G^T)[e] is formed once per call.
#include "kernels/winograd.h"

#include <algorithm>

#include "runtime/threads.h"
#include "simd/gemm.h"

namespace metatask::conv::winograd {

namespace {

// Tiles a chunk of images aims for: the width of the 16 products (eight 7 x 7 tile grids of
// 14 x 14 images), small enough that a chunk's transforms stay in L2.
constexpr int64_t kTargetTiles = 392;
// Below this many channels on either side the transforms cost more than the products save.
constexpr int kMinChannels = 16;

// Elements between consecutive transform matrices beyond their size (64 bytes of float).
constexpr int64_t kPlaneSkew = 16;

// Scratch buffers of a slot.
enum Buffer { kV = 0, kM = 1, kPad = 2, kU = 3 };

// U[e, f, c] from the F x C kernels g_fc (3 x 3 each). For the data gradient (`turned`), the
// kernels of the swapped convolution: g'_cf(i, j) = g_fc(2 - i, 2 - j), with w still F x C x 3 x 3
// and the result indexed [e, c, f].
template <typename T>
void transformKernels(int64_t F, int64_t C, const T* w, bool turned, T* u) {
  const int64_t rows = turned ? C : F, cols = turned ? F : C;
  for (int64_t f = 0; f < F; f++) {
    for (int64_t c = 0; c < C; c++) {
      const T* k = w + (f * C + c) * 9;
      T g[3][3];
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) g[i][j] = turned ? k[(2 - i) * 3 + (2 - j)] : k[i * 3 + j];
      // t = G g (4 x 3), then t G^T (4 x 4).
      T t[4][3];
      for (int j = 0; j < 3; j++) {
        t[0][j] = g[0][j];
        t[1][j] = T(0.5) * (g[0][j] + g[1][j] + g[2][j]);
        t[2][j] = T(0.5) * (g[0][j] - g[1][j] + g[2][j]);
        t[3][j] = g[2][j];
      }
      const int64_t at = turned ? c * cols + f : f * cols + c;
      for (int i = 0; i < 4; i++) {
        const T e[4] = {t[i][0], T(0.5) * (t[i][0] + t[i][1] + t[i][2]), T(0.5) * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
        for (int j = 0; j < 4; j++) u[(i * 4 + j) * rows * cols + at] = e[j];
      }
    }
  }
}

// V[e, c, t0 + tile] (at e plane + c ldt + t0 + tile) for the tiles of one image (C planes of H x W at x): each plane is copied
// into a zero-padded plane (pad, Hp x Wp), from which every tile's 4 x 4 patch is read unchecked.
template <typename T>
void transformInput(const Geometry& g, const T* x, int64_t th, int64_t tw, T* pad, T* v, int64_t ldt, int64_t plane,
                    int64_t t0) {
  const int64_t H = g.h, W = g.w, Hp = 2 * th + 2, Wp = 2 * tw + 2, C = g.c;
  std::fill(pad, pad + Hp * Wp, T(0));
  for (int64_t c = 0; c < C; c++) {
    const T* src = x + c * H * W;
    for (int64_t r = 0; r < H; r++)
      for (int64_t q = 0; q < W; q++) pad[(r + 1) * Wp + q + 1] = src[r * W + q];
    T* out = v + c * ldt + t0;
    for (int64_t ty = 0; ty < th; ty++) {
      for (int64_t tx = 0; tx < tw; tx++) {
        const T* d = pad + 2 * ty * Wp + 2 * tx;
        // t = B^T d (rows), then t B (columns).
        T t[4][4];
        for (int q = 0; q < 4; q++) {
          const T d0 = d[q], d1 = d[Wp + q], d2 = d[2 * Wp + q], d3 = d[3 * Wp + q];
          t[0][q] = d0 - d2;
          t[1][q] = d1 + d2;
          t[2][q] = d2 - d1;
          t[3][q] = d1 - d3;
        }
        const int64_t tile = ty * tw + tx;
        for (int i = 0; i < 4; i++) {
          out[(i * 4 + 0) * plane + tile] = t[i][0] - t[i][2];
          out[(i * 4 + 1) * plane + tile] = t[i][1] + t[i][2];
          out[(i * 4 + 2) * plane + tile] = t[i][2] - t[i][1];
          out[(i * 4 + 3) * plane + tile] = t[i][1] - t[i][3];
        }
      }
    }
  }
}

// Y of one image from M[e, f, t0 + tile] (at e plane + f ldt + t0 + tile; F planes of ho x wo at y): bias + value, or y + value
// when accumulating. Tiles past an odd last row or column of the output are dropped.
template <typename T>
void transformOutput(const Geometry& g, const T* m, int64_t th, int64_t tw, int64_t ldt, int64_t plane, int64_t t0,
                     const T* bias, bool accumulate, T* y) {
  const int64_t F = g.f, ho = g.ho, wo = g.wo;
  for (int64_t f = 0; f < F; f++) {
    const T* in = m + f * ldt + t0;
    T* out = y + f * ho * wo;
    const T b = bias ? bias[f] : T(0);
    for (int64_t ty = 0; ty < th; ty++) {
      for (int64_t tx = 0; tx < tw; tx++) {
        const int64_t tile = ty * tw + tx;
        T e[4][4];
        for (int i = 0; i < 4; i++)
          for (int j = 0; j < 4; j++) e[i][j] = in[(i * 4 + j) * plane + tile];
        // s = A^T e (2 x 4), then s A (2 x 2).
        T s[2][4];
        for (int j = 0; j < 4; j++) {
          s[0][j] = e[0][j] + e[1][j] + e[2][j];
          s[1][j] = e[1][j] - e[2][j] - e[3][j];
        }
        for (int a = 0; a < 2; a++) {
          const int64_t oy = 2 * ty + a;
          if (oy >= ho) break;
          const T r[2] = {s[a][0] + s[a][1] + s[a][2], s[a][1] - s[a][2] - s[a][3]};
          for (int bcol = 0; bcol < 2; bcol++) {
            const int64_t ox = 2 * tx + bcol;
            if (ox >= wo) break;
            T& dst = out[oy * wo + ox];
            dst = accumulate ? dst + r[bcol] : b + r[bcol];
          }
        }
      }
    }
  }
}

// The convolution of `count` images x (g.c channels) with the transformed kernels u (16 x g.f x
// g.c) into y, chunk by chunk.
template <typename T>
void convolve(const Geometry& g, int count, const T* x, const T* u, const T* bias, T* y, bool accumulate, Scratch<T>& s,
              int threads) {
  const int64_t th = (g.ho + 1) / 2, tw = (g.wo + 1) / 2, tiles = th * tw;
  const int64_t C = g.c, F = g.f;
  const int per = int(std::min<int64_t>(count, std::max<int64_t>(1, (kTargetTiles + tiles - 1) / tiles)));
  const int chunks = (count + per - 1) / per;
  const int inner = chunks == 1 ? threads : 1;
  s.reserve(std::max(1, std::min(threads, chunks)));
  runtime::parallelFor(chunks, threads, [&](int ch, int slot) {
    const int first = ch * per, images = std::min(per, count - first);
    const int64_t n = images * tiles;
    // The 16 matrices of V (and of M) one cache line further apart than their size: a tile's 16
    // values go to 16 streams, which at a stride of a multiple of 4 KiB would share one set of the
    // L1 cache.
    const int64_t vPlane = C * n + kPlaneSkew, mPlane = F * n + kPlaneSkew;
    T* v = s.get(slot, kV, 16 * vPlane);
    T* m = s.get(slot, kM, 16 * mPlane);
    T* pad = s.get(slot, kPad, (2 * th + 2) * (2 * tw + 2));
    for (int j = 0; j < images; j++)
      transformInput(g, x + int64_t(first + j) * g.inSize(), th, tw, pad, v, n, vPlane, j * tiles);
    for (int e = 0; e < 16; e++)
      simd::gemm<T>(F, n, C, T(1), u + e * F * C, C, false, v + e * vPlane, n, false, T(0), m + e * mPlane, n, inner);
    for (int j = 0; j < images; j++)
      transformOutput(g, m, th, tw, n, mPlane, j * tiles, bias, accumulate, y + int64_t(first + j) * g.outSize());
  });
}

}  // namespace

bool applies(const Geometry& g) {
  return g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.ph == 1 && g.pw == 1 && g.ho == g.h && g.wo == g.w &&
         g.c >= kMinChannels && g.f >= kMinChannels;
}

template <typename T>
void forward(const Geometry& g, int count, const T* x, const T* w, const T* bias, T* y, bool accumulate, Scratch<T>& s,
             int threads) {
  if (count <= 0) return;
  s.reserve(1);
  T* u = s.get(0, kU, 16 * int64_t(g.f) * g.c);
  transformKernels(g.f, g.c, w, false, u);
  convolve(g, count, x, u, bias, y, accumulate, s, threads);
}

template <typename T>
void backwardData(const Geometry& g, int count, const T* gy, const T* w, T* gx, Scratch<T>& s, int threads) {
  if (count <= 0) return;
  Geometry t = g;  // the swapped convolution: GY (g.f channels) to GX (g.c channels)
  t.c = g.f;
  t.f = g.c;
  s.reserve(1);
  T* u = s.get(0, kU, 16 * int64_t(g.f) * g.c);
  transformKernels(g.f, g.c, w, true, u);
  convolve(t, count, gy, u, static_cast<const T*>(nullptr), gx, true, s, threads);
}

#define METATASK_WINOGRAD_INSTANTIATE(T)                                                                        \
  template void forward<T>(const Geometry&, int, const T*, const T*, const T*, T*, bool, Scratch<T>&, int); \
  template void backwardData<T>(const Geometry&, int, const T*, const T*, T*, Scratch<T>&, int);
METATASK_WINOGRAD_INSTANTIATE(float)
METATASK_WINOGRAD_INSTANTIATE(double)
#undef METATASK_WINOGRAD_INSTANTIATE

}  // namespace metatask::conv::winograd
