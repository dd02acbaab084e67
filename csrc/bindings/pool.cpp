// Python bindings of the pooling-family kernels (fastnet/kernels/pool.py wraps them):
// windowed max/average pooling 1-D/2-D/3-D, global max/average pooling, nearest
// upsampling, forward and backward. pool2d_forward/backward are the older 2-D entry
// points, kept as wrappers of the N-D ones.
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

constexpr int64_t kGrainElems = 1 << 15;

std::string list_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// Geometry plus the tables PoolGeom points into, and the shapes.
struct Geometry : pool::PoolWindows {
  std::vector<int64_t> in_shape, out_shape;
};

Geometry make_geometry(const char* op, const std::vector<int64_t>& xs, const std::vector<int64_t>& ks,
                       const std::vector<int64_t>& ss, const std::string& padding) {
  const size_t nd = ks.size();
  if (nd < 1 || nd > 3)
    fail_value(std::string(op) + ": `pool_size` must have 1 to 3 entries, got " + list_str(ks));
  if (ss.size() != nd)
    fail_value(std::string(op) + ": `strides` " + list_str(ss) +
               " must have as many entries as `pool_size` " + list_str(ks));
  if (xs.size() != nd + 2)
    fail_value(std::string(op) + ": input must be " + std::to_string(nd + 2) +
               "-D (batch, spatial..., channels) for " + std::to_string(nd) + "-D pooling, got shape " +
               shape_str(xs));
  for (size_t i = 0; i < nd; ++i) {
    if (ks[i] <= 0)
      fail_value(std::string(op) + ": `pool_size` must be positive, got " + list_str(ks) + " for input " +
                 shape_str(xs));
    if (ss[i] <= 0)
      fail_value(std::string(op) + ": `strides` must be positive, got " + list_str(ss) + " for input " +
                 shape_str(xs));
  }
  for (int64_t v : xs)
    if (v < 0) fail_value(std::string(op) + ": input shape " + shape_str(xs) + " has a negative size");
  if (padding != "valid" && padding != "same")
    fail_value(std::string(op) + ": padding must be 'valid' or 'same', got '" + padding + "'");
  int64_t in[3], k[3], s[3];
  for (int d = 0; d < 3; ++d) {
    const int64_t j = static_cast<int64_t>(d) - (3 - static_cast<int64_t>(nd));  // index into ks
    in[d] = j >= 0 ? xs[1 + j] : 1;
    k[d] = j >= 0 ? ks[j] : 1;
    s[d] = j >= 0 ? ss[j] : 1;
  }
  Geometry G;
  static_cast<pool::PoolWindows&>(G) = pool::make_windows(xs[0], xs.back(), in, k, s, padding == "same");
  const pool::PoolGeom& g = G.g;
  G.out_shape = {g.N};
  bool empty_in = false, empty_out = false;
  for (int d = 0; d < 3; ++d) {
    empty_in |= g.in[d] == 0;
    empty_out |= g.out[d] == 0;
    if (d >= 3 - static_cast<int>(nd)) G.out_shape.push_back(g.out[d]);
  }
  G.out_shape.push_back(g.C);
  G.in_shape = xs;
  if (empty_out && !empty_in)
    fail_value(std::string(op) + ": pool_size " + list_str(ks) + " does not fit in input " + shape_str(xs) +
               " with padding='valid'");
  if (g.in[0] * g.in[1] * g.in[2] >= (int64_t(1) << 31))
    fail_value(std::string(op) + ": spatial size of input " + shape_str(xs) + " too large (>= 2^31)");
  return G;
}

void check_kind(const char* op, const std::string& kind) {
  if (kind != "max" && kind != "avg")
    fail_value(std::string(op) + ": kind must be 'max' or 'avg', got '" + kind + "'");
}

int64_t window_elems(const pool::PoolGeom& g) { return std::max<int64_t>(1, g.k[0] * g.k[1] * g.k[2]); }

