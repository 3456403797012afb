// Network kernels on Eigen 3.4 (twin: lib/kernels/js/network.ts, same formulas, same order of
// heads and nodes): forward pass, reverse-mode gradient, per-head gradients, and exact
// Hessian-vector products by Pearlmutter's R-operator (Pearlmutter 1994, "Fast exact
// multiplication by the Hessian"): forward-over-reverse, R{f} = d/dr f(params + r v) at r = 0.
//
// Layout of the code: the program parser, then one section per op with its forward, backward,
// R-forward and R-backward (convolution, batch normalisation and pooling call their own files,
// conv.cc, batchnorm.cc, pool.cc), then the losses, then the passes of Network<T>. The passes
// without R-operators run every batchnorm -> relu -> maxpool2d chain fused (findChains).
//
// Speed (the multi-task MLP benchmark: batch 128, 128-256-256-8 heads, float32): dense layers are Eigen GEMMs
// on maps of the caller's parameter vector; activations, gradients and R-buffers live in
// workspaces kept by the handle, each serving every batch up to its rows, so a steady-state call
// allocates nothing (workspaceIn).
#include "kernels/network.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/batchnorm.h"
#include "kernels/conv.h"
#include "kernels/pool.h"
#include "runtime/threads.h"
#include "simd/gemm.h"
#include "simd/ops.h"

namespace metatask::network {

// ---- program --------------------------------------------------------------------------------------

namespace {
constexpr int kMaxWidth = 1 << 24;
constexpr int64_t kMaxParams = (int64_t(1) << 31) - 1;

[[noreturn]] void bad(const std::string& msg) { throw ProgramError("network program: " + msg); }
}  // namespace

Program parseProgram(const int32_t* ints, size_t nInts, const double* floats, size_t nFloats) {
  size_t p = 0;
  auto next = [&]() -> int {
    if (p >= nInts) bad("the int array ends early (at " + std::to_string(p) + ")");
    return ints[p++];
  };
  if (next() != 2) bad("unsupported version (expected 2)");
  const int N = next();
  const int H = next();
  if (N < 1 || N > 1000000) bad("node count out of range");
  if (H < 1 || H > 1000000) bad("head count out of range");
  if (nFloats != static_cast<size_t>(N) + static_cast<size_t>(H)) bad("the float array must have nodes + heads entries");
  Program prog;
  prog.nodes.resize(N);
  int64_t offset = 0;
  for (int i = 0; i < N; i++) {
    Node& nd = prog.nodes[i];
    const std::string where = "node " + std::to_string(i) + ": ";
    nd.op = next();
    nd.arg = next();
    const int nIn = next();
    if (nd.op < 0 || nd.op >= kNumOps) bad(where + "unknown op code");
    if ((i == 0) != (nd.op == kInput)) bad(where + "node 0, and only node 0, is the input");
    if (nIn < 0 || static_cast<size_t>(nIn) > nInts) bad(where + "bad input count");
    for (int k = 0; k < nIn; k++) {
      const int in = next();
      if (in < 0 || in >= i) bad(where + "inputs must be earlier nodes");
      nd.inputs.push_back(in);
    }
    const int nExtra = next();
    if (nExtra < 0 || nExtra > 6) bad(where + "bad extra count");
    int extra[6] = {0, 0, 0, 0, 0, 0};
    for (int k = 0; k < nExtra; k++) extra[k] = next();
    nd.alpha = floats[i];
    if (!std::isfinite(nd.alpha)) bad(where + "alpha/rate must be finite");
    auto width = [&](int k) { return prog.nodes[nd.inputs[k]].width; };
    auto oneInput = [&] {
      if (nIn != 1) bad(where + "takes exactly one input");
    };
    auto params = [&](int64_t count) {
      nd.paramOffset = offset;
      offset += count;
      if (offset > kMaxParams) bad(where + "too many parameters");
    };
    auto equalWidths = [&](int from) {
      if (nIn <= from) bad(where + "needs inputs");
      for (int k = from; k < nIn; k++)
        if (width(k) != width(from)) bad(where + "inputs must have equal widths");
      return width(from);
    };
    auto extras = [&](int count) {
      if (nExtra != count) bad(where + "expected " + std::to_string(count) + " extra ints");
    };
    // The shape of input k, and whether every input from `from` on has it (then the node keeps it).
    auto input = [&](int k) -> const Node& { return prog.nodes[nd.inputs[k]]; };
    auto keepShape = [&](int from) {
      const Node& a = input(from);
      for (int k = from; k < nIn; k++)
        if (input(k).c != a.c || input(k).h != a.h || input(k).w != a.w) return;
      nd.c = a.c;
      nd.h = a.h;
      nd.w = a.w;
    };
    auto image = [&]() -> const Node& {
      oneInput();
      if (input(0).c == 0) bad(where + "needs an image input");
      return input(0);
    };
    // A window of kh x kw moved by sh x sw over the padded input: its output side, or an error.
    auto window = [&](const Node& in, int f, const int* e, int ph, int pw) {
      conv::Geometry& g = nd.window;
      g.c = in.c;
      g.h = in.h;
      g.w = in.w;
      g.f = f;
      g.kh = e[0];
      g.kw = e[1];
      g.sh = e[2];
      g.sw = e[3];
      g.ph = ph;
      g.pw = pw;
      if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1 || g.ph < 0 || g.pw < 0) bad(where + "bad window");
      if (g.kh > kMaxWidth || g.kw > kMaxWidth || g.sh > kMaxWidth || g.sw > kMaxWidth || g.ph > kMaxWidth || g.pw > kMaxWidth) {
        bad(where + "window out of range");
      }
      if (int64_t(g.h) + 2 * int64_t(g.ph) < g.kh || int64_t(g.w) + 2 * int64_t(g.pw) < g.kw) bad(where + "window larger than the input");
      g.ho = static_cast<int>((int64_t(g.h) + 2 * g.ph - g.kh) / g.sh + 1);
      g.wo = static_cast<int>((int64_t(g.w) + 2 * g.pw - g.kw) / g.sw + 1);
      if (int64_t(g.f) * g.ho * g.wo > kMaxWidth) bad(where + "output too large");
      if (g.patch() > kMaxWidth) bad(where + "window too large");
      nd.c = g.f;
      nd.h = g.ho;
      nd.w = g.wo;
      nd.width = g.f * g.ho * g.wo;
    };
    // Extra ints: the input's image shape (optional), a convolution's or a pool's window.
    const bool windowed = nd.op == kConv2d || nd.op == kMaxPool2d || nd.op == kAvgPool2d;
    if (!windowed && nd.op != kInput && nExtra != 0) bad(where + "takes no extra ints");
    switch (nd.op) {
      case kInput:
        if (nIn != 0 || nd.arg < 1 || nd.arg > kMaxWidth) bad(where + "bad input size");
        nd.width = nd.arg;
        if (nExtra != 0) {
          extras(3);
          if (extra[0] < 1 || extra[1] < 1 || extra[2] < 1 || int64_t(extra[0]) * extra[1] * extra[2] != nd.arg) {
            bad(where + "the image shape must be positive and hold exactly size values");
          }
          nd.c = extra[0];
          nd.h = extra[1];
          nd.w = extra[2];
        }
        break;
      case kConv2d: {
        const Node& in = image();
        extras(6);
        if (nd.arg < 1 || nd.arg > kMaxWidth) bad(where + "bad filter count");
        window(in, nd.arg, extra, extra[4], extra[5]);
        params(int64_t(nd.arg) * in.c * nd.window.kh * nd.window.kw + nd.arg);
        break;
      }
      case kBatchNorm: {
        oneInput();
        if (!(nd.alpha > 0)) bad(where + "batchnorm eps must be positive");
        const Node& in = input(0);
        nd.width = in.width;
        keepShape(0);
        nd.channels = in.c > 0 ? in.c : in.width;
        nd.statsOffset = prog.statsCount;
        prog.statsCount += 2 * int64_t(nd.channels);
        params(2 * int64_t(nd.channels));
        break;
      }
      case kMaxPool2d:
      case kAvgPool2d: {
        const Node& in = image();
        extras(4);
        if (nd.op == kMaxPool2d && int64_t(extra[0]) * extra[1] > 256) bad(where + "max-pool windows hold at most 256 values");
        window(in, in.c, extra, 0, 0);
        break;
      }
      case kFlatten:
        oneInput();
        nd.width = width(0);
        break;
      case kDense:
        oneInput();
        if (nd.arg < 1 || nd.arg > kMaxWidth) bad(where + "bad dense units");
        nd.width = nd.arg;
        params(int64_t(width(0)) * nd.arg + nd.arg);
        break;
      case kActivation:
        oneInput();
        if (nd.arg < 0 || nd.arg >= kNumFns) bad(where + "unknown activation code");
        nd.width = width(0);
        keepShape(0);
        break;
      case kDropout:
        oneInput();
        if (!(nd.alpha >= 0 && nd.alpha < 1)) bad(where + "dropout rate must be in [0, 1)");
        nd.width = width(0);
        keepShape(0);
        break;
      case kLayerNorm:
        oneInput();
        nd.width = width(0);
        keepShape(0);
        params(2 * int64_t(nd.width));
        break;
      case kSoftmax:
        oneInput();
        nd.width = width(0);
        keepShape(0);
        break;
      case kMixture:
        if (nIn < 2) bad(where + "mixture needs a gate and at least one expert");
        nd.width = equalWidths(1);
        if (width(0) != nIn - 1) bad(where + "the gate width must equal the number of experts");
        keepShape(1);
        break;
      case kStitch:
        nd.width = equalWidths(0);
        keepShape(0);
        params(nIn);
        break;
      case kAdd:
        nd.width = equalWidths(0);
        keepShape(0);
        break;
      case kConcat: {
        if (nIn < 1) bad(where + "needs inputs");
        int64_t w = 0, c = 0;
        bool images = true;
        for (int k = 0; k < nIn; k++) {
          w += width(k);
          c += input(k).c;
          if (input(k).c == 0 || input(k).h != input(0).h || input(k).w != input(0).w) images = false;
        }
        if (w > kMaxWidth) bad(where + "too wide");
        nd.width = static_cast<int>(w);
        if (images) {
          nd.c = static_cast<int>(c);
          nd.h = input(0).h;
          nd.w = input(0).w;
        }
        break;
      }
      default:
        bad(where + "unknown op code");
    }
    prog.maxWidth = std::max(prog.maxWidth, nd.width);
  }
  prog.inputSize = prog.nodes[0].width;
  prog.paramCount = offset;
  prog.heads.resize(H);
  int out = 0;
  for (int h = 0; h < H; h++) {
    Head& hd = prog.heads[h];
    const std::string where = "head " + std::to_string(h) + ": ";
    hd.node = next();
    hd.loss = next();
    hd.target = next();
    if (hd.node < 1 || hd.node >= N) bad(where + "node out of range");
    if (hd.loss < 0 || hd.loss >= kNumLosses) bad(where + "unknown loss code");
    if (hd.target < 0 || hd.target > kMaxWidth) bad(where + "bad target column");
    const int w = prog.nodes[hd.node].width;
    if (hd.loss == kSoftmaxCe ? w < 2 : w != 1) bad(where + "node width does not suit the loss");
    hd.delta = floats[N + h];
    if (hd.loss == kHuber && !(hd.delta > 0 && std::isfinite(hd.delta))) bad(where + "huber delta must be positive");
    hd.outOffset = out;
    if (int64_t(out) + w > kMaxWidth) bad(where + "output too wide");
    out += w;
    prog.targetCols = std::max(prog.targetCols, hd.target + 1);
    std::vector<uint8_t> anc(N, 0);
    anc[hd.node] = 1;
    for (int i = hd.node; i > 0; i--)
      if (anc[i])
        for (int k : prog.nodes[i].inputs) anc[k] = 1;
    prog.ancestors.push_back(std::move(anc));
  }
  prog.outputWidth = out;
  if (p != nInts) bad("trailing ints after the last head");
  prog.denseGroupOf.assign(N, -1);
  std::vector<int> byInput(N, -1);  // input node -> group index
  std::vector<std::vector<int>> candidates;
  for (int i = 1; i < N; i++) {
    if (prog.nodes[i].op != kDense) continue;
    int& gi = byInput[prog.nodes[i].inputs[0]];
    if (gi < 0) {
      gi = static_cast<int>(candidates.size());
      candidates.emplace_back();
    }
    candidates[gi].push_back(i);
  }
  for (std::vector<int>& members : candidates) {
    if (members.size() < 2) continue;
    for (int i : members) prog.denseGroupOf[i] = static_cast<int>(prog.denseGroups.size());
    prog.denseGroups.push_back(std::move(members));
  }
  return prog;
}

