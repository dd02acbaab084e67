// Python bindings of the elementwise kernels (fastnet/kernels/elementwise.py wraps them).
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "fastnet/elementwise.h"
#include "fastnet/threads.h"

#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {
namespace {

constexpr int64_t kGrain = 1 << 15;

struct ActInfo {
  const char* name;
  elementwise::Act act;
  bool has_param;
  float default_param;
};

// Every activation the kernels know; "gelu" is the tanh form (keras.ops.gelu's default),
// "gelu_erf" the exact one.
constexpr ActInfo kActs[] = {
    {"relu", elementwise::kRelu, false, 0.0f},
    {"sigmoid", elementwise::kSigmoid, false, 0.0f},
    {"tanh", elementwise::kTanh, false, 0.0f},
    {"leaky_relu", elementwise::kLeakyRelu, true, 0.2f},
    {"elu", elementwise::kElu, true, 1.0f},
    {"selu", elementwise::kSelu, false, 0.0f},
    {"gelu", elementwise::kGeluTanh, false, 0.0f},
    {"gelu_erf", elementwise::kGeluErf, false, 0.0f},
    {"hard_sigmoid", elementwise::kHardSigmoid, false, 0.0f},
    {"hard_silu", elementwise::kHardSilu, false, 0.0f},
    {"softplus", elementwise::kSoftplus, false, 0.0f},
    {"silu", elementwise::kSilu, false, 0.0f},
    {"swish", elementwise::kSilu, false, 0.0f},
};

// Looks the activation up and resolves its parameter (the default when `param` is None).
const ActInfo& activation(const std::string& name, const py::object& param, const char* op, float* p) {
  for (const ActInfo& a : kActs) {
    if (name != a.name) continue;
    if (param.is_none()) {
      *p = a.default_param;
    } else if (!a.has_param) {
      fail_value(std::string(op) + ": activation '" + name + "' takes no `param`");
    } else {
      try {
        *p = param.cast<float>();
      } catch (const py::cast_error&) {
        fail_type(std::string(op) + ": `param` of '" + name + "' must be a number, got " +
                  std::string(py::str(py::type::of(param))));
      }
    }
    return a;
  }
  std::string known;
  for (const ActInfo& a : kActs) known += (known.empty() ? "" : ", ") + std::string(a.name);
  fail_value(std::string(op) + ": unknown activation '" + name + "' (" + known + ")");
}

int64_t rows_of(const py::array& a) {
  int64_t cols = a.ndim() ? a.shape(a.ndim() - 1) : 1;
  return cols ? static_cast<int64_t>(a.size()) / cols : 0;
}

std::vector<int64_t> leading_shape(const py::array& a) {
  std::vector<int64_t> s = shape_of(a);
  s.pop_back();
  return s;
}

// The optional gradient output: None, or float32 of `shape` overlapping none of `others`.
float* opt_grad(const py::object& grad, const char* op, const std::vector<int64_t>& shape,
                std::initializer_list<std::pair<const py::array*, const char*>> others) {
  if (grad.is_none()) return nullptr;
  py::array g = as_array(grad, op, "grad");
  float* pg = out_f32(g, op, "grad", shape);
  for (const auto& o : others) require_no_alias(g, "grad", *o.first, o.second, op);
  return pg;
}

// (target, output) pair of a dense cross-entropy: float32, C-contiguous, same shape, >= 1-D.
void check_pair(const py::array& target, const py::array& output, const char* op) {
  in_f32(output, op, "output");
  in_f32(target, op, "target");
  if (output.ndim() < 1) fail_value(std::string(op) + ": `output` must have at least 1 dimension");
  if (shape_of(target) != shape_of(output))
    fail_value(std::string(op) + ": `target` " + shape_str(target) + " and `output` " + shape_str(output) +
               " must have the same shape");
}

// A strided float32 array (dy of activation_backward: a broadcast upstream gradient such as
// ops.sum's) seen as runs of `run` elements over its trailing axes, each run contiguous or,
// when those axes have stride 0, one repeated value (`constant`); the leading axes may
// have any strides. at(r) is the first element of run r (runs in C order).
struct GradRuns {
  const char* base;
  std::vector<int64_t> outer_shape, outer_strides;  // bytes; size-1 axes dropped
  int64_t run = 1;
  bool constant = false;

