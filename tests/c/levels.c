/* Selects an instruction-set level (argv[1]: 0 = the best, as the library does by itself, or 1,
 * 3, 4), then prints the level in use and the bits of 20 Adam steps in both numerics profiles.
 * tests/c/levels.sh links it against the multi-level libraries and against each single-level
 * build and compares. Exits 2 if the library refuses the level. */
#include "optkern.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 1000

int main(int argc, char **argv) {
    unsigned level = argc > 1 ? (unsigned)atoi(argv[1]) : 0;
    optkern_status s = optkern_select_level(level);
    if (s != OPTKERN_STATUS_OK) {
        printf("level %u: %s\n", level, optkern_status_str(s));
        return 2;
    }
    printf("build %s\n", optkern_build_info());
    for (int profile = 0; profile < 2; profile++) {
        float p[N], g[N], m[N] = {0}, v[N] = {0};
        for (int i = 0; i < N; i++) {
            p[i] = (float)((i * 7) % 13) * 0.1f - 0.6f;
            g[i] = (float)((i * 5) % 17) * 0.05f - 0.4f;
        }
        optkern_adam_config c = optkern_adam_config_default();
        c.lr = 0.01;
        c.numerics = profile == 0 ? OPTKERN_NUMERICS_TORCH : OPTKERN_NUMERICS_PORTABLE;
        for (uint32_t step = 1; step <= 20; step++) {
            if (optkern_adam_step(p, g, m, v, NULL, N, step, &c, NULL) != OPTKERN_STATUS_OK) return 1;
        }
        printf("%s", profile == 0 ? "torch" : "portable");
        for (int i = 0; i < N; i++) {
            uint32_t u;
            memcpy(&u, &p[i], sizeof u);
            printf(" %08x", (unsigned)u);
        }
        printf("\n");
    }
    return 0;
}
