#ifndef GAUGE_PIXEL_PAIRS_H
#define GAUGE_PIXEL_PAIRS_H

// Pairs of neighbouring pixels (2i, 2i + 1) taken apart and put back together, 8 pairs at a time
// with AVX2: the 2×2 max-pool's windows, Winograd's 2×2 blocks and the sampler's (x, y)
// points. Private to CKernels.

#if defined(__x86_64__)
#include <immintrin.h>

// Pixels 2i (even) and 2i + 1 (odd) of pairs 0 … 7, in pair order: pairs 0 … 3 are the 8 pixels
// at `a`, pairs 4 … 7 the 8 at `b` (b = a + 8 for 16 consecutive pixels).
__attribute__((target("avx2"))) static inline void split_pairs(const float *a, const float *b, __m256 *even,
                                                               __m256 *odd) {
    __m256 lo = _mm256_loadu_ps(a), hi = _mm256_loadu_ps(b);
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
}

// The inverse of `split_pairs`: pairs 0 … 3 to `a`, pairs 4 … 7 to `b`.
__attribute__((target("avx2"))) static inline void merge_pairs(float *a, float *b, __m256 even, __m256 odd) {
    __m256 lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
    _mm256_storeu_ps(a, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(b, _mm256_permute2f128_ps(lo, hi, 0x31));
}
#endif

#endif
