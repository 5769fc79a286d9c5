// Which kernels this CPU can run, asked once by the Swift side (TensorMath).

#include "CKernels.h"

#if defined(__x86_64__)

int cdam_avx512_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

int cdam_bf16_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
}

#else

int cdam_avx512_available(void) { return 0; }
int cdam_bf16_available(void) { return 0; }

#endif
