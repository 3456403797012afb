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

#include "kernels/conv.h"

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

// The native execution of a batchnorm -> relu -> maxpool2d chain (a conv-4 block) in one pass
// over the batchnorm's input x: only the pool's output y, its window positions, the input value
// at each of them (xmax, for the backward pass) and the channel statistics are written; the two
// intermediate tensors are never formed. `pool` is the max-pool's geometry (its input plane is
// the batchnorm's). Values equal the three ops applied in turn (the same y = x a + c, the same
// ReLU and window comparisons) up to the order of the statistics' sums.
template <typename T>
void forwardReluMaxPool(const Node<T>& b, const conv::Geometry& pool, const T* x, T* y, uint8_t* argmax, T* xmax,
                        double* batchOut, int threads);

// Its backward pass: from the forward pass's y and recorded positions and gy (the pool output's
// gradient), gx (the batchnorm input's gradient) receives the gradient of the chain (overwritten
// when `assign`, else added); g (nullable) += dL/dgamma then dL/dbeta.
template <typename T>
void backwardReluMaxPool(const Node<T>& b, const conv::Geometry& pool, const T* x, const T* y, const T* xmax, const T* gy,
                         const uint8_t* argmax, T* gx, bool assign, T* g, int threads);

}  // namespace metatask::batchnorm
