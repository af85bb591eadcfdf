/* Sharded (ZeRO-style) data-parallel training over MPI with optkern, bit-identical for any
 * number of ranks and to one process without MPI.
 *
 * The model: the UCI digits (data/digits/digits.csv) through an MLP 64 → H → H → 10 with ReLU
 * (H = 1024 by default: 1,126,410 parameters), one flat f32 buffer in which every tensor starts
 * on a 4096-element block (optkern's reduction block, so that every shard and every tensor is
 * made of whole blocks; the padding is zero and stays zero).
 *
 * One step, on every rank:
 *  1. the global batch is a fixed number of micro-batches (MICRO, whatever the number of ranks);
 *     micro-batch m is computed by rank m mod N, into a full-length gradient;
 *  2. a deterministic reduce-scatter: MPI_Alltoallv sends every micro-batch's gradient slice to
 *     the rank that owns it, and the owner sums the micro-batches in micro-batch order (the
 *     same additions for every N; MPI_Reduce_scatter's order is not fixed);
 *  3. the non-finite guard: optkern_all_finite on the shard, MPI_Allreduce(MPI_LAND), so every
 *     rank skips a bad step together;
 *  4. global-norm clipping: each rank's optkern_grad_norm_partials (one per block), gathered in
 *     block order (MPI_Allgatherv), combined by optkern_clip_coef_from_partials into exactly the
 *     one-process coefficient, passed to the step as grad_scale;
 *  5. each rank steps its shard only (and keeps only its shard's optimizer state): AdamW, or
 *     LAMB or LARS, whose per-tensor ratios come from per-block partials gathered the same way;
 *  6. MPI_Allgatherv of the parameters.
 * Rank 0 prints the loss, and last `params sha256: <hex>` of the final f32 parameters
 * (little-endian, tensors in order, without the padding).
 *
 * Checkpoints (--ckpt DIR): every --ckpt-every steps each rank writes its shard (parameters,
 * optimizer state, step counters) to its own file, atomically (write, fsync, rename); rank 0
 * then points DIR/latest at the new step (also write-then-rename). A restart (--resume) with any
 * number of ranks reads the files it needs and continues. The batches are a pure function of
 * the step number (no generator state to save).
 *
 * Numerics: Portable everywhere (gemm and the optimizers), so the bits are also the same on
 * every x86-64 level of the library (--level forces one).
 *
 * Build (see the README, "Beyond one machine"):
 *   mpicc -std=c99 -O2 -ffp-contract=off -Iinclude examples/mpi/train_sharded.c \
 *       target/capi/lib/liboptkern.a -lm -o train_sharded
 *   mpirun --allow-run-as-root --oversubscribe -np 4 ./train_sharded data/digits/digits.csv
 * and the single-process build without MPI: gcc ... -DOPTKERN_NO_MPI (same flags).
 */
#define _POSIX_C_SOURCE 200809L
#include "optkern.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef OPTKERN_NO_MPI
#include <mpi.h>
#endif

#define IN 64
#define OUT 10
#define MAX_ROWS 2000
#define MICRO 8 /* micro-batches per step, fixed whatever the number of ranks */
#define MB 8    /* samples per micro-batch */
#define BATCH (MICRO * MB)
#define BLOCK 4096
#define TENSORS 6

static float X[MAX_ROWS][IN];
static int64_t Y[MAX_ROWS];
static int rank = 0, size = 1;

static void fail(const char *what) {
    fprintf(stderr, "rank %d: %s\n", rank, what);
#ifndef OPTKERN_NO_MPI
    MPI_Abort(MPI_COMM_WORLD, 1);
#endif
    exit(1);
}

#define TRY(call)                                                                      \
    do {                                                                               \
        optkern_error e_;                                                              \
        if ((call) != OPTKERN_STATUS_OK) {                                             \
            fprintf(stderr, "rank %d: %s: %s '%s' %s\n", rank, #call,                  \
                    optkern_status_str(e_.status), e_.argument, e_.reason);            \
            fail("optkern call failed");                                               \
        }                                                                              \
    } while (0)
#define E (&e_)

