// The process's heap, set up before main: the forward pass allocates its activations afresh for every
// block (tens of MB per batch), and glibc would hand each one back to the kernel when freed, so every
// pass would fault all its pages in again (measured: ~14,000 page faults per batch-8 forward pass, about
// 3% of its time). One arena with high mmap and trim thresholds keeps freed blocks for reuse. This must
// run before any thread allocates: a thread keeps the arena it first allocated in.

#include "CKernels.h"
#include <stdlib.h>   // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>

__attribute__((constructor)) static void tune_heap(void) {
    mallopt(M_MMAP_THRESHOLD, 512 << 20);   // blocks up to 512 MB come from the heap, not fresh mmaps
    mallopt(M_TRIM_THRESHOLD, 1 << 30);     // and stay there when freed
    mallopt(M_ARENA_MAX, 1);                // for every thread
}
#endif

int cdam_heap_tuned(void) {
#if defined(__GLIBC__)
    return 1;
#else
    return 0;
#endif
}
