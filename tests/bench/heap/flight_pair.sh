#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The in-flight queue (gateway/flight.c) of two trees side by side
# (tests/bench/heap/flightcount.c built against each tree's library):
# 10,000 meters on 50 buses of 200, with 3 registers and with ABB B23's
# 23, each pair run GW_BENCH_REPS times (default 3, at least 3), A and B
# alternating which goes first. Prints each run, then for each size the
# live bytes of buffers + queue at the seal (A, B), and B against A the
# CPU of packing a cycle (and reading it back as the sink does) and of
# taking it, as ratios min/median/max; fails if the two took out
# different readings (their CRCs differ).
#   tests/bench/heap/flight_pair.sh TREE_A [TREE_B]   (B: this tree)
# A tree is a source tree with build/libgw.a built (make build/libgw.a).
# Each run is a second or two; hold the bench lock (docs/benchmarks.md).
set -u
# shellcheck source=tests/bench/heap/pair.bash
. "$(dirname "$0")/pair.bash"
ta=${1:?usage: flight_pair.sh TREE_A [TREE_B]}
tb=${2:-$pair_top}
repeats=$(bench_reps)
rounds=${GW_BENCH_ROUNDS:-20}
pair_tmp flightpair
pair_build tests/bench/heap/flightcount.c "$ta" "$tb" || exit 2

bad=0
for regs in 3 23; do
	sa=() sb=() pk=() tk=()
	for ((i = 1; i <= repeats; i++)); do
		pair_alternate "$i" "$tmp/flightcount_a" "$tmp/flightcount_b" \
			50 200 "$regs" "$rounds" || exit 1
		oa=$out_a ob=$out_b
		# shellcheck disable=SC2086 # each run's lines on one
		{ echo "A:" $oa; echo "B:" $ob; }
		ta_=$(grep '^time' <<<"$oa") tb_=$(grep '^time' <<<"$ob")
		if [ "$(field crc "$ta_")" != "$(field crc "$tb_")" ]; then
			echo "flight_pair: the trees took out different readings" >&2
			bad=1
		fi
		sa+=("$(field seal "$oa")")
		sb+=("$(field seal "$ob")")
		pk+=("$(ratio "$(field pack "$tb_")" "$(field pack "$ta_")")")
		tk+=("$(ratio "$(field take "$tb_")" "$(field take "$ta_")")")
	done
	echo "== 10000 x $regs: live bytes at the seal A $(printf '%s\n' "${sa[@]}" | mmm - ' / ')," \
		"B $(printf '%s\n' "${sb[@]}" | mmm - ' / '); CPU B/A: pack $(printf '%s\n' "${pk[@]}" | mmm - ' / ')," \
		"take $(printf '%s\n' "${tk[@]}" | mmm - ' / ')"
done
exit $bad