// ---- buffers ----------------------------------------------------------------------------------------

// Buffers aligned to Eigen's packet size: the same alignment on every allocation keeps Eigen's
// vectorised loops on the same code path, so a call is reproducible bit for bit after the
// buffers are released and allocated again.
template <typename T>
using Buffer = std::vector<T, Eigen::aligned_allocator<T>>;

template <typename T>
struct Network<T>::Workspace {
  int n = 0;
  bool hasR = false;
  std::vector<Buffer<T>> a, g, ra, rg;
  std::vector<T*> A, G, RA, RG;  // A[0] points at the caller's x during a call
  // layer normalisation: xhat, 1/std; R{xhat}, R{1/std} / (1/std)
  std::vector<std::vector<double>> xhat, invStd, rxhat, rsRel;
  // batch normalisation, per channel: mean, 1/std; mean(R{x}), mean(xhat R{x})
  std::vector<std::vector<double>> bnMean, bnInvStd, bnRMean, bnRMeanX;
  std::vector<std::vector<uint8_t>> argmax;  // max-pool: the window position of every output
  std::vector<Buffer<T>> poolX;              // fused chains: the input value at every recorded position
  conv::Scratch<T> conv;                     // im2col and product buffers of the threads
  std::vector<double> row;  // scratch of the widest node
  Buffer<T> groupW, groupY, groupGW;  // a dense group's weights side by side, its outputs, its weight gradients
  // Each dense group's W_cat as groupForward built it, and the pass (context) it was built in: the
  // backward of the same pass, every member active, multiplies by it again instead of building it
  // anew (with 1,024 one-unit heads the copies took over a quarter of a training step).
  std::vector<Buffer<T>> groupWcat;
  std::vector<uint64_t> groupWcatPass;
  uint64_t pass = 0;  // contexts made over this workspace
};

template <typename T>
struct Network<T>::RowPart {
  int from, to;
  T* g;
};

template <typename T>
struct Network<T>::Ctx {
  const Program* prog;
  int n;
  const T* P;
  const T* V;
  Workspace* ws;
  T** A;
  T** G;
  T** RA;
  T** RG;
  T* g;   // parameter gradient (accumulated), null when not wanted
  T* rg;  // R{gradient} = H v
  const T* const* masks;
  bool fused;         // run the fused chains (passes without R-operators)
  const T* running;   // batchnorm running statistics, or null: the batch's own
  double* batchOut;   // receives the batch statistics (nullable)
  int threads;  // bound on the threads of the products
  std::vector<int>* groupScratch;  // the active members of a dense group (runBackward)
  // Set by lossGradByChunksOneThread: the parameter gradients of rows [parts[q].from, parts[q].to)
  // go to parts[q].g (each row chunk's own), the rest of the pass runs over all the rows.
  const RowPart* parts = nullptr;
  int partCount = 0;
};

// The state of one of lossGrad's row chunks (chunk q runs on lane q): its buffers, gradient and
// scratch, used by one thread at a time.
template <typename T>
struct Network<T>::Lane {
  std::vector<std::unique_ptr<Workspace>> workspaces;  // by chunk size
  Buffer<T> grad;                                       // this lane's gradient (lane 0 uses the caller's)
  std::vector<const T*> masks;                          // the chunk's rows of each dropout mask
  std::vector<int> groupScratch;
  std::vector<T*> rowsA, rowsG;  // the chunk's rows of each node's activations and gradients (one thread)
};

namespace {

// Elements per parallel chunk of a pass. A pass over fewer takes a few microseconds, less than
// handing work to another thread costs, so smaller passes stay on the calling thread.
constexpr int64_t kParallelChunk = int64_t(1) << 16;

// body(from, to) over [0, len) in fixed chunks, on up to `threads` threads: for elementwise work,
// where any split gives the same result.
template <typename F>
void parallelRange(int64_t len, int threads, const F& body) {
  runtime::parallelRanges(len, kParallelChunk, threads, body);
}

inline double sigmoid(double z) {
  if (z >= 0) return 1 / (1 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1 + e);
}
inline double normalCdf(double x) { return 0.5 * std::erfc(-x * 0.7071067811865476); }
inline double normalPdf(double x) { return 0.3989422804014327 * std::exp(-0.5 * x * x); }

// ---- dense: Y = X W + b -------------------------------------------------------------------------
//   backward: GX += GY W^T, gW += X^T GY, gb += colsum GY
//   R:        RY = RX W + X VW + vb;  RGX += RGY W^T + GY VW^T;  RgW += RX^T GY + X^T RGY
// Products go through simd::gemm (fixed summation order, threads over strips of the output);
// bias rows and column sums are plain loops in row order.
template <typename T>
void addRows(T* y, const T* b, int n, int w) {
  for (int r = 0; r < n; r++)
    for (int j = 0; j < w; j++) y[int64_t(r) * w + j] += b[j];
}
template <typename T>
void addColumnSums(T* out, const T* g, int n, int w, int threads) {
  // Columns split across threads; each column still sums its rows in order.
  const int64_t chunk = std::max<int64_t>(64, kParallelChunk / std::max(1, n));
  const auto sums = simd::elementOps<T>().addColumnSums;
  runtime::parallelRanges(w, chunk, threads, [&](int64_t a, int64_t b) { sums(out + a, g + a, n, b - a, w); });
}
// C (+)= A B, C = A B^T or C = A^T B accumulations of the dense op, all row-major.
template <typename T, typename C>
void matmul(C& c, int m, int n, int k, const T* a, bool ta, const T* b, bool tb, T* out, bool accumulate) {
  simd::gemm<T>(m, n, k, T(1), a, ta ? m : k, ta, b, tb ? k : n, tb, accumulate ? T(1) : T(0), out, n, c.threads);
}

// Rows of y (n x w) set to b: the product then adds onto the bias (one pass over Y instead of two).
template <typename T>
void setRows(T* y, const T* b, int n, int w, int threads) {
  const int64_t chunk = std::max<int64_t>(1, kParallelChunk / std::max(1, w));
  runtime::parallelRanges(n, chunk, threads, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) std::copy(b, b + w, y + r * w);
  });
}

template <typename T, typename C>
void denseForward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  const int din = c.prog->nodes[in].width, dout = nd.width;
  const T* W = c.P + nd.paramOffset;
  setRows(c.A[i], W + int64_t(din) * dout, c.n, dout, c.threads);
  matmul<T>(c, c.n, dout, din, c.A[in], false, W, false, c.A[i], true);
}

// body(from, rows, g) for each part of the pass's rows whose parameter gradients go to g: the
// row chunks of Ctx::parts, else all c.n rows into c.g.
template <typename C, typename F>
void forEachGradientPart(const C& c, const F& body) {
  if (!c.parts) return body(0, c.n, c.g);
  for (int q = 0; q < c.partCount; q++) body(c.parts[q].from, c.parts[q].to - c.parts[q].from, c.parts[q].g);
}

template <typename T, typename C>
void denseBackward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  const int din = c.prog->nodes[in].width, dout = nd.width;
  const T* W = c.P + nd.paramOffset;
  // The input never needs a gradient: skipping it saves the first layer's largest product.
  if (in != 0) matmul<T>(c, c.n, din, dout, c.G[i], false, W, true, c.G[in], true);
  if (!c.g) return;
  forEachGradientPart(c, [&](int from, int rows, T* g) {
    T* gW = g + nd.paramOffset;
    matmul<T>(c, din, dout, rows, c.A[in] + int64_t(from) * din, true, c.G[i] + int64_t(from) * dout, false, gW, true);
    addColumnSums(gW + int64_t(din) * dout, c.G[i] + int64_t(from) * dout, rows, dout, c.threads);
  });
}

template <typename T, typename C>
void denseRForward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  const int din = c.prog->nodes[in].width, dout = nd.width;
  const T* W = c.P + nd.paramOffset;
  const T* VW = c.V + nd.paramOffset;
  matmul<T>(c, c.n, dout, din, c.A[in], false, VW, false, c.RA[i], false);
  if (in != 0) matmul<T>(c, c.n, dout, din, c.RA[in], false, W, false, c.RA[i], true);
  addRows(c.RA[i], VW + int64_t(din) * dout, c.n, dout);
}

template <typename T, typename C>
void denseRBackward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  const int din = c.prog->nodes[in].width, dout = nd.width;
  const T* W = c.P + nd.paramOffset;
  const T* VW = c.V + nd.paramOffset;
  if (in != 0) {
    matmul<T>(c, c.n, din, dout, c.RG[i], false, W, true, c.RG[in], true);
    matmul<T>(c, c.n, din, dout, c.G[i], false, VW, true, c.RG[in], true);
  }
  T* rgW = c.rg + nd.paramOffset;
  matmul<T>(c, din, dout, c.n, c.A[in], true, c.RG[i], false, rgW, true);
  if (in != 0) matmul<T>(c, din, dout, c.n, c.RA[in], true, c.G[i], false, rgW, true);
  addColumnSums(rgW + int64_t(din) * dout, c.RG[i], c.n, dout, c.threads);
}

// ---- activations: y = f(x) elementwise ------------------------------------------------------------
//   GX += f'(x) GY;  RY = f'(x) RX;  RGX += f''(x) RX GY + f'(x) RGY
inline double actF(int fn, double x, double a) {
  switch (fn) {
    case kRelu: return x > 0 ? x : 0;
    case kLeakyRelu: return x > 0 ? x : a * x;
    case kElu: return x > 0 ? x : a * std::expm1(x);
    case kGelu: return x * normalCdf(x);
    case kTanh: return std::tanh(x);
    case kSigmoid: return sigmoid(x);
    default: return x;
  }
}
inline double actD1(int fn, double x, double y, double a) {
  switch (fn) {
    case kRelu: return x > 0 ? 1 : 0;
    case kLeakyRelu: return x > 0 ? 1 : a;
    case kElu: return x > 0 ? 1 : a * std::exp(x);
    case kGelu: return normalCdf(x) + x * normalPdf(x);
    case kTanh: return 1 - y * y;
    case kSigmoid: return y * (1 - y);
    default: return 1;
  }
}
inline double actD2(int fn, double x, double y, double a) {
  switch (fn) {
    case kElu: return x > 0 ? 0 : a * std::exp(x);
    case kGelu: return normalPdf(x) * (2 - x * x);
    case kTanh: return -2 * y * (1 - y * y);
    case kSigmoid: return y * (1 - y) * (1 - 2 * y);
    default: return 0;
  }
}

