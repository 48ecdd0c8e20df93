#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/modbus_health.sh - per-meter health on one line: five
# simulated meters on one Modbus TCP endpoint and on one RS-485 line (a pty
# pair); one of them stops answering while the scheduler runs (metersim's
# control FIFO) and comes back. Checked, cycle by cycle (the scheduler's
# durable-sink call is one call per bus cycle):
#   - every other meter of the line has readings in every cycle;
#   - the dead meter costs at most one timeout per cycle it is tried in;
#   - it is offline after offline_after failed cycles, skipped with backoff,
#     and online again at its first good read, each change one event;
# then gatewayd runs across a local midnight with a dead meter and the
# offline/online events are in the sealed day's spool batch.
. "$(dirname "$0")/../lib.sh"

SIM=$GW_BUILD/metersim
RUN=$GW_BUILD/tests/it_sched_health
PROF=$GW_TOP/profiles

for f in "$SIM" "$RUN"; do
	if [ ! -x "$f" ]; then
		not_ok "$f is built"
		finish
	fi
done

# write_config FILE BUSBLOCK: a gateway on a fast simulated clock (one
# 60 s poll cycle per 0.1 real seconds), 5 meters on bus "line".
write_config() {
	cat >"$1" <<EOF
[gateway]
id = it-health
timezone = UTC
spool_dir = $GW_TMP/spool
profiles_dir = $PROF
poll_interval = 60
offline_after = 3
retry_backoff_max = 4

[clock]
speed = 600
anchor = now
start = 2026-01-01T00:00:00Z

$2

[meter m1]
bus = line
unit = 1
profile = abb_b23
[meter m2]
bus = line
unit = 2
profile = abb_b23
[meter m3]
bus = line
unit = 3
profile = abb_b23
[meter m4]
bus = line
unit = 4
profile = abb_b23
[meter m5]
bus = line
unit = 5
profile = abb_b23
EOF
}

# check_run LABEL OUT: the checks on one it_sched_health run (meter m3 dead
# from the end of cycle 2 to the end of cycle 12, 24 cycles).
check_run() {
	local label=$1 out=$2 cycles m
	cycles=$(awk '$1 == "cycles" { print $2 }' "$out")
	check_eq "$cycles" 24 "$label: the scheduler ran 24 cycles"
	for m in m1 m2 m4 m5; do
		check_eq "$(awk -v m=$m '$1 == "readings" && $2 == m { print $3 }' "$out")" "$cycles" \
			"$label: $m, beside the dead meter, has readings in every cycle"
	done
	local h
	h=$(awk '$1 == "health" && $2 == "m3"' "$out")
	local failed timeouts skipped
	failed=$(echo "$h" | sed 's/.* failed=\([0-9]*\).*/\1/')
	timeouts=$(echo "$h" | sed 's/.* timeouts=\([0-9]*\).*/\1/')
	skipped=$(echo "$h" | sed 's/.* skipped=\([0-9]*\).*/\1/')
	if [ "$failed" -ge 3 ] && [ "$timeouts" = "$failed" ]; then
		ok "$label: m3 failed $failed cycles, one timeout each (the line's cost is one timeout per cycle)"
	else
		not_ok "$label: m3 one timeout per failed cycle ($h)"
	fi
	if [ "$skipped" -ge 3 ]; then
		ok "$label: the offline m3 was skipped with backoff ($skipped cycles)"
	else
		not_ok "$label: the offline m3 was skipped with backoff ($h)"
	fi
	check_eq "$(awk '$1 == "event" { print $2, $3 }' "$out" | tr '\n' ' ')" \
		"offline m3 online m3 " "$label: one offline and one online event for m3, nothing else"
	check_eq "$(awk '$1 == "maxmiss" && $2 == "m3" { print ($3 <= 14) }' "$out")" 1 \
		"$label: m3 read again within the backoff bound after it came back"
	check_eq "$(echo "$h" | sed 's/.* offline=\([0-9]*\).*/\1/')" 0 "$label: m3 is online at the end"
	if grep -q "event offline m3 .* 3 failed cycles: timed out" "$out"; then
		ok "$label: the offline event says why"
	else
		not_ok "$label: the offline event says why"
		sed 's/^/#   /' "$out"
	fi
}

# ---- Modbus TCP: five meters behind one endpoint -----------------------
PORT=$(free_port)
"$SIM" --tcp "127.0.0.1:$PORT" --meters 5 --profile abb_b23 --profiles-dir "$PROF" \
	--control "$GW_TMP/tcp.ctl" --ready-file "$GW_TMP/tcp.ready" \
	>"$GW_TMP/tcp-sim.log" 2>&1 &
