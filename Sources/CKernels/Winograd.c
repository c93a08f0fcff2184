#include "CKernels.h"
#include "PixelPairs.h"
#include <string.h>

// 3×3 convolution, stride 1, zero padding 1, by Winograd's minimal filtering F(2×2, 3×3)
// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015): each 2×2 block of
// outputs of one channel pair takes 16 multiplications instead of 36,
//   Y = Aᵀ·[(G·g·Gᵀ) ⊙ (Bᵀ·d·B)]·A   for the 4×4 input patch d around the block,
// and the channel sums become 16 GEMMs, one per position ξ of the 4×4 transformed tile:
// M[ξ] (O×T) = U[ξ] (O×C) · V[ξ] (C×T) over the T = h·w/4 blocks of an image. The filter
// gradient runs the adjoints: dM = A·dy·Aᵀ per block, dU[ξ] = Σ dM[ξ]·V[ξ]ᵀ, dw = Gᵀ·dU·G.
// The transforms here handle 8 blocks at a time with AVX2 (w a multiple of 8, h·w/4 of 8); the
// GEMMs are the caller's.

// U[ξ][o][c] = (G·g·Gᵀ)[ξ] for g = w[o][c] (or, transposed, the flipped w[c][o]: the adjoint
// of a stride-1, same-padded 3×3 convolution is the convolution with the kernel turned 180°
// and the channels swapped).
void gauge_winograd_filters(const float *w, long o, long c, int transposed, float *u) {
    for (long p = 0; p < o; p++)
        for (long q = 0; q < c; q++) {
            float g[3][3];
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    g[i][j] = transposed ? w[((q * o + p) * 3 + 2 - i) * 3 + 2 - j] : w[((p * c + q) * 3 + i) * 3 + j];
            float t[4][3];  // G·g
            for (int j = 0; j < 3; j++) {
                t[0][j] = g[0][j];
                t[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);
                t[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);
                t[3][j] = g[2][j];
            }
            for (int i = 0; i < 4; i++) {  // (G·g)·Gᵀ
                float row[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]),
                                t[i][2]};
                for (int j = 0; j < 4; j++) u[((i * 4 + j) * o + p) * c + q] = row[j];
            }
        }
}

// dw[o][c] = Gᵀ·dU[o][c]·G for dU[ξ][o][c]: the adjoint of the filter transform.
void gauge_winograd_filter_gradient(const float *du, long o, long c, float *dw) {
    for (long p = 0; p < o; p++)
        for (long q = 0; q < c; q++) {
            float d[4][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) d[i][j] = du[((i * 4 + j) * o + p) * c + q];
            float t[3][4];  // Gᵀ·dU
            for (int j = 0; j < 4; j++) {
                t[0][j] = d[0][j] + 0.5f * d[1][j] + 0.5f * d[2][j];
                t[1][j] = 0.5f * d[1][j] - 0.5f * d[2][j];
                t[2][j] = 0.5f * d[1][j] + 0.5f * d[2][j] + d[3][j];
            }
            for (int i = 0; i < 3; i++) {  // (Gᵀ·dU)·G
                float *row = dw + ((p * c + q) * 3 + i) * 3;
                row[0] = t[i][0] + 0.5f * t[i][1] + 0.5f * t[i][2];
                row[1] = 0.5f * t[i][1] - 0.5f * t[i][2];
                row[2] = 0.5f * t[i][1] + 0.5f * t[i][2] + t[i][3];
            }
        }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))

// Blocks t0 … t0+7 are 8 pixel pairs of a row: blocks t0 … t0+3 start at one run of 8 pixels,
// t0+4 … t0+7 at another (the next tile row when a row holds 4 blocks).

// V[ξ][ch][t] = (Bᵀ·d·B)[ξ] for channel `ch` of an image, from its zero-padded plane.
AVX2 static void input_transform(const float *padded, long h, long w, long channels, long ch, float *v, long ldv) {
    long across = w / 2, blocks = h / 2 * across, stride = w + 2;
    for (long t0 = 0; t0 < blocks; t0 += 8) {
        long ta = t0, tb = t0 + 4;
        const float *pa = padded + 2 * (ta / across) * stride + 2 * (ta % across);
        const float *pb = padded + 2 * (tb / across) * stride + 2 * (tb % across);
        __m256 d[4][4];
        for (int i = 0; i < 4; i++) {
            split_pairs(pa + i * stride, pb + i * stride, &d[i][0], &d[i][1]);
            split_pairs(pa + i * stride + 2, pb + i * stride + 2, &d[i][2], &d[i][3]);
        }
        __m256 r[4][4];  // Bᵀ·d
        for (int j = 0; j < 4; j++) {
            r[0][j] = _mm256_sub_ps(d[0][j], d[2][j]);
            r[1][j] = _mm256_add_ps(d[1][j], d[2][j]);
            r[2][j] = _mm256_sub_ps(d[2][j], d[1][j]);
            r[3][j] = _mm256_sub_ps(d[1][j], d[3][j]);
        }
        for (int i = 0; i < 4; i++) {  // (Bᵀ·d)·B
            __m256 x[4] = {_mm256_sub_ps(r[i][0], r[i][2]), _mm256_add_ps(r[i][1], r[i][2]),
                           _mm256_sub_ps(r[i][2], r[i][1]), _mm256_sub_ps(r[i][1], r[i][3])};
            for (int j = 0; j < 4; j++) _mm256_storeu_ps(v + ((i * 4 + j) * channels + ch) * ldv + t0, x[j]);
        }
    }
}