template <typename T, typename C>
void activationForward(const Node& nd, int i, C& c) {
  const T* X = c.A[nd.inputs[0]];
  T* Y = c.A[i];
  const int64_t len = int64_t(c.n) * nd.width;
  parallelRange(len, c.threads, [&](int64_t from, int64_t to) {
    if (nd.arg == kRelu) {
      simd::elementOps<T>().relu(X + from, Y + from, to - from);
    } else {
      for (int64_t k = from; k < to; k++) Y[k] = static_cast<T>(actF(nd.arg, X[k], nd.alpha));
    }
  });
}

template <typename T, typename C>
void activationBackward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  const T* X = c.A[in];
  const T* Y = c.A[i];
  const T* GY = c.G[i];
  T* GX = c.G[in];
  const int64_t len = int64_t(c.n) * nd.width;
  parallelRange(len, c.threads, [&](int64_t from, int64_t to) {
    if (nd.arg == kRelu) {
      simd::elementOps<T>().reluBackward(X + from, GY + from, GX + from, to - from);
    } else {
      for (int64_t k = from; k < to; k++) GX[k] += static_cast<T>(actD1(nd.arg, X[k], Y[k], nd.alpha) * GY[k]);
    }
  });
}

template <typename T, typename C>
void activationRForward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  const T* X = c.A[in];
  const T* Y = c.A[i];
  const T* RX = c.RA[in];
  T* RY = c.RA[i];
  const int64_t len = int64_t(c.n) * nd.width;
  if (nd.arg == kRelu) {
    simd::elementOps<T>().reluGate(X, RX, RY, len);  // f' = [x > 0]
  } else {
    for (int64_t k = 0; k < len; k++) RY[k] = static_cast<T>(actD1(nd.arg, X[k], Y[k], nd.alpha) * RX[k]);
  }
}

template <typename T, typename C>
void activationRBackward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  const T* X = c.A[in];
  const T* Y = c.A[i];
  const T* RX = c.RA[in];
  const T* GY = c.G[i];
  const T* RGY = c.RG[i];
  T* RGX = c.RG[in];
  const int64_t len = int64_t(c.n) * nd.width;
  if (nd.arg == kRelu) {
    simd::elementOps<T>().reluBackward(X, RGY, RGX, len);  // f'' = 0: RGX += [x > 0] RGY
    return;
  }
  for (int64_t k = 0; k < len; k++) {
    const double x = X[k], y = Y[k];
    RGX[k] += static_cast<T>(actD2(nd.arg, x, y, nd.alpha) * RX[k] * GY[k] + actD1(nd.arg, x, y, nd.alpha) * RGY[k]);
  }
}

// ---- linear parameter-free ops: dropout (fixed mask), concat, add ----------------------------------
// Their R-forward is the forward applied to R{inputs}; their R-backward the backward applied to R{G}.
template <typename T, typename C>
void linearApply(const Node& nd, int i, C& c, T* const* src, T* out) {
  const int n = c.n;
  const int w = nd.width;
  const int64_t len = int64_t(n) * w;
  switch (nd.op) {
    case kDropout: {
      const T* X = src[nd.inputs[0]];
      const T* m = c.masks ? c.masks[i] : nullptr;
      if (m) {
        for (int64_t k = 0; k < len; k++) out[k] = X[k] * m[k];
      } else {
        std::copy(X, X + len, out);
      }
      break;
    }
    case kConcat: {
      int col = 0;
      for (int in : nd.inputs) {
        const int wk = c.prog->nodes[in].width;
        const T* X = src[in];
        for (int r = 0; r < n; r++) std::copy(X + int64_t(r) * wk, X + int64_t(r + 1) * wk, out + int64_t(r) * w + col);
        col += wk;
      }
      break;
    }
    default: {  // add
      std::fill(out, out + len, T(0));
      for (int in : nd.inputs) {
        const T* X = src[in];
        for (int64_t k = 0; k < len; k++) out[k] += X[k];
      }
    }
  }
}

template <typename T, typename C>
void linearApplyT(const Node& nd, int i, C& c, const T* gOut, T* const* dst) {
  const int n = c.n;
  const int w = nd.width;
  const int64_t len = int64_t(n) * w;
  switch (nd.op) {
    case kDropout: {
      T* GX = dst[nd.inputs[0]];
      const T* m = c.masks ? c.masks[i] : nullptr;
      if (m) {
        for (int64_t k = 0; k < len; k++) GX[k] += gOut[k] * m[k];
      } else {
        for (int64_t k = 0; k < len; k++) GX[k] += gOut[k];
      }
      break;
    }
    case kConcat: {
      int col = 0;
      for (int in : nd.inputs) {
        const int wk = c.prog->nodes[in].width;
        T* GX = dst[in];
        for (int r = 0; r < n; r++)
          for (int j = 0; j < wk; j++) GX[int64_t(r) * wk + j] += gOut[int64_t(r) * w + col + j];
        col += wk;
      }
      break;
    }
    default:
      for (int in : nd.inputs) {
        T* GX = dst[in];
        for (int64_t k = 0; k < len; k++) GX[k] += gOut[k];
      }
  }
}

// ---- layer normalisation (Ba et al. 2016) ---------------------------------------------------------
// xhat = (x - mean) s, s = (var + eps)^-1/2, y = xhat gamma + beta. The Jacobian
// s (I - 11^T/w - xhat xhat^T/w) is symmetric: backward and R-forward share its form.
//   GX = s (g - mean g - xhat mean(g xhat)), g = GY gamma
//   R{xhat} = s (RX - mean RX - xhat mean(xhat RX)), R{s} = -s^2 mean(xhat RX)
//   RGX += R{s} (g - mean g - xhat mean(g xhat)) + s (Rg - mean Rg - R{xhat} mean(g xhat) - xhat mean(Rg xhat + g R{xhat}))
constexpr double kLnEps = 1e-5;

template <typename T, typename C>
void layernormForward(const Node& nd, int i, C& c) {
  const int w = nd.width;
  const T* X = c.A[nd.inputs[0]];
  T* Y = c.A[i];
  const T* gamma = c.P + nd.paramOffset;
  const T* beta = gamma + w;
  double* xh = c.ws->xhat[i].data();
  double* is = c.ws->invStd[i].data();
  for (int r = 0; r < c.n; r++) {
    const int64_t o = int64_t(r) * w;
    double mean = 0;
    for (int j = 0; j < w; j++) mean += X[o + j];
    mean /= w;
    double v = 0;
    for (int j = 0; j < w; j++) v += (X[o + j] - mean) * (X[o + j] - mean);
    const double s = 1 / std::sqrt(v / w + kLnEps);
    is[r] = s;
    for (int j = 0; j < w; j++) {
      const double h = (X[o + j] - mean) * s;
      xh[o + j] = h;
      Y[o + j] = static_cast<T>(h * gamma[j] + beta[j]);
    }
  }
}

template <typename T, typename C>
void layernormBackward(const Node& nd, int i, C& c) {
  const int w = nd.width;
  const T* GY = c.G[i];
  T* GX = c.G[nd.inputs[0]];
  const T* gamma = c.P + nd.paramOffset;
  const double* xh = c.ws->xhat[i].data();
  const double* is = c.ws->invStd[i].data();
  for (int r = 0; r < c.n; r++) {
    const int64_t o = int64_t(r) * w;
    double mg = 0, mgx = 0;
    for (int j = 0; j < w; j++) {
      const double gj = double(GY[o + j]) * gamma[j];
      mg += gj;
      mgx += gj * xh[o + j];
      if (c.g) {
        c.g[nd.paramOffset + j] += static_cast<T>(GY[o + j] * xh[o + j]);
        c.g[nd.paramOffset + w + j] += GY[o + j];
      }
    }
    mg /= w;
    mgx /= w;
    const double s = is[r];
    for (int j = 0; j < w; j++) GX[o + j] += static_cast<T>(s * (double(GY[o + j]) * gamma[j] - mg - xh[o + j] * mgx));
  }
}

template <typename T, typename C>
void layernormRForward(const Node& nd, int i, C& c) {
  const int w = nd.width;
  const T* RX = c.RA[nd.inputs[0]];
  T* RY = c.RA[i];
  const T* gamma = c.P + nd.paramOffset;
  const T* vgamma = c.V + nd.paramOffset;
  const T* vbeta = vgamma + w;
  const double* xh = c.ws->xhat[i].data();
  const double* is = c.ws->invStd[i].data();
  double* rxh = c.ws->rxhat[i].data();
  double* rs = c.ws->rsRel[i].data();
  for (int r = 0; r < c.n; r++) {
    const int64_t o = int64_t(r) * w;
    double m = 0, mx = 0;
    for (int j = 0; j < w; j++) {
      m += RX[o + j];
      mx += xh[o + j] * RX[o + j];
    }
    m /= w;
    mx /= w;
    const double s = is[r];
    rs[r] = -s * mx;
    for (int j = 0; j < w; j++) {
      const double h = s * (RX[o + j] - m - xh[o + j] * mx);
      rxh[o + j] = h;
      RY[o + j] = static_cast<T>(h * gamma[j] + xh[o + j] * vgamma[j] + vbeta[j]);
    }
  }
}

template <typename T, typename C>
void layernormRBackward(const Node& nd, int i, C& c) {
  const int w = nd.width;
  const T* GY = c.G[i];
  const T* RGY = c.RG[i];
  T* RGX = c.RG[nd.inputs[0]];
  const T* gamma = c.P + nd.paramOffset;
  const T* vgamma = c.V + nd.paramOffset;
  const double* xh = c.ws->xhat[i].data();
  const double* is = c.ws->invStd[i].data();
  const double* rxh = c.ws->rxhat[i].data();
  const double* rs = c.ws->rsRel[i].data();
  for (int r = 0; r < c.n; r++) {
    const int64_t o = int64_t(r) * w;
    double mg = 0, mgx = 0, mrg = 0, mr2 = 0;
    for (int j = 0; j < w; j++) {
      const double gy = GY[o + j], rgy = RGY[o + j];
      const double gj = gy * gamma[j];
      const double rgj = rgy * gamma[j] + gy * vgamma[j];
      mg += gj;
      mgx += gj * xh[o + j];
      mrg += rgj;
      mr2 += rgj * xh[o + j] + gj * rxh[o + j];
      c.rg[nd.paramOffset + j] += static_cast<T>(rgy * xh[o + j] + gy * rxh[o + j]);
      c.rg[nd.paramOffset + w + j] += RGY[o + j];
    }
    mg /= w;
    mgx /= w;
    mrg /= w;
    mr2 /= w;
    const double s = is[r];
    const double Rs = s * rs[r];
    for (int j = 0; j < w; j++) {
      const double gy = GY[o + j];
      const double gj = gy * gamma[j];
      const double rgj = double(RGY[o + j]) * gamma[j] + gy * vgamma[j];
      const double h = xh[o + j];
      RGX[o + j] += static_cast<T>(Rs * (gj - mg - h * mgx) + s * (rgj - mrg - rxh[o + j] * mgx - h * mr2));
    }
  }
}

// ---- softmax, row-wise ----------------------------------------------------------------------------
//   GX = Y (GY - <GY,Y>);  RY = Y (RX - <Y,RX>);  RGX += RY (GY - <GY,Y>) + Y (RGY - <RGY,Y> - <GY,RY>)
template <typename T, typename C>
void softmaxForward(const Node& nd, int i, C& c) {
  const int w = nd.width;
  const T* X = c.A[nd.inputs[0]];
  T* Y = c.A[i];
  double* e = c.ws->row.data();
  for (int r = 0; r < c.n; r++) {
    const int64_t o = int64_t(r) * w;
    double mx = -std::numeric_limits<double>::infinity();
    for (int j = 0; j < w; j++) mx = std::max(mx, double(X[o + j]));
    double s = 0;
    for (int j = 0; j < w; j++) s += e[j] = std::exp(X[o + j] - mx);
    for (int j = 0; j < w; j++) Y[o + j] = static_cast<T>(e[j] / s);
  }
}

