/* optkern's divider-bound optimizers against the best hand-written C, in one process: for Adam,
 * Adagrad, RMSprop, Adadelta, Adamax, NAdam and RAdam (torch's defaults), the C library (the
 * level its first call picks) in its three profiles (Adamax: two), the same step written by hand
 * with intrinsics the way DeepSpeed's CPU Adam writes it (per-call coefficients computed once,
 * at most one square root and one division per vector, fused multiply-adds, two vectors per
 * iteration), the plain C loop a user would write (gcc -O3 -march=native; for Adam the loop of
 * benches/c/adam_loop.c), and a same-traffic copy (every buffer read, every written buffer
 * written). optkern's Fast profile has no divider (refined AVX-512 estimates; on a CPU without
 * AVX-512 the C library runs its v3 or baseline copy, where Fast is Portable). Interleaved
 * rounds, medians, ns per element (at 16 elements: ns per call, the fixed cost of a call), one
 * thread. The step count cycles 1..1000.
 *
 *   bash benches/c/run.sh [--quick] [adam|adagrad|rmsprop|adadelta|adamax|nadam|radam ...]
 *   (builds the C library, compiles this with -march=native; --quick: 4 Ki elements, 3 short
 *   rounds, a smoke test)
 */
#define _POSIX_C_SOURCE 200112L
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optkern.h"

/* torch's defaults. */
#define ADAM_LR 1e-3f
#define B1 0.9f
#define B2 0.999f
#define ADAM_EPS 1e-8f
#define ADAGRAD_LR 1e-2f
#define ADAGRAD_EPS 1e-10f
#define RMSPROP_LR 1e-2f
#define ALPHA 0.99f
#define RMSPROP_EPS 1e-8f

/* One vector type and its operations for the hand-written loops: AVX-512 or AVX2 + FMA. */
#if defined(__AVX512F__)
#define HAND_VECTOR 1
#define W 16
typedef __m512 vec;
#define SET1 _mm512_set1_ps
#define LOAD _mm512_loadu_ps
#define STORE _mm512_storeu_ps
#define ADD _mm512_add_ps
#define MUL _mm512_mul_ps
#define DIV _mm512_div_ps
#define SQRT _mm512_sqrt_ps
#define FMADD _mm512_fmadd_ps
#define ABS _mm512_abs_ps
#define MAX _mm512_max_ps
#elif defined(__AVX2__) && defined(__FMA__)
#define HAND_VECTOR 1
#define W 8
typedef __m256 vec;
#define SET1 _mm256_set1_ps
#define LOAD _mm256_loadu_ps
#define STORE _mm256_storeu_ps
#define ADD _mm256_add_ps
#define MUL _mm256_mul_ps
#define DIV _mm256_div_ps
#define SQRT _mm256_sqrt_ps
#define FMADD _mm256_fmadd_ps
#define ABS(x) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), (x))
#define MAX _mm256_max_ps
#endif

/* A C library call that must succeed (the bench's inputs are valid). */
#define MUST(call)                                                                              \
    do {                                                                                       \
        if ((call) != OPTKERN_STATUS_OK) abort();                                              \
    } while (0)

/* The buffers of a step: parameters `p`, gradients `g` and one or two state buffers. */
#define BUFFERS1(s1)                                                                            \
    float *restrict p = b[0], *restrict s1 = b[2];                                             \
    const float *restrict g = b[1]
#define BUFFERS2(s1, s2)                                                                        \
    float *restrict p = b[0], *restrict s1 = b[2], *restrict s2 = b[3];                        \
    const float *restrict g = b[1]

/* A hand-written loop's vector part: two vectors per iteration, `u` the first element of each;
 * `i` is left where the scalar tail starts. */
#define VECTOR_PAIRS(i, n, u)                                                                   \
    for (; (i) + 2 * W <= (n); (i) += 2 * W)                                                    \
        for (size_t u = (i); u < (i) + 2 * W; u += W)

/* Every variant: buffers p, g and up to two state buffers, n elements, 1-based step t. */
typedef void (*step_fn)(float *const b[4], size_t n, int t);

/* ---- Adam ---- */

