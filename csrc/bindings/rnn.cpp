// Python bindings of the LSTM sequence kernels (fastnet/kernels/rnn.py wraps them).
#include <string>
#include <vector>

#include "fastnet/rnn.h"

#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {
namespace {

struct Dims {
  int64_t n, t, i, u;
};

Dims check_lstm(const char* op, const py::array& x, const py::array& kernel, const py::array& recurrent) {
  in_f32(x, op, "x", 3);
  in_f32(kernel, op, "kernel", 2);
  in_f32(recurrent, op, "recurrent_kernel", 2);
  Dims d{x.shape(0), x.shape(1), x.shape(2), recurrent.shape(0)};
  if (d.t < 1)
    fail_value(std::string(op) + ": `x` must have at least one time step, got shape " + shape_str(x));
  if (d.u < 1 || recurrent.shape(1) != 4 * d.u)
    fail_value(std::string(op) + ": `recurrent_kernel` must be (units, 4*units), got " +
               shape_str(recurrent));
  if (kernel.shape(0) != d.i || kernel.shape(1) != 4 * d.u)
    fail_value(std::string(op) + ": `kernel` must be (" + std::to_string(d.i) + ", " +
               std::to_string(4 * d.u) + ") for x " + shape_str(x) + ", got " + shape_str(kernel));
  return d;
}

const float* opt_state(const py::object& o, const char* op, const char* name, const Dims& d) {
  if (o.is_none()) return nullptr;
  py::array a = as_array(o, op, name);
  const float* p = in_f32(a, op, name, 2);
  if (a.shape(0) != d.n || a.shape(1) != d.u)
    fail_value(std::string(op) + ": `" + name + "` must be (" + std::to_string(d.n) + ", " +
               std::to_string(d.u) + "), got " + shape_str(a));
  return p;
}

}  // namespace

Dims check_gru(const char* op, const py::array& x, const py::array& kernel, const py::array& recurrent) {
  in_f32(x, op, "x", 3);
  in_f32(kernel, op, "kernel", 2);
  in_f32(recurrent, op, "recurrent_kernel", 2);
  Dims d{x.shape(0), x.shape(1), x.shape(2), recurrent.shape(0)};
  if (d.t < 1)
    fail_value(std::string(op) + ": `x` must have at least one time step, got shape " + shape_str(x));
  if (d.u < 1 || recurrent.shape(1) != 3 * d.u)
    fail_value(std::string(op) + ": `recurrent_kernel` must be (units, 3*units), got " +
               shape_str(recurrent));
  if (kernel.shape(0) != d.i || kernel.shape(1) != 3 * d.u)
    fail_value(std::string(op) + ": `kernel` must be (" + std::to_string(d.i) + ", " +
               std::to_string(3 * d.u) + ") for x " + shape_str(x) + ", got " + shape_str(kernel));
  return d;
}

