// Python bindings of the GEMM (fastnet/kernels/gemm.py wraps them).
#include "fastnet/gemm.h"

#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {

void bind_gemm(py::module_& m) {
  (void)m;  // sgemm / sgemm_batched bindings land with the GEMM (issue 2)
}

}  // namespace bind
}  // namespace fastnet
