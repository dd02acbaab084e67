// Python bindings of the GEMM (fastnet/kernels/gemm.py wraps them).
//
// Operands may be strided views: when one axis has unit stride the view is
// passed as (pointer, leading dimension, transpose flag) without a copy;
// anything else (negative or doubly non-unit strides) is copied first.
#include "fastnet/gemm.h"

#include <cstring>

#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {
namespace {

struct MatView {
  const float* ptr = nullptr;
  int64_t ld = 0;
  bool trans = false;  // the stored matrix is the transpose of the logical one
  py::array keep;      // holds a contiguous copy alive when one was needed
};

// A logical rows x cols float32 matrix from a 2-D array, as (ptr, ld, trans).
MatView view_2d(const py::array& a, const char* op, const char* name) {
  require_float32(a, op, name);
  require_ndim(a, op, name, 2);
  MatView v;
  int64_t rows = a.shape(0), cols = a.shape(1);
  int64_t s0 = a.strides(0), s1 = a.strides(1);
  const int64_t f = sizeof(float);
  if ((s1 == f || cols <= 1) && s0 > 0 && s0 % f == 0 && s0 / f >= cols) {
    v.ptr = static_cast<const float*>(a.data());
    v.ld = std::max<int64_t>(s0 / f, std::max<int64_t>(cols, 1));
    v.trans = false;
  } else if ((s0 == f || rows <= 1) && s1 > 0 && s1 % f == 0 && s1 / f >= rows) {
    v.ptr = static_cast<const float*>(a.data());
    v.ld = std::max<int64_t>(s1 / f, std::max<int64_t>(rows, 1));
    v.trans = true;
  } else {
    v.keep = py::array_t < float, py::array::c_style | py::array::forcecast > (a);
    v.ptr = static_cast<const float*>(v.keep.data());
    v.ld = std::max<int64_t>(cols, 1);
    v.trans = false;
  }
  return v;
}

// gemm(a, b, c, alpha, beta, trans_a, trans_b): c = alpha*op(a)@op(b) + beta*c, in place.
void gemm_py(py::array a, py::array b, py::array c, float alpha, float beta, bool trans_a, bool trans_b) {
  const char* op = "gemm";
  MatView va = view_2d(a, op, "a"), vb = view_2d(b, op, "b");
  int64_t m = trans_a ? a.shape(1) : a.shape(0);
  int64_t k = trans_a ? a.shape(0) : a.shape(1);
  int64_t kb = trans_b ? b.shape(1) : b.shape(0);
  int64_t n = trans_b ? b.shape(0) : b.shape(1);
  if (k != kb) {
    fail_value(std::string(op) + ": inner dimensions differ: op(a) is (" + std::to_string(m) + ", " +
               std::to_string(k) + ") from a " + shape_str(a) + ", op(b) is (" + std::to_string(kb) + ", " +
               std::to_string(n) + ") from b " + shape_str(b));
  }
  float* pc = out_f32(c, op, "c", {m, n});
  require_no_alias(c, "c", a, "a", op);
  require_no_alias(c, "c", b, "b", op);
  bool ta = trans_a != va.trans, tb = trans_b != vb.trans;
  py::gil_scoped_release release;
  sgemm(ta, tb, m, n, k, alpha, va.ptr, va.ld, vb.ptr, vb.ld, beta, pc, std::max<int64_t>(n, 1));
}

// batched_matmul(a (B|1, M, K), b (B|1, K, N), c (B, M, N)); contiguous 3-D operands.
void batched_matmul_py(py::array a, py::array b, py::array c, bool trans_a, bool trans_b) {
  const char* op = "batched_matmul";
  const float* pa = in_f32(a, op, "a", 3);
  const float* pb = in_f32(b, op, "b", 3);
  int64_t ba = a.shape(0), bb = b.shape(0);
  int64_t m = trans_a ? a.shape(2) : a.shape(1), k = trans_a ? a.shape(1) : a.shape(2);
  int64_t kb = trans_b ? b.shape(2) : b.shape(1), n = trans_b ? b.shape(1) : b.shape(2);
  if (k != kb) {
    fail_value(std::string(op) + ": inner dimensions differ between a " + shape_str(a) + " and b " +
               shape_str(b));
  }
  if (ba != bb && ba != 1 && bb != 1) {
    fail_value(std::string(op) + ": batch sizes " + std::to_string(ba) + " and " + std::to_string(bb) +
               " do not broadcast (a " + shape_str(a) + ", b " + shape_str(b) + ")");
  }
  // numpy's broadcasting: a batch of 1 against an empty batch gives an empty batch (the
  // broadcast operand's single matrix must not be paired with the empty one's nonexistent one).
  int64_t batch = (ba == 0 || bb == 0) ? 0 : std::max(ba, bb);
  float* pc = out_f32(c, op, "c", {batch, m, n});
  require_no_alias(c, "c", a, "a", op);
  require_no_alias(c, "c", b, "b", op);
  int64_t lda = a.shape(2), ldb = b.shape(2);
  py::gil_scoped_release release;
  sgemm_batched(batch, trans_a, trans_b, m, n, k, 1.0f, pa, std::max<int64_t>(lda, 1), ba == 1 ? 0 : m * k,
                pb, std::max<int64_t>(ldb, 1), bb == 1 ? 0 : k * n, 0.0f, pc, std::max<int64_t>(n, 1), m * n);
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("gemm", &gemm_py, py::arg("a"), py::arg("b"), py::arg("c"), py::arg("alpha") = 1.0f,
        py::arg("beta") = 0.0f, py::arg("trans_a") = false, py::arg("trans_b") = false,
        "c = alpha * op(a) @ op(b) + beta * c in place (float32, 2-D, strided views accepted).");
  m.def("batched_matmul", &batched_matmul_py, py::arg("a"), py::arg("b"), py::arg("c"),
        py::arg("trans_a") = false, py::arg("trans_b") = false,
        "c[i] = op(a[i]) @ op(b[i]) for contiguous 3-D float32 operands (batch 1 broadcasts).");
}

}  // namespace bind
}  // namespace fastnet
