// Python bindings of the rnn kernels (fastnet/kernels/rnn.py wraps them).
#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {

void bind_rnn(py::module_& m) {
  (void)m;  // the rnn kernels register here as they land (issue 3)
}

}  // namespace bind
}  // namespace fastnet
