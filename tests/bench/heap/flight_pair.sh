#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The in-flight queue (gateway/flight.c) of two trees side by side
# (tests/bench/heap/flightcount.c built against each tree's library):
# 10,000 meters on 50 buses of 200, with 3 registers and with ABB B23's
# 23, each pair run GW_BENCH_REPEATS (3) times, A and B alternating which
# goes first. Prints each run, then for each size the live bytes of
# buffers + queue at the seal (A, B), and B against A the CPU of packing
# a cycle (and reading it back as the sink does) and of taking it, as
# ratios min/median/max; fails if the two took out different readings
# (their CRCs differ).
#   tests/bench/heap/flight_pair.sh TREE_A [TREE_B]   (B: this tree)
# A tree is a source tree with build/libgw.a built (make build/libgw.a).
# Each run is a second or two; hold the bench lock (docs/benchmarks.md).
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
ta=${1:?usage: flight_pair.sh TREE_A [TREE_B]}
tb=${2:-$top}
repeats=${GW_BENCH_REPEATS:-3}
rounds=${GW_BENCH_ROUNDS:-20}
work=$(mktemp -d "${TMPDIR:-/tmp}/flightpair.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
for t in a b; do
	eval "tree=\$t$t"
	cc -O2 -std=c11 -D_GNU_SOURCE -I"$tree/gateway" -I"$tree/gateway/common" \
		-I"$tree/drivers" -o "$work/fc_$t" "$top/tests/bench/heap/flightcount.c" \
		"$tree/build/libgw.a" $(pkg-config --libs zlib) -lpthread -lm || exit 2
done

# field NAME LINE: the number after NAME in one of flightcount's lines
field() { sed -n "s/.*$1 \([0-9a-f.]*\).*/\1/p" <<<"$2"; }
# mmm: min median max of the numbers on stdin
mmm() { sort -g | awk '{v[NR]=$1} END {printf "%s / %s / %s", v[1], v[int((NR+1)/2)], v[NR]}'; }
ratio() { awk -v x="$1" -v y="$2" 'BEGIN {printf "%.3f", x / y}'; }

bad=0
for regs in 3 23; do
	sa=() sb=() pk=() tk=()
	for ((i = 1; i <= repeats; i++)); do
		if ((i % 2)); then
			oa=$("$work/fc_a" 50 200 "$regs" "$rounds") || exit 1
			ob=$("$work/fc_b" 50 200 "$regs" "$rounds") || exit 1
		else
			ob=$("$work/fc_b" 50 200 "$regs" "$rounds") || exit 1
			oa=$("$work/fc_a" 50 200 "$regs" "$rounds") || exit 1
		fi
		echo "A:" $oa
		echo "B:" $ob
		ta_=$(grep '^time' <<<"$oa") tb_=$(grep '^time' <<<"$ob")
		if [ "$(field crc "$ta_")" != "$(field crc "$tb_")" ]; then
			echo "flight_pair: the trees took out different readings" >&2
			bad=1
		fi
		sa+=("$(sed -n 's/^seal \([0-9]*\)$/\1/p' <<<"$oa")")
		sb+=("$(sed -n 's/^seal \([0-9]*\)$/\1/p' <<<"$ob")")
		pk+=("$(ratio "$(field pack "$tb_")" "$(field pack "$ta_")")")
		tk+=("$(ratio "$(field take "$tb_")" "$(field take "$ta_")")")
	done
	echo "== 10000 x $regs: live bytes at the seal A $(printf '%s\n' "${sa[@]}" | mmm)," \
		"B $(printf '%s\n' "${sb[@]}" | mmm); CPU B/A: pack $(printf '%s\n' "${pk[@]}" | mmm)," \
		"take $(printf '%s\n' "${tk[@]}" | mmm)"
done
exit $bad
