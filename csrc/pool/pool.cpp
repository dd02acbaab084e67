// Picks the pooling leaf table for the active ISA level.
#include "fastnet/cpu.h"
#include "fastnet/pool.h"

namespace fastnet {
namespace pool {

const PoolTable& table() {
  static const PoolTable t_generic = generic::table();
  static const PoolTable t_avx2 = avx2::table();
  static const PoolTable t_avx512 = avx512::table();
  switch (cpu::isa()) {
    case cpu::Isa::Avx512: return t_avx512;
    case cpu::Isa::Avx2: return t_avx2;
    default: return t_generic;
  }
}

}  // namespace pool
}  // namespace fastnet
