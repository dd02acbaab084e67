// Bindings for CPU features, the ISA level and the thread pool.
#include "fastnet/cpu.h"
#include "fastnet/memory.h"
#include "fastnet/threads.h"

#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <pybind11/stl.h>

#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {

// Opt-in only (fastnet.config.tune_allocator): process-wide, it changes every
// allocation of the program, not only fastnet's. Keeps blocks up to 512 MiB in glibc's
// heap instead of mmap/munmap per block, and never trims the heap below 1 GiB.
static bool tune_glibc_allocator() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 512 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  return true;
#else
  return false;
#endif
}

void bind_cpu(py::module_& m) {
  m.def("tune_glibc_allocator", &tune_glibc_allocator,
        "Raises glibc's mmap and trim thresholds for the whole process; False off glibc.");
  m.def(
      "memory_stats",
      [] {
        const memory::Stats st = memory::stats();
        py::dict d;
        d["cached_bytes"] = st.cached_bytes;
        d["cached_blocks"] = st.cached_blocks;
        d["in_use_bytes"] = st.in_use_bytes;
        d["limit_bytes"] = st.limit_bytes;
        d["hits"] = st.hits;
        d["misses"] = st.misses;
        return d;
      },
      "Statistics of fastnet's large-buffer cache.");
  m.def(
      "set_pool_limit",
      [](int64_t bytes) {
        if (bytes < 0) fail_value("set_pool_limit: bytes must be >= 0, got " + std::to_string(bytes));
        memory::set_limit(static_cast<size_t>(bytes));
      },
      py::arg("bytes"));
  m.def("release_cached_memory", [] { return memory::release_cached(); });
  m.def(
      "empty_f32",
      [](const std::vector<int64_t>& shape) {
        for (int64_t d : shape)
          if (d < 0) fail_value("empty_f32: negative dimension in shape " + shape_str(shape));
        return empty_f32(shape);
      },
      py::arg("shape"), "An uninitialised float32 array; large ones from fastnet's buffer cache.");
  m.def(
      "cpu_features",
      [] {
        const auto& f = cpu::features();
        const auto& cs = cpu::cache_sizes();
        py::dict d;
        d["isa"] = cpu::isa_name(cpu::isa());
        d["hardware_isa"] = cpu::isa_name(cpu::hardware_isa());
        d["sse2"] = f.sse2;
        d["avx"] = f.avx && f.os_avx;
        d["avx2"] = f.avx2 && f.os_avx;
        d["fma"] = f.fma && f.os_avx;
        d["f16c"] = f.f16c;
        d["avx512f"] = f.avx512f && f.os_avx512;
        d["avx512bw"] = f.avx512bw && f.os_avx512;
        d["avx512dq"] = f.avx512dq && f.os_avx512;
        d["avx512vl"] = f.avx512vl && f.os_avx512;
        d["avx512_bf16"] = f.avx512_bf16 && f.os_avx512;
        d["l1d_cache"] = cs.l1d;
        d["l2_cache"] = cs.l2;
        d["l3_cache"] = cs.l3;
        return d;
      },
      "CPU features, cache sizes and the active ISA level.");
  m.def("get_isa", [] { return std::string(cpu::isa_name(cpu::isa())); });
  m.def(
      "set_isa",
      [](const std::string& name) {
        cpu::Isa level;
        if (!cpu::parse_isa(name, &level))
          fail_value("set_isa: unknown level '" + name + "'; expected 'generic', 'avx2' or 'avx512'");
        return std::string(cpu::isa_name(cpu::set_isa(level)));
      },
      py::arg("name"), "Forces an ISA level (clamped to the hardware's); returns the level set.");
  m.def("get_num_threads", [] { return threads::num_threads(); });
  m.def(
      "set_num_threads",
      [](int n) {
        if (n < 0)
          fail_value("set_num_threads: n must be >= 1 (or 0 for the default), got " + std::to_string(n));
        threads::set_num_threads(n);
      },
      py::arg("n"));
  m.def("default_num_threads", [] { return threads::default_num_threads(); });
  m.def(
      "thread_stats",
      [](bool reset) {
        const threads::ThreadStats s = threads::stats();
        if (reset) threads::reset_stats();
        py::dict d;
        d["parallel_regions"] = s.parallel_regions;
        d["serial_regions"] = s.serial_regions;
        d["wakeups"] = s.wakeups;
        return d;
      },
      py::arg("reset") = false,
      "Counters of the worker pool: regions run on several threads / on the caller alone, wake-ups.");
  m.def("get_deterministic", [] { return threads::deterministic(); });
  m.def("set_deterministic", [](bool on) { threads::set_deterministic(on); }, py::arg("on"));
}

}  // namespace bind
}  // namespace fastnet