template <typename T, typename C>
void softmaxBackward(const Node& nd, int i, C& c) {
  const int w = nd.width;
  const T* Y = c.A[i];
  const T* GY = c.G[i];
  T* GX = c.G[nd.inputs[0]];
  for (int r = 0; r < c.n; r++) {
    const int64_t o = int64_t(r) * w;
    double d = 0;
    for (int j = 0; j < w; j++) d += double(GY[o + j]) * Y[o + j];
    for (int j = 0; j < w; j++) GX[o + j] += static_cast<T>(Y[o + j] * (GY[o + j] - d));
  }
}

template <typename T, typename C>
void softmaxRForward(const Node& nd, int i, C& c) {
  const int w = nd.width;
  const T* Y = c.A[i];
  const T* RX = c.RA[nd.inputs[0]];
  T* RY = c.RA[i];
  for (int r = 0; r < c.n; r++) {
    const int64_t o = int64_t(r) * w;
    double d = 0;
    for (int j = 0; j < w; j++) d += double(Y[o + j]) * RX[o + j];
    for (int j = 0; j < w; j++) RY[o + j] = static_cast<T>(Y[o + j] * (RX[o + j] - d));
  }
}

template <typename T, typename C>
void softmaxRBackward(const Node& nd, int i, C& c) {
  const int w = nd.width;
  const T* Y = c.A[i];
  const T* RY = c.RA[i];
  const T* GY = c.G[i];
  const T* RGY = c.RG[i];
  T* RGX = c.RG[nd.inputs[0]];
  for (int r = 0; r < c.n; r++) {
    const int64_t o = int64_t(r) * w;
    double gy = 0, rgy = 0, gry = 0;
    for (int j = 0; j < w; j++) {
      gy += double(GY[o + j]) * Y[o + j];
      rgy += double(RGY[o + j]) * Y[o + j];
      gry += double(GY[o + j]) * RY[o + j];
    }
    for (int j = 0; j < w; j++) RGX[o + j] += static_cast<T>(RY[o + j] * (GY[o + j] - gy) + Y[o + j] * (RGY[o + j] - rgy - gry));
  }
}

// sum_j a[j] b[j] in double, four products at a time into four sums (entry j into sum j mod 4),
// added pairwise at the end: one chain of additions waited on each one (four cycles a product), and
// the mixtures' gate gradients of an MMoE of 128 tasks took 40 % of its training step so.
template <typename T>
double dotInDouble(const T* a, const T* b, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    s0 += double(a[j]) * b[j];
    s1 += double(a[j + 1]) * b[j + 1];
    s2 += double(a[j + 2]) * b[j + 2];
    s3 += double(a[j + 3]) * b[j + 3];
  }
  for (; j < n; j++) s0 += double(a[j]) * b[j];
  return (s0 + s1) + (s2 + s3);
}

// ---- mixture of experts (MMoE, Ma et al. 2018): Y = sum_k gate[:, k] E_k ----------------------------
//   GE_k += gate_k GY, Ggate_k += <GY, E_k>;  RY = sum_k R{gate_k} E_k + gate_k R{E_k}
//   RGE_k += R{gate_k} GY + gate_k RGY, RGgate_k += <RGY, E_k> + <GY, R{E_k}>
template <typename T, typename C>
void mixtureForward(const Node& nd, int i, C& c) {
  const int w = nd.width;
  const int K = static_cast<int>(nd.inputs.size()) - 1;
  T* const* A = c.A;
  T* Y = c.A[i];
  const T* Gt = A[nd.inputs[0]];
  std::fill(Y, Y + int64_t(c.n) * w, T(0));
  for (int k = 0; k < K; k++) {
    const T* E = A[nd.inputs[k + 1]];
    for (int r = 0; r < c.n; r++) {
      const T gk = Gt[int64_t(r) * K + k];
      const int64_t o = int64_t(r) * w;
      for (int j = 0; j < w; j++) Y[o + j] += gk * E[o + j];
    }
  }
}

template <typename T, typename C>
void mixtureBackward(const Node& nd, int i, C& c) {
  const int w = nd.width;
  const int K = static_cast<int>(nd.inputs.size()) - 1;
  const int gate = nd.inputs[0];
  const T* Gt = c.A[gate];
  const T* GY = c.G[i];
  T* GG = c.G[gate];
  for (int k = 0; k < K; k++) {
    const T* E = c.A[nd.inputs[k + 1]];
    T* GE = c.G[nd.inputs[k + 1]];
    for (int r = 0; r < c.n; r++) {
      const T gk = Gt[int64_t(r) * K + k];
      const int64_t o = int64_t(r) * w;
      for (int j = 0; j < w; j++) GE[o + j] += gk * GY[o + j];
      GG[int64_t(r) * K + k] += static_cast<T>(dotInDouble(GY + o, E + o, w));
    }
  }
}

template <typename T, typename C>
void mixtureRForward(const Node& nd, int i, C& c) {
  const int w = nd.width;
  const int K = static_cast<int>(nd.inputs.size()) - 1;
  const int gate = nd.inputs[0];
  const T* Gt = c.A[gate];
  const T* RGt = c.RA[gate];
  T* RY = c.RA[i];
  std::fill(RY, RY + int64_t(c.n) * w, T(0));
  for (int k = 0; k < K; k++) {
    const T* E = c.A[nd.inputs[k + 1]];
    const T* RE = c.RA[nd.inputs[k + 1]];
    for (int r = 0; r < c.n; r++) {
      const T gk = Gt[int64_t(r) * K + k], rgk = RGt[int64_t(r) * K + k];
      const int64_t o = int64_t(r) * w;
      for (int j = 0; j < w; j++) RY[o + j] += rgk * E[o + j] + gk * RE[o + j];
    }
  }
}

template <typename T, typename C>
void mixtureRBackward(const Node& nd, int i, C& c) {
  const int w = nd.width;
  const int K = static_cast<int>(nd.inputs.size()) - 1;
  const int gate = nd.inputs[0];
  const T* Gt = c.A[gate];
  const T* RGt = c.RA[gate];
  const T* GY = c.G[i];
  const T* RGY = c.RG[i];
  T* RGG = c.RG[gate];
  for (int k = 0; k < K; k++) {
    const T* E = c.A[nd.inputs[k + 1]];
    const T* RE = c.RA[nd.inputs[k + 1]];
    T* RGE = c.RG[nd.inputs[k + 1]];
    for (int r = 0; r < c.n; r++) {
      const T gk = Gt[int64_t(r) * K + k], rgk = RGt[int64_t(r) * K + k];
      const int64_t o = int64_t(r) * w;
      double d = 0;
      for (int j = 0; j < w; j++) {
        d += double(RGY[o + j]) * E[o + j] + double(GY[o + j]) * RE[o + j];
        RGE[o + j] += rgk * GY[o + j] + gk * RGY[o + j];
      }
      RGG[int64_t(r) * K + k] += static_cast<T>(d);
    }
  }
}

// ---- cross-stitch unit (Misra et al. 2016): Y = sum_k a_k X_k -------------------------------------
//   GX_k += a_k GY, ga_k += <GY, X_k>;  RY = sum_k va_k X_k + a_k RX_k
//   RGX_k += va_k GY + a_k RGY, Rga_k += <RGY, X_k> + <GY, RX_k>
template <typename T, typename C>
void stitchForward(const Node& nd, int i, C& c) {
  const int64_t len = int64_t(c.n) * nd.width;
  T* Y = c.A[i];
  std::fill(Y, Y + len, T(0));
  for (size_t k = 0; k < nd.inputs.size(); k++) {
    const T a = c.P[nd.paramOffset + k];
    const T* X = c.A[nd.inputs[k]];
    for (int64_t j = 0; j < len; j++) Y[j] += a * X[j];
  }
}

template <typename T, typename C>
void stitchBackward(const Node& nd, int i, C& c) {
  const int64_t len = int64_t(c.n) * nd.width;
  const T* GY = c.G[i];
  for (size_t k = 0; k < nd.inputs.size(); k++) {
    const T a = c.P[nd.paramOffset + k];
    const T* X = c.A[nd.inputs[k]];
    T* GX = c.G[nd.inputs[k]];
    for (int64_t j = 0; j < len; j++) GX[j] += a * GY[j];
    if (c.g) c.g[nd.paramOffset + k] += static_cast<T>(dotInDouble(GY, X, len));
  }
}

template <typename T, typename C>
void stitchRForward(const Node& nd, int i, C& c) {
  const int64_t len = int64_t(c.n) * nd.width;
  T* RY = c.RA[i];
  std::fill(RY, RY + len, T(0));
  for (size_t k = 0; k < nd.inputs.size(); k++) {
    const T a = c.P[nd.paramOffset + k], va = c.V[nd.paramOffset + k];
    const T* X = c.A[nd.inputs[k]];
    const T* RX = c.RA[nd.inputs[k]];
    for (int64_t j = 0; j < len; j++) RY[j] += va * X[j] + a * RX[j];
  }
}

template <typename T, typename C>
void stitchRBackward(const Node& nd, int i, C& c) {
  const int64_t len = int64_t(c.n) * nd.width;
  const T* GY = c.G[i];
  const T* RGY = c.RG[i];
  for (size_t k = 0; k < nd.inputs.size(); k++) {
    const T a = c.P[nd.paramOffset + k], va = c.V[nd.paramOffset + k];
    const T* X = c.A[nd.inputs[k]];
    const T* RX = c.RA[nd.inputs[k]];
    T* RGX = c.RG[nd.inputs[k]];
    double d = 0;
    for (int64_t j = 0; j < len; j++) {
      d += double(RGY[j]) * X[j] + double(GY[j]) * RX[j];
      RGX[j] += va * GY[j] + a * RGY[j];
    }
    c.rg[nd.paramOffset + k] += static_cast<T>(d);
  }
}

// ---- convolution (conv.cc): Y = conv(X, W) + b ------------------------------------------------------
//   backward: GX += conv^T(GY, W), gW += corr(X, GY), gb += sums of GY
//   R:        RY = conv(RX, W) + conv(X, VW) + vb;  RGX += conv^T(RGY, W) + conv^T(GY, VW);
//             RgW += corr(RX, GY) + corr(X, RGY);  Rgb += sums of RGY
template <typename T, typename C>
void convForward(const Node& nd, int i, C& c) {
  const T* W = c.P + nd.paramOffset;
  conv::forward<T>(nd.window, c.n, c.A[nd.inputs[0]], W, W + nd.window.f * nd.window.patch(), c.A[i], false, c.ws->conv,
                   c.threads);
}

template <typename T, typename C>
void convBackward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  const T* W = c.P + nd.paramOffset;
  // The input never needs a gradient (as for the dense op).
  if (in != 0) conv::backwardData<T>(nd.window, c.n, c.G[i], W, c.G[in], c.ws->conv, c.threads);
  if (c.g) {
    T* gW = c.g + nd.paramOffset;
    conv::backwardWeights<T>(nd.window, c.n, c.A[in], c.G[i], gW, gW + nd.window.f * nd.window.patch(), c.ws->conv,
                             c.threads);
  }
}

template <typename T, typename C>
void convRForward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  const T* W = c.P + nd.paramOffset;
  const T* VW = c.V + nd.paramOffset;
  conv::forward<T>(nd.window, c.n, c.A[in], VW, VW + nd.window.f * nd.window.patch(), c.RA[i], false, c.ws->conv,
                   c.threads);
  if (in != 0) conv::forward<T>(nd.window, c.n, c.RA[in], W, nullptr, c.RA[i], true, c.ws->conv, c.threads);
}

