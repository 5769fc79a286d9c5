// y = x W^T + b in bf16 products with fp32 sums, on CPUs with AVX512-BF16 (VDPBF16PS).
//
// VDPBF16PS multiplies 32 bf16 pairs per instruction where an fp32 FMA multiplies 16 floats: twice the
// multiply-adds per instruction. Each fp32 lane j of the accumulator takes a[2j] b[2j] + a[2j+1] b[2j+1], so
// the operands come in pairs along the input dimension:
//   - W is packed once (cdam_linear_bf16_pack) into panels of 32 outputs, pair-major: for input pair kk,
//     32 words (one per output) of {w[o][2kk], w[o][2kk+1]}, rounded to nearest even;
//   - x is converted per block of rows and inputs into bf16 rows (pairs of inputs as one 32-bit word), and
//     each word is broadcast to all lanes straight from memory: no transposing pack as the fp32 kernel has.
// The loop order, the 12 x 32 tile in 24 zmm registers and the epilogues are those of linear.c; the sums stay
// in fp32 for the whole product, so the only rounding is of each operand to bf16's 8-bit mantissa.
//
// Built per function for the instruction (target attribute), so the rest of the package keeps its baseline;
// callers ask cdam_bf16_available() first.

#include "CKernels.h"
#include <stdint.h>
#include <stdlib.h>

#define NR CDAM_LINEAR_PANEL
#define MR 12
#define KC 768            // inputs per block (384 pairs): one panel's block of weights is 48 KB
#define MC (22 * MR)
#define PG 8

size_t cdam_linear_bf16_packed_count(int outputs, int inputs) {
    return (size_t)((outputs + NR - 1) / NR) * NR * (size_t)((inputs + 1) / 2);
}

// Round to nearest even, as VCVTNE2PS2BF16 does (NaN stays NaN).
static uint32_t to_bf16(float f) {
    union { float f; uint32_t u; } v = { f };
    if ((v.u & 0x7fffffff) > 0x7f800000) return (v.u >> 16) | 0x40;
    return (v.u + 0x7fff + ((v.u >> 16) & 1)) >> 16;
}

void cdam_linear_bf16_pack(const float *w, int outputs, int inputs, uint32_t *packed) {
    int panels = (outputs + NR - 1) / NR, pairs = (inputs + 1) / 2;
    for (int p = 0; p < panels; p++)
        for (int c = 0; c < NR; c++) {
            int o = p * NR + c;
            uint32_t *dst = packed + (size_t)p * pairs * NR + c;
            const float *row = w + (size_t)o * inputs;
            for (int kk = 0; kk < pairs; kk++) {
                uint32_t lo = o < outputs ? to_bf16(row[2 * kk]) : 0;
                uint32_t hi = o < outputs && 2 * kk + 1 < inputs ? to_bf16(row[2 * kk + 1]) : 0;
                dst[(size_t)kk * NR] = lo | hi << 16;
            }
        }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define BF16_TARGET __attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl")))

void cdam_linear_finish_tile(const cdam_linear_epilogue *e, int mr, float *y, int ldy, __mmask16 m0, __mmask16 m1,
                             size_t row, int col);

// Rows [0, mr) of x, inputs [0, kc), into bf16 rows of (kc + 1) / 2 words at stride ldxb words; an odd tail
// pairs with a zero.
BF16_TARGET
static void convert_rows(const float *x, int ldx, int mr, int kc, uint32_t *xb, int ldxb) {
    for (int r = 0; r < mr; r++) {
        const float *src = x + (size_t)r * ldx;
        uint16_t *dst = (uint16_t *)(xb + (size_t)r * ldxb);
        for (int k = 0; k < kc; k += 32) {
            int left = kc - k;
            __mmask16 m0 = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
            __mmask16 m1 = left >= 32 ? 0xFFFF : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, src + k + 16), _mm512_maskz_loadu_ps(m0, src + k));
            int even = left >= 32 ? 32 : (left + 1) & ~1;
            __mmask32 m = even >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << even) - 1);
            _mm512_mask_storeu_epi16(dst + k, m, (__m512i)v);
        }
    }
}

// The 12 x 32 tile (mr rows, nc columns) over kp input pairs, starting from the bias or from y (accumulate).
BF16_TARGET __attribute__((always_inline))
static inline void tile(int mr, int kp, const uint32_t *xb, int ldxb, const uint32_t *wp, const float *bias, float *y,
                        int ldy, int nc, int accumulate, const cdam_linear_epilogue *e, size_t row, int col) {
    __mmask16 m0 = nc >= 16 ? 0xFFFF : (__mmask16)((1u << nc) - 1);
    __mmask16 m1 = nc >= 32 ? 0xFFFF : nc <= 16 ? 0 : (__mmask16)((1u << (nc - 16)) - 1);
    __m512 acc[MR][2];
    if (accumulate) {
        for (int r = 0; r < MR; r++) if (r < mr) {
            acc[r][0] = _mm512_maskz_loadu_ps(m0, y + (size_t)r * ldy);
            acc[r][1] = _mm512_maskz_loadu_ps(m1, y + (size_t)r * ldy + 16);
        }
    } else {
        __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
        __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
        for (int r = 0; r < MR; r++) if (r < mr) { acc[r][0] = b0; acc[r][1] = b1; }
    }
    for (int i = 0; i < kp; i++) {
        _mm_prefetch((const char *)(wp + (i + 16) * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(wp + (i + 16) * NR + 16), _MM_HINT_T0);
        __m512bh w0 = (__m512bh)_mm512_loadu_si512(wp + i * NR), w1 = (__m512bh)_mm512_loadu_si512(wp + i * NR + 16);
        for (int r = 0; r < MR; r++) if (r < mr) {
            __m512bh v = (__m512bh)_mm512_set1_epi32((int)xb[(size_t)r * ldxb + i]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], v, w0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], v, w1);
        }
    }
    for (int r = 0; r < MR; r++) if (r < mr) {
        _mm512_mask_storeu_ps(y + (size_t)r * ldy, m0, acc[r][0]);
        _mm512_mask_storeu_ps(y + (size_t)r * ldy + 16, m1, acc[r][1]);
    }
    if (e) cdam_linear_finish_tile(e, mr, y, ldy, m0, m1, row, col);
}

