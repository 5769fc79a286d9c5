// Throughput of the vector multiply-add instructions this CPU has, one core, in ns per instruction (best of
// 40 runs of 200,000 rounds of 24 independent chains on registers) and relative to fp32 FMA: what each
// reduced-precision route could gain at most (README, bf16). Not part of the build:
//   clang -O3 scripts/instruction_peaks.c -o /tmp/peaks && /tmp/peaks
// Lanes per instruction: fp32 FMA 16 (32 flops), VDPBF16PS 16 lanes x 2 pairs (64 flops), fp16 FMA 32
// (64 flops), VPDPBUSD 16 lanes x 4 int8 products (128 ops).
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static volatile float sink;
#define T __attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl,avx512fp16,avx512vnni"),noinline))
#define LOOP(name, type, init, op) T double name(long it){ type acc[24]; for(int i=0;i<24;i++) acc[i]=init; \
  double t0=now(); for(long k=0;k<it;k++){ __asm__ volatile(""::: "memory"); for(int i=0;i<24;i++) acc[i]=op; } double t1=now(); \
  float s=0; for(int i=0;i<24;i++) s+=((float*)&acc[i])[0]; sink=s; return (t1-t0)/it/24*1e9; }
LOOP(fma512, __m512, _mm512_set1_ps(i), _mm512_fmadd_ps(acc[i], _mm512_set1_ps(0.999f), _mm512_set1_ps(1e-3f)))
LOOP(dp512, __m512, _mm512_set1_ps(i), _mm512_dpbf16_ps(acc[i], (__m512bh)_mm512_set1_epi32(0x3f803f80), (__m512bh)_mm512_set1_epi32(0x3c003c00)))
LOOP(dp256, __m256, _mm256_set1_ps(i), _mm256_dpbf16_ps(acc[i], (__m256bh)_mm256_set1_epi32(0x3f803f80), (__m256bh)_mm256_set1_epi32(0x3c003c00)))
LOOP(fma256, __m256, _mm256_set1_ps(i), _mm256_fmadd_ps(acc[i], _mm256_set1_ps(0.999f), _mm256_set1_ps(1e-3f)))
LOOP(ph512, __m512h, _mm512_set1_ph((_Float16)i), _mm512_fmadd_ph(acc[i], _mm512_set1_ph((_Float16)0.999f), _mm512_set1_ph((_Float16)1e-3f)))
LOOP(vnni512, __m512i, _mm512_set1_epi32(i), _mm512_dpbusd_epi32(acc[i], _mm512_set1_epi32(0x01010101), _mm512_set1_epi32(0x02020202)))
int main(){ double b[6]={1e9,1e9,1e9,1e9,1e9,1e9};
 for(int r=0;r<40;r++){ double v[6]={fma512(200000),dp512(200000),dp256(200000),fma256(200000),ph512(200000),vnni512(200000)}; for(int i=0;i<6;i++) if(v[i]<b[i]) b[i]=v[i]; }
 printf("ns per instruction (best of 40): fma512 %.3f dpbf16 512 %.3f dpbf16 256 %.3f fma256 %.3f fp16fma512 %.3f vpdpbusd512 %.3f\n",b[0],b[1],b[2],b[3],b[4],b[5]);
 printf("relative to fma512: dpbf16_512 %.2fx dpbf16_256 %.2fx fp16 %.2fx vnni %.2fx\n",b[1]/b[0],b[2]/b[0],b[4]/b[0],b[5]/b[0]);}
