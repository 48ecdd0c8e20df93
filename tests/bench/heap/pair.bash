# SPDX-License-Identifier: MIT
# tests/bench/heap/pair.bash - what the scripts that run two source trees
# or builds side by side share (sourced): a scratch directory, a bench
# source built against each tree's library, the two run in alternating
# order, a figure read from a line, a ratio; min / median / max (mmm)
# and the repeat count (bench_reps, at least 3) come from
# tests/bench/common.bash.

pair_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
# shellcheck source=tests/bench/common.bash
. "$pair_top/tests/bench/common.bash"

# pair_tmp NAME: a new directory NAME.XXXXXX under TMPDIR in $tmp,
# removed when the script exits (exits 1 if it cannot be made).
pair_tmp() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1
	trap 'rm -rf "$tmp"' EXIT
}

# pair_build SRC TREE_A TREE_B: SRC (a path in this tree, e.g.
# tests/bench/heap/markcpu.c) built against each tree's headers and
# TREE/build/libgw.a, with the library's flags, as $tmp/NAME_a and
# $tmp/NAME_b (NAME: SRC's without .c). SRC and the headers beside it
# are copied to the same place in a tree under $tmp whose gateway/ and
# drivers/ are that tree's, so that an include by relative path
# ("../../../gateway/daemon_durable.c") takes that tree's file. Returns
# non-zero if either was not built.
pair_build() {
	local side tree fake dir
	for side in a b; do
		if [ $side = a ]; then tree=$2; else tree=$3; fi
		tree=$(cd "$tree" && pwd) || return 2
		fake=$(mktemp -d "$tmp/tree_$side.XXXXXX") || return 2
		dir=$fake/$(dirname "$1")
		mkdir -p "$dir" &&
			cp "$pair_top/$1" "$dir/" &&
			cp "$pair_top/$(dirname "$1")"/*.h "$dir/" &&
			ln -s "$tree/gateway" "$fake/gateway" &&
			ln -s "$tree/drivers" "$fake/drivers" || return 2
		# shellcheck disable=SC2046 # pkg-config's words, one flag each
		cc -std=c11 -O2 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 \
			-I"$tree/gateway/common" -I"$tree/drivers" -I"$tree/gateway" \
			"$fake/$1" "$tree/build/libgw.a" \
			$(pkg-config --libs libmodbus libserialport libpq zlib) -lpthread -lm \
			-o "$tmp/$(basename "$1" .c)_$side" || return
	done
}

# pair_alternate I CMD_A CMD_B ARGS...: runs CMD_A ARGS and CMD_B ARGS,
# A first when I is odd, B first when even (so that neither always runs
# first); their outputs in $out_a and $out_b. Returns 1 if either
# failed.
# shellcheck disable=SC2034 # out_a and out_b: the caller's
pair_alternate() {
	local i=$1 ca=$2 cb=$3
	shift 3
	if ((i % 2)); then
		out_a=$("$ca" "$@") && out_b=$("$cb" "$@")
	else
		out_b=$("$cb" "$@") && out_a=$("$ca" "$@")
	fi || return 1
}

# field NAME TEXT: the number after "NAME " in TEXT (each line that has it)
field() { sed -n "s/.*$1 \([0-9a-f.]*\).*/\1/p" <<<"$2"; }

# ratio X Y: X / Y to 3 decimals
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.3f\n", x / y }'; }
