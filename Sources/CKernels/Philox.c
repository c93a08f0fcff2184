#include "CKernels.h"

// Philox 4×32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011) turned into uniforms in (0, 1): block b of the counter (b, c1, c2, c3) under the key
// gives the four uniforms 4b … 4b+3, each (word >> 8 + 0.5)·2⁻²⁴. With AVX2, 8 blocks at a time
// (the 32×32 → 64-bit products of the even and the odd lanes, then their halves blended back):
// the same words and the same float operations as one block at a time, so the same bits.

enum { M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u };

static inline float unit(uint32_t word) { return ((float)(word >> 8) + 0.5f) * (1.0f / 16777216.0f); }

static void block(uint32_t key0, uint32_t key1, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, float *out) {
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)M0 * c0, p1 = (uint64_t)M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ key0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ key1;
        c3 = lo0;
        key0 += W0;
        key1 += W1;
    }
    out[0] = unit(c0);
    out[1] = unit(c1);
    out[2] = unit(c2);
    out[3] = unit(c3);
}

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))

// (hi, lo) of a·m for 8 lanes of a.
AVX2 static inline void mulhilo(__m256i a, __m256i m, __m256i *hi, __m256i *lo) {
    __m256i even = _mm256_mul_epu32(a, m), odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

AVX2 static inline __m256 units(__m256i words) {
    __m256 f = _mm256_cvtepi32_ps(_mm256_srli_epi32(words, 8));
    return _mm256_mul_ps(_mm256_add_ps(f, _mm256_set1_ps(0.5f)), _mm256_set1_ps(1.0f / 16777216.0f));
}

// Blocks first … first+8·groups−1 into out (32 floats a group).
AVX2 static void blocks8(uint32_t key0, uint32_t key1, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t first,
                         long groups, float *out) {
    const __m256i m0 = _mm256_set1_epi32((int)M0), m1 = _mm256_set1_epi32((int)M1);
    for (long g = 0; g < groups; g++) {
        __m256i x0 = _mm256_add_epi32(_mm256_set1_epi32((int)(first + 8 * (uint32_t)g)),
                                      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256i x1 = _mm256_set1_epi32((int)c1), x2 = _mm256_set1_epi32((int)c2), x3 = _mm256_set1_epi32((int)c3);
        uint32_t k0 = key0, k1 = key1;
        for (int round = 0; round < 10; round++) {
            __m256i hi0, lo0, hi1, lo1;
            mulhilo(x0, m0, &hi0, &lo0);
            mulhilo(x2, m1, &hi1, &lo1);
            x0 = _mm256_xor_si256(_mm256_xor_si256(hi1, x1), _mm256_set1_epi32((int)k0));
            x1 = lo1;
            x2 = _mm256_xor_si256(_mm256_xor_si256(hi0, x3), _mm256_set1_epi32((int)k1));
            x3 = lo0;
            k0 += W0;
            k1 += W1;
        }
        // Lanes are blocks; out wants each block's four words together: a 4 × 8 transpose.
        __m256 f0 = units(x0), f1 = units(x1), f2 = units(x2), f3 = units(x3);
        __m256 t0 = _mm256_unpacklo_ps(f0, f1), t1 = _mm256_unpackhi_ps(f0, f1);
        __m256 t2 = _mm256_unpacklo_ps(f2, f3), t3 = _mm256_unpackhi_ps(f2, f3);
        __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
        __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
        float *o = out + 32 * g;
        _mm256_storeu_ps(o, _mm256_permute2f128_ps(u0, u1, 0x20));
        _mm256_storeu_ps(o + 8, _mm256_permute2f128_ps(u2, u3, 0x20));
        _mm256_storeu_ps(o + 16, _mm256_permute2f128_ps(u0, u1, 0x31));
        _mm256_storeu_ps(o + 24, _mm256_permute2f128_ps(u2, u3, 0x31));
    }
}
#endif

void gauge_philox_uniforms(uint32_t key0, uint32_t key1, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t first,
                           long blocks, float *out) {
    long b = 0;
#if defined(__x86_64__)
    if (gauge_cpu_has_avx2()) {
        long groups = blocks / 8;
        blocks8(key0, key1, c1, c2, c3, first, groups, out);
        b = 8 * groups;
    }
#endif
    for (; b < blocks; b++) block(key0, key1, first + (uint32_t)b, c1, c2, c3, out + 4 * b);
}
