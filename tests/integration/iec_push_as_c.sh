#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/iec_push_as_c.sh - a push (mode D) meter on a bus
# configured for mode C: its telegram has no STX ... ETX block. `gwctl read
# --trace` ends with a verdict line, and the error says the meter looks
# like a push meter (mode = d). A mode C meter whose block is cut short
# gets a verdict line too, without the hint.
. "$(dirname "$0")/../lib.sh"

SIM=$GW_BUILD/metersim
GWCTL=$GW_BUILD/gwctl
if ! command -v socat >/dev/null; then
	not_ok "socat is installed (apt-get install socat)"
	finish
fi

# pty_pair NAME: socat pty pair $GW_TMP/NAME.sim <-> $GW_TMP/NAME.gw
pty_pair() {
	rm -f "$GW_TMP/$1.sim" "$GW_TMP/$1.gw"
	socat pty,raw,echo=0,link="$GW_TMP/$1.sim" pty,raw,echo=0,link="$GW_TMP/$1.gw" \
		2>>"$GW_TMP/socat.log" &
	track_pid $!
	wait_for 10 test -e "$GW_TMP/$1.gw"
}
# start_sim NAME ARGS...: metersim --iec on $GW_TMP/NAME.sim
start_sim() {
	local name=$1
	shift
	"$SIM" --iec "$GW_TMP/$name.sim" --tz Asia/Ho_Chi_Minh \
		--ready-file "$GW_TMP/$name.ready" "$@" 2>>"$GW_TMP/$name.log" &
	track_pid $!
	wait_for 10 test -e "$GW_TMP/$name.ready"
}

pty_pair push && start_sim push --mode d --baud 9600 --push-ms 300 --addresses 99 ||
	not_ok "metersim pushes on a pty"
pty_pair quiet && start_sim quiet --addresses 55555555 --faults "$GW_TMP/faults" ||
	not_ok "metersim serves a mode C meter on a pty"
cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = sub-iec
timezone = Asia/Ho_Chi_Minh
spool_dir = spool

[bus line]
type = iec62056-21
device = $GW_TMP/push.gw
timeout_ms = 1000
byte_timeout_ms = 300

[meter PUSH01]
bus = line
address = -

[bus line2]
type = iec62056-21
device = $GW_TMP/quiet.gw
timeout_ms = 1000
byte_timeout_ms = 300

[meter EL0005]
bus = line2
address = 55555555
INI

"$GWCTL" read -c "$GW_TMP/gw.ini" PUSH01 --trace "$GW_TMP/trace" >"$GW_TMP/r.out" 2>&1
check_eq "$?:$(cat "$GW_TMP/r.out")" \
	"1:gwctl read: meter PUSH01 (no address (mode C broadcast /?!) on bus line): malformed or unexpected reply: no STX/ETX block; a push meter? (mode = d)" \
	"the error names the meter without an address and hints at mode = d"
if grep -q '# rejected: data without STX ... ETX, sent unasked: the meter looks like a push meter (mode = d on its bus)' "$GW_TMP/trace"; then
	ok "--trace has the verdict and the push hint"
else
	not_ok "--trace has the verdict and the push hint"
	sed 's/^/#   /' "$GW_TMP/trace" | tail -8
fi

# A mode C meter whose data block is cut short.
echo "55555555 cut" >"$GW_TMP/faults"
"$GWCTL" read -c "$GW_TMP/gw.ini" EL0005 --trace "$GW_TMP/trace2" >"$GW_TMP/r2.out" 2>&1
check_eq "$?:$(cat "$GW_TMP/r2.out")" \
	"1:gwctl read: meter EL0005 (address '55555555' on bus line2): malformed or unexpected reply" \
	"a block cut short: no push hint"
if grep -q '# rejected: the data block has no ETX and BCC (cut short)' "$GW_TMP/trace2"; then
	ok "--trace of a block cut short has a verdict"
else
	not_ok "--trace of a block cut short has a verdict"
	sed 's/^/#   /' "$GW_TMP/trace2" | tail -8
fi
finish