template <typename T, typename C>
void convRBackward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  const T* W = c.P + nd.paramOffset;
  const T* VW = c.V + nd.paramOffset;
  T* rgW = c.rg + nd.paramOffset;
  if (in != 0) {
    conv::backwardData<T>(nd.window, c.n, c.RG[i], W, c.RG[in], c.ws->conv, c.threads);
    conv::backwardData<T>(nd.window, c.n, c.G[i], VW, c.RG[in], c.ws->conv, c.threads);
    conv::backwardWeights<T>(nd.window, c.n, c.RA[in], c.G[i], rgW, nullptr, c.ws->conv, c.threads);
  }
  conv::backwardWeights<T>(nd.window, c.n, c.A[in], c.RG[i], rgW, rgW + nd.window.f * nd.window.patch(), c.ws->conv,
                           c.threads);
}

// ---- batch normalisation (batchnorm.cc) -------------------------------------------------------------
template <typename T, typename C>
batchnorm::Node<T> bnNode(const Node& nd, int i, C& c) {
  batchnorm::Node<T> b;
  b.n = c.n;
  b.C = nd.channels;
  b.HW = nd.width / nd.channels;
  b.eps = nd.alpha;
  b.gamma = c.P + nd.paramOffset;
  b.vgamma = c.V ? c.V + nd.paramOffset : nullptr;
  b.running = c.running ? c.running + nd.statsOffset : nullptr;
  b.mean = c.ws->bnMean[i].data();
  b.invStd = c.ws->bnInvStd[i].data();
  b.rMean = c.ws->bnRMean[i].data();
  b.rMeanX = c.ws->bnRMeanX[i].data();
  return b;
}

template <typename T, typename C>
void bnForward(const Node& nd, int i, C& c) {
  batchnorm::forward<T>(bnNode<T>(nd, i, c), c.A[nd.inputs[0]], c.A[i], c.batchOut ? c.batchOut + nd.statsOffset : nullptr,
                        c.threads);
}
template <typename T, typename C>
void bnBackward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  batchnorm::backward<T>(bnNode<T>(nd, i, c), c.A[in], c.G[i], c.G[in], c.g ? c.g + nd.paramOffset : nullptr, c.threads);
}
template <typename T, typename C>
void bnRForward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  batchnorm::rForward<T>(bnNode<T>(nd, i, c), c.A[in], c.RA[in], c.RA[i], c.threads);
}
template <typename T, typename C>
void bnRBackward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  batchnorm::rBackward<T>(bnNode<T>(nd, i, c), c.A[in], c.RA[in], c.G[i], c.RG[i], c.RG[in], c.rg + nd.paramOffset,
                          c.threads);
}

// ---- pooling (pool.cc): max selects (Y = X[argmax]), average is linear ---------------------------------
template <typename T, typename C>
void poolForward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  if (nd.op == kMaxPool2d) pool::maxForward<T>(nd.window, c.n, c.A[in], c.A[i], c.ws->argmax[i].data(), c.threads);
  else pool::avgForward<T>(nd.window, c.n, c.A[in], c.A[i], c.threads);
}
// dst[input] += the pooling's transpose applied to src[i] (backward: G; R-backward: RG).
template <typename T, typename C>
void poolTranspose(const Node& nd, int i, C& c, T* const* src, T* const* dst) {
  const int in = nd.inputs[0];
  if (nd.op == kMaxPool2d) pool::maxScatter<T>(nd.window, c.n, src[i], c.ws->argmax[i].data(), dst[in], c.threads);
  else pool::avgBackward<T>(nd.window, c.n, src[i], dst[in], c.threads);
}
template <typename T, typename C>
void poolRForward(const Node& nd, int i, C& c) {
  const int in = nd.inputs[0];
  if (nd.op == kMaxPool2d) pool::maxGather<T>(nd.window, c.n, c.RA[in], c.ws->argmax[i].data(), c.RA[i], c.threads);
  else pool::avgForward<T>(nd.window, c.n, c.RA[in], c.RA[i], c.threads);
}

// ---- dispatch: one case per op -----------------------------------------------------------------------
template <typename T, typename C>
void opForward(const Node& nd, int i, C& c) {
  switch (nd.op) {
    case kDense: return denseForward<T>(nd, i, c);
    case kActivation: return activationForward<T>(nd, i, c);
    case kLayerNorm: return layernormForward<T>(nd, i, c);
    case kSoftmax: return softmaxForward<T>(nd, i, c);
    case kMixture: return mixtureForward<T>(nd, i, c);
    case kStitch: return stitchForward<T>(nd, i, c);
    case kConv2d: return convForward<T>(nd, i, c);
    case kBatchNorm: return bnForward<T>(nd, i, c);
    case kMaxPool2d:
    case kAvgPool2d: return poolForward<T>(nd, i, c);
    case kDropout:
    case kConcat:
    case kFlatten:
    case kAdd: return linearApply<T>(nd, i, c, c.A, c.A[i]);
    default: return;
  }
}

template <typename T, typename C>
void opBackward(const Node& nd, int i, C& c) {
  switch (nd.op) {
    case kDense: return denseBackward<T>(nd, i, c);
    case kActivation: return activationBackward<T>(nd, i, c);
    case kLayerNorm: return layernormBackward<T>(nd, i, c);
    case kSoftmax: return softmaxBackward<T>(nd, i, c);
    case kMixture: return mixtureBackward<T>(nd, i, c);
    case kStitch: return stitchBackward<T>(nd, i, c);
    case kConv2d: return convBackward<T>(nd, i, c);
    case kBatchNorm: return bnBackward<T>(nd, i, c);
    case kMaxPool2d:
    case kAvgPool2d: return poolTranspose<T>(nd, i, c, c.G, c.G);
    case kDropout:
    case kConcat:
    case kFlatten:
    case kAdd: return linearApplyT<T>(nd, i, c, c.G[i], c.G);
    default: return;
  }
}

template <typename T, typename C>
void opRForward(const Node& nd, int i, C& c) {
  switch (nd.op) {
    case kDense: return denseRForward<T>(nd, i, c);
    case kActivation: return activationRForward<T>(nd, i, c);
    case kLayerNorm: return layernormRForward<T>(nd, i, c);
    case kSoftmax: return softmaxRForward<T>(nd, i, c);
    case kMixture: return mixtureRForward<T>(nd, i, c);
    case kStitch: return stitchRForward<T>(nd, i, c);
    case kConv2d: return convRForward<T>(nd, i, c);
    case kBatchNorm: return bnRForward<T>(nd, i, c);
    case kMaxPool2d:
    case kAvgPool2d: return poolRForward<T>(nd, i, c);
    case kDropout:
    case kConcat:
    case kFlatten:
    case kAdd: return linearApply<T>(nd, i, c, c.RA, c.RA[i]);
    default: return;
  }
}

template <typename T, typename C>
void opRBackward(const Node& nd, int i, C& c) {
  switch (nd.op) {
    case kDense: return denseRBackward<T>(nd, i, c);
    case kActivation: return activationRBackward<T>(nd, i, c);
    case kLayerNorm: return layernormRBackward<T>(nd, i, c);
    case kSoftmax: return softmaxRBackward<T>(nd, i, c);
    case kMixture: return mixtureRBackward<T>(nd, i, c);
    case kStitch: return stitchRBackward<T>(nd, i, c);
    case kConv2d: return convRBackward<T>(nd, i, c);
    case kBatchNorm: return bnRBackward<T>(nd, i, c);
    case kMaxPool2d:
    case kAvgPool2d: return poolTranspose<T>(nd, i, c, c.RG, c.RG);
    case kDropout:
    case kConcat:
    case kFlatten:
    case kAdd: return linearApplyT<T>(nd, i, c, c.RG[i], c.RG);
    default: return;
  }
}

}  // namespace

// ---- losses --------------------------------------------------------------------------------------------
namespace {

// A target is missing when NaN, or negative for a classification loss.
inline bool isMissingTarget(double y, bool classification) { return std::isnan(y) || (classification && y < 0); }

// A softmax-ce target (not missing) must be a class index.
inline bool isClassIndex(double y, int classes) { return y == std::floor(y) && y < classes; }

KernelValueError classTargetError(size_t h, int row, double y, int classes) {
  return KernelValueError{"head " + std::to_string(h) + " (softmax-ce) row " + std::to_string(row) + ": target " + std::to_string(y) +
                          " is not a class index in 0.." + std::to_string(classes - 1)};
}

}  // namespace

// Head h's mean loss over its non-missing rows; seeds G with weight/m dl/dz and RG with
// weight/m (d2l/dz2) R{z}. Formulas as in network.ts: mse (z-y)^2, huber (PyTorch), bce-logits
// softplus(z) - y z, softmax-ce logsumexp(z) - z_y, poisson exp(z) - y z.
template <typename T>
double Network<T>::seedLoss(Ctx& c, const Batch<T>& b, size_t h, double weight, bool seed, bool withR, int labelled, int rowBase) {
  const Head& hd = prog_.heads[h];
  const int C = prog_.nodes[hd.node].width;
  const T* Z = c.A[hd.node];
  T* G = seed ? c.G[hd.node] : nullptr;
  const T* RZ = withR ? c.RA[hd.node] : nullptr;
  T* RG = withR ? c.RG[hd.node] : nullptr;
  const bool cls = hd.loss == kSoftmaxCe || hd.loss == kBceLogits;
  const int m = labelled >= 0 ? labelled : labelledRows(b, h);
  if (m == 0) return 0;
  const double s = weight / m;
  double sum = 0;
  for (int r = 0; r < c.n; r++) {
    const double yv = b.y[int64_t(r) * b.yCols + hd.target];
    if (isMissingTarget(yv, cls)) continue;
    if (hd.loss == kSoftmaxCe) {
      if (!isClassIndex(yv, C)) throw classTargetError(h, rowBase + r, yv, C);
      const int cy = static_cast<int>(yv);
      const T* z = Z + int64_t(r) * C;
      double mx = -std::numeric_limits<double>::infinity();
      for (int j = 0; j < C; j++) mx = std::max(mx, double(z[j]));
      double se = 0;
      for (int j = 0; j < C; j++) se += std::exp(z[j] - mx);
      const double lse = mx + std::log(se);
      sum += lse - z[cy];
      if (G) {
        T* g = G + int64_t(r) * C;
        for (int j = 0; j < C; j++) g[j] += static_cast<T>(s * (std::exp(z[j] - lse) - (j == cy ? 1 : 0)));
      }
      if (RG) {
        const T* rz = RZ + int64_t(r) * C;
        T* rg = RG + int64_t(r) * C;
        double d = 0;
        for (int j = 0; j < C; j++) d += std::exp(z[j] - lse) * rz[j];
        for (int j = 0; j < C; j++) rg[j] += static_cast<T>(s * std::exp(z[j] - lse) * (rz[j] - d));
      }
      continue;
    }
    const double z = Z[r];
    double l, d1, d2;
    switch (hd.loss) {
      case kMse: {
        const double e = z - yv;
        l = e * e;
        d1 = 2 * e;
        d2 = 2;
        break;
      }
      case kHuber: {
        const double e = z - yv, a = std::abs(e), delta = hd.delta;
        if (a <= delta) {
          l = 0.5 * e * e;
          d1 = e;
          d2 = 1;
        } else {
          l = delta * (a - 0.5 * delta);
          d1 = e > 0 ? delta : -delta;
          d2 = 0;
        }
        break;
      }
      case kBceLogits: {
        const double p = sigmoid(z);
        l = std::max(z, 0.0) - yv * z + std::log1p(std::exp(-std::abs(z)));
        d1 = p - yv;
        d2 = p * (1 - p);
        break;
      }
      default: {
        const double ez = std::exp(z);
        l = ez - yv * z;
        d1 = ez - yv;
        d2 = ez;
      }
    }
    sum += l;
    if (G) G[r] += static_cast<T>(s * d1);
    if (RG) RG[r] += static_cast<T>(s * d2 * RZ[r]);
  }
  return sum / m;
}

