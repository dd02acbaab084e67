// avx512 build of the conv leaf loops (conv_leaf.h); setup.py adds the flags by file name.
#include "conv/conv_table.h"

namespace fastnet {
namespace conv {
namespace avx512 {
#ifdef __AVX512F__
namespace {
#include "conv/conv_leaf.h"
}  // namespace

const LeafTable* table() { return &kLeafTable; }
#else
const LeafTable* table() { return nullptr; }
#endif

}  // namespace avx512
}  // namespace conv
}  // namespace fastnet
