#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# markcpu.sh TREE_A TREE_B [METERS] [ROUNDS]: markcpu.c built against two
# source trees (each built: TREE/build/libgw.a) and run side by side, A
# then B, 3 times at 3 and at 23 registers (10,000 meters of 50
# modbus-tcp buses by default). Gives each one's CPU ns per 1,000
# readings marked and B / A, min / median / max over the pairs.
set -eu
a=$(cd "$1" && pwd) b=$(cd "$2" && pwd)
meters=${3:-10000} rounds=${4:-4}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/markcpu.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
libs="$(pkg-config --libs libmodbus libserialport libpq zlib) -lpthread -lm"
for t in a b; do
	src=$a
	[ $t = b ] && src=$b
	mkdir -p "$tmp/$t/tests/bench/heap"
	cp "$here/markcpu.c" "$here/b23_codes.h" "$tmp/$t/tests/bench/heap/"
	ln -s "$src/gateway" "$tmp/$t/gateway"
	# shellcheck disable=SC2086
	cc -std=c11 -O2 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 \
		-I"$src/gateway/common" -I"$src/drivers" -I"$src/gateway" \
		"$tmp/$t/tests/bench/heap/markcpu.c" "$src/build/libgw.a" $libs -o "$tmp/markcpu_$t"
done
root=$(cd "$here/../../.." && pwd)
{
	printf '[gateway]\nid = m\ntimezone = UTC\nspool_dir = %s/spool\nprofiles_dir = %s/profiles\nmeters = meters.csv\n\n' "$tmp" "$root"
	for bus in $(seq 1 $(((meters + 199) / 200))); do
		printf '[bus b%d]\ntype = modbus-tcp\nhost = 127.0.0.1\nport = %d\n\n' "$bus" $((20000 + bus))
	done
} >"$tmp/gw.ini"
echo "meter_id,bus,unit,profile" >"$tmp/meters.csv"
seq 0 $((meters - 1)) | awk '{ b = int($1 / 200) + 1; u = $1 % 200 + 1; print "M" b "-" u ",b" b "," u ",abb_b23" }' >>"$tmp/meters.csv"
stats() { sort -g | awk '{ v[NR] = $1 } END { printf "%s / %s / %s", v[1], v[int((NR + 1) / 2)], v[NR] }'; }
for regs in 3 23; do
	: >"$tmp/ra" && : >"$tmp/rb" && : >"$tmp/ratio"
	for _ in 1 2 3; do
		x=$("$tmp/markcpu_a" "$tmp/gw.ini" "$regs" "$rounds" | awk '{ print $2 }')
		y=$("$tmp/markcpu_b" "$tmp/gw.ini" "$regs" "$rounds" | awk '{ print $2 }')
		echo "$x" >>"$tmp/ra"
		echo "$y" >>"$tmp/rb"
		awk -v x="$x" -v y="$y" 'BEGIN { printf "%.3f\n", y / x }' >>"$tmp/ratio"
	done
	echo "$meters x $regs: A $(stats <"$tmp/ra") ns, B $(stats <"$tmp/rb") ns per 1,000 readings; B / A $(stats <"$tmp/ratio")"
done
