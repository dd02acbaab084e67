// Embedding lookup (a row gather) and its gradient (a row scatter-add into a dense
// table gradient), for int32 or int64 indices. The callers check the indices first
// (first_out_of_range): the kernels index the table without bounds checks.
#pragma once
#include <cstdint>

namespace fastnet {
namespace embedding {

// Position of the first index outside [0, rows), or -1 when all are in range.
int64_t first_out_of_range(const int32_t* idx, int64_t m, int64_t rows);
int64_t first_out_of_range(const int64_t* idx, int64_t m, int64_t rows);

// out (m, d) = table[idx] (table is rows x d; every index in range).
void gather(const float* table, int64_t d, const int32_t* idx, int64_t m, float* out);
void gather(const float* table, int64_t d, const int64_t* idx, int64_t m, float* out);

// out (rows, d) = zeros, then out[idx[i]] += g[i] for i in [0, m), in index order for
// every row (the same bits on any thread count). Threads own blocks of table rows:
// each zero-fills its block and adds the gradient rows that land in it.
void scatter_add(const int32_t* idx, int64_t m, const float* g, int64_t d, int64_t rows, float* out);
void scatter_add(const int64_t* idx, int64_t m, const float* g, int64_t d, int64_t rows, float* out);

}  // namespace embedding
}  // namespace fastnet
