#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/modbus_tcp.sh - the Modbus slice of the thin path:
# build/metersim serves simulated ABB B23 and Eastron SDM630 meters on
# loopback TCP; mbpoll (an independent Modbus master) and the gateway's own
# Modbus driver read them, and the values must be exactly what the meter
# model says (docs/metersim.md).
#
# The simulated clock runs at real speed from an anchor 26 hours in the
# past, so that "now" is 02:00 local on day 2, in the flat night window
# (22:00-06:00): every read sees the same values for four real hours,
# however long a loaded machine makes the test take.
. "$(dirname "$0")/../lib.sh"

SIM=$GW_BUILD/metersim
READ=$GW_BUILD/tests/it_modbus_read
PROF=$GW_TOP/profiles

for f in "$SIM" "$READ"; do
	if [ ! -x "$f" ]; then
		not_ok "$f is built"
		finish
	fi
done

# start_sim NAME ARGS...: starts metersim on a free port; sets PORT.
start_sim() {
	local name=$1
	shift
	PORT=$(free_port)
	"$SIM" --tcp "127.0.0.1:$PORT" --profiles-dir "$PROF" \
		--ready-file "$GW_TMP/$name.ready" --pidfile "$GW_TMP/$name.pid" \
		"$@" >"$GW_TMP/$name.log" 2>&1 &
	track_pid $!
	if wait_for 10 test -s "$GW_TMP/$name.ready"; then
		ok "metersim $name listens on port $PORT"
	else
		not_ok "metersim $name listens on port $PORT"
		sed 's/^/#   /' "$GW_TMP/$name.log"
		finish
	fi
}

# An anchor SECONDS real seconds ago.
anchor_ago() {
	/usr/bin/python3 -c "import time; print('%.3f' % (time.time() - $1))"
}

# mbpoll_regs UNIT ADDR COUNT: prints the COUNT 16-bit holding registers.
mbpoll_regs() {
	mbpoll -m tcp -a "$1" -r "$2" -0 -c "$3" -t 4 -1 -p "$PORT" 127.0.0.1 |
		sed -n 's/^\[[0-9]*\]:[[:space:]]*\([0-9]*\).*/\1/p'
}

# Combines big-endian 16-bit words (one per line) into one number.
words_to_int() {
	local v=0 w
	while read -r w; do
		v=$(((v << 16) | w))
	done
	echo "$v"
}

# it_value OUTPUT UNIT OBIS: the value it_modbus_read printed.
it_value() {
	awk -F'\t' -v u="$2" -v o="$3" '$1 == u && $2 == o { print $3 }' "$1"
}

# ---- ABB B23, shop load, UTC -------------------------------------------
N=4
start_sim abb --meters $N --profile abb_b23 --tz UTC \
	--clock-anchor "$(anchor_ago 93600)" --clock-start 2026-01-01T00:00:00Z \
	--clock-speed 1

# The model: day 1 (2026-01-01) is a full day; 1.8.0 = 1e6*u + 16*P_u Wh.
"$SIM" --profiles-dir "$PROF" --profile abb_b23 --meters $N \
	--clock-start 2026-01-01T00:00:00Z --print-expected 2026-01-01 \
	>"$GW_TMP/expected.tsv"
for u in $(seq 1 $N); do
	p=$((200 + 50 * u))
	q=0
	[ $((u % 3)) -eq 0 ] && q=$((500 * u))
	check_eq "$(awk -v u=$u '$1 == u { print $2 "/" $3 }' "$GW_TMP/expected.tsv")" \
		"$((16 * p))/$((4 * q))" "print-expected: unit $u imports 16*P_u, exports 4*Q_u Wh on 2026-01-01"
done

