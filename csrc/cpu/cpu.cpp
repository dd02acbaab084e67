// cpuid/xgetbv feature detection, cache sizes, and the ISA level in use.
#include "fastnet/cpu.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define FASTNET_X86 1
#endif

namespace fastnet {
namespace cpu {
namespace {

#ifdef FASTNET_X86
uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

Features detect() {
  Features f;
#ifdef FASTNET_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 1) return f;
  __cpuid_count(1, 0, a, b, c, d);
  f.sse2 = d & (1u << 26);
  f.fma = c & (1u << 12);
  f.avx = c & (1u << 28);
  f.f16c = c & (1u << 29);
  bool osxsave = c & (1u << 27);
  if (osxsave) {
    uint64_t xcr0 = read_xcr0();
    f.os_avx = (xcr0 & 0x6) == 0x6;                   // XMM and YMM state
    f.os_avx512 = f.os_avx && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM
  }
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = b & (1u << 5);
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512_bf16 = a & (1u << 5);
  }
#endif
  return f;
}

CacheSizes detect_caches() {
  CacheSizes cs;
#ifdef _SC_LEVEL1_DCACHE_SIZE
  long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE);
  long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l1 > 0) cs.l1d = l1;
  if (l2 > 0) cs.l2 = l2;
  if (l3 > 0) cs.l3 = l3;
#endif
  // Guard against nonsense from virtual machines.
  if (cs.l1d < 16 * 1024 || cs.l1d > 1024 * 1024) cs.l1d = 32 * 1024;
  if (cs.l2 < 128 * 1024 || cs.l2 > 64 * 1024 * 1024) cs.l2 = 1024 * 1024;
  return cs;
}

Isa compute_hardware_isa(const Features& f) {
  if (f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.avx2 && f.fma && f.os_avx512)
    return Isa::Avx512;
  if (f.avx2 && f.fma && f.os_avx) return Isa::Avx2;
  return Isa::Generic;
}

std::atomic<int> g_isa{-1};
std::once_flag g_isa_once;

void init_isa() {
  Isa level = hardware_isa();
  if (const char* env = std::getenv("FASTNET_ISA")) {
    Isa want;
    if (parse_isa(env, &want) && static_cast<int>(want) < static_cast<int>(level)) level = want;
  }
  g_isa.store(static_cast<int>(level));
}

}  // namespace

const Features& features() {
  static const Features f = detect();
  return f;
}

const CacheSizes& cache_sizes() {
  static const CacheSizes cs = detect_caches();
  return cs;
}

Isa hardware_isa() {
  static const Isa level = compute_hardware_isa(features());
  return level;
}

Isa isa() {
  std::call_once(g_isa_once, init_isa);
  return static_cast<Isa>(g_isa.load(std::memory_order_relaxed));
}

Isa set_isa(Isa level) {
  std::call_once(g_isa_once, init_isa);
  if (static_cast<int>(level) > static_cast<int>(hardware_isa())) level = hardware_isa();
  g_isa.store(static_cast<int>(level));
  return level;
}

const char* isa_name(Isa level) {
  switch (level) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "generic";
  }
}

bool parse_isa(const std::string& name, Isa* out) {
  if (name == "generic") {
    *out = Isa::Generic;
    return true;
  }
  if (name == "avx2") {
    *out = Isa::Avx2;
    return true;
  }
  if (name == "avx512") {
    *out = Isa::Avx512;
    return true;
  }
  return false;
}

}  // namespace cpu
}  // namespace fastnet
