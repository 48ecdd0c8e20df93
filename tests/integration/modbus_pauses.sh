#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/modbus_pauses.sh - the quirks of converters and slow
# meters a Modbus bus can be told about: request_pause_ms (silence between
# requests), connect_pause_ms (silence after connecting), close_after_cycle
# (a new connection per poll cycle) and a meter's own timeout_ms. metersim
# writes the arrival of every request and connection on its monotonic
# clock (--request-log), so the pauses are measured where they matter: at
# the meter.
. "$(dirname "$0")/../lib.sh"

PROF=$GW_TOP/profiles
port=$(free_port)
start_metersim sim --tcp "127.0.0.1:$port" --meters 3 --profile abb_b23 \
	--profiles-dir "$PROF" --request-log "$GW_TMP/req.log" --fault 3:slow:700 ||
	{ not_ok "metersim did not start"; finish; }

cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = quirks-1
timezone = UTC
spool_dir = spool
profiles_dir = $PROF

[bus paused]
type = modbus-tcp
host = 127.0.0.1
port = $port
request_pause_ms = 250
connect_pause_ms = 400

[bus plain]
type = modbus-tcp
host = 127.0.0.1
port = $port
timeout_ms = 300

[bus plain2]
type = modbus-tcp
host = 127.0.0.1
port = $port
timeout_ms = 300

[meter P1]
bus = paused
unit = 1
profile = abb_b23

[meter N2]
bus = plain
unit = 2
profile = abb_b23

[meter SLOW]
bus = plain
unit = 3
profile = abb_b23
timeout_ms = 1500

[meter SLOW_BUS_TIMEOUT]
bus = plain2
unit = 3
profile = abb_b23
INI

# gaps: on the last connection accepted, the arrival of each request after
# the one before (the first after the connection was accepted), in whole
# ms.
gaps() {
	awk '$3 == "accept" { fd = $2; t = $1; g = ""; next }
	     $2 == fd { g = g sprintf("%d ", $1 - t); t = $1 }
	     END { print g }' "$GW_TMP/req.log"
}

# The request log bounds request_pause_ms from below: metersim logs a
# request before it replies, and the next request leaves after the reply.
# It cannot bound connect_pause_ms (metersim may accept a connection later
# than the gateway's connect returned), so that pause is read from the
# trace: the time connect returned and the time the first request left.
check_cmd "gwctl read of a meter on a bus with pauses" "$GW_BUILD/gwctl" read -c "$GW_TMP/gw.ini" P1 \
	--trace "$GW_TMP/p1.trace"
g=$(gaps)
echo "# paused bus: ms from connect to request 1, then between requests: $g"
set -- $g
cp=$(awk '/# connected to/ { c = $1 } / > / && c != "" { printf "%d", $1 - c; exit }' "$GW_TMP/p1.trace")
if [ -n "$cp" ] && [ "$cp" -ge 400 ]; then
	ok "connect_pause_ms: the first request left $cp ms after connecting (at least 400)"
else
	not_ok "connect_pause_ms: the first request at least 400 ms after connecting (got: '$cp')"
	sed 's/^/#   /' "$GW_TMP/p1.trace"
