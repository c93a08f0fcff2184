#include "CKernels.h"
#include <math.h>
#include <string.h>

// exp, log, tanh, sigmoid and softplus on 8 lanes (AVX2 + FMA), each within a few ulp of the
// exact value. glibc's scalar expf/tanhf/log1pf made tanh, sigmoid and softplus a third of the
// step's element-wise time (docs/kernels.md).
//
// Every function reduces its argument the same way:
//   exp(x)   = 2ⁿ·(1 + p),   x = n·ln2 + r, |r| ≤ ln2/2, p = expm1(r) = r + r²·P(r) (Taylor to r⁸),
//   log(y)   = e·ln2 + log(m), y = 2ᵉ·m, m ∈ [√½, √2), log(m) = 2s + 2s·s²·Q(s²), s = (m−1)/(m+1)
//              (the atanh series to s¹³; |s| ≤ 0.1716).
// Lanes outside a function's vector range (NaN, and the ends where exp overflows or leaves the
// normal range) are recomputed with the scalar formulas of Gauge's interpreter, so every input
// gets a correctly signed, correctly saturated result.

static float scalar_exp(float x) { return expf(x); }
static float scalar_log(float x) { return logf(x); }
static float scalar_tanh(float x) { return tanhf(x); }
static float scalar_sigmoid(float x) {
    if (x >= 0) return 1 / (1 + expf(-x));
    float e = expf(x);
    return e / (1 + e);
}
static float scalar_softplus(float x) { return fmaxf(x, 0) + log1pf(expf(-fabsf(x))); }

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

// Cody–Waite split of ln 2: n·LN2_HI is exact for |n| < 2¹⁵.
static const float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
static const float LOG2E = 1.44269504088896341f;
static const float SQRT2 = 1.41421356237309505f;

// r and 2ⁿ for x = n·ln2 + r; x must keep n within [−126, 127].
AVX2 static inline __m256 reduce_exp(__m256 x, __m256 *scale) {
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    *scale = _mm256_castsi256_ps(bits);
    return r;
}

// expm1(r) for |r| ≤ ln2/2: r + r²·(1/2 + r/6 + … + r⁶/8!).
AVX2 static inline __m256 expm1_small(__m256 r) {
    __m256 q = _mm256_set1_ps(1.0f / 40320);
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 5040));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 720));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 120));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 24));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 6));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.5f));
    return _mm256_fmadd_ps(_mm256_mul_ps(r, r), q, r);
}

// exp(x) for x ∈ [−87, 88].
AVX2 static inline __m256 exp_inside(__m256 x) {
    __m256 scale;
    __m256 p = expm1_small(reduce_exp(x, &scale));
    return _mm256_fmadd_ps(scale, p, scale);
}

// log(m) for m ∈ [√½, √2].
AVX2 static inline __m256 log_near_one(__m256 m) {
    const __m256 one = _mm256_set1_ps(1);
    __m256 s = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
    __m256 z = _mm256_mul_ps(s, s);
    __m256 q = _mm256_set1_ps(1.0f / 13);
    q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(1.0f / 11));
    q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(1.0f / 9));
    q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(1.0f / 7));
    q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(1.0f / 5));
    q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(1.0f / 3));
    __m256 s2 = _mm256_add_ps(s, s);
    return _mm256_fmadd_ps(_mm256_mul_ps(s2, z), q, s2);
}

// Each returns f(x) and sets *ok to the lanes it computed (all others are redone in scalar).

AVX2 static inline __m256 v_exp(__m256 x, __m256 *ok) {
    *ok = _mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-87), _CMP_GE_OQ), _mm256_cmp_ps(x, _mm256_set1_ps(88), _CMP_LE_OQ));
    return exp_inside(_mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87)), _mm256_set1_ps(88)));
}

AVX2 static inline __m256 v_log(__m256 x, __m256 *ok) {
    *ok = _mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(0x1p-126f), _CMP_GE_OQ),
                        _mm256_cmp_ps(x, _mm256_set1_ps(INFINITY), _CMP_LT_OQ));
    __m256i bits = _mm256_castps_si256(x);
    __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
    __m256 m = _mm256_castsi256_ps(
        _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF)), _mm256_set1_epi32(0x3F800000)));
    __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(SQRT2), _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
    __m256 ef = _mm256_add_ps(_mm256_cvtepi32_ps(e), _mm256_and_ps(big, _mm256_set1_ps(1)));
    __m256 low = _mm256_fmadd_ps(ef, _mm256_set1_ps(LN2_LO), log_near_one(m));
    return _mm256_fmadd_ps(ef, _mm256_set1_ps(LN2_HI), low);
}

// tanh|x| = expm1(2|x|) / (expm1(2|x|) + 2), with |x| clamped at 10 (tanh is 1 in float from 9.1).
AVX2 static inline __m256 v_tanh(__m256 x, __m256 *ok) {
    *ok = _mm256_cmp_ps(x, x, _CMP_ORD_Q);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 a = _mm256_min_ps(_mm256_andnot_ps(sign, x), _mm256_set1_ps(10));
    __m256 scale;
    __m256 p = expm1_small(reduce_exp(_mm256_add_ps(a, a), &scale));
    __m256 e = _mm256_fmadd_ps(scale, p, _mm256_sub_ps(scale, _mm256_set1_ps(1)));
    __m256 t = _mm256_div_ps(e, _mm256_add_ps(e, _mm256_set1_ps(2)));
    return _mm256_or_ps(t, _mm256_and_ps(sign, x));
}