/* ---- communication: MPI, or the one-process identity ---------------------------------- */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void alltoallv_f32(const float *send, const int *scounts, const int *sdispls, float *recv, const int *rcounts,
                          const int *rdispls) {
#ifndef OPTKERN_NO_MPI
    MPI_Alltoallv(send, scounts, sdispls, MPI_FLOAT, recv, rcounts, rdispls, MPI_FLOAT, MPI_COMM_WORLD);
#else
    (void)rcounts;
    memcpy(recv + rdispls[0], send + sdispls[0], (size_t)scounts[0] * sizeof *send);
#endif
}

/* Every rank's `counts[r]` values at `displs[r]` of `buf`, own part in place. */
static void allgatherv_f32(float *buf, const int *counts, const int *displs) {
#ifndef OPTKERN_NO_MPI
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, MPI_FLOAT, MPI_COMM_WORLD);
#else
    (void)buf, (void)counts, (void)displs;
#endif
}

static void allgatherv_f64(double *buf, const int *counts, const int *displs) {
#ifndef OPTKERN_NO_MPI
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, MPI_DOUBLE, MPI_COMM_WORLD);
#else
    (void)buf, (void)counts, (void)displs;
#endif
}

static int allreduce_and(int flag) {
#ifndef OPTKERN_NO_MPI
    int all;
    MPI_Allreduce(&flag, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return all;
#else
    return flag;
#endif
}

static void barrier(void) {
#ifndef OPTKERN_NO_MPI
    MPI_Barrier(MPI_COMM_WORLD);
#endif
}

/* ---- SHA-256 (FIPS 180-4), for the final parameter hash ------------------------------- */

typedef struct {
    uint32_t h[8];
    uint8_t buf[64];
    size_t fill;
    uint64_t bytes;
} sha256;

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(sha256 *s, const uint8_t *p) {
    uint32_t w[64], a[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(a, s->h, sizeof a);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = a[7] + (ror(a[4], 6) ^ ror(a[4], 11) ^ ror(a[4], 25)) + ((a[4] & a[5]) ^ (~a[4] & a[6])) + K256[i] + w[i];
        uint32_t t2 = (ror(a[0], 2) ^ ror(a[0], 13) ^ ror(a[0], 22)) + ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));
        memmove(a + 1, a, 7 * sizeof *a);
        a[4] += t1;
        a[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) s->h[i] += a[i];
}

static void sha256_init(sha256 *s) {
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->fill = 0;
    s->bytes = 0;
}

static void sha256_update(sha256 *s, const void *data, size_t n) {
    const uint8_t *p = data;
    s->bytes += n;
    while (n > 0) {
        size_t take = 64 - s->fill < n ? 64 - s->fill : n;
        memcpy(s->buf + s->fill, p, take);
        s->fill += take, p += take, n -= take;
        if (s->fill == 64) sha256_block(s, s->buf), s->fill = 0;
    }
}

static void sha256_hex(sha256 *s, char out[65]) {
    uint64_t bits = s->bytes * 8;
    uint8_t pad = 0x80, zero = 0, len[8];
    sha256_update(s, &pad, 1);
    while (s->fill != 56) sha256_update(s, &zero, 1);
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(s, len, 8);
    for (int i = 0; i < 8; i++) sprintf(out + 8 * i, "%08x", (unsigned)s->h[i]);
}

/* ---- the model ------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    size_t rows, cols; /* a bias is rows × 1 */
    size_t off;        /* in the flat buffer, a multiple of BLOCK */
} tensor;

static tensor T[TENSORS];
static size_t H, TOTAL; /* hidden width; padded length of the flat buffer */

static void layout(size_t hidden) {
    H = hidden;
    const tensor t[TENSORS] = {{"w1", H, IN, 0}, {"b1", H, 1, 0}, {"w2", H, H, 0},
                               {"b2", H, 1, 0},  {"w3", OUT, H, 0}, {"b3", OUT, 1, 0}};
    size_t off = 0;
    for (int i = 0; i < TENSORS; i++) {
        T[i] = t[i];
        T[i].off = off;
        off += (T[i].rows * T[i].cols + BLOCK - 1) / BLOCK * BLOCK;
    }
    TOTAL = off;
}

static size_t real_params(void) {
    size_t n = 0;
    for (int i = 0; i < TENSORS; i++) n += T[i].rows * T[i].cols;
    return n;
}

/* The piece [a, b) of tensor i (block-padded: [t0, t0 + tlen)) inside the shard [start,
 * start + len); 0 if they do not meet. */