  explicit GradRuns(const py::array& a) : base(static_cast<const char*>(a.data())) {
    bool contiguous = true, zero = true;
    int k = static_cast<int>(a.ndim());
    for (; k > 0; --k) {
      const int64_t extent = a.shape(k - 1), stride = a.strides(k - 1);
      if (extent == 1) continue;
      const bool c = contiguous && stride == run * static_cast<int64_t>(sizeof(float));
      const bool z = zero && stride == 0;
      if (!c && !z) break;
      contiguous = c;
      zero = z;
      run *= extent;
    }
    constant = zero && !contiguous;
    for (int d = 0; d < k; ++d) {
      if (a.shape(d) == 1) continue;
      outer_shape.push_back(a.shape(d));
      outer_strides.push_back(a.strides(d));
    }
  }
  const float* at(int64_t r) const {
    int64_t off = 0;
    for (int64_t d = static_cast<int64_t>(outer_shape.size()) - 1; d >= 0; --d) {
      off += (r % outer_shape[d]) * outer_strides[d];
      r /= outer_shape[d];
    }
    return reinterpret_cast<const float*>(base + off);
  }
};
// The distance in floats between consecutive rows of a's (rows, last axis) view when
// its last axis is contiguous and its leading axes flatten to one stride (0 for a
// broadcast over the rows); kAllZeroStrides when every stride is 0 (one value); -1 when
// neither holds.
constexpr int64_t kAllZeroStrides = -2;
int64_t row_stride(const py::array& a) {
  const int nd = static_cast<int>(a.ndim());
  const auto f = static_cast<py::ssize_t>(sizeof(float));
  bool all_zero = true;
  for (int d = 0; d < nd; ++d) all_zero = all_zero && (a.shape(d) == 1 || a.strides(d) == 0);
  if (all_zero) return kAllZeroStrides;
  if (a.shape(nd - 1) != 1 && a.strides(nd - 1) != f) return -1;
  py::ssize_t stride = 0, prev_stride = 0, prev_extent = 0;
  bool one_row = true;
  for (int d = nd - 2; d >= 0; --d) {
    if (a.shape(d) == 1) continue;
    if (one_row)
      stride = a.strides(d);
    else if (a.strides(d) != prev_stride * prev_extent)
      return -1;
    one_row = false;
    prev_stride = a.strides(d);
    prev_extent = a.shape(d);
  }
  if (one_row) return a.shape(nd - 1);
  return stride < 0 || stride % f ? -1 : stride / f;
}

// Runs shorter than this are copied into one contiguous array instead.
constexpr int64_t kMinRun = 256;

int64_t row_grain(int64_t cols) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(cols, 1)); }

void check_eps(float eps, const char* op) {
  if (!(eps >= 0.0f && eps < 0.5f))
    fail_value(std::string(op) + ": `epsilon` must be in [0, 0.5), got " + std::to_string(eps));
}

// Class indices (N,) int32, C-contiguous, each in [0, C) for the (N, C) `scores`.
const int32_t* class_labels(const py::array& labels, const py::array& scores, const char* scores_name,
                            const char* op) {
  if (!has_dtype<int32_t>(labels))
    fail_type(std::string(op) + ": `labels` must be int32, got dtype " +
              std::string(py::str(labels.dtype())));
  if (!is_c_contiguous(labels)) fail_value(std::string(op) + ": `labels` must be C-contiguous");
  const int64_t rows = scores.shape(0), cols = scores.shape(1);
  if (labels.ndim() != 1 || labels.shape(0) != rows)
    fail_value(std::string(op) + ": `labels` " + shape_str(labels) + " must have shape (" +
               std::to_string(rows) + ",) for " + scores_name + " " + shape_str(scores));
  const int32_t* pl = static_cast<const int32_t*>(labels.data());
  for (int64_t r = 0; r < rows; ++r)
    if (pl[r] < 0 || pl[r] >= cols)
      fail_value(std::string(op) + ": label " + std::to_string(pl[r]) + " at row " + std::to_string(r) +
                 " is out of range [0, " + std::to_string(cols) + ")");
  return pl;
}

}  // namespace

