// Python bindings of the image-family kernels (fastnet/kernels/image.py wraps them):
// resize forward/backward (nearest, bilinear, bicubic, area) and projective transforms
// forward/backward (nearest, bilinear; constant, nearest, wrap, mirror, reflect fill).
#include <string>
#include <vector>

#include "fastnet/image.h"

#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {
namespace {

image::Method parse_method(const std::string& s, const char* op) {
  if (s == "nearest") return image::Method::Nearest;
  if (s == "bilinear") return image::Method::Bilinear;
  if (s == "bicubic") return image::Method::Bicubic;
  if (s == "area") return image::Method::Area;
  fail_value(std::string(op) +
             ": `interpolation` must be one of 'nearest', 'bilinear', 'bicubic', 'area', got '" + s + "'");
}

image::Fill parse_fill(const std::string& s, const char* op) {
  if (s == "constant") return image::Fill::Constant;
  if (s == "nearest") return image::Fill::Nearest;
  if (s == "wrap") return image::Fill::Wrap;
  if (s == "mirror") return image::Fill::Mirror;
  if (s == "reflect") return image::Fill::Reflect;
  fail_value(std::string(op) +
             ": `fill_mode` must be one of 'constant', 'nearest', 'wrap', 'mirror', 'reflect', got '" + s +
             "'");
}

bool parse_order(const std::string& s, const char* op) {
  if (s == "bilinear") return true;
  if (s == "nearest") return false;
  fail_value(std::string(op) + ": `interpolation` must be 'nearest' or 'bilinear', got '" + s + "'");
}

void check_size(int64_t v, const char* op, const char* name, int64_t limit = int64_t(1) << 30) {
  if (v <= 0 || v > limit)
    fail_value(std::string(op) + ": `" + name + "` must be in [1, 2^30], got " + std::to_string(v));
}

py::array resize_forward(const py::array& x, int64_t out_h, int64_t out_w, const std::string& method) {
  const char* op = "resize_forward";
  const float* xp = in_f32(x, op, "x", 4);
  const auto m = parse_method(method, op);
  check_size(out_h, op, "out_h");
  check_size(out_w, op, "out_w");
  const int64_t N = x.shape(0), H = x.shape(1), W = x.shape(2), C = x.shape(3);
  if (H <= 0 || W <= 0 || H > (int64_t(1) << 30) || W > (int64_t(1) << 30))
    fail_value(std::string(op) + ": `x` " + shape_str(x) + " must have positive height and width");
  const image::Taps th = image::resize_taps(m, H, out_h), tw = image::resize_taps(m, W, out_w);
  auto y = empty_f32({N, out_h, out_w, C});
  float* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    image::resize_forward(xp, yp, N, H, W, C, th, tw);
  }
  return y;
}

py::array resize_backward(const py::array& dy, int64_t in_h, int64_t in_w, const std::string& method) {
  const char* op = "resize_backward";
  const float* gp = in_f32(dy, op, "dy", 4);
  const auto m = parse_method(method, op);
  check_size(in_h, op, "in_h");
  check_size(in_w, op, "in_w");
  const int64_t N = dy.shape(0), OH = dy.shape(1), OW = dy.shape(2), C = dy.shape(3);
  if (OH <= 0 || OW <= 0 || OH > (int64_t(1) << 30) || OW > (int64_t(1) << 30))
    fail_value(std::string(op) + ": `dy` " + shape_str(dy) + " must have positive height and width");
  const image::Taps th = image::resize_taps(m, in_h, OH), tw = image::resize_taps(m, in_w, OW);
  auto dx = empty_f32({N, in_h, in_w, C});
  float* dp = dx.mutable_data();
  {
    py::gil_scoped_release nogil;
    image::resize_backward(gp, dp, N, in_h, in_w, C, th, tw);
  }
  return dx;
}

// t: (8,) shared by every image, or (N, 8).
int64_t transform_stride(const py::array& t, int64_t N, const char* op) {
  if (t.ndim() == 1 && t.shape(0) == 8) return 0;
  if (t.ndim() == 2 && t.shape(1) == 8 && t.shape(0) == N) return 8;
  fail_value(std::string(op) + ": `transform` must have shape (8,) or (" + std::to_string(N) +
             ", 8) for images of batch size " + std::to_string(N) + ", got " + shape_str(t));
}

py::array transform_forward(const py::array& x, const py::array& t, const std::string& interpolation,
                            const std::string& fill_mode, float fill_value) {
  const char* op = "transform_forward";
  const float* xp = in_f32(x, op, "x", 4);
  const float* tp = in_f32(t, op, "transform");
  const bool bilinear = parse_order(interpolation, op);
  const auto fill = parse_fill(fill_mode, op);
  const int64_t N = x.shape(0), H = x.shape(1), W = x.shape(2), C = x.shape(3);
  const int64_t ts = transform_stride(t, N, op);
  auto y = empty_f32({N, H, W, C});
  float* yp = y.mutable_data();
  {
    py::gil_scoped_release nogil;
    image::transform_forward(xp, tp, ts, yp, N, H, W, C, bilinear, fill, fill_value);
  }
  return y;
}

py::array transform_backward(const py::array& dy, const py::array& t, const std::string& interpolation,
                             const std::string& fill_mode) {
  const char* op = "transform_backward";
  const float* gp = in_f32(dy, op, "dy", 4);
  const float* tp = in_f32(t, op, "transform");
  const bool bilinear = parse_order(interpolation, op);
  const auto fill = parse_fill(fill_mode, op);
  const int64_t N = dy.shape(0), H = dy.shape(1), W = dy.shape(2), C = dy.shape(3);
  const int64_t ts = transform_stride(t, N, op);
  auto dx = empty_f32({N, H, W, C});
  float* dp = dx.mutable_data();
  {
    py::gil_scoped_release nogil;
    image::transform_backward(gp, tp, ts, dp, N, H, W, C, bilinear, fill);
  }
  return dx;
}

}  // namespace

void bind_image(py::module_& m) {
  m.def("resize_forward", &resize_forward, py::arg("x"), py::arg("out_h"), py::arg("out_w"),
        py::arg("method") = "bilinear",
        "Resizes x (N, H, W, C) float32 to (N, out_h, out_w, C): 'nearest', 'bilinear', 'bicubic' "
        "(half-pixel centers, no antialias) or 'area'.");
  m.def("resize_backward", &resize_backward, py::arg("dy"), py::arg("in_h"), py::arg("in_w"),
        py::arg("method") = "bilinear", "The gradient of resize_forward w.r.t. x, shape (N, in_h, in_w, C).");
  m.def(
      "transform_forward", &transform_forward, py::arg("x"), py::arg("transform"),
      py::arg("interpolation") = "bilinear", py::arg("fill_mode") = "constant", py::arg("fill_value") = 0.0f,
      "Projective transform of x (N, H, W, C) float32 by [a0, a1, a2, b0, b1, b2, c0, c1] ((8,) or (N, 8)): "
      "output (y, x) samples the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), "
      "k = c0 x + c1 y + 1.");
  m.def("transform_backward", &transform_backward, py::arg("dy"), py::arg("transform"),
        py::arg("interpolation") = "bilinear", py::arg("fill_mode") = "constant",
        "The gradient of transform_forward w.r.t. x.");
}

}  // namespace bind
}  // namespace fastnet
