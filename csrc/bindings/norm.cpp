// Python bindings of the batch-norm kernels (fastnet/kernels/norm.py wraps them).
#include <string>
#include <vector>

#include "fastnet/norm.h"

#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {
namespace {

int64_t channels(const py::array& x, const char* op) {
  if (x.ndim() < 2) fail_value(std::string(op) + ": `x` must be at least 2-D (..., C), got " + shape_str(x));
  return x.shape(x.ndim() - 1);
}

const float* per_channel(const py::object& o, const char* op, const char* name, int64_t C, bool optional) {
  if (o.is_none()) {
    if (!optional) fail_value(std::string(op) + ": `" + name + "` is required");
    return nullptr;
  }
  py::array a = as_array(o, op, name);
  const float* p = in_f32(a, op, name, 1);
  if (a.shape(0) != C)
    fail_value(std::string(op) + ": `" + name + "` has shape " + shape_str(a) + " but x has " +
               std::to_string(C) + " channels");
  return p;
}

}  // namespace

void bind_norm(py::module_& m) {
  m.def(
      "batch_norm_train",
      [](py::array x, py::object gamma, py::object beta, float epsilon) {
        const char* op = "batch_norm_train";
        const float* px = in_f32(x, op, "x");
        const int64_t C = channels(x, op);
        const int64_t rows = C ? static_cast<int64_t>(x.size()) / C : 0;
        const float* pg = per_channel(gamma, op, "gamma", C, true);
        const float* pb = per_channel(beta, op, "beta", C, true);
        if (!(epsilon > 0)) fail_value(std::string(op) + ": epsilon must be positive");
        auto y = empty_f32(shape_of(x));
        auto mean = empty_f32({C});
        auto var = empty_f32({C});
        {
          py::gil_scoped_release release;
          norm::batch_norm_train(px, rows, C, pg, pb, epsilon, y.mutable_data(), mean.mutable_data(),
                                 var.mutable_data());
        }
        return py::make_tuple(y, mean, var);
      },
      py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("epsilon"),
      "Training forward over all but the last axis: (y, batch mean, biased batch variance).");
  m.def(
      "batch_norm_inference",
      [](py::array x, py::array mean, py::array var, py::object gamma, py::object beta, float epsilon) {
        const char* op = "batch_norm_inference";
        const float* px = in_f32(x, op, "x");
        const int64_t C = channels(x, op);
        const int64_t rows = C ? static_cast<int64_t>(x.size()) / C : 0;
        const float* pm = per_channel(mean, op, "mean", C, false);
        const float* pv = per_channel(var, op, "var", C, false);
        const float* pg = per_channel(gamma, op, "gamma", C, true);
        const float* pb = per_channel(beta, op, "beta", C, true);
        auto y = empty_f32(shape_of(x));
        {
          py::gil_scoped_release release;
          norm::batch_norm_infer(px, rows, C, pm, pv, pg, pb, epsilon, y.mutable_data());
        }
        return y;
      },
      py::arg("x"), py::arg("mean"), py::arg("var"), py::arg("gamma"), py::arg("beta"), py::arg("epsilon"));
  m.def(
      "batch_norm_backward",
      [](py::array x, py::array dy, py::array mean, py::array var, py::object gamma, float epsilon) {
        const char* op = "batch_norm_backward";
        const float* px = in_f32(x, op, "x");
        const float* pd = in_f32(dy, op, "dy");
        if (shape_of(dy) != shape_of(x))
          fail_value(std::string(op) + ": `dy` " + shape_str(dy) + " and `x` " + shape_str(x) + " differ");
        const int64_t C = channels(x, op);
        const int64_t rows = C ? static_cast<int64_t>(x.size()) / C : 0;
        const float* pm = per_channel(mean, op, "mean", C, false);
        const float* pv = per_channel(var, op, "var", C, false);
        const float* pg = per_channel(gamma, op, "gamma", C, true);
        auto dx = empty_f32(shape_of(x));
        auto dg = empty_f32({C});
        auto db = empty_f32({C});
        {
          py::gil_scoped_release release;
          norm::batch_norm_backward(px, pd, rows, C, pm, pv, pg, epsilon, dx.mutable_data(),
                                    dg.mutable_data(), db.mutable_data());
        }
        return py::make_tuple(dx, dg, db);
      },
      py::arg("x"), py::arg("dy"), py::arg("mean"), py::arg("var"), py::arg("gamma"), py::arg("epsilon"),
      "Returns (dx, dgamma, dbeta) for the training forward.");
  m.def(
      "layer_norm_forward",
      [](py::array x, py::object gamma, py::object beta, float epsilon) {
        const char* op = "layer_norm_forward";
        const float* px = in_f32(x, op, "x");
        if (x.ndim() < 1)
          fail_value(std::string(op) + ": `x` must be at least 1-D (..., C), got " + shape_str(x));
        const int64_t C = x.shape(x.ndim() - 1);
        const int64_t rows = C ? static_cast<int64_t>(x.size()) / C : 0;
        const float* pg = per_channel(gamma, op, "gamma", C, true);
        const float* pb = per_channel(beta, op, "beta", C, true);
        if (!(epsilon > 0))
          fail_value(std::string(op) + ": epsilon must be positive, got " + std::to_string(epsilon));
        std::vector<int64_t> rs = shape_of(x);
        rs.pop_back();
        auto y = empty_f32(shape_of(x));
        auto mean = empty_f32(rs);
        auto rstd = empty_f32(rs);
        {
          py::gil_scoped_release release;
          norm::layer_norm_forward(px, rows, C, pg, pb, epsilon, y.mutable_data(), mean.mutable_data(),
                                   rstd.mutable_data());
        }
        return py::make_tuple(y, mean, rstd);
      },
      py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("epsilon"),
      "Layer norm over the last axis: (y, mean, rstd) with rstd = 1/sqrt(var + epsilon), "
      "mean/rstd of shape x.shape[:-1].");
  m.def(
      "layer_norm_backward",
      [](py::array x, py::array dy, py::array mean, py::array rstd, py::object gamma) {
        const char* op = "layer_norm_backward";
        const float* px = in_f32(x, op, "x");
        const float* pd = in_f32(dy, op, "dy");
        if (x.ndim() < 1)
          fail_value(std::string(op) + ": `x` must be at least 1-D (..., C), got " + shape_str(x));
        if (shape_of(dy) != shape_of(x))
          fail_value(std::string(op) + ": `dy` " + shape_str(dy) + " and `x` " + shape_str(x) + " differ");
        const int64_t C = x.shape(x.ndim() - 1);
        const int64_t rows = C ? static_cast<int64_t>(x.size()) / C : 0;
        std::vector<int64_t> rs = shape_of(x);
        rs.pop_back();
        const float* pm = in_f32(mean, op, "mean");
        const float* pr = in_f32(rstd, op, "rstd");
        if (shape_of(mean) != rs || shape_of(rstd) != rs)
          fail_value(std::string(op) + ": `mean` " + shape_str(mean) + " and `rstd` " + shape_str(rstd) +
                     " must have shape " + shape_str(rs) + " for x of shape " + shape_str(x));
        const float* pg = per_channel(gamma, op, "gamma", C, true);
        auto dx = empty_f32(shape_of(x));
        auto dg = empty_f32({C});
        auto db = empty_f32({C});
        {
          py::gil_scoped_release release;
          norm::layer_norm_backward(px, pd, rows, C, pm, pr, pg, dx.mutable_data(), dg.mutable_data(),
                                    db.mutable_data());
        }
        return py::make_tuple(dx, dg, db);
      },
      py::arg("x"), py::arg("dy"), py::arg("mean"), py::arg("rstd"), py::arg("gamma"),
      "Returns (dx, dgamma, dbeta) of layer_norm_forward (one pass over the rows).");
}

}  // namespace bind
}  // namespace fastnet
