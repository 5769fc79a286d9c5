// y = x W^T + b for the model's linear layers, on AVX-512.
//
// Why not OpenBLAS here: it packs W again on every call, and with one image per pass each core
// multiplies only ~128 rows by W, so packing W cost a sixth of the forward pass. Here W is packed
// once, at load time, into panels of 32 output features (k-major, 32 floats per input feature); x is
// packed per call into 12-row panels (k-major, 12 floats per input feature), which is cheap.
//
// Loop order (GotoBLAS style): rows in blocks of MC (packed x stays in L2), inputs in blocks of KC,
// output panels in groups of PG (their weights stay in L2), then 12-row panels; the 12 x 32 tile of y
// lives in 24 zmm registers for a whole KC block: 24 FMAs per input feature against 2 weight loads
// and 12 broadcasts. After the last KC block the tile may take an epilogue while it is still in L1 (the
// residual with LayerScale, or GELU), which saves a pass over the whole output.

#include "CKernels.h"
#include <stdlib.h>

#define NR CDAM_LINEAR_PANEL
#define MR 12
#define KC 384
#define MC (22 * MR)
#define PG 8

size_t cdam_linear_packed_count(int outputs, int inputs) {
    return (size_t)((outputs + NR - 1) / NR) * NR * (size_t)inputs;
}

void cdam_linear_pack(const float *w, int outputs, int inputs, float *packed) {
    int panels = (outputs + NR - 1) / NR;
    for (int p = 0; p < panels; p++)
        for (int c = 0; c < NR; c++) {   // one row of w at a time, read in order
            int o = p * NR + c;
            float *dst = packed + (size_t)p * inputs * NR + c;
            for (int i = 0; i < inputs; i++) dst[(size_t)i * NR] = o < outputs ? w[(size_t)o * inputs + i] : 0;
        }
}