if command -v mbpoll >/dev/null; then
	for u in 1 3; do
		p=$((200 + 50 * u))
		want=$(((1000000 * u + 16 * p) / 10)) # /100 kWh: 10 Wh per count
		got=$(mbpoll_regs $u 0x5000 4 | words_to_int)
		check_eq "$got" "$want" "mbpoll: unit $u 1.8.0 raw uint64 at 0x5000"
	done
	got=$(mbpoll_regs 3 0x5004 4 | words_to_int)
	check_eq "$got" "$((4 * 1500 / 10))" "mbpoll: unit 3 2.8.0 raw at 0x5004 (export 4*Q_u)"
	got=$(mbpoll_regs 2 0x5B2C 1)
	check_eq "$got" "5000" "mbpoll: unit 2 frequency 0x5B2C = 5000 (50.00 Hz)"
	got=$(mbpoll_regs 1 0x5B00 2 | words_to_int)
	check_eq "$got" "2297" "mbpoll: unit 1 voltage L1 0x5B00 = 2297 (229.7 V)"
	got=$(mbpoll_regs 1 0x5460 4 | tr '\n' ' ')
	check_eq "$got" "65535 65535 65535 65535 " "mbpoll: a register the model lacks reads as the na sentinel (all ones)"
	if mbpoll -m tcp -a 9 -r 0x5000 -0 -c 4 -t 4 -1 -p "$PORT" 127.0.0.1 \
		>"$GW_TMP/mbpoll9.out" 2>&1; then
		not_ok "mbpoll: unit 9 (not simulated) fails"
	else
		ok "mbpoll: unit 9 (not simulated) fails"
	fi
else
	not_ok "mbpoll is installed (apt-get install mbpoll)"
fi

# The driver: exact Wh after decoding, one reading per register it knows.
"$READ" 127.0.0.1 "$PORT" "$PROF/abb_b23.prof" $(seq 1 $N) >"$GW_TMP/read.out" 2>&1
check_eq "$?" "0" "driver: reads units 1..$N"
for u in $(seq 1 $N); do
	p=$((200 + 50 * u))
	q=0
	[ $((u % 3)) -eq 0 ] && q=$((500 * u))
	check_eq "$(it_value "$GW_TMP/read.out" $u 1.8.0)" "$((1000000 * u + 16 * p))" \
		"driver: unit $u 1.8.0 = 1e6*u + 16*P_u Wh"
	check_eq "$(it_value "$GW_TMP/read.out" $u 2.8.0)" "$((4 * q))" \
		"driver: unit $u 2.8.0 = 4*Q_u Wh"
done
check_eq "$(it_value "$GW_TMP/read.out" 2 32.7.0)" "230.4" "driver: unit 2 voltage L1 230.4 V"
check_eq "$(it_value "$GW_TMP/read.out" 2 16.7.0)" "0.00" "driver: unit 2 power at night 0.00 W"
check_eq "$(it_value "$GW_TMP/read.out" 2 14.7.0)" "50.00" "driver: unit 2 frequency 50.00 Hz"
check_eq "$(it_value "$GW_TMP/read.out" 2 21.8.0)" "" "driver: a not-available register is left out"
check_eq "$(awk -F'\t' '$1 == 1 && $2 == "stats" { print $3 }' "$GW_TMP/read.out")" \
	"requests=3 timeouts=0 exceptions=0" "driver: 23 ABB registers in 3 requests"

"$READ" 127.0.0.1 "$PORT" "$PROF/abb_b23.prof" 2 9 >"$GW_TMP/read9.out" 2>&1
rc=$?
check_eq "$rc/$(awk -F'\t' '$1 == 9 { print $2 "/" $3 }' "$GW_TMP/read9.out" | head -1)" \
	"1/error/device answered with an exception" "driver: an absent unit fails with GW_EEXCEPT"
check_eq "$(awk -F'\t' '$1 == 9 && $2 == "stats" { print $3 }' "$GW_TMP/read9.out")" \
	"requests=1 timeouts=0 exceptions=1" "driver: an unreachable unit costs one request, not one per group"
check_eq "$(it_value "$GW_TMP/read9.out" 2 1.8.0)" "$((2000000 + 16 * 300))" \
	"driver: the meter before the absent one is still read"

# gwctl read, through a gateway configuration.
if [ -x "$GW_BUILD/gwctl" ]; then
	mkdir -p "$GW_TMP/spool"
	cat >"$GW_TMP/gw.ini" <<EOF
[gateway]
id = it-modbus
timezone = UTC
spool_dir = $GW_TMP/spool
profiles_dir = $PROF

[bus tcp1]
type = modbus-tcp
host = 127.0.0.1
port = $PORT
timeout_ms = 1000

