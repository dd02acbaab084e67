// Bindings for CPU features, the ISA level and the thread pool.
#include "fastnet/cpu.h"
#include "fastnet/threads.h"

#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "bindings/array.h"
#include "bindings/bindings.h"

namespace fastnet {
namespace bind {

// Activation and gradient buffers of a training step are large and short-lived; glibc
// returns blocks above its mmap threshold to the OS on every free, so each step pays
// page faults again (measured: a max-pool backward 25 ms instead of 2.5 ms). Keep big
// blocks in the heap for reuse instead. FASTNET_KEEP_MALLOC=1 leaves glibc's defaults.
static bool tune_allocator() {
#if defined(__GLIBC__)
  if (std::getenv("FASTNET_KEEP_MALLOC")) return false;
  mallopt(M_MMAP_THRESHOLD, 512 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  return true;
#else
  return false;
#endif
}

void bind_cpu(py::module_& m) {
  m.attr("allocator_tuned") = tune_allocator();
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
}

}  // namespace bind
}  // namespace fastnet
