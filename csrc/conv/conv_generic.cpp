// Portable build of the conv leaf loops (conv_leaf.h). No direct tile kernel:
// the portable path runs im2col + GEMM.
#include "conv/conv_table.h"

namespace fastnet {
namespace conv {
namespace generic {
namespace {
#include "conv/conv_leaf.h"

const LeafTable kLeafTable = {im2col,
                              col2im,
                              add_bias,
                              sum_rows,
                              dw_mac,
                              dw_dot,
                              dw_forward_row,
                              {1, 1, nullptr},
                              {1, 1, nullptr},
                              {1, 1, nullptr},
                              {1, 1, nullptr},
                              wino_input,
                              wino_output,
                              wino_output_adjoint,
                              wino4_input,
                              wino4_output,
                              wino4_output_adjoint};
}  // namespace

const LeafTable* table() { return &kLeafTable; }

}  // namespace generic
}  // namespace conv
}  // namespace fastnet
