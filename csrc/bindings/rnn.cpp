// Python bindings of the recurrent sequence kernels, LSTM / GRU / SimpleRNN
// (fastnet/kernels/rnn.py documents them).
#include <string>
#include <vector>

#include "fastnet/rnn.h"

#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {
namespace {

// What differs between the three cells at the binding level.
struct Cell {
  const char* name;  // "lstm", "gru", "simple_rnn"
  int gates;         // columns of the kernels per unit
  int states;        // final states appended to the outputs in `packed`
  bool bias_2d;      // GRU: bias (2, 3U)
  int64_t (*ws_size)(int64_t, int64_t, int64_t);
};

const Cell kLstm{"lstm", 4, 2, false, rnn::lstm_workspace_size};
const Cell kGru{"gru", 3, 1, true, rnn::gru_workspace_size};
const Cell kSimple{"simple_rnn", 1, 1, false, rnn::simple_rnn_workspace_size};

std::string gates_str(int g) { return g == 1 ? "units" : std::to_string(g) + "*units"; }

rnn::SeqArgs check_common(const std::string& op, const Cell& cell, const py::array& x,
                          const py::array& kernel, const py::array& recurrent) {
  const char* o = op.c_str();
  rnn::SeqArgs a;
  a.x = in_f32(x, o, "x", 3);
  a.kernel = in_f32(kernel, o, "kernel", 2);
  a.recurrent = in_f32(recurrent, o, "recurrent_kernel", 2);
  a.n = x.shape(0);
  a.t = x.shape(1);
  a.in = x.shape(2);
  a.u = recurrent.shape(0);
  const int64_t g = cell.gates * a.u;
  if (a.t < 1) fail_value(op + ": `x` must have at least one time step, got shape " + shape_str(x));
  if (a.u < 1 || recurrent.shape(1) != g)
    fail_value(op + ": `recurrent_kernel` must be (units, " + gates_str(cell.gates) + "), got " +
               shape_str(recurrent));
  if (kernel.shape(0) != a.in || kernel.shape(1) != g)
    fail_value(op + ": `kernel` must be (" + std::to_string(a.in) + ", " + std::to_string(g) + ") for x " +
               shape_str(x) + " and recurrent_kernel " + shape_str(recurrent) + ", got " + shape_str(kernel));
  return a;
}

const float* opt_state(const py::object& o, const std::string& op, const char* name, const rnn::SeqArgs& a) {
  if (o.is_none()) return nullptr;
  py::array arr = as_array(o, op.c_str(), name);
  const float* p = in_f32(arr, op.c_str(), name, 2);
  if (arr.shape(0) != a.n || arr.shape(1) != a.u)
    fail_value(op + ": `" + name + "` must be (" + std::to_string(a.n) + ", " + std::to_string(a.u) +
               "), got " + shape_str(arr));
  return p;
}

const float* opt_bias(const py::object& o, const std::string& op, const Cell& cell, const rnn::SeqArgs& a) {
  if (o.is_none()) return nullptr;
  py::array b = as_array(o, op.c_str(), "bias");
  const std::vector<int64_t> want =
      cell.bias_2d ? std::vector<int64_t>{2, cell.gates * a.u} : std::vector<int64_t>{cell.gates * a.u};
  const float* p = in_f32(b, op.c_str(), "bias");
  if (shape_of(b) != want) fail_value(op + ": `bias` must be " + shape_str(want) + ", got " + shape_str(b));
  return p;
}

const uint8_t* opt_mask(const py::object& o, const std::string& op, const rnn::SeqArgs& a) {
  if (o.is_none()) return nullptr;
  py::array m = as_array(o, op.c_str(), "mask");
  if (!has_dtype<bool>(m) && !has_dtype<uint8_t>(m))
    fail_type(op + ": `mask` must be bool or uint8, got dtype " + std::string(py::str(m.dtype())) +
              " with shape " + shape_str(m));
  const std::vector<int64_t> want{a.n, a.t};
  if (shape_of(m) != want)
    fail_value(op + ": `mask` must be (batch, steps) = " + shape_str(want) + " for x of " +
               std::to_string(a.n) + " sequences of " + std::to_string(a.t) + " steps, got " + shape_str(m));
  if (!is_c_contiguous(m)) fail_value(op + ": `mask` with shape " + shape_str(m) + " must be C-contiguous");
  return static_cast<const uint8_t*>(m.data());
}

// The dropout masks (float32, C-contiguous): in_mask (C, N, I) with C = 1 or the gate
// count, rec_mask (gates, N, U).
void opt_dropout(const py::object& in_mask, const py::object& rec_mask, const std::string& op,
                 const Cell& cell, rnn::SeqArgs& a) {
  const char* o = op.c_str();
  if (!in_mask.is_none()) {
    py::array m = as_array(in_mask, o, "in_mask");
    a.in_mask = in_f32(m, o, "in_mask", 3);
    if ((m.shape(0) != 1 && m.shape(0) != cell.gates) || m.shape(1) != a.n || m.shape(2) != a.in)
      fail_value(op + ": `in_mask` must be (1 or " + std::to_string(cell.gates) +
                 ", batch, features) = (_, " + std::to_string(a.n) + ", " + std::to_string(a.in) + "), got " +
                 shape_str(m));
    if (!is_c_contiguous(m))
      fail_value(op + ": `in_mask` with shape " + shape_str(m) + " must be C-contiguous");
    a.in_mask_count = m.shape(0);
  }
  if (!rec_mask.is_none()) {
    py::array m = as_array(rec_mask, o, "rec_mask");
    a.rec_mask = in_f32(m, o, "rec_mask", 3);
    const std::vector<int64_t> want{cell.gates, a.n, a.u};
    if (shape_of(m) != want)
      fail_value(op + ": `rec_mask` must be (gates, batch, units) = " + shape_str(want) + ", got " +
                 shape_str(m));
    if (!is_c_contiguous(m))
      fail_value(op + ": `rec_mask` with shape " + shape_str(m) + " must be C-contiguous");
  }
}

rnn::Activation parse_activation(const std::string& op, const std::string& name) {
  if (name == "tanh") return rnn::Activation::Tanh;
  if (name == "relu") return rnn::Activation::Relu;
  if (name == "sigmoid") return rnn::Activation::Sigmoid;
  if (name == "linear") return rnn::Activation::Linear;
  fail_value(op + ": `activation` must be one of 'tanh', 'relu', 'sigmoid', 'linear', got '" + name + "'");
}

// Forward: returns (packed (N, T+S, U), workspace).
template <class Run>
py::tuple forward(const Cell& cell, py::array x, py::array kernel, py::array recurrent, py::object bias,
                  py::object h0, py::object c0, bool go_backwards, py::object mask, const std::string& act,
                  py::object in_mask, py::object rec_mask, Run run) {
  const std::string op = std::string(cell.name) + "_forward";
  rnn::SeqArgs a = check_common(op, cell, x, kernel, recurrent);
  a.bias = opt_bias(bias, op, cell, a);
  a.h0 = opt_state(h0, op, "h0", a);
  a.c0 = opt_state(c0, op, "c0", a);
  a.mask = opt_mask(mask, op, a);
  a.go_backwards = go_backwards;
  a.activation = parse_activation(op, act);
  opt_dropout(in_mask, rec_mask, op, cell, a);
  auto packed = empty_f32({a.n, a.t + cell.states, a.u});
  auto ws = empty_f32({cell.ws_size(a.n, a.t, a.u)});
  a.packed = packed.mutable_data();
  {
    py::gil_scoped_release release;
    run(a, ws.mutable_data());
  }
  return py::make_tuple(packed, ws);
}

struct Grads {
  py::array_t<float> dx, dk, dr, db, dh0, dc0;
};

// Backward: checks the forward's outputs, allocates the gradients, runs.
template <class Run>
py::tuple backward(const Cell& cell, py::array x, py::array kernel, py::array recurrent, py::object h0,
                   py::object c0, bool go_backwards, py::array packed, py::array ws, py::array dpacked,
                   bool has_bias, py::object mask, const std::string& act, py::object in_mask,
                   py::object rec_mask, Run run) {
  const std::string op = std::string(cell.name) + "_backward";
  const char* o = op.c_str();
  rnn::SeqArgs a = check_common(op, cell, x, kernel, recurrent);
  a.h0 = opt_state(h0, op, "h0", a);
  a.c0 = opt_state(c0, op, "c0", a);
  a.mask = opt_mask(mask, op, a);
  a.go_backwards = go_backwards;
  a.activation = parse_activation(op, act);
  opt_dropout(in_mask, rec_mask, op, cell, a);
  const std::vector<int64_t> pshape{a.n, a.t + cell.states, a.u};
  in_f32(packed, o, "packed", 3);
  const float* pd = in_f32(dpacked, o, "dpacked", 3);
  if (shape_of(packed) != pshape || shape_of(dpacked) != pshape)
    fail_value(op + ": `packed`/`dpacked` must be " + shape_str(pshape) + ", got " + shape_str(packed) +
               " and " + shape_str(dpacked));
  const float* pw = in_f32(ws, o, "workspace", 1);
  if (ws.shape(0) != cell.ws_size(a.n, a.t, a.u))
    fail_value(op + ": `workspace` " + shape_str(ws) + " does not match these shapes (expected " +
               std::to_string(cell.ws_size(a.n, a.t, a.u)) + " floats)");
  const int64_t g = cell.gates * a.u;
  Grads gr;
  gr.dx = empty_f32({a.n, a.t, a.in});
  gr.dk = empty_f32({a.in, g});
  gr.dr = empty_f32({a.u, g});
  gr.db = cell.bias_2d ? empty_f32({2, g}) : empty_f32({g});
  gr.dh0 = empty_f32({a.n, a.u});
  gr.dc0 = empty_f32({a.n, a.u});
  {
    py::gil_scoped_release release;
    run(a, pw, pd, gr.dx.mutable_data(), gr.dk.mutable_data(), gr.dr.mutable_data(),
        has_bias ? gr.db.mutable_data() : nullptr, gr.dh0.mutable_data(), gr.dc0.mutable_data());
  }
  py::object db = has_bias ? py::object(gr.db) : py::object(py::none());
  if (cell.states == 2) return py::make_tuple(gr.dx, gr.dk, gr.dr, db, gr.dh0, gr.dc0);
  return py::make_tuple(gr.dx, gr.dk, gr.dr, db, gr.dh0);
}

}  // namespace

