#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/metersim_ready.sh - `metersim --tcp HOST:0 --ready-file
# F` writes the port the kernel chose (getsockname), so that a script can
# start a simulator without picking a free port first and racing others
# for it; a fixed port is written as given.
. "$(dirname "$0")/../lib.sh"

sim=$GW_BUILD/metersim
prof=$GW_TOP/profiles

# modbus_answers PORT: a Modbus TCP read of one holding register of unit 1
# on 127.0.0.1:PORT gets a Modbus answer (a value or an exception).
modbus_answers() {
	python3 - "$1" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(struct.pack(">HHHBBHH", 7, 0, 6, 1, 3, 0, 1))
r = s.recv(260)
sys.exit(0 if len(r) >= 9 and r[0:2] == b"\x00\x07" and r[7] in (3, 0x83) else 1)
PY
}

"$sim" --tcp 127.0.0.1:0 --meters 1 --profile abb_b23 --profiles-dir "$prof" \
	--ready-file "$GW_TMP/any.ready" 2>"$GW_TMP/any.log" &
track_pid $!
if wait_for 10 test -s "$GW_TMP/any.ready"; then
	port=$(cat "$GW_TMP/any.ready")
	if [ "$port" -gt 0 ] 2>/dev/null; then
		ok "the ready file holds the port bound ($port), not 0"
	else
		not_ok "the ready file holds the port bound, not 0 (got '$port')"
	fi
	if modbus_answers "$port"; then
		ok "a Modbus request to that port is answered"
	else
		not_ok "a Modbus request to that port is answered"
	fi
else
	not_ok "metersim --tcp 127.0.0.1:0 starts ($(cat "$GW_TMP/any.log"))"
fi

fixed=$(free_port)
"$sim" --tcp "127.0.0.1:$fixed" --meters 1 --profile abb_b23 --profiles-dir "$prof" \
	--ready-file "$GW_TMP/fixed.ready" 2>"$GW_TMP/fixed.log" &
track_pid $!
if wait_for 10 test -s "$GW_TMP/fixed.ready"; then
	check_eq "$(cat "$GW_TMP/fixed.ready")" "$fixed" "a port asked for is written as it is"
else
	not_ok "metersim on a fixed port starts ($(cat "$GW_TMP/fixed.log"))"
fi
finish