track_pid $!
if ! wait_for 10 test -s "$GW_TMP/tcp.ready"; then
	not_ok "metersim TCP starts"
	sed 's/^/#   /' "$GW_TMP/tcp-sim.log"
	finish
fi
write_config "$GW_TMP/tcp.ini" "[bus line]
type = modbus-tcp
host = 127.0.0.1
port = $PORT
timeout_ms = 150
byte_timeout_ms = 50"
"$RUN" "$GW_TMP/tcp.ini" "$GW_TMP/tcp.ctl" 3 2 12 24 >"$GW_TMP/tcp.out" 2>"$GW_TMP/tcp.err"
check_eq "$?" 0 "TCP: it_sched_health ran"
check_run "TCP" "$GW_TMP/tcp.out"

# ---- Modbus RTU: five meters on one line (pty pair) ---------------------
if command -v socat >/dev/null; then
	socat pty,raw,echo=0,link="$GW_TMP/sim" pty,raw,echo=0,link="$GW_TMP/gw" \
		2>"$GW_TMP/socat.log" &
	track_pid $!
	wait_for 10 test -e "$GW_TMP/gw"
	"$SIM" --rtu "$GW_TMP/sim" --baud 38400 --meters 5 --profile abb_b23 \
		--profiles-dir "$PROF" --control "$GW_TMP/rtu.ctl" \
		--ready-file "$GW_TMP/rtu.ready" >"$GW_TMP/rtu-sim.log" 2>&1 &
	track_pid $!
	if wait_for 10 test -s "$GW_TMP/rtu.ready"; then
		RTU_OK=1
		write_config "$GW_TMP/rtu.ini" "[bus line]
type = modbus-rtu
device = $GW_TMP/gw
baud = 38400
parity = none
timeout_ms = 150
byte_timeout_ms = 50"
		"$RUN" "$GW_TMP/rtu.ini" "$GW_TMP/rtu.ctl" 3 2 12 24 >"$GW_TMP/rtu.out" 2>"$GW_TMP/rtu.err"
		check_eq "$?" 0 "RTU: it_sched_health ran"
		check_run "RTU" "$GW_TMP/rtu.out"
		# A meter that answers with garbage is counted as such.
		"$RUN" "$GW_TMP/rtu.ini" "$GW_TMP/rtu.ctl" 2 1 6 8 crc >"$GW_TMP/crc.out" 2>&1
		check_eq "$(awk '$1 == "health" && $2 == "m2" { print ($0 ~ / crc=[1-9]/) }' "$GW_TMP/crc.out")" 1 \
			"RTU: CRC errors are counted per meter"
		check_eq "$(awk '$1 == "readings" && $2 == "m1" { print $3 }' "$GW_TMP/crc.out")" 8 \
			"RTU: the meter beside one with CRC errors is read every cycle"
		"$RUN" "$GW_TMP/rtu.ini" "$GW_TMP/rtu.ctl" 2 1 6 8 wrongunit >"$GW_TMP/wu.out" 2>&1
		check_eq "$(awk '$1 == "health" && $2 == "m2" { print ($0 ~ / wrong_unit=[1-9]/) }' "$GW_TMP/wu.out")" 1 \
			"RTU: replies from a wrong unit id are counted per meter"
		"$RUN" "$GW_TMP/rtu.ini" "$GW_TMP/rtu.ctl" 2 1 6 8 exception:6 >"$GW_TMP/busy.out" 2>&1
		check_eq "$(awk '$1 == "health" && $2 == "m2" { print ($0 ~ / exceptions=[1-9]/) }' "$GW_TMP/busy.out")" 1 \
			"RTU: 'device busy' exceptions are counted per meter"
	else
		not_ok "metersim RTU starts"
	fi
else
	not_ok "socat is installed"
fi

# ---- an exception code Modbus does not define: that meter, that cycle ----
# m2 answers exception 0x12 from the end of cycle 1 to the end of cycle 6
# (TCP) and 0x09 on the RTU line; the others are read in every cycle, and
# on TCP no exception costs a reconnect.
conns() { grep -c 'connection [0-9]* accepted' "$GW_TMP/tcp-sim.log"; }
c0=$(conns)
"$RUN" "$GW_TMP/tcp.ini" "$GW_TMP/tcp.ctl" 2 1 6 10 exception:18 >"$GW_TMP/exc.out" 2>"$GW_TMP/exc.err"
check_eq "$?" 0 "TCP exception 0x12: it_sched_health ran"
cycles=$(awk '$1 == "cycles" { print $2 }' "$GW_TMP/exc.out")
check_eq "$(awk '$1 == "readings" && $2 != "m2" { print $3 }' "$GW_TMP/exc.out" | sort -u)" "$cycles" \
	"TCP exception 0x12: m1, m3, m4 and m5 have readings in every cycle ($cycles)"
