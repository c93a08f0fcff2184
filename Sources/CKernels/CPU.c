#include "CKernels.h"

// What the vector kernels need of the CPU, asked in one place (each kernel is built for the
// baseline target and picks its AVX2 variant at run time).

int gauge_cpu_has_avx2(void) {
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

int gauge_cpu_has_avx2_fma(void) {
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}
