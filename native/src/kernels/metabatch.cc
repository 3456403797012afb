// The MAML/ANIL meta-gradient of a whole meta-batch in one call (twin: lib/kernels/js/metabatch.ts;
// formula and threading in metabatch.h). This fuses the per-task loop of lib/meta/maml.ts: per
// task, k inner steps theta_{i+1} = theta_i - a M grad L_S(theta_i), then
// v = grad L_Q(theta_k), v <- v - a H_S(theta_i) (M v) for i = k-1..0 (second order only);
// grad = mean_t v_t, loss = mean_t L_Q(theta_k^t).
#include "kernels/metabatch.h"

#include <Eigen/Core>
#include <algorithm>

#include "runtime/threads.h"
#include "simd/ops.h"

namespace metatask::metabatch {

namespace {
// Elements per part of the final sum over the tasks' v_t: a part of fewer costs its thread's
// hand-over more than the adding.
constexpr int64_t kMinSumPart = 256;

// Every scratch vector starts on a 64-byte boundary (aligned allocator, slots padded to a multiple
// of 64 bytes), whichever worker runs a task: Eigen's vectorised loops then take the same path and
// a task's result does not depend on the thread that computed it.
template <typename T>
using Buffer = std::vector<T, Eigen::aligned_allocator<T>>;

template <typename T>
int64_t padded(int64_t n) {
  const int64_t per = std::max<int64_t>(1, 64 / int64_t(sizeof(T)));
  return (n + per - 1) / per * per;
}
}  // namespace

template <typename T>
struct MetaBatch<T>::Scratch {
  int64_t stride = 0;
  Buffer<T> traj;  // theta_0..theta_k, `stride` apart
  Buffer<T> g, mv, hv;
  std::vector<double> losses;  // per head
  // The v_t of the tasks this thread ran in this call, in its own memory: a task's buffer written
  // by another core in the last call had to be fetched from that core's cache first.
  std::vector<Buffer<T>> grads;
  size_t gradsUsed = 0;

