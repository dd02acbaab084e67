// Python bindings of the elementwise kernels (fastnet/kernels/elementwise.py wraps them).
#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {

void bind_elementwise(py::module_& m) {
  (void)m;  // the elementwise kernels register here as they land (issue 3)
}

}  // namespace bind
}  // namespace fastnet
