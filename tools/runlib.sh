# SPDX-License-Identifier: MIT
# tools/runlib.sh - starts and stops the processes of a test or the demo.
#
# Sourcing it makes a private temporary directory ($GW_TMP) and an exit
# trap that stops everything registered with track_pid and every private
# PostgreSQL started with start_pg, also on failure or interrupt, and then
# removes $GW_TMP (set GW_KEEP_TMP=1 to keep it).
set -u

GW_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GW_BUILD=${GW_BUILD:-build}
case "$GW_BUILD" in /*) ;; *) GW_BUILD="$GW_TOP/$GW_BUILD" ;; esac
export GW_BUILD GW_TOP

# Without it nothing may go on: an empty $GW_TMP would make "$GW_TMP/bin"
# the system's /bin (tests/lib.sh links its python3 and psql there).
GW_TMP=$(mktemp -d "${TMPDIR:-/tmp}/gwrun.XXXXXX") || {
	echo "runlib: cannot make a directory in ${TMPDIR:-/tmp} (does it exist?)" >&2
	exit 1
}
chmod 755 "$GW_TMP"
_gw_pids=()
_gw_pgdirs=()

_gw_cleanup() {
	local pid d
	set +e # a script under set -e must still stop everything
	for pid in "${_gw_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${_gw_pids[@]}"; do
		wait_pid_exit 5 "$pid"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for d in "${_gw_pgdirs[@]}"; do
		"$GW_TOP/tools/pgtmp.sh" stop "$d" >/dev/null 2>&1
	done
	if [ "${GW_KEEP_TMP:-}" = "" ]; then
		rm -rf "$GW_TMP"
	else
		echo "# kept $GW_TMP" >&2
	fi
}
trap _gw_cleanup EXIT
trap 'exit 130' INT TERM


# Registers a background process to be stopped on exit.
track_pid() { _gw_pids+=("$1"); }

# start_pg NAME: starts a private PostgreSQL cluster with the schema applied
# and sets GW_PG_CONNINFO (and PGHOST, PGPORT, PGDATABASE, PGUSER).
start_pg() {
	local dir="$GW_TMP/${1:-pg}"
	_gw_pgdirs+=("$dir")
	if ! "$GW_TOP/tools/pgtmp.sh" start "$dir" >"$GW_TMP/pg-start.log" 2>&1; then
		echo "not ok - start private PostgreSQL"
		sed 's/^/#   /' "$GW_TMP/pg-start.log" | tail -20
		exit 1
	fi
	# shellcheck disable=SC1091
	. "$dir/env"
}

# wait_for SECONDS COMMAND...: polls until the command succeeds.
wait_for() {
	local limit=$1 i
	shift
	for i in $(seq 1 $((limit * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# start_metersim NAME ARGS...: starts $GW_BUILD/metersim ARGS in the
# background, stopped on exit, its log in $GW_TMP/NAME.log, and waits up to
# 10 s until it serves. Returns 1, with the log on stderr, if it does not.
start_metersim() {
	local name=$1
	shift
	"$GW_BUILD/metersim" "$@" --ready-file "$GW_TMP/$name.ready" 2>"$GW_TMP/$name.log" &
	track_pid $!
	if ! wait_for 10 test -e "$GW_TMP/$name.ready"; then
		echo "metersim $name did not start:" >&2
		cat "$GW_TMP/$name.log" >&2
		return 1
	fi
}

# pid_alive PID: true while the process runs (a zombie child has ended).
pid_alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_pid_exit SECONDS PID: waits for a process to end; 0 if it did.
wait_pid_exit() {
	local limit=$1 pid=$2 i
	for i in $(seq 1 $((limit * 10))); do
		pid_alive "$pid" || return 0
		sleep 0.1
	done
	return 1
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	/usr/bin/python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

