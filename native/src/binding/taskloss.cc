// Binding of the per-task linear-model losses (kernels/taskloss.h): check every argument
// (offsets from 0 to n, non-decreasing; every shape against x, w and offsets; the loss name;
// outputs sharing no memory with inputs or each other), then evaluate.
#include "config.h"

#include <napi.h>

#include <optional>
#include <vector>

#include "binding/args.h"
#include "binding/registry.h"
#include "kernels/taskloss.h"

namespace metatask::binding {

namespace {

// Only null means "no gradient" (the adapter passes null); undefined is a mistake and refused.
bool isAbsent(const Napi::Value& v) { return v.IsNull(); }

// taskLoss(x, y, offsets, w, intercept, scale, loss, gradW, gradIntercept, out):
// x n x d, y length n, offsets Int32Array of length T + 1, w T x d, intercept and scale length T,
// loss 'squared' | 'logistic', gradW (T x d) and gradIntercept (T) null or filled, out length T.
Napi::Value TaskLoss(const Napi::CallbackInfo& info) {
  const char* fn = "taskLoss";
  Napi::Env env = info.Env();
  expectArgs(info, 10, fn);
  ArgGuard guard;
  MatMap<double> x = matrixArg<double>(info[0], fn, "x");
  const int64_t n = x.rows();
  const int64_t d = x.cols();
  VecMap<double> y = vectorArg<double>(info[1], fn, "y", n);
  // Copied (args.h rule 1): its checked contents decide which rows the kernel reads.
  const std::vector<int32_t> offsets = indexArg(info[2], fn, "offsets");
  if (offsets.size() < 1) rangeError(env, fn, "argument 'offsets' must have at least one element (T + 1)");
  const int64_t T = static_cast<int64_t>(offsets.size()) - 1;
  if (offsets[0] != 0) rangeError(env, fn, "argument 'offsets' must start at 0");
  for (int64_t t = 0; t < T; ++t) {
    if (offsets[t + 1] < offsets[t]) {
      rangeError(env, fn, "argument 'offsets' must be non-decreasing (index " + std::to_string(t + 1) + ")");
    }
  }
  if (offsets[T] != n) {
    rangeError(env, fn, "argument 'offsets' must end at n = " + std::to_string(n) + ", got " + std::to_string(offsets[T]));
  }
  MatMap<double> w = matrixArg<double>(info[3], fn, "w", T, d);
  VecMap<double> intercept = vectorArg<double>(info[4], fn, "intercept", T);
  VecMap<double> scale = vectorArg<double>(info[5], fn, "scale", T);
  const std::string lossName = stringArg(info[6], fn, "loss");
  taskloss::Loss loss;
  if (lossName == "squared") loss = taskloss::Loss::Squared;
  else if (lossName == "logistic") loss = taskloss::Loss::Logistic;
  else rangeError(env, fn, "argument 'loss' must be 'squared' or 'logistic', got '" + lossName + "'");
  std::optional<MatMap<double>> gradW;
  if (!isAbsent(info[7])) gradW.emplace(matrixArg<double>(info[7], fn, "gradW", T, d));
  std::optional<VecMap<double>> gradIntercept;
  if (!isAbsent(info[8])) gradIntercept.emplace(vectorArg<double>(info[8], fn, "gradIntercept", T));
  VecMap<double> out = vectorArg<double>(info[9], fn, "out", T);

  // Every output against every input and against the other outputs.
  auto againstInputs = [&](const auto& o, const char* on) {
    expectDisjoint(env, fn, o, on, x, "x");
    expectDisjoint(env, fn, o, on, y, "y");
    expectDisjoint(env, fn, o, on, w, "w");
    expectDisjoint(env, fn, o, on, intercept, "intercept");
    expectDisjoint(env, fn, o, on, scale, "scale");
  };
  againstInputs(out, "out");
  if (gradW) {
    againstInputs(*gradW, "gradW");
    expectDisjoint(env, fn, *gradW, "gradW", out, "out");
  }
  if (gradIntercept) {
    againstInputs(*gradIntercept, "gradIntercept");
    expectDisjoint(env, fn, *gradIntercept, "gradIntercept", out, "out");
    if (gradW) expectDisjoint(env, fn, *gradIntercept, "gradIntercept", *gradW, "gradW");
  }

  guard.verify(env, fn);
  CMatMap<double> cx(x.data(), n, d);
  CVecMap<double> cy(y.data(), n);
  CMatMap<double> cw(w.data(), T, d);
  CVecMap<double> cb(intercept.data(), T);
  CVecMap<double> cs(scale.data(), T);
  taskloss::taskLoss(cx, cy, offsets.data(), cw, cb, cs, loss, gradW ? &*gradW : nullptr, gradIntercept ? &*gradIntercept : nullptr,
                     out);
  return env.Undefined();
}

}  // namespace

void registerTaskLoss(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "taskLoss", TaskLoss);
}

}  // namespace metatask::binding
