// One registration function per kernel family; module.cpp calls them all.
#pragma once
#include <pybind11/pybind11.h>

namespace fastnet {
namespace bind {

void bind_cpu(pybind11::module_& m);          // cpu.cpp: features, ISA, threads
void bind_gemm(pybind11::module_& m);         // gemm.cpp
void bind_conv(pybind11::module_& m);         // conv.cpp
void bind_pool(pybind11::module_& m);         // pool.cpp
void bind_image(pybind11::module_& m);        // image.cpp
void bind_rnn(pybind11::module_& m);          // rnn.cpp
void bind_norm(pybind11::module_& m);         // norm.cpp
void bind_elementwise(pybind11::module_& m);  // elementwise.cpp
void bind_optim(pybind11::module_& m);        // optim.cpp
void bind_embedding(pybind11::module_& m);    // embedding.cpp

}  // namespace bind
}  // namespace fastnet
