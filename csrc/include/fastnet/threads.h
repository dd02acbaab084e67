// One process-wide worker pool shared by every kernel.
//
// Rules that keep it from oversubscribing the machine:
//  * the pool has num_threads()-1 workers; the calling thread is the last one;
//  * a parallel region started from inside a worker (nested) runs serially;
//  * a region started while another Python thread owns the pool runs serially
//    in its caller instead of waiting (concurrent inference stays correct and
//    never puts more than num_threads() threads on the cores);
//  * regions below a grain size run serially (threads cost ~µs to wake): a
//    kernel on a handful of elements never wakes a worker.
#pragma once
#include <cstdint>
#include <functional>

namespace fastnet {
namespace threads {

int num_threads();
// n <= 0 resets to the default (FASTNET_NUM_THREADS, else the core count).
void set_num_threads(int n);
int default_num_threads();

// Calls fn(tid, nthreads) once on each of nthreads threads (nthreads is at
// most num_threads(); it is 1 when nested or when the pool is busy).
void parallel_run(int nthreads, const std::function<void(int, int)>& fn);

// Splits [0, n) into contiguous chunks of about `grain` items or more and calls
// fn(begin, end) for each, spread over the pool (a few chunks per thread, taken
// by whichever thread is free; the boundaries depend on n, grain and
// num_threads() only). Serial, one call fn(0, n), when n <= grain.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Counters since the last reset_stats(), for tests and tuning: regions run on
// more than one thread, regions run on the caller alone, and the wake-up calls
// made for sleeping workers.
struct ThreadStats {
  uint64_t parallel_regions = 0, serial_regions = 0, wakeups = 0;
};
ThreadStats stats();
void reset_stats();

// True inside a pool worker or inside a parallel region's caller.
bool in_parallel_region();

// ---- determinism mode (fastnet.config.enable_determinism) ----
// Off by default. When on, every reduction that threads split (conv kernel and bias
// gradients, batch/layer-norm statistics and gradients, bias sums, GEMM's choice of
// path) partitions its work by the problem's size only, never by the thread count,
// and combines the partial results in a fixed order: the same inputs give the same
// bits on 1, 2 or N threads.
bool deterministic();
void set_deterministic(bool on);

// Runs fn(part, nparts) once for every part of a reduction and returns nparts; the
// caller combines the parts' partial results in part order. Off: one part per
// thread that runs (nparts <= num_threads(), as parallel_run). On: exactly
// `fixed_parts` parts (a function of the problem only), spread over the pool.
int parallel_parts(int64_t fixed_parts, const std::function<void(int, int)>& fn);

// The part count a deterministic reduction over `units` uses: one part per `grain`
// units, at most kMaxDeterministicParts, and few enough that `part_bytes` per part
// fit in 64 MiB. Depends only on its arguments.
constexpr int kMaxDeterministicParts = 16;
int deterministic_parts(int64_t units, int64_t grain, int64_t part_bytes);

}  // namespace threads
}  // namespace fastnet
