/* optkern's Adam against the best hand-written C, in one process: the C library (the level its
 * first call picks), the same step written by hand with intrinsics the way DeepSpeed's CPU Adam
 * writes it (one square root and one division per vector, fused multiply-adds, two vectors per
 * iteration), the plain C loop of benches/c/adam_loop.c, a same-traffic copy (read p, g, m,
 * v; write p, m, v), and optkern's Fast profile (no divider: refined AVX-512 estimates; on a
 * CPU without AVX-512 the C library runs its v3 or baseline copy, where Fast is Portable). Interleaved rounds, medians, ns per element, one thread.
 *
 *   bash benches/c/run.sh            (builds the C library, compiles this with -march=native)
 */
#define _POSIX_C_SOURCE 200112L
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optkern.h"

#define LR 1e-3f
#define B1 0.9f
#define B2 0.999f
#define EPS 1e-8f

/* One vector type and its operations for the hand-written loop: AVX-512 or AVX2 + FMA. */
#if defined(__AVX512F__)
#define HAND_VECTOR 1
#define W 16
typedef __m512 vec;
#define SET1 _mm512_set1_ps
#define LOAD _mm512_loadu_ps
#define STORE _mm512_storeu_ps
#define MUL _mm512_mul_ps
#define DIV _mm512_div_ps
#define SQRT _mm512_sqrt_ps
#define FMADD _mm512_fmadd_ps
#elif defined(__AVX2__) && defined(__FMA__)
#define HAND_VECTOR 1
#define W 8
typedef __m256 vec;
#define SET1 _mm256_set1_ps
#define LOAD _mm256_loadu_ps
#define STORE _mm256_storeu_ps
#define MUL _mm256_mul_ps
#define DIV _mm256_div_ps
#define SQRT _mm256_sqrt_ps
#define FMADD _mm256_fmadd_ps
#endif

/* DeepSpeed-style: per-call step = −lr/bc1, 1/√bc2; per element one √ and one ÷. */
static void adam_hand(float *restrict p, const float *restrict g, float *restrict m,
                      float *restrict v, size_t n, int t) {
    const float bc1 = 1.0f - powf(B1, (float)t), bc2 = 1.0f - powf(B2, (float)t);
    const float step = -LR / bc1, inv_sqrt_bc2 = 1.0f / sqrtf(bc2);
    size_t i = 0;
#ifdef HAND_VECTOR
    const vec b1 = SET1(B1), c1 = SET1(1.0f - B1), b2 = SET1(B2), c2 = SET1(1.0f - B2);
    const vec s = SET1(step), k = SET1(inv_sqrt_bc2), e = SET1(EPS);
    /* Two vectors per iteration. */
    for (; i + 2 * W <= n; i += 2 * W) {
        for (size_t u = i; u < i + 2 * W; u += W) {
            vec gi = LOAD(g + u);
            vec mi = FMADD(b1, LOAD(m + u), MUL(c1, gi));
            vec vi = FMADD(b2, LOAD(v + u), MUL(MUL(c2, gi), gi));
            vec pi = FMADD(s, DIV(mi, FMADD(SQRT(vi), k, e)), LOAD(p + u));
            STORE(m + u, mi);
            STORE(v + u, vi);
            STORE(p + u, pi);
        }
    }
#endif
    for (; i < n; i++) {
        m[i] = B1 * m[i] + (1.0f - B1) * g[i];
        v[i] = B2 * v[i] + (1.0f - B2) * g[i] * g[i];
        p[i] += step * (m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + EPS));
    }
}

/* The loop as a user would write it (benches/c/adam_loop.c). */
static void adam_plain(float *restrict p, const float *restrict g, float *restrict m,
                       float *restrict v, size_t n, int t) {
    const float bc1 = 1.0f - powf(B1, (float)t), bc2 = 1.0f - powf(B2, (float)t);
    for (size_t i = 0; i < n; i++) {
        m[i] = B1 * m[i] + (1.0f - B1) * g[i];
        v[i] = B2 * v[i] + (1.0f - B2) * g[i] * g[i];
        p[i] -= LR * (m[i] / bc1) / (sqrtf(v[i] / bc2) + EPS);
    }
}

/* Same traffic as a step: four streams read, three written. */
static void copy_traffic(float *restrict p, const float *restrict g, float *restrict m,
                         float *restrict v, size_t n, int t) {
    (void)t;
    for (size_t i = 0; i < n; i++) {
        p[i] += g[i];
        m[i] += g[i];
        v[i] += g[i];
    }
}

