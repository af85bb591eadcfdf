/* C tests of optkern's C API: results against values computed by the Rust API (a file written
 * by `cargo run --example capi_expected`), every status code, and buffers untouched on error.
 * Build and run: see .ci/run (gcc -std=c99 -Wall -Wextra -Werror -pedantic, static library). */
#include "optkern.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 37
static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                       \
    do {                                                       \
        checks++;                                              \
        if (!(cond)) {                                         \
            failures++;                                        \
            fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                      \
            fprintf(stderr, "\n");                             \
        }                                                      \
    } while (0)

static uint32_t bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* The inputs the Rust example uses: exact small dyadic values. */
static void inputs(float *p, float *g, int step) {
    for (int i = 0; i < N; i++) {
        p[i] = (float)(i % 7) * 0.25f - 0.5f;
        g[i] = (float)((i * 3 + step) % 11) * 0.125f - 0.625f;
    }
}

/* The error record of a failed call must name `argument`, `field` and `other` ("" for none). */
static void expect_record(const char *what, const optkern_error *e, optkern_status want, const char *argument,
                          const char *field, const char *other) {
    CHECK(e->status == want, "%s: record status %d, want %d", what, (int)e->status, (int)want);
    CHECK(strcmp(e->argument, argument) == 0 && strcmp(e->field, field) == 0 && strcmp(e->other, other) == 0,
          "%s: record names '%s' '%s' '%s', want '%s' '%s' '%s'", what, e->argument, e->field, e->other, argument,
          field, other);
    CHECK(e->reason != NULL && strlen(e->reason) > 0, "%s: record without a reason", what);
}

/* Adam in mixed formats for 3 steps, as examples/capi_expected.rs runs it: bf16 gradients, an
 * f32 master with a bf16 copy, a q8 first moment (signed map, nearest), a bf16 second moment
 * rounded stochastically (seed 5, counter = step). Writes the row `name` asks for. */
static void adam_mixed_row(const char *name, uint32_t row[N]) {
    float p[N], g[N], absmax[1] = {0};
    uint16_t copy[N] = {0}, v[N] = {0}, g16[N];
    uint8_t codes[N] = {0};
    inputs(p, g, 0);
    for (int step = 1; step <= 3; step++) {
        inputs((float[N]){0}, g, step);
        CHECK(optkern_f32_to_bf16(g, g16, N, 0, NULL, NULL) == OPTKERN_STATUS_OK, "f32_to_bf16");
        optkern_placement at = {0, 5, (uint64_t)step};
        optkern_adam_config c = optkern_adam_config_default();
        c.lr = 0.01;
        optkern_buffer bp = optkern_buffer_f32(p);
        bp.copy = copy;
        bp.copy_format = OPTKERN_FORMAT_BF16;
        optkern_buffer bg = {.format = OPTKERN_FORMAT_BF16, .data = g16};
        optkern_buffer bm = {.format = OPTKERN_FORMAT_Q8, .data = codes, .absmax = absmax};
        optkern_buffer bv = {.format = OPTKERN_FORMAT_BF16, .data = v, .rounding = 1};
        optkern_buffer none = {.format = OPTKERN_FORMAT_UNUSED};
        optkern_status s = optkern_adam_step_mixed(&bp, &bg, &bm, &bv, &none, N, (uint32_t)step, &c, &at, NULL);
        CHECK(s == OPTKERN_STATUS_OK, "adam_step_mixed step %d: %s", step, optkern_status_str(s));
    }
    for (int i = 0; i < N; i++) {
        if (strcmp(name, "adam_mixed_params") == 0) row[i] = bits(p[i]);
        else if (strcmp(name, "adam_mixed_copy") == 0) row[i] = copy[i];
        else if (strcmp(name, "adam_mixed_codes") == 0) row[i] = codes[i];
        else if (strcmp(name, "adam_mixed_v") == 0) row[i] = v[i];
        else row[i] = i == 0 ? bits(absmax[0]) : 0;
    }
}

/* Adam (AdamW defaults, lr 0.01) for 3 steps with torchao's low-bit states, as
 * examples/capi_expected.rs runs it: f32 parameters and gradients, a q4 first moment (signed
 * map; ceil(N/2) bytes, the even element in the high nibble) and an fp8 second moment, each
 * with one scale (N < 128). Writes the row `name` asks for (codes zero-padded to N). */
