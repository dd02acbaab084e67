// Python binding of the compiled training plan (fastnet._C.Plan; fastnet/plan/ builds it).
// Every array handed over is checked here (dtype, C order, size): a plan never reads
// or writes past what Python gave it. Bound arrays are kept alive by the Plan object.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "array.h"
#include "plan/plan.h"

namespace fastnet {
namespace bind {

namespace py = pybind11;

void bind_plan(py::module_& m);

namespace {

struct ExtSpec {
  int64_t min_size;  // elements the plan may touch
  int dtype;         // 0: float32, 1: int32
  std::string name;
};

class PyPlan {
 public:
  plan::Plan p;
  std::vector<ExtSpec> specs;
  std::vector<py::object> keep;  // bound arrays, alive as long as the plan
  std::vector<int> streams;      // externals set per step, in run()'s per-step tuple order
  std::vector<void*> ptrs_;      // run()'s per-step stream pointers
  std::vector<py::object> hold_;

  int add_external(int64_t stride, int64_t min_size, int dtype, std::string name) {
    if (dtype != 0 && dtype != 1) throw py::value_error("Plan.add_external: dtype must be 0 or 1");
    specs.push_back(ExtSpec{min_size, dtype, std::move(name)});
    keep.emplace_back(py::none());
    return p.add_external(stride);
  }

  void* check(int k, const py::object& obj, const char* what) {
    if (k < 0 || static_cast<size_t>(k) >= specs.size())
      throw py::index_error("Plan: no external " + std::to_string(k));
    const ExtSpec& s = specs[static_cast<size_t>(k)];
    if (!py::isinstance<py::array>(obj)) {
      throw py::type_error(std::string("Plan.") + what + ": `" + s.name + "` must be a numpy array, got " +
                           std::string(py::str(py::type::of(obj).attr("__name__"))));
    }
    py::array a = py::reinterpret_borrow<py::array>(obj);
    const bool ok_dtype = s.dtype == 0 ? has_dtype<float>(a) : has_dtype<int32_t>(a);
    if (!ok_dtype) {
      throw py::type_error(std::string("Plan.") + what + ": `" + s.name + "` must be " +
                           (s.dtype == 0 ? "float32" : "int32") + ", got " + std::string(py::str(a.dtype())));
    }
    if (!(a.flags() & py::array::c_style)) {
      throw py::value_error(std::string("Plan.") + what + ": `" + s.name + "` must be C-contiguous");
    }
    if (static_cast<int64_t>(a.size()) < s.min_size) {
      throw py::value_error(std::string("Plan.") + what + ": `" + s.name + "` has " +
                            std::to_string(a.size()) + " elements, the plan needs " +
                            std::to_string(s.min_size));
    }
    if (!a.writeable()) {
      throw py::value_error(std::string("Plan.") + what + ": `" + s.name + "` must be writeable");
    }
    return const_cast<void*>(a.data());
  }

  void bind(int k, py::object obj) {
    void* ptr = check(k, obj, "bind");
    keep[static_cast<size_t>(k)] = obj;
    p.set_external(k, ptr);
  }

