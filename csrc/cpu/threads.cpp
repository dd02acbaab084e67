// The process-wide worker pool (see fastnet/threads.h for the rules).
//
// Workers wait on a generation counter: they spin briefly after a job (the
// next kernel usually follows within microseconds) and then sleep on a
// condition variable, so an idle process costs no CPU.
#include "fastnet/threads.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
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
constexpr int kSpinIterations = 4000;

class Pool {
 public:
  explicit Pool(int nthreads) : size_(nthreads) {
    for (int tid = 1; tid < nthreads; ++tid) workers_.emplace_back([this, tid] { worker_loop(tid); });
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

  // Runs fn(tid, n) for tid in [0, n); the caller is tid 0. n <= size().
  void run(int n, const std::function<void(int, int)>& fn) {
    error_ = nullptr;
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = &fn;
      job_threads_ = n;
      pending_.store(n - 1, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_work_.notify_all();
    t_in_region = true;
    try {
      fn(0, n);
    } catch (...) {
      record_error(std::current_exception());
    }
    t_in_region = false;
    for (int i = 0; i < kSpinIterations && pending_.load(std::memory_order_acquire) != 0; ++i)
      FASTNET_PAUSE();
    if (pending_.load(std::memory_order_acquire) != 0) {
      std::unique_lock<std::mutex> lk(mu_);
      cv_done_.wait(lk, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void record_error(std::exception_ptr e) {
    std::lock_guard<std::mutex> lk(err_mu_);
    if (!error_) error_ = e;
  }

  void worker_loop(int tid) {
    t_in_region = true;
    uint64_t seen = 0;
    for (;;) {
      for (int i = 0; i < kSpinIterations && generation_.load(std::memory_order_acquire) == seen; ++i)
        FASTNET_PAUSE();
      // Take a consistent snapshot of the job under the lock: a worker that
      // sat out the previous job must never mix its generation with the
      // next job's parameters.
      const std::function<void(int, int)>* job;
      int nthreads;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_work_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        seen = generation_.load(std::memory_order_acquire);
        if (stop_) return;
        job = job_;
        nthreads = job_threads_;
      }
      if (tid < nthreads) {
        try {
          (*job)(tid, nthreads);
        } catch (...) {
          record_error(std::current_exception());
        }
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          std::lock_guard<std::mutex> lk(mu_);
          cv_done_.notify_one();
        }
      }
    }
  }

  int size_;
  std::vector<std::thread> workers_;
  std::mutex mu_, err_mu_;
  std::condition_variable cv_work_, cv_done_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int, int)>* job_ = nullptr;
  int job_threads_ = 0;
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
    fn(0, 1);
    return;
  }
  std::unique_lock<std::mutex> lk(g_owner, std::try_to_lock);
  if (!lk.owns_lock()) {  // another Python thread is using the pool
    fn(0, 1);
    return;
  }
  pool_for(total)->run(nthreads, fn);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int64_t chunks = (n + grain - 1) / grain;
  int want = static_cast<int>(chunks < num_threads() ? chunks : num_threads());
  if (want <= 1 || t_in_region) {
    fn(0, n);
    return;
  }
  parallel_run(want, [&](int tid, int nt) {
    int64_t begin = n * tid / nt, end = n * (tid + 1) / nt;
    if (begin < end) fn(begin, end);
  });
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
