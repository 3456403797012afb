// Eigen map types shared by the kernels. Kernels are plain C++ over these maps: no napi.h here.
#pragma once
#include "config.h"

#include <Eigen/Dense>
#include <cstdint>
#include <string>

namespace metatask {

template <typename T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

// JS memory is never assumed to be 16-byte aligned: Eigen::Unaligned maps.
template <typename T>
using MatMap = Eigen::Map<RowMat<T>, Eigen::Unaligned>;
template <typename T>
using CMatMap = Eigen::Map<const RowMat<T>, Eigen::Unaligned>;
template <typename T>
using VecMap = Eigen::Map<Vec<T>, Eigen::Unaligned>;
template <typename T>
using CVecMap = Eigen::Map<const Vec<T>, Eigen::Unaligned>;

// Thrown by kernels for mathematical failures (not positive definite, a class index out of range,
// ...); the binding turns it into an Error whose message starts with "ERR_VALUE:" so the TS
// adapter raises a ValueError.
struct KernelValueError {
  std::string message;
};

}  // namespace metatask
