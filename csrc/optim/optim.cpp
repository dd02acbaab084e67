// Picks the optimizer leaf table for the active ISA level.
#include "fastnet/cpu.h"
#include "fastnet/optim.h"

namespace fastnet {
namespace optim {

const OptimTable& table() { return cpu::isa_table<OptimTable, generic::table, avx2::table, avx512::table>(); }

}  // namespace optim
}  // namespace fastnet
