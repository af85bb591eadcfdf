#!/usr/bin/env bash
# Installs the C library into a temporary prefix (scripts/install.sh) and builds and runs a C
# program against it with pkg-config and with CMake (shared and static).
set -euo pipefail
cd "$(dirname "$0")/../../.."
prefix=$(pwd)/target/consume/prefix
rm -rf target/consume && mkdir -p target/consume
bash scripts/install.sh --prefix "$prefix"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# shellcheck disable=SC2046
gcc -std=c99 -Wall -Wextra -Werror tests/c/consume/main.c $(pkg-config --cflags --libs optkern) \
    -Wl,-rpath,"$prefix/lib" -o target/consume/pkgconfig
target/consume/pkgconfig
cmake -S tests/c/consume -B target/consume/cmake -DCMAKE_PREFIX_PATH="$prefix" > /dev/null
cmake --build target/consume/cmake > /dev/null
target/consume/cmake/consume_shared
target/consume/cmake/consume_static
echo "consume: pkg-config and CMake (shared and static) passed"
