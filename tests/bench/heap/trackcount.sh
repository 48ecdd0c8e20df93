#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# trackcount.sh TREE_A TREE_B [METERS] [CYCLES]: trackcount.c built
# against two source trees (each built: TREE/build/libgw.a) and run side
# by side, A then B, GW_BENCH_REPS times (default 3) at 23 registers
# (10,000 meters and 8 cycles by default: 230,000 tracks). Gives each
# one's live heap after the tracks are made and after the seal (its
# walk's order made), B - A, and the CPU ns per reading appended with
# B / A, min / median / max over the pairs.
set -eu
meters=${3:-10000} cycles=${4:-8}
# shellcheck source=tests/bench/heap/pair.bash
. "$(dirname "$0")/pair.bash"
pair_tmp trackcount
pair_build tests/bench/heap/trackcount.c "$1" "$2"
for f in made sealed append_ns ratio; do : >"$tmp/$f"; done
for _ in $(seq "$(bench_reps)"); do
	x=$("$tmp/trackcount_a" "$meters" 23 "$cycles")
	y=$("$tmp/trackcount_b" "$meters" 23 "$cycles")
	# shellcheck disable=SC2086,SC2116 # each one's lines on one
	echo "# A: $(echo $x)  B: $(echo $y)  (load: $(cut -d' ' -f1-3 /proc/loadavg))"
	for f in made sealed; do
		echo $(($(field "$f" "$y") - $(field "$f" "$x"))) >>"$tmp/$f"
	done
	ratio "$(field append_ns "$y")" "$(field append_ns "$x")" >>"$tmp/ratio"
done
echo "$meters x 23: live heap B - A after the tracks made $(mmm "$tmp/made" ' / ') bytes, after the seal $(mmm "$tmp/sealed" ' / ') bytes; append ns B / A $(mmm "$tmp/ratio" ' / ')"