void bind_rnn(py::module_& m) {
  m.def(
      "gru_forward",
      [](py::array x, py::array kernel, py::array recurrent, py::object bias, py::object h0,
         bool go_backwards) {
        const char* op = "gru_forward";
        Dims d = check_gru(op, x, kernel, recurrent);
        const float* pb = nullptr;
        if (!bias.is_none()) {
          py::array b = as_array(bias, op, "bias");
          pb = in_f32(b, op, "bias", 2);
          if (b.shape(0) != 2 || b.shape(1) != 3 * d.u)
            fail_value(std::string(op) + ": `bias` must be (2, " + std::to_string(3 * d.u) + "), got " +
                       shape_str(b));
        }
        const float* ph = opt_state(h0, op, "h0", d);
        auto packed = empty_f32({d.n, d.t + 1, d.u});
        auto ws = empty_f32({rnn::gru_workspace_size(d.n, d.t, d.u)});
        {
          py::gil_scoped_release release;
          std::vector<float> seq(static_cast<size_t>(d.n * d.t * d.u)), hl(d.n * d.u);
          rnn::gru_forward(d.n, d.t, d.i, d.u, static_cast<const float*>(x.data()),
                           static_cast<const float*>(kernel.data()),
                           static_cast<const float*>(recurrent.data()), pb, ph, go_backwards, seq.data(),
                           hl.data(), ws.mutable_data());
          float* p = packed.mutable_data();
          for (int64_t r = 0; r < d.n; ++r) {
            float* row = p + r * (d.t + 1) * d.u;
            std::copy(seq.data() + r * d.t * d.u, seq.data() + (r + 1) * d.t * d.u, row);
            std::copy(hl.data() + r * d.u, hl.data() + (r + 1) * d.u, row + d.t * d.u);
          }
        }
        return py::make_tuple(packed, ws);
      },
      py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("bias"), py::arg("h0"),
      py::arg("go_backwards") = false, "Returns (packed (N, T+1, U): outputs, then h_T; workspace).");
  m.def(
      "gru_backward",
      [](py::array x, py::array kernel, py::array recurrent, py::object h0, bool go_backwards,
         py::array packed, py::array ws, py::array dpacked, bool has_bias) {
        const char* op = "gru_backward";
        Dims d = check_gru(op, x, kernel, recurrent);
        const float* ph = opt_state(h0, op, "h0", d);
        const float* pp = in_f32(packed, op, "packed", 3);
        const float* pd = in_f32(dpacked, op, "dpacked", 3);
        const std::vector<int64_t> pshape{d.n, d.t + 1, d.u};
        if (shape_of(packed) != pshape || shape_of(dpacked) != pshape)
          fail_value(std::string(op) + ": `packed`/`dpacked` must be " + shape_str(pshape));
        const float* pw = in_f32(ws, op, "workspace", 1);
        if (ws.shape(0) != rnn::gru_workspace_size(d.n, d.t, d.u))
          fail_value(std::string(op) + ": `workspace` does not match these shapes");
        auto dx = empty_f32({d.n, d.t, d.i});
        auto dk = empty_f32({d.i, 3 * d.u});
        auto dr = empty_f32({d.u, 3 * d.u});
        auto db = empty_f32({2, 3 * d.u});
        auto dh0 = empty_f32({d.n, d.u});
        {
          py::gil_scoped_release release;
          std::vector<float> seq(static_cast<size_t>(d.n * d.t * d.u)), dseq(seq.size()), dhl(d.n * d.u);
          for (int64_t r = 0; r < d.n; ++r) {
            const float* row = pp + r * (d.t + 1) * d.u;
            const float* drow = pd + r * (d.t + 1) * d.u;
            std::copy(row, row + d.t * d.u, seq.data() + r * d.t * d.u);
            std::copy(drow, drow + d.t * d.u, dseq.data() + r * d.t * d.u);
            std::copy(drow + d.t * d.u, drow + (d.t + 1) * d.u, dhl.data() + r * d.u);
          }
          rnn::gru_backward(d.n, d.t, d.i, d.u, static_cast<const float*>(x.data()),
                            static_cast<const float*>(kernel.data()),
                            static_cast<const float*>(recurrent.data()), ph, go_backwards, seq.data(), pw,
                            dseq.data(), dhl.data(), dx.mutable_data(), dk.mutable_data(), dr.mutable_data(),
                            has_bias ? db.mutable_data() : nullptr, dh0.mutable_data());
        }
        return py::make_tuple(dx, dk, dr, has_bias ? py::object(db) : py::object(py::none()), dh0);
      },
      py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("h0"), py::arg("go_backwards"),
      py::arg("packed"), py::arg("workspace"), py::arg("dpacked"), py::arg("has_bias"),
      "Returns (dx, dkernel, drecurrent_kernel, dbias or None, dh0).");
  m.def(
      "lstm_forward",
      [](py::array x, py::array kernel, py::array recurrent, py::object bias, py::object h0, py::object c0,
         bool go_backwards) {
        const char* op = "lstm_forward";
        Dims d = check_lstm(op, x, kernel, recurrent);
        const float* pb = nullptr;
        if (!bias.is_none()) {
          py::array b = as_array(bias, op, "bias");
          pb = in_f32(b, op, "bias", 1);
          if (b.shape(0) != 4 * d.u)
            fail_value(std::string(op) + ": `bias` must be (" + std::to_string(4 * d.u) + ",), got " +
                       shape_str(b));
        }
        const float* ph = opt_state(h0, op, "h0", d);
        const float* pc = opt_state(c0, op, "c0", d);
        auto packed = empty_f32({d.n, d.t + 2, d.u});
        auto ws = empty_f32({rnn::lstm_workspace_size(d.n, d.t, d.u)});
        // seq lives in packed[:, :T]; h_T, c_T in packed[:, T], packed[:, T+1] (written after).
        std::vector<float> seq(static_cast<size_t>(d.n * d.t * d.u)), hl(d.n * d.u), cl(d.n * d.u);
        {
          py::gil_scoped_release release;
          rnn::lstm_forward(d.n, d.t, d.i, d.u, static_cast<const float*>(x.data()),
                            static_cast<const float*>(kernel.data()),
                            static_cast<const float*>(recurrent.data()), pb, ph, pc, go_backwards, seq.data(),
                            hl.data(), cl.data(), ws.mutable_data());
          float* p = packed.mutable_data();
          for (int64_t r = 0; r < d.n; ++r) {
            float* row = p + r * (d.t + 2) * d.u;
            std::copy(seq.data() + r * d.t * d.u, seq.data() + (r + 1) * d.t * d.u, row);
            std::copy(hl.data() + r * d.u, hl.data() + (r + 1) * d.u, row + d.t * d.u);
            std::copy(cl.data() + r * d.u, cl.data() + (r + 1) * d.u, row + (d.t + 1) * d.u);
          }
        }
        return py::make_tuple(packed, ws);
      },
      py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("bias"), py::arg("h0"),
      py::arg("c0"), py::arg("go_backwards") = false,
      "Returns (packed (N, T+2, U): outputs, then h_T, then c_T; workspace).");
  m.def(
      "lstm_backward",
      [](py::array x, py::array kernel, py::array recurrent, py::object h0, py::object c0, bool go_backwards,
         py::array packed, py::array ws, py::array dpacked, bool has_bias) {
        const char* op = "lstm_backward";
        Dims d = check_lstm(op, x, kernel, recurrent);
        const float* ph = opt_state(h0, op, "h0", d);
        const float* pc = opt_state(c0, op, "c0", d);
        const float* pp = in_f32(packed, op, "packed", 3);
        const float* pd = in_f32(dpacked, op, "dpacked", 3);
        const std::vector<int64_t> pshape{d.n, d.t + 2, d.u};
        if (shape_of(packed) != pshape || shape_of(dpacked) != pshape)
          fail_value(std::string(op) + ": `packed`/`dpacked` must be " + shape_str(pshape));
        const float* pw = in_f32(ws, op, "workspace", 1);
        if (ws.shape(0) != rnn::lstm_workspace_size(d.n, d.t, d.u))
          fail_value(std::string(op) + ": `workspace` does not match these shapes");
        auto dx = empty_f32({d.n, d.t, d.i});
        auto dk = empty_f32({d.i, 4 * d.u});
        auto dr = empty_f32({d.u, 4 * d.u});
        auto db = empty_f32({4 * d.u});
        auto dh0 = empty_f32({d.n, d.u});
        auto dc0 = empty_f32({d.n, d.u});
        {
          py::gil_scoped_release release;
          std::vector<float> seq(static_cast<size_t>(d.n * d.t * d.u)), dseq(seq.size()), dhl(d.n * d.u),
              dcl(d.n * d.u);
          for (int64_t r = 0; r < d.n; ++r) {
            const float* row = pp + r * (d.t + 2) * d.u;
            const float* drow = pd + r * (d.t + 2) * d.u;
            std::copy(row, row + d.t * d.u, seq.data() + r * d.t * d.u);
            std::copy(drow, drow + d.t * d.u, dseq.data() + r * d.t * d.u);
            std::copy(drow + d.t * d.u, drow + (d.t + 1) * d.u, dhl.data() + r * d.u);
            std::copy(drow + (d.t + 1) * d.u, drow + (d.t + 2) * d.u, dcl.data() + r * d.u);
          }
          rnn::lstm_backward(d.n, d.t, d.i, d.u, static_cast<const float*>(x.data()),
                             static_cast<const float*>(kernel.data()),
                             static_cast<const float*>(recurrent.data()), ph, pc, go_backwards, seq.data(),
                             pw, dseq.data(), dhl.data(), dcl.data(), dx.mutable_data(), dk.mutable_data(),
                             dr.mutable_data(), has_bias ? db.mutable_data() : nullptr, dh0.mutable_data(),
                             dc0.mutable_data());
        }
        return py::make_tuple(dx, dk, dr, has_bias ? py::object(db) : py::object(py::none()), dh0, dc0);
      },
      py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("h0"), py::arg("c0"),
      py::arg("go_backwards"), py::arg("packed"), py::arg("workspace"), py::arg("dpacked"),
      py::arg("has_bias"), "Returns (dx, dkernel, drecurrent_kernel, dbias or None, dh0, dc0).");
}

}  // namespace bind
}  // namespace fastnet
