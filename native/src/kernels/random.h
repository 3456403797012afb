// Dropout masks drawn from the generator of lib/core/rng.ts (twin: lib/kernels/js/random.ts).
//
// xoshiro128** (Blackman & Vigna 2018, "Scrambled Linear Pseudorandom Number Generators"), state
// s0..s3 (32 bits each); one draw:
//     u = rotl(s1 * 5, 7) * 9;  t = s1 << 9;
//     s2 ^= s0;  s3 ^= s1;  s1 ^= s2;  s0 ^= s3;  s2 ^= t;  s3 = rotl(s3, 11)
// fillMask: out[k] = 0 when the k-th draw u satisfies u < rate * 2^32 (compared in double), else
// keep (rounded to T once); the state is advanced by n draws. The stream is sequential (each draw
// depends on the last), so this runs on one thread.
#pragma once
#include <cstdint>

namespace metatask::random {

template <typename T>
void fillMask(uint32_t state[4], T* out, int64_t n, double rate, double keep);

}  // namespace metatask::random
