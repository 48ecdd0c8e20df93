# SPDX-License-Identifier: MIT
# tests/bench/common.bash - what the benchmark scripts share (sourced; not
# a benchmark itself: tests/bench/run.sh runs *.sh only).

# mmm FILE: "min median max" of the numbers in FILE, one a line ("- - -"
# when there are none).
mmm() {
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (!NR) { print "- - -"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%s %s %s\n", f(v[1]), f(m), f(v[NR]) }
		function f(x) { return x >= 10000 || x <= -10000 ? sprintf("%.0f", x) : sprintf("%.4g", x) }'
}

# bench_reps: how many times a paired measurement is repeated
# (GW_BENCH_REPS, default 3, at least 3).
bench_reps() {
	local n=${GW_BENCH_REPS:-3}
	[ "$n" -ge 3 ] 2>/dev/null || n=3
	echo "$n"
}
