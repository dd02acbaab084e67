// The process-wide worker pool (see fastnet/threads.h for the rules).
//
// Workers wait on a generation counter: they spin for a while after a job (the
// next kernel usually follows within tens of microseconds: the Python between
// two kernels of a training step) and then sleep on a condition variable, so
// an idle process costs no CPU. The caller only makes the wake-up system call
// when some worker actually sleeps.
//
// parallel_for hands out chunks from a shared counter: the chunk boundaries are
// a function of (n, grain, threads) only, so results never depend on which
// thread ran a chunk, but a worker that starts late (woken from sleep, or
// preempted on a busy machine) takes fewer chunks instead of holding up the
// caller.
#include "fastnet/threads.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FASTNET_PAUSE() _mm_pause()
#else
#define FASTNET_PAUSE() std::this_thread::yield()
#endif

namespace fastnet {
namespace threads {
namespace {

thread_local bool t_in_region = false;

// parallel_for's chunks per thread (load balance against late or preempted workers).
constexpr int kChunksPerThread = 4;

// How long a worker keeps polling for the next job after finishing one before it
// sleeps (the Python between two kernels of a training step takes tens of
// microseconds), and how long of that it polls with PAUSE before it starts
// yielding the core to other runnable threads. Measured by the clock, not by
// PAUSE counts: a PAUSE costs ~3 cycles on one CPU and ~140 on another.
constexpr int64_t kWorkerSpinNs = 300 * 1000;
constexpr int64_t kPauseOnlyNs = 30 * 1000;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Polls `done()` for up to `budget_ns`: PAUSE for the first kPauseOnlyNs, then
// sched_yield between polls (on a loaded machine the core goes to whoever can use it).
template <class Done>
bool spin_until(Done&& done, int64_t budget_ns) {
  const int64_t start = now_ns();
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      if (done()) return true;
      FASTNET_PAUSE();
    }
    const int64_t t = now_ns() - start;
    if (t >= budget_ns) return done();
    if (t >= kPauseOnlyNs) std::this_thread::yield();
  }
}

// Counters for tests and tuning (fastnet.config.thread_stats).
std::atomic<uint64_t> g_parallel_regions{0}, g_serial_regions{0}, g_wakeups{0};

// A job's parts (the tids of parallel_run) are claimed one at a time from `claim_`,
// which packs (job generation << 32 | parts claimed): every thread, the caller
// included, claims parts until none is left. The caller then waits only for the
// parts that workers claimed and are running, never for a worker that has not
// started yet (still waking up, or preempted on a busy machine): the caller runs
// its parts instead. Each part runs exactly once, on one thread.
class Pool {
 public:
  explicit Pool(int nthreads) : size_(nthreads) {
    for (int tid = 1; tid < nthreads; ++tid) workers_.emplace_back([this] { worker_loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_work_.notify_all();
    for (auto& w : workers_) w.join();
  }
  int size() const { return size_; }

  // Runs fn(part, n) for part in [0, n); the caller runs part 0 and any part no
  // worker has claimed. n <= size().
  void run(int n, const std::function<void(int, int)>& fn) {
    error_ = nullptr;
    int sleeping;
    uint32_t gen;
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = &fn;
      job_parts_ = n;
      finished_.store(0, std::memory_order_relaxed);
      gen = static_cast<uint32_t>(generation_.load(std::memory_order_relaxed) + 1);
      claim_.store(static_cast<uint64_t>(gen) << 32 | 1u, std::memory_order_relaxed);  // part 0: caller
      generation_.fetch_add(1, std::memory_order_release);
      sleeping = sleepers_;
    }
    // Spinning workers see the new generation by themselves; only sleepers need the
    // system call (a futex wake, and on a VM an inter-processor interrupt).
    if (sleeping > 0) {
      cv_work_.notify_all();
      g_wakeups.fetch_add(1, std::memory_order_relaxed);
    }
    t_in_region = true;
    int mine = 0;
    for (int part = 0; part >= 0; part = take(gen, n)) {
      run_part(fn, part, n);
      ++mine;
    }
    t_in_region = false;
    // The other parts were claimed by running workers: wait for them to finish.
    auto done = [&] { return finished_.load(std::memory_order_acquire) == n - mine; };
    if (!spin_until(done, kWorkerSpinNs)) {
      std::unique_lock<std::mutex> lk(mu_);
      cv_done_.wait(lk, done);
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Claims the next part of job `gen` (of n parts), or -1 when none is left or the
  // job is no longer the current one.
  int take(uint32_t gen, int n) {
    uint64_t v = claim_.load(std::memory_order_acquire);
    for (;;) {
      if (static_cast<uint32_t>(v >> 32) != gen) return -1;
      const int claimed = static_cast<int>(v & 0xffffffffu);
      if (claimed >= n) return -1;
      if (claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire))
        return claimed;
    }
  }

  void run_part(const std::function<void(int, int)>& fn, int part, int n) {
    try {
      fn(part, n);
    } catch (...) {
      record_error(std::current_exception());
    }
  }

  void record_error(std::exception_ptr e) {
    std::lock_guard<std::mutex> lk(err_mu_);
    if (!error_) error_ = e;
  }

  void worker_loop() {
    t_in_region = true;
    uint64_t seen = 0;
    for (;;) {
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }, kWorkerSpinNs);
      // Take a consistent snapshot of the job under the lock: a worker that
      // sat out the previous job must never mix its generation with the
      // next job's parameters (take() rejects a stale generation).
      const std::function<void(int, int)>* job;
      int parts;
      {
        std::unique_lock<std::mutex> lk(mu_);
        if (generation_.load(std::memory_order_acquire) == seen) {
          ++sleepers_;
          cv_work_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen; });
          --sleepers_;
        }
        seen = generation_.load(std::memory_order_acquire);
        if (stop_) return;
        job = job_;
        parts = job_parts_;
      }
      if (!job) continue;
      const uint32_t gen = static_cast<uint32_t>(seen);
      for (int part; (part = take(gen, parts)) >= 0;) {
        run_part(*job, part, parts);
        finished_.fetch_add(1, std::memory_order_acq_rel);
        // The caller may be asleep on cv_done_: notify under the lock (no lost wake-up).
        std::lock_guard<std::mutex> lk(mu_);
        cv_done_.notify_one();
      }
    }
  }

  int size_;
  std::vector<std::thread> workers_;
  std::mutex mu_, err_mu_;
  std::condition_variable cv_work_, cv_done_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> finished_{0};  // parts finished by workers
  const std::function<void(int, int)>* job_ = nullptr;
  int job_parts_ = 0;
  int sleepers_ = 0;  // guarded by mu_
  bool stop_ = false;
  std::exception_ptr error_;
};

