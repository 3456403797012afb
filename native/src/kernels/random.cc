// Dropout masks from the xoshiro128** stream (formula in random.h).
#include "kernels/random.h"

namespace metatask::random {

namespace {
inline uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
}  // namespace

template <typename T>
void fillMask(uint32_t state[4], T* out, int64_t n, double rate, double keep) {
  const double threshold = rate * 4294967296.0;
  const T kept = static_cast<T>(keep);
  // The state in registers: the loop is one dependency chain through it.
  uint32_t s0 = state[0], s1 = state[1], s2 = state[2], s3 = state[3];
  for (int64_t k = 0; k < n; k++) {
    const uint32_t u = rotl(s1 * 5u, 7) * 9u;
    const uint32_t t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    out[k] = double(u) < threshold ? T(0) : kept;
  }
  state[0] = s0;
  state[1] = s1;
  state[2] = s2;
  state[3] = s3;
}

template void fillMask<float>(uint32_t[4], float*, int64_t, double, double);
template void fillMask<double>(uint32_t[4], double*, int64_t, double, double);

}  // namespace metatask::random
