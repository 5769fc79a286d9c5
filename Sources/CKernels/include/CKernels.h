// Hand-written AVX-512 kernels where they beat the BLAS route (see each .c file for why).
#ifndef CKERNELS_H
#define CKERNELS_H

/// 1 when this CPU runs the AVX-512 kernels (x86-64 with AVX-512F), else 0.
int cdam_avx512_available(void);

/// o[r] = sum_j softmax_j(scale * q[r] . k[j]) v[j] for r < rows, over `keys` keys, heads 64 wide.
/// q, k, v rows lie at stride ld floats, o rows at stride ldo. Returns 0, or -1 (nothing written)
/// when the kernel cannot run here or its scratch memory could not be allocated.
int cdam_attention64(int rows, int keys, const float *q, const float *k, const float *v, int ld, float scale,
                     float *o, int ldo);

#endif
