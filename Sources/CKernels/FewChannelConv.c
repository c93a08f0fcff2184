#include "CKernels.h"
#include "LaneSum.h"
#include <string.h>

// 3×3 convolutions (stride 1, zero padding 1) where one side has only a few channels: an RGB
// image in, or its gradient out. By im2col + GEMM the product's inner dimension is then c·9 =
// 27, too short for OpenBLAS to run fast (docs/kernels.md), and Winograd's GEMMs would be thinner still. Here the sums are made directly.
//
// Forward (and the adjoint, as a forward convolution with the flipped filter): the image is
// copied with a zero border, and each call makes one row of 2 output planes × 4 vectors of 8
// pixels (or 3 planes × 2 vectors, for an RGB gradient) in registers; every tap (q, i, j) loads
// the row's shifted input vectors once and broadcasts one filter value per plane. Each output is
// one fused multiply-add chain over (q, i, j) in order.
//
// Filter gradient: the image is copied three times, shifted by one column left, not at all and
// right, with a zero row above and below: s[j][q][r][x] = x[q][r − 1][x + j − 1] (zero outside).
// Then dw[o][q][i][j] = Σ_t dy[o][t]·s[j][q][t + i·w] over the pixels t = y·w + x as one flat
// run (no row edges): 3 output planes × the 3 columns j of one kernel row in registers, summed in
// 8 lanes and then across the lanes, and added to dw image by image.
//
// Either way the bits do not depend on how images are split among workers.

void gauge_few_channel_flip(const float *w, long o, long c, float *f) {
    for (long p = 0; p < o; p++)
        for (long q = 0; q < c; q++)
            for (int t = 0; t < 9; t++) f[(q * o + p) * 9 + t] = w[(p * c + q) * 9 + 8 - t];
}

// The forward's zero-bordered copy of c planes of h×w: c planes of (h+2)×(w+2).
static void pad_planes(const float *x, long c, long h, long w, float *p) {
    long pw = w + 2, plane = (h + 2) * pw;
    for (long q = 0; q < c; q++) {
        float *dst = p + q * plane;
        memset(dst, 0, sizeof(float) * pw);
        for (long y = 0; y < h; y++) {
            float *row = dst + (y + 1) * pw;
            row[0] = 0.0f;
            memcpy(row + 1, x + (q * h + y) * w, sizeof(float) * w);
            row[w + 1] = 0.0f;
        }
        memset(dst + (h + 1) * pw, 0, sizeof(float) * pw);
    }
}

// The filter gradient's three shifted copies s[j][q] of c planes of h×w, each (h+2)×w.
static void shifted_copies(const float *x, long c, long h, long w, float *s) {
    long plane = (h + 2) * w;
    for (int j = 0; j < 3; j++)
        for (long q = 0; q < c; q++) {
            float *dst = s + (j * c + q) * plane;
            memset(dst, 0, sizeof(float) * w);
            for (long r = 0; r < h; r++) {
                float *row = dst + (r + 1) * w;
                const float *src = x + (q * h + r) * w;
                if (j == 0) {
                    row[0] = 0.0f;
                    memcpy(row + 1, src, sizeof(float) * (w - 1));
                } else if (j == 1) {
                    memcpy(row, src, sizeof(float) * w);
                } else {
                    memcpy(row, src + 1, sizeof(float) * (w - 1));
                    row[w - 1] = 0.0f;
                }
            }
            memset(dst + (h + 1) * w, 0, sizeof(float) * w);
        }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))

// Row `row` of output planes 0 … planes−1 of f's (planes ≤ 3; a missing plane repeats the last
// and is not stored), vectors x0 … x0+8·(vectors−1) of the row (vectors ≤ width ≤ 4; likewise).
// Inlined with constants into the functions below, one row a call. The planes are written out:
// with a loop over filter pointers, or the rows inside, clang interleaved the taps and spilled
// registers (slower by a quarter in cache).
AVX2 static inline __attribute__((always_inline)) void forward_row(int width, const float *p, long c, long h, long w,
                                                                  const float *f, int planes, long row, long x0,
                                                                  int vectors, float *y) {
    long pw = w + 2, plane = (h + 2) * pw;
    long at[4];
    for (int b = 0; b < width; b++) at[b] = x0 + 8 * (b < vectors ? b : vectors - 1);
    const float *f0 = f, *f1 = f + (planes > 1 ? 1 : 0) * c * 9, *f2 = f + (planes > 2 ? 2 : planes - 1) * c * 9;
    __m256 acc0[4], acc1[4], acc2[4];
    for (int b = 0; b < width; b++) acc0[b] = acc1[b] = acc2[b] = _mm256_setzero_ps();
    for (long q = 0; q < c; q++) {
        for (int i = 0; i < 3; i++) {
            const float *line = p + q * plane + (row + i) * pw;
            for (int j = 0; j < 3; j++) {
                long t = q * 9 + i * 3 + j;
                __m256 in[4];
                for (int b = 0; b < width; b++) in[b] = _mm256_loadu_ps(line + at[b] + j);
                __m256 k0 = _mm256_broadcast_ss(f0 + t);
                for (int b = 0; b < width; b++) acc0[b] = _mm256_fmadd_ps(k0, in[b], acc0[b]);
                if (planes > 1) {
                    __m256 k1 = _mm256_broadcast_ss(f1 + t);
                    for (int b = 0; b < width; b++) acc1[b] = _mm256_fmadd_ps(k1, in[b], acc1[b]);
                }
                if (planes > 2) {
                    __m256 k2 = _mm256_broadcast_ss(f2 + t);
                    for (int b = 0; b < width; b++) acc2[b] = _mm256_fmadd_ps(k2, in[b], acc2[b]);
                }
            }
        }
    }
    for (int b = 0; b < vectors; b++) {
        _mm256_storeu_ps(y + row * w + x0 + 8 * b, acc0[b]);
        if (planes > 1) _mm256_storeu_ps(y + (h + row) * w + x0 + 8 * b, acc1[b]);
        if (planes > 2) _mm256_storeu_ps(y + (2 * h + row) * w + x0 + 8 * b, acc2[b]);
    }
}