static int piece(int i, size_t start, size_t len, size_t *a, size_t *b, size_t *t0, size_t *tlen) {
    *t0 = T[i].off;
    *tlen = (T[i].rows * T[i].cols + BLOCK - 1) / BLOCK * BLOCK;
    *a = *t0 > start ? *t0 : start;
    *b = *t0 + *tlen < start + len ? *t0 + *tlen : start + len;
    return *a < *b;
}

static int load(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) fail("cannot open the data file");
    int n = 0;
    while (n < MAX_ROWS) {
        int ok = 1;
        for (int j = 0; j < IN && ok; j++) ok = fscanf(f, "%f,", &X[n][j]) == 1;
        long label;
        if (!ok || fscanf(f, "%ld", &label) != 1) break;
        for (int j = 0; j < IN; j++) X[n][j] /= 16.0f;
        Y[n++] = label;
    }
    fclose(f);
    return n;
}

/* The rows of micro-batch m of step s: a pure function of (s, m, j) (splitmix64). */
static uint32_t sample(uint64_t s, int m, int j, int n_train) {
    uint64_t z = 0x9e3779b97f4a7c15ull * ((s * MICRO + (uint64_t)m) * MB + (uint64_t)j + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (uint32_t)(z % (uint64_t)n_train);
}

static float *scratch;
static size_t scratch_len;

/* C(m×n) ← op(A)·op(B) (Portable: the same bits on every build and level). */
static void matmul(float *c, const float *a, size_t lda, const float *b, size_t ldb, size_t m, size_t n, size_t k,
                   int trans_a, int trans_b) {
    optkern_gemm_config cfg = optkern_gemm_config_default();
    cfg.trans_a = trans_a, cfg.trans_b = trans_b;
    cfg.numerics = OPTKERN_NUMERICS_PORTABLE;
    TRY(optkern_gemm(c, n, a, lda, b, ldb, m, n, k, &cfg, scratch, scratch_len, E));
}

/* z(rows × width) += bias per row, then ReLU if asked. */
static void bias_act(float *z, const float *bias, size_t rows, size_t width, int relu) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < width; j++) {
            float v = z[r * width + j] + bias[j];
            z[r * width + j] = relu && v < 0.0f ? 0.0f : v;
        }
}

/* Activations of one micro-batch. */
static float *xin, *h1, *h2, *logits, *dlogits, *dh1, *dh2;

static void forward(const float *p, const uint32_t *rows, size_t count) {
    for (size_t b = 0; b < count; b++) memcpy(xin + b * IN, X[rows[b]], sizeof X[0]);
    matmul(h1, xin, IN, p + T[0].off, IN, count, H, IN, 0, 1);
    bias_act(h1, p + T[1].off, count, H, 1);
    matmul(h2, h1, H, p + T[2].off, H, count, H, H, 0, 1);
    bias_act(h2, p + T[3].off, count, H, 1);
    matmul(logits, h2, H, p + T[4].off, H, count, OUT, H, 0, 1);
    bias_act(logits, p + T[5].off, count, OUT, 0);
}

/* Column sums of d (rows × width), in row order. */
static void colsum(float *out, const float *d, size_t rows, size_t width) {
    for (size_t j = 0; j < width; j++) {
        float s = 0.0f;
        for (size_t r = 0; r < rows; r++) s += d[r * width + j];
        out[j] = s;
    }
}

/* d ← d·[z > 0] (the ReLU's derivative, from its output z). */
static void relu_back(float *d, const float *z, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(z[i] > 0.0f)) d[i] = 0.0f;
}

/* The gradient of (the summed cross-entropy of micro-batch m)/BATCH into g (full length, the
 * padding stays 0); returns the summed loss. */
static double micro_gradient(const float *p, float *g, uint64_t step, int m, int n_train) {
    uint32_t rows[MB];
    int64_t targets[MB];
    for (int j = 0; j < MB; j++) rows[j] = sample(step, m, j, n_train), targets[j] = Y[rows[j]];
    forward(p, rows, MB);
    float loss;
    TRY(optkern_cross_entropy(logits, targets, MB, OUT, 1, 0.0, -100, NULL, NULL, dlogits, &loss, E));
    for (size_t i = 0; i < (size_t)MB * OUT; i++) dlogits[i] *= 1.0f / BATCH; /* a power of 2: exact */
    matmul(g + T[4].off, dlogits, OUT, h2, H, OUT, H, MB, 1, 0);
    colsum(g + T[5].off, dlogits, MB, OUT);
    matmul(dh2, dlogits, OUT, p + T[4].off, H, MB, H, OUT, 0, 0);
    relu_back(dh2, h2, (size_t)MB * H);
    matmul(g + T[2].off, dh2, H, h1, H, H, H, MB, 1, 0);
    colsum(g + T[3].off, dh2, MB, H);
    matmul(dh1, dh2, H, p + T[2].off, H, MB, H, H, 0, 0);
    relu_back(dh1, h1, (size_t)MB * H);
    matmul(g + T[0].off, dh1, H, xin, IN, H, IN, MB, 1, 0);
    colsum(g + T[1].off, dh1, MB, H);
    return (double)loss;
}