/* DeepSpeed-style: per-call step = −lr/bc1, 1/√bc2; per element one √ and one ÷. */
static void adam_hand(float *const b[4], size_t n, int t) {
    BUFFERS2(m, v);
    const float bc1 = 1.0f - powf(B1, (float)t), bc2 = 1.0f - powf(B2, (float)t);
    const float step = -ADAM_LR / bc1, inv_sqrt_bc2 = 1.0f / sqrtf(bc2);
    size_t i = 0;
#ifdef HAND_VECTOR
    const vec b1 = SET1(B1), c1 = SET1(1.0f - B1), b2 = SET1(B2), c2 = SET1(1.0f - B2);
    const vec s = SET1(step), k = SET1(inv_sqrt_bc2), e = SET1(ADAM_EPS);
    VECTOR_PAIRS(i, n, u) {
        vec gi = LOAD(g + u);
        vec mi = FMADD(b1, LOAD(m + u), MUL(c1, gi));
        vec vi = FMADD(b2, LOAD(v + u), MUL(MUL(c2, gi), gi));
        vec pi = FMADD(s, DIV(mi, FMADD(SQRT(vi), k, e)), LOAD(p + u));
        STORE(m + u, mi);
        STORE(v + u, vi);
        STORE(p + u, pi);
    }
#endif
    for (; i < n; i++) {
        m[i] = B1 * m[i] + (1.0f - B1) * g[i];
        v[i] = B2 * v[i] + (1.0f - B2) * g[i] * g[i];
        p[i] += step * (m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + ADAM_EPS));
    }
}

/* The loop as a user would write it (benches/c/adam_loop.c). */
static void adam_plain(float *const b[4], size_t n, int t) {
    BUFFERS2(m, v);
    const float bc1 = 1.0f - powf(B1, (float)t), bc2 = 1.0f - powf(B2, (float)t);
    for (size_t i = 0; i < n; i++) {
        m[i] = B1 * m[i] + (1.0f - B1) * g[i];
        v[i] = B2 * v[i] + (1.0f - B2) * g[i] * g[i];
        p[i] -= ADAM_LR * (m[i] / bc1) / (sqrtf(v[i] / bc2) + ADAM_EPS);
    }
}

/* Four streams read, three written. */
static void adam_copy(float *const b[4], size_t n, int t) {
    BUFFERS2(m, v);
    (void)t;
    for (size_t i = 0; i < n; i++) {
        p[i] += g[i];
        m[i] += g[i];
        v[i] += g[i];
    }
}

static optkern_adam_config adam_cfg[3];

/* Portable with the bias corrections prepared once per step (optkern_adam_prepare): a model of
 * many tensors calls optkern_adam_step_prepared per tensor; here, one tensor per step, the
 * preparation is made before the timing for every step 1..1000. */
static optkern_adam_prepared adam_prepared_steps[1000];

static void adam_prepared(float *const b[4], size_t n, int t) {
    MUST(optkern_adam_step_prepared(b[0], b[1], b[2], b[3], NULL, n,
                                    &adam_prepared_steps[(t - 1) % 1000], NULL));
}

static void adam_optkern(int profile, float *const b[4], size_t n, int t) {
    MUST(optkern_adam_step(b[0], b[1], b[2], b[3], NULL, n, (uint32_t)t, &adam_cfg[profile],
                           NULL));
}

/* ---- Adagrad (lr_decay 0, so η_t = η; at t = 1 optkern starts the accumulator from its
 * initial value, 0, whatever it held, which these loops do not: the timing rounds pass t = 1
 * once in 1,000 calls, and the sameness check starts from zero, where the two agree) ---- */

static void adagrad_hand(float *const b[4], size_t n, int t) {
    BUFFERS1(s);
    (void)t;
    size_t i = 0;
#ifdef HAND_VECTOR
    const vec lr = SET1(-ADAGRAD_LR), e = SET1(ADAGRAD_EPS);
    VECTOR_PAIRS(i, n, u) {
        vec gi = LOAD(g + u);
        vec si = FMADD(gi, gi, LOAD(s + u));
        vec pi = FMADD(lr, DIV(gi, ADD(SQRT(si), e)), LOAD(p + u));
        STORE(s + u, si);
        STORE(p + u, pi);
    }
#endif
    for (; i < n; i++) {
        s[i] += g[i] * g[i];
        p[i] -= ADAGRAD_LR * g[i] / (sqrtf(s[i]) + ADAGRAD_EPS);
    }
}

