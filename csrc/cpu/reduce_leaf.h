// Sums along a row that give the same bits on every ISA level.
// Included inside a leaf's per-ISA namespace after its `vf` typedef and `kLanes` (no STL).
//
// A reduction has kRed = 32 logical lanes: one AVX-512 vector pair, four AVX2 or eight SSE
// vectors. Element e of the row's whole 32-blocks goes to logical lane e mod 32, the row's
// last (n mod 32) elements to a scalar tail in element order, and the lanes are summed in
// index order. Every level thus adds the same numbers in the same order; what can still
// differ between levels is how each element's value is computed (FMA contraction, which the
// AVX2 and AVX-512 builds share and the portable build, lacking FMA, does not).

constexpr int64_t kRed = 32;
constexpr int kRedVecs = static_cast<int>(kRed / kLanes);

struct Red {
  vf v[kRedVecs];
  float tail;
};

static inline void red_zero(Red& a) {
  for (int k = 0; k < kRedVecs; ++k) a.v[k] = vf{};
  a.tail = 0.0f;
}

// The row's elements [0, red_full(n)) go to lanes; the rest to the tail.
static inline int64_t red_full(int64_t n) { return n - n % kRed; }

// Adds the chunk of m <= kLanes values starting at element j (a multiple of kLanes).
static inline void red_add(Red& a, vf v, int64_t j, int64_t m, int64_t full) {
  if (j + kLanes <= full) {
    a.v[(j % kRed) / kLanes] += v;
  } else {
    for (int64_t k = 0; k < m; ++k) a.tail += v[k];
  }
}

// Adds one value of the tail (elements at or after red_full(n)), in element order.
static inline void red_add_tail(Red& a, float x) { a.tail += x; }

static inline float red_sum(const Red& a) {
  float s = 0.0f;
  for (int k = 0; k < kRedVecs; ++k)
    for (int j = 0; j < kLanes; ++j) s += a.v[k][j];
  return s + a.tail;
}

// The m <= kLanes floats at p, the other lanes 0.
static inline vf red_load(const float* p, int64_t m) {
  if (m == kLanes) {
    vf v;
    __builtin_memcpy(&v, p, sizeof(v));
    return v;
  }
  float buf[kLanes];
  for (int j = 0; j < kLanes; ++j) buf[j] = j < m ? p[j] : 0.0f;
  vf v;
  __builtin_memcpy(&v, buf, sizeof(v));
  return v;
}
