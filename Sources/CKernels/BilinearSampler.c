#include "CKernels.h"
#include "PixelPairs.h"

// The spatial transformer's bilinear sampler and its grid gradient for one image, 8 sample
// points at a time with AVX2 (no FMA: every product and sum rounds as in Gauge's Swift loop,
// `Sampler.swift`, so the bits are the same). Per point: the pixel position of the normalised
// coordinate, its floor as an index (−2, all corners outside, for a NaN, an infinity or
// anything past ±1e9), the four corners' weights, and per channel the four corner values
// gathered with masks (0 outside the image).

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))

// Pixel positions and d(pixel)/d(coordinate) along an axis of `size` (Sampler.pixel).
AVX2 static inline __m256 pixel(__m256 x, long size, int align) {
    const __m256 one = _mm256_set1_ps(1), half = _mm256_set1_ps(0.5f);
    if (align) return _mm256_mul_ps(_mm256_mul_ps(_mm256_add_ps(x, one), half), _mm256_set1_ps((float)(size - 1)));
    return _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(_mm256_add_ps(x, one), _mm256_set1_ps((float)size)), one), half);
}

// The floor as an index, −2 where |floor| ≥ 1e9 or NaN (Sampler.index).
AVX2 static inline __m256i index_of(__m256 floored) {
    const __m256 magnitude = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), floored);
    const __m256 ok = _mm256_cmp_ps(magnitude, _mm256_set1_ps(1e9f), _CMP_LT_OQ);
    return _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(_mm256_set1_epi32(-2)), _mm256_castsi256_ps(_mm256_cvttps_epi32(floored)), ok));
}

// Lanes where 0 ≤ i < size.
AVX2 static inline __m256i inside(__m256i i, long size) {
    return _mm256_and_si256(_mm256_cmpgt_epi32(i, _mm256_set1_epi32(-1)), _mm256_cmpgt_epi32(_mm256_set1_epi32((int)size), i));
}

typedef struct {
    __m256 a, b;                      // fractional parts along x and y
    __m256i o00, o01, o10, o11;       // corner offsets in a plane
    __m256 in00, in01, in10, in11;    // corner masks
} corners;

// The 8 points at grid + 2p … (x, y interleaved: pairs, as `split_pairs` takes them apart).
AVX2 static inline corners corners_of(const float *grid, long h, long w, int align) {
    __m256 gx, gy;
    split_pairs(grid, grid + 8, &gx, &gy);
    __m256 px = pixel(gx, w, align), py = pixel(gy, h, align);
    __m256 fx = _mm256_floor_ps(px), fy = _mm256_floor_ps(py);
    __m256i x0 = index_of(fx), y0 = index_of(fy);
    const __m256i one = _mm256_set1_epi32(1);
    __m256i x1 = _mm256_add_epi32(x0, one), y1 = _mm256_add_epi32(y0, one);
    __m256i left = inside(x0, w), right = inside(x1, w), top = inside(y0, h), bottom = inside(y1, h);
    corners k;
    k.a = _mm256_sub_ps(px, fx);
    k.b = _mm256_sub_ps(py, fy);
    __m256i base = _mm256_add_epi32(_mm256_mullo_epi32(y0, _mm256_set1_epi32((int)w)), x0);
    k.in00 = _mm256_castsi256_ps(_mm256_and_si256(top, left));
    k.in01 = _mm256_castsi256_ps(_mm256_and_si256(top, right));
    k.in10 = _mm256_castsi256_ps(_mm256_and_si256(bottom, left));
    k.in11 = _mm256_castsi256_ps(_mm256_and_si256(bottom, right));
    k.o00 = base;
    k.o01 = _mm256_add_epi32(base, one);
    k.o10 = _mm256_add_epi32(base, _mm256_set1_epi32((int)w));
    k.o11 = _mm256_add_epi32(k.o10, one);
    return k;
}

AVX2 static inline __m256 gather(const float *plane, __m256i offsets, __m256 mask) {
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), plane, offsets, mask, 4);
}