static void adagrad_plain(float *const b[4], size_t n, int t) {
    BUFFERS1(s);
    (void)t;
    for (size_t i = 0; i < n; i++) {
        s[i] += g[i] * g[i];
        p[i] -= ADAGRAD_LR * g[i] / (sqrtf(s[i]) + ADAGRAD_EPS);
    }
}

/* Three streams read, two written (Adagrad and RMSprop). */
static void two_state_copy(float *const b[4], size_t n, int t) {
    BUFFERS1(s);
    (void)t;
    for (size_t i = 0; i < n; i++) {
        p[i] += g[i];
        s[i] += g[i];
    }
}

static optkern_adagrad_config adagrad_cfg[3];

static void adagrad_optkern(int profile, float *const b[4], size_t n, int t) {
    MUST(optkern_adagrad_step(b[0], b[1], b[2], n, (uint32_t)t + 1, &adagrad_cfg[profile],
                              NULL));
}

/* ---- RMSprop (no momentum, not centered) ---- */

static void rmsprop_hand(float *const b[4], size_t n, int t) {
    BUFFERS1(s);
    (void)t;
    size_t i = 0;
#ifdef HAND_VECTOR
    const vec a = SET1(ALPHA), c = SET1(1.0f - ALPHA), lr = SET1(-RMSPROP_LR),
              e = SET1(RMSPROP_EPS);
    VECTOR_PAIRS(i, n, u) {
        vec gi = LOAD(g + u);
        vec si = FMADD(a, LOAD(s + u), MUL(MUL(c, gi), gi));
        vec pi = FMADD(lr, DIV(gi, ADD(SQRT(si), e)), LOAD(p + u));
        STORE(s + u, si);
        STORE(p + u, pi);
    }
#endif
    for (; i < n; i++) {
        s[i] = ALPHA * s[i] + (1.0f - ALPHA) * g[i] * g[i];
        p[i] -= RMSPROP_LR * g[i] / (sqrtf(s[i]) + RMSPROP_EPS);
    }
}

static void rmsprop_plain(float *const b[4], size_t n, int t) {
    BUFFERS1(s);
    (void)t;
    for (size_t i = 0; i < n; i++) {
        s[i] = ALPHA * s[i] + (1.0f - ALPHA) * g[i] * g[i];
        p[i] -= RMSPROP_LR * g[i] / (sqrtf(s[i]) + RMSPROP_EPS);
    }
}

static optkern_rmsprop_config rmsprop_cfg[3];

static void rmsprop_optkern(int profile, float *const b[4], size_t n, int t) {
    (void)t;
    MUST(optkern_rmsprop_step(b[0], b[1], b[2], NULL, NULL, n, &rmsprop_cfg[profile], NULL));
}

/* ---- Adadelta (torch's defaults: η = 1, ρ = 0.9, ε = 1e-6) ---- */

static optkern_adadelta_config adadelta_cfg[3];

/* One √ and one ÷ per vector: δ = √((a + ε)/(s + ε))·g, as optkern's Portable form. */
static void adadelta_hand(float *const b[4], size_t n, int t) {
    BUFFERS2(s, a);
    const float rho = (float)adadelta_cfg[0].rho, eps = (float)adadelta_cfg[0].eps;
    const float lr = (float)adadelta_cfg[0].lr;
    (void)t;
    size_t i = 0;
#ifdef HAND_VECTOR
    const vec r = SET1(rho), c = SET1(1.0f - rho), e = SET1(eps), l = SET1(-lr);
    VECTOR_PAIRS(i, n, u) {
        vec gi = LOAD(g + u);
        vec si = FMADD(r, LOAD(s + u), MUL(MUL(c, gi), gi));
        vec ai = LOAD(a + u);
        vec d = MUL(SQRT(DIV(ADD(ai, e), ADD(si, e))), gi);
        STORE(s + u, si);
        STORE(a + u, FMADD(r, ai, MUL(MUL(c, d), d)));
        STORE(p + u, FMADD(l, d, LOAD(p + u)));
    }
#endif
    for (; i < n; i++) {
        s[i] = rho * s[i] + (1.0f - rho) * g[i] * g[i];
        float d = sqrtf((a[i] + eps) / (s[i] + eps)) * g[i];
        a[i] = rho * a[i] + (1.0f - rho) * d * d;
        p[i] -= lr * d;
    }
}

