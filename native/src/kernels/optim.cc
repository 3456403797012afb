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

namespace metatask::optim {

template <typename T>
void adamStep(T* __restrict params, const T* __restrict grad, T* __restrict m, T* __restrict v, int64_t n, const AdamHyper& h) {
  const double bc1 = 1.0 - std::pow(h.beta1, h.step);
  const double bc2Sqrt = std::sqrt(1.0 - std::pow(h.beta2, h.step));
  const double stepSize = h.lr / bc1;
  const double decay = h.decoupledWeightDecay ? 1.0 - h.lr * h.weightDecay : 1.0;
  const double l2 = h.decoupledWeightDecay ? 0.0 : h.weightDecay;
  for (int64_t i = 0; i < n; ++i) {
    double p = params[i];
    const double g = static_cast<double>(grad[i]) + l2 * p;
    p *= decay;  // 1 unless decoupled (AdamW); branch-free so the loop vectorises
    const double mi = h.beta1 * static_cast<double>(m[i]) + (1.0 - h.beta1) * g;
    const double vi = h.beta2 * static_cast<double>(v[i]) + (1.0 - h.beta2) * g * g;
    m[i] = static_cast<T>(mi);
    v[i] = static_cast<T>(vi);
    params[i] = static_cast<T>(p - stepSize * mi / (std::sqrt(vi) / bc2Sqrt + h.eps));
  }
}

template <typename T>
void sgdStep(T* __restrict params, const T* __restrict grad, T* __restrict velocity, int64_t n, const SgdHyper& h) {
  const bool useMomentum = h.momentum != 0.0;
  const bool first = h.step <= 1.0;
  for (int64_t i = 0; i < n; ++i) {
    const double p = params[i];
    double g = static_cast<double>(grad[i]) + h.weightDecay * p;
    if (useMomentum) {
      // PyTorch creates the buffer as a copy of the gradient at the first step (no dampening).
      const double buf = first ? g : h.momentum * static_cast<double>(velocity[i]) + (1.0 - h.dampening) * g;
      velocity[i] = static_cast<T>(buf);
      g = h.nesterov ? g + h.momentum * buf : buf;
    }
    params[i] = static_cast<T>(p - h.lr * g);
  }
}

template <typename T>
void rmspropStep(T* __restrict params, const T* __restrict grad, T* __restrict squareAvg, T* __restrict momentumBuf, int64_t n, const RmspropHyper& h) {
  const bool useMomentum = h.momentum > 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double p = params[i];
    const double g = static_cast<double>(grad[i]) + h.weightDecay * p;
    const double s = h.alpha * static_cast<double>(squareAvg[i]) + (1.0 - h.alpha) * g * g;
    squareAvg[i] = static_cast<T>(s);
    const double avg = std::sqrt(s) + h.eps;
    if (useMomentum) {
      const double buf = h.momentum * static_cast<double>(momentumBuf[i]) + g / avg;
      momentumBuf[i] = static_cast<T>(buf);
      params[i] = static_cast<T>(p - h.lr * buf);
    } else {
      params[i] = static_cast<T>(p - h.lr * g / avg);
    }
  }
}

template void adamStep<float>(float*, const float*, float*, float*, int64_t, const AdamHyper&);
template void adamStep<double>(double*, const double*, double*, double*, int64_t, const AdamHyper&);
template void sgdStep<float>(float*, const float*, float*, int64_t, const SgdHyper&);
template void sgdStep<double>(double*, const double*, double*, int64_t, const SgdHyper&);
template void rmspropStep<float>(float*, const float*, float*, float*, int64_t, const RmspropHyper&);
template void rmspropStep<double>(double*, const double*, double*, double*, int64_t, const RmspropHyper&);

}  // namespace metatask::optim
