// Picks the optimizer leaf table for the active ISA level.
#include "fastnet/cpu.h"
#include "fastnet/optim.h"

namespace fastnet {
namespace optim {

const OptimTable& table() {
  static const OptimTable t_generic = generic::table();
  static const OptimTable t_avx2 = avx2::table();
  static const OptimTable t_avx512 = avx512::table();
  switch (cpu::isa()) {
    case cpu::Isa::Avx512: return t_avx512;
    case cpu::Isa::Avx2: return t_avx2;
    default: return t_generic;
  }
}

}  // namespace optim
}  // namespace fastnet
