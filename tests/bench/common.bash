# SPDX-License-Identifier: MIT
# tests/bench/common.bash - what the benchmark scripts share (sourced; not
# a benchmark itself: tests/bench/run.sh runs *.sh only).

# mmm FILE [SEP]: "min median max" of the numbers in FILE (- for stdin),
# one a line, SEP between them (default one space; "- - -" when there
# are none). The median of an even count is the mean of the middle two;
# 4 significant digits below 10,000, whole numbers above.
mmm() {
	sort -g "$1" | awk -v s="${2:- }" '{ v[NR] = $1 } END {
		if (!NR) { printf "-%s-%s-\n", s, s; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%s%s%s%s%s\n", f(v[1]), s, f(m), s, f(v[NR]) }
		function f(x) { return x >= 10000 || x <= -10000 ? sprintf("%.0f", x) : sprintf("%.4g", x) }'
}

# bench_reps: how many times a paired measurement is repeated
# (GW_BENCH_REPS, default 3, at least 3).
bench_reps() {
	local n=${GW_BENCH_REPS:-3}
	[ "$n" -ge 3 ] 2>/dev/null || n=3
	echo "$n"
}