// The rows of b with a label for head h (NaN is missing; so is a negative class).
template <typename T>
int Network<T>::labelledRows(const Batch<T>& b, size_t h) const {
  const Head& hd = prog_.heads[h];
  const bool cls = hd.loss == kSoftmaxCe || hd.loss == kBceLogits;
  int m = 0;
  for (int r = 0; r < b.n; r++)
    if (!isMissingTarget(b.y[int64_t(r) * b.yCols + hd.target], cls)) m++;
  return m;
}

// ---- the handle ---------------------------------------------------------------------------------------

template <typename T>
Network<T>::Network(Program program) : prog_(std::move(program)) {
  findChains();
  for (const Head& hd : prog_.heads) headNodes_.push_back(hd.node);
  for (const Node& nd : prog_.nodes) {
    if (nd.op == kLayerNorm || nd.op == kConv2d || nd.op == kBatchNorm || nd.op == kMaxPool2d || nd.op == kAvgPool2d) rowLocal_ = false;
    if (nd.op == kLayerNorm || nd.op == kConv2d || nd.op == kBatchNorm || nd.op == kMixture || nd.op == kStitch) denseParams_ = false;
  }
  denseParams_ = denseParams_ && rowLocal_;
}

template <typename T>
void Network<T>::findChains() {
  const size_t N = prog_.nodes.size();
  fusedBn_.assign(N, -1);
  fusedAway_.assign(N, 0);
  gradAssigned_.assign(N, 0);
  std::vector<int> consumers(N, 0);
  for (const Node& nd : prog_.nodes)
    for (int in : nd.inputs) consumers[in]++;
  for (const Head& hd : prog_.heads) consumers[hd.node]++;  // a head reads its node too
  for (size_t p = 1; p < N; p++) {
    const Node& pool = prog_.nodes[p];
    if (pool.op != kMaxPool2d) continue;
    const int r = pool.inputs[0];
    const Node& relu = prog_.nodes[r];
    if (relu.op != kActivation || relu.arg != kRelu || consumers[r] != 1) continue;
    const int b = relu.inputs[0];
    const Node& bn = prog_.nodes[b];
    if (bn.op != kBatchNorm || consumers[b] != 1 || bn.c == 0) continue;
    fusedBn_[p] = b;
    fusedAway_[b] = fusedAway_[r] = 1;
    const int x = bn.inputs[0];
    if (x != 0 && consumers[x] == 1) gradAssigned_[x] = 1;
  }
}

template <typename T>
Network<T>::~Network() = default;

template <typename T>
void Network<T>::releaseBuffers() {
  workspaces_.clear();
  lanes_.clear();
}

template <typename T>
int64_t Network<T>::bytesHeld() const {
  int64_t bytes = 0;
  std::vector<const Workspace*> all;
  for (const auto& ws : workspaces_) all.push_back(ws.get());
  for (const auto& lane : lanes_) {
    for (const auto& ws : lane->workspaces) all.push_back(ws.get());
    bytes += int64_t(lane->grad.capacity() * sizeof(T));
  }
  for (const Workspace* ws : all) {
    for (const auto* set : {&ws->a, &ws->g, &ws->ra, &ws->rg})
      for (const Buffer<T>& b : *set) bytes += int64_t(b.capacity() * sizeof(T));
    for (const auto* set : {&ws->xhat, &ws->invStd, &ws->rxhat, &ws->rsRel, &ws->bnMean, &ws->bnInvStd, &ws->bnRMean, &ws->bnRMeanX})
      for (const std::vector<double>& b : *set) bytes += int64_t(b.capacity() * sizeof(double));
    for (const std::vector<uint8_t>& b : ws->argmax) bytes += int64_t(b.capacity());
    for (const Buffer<T>& b : ws->poolX) bytes += int64_t(b.capacity() * sizeof(T));
    bytes += ws->conv.bytesHeld();
    bytes += int64_t(ws->row.capacity() * sizeof(double));
    bytes += int64_t((ws->groupW.capacity() + ws->groupY.capacity() + ws->groupGW.capacity()) * sizeof(T));
    for (const Buffer<T>& w : ws->groupWcat) bytes += int64_t(w.capacity() * sizeof(T));
  }
  return bytes;
}

template <typename T>
typename Network<T>::Workspace& Network<T>::workspace(int n, bool withR) {
  return workspaceIn(workspaces_, n, withR);
}

// The smallest kept workspace with room for n rows, else a new one of n rows. A workspace's
// buffers hold its n rows (ws->n); a call uses their first rows (every op reads and writes c.n rows
// at row strides that do not depend on n), so the results do not depend on which workspace served
// it. Kept by exact size instead, a server answering batches of 1 to 64 rows allocated and cleared
// a workspace on most requests: 3.3-3.9 us a row against 1.9-2.2 at one size (128-256-256 + 8
// heads, float32, one thread).
template <typename T>
typename Network<T>::Workspace& Network<T>::workspaceIn(std::vector<std::unique_ptr<Workspace>>& cache, int n, bool withR) {
  Workspace* ws = nullptr;
  for (auto& w : cache)
    if (w->n >= n && (!ws || w->n < ws->n)) ws = w.get();
  const size_t N = prog_.nodes.size();
  if (!ws) {
    // Training sees one batch size and perhaps a smaller last batch; evaluation another.
    if (cache.size() >= 4) cache.erase(cache.begin());
    auto fresh = std::make_unique<Workspace>();
    fresh->n = n;
    fresh->a.resize(N);
    fresh->g.resize(N);
    fresh->A.assign(N, nullptr);
    fresh->G.assign(N, nullptr);
    fresh->xhat.resize(N);
    fresh->invStd.resize(N);
    fresh->rxhat.resize(N);
    fresh->rsRel.resize(N);
    for (auto* v : {&fresh->bnMean, &fresh->bnInvStd, &fresh->bnRMean, &fresh->bnRMeanX}) v->resize(N);
    fresh->argmax.resize(N);
    fresh->poolX.resize(N);
    fresh->row.assign(prog_.maxWidth, 0.0);
    for (size_t i = 0; i < N; i++) {
      const size_t len = size_t(n) * prog_.nodes[i].width;
      // The outputs of fused chains' inner nodes exist only for the R-passes (allocated with them).
      if (!fusedAway_[i]) {
        if (i > 0) fresh->a[i].assign(len, T(0));
        fresh->g[i].assign(len, T(0));
        fresh->A[i] = i > 0 ? fresh->a[i].data() : nullptr;
        fresh->G[i] = fresh->g[i].data();
      }
      if (prog_.nodes[i].op == kLayerNorm) {
        fresh->xhat[i].assign(len, 0.0);
        fresh->invStd[i].assign(n, 0.0);
      }
      if (prog_.nodes[i].op == kBatchNorm) {
        for (auto* v : {&fresh->bnMean, &fresh->bnInvStd, &fresh->bnRMean, &fresh->bnRMeanX}) (*v)[i].assign(prog_.nodes[i].channels, 0.0);
      }
      if (prog_.nodes[i].op == kMaxPool2d) fresh->argmax[i].assign(len, 0);
      if (fusedBn_[i] >= 0) fresh->poolX[i].assign(len, T(0));
    }
    cache.push_back(std::move(fresh));
    ws = cache.back().get();
  }
  if (withR && !ws->hasR) {
    ws->ra.resize(N);
    ws->rg.resize(N);
    ws->RA.assign(N, nullptr);
    ws->RG.assign(N, nullptr);
    for (size_t i = 0; i < N; i++) {
      const size_t len = size_t(ws->n) * prog_.nodes[i].width;  // the workspace's rows, not this call's
      if (fusedAway_[i]) {
        ws->a[i].assign(len, T(0));
        ws->g[i].assign(len, T(0));
        ws->A[i] = ws->a[i].data();
        ws->G[i] = ws->g[i].data();
      }
      ws->ra[i].assign(len, T(0));  // RA[0] stays zero: x does not depend on the parameters
      ws->rg[i].assign(len, T(0));
      ws->RA[i] = ws->ra[i].data();
      ws->RG[i] = ws->rg[i].data();
      if (prog_.nodes[i].op == kLayerNorm) {
        ws->rxhat[i].assign(len, 0.0);
        ws->rsRel[i].assign(ws->n, 0.0);
      }
    }
    ws->hasR = true;
  }
  return *ws;
}

template <typename T>
bool Network<T>::keptMatches(const T* params, const Batch<T>& b) const {
  if (!kept_.valid || kept_.params != params || kept_.x != b.x || kept_.n != b.n || kept_.stats != b.stats) return false;
  for (size_t i = 0; i < prog_.nodes.size(); i++) {
    const T* m = b.masks ? b.masks[i] : nullptr;
    if (m != (kept_.masks.empty() ? nullptr : kept_.masks[i])) return false;
  }
  return true;
}

template <typename T>
typename Network<T>::Ctx Network<T>::begin(const T* params, const Batch<T>& b, const T* v, bool withR) {
  kept_.valid = false;
  return context(workspace(b.n, withR), params, b, v, withR, threads_, &groupScratch_);
}

template <typename T>
typename Network<T>::Ctx Network<T>::context(Workspace& ws, const T* params, const Batch<T>& b, const T* v, bool withR, int threads,
                                             std::vector<int>* groupScratch) {
  // The input op never writes A[0]; the const_cast only lets every node share one pointer table.
  ws.A[0] = const_cast<T*>(b.x);
  ws.pass++;
  Ctx c;
  c.prog = &prog_;
  c.n = b.n;
  c.P = params;
  c.V = v;
  c.ws = &ws;
  c.A = ws.A.data();
  c.G = ws.G.data();
  c.RA = withR ? ws.RA.data() : nullptr;
  c.RG = withR ? ws.RG.data() : nullptr;
  c.g = nullptr;
  c.rg = nullptr;
  c.masks = b.masks;
  c.fused = !withR;
  c.running = b.stats;
  c.batchOut = b.statsOut;
  c.threads = threads;
  c.groupScratch = groupScratch;
  return c;
}

template <typename T>
void Network<T>::runForward(Ctx& c) {
  for (size_t i = 1; i < prog_.nodes.size(); i++) {
    if (c.fused && fusedAway_[i]) continue;
    if (c.fused && fusedBn_[i] >= 0) {
      const int b = fusedBn_[i];
      const Node& bn = prog_.nodes[b];
      batchnorm::forwardReluMaxPool<T>(bnNode<T>(bn, b, c), prog_.nodes[i].window, c.A[bn.inputs[0]], c.A[i],
                                       c.ws->argmax[i].data(), c.ws->poolX[i].data(),
                                       c.batchOut ? c.batchOut + bn.statsOffset : nullptr, c.threads);
      continue;
    }
    const int group = prog_.denseGroupOf[i];
    if (group < 0) {
      opForward<T>(prog_.nodes[i], static_cast<int>(i), c);
    } else if (prog_.denseGroups[group][0] == static_cast<int>(i)) {
      groupForward(c, prog_.denseGroups[group]);  // every member, at the first one's turn
    }
  }
}