// Whole groups of 8 points only; returns how many points it did.
AVX2 static long sample_avx2(const float *image, long channels, long h, long w, const float *grid, long points, int align,
                             float *out) {
    const __m256 one = _mm256_set1_ps(1);
    long p = 0;
    for (; p + 8 <= points; p += 8) {
        corners k = corners_of(grid + 2 * p, h, w, align);
        __m256 na = _mm256_sub_ps(one, k.a), nb = _mm256_sub_ps(one, k.b);
        __m256 w00 = _mm256_mul_ps(na, nb), w01 = _mm256_mul_ps(k.a, nb);
        __m256 w10 = _mm256_mul_ps(na, k.b), w11 = _mm256_mul_ps(k.a, k.b);
        for (long c = 0; c < channels; c++) {
            const float *plane = image + c * h * w;
            __m256 v = _mm256_mul_ps(w00, gather(plane, k.o00, k.in00));
            v = _mm256_add_ps(v, _mm256_mul_ps(w01, gather(plane, k.o01, k.in01)));
            v = _mm256_add_ps(v, _mm256_mul_ps(w10, gather(plane, k.o10, k.in10)));
            v = _mm256_add_ps(v, _mm256_mul_ps(w11, gather(plane, k.o11, k.in11)));
            _mm256_storeu_ps(out + c * points + p, v);
        }
    }
    return p;
}

AVX2 static long grid_grad_avx2(const float *image, long channels, long h, long w, const float *grid, const float *dy,
                                long points, int align, float *dgrid) {
    const __m256 one = _mm256_set1_ps(1);
    const __m256 sx = _mm256_set1_ps(align ? 0.5f * (float)(w - 1) : 0.5f * (float)w);
    const __m256 sy = _mm256_set1_ps(align ? 0.5f * (float)(h - 1) : 0.5f * (float)h);
    long p = 0;
    for (; p + 8 <= points; p += 8) {
        corners k = corners_of(grid + 2 * p, h, w, align);
        __m256 na = _mm256_sub_ps(one, k.a), nb = _mm256_sub_ps(one, k.b);
        __m256 dpx = _mm256_setzero_ps(), dpy = _mm256_setzero_ps();
        for (long c = 0; c < channels; c++) {
            const float *plane = image + c * h * w;
            __m256 v00 = gather(plane, k.o00, k.in00), v01 = gather(plane, k.o01, k.in01);
            __m256 v10 = gather(plane, k.o10, k.in10), v11 = gather(plane, k.o11, k.in11);
            __m256 g = _mm256_loadu_ps(dy + c * points + p);
            __m256 tx = _mm256_add_ps(_mm256_mul_ps(nb, _mm256_sub_ps(v01, v00)), _mm256_mul_ps(k.b, _mm256_sub_ps(v11, v10)));
            __m256 ty = _mm256_add_ps(_mm256_mul_ps(na, _mm256_sub_ps(v10, v00)), _mm256_mul_ps(k.a, _mm256_sub_ps(v11, v01)));
            dpx = _mm256_add_ps(dpx, _mm256_mul_ps(g, tx));
            dpy = _mm256_add_ps(dpy, _mm256_mul_ps(g, ty));
        }
        merge_pairs(dgrid + 2 * p, dgrid + 2 * p + 8, _mm256_mul_ps(dpx, sx), _mm256_mul_ps(dpy, sy));
    }
    return p;
}
#endif

long gauge_bilinear_sample(const float *image, long channels, long h, long w, const float *grid, long points, int align,
                           float *out) {
#if defined(__x86_64__)
    if (gauge_cpu_has_avx2()) return sample_avx2(image, channels, h, w, grid, points, align, out);
#endif
    (void)image, (void)channels, (void)h, (void)w, (void)grid, (void)points, (void)align, (void)out;
    return 0;
}

long gauge_bilinear_grid_gradient(const float *image, long channels, long h, long w, const float *grid, const float *dy,
                                  long points, int align, float *dgrid) {
#if defined(__x86_64__)
    if (gauge_cpu_has_avx2()) return grid_grad_avx2(image, channels, h, w, grid, dy, points, align, dgrid);
#endif
    (void)image, (void)channels, (void)h, (void)w, (void)grid, (void)dy, (void)points, (void)align, (void)dgrid;
    return 0;
}
