// Picks the pooling leaf table for the active ISA level.
#include "fastnet/cpu.h"
#include "fastnet/pool.h"

namespace fastnet {
namespace pool {

const PoolTable& table() { return cpu::isa_table<PoolTable, generic::table, avx2::table, avx512::table>(); }

}  // namespace pool
}  // namespace fastnet