h=$(awk '$1 == "health" && $2 == "m2"' "$GW_TMP/exc.out")
exc=$(echo "$h" | sed 's/.* exceptions=\([0-9]*\).*/\1/')
unk=$(echo "$h" | sed 's/.* unknown_exc=\([0-9]*\).*/\1/')
failed=$(echo "$h" | sed 's/.* failed=\([0-9]*\).*/\1/')
if [ "$unk" -ge 1 ] && [ "$exc" = "$unk" ] && [ "$exc" = "$failed" ]; then
	ok "TCP exception 0x12: m2 failed $failed cycles, one undefined exception each"
else
	not_ok "TCP exception 0x12: m2 one undefined exception per failed cycle ($h)"
fi
check_eq "$(($(conns) - c0))" 1 "TCP exception 0x12: one connection for the whole run (no reconnect)"
# A failed read is logged once, by the scheduler, with what the driver knew
# (the exception): on the 1st, 2nd, 4th ... failed cycle in a row.
logged=0
for k in 1 2 4 8 16 32; do [ "$k" -le "$failed" ] && logged=$((logged + 1)); done
said="meter m2 (unit 2 on bus [^)]*): read failed: device answered with an exception: exception 0x12 (not defined by Modbus), [0-9]* cycles* in a row"
check_eq "$(grep -c "$said" "$GW_TMP/exc.err"):$(grep -c "m2.*read failed" "$GW_TMP/exc.err")" \
	"$logged:$logged" \
	"TCP exception 0x12: each failure logged in one line, with the exception ($failed failed cycles)"
if [ -n "${RTU_OK:-}" ]; then
	"$RUN" "$GW_TMP/rtu.ini" "$GW_TMP/rtu.ctl" 2 1 6 8 exception:9 >"$GW_TMP/exc9.out" 2>&1
	check_eq "$(awk '$1 == "readings" && $2 != "m2" { print $3 }' "$GW_TMP/exc9.out" | sort -u)" \
		"$(awk '$1 == "cycles" { print $2 }' "$GW_TMP/exc9.out")" \
		"RTU exception 0x09: the other meters of the line have readings in every cycle"
	check_eq "$(awk '$1 == "health" && $2 == "m2" { print ($0 ~ / unknown_exc=[1-9]/) }' "$GW_TMP/exc9.out")" 1 \
		"RTU exception 0x09: counted as undefined for m2"
fi

# ---- bad values: one event per meter and register until it decodes ------
# Eastron SDM630 meters (float32); m2's 1.8.0 reads +Inf from the end of
# cycle 2 to the end of cycle 6, and again from the end of cycle 9.
PORT3=$(free_port)
"$SIM" --tcp "127.0.0.1:$PORT3" --meters 5 --profile eastron_sdm630 --profiles-dir "$PROF" \
	--control "$GW_TMP/bad.ctl" --ready-file "$GW_TMP/bad.ready" \
	>"$GW_TMP/bad-sim.log" 2>&1 &
track_pid $!
wait_for 10 test -s "$GW_TMP/bad.ready"
write_config "$GW_TMP/bad.ini" "[bus line]
type = modbus-tcp
host = 127.0.0.1
port = $PORT3
timeout_ms = 500"
sed -i 's/^profile = abb_b23/profile = eastron_sdm630/' "$GW_TMP/bad.ini"
"$RUN" "$GW_TMP/bad.ini" "$GW_TMP/bad.ctl" 2 2 6 14 inf 9 >"$GW_TMP/bad.out" 2>"$GW_TMP/bad.err"
check_eq "$?" 0 "bad values: it_sched_health ran"
check_eq "$(awk '$1 == "event" { print $2, $3, $5, $6, $7 }' "$GW_TMP/bad.out" | tr '\n' '|')" \
	"bad_value m2 register=1.8.0 float32 +inf|bad_value m2 register=1.8.0 float32 +inf|" \
	"bad values: two bad_value events for m2's 1.8.0, one per spell, however many cycles each lasted"
h=$(awk '$1 == "health" && $2 == "m2"' "$GW_TMP/bad.out")
bad=$(echo "$h" | sed 's/.* bad=\([0-9]*\).*/\1/')
m2cycles=$(echo "$h" | sed 's/.* cycles=\([0-9]*\).*/\1/')
with=$(awk '$1 == "with_1.8.0" && $2 == "m2" { print $3 }' "$GW_TMP/bad.out")
if [ "$bad" -ge 2 ] && [ $((with + bad)) -eq "$m2cycles" ]; then
	ok "bad values: every cycle of m2 has its 1.8.0 or one bad value counted ($with + $bad = $m2cycles)"
