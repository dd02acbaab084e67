// CPU feature detection and the active instruction-set level.
//
// The hot loops are compiled three times (portable, AVX2+FMA, AVX-512) into
// the same extension; isa() says which variant the dispatch tables use.
// FASTNET_ISA=generic|avx2|avx512 (read once, at first use) can only lower
// the level below what the CPU supports, so every path is testable here.
#pragma once
#include <cstdint>
#include <string>

namespace fastnet {
namespace cpu {

enum class Isa : int { Generic = 0, Avx2 = 1, Avx512 = 2 };

struct Features {
  bool sse2 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512_bf16 = false;
  bool os_avx = false, os_avx512 = false;  // XSAVE enabled the register state
};

struct CacheSizes {
  int64_t l1d = 32 * 1024;
  int64_t l2 = 1024 * 1024;
  int64_t l3 = 8 * 1024 * 1024;
};

const Features& features();
const CacheSizes& cache_sizes();

// Highest level the hardware (and OS) supports.
Isa hardware_isa();
// Level in use: hardware_isa() lowered by FASTNET_ISA or set_isa().
Isa isa();
// Forces a level (clamped to the hardware's); used by tests to run every path.
// Returns the level actually set.
Isa set_isa(Isa level);

const char* isa_name(Isa level);
// Parses "generic" / "avx2" / "avx512"; returns false on an unknown name.
bool parse_isa(const std::string& name, Isa* out);

// The dispatch table of the active level. Each level's table is built the first
// time that level is selected, never before: a builder is compiled with its
// level's flags (the AVX-512 one may use zmm registers), so building every level
// up front would run AVX-512 code on a CPU without it. Instantiate only from a
// baseline translation unit.
template <typename Table, Table (*Generic)(), Table (*Avx2)(), Table (*Avx512)()>
const Table& isa_table() {
  switch (isa()) {
    case Isa::Avx512: {
      static const Table t = Avx512();
      return t;
    }
    case Isa::Avx2: {
      static const Table t = Avx2();
      return t;
    }
    default: {
      static const Table t = Generic();
      return t;
    }
  }
}

}  // namespace cpu
}  // namespace fastnet