[meter shop-3]
bus = tcp1
unit = 3
profile = abb_b23

[meter ghost]
bus = tcp1
unit = 99
profile = abb_b23
EOF
	"$GW_BUILD/gwctl" read -c "$GW_TMP/gw.ini" shop-3 --tsv >"$GW_TMP/gwctl.out" 2>&1
	check_eq "$?/$(awk -F'\t' '$1 == "1.8.0" { print $2 " " $3 }' "$GW_TMP/gwctl.out")" \
		"0/3005600 Wh" "gwctl read --tsv: shop-3 1.8.0 = 3005600 Wh"
	"$GW_BUILD/gwctl" read -c "$GW_TMP/gw.ini" shop-3 >"$GW_TMP/gwctl.out" 2>&1
	check_eq "$(awk '$1 == "32.7.0" { print $2 " " $3 }' "$GW_TMP/gwctl.out")" \
		"229.0 V" "gwctl read: table shows 32.7.0 229.0 V"
	"$GW_BUILD/gwctl" read -c "$GW_TMP/gw.ini" ghost >"$GW_TMP/gwctl.out" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && [ "$(wc -l <"$GW_TMP/gwctl.out")" -eq 1 ] &&
		grep -q "meter ghost" "$GW_TMP/gwctl.out"; then
		ok "gwctl read: an absent meter exits 1 with one line naming it"
	else
		not_ok "gwctl read: an absent meter exits 1 with one line naming it (exit $rc)"
		sed 's/^/#   /' "$GW_TMP/gwctl.out"
	fi
fi

# ---- a meter that refuses reads across unmapped registers --------------
start_sim strict --meters 1 --profile abb_b23 --strict-map \
	--clock-anchor "$(anchor_ago 93600)" --clock-start 2026-01-01T00:00:00Z \
	--clock-speed 1
"$READ" 127.0.0.1 "$PORT" "$PROF/abb_b23.prof" 1 >"$GW_TMP/strict.out" 2>&1
check_eq "$?/$(it_value "$GW_TMP/strict.out" 1 1.8.0)/$(it_value "$GW_TMP/strict.out" 1 14.7.0)" \
	"0/1004000/50.00" "driver: a gap the meter refuses is read register by register"
check_eq "$(awk -F'\t' '$2 == "stats" { print $3 }' "$GW_TMP/strict.out")" \
	"requests=18 timeouts=0 exceptions=1" "driver: 2 requests, 1 refused, then its 15 registers one by one"

# ---- Eastron SDM630: float32 input registers ---------------------------
start_sim sdm --meters 3 --profile eastron_sdm630 \
	--clock-anchor "$(anchor_ago 93600)" --clock-start 2026-01-01T00:00:00Z \
	--clock-speed 1
"$READ" 127.0.0.1 "$PORT" "$PROF/eastron_sdm630.prof" 1 2 3 >"$GW_TMP/sdm.out" 2>&1
check_eq "$?" "0" "driver: reads SDM630 units 1..3 (FC 4, float32)"
for u in 1 2 3; do
	p=$((200 + 50 * u))
	check_eq "$(it_value "$GW_TMP/sdm.out" $u 1.8.0)" "$((1000000 * u + 16 * p))" \
		"driver: SDM630 unit $u 1.8.0 exact Wh from float32 kWh"
done
check_eq "$(it_value "$GW_TMP/sdm.out" 3 2.8.0)" "6000" "driver: SDM630 unit 3 2.8.0 = 6000 Wh"
check_eq "$(it_value "$GW_TMP/sdm.out" 1 32.7.0)" "229.700" "driver: SDM630 voltage as float, 3 decimals"
if command -v mbpoll >/dev/null; then
	got=$(mbpoll -m tcp -a 2 -r 0x48 -0 -c 1 -t 3:float -B -1 -p "$PORT" 127.0.0.1 |
		sed -n 's/^\[[0-9]*\]:[[:space:]]*\([0-9.]*\).*/\1/p')
	check_eq "$got" "2004.8" "mbpoll: SDM630 unit 2 1.8.0 float32 at input 0x48 = 2004.8 kWh"
fi

