// Recurrent small-GEMM leaf for the portable baseline (SSE2 vectors), and the
// table picked for the active ISA level.
#include <cstdint>

#include "fastnet/cpu.h"
#include "rnn/rnn_table.h"

namespace fastnet {
namespace rnn {
namespace generic {
#define FASTNET_VBYTES 16
#define FASTNET_MR 6
#include "rnn/rnn_leaf.h"
#undef FASTNET_MR
#undef FASTNET_VBYTES
}  // namespace generic

const RnnTable& table() {
  static const RnnTable t_generic = generic::table();
  static const RnnTable t_avx2 = avx2::table();
  static const RnnTable t_avx512 = avx512::table();
  switch (cpu::isa()) {
    case cpu::Isa::Avx512: return t_avx512;
    case cpu::Isa::Avx2: return t_avx2;
    default: return t_generic;
  }
}

}  // namespace rnn
}  // namespace fastnet