// Matrices side by side: member m's rows x u matrix in columns [col, col + u) of a rows x U one,
// the members' columns in member order (a dense group's W_cat, G_cat and outputs; the heads'
// columns of a network's output). sideBySide calls op(base(m), wide, own, j) for every entry, wide
// and own its index in the wide matrix and in the member's, j its column in the member's. By blocks
// of kSideRows rows, every member's part of a block in turn, so that the block's rows of the wide
// matrix stay in the level-1 cache: member by member down all the rows (with a copy call per row),
// 256 one-unit heads took a third of a training step of 128 rows. Narrow members go column by
// column (strided on both sides: no compiler turns the loop back into a copy call per row), wide
// ones row by row.
constexpr int64_t kSideRows = 16;
constexpr int64_t kNarrowMember = 16;

template <typename Base, typename Op>
void sideBySide(const Program& prog, const std::vector<int>& members, int64_t rows, int64_t U, const Base& base, const Op& op) {
  for (int64_t r0 = 0; r0 < rows; r0 += kSideRows) {
    const int64_t r1 = std::min(rows, r0 + kSideRows);
    int64_t col = 0;
    for (int m : members) {
      const int64_t u = prog.nodes[m].width;
      const auto p = base(m);
      if (u < kNarrowMember) {
        for (int64_t j = 0; j < u; j++)
          for (int64_t r = r0; r < r1; r++) op(p, r * U + col + j, r * u + j, j);
      } else {
        for (int64_t r = r0; r < r1; r++)
          for (int64_t j = 0; j < u; j++) op(p, r * U + col + j, r * u + j, j);
      }
      col += u;
    }
  }
}

// dst (rows x U) <- the members' matrices src(m) side by side.
template <typename T, typename Src>
void putSideBySide(const Program& prog, const std::vector<int>& members, int64_t rows, int64_t U, T* dst, const Src& src) {
  sideBySide(prog, members, rows, U, src, [dst](const T* a, int64_t wide, int64_t own, int64_t) { dst[wide] = a[own]; });
}

// Each member's matrix dst(m) += its columns of src (rows x U).
template <typename T, typename Dst>
void addSideBySide(const Program& prog, const std::vector<int>& members, int64_t rows, int64_t U, const T* src, const Dst& dst) {
  sideBySide(prog, members, rows, U, dst, [src](T* a, int64_t wide, int64_t own, int64_t) { a[own] += src[wide]; });
}

// A dense group as one product: W_cat = [W_1 ... W_g] (din x U), Y_cat = X W_cat, then each
// member's columns plus its bias. Every output element is the same sum, in the same order, as the
// member's own product (simd::gemm's order depends on k only), so grouping changes no forward bit.
template <typename T>
void Network<T>::groupForward(Ctx& c, const std::vector<int>& members) {
  const int in = prog_.nodes[members[0]].inputs[0];
  const int din = prog_.nodes[in].width;
  int U = 0;
  for (int m : members) U += prog_.nodes[m].width;
  Workspace& ws = *c.ws;
  const int group = prog_.denseGroupOf[members[0]];
  if (ws.groupWcat.size() < prog_.denseGroups.size()) {
    ws.groupWcat.resize(prog_.denseGroups.size());
    ws.groupWcatPass.resize(prog_.denseGroups.size(), 0);
  }
  ws.groupWcat[group].resize(size_t(din) * U);
  ws.groupY.resize(size_t(c.n) * U);
  T* wcat = ws.groupWcat[group].data();
  putSideBySide<T>(prog_, members, din, U, wcat, [&](int m) { return c.P + prog_.nodes[m].paramOffset; });
  ws.groupWcatPass[group] = ws.pass;
  simd::gemm<T>(c.n, U, din, T(1), c.A[in], din, false, wcat, U, false, T(0), ws.groupY.data(), U, c.threads);
  // Each member's columns plus its bias.
  struct Out {
    T* y;
    const T* bias;
  };
  const T* ycat = ws.groupY.data();
  sideBySide(
      prog_, members, c.n, U, [&](int m) { return Out{c.A[m], c.P + prog_.nodes[m].paramOffset + int64_t(din) * prog_.nodes[m].width}; },
      [ycat](const Out& o, int64_t wide, int64_t own, int64_t j) { o.y[own] = ycat[wide] + o.bias[j]; });
}

// The backward pass of the active members of a dense group: GX += G_cat W_cat^T as one product
// (k = all members' units), and X^T G_cat once, added into each member's weight gradient (the same
// per-element sums as the members' own products).
template <typename T>
void Network<T>::groupBackward(Ctx& c, const std::vector<int>& members) {
  const int in = prog_.nodes[members[0]].inputs[0];
  const int din = prog_.nodes[in].width;
  int U = 0;
  for (int m : members) U += prog_.nodes[m].width;
  Workspace& ws = *c.ws;
  ws.groupY.resize(size_t(c.n) * U);
  T* gcat = ws.groupY.data();
  putSideBySide<T>(prog_, members, c.n, U, gcat, [&](int m) { return c.G[m]; });
  if (in != 0) {
    // This pass's forward W_cat when it holds the same members (all of them), else built here.
    const int group = prog_.denseGroupOf[members[0]];
    const bool built = members.size() == prog_.denseGroups[group].size() && size_t(group) < ws.groupWcatPass.size() &&
                       ws.groupWcatPass[group] == ws.pass;
    const T* wcat = built ? ws.groupWcat[group].data() : nullptr;
    if (!built) {
      ws.groupW.resize(size_t(din) * U);
      putSideBySide<T>(prog_, members, din, U, ws.groupW.data(), [&](int m) { return c.P + prog_.nodes[m].paramOffset; });
      wcat = ws.groupW.data();
    }
    simd::gemm<T>(c.n, din, U, T(1), gcat, U, false, wcat, U, true, T(1), c.G[in], din, c.threads);
  }
  if (!c.g) return;
  ws.groupGW.resize(size_t(din) * U);
  T* gw = ws.groupGW.data();
  forEachGradientPart(c, [&](int from, int rows, T* g) {
    simd::gemm<T>(din, U, rows, T(1), c.A[in] + int64_t(from) * din, din, true, gcat + int64_t(from) * U, U, false, T(0), gw, U, c.threads);
    addSideBySide<T>(prog_, members, din, U, gw, [&](int m) { return g + prog_.nodes[m].paramOffset; });
    for (int m : members) {
      const int u = prog_.nodes[m].width;
      addColumnSums(g + prog_.nodes[m].paramOffset + int64_t(din) * u, c.G[m] + int64_t(from) * u, rows, u, c.threads);
    }
  });
}

template <typename T>
void Network<T>::zeroGrads(Ctx& c, const std::vector<uint8_t>& active, bool withR) {
  // Node 0's gradient is never read (nothing upstream of the input): it is not cleared; nor are
  // the gradients the fused chains never form or overwrite.
  for (size_t i = 1; i < prog_.nodes.size(); i++) {
    if (!active[i]) continue;
    if (c.fused && (fusedAway_[i] || gradAssigned_[i])) continue;
    // This call's rows only (the workspace may hold more).
    const int64_t len = int64_t(c.n) * prog_.nodes[i].width;
    for (Buffer<T>* b : {&c.ws->g[i], withR ? &c.ws->rg[i] : nullptr}) {
      if (!b) continue;
      T* p = b->data();
      parallelRange(len, c.threads, [&](int64_t from, int64_t to) { std::fill(p + from, p + to, T(0)); });
    }
  }
}

template <typename T>
void Network<T>::runBackward(Ctx& c, const std::vector<uint8_t>& active, bool withR) {
  std::vector<int>& members = *c.groupScratch;
  for (size_t i = prog_.nodes.size() - 1; i >= 1; i--) {
    if (!active[i]) continue;
    if (c.fused && fusedAway_[i]) continue;
    if (c.fused && fusedBn_[i] >= 0) {
      const int b = fusedBn_[i];
      const Node& bn = prog_.nodes[b];
      const int x = bn.inputs[0];
      batchnorm::backwardReluMaxPool<T>(bnNode<T>(bn, b, c), prog_.nodes[i].window, c.A[x], c.A[i], c.ws->poolX[i].data(), c.G[i],
                                        c.ws->argmax[i].data(), c.G[x], gradAssigned_[x] != 0,
                                        c.g ? c.g + bn.paramOffset : nullptr, c.threads);
      continue;
    }
    const int group = prog_.denseGroupOf[i];
    bool grouped = false;
    if (group >= 0) {
      // A group of two or more active members runs as one at its lowest active member: every
      // member's gradient is complete there (its consumers come later in node order, so earlier in
      // this reverse pass). Another active member is not the lowest and is skipped; the group's
      // members are listed once, at the lowest (listing them at every member cost 256 one-unit
      // heads 65,536 steps a pass).
      const std::vector<int>& all = prog_.denseGroups[group];
      const int lowest = *std::find_if(all.begin(), all.end(), [&](int m) { return active[m] != 0; });
      if (lowest != static_cast<int>(i)) {
        grouped = true;
      } else {
        members.clear();
        for (int m : all)
          if (active[m]) members.push_back(m);
        grouped = members.size() >= 2;
        if (grouped) groupBackward(c, members);
      }
    }
    if (!grouped) opBackward<T>(prog_.nodes[i], static_cast<int>(i), c);
    if (withR) opRBackward<T>(prog_.nodes[i], static_cast<int>(i), c);
  }
}

template <typename T>
const std::vector<uint8_t>& Network<T>::activeFor(const double* weights) {
  // Kept while the heads with a non-zero weight stay the same (a training run's every step): the
  // union costs heads x nodes, 256 one-unit heads after two layers about 67,000 steps a call.
  const size_t H = prog_.heads.size();
  auto on = [&](size_t h) -> uint8_t { return weights == nullptr || weights[h] != 0; };
  bool same = activeHeads_.size() == H && active_.size() == prog_.nodes.size();
  for (size_t h = 0; h < H && same; h++) same = activeHeads_[h] == on(h);
  if (same) return active_;
  activeHeads_.resize(H);
  for (size_t h = 0; h < H; h++) activeHeads_[h] = on(h);
  active_.assign(prog_.nodes.size(), 0);
  for (size_t h = 0; h < H; h++)
    if (activeHeads_[h])
      for (size_t i = 0; i < active_.size(); i++) active_[i] |= prog_.ancestors[h][i];
  return active_;
}

template <typename T>
void Network<T>::forward(const T* params, const Batch<T>& b, T* out) {
  Ctx c = begin(params, b, nullptr, false);
  runForward(c);
  // The heads' outputs side by side: their columns follow in head order.
  putSideBySide<T>(prog_, headNodes_, b.n, prog_.outputWidth, out, [&](int m) { return c.A[m]; });
  kept_.valid = true;
  kept_.params = params;
  kept_.x = b.x;
  kept_.n = b.n;
  kept_.stats = b.stats;
  kept_.masks.clear();
  if (b.masks) kept_.masks.assign(b.masks, b.masks + prog_.nodes.size());
}

template <typename T>
void Network<T>::lossGrad(const T* params, const Batch<T>& b, const double* weights, T* grad, double* losses) {
  if (grad && rowChunks(b.n) > 1) {
    lossGradByChunks(params, b, weights, grad, losses);
    return;
  }
  Ctx c = begin(params, b, nullptr, false);
  runForward(c);
  const size_t H = prog_.heads.size();
  if (!grad) {
    for (size_t h = 0; h < H; h++) losses[h] = seedLoss(c, b, h, 0, false, false);
    return;
  }
  const std::vector<uint8_t>& active = activeFor(weights);
  zeroGrads(c, active, false);
  std::fill(grad, grad + prog_.paramCount, T(0));
  c.g = grad;
  for (size_t h = 0; h < H; h++) losses[h] = seedLoss(c, b, h, weights[h], weights[h] != 0, false);
  runBackward(c, active, false);
}

