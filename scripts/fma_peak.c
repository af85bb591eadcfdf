/* The f32 FMA peak one core reaches from a program: 12 independent chains of 8-lane fused
 * multiply-adds (enough to cover the FMA latency on two pipes). Prints GFLOPS (2 per lane per
 * FMA), best of five. Built and run by scripts/gemm-vs-torch.py beside the GEMMs it rates. */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
    const long iters = 20000000;
    double best = 0.0;
    float sink = 0.0f;
    for (int rep = 0; rep < 5; rep++) {
        volatile float xs = 1.000001f, ys = 0.999999f;
        __m256 x = _mm256_set1_ps(xs), y = _mm256_set1_ps(ys);
        /* Different starting values, or the compiler merges identical chains into one. */
        __m256 step = _mm256_set1_ps(ys - 0.5f);
        __m256 a0 = x, a1 = _mm256_add_ps(a0, step), a2 = _mm256_add_ps(a1, step),
               a3 = _mm256_add_ps(a2, step), a4 = _mm256_add_ps(a3, step),
               a5 = _mm256_add_ps(a4, step), a6 = _mm256_add_ps(a5, step),
               a7 = _mm256_add_ps(a6, step), a8 = _mm256_add_ps(a7, step),
               a9 = _mm256_add_ps(a8, step), a10 = _mm256_add_ps(a9, step),
               a11 = _mm256_add_ps(a10, step);
        double t0 = now();
        for (long i = 0; i < iters; i++) {
            a0 = _mm256_fmadd_ps(a0, x, y); a1 = _mm256_fmadd_ps(a1, x, y);
            a2 = _mm256_fmadd_ps(a2, x, y); a3 = _mm256_fmadd_ps(a3, x, y);
            a4 = _mm256_fmadd_ps(a4, x, y); a5 = _mm256_fmadd_ps(a5, x, y);
            a6 = _mm256_fmadd_ps(a6, x, y); a7 = _mm256_fmadd_ps(a7, x, y);
            a8 = _mm256_fmadd_ps(a8, x, y); a9 = _mm256_fmadd_ps(a9, x, y);
            a10 = _mm256_fmadd_ps(a10, x, y); a11 = _mm256_fmadd_ps(a11, x, y);
        }
        double dt = now() - t0;
        __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                 _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
        s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
        float lanes[8];
        _mm256_storeu_ps(lanes, s);
        sink += lanes[0];
        double gflops = (double)iters * 12 * 8 * 2 / dt * 1e-9;
        if (gflops > best) best = gflops;
    }
    printf("%.2f %g\n", best, (double)sink);
    return 0;
}