// Output channel `oc` of an image from M[ξ][oc][t]: Aᵀ·m·A per block.
AVX2 static void output_transform(const float *m, long ldm, long h, long w, long channels, long oc, float *y) {
    long across = w / 2, blocks = h / 2 * across;
    for (long t0 = 0; t0 < blocks; t0 += 8) {
        __m256 s[2][4];  // Aᵀ·m
        for (int j = 0; j < 4; j++) {
            __m256 m0 = _mm256_loadu_ps(m + ((0 * 4 + j) * channels + oc) * ldm + t0);
            __m256 m1 = _mm256_loadu_ps(m + ((1 * 4 + j) * channels + oc) * ldm + t0);
            __m256 m2 = _mm256_loadu_ps(m + ((2 * 4 + j) * channels + oc) * ldm + t0);
            __m256 m3 = _mm256_loadu_ps(m + ((3 * 4 + j) * channels + oc) * ldm + t0);
            s[0][j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
            s[1][j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
        }
        long ta = t0, tb = t0 + 4;
        float *ya = y + 2 * (ta / across) * w + 2 * (ta % across);
        float *yb = y + 2 * (tb / across) * w + 2 * (tb % across);
        for (int r = 0; r < 2; r++) {  // (Aᵀ·m)·A
            __m256 left = _mm256_add_ps(_mm256_add_ps(s[r][0], s[r][1]), s[r][2]);
            __m256 right = _mm256_sub_ps(_mm256_sub_ps(s[r][1], s[r][2]), s[r][3]);
            merge_pairs(ya + r * w, yb + r * w, left, right);
        }
    }
}

// dM[ξ][oc][t] = (A·dy·Aᵀ)[ξ] for the 2×2 output gradient dy of each block: the adjoint of the
// output transform, for the filter gradient.
AVX2 static void output_gradient_transform(const float *dy, long h, long w, long channels, long oc, float *dm,
                                           long ldm) {
    long across = w / 2, blocks = h / 2 * across;
    for (long t0 = 0; t0 < blocks; t0 += 8) {
        long ta = t0, tb = t0 + 4;
        const float *pa = dy + 2 * (ta / across) * w + 2 * (ta % across);
        const float *pb = dy + 2 * (tb / across) * w + 2 * (tb % across);
        __m256 g[2][2];
        split_pairs(pa, pb, &g[0][0], &g[0][1]);
        split_pairs(pa + w, pb + w, &g[1][0], &g[1][1]);
        __m256 r[4][2];  // A·dy
        for (int j = 0; j < 2; j++) {
            r[0][j] = g[0][j];
            r[1][j] = _mm256_add_ps(g[0][j], g[1][j]);
            r[2][j] = _mm256_sub_ps(g[0][j], g[1][j]);
            r[3][j] = _mm256_sub_ps(_mm256_setzero_ps(), g[1][j]);
        }
        for (int i = 0; i < 4; i++) {  // (A·dy)·Aᵀ
            __m256 x[4] = {r[i][0], _mm256_add_ps(r[i][0], r[i][1]), _mm256_sub_ps(r[i][0], r[i][1]),
                           _mm256_sub_ps(_mm256_setzero_ps(), r[i][1])};
            for (int j = 0; j < 4; j++) _mm256_storeu_ps(dm + ((i * 4 + j) * channels + oc) * ldm + t0, x[j]);
        }
    }
}

void gauge_winograd_output_gradient(const float *dy, long o, long h, long w, float *dm, long ldm) {
    for (long oc = 0; oc < o; oc++) output_gradient_transform(dy + oc * h * w, h, w, o, oc, dm, ldm);
}

void gauge_winograd_input(const float *x, long c, long h, long w, float *v, long ldv, float *padded) {
    long stride = w + 2;
    memset(padded, 0, sizeof(float) * (h + 2) * stride);
    for (long ch = 0; ch < c; ch++) {
        for (long row = 0; row < h; row++) memcpy(padded + (row + 1) * stride + 1, x + (ch * h + row) * w, sizeof(float) * w);
        input_transform(padded, h, w, c, ch, v, ldv);
    }
}

void gauge_winograd_output(const float *m, long ldm, long o, long h, long w, float *y) {
    for (long oc = 0; oc < o; oc++) output_transform(m, ldm, h, w, o, oc, y + oc * h * w);
}
#else
void gauge_winograd_input(const float *x, long c, long h, long w, float *v, long ldv, float *padded) {
    (void)x, (void)c, (void)h, (void)w, (void)v, (void)ldv, (void)padded;
}
void gauge_winograd_output_gradient(const float *dy, long o, long h, long w, float *dm, long ldm) {
    (void)dy, (void)o, (void)h, (void)w, (void)dm, (void)ldm;
}
void gauge_winograd_output(const float *m, long ldm, long o, long h, long w, float *y) {
    (void)m, (void)ldm, (void)o, (void)h, (void)w, (void)y;
}
#endif
