#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/qemu_tests.sh QEMU TEST... - runs cross-built unit tests under
# qemu-user (QEMU_LD_PREFIX: the sysroot, set by make check-cross), each
# with its TAP lines, and prints "N passed, N failed" like tests/run.sh.
set -uo pipefail
qemu=${1:?usage: qemu_tests.sh QEMU TEST...}
shift
command -v "$qemu" >/dev/null || { echo "$qemu not found (apt-get install qemu-user)" >&2; exit 2; }
passed=0 failed=0 bad=()
for t in "$@"; do
	echo "# $(basename "$t") (under $qemu)"
	out=$(timeout 600 "$qemu" "$t" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -E '^(ok|not ok)'
	p=$(printf '%s\n' "$out" | grep -c '^ok')
	f=$(printf '%s\n' "$out" | grep -c '^not ok')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $(basename "$t") exited $rc"
		printf '%s\n' "$out" | tail -5 | sed 's/^/#   /'
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && bad+=("$(basename "$t")")
done
[ ${#bad[@]} -gt 0 ] && echo "# failed: ${bad[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