/* torch's form: two roots and a division per element. */
static void adadelta_plain(float *const b[4], size_t n, int t) {
    BUFFERS2(s, a);
    const float rho = (float)adadelta_cfg[0].rho, eps = (float)adadelta_cfg[0].eps;
    const float lr = (float)adadelta_cfg[0].lr;
    (void)t;
    for (size_t i = 0; i < n; i++) {
        s[i] = rho * s[i] + (1.0f - rho) * g[i] * g[i];
        float d = sqrtf(a[i] + eps) / sqrtf(s[i] + eps) * g[i];
        a[i] = rho * a[i] + (1.0f - rho) * d * d;
        p[i] -= lr * d;
    }
}

static void adadelta_optkern(int profile, float *const b[4], size_t n, int t) {
    (void)t;
    MUST(optkern_adadelta_step(b[0], b[1], b[2], b[3], n, &adadelta_cfg[profile], NULL));
}

/* ---- Adamax (torch's defaults; optkern has no Fast form: one division, no root) ---- */

static optkern_adamax_config adamax_cfg[3];

static void adamax_hand(float *const b[4], size_t n, int t) {
    BUFFERS2(m, u);
    const float b1 = (float)adamax_cfg[0].beta1, b2 = (float)adamax_cfg[0].beta2;
    const float eps = (float)adamax_cfg[0].eps;
    const float step = -(float)adamax_cfg[0].lr / (1.0f - powf(b1, (float)t));
    size_t i = 0;
#ifdef HAND_VECTOR
    const vec vb1 = SET1(b1), c1 = SET1(1.0f - b1), vb2 = SET1(b2), e = SET1(eps);
    const vec st = SET1(step);
    VECTOR_PAIRS(i, n, k) {
        vec gi = LOAD(g + k);
        vec mi = FMADD(vb1, LOAD(m + k), MUL(c1, gi));
        vec ui = MAX(MUL(vb2, LOAD(u + k)), ADD(ABS(gi), e));
        STORE(m + k, mi);
        STORE(u + k, ui);
        STORE(p + k, FMADD(st, DIV(mi, ui), LOAD(p + k)));
    }
#endif
    for (; i < n; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        u[i] = fmaxf(b2 * u[i], fabsf(g[i]) + eps);
        p[i] += step * (m[i] / u[i]);
    }
}

static void adamax_plain(float *const b[4], size_t n, int t) {
    BUFFERS2(m, u);
    const float b1 = (float)adamax_cfg[0].beta1, b2 = (float)adamax_cfg[0].beta2;
    const float eps = (float)adamax_cfg[0].eps, lr = (float)adamax_cfg[0].lr;
    const float bc1 = 1.0f - powf(b1, (float)t);
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        u[i] = fmaxf(b2 * u[i], fabsf(g[i]) + eps);
        p[i] -= lr / bc1 * m[i] / u[i];
    }
}

static void adamax_optkern(int profile, float *const b[4], size_t n, int t) {
    MUST(optkern_adamax_step(b[0], b[1], b[2], b[3], n, (uint32_t)t, &adamax_cfg[profile],
                             NULL));
}

/* ---- NAdam (torch's defaults). Its μ-product is state across calls: each variant keeps its
 * own and restarts it at t = 1 (every round starts at t = 1). ---- */

static optkern_nadam_config nadam_cfg[3];

/* The per-call NAdam coefficients: β₁, β₂, ε, and c_g·g + c_m·m the update's numerator, 1/√bc2
 * the scale of √v. */
typedef struct {
    float b1, b2, eps, cg, cm, inv_sqrt_bc2;
} nadam_coef;

static nadam_coef nadam_coefs(float *mu_product, int t) {
    const optkern_nadam_config *c = &nadam_cfg[0];
    double mu = c->beta1 * (1.0 - 0.5 * pow(0.96, t * c->momentum_decay));
    double mu_next = c->beta1 * (1.0 - 0.5 * pow(0.96, (t + 1) * c->momentum_decay));
    if (t == 1) *mu_product = 1.0f;
    *mu_product *= (float)mu;
    double mp = *mu_product, bc2 = 1.0 - pow(c->beta2, t);
    nadam_coef k = {(float)c->beta1,
                    (float)c->beta2,
                    (float)c->eps,
                    (float)(-c->lr * (1.0 - mu) / (1.0 - mp)),
                    (float)(-c->lr * mu_next / (1.0 - mp * mu_next)),
                    (float)(1.0 / sqrt(bc2))};
    return k;
}