// kRowChunks chunks of rows, or one when batchnorm couples the rows of the batch (its statistics
// are the whole batch's) or the batch is under kRowChunks x kMinChunkRows rows.
template <typename T>
int Network<T>::rowChunks(int n) const {
  return prog_.statsCount > 0 || n < kRowChunks * kMinChunkRows ? 1 : kRowChunks;
}

// The first row of chunk q of a batch of n rows in `chunks` chunks: near-equal parts, each but the
// last a multiple of 8 rows (whole register tiles of the products).
inline int chunkStart(int q, int chunks, int n) {
  if (q >= chunks) return n;
  const int per = ((n + chunks - 1) / chunks + 7) / 8 * 8;
  return std::min(n, q * per);
}

// The chunks' results in chunk order: grad (chunk 0's) += each other lane's gradient, and each
// head's loss the sum of its chunks' parts (parts: chunks x heads).
template <typename T>
void Network<T>::addChunks(int chunks, const std::vector<double>& parts, T* grad, double* losses) {
  const int64_t P = prog_.paramCount;
  const size_t H = prog_.heads.size();
  for (int q = 1; q < chunks; q++) {
    const T* src = lanes_[q]->grad.data();
    runtime::parallelParts(P, kParallelChunk / 2, threads_, [&](int64_t from, int64_t to) {
      for (int64_t k = from; k < to; k++) grad[k] += src[k];
    });
  }
  for (size_t h = 0; h < H; h++) {
    double sum = 0;
    for (int q = 0; q < chunks; q++) sum += parts[size_t(q) * H + h];
    losses[h] = sum;
  }
}

// Chunk q's gradient, cleared: the caller's for chunk 0, the lane's own for the others.
template <typename T>
T* Network<T>::laneGradient(int q, T* grad) {
  const int64_t P = prog_.paramCount;
  Lane& lane = *lanes_[q];
  if (q > 0) lane.grad.resize(size_t(P));
  T* g = q == 0 ? grad : lane.grad.data();
  std::fill(g, g + P, T(0));
  return g;
}

// Rows [r0, r0 + rows) of batch b: its inputs, targets and dropout masks (the masks' table in `lane`).
template <typename T>
Batch<T> Network<T>::chunkBatch(const Batch<T>& b, int r0, int rows, Lane& lane) const {
  const size_t N = prog_.nodes.size();
  Batch<T> cb = b;
  cb.n = rows;
  cb.x = b.x + int64_t(r0) * prog_.nodes[0].width;
  cb.y = b.y + int64_t(r0) * b.yCols;
  if (b.masks) {
    lane.masks.assign(N, nullptr);
    for (size_t i = 0; i < N; i++)
      if (b.masks[i]) lane.masks[i] = b.masks[i] + int64_t(r0) * prog_.nodes[i].width;
    cb.masks = lane.masks.data();
  }
  return cb;
}

// lossGrad by row chunks (network.h): chunk q on lane q (its own buffers and gradient), each pass
// with the whole batch's labelled-row counts as its losses' divisors; then the gradient is chunk
// 0's + chunk 1's + ... and each loss the sum of its chunks' parts in chunk order.
template <typename T>
void Network<T>::lossGradByChunks(const T* params, const Batch<T>& b, const double* weights, T* grad, double* losses) {
  kept_.valid = false;
  const size_t H = prog_.heads.size();
  const int chunks = rowChunks(b.n);
  const std::vector<uint8_t>& active = activeFor(weights);
  std::vector<int> labelled(H);
  for (size_t h = 0; h < H; h++) {
    labelled[h] = labelledRows(b, h);
    // The first bad class target of the batch is the one reported, as without chunks.
    const Head& hd = prog_.heads[h];
    if (hd.loss != kSoftmaxCe) continue;
    const int C = prog_.nodes[hd.node].width;
    for (int r = 0; r < b.n; r++) {
      const double yv = b.y[int64_t(r) * b.yCols + hd.target];
      if (!isMissingTarget(yv, true) && !isClassIndex(yv, C)) throw classTargetError(h, r, yv, C);
    }
  }
  while (int(lanes_.size()) < chunks) lanes_.push_back(std::make_unique<Lane>());
  if (threads_ <= 1 && rowLocal_ && wholeBatchPays(b.n, chunkStart(1, chunks, b.n), active)) {
    lossGradByChunksOneThread(params, b, weights, grad, losses, labelled);
    return;
  }
  std::vector<double> parts(size_t(chunks) * H, 0.0);
  // Threads beyond one per chunk go to the products of the chunks' passes.
  const int inner = std::max(1, threads_ / chunks);
  runtime::parallelFor(chunks, threads_, [&](int q, int) {
    Lane& lane = *lanes_[q];
    T* g = laneGradient(q, grad);
    const int r0 = chunkStart(q, chunks, b.n);
    const Batch<T> cb = chunkBatch(b, r0, chunkStart(q + 1, chunks, b.n) - r0, lane);
    Ctx c = context(workspaceIn(lane.workspaces, cb.n, false), params, cb, nullptr, false, inner, &lane.groupScratch);
    runForward(c);
    zeroGrads(c, active, false);
    c.g = g;
    for (size_t h = 0; h < H; h++) parts[size_t(q) * H + h] = seedLoss(c, cb, h, weights[h], weights[h] != 0, false, labelled[h], r0);
    runBackward(c, active, false);
  });
  addChunks(chunks, parts, grad, losses);
}

// Whether lossGradByChunksOneThread's products over the whole batch of n rows run at least as fast
// as the chunks' products over `rows` rows: not when a chunk's output is small enough for the
// direct path of the GEMM and the whole batch's is not (a 64-wide layer: about 8 % slower on the
// packed path). Either way gives the same bits.
template <typename T>
bool Network<T>::wholeBatchPays(int n, int rows, const std::vector<uint8_t>& active) const {
  const int64_t direct = simd::ops().gemmDirectMaxOutput;
  auto changesPath = [&](int64_t width) { return int64_t(rows) * width <= direct && int64_t(n) * width > direct; };
  for (size_t i = 1; i < prog_.nodes.size(); i++) {
    const Node& nd = prog_.nodes[i];
    // Dense groups (the heads side by side) are left out: their products over the whole batch
    // measured faster on either path (64 one-unit heads: 7 % in all).
    if (!active[i] || nd.op != kDense || prog_.denseGroupOf[i] >= 0) continue;
    const int in = nd.inputs[0];
    if (changesPath(nd.width) || (in != 0 && changesPath(prog_.nodes[in].width))) return false;
  }
  return true;
}

// lossGradByChunks on one thread, for a row-local network (rowLocal_): the chunks' forward passes
// are one pass over all the rows, then each chunk's backward runs from its rows of that pass into
// its own gradient, as lossGradByChunks runs it. Every row of every activation, and so every
// chunk's gradient and loss, has the bits the chunk's own pass gives (a product's rows do not depend
// on the rows computed with them), while the forward products run on the whole batch: one weight
// panel packed per layer instead of one per chunk, and the products' rows in full register tiles.
template <typename T>
void Network<T>::lossGradByChunksOneThread(const T* params, const Batch<T>& b, const double* weights, T* grad, double* losses,
                                           const std::vector<int>& labelled) {
  const size_t H = prog_.heads.size();
  const size_t N = prog_.nodes.size();
  const int chunks = rowChunks(b.n);
  const std::vector<uint8_t>& active = activeFor(weights);
  Lane& lane0 = *lanes_[0];
  Ctx whole = context(workspaceIn(lane0.workspaces, b.n, false), params, b, nullptr, false, 1, &lane0.groupScratch);
  runForward(whole);
  // Each chunk's backward writes its own rows of the gradients only: one clearing serves them all.
  zeroGrads(whole, active, false);
  std::vector<double> parts(size_t(chunks) * H, 0.0);
  std::vector<RowPart> rowParts(static_cast<size_t>(chunks), RowPart{0, 0, nullptr});
  for (int q = 0; q < chunks; q++) {
    Lane& lane = *lanes_[q];
    T* g = laneGradient(q, grad);
    const int r0 = chunkStart(q, chunks, b.n);
    const Batch<T> cb = chunkBatch(b, r0, chunkStart(q + 1, chunks, b.n) - r0, lane);
    lane.rowsA.assign(N, nullptr);
    lane.rowsG.assign(N, nullptr);
    for (size_t i = 0; i < N; i++) {
      const int64_t at = int64_t(r0) * prog_.nodes[i].width;
      if (whole.A[i]) lane.rowsA[i] = whole.A[i] + at;
      if (whole.G[i]) lane.rowsG[i] = whole.G[i] + at;
    }
    Ctx c = whole;
    c.n = cb.n;
    c.A = lane.rowsA.data();
    c.G = lane.rowsG.data();
    c.masks = cb.masks;
    c.g = g;
    for (size_t h = 0; h < H; h++) parts[size_t(q) * H + h] = seedLoss(c, cb, h, weights[h], weights[h] != 0, false, labelled[h], int(r0));
    rowParts[size_t(q)] = {r0, r0 + cb.n, g};
    if (!denseParams_) runBackward(c, active, false);
  }
  if (denseParams_) {
    // The chunks' backward passes as one: every op but the parameter gradients is row-local, and
    // those (dense ops only here) are each chunk's rows' product into the chunk's gradient.
    whole.g = grad;
    whole.parts = rowParts.data();
    whole.partCount = chunks;
    runBackward(whole, active, false);
  }
  addChunks(chunks, parts, grad, losses);
}

template <typename T>
void Network<T>::headGrads(const T* params, const Batch<T>& b, T* out, double* losses) {
  Ctx c = begin(params, b, nullptr, false);
  runForward(c);
  const int64_t P = prog_.paramCount;
  for (size_t h = 0; h < prog_.heads.size(); h++) {
    const std::vector<uint8_t>& active = prog_.ancestors[h];
    zeroGrads(c, active, false);
    c.g = out + int64_t(h) * P;
    std::fill(c.g, c.g + P, T(0));
    losses[h] = seedLoss(c, b, h, 1, true, false);
    runBackward(c, active, false);
  }
}

template <typename T>
void Network<T>::hvp(const T* params, const Batch<T>& b, const double* weights, const T* v, T* out) {
  Ctx c = begin(params, b, v, true);
  runForward(c);
  const std::vector<uint8_t>& active = activeFor(weights);
  for (size_t i = 1; i < prog_.nodes.size(); i++)
    if (active[i]) opRForward<T>(prog_.nodes[i], static_cast<int>(i), c);
  zeroGrads(c, active, true);
  std::fill(out, out + prog_.paramCount, T(0));
  c.g = nullptr;  // the gradient itself is not wanted, only its R
  c.rg = out;
  for (size_t h = 0; h < prog_.heads.size(); h++)
    if (weights[h] != 0) seedLoss(c, b, h, weights[h], true, true);
  runBackward(c, active, true);
}

template <typename T>
void Network<T>::vjp(const T* params, const Batch<T>& b, const T* outGrad, T* grad, bool reuseForward) {
  if (reuseForward && !keptMatches(params, b)) {
    throw KernelValueError{"vjp: reuseForward needs a forward() call with the same params and batch on this handle just before"};
  }
  Ctx c = begin(params, b, nullptr, false);
  if (!reuseForward) runForward(c);
  // Every head is seeded, so the backward pass visits all heads' ancestors.
  const std::vector<uint8_t>& active = activeFor(nullptr);
  zeroGrads(c, active, false);
  std::fill(grad, grad + prog_.paramCount, T(0));
  c.g = grad;
  addSideBySide<T>(prog_, headNodes_, b.n, prog_.outputWidth, outGrad, [&](int m) { return c.G[m]; });
  runBackward(c, active, false);
}

template class Network<float>;
template class Network<double>;

}  // namespace metatask::network
