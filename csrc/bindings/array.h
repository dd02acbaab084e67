// Checks that turn numpy arrays into raw pointers for the kernels.
//
// Every Python-facing entry point goes through these: a wrong dtype raises
// TypeError, a wrong shape/contiguity/aliasing raises ValueError, each naming
// the op, the argument and the shapes. Nothing reaching a kernel can make it
// read or write out of bounds.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "fastnet/memory.h"

namespace fastnet {
namespace bind {

namespace py = pybind11;

inline std::string shape_str(const py::array& a) {
  std::ostringstream os;
  os << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) os << ", ";
    os << a.shape(i);
  }
  if (a.ndim() == 1) os << ",";
  os << ")";
  return os.str();
}

inline std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) os << ", ";
    os << s[i];
  }
  if (s.size() == 1) os << ",";
  os << ")";
  return os.str();
}

inline std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

[[noreturn]] inline void fail_value(const std::string& msg) { throw py::value_error(msg); }
[[noreturn]] inline void fail_type(const std::string& msg) { throw py::type_error(msg); }

// Whether `a` holds T's. Compared by equivalence after the identity fast path: an array
// unpickled (from a PyDataset worker process, a pickle file) has its own float32
// descriptor object, equal to numpy's but not the same one.
template <class T>
inline bool has_dtype(const py::array& a) {
  const py::dtype want = py::dtype::of<T>();
  return a.dtype().is(want) || py::detail::npy_api::get().PyArray_EquivTypes_(a.dtype().ptr(), want.ptr());
}

inline void require_float32(const py::array& a, const char* op, const char* name) {
  if (!has_dtype<float>(a)) {
    fail_type(std::string(op) + ": `" + name + "` must be float32, got dtype " +
              std::string(py::str(a.dtype())) + " with shape " + shape_str(a));
  }
}

inline void require_ndim(const py::array& a, const char* op, const char* name, int ndim) {
  if (a.ndim() != ndim) {
    fail_value(std::string(op) + ": `" + name + "` must be " + std::to_string(ndim) + "-D, got shape " +
               shape_str(a));
  }
}

// An optional argument taken as py::object (None allowed by the caller) as an array:
// anything that is not a numpy array raises TypeError instead of being reinterpreted.
inline py::array as_array(const py::object& o, const char* op, const char* name) {
  if (!py::isinstance<py::array>(o)) {
    fail_type(std::string(op) + ": `" + name + "` must be a numpy array, got " +
              std::string(py::str(py::type::of(o).attr("__name__"))));
  }
  return py::reinterpret_borrow<py::array>(o);
}

inline bool is_c_contiguous(const py::array& a) { return (a.flags() & py::array::c_style) != 0; }

// A read-only float32 C-contiguous input.
inline const float* in_f32(const py::array& a, const char* op, const char* name, int ndim = -1) {
  require_float32(a, op, name);
  if (ndim >= 0) require_ndim(a, op, name, ndim);
  if (!is_c_contiguous(a)) {
    fail_value(std::string(op) + ": `" + name + "` with shape " + shape_str(a) +
               " must be C-contiguous (use numpy.ascontiguousarray)");
  }
  return static_cast<const float*>(a.data());
}

// A writable float32 C-contiguous output of exactly `shape`.
inline float* out_f32(py::array& a, const char* op, const char* name, const std::vector<int64_t>& shape) {
  require_float32(a, op, name);
  if (shape_of(a) != shape) {
    fail_value(std::string(op) + ": `" + name + "` must have shape " + shape_str(shape) + ", got " +
               shape_str(a));
  }
  if (!a.writeable()) fail_value(std::string(op) + ": `" + name + "` is not writable");
  if (!is_c_contiguous(a)) {
    fail_value(std::string(op) + ": `" + name + "` with shape " + shape_str(a) + " must be C-contiguous");
  }
  return static_cast<float*>(a.mutable_data());
}

// Byte range [lo, hi) an array's elements can touch (handles negative strides).
inline void byte_bounds(const py::array& a, uintptr_t* lo, uintptr_t* hi) {
  uintptr_t base = reinterpret_cast<uintptr_t>(a.data());
  intptr_t low = 0, high = 0;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (a.shape(i) == 0) {
      *lo = *hi = base;
      return;
    }
    intptr_t span = static_cast<intptr_t>(a.strides(i)) * (a.shape(i) - 1);
    if (span < 0)
      low += span;
    else
      high += span;
  }
  *lo = base + low;
  *hi = base + high + a.itemsize();
}

inline bool overlaps(const py::array& a, const py::array& b) {
  uintptr_t alo, ahi, blo, bhi;
  byte_bounds(a, &alo, &ahi);
  byte_bounds(b, &blo, &bhi);
  if (alo == ahi || blo == bhi) return false;
  return alo < bhi && blo < ahi;
}

inline void require_no_alias(const py::array& out, const char* out_name, const py::array& in,
                             const char* in_name, const char* op) {
  if (overlaps(out, in)) {
    fail_value(std::string(op) + ": output `" + out_name + "` " + shape_str(out) + " overlaps input `" +
               in_name + "` " + shape_str(in) + "; pass a separate output buffer");
  }
}

// For elementwise kernels that may run in place: `out` is either exactly `in` (same start;
// both already checked C-contiguous of one shape) or does not overlap it at all. A partial
// overlap would read elements the kernel has already overwritten.
inline void require_same_or_disjoint(const py::array& out, const char* out_name, const py::array& in,
                                     const char* in_name, const char* op) {
  if (out.data() == in.data()) return;
  if (overlaps(out, in)) {
    fail_value(std::string(op) + ": output `" + out_name + "` " + shape_str(out) +
               " partially overlaps input `" + in_name + "` " + shape_str(in) +
               "; pass the input itself or a separate output buffer");
  }
}

// A new uninitialised float32 C-contiguous array. Large ones come from fastnet's
// buffer cache (fastnet/memory.h) and go back to it when numpy frees the array.
inline py::array_t<float> empty_f32(const std::vector<int64_t>& shape) {
  std::vector<py::ssize_t> s(shape.begin(), shape.end());
  size_t bytes = sizeof(float);
  for (int64_t d : shape) {
    // Negative or overflowing sizes: numpy's own constructor raises the error.
    if (d < 0 || (d > 0 && bytes > (size_t(1) << 62) / static_cast<size_t>(d))) return py::array_t<float>(s);
    bytes *= static_cast<size_t>(d);
  }
  if (bytes < memory::kMinPooledBytes) return py::array_t<float>(s);
  auto* block = new memory::Block(memory::acquire(bytes));
  py::capsule owner(block, [](void* p) {
    auto* b = static_cast<memory::Block*>(p);
    memory::release(*b);
    delete b;
  });
  return py::array_t<float>(s, static_cast<float*>(block->ptr), owner);
}

inline void require_positive(int64_t v, const char* op, const char* name) {
  if (v <= 0) fail_value(std::string(op) + ": `" + name + "` must be positive, got " + std::to_string(v));
}

}  // namespace bind
}  // namespace fastnet
