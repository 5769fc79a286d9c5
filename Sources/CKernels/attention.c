// Fused attention for 64-wide heads on AVX-512: o = softmax(scale * q k^T) v without the N x N matrix.
//
// For blocks whose attention probabilities no map reads. Per block of 6 query rows, the keys go by in
// blocks of 64 (FlashAttention, Dao et al. 2022): scores in 24 zmm registers, a running maximum and sum
// per row, and the 6 x 64 output tile rescaled when the maximum grows. Once per call, K is transposed
// per block of keys so that each score step is 4 loads, 6 broadcasts and 24 FMAs; V's rows are read in
// place (prefetched a few keys ahead).

#include "CKernels.h"
#include "vector_math.h"
#include <math.h>
#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define HD 64
#define QR 6
#define KB 64

// The running state of qr query rows: maximum score, sum of e^(score - maximum), and the output tile.
typedef struct {
    float m[QR], l[QR];
    __m512 acc[QR][4];
} RowState;

// Keys [j0, j0 + valid) for query rows [0, qr), in nv vectors of 16 keys (nv = ceil(valid / 16)).
//
// Both products keep their tiles in local registers: with the output tile read and written through
// the state in memory, the compiler stored all 24 accumulators on every key (store-bound, half speed).
__attribute__((target("avx512f"), always_inline))
static inline void key_block(int qr, int nv, int valid, int j0, const float *q, int ld, const float *kt,
                             const float *v, int ldv, float scale, RowState *st) {
    // Scores, 16 keys to a register.
    __m512 s[QR][4];
    for (int r = 0; r < QR; r++) if (r < qr) for (int c = 0; c < 4; c++) if (c < nv) s[r][c] = _mm512_setzero_ps();
    for (int d = 0; d < HD; d++) {
        const float *kd = kt + (size_t)j0 * HD + d * KB;
        __m512 kv[4];
        for (int c = 0; c < 4; c++) if (c < nv) kv[c] = _mm512_load_ps(kd + 16 * c);
        for (int r = 0; r < QR; r++) if (r < qr) {
            __m512 qv = _mm512_set1_ps(q[(size_t)r * ld + d]);
            for (int c = 0; c < 4; c++) if (c < nv) s[r][c] = _mm512_fmadd_ps(qv, kv[c], s[r][c]);
        }
    }
    __mmask16 live[4];
    for (int c = 0; c < 4; c++) {
        int left = valid - 16 * c;
        live[c] = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    }
    // Online softmax: the new running maximum, what was summed so far rescaled (alpha), P = e^(s - max).
    float p[QR][KB] __attribute__((aligned(64)));
    __m512 alpha[QR];
    __m512 scl = _mm512_set1_ps(scale), ninf = _mm512_set1_ps(-INFINITY);
    for (int r = 0; r < QR; r++) if (r < qr) {
        __m512 mx = ninf;
        for (int c = 0; c < 4; c++) if (c < nv) {
            s[r][c] = _mm512_mask_mul_ps(ninf, live[c], s[r][c], scl);
            mx = _mm512_max_ps(mx, s[r][c]);
        }
        float bm = _mm512_reduce_max_ps(mx);
        float mnew = bm > st->m[r] ? bm : st->m[r];
        alpha[r] = exp_nonpositive(_mm512_set1_ps(st->m[r] - mnew));   // 0 on the first block (m = -inf)
        st->m[r] = mnew;
        __m512 mv = _mm512_set1_ps(mnew), sum = _mm512_setzero_ps();
        for (int c = 0; c < 4; c++) if (c < nv) {
            __m512 e = exp_nonpositive(_mm512_sub_ps(s[r][c], mv));
            sum = _mm512_add_ps(sum, e);
            _mm512_store_ps(&p[r][16 * c], e);
        }
        st->l[r] = st->l[r] * _mm512_cvtss_f32(alpha[r]) + _mm512_reduce_add_ps(sum);
    }
    // o = alpha o + P v over the live keys.
    __m512 o[QR][4];
    for (int r = 0; r < QR; r++) if (r < qr) for (int c = 0; c < 4; c++) o[r][c] = _mm512_mul_ps(st->acc[r][c], alpha[r]);
    for (int j = 0; j < valid; j++) {
        const float *vj = v + (size_t)(j0 + j) * ldv;
        const char *ahead = (const char *)(vj + 4 * (size_t)ldv);   // V's rows lie apart: ask 4 keys ahead
        _mm_prefetch(ahead, _MM_HINT_T0); _mm_prefetch(ahead + 64, _MM_HINT_T0);
        _mm_prefetch(ahead + 128, _MM_HINT_T0); _mm_prefetch(ahead + 192, _MM_HINT_T0);
        __m512 v0 = _mm512_loadu_ps(vj), v1 = _mm512_loadu_ps(vj + 16), v2 = _mm512_loadu_ps(vj + 32), v3 = _mm512_loadu_ps(vj + 48);
        for (int r = 0; r < QR; r++) if (r < qr) {
            __m512 pv = _mm512_set1_ps(p[r][j]);
            o[r][0] = _mm512_fmadd_ps(pv, v0, o[r][0]); o[r][1] = _mm512_fmadd_ps(pv, v1, o[r][1]);
            o[r][2] = _mm512_fmadd_ps(pv, v2, o[r][2]); o[r][3] = _mm512_fmadd_ps(pv, v3, o[r][3]);
        }
    }
    for (int r = 0; r < QR; r++) if (r < qr) for (int c = 0; c < 4; c++) st->acc[r][c] = o[r][c];
}

