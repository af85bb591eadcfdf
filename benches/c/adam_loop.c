/* The straightforward C Adam loop the performance targets are stated against, timed the same
 * way as examples/pbench (ns per element, 4 Ki / 64 Ki elements, median of 7 runs).
 *   gcc -O3 -march=native -fno-math-errno benches/c/adam_loop.c -lm -o adam_loop && ./adam_loop */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void adam(float *p, const float *g, float *m, float *v, int n, int t) {
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    const float bc1 = 1.0f - powf(b1, (float)t), bc2 = 1.0f - powf(b2, (float)t);
    for (int i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= lr * (m[i] / bc1) / (sqrtf(v[i] / bc2) + eps);
    }
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    int sizes[2] = {4096, 65536};
    for (int s = 0; s < 2; s++) {
        int n = sizes[s];
        float *p = malloc(4 * n), *g = malloc(4 * n), *m = calloc(n, 4), *v = calloc(n, 4);
        for (int i = 0; i < n; i++) { p[i] = 0.5f; g[i] = 0.1f * (float)(i % 7); }
        double runs[7];
        long iters = 200000000L / n;
        for (int r = 0; r < 7; r++) {
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            for (long k = 0; k < iters; k++) adam(p, g, m, v, n, 10);
            clock_gettime(CLOCK_MONOTONIC, &b);
            runs[r] = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)iters / n;
        }
        qsort(runs, 7, sizeof runs[0], cmp);
        printf("C loop (gcc -O3 -march=native), n = %d: %.3f ns/element (median of 7)\n", n, runs[3]);
        free(p); free(g); free(m); free(v);
    }
    return 0;
}