# ---- a value that cannot be true: named, not stored ---------------------
start_sim inf --meters 2 --profile eastron_sdm630 --fault 2:inf \
	--clock-anchor "$(anchor_ago 93600)" --clock-start 2026-01-01T00:00:00Z \
	--clock-speed 1
"$READ" 127.0.0.1 "$PORT" "$PROF/eastron_sdm630.prof" 1 2 >"$GW_TMP/inf.out" 2>&1
check_eq "$?/$(it_value "$GW_TMP/inf.out" 2 1.8.0)/$(it_value "$GW_TMP/inf.out" 2 2.8.0)" "0//0" \
	"driver: unit 2's +Inf 1.8.0 is not a reading; its other registers are"
check_eq "$(awk -F'\t' '$1 == 2 && $2 == "bad" { print $3 "/" $4 }' "$GW_TMP/inf.out")/$(awk -F'\t' '$1 == 2 && $2 == "matching" { print $3 }' "$GW_TMP/inf.out")" \
	"1.8.0/float32 +inf/stale=0 unknown_exc=0 bad=1" "driver: the bad value is named in the read's stats"
check_eq "$(it_value "$GW_TMP/inf.out" 1 1.8.0)" "1004000" "driver: unit 1 beside it reads 1.8.0"
sed -e "s/^port = .*/port = $PORT/" -e 's/^profile = abb_b23/profile = eastron_sdm630/' \
	-e 's/^unit = 99/unit = 2/' "$GW_TMP/gw.ini" >"$GW_TMP/inf.ini"
"$GW_BUILD/gwctl" read -c "$GW_TMP/inf.ini" ghost >"$GW_TMP/gwctl-inf.out" 2>&1
check_eq "$?/$(grep -c '^# 1.8.0: bad value: float32 +inf$' "$GW_TMP/gwctl-inf.out")/$(grep -c '^1\.8\.0 ' "$GW_TMP/gwctl-inf.out")" "0/1/0" \
	"gwctl read: a bad value is shown as a comment under the readings, not as a reading"
"$GW_BUILD/gwctl" read -c "$GW_TMP/inf.ini" ghost --tsv >"$GW_TMP/gwctl-inf.tsv" 2>"$GW_TMP/gwctl-inf.err"
check_eq "$(grep -c '^1\.8\.0' "$GW_TMP/gwctl-inf.tsv")/$(grep -c 'meter ghost: register 1.8.0: bad value (float32 +inf)' "$GW_TMP/gwctl-inf.err")" \
	"0/1" "gwctl read --tsv: the bad value goes to stderr, the TSV holds readings only"

# ---- a DST day: Europe/Berlin, 2026-03-29 has 23 hours -----------------
# Start at local midnight 2026-03-28 (23:00Z); now = 2026-03-30 02:00 CEST
# (00:00Z) = 47 simulated hours later.
start_sim dst --meters 2 --profile abb_b23 --tz Europe/Berlin \
	--clock-anchor "$(anchor_ago 169200)" --clock-start 2026-03-27T23:00:00Z \
	--clock-speed 1
"$SIM" --profiles-dir "$PROF" --profile abb_b23 --meters 2 --tz Europe/Berlin \
	--clock-start 2026-03-27T23:00:00Z --print-expected 2026-03-29 \
	>"$GW_TMP/dst.tsv"
check_eq "$(awk '$1 == 2 { print $2 }' "$GW_TMP/dst.tsv")" "4800" \
	"print-expected: the 23-hour day still has a 16-hour window (16*300 Wh)"
"$READ" 127.0.0.1 "$PORT" "$PROF/abb_b23.prof" 2 >"$GW_TMP/dst.out" 2>&1
check_eq "$(it_value "$GW_TMP/dst.out" 2 1.8.0)" "$((2000000 + 2 * 4800))" \
	"driver: after two local days (one of 23 h) 1.8.0 = 2e6 + 2*16*P_u Wh"

# ---- faults on TCP (metersim --fault), counted per kind -------------------
start_sim faults --meters 5 --profile abb_b23 --fault 1:wrongunit --fault 2:short \
	--fault 3:crc --fault 4:exception --fault 5:exception:2 \
	--clock-anchor "$(anchor_ago 93600)" --clock-start 2026-01-01T00:00:00Z \
	--clock-speed 1
