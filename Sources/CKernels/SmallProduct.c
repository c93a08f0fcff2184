#include "CKernels.h"

// c = a·b for row-major operands small enough to stay in L1 or L2 (Winograd's 16 products per
// group of images: [64, 32]·[32, 64], [128, 64]·[64, 64] …). OpenBLAS packs both operands and
// zeroes c on every call, which for these sizes costs about as much as the arithmetic; here 6
// rows of a × 16 columns of b in 12 accumulators, a broadcast one element at a time and b read
// in place, no packing (faster for inner dimensions up to 64: docs/kernels.md). Each element of c is one fused multiply-add chain over the inner index in order.

enum { MR = 6 };

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))

// c[rows × 8·vectors] = a[rows × k]·b[k × 8·vectors] (rows ≤ MR, vectors 1 or 2); inlined with
// constants into the functions below.
AVX2 static inline __attribute__((always_inline)) void tile(int rows, int vectors, long k, const float *a, long lda,
                                                           const float *b, long ldb, float *c, long ldc) {
    __m256 acc[MR][2];
    for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (long q = 0; q < k; q++) {
        __m256 b0 = _mm256_loadu_ps(b + q * ldb), b1 = vectors > 1 ? _mm256_loadu_ps(b + q * ldb + 8) : b0;
        for (int r = 0; r < rows; r++) {
            __m256 x = _mm256_broadcast_ss(a + r * lda + q);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            if (vectors > 1) acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < rows; r++) {
        _mm256_storeu_ps(c + r * ldc, acc[r][0]);
        if (vectors > 1) _mm256_storeu_ps(c + r * ldc + 8, acc[r][1]);
    }
}

#define TILES(R)                                                                                                       \
    AVX2 static void wide_##R(long k, const float *a, long lda, const float *b, long ldb, float *c, long ldc) {         \
        tile(R, 2, k, a, lda, b, ldb, c, ldc);                                                                         \
    }                                                                                                                  \
    AVX2 static void narrow_##R(long k, const float *a, long lda, const float *b, long ldb, float *c, long ldc) {       \
        tile(R, 1, k, a, lda, b, ldb, c, ldc);                                                                         \
    }
TILES(1)
TILES(2)
TILES(3)
TILES(4)
TILES(5)
TILES(6)
#undef TILES

typedef void (*tile_function)(long, const float *, long, const float *, long, float *, long);
static const tile_function wide[MR + 1] = {0, wide_1, wide_2, wide_3, wide_4, wide_5, wide_6};
static const tile_function narrow[MR + 1] = {0, narrow_1, narrow_2, narrow_3, narrow_4, narrow_5, narrow_6};

void gauge_small_product(long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c,
                         long ldc) {
    for (long j0 = 0; j0 < n; j0 += 16) {
        const tile_function *row = n - j0 >= 16 ? wide : narrow;
        for (long i0 = 0; i0 < m; i0 += MR) {
            long rows = m - i0 < MR ? m - i0 : MR;
            row[rows](k, a + i0 * lda, lda, b + j0, ldb, c + i0 * ldc + j0, ldc);
        }
    }
}
#else
void gauge_small_product(long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c,
                         long ldc) {
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
}
#endif
