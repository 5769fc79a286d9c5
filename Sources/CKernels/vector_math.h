// Vector e^x for the AVX-512 kernels (internal to CKernels).
#ifndef CDAM_VECTOR_MATH_H
#define CDAM_VECTOR_MATH_H

#if defined(__x86_64__)
#include <immintrin.h>

// e^x for x <= 0 (Cody-Waite, degree-7 Taylor), 0 below -64 (no denormals: see TensorMath/Softmax.swift).
__attribute__((target("avx512f"), always_inline))
static inline __m512 exp_nonpositive(__m512 x) {
    __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-64.0f), _CMP_LT_OQ);
    x = _mm512_max_ps(x, _mm512_set1_ps(-80.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_maskz_mov_ps((__mmask16)~tiny, _mm512_scalef_ps(p, n));
}

// GELU with erf, x (1 + erf(x / sqrt 2)) / 2, erf by Abramowitz & Stegun 7.1.26 (error < 1.5e-7), the formula
// of TensorMath/GELU.swift. 1 / (1 + p a) by rcp14 and one Newton step instead of a division (~3 times
// cheaper on 16 lanes, within a float's rounding).
__attribute__((target("avx512f"), always_inline))
static inline __m512 gelu_erf(__m512 v) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 a = _mm512_abs_ps(_mm512_mul_ps(v, _mm512_set1_ps(0.70710678f)));
    __m512 den = _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), one);
    __m512 t = _mm512_rcp14_ps(den);
    t = _mm512_mul_ps(t, _mm512_fnmadd_ps(den, t, _mm512_set1_ps(2.0f)));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    __m512 e = exp_nonpositive(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), a), a));
    __m512 y = _mm512_fnmadd_ps(_mm512_mul_ps(p, t), e, one);                  // erf(|v| / sqrt 2)
    __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    y = _mm512_mask_sub_ps(y, negative, _mm512_setzero_ps(), y);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), _mm512_add_ps(one, y));
}

#endif
#endif
