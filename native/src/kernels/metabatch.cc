// The MAML/ANIL meta-gradient of a whole meta-batch in one call (twin: lib/kernels/js/metabatch.ts;
// formula and threading in metabatch.h). This fuses the per-task loop of lib/meta/maml.ts: per
// task, k inner steps theta_{i+1} = theta_i - a M grad L_S(theta_i), then
// v = grad L_Q(theta_k), v <- v - a H_S(theta_i) (M v) for i = k-1..0 (second order only);
// grad = mean_t v_t, loss = mean_t L_Q(theta_k^t).
#include "kernels/metabatch.h"

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>

namespace metatask::metabatch {

namespace {
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

std::once_flag eigenInit;
}  // namespace

template <typename T>
struct MetaBatch<T>::Scratch {
  int64_t stride = 0;
  Buffer<T> traj;  // theta_0..theta_k, `stride` apart
  Buffer<T> g, mv, hv;
  std::vector<double> losses;  // per head
};

// Persistent workers. A job is published under the mutex with a new generation; tasks are claimed
// through one atomic word (generation << 32 | next task), so a worker holding an old generation can
// never claim a task of a newer job, and a job's data (on the caller's stack) is only touched after
// a successful claim, while the caller still waits for that task.
template <typename T>
struct MetaBatch<T>::Pool {
  using Fn = std::function<void(int worker, int task)>;
  std::mutex mu;
  std::condition_variable wake, done;
  std::vector<std::thread> threads;  // thread i is worker i + 1 (the caller is worker 0)
  bool stop = false;
  uint32_t gen = 0;
  const Fn* fn = nullptr;
  int tasks = 0;
  int active = 0;
  std::atomic<uint64_t> claimWord{0};
  std::atomic<int> remaining{0};

  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
    }
    wake.notify_all();
    for (std::thread& t : threads) t.join();
  }

  // Start workers up to `n` (fewer if the system refuses); returns how many run.
  int grow(int n) {
    while (int(threads.size()) < n) {
      try {
        const int w = int(threads.size()) + 1;
        threads.emplace_back([this, w] { loop(w); });
      } catch (const std::system_error&) {
        break;
      }
    }
    return int(threads.size());
  }

  bool claim(uint32_t g, int count, int& task) {
    uint64_t c = claimWord.load();
    for (;;) {
      if (uint32_t(c >> 32) != g || int(uint32_t(c)) >= count) return false;
      if (claimWord.compare_exchange_weak(c, c + 1)) {
        task = int(uint32_t(c));
        return true;
      }
    }
  }

  void finish() {
    if (remaining.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lk(mu);
      done.notify_all();
    }
  }

  void drain(int w, uint32_t g, const Fn& f, int count) {
    for (int t; claim(g, count, t);) {
      f(w, t);
      finish();
    }
  }

  void loop(int w) {
    uint32_t seen = 0;
    for (;;) {
      uint32_t g;
      const Fn* f;
      int count, act;
      {
        std::unique_lock<std::mutex> lk(mu);
        wake.wait(lk, [&] { return stop || gen != seen; });
        if (stop) return;
        seen = g = gen;
        f = fn;
        count = tasks;
        act = active;
      }
      if (w < act) drain(w, g, *f, count);
    }
  }

  // Run f(worker, task) for task 0..count-1 on `workers` threads (the caller included).
  void run(const Fn& f, int count, int workers) {
    uint32_t g;
    {
      std::lock_guard<std::mutex> lk(mu);
      g = ++gen;
      fn = &f;
      tasks = count;
      active = workers;
      remaining.store(count);
      claimWord.store(uint64_t(g) << 32);
    }
    wake.notify_all();
    drain(0, g, f, count);
    std::unique_lock<std::mutex> lk(mu);
    done.wait(lk, [&] { return remaining.load() == 0; });
  }
};

template <typename T>
MetaBatch<T>::MetaBatch(network::Network<T>& main) : main_(main) {}