  py::array_t<double> run(py::sequence per_step,
                          py::array_t<double, py::array::c_style | py::array::forcecast> hyper, int mode) {
    const int steps = static_cast<int>(py::len(per_step));
    if (steps < 1) throw py::value_error("Plan.run: at least one step");
    if (mode < plan::kPredict || mode > plan::kTrain) throw py::value_error("Plan.run: bad mode");
    if (mode == plan::kTrain &&
        (hyper.ndim() != 2 || hyper.shape(0) < steps || hyper.shape(1) != p.hyper_width())) {
      throw py::value_error("Plan.run: `hyper` must have shape (steps, " + std::to_string(p.hyper_width()) +
                            ")");
    }
    // (kept between calls: no per-step heap allocation once a call of this many steps ran)
    std::vector<void*>& ptrs = ptrs_;
    ptrs.assign(static_cast<size_t>(steps) * streams.size(), nullptr);
    std::vector<py::object>& hold = hold_;  // the step tuples, alive while the plan runs
    hold.clear();
    struct Release {  // drops the step tuples however run() returns
      std::vector<py::object>& h;
      ~Release() { h.clear(); }
    } release_hold{hold};
    for (int s = 0; s < steps; ++s) {
      py::object item = per_step[s];
      py::sequence tup = py::reinterpret_borrow<py::sequence>(item);
      if (py::len(tup) != streams.size()) {
        throw py::value_error("Plan.run: step " + std::to_string(s) + " has " + std::to_string(py::len(tup)) +
                              " arrays, the plan takes " + std::to_string(streams.size()));
      }
      for (size_t j = 0; j < streams.size(); ++j) {
        ptrs[static_cast<size_t>(s) * streams.size() + j] = check(streams[j], tup[j], "run");
      }
      hold.push_back(item);
    }
    py::array_t<double> losses(
        {static_cast<py::ssize_t>(steps), static_cast<py::ssize_t>(1 + p.n_outputs())});
    double* pl = losses.mutable_data();
    const double* ph = mode == plan::kTrain ? hyper.data() : nullptr;
    {
      py::gil_scoped_release release;
      const size_t ns = streams.size();
      auto set_step = [&](int s) {
        for (size_t j = 0; j < ns; ++j) p.set_external(streams[j], ptrs[static_cast<size_t>(s) * ns + j]);
      };
      p.run(steps, mode, set_step, ph, pl);
    }
    return losses;
  }
};

}  // namespace

void bind_plan(py::module_& m) {
  py::class_<PyPlan>(m, "Plan", "A compiled training step of a static graph (built by fastnet.plan).")
      .def(py::init<>())
      .def("set_arena",
           [](PyPlan& s, int64_t floats, int64_t scratch) {
             if (floats < 0 || scratch < 0) throw py::value_error("Plan.set_arena: sizes must be >= 0");
             s.p.set_arena(floats, scratch);
           })
      .def("add_external", &PyPlan::add_external, py::arg("stride"), py::arg("min_size"), py::arg("dtype"),
           py::arg("name"))
      .def("bind", &PyPlan::bind, py::arg("k"), py::arg("array"))
      .def("set_streams", [](PyPlan& s, std::vector<int> ids) { s.streams = std::move(ids); })
      .def("add", [](PyPlan& s, int list, int op, std::vector<int64_t> ints,
                     std::vector<float> floats) { s.p.add(list, op, std::move(ints), std::move(floats)); })
      .def("finalize", [](PyPlan& s, int n_outputs, int hyper_width,
                          int64_t max_cols) { s.p.finalize(n_outputs, hyper_width, max_cols); })
      .def(
          "add_text", [](PyPlan& s, std::string text) { return s.p.add_text(std::move(text)); },
          py::arg("text"))
      .def("run", &PyPlan::run, py::arg("per_step"), py::arg("hyper"), py::arg("mode"))
      .def_property_readonly("arena_allocations", [](const PyPlan& s) { return s.p.arena_allocations(); })
      .def_property_readonly("arena_floats", [](const PyPlan& s) { return s.p.arena_floats(); })
      .def_property_readonly("runs", [](const PyPlan& s) { return s.p.runs(); })
      .def_property_readonly("n_instructions", [](const PyPlan& s) { return s.p.n_instructions(); })
      .def(
          "set_profiling", [](PyPlan& s, bool on) { s.p.set_profiling(on); }, py::arg("on"),
          "Per-instruction timing on or off (off by default); either clears the totals.")
      .def_property_readonly("profiling", [](const PyPlan& s) { return s.p.profiling(); })
      .def_property(
          "concurrent_pairs", [](const PyPlan& s) { return s.p.concurrent_pairs(); },
          [](PyPlan& s, bool on) { s.p.set_concurrent_pairs(on); },
          "On two threads, run a convolution's input and kernel gradients side by side (default on).")
      .def(
          "profile",
          [](const PyPlan& s) {
            // (list, op, seconds, calls) per instruction, in forward, loss, backward, update order
            py::list out;
            const auto& ns = s.p.profile_ns();
            const auto& calls = s.p.profile_calls();
            for (size_t j = 0; j < ns.size(); ++j) {
              const auto lo = s.p.instruction(j);
              out.append(py::make_tuple(lo.first, lo.second, static_cast<double>(ns[j]) * 1e-9, calls[j]));
            }
            return out;
          },
          "(list, op, seconds, calls) per instruction since profiling was turned on.");
  m.attr("PLAN_NONE") = py::int_(plan::kNone);
}

}  // namespace bind
}  // namespace fastnet
