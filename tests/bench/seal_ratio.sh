#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sealing one day of 10,000 meters (96 cycles x 3 registers) with this
# tree's batching core against the baseline: gateway/batch.c, batch.h
# (and batch_*.[ch], where the core is split) of commit GW_SEAL_BASE
# (default 2f494e4, the core before the conservation checks: gap
# revisions, frozen edges, value checks), taken
# with git show and built into the same program with its symbols made
# local (ld -r, objcopy), so that both cores run alternately on the same
# readings in one process (tests/bench/seal/). GW_BENCH_REPS pairs
# (default 9, at least 3); the ratio this tree / baseline is reported as
# min, median and max over the pairs; target: median <= 1.20.
#   GW_BENCH_METERS (10000), GW_BENCH_REPS (9), GW_SEAL_BASE (2f494e4),
#   GW_SEAL_KEEP=1 keeps the built program (in $TMPDIR/gwseal.*) for perf
set -u
cd "$(dirname "$0")/../.."
b=${GW_BUILD:-build}
base=${GW_SEAL_BASE:-2f494e4}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gwseal.XXXXXX")
[ -n "${GW_SEAL_KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/base"
# The baseline's own files of the batching core, as they were at that
# commit: batch.c and batch.h, and batch_*.c / batch_*.h once the core
# was split (not batchfile_*: the batch file format).
files=$(git ls-tree --name-only "$base" gateway/ 2>"$tmp/err" |
	grep -E '^gateway/batch(_[a-z0-9_]+)?\.[ch]$')
for f in $files; do
	git show "$base:$f" >"$tmp/base/${f#gateway/}" 2>>"$tmp/err" || files=
done
if ! printf '%s\n' $files | grep -qx gateway/batch.c; then
	echo "# cannot take the baseline core from commit $base (a git checkout is needed):"
	sed 's/^/#   /' "$tmp/err"
	exit 1
fi
[ -f "$b/libgw.a" ] || { echo "# $b/libgw.a is missing: run make first"; exit 1; }
pk=$(pkg-config --cflags libmodbus libserialport libpq zlib 2>/dev/null)
libs=$(pkg-config --libs libmodbus libserialport libpq zlib 2>/dev/null)
cf=(-std=c11 -D_GNU_SOURCE -O2 -g $pk)
keep=()
for s in seal_new seal_add seal_advance seal_free; do keep+=("--keep-global-symbol=base_$s"); done
set -e
base_obj=()
for c in "$tmp"/base/*.c; do
	o="$tmp/base_$(basename "$c" .c).o"
	cc "${cf[@]}" -I"$tmp/base" -Igateway/common -Igateway -c "$c" -o "$o"
	base_obj+=("$o")
done
cc "${cf[@]}" -I"$tmp/base" -Igateway/common -Igateway -DPFX=base_ -c tests/bench/seal/core.c -o "$tmp/core_base.o"
ld -r -o "$tmp/base_all.o" "$tmp/core_base.o" "${base_obj[@]}"
objcopy "${keep[@]}" "$tmp/base_all.o"
cc "${cf[@]}" -Igateway/common -Igateway -DPFX=new_ -c tests/bench/seal/core.c -o "$tmp/core_new.o"
cc "${cf[@]}" -Igateway/common -Igateway -c tests/bench/seal/main.c -o "$tmp/main.o"
cc -o "$tmp/seal_bench" "$tmp/main.o" "$tmp/core_new.o" "$tmp/base_all.o" "$b/libgw.a" \
	$libs -lpthread -lm
set +e
echo "# baseline: $(echo $files) of $(git log -1 --format='%h %s' "$base" | cut -c1-72)"
"$tmp/seal_bench" "${GW_BENCH_METERS:-10000}" "${GW_BENCH_REPS:-9}"