static void nadam_hand(float *const b[4], size_t n, int t) {
    static float mu_product = 1.0f;
    BUFFERS2(m, v);
    const nadam_coef k = nadam_coefs(&mu_product, t);
    size_t i = 0;
#ifdef HAND_VECTOR
    const vec vb1 = SET1(k.b1), c1 = SET1(1.0f - k.b1), vb2 = SET1(k.b2), c2 = SET1(1.0f - k.b2);
    const vec cg = SET1(k.cg), cm = SET1(k.cm), ks = SET1(k.inv_sqrt_bc2), e = SET1(k.eps);
    VECTOR_PAIRS(i, n, u) {
        vec gi = LOAD(g + u);
        vec mi = FMADD(vb1, LOAD(m + u), MUL(c1, gi));
        vec vi = FMADD(vb2, LOAD(v + u), MUL(MUL(c2, gi), gi));
        vec num = FMADD(cg, gi, MUL(cm, mi));
        STORE(m + u, mi);
        STORE(v + u, vi);
        STORE(p + u, ADD(LOAD(p + u), DIV(num, FMADD(SQRT(vi), ks, e))));
    }
#endif
    for (; i < n; i++) {
        m[i] = k.b1 * m[i] + (1.0f - k.b1) * g[i];
        v[i] = k.b2 * v[i] + (1.0f - k.b2) * g[i] * g[i];
        p[i] += (k.cg * g[i] + k.cm * m[i]) / (sqrtf(v[i]) * k.inv_sqrt_bc2 + k.eps);
    }
}

static void nadam_plain(float *const b[4], size_t n, int t) {
    static float mu_product = 1.0f;
    BUFFERS2(m, v);
    const nadam_coef k = nadam_coefs(&mu_product, t);
    const float bc2 = 1.0f - powf(k.b2, (float)t);
    for (size_t i = 0; i < n; i++) {
        m[i] = k.b1 * m[i] + (1.0f - k.b1) * g[i];
        v[i] = k.b2 * v[i] + (1.0f - k.b2) * g[i] * g[i];
        float denom = sqrtf(v[i] / bc2) + k.eps;
        p[i] += k.cg * g[i] / denom + k.cm * m[i] / denom;
    }
}

/* Portable with the powers prepared once per step (optkern_nadam_prepare), as for Adam. */
static optkern_nadam_prepared nadam_prepared_steps[1000];
static void nadam_prepared(float *const b[4], size_t n, int t) {
    static optkern_nadam_state state;
    if (t == 1) state.mu_product = 1.0f;
    MUST(optkern_nadam_step_prepared(b[0], b[1], b[2], b[3], &state, n,
                                     &nadam_prepared_steps[(t - 1) % 1000], NULL));
}

static void nadam_optkern(int profile, float *const b[4], size_t n, int t) {
    static optkern_nadam_state state[3];
    if (t == 1) state[profile].mu_product = 1.0f;
    MUST(optkern_nadam_step(b[0], b[1], b[2], b[3], &state[profile], n, (uint32_t)t,
                            &nadam_cfg[profile], NULL));
}

/* ---- RAdam (torch's defaults): the rectified step from t = 6 on, plain momentum before ---- */

static optkern_radam_config radam_cfg[3];

/* The per-call RAdam coefficients: β₁, β₂, ε, η, the bias corrections, and the rectification
 * factor r (or −1 before it applies, ρ_t ≤ 5). */
typedef struct {
    float b1, b2, eps, lr, bc1, bc2, rect;
} radam_coef;

static radam_coef radam_coefs(int t) {
    const optkern_radam_config *c = &radam_cfg[0];
    const double rho_inf = 2.0 / (1.0 - c->beta2) - 1.0, b2t = pow(c->beta2, t);
    const double rho_t = rho_inf - 2.0 * t * b2t / (1.0 - b2t);
    const float b1 = (float)c->beta1, b2 = (float)c->beta2;
    radam_coef k = {b1, b2, (float)c->eps, (float)c->lr, 1.0f - powf(b1, (float)t),
                    1.0f - powf(b2, (float)t), -1.0f};
    if (rho_t > 5.0)
        k.rect = (float)sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf /
                             ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t));
    return k;
}

