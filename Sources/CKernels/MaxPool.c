#include "CKernels.h"
#include "PixelPairs.h"

// 2×2, stride-2 max-pooling of one plane and its gradient, 8 windows at a time with AVX2.
// Every maximum is taken in the order a, b, c, d of the window (top-left, top-right,
// bottom-left, bottom-right) with `m = v >= m ? v : m` starting from −∞, exactly as Gauge's
// general pooling loop does (Swift's max), so ties, signed zeros and NaNs give the same bits;
// the gradient goes to the first maximum in that order (each later value must be strictly
// greater to take it).

static inline float keep_max(float m, float v) { return v >= m ? v : m; }

static void pool_row(const float *top, const float *bottom, float *out, long from, long ow) {
    for (long ox = from; ox < ow; ox++)
        out[ox] = keep_max(keep_max(keep_max(keep_max(-__builtin_inff(), top[2 * ox]), top[2 * ox + 1]), bottom[2 * ox]),
                           bottom[2 * ox + 1]);
}

static void grad_row(const float *top, const float *bottom, const float *g, float *out_top, float *out_bottom,
                     long from, long ow) {
    for (long ox = from; ox < ow; ox++) {
        float a = top[2 * ox], b = top[2 * ox + 1], c = bottom[2 * ox], d = bottom[2 * ox + 1];
        float peak = keep_max(-__builtin_inff(), a);
        int take_b = b > peak;
        peak = take_b ? b : peak;
        int take_c = c > peak;
        peak = take_c ? c : peak;
        int take_d = d > peak;
        float value = g[ox];
        out_top[2 * ox] = !take_b && !take_c && !take_d ? value : 0;
        out_top[2 * ox + 1] = take_b && !take_c && !take_d ? value : 0;
        out_bottom[2 * ox] = take_c && !take_d ? value : 0;
        out_bottom[2 * ox + 1] = take_d ? value : 0;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))

AVX2 static inline __m256 keep_max8(__m256 m, __m256 v) { return _mm256_blendv_ps(m, v, _mm256_cmp_ps(v, m, _CMP_GE_OQ)); }

AVX2 static void pool_avx2(const float *x, long w, float *y, long oh, long ow) {
    const __m256 low = _mm256_set1_ps(-__builtin_inff());
    for (long oy = 0; oy < oh; oy++) {
        const float *top = x + 2 * oy * w, *bottom = top + w;
        float *out = y + oy * ow;
        long ox = 0;
        for (; ox + 8 <= ow; ox += 8) {
            __m256 a, b, c, d;
            split_pairs(top + 2 * ox, top + 2 * ox + 8, &a, &b);
            split_pairs(bottom + 2 * ox, bottom + 2 * ox + 8, &c, &d);
            _mm256_storeu_ps(out + ox, keep_max8(keep_max8(keep_max8(keep_max8(low, a), b), c), d));
        }
        pool_row(top, bottom, out, ox, ow);
    }
}

AVX2 static void grad_avx2(const float *x, const float *g, float *dx, long oh, long ow) {
    const __m256 low = _mm256_set1_ps(-__builtin_inff()), zero = _mm256_setzero_ps();
    long w = 2 * ow;
    for (long oy = 0; oy < oh; oy++) {
        const float *top = x + 2 * oy * w, *bottom = top + w;
        float *out_top = dx + 2 * oy * w, *out_bottom = out_top + w;
        const float *grads = g + oy * ow;
        long ox = 0;
        for (; ox + 8 <= ow; ox += 8) {
            __m256 a, b, c, d;
            split_pairs(top + 2 * ox, top + 2 * ox + 8, &a, &b);
            split_pairs(bottom + 2 * ox, bottom + 2 * ox + 8, &c, &d);
            __m256 peak = keep_max8(low, a);
            __m256 take_b = _mm256_cmp_ps(b, peak, _CMP_GT_OQ);
            peak = _mm256_blendv_ps(peak, b, take_b);
            __m256 take_c = _mm256_cmp_ps(c, peak, _CMP_GT_OQ);
            peak = _mm256_blendv_ps(peak, c, take_c);
            __m256 take_d = _mm256_cmp_ps(d, peak, _CMP_GT_OQ);
            // The window's winner: d if taken, else c if taken, else b if taken, else a.
            __m256 to_d = take_d;
            __m256 to_c = _mm256_andnot_ps(take_d, take_c);
            __m256 to_b = _mm256_andnot_ps(_mm256_or_ps(take_d, take_c), take_b);
            __m256 to_a = _mm256_andnot_ps(_mm256_or_ps(_mm256_or_ps(take_d, take_c), take_b), _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
            __m256 value = _mm256_loadu_ps(grads + ox);
            float *upper = out_top + 2 * ox, *lower = out_bottom + 2 * ox;
            merge_pairs(upper, upper + 8, _mm256_blendv_ps(zero, value, to_a), _mm256_blendv_ps(zero, value, to_b));
            merge_pairs(lower, lower + 8, _mm256_blendv_ps(zero, value, to_c), _mm256_blendv_ps(zero, value, to_d));
        }
        grad_row(top, bottom, grads, out_top, out_bottom, ox, ow);
    }
}

#else
static void pool_avx2(const float *x, long w, float *y, long oh, long ow) { (void)x, (void)w, (void)y, (void)oh, (void)ow; }
static void grad_avx2(const float *x, const float *g, float *dx, long oh, long ow) {
    (void)x, (void)g, (void)dx, (void)oh, (void)ow;
}
#endif

void gauge_max_pool_2x2(const float *x, long w, float *y, long oh, long ow) {
    if (gauge_cpu_has_avx2()) {
        pool_avx2(x, w, y, oh, ow);
        return;
    }
    for (long oy = 0; oy < oh; oy++) pool_row(x + 2 * oy * w, x + (2 * oy + 1) * w, y + oy * ow, 0, ow);
}

void gauge_max_pool_2x2_grad(const float *x, const float *g, float *dx, long oh, long ow) {
    if (gauge_cpu_has_avx2()) {
        grad_avx2(x, g, dx, oh, ow);
        return;
    }
    long w = 2 * ow;
    for (long oy = 0; oy < oh; oy++)
        grad_row(x + 2 * oy * w, x + (2 * oy + 1) * w, g + oy * ow, dx + 2 * oy * w, dx + (2 * oy + 1) * w, 0, ow);
}
