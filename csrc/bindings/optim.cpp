// Python bindings of the optim kernels (fastnet/kernels/optim.py wraps them).
#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {

void bind_optim(py::module_& m) {
  (void)m;  // the optim kernels register here as they land (issue 3)
}

}  // namespace bind
}  // namespace fastnet