else
	not_ok "bad values: m2 1.8.0 readings ($with) + bad values ($bad) = its cycles ($m2cycles)"
fi
check_eq "$(awk '$1 == "readings" && $2 == "m2" { print $3 }' "$GW_TMP/bad.out")" \
	"$(awk '$1 == "cycles" { print $2 }' "$GW_TMP/bad.out")" \
	"bad values: m2's other registers are read in every cycle"
check_eq "$(awk '$1 == "drops" && $2 == "bad_value" { print $3 }' "$GW_TMP/bad.out")" "$bad" \
	"bad values: each one counted in the tally of dropped readings"
check_eq "$(grep -c 'meter m2: register 1.8.0: bad value (float32 +inf), not stored' "$GW_TMP/bad.err")" 2 \
	"bad values: one warning per spell"
check_eq "$(grep -c 'meter m2: register 1.8.0 decodes again' "$GW_TMP/bad.err")/$(grep -c 'bad value' "$GW_TMP/bad.err")" "0/2" \
	"bad values: the recovery is not a warning (logged at info)"

# ---- gatewayd: the events reach the spool batch -------------------------
# Simulated 22:00 -> 01:00 UTC at one simulated hour per real second; m3
# does not answer from the start and answers again after about one second.
PORT2=$(free_port)
"$SIM" --tcp "127.0.0.1:$PORT2" --meters 5 --profile abb_b23 --profiles-dir "$PROF" \
	--fault 3:noanswer --control "$GW_TMP/gw.ctl" --ready-file "$GW_TMP/gw.ready" \
	>"$GW_TMP/gw-sim.log" 2>&1 &
track_pid $!
wait_for 10 test -s "$GW_TMP/gw.ready"
mkdir -p "$GW_TMP/spool2"
write_config "$GW_TMP/gw.ini" "[bus line]
type = modbus-tcp
host = 127.0.0.1
port = $PORT2
timeout_ms = 100"
sed -i -e "s|^spool_dir = .*|spool_dir = $GW_TMP/spool2|" -e 's/^poll_interval = 60/poll_interval = 5m\nseal_delay = 10m/' \
	-e '/^\[clock\]/,/^$/d' "$GW_TMP/gw.ini"
# the clock stands at 22:00 until the answering meters have been polled
gatewayd_released "$GW_TMP/anchor2" "$GW_TMP/spool2" "$GW_TMP/gatewayd.log" m1 m2 m4 m5 -- \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" --clock-anchor "@$GW_TMP/anchor2" \
	--clock-start 2026-01-01T22:00:00Z --clock-speed 1800 \
	--stop-at 2026-01-02T00:30:00Z || not_ok "the answering meters are polled"
gw=$gw_pid
# m3 answers again once gatewayd has taken it offline (its offline event
# rewrites the health file at once); both events fall on 2026-01-01, which
# ends 4 s after the release at 1800x.
wait_health 20 "$GW_TMP/spool2" offline m3 ||
	not_ok "m3 did not go offline: $(cat "$GW_TMP/spool2/health" 2>&1)"
echo "3:none" >"$GW_TMP/gw.ctl"
if wait_pid_exit 30 $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd ran to its stop time"
else
	not_ok "gatewayd stopped in time"