// 1 / (1 + e^−x); from x = 87 on, e^−x is held at e^−87 (the result is 1 either way).
AVX2 static inline __m256 v_sigmoid(__m256 x, __m256 *ok) {
    *ok = _mm256_cmp_ps(x, _mm256_set1_ps(-87), _CMP_GE_OQ);
    __m256 u = _mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), x), _mm256_set1_ps(-87));
    u = _mm256_min_ps(u, _mm256_set1_ps(87));
    const __m256 one = _mm256_set1_ps(1);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp_inside(u)));
}

// max(x, 0) + log1p(e^−|x|). log1p(u) = log(y) + (u − (y − 1))/y with y = 1 + u rounded, and
// y ∈ [1, 2] is 2ᵏ·m with k ∈ {0, 1}.
AVX2 static inline __m256 v_softplus(__m256 x, __m256 *ok) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1);
    __m256 a = _mm256_andnot_ps(sign, x);
    *ok = _mm256_cmp_ps(a, _mm256_set1_ps(87), _CMP_LE_OQ);
    __m256 u = exp_inside(_mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), a), _mm256_set1_ps(-87)));
    __m256 y = _mm256_add_ps(one, u);
    __m256 c = _mm256_sub_ps(u, _mm256_sub_ps(y, one));
    __m256 big = _mm256_cmp_ps(y, _mm256_set1_ps(SQRT2), _CMP_GT_OQ);
    __m256 m = _mm256_blendv_ps(y, _mm256_mul_ps(y, _mm256_set1_ps(0.5f)), big);
    __m256 k = _mm256_and_ps(big, one);
    __m256 rest = _mm256_add_ps(log_near_one(m), _mm256_div_ps(c, y));
    __m256 log1p = _mm256_fmadd_ps(k, _mm256_set1_ps(LN2_HI), _mm256_fmadd_ps(k, _mm256_set1_ps(LN2_LO), rest));
    return _mm256_add_ps(_mm256_max_ps(x, _mm256_setzero_ps()), log1p);
}

// The loop: 8 lanes at a time. A short tail, and any 8 lanes a function did not all compute, go
// through `_lanes`, which saves the input first (x may be y) and redoes the missing lanes in scalar.
#define GAUGE_VECTOR_LOOP(NAME)                                                                                      \
    AVX2 static inline void NAME##_lanes(const float *x, float *y, int lanes) {                                      \
        float in[8] = {0}, out[8];                                                                                   \
        memcpy(in, x, sizeof(float) * lanes);                                                                        \
        __m256 ok;                                                                                                   \
        _mm256_storeu_ps(out, v_##NAME(_mm256_loadu_ps(in), &ok));                                                   \
        int mask = _mm256_movemask_ps(ok);                                                                           \
        for (int j = 0; j < lanes; j++)                                                                              \
            if (!((mask >> j) & 1)) out[j] = scalar_##NAME(in[j]);                                                   \
        memcpy(y, out, sizeof(float) * lanes);                                                                       \
    }                                                                                                                \
    AVX2 static void NAME##_avx2(const float *x, float *y, long n) {                                                 \
        long i = 0;                                                                                                  \
        for (; i + 8 <= n; i += 8) {                                                                                 \
            __m256 ok;                                                                                               \
            __m256 r = v_##NAME(_mm256_loadu_ps(x + i), &ok);                                                        \
            if (_mm256_movemask_ps(ok) == 0xFF)                                                                      \
                _mm256_storeu_ps(y + i, r);                                                                          \
            else                                                                                                     \
                NAME##_lanes(x + i, y + i, 8);                                                                       \
        }                                                                                                            \
        if (i < n) NAME##_lanes(x + i, y + i, (int)(n - i));                                                         \
    }
GAUGE_VECTOR_LOOP(exp)
GAUGE_VECTOR_LOOP(log)
GAUGE_VECTOR_LOOP(tanh)
GAUGE_VECTOR_LOOP(sigmoid)
GAUGE_VECTOR_LOOP(softplus)
#undef GAUGE_VECTOR_LOOP

#define GAUGE_DISPATCH(NAME)                                                                                         \
    void gauge_vector_##NAME(const float *x, float *y, long n) {                                                     \
        if (gauge_cpu_has_avx2_fma()) {                                                                              \
            NAME##_avx2(x, y, n);                                                                                    \
            return;                                                                                                  \
        }                                                                                                            \
        for (long i = 0; i < n; i++) y[i] = scalar_##NAME(x[i]);                                                     \
    }
#else
#define GAUGE_DISPATCH(NAME)                                                                                         \
    void gauge_vector_##NAME(const float *x, float *y, long n) {                                                     \
        for (long i = 0; i < n; i++) y[i] = scalar_##NAME(x[i]);                                                     \
    }
#endif
GAUGE_DISPATCH(exp)
GAUGE_DISPATCH(log)
GAUGE_DISPATCH(tanh)
GAUGE_DISPATCH(sigmoid)
GAUGE_DISPATCH(softplus)
#undef GAUGE_DISPATCH