static double accuracy(const float *p, int first, int count) {
    int correct = 0;
    for (int b0 = 0; b0 < count; b0 += MB) {
        uint32_t rows[MB];
        int64_t targets[MB];
        size_t k = 0;
        for (int b = b0; b < b0 + MB && b < count; b++) rows[k] = (uint32_t)(first + b), targets[k] = Y[first + b], k++;
        forward(p, rows, k);
        size_t c;
        TRY(optkern_correct_predictions(logits, targets, k, OUT, &c, E));
        correct += (int)c;
    }
    return (double)correct / count;
}

/* ---- checkpoints ----------------------------------------------------------------------- */

#define MAGIC 0x314b5043544b504full /* "OPKTCPK1" */

typedef struct {
    uint64_t magic, step, opt_step, total, start, len, ranks, rank, hidden, checksum;
} ckpt_header;

static uint64_t fnv1a(const void *data, size_t n, uint64_t h) {
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void write_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fail("checkpoint write failed");
        p += w, n -= (size_t)w;
    }
}

/* Writes DIR/step-<s>.rank-<r>.bin through a temporary file and a rename: a reader sees the
 * whole file or none. `die_halfway` kills this process in the middle (the fault test). */
static void write_shard(const char *dir, uint64_t step, uint64_t opt_step, size_t start, size_t len, const float *p,
                        const float *st1, const float *st2, int die_halfway) {
    char tmp[600], path[512];
    if (strlen(dir) > 400) fail("checkpoint directory name too long");
    snprintf(path, sizeof path, "%s/step-%llu.rank-%d.bin", dir, (unsigned long long)step, rank);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ckpt_header h = {MAGIC, step, opt_step, TOTAL, start, len, (uint64_t)size, (uint64_t)rank, H, 0};
    uint64_t c = 0xcbf29ce484222325ull;
    c = fnv1a(p + start, len * sizeof *p, c);
    c = fnv1a(st1, len * sizeof *st1, c);
    c = fnv1a(st2, len * sizeof *st2, c);
    h.checksum = c;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) fail("cannot create a checkpoint file");
    write_all(fd, &h, sizeof h);
    write_all(fd, p + start, len * sizeof *p);
    if (die_halfway) {
        fsync(fd);
        fprintf(stderr, "rank %d: killed while writing %s (fault test)\n", rank, tmp);
        raise(SIGKILL);
    }
    write_all(fd, st1, len * sizeof *st1);
    write_all(fd, st2, len * sizeof *st2);
    if (fsync(fd) != 0 || close(fd) != 0) fail("checkpoint fsync/close failed");
    if (rename(tmp, path) != 0) fail("checkpoint rename failed");
}

/* After every rank's shard is on disk: DIR/latest names the step (write-then-rename), and the
 * previous step's files are removed. */
static void commit_checkpoint(const char *dir, uint64_t step, uint64_t prev_step, int prev_ranks) {
    barrier();
    if (rank == 0) {
        char tmp[512], path[512];
        snprintf(path, sizeof path, "%s/latest", dir);
        snprintf(tmp, sizeof tmp, "%s/latest.tmp", dir);
        FILE *f = fopen(tmp, "w");
        if (!f) fail("cannot write latest.tmp");
        fprintf(f, "%llu %d\n", (unsigned long long)step, size);
        if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) fail("latest.tmp");
        if (rename(tmp, path) != 0) fail("cannot rename latest");
        for (int r = 0; prev_step > 0 && r < prev_ranks; r++) {
            snprintf(path, sizeof path, "%s/step-%llu.rank-%d.bin", dir, (unsigned long long)prev_step, r);
            remove(path);
        }
    }
    barrier();
}