static void adam_lowbit_row(const char *name, uint32_t row[N]) {
    float p[N], g[N], q4_scale[1] = {0}, fp8_scale[1] = {0};
    uint8_t q4[(N + 1) / 2] = {0}, fp8[N] = {0};
    inputs(p, g, 0);
    for (int step = 1; step <= 3; step++) {
        inputs((float[N]){0}, g, step);
        optkern_adam_config c = optkern_adamw_config_default();
        c.lr = 0.01;
        optkern_buffer bp = optkern_buffer_f32(p), bg = optkern_buffer_f32(g);
        optkern_buffer bm = {.format = OPTKERN_FORMAT_Q4, .data = q4, .absmax = q4_scale};
        optkern_buffer bv = {.format = OPTKERN_FORMAT_FP8, .data = fp8, .absmax = fp8_scale};
        optkern_buffer none = {.format = OPTKERN_FORMAT_UNUSED};
        optkern_status s = optkern_adam_step_mixed(&bp, &bg, &bm, &bv, &none, N, (uint32_t)step, &c, NULL, NULL);
        CHECK(s == OPTKERN_STATUS_OK, "adam_step_mixed (low-bit) step %d: %s", step, optkern_status_str(s));
    }
    for (int i = 0; i < N; i++) {
        if (strcmp(name, "adam_lowbit_params") == 0) row[i] = bits(p[i]);
        else if (strcmp(name, "adam_lowbit_q4") == 0) row[i] = i < (N + 1) / 2 ? q4[i] : 0;
        else if (strcmp(name, "adam_lowbit_q4_scale") == 0) row[i] = i == 0 ? bits(q4_scale[0]) : 0;
        else if (strcmp(name, "adam_lowbit_fp8") == 0) row[i] = fp8[i];
        else row[i] = i == 0 ? bits(fp8_scale[0]) : 0;
    }
}

/* Mixed-format errors: a format value out of range, q8 gradients, a q8 state that starts
 * inside a block; nothing is written. */
static void check_mixed_statuses(void) {
    float p[N], g[N], p0[N], absmax[1] = {0};
    uint8_t codes[N] = {0};
    inputs(p, g, 1);
    memcpy(p0, p, sizeof p);
    optkern_adam_config c = optkern_adam_config_default();
    optkern_buffer bp = optkern_buffer_f32(p), bg = optkern_buffer_f32(g);
    optkern_buffer bm = {.format = OPTKERN_FORMAT_Q8, .data = codes, .absmax = absmax};
    optkern_buffer bv = {.format = 9, .data = p0};
    optkern_buffer none = {.format = OPTKERN_FORMAT_UNUSED};
    optkern_error e;
    optkern_status s = optkern_adam_step_mixed(&bp, &bg, &bm, &bv, &none, N, 1, &c, NULL, &e);
    CHECK(s == OPTKERN_STATUS_INVALID_FORMAT, "format 9: %s", optkern_status_str(s));
    expect_record("format 9", &e, OPTKERN_STATUS_INVALID_FORMAT, "exp_avg_sq", "format", "");
    CHECK(e.value == 9.0, "format 9: record value %g", e.value);
    optkern_buffer bq = {.format = OPTKERN_FORMAT_Q8, .data = codes, .absmax = absmax};
    s = optkern_adam_step_mixed(&bp, &bq, &bm, &bm, &none, N, 1, &c, NULL, &e);
    CHECK(s == OPTKERN_STATUS_INVALID_FORMAT, "q8 gradients: %s", optkern_status_str(s));
    expect_record("q8 gradients", &e, OPTKERN_STATUS_INVALID_FORMAT, "grads", "format", "");
    optkern_buffer no_absmax = {.format = OPTKERN_FORMAT_Q8, .data = codes};
    optkern_buffer bv0 = optkern_buffer_f32(p0);
    s = optkern_adam_step_mixed(&bp, &bg, &no_absmax, &bv0, &none, N, 1, &c, NULL, &e);
    expect_record("q8 state without absmax", &e, OPTKERN_STATUS_NULL_POINTER, "exp_avg", "absmax", "");
    float v[N] = {0};
    optkern_buffer bv32 = optkern_buffer_f32(v);
    optkern_placement at = {3, 0, 0};
    s = optkern_adam_step_mixed(&bp, &bg, &bm, &bv32, &none, N, 1, &c, &at, NULL);
    CHECK(s == OPTKERN_STATUS_BLOCK_MISALIGNED, "q8 at offset 3: %s", optkern_status_str(s));
    CHECK(memcmp(p, p0, sizeof p) == 0, "params changed on a mixed-format error");
}

/* Adam (Torch and Portable), SGD with momentum, Lion, SWA, EMA and SparseAdam for 3 steps, compared bit for bit with
 * the Rust API's results in `expected`; then the mixed-format rows. */