"$READ" 127.0.0.1 "$PORT" "$PROF/abb_b23.prof" 1 2 3 4 5 >"$GW_TMP/faults.out" 2>&1
fl() { awk -F'\t' -v u="$1" '$1 == u && ($2 == "error" || $2 == "faults") { print $3 }' "$GW_TMP/faults.out" | tr '\n' '/'; }
check_eq "$(fl 1)" "malformed or unexpected reply/crc=0 malformed=6 wrong_unit=6 illegal_address=0 busy=0/" \
	"driver TCP: a reply from another unit id is refused (libmodbus 3.1.6 does not check it on TCP)"
check_eq "$(fl 2)" "malformed or unexpected reply/crc=0 malformed=6 wrong_unit=0 illegal_address=0 busy=0/" \
	"driver TCP: a short reply is malformed"
check_eq "$(fl 3)" "malformed or unexpected reply/crc=0 malformed=6 wrong_unit=0 illegal_address=0 busy=0/" \
	"driver TCP: the crc fault (bad protocol id on TCP) is malformed"
check_eq "$(fl 4)" "device answered with an exception/crc=0 malformed=0 wrong_unit=0 illegal_address=0 busy=3/" \
	"driver TCP: 'device busy' exceptions counted"
check_eq "$(fl 5 | cut -d/ -f2 | sed 's/illegal_address=[1-9][0-9]*/illegal_address=N/')" \
	"crc=0 malformed=0 wrong_unit=0 illegal_address=N busy=0" "driver TCP: 'illegal data address' exceptions counted"

# ---- replies that cannot lie: duplicates and late answers ---------------
# A profile of two registers in two requests of the same size, far apart:
# a reply to the first request, taken for the second's, would decode as a
# perfectly plausible 2.8.0 (the 1.8.0 value). Unit 2 answers every request
# twice; unit 3's answers come late (after the driver gave up on them, just
# before the next reply on the connection). Each reply is matched by
# transaction id, unit id and function; the others are discarded and
# counted for the meter they were meant for, at its next read.
cat >"$GW_TMP/two.prof" <<'PROF'
[profile]
name = two
[register 1.8.0]
function = 3
address = 0
type = uint32
unit = Wh
[register 2.8.0]
function = 3
address = 0x100
type = uint32
unit = Wh
PROF
start_sim lie --meters 3 --profile "$GW_TMP/two.prof" --fault 2:twice --fault 3:late \
	--clock-anchor "$(anchor_ago 93600)" --clock-start 2026-01-01T00:00:00Z \
	--clock-speed 1
IT_LOG_LEVEL=warn "$READ" 127.0.0.1 "$PORT" "$GW_TMP/two.prof" 1 2 3 1 2 3 2 >"$GW_TMP/lie.out" 2>&1
# per_read UNIT KIND: that unit's lines of that kind, one per read, joined
per_read() { awk -F'\t' -v u="$1" -v k="$2" '$1 == u && $2 == k { print $3 }' "$GW_TMP/lie.out" | tr '\n' ' '; }
check_eq "$(per_read 1 1.8.0)/$(per_read 1 2.8.0)" "1004000 1004000 /0 0 " \
	"TCP, no lies: unit 1 1.8.0 and 2.8.0 right in both reads, with unit 3's late answers in between"
check_eq "$(per_read 2 1.8.0)/$(per_read 2 2.8.0)" "2004800 2004800 2004800 /0 0 0 " \
	"TCP, no lies: unit 2, which answers twice, is right in all three reads (its copies are never taken for 2.8.0)"
check_eq "$(per_read 3 error)" "timed out timed out " "TCP: unit 3's late answers are never taken: its reads time out"
check_eq "$(per_read 2 matching)" "stale=1 unknown_exc=0 bad=0 stale=2 unknown_exc=0 bad=0 stale=2 unknown_exc=0 bad=0 " \
	"TCP: unit 2's copies are counted as its stale replies (a copy found by unit 3's read comes with unit 2's next read)"