#define TILE(n) case n: tile(n, kp, xb, kp, wp, b, y, ldo, nc, k0 > 0, k0 + kc == inputs ? epilogue : NULL, r, p * NR); break;

BF16_TARGET
int cdam_linear_bf16(int rows, int outputs, int inputs, const float *x, int ldx, const uint32_t *packed,
                     const float *bias, float *out, int ldo, int p0, int p1, const cdam_linear_epilogue *epilogue) {
    if (!cdam_bf16_available()) return -1;
    if (epilogue && !epilogue->residual && !epilogue->gelu) epilogue = NULL;
    static _Thread_local uint32_t *scratch;   // kept per thread, as linear.c's
    if (!scratch && !(scratch = malloc(sizeof(uint32_t) * MC * (KC / 2)))) return -1;
    int pairs = (inputs + 1) / 2;
    for (int r0 = 0; r0 < rows; r0 += MC) {
        int r1 = r0 + MC < rows ? r0 + MC : rows;
        for (int k0 = 0; k0 < inputs; k0 += KC) {
            int kc = inputs - k0 < KC ? inputs - k0 : KC, kp = (kc + 1) / 2;
            convert_rows(x + (size_t)r0 * ldx + k0, ldx, r1 - r0, kc, scratch, kp);
            for (int g = p0; g < p1; g += PG) {
                int g1 = g + PG < p1 ? g + PG : p1;
                for (int r = r0; r < r1; r += MR) {
                    int mr = r1 - r < MR ? r1 - r : MR;
                    const uint32_t *xb = scratch + (size_t)(r - r0) * kp;
                    for (int p = g; p < g1; p++) {
                        const uint32_t *wp = packed + ((size_t)p * pairs + k0 / 2) * NR;
                        const float *b = bias ? bias + p * NR : NULL;
                        float *y = out + (size_t)r * ldo + p * NR;
                        int nc = outputs - p * NR < NR ? outputs - p * NR : NR;
                        switch (mr) { TILE(1) TILE(2) TILE(3) TILE(4) TILE(5) TILE(6)
                                      TILE(7) TILE(8) TILE(9) TILE(10) TILE(11) TILE(12) }
                    }
                }
            }
        }
    }
    return 0;
}

static volatile float peak_sink;   // the sums go somewhere, so the loops are not optimised away

// The instruction's peak: 24 independent chains of VDPBF16PS on registers (enough to cover its latency on two
// ports), 2 * 32 flops each.
BF16_TARGET
double cdam_bf16_peak_loop(long iterations) {
    if (!cdam_bf16_available()) return -1;
    __m512 acc[24];
    for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps((float)i);
    __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = (__m512bh)_mm512_set1_epi32(0x3c003c00);
    for (long it = 0; it < iterations; it++) {
        __asm__ volatile("" : "+v"(a));   // keeps the compiler from hoisting or folding the chain
        for (int i = 0; i < 24; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
    for (int i = 1; i < 24; i++) s = _mm512_add_ps(s, acc[i]);
    peak_sink = _mm512_reduce_add_ps(s);
    return (double)iterations * 24 * 64;
}

// The same for fp32 FMA (2 * 16 flops each), the ceiling of linear.c's kernel.
__attribute__((target("avx512f")))
double cdam_fp32_peak_loop(long iterations) {
    if (!cdam_avx512_available()) return -1;
    __m512 acc[24];
    for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps((float)i);
    __m512 a = _mm512_set1_ps(1.0f), b = _mm512_set1_ps(1e-6f);
    for (long it = 0; it < iterations; it++) {
        __asm__ volatile("" : "+v"(a));
        for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(a, b, acc[i]);
    }
    __m512 s = acc[0];
    for (int i = 1; i < 24; i++) s = _mm512_add_ps(s, acc[i]);
    peak_sink = _mm512_reduce_add_ps(s);
    return (double)iterations * 24 * 32;
}

#else

int cdam_linear_bf16(int rows, int outputs, int inputs, const float *x, int ldx, const uint32_t *packed,
                     const float *bias, float *out, int ldo, int p0, int p1, const cdam_linear_epilogue *epilogue) {
    return -1;
}

double cdam_bf16_peak_loop(long iterations) { return -1; }
double cdam_fp32_peak_loop(long iterations) { return -1; }

#endif
