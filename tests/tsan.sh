#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/tsan.sh - the threaded tests on the ThreadSanitizer build
# (make check SANITIZE=thread): the poll workers, the main loop and the
# upload thread of gatewayd across reloads, several buses, uploads and a
# SIGHUP storm. Every program of the build writes its reports to
# $GW_BUILD/tsan-report.PID; any report is a failure (one "not ok" line
# per program that reported, with the report's first lines).
#   GW_BUILD=build/tsan tests/tsan.sh [PATTERN...]
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
GW_BUILD=${GW_BUILD:-build/tsan}
export GW_BUILD
reports="$top/$GW_BUILD/tsan-report"
rm -f "$reports".*
# second_deadlock_stack: both stacks of a lock-order inversion.
export TSAN_OPTIONS="log_path=$reports second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
# A TSan build runs 5-15 times slower; the tests wait for what they need.
export GW_TEST_TIMEOUT=${GW_TEST_TIMEOUT:-900}
[ $# -gt 0 ] || set -- health reload sighup outage upload.sh upload_crash status_keys \
	iec_gateway meter_ident test_journal
passed=0
failed=0
for p in "$@"; do
	out=$(tests/run.sh "$p")
	echo "$out" | grep -v -E '^[0-9]+ passed, [0-9]+ failed$'
	last=$(echo "$out" | tail -1)
	passed=$((passed + $(echo "$last" | awk '{print $1}')))
	failed=$((failed + $(echo "$last" | awk '{print $3}')))
done
echo "# ThreadSanitizer"
n=0
for f in "$reports".*; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	echo "not ok - ThreadSanitizer report $(basename "$f")"
	grep -E '^(WARNING|SUMMARY)|^    #[0-3] ' "$f" | head -20 | sed 's/^/#   /'
done
if [ "$n" -eq 0 ]; then
	echo "ok - no ThreadSanitizer report from any program of these tests"
	passed=$((passed + 1))
else
	failed=$((failed + n))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
