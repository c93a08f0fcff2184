// Counting wrappers for glibc's allocator. An executable that links this file defines malloc
// and friends itself, so the dynamic linker sends every library's calls here; each wrapper
// counts and forwards to glibc's __libc_* entry points (no dlsym, so no recursion). A call made
// while its thread is inside OpenBLAS (CKernels' `gauge_blas_enter`) is counted apart.
#include "AllocationCounter.h"
#include "CKernels.h"
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static uint64_t allocations;
static uint64_t blas_allocations;

static inline void count(void) {
    __atomic_fetch_add(gauge_inside_blas() ? &blas_allocations : &allocations, 1, __ATOMIC_RELAXED);
}

uint64_t gauge_heap_allocations(void) { return __atomic_load_n(&allocations, __ATOMIC_RELAXED); }

uint64_t gauge_blas_heap_allocations(void) { return __atomic_load_n(&blas_allocations, __ATOMIC_RELAXED); }

void *malloc(size_t size) {
    count();
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
    count();
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
    count();
    return __libc_realloc(p, size);
}

void free(void *p) { __libc_free(p); }

void *memalign(size_t alignment, size_t size) {
    count();
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    count();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    count();
    void *p = __libc_memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t size) {
    count();
    return __libc_memalign(4096, size);
}
