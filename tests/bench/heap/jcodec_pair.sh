#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The journal writer's state and coding CPU of two builds side by side
# (tests/bench/jcodec_bench.c): 10,000 meters on 50 buses of 200, with 3
# registers (a day, 96 cycles) and with ABB B23's 23 (24 cycles), each
# pair run GW_BENCH_REPS times (default 3, at least 3), A and B
# alternating which goes first. Prints each run, then for B against A the
# heap of the codecs' state (with the shared deflate streams), the codecs'
# own heap (what freeing them gives back; from a jcodec_bench that prints
# it) and the ratio of coding CPU, min/median/max; fails if the two
# builds coded different bytes (their CRCs differ).
#   tests/bench/heap/jcodec_pair.sh BUILD_A [BUILD_B]   (B: $GW_BUILD or build)
# GW_BENCH_METERS (default 10000) sets the meters, 200 a bus.
# BUILD_A is a build directory of the baseline with build/bench/jcodec_bench
# (copy tests/bench/jcodec_bench.c into its tree to build it there). Hold
# the bench lock (docs/benchmarks.md): two processes run one after the
# other, each a few seconds.
set -u
cd "$(dirname "$0")/../../.." || exit 2
a="${1:?usage: jcodec_pair.sh BUILD_A [BUILD_B]}/bench/jcodec_bench"
b="${2:-${GW_BUILD:-build}}/bench/jcodec_bench"
# shellcheck source=tests/bench/heap/pair.bash
. tests/bench/heap/pair.bash
repeats=$(bench_reps)
for x in "$a" "$b"; do
	[ -x "$x" ] || { echo "jcodec_pair: $x: not built" >&2; exit 2; }
done

bad=0
meters="${GW_BENCH_METERS:-10000}"
for size in "$meters 3 200 96" "$meters 23 200 24"; do
	sa=() sb=() ca=() cb=() ratios=()
	read -r -a args <<<"$size"
	for ((i = 1; i <= repeats; i++)); do
		pair_alternate "$i" "$a" "$b" "${args[@]}" || exit 1
		la=$out_a lb=$out_b
		echo "A: $la"
		echo "B: $lb"
		if [ "$(field crc "$la")" != "$(field crc "$lb")" ] ||
			[ "$(field cpu "$la")" = "" ]; then
			echo "jcodec_pair: the builds coded different bytes" >&2
			bad=1
		fi
		sa+=("$(field state "$la")")
		sb+=("$(field state "$lb")")
		ca+=("$(field codecs "$la")")
		cb+=("$(field codecs "$lb")")
		ratios+=("$(ratio "$(field cpu "$lb")" "$(field cpu "$la")")")
	done
	echo "== $size: state bytes A $(printf '%s\n' "${sa[@]}" | mmm - ' / ')," \
		"B $(printf '%s\n' "${sb[@]}" | mmm - ' / ');" \
		"codecs A $(printf '%s\n' "${ca[@]}" | mmm - ' / ')," \
		"B $(printf '%s\n' "${cb[@]}" | mmm - ' / ');" \
		"coding CPU B/A $(printf '%s\n' "${ratios[@]}" | mmm - ' / ')"
done
exit $bad
