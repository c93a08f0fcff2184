#include "CKernels.h"

// Sums of contiguous runs for a reduction over trailing axes (a bias gradient's H·W, summed per
// channel over the batch). Each run is summed as Reduce.sum in Swift does it: eight lane sums
// (lane j takes elements j, j + 8, …, from +0), the lanes added in order, then the tail in
// order; so these are the same bits as the Swift loop, only four runs (channels) go at once, as
// four independent chains, instead of one.

enum { GROUP = 4 };

static void sums_portable(const float *x, long run, long rows, float *totals) {
    for (long r = 0; r < rows; r++) {
        const float *row = x + r * run;
        float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        long i = 0;
        for (; i + 8 <= run; i += 8)
            for (int j = 0; j < 8; j++) lanes[j] += row[i + j];
        float total = lanes[0];
        for (int j = 1; j < 8; j++) total += lanes[j];
        for (; i < run; i++) total += row[i];
        totals[r] = total;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

// GROUP runs of x (one after another, run floats each) at once.
__attribute__((target("avx"))) static void sums_avx(const float *x, long run, float *totals) {
    __m256 acc[GROUP];
    for (int r = 0; r < GROUP; r++) acc[r] = _mm256_setzero_ps();
    long i = 0;
    for (; i + 8 <= run; i += 8)
        for (int r = 0; r < GROUP; r++) acc[r] = _mm256_add_ps(acc[r], _mm256_loadu_ps(x + r * run + i));
    for (int r = 0; r < GROUP; r++) {
        float lanes[8];
        _mm256_storeu_ps(lanes, acc[r]);
        float total = lanes[0];
        for (int j = 1; j < 8; j++) total += lanes[j];
        for (long t = i; t < run; t++) total += x[r * run + t];
        totals[r] = total;
    }
}
#endif

void gauge_run_sums(long outer, long channels, long run, const float *x, long first, long last, float *out) {
#if defined(__x86_64__)
    int avx = __builtin_cpu_supports("avx");
#else
    int avx = 0;
#endif
    float totals[GROUP];
    for (long n = 0; n < outer; n++) {
        const float *image = x + n * channels * run;
        for (long c = first; c < last; c += GROUP) {
            long rows = last - c < GROUP ? last - c : GROUP;
#if defined(__x86_64__)
            if (avx && rows == GROUP)
                sums_avx(image + c * run, run, totals);
            else
#endif
                sums_portable(image + c * run, run, rows, totals);
            for (long r = 0; r < rows; r++) out[c + r] += totals[r];
        }
    }
}
