#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# trackcount.sh TREE_A TREE_B [METERS] [CYCLES]: trackcount.c built
# against two source trees (each built: TREE/build/libgw.a) and run side
# by side, A then B, 3 times at 23 registers (10,000 meters and 8 cycles
# by default: 230,000 tracks). Gives each one's live heap after the
# tracks are made and after the seal (its walk's order made), B - A, and
# the CPU ns per reading appended with B / A, min / median / max over
# the pairs.
set -eu
a=$(cd "$1" && pwd) b=$(cd "$2" && pwd)
meters=${3:-10000} cycles=${4:-8}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trackcount.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
libs="$(pkg-config --libs libmodbus libserialport libpq zlib) -lpthread -lm"
for t in a b; do
	src=$a
	[ $t = b ] && src=$b
	# shellcheck disable=SC2086
	cc -std=c11 -O2 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 \
		-I"$src/gateway/common" -I"$src/drivers" -I"$src/gateway" \
		"$here/trackcount.c" "$src/build/libgw.a" $libs -o "$tmp/trackcount_$t"
done
stats() { sort -g | awk '{ v[NR] = $1 } END { printf "%s / %s / %s", v[1], v[int((NR + 1) / 2)], v[NR] }'; }
for f in made sealed append_ns ratio; do : >"$tmp/$f"; done
for _ in 1 2 3; do
	x=$("$tmp/trackcount_a" "$meters" 23 "$cycles")
	y=$("$tmp/trackcount_b" "$meters" 23 "$cycles")
	echo "# A: $(echo $x)  B: $(echo $y)  (load: $(cut -d' ' -f1-3 /proc/loadavg))"
	for f in made sealed; do
		awk -v f="$f" '$1 == f { print $2 }' <<<"$x" >"$tmp/xa"
		awk -v f="$f" '$1 == f { print $2 }' <<<"$y" >"$tmp/xb"
		echo $(( $(cat "$tmp/xb") - $(cat "$tmp/xa") )) >>"$tmp/$f"
	done
	xa=$(awk '$1 == "append_ns" { print $2 }' <<<"$x")
	xb=$(awk '$1 == "append_ns" { print $2 }' <<<"$y")
	awk -v x="$xa" -v y="$xb" 'BEGIN { printf "%.3f\n", y / x }' >>"$tmp/ratio"
done
echo "$meters x 23: live heap B - A after the tracks made $(stats <"$tmp/made") bytes, after the seal $(stats <"$tmp/sealed") bytes; append ns B / A $(stats <"$tmp/ratio")"
