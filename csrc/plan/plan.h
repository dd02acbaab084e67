// The compiled training plan of a static graph (see plan.cpp and fastnet/plan/).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fastnet/memory.h"

namespace fastnet {
namespace plan {

constexpr int64_t kNone = INT64_MIN;  // "no buffer" in an instruction

enum List : int { kForward = 0, kLoss = 1, kBackward = 2, kUpdate = 3 };
enum Op : int {
  kDense = 0,
  kAct = 1,
  kDropout = 2,
  kAdd = 3,
  kConcat = 4,
  kCopy = 5,
  kLossOp = 6,
  kRegularize = 7,
  kUpdateOp = 8,
  kConv = 9,
  kPool = 10,
  kGlobalPool = 11,
  kBatchNorm = 12,
  kConvTranspose = 13,
  kUpsample = 14,
  kEmbedding = 15,
  kRecurrent = 16
};
enum Cell : int { kLstmCell = 0, kGruCell = 1, kSimpleRnnCell = 2 };
enum Activation : int { kLinear = 0, kRelu = 1, kSigmoid = 2, kTanh = 3, kSoftmax = 4 };
enum LossKind : int {
  kSparseLogits = 0,
  kSparseProbs = 1,
  kCategoricalLogits = 2,
  kCategoricalProbs = 3,
  kBinaryLogits = 4,
  kBinaryProbs = 5,
  kMse = 6,
  kMae = 7
};
enum OptimKind : int { kSgd = 0, kRmsprop = 1, kAdam = 2 };
enum Mode : int { kPredict = 0, kEvaluate = 1, kTrain = 2 };

struct Instr {
  int op;
  std::vector<int64_t> i;
  std::vector<float> f;
};

class Plan {
 public:
  Plan() = default;
  ~Plan();
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  // The arena: `floats` planned floats, then `scratch_floats` of scratch (zeroed once).
  void set_arena(int64_t floats, int64_t scratch_floats);
  int add_external(int64_t stride);
  void set_external(int k, void* ptr);
  void add(int list, int op, std::vector<int64_t> ints, std::vector<float> floats);
  void finalize(int n_outputs, int hyper_width, int64_t max_cols);
  // A text an instruction names by index (an Embedding's layer, for its IndexError).
  int add_text(std::string text);

  // `steps` steps; before step s, set_step(s) points the per-step streams at their
  // data. losses: steps x (1 + outputs) (the total, then each output's loss).
  void run(int steps, int mode, const std::function<void(int)>& set_step, const double* hyper,
           double* losses);

  int64_t arena_allocations() const { return arena_allocations_; }
  int64_t arena_floats() const { return arena_floats_; }
  int64_t runs() const { return runs_; }
  int n_outputs() const { return n_outputs_; }
  int hyper_width() const { return hyper_width_; }
  size_t n_externals() const { return ext_.size(); }
  size_t n_instructions() const { return forward_.size() + loss_.size() + backward_.size() + update_.size(); }

  // Per-instruction timing (off by default; when off, run() reads one flag per
  // instruction). Turning it on (or off) clears the totals. profile_ns()[j] and
  // profile_calls()[j] are those of instruction j in forward, loss, backward, update order.
  void set_profiling(bool on);
  bool profiling() const { return profiling_; }
  const std::vector<int64_t>& profile_ns() const { return prof_ns_; }
  const std::vector<int64_t>& profile_calls() const { return prof_calls_; }
  // Convolution backward passes side by side on two threads (see run_pair); on by default.
  void set_concurrent_pairs(bool on) { concurrent_pairs_ = on; }
  bool concurrent_pairs() const { return concurrent_pairs_; }
  // (list, op) of instruction j in that order.
  std::pair<int, int> instruction(size_t j) const;

 private:
  struct External {
    void* ptr;
    int64_t stride;  // floats (or int32s) per step
  };
  float* f(int64_t ref, int step) const;
  const int32_t* i32(int64_t ref, int step) const;
  float* scratch() const;
  void run_forward(const Instr& in, int step);
  double run_loss(const Instr& in, int step, bool want_grad);
  double run_regularizer(const Instr& in, int step, bool want_grad);
  void run_backward(const Instr& in, int step);
  void run_update(const Instr& in, int step, const double* hyper);

  memory::Block arena_{};
  int64_t arena_floats_ = 0, scratch_floats_ = 0, arena_allocations_ = 0, runs_ = 0;
  int n_outputs_ = 0, hyper_width_ = 3;
  std::vector<External> ext_;
  std::vector<Instr> forward_, loss_, backward_, update_;
  std::vector<std::string> texts_;
  void run_embedding(const Instr& in, int step);
  void run_recurrent_forward(const Instr& in, int step);
  void run_recurrent_backward(const Instr& in, int step);
  std::vector<double> dacc_;
  bool profiling_ = false;
  bool concurrent_pairs_ = true;
  template <class A, class B>
  void run_pair(bool both, const A& first, const B& second);
  std::vector<int64_t> prof_ns_, prof_calls_;
  template <class F>
  void timed(size_t j, F&& fn);
  struct PoolTables;  // a pooling instruction's window tables (plan.cpp)
  std::vector<std::shared_ptr<PoolTables>> pools_;
  void add_pool_tables(Instr& in);
};

}  // namespace plan
}  // namespace fastnet
