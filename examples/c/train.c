/* A softmax-regression classifier for the UCI digits (data/digits/digits.csv), trained from C
 * with nothing but optkern: Xavier init, a fresh shuffle every epoch, minibatches, softmax
 * cross-entropy and its gradient, gradient-norm clipping (as Adam's grad_scale), a warmup +
 * cosine learning-rate schedule and Adam.
 *
 *   bash scripts/build-capi.sh
 *   gcc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -Iinclude examples/c/train.c \
 *       target/capi/lib/liboptkern.a -lm -lpthread -ldl -o train && ./train data/digits/digits.csv
 */
#include "optkern.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FEATURES 64
#define CLASSES 10
#define MAX_ROWS 2000
#define BATCH 32
#define EPOCHS 30

static float X[MAX_ROWS][FEATURES];
static int64_t Y[MAX_ROWS];

#define TRY(call)                                                                  \
    do {                                                                           \
        optkern_status s_ = (call);                                                \
        if (s_ != OPTKERN_STATUS_OK) {                                             \
            fprintf(stderr, "%s failed: %s\n", #call, optkern_status_str(s_));     \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

static int load(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    int n = 0;
    while (n < MAX_ROWS) {
        int ok = 1;
        for (int j = 0; j < FEATURES && ok; j++) ok = fscanf(f, "%f,", &X[n][j]) == 1;
        long label;
        if (!ok || fscanf(f, "%ld", &label) != 1) break;
        for (int j = 0; j < FEATURES; j++) X[n][j] /= 16.0f;
        Y[n++] = label;
    }
    fclose(f);
    return n;
}

/* logits[b] = W·x + bias for the rows idx[0..count]. */
static void forward(const float *w, const float *bias, const uint32_t *idx, size_t count, float *logits) {
    for (size_t b = 0; b < count; b++) {
        for (int c = 0; c < CLASSES; c++) {
            float z = bias[c];
            for (int j = 0; j < FEATURES; j++) z += w[c * FEATURES + j] * X[idx[b]][j];
            logits[b * CLASSES + c] = z;
        }
    }
}

int main(int argc, char **argv) {
    int n = load(argc > 1 ? argv[1] : "data/digits/digits.csv");
    int n_train = n * 4 / 5, n_test = n - n_train;
    printf("digits: %d training rows, %d test rows\n", n_train, n_test);

    /* Parameters as one flat buffer: W (10×64) then the bias (10); Adam's state likewise. */
    enum { P = CLASSES * FEATURES + CLASSES };
    static float params[P], grads[P], m[P], v[P];
    optkern_rng rng;
    TRY(optkern_rng_seed(&rng, 2026, NULL));
    size_t shape[2] = {CLASSES, FEATURES};
    TRY(optkern_init_xavier(params, shape, 2, 1.0, 0, &rng, NULL));
    TRY(optkern_init_constant(params + CLASSES * FEATURES, CLASSES, 0.0f, NULL));

    static uint32_t order[MAX_ROWS], test_idx[MAX_ROWS];
    TRY(optkern_iota(order, (size_t)n_train, NULL));
    for (int i = 0; i < n_test; i++) test_idx[i] = (uint32_t)(n_train + i);

    optkern_adam_config adam = optkern_adam_config_default();
    uint64_t steps_per_epoch = (uint64_t)(n_train + BATCH - 1) / BATCH, total = steps_per_epoch * EPOCHS;
    uint32_t step = 0;
    static float logits[MAX_ROWS * CLASSES], dlogits[BATCH * CLASSES];
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        TRY(optkern_shuffle(order, (size_t)n_train, &rng, NULL));
        double epoch_loss = 0;
        for (int start = 0; start < n_train; start += BATCH) {
            size_t count = (size_t)(n_train - start < BATCH ? n_train - start : BATCH);
            const uint32_t *idx = order + start;
            int64_t targets[BATCH];
            for (size_t b = 0; b < count; b++) targets[b] = Y[idx[b]];
            forward(params, params + CLASSES * FEATURES, idx, count, logits);
            float loss;
            TRY(optkern_cross_entropy(logits, targets, count, CLASSES, 0, 0.0, -100, NULL, NULL, dlogits, &loss, NULL));
            epoch_loss += loss * (double)count;
            /* Backward: dW = dlogitsᵀ·X, dbias = Σ dlogits. */
            memset(grads, 0, sizeof grads);
            for (size_t b = 0; b < count; b++) {
                for (int c = 0; c < CLASSES; c++) {
                    float d = dlogits[b * CLASSES + c];
                    for (int j = 0; j < FEATURES; j++) grads[c * FEATURES + j] += d * X[idx[b]][j];
                    grads[CLASSES * FEATURES + c] += d;
                }
            }
            /* Clip the global norm to 1 through grad_scale: no extra pass over the gradients. */
            const float *list[1] = {grads};
            size_t lens[1] = {P};
            float total_norm, coef;
            TRY(optkern_clip_grad_norm((float *const *)list, lens, 1, 1.0, 0, 0.0, 0, &total_norm, &coef, NULL));
            TRY(optkern_lr_warmup_cosine(0.05, steps_per_epoch, 0.1, total, 1e-4, step, &adam.lr, NULL));
            adam.grad_scale = coef;
            step++;
            TRY(optkern_adam_step(params, grads, m, v, NULL, P, step, &adam, NULL));
        }
        if (epoch % 5 == 4 || epoch == 0) {
            size_t correct;
            forward(params, params + CLASSES * FEATURES, test_idx, (size_t)n_test, logits);
            TRY(optkern_correct_predictions(logits, Y + n_train, (size_t)n_test, CLASSES, &correct, NULL));
            printf("epoch %2d  train loss %.4f  test accuracy %.1f %%\n", epoch + 1, epoch_loss / n_train,
                   100.0 * (double)correct / n_test);
        }
    }
    size_t correct;
    forward(params, params + CLASSES * FEATURES, test_idx, (size_t)n_test, logits);
    TRY(optkern_correct_predictions(logits, Y + n_train, (size_t)n_test, CLASSES, &correct, NULL));
    double acc = (double)correct / n_test;
    printf("final test accuracy %.1f %%\n", 100.0 * acc);
    return acc > 0.85 ? 0 : 1;
}
