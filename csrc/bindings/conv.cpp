// Python bindings of the conv kernels (fastnet/kernels/conv.py wraps them).
//
// Every entry point takes the spatial arguments per axis (strides, dilation,
// output_padding as sequences of rank ints) and the padding name, checks all
// shapes against each other, allocates the output and calls the kernel with
// the GIL released. The geometry (output sizes, padding before) is computed
// here once, from fastnet/conv.h's Keras/TensorFlow rules.
#include "fastnet/conv.h"

#include <optional>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {
namespace {

using conv::Geometry;
using Ints = std::vector<int64_t>;

constexpr int64_t kMaxDim = (int64_t(1) << 31) - 1;

enum class Kind { Conv, Transpose, Depthwise };

std::string ints_str(const Ints& v) { return shape_str(v); }

[[noreturn]] void fail(const char* op, const std::string& msg) { fail_value(std::string(op) + ": " + msg); }

// Per-axis argument (strides, dilation_rate, output_padding): rank values, each in [lo, 2^31).
Ints axis_arg(const Ints& v, int rank, const char* op, const char* name, int64_t lo) {
  Ints out = v;
  if (out.size() == 1 && rank > 1) out.assign(rank, v[0]);
  if (static_cast<int>(out.size()) != rank) {
    fail(op, std::string("`") + name + "` must have " + std::to_string(rank) +
                 " values (one per spatial axis), got " + ints_str(v));
  }
  for (int64_t s : out) {
    if (s < lo || s > kMaxDim) {
      fail(op, std::string("`") + name + "` must be " + (lo > 0 ? "positive" : "non-negative") + ", got " +
                   ints_str(v));
    }
  }
  return out;
}

bool parse_padding(const std::string& p, const char* op) {
  if (p == "same") return true;
  if (p == "valid") return false;
  fail(op, "`padding` must be 'valid' or 'same', got '" + p + "'");
}

struct Setup {
  Geometry g;
  Ints x_shape;  // the (forward) input
  Ints y_shape;  // the (forward) output
  Ints w_shape;
};

// Geometry of a convolution / transposed convolution / depthwise convolution
// from the forward input shape and the kernel shape (both fully checked).
Setup make_setup(const char* op, Kind kind, const Ints& x_shape, const Ints& w_shape, const Ints& strides_in,
                 const std::string& padding, const Ints& dil_in, const std::optional<Ints>& opad_in) {
  const int nd = static_cast<int>(x_shape.size());
  if (nd < 3 || nd > 5) {
    fail(op,
         "input must be 3-D, 4-D or 5-D (batch, spatial..., channels) for a 1-D/2-D/3-D convolution, got "
         "shape " +
             ints_str(x_shape));
  }
  const int rank = nd - 2;
  if (static_cast<int>(w_shape.size()) != nd) {
    fail(op, "kernel must be " + std::to_string(nd) + "-D (" +
                 (kind == Kind::Transpose   ? "spatial..., filters, in_channels"
                  : kind == Kind::Depthwise ? "spatial..., in_channels, depth_multiplier"
                                            : "spatial..., in_channels, filters") +
                 ") for an input of shape " + ints_str(x_shape) + ", got kernel shape " + ints_str(w_shape));
  }
  if (x_shape[0] < 0) fail(op, "negative batch size in input shape " + ints_str(x_shape));
  for (int i = 1; i < nd; ++i) {
    if (x_shape[i] < 1 || x_shape[i] > kMaxDim)
      fail(op, "input spatial sizes and channels must be positive, got input shape " + ints_str(x_shape));
    if (w_shape[i - 1] < 1 || w_shape[i - 1] > kMaxDim)
      fail(op, "kernel sizes must be positive, got kernel shape " + ints_str(w_shape));
  }
  if (w_shape[nd - 1] < 1 || w_shape[nd - 1] > kMaxDim)
    fail(op, "kernel sizes must be positive, got kernel shape " + ints_str(w_shape));
  const int64_t cin = x_shape[nd - 1];
  const int64_t w_in = kind == Kind::Transpose ? w_shape[nd - 1] : w_shape[nd - 2];
  if (w_in != cin) {
    fail(op, "input channels " + std::to_string(cin) + " (input shape " + ints_str(x_shape) +
                 ") do not match the kernel's in_channels " + std::to_string(w_in) + " (kernel shape " +
                 ints_str(w_shape) + (kind == Kind::Transpose ? ", last axis)" : ", axis -2)"));
  }
  const Ints strides = axis_arg(strides_in, rank, op, "strides", 1);
  const Ints dil = axis_arg(dil_in, rank, op, "dilation_rate", 1);
  const bool same = parse_padding(padding, op);
  Ints opad;
  if (opad_in) {
    opad = axis_arg(*opad_in, rank, op, "output_padding", 0);
    for (int i = 0; i < rank; ++i)
      if (opad[i] >= strides[i])
        fail(op,
             "`output_padding` " + ints_str(opad) + " must be smaller than `strides` " + ints_str(strides));
  }
  Ints k(w_shape.begin(), w_shape.begin() + rank), in(x_shape.begin() + 1, x_shape.begin() + 1 + rank);
  Ints out(rank), pad(rank);
  for (int i = 0; i < rank; ++i) {
    const int64_t eff = (k[i] - 1) * dil[i] + 1;
    if (eff > kMaxDim)
      fail(op, "dilated kernel too large: kernel " + ints_str(w_shape) + ", dilation " + ints_str(dil));
    if (kind == Kind::Transpose) {
      out[i] = conv::transpose_output_size(in[i], k[i], strides[i], dil[i], same, opad_in ? opad[i] : -1);
    } else {
      out[i] = conv::output_size(in[i], k[i], strides[i], dil[i], same);
    }
    if (out[i] < 1 || out[i] > kMaxDim) {
      fail(op, "the output would be empty: spatial axis " + std::to_string(i) + " has size " +
                   std::to_string(in[i]) + " but the (dilated) window is " + std::to_string(eff) +
                   " with padding='" + padding + "' (input shape " + ints_str(x_shape) + ", kernel shape " +
                   ints_str(w_shape) + ", strides " + ints_str(strides) + ", dilation_rate " + ints_str(dil) +
                   ")");
    }
    // The convolution runs from its input (conv_in) to its output (conv_out); for the
    // transposed convolution these are the transposed op's output and input.
    const int64_t conv_in = kind == Kind::Transpose ? out[i] : in[i];
    const int64_t conv_out = kind == Kind::Transpose ? in[i] : out[i];
    pad[i] = same ? conv::same_pad_before(conv_in, conv_out, k[i], strides[i], dil[i]) : 0;
  }
  Setup s;
  s.x_shape = x_shape;
  s.w_shape = w_shape;
  s.y_shape.push_back(x_shape[0]);
  for (int i = 0; i < rank; ++i) s.y_shape.push_back(out[i]);
  const int64_t wl = w_shape[nd - 1], wl2 = w_shape[nd - 2];
  int64_t y_ch = 0;
  switch (kind) {
    case Kind::Conv:
      y_ch = wl;
      s.g = conv::make_geometry(rank, x_shape[0], in.data(), out.data(), k.data(), strides.data(), dil.data(),
                                pad.data(), cin, wl);
      break;
    case Kind::Depthwise:
      y_ch = cin * wl;
      if (y_ch > kMaxDim) fail(op, "too many output channels for kernel shape " + ints_str(w_shape));
      s.g = conv::make_geometry(rank, x_shape[0], in.data(), out.data(), k.data(), strides.data(), dil.data(),
                                pad.data(), cin, y_ch);
      break;
    case Kind::Transpose:
      y_ch = wl2;
      s.g = conv::make_geometry(rank, x_shape[0], out.data(), in.data(), k.data(), strides.data(), dil.data(),
                                pad.data(), wl2, cin);
      break;
  }
  s.y_shape.push_back(y_ch);
  return s;
}

Ints shape_arg(const Ints& v, const char* op, const char* name) {
  for (int64_t d : v)
    if (d < 0) fail(op, std::string("`") + name + "` has a negative size: " + ints_str(v));
  return v;
}

void require_shape(const py::array& a, const Ints& want, const char* op, const char* name) {
  if (shape_of(a) != want) {
    fail(op, std::string("`") + name + "` must have shape " + ints_str(want) + ", got " + shape_str(a));
  }
}

const float* bias_arg(const std::optional<py::array>& b, int64_t c, const char* op) {
  if (!b) return nullptr;
  const float* p = in_f32(*b, op, "bias", 1);
  if (b->shape(0) != c) {
    fail(op, "`bias` must have shape (" + std::to_string(c) + ",), got " + shape_str(*b));
  }
  return p;
}

int64_t prod(const Ints& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

// ---- convolution ----

conv::Activation parse_activation(const std::string& a, const char* op) {
  if (a == "linear") return conv::Activation::kNone;
  if (a == "relu") return conv::Activation::kRelu;
  fail(op,
       "`activation` must be 'linear' or 'relu' (the activations fused into the kernel), got '" + a + "'");
}

py::array conv_forward_py(py::array x, py::array kernel, std::optional<py::array> bias, Ints strides,
                          std::string padding, Ints dilation, std::string activation) {
  const char* op = "conv_forward";
  const conv::Activation act = parse_activation(activation, op);
  const float* px = in_f32(x, op, "x");
  const float* pw = in_f32(kernel, op, "kernel");
  Setup s =
      make_setup(op, Kind::Conv, shape_of(x), shape_of(kernel), strides, padding, dilation, std::nullopt);
  const float* pb = bias_arg(bias, s.g.cout, op);
  py::array_t<float> y = empty_f32(s.y_shape);
  float* py_ = y.mutable_data();
  py::gil_scoped_release release;
  conv::conv_forward_act(s.g, px, pw, pb, act, py_);
  return y;
}

// dz = dy where y > 0, else 0 (y, dy the same shape).
py::array relu_backward_from_output_py(py::array y, py::array dy) {
  const char* op = "relu_backward_from_output";
  const float* py_ = in_f32(y, op, "y");
  const float* pdy = in_f32(dy, op, "dy");
  if (shape_of(y) != shape_of(dy)) {
    fail(op, "`dy` must have the shape of `y` " + shape_str(y) + ", got " + shape_str(dy));
  }
  py::array_t<float> dz = empty_f32(shape_of(y));
  float* pdz = dz.mutable_data();
  const int64_t n = static_cast<int64_t>(y.size());
  py::gil_scoped_release release;
  conv::relu_backward_from_output(py_, pdy, pdz, n);
  return dz;
}

py::array conv_backward_input_py(py::array dy, py::array kernel, Ints input_shape, Ints strides,
                                 std::string padding, Ints dilation) {
  const char* op = "conv_backward_input";
  const float* pdy = in_f32(dy, op, "dy");
  const float* pw = in_f32(kernel, op, "kernel");
  Setup s = make_setup(op, Kind::Conv, shape_arg(input_shape, op, "input_shape"), shape_of(kernel), strides,
                       padding, dilation, std::nullopt);
  require_shape(dy, s.y_shape, op, "dy");
  py::array_t<float> dx = empty_f32(s.x_shape);
  float* pdx = dx.mutable_data();
  py::gil_scoped_release release;
  conv::conv_backward_input(s.g, pdy, pw, pdx);
  return dx;
}

py::tuple conv_backward_kernel_py(py::array x, py::array dy, Ints kernel_shape, Ints strides,
                                  std::string padding, Ints dilation, bool with_bias) {
  const char* op = "conv_backward_kernel";
  const float* px = in_f32(x, op, "x");
  const float* pdy = in_f32(dy, op, "dy");
  Setup s = make_setup(op, Kind::Conv, shape_of(x), shape_arg(kernel_shape, op, "kernel_shape"), strides,
                       padding, dilation, std::nullopt);
  require_shape(dy, s.y_shape, op, "dy");
  py::array_t<float> dw = empty_f32(s.w_shape);
  py::object db = py::none();
  float* pdb = nullptr;
  if (with_bias) {
    py::array_t<float> b = empty_f32({s.g.cout});
    pdb = b.mutable_data();
    db = b;
  }
  float* pdw = dw.mutable_data();
  {
    py::gil_scoped_release release;
    conv::conv_backward_kernel(s.g, px, pdy, pdw, pdb);
  }
  return py::make_tuple(dw, db);
}

// ---- transposed convolution (the adjoint of the convolution from its output to its input) ----

py::array conv_transpose_forward_py(py::array x, py::array kernel, std::optional<py::array> bias,
                                    Ints strides, std::string padding, std::optional<Ints> output_padding,
                                    Ints dilation) {
  const char* op = "conv_transpose_forward";
  const float* px = in_f32(x, op, "x");
  const float* pw = in_f32(kernel, op, "kernel");
  Setup s = make_setup(op, Kind::Transpose, shape_of(x), shape_of(kernel), strides, padding, dilation,
                       output_padding);
  const int64_t filters = s.y_shape.back();
  const float* pb = bias_arg(bias, filters, op);
  py::array_t<float> y = empty_f32(s.y_shape);
  float* py_ = y.mutable_data();
  const int64_t rows = prod(s.y_shape, 0, s.y_shape.size() - 1);
  py::gil_scoped_release release;
  conv::conv_backward_input(s.g, px, pw, py_);
  if (pb) conv::add_bias(py_, rows, filters, pb);
  return y;
}

py::array conv_transpose_backward_input_py(py::array dy, py::array kernel, Ints input_shape, Ints strides,
                                           std::string padding, std::optional<Ints> output_padding,
                                           Ints dilation) {
  const char* op = "conv_transpose_backward_input";
  const float* pdy = in_f32(dy, op, "dy");
  const float* pw = in_f32(kernel, op, "kernel");
  Setup s = make_setup(op, Kind::Transpose, shape_arg(input_shape, op, "input_shape"), shape_of(kernel),
                       strides, padding, dilation, output_padding);
  require_shape(dy, s.y_shape, op, "dy");
  py::array_t<float> dx = empty_f32(s.x_shape);
  float* pdx = dx.mutable_data();
  py::gil_scoped_release release;
  conv::conv_forward(s.g, pdy, pw, nullptr, pdx);
  return dx;
}

py::tuple conv_transpose_backward_kernel_py(py::array x, py::array dy, Ints kernel_shape, Ints strides,
                                            std::string padding, std::optional<Ints> output_padding,
                                            Ints dilation, bool with_bias) {
  const char* op = "conv_transpose_backward_kernel";
  const float* px = in_f32(x, op, "x");
  const float* pdy = in_f32(dy, op, "dy");
  Setup s = make_setup(op, Kind::Transpose, shape_of(x), shape_arg(kernel_shape, op, "kernel_shape"), strides,
                       padding, dilation, output_padding);
  require_shape(dy, s.y_shape, op, "dy");
  const int64_t filters = s.y_shape.back();
  py::array_t<float> dw = empty_f32(s.w_shape);
  py::object db = py::none();
  float* pdb = nullptr;
  if (with_bias) {
    py::array_t<float> b = empty_f32({filters});
    pdb = b.mutable_data();
    db = b;
  }
  float* pdw = dw.mutable_data();
  const int64_t rows = prod(s.y_shape, 0, s.y_shape.size() - 1);
  {
    py::gil_scoped_release release;
    // The convolution's input is dy (the transposed op's output), its output x.
    conv::conv_backward_kernel(s.g, pdy, px, pdw, nullptr);
    if (pdb) conv::bias_grad(pdy, rows, filters, pdb);
  }
  return py::make_tuple(dw, db);
}

// ---- depthwise ----

py::array depthwise_forward_py(py::array x, py::array kernel, std::optional<py::array> bias, Ints strides,
                               std::string padding, Ints dilation) {
  const char* op = "depthwise_conv_forward";
  const float* px = in_f32(x, op, "x");
  const float* pw = in_f32(kernel, op, "kernel");
  Setup s = make_setup(op, Kind::Depthwise, shape_of(x), shape_of(kernel), strides, padding, dilation,
                       std::nullopt);
  const float* pb = bias_arg(bias, s.g.cout, op);
  py::array_t<float> y = empty_f32(s.y_shape);
  float* py_ = y.mutable_data();
  py::gil_scoped_release release;
  conv::depthwise_forward(s.g, px, pw, pb, py_);
  return y;
}

py::array depthwise_backward_input_py(py::array dy, py::array kernel, Ints input_shape, Ints strides,
                                      std::string padding, Ints dilation) {
  const char* op = "depthwise_conv_backward_input";
  const float* pdy = in_f32(dy, op, "dy");
  const float* pw = in_f32(kernel, op, "kernel");
  Setup s = make_setup(op, Kind::Depthwise, shape_arg(input_shape, op, "input_shape"), shape_of(kernel),
                       strides, padding, dilation, std::nullopt);
  require_shape(dy, s.y_shape, op, "dy");
  py::array_t<float> dx = empty_f32(s.x_shape);
  float* pdx = dx.mutable_data();
  py::gil_scoped_release release;
  conv::depthwise_backward_input(s.g, pdy, pw, pdx);
  return dx;
}

py::tuple depthwise_backward_kernel_py(py::array x, py::array dy, Ints kernel_shape, Ints strides,
                                       std::string padding, Ints dilation, bool with_bias) {
  const char* op = "depthwise_conv_backward_kernel";
  const float* px = in_f32(x, op, "x");
  const float* pdy = in_f32(dy, op, "dy");
  Setup s = make_setup(op, Kind::Depthwise, shape_of(x), shape_arg(kernel_shape, op, "kernel_shape"), strides,
                       padding, dilation, std::nullopt);
  require_shape(dy, s.y_shape, op, "dy");
  py::array_t<float> dw = empty_f32(s.w_shape);
  py::object db = py::none();
  float* pdb = nullptr;
  if (with_bias) {
    py::array_t<float> b = empty_f32({s.g.cout});
    pdb = b.mutable_data();
    db = b;
  }
  float* pdw = dw.mutable_data();
  {
    py::gil_scoped_release release;
    conv::depthwise_backward_kernel(s.g, px, pdy, pdw, pdb);
  }
  return py::make_tuple(dw, db);
}

}  // namespace

void bind_conv(py::module_& m) {
  using py::arg;
  m.def("conv_forward", &conv_forward_py, arg("x"), arg("kernel"), arg("bias"), arg("strides"),
        arg("padding"), arg("dilation_rate"), arg("activation") = "linear",
        "N-D convolution, channels-last; kernel (k..., cin, cout); activation 'linear' or 'relu' "
        "(fused). Returns y.");
  m.def("conv_set_winograd_tile", &conv::set_winograd_tile, arg("m"),
        "Winograd output tile of 3x3 stride-1 convolutions: 0 by shape (default), 2 F(2x2,3x3), "
        "4 F(4x4,3x3).");
  m.def("conv_get_winograd_tile", &conv::get_winograd_tile, "The setting of conv_set_winograd_tile.");
  m.def("relu_backward_from_output", &relu_backward_from_output_py, arg("y"), arg("dy"),
        "dy where the ReLU output y > 0, else 0.");
  m.def("conv_backward_input", &conv_backward_input_py, arg("dy"), arg("kernel"), arg("input_shape"),
        arg("strides"), arg("padding"), arg("dilation_rate"), "Gradient of conv_forward wrt x.");
  m.def("conv_backward_kernel", &conv_backward_kernel_py, arg("x"), arg("dy"), arg("kernel_shape"),
        arg("strides"), arg("padding"), arg("dilation_rate"), arg("with_bias"),
        "Gradients of conv_forward wrt the kernel and (with_bias) the bias: (dkernel, dbias or None).");
  m.def("conv_transpose_forward", &conv_transpose_forward_py, arg("x"), arg("kernel"), arg("bias"),
        arg("strides"), arg("padding"), arg("output_padding"), arg("dilation_rate"),
        "Transposed convolution (Keras ConvNDTranspose); kernel (k..., filters, in_channels).");
  m.def("conv_transpose_backward_input", &conv_transpose_backward_input_py, arg("dy"), arg("kernel"),
        arg("input_shape"), arg("strides"), arg("padding"), arg("output_padding"), arg("dilation_rate"),
        "Gradient of conv_transpose_forward wrt x.");
  m.def("conv_transpose_backward_kernel", &conv_transpose_backward_kernel_py, arg("x"), arg("dy"),
        arg("kernel_shape"), arg("strides"), arg("padding"), arg("output_padding"), arg("dilation_rate"),
        arg("with_bias"), "Gradients of conv_transpose_forward wrt the kernel and the bias.");
  m.def("depthwise_conv_forward", &depthwise_forward_py, arg("x"), arg("kernel"), arg("bias"), arg("strides"),
        arg("padding"), arg("dilation_rate"), "Depthwise convolution; kernel (k..., cin, depth_multiplier).");
  m.def("depthwise_conv_backward_input", &depthwise_backward_input_py, arg("dy"), arg("kernel"),
        arg("input_shape"), arg("strides"), arg("padding"), arg("dilation_rate"),
        "Gradient of depthwise_conv_forward wrt x.");
  m.def("depthwise_conv_backward_kernel", &depthwise_backward_kernel_py, arg("x"), arg("dy"),
        arg("kernel_shape"), arg("strides"), arg("padding"), arg("dilation_rate"), arg("with_bias"),
        "Gradients of depthwise_conv_forward wrt the kernel and the bias.");
}

}  // namespace bind
}  // namespace fastnet