/* Loads the checkpoint DIR/latest names: all parameters, and the optimizer state of this rank's
 * (new) shard [start, start+len), from the old ranks' files whatever their number. */
static void load_checkpoint(const char *dir, float *p, float *st1, float *st2, size_t start, size_t len,
                            uint64_t *step, uint64_t *opt_step, int *old_ranks) {
    char path[512];
    snprintf(path, sizeof path, "%s/latest", dir);
    FILE *f = fopen(path, "r");
    unsigned long long s;
    if (!f || fscanf(f, "%llu %d", &s, old_ranks) != 2) fail("no usable checkpoint (latest)");
    fclose(f);
    size_t params_seen = 0, state_seen = 0;
    for (int r = 0; r < *old_ranks; r++) {
        snprintf(path, sizeof path, "%s/step-%llu.rank-%d.bin", dir, s, r);
        f = fopen(path, "rb");
        ckpt_header h;
        if (!f || fread(&h, sizeof h, 1, f) != 1) fail("cannot read a checkpoint shard");
        if (h.magic != MAGIC || h.step != s || h.total != TOTAL || h.hidden != H || h.rank != (uint64_t)r ||
            h.start + h.len > TOTAL)
            fail("checkpoint shard does not belong to this run");
        float *buf = malloc(3 * h.len * sizeof *buf + 1);
        if (!buf || fread(buf, sizeof *buf, 3 * h.len, f) != 3 * h.len) fail("short checkpoint shard");
        fclose(f);
        if (fnv1a(buf, 3 * h.len * sizeof *buf, 0xcbf29ce484222325ull) != h.checksum) fail("checkpoint checksum");
        memcpy(p + h.start, buf, h.len * sizeof *buf);
        params_seen += h.len;
        size_t a = h.start > start ? h.start : start;
        size_t b = h.start + h.len < start + len ? h.start + h.len : start + len;
        if (a < b) {
            memcpy(st1 + (a - start), buf + h.len + (a - h.start), (b - a) * sizeof *buf);
            memcpy(st2 + (a - start), buf + 2 * h.len + (a - h.start), (b - a) * sizeof *buf);
            state_seen += b - a;
        }
        *opt_step = h.opt_step;
        free(buf);
    }
    if (params_seen != TOTAL || state_seen != len) fail("the checkpoint's shards do not cover the buffer");
    *step = s;
}

/* ---- the trainer ----------------------------------------------------------------------- */

typedef struct {
    const char *data, *ckpt, *opt;
    uint64_t steps, ckpt_every, poison_step, die_after, die_writing;
    size_t hidden;
    int resume, level, arrival_order;
} options;

static options parse(int argc, char **argv) {
    options o = {"data/digits/digits.csv", NULL, "adamw", 40, 5, 7, 0, 0, 1024, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--resume")) o.resume = 1;
        else if (!strcmp(a, "--arrival-order")) o.arrival_order = 1;
        else if (v && !strcmp(a, "--steps")) o.steps = strtoull(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--hidden")) o.hidden = strtoull(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--ckpt")) o.ckpt = v, i++;
        else if (v && !strcmp(a, "--ckpt-every")) o.ckpt_every = strtoull(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--poison-step")) o.poison_step = strtoull(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--die-after")) o.die_after = strtoull(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--die-writing")) o.die_writing = strtoull(v, NULL, 10), i++;
        else if (v && !strcmp(a, "--opt")) o.opt = v, i++;
        else if (v && !strcmp(a, "--level")) o.level = atoi(v), i++;
        else if (a[0] != '-') o.data = a;
        else {
            fprintf(stderr,
                    "usage: train_sharded [DATA.csv] [--steps N] [--hidden H] [--opt adamw|lamb|lars] [--ckpt DIR]\n"
                    "       [--ckpt-every K] [--resume] [--poison-step S] [--die-after S] [--die-writing S]\n"
                    "       [--level 1|3|4] [--arrival-order]\n");
            exit(2);
        }
    }
    if (strcmp(o.opt, "adamw") && strcmp(o.opt, "lamb") && strcmp(o.opt, "lars")) fail("--opt is adamw, lamb or lars");
    if (o.resume && !o.ckpt) fail("--resume needs --ckpt");
    return o;
}

static void *xcalloc(size_t n, size_t each) {
    void *p = calloc(n ? n : 1, each);
    if (!p) fail("out of memory");
    return p;
}

