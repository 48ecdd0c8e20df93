#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/heap/scale_pair.sh - tests/bench/scale.sh for two builds of
# gatewayd side by side (started together, so both see the same load),
# GW_BENCH_REPS times (default 3): gatewayd's peak RSS (VmHWM) at each
# full day's seal, B against A, and each one's CPU per 1,000 reads
# against its own metersim's.
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
top=$(cd "$(dirname "$0")/../../.." && pwd)
. "$top/tests/bench/common.bash"
for d in a b; do
	eval "dir=\$$d"
	case $dir in /*) ;; *) dir=$top/$dir ;; esac
	eval "$d=\$dir"
done
work=$(mktemp -d "${TMPDIR:-/tmp}/scalepair.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/b/bench"
for x in metersim gwctl; do ln -s "$b/$x" "$work/b/$x"; done
ln -s "$b/bench/spool_bench" "$work/b/bench/spool_bench"
printf '#!/bin/sh\n%s\nexec "%s/gatewayd" "$@"\n' "${envb:+export $envb}" "$b" >"$work/b/gatewayd"
chmod +x "$work/b/gatewayd"
reps=$(bench_reps)
: >"$work/ratios"
for r in $(seq 1 "$reps"); do
	for d in a b; do
		dir=$a; [ "$d" = b ] && dir=$work/b
		mkdir -p "$work/tmp$r$d"
		GW_KEEP_TMP=1 TMPDIR="$work/tmp$r$d" GW_BUILD=$dir GW_BENCH_REGS=3reg \
			GW_BENCH_SCALE=${GW_BENCH_SCALE:-2k} GW_BENCH_SCALE_DAYS=${GW_BENCH_SCALE_DAYS:-3} \
			"$top/tests/bench/scale.sh" >"$work/out$r$d" 2>&1 &
	done
	wait
	# each full day's seal: VmHWM (kB), column 1 of scale.sh's days file
	ha=$(awk '{ printf "%s%s", s, $1; s = "," }' "$work"/tmp"$r"a/gwrun.*/*-3reg/days)
	hb=$(awk '{ printf "%s%s", s, $1; s = "," }' "$work"/tmp"$r"b/gwrun.*/*-3reg/days)
	echo "# pair $r: A peak kB at each full day's seal $ha; B $hb"
	grep -h 'cpu_ms_per_1000\|did not complete' "$work/out${r}a" | sed 's/^/#   A: /'
	grep -h 'cpu_ms_per_1000\|did not complete' "$work/out${r}b" | sed 's/^/#   B: /'
	paste -d' ' <(echo "$ha" | tr , '\n') <(echo "$hb" | tr , '\n') |
		awk 'NF == 2 && $1 > 0 { printf "%.4f\n", $2 / $1 }' >>"$work/ratios"
	rm -rf "$work/tmp$r"a "$work/tmp$r"b
done
read -r q1 q2 q3 < <(mmm "$work/ratios")
echo "bench: scale_pair_peak_rss_ratio: median $q2 (min $q1, max $q3 over $(wc -l <"$work/ratios") day seals of $reps pairs) (B against A, side by side)"
