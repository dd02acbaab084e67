// Python bindings of the pool kernels (fastnet/kernels/pool.py wraps them).
#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {

void bind_pool(py::module_& m) {
  (void)m;  // the pool kernels register here as they land (issue 3)
}

}  // namespace bind
}  // namespace fastnet