void bind_rnn(py::module_& m) {
  m.def(
      "lstm_forward",
      [](py::array x, py::array kernel, py::array recurrent, py::object bias, py::object h0, py::object c0,
         bool go_backwards, py::object mask, py::object in_mask, py::object rec_mask) {
        return forward(kLstm, x, kernel, recurrent, bias, h0, c0, go_backwards, mask, "tanh", in_mask,
                       rec_mask, [](const rnn::SeqArgs& a, float* ws) { rnn::lstm_forward(a, ws); });
      },
      py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("bias"), py::arg("h0"),
      py::arg("c0"), py::arg("go_backwards") = false, py::arg("mask") = py::none(),
      py::arg("in_mask") = py::none(), py::arg("rec_mask") = py::none(),
      "Returns (packed (N, T+2, U): outputs, then h_T, then c_T; workspace).");
  m.def(
      "lstm_backward",
      [](py::array x, py::array kernel, py::array recurrent, py::object h0, py::object c0, bool go_backwards,
         py::array packed, py::array ws, py::array dpacked, bool has_bias, py::object mask,
         py::object in_mask, py::object rec_mask) {
        return backward(
            kLstm, x, kernel, recurrent, h0, c0, go_backwards, packed, ws, dpacked, has_bias, mask, "tanh",
            in_mask, rec_mask,
            [](const rnn::SeqArgs& a, const float* w, const float* d, float* dx, float* dk, float* dr,
               float* db, float* dh0, float* dc0) { rnn::lstm_backward(a, w, d, dx, dk, dr, db, dh0, dc0); });
      },
      py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("h0"), py::arg("c0"),
      py::arg("go_backwards"), py::arg("packed"), py::arg("workspace"), py::arg("dpacked"),
      py::arg("has_bias"), py::arg("mask") = py::none(), py::arg("in_mask") = py::none(),
      py::arg("rec_mask") = py::none(), "Returns (dx, dkernel, drecurrent_kernel, dbias or None, dh0, dc0).");
  m.def(
      "gru_forward",
      [](py::array x, py::array kernel, py::array recurrent, py::object bias, py::object h0,
         bool go_backwards, py::object mask, py::object in_mask, py::object rec_mask) {
        return forward(kGru, x, kernel, recurrent, bias, h0, py::none(), go_backwards, mask, "tanh", in_mask,
                       rec_mask, [](const rnn::SeqArgs& a, float* ws) { rnn::gru_forward(a, ws); });
      },
      py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("bias"), py::arg("h0"),
      py::arg("go_backwards") = false, py::arg("mask") = py::none(), py::arg("in_mask") = py::none(),
      py::arg("rec_mask") = py::none(), "Returns (packed (N, T+1, U): outputs, then h_T; workspace).");
  m.def(
      "gru_backward",
      [](py::array x, py::array kernel, py::array recurrent, py::object h0, bool go_backwards,
         py::array packed, py::array ws, py::array dpacked, bool has_bias, py::object mask,
         py::object in_mask, py::object rec_mask) {
        return backward(
            kGru, x, kernel, recurrent, h0, py::none(), go_backwards, packed, ws, dpacked, has_bias, mask,
            "tanh", in_mask, rec_mask,
            [](const rnn::SeqArgs& a, const float* w, const float* d, float* dx, float* dk, float* dr,
               float* db, float* dh0, float*) { rnn::gru_backward(a, w, d, dx, dk, dr, db, dh0); });
      },
      py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("h0"), py::arg("go_backwards"),
      py::arg("packed"), py::arg("workspace"), py::arg("dpacked"), py::arg("has_bias"),
      py::arg("mask") = py::none(), py::arg("in_mask") = py::none(), py::arg("rec_mask") = py::none(),
      "Returns (dx, dkernel, drecurrent_kernel, dbias or None, dh0).");
  m.def(
      "simple_rnn_forward",
      [](py::array x, py::array kernel, py::array recurrent, py::object bias, py::object h0,
         bool go_backwards, py::object mask, const std::string& activation, py::object in_mask,
         py::object rec_mask) {
        return forward(kSimple, x, kernel, recurrent, bias, h0, py::none(), go_backwards, mask, activation,
                       in_mask, rec_mask,
                       [](const rnn::SeqArgs& a, float* ws) { rnn::simple_rnn_forward(a, ws); });
      },
      py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("bias"), py::arg("h0"),
      py::arg("go_backwards") = false, py::arg("mask") = py::none(), py::arg("activation") = "tanh",
      py::arg("in_mask") = py::none(), py::arg("rec_mask") = py::none(),
      "Returns (packed (N, T+1, U): outputs, then h_T; workspace).");
  m.def(
      "simple_rnn_backward",
      [](py::array x, py::array kernel, py::array recurrent, py::object h0, bool go_backwards,
         py::array packed, py::array ws, py::array dpacked, bool has_bias, py::object mask,
         const std::string& activation, py::object in_mask, py::object rec_mask) {
        return backward(
            kSimple, x, kernel, recurrent, h0, py::none(), go_backwards, packed, ws, dpacked, has_bias, mask,
            activation, in_mask, rec_mask,
            [](const rnn::SeqArgs& a, const float* w, const float* d, float* dx, float* dk, float* dr,
               float* db, float* dh0, float*) { rnn::simple_rnn_backward(a, w, d, dx, dk, dr, db, dh0); });
      },
      py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("h0"), py::arg("go_backwards"),
      py::arg("packed"), py::arg("workspace"), py::arg("dpacked"), py::arg("has_bias"),
      py::arg("mask") = py::none(), py::arg("activation") = "tanh", py::arg("in_mask") = py::none(),
      py::arg("rec_mask") = py::none(), "Returns (dx, dkernel, drecurrent_kernel, dbias or None, dh0).");
}

}  // namespace bind
}  // namespace fastnet