fi
if [ $# -eq 3 ] && [ "$2" -ge 250 ] && [ "$3" -ge 250 ]; then
	ok "request_pause_ms: requests $2 and $3 ms apart (at least 250)"
else
	not_ok "request_pause_ms: requests at least 250 ms apart (got: $g)"
fi

check_cmd "gwctl read of a meter on a bus without pauses" "$GW_BUILD/gwctl" read -c "$GW_TMP/gw.ini" N2
g=$(gaps)
echo "# plain bus: $g"
set -- $g
if [ $# -eq 3 ] && [ "$1" -lt 250 ] && [ "$2" -lt 250 ] && [ "$3" -lt 250 ]; then
	ok "without the keys the requests follow at once ($g ms)"
else
	not_ok "without the keys the requests follow at once (got: $g)"
fi

# A meter's own timeout_ms: unit 3 answers after 700 ms; its bus waits
# 300 ms, the meter's own key 1500 ms.
check_cmd "timeout_ms of a meter: a slow meter (700 ms) is read with its own 1500 ms" \
	"$GW_BUILD/gwctl" read -c "$GW_TMP/gw.ini" SLOW
if "$GW_BUILD/gwctl" read -c "$GW_TMP/gw.ini" SLOW_BUS_TIMEOUT >"$GW_TMP/slow.out" 2>&1; then
	not_ok "the same meter with the bus's 300 ms times out"
else
	if grep -q "timed out" "$GW_TMP/slow.out"; then
		ok "the same meter with the bus's 300 ms times out"
	else
		not_ok "the same meter with the bus's 300 ms times out"
		sed 's/^/#   /' "$GW_TMP/slow.out"
	fi
fi
sed 's/timeout_ms = 1500/timeout_ms = 5/' "$GW_TMP/gw.ini" >"$GW_TMP/bad.ini"
line=$(grep -n "timeout_ms = 5$" "$GW_TMP/bad.ini" | cut -d: -f1)
"$GW_BUILD/gwctl" read -c "$GW_TMP/bad.ini" SLOW >"$GW_TMP/bad.out" 2>&1
if grep -q "bad.ini:$line: .*timeout_ms" "$GW_TMP/bad.out"; then
	ok "a meter's timeout_ms out of range is named with file:line"
else
	not_ok "a meter's timeout_ms out of range is named with file:line"
	sed 's/^/#   /' "$GW_TMP/bad.out"
fi

# close_after_cycle: gatewayd on a fast clock, two endpoints, 3 simulated
# hours of 15-minute cycles. The bus with the key connects once per cycle,
# the other once.
pa=$(free_port)
pb=$(free_port)
start_metersim simA --tcp "127.0.0.1:$pa" --meters 1 --profile abb_b23 \
	--profiles-dir "$PROF" --request-log "$GW_TMP/reqA.log" ||
	{ not_ok "metersim A did not start"; finish; }
start_metersim simB --rtu-tcp "127.0.0.1:$pb" --meters 1 --profile abb_b23 \
	--profiles-dir "$PROF" --request-log "$GW_TMP/reqB.log" ||
	{ not_ok "metersim B did not start"; finish; }
cat >"$GW_TMP/gw2.ini" <<INI
[gateway]
id = quirks-2
timezone = UTC
spool_dir = spool2
profiles_dir = $PROF
poll_interval = 15m

[bus closing]
type = modbus-tcp
host = 127.0.0.1
port = $pa
close_after_cycle = yes

[bus staying]
type = modbus-rtu-tcp
host = 127.0.0.1
port = $pb

[meter A1]
bus = closing
unit = 1
profile = abb_b23

[meter B1]
bus = staying
unit = 1
profile = abb_b23
INI
run_gatewayd "$GW_TMP/gw2.ini" "$GW_TMP/gw2.log" 2026-01-01T00:00:00Z 2026-01-01T03:00:00Z 720
check_eq "$?" 0 "gatewayd ran 3 simulated hours and exited 0"
ca=$(grep -c " accept$" "$GW_TMP/reqA.log")
cycles=$(awk '$3 == 1 && $5 == 20480' "$GW_TMP/reqA.log" | wc -l)
echo "# bus closing: $ca connections for $cycles cycles"
if [ "$cycles" -ge 6 ] && [ "$ca" -eq "$cycles" ]; then
	ok "close_after_cycle: one connection per cycle ($ca for $cycles cycles)"
else
	not_ok "close_after_cycle: one connection per cycle (got $ca for $cycles cycles)"
fi
cb=$(grep -c " accept$" "$GW_TMP/reqB.log")
cyclesb=$(awk '$3 == 1 && $5 == 20480' "$GW_TMP/reqB.log" | wc -l)
if [ "$cyclesb" -ge 6 ] && [ "$cb" -eq 1 ]; then
	ok "without close_after_cycle one connection serves every cycle ($cyclesb)"
else
	not_ok "without close_after_cycle one connection serves every cycle (got $cb for $cyclesb cycles)"
fi
finish
