// Recurrent small-GEMM leaf compiled for the avx512 level (flags from setup.py by file name).
#include <cstdint>

#include "rnn/rnn_table.h"

#if defined(__AVX512F__)
namespace fastnet {
namespace rnn {
namespace avx512 {
#define FASTNET_VBYTES 64
#define FASTNET_MR 8
#define FASTNET_LSTM_MR 4
#include "rnn/rnn_leaf.h"
#undef FASTNET_LSTM_MR
#undef FASTNET_MR
#undef FASTNET_VBYTES
}  // namespace avx512
}  // namespace rnn
}  // namespace fastnet
#else
namespace fastnet {
namespace rnn {
namespace avx512 {
RnnTable table() { return generic::table(); }
}  // namespace avx512
}  // namespace rnn
}  // namespace fastnet
#endif
