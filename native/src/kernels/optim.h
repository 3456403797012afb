// Optimiser updates over flat parameter vectors (twin: lib/kernels/js/optim.ts), float or double.
// Every vector has the same length n and is updated in place; the binding checks lengths and
// that no two vectors share memory. Elements are independent: up to `threads` threads update
// chunks of them, with the same result for any count.
#pragma once
#include "kernels/common.h"

namespace metatask::optim {

struct AdamHyper {
  double lr, beta1, beta2, eps, weightDecay;
  bool decoupledWeightDecay;
  double step;  // 1-based
};

struct SgdHyper {
  double lr, momentum, dampening, weightDecay;
  bool nesterov;
  double step;  // 1-based
};

struct RmspropHyper {
  double lr, alpha, eps, momentum, weightDecay;
};

template <typename T>
void adamStep(T* __restrict params, const T* __restrict grad, T* __restrict m, T* __restrict v, int64_t n, const AdamHyper& h, int threads = 1);

// velocity may be null when momentum == 0.
template <typename T>
void sgdStep(T* __restrict params, const T* __restrict grad, T* __restrict velocity, int64_t n, const SgdHyper& h, int threads = 1);

// momentumBuf may be null when momentum == 0.
template <typename T>
void rmspropStep(T* __restrict params, const T* __restrict grad, T* __restrict squareAvg, T* __restrict momentumBuf, int64_t n, const RmspropHyper& h,
                 int threads = 1);

}  // namespace metatask::optim