static void check_against_rust(const char *expected_path) {
    FILE *f = fopen(expected_path, "r");
    CHECK(f != NULL, "cannot open %s", expected_path);
    if (!f) return;
    char name[64];
    while (fscanf(f, "%63s", name) == 1) {
        if (strncmp(name, "adam_mixed", 10) == 0 || strncmp(name, "adam_lowbit", 11) == 0) {
            uint32_t row[N];
            if (name[5] == 'm') adam_mixed_row(name, row);
            else adam_lowbit_row(name, row);
            for (int i = 0; i < N; i++) {
                unsigned int want;
                if (fscanf(f, "%x", &want) != 1) {
                    CHECK(0, "%s: short line", name);
                    break;
                }
                CHECK(row[i] == want, "%s[%d]: C %08x vs Rust %08x", name, i, (unsigned)row[i], want);
            }
            continue;
        }
        float p[N], g[N], m[N] = {0}, v[N] = {0}, b[N] = {0};
        inputs(p, g, 0);
        for (int step = 1; step <= 3; step++) {
            inputs((float[N]){0}, g, step);
            optkern_status s = OPTKERN_STATUS_OK;
            if (strcmp(name, "adam_torch") == 0 || strcmp(name, "adam_portable") == 0) {
                optkern_adam_config c = optkern_adam_config_default();
                c.lr = 0.01;
                c.numerics = name[5] == 't' ? OPTKERN_NUMERICS_TORCH : OPTKERN_NUMERICS_PORTABLE;
                if (name[5] == 'p' && step > 1) {
                    /* Portable's later steps through the prepared form: Rust's adam_step bits. */
                    optkern_adam_prepared k;
                    CHECK(optkern_adam_prepare(&c, (uint32_t)step, &k, NULL) == OPTKERN_STATUS_OK, "adam_prepare");
                    s = optkern_adam_step_prepared(p, g, m, v, NULL, N, &k, NULL);
                } else {
                    s = optkern_adam_step(p, g, m, v, NULL, N, (uint32_t)step, &c, NULL);
                }
            } else if (strcmp(name, "sgd_momentum") == 0) {
                optkern_sgd_config c = optkern_sgd_config_default();
                c.lr = 0.1;
                c.momentum = 0.9;
                s = optkern_sgd_step(p, g, b, N, (uint32_t)step, &c, NULL);
            } else if (strcmp(name, "lion") == 0) {
                optkern_lion_config c = optkern_lion_config_default();
                c.lr = 0.01;
                s = optkern_lion_step(p, g, m, N, &c, NULL);
            } else if (strcmp(name, "swa_lerp") == 0) {
                optkern_swa_config c = optkern_swa_config_default();
                c.form = OPTKERN_SWA_FORM_LERP;
                s = optkern_swa_update(p, g, N, (uint64_t)(step - 1), &c, NULL);
            } else if (strcmp(name, "ema_warmup") == 0) {
                optkern_ema_config c = optkern_ema_config_default();
                c.decay = 0.9;
                c.warmup = true;
                s = optkern_ema_update(p, g, N, (uint32_t)step, &c, NULL);
            } else if (strcmp(name, "muon") == 0) {
                optkern_muon_config c = optkern_muon_config_default();
                c.lr = 0.02;
                float scratch[512];
                CHECK(optkern_muon_scratch_len(N, 1) <= 512, "muon scratch %zu", optkern_muon_scratch_len(N, 1));
                s = optkern_muon_step(p, g, b, N, 1, scratch, optkern_muon_scratch_len(N, 1), &c, NULL);
            } else if (strcmp(name, "sparse_adam") == 0) {
                optkern_sparse_adam_config c = optkern_sparse_adam_config_default();
                c.lr = 0.01;
                size_t idx[5] = {3, 1, 3, 30, 36}, scratch[5];
                CHECK(optkern_sparse_adam_scratch_len(5) == 5, "sparse_adam scratch length");
                s = optkern_sparse_adam_step(p, m, v, N, 1, idx, g, 5, scratch, 5, (uint32_t)step, &c, NULL);
                size_t bad[1] = {N};
                float p0[N];
                memcpy(p0, p, sizeof p0);
                optkern_status e = optkern_sparse_adam_step(p, m, v, N, 1, bad, g, 1, scratch, 5, 1, &c, NULL);
                CHECK(e == OPTKERN_STATUS_INDEX_OUT_OF_RANGE, "sparse_adam index N: %s", optkern_status_str(e));
                e = optkern_sparse_adam_step(p, m, v, N, 1, idx, g, 5, scratch, 4, 1, &c, NULL);
                CHECK(e == OPTKERN_STATUS_INVALID_LENGTH, "sparse_adam short scratch: %s", optkern_status_str(e));
                CHECK(memcmp(p0, p, sizeof p0) == 0, "sparse_adam: params changed on an error");
            } else {
                CHECK(0, "unknown case %s", name);
            }
            CHECK(s == OPTKERN_STATUS_OK, "%s step %d: %s", name, step, optkern_status_str(s));
        }
        for (int i = 0; i < N; i++) {
            unsigned int want;
            if (fscanf(f, "%x", &want) != 1) {
                CHECK(0, "%s: short line", name);
                break;
            }
            CHECK(bits(p[i]) == want, "%s[%d]: C %08x vs Rust %08x", name, i, bits(p[i]), want);
        }
    }
    fclose(f);
}

/* C lambdas for the schedules: `ctx` points to a double `b`. */
static double pow_of_ctx(void *ctx, uint64_t step) {
    return pow(*(const double *)ctx, (double)step);
}

static double ctx_value(void *ctx, uint64_t step) {
    (void)step;
    return *(const double *)ctx;
}

/* The buffers every error check snapshots (whatever pointers the call is given). */
static float P[N], G[N], M[N], V[N];

/* Runs an Adam call that must fail with `want`, naming `argument`.`field` (and `other` for an
 * overlap) in its error record, and checks no buffer changed. */
