#ifndef GAUGE_CKERNELS_H
#define GAUGE_CKERNELS_H

#include <stdint.h>

/// Whether this CPU has AVX2 (and FMA): the vector kernels below are built for the baseline
/// target and pick their AVX2 variants at run time by these.
int gauge_cpu_has_avx2(void);
int gauge_cpu_has_avx2_fma(void);

/// Marks the calling thread as inside an OpenBLAS call (calls nest); `gauge_inside_blas` tells
/// whether it is. An allocation counter uses it to count the BLAS library's allocations apart
/// from Gauge's own.
void gauge_blas_enter(void);
void gauge_blas_leave(void);
int gauge_inside_blas(void);

/// One Adam update over n elements, in one pass (outputs may be the inputs themselves):
///   m' = m·b1 + g·c1,  v' = v·b2 + (g·g)·c2,
///   p' = p − ((m' / (sqrt(v') + eps))·s)[·f] [− p·d]
/// The same IEEE operations in the same order as Gauge's element-wise interpreter (no fused
/// multiply-add), so the same bits; 4 or 8 lanes at a time (SSE, or AVX where the CPU has it).
void gauge_adam_update(const float *m, const float *v, const float *g, const float *p, float *m_out, float *v_out,
                       float *p_out, long n, float b1, float c1, float b2, float c2, float eps, float s,
                       int has_factor, float f, int has_decay, float d);

/// The weight gradient of a per-class layer for one class: c (m×n, row stride ldc) = aᵀ·b,
/// where a is k×m (row stride lda) and b is k×n, packed first by `gauge_class_gradient_pack`
/// into `gauge_class_gradient_packed_size(k, n)` floats. Each element is one fused multiply-add
/// chain over r = 0 … k−1 in order (the same bits however rows are split among calls). Fast with
/// AVX2 and FMA (`gauge_cpu_has_avx2_fma`); otherwise correct, one element at a time.
/// Most rows k the vector path takes (its packed tile of a lives on the stack); above, the
/// same chains are made one element at a time.
#define GAUGE_CLASS_GRADIENT_MOST_K 1024
long gauge_class_gradient_packed_size(long k, long n);
void gauge_class_gradient_pack(long k, long n, const float *b, long ldb, float *packed);
void gauge_class_gradient(long m, long n, long k, const float *a, long lda, const float *packed_b, float *c,
                          long ldc);

/// exp, log, tanh, sigmoid (1 / (1 + e^−x)) and softplus (log(1 + eˣ)) of n floats (y may be x),
/// 8 lanes at a time with AVX2 and FMA where the CPU has them (`gauge_cpu_has_avx2_fma`),
/// within a few ulp of the exact value; otherwise, and for NaN and the ranges where exp leaves
/// the normal floats, the scalar libm formulas.
void gauge_vector_exp(const float *x, float *y, long n);
void gauge_vector_log(const float *x, float *y, long n);
void gauge_vector_tanh(const float *x, float *y, long n);
void gauge_vector_sigmoid(const float *x, float *y, long n);
void gauge_vector_softplus(const float *x, float *y, long n);

/// 2×2, stride-2 max-pooling of one plane: y (oh×ow) from x (rows of w floats, at least 2·oh
/// rows of 2·ow pixels), and its gradient for a plane of exactly 2·oh × 2·ow: each window's
/// gradient g goes to its first maximum (in the order top-left, top-right, bottom-left,
/// bottom-right), every other pixel of dx gets 0. Maxima as Swift's max from −∞ (same bits as
/// the general loop); 8 windows at a time with AVX2.
void gauge_max_pool_2x2(const float *x, long w, float *y, long oh, long ow);
void gauge_max_pool_2x2_grad(const float *x, const float *g, float *dx, long oh, long ow);

/// y (m×n, row stride ldy) = x·wᵀ for x m×k and w n×k (row strides ldx, ldw), for few rows of x:
/// each output one dot product of two contiguous rows, summed in 8 lanes in order and then
/// across the lanes (the same bits however the n rows of w are split among calls). Needs AVX2
/// and FMA (`gauge_cpu_has_avx2_fma`); without them it does nothing.
void gauge_few_rows_product(long m, long n, long k, const float *x, long ldx, const float *w, long ldw, float *y,
                            long ldy);

