// avx2 build of the conv leaf loops (conv_leaf.h); setup.py adds the flags by file name.
#include "conv/conv_table.h"

namespace fastnet {
namespace conv {
namespace avx2 {
#ifdef __AVX2__
namespace {
#include "conv/conv_leaf.h"
}  // namespace

const LeafTable* table() { return &kLeafTable; }
#else
const LeafTable* table() { return nullptr; }
#endif

}  // namespace avx2
}  // namespace conv
}  // namespace fastnet
