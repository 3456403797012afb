// Network kernels (twin: lib/kernels/js/network.ts): forward pass, reverse-mode gradients,
// per-head gradients and exact Hessian-vector products (Pearlmutter 1994's R-operator) of a
// compiled network DAG. The program comes from lib/nn/spec.ts's encodeProgram as two plain arrays
// and is re-validated here, so a forged program cannot make a kernel read out of bounds.
#pragma once
#include "kernels/common.h"
#include "kernels/conv.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace metatask::network {

// The codes of lib/nn/spec.ts (OP_CODE, FN_CODE, LOSS_CODE).
enum Op : int {
  kInput = 0, kDense, kActivation, kDropout, kLayerNorm, kSoftmax, kMixture, kStitch, kConcat, kAdd,
  kConv2d, kBatchNorm, kMaxPool2d, kAvgPool2d, kFlatten, kNumOps
};
enum Fn : int { kRelu = 0, kLeakyRelu, kElu, kGelu, kTanh, kSigmoid, kIdentity, kNumFns };
enum Loss : int { kMse = 0, kHuber, kBceLogits, kSoftmaxCe, kPoisson, kNumLosses };

struct Node {
  int op = kInput;
  int arg = 0;  // input size | dense units | activation fn | conv2d filters
  std::vector<int> inputs;  // mixture: gate first, then experts
  double alpha = 0;  // activation alpha | dropout rate | batchnorm eps
  int width = 0;
  int64_t paramOffset = -1;
  int c = 0, h = 0, w = 0;   // output image shape; c == 0 for a flat node
  conv::Geometry window;     // conv2d and pooling nodes
  int channels = 0;          // batchnorm: channels normalised
  int64_t statsOffset = -1;  // batchnorm: offset of its statistics in a stats vector
};

struct Head {
  int node = 0;
  int loss = kMse;
  int target = 0;
  double delta = 0;
  int outOffset = 0;
};

struct Program {
  std::vector<Node> nodes;
  std::vector<Head> heads;
  int inputSize = 0;
  int64_t paramCount = 0;
  int targetCols = 0;
  int outputWidth = 0;
  int maxWidth = 0;
  int64_t statsCount = 0;  // length of a batchnorm statistics vector
  std::vector<std::vector<uint8_t>> ancestors;  // by head: the nodes its backward pass visits
  // Dense nodes that read the same input, in node order (groups of two or more only): their
  // products run as one (the heads of a multi-task net, the experts and gates of a mixture).
  std::vector<std::vector<int>> denseGroups;
  std::vector<int> denseGroupOf;  // by node: its index in denseGroups, or -1
};

// Thrown by parseProgram for an inconsistent program (the binding turns it into a RangeError).
struct ProgramError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parse and check a program: layout of lib/nn/spec.ts encodeProgram. Widths and the parameter
// layout are recomputed here by the same rules as compileNetwork.
Program parseProgram(const int32_t* ints, size_t nInts, const double* floats, size_t nFloats);

// One batch's inputs. masks[i] is the dropout mask of node i (n x width) or null.
template <typename T>
struct Batch {
  const T* x = nullptr;
  int n = 0;
  const T* y = nullptr;  // n x yCols, may be null for forward
  int yCols = 0;
  const T* const* masks = nullptr;  // length nodes.size() or null
  // Batch normalisation: running statistics to normalise with (statsCount values) or null for the
  // batch's own; statsOut (nullable) receives the batch statistics of a batch-mode pass.
  const T* stats = nullptr;
  double* statsOut = nullptr;
};

// lossGrad's row chunks: a batch of at least kRowChunks x kMinChunkRows rows is cut into kRowChunks
// chunks (fixed, so that the sums do not depend on the thread count).
constexpr int kRowChunks = 2;
constexpr int kMinChunkRows = 64;

template <typename T>
class Network {
 public:
  explicit Network(Program program);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const Program& program() const { return prog_; }

  // out: n x outputWidth, the heads side by side.
  void forward(const T* params, const Batch<T>& b, T* out);
  // losses: length H. grad (nullable): d/dparams sum_h weights[h] L_h, overwritten. Without
  // batchnorm (rows independent), a batch of at least kRowChunks x kMinChunkRows rows runs as
  // kRowChunks chunks of consecutive rows, each a whole pass with its own buffers and gradient on a
  // lane of its own, the gradients summed in chunk order: the threads then work on whole passes
  // instead of splitting every product, and the result is the same at every thread count.
  void lossGrad(const T* params, const Batch<T>& b, const double* weights, T* grad, double* losses);
  // out: H x P, row h = dL_h/dparams. One forward, then one backward per head over its ancestors.
  void headGrads(const T* params, const Batch<T>& b, T* out, double* losses);
  // out = H v for the Hessian of sum_h weights[h] L_h.
  void hvp(const T* params, const Batch<T>& b, const double* weights, const T* v, T* out);
  // grad (length P) = J^T outGrad, outGrad n x outputWidth in forward's layout (the gradient of a
  // loss computed outside the kernel w.r.t. the raw head outputs). Overwrites grad. With
  // reuseForward, the activations of the forward() called just before with the same params and
  // batch (the same arrays; checked) are used instead of a new forward pass; KernelValueError if
  // there was no such call.
  void vjp(const T* params, const Batch<T>& b, const T* outGrad, T* grad, bool reuseForward = false);
  // Drop the per-batch-size buffers (they come back on the next call).
  void releaseBuffers();
  // Bytes of the buffers held now (reported to the JavaScript engine by the binding).
  int64_t bytesHeld() const;
  // The products of later calls use at most n threads (their results do not depend on n).
  void setThreads(int n) { threads_ = n < 1 ? 1 : n; }

