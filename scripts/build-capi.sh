#!/usr/bin/env bash
# Builds the C libraries into target/capi/lib/ (or --out DIR):
#   liboptkern.a, liboptkern.so.0 (+ liboptkern.so link)   every x86-64 level in one library
#   levels/liboptkern-<level>.a                            one level each (for the level test)
#
# One library for every x86-64 level: `wide` chooses its instructions at compile time, so the
# crate is built three times (-C target-cpu=x86-64, x86-64-v3, x86-64-v4). Each build becomes
# one relocatable object whose `optkern_*` symbols are renamed `__optkern_v1_*`, `__optkern_v3_*`,
# `__optkern_v4_*`; generated assembly stubs export each `optkern_*` and jump to the copy that
# scripts/dispatch.c chose at the first call (cpuid; `optkern_select_level` forces a level).
# Everything but `optkern_*` is then made local, so the archive is one object exporting only the
# C API (the shared library links that same object, with a version script). On other
# architectures only the native build is made (expected to work; not tested here).
#
# The C library has no `std` and `panic = "abort"`; LTO and one codegen unit. It has no panic
# path, and the build checks it: every level is compiled with `--cfg optkern_no_panic_check`
# (the panic handler calls a symbol nothing defines, src/capi/mod.rs), so a panic path that
# survives optimisation anywhere in the library leaves that symbol undefined in the level's
# object, and the build stops (`bash scripts/panic-sites.sh` then lists the call sites). Extra
# RUSTFLAGS for every build: $OPTKERN_RUSTFLAGS. --static-only skips the shared library.
#
# --only FILE builds a library of chosen functions (embedded users: a smaller archive; a
# program gains no more code than from the full library, since the linker keeps only what it
# calls): FILE holds extended regular expressions, one per line (`#` comments), each matched
# against whole `optkern_` names; the library's own functions (version, build info, status
# strings, level selection) are always kept. Everything else is left out at the `ld -r --gc-sections` step, so
# the Rust builds are shared with the full library. The header still declares every function:
# calling one left out is a link error. $OUT/functions.txt lists what the library exports.
# scripts/capi-torch.list is the torch.optim set with its schedules, initializers and gradient
# utilities.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/capi/lib
shared=1
only=
while [ $# -gt 0 ]; do
    case $1 in
    --out) out=$2; shift 2 ;;
    --static-only) shared=0; shift ;;
    --only) only=$2; shift 2 ;;
    *) echo "usage: $0 [--out DIR] [--static-only] [--only FILE]" >&2; exit 2 ;;
    esac