static void expect_adam_error(const char *what, float *p, const float *g, float *m, float *v, float *vmax,
                              size_t len, uint32_t step, const optkern_adam_config *c, optkern_status want,
                              const char *argument, const char *field, const char *other) {
    float p0[N], g0[N], m0[N], v0[N];
    memcpy(p0, P, sizeof p0);
    memcpy(g0, G, sizeof g0);
    memcpy(m0, M, sizeof m0);
    memcpy(v0, V, sizeof v0);
    optkern_error e;
    memset(&e, 0xAB, sizeof e);
    optkern_status s = optkern_adam_step(p, g, m, v, vmax, len, step, c, &e);
    CHECK(s == want, "%s: got %d (%s), want %d", what, (int)s, optkern_status_str(s), (int)want);
    expect_record(what, &e, want, argument, field, other);
    printf("  %s -> %s: %s%s%s %s\n", what, optkern_status_str(s), e.argument, e.field[0] ? "." : "", e.field, e.reason);
    CHECK(memcmp(p0, P, sizeof p0) == 0 && memcmp(g0, G, sizeof g0) == 0 && memcmp(m0, M, sizeof m0) == 0 &&
              memcmp(v0, V, sizeof v0) == 0,
          "%s: a buffer changed on error", what);
}

static void check_statuses(void) {
    float *p = P, *g = G, *m = M, *v = V;
    inputs(p, g, 1);
    for (int i = 0; i < N; i++) m[i] = v[i] = 0.5f;
    optkern_adam_config c = optkern_adam_config_default();
    expect_adam_error("NULL params", NULL, g, m, v, NULL, N, 1, &c, OPTKERN_STATUS_NULL_POINTER, "params", "", "");
    expect_adam_error("NULL config", p, g, m, v, NULL, N, 1, NULL, OPTKERN_STATUS_NULL_POINTER, "cfg", "", "");
    expect_adam_error("amsgrad without max_exp_avg_sq", p, g, m, v, NULL, N, 1,
                      &(optkern_adam_config){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .amsgrad = true, .grad_scale = 1.0f},
                      OPTKERN_STATUS_NULL_POINTER, "max_exp_avg_sq", "", "");
    expect_adam_error("misaligned params", (float *)((char *)p + 1), g, m, v, NULL, 4, 1, &c, OPTKERN_STATUS_MISALIGNED, "params", "", "");
    expect_adam_error("params overlap exp_avg", p, g, p, v, NULL, N, 1, &c, OPTKERN_STATUS_OVERLAP, "params", "", "exp_avg");
    expect_adam_error("grads overlap exp_avg_sq", p, g, m, (float *)g, NULL, N, 1, &c, OPTKERN_STATUS_OVERLAP, "exp_avg_sq", "", "grads");
    expect_adam_error("length overflows", p, g, m, v, NULL, SIZE_MAX / 2, 1, &c, OPTKERN_STATUS_INVALID_LENGTH, "len", "", "params");
    optkern_adam_config bad = c;
    bad.lr = NAN;
    expect_adam_error("NaN lr", p, g, m, v, NULL, N, 1, &bad, OPTKERN_STATUS_INVALID_HYPERPARAMETER, "cfg", "lr", "");
    bad = c;
    bad.beta2 = 1.0;
    expect_adam_error("beta2 = 1", p, g, m, v, NULL, N, 1, &bad, OPTKERN_STATUS_INVALID_HYPERPARAMETER, "cfg", "beta2", "");
    bad = c;
    memset(&bad.amsgrad, 2, 1); /* a bool that is neither 0 nor 1 */
    expect_adam_error("bool = 2", p, g, m, v, NULL, N, 1, &bad, OPTKERN_STATUS_INVALID_HYPERPARAMETER, "cfg", "amsgrad", "");
    bad = c;
    bad.numerics = (optkern_numerics)7;
    expect_adam_error("numerics = 7", p, g, m, v, NULL, N, 1, &bad, OPTKERN_STATUS_INVALID_HYPERPARAMETER, "cfg", "numerics", "");
    expect_adam_error("step 0", p, g, m, v, NULL, N, 0, &c, OPTKERN_STATUS_INVALID_STEP, "step", "", "");
    /* (NULL, 0) is an empty buffer: valid. */
    CHECK(optkern_adam_step(NULL, NULL, NULL, NULL, NULL, 0, 1, &c, NULL) == OPTKERN_STATUS_OK, "empty call");
    /* Every status has a description. */
    for (unsigned s = 0; s <= (unsigned)OPTKERN_STATUS_UNSUPPORTED_LEVEL; s++) {
        CHECK(optkern_status_str(s) != NULL && strlen(optkern_status_str(s)) > 0, "status %u string", s);
    }
    /* Utilities: norms over a list, clipping coefficient, schedules, cross-entropy. */
    const float *list[2] = {g, g + 10};
    size_t lens[2] = {10, N - 10};
    float total = 0, coef = 0;
    CHECK(optkern_grad_norm(list, lens, 2, 0, 0.0, &total, NULL) == OPTKERN_STATUS_OK, "grad_norm");
    float *wlist[2] = {m, m + 5};
    size_t wl[2] = {10, 10};
    CHECK(optkern_clip_grad_norm(wlist, wl, 2, 1.0, 0, 0.0, 1, &total, &coef, NULL) == OPTKERN_STATUS_OVERLAP,
          "overlapping gradient list");
    double lr = 0;
    CHECK(optkern_lr_cosine(0.1, 100, 0.0, 50, &lr, NULL) == OPTKERN_STATUS_OK && fabs(lr - 0.05) < 1e-12, "cosine lr %g", lr);
    CHECK(optkern_lr_cosine(0.1, 0, 0.0, 50, &lr, NULL) == OPTKERN_STATUS_INVALID_HYPERPARAMETER, "cosine T_max = 0");
    /* Error records of calls without a config: the rejected argument itself is named. */
    optkern_error e;
    optkern_lr_cosine(0.1, 0, 0.0, 50, &lr, &e);
    expect_record("cosine t_max = 0", &e, OPTKERN_STATUS_INVALID_HYPERPARAMETER, "t_max", "", "");
    optkern_lr_cosine(NAN, 10, 0.0, 5, &lr, &e);
    expect_record("cosine base_lr = NaN", &e, OPTKERN_STATUS_INVALID_HYPERPARAMETER, "base_lr", "", "");
    CHECK(optkern_grad_norm(list, lens, 2, 9, 0.0, &total, &e) == OPTKERN_STATUS_INVALID_HYPERPARAMETER, "norm kind 9");
    expect_record("norm kind 9", &e, OPTKERN_STATUS_INVALID_HYPERPARAMETER, "norm_kind", "", "");
    CHECK(e.value == 9.0, "norm kind 9: record value %g", e.value);
    optkern_grad_norm(list, lens, 2, 0, 0.0, NULL, &e);
    expect_record("NULL total_norm_out", &e, OPTKERN_STATUS_NULL_POINTER, "total_norm_out", "", "");
    /* Success leaves the record untouched; a misaligned record is not written. */
    memset(&e, 0x5A, sizeof e);
    optkern_error before = e;
    CHECK(optkern_lr_cosine(0.1, 100, 0.0, 50, &lr, &e) == OPTKERN_STATUS_OK && memcmp(&e, &before, sizeof e) == 0,
          "record written on success");
    unsigned char raw[sizeof(optkern_error) + 1];
    memset(raw, 0x5A, sizeof raw);
    CHECK(optkern_lr_cosine(0.1, 0, 0.0, 50, &lr, (optkern_error *)(raw + 1)) == OPTKERN_STATUS_INVALID_HYPERPARAMETER,
          "misaligned record");
    int untouched = 1;
    for (size_t i = 0; i < sizeof raw; i++) untouched &= raw[i] == 0x5A;
    CHECK(untouched, "a misaligned record was written");
    /* LambdaLR / MultiplicativeLR through a C function: 0.5^3 and 0.5·0.5·0.5. */
    double half = 0.5;
    CHECK(optkern_lr_lambda(0.1, pow_of_ctx, &half, 3, &lr, NULL) == OPTKERN_STATUS_OK && fabs(lr - 0.0125) < 1e-15,
          "lambda lr %g", lr);
    CHECK(optkern_lr_multiplicative(0.1, ctx_value, &half, 3, &lr, NULL) == OPTKERN_STATUS_OK && fabs(lr - 0.0125) < 1e-15,
          "multiplicative lr %g", lr);
    CHECK(optkern_lr_lambda(0.1, NULL, NULL, 3, &lr, NULL) == OPTKERN_STATUS_NULL_POINTER, "lambda NULL");
    CHECK(optkern_lr_exponential_decay(0.1, 10, 0.5, 0, false, NAN, 20, &lr, NULL) == OPTKERN_STATUS_OK &&
              fabs(lr - 0.025) < 1e-15,
          "exponential_decay %g", lr);
    optkern_warmup_cosine_args cycles[2] = {{0.0, 0.1, 0, 10, 0.0, 1.0}, {0.0, 0.1, 0, 10, 0.0, 1.0}};
    CHECK(optkern_lr_sgdr(cycles, 2, 5, &lr, NULL) == OPTKERN_STATUS_OK && fabs(lr - 0.05) < 1e-15, "sgdr at 5: %g", lr);
    CHECK(optkern_lr_sgdr(cycles, 2, 10, &lr, NULL) == OPTKERN_STATUS_OK && fabs(lr - 0.1) < 1e-15, "sgdr at 10: %g", lr);
    CHECK(optkern_lr_sgdr(cycles, 0, 10, &lr, NULL) == OPTKERN_STATUS_INVALID_LENGTH, "sgdr without cycles");
    /* ReduceLROnPlateau, patience 0: a tie is not an improvement, so the second step reduces. */
    optkern_plateau_config pc = optkern_plateau_config_default();
    pc.patience = 0;
    optkern_plateau plateau;
    CHECK(optkern_plateau_init(1.0, &pc, &plateau, NULL) == OPTKERN_STATUS_OK, "plateau init");
    CHECK(optkern_plateau_step(&plateau, 1.0, &lr, NULL) == OPTKERN_STATUS_OK && lr == 1.0, "plateau step 1: %g", lr);
    CHECK(optkern_plateau_step(&plateau, 1.0, &lr, NULL) == OPTKERN_STATUS_OK && fabs(lr - 0.1) < 1e-15,
          "plateau step 2: %g", lr);
    pc.factor = 1.0;
    CHECK(optkern_plateau_init(1.0, &pc, &plateau, NULL) == OPTKERN_STATUS_INVALID_HYPERPARAMETER, "plateau factor 1");
    float logits[6] = {1, 2, 3, 3, 2, 1};
    int64_t targets[2] = {2, 0};
    float loss = 0, grad[6];
    CHECK(optkern_cross_entropy(logits, targets, 2, 3, 0, 0.0, -100, NULL, NULL, grad, &loss, NULL) == OPTKERN_STATUS_OK &&
              fabsf(loss - 0.40760596f) < 1e-6f,
          "cross entropy %f", loss);
    int64_t bad_targets[2] = {3, 0};
    CHECK(optkern_cross_entropy(logits, bad_targets, 2, 3, 0, 0.0, -100, NULL, NULL, grad, &loss, NULL) ==
              OPTKERN_STATUS_INVALID_HYPERPARAMETER,
          "target out of range");
    /* The generator lives in caller memory. */
    CHECK(sizeof(optkern_rng) == OPTKERN_RNG_SIZE && offsetof(struct { char c; optkern_rng r; }, r) == OPTKERN_RNG_ALIGN, "rng size");
    optkern_rng rng;
    CHECK(optkern_rng_seed(&rng, 42, NULL) == OPTKERN_STATUS_OK, "seed");
    float w[64 * 32];
    size_t shape[2] = {64, 32};
    CHECK(optkern_init_xavier(w, shape, 2, 1.0, 0, &rng, NULL) == OPTKERN_STATUS_OK, "xavier");
    float bound = sqrtf(6.0f / 96.0f);
    int inside = 1;
    for (int i = 0; i < 64 * 32; i++) inside &= fabsf(w[i]) <= bound;
    CHECK(inside, "xavier bound");
    CHECK(optkern_init_xavier(w, shape, 1, 1.0, 0, &rng, NULL) == OPTKERN_STATUS_INVALID_HYPERPARAMETER, "1-D xavier");
    /* GEMM: [1 2 3; 4 5 6]·[1 0; 0 1; 1 1] = [4 5; 10 11], then β = 1 adds it again. */
    float ga[6] = {1, 2, 3, 4, 5, 6}, gb[6] = {1, 0, 0, 1, 1, 1}, gc[4] = {0}, gs[4096];
    optkern_gemm_config gcfg = optkern_gemm_config_default();
    CHECK(optkern_gemm_scratch_len(2, 2, 3) <= 4096, "gemm scratch");
    CHECK(optkern_gemm(gc, 2, ga, 3, gb, 2, 2, 2, 3, &gcfg, gs, 4096, NULL) == OPTKERN_STATUS_OK && gc[0] == 4 && gc[1] == 5 &&
              gc[2] == 10 && gc[3] == 11,
          "gemm %g %g %g %g", gc[0], gc[1], gc[2], gc[3]);
    gcfg.beta = 1;
    gcfg.trans_b = true; /* gb read as 2 × 3: [1 0 0; 1 1 1]ᵀ */
    CHECK(optkern_gemm(gc, 2, ga, 3, gb, 3, 2, 2, 3, &gcfg, gs, 4096, NULL) == OPTKERN_STATUS_OK && gc[0] == 5 && gc[1] == 11 &&
              gc[2] == 14 && gc[3] == 26,
          "gemm trans_b, beta 1: %g %g %g %g", gc[0], gc[1], gc[2], gc[3]);
    CHECK(optkern_gemm(gc, 2, ga, 3, gb, 3, 2, 2, 3, &gcfg, gs, 1, NULL) == OPTKERN_STATUS_INVALID_LENGTH && gc[0] == 5,
          "gemm short scratch");
    /* L-BFGS by reverse communication on f(x) = sum (i+1)(x_i - i)^2 / 2, in double and float,
     * with the strong Wolfe search: the minimiser x_i = i. */
    {
        enum { LN = 6 };
        optkern_lbfgs_config lc = optkern_lbfgs_config_default();
        lc.line_search = OPTKERN_LINE_SEARCH_STRONG_WOLFE;
        lc.tolerance_change = 0; /* run until max|g| <= tolerance_grad */
        lc.tolerance_grad = 1e-10;
        size_t wl = optkern_lbfgs_work_len(LN, &lc);
        CHECK(wl > 0 && wl <= 2048, "lbfgs work %zu", wl);
        double xd[LN] = {0}, gd[LN], wd[2048];
        float xf[LN] = {0}, gf[LN], wf[2048];
        optkern_lbfgs_state st = optkern_lbfgs_state_default();
        optkern_lbfgs_request rq = OPTKERN_LBFGS_REQUEST_EVALUATE;
        int evals = 0;
        do {
            double f = 0;
            for (int i = 0; i < LN; i++) {
                gd[i] = (i + 1) * (xd[i] - i);
                f += gd[i] * (xd[i] - i) / 2;
            }
            evals++;
            CHECK(optkern_lbfgs_step_f64(xd, LN, f, gd, wd, wl, &st, &lc, &rq, NULL) == OPTKERN_STATUS_OK, "lbfgs f64");
        } while (rq == OPTKERN_LBFGS_REQUEST_EVALUATE && evals < 100);
        double err = 0;
        for (int i = 0; i < LN; i++) err = fmax(err, fabs(xd[i] - i));
        CHECK(err < 1e-9 && (int)st.func_evals == evals, "lbfgs f64: error %g after %d evaluations", err, evals);
        st = optkern_lbfgs_state_default();
        evals = 0;
        lc.tolerance_grad = 1e-5;
        do {
            double f = 0;
            for (int i = 0; i < LN; i++) {
                gf[i] = (float)((i + 1) * (xf[i] - i));
                f += gf[i] * (xf[i] - i) / 2;
            }
            evals++;
            CHECK(optkern_lbfgs_step(xf, LN, f, gf, wf, wl, &st, &lc, &rq, NULL) == OPTKERN_STATUS_OK, "lbfgs f32");
        } while (rq == OPTKERN_LBFGS_REQUEST_EVALUATE && evals < 100);
        err = 0;
        for (int i = 0; i < LN; i++) err = fmax(err, fabs(xf[i] - i));
        CHECK(err < 1e-4, "lbfgs f32: error %g after %d evaluations", err, evals);
        /* Refusals change nothing: a short work buffer, no request pointer, a damaged state. */
        optkern_lbfgs_state before = st;
        float x0 = xf[0];
        CHECK(optkern_lbfgs_step(xf, LN, 0, gf, wf, wl - 1, &st, &lc, &rq, NULL) == OPTKERN_STATUS_INVALID_LENGTH &&
                  xf[0] == x0 && st.func_evals == before.func_evals && st.n_iter == before.n_iter && st.t == before.t,
              "lbfgs short work");
        CHECK(optkern_lbfgs_step(xf, LN, 0, gf, wf, wl, &st, &lc, NULL, NULL) == OPTKERN_STATUS_NULL_POINTER, "lbfgs NULL");
        st.phase = 7;
        CHECK(optkern_lbfgs_step(xf, LN, 0, gf, wf, wl, &st, &lc, &rq, NULL) == OPTKERN_STATUS_INVALID_HYPERPARAMETER &&
                  xf[0] == x0,
              "lbfgs damaged state");
    }
    /* JAX conventions: fans of a (in, out) matrix, and a delta-orthogonal 3x3x4x8 kernel. */
    double fan_in = 0, fan_out = 0;
    CHECK(optkern_jax_fans(shape, 2, -2, -1, &fan_in, &fan_out, NULL) == OPTKERN_STATUS_OK && fan_in == 64 && fan_out == 32,
          "jax fans %g %g", fan_in, fan_out);
    size_t kshape[4] = {3, 3, 4, 8};
    double scratch[128];
    size_t need = optkern_delta_orthogonal_scratch_len(kshape, 4);
    CHECK(need > 0 && need <= 128, "delta scratch %zu", need);
    CHECK(optkern_init_delta_orthogonal(w, kshape, 4, 2.0, scratch, need, &rng, NULL) == OPTKERN_STATUS_OK, "delta");
    int zeros = 1;
    for (int i = 0; i < 3 * 3 * 4 * 8; i++) zeros &= (i >= 4 * 32 && i < 5 * 32) || w[i] == 0.0f;
    CHECK(zeros, "delta_orthogonal: zero outside the centre");
    double worst = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) {
            double dot = 0;
            for (int t = 0; t < 8; t++) dot += (double)w[128 + a * 8 + t] * w[128 + b * 8 + t];
            worst = fmax(worst, fabs(dot - (a == b ? 4.0 : 0.0)));
        }
    CHECK(worst < 1e-5, "delta_orthogonal rows orthonormal (x scale 2): %g", worst);
    size_t wide[4] = {3, 3, 8, 4};
    CHECK(optkern_init_delta_orthogonal(w, wide, 4, 1.0, scratch, 128, &rng, NULL) == OPTKERN_STATUS_INVALID_HYPERPARAMETER,
          "delta_orthogonal with in > out");
}