std::mutex g_owner;               // held by the thread running a parallel region
std::atomic<int> g_requested{0};  // 0 = default
Pool* g_pool = nullptr;           // guarded by g_owner; leaked at exit on purpose
std::once_flag g_atfork_once;

int read_env_threads() {
  if (const char* env = std::getenv("FASTNET_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  return 0;
}

void after_fork_in_child() {
  // The child has no workers: forget the pool (its threads are gone) and
  // release the owner lock in case the fork happened mid-region.
  g_pool = nullptr;
  new (&g_owner) std::mutex();
}

Pool* pool_for(int n) {  // requires g_owner
  std::call_once(g_atfork_once, [] { pthread_atfork(nullptr, nullptr, after_fork_in_child); });
  if (g_pool && g_pool->size() != n) {
    delete g_pool;
    g_pool = nullptr;
  }
  if (!g_pool) g_pool = new Pool(n);
  return g_pool;
}

}  // namespace

int default_num_threads() {
  int env = read_env_threads();
  if (env > 0) return env;
  // hardware_concurrency() reads /sys on every call (microseconds, and every
  // kernel asks): ask once.
  static const int hw = [] {
    unsigned hc = std::thread::hardware_concurrency();
    return hc > 0 ? static_cast<int>(hc) : 1;
  }();
  return hw;
}

int num_threads() {
  int n = g_requested.load(std::memory_order_relaxed);
  return n > 0 ? n : default_num_threads();
}

void set_num_threads(int n) { g_requested.store(n > 0 ? n : 0); }

bool in_parallel_region() { return t_in_region; }

void parallel_run(int nthreads, const std::function<void(int, int)>& fn) {
  int total = num_threads();
  if (nthreads > total) nthreads = total;
  if (nthreads <= 1 || t_in_region) {
    g_serial_regions.fetch_add(1, std::memory_order_relaxed);
    fn(0, 1);
    return;
  }
  std::unique_lock<std::mutex> lk(g_owner, std::try_to_lock);
  if (!lk.owns_lock()) {  // another Python thread is using the pool
    g_serial_regions.fetch_add(1, std::memory_order_relaxed);
    fn(0, 1);
    return;
  }
  g_parallel_regions.fetch_add(1, std::memory_order_relaxed);
  pool_for(total)->run(nthreads, fn);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t max_chunks = (n + grain - 1) / grain;
  const int nt = num_threads();
  const int want = static_cast<int>(std::min<int64_t>(max_chunks, nt));
  if (want <= 1 || t_in_region) {
    g_serial_regions.fetch_add(1, std::memory_order_relaxed);
    fn(0, n);
    return;
  }
  // A few chunks per thread, taken from a shared counter. Chunk c is always
  // [n*c/chunks, n*(c+1)/chunks): which thread runs it never changes the result.
  const int64_t chunks = std::min<int64_t>(max_chunks, int64_t{kChunksPerThread} * want);
  std::atomic<int64_t> next{0};
  parallel_run(want, [&](int, int) {
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks;) {
      const int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
      if (begin < end) fn(begin, end);
    }
  });
}