fi
batch=$(ls "$GW_TMP"/spool2/ready/*2026-01-01*.gwb 2>/dev/null | head -1)
if [ -n "$batch" ]; then
	ok "the day 2026-01-01 is sealed into the spool"
	"$GW_BUILD/gwctl" spool dump --events "$batch" >"$GW_TMP/events.csv" 2>&1
	check_eq "$?" 0 "gwctl spool dump --events"
	check_eq "$(grep -c ',m3,.*offline\|offline.*,m3,\|m3,offline' "$GW_TMP/events.csv")" 1 \
		"the batch holds m3's offline event"
	check_eq "$(grep -c ',m3,.*online\|online.*,m3,\|m3,online' "$GW_TMP/events.csv")" 1 \
		"the batch holds m3's online event"
	check_eq "$(grep -c 'm[1245]' "$GW_TMP/events.csv")" 0 "no events for the meters that answered"
	sed 's/^/#   /' "$GW_TMP/events.csv" | head -5
else
	not_ok "the day 2026-01-01 is sealed into the spool"
	tail -20 "$GW_TMP/gatewayd.log" | sed 's/^/#   /'
fi

# ---- gatewayd: a bad value and stale replies, from meter to batch --------
# SDM630 meters; m2's 1.8.0 reads +Inf all along, m3 answers every request
# twice. The day's batch holds one bad_value event for m2's 1.8.0; the
# health file and gwctl status show the bad values and the stale replies.
PORT4=$(free_port)
"$SIM" --tcp "127.0.0.1:$PORT4" --meters 5 --profile eastron_sdm630 --profiles-dir "$PROF" \
	--fault 2:inf --fault 3:twice --ready-file "$GW_TMP/gw4.ready" \
	>"$GW_TMP/gw4-sim.log" 2>&1 &
track_pid $!
wait_for 10 test -s "$GW_TMP/gw4.ready"
mkdir -p "$GW_TMP/spool4"
write_config "$GW_TMP/gw4.ini" "[bus line]
type = modbus-tcp
host = 127.0.0.1
port = $PORT4
timeout_ms = 500"
sed -i -e "s|^spool_dir = .*|spool_dir = $GW_TMP/spool4|" -e 's/^poll_interval = 60/poll_interval = 5m\nseal_delay = 10m/' \
	-e 's/^profile = abb_b23/profile = eastron_sdm630/' -e '/^\[clock\]/,/^$/d' "$GW_TMP/gw4.ini"
# the clock stands at 22:00 until the meters that answer once have been
# polled (2026-01-01 then has readings before its end, 2 s later)
gatewayd_released "$GW_TMP/anchor4" "$GW_TMP/spool4" "$GW_TMP/gatewayd4.log" m1 m4 m5 -- \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw4.ini" --clock-anchor "@$GW_TMP/anchor4" \
	--clock-start 2026-01-01T22:00:00Z --clock-speed 3600 \
	--stop-at 2026-01-02T00:30:00Z || not_ok "the answering meters are polled (bad value run)"
gw=$gw_pid
if wait_pid_exit 30 $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd (bad value, stale replies) ran to its stop time"
else
	not_ok "gatewayd (bad value, stale replies) stopped in time"
fi
batch=$(ls "$GW_TMP"/spool4/ready/*2026-01-01*.gwb 2>/dev/null | head -1)
if [ -n "$batch" ]; then
	"$GW_BUILD/gwctl" spool dump --events "$batch" >"$GW_TMP/events4.csv" 2>&1
	check_eq "$(grep -c ',bad_value,' "$GW_TMP/events4.csv")/$(grep -c ',m2,1\.8\.0,.*,bad_value,"float32 +inf"$' "$GW_TMP/events4.csv")" "1/1" \
		"the batch holds one bad_value event, for m2's 1.8.0 (float32 +inf), however many cycles it lasted"
else
	not_ok "the day 2026-01-01 is sealed into the spool (bad value run)"
	tail -20 "$GW_TMP/gatewayd4.log" | sed 's/^/#   /'
fi
check_eq "$(grep -c 'meter m2: register 1.8.0: bad value (float32 +inf), not stored' "$GW_TMP/gatewayd4.log")" 1 \
	"gatewayd warns once about m2's bad 1.8.0"
# health_col METER COLUMN: a column of <spool>/health, by its header name
health_col() {
	awk -F'\t' -v m="$1" -v c="$2" '$1 == "meter_id" { for (i = 1; i <= NF; i++) if ($i == c) k = i }
		$1 == m && k { print $k }' "$GW_TMP/spool4/health"
}
if [ "$(health_col m2 bad_values)" -gt 0 ] 2>/dev/null && [ "$(health_col m3 stale_replies)" -gt 0 ] 2>/dev/null &&
	[ "$(health_col m1 bad_values)/$(health_col m1 stale_replies)" = "0/0" ]; then
	ok "spool/health: m2 has bad values ($(health_col m2 bad_values)), m3 stale replies ($(health_col m3 stale_replies)), m1 neither"
else
	not_ok "spool/health: bad_values and stale_replies per meter"
	sed 's/^/#   /' "$GW_TMP/spool4/health"
fi
"$GW_BUILD/gwctl" status "$GW_TMP/spool4" >"$GW_TMP/status4.out" 2>&1
check_eq "$(awk '$1 == "meter" { print $11, $12 }' "$GW_TMP/status4.out")" "stale bad" \
	"gwctl status: columns for stale replies and bad values"
check_eq "$(awk -v s="$(health_col m3 stale_replies)" -v b="$(health_col m2 bad_values)" \
	'$1 == "m3" { x = ($11 == s) } $1 == "m2" { y = ($12 == b) } END { print x y }' "$GW_TMP/status4.out")" "11" \
	"gwctl status: m3's stale replies and m2's bad values as in the health file"
finish