/* Sharded norms: the partials of two shards (cut at 4096) combine to the one-call norm and
 * clipping coefficient bit for bit; a shard off the blocks is refused with nothing written. */
#define SHARD_N (3 * 4096 + 5)
static void check_shard_partials(void) {
    static float x[SHARD_N];
    for (int i = 0; i < SHARD_N; i++) x[i] = (float)((i * 7919) % 1000 - 500) * (i % 97 == 0 ? 1e3f : 1e-3f);
    const float *list[1] = {x};
    size_t lens[1] = {SHARD_N};
    double parts[4] = {0};
    size_t cut = 4096, n0 = optkern_norm_partials_len(cut), n1 = optkern_norm_partials_len(SHARD_N - cut);
    CHECK(n0 == 1 && n1 == 3, "partials lengths %zu %zu", n0, n1);
    for (uint32_t kind = 0; kind < 4; kind++) {
        optkern_status s0 = optkern_grad_norm_partials(x, cut, 0, SHARD_N, kind, 3.0, parts, n0, NULL);
        optkern_status s1 = optkern_grad_norm_partials(x + cut, SHARD_N - cut, cut, SHARD_N, kind, 3.0, parts + n0, n1, NULL);
        CHECK(s0 == OPTKERN_STATUS_OK && s1 == OPTKERN_STATUS_OK, "partials kind %u", kind);
        double total = 0;
        float whole = 0, norm32 = 0, coef = 0, coef_whole = 0, norm_whole = 0;
        CHECK(optkern_combine_norm(parts, 4, kind, 3.0, &total, NULL) == OPTKERN_STATUS_OK, "combine");
        CHECK(optkern_grad_norm(list, lens, 1, kind, 3.0, &whole, NULL) == OPTKERN_STATUS_OK, "grad_norm");
        CHECK(bits((float)total) == bits(whole), "kind %u: combined %.9g vs one call %.9g", kind, total, whole);
        CHECK(optkern_clip_coef_from_partials(parts, 4, 1.0, kind, 3.0, &norm32, &coef, NULL) == OPTKERN_STATUS_OK,
              "clip from partials");
        CHECK(optkern_clip_grad_norm((float *const *)list, lens, 1, 1.0, kind, 3.0, 0, &norm_whole, &coef_whole, NULL) ==
                  OPTKERN_STATUS_OK,
              "clip_grad_norm");
        CHECK(bits(coef) == bits(coef_whole) && bits(norm32) == bits(norm_whole), "kind %u: clip coefficients differ",
              kind);
    }
    double sentinel[4] = {-1, -1, -1, -1};
    optkern_error e;
    optkern_status s = optkern_grad_norm_partials(x + 8, 4096, 8, SHARD_N, 0, 0, sentinel, 1, &e);
    CHECK(s == OPTKERN_STATUS_SHARD_BOUNDARY, "start 8: %s", optkern_status_str(s));
    expect_record("start 8", &e, OPTKERN_STATUS_SHARD_BOUNDARY, "start", "", "");
    CHECK(e.value == 8.0, "start 8: record value %g", e.value);
    s = optkern_grad_norm_partials(x, 4097, 0, SHARD_N, 0, 0, sentinel, 2, &e);
    CHECK(s == OPTKERN_STATUS_SHARD_BOUNDARY, "end 4097: %s", optkern_status_str(s));
    expect_record("end 4097", &e, OPTKERN_STATUS_SHARD_BOUNDARY, "end", "", "");
    s = optkern_grad_norm_partials(x, 4096, 0, SHARD_N, 0, 0, sentinel, 2, &e);
    CHECK(s == OPTKERN_STATUS_INVALID_LENGTH, "partials_len 2 for one block: %s", optkern_status_str(s));
    for (int i = 0; i < 4; i++) CHECK(sentinel[i] == -1, "partials[%d] written on an error", i);
}

