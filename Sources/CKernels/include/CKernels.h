// Hand-written AVX-512 kernels where they beat the BLAS route (see each .c file for why).
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU runs the AVX-512 kernels (x86-64 with AVX-512F), else 0.
int cdam_avx512_available(void);

/// 1 when this CPU runs the bf16 kernels (AVX512-BF16 with AVX-512F, BW and VL), else 0.
int cdam_bf16_available(void);

/// 1 when the heap was set up at load time to keep freed activation blocks (glibc), else 0 (heap.c).
int cdam_heap_tuned(void);

/// o[r] = sum_j softmax_j(scale * q[r] . k[j]) v[j] for r < rows, over `keys` keys, heads 64 wide.
/// q, k, v rows lie at stride ld floats, o rows at stride ldo. Returns 0, or -1 (nothing written)
/// when the kernel cannot run here or its scratch memory could not be allocated.
int cdam_attention64(int rows, int keys, const float *q, const float *k, const float *v, int ld, float scale,
                     float *o, int ldo);

/// out = x * (1 + erf(x / sqrt 2)) / 2 over count floats (out may be x). Returns 0, or -1 (nothing written)
/// when the kernel cannot run here.
int cdam_gelu(const float *x, float *out, long count);

/// out[r] = (x[r] - mean) / sqrt(var + eps) * weight + bias for r < rows (rows of `width` floats, out may be
/// x), and each row's mean and 1 / sqrt(var + eps) into mean and rstd when not NULL. Returns 0, or -1
/// (nothing written) when the kernel cannot run here.
int cdam_layer_norm(const float *x, int rows, int width, const float *weight, const float *bias, float eps,
                    float *out, float *mean, float *rstd);

/// Output features per packed panel of a linear layer's weight: two 16-lane AVX-512 registers.
#define CDAM_LINEAR_PANEL 32

/// Floats that cdam_linear_pack writes for an (outputs, inputs) weight.
size_t cdam_linear_packed_count(int outputs, int inputs);

/// Packs w (outputs x inputs, row-major) into panels of CDAM_LINEAR_PANEL outputs:
/// packed[p][i][c] = w[p * PANEL + c][i], zero beyond the last output.
void cdam_linear_pack(const float *w, int outputs, int inputs, float *packed);

/// The inverse of cdam_linear_pack: w (outputs x inputs, row-major) from its packed panels.
void cdam_linear_unpack(const float *packed, int outputs, int inputs, float *w);

/// What cdam_linear does to y = x W^T + b before storing it. Pointers, like out, point at column 0 of row 0.
typedef struct {
    /// out = residual + scale * y, with scale per output feature (NULL: 1) and residual rows at stride
    /// ld_residual (NULL: no residual).
    const float *residual;
    int ld_residual;
    const float *scale;
    /// Non-zero: out = GELU(y) (with erf, after the residual if any), and y itself into pre when pre is not
    /// NULL (rows at stride ld_pre).
    int gelu;
    float *pre;
    int ld_pre;
} cdam_linear_epilogue;

/// out[r][j] = bias[j] + sum_i x[r][i] * w[j][i] for r < rows and j in panels [p0, p1) of the packed weight,
/// then the epilogue if not NULL. out points at column 0 of row 0 (row stride ldo), x at row 0 (row stride
/// ldx); bias may be NULL. Returns 0, or -1 (nothing written) when the kernel cannot run here or found no
/// scratch memory.
int cdam_linear(int rows, int outputs, int inputs, const float *x, int ldx, const float *packed,
                const float *bias, float *out, int ldo, int p0, int p1, const cdam_linear_epilogue *epilogue);

/// 32-bit words that cdam_linear_bf16_pack writes for an (outputs, inputs) weight.
size_t cdam_linear_bf16_packed_count(int outputs, int inputs);

/// Packs w (outputs x inputs, row-major) into bf16 panels of CDAM_LINEAR_PANEL outputs, pairs of inputs per
/// word: packed[p][kk][c] = bf16(w[o][2kk]) | bf16(w[o][2kk + 1]) << 16 with o = p * PANEL + c, rounded to
/// nearest even, zero beyond the last output or input.
void cdam_linear_bf16_pack(const float *w, int outputs, int inputs, uint32_t *packed);

/// cdam_linear with bf16 products and fp32 sums, on a weight packed by cdam_linear_bf16_pack: x is rounded
/// to bf16 per block as it is read. Same arguments and epilogue. Returns 0, or -1 (nothing written) when
/// the CPU lacks AVX512-BF16 or the kernel found no scratch memory.
int cdam_linear_bf16(int rows, int outputs, int inputs, const float *x, int ldx, const uint32_t *packed,
                     const float *bias, float *out, int ldo, int p0, int p1, const cdam_linear_epilogue *epilogue);

/// Micro-benchmarks of the instructions' peaks on one thread: `iterations` rounds of 24 independent
/// VDPBF16PS (resp. fp32 FMA) on registers. Return the flops done (a multiply-add counts 2), or -1 when the
/// CPU lacks the instruction.
double cdam_bf16_peak_loop(long iterations);
double cdam_fp32_peak_loop(long iterations);

#endif