static optkern_adam_config portable, torch, fast;

static void adam_portable(float *p, const float *g, float *m, float *v, size_t n, int t) {
    if (optkern_adam_step(p, g, m, v, NULL, n, (uint32_t)t, &portable, NULL) != OPTKERN_STATUS_OK)
        abort();
}

static void adam_torch(float *p, const float *g, float *m, float *v, size_t n, int t) {
    if (optkern_adam_step(p, g, m, v, NULL, n, (uint32_t)t, &torch, NULL) != OPTKERN_STATUS_OK)
        abort();
}

static void adam_fast(float *p, const float *g, float *m, float *v, size_t n, int t) {
    if (optkern_adam_step(p, g, m, v, NULL, n, (uint32_t)t, &fast, NULL) != OPTKERN_STATUS_OK)
        abort();
}

typedef void (*step_fn)(float *, const float *, float *, float *, size_t, int);

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#define VARIANTS 6
#define MAX_ROUNDS 31

int main(int argc, char **argv) {
    portable = optkern_adam_config_default();
    portable.numerics = OPTKERN_NUMERICS_PORTABLE;
    torch = optkern_adam_config_default();
    fast = optkern_adam_config_default();
    fast.numerics = OPTKERN_NUMERICS_FAST;
    step_fn fns[VARIANTS] = {adam_portable, adam_torch, adam_hand, adam_plain, copy_traffic,
                             adam_fast};
    size_t sizes[4] = {4096, 65536, 1 << 20, 1 << 24};
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    optkern_adam_step(NULL, NULL, NULL, NULL, NULL, 0, 1, &portable, NULL); /* picks the level */
    printf("C library code in use: %s\n", optkern_build_info());
    printf("| n | optkern Portable | optkern Torch | hand-written (1 sqrt, 1 div) | plain C loop | "
           "copy | optkern Fast | Portable vs hand | Torch vs hand | Fast vs hand |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n");
    for (int s = 0; s < (quick ? 1 : 4); s++) {
        size_t n = sizes[s];
        int rounds = quick ? 3 : (n > (1 << 20) ? 9 : 31);
        long iters = quick ? 10 : (long)(400000000.0 / (double)n / 2) + 1;
        float *buf[VARIANTS][4];
        for (int k = 0; k < VARIANTS; k++)
            for (int b = 0; b < 4; b++) {
                buf[k][b] = aligned_alloc(64, ((n * 4 + 63) / 64) * 64);
                for (size_t i = 0; i < n; i++)
                    buf[k][b][i] = b == 1 ? 0.1f * (float)(i % 7) - 0.3f : (b == 0 ? 0.5f : 0.0f);
            }
        double t[VARIANTS][MAX_ROUNDS];
        for (int r = 0; r < rounds; r++)
            for (int k = 0; k < VARIANTS; k++) {
                double a = now();
                for (long it = 0; it < iters; it++)
                    fns[k](buf[k][0], buf[k][1], buf[k][2], buf[k][3], n, (int)(it % 1000) + 1);
                t[k][r] = (now() - a) / (double)iters / (double)n;
            }
        double med[VARIANTS];
        for (int k = 0; k < VARIANTS; k++) {
            qsort(t[k], (size_t)rounds, sizeof(double), cmp);
            med[k] = t[k][rounds / 2];
        }
        /* The variants ran the same steps on the same data: the hand-written and plain loops
         * must be Adam too (parameters within 1e-4 of optkern's Portable result). */
        for (int k = 1; k < VARIANTS; k++)
            for (size_t i = 0; i < n && k != 4; i++)
                if (fabsf(buf[k][0][i] - buf[0][0][i]) > 1e-4f * (1.0f + fabsf(buf[0][0][i]))) {
                    fprintf(stderr, "variant %d differs from optkern at %zu: %g vs %g\n", k, i,
                            (double)buf[k][0][i], (double)buf[0][0][i]);
                    return 1;
                }
        printf("| %zu |", n);
        for (int k = 0; k < VARIANTS; k++) printf(" %.3f |", med[k]);
        printf(" %.2f× | %.2f× | %.2f× |\n", med[2] / med[0], med[2] / med[1], med[2] / med[5]);
        for (int k = 0; k < VARIANTS; k++)
            for (int b = 0; b < 4; b++) free(buf[k][b]);
    }
    return 0;
}
