#include "CKernels.h"
#include <string.h>

// The weight gradient of a per-class layer, c = aᵀ·b with a short inner dimension (one class's
// rows of a batch, about 25): every element is a sum of k products, so the product is bound by
// writing c, and OpenBLAS's packing costs as much as the arithmetic. Here b is packed once per
// class into 16-column strips; each call makes a few rows of c from them, small enough to stay
// in cache for the update that reads them next. Every element of c is one fused multiply-add
// chain over r = 0, 1, …, k−1, so the bits do not depend on how rows are split among calls.

enum { TILE = 6, STRIP = 16 };

static inline long min_long(long x, long y) { return x < y ? x : y; }

long gauge_class_gradient_packed_size(long k, long n) { return (n + STRIP - 1) / STRIP * STRIP * k; }

void gauge_class_gradient_pack(long k, long n, const float *b, long ldb, float *packed) {
    long strips = (n + STRIP - 1) / STRIP;
    for (long r = 0; r < k; r++) {
        const float *row = b + r * ldb;
        for (long s = 0; s < strips; s++) {
            long cols = min_long(STRIP, n - s * STRIP);
            float *dst = packed + (s * k + r) * STRIP;
            memcpy(dst, row + s * STRIP, sizeof(float) * cols);
            if (cols < STRIP) memset(dst + cols, 0, sizeof(float) * (STRIP - cols));
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

// c[R×16] = Σ_r a[r][0..<R]ᵀ · b[r][0..<16] for packed a ([r][R]) and b ([r][16]).
#define GAUGE_TILE(R)                                                                                                \
    __attribute__((target("avx2,fma"))) static void tile_##R(long k, const float *a, const float *b, float *c,       \
                                                             long ldc) {                                             \
        __m256 acc[R][2];                                                                                            \
        for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();                                     \
        for (long r = 0; r < k; r++) {                                                                               \
            __m256 b0 = _mm256_loadu_ps(b + r * STRIP), b1 = _mm256_loadu_ps(b + r * STRIP + 8);                     \
            for (int i = 0; i < R; i++) {                                                                            \
                __m256 x = _mm256_broadcast_ss(a + r * R + i);                                                       \
                acc[i][0] = _mm256_fmadd_ps(x, b0, acc[i][0]);                                                       \
                acc[i][1] = _mm256_fmadd_ps(x, b1, acc[i][1]);                                                       \
            }                                                                                                        \
        }                                                                                                            \
        for (int i = 0; i < R; i++) {                                                                                \
            _mm256_storeu_ps(c + i * ldc, acc[i][0]);                                                                \
            _mm256_storeu_ps(c + i * ldc + 8, acc[i][1]);                                                            \
        }                                                                                                            \
    }
GAUGE_TILE(1)
GAUGE_TILE(2)
GAUGE_TILE(3)
GAUGE_TILE(4)
GAUGE_TILE(5)
GAUGE_TILE(6)
#undef GAUGE_TILE

static void tile(long rows, long k, const float *a, const float *b, float *c, long ldc) {
    switch (rows) {
    case 1: tile_1(k, a, b, c, ldc); break;
    case 2: tile_2(k, a, b, c, ldc); break;
    case 3: tile_3(k, a, b, c, ldc); break;
    case 4: tile_4(k, a, b, c, ldc); break;
    case 5: tile_5(k, a, b, c, ldc); break;
    default: tile_6(k, a, b, c, ldc); break;
    }
}

#else
static void tile(long rows, long k, const float *a, const float *b, float *c, long ldc) {
    (void)rows, (void)k, (void)a, (void)b, (void)c, (void)ldc;
}
#endif

void gauge_class_gradient(long m, long n, long k, const float *a, long lda, const float *packed_b, float *c,
                          long ldc) {
    enum { MOST_K = GAUGE_CLASS_GRADIENT_MOST_K };
    float packed_a[TILE * MOST_K];
    float edge[TILE * STRIP];
    long strips = (n + STRIP - 1) / STRIP;
    int vector = k <= MOST_K && gauge_cpu_has_avx2_fma();
    for (long i0 = 0; i0 < m; i0 += TILE) {
        long rows = min_long(TILE, m - i0);
        // This tile's columns of a, [r][rows]. Without AVX2 and FMA (or with k above MOST_K) the
        // same chains are made one element at a time.
        if (vector)
            for (long r = 0; r < k; r++)
                for (long i = 0; i < rows; i++) packed_a[r * rows + i] = a[r * lda + i0 + i];
        for (long s = 0; s < strips; s++) {
            long cols = min_long(STRIP, n - s * STRIP);
            const float *strip = packed_b + s * k * STRIP;
            float *out = c + i0 * ldc + s * STRIP;
            float *target = cols == STRIP ? out : edge;
            long stride = cols == STRIP ? ldc : STRIP;
            if (vector) {
                tile(rows, k, packed_a, strip, target, stride);
            } else {
                for (long i = 0; i < rows; i++)
                    for (long j = 0; j < STRIP; j++) {
                        float acc = 0.0f;
                        for (long r = 0; r < k; r++) acc = __builtin_fmaf(a[r * lda + i0 + i], strip[r * STRIP + j], acc);
                        target[i * stride + j] = acc;
                    }
            }
            if (cols < STRIP)
                for (long i = 0; i < rows; i++) memcpy(out + i * ldc, edge + i * STRIP, sizeof(float) * cols);
        }
    }
}
