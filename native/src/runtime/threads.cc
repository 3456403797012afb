// The shared worker pool of threads.h. A call publishes a Job on the caller's stack; idle workers
// join it (at most threads - 1 of them) and claim tasks through one atomic counter, as the caller
// does. The caller removes the job from the queue once every task is claimed, then waits until
// the tasks have ended and no worker is still inside the job, so the job never outlives its frame.
// A PendingFor's job lives on the heap instead: it is queued at once and the caller joins it later.
// Workers spin briefly before sleeping: kernels issue many short parallel sections in a row (one
// per GEMM of a training step), and a condition-variable wake-up costs more than a small tile.
#include "runtime/threads.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace metatask::runtime {

namespace {

// One step of a spin-wait: a pause hint (the core slows the loop and gives its sibling hyperthread
// the pipeline) instead of a sched_yield system call, whose round trip on a virtual machine is what
// a waiting thread was meant to save.
inline void spinPause() {
#if defined(__x86_64__) || defined(__i386__)
  for (int i = 0; i < 16; i++) _mm_pause();
#elif defined(__aarch64__)
  for (int i = 0; i < 16; i++) __asm__ __volatile__("yield");
#else
  std::this_thread::yield();
#endif
}

// How long an idle worker spins for the next job before it sleeps. A sleeping worker costs the next
// job a wake-up (a system call, and on virtual machines an interrupt between vCPUs, tens of
// microseconds); training steps and meta-iterations issue parallel sections a few hundred
// microseconds apart, with single-threaded work between them.
constexpr int kSpinMicros = 300;
// How long the caller of a parallel section spins for the workers' last tasks before it sleeps.
constexpr int kCallerSpinMicros = 50;

struct Job {
  const std::function<void(int, int)>* body = nullptr;
  int count = 0;
  int maxSlots = 1;
  int slotsTaken = 1;  // the caller is slot 0; guarded by the pool mutex
  std::atomic<int> users{0};  // workers inside the job; changed under the pool mutex
  std::atomic<int> next{0};
  std::atomic<int> finished{0};
  std::vector<std::exception_ptr> errors;

  void work(int slot) {
    for (int t; (t = next.fetch_add(1, std::memory_order_relaxed)) < count;) {
      try {
        (*body)(t, slot);
      } catch (...) {
        errors[t] = std::current_exception();
      }
      finished.fetch_add(1, std::memory_order_acq_rel);
    }
  }
};

class Pool {
 public:
  void run(Job& job) {
    post(job);
    finish(job);
  }

  // Queues the job for the workers (the caller joins it in finish).
  void post(Job& job) {
    grow(job.maxSlots - 1);
    {
      std::lock_guard<std::mutex> lk(mu_);
      queue_.push_back(&job);
      queued_.store(int(queue_.size()), std::memory_order_release);
    }
    wake_.notify_all();
  }

  // The caller's part: the tasks still unclaimed, then the wait for the workers' last ones.
  void finish(Job& job) {
    job.work(0);
    {
      std::lock_guard<std::mutex> lk(mu_);
      remove(&job);  // from here no worker joins, so `users` only falls
    }
    auto ended = [&] {
      return job.users.load(std::memory_order_acquire) == 0 && job.finished.load(std::memory_order_acquire) == job.count;
    };
    // The workers' last tasks usually end within microseconds of the caller's own: spin briefly
    // (a sleeping caller costs a wake-up, tens of microseconds on a virtual machine), then sleep
    // until the last worker to leave notifies under the mutex.
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(kCallerSpinMicros);
    while (!ended() && std::chrono::steady_clock::now() < until) spinPause();
    std::unique_lock<std::mutex> lk(mu_);
    done_.wait(lk, ended);
  }

 private:
  void grow(int n) {
    std::lock_guard<std::mutex> lk(mu_);
    while (int(threads_.size()) < n) {
      try {
        threads_.emplace_back([this] { loop(); });
      } catch (const std::system_error&) {
        break;  // fewer workers: the caller does the rest
      }
      // Detached: the pool lives as long as the process (a static never destroyed), so exit never
      // waits for a worker and no worker touches a destroyed pool.
      threads_.back().detach();
    }
  }

  void remove(Job* job) {
    auto it = std::find(queue_.begin(), queue_.end(), job);
    if (it != queue_.end()) queue_.erase(it);
    queued_.store(int(queue_.size()), std::memory_order_release);
  }

  void loop() {
    for (;;) {
      // Spin for the next job before sleeping (kSpinMicros).
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
      while (queued_.load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() < until) {
        spinPause();
      }
      Job* job = nullptr;
      int slot = 0;
      {
        std::unique_lock<std::mutex> lk(mu_);
        wake_.wait(lk, [&] { return !queue_.empty(); });
        job = queue_.front();
        slot = job->slotsTaken++;
        if (job->slotsTaken >= job->maxSlots) remove(job);
        job->users++;
      }
      job->work(slot);
      {
        std::lock_guard<std::mutex> lk(mu_);
        job->users--;
      }
      done_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::deque<Job*> queue_;
  std::atomic<int> queued_{0};
  std::vector<std::thread> threads_;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed (see grow)
  return *p;
}

}  // namespace

int hardwareThreads() { return int(std::max(1u, std::thread::hardware_concurrency())); }

void parallelFor(int count, int threads, const std::function<void(int, int)>& body) {
  if (count <= 0) return;
  const int slots = std::max(1, std::min(threads, count));
  if (slots == 1) {
    // One thread: no job, no allocation (kernels call this for every small product).
    std::exception_ptr first;
    for (int t = 0; t < count; t++) {
      try {
        body(t, 0);
      } catch (...) {
        if (!first) first = std::current_exception();
      }
    }
    if (first) std::rethrow_exception(first);
    return;
  }
  Job job;
  job.body = &body;
  job.count = count;
  job.maxSlots = slots;
  job.errors.resize(count);
  pool().run(job);
  for (const std::exception_ptr& e : job.errors)
    if (e) std::rethrow_exception(e);
}

struct PendingFor::Impl {
  std::function<void(int, int)> body;
  Job job;
  bool joined = false;
};

PendingFor::PendingFor(int count, int threads, std::function<void(int, int)> body) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.body = std::move(body);
  s.job.body = &s.body;
  s.job.count = std::max(0, count);
  s.job.maxSlots = std::max(1, std::min(threads, s.job.count));
  s.job.errors.resize(s.job.count);
  if (s.job.maxSlots > 1) pool().post(s.job);
}

PendingFor::~PendingFor() {
  if (!impl_->joined) {
    try {
      join();
    } catch (...) {
      // A section dropped without join(): its errors have no one to go to.
    }
  }
}

void PendingFor::join() {
  Impl& s = *impl_;
  if (s.joined) return;
  s.joined = true;
  if (s.job.maxSlots > 1) pool().finish(s.job);
  else s.job.work(0);
  for (const std::exception_ptr& e : s.job.errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace metatask::runtime
