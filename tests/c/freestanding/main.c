/* A freestanding C program, as firmware is: no libc, no startup files, its own memcpy/memset/
 * memmove/memcmp and _start. It links the no_std C library (liboptkern.a built without std,
 * panic = abort) and exits with the status of one Adam step (0 = OPTKERN_STATUS_OK), or 100 + i
 * if the result is wrong. Build: tests/c/freestanding/run.sh. */
#include "optkern.h"

void *memcpy(void *d, const void *s, size_t n) {
    unsigned char *a = d;
    const unsigned char *b = s;
    while (n--) *a++ = *b++;
    return d;
}
void *memmove(void *d, const void *s, size_t n) {
    unsigned char *a = d;
    const unsigned char *b = s;
    if (a < b) {
        while (n--) *a++ = *b++;
    } else {
        while (n--) a[n] = b[n];
    }
    return d;
}
void *memset(void *d, int c, size_t n) {
    unsigned char *a = d;
    while (n--) *a++ = (unsigned char)c;
    return d;
}
int memcmp(const void *x, const void *y, size_t n) {
    const unsigned char *a = x, *b = y;
    for (; n; n--, a++, b++)
        if (*a != *b) return *a - *b;
    return 0;
}
int bcmp(const void *x, const void *y, size_t n) { return memcmp(x, y, n); }


/* write(1, s, strlen(s)) by system call: no libc. */
static void say(const char *s) {
    long n = 0, ret;
    while (s[n]) n++;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(1L), "D"(1L), "S"(s), "d"(n) : "rcx", "r11", "memory");
    (void)ret;
}

/* One Adam step and one rejected call on the level in use; 0 or the failure's code. */
static int adam_once(void) {
    float p[37], g[37], m[37], v[37];
    for (int i = 0; i < 37; i++) {
        p[i] = 1.0f;
        g[i] = 0.5f;
        m[i] = v[i] = 0.0f;
    }
    optkern_adam_config c = optkern_adam_config_default();
    optkern_status s = optkern_adam_step(p, g, m, v, 0, 37, 1, &c, NULL);
    if (s != OPTKERN_STATUS_OK) return (int)s;
    /* First Adam step with g = 0.5: p = 1 − lr·sign(g) = 0.999 (to f32 rounding). */
    for (int i = 0; i < 37; i++)
        if (!(p[i] > 0.99899f && p[i] < 0.99901f)) return 100 + i;
    /* A rejected call: NaN lr. */
    c.lr = 0.0 / 0.0;
    if (optkern_adam_step(p, g, m, v, 0, 37, 2, &c, NULL) != OPTKERN_STATUS_INVALID_HYPERPARAMETER) return 99;
    return 0;
}

/* The library's own choice first (the first call resolves it), then every level the CPU has. */
int run(void);
int run(void) {
    int r = adam_once();
    if (r) return r;
    say("freestanding Adam step ok, first call chose: ");
    say(optkern_build_info());
    say("\n");
    const unsigned levels[] = {1, 3, 4};
    for (int i = 0; i < 3; i++) {
        if (optkern_select_level(levels[i]) != OPTKERN_STATUS_OK) continue;
        if ((r = adam_once())) return r;
        say("freestanding Adam step ok on ");
        say(optkern_build_info());
        say("\n");
    }
    return 0;
}

/* The entry point: align the stack as a call would, run, exit(2) with its result. */
__asm__(".global _start\n"
        "_start:\n"
        "    xor %rbp, %rbp\n"
        "    and $-16, %rsp\n"
        "    call run\n"
        "    mov %eax, %edi\n"
        "    mov $60, %eax\n"
        "    syscall\n");
