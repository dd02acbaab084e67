// fastnet._C: the compiled kernels. Pure-Python modules under fastnet/
// (fastnet.kernels.*, fastnet.config) re-export and document these.
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {
void bind_plan(pybind11::module_& m);  // plan.cpp: the compiled training plan
}  // namespace bind
}  // namespace fastnet

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastnet compiled kernels (C++17, per-ISA dispatch)";
  fastnet::bind::bind_cpu(m);
  fastnet::bind::bind_gemm(m);
  fastnet::bind::bind_conv(m);
  fastnet::bind::bind_pool(m);
  fastnet::bind::bind_image(m);
  fastnet::bind::bind_rnn(m);
  fastnet::bind::bind_norm(m);
  fastnet::bind::bind_elementwise(m);
  fastnet::bind::bind_optim(m);
  fastnet::bind::bind_embedding(m);
  fastnet::bind::bind_plan(m);
}
