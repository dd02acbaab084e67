// Python bindings of the fused optimizer updates (fastnet/kernels/optim.py wraps them).
#include <vector>

#include "fastnet/optim.h"
#include "fastnet/threads.h"

#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {
namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread chunk

struct Buffers {
  int64_t n = 0;
  std::vector<float*> ptrs;  // var, slots... (writable)
  const float* grad = nullptr;
};

// var and grad must match; every slot (None allowed where optional) must match var.
Buffers check(const char* op, py::array& var, py::array& grad, std::vector<py::object> slots,
              std::vector<const char*> names) {
  Buffers b;
  b.n = static_cast<int64_t>(var.size());
  b.ptrs.push_back(out_f32(var, op, "var", shape_of(var)));
  b.grad = in_f32(grad, op, "grad");
  if (shape_of(grad) != shape_of(var)) {
    fail_value(std::string(op) + ": `grad` has shape " + shape_str(grad) + " but `var` has shape " +
               shape_str(var));
  }
  require_no_alias(var, "var", grad, "grad", op);
  for (size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].is_none()) {
      b.ptrs.push_back(nullptr);
      continue;
    }
    py::array s = as_array(slots[i], op, names[i]);
    b.ptrs.push_back(out_f32(s, op, names[i], shape_of(var)));
    require_no_alias(s, names[i], var, "var", op);
    require_no_alias(s, names[i], grad, "grad", op);
    for (size_t j = 0; j < i; ++j) {
      if (!slots[j].is_none()) require_no_alias(s, names[i], slots[j].cast<py::array>(), names[j], op);
    }
  }
  return b;
}

template <typename F>
void run(int64_t n, F f) {
  py::gil_scoped_release release;
  threads::parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) { f(i0, i1 - i0); });
}

float* at(float* p, int64_t i) { return p ? p + i : nullptr; }

}  // namespace

void bind_optim(py::module_& m) {
  m.def(
      "sgd_update",
      [](py::array var, py::array grad, py::object momentum_buf, float lr, float momentum, bool nesterov) {
        Buffers b = check("sgd_update", var, grad, {momentum_buf}, {"momentum_buf"});
        auto fn = optim::table().sgd;
        run(b.n, [&](int64_t i, int64_t len) {
          fn(b.ptrs[0] + i, b.grad + i, at(b.ptrs[1], i), len, lr, momentum, nesterov ? 1 : 0);
        });
      },
      py::arg("var"), py::arg("grad"), py::arg("momentum_buf"), py::arg("lr"), py::arg("momentum"),
      py::arg("nesterov"));
  m.def(
      "rmsprop_update",
      [](py::array var, py::array grad, py::array velocity, py::object momentum_buf, py::object average_grad,
         float lr, float rho, float momentum, float epsilon) {
        Buffers b = check("rmsprop_update", var, grad, {velocity, momentum_buf, average_grad},
                          {"velocity", "momentum_buf", "average_grad"});
        auto fn = optim::table().rmsprop;
        run(b.n, [&](int64_t i, int64_t len) {
          fn(b.ptrs[0] + i, b.grad + i, at(b.ptrs[1], i), at(b.ptrs[2], i), at(b.ptrs[3], i), len, lr, rho,
             momentum, epsilon);
        });
      },
      py::arg("var"), py::arg("grad"), py::arg("velocity"), py::arg("momentum_buf"), py::arg("average_grad"),
      py::arg("lr"), py::arg("rho"), py::arg("momentum"), py::arg("epsilon"));
  m.def(
      "adam_update",
      [](py::array var, py::array grad, py::array mom, py::array vel, py::object vhat, float alpha, float b1,
         float b2, float epsilon) {
        Buffers b =
            check("adam_update", var, grad, {mom, vel, vhat}, {"momentum", "velocity", "velocity_hat"});
        auto fn = optim::table().adam;
        run(b.n, [&](int64_t i, int64_t len) {
          fn(b.ptrs[0] + i, b.grad + i, at(b.ptrs[1], i), at(b.ptrs[2], i), at(b.ptrs[3], i), len, alpha, b1,
             b2, epsilon);
        });
      },
      py::arg("var"), py::arg("grad"), py::arg("momentum"), py::arg("velocity"), py::arg("velocity_hat"),
      py::arg("alpha"), py::arg("beta_1"), py::arg("beta_2"), py::arg("epsilon"));
  m.def(
      "adagrad_update",
      [](py::array var, py::array grad, py::array acc, float lr, float epsilon) {
        Buffers b = check("adagrad_update", var, grad, {acc}, {"accumulator"});
        auto fn = optim::table().adagrad;
        run(b.n, [&](int64_t i, int64_t len) {
          fn(b.ptrs[0] + i, b.grad + i, at(b.ptrs[1], i), len, lr, epsilon);
        });
      },
      py::arg("var"), py::arg("grad"), py::arg("accumulator"), py::arg("lr"), py::arg("epsilon"));
  m.def(
      "adadelta_update",
      [](py::array var, py::array grad, py::array acc_grad, py::array acc_delta, float lr, float rho,
         float epsilon) {
        Buffers b = check("adadelta_update", var, grad, {acc_grad, acc_delta}, {"acc_grad", "acc_delta"});
        auto fn = optim::table().adadelta;
        run(b.n, [&](int64_t i, int64_t len) {
          fn(b.ptrs[0] + i, b.grad + i, at(b.ptrs[1], i), at(b.ptrs[2], i), len, lr, rho, epsilon);
        });
      },
      py::arg("var"), py::arg("grad"), py::arg("acc_grad"), py::arg("acc_delta"), py::arg("lr"),
      py::arg("rho"), py::arg("epsilon"));
  m.def(
      "nadam_update",
      [](py::array var, py::array grad, py::array mom, py::array vel, float lr, float b1, float b2,
         float epsilon, float u_t, float u_t1, float up_t, float up_t1, float b2p) {
        Buffers b = check("nadam_update", var, grad, {mom, vel}, {"momentum", "velocity"});
        auto fn = optim::table().nadam;
        run(b.n, [&](int64_t i, int64_t len) {
          fn(b.ptrs[0] + i, b.grad + i, at(b.ptrs[1], i), at(b.ptrs[2], i), len, lr, b1, b2, epsilon, u_t,
             u_t1, up_t, up_t1, b2p);
        });
      },
      py::arg("var"), py::arg("grad"), py::arg("momentum"), py::arg("velocity"), py::arg("lr"),
      py::arg("beta_1"), py::arg("beta_2"), py::arg("epsilon"), py::arg("u_t"), py::arg("u_t1"),
      py::arg("u_product_t"), py::arg("u_product_t1"), py::arg("beta_2_power"));
}

}  // namespace bind
}  // namespace fastnet