static void radam_hand(float *const b[4], size_t n, int t) {
    BUFFERS2(m, v);
    const radam_coef k = radam_coefs(t);
    /* Rectified, torch's −η·r·m̂·√bc2/(√v + ε): the step carries r·√bc2/bc1. */
    const float step = k.rect < 0 ? -k.lr / k.bc1 : -k.lr * k.rect * sqrtf(k.bc2) / k.bc1;
    size_t i = 0;
#ifdef HAND_VECTOR
    const vec vb1 = SET1(k.b1), c1 = SET1(1.0f - k.b1), vb2 = SET1(k.b2), c2 = SET1(1.0f - k.b2);
    const vec st = SET1(step), e = SET1(k.eps);
    VECTOR_PAIRS(i, n, u) {
        vec gi = LOAD(g + u);
        vec mi = FMADD(vb1, LOAD(m + u), MUL(c1, gi));
        vec vi = FMADD(vb2, LOAD(v + u), MUL(MUL(c2, gi), gi));
        vec d = k.rect < 0 ? mi : DIV(mi, ADD(SQRT(vi), e));
        STORE(m + u, mi);
        STORE(v + u, vi);
        STORE(p + u, FMADD(st, d, LOAD(p + u)));
    }
#endif
    for (; i < n; i++) {
        m[i] = k.b1 * m[i] + (1.0f - k.b1) * g[i];
        v[i] = k.b2 * v[i] + (1.0f - k.b2) * g[i] * g[i];
        p[i] += step * (k.rect < 0 ? m[i] : m[i] / (sqrtf(v[i]) + k.eps));
    }
}

static void radam_plain(float *const b[4], size_t n, int t) {
    BUFFERS2(m, v);
    const radam_coef k = radam_coefs(t);
    for (size_t i = 0; i < n; i++) {
        m[i] = k.b1 * m[i] + (1.0f - k.b1) * g[i];
        v[i] = k.b2 * v[i] + (1.0f - k.b2) * g[i] * g[i];
        float m_hat = m[i] / k.bc1;
        p[i] -= k.rect < 0 ? k.lr * m_hat
                           : k.lr * m_hat * k.rect * sqrtf(k.bc2) / (sqrtf(v[i]) + k.eps);
    }
}

static void radam_optkern(int profile, float *const b[4], size_t n, int t) {
    MUST(optkern_radam_step(b[0], b[1], b[2], b[3], n, (uint32_t)t, &radam_cfg[profile],
                            NULL));
}

/* Portable with the corrections prepared once per step (optkern_radam_prepare). */
static optkern_radam_prepared radam_prepared_steps[1000];
static void radam_prepared(float *const b[4], size_t n, int t) {
    MUST(optkern_radam_step_prepared(b[0], b[1], b[2], b[3], n,
                                     &radam_prepared_steps[(t - 1) % 1000], NULL));
}

/* ---- The three optkern profiles as step functions ---- */

#define PROFILES(kernel)                                                                       \
    static void kernel##_portable(float *const b[4], size_t n, int t) {                        \
        kernel##_optkern(0, b, n, t);                                                          \
    }                                                                                          \
    static void kernel##_torch(float *const b[4], size_t n, int t) {                           \
        kernel##_optkern(1, b, n, t);                                                          \
    }                                                                                          \
    static void kernel##_fast(float *const b[4], size_t n, int t) { kernel##_optkern(2, b, n, t); }
PROFILES(adam)
PROFILES(adagrad)
PROFILES(rmsprop)
PROFILES(adadelta)
/* Adamax: no Fast form. */
static void adamax_portable(float *const b[4], size_t n, int t) { adamax_optkern(0, b, n, t); }
static void adamax_torch(float *const b[4], size_t n, int t) { adamax_optkern(1, b, n, t); }
PROFILES(nadam)
PROFILES(radam)

#define VARIANTS 7
static const char *const variant_names[VARIANTS] = {
    "optkern Portable", "optkern Torch", "optkern Fast", "hand-written (intrinsics)",
    "plain C loop",     "copy",          "optkern Portable, prepared step"};
/* FAST: NULL for a kernel without a Fast form (Adamax); PREPARED: only kernels with a prepared
 * form (Adam, NAdam, RAdam); a NULL variant is printed as "—". */
