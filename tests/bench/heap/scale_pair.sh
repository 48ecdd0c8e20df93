#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/heap/scale_pair.sh - tests/bench/scale.sh for two builds of
# gatewayd side by side (started together, so both see the same load),
# GW_BENCH_REPS times (default 3): gatewayd's peak RSS (VmHWM) at each
# full day's seal, B against A, and each one's CPU per 1,000 reads
# against its own metersim's; each full day's seal, its wall time and the
# main thread's CPU in it (gatewayd's "spool: seal of" line), B against A.
#
#   scale_pair.sh BUILD_A BUILD_B [ENV_B]
#   e.g. GW_BENCH_SCALE=2k GW_BENCH_SCALE_DAYS=3 \
#        tests/bench/heap/scale_pair.sh /tmp/main-build build
#
# ENV_B: an environment assignment for B's gatewayd only (e.g.
# GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072, to try a malloc
# setting without a build). One size and 3 registers (GW_BENCH_SCALE, default
# 2k; GW_BENCH_SCALE_DAYS default 3). Hold the bench lock.
set -u
a=${1:?usage: scale_pair.sh BUILD_A BUILD_B [ENV_B]} b=${2:?usage}
envb=${3:-}
# shellcheck source=tests/bench/heap/pair.bash
. "$(dirname "$0")/pair.bash"
top=$pair_top
for d in a b; do
	eval "dir=\$$d"
	case $dir in /*) ;; *) dir=$top/$dir ;; esac
	eval "$d=\$dir"
done
pair_tmp scalepair
mkdir -p "$tmp/b/bench"
for x in metersim gwctl; do ln -s "$b/$x" "$tmp/b/$x"; done
ln -s "$b/bench/spool_bench" "$tmp/b/bench/spool_bench"
printf '#!/bin/sh\n%s\nexec "%s/gatewayd" "$@"\n' "${envb:+export $envb}" "$b" >"$tmp/b/gatewayd"
chmod +x "$tmp/b/gatewayd"
# seal_figs TMP: "wall_ms cpu_ms" of each full day's seal of the run
# under TMP (gatewayd's "spool: seal of" lines; the last as many as
# scale.sh's days file has rows: the start-up lead's day is left out)
seal_figs() {
	local n
	n=$(cat "$1"/gwrun.*/*-3reg/days | wc -l)
	grep -h 'spool: seal of' "$1"/gwrun.*/*-3reg/gw.log | tail -n "$n" |
		sed 's/.* took \([0-9.]*\) ms (wall\/CPU ms of the main thread: \([^;]*\);.*/\1 \2/' |
		awk '{ c = 0; for (i = 2; i <= NF; i++) if ($i ~ /\//) { split($i, x, "/"); c += x[2] }
			printf "%s %.1f\n", $1, c }'
}
reps=$(bench_reps)
: >"$tmp/wall"
: >"$tmp/cpu"
: >"$tmp/ratios"
for r in $(seq 1 "$reps"); do
	for d in a b; do
		dir=$a; [ "$d" = b ] && dir=$tmp/b
		mkdir -p "$tmp/tmp$r$d"
		GW_KEEP_TMP=1 TMPDIR="$tmp/tmp$r$d" GW_BUILD=$dir GW_BENCH_REGS=3reg \
			GW_BENCH_SCALE=${GW_BENCH_SCALE:-2k} GW_BENCH_SCALE_DAYS=${GW_BENCH_SCALE_DAYS:-3} \
			"$top/tests/bench/scale.sh" >"$tmp/out$r$d" 2>&1 &
	done
	wait
	# each full day's seal: VmHWM (kB), column 1 of scale.sh's days file
	ha=$(awk '{ printf "%s%s", s, $1; s = "," }' "$tmp"/tmp"$r"a/gwrun.*/*-3reg/days)
	hb=$(awk '{ printf "%s%s", s, $1; s = "," }' "$tmp"/tmp"$r"b/gwrun.*/*-3reg/days)
	echo "# pair $r: A peak kB at each full day's seal $ha; B $hb"
	grep -h 'cpu_ms_per_1000\|did not complete' "$tmp/out${r}a" | sed 's/^/#   A: /'
	grep -h 'cpu_ms_per_1000\|did not complete' "$tmp/out${r}b" | sed 's/^/#   B: /'
	paste -d' ' <(echo "$ha" | tr , '\n') <(echo "$hb" | tr , '\n') |
		awk 'NF == 2 && $1 > 0 { printf "%.4f\n", $2 / $1 }' >>"$tmp/ratios"
	# each full day's seal: wall ms and the main thread's CPU ms in it
	# (the steps of gatewayd's line summed), B against A, day by day
	seal_figs "$tmp"/tmp"$r"a >"$tmp/sa"
	seal_figs "$tmp"/tmp"$r"b >"$tmp/sb"
	echo "# pair $r: seal wall/CPU ms, full days: A $(awk '{ printf "%s%s/%s", s, $1, $2; s = ", " }' "$tmp/sa"); B $(awk '{ printf "%s%s/%s", s, $1, $2; s = ", " }' "$tmp/sb")"
	paste -d' ' "$tmp/sa" "$tmp/sb" | awk -v w="$tmp/wall" -v c="$tmp/cpu" '
		NF == 4 && $1 > 0 && $2 > 0 {
			printf "%.4f\n", $3 / $1 >>w; printf "%.4f\n", $4 / $2 >>c }'
	rm -rf "$tmp/tmp$r"a "$tmp/tmp$r"b
done
read -r q1 q2 q3 < <(mmm "$tmp/ratios")
read -r w1 w2 w3 < <(mmm "$tmp/wall")
read -r c1 c2 c3 < <(mmm "$tmp/cpu")
echo "bench: scale_pair_seal_wall_ratio: median $w2 (min $w1, max $w3 over $(wc -l <"$tmp/wall") day seals of $reps pairs) (B against A, side by side)"
echo "bench: scale_pair_seal_cpu_ratio: median $c2 (min $c1, max $c3) (the main thread's CPU in the seal, B against A)"
echo "bench: scale_pair_peak_rss_ratio: median $q2 (min $q1, max $q3 over $(wc -l <"$tmp/ratios") day seals of $reps pairs) (B against A, side by side)"