template <typename T>
MetaBatch<T>::~MetaBatch() = default;

template <typename T>
void MetaBatch<T>::runTask(int t, network::Network<T>& net, Scratch& s, const T* params, const Tasks<T>& tasks,
                           const Options& o) {
  const network::Program& prog = net.program();
  const int64_t P = prog.paramCount;
  const int k = o.innerSteps;
  const double a = o.innerLr;
  const uint8_t* m = o.mask;
  const int64_t in = prog.inputSize;
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
    const T* phi = theta(i);
    T* next = theta(i + 1);
    const T* g = s.g.data();
    if (!m) {
      for (int64_t j = 0; j < P; j++) next[j] = static_cast<T>(double(phi[j]) - a * double(g[j]));
    } else {
      for (int64_t j = 0; j < P; j++) next[j] = m[j] ? static_cast<T>(double(phi[j]) - a * double(g[j])) : phi[j];
    }
  }
  T* v = taskGrad_[t].data();
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
    const T* hv = s.hv.data();
    for (int64_t j = 0; j < P; j++) v[j] = static_cast<T>(double(v[j]) - a * double(hv[j]));
  }
}

template <typename T>
double MetaBatch<T>::metaGradient(const T* params, const Tasks<T>& tasks, const Options& o, double* grad, int threads) {
  const network::Program& prog = main_.program();
  const int64_t P = prog.paramCount;
  const int T_ = tasks.count;
  const int workers = std::max(1, std::min(threads, T_));
  ones_.assign(prog.heads.size(), 1.0);
  taskLoss_.assign(T_, 0.0);
  if (taskGrad_.size() < size_t(T_)) taskGrad_.resize(T_);
  for (int t = 0; t < T_; t++) taskGrad_[t].resize(P);
  const int64_t stride = padded<T>(P);
  auto ensureScratch = [&](int w) {
    if (scratch_.size() <= size_t(w)) scratch_.resize(w + 1);
    if (!scratch_[w]) scratch_[w] = std::make_unique<Scratch>();
    Scratch& s = *scratch_[w];
    s.stride = stride;
    s.traj.resize(size_t(stride) * (o.innerSteps + 1));
    s.g.resize(P);
    s.mv.resize(P);
    s.hv.resize(P);
  };
  for (int w = 0; w < workers; w++) ensureScratch(w);
  while (extra_.size() + 1 < size_t(workers)) extra_.push_back(std::make_unique<network::Network<T>>(prog));

  std::vector<std::exception_ptr> errors(T_);
  const typename Pool::Fn task = [&](int w, int t) {
    try {
      runTask(t, w == 0 ? main_ : *extra_[w - 1], *scratch_[w], params, tasks, o);
    } catch (...) {
      errors[t] = std::current_exception();
    }
  };
  int active = 1;
  if (workers > 1) {
    // Eigen's cache-size globals are initialised once before any worker can race on them.
    std::call_once(eigenInit, [] { Eigen::initParallel(); });
    if (!pool_) pool_ = std::make_unique<Pool>();
    active = 1 + pool_->grow(workers - 1);
    active = std::min(active, workers);
  }
  if (active == 1) {
    for (int t = 0; t < T_; t++) task(0, t);
  } else {
    pool_->run(task, T_, active);
  }
  for (int t = 0; t < T_; t++)
    if (errors[t]) std::rethrow_exception(errors[t]);

  // Sum in task order (maml.ts's accumulation in double), then the mean.
  std::fill(grad, grad + P, 0.0);
  double loss = 0;
  for (int t = 0; t < T_; t++) {
    const T* v = taskGrad_[t].data();
    for (int64_t j = 0; j < P; j++) grad[j] += double(v[j]);
    loss += taskLoss_[t];
  }
  for (int64_t j = 0; j < P; j++) grad[j] /= T_;
  return loss / T_;
}

template class MetaBatch<float>;
template class MetaBatch<double>;

}  // namespace metatask::metabatch
