// 2-D pooling kernels (max and average, TensorFlow 'valid'/'same' padding),
// channels-last, forward and backward. 1-D pooling runs as 2-D with height 1.
#pragma once
#include <cstdint>

namespace fastnet {
namespace pool {

struct PoolTable {
  void (*max_fwd)(const float*, float*, int32_t*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                  int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
  void (*max_bwd)(const float*, const int32_t*, float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                  int64_t);
  void (*avg_fwd)(const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                  int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
  void (*avg_bwd)(const float*, float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                  int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
};

const PoolTable& table();

namespace generic {
PoolTable table();
}
namespace avx2 {
PoolTable table();
}
namespace avx512 {
PoolTable table();
}

}  // namespace pool
}  // namespace fastnet