/// out[c] += Σ_n (the sum of run x[n][c][0 ..< run]) for c in [first, last), x [outer][channels][run],
/// n in order: each run summed in 8 lanes from +0 (lane j takes elements j, j + 8, …), the lanes
/// added in order, then the tail in order (Reduce.sum in Swift, the same bits). Four channels at
/// a time with AVX.
void gauge_run_sums(long outer, long channels, long run, const float *x, long first, long last, float *out);

/// Winograd F(2×2, 3×3) for a 3×3 convolution with stride 1 and zero padding 1 of one h×w image
/// (h, w even, w a multiple of 8, h·w/4 a multiple of 8; AVX2: `gauge_cpu_has_avx2`):
/// filters U[16][o][c] (`transposed`: for the adjoint, from w [c][o][3][3] turned 180°), the
/// input V[16][c][·] (rows of ldv floats, this image's h·w/4 blocks from v on; `padded`:
/// (h+2)·(w+2) floats of scratch), and from M[16][o][·] = U[ξ]·V[ξ] (rows of ldm, this image's
/// blocks from m on) the output y [o][h][w].
/// For the filter gradient: the output gradient dy [o][h][w] as dM[16][o][·] (rows of ldm), and
/// from dU[16][o][c] = Σ dM[ξ]·V[ξ]ᵀ the gradient dw [o][c][3][3] (portable).
void gauge_winograd_filters(const float *w, long o, long c, int transposed, float *u);
void gauge_winograd_input(const float *x, long c, long h, long w, float *v, long ldv, float *padded);
void gauge_winograd_output(const float *m, long ldm, long o, long h, long w, float *y);
void gauge_winograd_output_gradient(const float *dy, long o, long h, long w, float *dm, long ldm);
void gauge_winograd_filter_gradient(const float *du, long o, long c, float *dw);

/// c (m×n, row stride ldc) = a·b for small row-major a (m×k) and b (k×n), n a multiple of 8,
/// without packing: each element one fused multiply-add chain over the inner index in order.
/// Needs AVX2 and FMA (`gauge_cpu_has_avx2_fma`); without them it does nothing.
void gauge_small_product(long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c,
                         long ldc);

/// Philox 4×32-10 uniforms in (0, 1): blocks first … first+blocks−1 (wrapping at 2³²) of the
/// counter (block, c1, c2, c3) under (key0, key1), block b giving out[4(b − first) …] its four
/// words as (word >> 8 + 0.5)·2⁻²⁴. 8 blocks at a time with AVX2, the same bits.
void gauge_philox_uniforms(uint32_t key0, uint32_t key1, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t first,
                           long blocks, float *out);

/// 3×3 convolution, stride 1, zero padding 1, summed directly, for images with few channels
/// (w a multiple of 8; AVX2 and FMA: `gauge_cpu_has_avx2_fma`, otherwise nothing is done):
/// y [o][h][w] = conv(x [c][h][w], f [o][c][3][3]) for one image; the adjoint is the same with
/// the filter made by `gauge_few_channel_flip` (f [c][o][3][3] = w [o][c] turned 180°). The
/// filter gradient adds Σ dy[o]·(x shifted by each tap) to dw [o][c][3][3] for one image. Each
/// takes 3·c·(h+2)·w floats of scratch for the image's copies.
void gauge_few_channel_flip(const float *w, long o, long c, float *f);
void gauge_few_channel_conv(const float *x, long c, long h, long w, const float *f, long o, float *y, float *scratch);
void gauge_few_channel_filter_gradient(const float *x, long c, long h, long w, const float *dy, long o, float *dw,
                                       float *scratch);

/// The bilinear sampler for one image (`Sampler.swift`, the same bits): out [c][p] samples image
/// [c][h][w] at grid [p][2] (normalised x, y); the grid gradient adds nothing, it writes dgrid
/// [p][2] from dy [c][p]. Whole groups of 8 points with AVX2; each returns how many points it
/// did (0 without AVX2), the caller does the rest.
long gauge_bilinear_sample(const float *image, long channels, long h, long w, const float *grid, long points, int align,
                           float *out);
long gauge_bilinear_grid_gradient(const float *image, long channels, long h, long w, const float *grid, const float *dy,
                                  long points, int align, float *dgrid);

#endif
