// The MAML/ANIL meta-gradient of a whole meta-batch in one call (twin: lib/kernels/js/metabatch.ts).
// It fuses the per-task loop of lib/meta/maml.ts (MAML.taskMetaGradient) into one kernel and runs
// the tasks of the meta-batch on a small pool of threads.
//
// For each task t (support S_t, query Q_t), from theta_0 = theta, k inner SGD steps
//     theta_{i+1} = theta_i - a M grad L_S(theta_i)             (M = diag(mask), I without a mask)
// then the exact meta-gradient through every step (Hessian-vector products, no Hessian formed)
//     v = grad L_Q(theta_k);  for i = k-1..0:  v <- v - a H_S(theta_i) (M v)
// (first order: v = grad L_Q(theta_k)). The result is
//     grad = (1/T) sum_t v_t,   returned loss = (1/T) sum_t L_Q(theta_k^t),
// where L is the sum over the heads of their mean losses (one head for the meta-learners).
// Vector arithmetic is in double and rounded to T exactly where maml.ts stores into a T array.
//
// Threads: tasks are independent and run on the shared pool (runtime/threads.h), at most
// `threads` at a time. Each participating thread owns a Network<T> (its own workspaces) and
// scratch; each task writes its v_t into its own buffer. When every task has ended the buffers are
// added element by element in task order, the elements cut into ranges over the same threads, so
// the result is bit-identical for any thread count. (A running sum that the calling thread advanced
// after each of its tasks put that adding, and a last stretch of it after the last task, on the
// calling thread's path: at two threads an iteration took about 2 % longer.)
#pragma once
#include "kernels/network.h"
#include "runtime/threads.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace metatask::metabatch {

struct Options {
  double innerLr = 0;
  int innerSteps = 0;
  bool firstOrder = false;
  const uint8_t* mask = nullptr;  // length paramCount, nonzero = adapted in the inner loop; null = all
};

// The stacked tasks: rows offsets[2t]..offsets[2t+1]-1 of x and y are task t's support set, rows
// offsets[2t+1]..offsets[2t+2]-1 its query set (offsets has 2T+1 entries, checked by the caller).
template <typename T>
struct Tasks {
  const T* x = nullptr;
  const T* y = nullptr;
  int yCols = 0;
  const int32_t* offsets = nullptr;
  int count = 0;
};

template <typename T>
class MetaBatch {
 public:
  // `main` is the handle's own network; workers beyond the calling thread get their own copies.
  explicit MetaBatch(network::Network<T>& main);
  ~MetaBatch();
  MetaBatch(const MetaBatch&) = delete;
  MetaBatch& operator=(const MetaBatch&) = delete;

  // grad (length paramCount, double) receives the mean meta-gradient; returns the mean query loss.
  // Uses at most `threads` threads (the calling one included).
  double metaGradient(const T* params, const Tasks<T>& tasks, const Options& o, double* grad, int threads);
  // The same in two halves: start() copies params, the tasks and the mask, starts the tasks on the
  // pool's workers and returns, so that the caller can prepare the next meta-batch meanwhile;
  // finish() takes the tasks not yet claimed on the calling thread, waits for the others and
  // returns what metaGradient would (the same bits: the tasks and their sum do not change). No
  // other call may use this object or its network between the two.
  void start(const T* params, const Tasks<T>& tasks, const Options& o, int threads);
  double finish(double* grad);
  // Whether a start() has not been finished.
  bool running() const { return pending_ != nullptr; }
  // Bytes of the buffers held now (the workers' networks included).
  int64_t bytesHeld() const;

  struct Scratch;

 private:
  struct Inputs;

  void runTask(int t, network::Network<T>& net, Scratch& s, const T* params, const Tasks<T>& tasks, const Options& o);
  // Sizes the per-task buffers and the scratch of `workers` threads; returns the thread count.
  int reserve(const Tasks<T>& tasks, const Options& o, int threads);
  // Starts the tasks on the pool (the arrays must outlive finish()): metaGradient passes the
  // caller's, start() its copies.
  void launch(const T* params, const Tasks<T>& tasks, const Options& o, int threads);
  // grad <- the mean of the tasks' v_t, each element summed in task order (on the threads that
  // ran the tasks, by ranges of elements).
  void sumTasks(double* grad) const;

  network::Network<T>& main_;
  std::vector<std::unique_ptr<network::Network<T>>> extra_;  // slot s >= 1 uses extra_[s - 1]
  std::vector<std::unique_ptr<Scratch>> scratch_;            // one per worker
  std::vector<const T*> taskGrad_;  // v_t of task t, in the scratch of the thread that ran it
  std::vector<double> taskLoss_;
  std::vector<double> ones_;
  int workers_ = 1;  // threads of the running call
  std::unique_ptr<Inputs> inputs_;  // start()'s copies
  int pendingCount_ = 0;
  int64_t heldAtStart_ = 0;
  // Declared last: destroyed first, so a section never finished is joined while its state lives.
  std::unique_ptr<runtime::PendingFor> pending_;
};

extern template class MetaBatch<float>;
extern template class MetaBatch<double>;

}  // namespace metatask::metabatch
