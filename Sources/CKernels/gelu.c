// GELU with erf, 16 lanes at a time (vector_math.h's gelu_erf): the same formula as TensorMath/GELU.swift,
// twice the width of the AVX2 loop it replaces on AVX-512 CPUs. The linear kernel applies the same
// function to fc1's output tiles before storing them; this pass serves the other callers.

#include "CKernels.h"
#include "vector_math.h"

#if defined(__x86_64__)

__attribute__((target("avx512f")))
int cdam_gelu(const float *x, float *out, long count) {
    for (long i = 0; i < count; i += 16) {
        __mmask16 live = count - i >= 16 ? 0xFFFF : (__mmask16)((1u << (count - i)) - 1);
        _mm512_mask_storeu_ps(out + i, live, gelu_erf(_mm512_maskz_loadu_ps(live, x + i)));
    }
    return 0;
}

#else

int cdam_gelu(const float *x, float *out, long count) { return -1; }

#endif
