#ifndef GAUGE_ALLOCATION_COUNTER_H
#define GAUGE_ALLOCATION_COUNTER_H
#include <stdint.h>

/// Heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc)
/// made by every thread of the process since it started, outside OpenBLAS calls. Linking this
/// target into an executable routes those calls through counting wrappers around glibc's own
/// allocator.
uint64_t gauge_heap_allocations(void);

/// The same, made by a thread while inside an OpenBLAS call (`gauge_blas_enter` …
/// `gauge_blas_leave`): the BLAS library's own, which depend on the CPU kernel it picked.
uint64_t gauge_blas_heap_allocations(void);

#endif
