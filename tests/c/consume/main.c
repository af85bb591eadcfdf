/* A C program that finds optkern the way C programs find libraries (pkg-config, CMake) and runs
 * one Adam step: exits 0 when it worked. tests/c/consume/run.sh builds it both ways. */
#include <optkern.h>
#include <stdio.h>

int main(void) {
    float p[4] = {1, 1, 1, 1}, g[4] = {0.5f, 0.5f, 0.5f, 0.5f}, m[4] = {0}, v[4] = {0};
    optkern_adam_config c = optkern_adam_config_default();
    optkern_status s = optkern_adam_step(p, g, m, v, NULL, 4, 1, &c, NULL);
    printf("optkern %s (%s): %s, p[0] = %.6f\n", optkern_version(), optkern_build_info(),
           optkern_status_str(s), (double)p[0]);
    return s == OPTKERN_STATUS_OK && p[0] < 1.0f ? 0 : 1;
}
