// 3 x 3 convolutions at stride 1 with one pixel of zero padding by Winograd's minimal filtering
// algorithm F(2 x 2, 3 x 3) (Lavin & Gray, "Fast algorithms for convolutional neural networks",
// CVPR 2016). For each 2 x 2 tile of output pixels and its 4 x 4 input patch d_c in channel c:
//
//   Y_f(tile) = A^T [ sum_c U_fc (.) V_c(tile) ] A,   U_fc = G g_fc G^T,   V_c = B^T d_c B
//
// ((.) the element-wise product; A, B, G the constant matrices in winograd.cc). The sum over c is,
// for each of the 16 elements of the 4 x 4 transform, one matrix product (F x C)(C x tiles): 16
// products of 4 multiply-adds per tile where the direct form has 36 per 2 x 2 outputs, 2.25 times
// fewer. The transforms are exact in real arithmetic, so results agree with the direct form
// (conv.cc, and the TypeScript twin lib/kernels/js/conv.ts) to rounding. Threads run chunks of
// images, each output computed by one thread in a fixed order: results do not depend on the
// thread count.
#pragma once
#include "config.h"

#include "kernels/conv.h"

namespace metatask::conv::winograd {

// Whether the geometry is one this form computes: 3 x 3 kernel, stride 1, one pixel of padding
// on every side (so the output is as large as the input), and enough channels on both sides for
// the 16 products to beat the direct form.
bool applies(const Geometry& g);

// As conv::forward.
template <typename T>
void forward(const Geometry& g, int count, const T* x, const T* w, const T* bias, T* y, bool accumulate, Scratch<T>& s,
             int threads);

// As conv::backwardData: the gradient of a 3 x 3 'same' convolution is the 'same' convolution of
// GY with the kernels turned by 180 degrees and input and output channels swapped.
template <typename T>
void backwardData(const Geometry& g, int count, const T* gy, const T* w, T* gx, Scratch<T>& s, int threads);

// As conv::backwardWeights.
template <typename T>
void backwardWeights(const Geometry& g, int count, const T* x, const T* gy, T* gw, T* gb, Scratch<T>& s, int threads);

}  // namespace metatask::conv::winograd