ThreadStats stats() {
  ThreadStats s;
  s.parallel_regions = g_parallel_regions.load(std::memory_order_relaxed);
  s.serial_regions = g_serial_regions.load(std::memory_order_relaxed);
  s.wakeups = g_wakeups.load(std::memory_order_relaxed);
  return s;
}

void reset_stats() {
  g_parallel_regions.store(0);
  g_serial_regions.store(0);
  g_wakeups.store(0);
}

namespace {
std::atomic<bool> g_deterministic{[] {
  const char* env = std::getenv("FASTNET_DETERMINISTIC");
  return env != nullptr && env[0] != '\0' && !(env[0] == '0' && env[1] == '\0');
}()};
}  // namespace

bool deterministic() { return g_deterministic.load(std::memory_order_relaxed); }
void set_deterministic(bool on) { g_deterministic.store(on); }

int parallel_parts(int64_t fixed_parts, const std::function<void(int, int)>& fn) {
  if (!deterministic()) {
    int used = 1;
    parallel_run(num_threads(), [&](int tid, int n) {
      if (tid == 0) used = n;
      fn(tid, n);
    });
    return used;
  }
  const int np = static_cast<int>(std::max<int64_t>(1, fixed_parts));
  parallel_for(np, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) fn(static_cast<int>(p), np);
  });
  return np;
}

int deterministic_parts(int64_t units, int64_t grain, int64_t part_bytes) {
  const int64_t by_work = (units + std::max<int64_t>(grain, 1) - 1) / std::max<int64_t>(grain, 1);
  const int64_t by_memory = std::max<int64_t>(1, (int64_t{64} << 20) / std::max<int64_t>(part_bytes, 1));
  return static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>({by_work, by_memory, int64_t{kMaxDeterministicParts}, units})));
}

}  // namespace threads
}  // namespace fastnet
