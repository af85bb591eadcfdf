#!/usr/bin/env bash
# Installs the C library like a C library:
#   bash scripts/install.sh --prefix DIR      (default /usr/local)
# into DIR: include/optkern.h; lib/liboptkern.a, lib/liboptkern.so.0 (+ liboptkern.so), each
# holding every x86-64 level and choosing the best the CPU runs at the first call;
# lib/pkgconfig/optkern.pc; lib/cmake/optkern/optkernConfig.cmake (+ ConfigVersion) with the
# imported targets optkern::optkern (shared) and optkern::optkern_static.
# Builds the libraries first (scripts/build-capi.sh) unless they are already in target/capi.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=/usr/local
while [ $# -gt 0 ]; do
    case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    *) echo "usage: scripts/install.sh [--prefix DIR]" >&2; exit 2 ;;
    esac
done
lib=target/capi/lib
[ -f "$lib/liboptkern.a" ] && [ -f "$lib/liboptkern.so.0" ] || bash scripts/build-capi.sh
version=$(awk -F'"' '/^version =/ { print $2; exit }' Cargo.toml)
mkdir -p "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/cmake/optkern"
install -m 644 include/optkern.h "$prefix/include/"
install -m 644 "$lib/liboptkern.a" "$prefix/lib/"
install -m 755 "$lib/liboptkern.so.0" "$prefix/lib/"
ln -sf liboptkern.so.0 "$prefix/lib/liboptkern.so"
cat > "$prefix/lib/pkgconfig/optkern.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: optkern
Description: SIMD optimizer kernels over flat float arrays (no_std Rust, C API)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -loptkern
Libs.private: -lm
PC
cat > "$prefix/lib/cmake/optkern/optkernConfig.cmake" <<'CMAKE'
# optkern's CMake package: find_package(optkern) gives optkern::optkern (the shared library)
# and optkern::optkern_static (the archive).
get_filename_component(_optkern_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET optkern::optkern)
  add_library(optkern::optkern SHARED IMPORTED)
  set_target_properties(optkern::optkern PROPERTIES
    IMPORTED_LOCATION "${_optkern_prefix}/lib/liboptkern.so.0"
    IMPORTED_SONAME "liboptkern.so.0"
    INTERFACE_INCLUDE_DIRECTORIES "${_optkern_prefix}/include")
  add_library(optkern::optkern_static STATIC IMPORTED)
  set_target_properties(optkern::optkern_static PROPERTIES
    IMPORTED_LOCATION "${_optkern_prefix}/lib/liboptkern.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_optkern_prefix}/include"
    INTERFACE_LINK_LIBRARIES "m")
endif()
unset(_optkern_prefix)
CMAKE
cat > "$prefix/lib/cmake/optkern/optkernConfigVersion.cmake" <<CMAKE
set(PACKAGE_VERSION "$version")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  string(REGEX MATCH "^[0-9]+\\\\.[0-9]+" _have "\${PACKAGE_VERSION}")
  string(REGEX MATCH "^[0-9]+\\\\.[0-9]+" _want "\${PACKAGE_FIND_VERSION}")
  if(_have STREQUAL _want OR "\${PACKAGE_FIND_VERSION}" STREQUAL "")
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
CMAKE
echo "installed optkern $version into $prefix"
