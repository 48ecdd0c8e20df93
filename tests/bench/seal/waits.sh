#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/seal/waits.sh - what gatewayd's main thread waits on while
# it seals a day: tests/bench/scale.sh (one size, 3 registers; default
# GW_BENCH_SCALE=2k, GW_BENCH_SCALE_DAYS=3) run under `perf record` of the
# main thread's switches in and out of the CPU (with kernel stacks) and
# of its syscalls, then waits.py: for each seal and each step of it
# (docs/architecture.md, "The seal's time in gatewayd, step by step") the
# waits (voluntary context switches) by what they waited in, with their
# count and time off the CPU, the preemptions, and the syscalls.
#
#   tests/bench/seal/waits.sh [OUT_DIR]
#
# Needs perf with tracepoints (root, or perf_event_paranoid -1). OUT_DIR
# (default a new directory under TMPDIR) keeps the recording, the log
# and the report (report.txt). Loads the machine as scale.sh does: hold
# the bench lock.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=${GW_BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
out=${1:-$(mktemp -d "${TMPDIR:-/tmp}/sealwaits.XXXXXX")} || exit 1
mkdir -p "$out/tmp"
command -v perf >/dev/null || { echo "bench: seal_waits: perf not found"; exit 1; }

GW_KEEP_TMP=1 TMPDIR="$out/tmp" GW_BUILD=$build GW_BENCH_REGS=3reg \
	GW_BENCH_SCALE=${GW_BENCH_SCALE:-2k} GW_BENCH_SCALE_DAYS=${GW_BENCH_SCALE_DAYS:-3} \
	"$top/tests/bench/scale.sh" >"$out/scale.out" 2>&1 &
scale=$!
# gatewayd of this run: the one whose configuration is under $out/tmp
pid=
for _ in $(seq 1 600); do
	for p in $(pgrep -x gatewayd); do
		grep -qF -- "$out/tmp/" "/proc/$p/cmdline" 2>/dev/null && pid=$p
	done
	[ -n "$pid" ] && break
	sleep 0.1
done
if [ -z "$pid" ]; then
	echo "bench: seal_waits: gatewayd did not start"
	wait "$scale"
	cat "$out/scale.out"
	exit 1
fi
perf record -q -a -k mono -g -o "$out/perf.data" \
	-e sched:sched_switch --filter "prev_pid == $pid || next_pid == $pid" \
	-e raw_syscalls:sys_enter --filter "common_pid == $pid" \
	-e raw_syscalls:sys_exit --filter "common_pid == $pid" \
	-- sh -c "while kill -0 $pid 2>/dev/null; do sleep 0.2; done" 2>"$out/perf.err"
wait "$scale"
cat "$out/scale.out"
perf script -i "$out/perf.data" -F tid,time,event,trace,ip,sym >"$out/perf.txt" 2>/dev/null
log=$(ls "$out"/tmp/gwrun.*/*-3reg/gw.log | head -1)
/usr/bin/python3 "$top/tests/bench/seal/waits.py" "$out/perf.txt" "$log" "$pid" |
	tee "$out/report.txt"
echo "# kept $out"