/* torchao's 4-bit and fp8 layouts on values whose codes follow from the documented rules
 * (src/format/q4.rs, fp8.rs; the golden torchao cases check the bits in Rust): the unsigned
 * 4-bit map k/16 with scale 1, and e4m3fn codes of ±448, ±224 and 0; a bad map writes nothing. */
static void check_torchao_formats(void) {
    const float x4[3] = {0.0f, 0.5f, 1.0f};
    uint8_t c4[2] = {0xAA, 0xAA};
    float s4[1] = {0}, out4[3];
    CHECK(optkern_q4_quantize(x4, c4, s4, 3, 1, NULL) == OPTKERN_STATUS_OK, "q4_quantize");
    CHECK(c4[0] == 0x07 && c4[1] == 0xF0 && s4[0] == 1.0f, "q4 codes %02x %02x scale %g",
          c4[0], c4[1], (double)s4[0]);
    CHECK(optkern_q4_dequantize(c4, s4, out4, 3, 1, NULL) == OPTKERN_STATUS_OK, "q4_dequantize");
    CHECK(out4[0] == 0.0625f && out4[1] == 0.5f && out4[2] == 1.0f, "q4 values %g %g %g",
          (double)out4[0], (double)out4[1], (double)out4[2]);
    optkern_error e;
    uint8_t before[2] = {c4[0], c4[1]};
    CHECK(optkern_q4_quantize(x4, c4, s4, 3, 2, &e) == OPTKERN_STATUS_INVALID_FORMAT, "q4 map 2");
    CHECK(memcmp(before, c4, 2) == 0, "q4 codes changed on an error");

    const float x8[5] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f};
    const uint8_t want[5] = {0xFE, 0xF6, 0x00, 0x76, 0x7E};
    uint8_t c8[5];
    float s8[1], out8[5];
    CHECK(optkern_fp8_quantize(x8, c8, s8, 5, NULL) == OPTKERN_STATUS_OK, "fp8_quantize");
    CHECK(s8[0] == 1.0f / 448.0f, "fp8 scale %g", (double)s8[0]);
    CHECK(optkern_fp8_dequantize(c8, s8, out8, 5, NULL) == OPTKERN_STATUS_OK, "fp8_dequantize");
    for (int i = 0; i < 5; i++) {
        CHECK(c8[i] == want[i], "fp8 code %d: %02x, want %02x", i, c8[i], want[i]);
        CHECK(fabsf(out8[i] - x8[i]) <= 1e-6f, "fp8 value %d: %g", i, (double)out8[i]);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s expected.txt\n", argv[0]);
        return 2;
    }
    /* The expected values come from `cargo run --example capi_expected`, a baseline x86-64 build:
     * run the library's baseline copy (tests/c/levels.sh compares the levels with each other). */
    if (optkern_select_level(1) != OPTKERN_STATUS_OK) {
        fprintf(stderr, "the baseline level was refused\n");
        return 1;
    }
    printf("optkern build: %s\n", optkern_build_info());
    check_against_rust(argv[1]);
    check_statuses();
    check_mixed_statuses();
    check_shard_partials();
    check_torchao_formats();
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures != 0;
}
