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
#define FASTNET_LSTM_MR 2
#include "rnn/rnn_leaf.h"
#undef FASTNET_LSTM_MR
#undef FASTNET_MR
#undef FASTNET_VBYTES
}  // namespace generic

const RnnTable& table() { return cpu::isa_table<RnnTable, generic::table, avx2::table, avx512::table>(); }

}  // namespace rnn
}  // namespace fastnet
