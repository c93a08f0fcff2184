#ifndef GAUGE_LANE_SUM_H
#define GAUGE_LANE_SUM_H

// The sum of a vector's 8 lanes in one fixed order (halves added, then pairs, then the last
// two): the dot-product kernels' final step. Private to CKernels.

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2"))) static inline float lane_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
#endif

#endif
