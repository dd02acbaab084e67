// Python bindings of the elementwise kernels (fastnet/kernels/elementwise.py wraps them).
#include <string>

#include "fastnet/elementwise.h"
#include "fastnet/threads.h"

#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {
namespace {

constexpr int64_t kGrain = 1 << 15;

using Unary = void (*)(const float*, float*, int64_t);
using Binary = void (*)(const float*, const float*, float*, int64_t);

Unary forward_fn(const std::string& name) {
  const auto& t = elementwise::table();
  if (name == "relu") return t.relu_fwd;
  if (name == "sigmoid") return t.sigmoid_fwd;
  if (name == "tanh") return t.tanh_fwd;
  fail_value("activation_forward: unknown activation '" + name + "' (relu, sigmoid, tanh)");
}

Binary backward_fn(const std::string& name) {
  const auto& t = elementwise::table();
  if (name == "relu") return t.relu_bwd;
  if (name == "sigmoid") return t.sigmoid_bwd;
  if (name == "tanh") return t.tanh_bwd;
  fail_value("activation_backward: unknown activation '" + name + "' (relu, sigmoid, tanh)");
}

int64_t rows_of(const py::array& a) {
  int64_t cols = a.ndim() ? a.shape(a.ndim() - 1) : 1;
  return cols ? static_cast<int64_t>(a.size()) / cols : 0;
}

}  // namespace

void bind_elementwise(py::module_& m) {
  m.def(
      "activation_forward",
      [](const std::string& name, py::array x, py::array out) {
        Unary fn = forward_fn(name);
        const float* px = in_f32(x, "activation_forward", "x");
        float* po = out_f32(out, "activation_forward", "out", shape_of(x));
        require_same_or_disjoint(out, "out", x, "x", "activation_forward");
        const int64_t n = static_cast<int64_t>(x.size());
        py::gil_scoped_release release;
        threads::parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) { fn(px + i0, po + i0, i1 - i0); });
      },
      py::arg("name"), py::arg("x"), py::arg("out"),
      "out = f(x) for f in relu, sigmoid, tanh (out may be x).");
  m.def(
      "activation_backward",
      [](const std::string& name, py::array saved, py::array dy, py::array out) {
        Binary fn = backward_fn(name);
        const char* op = "activation_backward";
        const float* ps = in_f32(saved, op, "saved");
        const float* pd = in_f32(dy, op, "dy");
        if (shape_of(dy) != shape_of(saved))
          fail_value(std::string(op) + ": `dy` " + shape_str(dy) + " and `saved` " + shape_str(saved) +
                     " differ");
        float* po = out_f32(out, op, "out", shape_of(saved));
        require_same_or_disjoint(out, "out", saved, "saved", op);
        require_same_or_disjoint(out, "out", dy, "dy", op);
        const int64_t n = static_cast<int64_t>(saved.size());
        py::gil_scoped_release release;
        threads::parallel_for(n, kGrain,
                              [&](int64_t i0, int64_t i1) { fn(ps + i0, pd + i0, po + i0, i1 - i0); });
      },
      py::arg("name"), py::arg("saved"), py::arg("dy"), py::arg("out"),
      "dx for relu (saved = x) or sigmoid/tanh (saved = y).");
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
        if (!labels.dtype().is(py::dtype::of<int32_t>()))
          fail_type(std::string(op) + ": `labels` must be int32");
        if (!is_c_contiguous(labels)) fail_value(std::string(op) + ": `labels` must be C-contiguous");
        const int64_t rows = logits.shape(0), cols = logits.shape(1);
        if (labels.ndim() != 1 || labels.shape(0) != rows)
          fail_value(std::string(op) + ": `labels` " + shape_str(labels) + " must have shape (" +
                     std::to_string(rows) + ",) for logits " + shape_str(logits));
        const int32_t* pl = static_cast<const int32_t*>(labels.data());
        for (int64_t r = 0; r < rows; ++r)
          if (pl[r] < 0 || pl[r] >= cols)
            fail_value(std::string(op) + ": label " + std::to_string(pl[r]) + " at row " + std::to_string(r) +
                       " is out of range [0, " + std::to_string(cols) + ")");
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
}

}  // namespace bind
}  // namespace fastnet