py::tuple pool_forward_impl(const char* op, const py::array& x, const std::string& kind,
                            const std::vector<int64_t>& ks, const std::vector<int64_t>& ss,
                            const std::string& padding) {
  const float* px = in_f32(x, op, "x");
  check_kind(op, kind);
  Geometry G = make_geometry(op, shape_of(x), ks, ss, padding);
  const pool::PoolGeom& g = G.g;
  auto y = empty_f32(G.out_shape);
  float* py_ = y.mutable_data();
  const auto& t = pool::table();
  const int64_t rows = g.N * g.out[0] * g.out[1];
  const int64_t grain =
      std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, g.out[2] * g.C * window_elems(g)));
  if (kind == "max") {
    py::array_t<int32_t> arg(std::vector<py::ssize_t>(G.out_shape.begin(), G.out_shape.end()));
    int32_t* pa = arg.mutable_data();
    {
      py::gil_scoped_release release;
      threads::parallel_for(rows, grain, [&](int64_t r0, int64_t r1) { t.max_fwd(px, py_, pa, g, r0, r1); });
    }
    return py::make_tuple(y, arg);
  }
  {
    py::gil_scoped_release release;
    threads::parallel_for(rows, grain, [&](int64_t r0, int64_t r1) { t.avg_fwd(px, py_, g, r0, r1); });
  }
  return py::make_tuple(y, py::none());
}

py::array_t<float> pool_backward_impl(const char* op, const py::array& dy, const py::object& arg,
                                      const std::vector<int64_t>& x_shape, const std::string& kind,
                                      const std::vector<int64_t>& ks, const std::vector<int64_t>& ss,
                                      const std::string& padding, bool check_range) {
  const float* pd = in_f32(dy, op, "dy");
  check_kind(op, kind);
  Geometry G = make_geometry(op, x_shape, ks, ss, padding);
  const pool::PoolGeom& g = G.g;
  if (shape_of(dy) != G.out_shape)
    fail_value(std::string(op) + ": `dy` has shape " + shape_str(dy) + ", expected " +
               shape_str(G.out_shape) + " for input shape " + shape_str(x_shape));
  auto dx = empty_f32(x_shape);
  float* px = dx.mutable_data();
  const auto& t = pool::table();
  const bool blocks = g.s[0] >= g.k[0] && g.s[1] >= g.k[1] && g.s[2] >= g.k[2];
  // Non-overlapping windows: output rows write their window blocks; else gather input rows.
  const int64_t rows = blocks ? g.N * g.out[0] * g.out[1] : g.N * g.in[0] * g.in[1];
  const int64_t per_row =
      blocks ? g.s[0] * g.s[1] * g.in[2] * g.C
             : g.in[2] * g.C * std::max<int64_t>(1, window_elems(g) / (g.s[0] * g.s[1] * g.s[2]));
  const int64_t grain = std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, per_row));
  if (kind == "max") {
    py::array a = as_array(arg, op, "arg");  // TypeError for None or a non-array (never reinterpreted)
    if (!has_dtype<int32_t>(a) || shape_of(a) != G.out_shape || !is_c_contiguous(a))
      fail_value(std::string(op) + ": `arg` must be the C-contiguous int32 argmax from the forward, shape " +
                 shape_str(G.out_shape) + "; got " + std::string(py::str(a.dtype())) + " " + shape_str(a));
    const int32_t* pa = static_cast<const int32_t*>(a.data());
    // The kernels only compare arg with indices (never address memory by it), so a bad arg
    // cannot read or write out of bounds; the legacy 2-D entry point still reports it.
    if (check_range) {
      const int64_t spatial = g.in[0] * g.in[1] * g.in[2];
      for (int64_t i = 0, n = static_cast<int64_t>(a.size()); i < n; ++i)
        if (pa[i] < 0 || pa[i] >= spatial)
          fail_value(std::string(op) + ": `arg` holds an out-of-range index");
    }
    py::gil_scoped_release release;
    threads::parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
      if (blocks)
        t.max_bwd_blocks(pd, pa, px, g, r0, r1);
      else
        t.max_bwd(pd, pa, px, g, r0, r1);
    });
  } else if (!blocks && (g.N >= threads::num_threads() || threads::deterministic())) {
    // Overlapping average windows with an image per thread or more: per-image scatter.
    // (It sums the windows in another order than the gather below, so determinism mode
    // takes it whatever the thread count.)
    const int64_t image = g.in[0] * g.in[1] * g.in[2] * g.C * std::max<int64_t>(1, window_elems(g));
    py::gil_scoped_release release;
    threads::parallel_for(g.N, std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, image)),
                          [&](int64_t n0, int64_t n1) { t.avg_bwd_images(pd, px, g, n0, n1); });
  } else {
    py::gil_scoped_release release;
    threads::parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
      if (blocks)
        t.avg_bwd_blocks(pd, px, g, r0, r1);
      else
        t.avg_bwd(pd, px, g, r0, r1);
    });
  }
  return dx;
}

