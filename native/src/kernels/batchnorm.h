// Batch normalisation (Ioffe & Szegedy 2015; twin: lib/kernels/js/batchnorm.ts) of C channels of
// HW values per row (an NCHW image, or HW = 1 and one channel per feature of a flat node):
//     xhat = (x - mu_c) s_c,  s_c = (var_c + eps)^-1/2,  y = xhat gamma_c + beta_c.
// Batch mode: mu_c, var_c (biased) are the statistics of the channel's n HW values in the batch;
// running mode: the caller's. Formulas of every pass in batchnorm.ts. Each channel is computed
// by one thread in a fixed order (sums in double), so results do not depend on the thread count.
// Only mu and s are kept per channel; xhat is recomputed from x.
#pragma once
#include "config.h"

#include <cstdint>

namespace metatask::batchnorm {

template <typename T>
struct Node {
  int n = 0;        // rows
  int C = 0;        // channels
  int64_t HW = 1;   // values per channel and row
  double eps = 1e-5;
  const T* gamma = nullptr;   // C values, then beta's C
  const T* vgamma = nullptr;  // the direction of an R-pass (gamma part, then beta part), or null
  const T* running = nullptr; // running mode: C means then C variances; null = batch mode
  // Per-channel caches owned by the caller: mean and 1/std (forward), mean(R{x}) and
  // mean(xhat R{x}) (R-forward), C values each.
  double* mean = nullptr;
  double* invStd = nullptr;
  double* rMean = nullptr;
  double* rMeanX = nullptr;
};

// y = BN(x); in batch mode with batchOut, batchOut receives the C means then the C variances.
template <typename T>
void forward(const Node<T>& b, const T* x, T* y, double* batchOut, int threads);

// gx += dL/dx; g (nullable) += dL/dgamma (C values) then dL/dbeta (C values).
template <typename T>
void backward(const Node<T>& b, const T* x, const T* gy, T* gx, T* g, int threads);

// ry = R{y} for the direction b.vgamma of the parameters and rx of the input.
template <typename T>
void rForward(const Node<T>& b, const T* x, const T* rx, T* ry, int threads);

// rgx += R{dL/dx}; rg += R{dL/dgamma} then R{dL/dbeta}.
template <typename T>
void rBackward(const Node<T>& b, const T* x, const T* rx, const T* gy, const T* rgy, T* rgx, T* rg, int threads);

}  // namespace metatask::batchnorm