done
# The selection as one anchored pattern (every function when no --only).
select='^optkern_.*$'
if [ -n "$only" ]; then
    select=$(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$only" | paste -sd'|' -)
    [ -n "$select" ] || { echo "error: $only selects nothing" >&2; exit 2; }
    select="^(optkern_(version|build_info|status_str|select_level)|$select)\$"
fi
work="$out/work"
rm -rf "$work"
mkdir -p "$work" "$out/levels"
export CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1

# The crate as a static library for one target CPU, packed into one relocatable object with
# only the optkern_* symbols global (and OPTKERN_SHARED_* data, identical in every level, until
# the levels are joined): `ld -r --gc-sections` keeps what they reach.
build_object() { # output object, RUSTFLAGS
    local flags="$2 --cfg optkern_no_panic_check ${OPTKERN_RUSTFLAGS:-}" tmp
    local dir="target/capi/build-$(printf %s "$flags" | cksum | cut -d' ' -f1)"
    RUSTFLAGS="$flags" CARGO_TARGET_DIR="$dir" cargo rustc --release --lib --no-default-features --features capi --crate-type staticlib -q
    tmp=$(mktemp -d)
    (cd "$tmp" && ar x "$OLDPWD/$dir/release/liboptkern.a")
    nm -g --defined-only "$tmp"/optkern*.o 2>/dev/null | awk '$3 ~ /^optkern_/ { print $3 }' | sort -u |
        grep -E -x -e "$select" > "$tmp/exports" || { echo "error: --only selects no function" >&2; exit 2; }
    ld -r --gc-sections $(sed 's/^/-u /' "$tmp/exports") -o "$1" "$tmp"/*.o
    nm -g --defined-only "$tmp"/optkern*.o 2>/dev/null | awk '$3 ~ /^OPTKERN_SHARED_/ { print $3 }' >> "$tmp/exports"
    # Embedded LLVM bitcode is of no use to a C linker (and crashes GNU ar's LLVM plugin).
    objcopy --keep-global-symbols="$tmp/exports" --strip-debug \
        --remove-section=.llvmbc --remove-section=.llvmcmd --remove-section=.comment "$1"
    if nm -u "$1" | grep -qw optkern_no_panic_path_may_remain; then
        echo "error: a panic path survives in the C library ($2): bash scripts/panic-sites.sh lists it" >&2
        exit 1
    fi
    rm -rf "$tmp"
}

exports_of() { nm -g --defined-only "$1" | awk '$3 ~ /^optkern_/ { print $3 }' | sort -u; }

if [ "$(uname -m)" = x86_64 ]; then
    # tag:target-cpu:extra RUSTFLAGS. The baseline copy, the fallback for CPUs without AVX2, is
    # built without option specialisation (src/numerics.rs, `specialize!`): less code in an
    # Adam-only program, for 0-8 % of speed in cache (README, C library).
    levels=("v1:x86-64:--cfg optkern_unspecialized" v3:x86-64-v3: v4:x86-64-v4:)
    for entry in "${levels[@]}"; do
        IFS=: read -r tag cpu flags <<<"$entry"
        build_object "$work/$tag.o" "-C target-cpu=$cpu $flags"
        rm -f "$out/levels/liboptkern-$cpu.a"
        ar rcs "$out/levels/liboptkern-$cpu.a" "$work/$tag.o"
    done
    exports_of "$work/v1.o" > "$work/exports"
    # v3 and v4 use v1's copy of the shared data (a weak definition loses to the strong one,
    # and `--gc-sections` drops the unreferenced weak copies).
    for entry in "${levels[@]}"; do
        tag=${entry%%:*}
        sed "s/^optkern_\(.*\)/& __optkern_${tag}_\1/" "$work/exports" > "$work/rename-$tag"
        weaken=()
        if [ "$tag" != v1 ]; then
            nm -g --defined-only "$work/$tag.o" | awk '$3 ~ /^OPTKERN_SHARED_/ { print $3 }' > "$work/weaken-$tag"
            # (binutils 2.40's objcopy fails, silently, on an empty list: a selection without
            # the formats has no shared data)
            [ -s "$work/weaken-$tag" ] && weaken=(--weaken-symbols="$work/weaken-$tag")
        fi
        objcopy --redefine-syms="$work/rename-$tag" "${weaken[@]}" "$work/$tag.o" "$work/$tag-renamed.o"
    done
    # One stub per exported function (optkern_select_level is the dispatcher's own), each in its
    # own section with its table, so `--gc-sections` keeps only the stubs and copies a program
    # calls. The stub saves the integer argument registers around the first-call resolver.
    {
        printf '\t.text\n\t.p2align 4\n\t.type __optkern_dispatch_resolve_saving, @function\n'
        printf '__optkern_dispatch_resolve_saving:\n'
        printf '\tpushq %%rdi\n\tpushq %%rsi\n\tpushq %%rdx\n\tpushq %%rcx\n\tpushq %%r8\n\tpushq %%r9\n'
        printf '\tcall __optkern_dispatch_resolve\n'
        printf '\tpopq %%r9\n\tpopq %%r8\n\tpopq %%rcx\n\tpopq %%rdx\n\tpopq %%rsi\n\tpopq %%rdi\n\tret\n'
        printf '\t.size __optkern_dispatch_resolve_saving, .-__optkern_dispatch_resolve_saving\n'
        grep -vx optkern_select_level "$work/exports" | while read -r f; do
            g=${f#optkern_}
            printf '\n\t.section .text.%s,"ax",@progbits\n\t.globl %s\n\t.type %s, @function\n\t.p2align 4\n' "$f" "$f" "$f"
            printf '%s:\n0:\tmovl __optkern_dispatch_index(%%rip), %%eax\n\tcmpl $3, %%eax\n\tjae 1f\n' "$f"
            printf '\tleaq 2f(%%rip), %%r11\n\tmovslq (%%r11,%%rax,4), %%rax\n\taddq %%r11, %%rax\n\tjmp *%%rax\n'
            printf '1:\tcall __optkern_dispatch_resolve_saving\n\tjmp 0b\n\t.p2align 2\n'
            printf '2:\t.long __optkern_v1_%s - 2b\n\t.long __optkern_v3_%s - 2b\n\t.long __optkern_v4_%s - 2b\n' "$g" "$g" "$g"
            printf '\t.size %s, .-%s\n' "$f" "$f"
        done
        printf '\t.section .note.GNU-stack,"",@progbits\n'
    } > "$work/stubs.s"
    cflags=(-O2 -ffreestanding -fno-stack-protector -fPIC -mgeneral-regs-only -ffunction-sections
        -fdata-sections -fno-asynchronous-unwind-tables -Wall -Wextra -Werror)
    gcc "${cflags[@]}" -c scripts/dispatch.c -o "$work/dispatch.o"
    gcc -c "$work/stubs.s" -o "$work/stubs.o"
    ld -r --gc-sections $(sed 's/^/-u /' "$work/exports") -o "$work/optkern.o" \
        "$work/stubs.o" "$work/dispatch.o" "$work"/v[134]-renamed.o
else
    build_object "$work/optkern.o" ""
    exports_of "$work/optkern.o" > "$work/exports"
fi
objcopy --keep-global-symbols="$work/exports" "$work/optkern.o"
cp "$work/exports" "$out/functions.txt"
rm -f "$out/liboptkern.a"
ar rcs "$out/liboptkern.a" "$work/optkern.o"
if [ "$shared" = 1 ]; then
    gcc -shared -Wl,--gc-sections -Wl,-soname,liboptkern.so.0 -Wl,--version-script=scripts/optkern.map \
        -Wl,-z,noexecstack -o "$out/liboptkern.so.0" "$work/optkern.o"
    ln -sf liboptkern.so.0 "$out/liboptkern.so"
fi
echo "built $(cd "$out" && find . -name 'liboptkern*' -not -path './work/*' | sort | tr '\n' ' ')"
echo "archive: $(stat -c %s "$out/liboptkern.a") bytes"
