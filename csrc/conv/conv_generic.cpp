// Portable build of the conv leaf loops (conv_leaf.h).
#include "conv/conv_table.h"

namespace fastnet {
namespace conv {
namespace generic {
namespace {
#include "conv/conv_leaf.h"
}  // namespace

const LeafTable* table() { return &kLeafTable; }

}  // namespace generic
}  // namespace conv
}  // namespace fastnet
