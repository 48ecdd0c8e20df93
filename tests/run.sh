#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/run.sh - runs every unit test (cmocka, TAP output) and every
# integration script, counts each check, and ends with "N passed, N failed".
# A test program or script that exits non-zero without reporting a failed
# check counts as one failure itself; one that runs longer than
# GW_TEST_TIMEOUT seconds (default 600) is stopped and counted as failed.
#   tests/run.sh [PATTERN]   only tests whose name contains PATTERN
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
GW_BUILD=${GW_BUILD:-build}
export GW_BUILD
filter=${1:-}
passed=0
failed=0
failures=()
times=()

run_one() {
	local name=$1
	shift
	local out rc p f t0=$SECONDS
	out=$(mktemp)
	echo "# $name"
	# A test that hangs is stopped (its EXIT trap still stops what it
	# started) and counted as failed, so a run always ends.
	timeout --kill-after=15 "${GW_TEST_TIMEOUT:-600}" "$@" >"$out" 2>&1
	rc=$?
	[ "$rc" -eq 124 ] && echo "not ok - $name did not finish within ${GW_TEST_TIMEOUT:-600} s" >>"$out"
	p=$(grep -cE '^ok( |$)' "$out")
	f=$(grep -cE '^not ok( |$)' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc"
	fi
	if [ "$f" -gt 0 ] || [ "${GW_VERBOSE:-}" != "" ]; then
		cat "$out"
	else
		grep -E '^(ok|not ok)' "$out"
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name reported no checks"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && failures+=("$name")
	times+=("$((SECONDS - t0)) $name")
	rm -f "$out"
}

export CMOCKA_MESSAGE_OUTPUT=TAP
for t in "$GW_BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *"$filter"*) ;; *) continue ;; esac
	run_one "unit/$(basename "$t")" "$t"
done
for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	case "$t" in *"$filter"*) ;; *) continue ;; esac
	run_one "integration/$(basename "$t" .sh)" bash "$t"
done

# where the time went: the slowest tests (seconds of wall time)
printf '%s\n' "${times[@]}" | sort -rn | head -12 | awk '{ printf "# %4d s  %s\n", $1, $2 }'
echo "# total: $SECONDS s"
if [ ${#failures[@]} -gt 0 ]; then
	echo "# failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
