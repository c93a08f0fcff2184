#include "CKernels.h"
#include "LaneSum.h"

// y = x·wᵀ for a few rows of x (one class's rows of a batch, about 25) and a large w whose rows
// are contiguous along the sum: the input gradient of a per-class layer. OpenBLAS packs w
// first, which costs as much as the arithmetic when x has so few rows (docs/kernels.md); here each output is a dot product of two
// contiguous rows, 3 rows of x against 4 rows of w at a time (12 accumulators of 8 lanes), and
// w is read once, in order. Every output is one sum in a fixed order (8 lane
// sums over the whole row, then the lanes added pairwise), so the bits do not depend on which
// call or worker computes it.

enum { MR = 3, NR = 4 };

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))

// Rows i0 … i0+rows−1 of y against rows j0 … j0+cols−1 of w (rows ≤ MR, cols ≤ NR; missing
// ones repeat the last, and are not stored).
AVX2 static void tile(long rows, long cols, long k, const float *x, long ldx, const float *w, long ldw, float *y,
                      long ldy) {
    const float *xr[MR], *wr[NR];
    for (int a = 0; a < MR; a++) xr[a] = x + (a < rows ? a : rows - 1) * ldx;
    for (int b = 0; b < NR; b++) wr[b] = w + (b < cols ? b : cols - 1) * ldw;
    __m256 acc[MR][NR];
    for (int a = 0; a < MR; a++)
        for (int b = 0; b < NR; b++) acc[a][b] = _mm256_setzero_ps();
    long q = 0;
    for (; q + 8 <= k; q += 8) {
        __m256 xv[MR];
        for (int a = 0; a < MR; a++) xv[a] = _mm256_loadu_ps(xr[a] + q);
        for (int b = 0; b < NR; b++) {
            __m256 wv = _mm256_loadu_ps(wr[b] + q);
            for (int a = 0; a < MR; a++) acc[a][b] = _mm256_fmadd_ps(xv[a], wv, acc[a][b]);
        }
    }
    if (q < k) {  // the last k mod 8 columns, the other lanes masked to 0
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(k - q)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 xv[MR];
        for (int a = 0; a < MR; a++) xv[a] = _mm256_maskload_ps(xr[a] + q, mask);
        for (int b = 0; b < NR; b++) {
            __m256 wv = _mm256_maskload_ps(wr[b] + q, mask);
            for (int a = 0; a < MR; a++) acc[a][b] = _mm256_fmadd_ps(xv[a], wv, acc[a][b]);
        }
    }
    for (int a = 0; a < rows; a++)
        for (int b = 0; b < cols; b++) y[a * ldy + b] = lane_sum(acc[a][b]);
}


void gauge_few_rows_product(long m, long n, long k, const float *x, long ldx, const float *w, long ldw, float *y,
                            long ldy) {
    for (long j0 = 0; j0 < n; j0 += NR) {
        long cols = n - j0 < NR ? n - j0 : NR;
        for (long i0 = 0; i0 < m; i0 += MR) {
            long rows = m - i0 < MR ? m - i0 : MR;
            tile(rows, cols, k, x + i0 * ldx, ldx, w + j0 * ldw, ldw, y + i0 * ldy + j0, ldy);
        }
    }
}
#else
void gauge_few_rows_product(long m, long n, long k, const float *x, long ldx, const float *w, long ldw, float *y,
                            long ldy) {
    (void)m, (void)n, (void)k, (void)x, (void)ldx, (void)w, (void)ldw, (void)y, (void)ldy;
}
#endif