check_eq "$(per_read 3 matching)" "stale=0 unknown_exc=0 bad=0 stale=1 unknown_exc=0 bad=0 " \
	"TCP: unit 3's late answer, found in unit 1's read, is counted for unit 3"
check_eq "$(per_read 1 matching)" "stale=0 unknown_exc=0 bad=0 stale=0 unknown_exc=0 bad=0 " \
	"TCP: unit 1, which answers right, has no stale replies"
check_eq "$(per_read 2 stats)" "requests=2 timeouts=0 exceptions=0 requests=2 timeouts=0 exceptions=0 requests=2 timeouts=0 exceptions=0 " \
	"TCP: a stale reply costs no request: the awaited reply still comes"
check_eq "$(grep -c "unit 2 on bus it): 1 replies discarded that answered another request" "$GW_TMP/lie.out")" 1 \
	"TCP: the first stale reply of unit 2 is logged once, as a warning"
check_eq "$(grep -c 'connection [0-9]* accepted' "$GW_TMP/lie.log")" 1 "TCP: all of it on one connection"

# ---- exception codes: each one affects its meter, this read ----------------
# 0x0B (gateway target), 0x0A (gateway path), 0x12 and 0x09 (not defined by
# Modbus): one request each, no reconnect, the meters beside them are read.
start_sim exc --meters 5 --profile abb_b23 --fault 2:exception:11 --fault 3:exception:10 \
	--fault 4:exception:18 --fault 5:exception:9 \
	--clock-anchor "$(anchor_ago 93600)" --clock-start 2026-01-01T00:00:00Z \
	--clock-speed 1
IT_LOG_LEVEL=warn "$READ" 127.0.0.1 "$PORT" "$PROF/abb_b23.prof" 1 2 3 4 5 1 >"$GW_TMP/exc.out" 2>&1
ex() { awk -F'\t' -v u="$1" '$1 == u && ($2 == "stats" || $2 == "matching") { print $3 }' "$GW_TMP/exc.out" | tr '\n' '/'; }
for u in 2 3; do
	check_eq "$(ex $u)" "requests=1 timeouts=0 exceptions=1/stale=0 unknown_exc=0 bad=0/" \
		"TCP: unit $u's gateway exception costs one request"
done
for u in 4 5; do
	check_eq "$(ex $u)" "requests=1 timeouts=0 exceptions=1/stale=0 unknown_exc=1 bad=0/" \
		"TCP: unit $u's undefined exception code costs one request and is counted as unknown"
done
check_eq "$(awk -F'\t' '$1 == 1 && $2 == "1.8.0" { print $3 }' "$GW_TMP/exc.out" | tr '\n' ' ')" \
	"1004000 1004000 " "TCP: unit 1 is read before and after them"
check_eq "$(grep -c 'connection [0-9]* accepted' "$GW_TMP/exc.log")" 1 \
	"TCP: no exception closes the connection (one connection for all six reads)"
for want in "unit 2 on bus it): read failed: device answered with an exception: exception 0x0B (gateway target failed to respond)" \
	"unit 4 on bus it): read failed: device answered with an exception: exception 0x12 (not defined by Modbus)" \
	"unit 5 on bus it): read failed: device answered with an exception: exception 0x09 (not defined by Modbus)"; do
	check_eq "$(grep -cF "$want" "$GW_TMP/exc.out")" 1 "TCP: warned once: ...${want#*read failed: }"
done

# counter wrap and meter replacement, switched on while running
start_sim wrap --meters 2 --profile carlogavazzi_em24 --control "$GW_TMP/wrap.ctl" \
	--clock-anchor "$(anchor_ago 93600)" --clock-start 2026-01-01T00:00:00Z \
	--clock-speed 1
echo "1:wrap:500" >"$GW_TMP/wrap.ctl"
echo "2:replaced" >"$GW_TMP/wrap.ctl"
wait_for 5 grep -q "fault 2:replaced" "$GW_TMP/wrap.log"
"$READ" 127.0.0.1 "$PORT" "$PROF/carlogavazzi_em24.prof" 1 2 >"$GW_TMP/wrap.out" 2>&1
v1=$(it_value "$GW_TMP/wrap.out" 1 1.8.0)
v2=$(it_value "$GW_TMP/wrap.out" 2 1.8.0)
if [ -n "$v1" ] && [ "$v1" -gt 1000000 ]; then
	ok "wrap: unit 1's 1.8.0 sits just below the register's rollover ($v1 Wh)"
