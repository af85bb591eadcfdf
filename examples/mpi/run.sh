#!/usr/bin/env bash
# The sharded trainer's determinism and fault test (called by .ci/run; needs Open MPI:
# apt-get install -y openmpi-bin libopenmpi-dev, and target/capi/lib/liboptkern.a from
# scripts/build-capi.sh).
#
#  1. one process without MPI (gcc -DOPTKERN_NO_MPI), at the dispatched level and at the baseline
#     level: the reference hash;
#  2. mpirun -np 1, 2, 3, 4 (only -np changes): every final hash equals the reference;
#  3. LAMB, one process and -np 3; LARS, one process and -np 4: equal hashes;
#  4. faults: -np 2 with rank 1 killed (SIGKILL) half-way through writing its step-15
#     checkpoint: `latest` still names step 10, the half-written file is only a .tmp; resumed
#     on 3 ranks, the run ends with the reference hash. Then -np 4 with the last rank killed
#     after step 22, resumed on 1 rank: the reference hash again.
# Options: --steps N (default 40), --hidden H (default 1024).
set -euo pipefail
cd "$(dirname "$0")/../.."
steps=40
hidden=1024
while [ $# -gt 0 ]; do
    case $1 in
    --steps) steps=$2; shift 2 ;;
    --hidden) hidden=$2; shift 2 ;;
    *) echo "usage: $0 [--steps N] [--hidden H]" >&2; exit 2 ;;
    esac
done
out=target/mpi
mkdir -p "$out"
flags=(-std=c99 -O2 -ffp-contract=off -Wall -Wextra -Werror -Iinclude)
gcc "${flags[@]}" -DOPTKERN_NO_MPI examples/mpi/train_sharded.c target/capi/lib/liboptkern.a -lm -o "$out/train_single"
mpicc "${flags[@]}" examples/mpi/train_sharded.c target/capi/lib/liboptkern.a -lm -o "$out/train_sharded"
mpirun=(mpirun --allow-run-as-root --oversubscribe)
args=(data/digits/digits.csv --steps "$steps" --hidden "$hidden")

hash_of() { awk '/^params sha256:/ { print $3 }' "$1"; }
expect_hash() { # log, wanted, what
    local got
    got=$(hash_of "$1")
    if [ "$got" != "$2" ]; then
        echo "FAILED: $3: params sha256 ${got:-missing} != $2"; cat "$1"; exit 1
    fi
    echo "$3: $got"
}

"$out/train_single" "${args[@]}" | tee "$out/single.log"
want=$(hash_of "$out/single.log")
[ ${#want} -eq 64 ] || { echo "FAILED: no hash from the single-process run"; exit 1; }
"$out/train_single" "${args[@]}" --level 1 > "$out/single-baseline.log"
expect_hash "$out/single-baseline.log" "$want" "one process, baseline x86-64 level"
for np in 1 2 3 4; do
    "${mpirun[@]}" -np "$np" "$out/train_sharded" "${args[@]}" > "$out/np$np.log"
    grep -E '^(step +(1|20) |rank 0 per step)' "$out/np$np.log" | sed "s/^/  np $np: /"
    expect_hash "$out/np$np.log" "$want" "mpirun -np $np"
done
# The test can fail: summing the micro-batches in arrival (rank) order instead of micro-batch
# order changes the bits on 2 ranks.
"${mpirun[@]}" -np 2 "$out/train_sharded" "${args[@]}" --arrival-order > "$out/arrival.log"
arrival=$(hash_of "$out/arrival.log")
[ ${#arrival} -eq 64 ] && [ "$arrival" != "$want" ] \
    || { echo "FAILED: the arrival-order sum gave ${arrival:-no hash}, not a different hash"; exit 1; }
echo "mpirun -np 2, micro-batches summed in arrival order: $arrival (differs, as it must)"

"$out/train_single" "${args[@]}" --opt lamb > "$out/lamb-single.log"
lamb=$(hash_of "$out/lamb-single.log")
"${mpirun[@]}" -np 3 "$out/train_sharded" "${args[@]}" --opt lamb > "$out/lamb-np3.log"
expect_hash "$out/lamb-np3.log" "$lamb" "LAMB mpirun -np 3 (one process: $lamb)"
"$out/train_single" "${args[@]}" --opt lars > "$out/lars-single.log"
lars=$(hash_of "$out/lars-single.log")
"${mpirun[@]}" -np 4 "$out/train_sharded" "${args[@]}" --opt lars > "$out/lars-np4.log"
expect_hash "$out/lars-np4.log" "$lars" "LARS mpirun -np 4 (one process: $lars)"

# Faults. A killed rank makes mpirun fail: that is expected here.
ckpt=$out/ckpt
rm -rf "$ckpt" && mkdir -p "$ckpt"
if "${mpirun[@]}" -np 2 "$out/train_sharded" "${args[@]}" --ckpt "$ckpt" --die-writing 15 > "$out/die-writing.log" 2>&1; then
    echo "FAILED: the run whose rank 1 was killed exited 0"; exit 1
fi
[ "$(cat "$ckpt/latest")" = "10 2" ] || { echo "FAILED: latest is '$(cat "$ckpt/latest")', want '10 2'"; exit 1; }
[ -f "$ckpt/step-15.rank-1.bin.tmp" ] && [ ! -f "$ckpt/step-15.rank-1.bin" ] \
    || { echo "FAILED: the half-written checkpoint is not (only) a .tmp"; ls -l "$ckpt"; exit 1; }
echo "killed while writing step 15's checkpoint: latest = step 10, the half-written shard is only a .tmp"
"${mpirun[@]}" -np 3 "$out/train_sharded" "${args[@]}" --ckpt "$ckpt" --resume > "$out/resume3.log"
grep '^resumed' "$out/resume3.log"
expect_hash "$out/resume3.log" "$want" "killed on 2 ranks, resumed on 3"

rm -rf "$ckpt" && mkdir -p "$ckpt"
if "${mpirun[@]}" -np 4 "$out/train_sharded" "${args[@]}" --ckpt "$ckpt" --die-after 22 > "$out/die-after.log" 2>&1; then
    echo "FAILED: the run whose rank 3 was killed exited 0"; exit 1
fi
[ "$(cat "$ckpt/latest")" = "20 4" ] || { echo "FAILED: latest is '$(cat "$ckpt/latest")', want '20 4'"; exit 1; }
"$out/train_single" "${args[@]}" --ckpt "$ckpt" --resume > "$out/resume1.log"
grep '^resumed' "$out/resume1.log"
expect_hash "$out/resume1.log" "$want" "killed after step 22 on 4 ranks, resumed in one process"
echo "MPI: all hashes equal $want"
