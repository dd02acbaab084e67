// Picks the elementwise leaf table for the active ISA level.
#include "fastnet/cpu.h"
#include "fastnet/elementwise.h"

namespace fastnet {
namespace elementwise {

const ElementwiseTable& table() {
  return cpu::isa_table<ElementwiseTable, generic::table, avx2::table, avx512::table>();
}

}  // namespace elementwise
}  // namespace fastnet