int main(int argc, char **argv) {
#ifndef OPTKERN_NO_MPI
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
#endif
    options o = parse(argc, argv);
    if (o.level && optkern_select_level((uint32_t)o.level) != OPTKERN_STATUS_OK) fail("level not available");
    layout(o.hidden);
    int n = load(o.data), n_train = n * 5 / 6;
    const size_t blocks = TOTAL / BLOCK;

    /* Shards: rank r owns blocks [r·blocks/N, (r+1)·blocks/N). */
    int *counts = xcalloc((size_t)size, sizeof(int)), *displs = xcalloc((size_t)size, sizeof(int));
    int *pcounts = xcalloc((size_t)size, sizeof(int)), *pdispls = xcalloc((size_t)size, sizeof(int));
    for (int r = 0; r < size; r++) {
        size_t b0 = (size_t)r * blocks / (size_t)size, b1 = (size_t)(r + 1) * blocks / (size_t)size;
        displs[r] = (int)(b0 * BLOCK), counts[r] = (int)((b1 - b0) * BLOCK);
        pdispls[r] = (int)b0, pcounts[r] = (int)(b1 - b0);
    }
    const size_t start = (size_t)displs[rank], len = (size_t)counts[rank];
    /* Rank q computes the micro-batches m ≡ q (mod N): lc[q] of them, at ld[q] in rank order. */
    int *lc = xcalloc((size_t)size, sizeof(int)), *ld = xcalloc((size_t)size, sizeof(int));
    for (int q = 0, at = 0; q < size; q++) {
        for (int m = q; m < MICRO; m += size) lc[q]++;
        ld[q] = at, at += lc[q];
    }
    const int local = lc[rank];

    float *p = xcalloc(TOTAL, sizeof(float));
    float *st1 = xcalloc(len, sizeof(float)), *st2 = xcalloc(len, sizeof(float)), *gshard = xcalloc(len, sizeof(float));
    float *grads = xcalloc((size_t)local * TOTAL, sizeof(float));
    float *sendbuf = xcalloc((size_t)local * TOTAL, sizeof(float));
    float *recvbuf = xcalloc((size_t)MICRO * len, sizeof(float));
    double *partials = xcalloc(blocks, sizeof(double)), *partials2 = xcalloc(blocks, sizeof(double));
    xin = xcalloc((size_t)MB * IN, sizeof(float));
    h1 = xcalloc((size_t)MB * H, sizeof(float)), h2 = xcalloc((size_t)MB * H, sizeof(float));
    dh1 = xcalloc((size_t)MB * H, sizeof(float)), dh2 = xcalloc((size_t)MB * H, sizeof(float));
    logits = xcalloc((size_t)MB * OUT, sizeof(float)), dlogits = xcalloc((size_t)MB * OUT, sizeof(float));
    scratch_len = optkern_gemm_scratch_len(H, H, H);
    scratch = xcalloc(scratch_len, sizeof(float));

    /* Every rank initialises the whole model identically (Kaiming-uniform weights, zero biases). */
    optkern_rng rng;
    TRY(optkern_rng_seed(&rng, 2026, E));
    for (int i = 0; i < TENSORS; i += 2) {
        size_t shape[2] = {T[i].rows, T[i].cols};
        TRY(optkern_init_kaiming(p + T[i].off, shape, 2, 0, 4, 0.0, 0, &rng, E));
    }

    /* The reduce-scatter's counts and displacements (send: by owner; receive: by sender). */
    int *sc = xcalloc((size_t)size, sizeof(int)), *sd = xcalloc((size_t)size, sizeof(int));
    int *rc = xcalloc((size_t)size, sizeof(int)), *rd = xcalloc((size_t)size, sizeof(int));
    uint64_t step = 0, opt_step = 0, last_ckpt = 0;
    int last_ranks = size;
    if (o.resume) {
        load_checkpoint(o.ckpt, p, st1, st2, start, len, &step, &opt_step, &last_ranks);
        last_ckpt = step;
        if (rank == 0) printf("resumed at step %llu (checkpoint of %d ranks) on %d ranks\n", (unsigned long long)step, last_ranks, size);
    }
    if (rank == 0)
        printf("sharded %s: %zu parameters (%zu with block padding), %d ranks, %d micro-batches of %d, %llu steps\n",
               o.opt, real_params(), TOTAL, size, MICRO, MB, (unsigned long long)o.steps);

    optkern_adam_config adam = optkern_adam_config_default();
    adam.lr = 1e-3, adam.weight_decay = 0.01, adam.numerics = OPTKERN_NUMERICS_PORTABLE;
    optkern_lamb_config lamb = optkern_lamb_config_default();
    lamb.lr = 1e-2, lamb.numerics = OPTKERN_NUMERICS_PORTABLE;
    optkern_lars_config lars = optkern_lars_config_default();
    lars.lr = 0.5, lars.trust_coefficient = 0.02, lars.numerics = OPTKERN_NUMERICS_PORTABLE;
    const int use_lamb = !strcmp(o.opt, "lamb");
    double t_compute = 0, t_comm = 0, t_opt = 0;
    uint64_t timed = 0;

    for (step = step + 1; step <= o.steps; step++) {
        double t0 = now();
        double losses[MICRO];
        for (int k = 0, m = rank; m < MICRO; m += size, k++) {
            losses[m] = micro_gradient(p, grads + (size_t)k * TOTAL, step, m, n_train);
            if (step == o.poison_step && m == MICRO - 1) grads[(size_t)k * TOTAL + T[2].off + 5] = NAN;
        }
        double t1 = now();
        /* Reduce-scatter: micro-batch k of this rank, slice of owner o → owner o, in order. */
        size_t at = 0;
        for (int q = 0; q < size; q++) {
            sd[q] = (int)at;
            for (int k = 0; k < local; k++, at += (size_t)counts[q])
                memcpy(sendbuf + at, grads + (size_t)k * TOTAL + displs[q], (size_t)counts[q] * sizeof(float));
            sc[q] = (int)(at - (size_t)sd[q]);
        }
        at = 0;
        for (int q = 0; q < size; q++) rd[q] = (int)at, rc[q] = lc[q] * (int)len, at += (size_t)rc[q];
        alltoallv_f32(sendbuf, sc, sd, recvbuf, rc, rd);
        /* The sum in micro-batch order: m lives at rank m mod N, as its (m / N)-th piece. */
        for (int m = 0; m < MICRO; m++) {
            /* --arrival-order (the CI's proof that the test sees the order) sums the pieces in
             * the receive buffer's rank order (m = 0, N, 2N, …, 1, N+1, …) instead. */
            const float *piece = o.arrival_order ? recvbuf + (size_t)m * len
                                                 : recvbuf + rd[m % size] + (size_t)(m / size) * len;
            if (m == 0) memcpy(gshard, piece, len * sizeof(float));
            else
                for (size_t i = 0; i < len; i++) gshard[i] += piece[i];
        }
        /* The loss of the step, summed in micro-batch order: rank q's losses sit at ld[q]. */
        double lbuf[MICRO];
        for (int k = 0, m = rank; m < MICRO; m += size, k++) lbuf[ld[rank] + k] = losses[m];
        allgatherv_f64(lbuf, lc, ld);
        double loss = 0;
        for (int m = 0; m < MICRO; m++) loss += lbuf[ld[m % size] + m / size];
        loss /= BATCH;

        /* The non-finite guard: every rank skips together. */
        uint32_t finite;
        const float *gs[1] = {gshard};
        size_t gl[1] = {len};
        TRY(optkern_all_finite(gs, gl, 1, &finite, E));
        int all_finite = allreduce_and((int)finite);
        /* Global-norm clipping from the block partials, gathered in block order. */
        float total_norm = NAN, coef = 1.0f;
        if (all_finite) {
            TRY(optkern_grad_norm_partials(gshard, len, start, TOTAL, 0, 0.0, partials + pdispls[rank],
                                           (size_t)pcounts[rank], E));
            allgatherv_f64(partials, pcounts, pdispls);
            TRY(optkern_clip_coef_from_partials(partials, blocks, 1.0, 0, 0.0, &total_norm, &coef, E));
        }
        double t2 = now();
        if (all_finite) {
            opt_step++;
            if (!strcmp(o.opt, "adamw")) {
                adam.grad_scale = coef;
                TRY(optkern_adamw_step(p + start, gshard, st1, st2, NULL, len, (uint32_t)opt_step, &adam, E));
            } else {
                /* Layer-wise (LAMB, LARS): pass 1 on each tensor's piece of the shard writes the
                 * per-block partials of its two norms; the partials are gathered in block order;
                 * each tensor's ratio comes from its blocks; pass 2 applies it to the piece. */
                lamb.grad_scale = coef, lars.grad_scale = coef;
                size_t a, b, t0i, tlen;
                for (int i = 0; i < TENSORS; i++) {
                    if (!piece(i, start, len, &a, &b, &t0i, &tlen)) continue;
                    size_t at = a - start, nb = (b - a) / BLOCK;
                    if (use_lamb)
                        TRY(optkern_lamb_shard_moments(p + a, gshard + at, st1 + at, st2 + at, b - a, a - t0i, tlen,
                                                       (uint32_t)opt_step, &lamb, partials + a / BLOCK, nb,
                                                       partials2 + a / BLOCK, nb, E));
                    else
                        TRY(optkern_lars_shard_norms(p + a, gshard + at, b - a, a - t0i, tlen, &lars,
                                                     partials + a / BLOCK, nb, partials2 + a / BLOCK, nb, E));
                }
                double tc = now();
                allgatherv_f64(partials, pcounts, pdispls);
                allgatherv_f64(partials2, pcounts, pdispls);
                t_comm += now() - tc;
                for (int i = 0; i < TENSORS; i++) {
                    if (!piece(i, start, len, &a, &b, &t0i, &tlen)) continue;
                    size_t at = a - start, nb = tlen / BLOCK;
                    double ratio;
                    if (use_lamb) {
                        TRY(optkern_lamb_trust_ratio(partials + t0i / BLOCK, partials2 + t0i / BLOCK, nb, &ratio, E));
                        TRY(optkern_lamb_shard_apply(p + a, st1 + at, st2 + at, b - a, (uint32_t)opt_step, &lamb,
                                                     ratio, E));
                    } else {
                        TRY(optkern_lars_local_lr(partials + t0i / BLOCK, partials2 + t0i / BLOCK, nb, &lars, &ratio,
                                                  E));
                        TRY(optkern_lars_shard_apply(p + a, gshard + at, st1 + at, b - a, &lars, ratio, E));
                    }
                }
            }
        }
        double t3 = now();
        allgatherv_f32(p, counts, displs);
        double t4 = now();
        if (step > 1) t_compute += t1 - t0, t_comm += (t2 - t1) + (t4 - t3), t_opt += t3 - t2, timed++;

        if (rank == 0 && (step % 5 == 0 || step == 1 || !all_finite))
            printf(all_finite ? "step %3llu  loss %.6f  grad norm %.6f  clip %.6f\n"
                              : "step %3llu  loss %.6f  non-finite gradient: every rank skips the step\n",
                   (unsigned long long)step, loss, (double)total_norm, (double)coef);
        fflush(stdout);
        if (o.ckpt && o.ckpt_every && step % o.ckpt_every == 0) {
            write_shard(o.ckpt, step, opt_step, start, len, p, st1, st2,
                        step == o.die_writing && rank == size - 1);
            commit_checkpoint(o.ckpt, step, last_ckpt, last_ranks);
            last_ckpt = step, last_ranks = size;
        }
        if (step == o.die_after && rank == size - 1) {
            fprintf(stderr, "rank %d: killed after step %llu (fault test)\n", rank, (unsigned long long)step);
            raise(SIGKILL);
        }
    }

    if (rank == 0) {
        int n_test = n - n_train;
        printf("test accuracy %.4f (%d rows)\n", accuracy(p, n_train, n_test), n_test);
        double per = timed ? 1e3 / (double)timed : 0;
        size_t a2a = 0;
        for (int q = 0; q < size; q++)
            if (q != rank) a2a += (size_t)local * (size_t)counts[q];
        printf("rank 0 per step: %.1f ms compute, %.1f ms communication, %.1f ms optimizer; sends %.2f MB "
               "(alltoallv %.2f MB + allgatherv %.2f MB)\n",
               t_compute * per, t_comm * per, t_opt * per, (double)(a2a + (size_t)(size - 1) * len) * 4e-6,
               (double)a2a * 4e-6, (double)((size_t)(size - 1) * len) * 4e-6);
        sha256 s;
        sha256_init(&s);
        for (int i = 0; i < TENSORS; i++) sha256_update(&s, p + T[i].off, T[i].rows * T[i].cols * sizeof(float));
        char hex[65];
        sha256_hex(&s, hex);
        printf("params sha256: %s\n", hex);
    }
#ifndef OPTKERN_NO_MPI
    MPI_Finalize();
#endif
    return 0;
}
