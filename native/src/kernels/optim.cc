// Optimiser updates over flat parameter vectors, PyTorch semantics (torch.optim, single-tensor
// path); twin: lib/kernels/js/optim.ts.
// - Adam (Kingma & Ba 2015): g += wd p (L2) or p *= 1 - lr wd (AdamW, Loshchilov & Hutter 2019);
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps).
// - SGD: g += wd p; buf = g at step 1, else momentum buf + (1 - dampening) g;
//   g = g + momentum buf (Nesterov) or buf; p -= lr g.
// - RMSprop (Hinton 2012): g += wd p; s = alpha s + (1 - alpha) g^2; a = sqrt(s) + eps
//   (eps outside the root); buf = momentum buf + g / a, p -= lr buf (momentum > 0) or p -= lr g / a.
// Every element is computed in double and rounded once when stored, as the TypeScript twin
// does on a Float32Array, so the two agree to float32 rounding.
#include "kernels/optim.h"

#include <cmath>
#include <type_traits>

#include "runtime/threads.h"
#include "simd/ops.h"

namespace metatask::optim {

// The loops run in the SIMD level's unit (simd/ops_impl.h), every element in double and rounded
// once, so every level gives the same bits; the per-step coefficients are computed here.
// Vectors under 32 Ki elements take one call (handing a part to another thread costs more);
// larger ones are split evenly over the threads.
constexpr int64_t kMinPart = int64_t(1) << 15;

template <typename T>
void adamStep(T* __restrict params, const T* __restrict grad, T* __restrict m, T* __restrict v, int64_t n, const AdamHyper& h, int threads) {
  simd::AdamCoeffs c{};
  c.beta1 = h.beta1;
  c.beta2 = h.beta2;
  c.eps = h.eps;
  c.stepSize = h.lr / (1.0 - std::pow(h.beta1, h.step));
  c.bc2Sqrt = std::sqrt(1.0 - std::pow(h.beta2, h.step));
  c.decay = h.decoupledWeightDecay ? 1.0 - h.lr * h.weightDecay : 1.0;
  c.l2 = h.decoupledWeightDecay ? 0.0 : h.weightDecay;
  const auto adam = simd::elementOps<T>().adam;
  runtime::parallelParts(n, kMinPart, threads, [&](int64_t a, int64_t b) { adam(params + a, grad + a, m + a, v + a, b - a, c); });
}

template <typename T>
void sgdStep(T* __restrict params, const T* __restrict grad, T* __restrict velocity, int64_t n, const SgdHyper& h, int threads) {
  const simd::SgdCoeffs c{h.lr, h.momentum, h.dampening, h.weightDecay, h.nesterov, h.step <= 1.0};
  const auto sgd = simd::elementOps<T>().sgd;
  runtime::parallelParts(n, kMinPart, threads, [&](int64_t a, int64_t b) { sgd(params + a, grad + a, velocity ? velocity + a : nullptr, b - a, c); });
}

template <typename T>
void rmspropStep(T* __restrict params, const T* __restrict grad, T* __restrict squareAvg, T* __restrict momentumBuf, int64_t n, const RmspropHyper& h,
                 int threads) {
  const simd::RmspropCoeffs c{h.lr, h.alpha, h.eps, h.momentum, h.weightDecay};
  const auto rmsprop = simd::elementOps<T>().rmsprop;
  runtime::parallelParts(n, kMinPart, threads, [&](int64_t a, int64_t b) {
    rmsprop(params + a, grad + a, squareAvg + a, momentumBuf ? momentumBuf + a : nullptr, b - a, c);
  });
}

template void adamStep<float>(float*, const float*, float*, float*, int64_t, const AdamHyper&, int);
template void adamStep<double>(double*, const double*, double*, double*, int64_t, const AdamHyper&, int);
template void sgdStep<float>(float*, const float*, float*, int64_t, const SgdHyper&, int);
template void sgdStep<double>(double*, const double*, double*, int64_t, const SgdHyper&, int);
template void rmspropStep<float>(float*, const float*, float*, float*, int64_t, const RmspropHyper&, int);
template void rmspropStep<double>(double*, const double*, double*, double*, int64_t, const RmspropHyper&, int);

}  // namespace metatask::optim