enum { PORTABLE, TORCH, FAST, HAND, PLAIN, COPY, PREPARED };

typedef struct {
    const char *name;
    int buffers; /* p, g and the state buffers */
    step_fn fns[VARIANTS];
} kernel;

static const kernel kernels[] = {
    {"adam",
     4,
     {adam_portable, adam_torch, adam_fast, adam_hand, adam_plain, adam_copy, adam_prepared}},
    {"adagrad",
     3,
     {adagrad_portable, adagrad_torch, adagrad_fast, adagrad_hand, adagrad_plain, two_state_copy}},
    {"rmsprop",
     3,
     {rmsprop_portable, rmsprop_torch, rmsprop_fast, rmsprop_hand, rmsprop_plain, two_state_copy}},
    {"adadelta",
     4,
     {adadelta_portable, adadelta_torch, adadelta_fast, adadelta_hand, adadelta_plain, adam_copy}},
    {"adamax", 4, {adamax_portable, adamax_torch, NULL, adamax_hand, adamax_plain, adam_copy}},
    {"nadam",
     4,
     {nadam_portable, nadam_torch, nadam_fast, nadam_hand, nadam_plain, adam_copy, nadam_prepared}},
    {"radam",
     4,
     {radam_portable, radam_torch, radam_fast, radam_hand, radam_plain, adam_copy, radam_prepared}},
};

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#define MAX_ROUNDS 31

/* Below this size a row is per call (ns per call, and optkern's excess over the hand-written
 * loop in ns): the fixed cost of a call (checks, bias corrections, dispatch), not the loop. */
#define PER_CALL_BELOW 1024

/* Buffers for every variant: p = 0.5, g a fixed pattern, states 0. */
static void fill(float *b[4], int buffers, size_t n) {
    for (int j = 0; j < buffers; j++) {
        b[j] = aligned_alloc(64, ((n * 4 + 63) / 64) * 64);
        for (size_t i = 0; i < n; i++)
            b[j][i] = j == 1 ? 0.1f * (float)(i % 7) - 0.3f : (j == 0 ? 0.5f : 0.0f);
    }
}

/* Nonzero if a variant is not the same optimizer: from the same start, 100 steps on CHECK_N
 * elements, its parameters within 1e-4 (relative) of optkern's Portable result — the prepared
 * step bit for bit. */
#define CHECK_N 4096
static int same_optimizer(const kernel *k) {
    float *b[VARIANTS][4] = {{0}};
    int status = 0;
    for (int v = 0; v < VARIANTS; v++) {
        fill(b[v], k->buffers, CHECK_N);
        for (int t = 1; t <= 100 && k->fns[v]; t++) k->fns[v](b[v], CHECK_N, t);
    }
    for (int v = 1; v < VARIANTS && !status; v++)
        for (size_t i = 0; i < CHECK_N && v != COPY && k->fns[v]; i++)
            if (v == PREPARED ? b[v][0][i] != b[0][0][i]
                              : fabsf(b[v][0][i] - b[0][0][i]) > 1e-4f * (1.0f + fabsf(b[0][0][i]))) {
                fprintf(stderr, "%s: %s differs from optkern Portable at %zu: %g vs %g\n",
                        k->name, variant_names[v], i, (double)b[v][0][i], (double)b[0][0][i]);
                status = 1;
                break;
            }
    for (int v = 0; v < VARIANTS; v++)
        for (int j = 0; j < k->buffers; j++) free(b[v][j]);
    return status;
}

/* One kernel at one size: rounds interleaved, every variant on the *same* buffers (at 16 Mi,
 * separate allocations put the variants on different physical pages, and the placement alone
 * moved a variant by up to 10 %: the first-allocated set was the slowest whichever variant
 * used it); prints a table row. */
