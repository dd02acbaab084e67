// Picks the elementwise leaf table for the active ISA level.
#include "fastnet/cpu.h"
#include "fastnet/elementwise.h"

namespace fastnet {
namespace elementwise {

const ElementwiseTable& table() {
  static const ElementwiseTable t_generic = generic::table();
  static const ElementwiseTable t_avx2 = avx2::table();
  static const ElementwiseTable t_avx512 = avx512::table();
  switch (cpu::isa()) {
    case cpu::Isa::Avx512: return t_avx512;
    case cpu::Isa::Avx2: return t_avx2;
    default: return t_generic;
  }
}

}  // namespace elementwise
}  // namespace fastnet
