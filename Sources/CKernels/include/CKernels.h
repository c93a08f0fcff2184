#ifndef GAUGE_CKERNELS_H
#define GAUGE_CKERNELS_H

/// One Adam update over n elements, in one pass (outputs may be the inputs themselves):
///   m' = m·b1 + g·c1,  v' = v·b2 + (g·g)·c2,
///   p' = p − ((m' / (sqrt(v') + eps))·s)[·f] [− p·d]
/// The same IEEE operations in the same order as Gauge's element-wise interpreter (no fused
/// multiply-add), so the same bits; 4 or 8 lanes at a time (SSE, or AVX where the CPU has it).
void gauge_adam_update(const float *m, const float *v, const float *g, const float *p, float *m_out, float *v_out,
                       float *p_out, long n, float b1, float c1, float b2, float c2, float eps, float s,
                       int has_factor, float f, int has_decay, float d);

#endif
