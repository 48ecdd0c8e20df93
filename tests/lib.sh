# SPDX-License-Identifier: MIT
# tests/lib.sh - shared helpers for integration test scripts.
#
# A script sources this file, then reports each check with ok/not_ok (one
# TAP-style line each, counted by tests/run.sh). Everything a script starts
# is registered with track_pid or start_pg (tools/runlib.sh) and is stopped
# on exit, also when the script fails or is interrupted.
# shellcheck disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/../tools/runlib.sh"
_gw_failed=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; _gw_failed=1; }

# check_eq ACTUAL EXPECTED DESCRIPTION
check_eq() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3 (got '$1', expected '$2')"
	fi
}

# check_cmd DESCRIPTION COMMAND...: ok if the command exits 0.
check_cmd() {
	local desc=$1
	shift
	if "$@" >"$GW_TMP/last.out" 2>&1; then
		ok "$desc"
	else
		not_ok "$desc (exit $?)"
		sed 's/^/#   /' "$GW_TMP/last.out" | tail -20
	fi
}

finish() { exit $_gw_failed; }