void bind_elementwise(py::module_& m) {
  m.def(
      "activation_forward",
      [](const std::string& name, py::array x, py::array out, py::object param) {
        const char* op = "activation_forward";
        float p;
        const elementwise::ActFwd fn = elementwise::table().act_fwd[activation(name, param, op, &p).act];
        const float* px = in_f32(x, op, "x");
        float* po = out_f32(out, op, "out", shape_of(x));
        require_same_or_disjoint(out, "out", x, "x", op);
        const int64_t n = static_cast<int64_t>(x.size());
        py::gil_scoped_release release;
        threads::parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) { fn(px + i0, po + i0, i1 - i0, p); });
      },
      py::arg("name"), py::arg("x"), py::arg("out"), py::arg("param") = py::none(),
      "out = f(x) (out may be x). f: relu, sigmoid, tanh, leaky_relu (param = negative_slope, "
      "default 0.2), elu (param = alpha, default 1), selu, gelu (tanh form), gelu_erf, "
      "hard_sigmoid, hard_silu, softplus, silu/swish.");
  m.def(
      "activation_backward",
      [](const std::string& name, py::array saved, py::array dy, py::array out, py::object param) {
        const char* op = "activation_backward";
        float p;
        const elementwise::ActBwd fn = elementwise::table().act_bwd[activation(name, param, op, &p).act];
        const float* ps = in_f32(saved, op, "saved");
        require_float32(dy, op, "dy");
        if (shape_of(dy) != shape_of(saved))
          fail_value(std::string(op) + ": `dy` " + shape_str(dy) + " and `saved` " + shape_str(saved) +
                     " differ");
        float* po = out_f32(out, op, "out", shape_of(saved));
        require_same_or_disjoint(out, "out", saved, "saved", op);
        const int64_t n = static_cast<int64_t>(saved.size());
        if (is_c_contiguous(dy)) {
          require_same_or_disjoint(out, "out", dy, "dy", op);
          const float* pd = static_cast<const float*>(dy.data());
          py::gil_scoped_release release;
          threads::parallel_for(n, kGrain,
                                [&](int64_t i0, int64_t i1) { fn(ps + i0, pd + i0, po + i0, i1 - i0, p); });
          return;
        }
        require_no_alias(out, "out", dy, "dy", op);
        GradRuns runs(dy);
        if (runs.run < kMinRun) {  // short runs: one contiguous copy of dy is cheaper
          py::array_t<float, py::array::c_style> flat(dy);
          const float* pd = flat.data();
          py::gil_scoped_release release;
          threads::parallel_for(n, kGrain,
                                [&](int64_t i0, int64_t i1) { fn(ps + i0, pd + i0, po + i0, i1 - i0, p); });
          return;
        }
        py::gil_scoped_release release;
        threads::parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
          float buf[kMinRun];  // a constant run's value, repeated
          float filled = 0.0f;
          bool have = false;
          for (int64_t i = i0; i < i1;) {
            const int64_t j = i % runs.run, m = std::min(runs.run - j, i1 - i);
            const float* pd = runs.at(i / runs.run);
            if (!runs.constant) {
              fn(ps + i, pd + j, po + i, m, p);
            } else {
              const float v = *pd;
              if (!have || !(filled == v) || std::signbit(filled) != std::signbit(v)) {
                std::fill(buf, buf + kMinRun, v);  // (a nan is refilled each run: harmless)
                filled = v;
                have = true;
              }
              for (int64_t k = 0; k < m; k += kMinRun)
                fn(ps + i + k, buf, po + i + k, std::min(kMinRun, m - k), p);
            }
            i += m;
          }
        });
      },
      py::arg("name"), py::arg("saved"), py::arg("dy"), py::arg("out"), py::arg("param") = py::none(),
      "out = dy * f'(.) from saved = y for sigmoid/tanh, x for the others (out may be dy). dy "
      "may be any strided view, e.g. a broadcast upstream gradient (read without a copy).");
  m.def(
      "softmax",
      [](py::array x, py::array out, bool log) {
        const char* op = log ? "log_softmax" : "softmax";
        const float* px = in_f32(x, op, "x");
        if (x.ndim() < 1) fail_value(std::string(op) + ": `x` must have at least 1 dimension");
        float* po = out_f32(out, op, "out", shape_of(x));
        require_no_alias(out, "out", x, "x", op);
        const int64_t rows = rows_of(x), cols = x.shape(x.ndim() - 1);
        if (cols == 0) return;
        auto fn = log ? elementwise::table().log_softmax_rows : elementwise::table().softmax_rows;
        py::gil_scoped_release release;
        threads::parallel_for(rows, std::max<int64_t>(1, kGrain / cols), [&](int64_t r0, int64_t r1) {
          fn(px + r0 * cols, po + r0 * cols, r1 - r0, cols);
        });
      },
      py::arg("x"), py::arg("out"), py::arg("log") = false,
      "Row softmax (or log-softmax) over the last axis.");
  m.def(
      "softmax_backward",
      [](py::array y, py::array dy, py::array out) {
        const char* op = "softmax_backward";
        const float* py_ = in_f32(y, op, "y");
        const float* pd = in_f32(dy, op, "dy");
        if (shape_of(dy) != shape_of(y))
          fail_value(std::string(op) + ": `dy` " + shape_str(dy) + " and `y` " + shape_str(y) + " differ");
        float* po = out_f32(out, op, "out", shape_of(y));
        require_same_or_disjoint(out, "out", y, "y", op);
        require_same_or_disjoint(out, "out", dy, "dy", op);
        const int64_t rows = rows_of(y), cols = y.ndim() ? y.shape(y.ndim() - 1) : 0;
        if (cols == 0) return;
        auto fn = elementwise::table().softmax_bwd_rows;
        py::gil_scoped_release release;
        threads::parallel_for(rows, std::max<int64_t>(1, kGrain / cols), [&](int64_t r0, int64_t r1) {
          fn(py_ + r0 * cols, pd + r0 * cols, po + r0 * cols, r1 - r0, cols);
        });
      },
      py::arg("y"), py::arg("dy"), py::arg("out"));
  m.def(
      "sparse_softmax_cross_entropy",
      [](py::array logits, py::array labels, py::array loss, py::object grad) {
        const char* op = "sparse_softmax_cross_entropy";
        const float* px = in_f32(logits, op, "logits", 2);
        const int64_t rows = logits.shape(0), cols = logits.shape(1);
        const int32_t* pl = class_labels(labels, logits, "logits", op);
        float* ploss = out_f32(loss, op, "loss", {rows});
        float* pg = nullptr;
        if (!grad.is_none()) {
          py::array g = as_array(grad, op, "grad");
          pg = out_f32(g, op, "grad", {rows, cols});
          require_no_alias(g, "grad", logits, "logits", op);
        }
        if (rows == 0 || cols == 0) return;
        auto fn = elementwise::table().sparse_xent_rows;
        py::gil_scoped_release release;
        threads::parallel_for(rows, std::max<int64_t>(1, kGrain / cols), [&](int64_t r0, int64_t r1) {
          fn(px + r0 * cols, pl + r0, ploss + r0, pg ? pg + r0 * cols : nullptr, r1 - r0, cols);
        });
      },
      py::arg("logits"), py::arg("labels"), py::arg("loss"), py::arg("grad") = py::none(),
      "Per-row -log softmax(logits)[label]; grad = softmax - onehot when given.");
  m.def(
      "sparse_categorical_cross_entropy_probs",
      [](py::array probs, py::array labels, py::array loss, py::object grad, float eps) {
        const char* op = "sparse_categorical_cross_entropy_probs";
        check_eps(eps, op);
        const float* pp = in_f32(probs, op, "probs", 2);
        const int64_t rows = probs.shape(0), cols = probs.shape(1);
        const int32_t* pl = class_labels(labels, probs, "probs", op);
        float* ploss = out_f32(loss, op, "loss", {rows});
        require_no_alias(loss, "loss", probs, "probs", op);
        float* pg =
            opt_grad(grad, op, {rows, cols}, {{&probs, "probs"}, {&labels, "labels"}, {&loss, "loss"}});
        if (rows == 0 || cols == 0) return;
        auto fn = elementwise::table().sparse_xent_probs_rows;
        py::gil_scoped_release release;
        threads::parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
          fn(pp + r0 * cols, pl + r0, ploss + r0, pg ? pg + r0 * cols : nullptr, r1 - r0, cols, eps);
        });
      },
      py::arg("probs"), py::arg("labels"), py::arg("loss"), py::arg("grad") = py::none(),
      py::arg("epsilon") = 1e-7f,
      "Per-row -log(clip(probs[label] / sum(probs), eps, 1 - eps)); grad = dloss/dprobs when given.");
  m.def(
      "categorical_cross_entropy",
      [](py::array target, py::array output, py::array loss, py::object grad, bool from_logits, float eps) {
        const char* op = "categorical_cross_entropy";
        check_eps(eps, op);
        check_pair(target, output, op);
        float* ploss = out_f32(loss, op, "loss", leading_shape(output));
        require_no_alias(loss, "loss", output, "output", op);
        require_no_alias(loss, "loss", target, "target", op);
        float* pg =
            opt_grad(grad, op, shape_of(output), {{&output, "output"}, {&target, "target"}, {&loss, "loss"}});
        const int64_t rows = rows_of(output), cols = output.shape(output.ndim() - 1);
        if (rows == 0) return;
        if (cols == 0) {  // an empty sum: no loss
          for (int64_t r = 0; r < rows; ++r) ploss[r] = 0.0f;
          return;
        }
        const float* po = static_cast<const float*>(output.data());
        const float* pt = static_cast<const float*>(target.data());
        const auto& t = elementwise::table();
        py::gil_scoped_release release;
        threads::parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
          float* g = pg ? pg + r0 * cols : nullptr;
          if (from_logits)
            t.cce_logits_rows(po + r0 * cols, pt + r0 * cols, ploss + r0, g, r1 - r0, cols);
          else
            t.cce_probs_rows(po + r0 * cols, pt + r0 * cols, ploss + r0, g, r1 - r0, cols, eps);
        });
      },
      py::arg("target"), py::arg("output"), py::arg("loss"), py::arg("grad") = py::none(),
      py::arg("from_logits") = false, py::arg("epsilon") = 1e-7f,
      "Per-row categorical cross-entropy over the last axis (loss has output.shape[:-1]); from "
      "logits, or from probabilities normalised by their sum and clipped to [eps, 1 - eps] as "
      "Keras. grad = dloss/doutput (per unit upstream gradient) when given.");
  m.def(
      "binary_cross_entropy",
      [](py::array target, py::array output, py::array loss, py::object grad, bool from_logits, float eps) {
        const char* op = "binary_cross_entropy";
        check_eps(eps, op);
        check_pair(target, output, op);
        const bool mean = shape_of(loss) != shape_of(output);
        float* ploss = out_f32(loss, op, "loss", mean ? leading_shape(output) : shape_of(output));
        require_no_alias(loss, "loss", output, "output", op);
        require_no_alias(loss, "loss", target, "target", op);
        float* pg =
            opt_grad(grad, op, shape_of(output), {{&output, "output"}, {&target, "target"}, {&loss, "loss"}});
        const int64_t rows = rows_of(output), cols = output.shape(output.ndim() - 1);
        if (rows == 0) return;
        if (cols == 0) {  // the mean of nothing, as numpy: nan
          if (mean)
            for (int64_t r = 0; r < rows; ++r) ploss[r] = std::numeric_limits<float>::quiet_NaN();
          return;
        }
        const float* po = static_cast<const float*>(output.data());
        const float* pt = static_cast<const float*>(target.data());
        const int flags =
            (from_logits ? elementwise::kBceFromLogits : 0) | (mean ? elementwise::kBceMean : 0);
        auto fn = elementwise::table().bce_rows;
        py::gil_scoped_release release;
        threads::parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
          fn(po + r0 * cols, pt + r0 * cols, ploss + (mean ? r0 : r0 * cols), pg ? pg + r0 * cols : nullptr,
             r1 - r0, cols, flags, eps);
        });
      },
      py::arg("target"), py::arg("output"), py::arg("loss"), py::arg("grad") = py::none(),
      py::arg("from_logits") = false, py::arg("epsilon") = 1e-7f,
      "Binary cross-entropy: loss of output's shape (elementwise) or of output.shape[:-1] (mean "
      "over the last axis); from logits (stable) or from probabilities clipped to [eps, 1 - eps]. "
      "grad = dloss/doutput (of the mean when loss is the mean) when given.");
  m.def(
      "bias_add",
      [](py::array x, py::array bias, py::array out) {
        const char* op = "bias_add";
        const float* px = in_f32(x, op, "x");
        if (x.ndim() < 1) fail_value(std::string(op) + ": `x` must have at least 1 dimension");
        const float* pb = in_f32(bias, op, "bias");
        const int64_t cols = x.shape(x.ndim() - 1), rows = rows_of(x);
        if (bias.ndim() != 1 || bias.shape(0) != cols)
          fail_value(std::string(op) + ": `bias` " + shape_str(bias) + " must have shape (" +
                     std::to_string(cols) + ",) for x " + shape_str(x));
        float* po = out_f32(out, op, "out", shape_of(x));
        require_same_or_disjoint(out, "out", x, "x", op);
        require_no_alias(out, "out", bias, "bias", op);
        if (rows == 0 || cols == 0) return;
        auto fn = elementwise::table().bias_add_rows;
        py::gil_scoped_release release;
        threads::parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
          fn(px + r0 * cols, pb, po + r0 * cols, r1 - r0, cols);
        });
      },
      py::arg("x"), py::arg("bias"), py::arg("out"), "out = x + bias over the last axis (out may be x).");
  m.def(
      "bias_grad",
      [](py::array dy, py::array out) {
        const char* op = "bias_grad";
        require_float32(dy, op, "dy");
        if (dy.ndim() < 1) fail_value(std::string(op) + ": `dy` must have at least 1 dimension");
        const int64_t cols = dy.shape(dy.ndim() - 1), rows = rows_of(dy);
        float* po = out_f32(out, op, "out", {cols});
        require_no_alias(out, "out", dy, "dy", op);
        if (cols == 0) return;
        if (rows == 0) {
          std::fill(po, po + cols, 0.0f);
          return;
        }
        // dy may be strided (a broadcast upstream gradient): rows `stride` floats apart.
        const int64_t stride = is_c_contiguous(dy) ? cols : row_stride(dy);
        if (stride == kAllZeroStrides) {  // one value everywhere: rows copies of it, exact in double
          const double v = *static_cast<const float*>(dy.data());
          for (int64_t j = 0; j < cols; ++j) po[j] = static_cast<float>(v * static_cast<double>(rows));
          return;
        }
        py::array_t<float, py::array::c_style> flat;
        const float* pd = static_cast<const float*>(dy.data());
        if (stride < 0) {  // not rows of contiguous floats: one contiguous copy
          flat = py::array_t<float, py::array::c_style>(dy);
          pd = flat.data();
        }
        const int64_t rs = stride < 0 ? cols : stride;
        auto fn = elementwise::table().bias_grad_rows;
        py::gil_scoped_release release;
        const int nt = threads::num_threads();
        // Determinism mode always splits columns: no partials, the same bits on any count.
        if (cols >= 256 * nt || rows * cols <= kGrain || nt == 1 || threads::deterministic()) {
          // columns split across threads: each sums its block over every row (no partials)
          threads::parallel_for(cols, std::max<int64_t>(64, kGrain / std::max<int64_t>(rows, 1)),
                                [&](int64_t j0, int64_t j1) {
                                  std::vector<double> acc(static_cast<size_t>(j1 - j0), 0.0);
                                  fn(pd + j0, acc.data(), rows, j1 - j0, rs);
                                  for (int64_t j = j0; j < j1; ++j) po[j] = static_cast<float>(acc[j - j0]);
                                });
          return;
        }
        // few columns, many rows: rows split, one double partial per thread, summed after
        std::vector<double> part(static_cast<size_t>(nt * cols), 0.0);
        int used = 1;
        threads::parallel_run(nt, [&](int tid, int n) {
          if (tid == 0) used = n;
          const int64_t r0 = rows * tid / n, r1 = rows * (tid + 1) / n;
          fn(pd + r0 * rs, part.data() + tid * cols, r1 - r0, cols, rs);
        });
        for (int64_t j = 0; j < cols; ++j) {
          double s = 0.0;
          for (int k = 0; k < used; ++k) s += part[k * cols + j];
          po[j] = static_cast<float>(s);
        }
      },
      py::arg("dy"), py::arg("out"), "out = sum of dy over all but the last axis (in double).");
}

}  // namespace bind
}  // namespace fastnet