else
	not_ok "wrap: unit 1's 1.8.0 sits just below the register's rollover (got '$v1')"
fi
check_eq "$v2" "0" "replaced: unit 2's 1.8.0 starts again at 0 Wh (night: no consumption yet)"

# ---- gwctl scan over TCP, and bad input --------------------------------
"$GW_BUILD/gwctl" scan --tcp "127.0.0.1:$PORT" --to 5 --register 0x5000 >"$GW_TMP/scan.out" 2>&1
check_eq "$?/$(grep -v '^#' "$GW_TMP/scan.out" | cut -f1 | tr '\n' ' ')" "0/1 2 " \
	"gwctl scan --tcp: units 1 and 2 answer, 3..5 do not (gateway target exception)"
"$GW_BUILD/gwctl" scan --tcp "127.0.0.1:$PORT" --from 10 --to 12 >/dev/null 2>&1
check_eq "$?" "1" "gwctl scan: exit 1 when no unit answers"
for bad in "--to 300" "--from 5 --to 4" "--function 6" "--timeout-ms 0" \
	"--tcp :502" "--rtu /dev/null --tcp 127.0.0.1:1" "" "--tcp 127.0.0.1:1 extra"; do
	# shellcheck disable=SC2086
	"$GW_BUILD/gwctl" scan $bad >/dev/null 2>&1
	check_eq "$?" "2" "gwctl scan $bad: usage error, exit 2"
done
"$GW_BUILD/gwctl" scan -c "$GW_TMP/gw.ini" nosuchbus >"$GW_TMP/scan.err" 2>&1
check_eq "$?/$(grep -c "no Modbus bus 'nosuchbus'" "$GW_TMP/scan.err")" "1/1" \
	"gwctl scan -c: an unknown bus is named, exit 1"

# ---- metersim: bad fault specs are refused ------------------------------
for bad in "3" "0:noanswer" "248:crc" "x:crc" "3:explode" "3:slow" "3:slow:0" \
	"3:exception:0" "3:noanswer:5" "3:wrap:-1" "3:twice:2" "3:inf:1"; do
	"$SIM" --tcp 127.0.0.1:1 --meters 3 --profile abb_b23 --profiles-dir "$PROF" \
		--fault "$bad" >"$GW_TMP/badfault.out" 2>&1
	check_eq "$?/$(grep -c "fault '$bad'" "$GW_TMP/badfault.out")" "2/1" \
		"metersim --fault $bad: refused with a message, exit 2"
done
"$SIM" --rtu /dev/null --meters 3 --profile abb_b23 --profiles-dir "$PROF" \
	--fault 3:late >"$GW_TMP/badfault.out" 2>&1
check_eq "$?/$(grep -c "late is for --tcp" "$GW_TMP/badfault.out")" "2/1" \
	"metersim --rtu --fault 3:late: refused (RTU has no transaction ids)"
"$SIM" --tcp 127.0.0.1:1 --meters 1 --profile abb_b23 --profiles-dir "$PROF" --pace \
	>/dev/null 2>&1
check_eq "$?" "2" "metersim --pace without --rtu: exit 2"
"$SIM" --tcp 127.0.0.1:1 --meters 1 --profile abb_b23 --profiles-dir "$PROF" \
	--control "$GW_TMP/gw.ini" >"$GW_TMP/badctl.out" 2>&1
check_eq "$?/$(grep -c 'not a FIFO' "$GW_TMP/badctl.out")" "1/1" \
	"metersim --control on a regular file: refused"

# ---- stopping --------------------------------------------------------
pid=$(cat "$GW_TMP/dst.pid")
kill -TERM "$pid"
if wait_pid_exit 5 "$pid"; then
	ok "metersim stops on SIGTERM"
else
	not_ok "metersim stops on SIGTERM"
fi
check_eq "$(test -e "$GW_TMP/dst.pid" && echo present || echo removed)" "removed" \
	"metersim removes its pidfile on exit"

finish
