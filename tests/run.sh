#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/run.sh - runs every unit test (cmocka, TAP output) and every
# integration script, counts each check, and ends with "N passed, N failed".
# A test program or script that exits non-zero without reporting a failed
# check counts as one failure itself; one that runs longer than
# GW_TEST_TIMEOUT seconds (default 600) is stopped and counted as failed.
#   tests/run.sh [PATTERN]   only tests whose name contains PATTERN
# GW_TEST_JOBS tests run at once (default: the number of CPUs, at most 4),
# the longest first (tests/durations, $GW_BUILD/test-times).
# Most integration tests spend their time waiting on accelerated clocks,
# not computing, and each has its own directory, ports and database
# server, so they may share the machine; each test's output is printed
# whole when it ends.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
GW_BUILD=${GW_BUILD:-build}
export GW_BUILD
filter=${1:-}
jobs=${GW_TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$jobs" -gt 4 ] && jobs=4
[ "$jobs" -ge 1 ] || jobs=1
passed=0
failed=0
failures=()
times=()
res=$(mktemp -d)
trap 'rm -rf "$res"' EXIT

# run_one N NAME COMMAND...: runs one test into $res/N.out and leaves
# "passed failed seconds name" in $res/N.res.
run_one() {
	local n=$1 name=$2
	shift 2
	local out=$res/$n.out rc p f t0=$SECONDS
	# A test that hangs is stopped (its EXIT trap still stops what it
	# started) and counted as failed, so a run always ends.
	timeout --kill-after=15 "${GW_TEST_TIMEOUT:-600}" "$@" >"$out" 2>&1 </dev/null
	rc=$?
	[ "$rc" -eq 124 ] && echo "not ok - $name did not finish within ${GW_TEST_TIMEOUT:-600} s" >>"$out"
	p=$(grep -cE '^ok( |$)' "$out")
	f=$(grep -cE '^not ok( |$)' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$out"
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name reported no checks" >>"$out"
		f=1
	fi
	echo "$p $f $((SECONDS - t0)) $name" >"$res/$n.tmp"
	mv "$res/$n.tmp" "$res/$n.res"
}

# report N: prints a finished test's output (whole if it failed) and counts it.
reported=()
report() {
	local n=$1 p f s name
	read -r p f s name <"$res/$n.res"
	echo "# $name"
	if [ "$f" -gt 0 ] || [ "${GW_VERBOSE:-}" != "" ]; then
		cat "$res/$n.out"
	else
		grep -E '^(ok|not ok)' "$res/$n.out"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && failures+=("$name")
	times+=("$s $name")
	reported[$n]=1
}

report_finished() {
	local r n
	for r in "$res"/*.res; do
		[ -e "$r" ] || continue
		n=$(basename "$r" .res)
		[ -n "${reported[$n]:-}" ] || report "$n"
	done
}

export CMOCKA_MESSAGE_OUTPUT=TAP
tests=()
for t in "$GW_BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *"$filter"*) ;; *) continue ;; esac
	tests+=("unit/$(basename "$t")|$t")
done
for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	case "$t" in *"$filter"*) ;; *) continue ;; esac
	tests+=("integration/$(basename "$t" .sh)|bash $t")
done

# The longest tests start first, so that the run does not end with one
# long test alone on the machine: each test's wall time of the last run
# in this build ($GW_BUILD/test-times, written below), else the figure in
# tests/durations (measured on a quiet machine), else 20 s.
declare -A weight
load_times() {
	local s name
	[ -f "$1" ] || return 0
	while read -r s name; do
		case "$s" in '' | *[!0-9]*) continue ;; esac
		weight[$name]=$s
	done <"$1"
}
load_times tests/durations
load_times "$GW_BUILD/test-times"
ordered=()
while IFS= read -r entry; do
	ordered+=("${entry#*	}")
done < <(for entry in "${tests[@]}"; do
	printf '%s\t%s\n' "${weight[${entry%%|*}]:-20}" "$entry"
done | sort -s -t '	' -k1,1nr)

n=0
running=0
for entry in "${ordered[@]}"; do
	name=${entry%%|*}
	# shellcheck disable=SC2086 # the command's words
	run_one "$n" "$name" ${entry#*|} &
	n=$((n + 1))
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
		report_finished
	fi
done
wait
report_finished

# this run's times for the next run's order (other tests' times kept)
if [ -d "$GW_BUILD" ] && [ ${#times[@]} -gt 0 ]; then
	{
		printf '%s\n' "${times[@]}"
		[ -f "$GW_BUILD/test-times" ] && cat "$GW_BUILD/test-times"
	} | awk '!seen[$2]++' >"$GW_BUILD/test-times.tmp" &&
		mv "$GW_BUILD/test-times.tmp" "$GW_BUILD/test-times"
fi

# where the time went: the slowest tests (seconds of wall time)
printf '%s\n' "${times[@]}" | sort -rn | head -12 | awk '{ printf "# %4d s  %s\n", $1, $2 }'
echo "# total: $SECONDS s ($jobs at once)"
if [ ${#failures[@]} -gt 0 ]; then
	echo "# failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