// Query rows [0, qr) against every key, into o.
__attribute__((target("avx512f"), always_inline))
static inline void query_block(int qr, int n, const float *q, int ld, const float *kt, const float *v,
                               float scale, float *o, int ldo) {
    RowState st;
    for (int r = 0; r < QR; r++) if (r < qr) {
        st.m[r] = -INFINITY; st.l[r] = 0;
        for (int c = 0; c < 4; c++) st.acc[r][c] = _mm512_setzero_ps();
    }
    for (int j0 = 0; j0 < n; j0 += KB) {
        int valid = n - j0 < KB ? n - j0 : KB;
        switch ((valid + 15) / 16) {
            case 4: key_block(qr, 4, valid, j0, q, ld, kt, v, ld, scale, &st); break;
            case 3: key_block(qr, 3, valid, j0, q, ld, kt, v, ld, scale, &st); break;
            case 2: key_block(qr, 2, valid, j0, q, ld, kt, v, ld, scale, &st); break;
            default: key_block(qr, 1, valid, j0, q, ld, kt, v, ld, scale, &st); break;
        }
    }
    for (int r = 0; r < QR; r++) if (r < qr) {
        __m512 inv = _mm512_set1_ps(1.0f / st.l[r]);
        for (int c = 0; c < 4; c++) _mm512_storeu_ps(o + (size_t)r * ldo + 16 * c, _mm512_mul_ps(st.acc[r][c], inv));
    }
}

#define QBLOCK(n) case n: query_block(n, keys, q + (size_t)r * ld, ld, kt, v, scale, o + (size_t)r * ldo, ldo); break;

__attribute__((target("avx512f")))
int cdam_attention64(int rows, int keys, const float *q, const float *k, const float *v, int ld, float scale,
                     float *o, int ldo) {
    // K transposed per block of 64 keys (kt[block][d][key], zero past the last key), gathered 16 keys at a
    // time, so the score loop reads it in order. Each thread keeps this scratch between calls (grown when
    // the keys outnumber any call's before). V is read in place: its rows are 64 floats in a row.
    int npad = (keys + KB - 1) / KB * KB;
    static _Thread_local float *kt;
    static _Thread_local size_t capacity;
    size_t need = (size_t)HD * npad;
    if (need > capacity) {
        free(kt);
        capacity = 0;
        if (!(kt = aligned_alloc(64, sizeof(float) * need))) return -1;
        capacity = need;
    }
    __m512i stride = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                        _mm512_set1_epi32(ld));
    for (int j = 0; j < npad; j += 16) {
        __mmask16 live = keys - j >= 16 ? 0xFFFF : keys <= j ? 0 : (__mmask16)((1u << (keys - j)) - 1);
        float *col = kt + (size_t)(j / KB) * KB * HD + j % KB;
        for (int d = 0; d < HD; d++)
            _mm512_store_ps(col + d * KB, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, stride, k + (size_t)j * ld + d, 4));
    }
    for (int r = 0; r < rows; r += QR) {
        switch (rows - r < QR ? rows - r : QR) { QBLOCK(1) QBLOCK(2) QBLOCK(3) QBLOCK(4) QBLOCK(5) QBLOCK(6) }
    }
    return 0;
}

#else

int cdam_attention64(int rows, int keys, const float *q, const float *k, const float *v, int ld, float scale,
                     float *o, int ldo) {
    return -1;
}

#endif
