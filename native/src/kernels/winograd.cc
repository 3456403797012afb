// Winograd F(2 x 2, 3 x 3) convolution (formulas in winograd.h). With
//
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1],
//
// a chunk of images is computed in three steps: V[e, c, t] = (B^T d_c(t) B)[e] for the 16 transform
// elements e, channels c and tiles t of the chunk; M[e] = U[e] V[e] (F x C times C x tiles, by
// simd::gemm); Y(t) = A^T M[., f, t] A. U[e, f, c] = (G g_fc G^T)[e] is formed once per call.
//
// The weight gradient follows from the chain rule through the same three steps: with
// Z_f(t) = A GY_f(t) A^T (the 2 x 2 output gradient of tile t spread to 4 x 4),
// dU[e]^T = sum_t V[e, ., t] Z[e, t, .] (C x tiles times tiles x F) and gW_fc = G^T dU_fc G.
#include "kernels/winograd.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "runtime/threads.h"
#include "simd/gemm.h"

namespace metatask::conv::winograd {

namespace {

// Tiles a chunk of images aims for: the width of the 16 products (four 7 x 7 tile grids of
// 14 x 14 images), small enough that a chunk's V and M (16 x 64 x 196 values each) stay in L2.
constexpr int64_t kTargetTiles = 196;
// Tiles per weight-gradient group at least (weightGroups in conv.h; 2048 output pixels, as conv.cc).
constexpr int64_t kGroupTiles = 512;
// Below this many channels on either side the transforms cost more than the products save.
constexpr int kMinChannels = 16;

// Elements between consecutive transform matrices beyond their size (64 bytes of float).
constexpr int64_t kPlaneSkew = 16;

// Scratch buffers of a slot.
enum Buffer { kV = 0, kM = 1, kPad = 2, kU = 3 };

// Which convolution's kernels U holds: the layer's own, or those of its data gradient.
enum class Kernels { kForward, kTurned };

// U[e, f, c] (at e plane + f C + c) from the F x C kernels g_fc (3 x 3 each). For the data
// gradient (kTurned), the kernels of the swapped convolution: g'_cf(i, j) = g_fc(2 - i, 2 - j),
// with w still F x C x 3 x 3 and the result indexed [e, c, f]. Written row by row of the result.
template <typename T>
void transformKernels(int64_t F, int64_t C, const T* w, Kernels which, T* u, int64_t plane) {
  const bool turned = which == Kernels::kTurned;
  const int64_t rows = turned ? C : F, cols = turned ? F : C;
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t q = 0; q < cols; q++) {
      const int64_t f = turned ? q : r, c = turned ? r : q;
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
      T* at = u + r * cols + q;
      for (int i = 0; i < 4; i++) {
        const T e[4] = {t[i][0], T(0.5) * (t[i][0] + t[i][1] + t[i][2]), T(0.5) * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
        for (int j = 0; j < 4; j++) at[(i * 4 + j) * plane] = e[j];
      }
    }
  }
}

// Tiles along a row transformed together, one per lane of a fixed-size Eigen array (vector
// operations at the baseline level of every CPU).
constexpr int kLanes = 4;
template <typename T>
using Lanes = Eigen::Array<T, kLanes, 1>;

// V[e, c, t0 + tile] (at e plane + c ldt + t0 + tile) for the tiles of one image (C planes of H x W
// at x). Each plane is first copied, zero-padded, into its even and odd columns (pad: the even
// columns of the Hp padded rows, then the odd ones, tw + 1 each), so that the k-th patch column of
// kLanes neighbouring tiles is one contiguous run: even[tx], odd[tx], even[tx + 1], odd[tx + 1].
// Groups of kLanes tiles overlap at the end of a row (the same values written twice).
template <typename T>
void transformInput(const Geometry& g, const T* x, int64_t th, int64_t tw, T* pad, T* v, int64_t ldt, int64_t plane,
                    int64_t t0) {
  const int64_t H = g.h, W = g.w, Hp = 2 * th + 2, K = tw + 1, C = g.c;
  T* even = pad;
  T* odd = pad + Hp * K;
  std::fill(pad, pad + 2 * Hp * K, T(0));
  for (int64_t c = 0; c < C; c++) {
    const T* src = x + c * H * W;
    // Input column q is padded column q + 1: odd q lands in the even columns, even q in the odd.
    for (int64_t r = 0; r < H; r++) {
      T* e = even + (r + 1) * K;
      T* o = odd + (r + 1) * K;
      const T* in = src + r * W;
      for (int64_t k = 0; 2 * k < W; k++) o[k] = in[2 * k];
      for (int64_t k = 0; 2 * k + 1 < W; k++) e[k + 1] = in[2 * k + 1];
    }
    T* out = v + c * ldt + t0;
    for (int64_t ty = 0; ty < th; ty++) {
      const T* er[4] = {even + 2 * ty * K, even + (2 * ty + 1) * K, even + (2 * ty + 2) * K, even + (2 * ty + 3) * K};
      const T* orow[4] = {odd + 2 * ty * K, odd + (2 * ty + 1) * K, odd + (2 * ty + 2) * K, odd + (2 * ty + 3) * K};
      T* row = out + ty * tw;
      // Tiles tx .. tx + kLanes - 1 at once, one lane each: d[r][q] is patch element (r, q) of
      // every lane; t = B^T d (rows), then t B (columns).
      const auto group = [&](int64_t tx) {
        Lanes<T> d[4][4];
        for (int r = 0; r < 4; r++) {
          d[r][0] = Lanes<T>::Map(er[r] + tx);
          d[r][1] = Lanes<T>::Map(orow[r] + tx);
          d[r][2] = Lanes<T>::Map(er[r] + tx + 1);
          d[r][3] = Lanes<T>::Map(orow[r] + tx + 1);
        }
        for (int q = 0; q < 4; q++) {
          const Lanes<T> t0 = d[0][q] - d[2][q], t1 = d[1][q] + d[2][q], t2 = d[2][q] - d[1][q], t3 = d[1][q] - d[3][q];
          d[0][q] = t0;
          d[1][q] = t1;
          d[2][q] = t2;
          d[3][q] = t3;
        }
        for (int i = 0; i < 4; i++) {
          Lanes<T>::Map(row + (i * 4 + 0) * plane + tx) = d[i][0] - d[i][2];
          Lanes<T>::Map(row + (i * 4 + 1) * plane + tx) = d[i][1] + d[i][2];
          Lanes<T>::Map(row + (i * 4 + 2) * plane + tx) = d[i][2] - d[i][1];
          Lanes<T>::Map(row + (i * 4 + 3) * plane + tx) = d[i][1] - d[i][3];
        }
      };
      // Rows narrower than the lanes: one tile at a time.
      const auto single = [&](int64_t tx) {
        T d[4][4];
        for (int r = 0; r < 4; r++) {
          d[r][0] = er[r][tx];
          d[r][1] = orow[r][tx];
          d[r][2] = er[r][tx + 1];
          d[r][3] = orow[r][tx + 1];
        }
        for (int q = 0; q < 4; q++) {
          const T t0 = d[0][q] - d[2][q], t1 = d[1][q] + d[2][q], t2 = d[2][q] - d[1][q], t3 = d[1][q] - d[3][q];
          d[0][q] = t0;
          d[1][q] = t1;
          d[2][q] = t2;
          d[3][q] = t3;
        }
        for (int i = 0; i < 4; i++) {
          row[(i * 4 + 0) * plane + tx] = d[i][0] - d[i][2];
          row[(i * 4 + 1) * plane + tx] = d[i][1] + d[i][2];
          row[(i * 4 + 2) * plane + tx] = d[i][2] - d[i][1];
          row[(i * 4 + 3) * plane + tx] = d[i][1] - d[i][3];
        }
      };
      if (tw < kLanes) {
        for (int64_t tx = 0; tx < tw; tx++) single(tx);
        continue;
      }
      int64_t tx = 0;
      for (; tx + kLanes <= tw; tx += kLanes) group(tx);
      if (tx < tw) group(tw - kLanes);
    }
  }
}

// Y of one image from M[e, f, t0 + tile] (at e plane + f ldt + t0 + tile; F planes of ho x wo at y): bias + value, or y + value
// when accumulating. Tiles past an odd last row or column of the output are dropped.
template <typename T>
void transformOutput(const Geometry& g, const T* m, int64_t th, int64_t tw, int64_t ldt, int64_t plane, int64_t t0,
                     const T* bias, bool accumulate, T* y) {
  const int64_t F = g.f, ho = g.ho, wo = g.wo;
  // Tiles tx .. tx + lanes - 1 of tile row ty of filter f: s = A^T e (2 x 4), then s A (2 x 2),
  // in kLanes lanes (V: Lanes<T>) or one (V: T).
  const auto tilesOf = [&](auto lane, const T* in, T* out, T b, int64_t ty, int64_t tx) {
    using V = decltype(lane);
    constexpr int lanes = sizeof(V) / sizeof(T);
    const auto load = [&](int e) -> V {
      if constexpr (lanes == 1) return in[e * plane + ty * tw + tx];
      else return Lanes<T>::Map(in + e * plane + ty * tw + tx);
    };
    V sr[2][4];
    for (int j = 0; j < 4; j++) {
      const V e0 = load(j), e1 = load(4 + j), e2 = load(8 + j), e3 = load(12 + j);
      sr[0][j] = e0 + e1 + e2;
      sr[1][j] = e1 - e2 - e3;
    }
    for (int a = 0; a < 2; a++) {
      const int64_t oy = 2 * ty + a;
      if (oy >= ho) break;
      const V r0 = sr[a][0] + sr[a][1] + sr[a][2], r1 = sr[a][1] - sr[a][2] - sr[a][3];
      T* dst = out + oy * wo;
      for (int l = 0; l < lanes; l++) {
        const int64_t ox = 2 * (tx + l);
        T v0, v1;
        if constexpr (lanes == 1) {
          v0 = r0;
          v1 = r1;
        } else {
          v0 = r0[l];
          v1 = r1[l];
        }
        dst[ox] = accumulate ? dst[ox] + v0 : b + v0;
        if (ox + 1 < wo) dst[ox + 1] = accumulate ? dst[ox + 1] + v1 : b + v1;
      }
    }
  };
  for (int64_t f = 0; f < F; f++) {
    const T* in = m + f * ldt + t0;
    T* out = y + f * ho * wo;
    const T b = bias ? bias[f] : T(0);
    for (int64_t ty = 0; ty < th; ty++) {
      int64_t tx = 0;
      for (; tx + kLanes <= tw; tx += kLanes) tilesOf(Lanes<T>(), in, out, b, ty, tx);
      for (; tx < tw; tx++) tilesOf(T(0), in, out, b, ty, tx);
    }
  }
}

// Z[e, t0 + tile, f] = (A GY_f(tile) A^T)[e] (at e plane + (t0 + tile) F + f: tiles by rows, so that
// the product with V reads both operands along their rows) for the tiles of one image's output
// gradient (F planes of ho x wo at gy); outputs past an odd last row or column are zero. The
// image is first transposed to pixels x F (gyT, with a row of F zeros after it for the missing
// outputs), so that kLanes filters of one tile are one contiguous run.
template <typename T>
void transformGradient(const Geometry& g, const T* gy, int64_t th, int64_t tw, int64_t plane, int64_t t0, T* z, T* gyT) {
  const int64_t F = g.f, ho = g.ho, wo = g.wo, HW = ho * wo;
  for (int64_t f = 0; f < F; f++)
    for (int64_t p = 0; p < HW; p++) gyT[p * F + f] = gy[f * HW + p];
  const T* zeros = gyT + HW * F;
  std::fill(gyT + HW * F, gyT + (HW + 1) * F, T(0));
  // Filters f .. f + lanes - 1 of one tile: r = A d (4 x 2), then r A^T (4 x 4); A = [1 0; 1 1; 1 -1; 0 -1].
  const auto filters = [&](auto lane, const T* const (&d)[4], T* out, int64_t f) {
    using V = decltype(lane);
    const auto load = [&](const T* q) -> V {
      if constexpr (std::is_same_v<V, T>) return q[f];
      else return Lanes<T>::Map(q + f);
    };
    const auto store = [&](int e, const V& v) {
      if constexpr (std::is_same_v<V, T>) out[e * plane + f] = v;
      else Lanes<T>::Map(out + e * plane + f) = v;
    };
    const V d00 = load(d[0]), d01 = load(d[1]), d10 = load(d[2]), d11 = load(d[3]);
    const V r[4][2] = {{d00, d01}, {d00 + d10, d01 + d11}, {d00 - d10, d01 - d11}, {-d10, -d11}};
    for (int i = 0; i < 4; i++) {
      store(i * 4 + 0, r[i][0]);
      store(i * 4 + 1, r[i][0] + r[i][1]);
      store(i * 4 + 2, r[i][0] - r[i][1]);
      store(i * 4 + 3, -r[i][1]);
    }
  };
  for (int64_t ty = 0; ty < th; ty++) {
    for (int64_t tx = 0; tx < tw; tx++) {
      const int64_t oy = 2 * ty, ox = 2 * tx;
      const bool down = oy + 1 < ho, right = ox + 1 < wo;
      const T* p00 = gyT + (oy * wo + ox) * F;
      const T* const d[4] = {p00, right ? p00 + F : zeros, down ? p00 + wo * F : zeros, down && right ? p00 + (wo + 1) * F : zeros};
      T* out = z + (t0 + ty * tw + tx) * F;
      int64_t f = 0;
      for (; f + kLanes <= F; f += kLanes) filters(Lanes<T>(), d, out, f);
      for (; f < F; f++) filters(T(0), d, out, f);
    }
  }
}

// gw_fc += G^T dU_fc G for the 16 x C x F sums dU (double, [e, c, f]).
template <typename T>
void kernelGradients(int64_t F, int64_t C, const double* du, T* gw) {
  for (int64_t f = 0; f < F; f++) {
    for (int64_t c = 0; c < C; c++) {
      double u[4][4];
      for (int e = 0; e < 16; e++) u[e / 4][e % 4] = du[(e * C + c) * F + f];
      // t = G^T u (3 x 4), then t G (3 x 3); G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1].
      double t[3][4];
      for (int j = 0; j < 4; j++) {
        t[0][j] = u[0][j] + 0.5 * (u[1][j] + u[2][j]);
        t[1][j] = 0.5 * (u[1][j] - u[2][j]);
        t[2][j] = 0.5 * (u[1][j] + u[2][j]) + u[3][j];
      }
      T* k = gw + (f * C + c) * 9;
      for (int i = 0; i < 3; i++) {
        const double r[3] = {t[i][0] + 0.5 * (t[i][1] + t[i][2]), 0.5 * (t[i][1] - t[i][2]), 0.5 * (t[i][1] + t[i][2]) + t[i][3]};
        for (int j = 0; j < 3; j++) k[i * 3 + j] = static_cast<T>(double(k[i * 3 + j]) + r[j]);
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
  const int per = imagesPerChunk(tiles, count, kTargetTiles);
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
    T* pad = s.get(slot, kPad, 2 * (2 * th + 2) * (tw + 1));
    for (int j = 0; j < images; j++)
      transformInput(g, x + int64_t(first + j) * g.inSize(), th, tw, pad, v, n, vPlane, j * tiles);
    for (int e = 0; e < 16; e++)
      simd::gemm<T>(F, n, C, T(1), u + e * (F * C + kPlaneSkew), C, false, v + e * vPlane, n, false, T(0), m + e * mPlane, n,
                    inner);
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
  const int64_t plane = int64_t(g.f) * g.c + kPlaneSkew;
  T* u = s.get(0, kU, 16 * plane);
  transformKernels(g.f, g.c, w, Kernels::kForward, u, plane);
  convolve(g, count, x, u, bias, y, accumulate, s, threads);
}

template <typename T>
void backwardData(const Geometry& g, int count, const T* gy, const T* w, T* gx, Scratch<T>& s, int threads) {
  if (count <= 0) return;
  Geometry t = g;  // the swapped convolution: GY (g.f channels) to GX (g.c channels)
  t.c = g.f;
  t.f = g.c;
  s.reserve(1);
  const int64_t plane = int64_t(g.f) * g.c + kPlaneSkew;
  T* u = s.get(0, kU, 16 * plane);
  transformKernels(g.f, g.c, w, Kernels::kTurned, u, plane);
  convolve(t, count, gy, u, static_cast<const T*>(nullptr), gx, true, s, threads);
}

template <typename T>
void backwardWeights(const Geometry& g, int count, const T* x, const T* gy, T* gw, T* gb, Scratch<T>& s, int threads) {
  if (count <= 0) return;
  const int64_t th = (g.ho + 1) / 2, tw = (g.wo + 1) / 2, tiles = th * tw;
  const int64_t C = g.c, F = g.f, HWo = g.outPlane();
  const int per = imagesPerChunk(tiles, count, kTargetTiles);
  // Image groups, each summed by one task into its own partial dU (and bias sums); a function of
  // the batch and the geometry only, so the order of every sum is independent of the threads.
  const int groups = weightGroups(tiles, count, kGroupTiles);
  const int inner = groups == 1 ? threads : 1;
  const int64_t stride = 16 * F * C;
  s.reserve(std::max(1, std::min(threads, groups)));
  T* partials = s.get(0, kU, stride * groups);
  std::vector<double> biasSums(size_t(groups) * size_t(F), 0.0);
  runtime::parallelFor(groups, threads, [&](int grp, int slot) {
    const int from = int(int64_t(count) * grp / groups), to = int(int64_t(count) * (grp + 1) / groups);
    T* part = partials + stride * grp;
    bool first = true;
    for (int n0 = from; n0 < to; n0 += per) {
      const int images = std::min(per, to - n0);
      const int64_t n = images * tiles;
      const int64_t vPlane = C * n + kPlaneSkew, zPlane = F * n + kPlaneSkew;
      T* v = s.get(slot, kV, 16 * vPlane);
      T* z = s.get(slot, kM, 16 * zPlane);
      // The padded plane of transformInput, then the transposed image of transformGradient.
      const int64_t padSize = 2 * (2 * th + 2) * (tw + 1);
      T* pad = s.get(slot, kPad, padSize + (HWo + 1) * F);
      for (int j = 0; j < images; j++) {
        transformInput(g, x + int64_t(n0 + j) * g.inSize(), th, tw, pad, v, n, vPlane, j * tiles);
        transformGradient(g, gy + int64_t(n0 + j) * g.outSize(), th, tw, zPlane, j * tiles, z, pad + padSize);
      }
      // dU^T[e] (C x F) += V[e] (C x tiles) Z[e] (tiles x F).
      for (int e = 0; e < 16; e++)
        simd::gemm<T>(C, F, n, T(1), v + e * vPlane, n, false, z + e * zPlane, F, false, first ? T(0) : T(1), part + e * F * C,
                      F, inner);
      first = false;
    }
    if (!gb) return;
    double* bs = biasSums.data() + size_t(grp) * size_t(F);
    for (int r = from; r < to; r++)
      for (int64_t f = 0; f < F; f++) {
        const T* p = gy + int64_t(r) * g.outSize() + f * HWo;
        double acc = 0;
        for (int64_t q = 0; q < HWo; q++) acc += p[q];
        bs[f] += acc;
      }
  });
  // The groups in order (double), then through G^T . G into gW.
  std::vector<double> du(size_t(stride), 0.0);
  for (int grp = 0; grp < groups; grp++)
    for (int64_t q = 0; q < stride; q++) du[size_t(q)] += partials[stride * grp + q];
  kernelGradients(F, C, du.data(), gw);
  if (!gb) return;
  for (int64_t f = 0; f < F; f++) {
    double acc = 0;
    for (int grp = 0; grp < groups; grp++) acc += biasSums[size_t(grp) * size_t(F) + size_t(f)];
    gb[f] = static_cast<T>(double(gb[f]) + acc);
  }
}

#define METATASK_WINOGRAD_INSTANTIATE(T)                                                                        \
  template void forward<T>(const Geometry&, int, const T*, const T*, const T*, T*, bool, Scratch<T>&, int); \
  template void backwardData<T>(const Geometry&, int, const T*, const T*, T*, Scratch<T>&, int);                 \
  template void backwardWeights<T>(const Geometry&, int, const T*, const T*, T*, T*, Scratch<T>&, int);
METATASK_WINOGRAD_INSTANTIATE(float)
METATASK_WINOGRAD_INSTANTIATE(double)
#undef METATASK_WINOGRAD_INSTANTIATE

}  // namespace metatask::conv::winograd
