// LayerNorm forward over rows of `width` floats, 16 lanes at a time: TensorMath/LayerNorm.swift's formula
// (mean, then the variance of the centred row, both in one register of partial sums per pass).

#include "CKernels.h"
#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f")))
int cdam_layer_norm(const float *x, int rows, int width, const float *weight, const float *bias, float eps,
                    float *out, float *mean, float *rstd) {
    for (int r = 0; r < rows; r++) {
        const float *row = x + (size_t)r * width;
        float *o = out + (size_t)r * width;
        __m512 sum = _mm512_setzero_ps();
        for (int j = 0; j < width; j += 16) {
            __mmask16 live = width - j >= 16 ? 0xFFFF : (__mmask16)((1u << (width - j)) - 1);
            sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(live, row + j));
        }
        float m = _mm512_reduce_add_ps(sum) / (float)width;
        __m512 mv = _mm512_set1_ps(m), var = _mm512_setzero_ps();
        for (int j = 0; j < width; j += 16) {
            __mmask16 live = width - j >= 16 ? 0xFFFF : (__mmask16)((1u << (width - j)) - 1);
            __m512 c = _mm512_maskz_sub_ps(live, _mm512_maskz_loadu_ps(live, row + j), mv);
            var = _mm512_fmadd_ps(c, c, var);
        }
        float rs = 1.0f / sqrtf(_mm512_reduce_add_ps(var) / (float)width + eps);
        __m512 rv = _mm512_set1_ps(rs);
        for (int j = 0; j < width; j += 16) {
            __mmask16 live = width - j >= 16 ? 0xFFFF : (__mmask16)((1u << (width - j)) - 1);
            __m512 c = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(live, row + j), mv), rv);
            __m512 y = _mm512_fmadd_ps(c, _mm512_maskz_loadu_ps(live, weight + j), _mm512_maskz_loadu_ps(live, bias + j));
            _mm512_mask_storeu_ps(o + j, live, y);
        }
        if (mean) mean[r] = m;
        if (rstd) rstd[r] = rs;
    }
    return 0;
}

#else

int cdam_layer_norm(const float *x, int rows, int width, const float *weight, const float *bias, float eps,
                    float *out, float *mean, float *rstd) {
    return -1;
}

#endif