// (N, S, C) view of a channels-last input of rank >= 3.
void global_dims(const char* op, const char* name, const std::vector<int64_t>& s, int64_t* N, int64_t* S,
                 int64_t* C) {
  if (s.size() < 3)
    fail_value(std::string(op) + ": `" + name +
               "` must be at least 3-D (batch, spatial..., channels), got shape " + shape_str(s));
  *N = s[0];
  *C = s.back();
  *S = 1;
  for (size_t i = 1; i + 1 < s.size(); ++i) *S *= s[i];
}

std::vector<int64_t> up_sizes(const char* op, const std::vector<int64_t>& size, size_t ndim,
                              const std::string& what) {
  if (size.size() < 1 || size.size() > 3 || ndim != size.size() + 2)
    fail_value(std::string(op) + ": `size` " + list_str(size) + " needs a " +
               std::to_string(size.size() + 2) + "-D input (1 to 3 spatial dims), got " + what);
  for (int64_t v : size)
    if (v <= 0) fail_value(std::string(op) + ": `size` must be positive, got " + list_str(size));
  return size;
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def(
      "pool_forward",
      [](py::array x, const std::string& kind, std::vector<int64_t> pool_size, std::vector<int64_t> strides,
         const std::string& padding) {
        return pool_forward_impl("pool_forward", x, kind, pool_size, strides, padding);
      },
      py::arg("x"), py::arg("kind"), py::arg("pool_size"), py::arg("strides"), py::arg("padding"),
      "1-D/2-D/3-D pooling of x (N, spatial..., C): returns (y, int32 argmax or None).");
  m.def(
      "pool_backward",
      [](py::array dy, py::object arg, std::vector<int64_t> x_shape, const std::string& kind,
         std::vector<int64_t> pool_size, std::vector<int64_t> strides, const std::string& padding) {
        return pool_backward_impl("pool_backward", dy, arg, x_shape, kind, pool_size, strides, padding,
                                  false);
      },
      py::arg("dy"), py::arg("arg"), py::arg("x_shape"), py::arg("kind"), py::arg("pool_size"),
      py::arg("strides"), py::arg("padding"),
      "dx of pool_forward (max: arg from the forward; avg: arg None).");
  m.def(
      "pool2d_forward",
      [](py::array x, const std::string& kind, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
         const std::string& padding) {
        const char* op = "pool2d_forward";
        require_float32(x, op, "x");
        if (x.ndim() != 4)
          fail_value(std::string(op) + ": input must be 4-D (N, H, W, C), got " + shape_str(x));
        return pool_forward_impl(op, x, kind, {kh, kw}, {sh, sw}, padding);
      },
      py::arg("x"), py::arg("kind"), py::arg("kh"), py::arg("kw"), py::arg("sh"), py::arg("sw"),
      py::arg("padding"), "Returns (y, argmax or None).");
  m.def(
      "pool2d_backward",
      [](py::array dy, py::object arg, std::vector<int64_t> x_shape, const std::string& kind, int64_t kh,
         int64_t kw, int64_t sh, int64_t sw, const std::string& padding) {
        const char* op = "pool2d_backward";
        if (x_shape.size() != 4)
          fail_value(std::string(op) + ": input must be 4-D (N, H, W, C), got " + shape_str(x_shape));
        return pool_backward_impl(op, dy, arg, x_shape, kind, {kh, kw}, {sh, sw}, padding, true);
      },
      py::arg("dy"), py::arg("arg"), py::arg("x_shape"), py::arg("kind"), py::arg("kh"), py::arg("kw"),
      py::arg("sh"), py::arg("sw"), py::arg("padding"));

  m.def(
      "global_pool_forward",
      [](py::array x, const std::string& kind) -> py::tuple {
        const char* op = "global_pool_forward";
        const float* px = in_f32(x, op, "x");
        check_kind(op, kind);
        int64_t N, S, C;
        global_dims(op, "x", shape_of(x), &N, &S, &C);
        if (S == 0) fail_value(std::string(op) + ": input " + shape_str(x) + " has no spatial elements");
        auto y = empty_f32({N, C});
        float* py_ = y.mutable_data();
        const auto& t = pool::table();
        const int64_t grain = std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, S * C));
        if (kind == "max") {
          auto cnt = empty_f32({N, C});
          float* pc = cnt.mutable_data();
          {
            py::gil_scoped_release release;
            threads::parallel_for(N, grain,
                                  [&](int64_t n0, int64_t n1) { t.gmax_fwd(px, py_, pc, S, C, n0, n1); });
          }
          return py::make_tuple(y, cnt);
        }
        {
          py::gil_scoped_release release;
          threads::parallel_for(N, grain, [&](int64_t n0, int64_t n1) { t.gavg_fwd(px, py_, S, C, n0, n1); });
        }
        return py::make_tuple(y, py::none());
      },
      py::arg("x"), py::arg("kind"),
      "Global pooling over the spatial axes of x (N, spatial..., C): (y (N, C), tie counts (max) or None).");
  m.def(
      "global_max_pool_backward",
      [](py::array dy, py::array x, py::array y, py::array count) {
        const char* op = "global_max_pool_backward";
        const float* px = in_f32(x, op, "x");
        int64_t N, S, C;
        global_dims(op, "x", shape_of(x), &N, &S, &C);
        const std::vector<int64_t> nc{N, C};
        const float* pd = in_f32(dy, op, "dy");
        const float* py_ = in_f32(y, op, "y");
        const float* pc = in_f32(count, op, "count");
        for (auto [a, name] : {std::pair<py::array*, const char*>{&dy, "dy"}, {&y, "y"}, {&count, "count"}})
          if (shape_of(*a) != nc)
            fail_value(std::string(op) + ": `" + name + "` has shape " + shape_str(*a) + ", expected " +
                       shape_str(nc) + " for x of shape " + shape_str(x));
        std::vector<float> gs(static_cast<size_t>(N * C));
        for (int64_t i = 0; i < N * C; ++i) gs[i] = pc[i] > 0 ? pd[i] / pc[i] : 0.0f;
        auto dx = empty_f32(shape_of(x));
        float* pdx = dx.mutable_data();
        const auto& t = pool::table();
        {
          py::gil_scoped_release release;
          threads::parallel_for(
              N * S, std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, C)),
              [&](int64_t r0, int64_t r1) { t.gmax_bwd(px, py_, gs.data(), pdx, S, C, r0, r1); });
        }
        return dx;
      },
      py::arg("dy"), py::arg("x"), py::arg("y"), py::arg("count"),
      "dx of global max pooling: dy shared among the tied maxima (as TensorFlow's reduce_max).");
  m.def(
      "global_avg_pool_backward",
      [](py::array dy, std::vector<int64_t> x_shape) {
        const char* op = "global_avg_pool_backward";
        const float* pd = in_f32(dy, op, "dy");
        int64_t N, S, C;
        global_dims(op, "x_shape", x_shape, &N, &S, &C);
        for (int64_t v : x_shape)
          if (v < 0)
            fail_value(std::string(op) + ": `x_shape` " + shape_str(x_shape) + " has a negative size");
        if (shape_of(dy) != std::vector<int64_t>{N, C})
          fail_value(std::string(op) + ": `dy` has shape " + shape_str(dy) + ", expected " +
                     shape_str(std::vector<int64_t>{N, C}) + " for x_shape " + shape_str(x_shape));
        auto dx = empty_f32(x_shape);
        float* pdx = dx.mutable_data();
        const auto& t = pool::table();
        {
          py::gil_scoped_release release;
          threads::parallel_for(N * S, std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, C)),
                                [&](int64_t r0, int64_t r1) { t.gavg_bwd(pd, pdx, S, C, r0, r1); });
        }
        return dx;
      },
      py::arg("dy"), py::arg("x_shape"),
      "dx of global average pooling: dy / S broadcast over the spatial axes.");

  m.def(
      "upsampling_forward",
      [](py::array x, std::vector<int64_t> size) {
        const char* op = "upsampling_forward";
        const float* px = in_f32(x, op, "x");
        up_sizes(op, size, static_cast<size_t>(x.ndim()), "input of shape " + shape_str(x));
        const std::vector<int64_t> xs = shape_of(x);
        const size_t nd = size.size();
        int64_t in[3] = {1, 1, 1}, f[3] = {1, 1, 1};
        std::vector<int64_t> ys = xs;
        for (size_t i = 0; i < nd; ++i) {
          in[3 - nd + i] = xs[1 + i];
          f[3 - nd + i] = size[i];
          ys[1 + i] = xs[1 + i] * size[i];
        }
        auto y = empty_f32(ys);
        float* py_ = y.mutable_data();
        const int64_t C = xs.back(), rows = xs[0] * in[0] * f[0] * in[1] * f[1];
        const auto& t = pool::table();
        {
          py::gil_scoped_release release;
          threads::parallel_for(rows, std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, ys[nd] * C)),
                                [&](int64_t r0, int64_t r1) { t.up_fwd(px, py_, in, f, C, r0, r1); });
        }
        return y;
      },
      py::arg("x"), py::arg("size"),
      "Nearest upsampling of x (N, spatial..., C) by `size` per spatial axis.");
  m.def(
      "upsampling_backward",
      [](py::array dy, std::vector<int64_t> size) {
        const char* op = "upsampling_backward";
        const float* pd = in_f32(dy, op, "dy");
        up_sizes(op, size, static_cast<size_t>(dy.ndim()), "dy of shape " + shape_str(dy));
        const std::vector<int64_t> ds = shape_of(dy);
        const size_t nd = size.size();
        int64_t in[3] = {1, 1, 1}, f[3] = {1, 1, 1};
        std::vector<int64_t> xs = ds;
        for (size_t i = 0; i < nd; ++i) {
          if (ds[1 + i] % size[i] != 0)
            fail_value(std::string(op) + ": `dy` shape " + shape_str(dy) + " is not a multiple of `size` " +
                       list_str(size));
          xs[1 + i] = ds[1 + i] / size[i];
          in[3 - nd + i] = xs[1 + i];
          f[3 - nd + i] = size[i];
        }
        auto dx = empty_f32(xs);
        float* pdx = dx.mutable_data();
        const int64_t C = xs.back(), rows = xs[0] * in[0] * in[1];
        const auto& t = pool::table();
        const int64_t per_row = ds[nd] * C * f[0] * f[1];
        {
          py::gil_scoped_release release;
          threads::parallel_for(rows, std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, per_row)),
                                [&](int64_t r0, int64_t r1) { t.up_bwd(pd, pdx, in, f, C, r0, r1); });
        }
        return dx;
      },
      py::arg("dy"), py::arg("size"), "dx of upsampling_forward: dy summed over each size block.");
}

}  // namespace bind
}  // namespace fastnet