  T* nextGrad(int64_t P) {
    if (gradsUsed == grads.size()) grads.emplace_back(size_t(P));
    Buffer<T>& b = grads[gradsUsed++];
    b.resize(size_t(P));
    return b.data();
  }
};

// start()'s copies of everything the tasks read.
template <typename T>
struct MetaBatch<T>::Inputs {
  Buffer<T> params, x, y;
  std::vector<int32_t> offsets;
  std::vector<uint8_t> mask;
};

template <typename T>
MetaBatch<T>::MetaBatch(network::Network<T>& main) : main_(main) {}

template <typename T>
MetaBatch<T>::~MetaBatch() = default;

template <typename T>
int64_t MetaBatch<T>::bytesHeld() const {
  // While a started meta-gradient runs, the workers' networks may be growing their buffers.
  if (pending_) return heldAtStart_;
  int64_t bytes = 0;
  if (inputs_) {
    const Inputs& in = *inputs_;
    bytes += int64_t((in.params.capacity() + in.x.capacity() + in.y.capacity()) * sizeof(T) +
                     in.offsets.capacity() * sizeof(int32_t) + in.mask.capacity());
  }
  for (const auto& net : extra_) bytes += net->bytesHeld();
  for (const auto& s : scratch_) {
    if (!s) continue;
    bytes += int64_t((s->traj.capacity() + s->g.capacity() + s->mv.capacity() + s->hv.capacity()) * sizeof(T));
    for (const auto& g : s->grads) bytes += int64_t(g.capacity() * sizeof(T));
  }
  return bytes;
}

template <typename T>
void MetaBatch<T>::runTask(int t, network::Network<T>& net, Scratch& s, const T* params, const Tasks<T>& tasks,
                           const Options& o) {
  const network::Program& prog = net.program();
  const int64_t P = prog.paramCount;
  const int k = o.innerSteps;
  const double a = o.innerLr;
  const uint8_t* m = o.mask;
  const int64_t in = prog.inputSize;
  // The elementwise steps at the SIMD level's width (this unit is compiled for the baseline).
  const simd::ElementOps<T>& ops = simd::elementOps<T>();
  auto batch = [&](int32_t from, int32_t to) {
    network::Batch<T> b;
    b.x = tasks.x + int64_t(from) * in;
    b.n = to - from;
    b.y = tasks.y + int64_t(from) * tasks.yCols;
    b.yCols = tasks.yCols;
    b.masks = nullptr;
    return b;
  };
  const network::Batch<T> support = batch(tasks.offsets[2 * t], tasks.offsets[2 * t + 1]);
  const network::Batch<T> query = batch(tasks.offsets[2 * t + 1], tasks.offsets[2 * t + 2]);
  const size_t H = prog.heads.size();
  std::vector<double>& losses = s.losses;
  losses.assign(H, 0.0);
  auto theta = [&](int i) { return s.traj.data() + int64_t(i) * s.stride; };

  std::copy(params, params + P, theta(0));
  for (int i = 0; i < k; i++) {
    net.lossGrad(theta(i), support, ones_.data(), s.g.data(), losses.data());
    ops.gradientStep(theta(i), s.g.data(), a, m, theta(i + 1), P);
  }
  T* v = s.nextGrad(P);
  taskGrad_[t] = v;
  net.lossGrad(theta(k), query, ones_.data(), v, losses.data());
  double loss = 0;
  for (size_t h = 0; h < H; h++) loss += losses[h];
  taskLoss_[t] = loss;
  if (o.firstOrder || k == 0) return;
  for (int i = k - 1; i >= 0; i--) {
    const T* mv = v;
    if (m) {
      for (int64_t j = 0; j < P; j++) s.mv[j] = m[j] ? v[j] : T(0);
      mv = s.mv.data();
    }
    net.hvp(theta(i), support, ones_.data(), mv, s.hv.data());
    ops.gradientStep(v, s.hv.data(), a, nullptr, v, P);
  }
}

template <typename T>
int MetaBatch<T>::reserve(const Tasks<T>& tasks, const Options& o, int threads) {
  const network::Program& prog = main_.program();
  const int64_t P = prog.paramCount;
  const int T_ = tasks.count;
  const int workers = std::max(1, std::min(threads, T_));
  ones_.assign(prog.heads.size(), 1.0);
  taskLoss_.assign(T_, 0.0);
  taskGrad_.assign(size_t(T_), nullptr);
  const int64_t stride = padded<T>(P);
  for (int w = 0; w < workers; w++) {
    if (scratch_.size() <= size_t(w)) scratch_.resize(w + 1);
    if (!scratch_[w]) scratch_[w] = std::make_unique<Scratch>();
    Scratch& s = *scratch_[w];
    s.stride = stride;
    s.traj.resize(size_t(stride) * (o.innerSteps + 1));
    s.g.resize(P);
    s.mv.resize(P);
    s.hv.resize(P);
  }
  // A slot beyond `workers` (an earlier call's) is trimmed to one buffer by finish().
  for (const auto& sc : scratch_)
    if (sc) sc->gradsUsed = 0;
  while (extra_.size() + 1 < size_t(workers)) extra_.push_back(std::make_unique<network::Network<T>>(prog));
  // Threads beyond one per task go to the products of the tasks' passes (as in the network's row
  // chunks); with a task per thread a nested parallel section would only queue behind the tasks.
  const int inner = std::max(1, threads / workers);
  main_.setThreads(inner);
  for (int w = 1; w < workers; w++) extra_[w - 1]->setThreads(inner);
  return workers;
}

template <typename T>
void MetaBatch<T>::sumTasks(double* grad) const {
  const int64_t P = main_.program().paramCount;
  const int count = pendingCount_;
  // maml.ts's accumulation, element by element: in double, task after task, then the mean.
  const T* const* v = taskGrad_.data();
  runtime::parallelParts(P, kMinSumPart, workers_, [&](int64_t a, int64_t b) { simd::elementOps<T>().meanOfRows(grad + a, v, count, a, b - a); });
}

template <typename T>
void MetaBatch<T>::launch(const T* params, const Tasks<T>& tasks, const Options& o, int threads) {
  const int workers = reserve(tasks, o, threads);
  pendingCount_ = tasks.count;
  workers_ = workers;
  heldAtStart_ = bytesHeld();
  // The pool publishes the job under its mutex: the workers see the stores above.
  pending_ = std::make_unique<runtime::PendingFor>(tasks.count, workers, [this, params, tasks, o](int t, int slot) {
    runTask(t, slot == 0 ? main_ : *extra_[slot - 1], *scratch_[slot], params, tasks, o);
  });
}

template <typename T>
double MetaBatch<T>::metaGradient(const T* params, const Tasks<T>& tasks, const Options& o, double* grad, int threads) {
  launch(params, tasks, o, threads);
  return finish(grad);
}

template <typename T>
void MetaBatch<T>::start(const T* params, const Tasks<T>& tasks, const Options& o, int threads) {
  const network::Program& prog = main_.program();
  const int64_t P = prog.paramCount;
  const int64_t rows = tasks.offsets[2 * tasks.count];
  if (!inputs_) inputs_ = std::make_unique<Inputs>();
  Inputs& in = *inputs_;
  in.params.assign(params, params + P);
  in.x.assign(tasks.x, tasks.x + rows * prog.inputSize);
  in.y.assign(tasks.y, tasks.y + rows * tasks.yCols);
  in.offsets.assign(tasks.offsets, tasks.offsets + 2 * tasks.count + 1);
  if (o.mask) in.mask.assign(o.mask, o.mask + P);
  Options copied = o;
  copied.mask = o.mask ? in.mask.data() : nullptr;
  launch(in.params.data(), {in.x.data(), in.y.data(), tasks.yCols, in.offsets.data(), tasks.count}, copied, threads);
}

template <typename T>
double MetaBatch<T>::finish(double* grad) {
  std::unique_ptr<runtime::PendingFor> pending = std::move(pending_);
  pending->join();
  sumTasks(grad);
  // A thread keeps one buffer more than it used this time: together no more than the tasks' count
  // plus one per thread, however unevenly the threads took the tasks.
  for (const auto& sc : scratch_)
    if (sc && sc->grads.size() > sc->gradsUsed + 1) sc->grads.resize(sc->gradsUsed + 1);
  const int count = pendingCount_;
  double loss = 0;
  for (int t = 0; t < count; t++) loss += taskLoss_[t];
  return loss / count;
}

template class MetaBatch<float>;
template class MetaBatch<double>;

}  // namespace metatask::metabatch
