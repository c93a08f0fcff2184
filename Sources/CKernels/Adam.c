#include "CKernels.h"
#include <math.h>

// Scalar element (tails, and CPUs without SSE). Plain C mul/add never contract to FMA here:
// the code is built for the baseline target, which has no FMA instruction.
static inline void adam_one(const float *m, const float *v, const float *g, const float *p, float *mo, float *vo,
                            float *po, long i, float b1, float c1, float b2, float c2, float eps, float s,
                            int has_factor, float f, int has_decay, float d) {
    float gi = g[i], pi = p[i];
    float m2 = m[i] * b1 + gi * c1;
    float v2 = v[i] * b2 + (gi * gi) * c2;
    float u = (m2 / (__builtin_sqrtf(v2) + eps)) * s;
    if (has_factor) u = u * f;
    float p2 = pi - u;
    if (has_decay) p2 = p2 - pi * d;
    mo[i] = m2;
    vo[i] = v2;
    po[i] = p2;
}

#if defined(__x86_64__)
#include <immintrin.h>

static void adam_sse(const float *m, const float *v, const float *g, const float *p, float *mo, float *vo, float *po,
                     long n, float b1, float c1, float b2, float c2, float eps, float s, int has_factor, float f,
                     int has_decay, float d) {
    const __m128 B1 = _mm_set1_ps(b1), C1 = _mm_set1_ps(c1), B2 = _mm_set1_ps(b2), C2 = _mm_set1_ps(c2);
    const __m128 E = _mm_set1_ps(eps), S = _mm_set1_ps(s), F = _mm_set1_ps(f), D = _mm_set1_ps(d);
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128 gv = _mm_loadu_ps(g + i), pv = _mm_loadu_ps(p + i);
        __m128 m2 = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(m + i), B1), _mm_mul_ps(gv, C1));
        __m128 v2 = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + i), B2), _mm_mul_ps(_mm_mul_ps(gv, gv), C2));
        __m128 u = _mm_mul_ps(_mm_div_ps(m2, _mm_add_ps(_mm_sqrt_ps(v2), E)), S);
        if (has_factor) u = _mm_mul_ps(u, F);
        __m128 p2 = _mm_sub_ps(pv, u);
        if (has_decay) p2 = _mm_sub_ps(p2, _mm_mul_ps(pv, D));
        _mm_storeu_ps(mo + i, m2);
        _mm_storeu_ps(vo + i, v2);
        _mm_storeu_ps(po + i, p2);
    }
    for (; i < n; i++) adam_one(m, v, g, p, mo, vo, po, i, b1, c1, b2, c2, eps, s, has_factor, f, has_decay, d);
}

// AVX without FMA: 8 lanes, the same operations.
__attribute__((target("avx"))) static void adam_avx(const float *m, const float *v, const float *g, const float *p,
                                                     float *mo, float *vo, float *po, long n, float b1, float c1,
                                                     float b2, float c2, float eps, float s, int has_factor,
                                                     float f, int has_decay, float d) {
    const __m256 B1 = _mm256_set1_ps(b1), C1 = _mm256_set1_ps(c1), B2 = _mm256_set1_ps(b2), C2 = _mm256_set1_ps(c2);
    const __m256 E = _mm256_set1_ps(eps), S = _mm256_set1_ps(s), F = _mm256_set1_ps(f), D = _mm256_set1_ps(d);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gv = _mm256_loadu_ps(g + i), pv = _mm256_loadu_ps(p + i);
        __m256 m2 = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m + i), B1), _mm256_mul_ps(gv, C1));
        __m256 v2 = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), B2), _mm256_mul_ps(_mm256_mul_ps(gv, gv), C2));
        __m256 u = _mm256_mul_ps(_mm256_div_ps(m2, _mm256_add_ps(_mm256_sqrt_ps(v2), E)), S);
        if (has_factor) u = _mm256_mul_ps(u, F);
        __m256 p2 = _mm256_sub_ps(pv, u);
        if (has_decay) p2 = _mm256_sub_ps(p2, _mm256_mul_ps(pv, D));
        _mm256_storeu_ps(mo + i, m2);
        _mm256_storeu_ps(vo + i, v2);
        _mm256_storeu_ps(po + i, p2);
    }
    for (; i < n; i++) adam_one(m, v, g, p, mo, vo, po, i, b1, c1, b2, c2, eps, s, has_factor, f, has_decay, d);
}
#endif

void gauge_adam_update(const float *m, const float *v, const float *g, const float *p, float *m_out, float *v_out,
                       float *p_out, long n, float b1, float c1, float b2, float c2, float eps, float s,
                       int has_factor, float f, int has_decay, float d) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx")) {
        adam_avx(m, v, g, p, m_out, v_out, p_out, n, b1, c1, b2, c2, eps, s, has_factor, f, has_decay, d);
    } else {
        adam_sse(m, v, g, p, m_out, v_out, p_out, n, b1, c1, b2, c2, eps, s, has_factor, f, has_decay, d);
    }
#else
    for (long i = 0; i < n; i++)
        adam_one(m, v, g, p, m_out, v_out, p_out, i, b1, c1, b2, c2, eps, s, has_factor, f, has_decay, d);
#endif
}
