#include "CKernels.h"

// Which thread is inside an OpenBLAS call, so that an allocation counter can tell the BLAS
// library's own allocations from Gauge's (OpenBLAS's kernels differ by CPU: its Cooperlake
// kernel allocates inside sgemm, its Zen kernel does not).

static _Thread_local int depth;

void gauge_blas_enter(void) { depth += 1; }

void gauge_blas_leave(void) { depth -= 1; }

int gauge_inside_blas(void) { return depth > 0; }
