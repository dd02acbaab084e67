// Recurrent small-GEMM leaf compiled for the avx2 level (flags from setup.py by file name).
#include <cstdint>

#include "rnn/rnn_table.h"

#if defined(__AVX2__)
namespace fastnet {
namespace rnn {
namespace avx2 {
#define FASTNET_VBYTES 32
#define FASTNET_MR 6
#define FASTNET_LSTM_MR 2
#include "rnn/rnn_leaf.h"
#undef FASTNET_LSTM_MR
#undef FASTNET_MR
#undef FASTNET_VBYTES
}  // namespace avx2
}  // namespace rnn
}  // namespace fastnet
#else
namespace fastnet {
namespace rnn {
namespace avx2 {
RnnTable table() { return generic::table(); }
}  // namespace avx2
}  // namespace rnn
}  // namespace fastnet
#endif