AVX2 __attribute__((noinline)) static void forward_pairs(const float *p, long c, long h, long w, const float *f,
                                                         long row, long x0, float *y) {
    forward_row(4, p, c, h, w, f, 2, row, x0, 4, y);
}

AVX2 __attribute__((noinline)) static void forward_triples(const float *p, long c, long h, long w, const float *f,
                                                           long row, long x0, float *y) {
    forward_row(2, p, c, h, w, f, 3, row, x0, 2, y);
}

AVX2 __attribute__((noinline)) static void forward_edge(const float *p, long c, long h, long w, const float *f,
                                                        int planes, long row, long x0, int vectors, float *y) {
    forward_row(4, p, c, h, w, f, planes, row, x0, vectors, y);
}

void gauge_few_channel_conv(const float *x, long c, long h, long w, const float *f, long o, float *y, float *scratch) {
    float *padded = scratch;
    pad_planes(x, c, h, w, padded);
    int ob = o % 3 == 0 ? 3 : 2;  // 3 output planes a pass where they divide evenly (an RGB image's gradient)
    for (long o0 = 0; o0 < o; o0 += ob) {
        int planes = o - o0 < ob ? (int)(o - o0) : ob;
        const float *fo = f + o0 * c * 9;
        float *yo = y + o0 * h * w;
        for (long row = 0; row < h; row++)
            for (long x0 = 0; x0 < w;) {
                long left = (w - x0) / 8;
                if (ob == 3 && planes == 3 && left >= 2) {
                    forward_triples(padded, c, h, w, fo, row, x0, yo);
                    x0 += 16;
                } else if (ob == 2 && planes == 2 && left >= 4) {
                    forward_pairs(padded, c, h, w, fo, row, x0, yo);
                    x0 += 32;
                } else {
                    forward_edge(padded, c, h, w, fo, planes, row, x0, left < 4 ? (int)left : 4, yo);
                    x0 += 32;
                }
            }
    }
}

// dw[o][q][i][0 … 2] += Σ_t dy[o][t]·s[j][q][t + i·w] for the first `planes` (≤ 3) planes of
// dy (a missing plane repeats the last and is not added). Three planes × three columns keep 9
// independent accumulators: with 6, the multiply-adds waited on their own results.
AVX2 static void gradient_pass(const float *s, long c, long h, long w, const float *dy, int planes, long q, int i,
                               float *dw) {
    long plane = (h + 2) * w, area = h * w;
    const float *in0 = s + q * plane + i * w, *in1 = s + (c + q) * plane + i * w, *in2 = s + (2 * c + q) * plane + i * w;
    const float *g0 = dy, *g1 = dy + (planes > 1 ? area : 0), *g2 = dy + (planes > 2 ? 2 : planes - 1) * area;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, b0 = a0, b1 = a0, b2 = a0, c0 = a0, c1 = a0, c2 = a0;
    for (long t = 0; t < area; t += 8) {
        __m256 v0 = _mm256_loadu_ps(in0 + t), v1 = _mm256_loadu_ps(in1 + t), v2 = _mm256_loadu_ps(in2 + t);
        __m256 d = _mm256_loadu_ps(g0 + t);
        a0 = _mm256_fmadd_ps(d, v0, a0);
        a1 = _mm256_fmadd_ps(d, v1, a1);
        a2 = _mm256_fmadd_ps(d, v2, a2);
        d = _mm256_loadu_ps(g1 + t);
        b0 = _mm256_fmadd_ps(d, v0, b0);
        b1 = _mm256_fmadd_ps(d, v1, b1);
        b2 = _mm256_fmadd_ps(d, v2, b2);
        d = _mm256_loadu_ps(g2 + t);
        c0 = _mm256_fmadd_ps(d, v0, c0);
        c1 = _mm256_fmadd_ps(d, v1, c1);
        c2 = _mm256_fmadd_ps(d, v2, c2);
    }
    __m256 sums[3][3] = {{a0, a1, a2}, {b0, b1, b2}, {c0, c1, c2}};
    for (int p = 0; p < planes; p++)
        for (int j = 0; j < 3; j++) dw[(p * c + q) * 9 + i * 3 + j] += lane_sum(sums[p][j]);
}

void gauge_few_channel_filter_gradient(const float *x, long c, long h, long w, const float *dy, long o, float *dw,
                                       float *scratch) {
    shifted_copies(x, c, h, w, scratch);
    for (long o0 = 0; o0 < o; o0 += 3) {
        int planes = o - o0 < 3 ? (int)(o - o0) : 3;
        for (long q = 0; q < c; q++)
            for (int i = 0; i < 3; i++) gradient_pass(scratch, c, h, w, dy + o0 * h * w, planes, q, i, dw + o0 * c * 9);
    }
}
#else
void gauge_few_channel_conv(const float *x, long c, long h, long w, const float *f, long o, float *y, float *scratch) {
    (void)x, (void)c, (void)h, (void)w, (void)f, (void)o, (void)y, (void)scratch;
}
void gauge_few_channel_filter_gradient(const float *x, long c, long h, long w, const float *dy, long o, float *dw,
                                       float *scratch) {
    (void)x, (void)c, (void)h, (void)w, (void)dy, (void)o, (void)dw, (void)scratch;
    (void)pad_planes, (void)shifted_copies;
}
#endif