void cdam_linear_unpack(const float *packed, int outputs, int inputs, float *w) {
    for (int o = 0; o < outputs; o++) {
        const float *src = packed + (size_t)(o / NR) * inputs * NR + o % NR;
        for (int i = 0; i < inputs; i++) w[(size_t)o * inputs + i] = src[(size_t)i * NR];
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
#include "vector_math.h"


// Rows [0, mr) of x, inputs [0, kc), into xp[i][r] (MR floats per input).
static void pack_rows(const float *x, int ldx, int mr, int kc, float *xp) {
    for (int i = 0; i < kc; i++)
        for (int r = 0; r < mr; r++) xp[i * MR + r] = x[(size_t)r * ldx + i];
}

// The epilogue on a tile just stored (still in L1), in a function of its own: inlined into the tile, its
// registers made the compiler spill the accumulators of the 12-row loop (2.4 times slower). The bf16 kernel
// (linear_bf16.c) ends its tiles with it too.
__attribute__((target("avx512f"), noinline, visibility("hidden")))
void cdam_linear_finish_tile(const cdam_linear_epilogue *e, int mr, float *y, int ldy, __mmask16 m0, __mmask16 m1,
                        size_t row, int col) {
    if (e->residual) {   // y = residual + scale * y
        __m512 s0 = e->scale ? _mm512_maskz_loadu_ps(m0, e->scale + col) : _mm512_set1_ps(1.0f);
        __m512 s1 = e->scale ? _mm512_maskz_loadu_ps(m1, e->scale + col + 16) : _mm512_set1_ps(1.0f);
        for (int r = 0; r < mr; r++) {
            const float *res = e->residual + (row + r) * e->ld_residual + col;
            float *o = y + (size_t)r * ldy;
            _mm512_mask_storeu_ps(o, m0, _mm512_fmadd_ps(s0, _mm512_maskz_loadu_ps(m0, o), _mm512_maskz_loadu_ps(m0, res)));
            _mm512_mask_storeu_ps(o + 16, m1, _mm512_fmadd_ps(s1, _mm512_maskz_loadu_ps(m1, o + 16),
                                                             _mm512_maskz_loadu_ps(m1, res + 16)));
        }
    }
    if (e->gelu) {       // y = GELU(y), y itself into pre
        for (int r = 0; r < mr; r++) {
            float *o = y + (size_t)r * ldy;
            __m512 y0 = _mm512_maskz_loadu_ps(m0, o), y1 = _mm512_maskz_loadu_ps(m1, o + 16);
            if (e->pre) {
                float *pre = e->pre + (row + r) * e->ld_pre + col;
                _mm512_mask_storeu_ps(pre, m0, y0);
                _mm512_mask_storeu_ps(pre + 16, m1, y1);
            }
            _mm512_mask_storeu_ps(o, m0, gelu_erf(y0));
            _mm512_mask_storeu_ps(o + 16, m1, gelu_erf(y1));
        }
    }
}

// The 12 x 32 tile (mr rows, nc columns) over kc inputs, starting from the bias or from y (accumulate).
__attribute__((target("avx512f"), always_inline))
static inline void tile(int mr, int kc, const float *xp, const float *wp, const float *bias, float *y, int ldy,
                        int nc, int accumulate, const cdam_linear_epilogue *e, size_t row, int col) {
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
    for (int i = 0; i < kc; i++) {
        // The weights come from memory on the first tile of a panel group: ask for them 2 KB ahead.
        _mm_prefetch((const char *)(wp + (i + 16) * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(wp + (i + 16) * NR + 16), _MM_HINT_T0);
        __m512 w0 = _mm512_loadu_ps(wp + i * NR), w1 = _mm512_loadu_ps(wp + i * NR + 16);
        for (int r = 0; r < MR; r++) if (r < mr) {
            __m512 v = _mm512_set1_ps(xp[i * MR + r]);
            acc[r][0] = _mm512_fmadd_ps(v, w0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(v, w1, acc[r][1]);
        }
    }
    for (int r = 0; r < MR; r++) if (r < mr) {
        _mm512_mask_storeu_ps(y + (size_t)r * ldy, m0, acc[r][0]);
        _mm512_mask_storeu_ps(y + (size_t)r * ldy + 16, m1, acc[r][1]);
    }
    if (e) cdam_linear_finish_tile(e, mr, y, ldy, m0, m1, row, col);
}

// One call per row count, so each instance keeps its accumulators in registers.
#define TILE(n) case n: tile(n, kc, xp, wp, b, y, ldo, nc, k0 > 0, k0 + kc == inputs ? epilogue : NULL, r, p * NR); break;

__attribute__((target("avx512f")))
int cdam_linear(int rows, int outputs, int inputs, const float *x, int ldx, const float *packed,
                const float *bias, float *out, int ldo, int p0, int p1, const cdam_linear_epilogue *epilogue) {
    if (epilogue && !epilogue->residual && !epilogue->gelu) epilogue = NULL;
    // Each thread's packed rows, allocated on its first call and kept: a fresh block per call would fault
    // its pages in again on every product.
    static _Thread_local float *scratch;
    if (!scratch && !(scratch = malloc(sizeof(float) * MC * KC))) return -1;
    for (int r0 = 0; r0 < rows; r0 += MC) {
        int r1 = r0 + MC < rows ? r0 + MC : rows;
        for (int k0 = 0; k0 < inputs; k0 += KC) {
            int kc = inputs - k0 < KC ? inputs - k0 : KC;
            for (int r = r0; r < r1; r += MR)
                pack_rows(x + (size_t)r * ldx + k0, ldx, r1 - r < MR ? r1 - r : MR, kc, scratch + (size_t)(r - r0) * kc);
            for (int g = p0; g < p1; g += PG) {
                int g1 = g + PG < p1 ? g + PG : p1;
                for (int r = r0; r < r1; r += MR) {
                    int mr = r1 - r < MR ? r1 - r : MR;
                    const float *xp = scratch + (size_t)(r - r0) * kc;
                    for (int p = g; p < g1; p++) {
                        const float *wp = packed + ((size_t)p * inputs + k0) * NR;
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

#else


int cdam_linear(int rows, int outputs, int inputs, const float *x, int ldx, const float *packed,
                const float *bias, float *out, int ldo, int p0, int p1, const cdam_linear_epilogue *epilogue) {
    return -1;
}

#endif