  struct Workspace;
  struct Ctx;

 private:
  struct Lane;
  struct RowPart;
  Workspace& workspace(int n, bool withR);
  Workspace& workspaceIn(std::vector<std::unique_ptr<Workspace>>& cache, int n, bool withR);
  Ctx begin(const T* params, const Batch<T>& b, const T* v, bool withR);
  Ctx context(Workspace& ws, const T* params, const Batch<T>& b, const T* v, bool withR, int threads, std::vector<int>* groupScratch);
  int rowChunks(int n) const;
  void lossGradByChunks(const T* params, const Batch<T>& b, const double* weights, T* grad, double* losses);
  bool wholeBatchPays(int n, int rows, const std::vector<uint8_t>& active) const;
  T* laneGradient(int q, T* grad);
  void addChunks(int chunks, const std::vector<double>& parts, T* grad, double* losses);
  Batch<T> chunkBatch(const Batch<T>& b, int r0, int rows, Lane& lane) const;
  void lossGradByChunksOneThread(const T* params, const Batch<T>& b, const double* weights, T* grad, double* losses,
                                 const std::vector<int>& labelled);
  int labelledRows(const Batch<T>& b, size_t h) const;
  void findChains();
  void runForward(Ctx& c);
  void zeroGrads(Ctx& c, const std::vector<uint8_t>& active, bool withR);
  void runBackward(Ctx& c, const std::vector<uint8_t>& active, bool withR);
  void groupForward(Ctx& c, const std::vector<int>& members);
  void groupBackward(Ctx& c, const std::vector<int>& members);
  // labelled: the rows the mean divides by (-1: this batch's labelled rows); rowBase: the first
  // row's index in the caller's batch (for messages).
  double seedLoss(Ctx& c, const Batch<T>& b, size_t h, double weight, bool seed, bool withR, int labelled = -1, int rowBase = 0);
  // The nodes a backward pass visits: the ancestors of the heads with a non-zero weight (every head
  // when weights is null), kept until the set of those heads changes.
  const std::vector<uint8_t>& activeFor(const double* weights);

  // The arrays of the last call when it was a forward() (vjp's reuseForward); cleared by any other.
  struct Kept {
    bool valid = false;
    const T* params = nullptr;
    const T* x = nullptr;
    int n = 0;
    const T* stats = nullptr;
    std::vector<const T*> masks;
  };
  bool keptMatches(const T* params, const Batch<T>& b) const;

  // Fused execution (gradient passes without R-operators): every batchnorm -> relu -> maxpool2d
  // chain whose two first nodes feed nothing else runs as one op at the pool's node
  // (batchnorm.h forwardReluMaxPool); the batchnorm and relu outputs are then never formed.
  std::vector<int> fusedBn_;           // by pool node: its chain's batchnorm node, else -1
  std::vector<uint8_t> fusedAway_;     // the chains' batchnorm and relu nodes
  std::vector<uint8_t> gradAssigned_;  // nodes whose only consumer is a chain: its backward overwrites their gradient
  // Whether every op computes each row of its output (and of its input's gradient) from that row
  // alone and keeps no per-row state outside the activations (no layer or batch normalisation,
  // convolution or pooling): then one pass over a batch's rows gives each row the bits a pass over
  // any subset holding it gives (lossGradByChunksOneThread).
  bool rowLocal_ = true;
  // Whether, besides, dense ops hold all the parameters: then the chunks' backward passes run as
  // one too, each dense op's parameter gradient split by chunk (Ctx::parts).
  bool denseParams_ = true;

  Program prog_;
  Kept kept_;
  std::vector<uint8_t> active_;  // reused: no allocation per call
  std::vector<uint8_t> activeHeads_;  // the heads (weight non-zero) active_ was built for
  std::vector<int> headNodes_;  // each head's node, in head order (the order of their output columns)
  std::vector<int> groupScratch_;  // the active members of a dense group
  std::vector<std::unique_ptr<Workspace>> workspaces_;  // a few batch sizes, most recent last
  std::vector<std::unique_ptr<Lane>> lanes_;            // lossGrad's row chunks (see lossGrad)
  int threads_ = 1;
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace metatask::network
