// Python bindings of the Embedding kernels (fastnet/kernels/embedding.py documents them).
#include <string>
#include <vector>

#include "fastnet/embedding.h"

#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {
namespace {

// The indices as a C-contiguous int32 or int64 array (TypeError / ValueError otherwise).
bool check_indices(const py::array& idx, const char* op) {
  const bool i32 = has_dtype<int32_t>(idx);
  if (!i32 && !has_dtype<int64_t>(idx))
    fail_type(std::string(op) + ": `indices` must be int32 or int64, got dtype " +
              std::string(py::str(idx.dtype())) + " with shape " + shape_str(idx));
  if (!is_c_contiguous(idx))
    fail_value(std::string(op) + ": `indices` with shape " + shape_str(idx) + " must be C-contiguous");
  return i32;
}

// Raises IndexError naming `where`, the bad index and its position, if any index is
// outside [0, rows).
void check_range(const py::array& idx, bool i32, int64_t rows, const std::string& where) {
  const int64_t m = static_cast<int64_t>(idx.size());
  const int64_t bad = i32 ? embedding::first_out_of_range(static_cast<const int32_t*>(idx.data()), m, rows)
                          : embedding::first_out_of_range(static_cast<const int64_t*>(idx.data()), m, rows);
  if (bad < 0) return;
  const int64_t v =
      i32 ? static_cast<const int32_t*>(idx.data())[bad] : static_cast<const int64_t*>(idx.data())[bad];
  std::vector<int64_t> pos(static_cast<size_t>(idx.ndim()));
  int64_t rest = bad;
  for (py::ssize_t k = idx.ndim() - 1; k >= 0; --k) {
    pos[static_cast<size_t>(k)] = rest % idx.shape(k);
    rest /= idx.shape(k);
  }
  std::string p = "(";
  for (size_t k = 0; k < pos.size(); ++k) p += (k ? ", " : "") + std::to_string(pos[k]);
  p += pos.size() == 1 ? ",)" : ")";
  throw py::index_error(where + ": index " + std::to_string(v) + " at position " + p + " of the indices " +
                        shape_str(idx) + " is out of range: it must be in [0, " + std::to_string(rows) + ")");
}

std::vector<int64_t> with_cols(const py::array& idx, int64_t d) {
  std::vector<int64_t> s = shape_of(idx);
  s.push_back(d);
  return s;
}

py::array lookup(const py::array& table, const py::array& idx, const std::string& where) {
  const char* op = "embedding_lookup";
  const float* tp = in_f32(table, op, "table", 2);
  const bool i32 = check_indices(idx, op);
  const int64_t rows = table.shape(0), d = table.shape(1), m = static_cast<int64_t>(idx.size());
  check_range(idx, i32, rows, where);
  py::array_t<float> out = empty_f32(with_cols(idx, d));
  float* op_ = out.mutable_data();
  {
    py::gil_scoped_release release;
    if (i32)
      embedding::gather(tp, d, static_cast<const int32_t*>(idx.data()), m, op_);
    else
      embedding::gather(tp, d, static_cast<const int64_t*>(idx.data()), m, op_);
  }
  return std::move(out);
}

py::array grad(const py::array& idx, const py::array& g, int64_t rows, const std::string& where) {
  const char* op = "embedding_grad";
  const bool i32 = check_indices(idx, op);
  const float* gp = in_f32(g, op, "grad");
  if (rows < 0) fail_value(std::string(op) + ": `rows` must be >= 0, got " + std::to_string(rows));
  if (g.ndim() != idx.ndim() + 1)
    fail_value(std::string(op) + ": `grad` must be indices.shape + (dim,) = " +
               shape_str(with_cols(idx, -1)) + ", got " + shape_str(g));
  const int64_t d = g.shape(g.ndim() - 1), m = static_cast<int64_t>(idx.size());
  if (shape_of(g) != with_cols(idx, d))
    fail_value(std::string(op) + ": `grad` must be indices.shape + (dim,) = " + shape_str(with_cols(idx, d)) +
               ", got " + shape_str(g));
  check_range(idx, i32, rows, where);
  py::array_t<float> out = empty_f32({rows, d});
  float* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    if (i32)
      embedding::scatter_add(static_cast<const int32_t*>(idx.data()), m, gp, d, rows, o);
    else
      embedding::scatter_add(static_cast<const int64_t*>(idx.data()), m, gp, d, rows, o);
  }
  return std::move(out);
}

}  // namespace

void bind_embedding(py::module_& m) {
  m.def("embedding_lookup", &lookup, py::arg("table"), py::arg("indices"),
        py::arg("where") = "embedding_lookup",
        "out = table[indices] (table (rows, dim) float32; indices int32/int64 of any shape, each in "
        "[0, rows), else IndexError naming `where`, the index and its position).");
  m.def("embedding_grad", &grad, py::arg("indices"), py::arg("grad"), py::arg("rows"),
        py::arg("where") = "embedding_grad",
        "The dense (rows, dim) gradient of table[indices]: zeros, plus each grad row added at its index.");
}

}  // namespace bind
}  // namespace fastnet
