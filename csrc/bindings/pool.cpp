// Python bindings of the 2-D pooling kernels (fastnet/kernels/pool.py wraps them).
#include <algorithm>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "fastnet/pool.h"
#include "fastnet/threads.h"

#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {
namespace {

struct Geometry {
  int64_t N, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl;
};

int64_t out_len(int64_t size, int64_t k, int64_t s, bool same) {
  if (same) return (size + s - 1) / s;
  return size >= k ? (size - k) / s + 1 : 0;
}

int64_t pad_before(int64_t size, int64_t out, int64_t k, int64_t s, bool same) {
  if (!same) return 0;
  int64_t total = (out - 1) * s + k - size;
  return total > 0 ? total / 2 : 0;
}

Geometry geometry(const char* op, const std::vector<int64_t>& xs, int64_t kh, int64_t kw, int64_t sh,
                  int64_t sw, const std::string& padding) {
  if (xs.size() != 4) fail_value(std::string(op) + ": input must be 4-D (N, H, W, C), got " + shape_str(xs));
  require_positive(kh, op, "pool_size[0]");
  require_positive(kw, op, "pool_size[1]");
  require_positive(sh, op, "strides[0]");
  require_positive(sw, op, "strides[1]");
  if (padding != "valid" && padding != "same")
    fail_value(std::string(op) + ": padding must be 'valid' or 'same', got '" + padding + "'");
  const bool same = padding == "same";
  Geometry g{xs[0], xs[1], xs[2], xs[3], 0, 0, kh, kw, sh, sw, 0, 0};
  g.OH = out_len(g.H, kh, sh, same);
  g.OW = out_len(g.W, kw, sw, same);
  if ((g.OH == 0 || g.OW == 0) && g.H > 0 && g.W > 0)
    fail_value(std::string(op) + ": pool_size (" + std::to_string(kh) + ", " + std::to_string(kw) +
               ") does not fit in input " + shape_str(xs) + " with padding='valid'");
  g.pt = pad_before(g.H, g.OH, kh, sh, same);
  g.pl = pad_before(g.W, g.OW, kw, sw, same);
  if (g.H * g.W > (int64_t(1) << 31)) fail_value(std::string(op) + ": spatial size too large");
  return g;
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def(
      "pool2d_forward",
      [](py::array x, const std::string& kind, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
         const std::string& padding) -> py::tuple {
        const char* op = "pool2d_forward";
        const float* px = in_f32(x, op, "x", 4);
        Geometry g = geometry(op, shape_of(x), kh, kw, sh, sw, padding);
        if (kind != "max" && kind != "avg") fail_value(std::string(op) + ": kind must be 'max' or 'avg'");
        auto y = empty_f32({g.N, g.OH, g.OW, g.C});
        float* py_ = y.mutable_data();
        const auto& t = pool::table();
        const int64_t rows = g.N * g.OH;
        const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.OW * g.C * kh * kw));
        if (kind == "max") {
          py::array_t<int32_t> arg(std::vector<py::ssize_t>{g.N, g.OH, g.OW, g.C});
          int32_t* pa = arg.mutable_data();
          {
            py::gil_scoped_release release;
            threads::parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
              t.max_fwd(px, py_, pa, r0, r1, g.H, g.W, g.C, g.OH, g.OW, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl);
            });
          }
          return py::make_tuple(y, arg);
        }
        {
          py::gil_scoped_release release;
          threads::parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
            t.avg_fwd(px, py_, r0, r1, g.H, g.W, g.C, g.OH, g.OW, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl);
          });
        }
        return py::make_tuple(y, py::none());
      },
      py::arg("x"), py::arg("kind"), py::arg("kh"), py::arg("kw"), py::arg("sh"), py::arg("sw"),
      py::arg("padding"), "Returns (y, argmax or None).");
  m.def(
      "pool2d_backward",
      [](py::array dy, py::object arg, std::vector<int64_t> x_shape, const std::string& kind, int64_t kh,
         int64_t kw, int64_t sh, int64_t sw, const std::string& padding) {
        const char* op = "pool2d_backward";
        const float* pd = in_f32(dy, op, "dy", 4);
        Geometry g = geometry(op, x_shape, kh, kw, sh, sw, padding);
        if (shape_of(dy) != std::vector<int64_t>{g.N, g.OH, g.OW, g.C})
          fail_value(std::string(op) + ": `dy` has shape " + shape_str(dy) + ", expected " +
                     shape_str(std::vector<int64_t>{g.N, g.OH, g.OW, g.C}));
        auto dx = py::array_t<float>(std::vector<py::ssize_t>(x_shape.begin(), x_shape.end()));
        float* px = dx.mutable_data();
        std::fill(px, px + dx.size(), 0.0f);
        const auto& t = pool::table();
        if (kind == "max") {
          py::array a = as_array(arg, op, "arg");
          if (!a.dtype().is(py::dtype::of<int32_t>()) || shape_of(a) != shape_of(dy) || !is_c_contiguous(a))
            fail_value(std::string(op) + ": `arg` must be the int32 argmax from pool2d_forward");
          const int32_t* pa = static_cast<const int32_t*>(a.data());
          for (int64_t i = 0, n = static_cast<int64_t>(a.size()); i < n; ++i)
            if (pa[i] < 0 || pa[i] >= g.H * g.W)
              fail_value(std::string(op) + ": `arg` holds an out-of-range index");
          py::gil_scoped_release release;
          threads::parallel_for(g.N, 1, [&](int64_t n0, int64_t n1) {
            t.max_bwd(pd, pa, px, n0, n1, g.H, g.W, g.C, g.OH, g.OW);
          });
        } else if (kind == "avg") {
          py::gil_scoped_release release;
          threads::parallel_for(g.N, 1, [&](int64_t n0, int64_t n1) {
            t.avg_bwd(pd, px, n0, n1, g.H, g.W, g.C, g.OH, g.OW, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl);
          });
        } else {
          fail_value(std::string(op) + ": kind must be 'max' or 'avg'");
        }
        return dx;
      },
      py::arg("dy"), py::arg("arg"), py::arg("x_shape"), py::arg("kind"), py::arg("kh"), py::arg("kw"),
      py::arg("sh"), py::arg("sw"), py::arg("padding"));
}

}  // namespace bind
}  // namespace fastnet