static void run(const kernel *k, size_t n, int quick) {
    int rounds = quick ? 3 : (n > (1 << 20) ? 9 : 31);
    long iters = quick ? 10 : (long)(400000000.0 / (double)n / 2) + 1;
    if (iters > 2000000) iters = 2000000;
    float *buf[4] = {0};
    fill(buf, k->buffers, n);
    double t[VARIANTS][MAX_ROUNDS];
    for (int r = 0; r < rounds; r++)
        for (int v = 0; v < VARIANTS; v++) {
            if (!k->fns[v]) continue;
            double a = now();
            for (long it = 0; it < iters; it++) k->fns[v](buf, n, (int)(it % 1000) + 1);
            t[v][r] = (now() - a) / (double)iters / (double)n;
        }
    double med[VARIANTS];
    for (int v = 0; v < VARIANTS; v++) {
        qsort(t[v], (size_t)rounds, sizeof(double), cmp);
        med[v] = t[v][rounds / 2];
    }
    if (n < PER_CALL_BELOW) {
        printf("| %s | %zu (ns per call) |", k->name, n);
        for (int v = 0; v < VARIANTS; v++)
            k->fns[v] ? printf(" %.1f |", med[v] * (double)n) : printf(" — |");
        for (int v = PORTABLE; v <= PREPARED; v++)
            if (v <= FAST || v == PREPARED)
                k->fns[v] ? printf(" %+.1f ns |", (med[v] - med[HAND]) * (double)n)
                          : printf(" — |");
        printf("\n");
    } else {
        printf("| %s | %zu |", k->name, n);
        for (int v = 0; v < VARIANTS; v++)
            k->fns[v] ? printf(" %.3f |", med[v]) : printf(" — |");
        for (int v = PORTABLE; v <= PREPARED; v++)
            if (v <= FAST || v == PREPARED)
                k->fns[v] ? printf(" %.2f× |", med[HAND] / med[v]) : printf(" — |");
        printf("\n");
    }
    for (int j = 0; j < k->buffers; j++) free(buf[j]);
}

int main(int argc, char **argv) {
    /* Each kernel's torch defaults in the three profiles. */
#define CONFIG(kernel)                                                                          \
    do {                                                                                       \
        kernel##_cfg[profile] = optkern_##kernel##_config_default();                           \
        kernel##_cfg[profile].numerics = numerics;                                             \
    } while (0)
    for (int profile = 0; profile < 3; profile++) {
        optkern_numerics numerics = profile == 0   ? OPTKERN_NUMERICS_PORTABLE
                                    : profile == 1 ? OPTKERN_NUMERICS_TORCH
                                                   : OPTKERN_NUMERICS_FAST;
        CONFIG(adam);
        CONFIG(adagrad);
        CONFIG(rmsprop);
        CONFIG(adadelta);
        CONFIG(adamax);
        CONFIG(nadam);
        CONFIG(radam);
    }
    for (uint32_t t = 1; t <= 1000; t++) {
        MUST(optkern_adam_prepare(&adam_cfg[0], t, &adam_prepared_steps[t - 1], NULL));
        MUST(optkern_nadam_prepare(&nadam_cfg[0], t, &nadam_prepared_steps[t - 1], NULL));
        MUST(optkern_radam_prepare(&radam_cfg[0], t, &radam_prepared_steps[t - 1], NULL));
    }
    int quick = 0, chosen = 0;
    for (int a = 1; a < argc; a++) quick |= strcmp(argv[a], "--quick") == 0;
    chosen = argc - 1 - quick;
    size_t sizes[] = {16, 4096, 65536, 1 << 20, 1 << 24};
    size_t n_sizes = sizeof sizes / sizeof sizes[0];
    optkern_adam_step(NULL, NULL, NULL, NULL, NULL, 0, 1, &adam_cfg[0], NULL); /* picks the level */
    printf("C library code in use: %s\n", optkern_build_info());
    printf("| kernel | n |");
    for (int v = 0; v < VARIANTS; v++) printf(" %s |", variant_names[v]);
    printf(" Portable vs hand | Torch vs hand | Fast vs hand | prepared vs hand |\n|---|---|");
    for (int v = 0; v < VARIANTS + 4; v++) printf("---|");
    printf("\n");
    int status = 0;
    for (size_t k = 0; k < sizeof kernels / sizeof kernels[0]; k++) {
        int wanted = !chosen;
        for (int a = 1; a < argc; a++) wanted |= strcmp(argv[a], kernels[k].name) == 0;
        if (!wanted) continue;
        /* --quick: 4 Ki only. */
        status |= same_optimizer(&kernels[k]);
        for (size_t s = quick; s < (quick ? 2 : n_sizes); s++) run(&kernels[k], sizes[s], quick);
    }
    return status;
}
