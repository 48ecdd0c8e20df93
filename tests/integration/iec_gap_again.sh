#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/iec_gap_again.sh - an IEC meter whose load profile
# cannot be read (a wrong BCC in every profile answer) answers again after
# a gap, is asked for its profile once, and goes silent again before the
# next try: when it answers after the second gap, the first gap is said
# to be given up (not dropped without a word) and the second is asked
# for. At a clock 20 times real time: a silence is 4 minutes of the
# gateway's clock (12.5 s), and the second silence begins as soon as the
# log shows the first try.
. "$(dirname "$0")/../lib.sh"

if ! command -v socat >/dev/null; then
	not_ok "socat is installed (apt-get install socat)"
	finish
fi
socat pty,raw,echo=0,link="$GW_TMP/sim" pty,raw,echo=0,link="$GW_TMP/gw" \
	2>"$GW_TMP/socat.log" &
track_pid $!
wait_for 10 test -e "$GW_TMP/gw"

clock=(--clock-anchor now --clock-start 2026-03-01T03:00:00Z --clock-speed 20)
echo "1001 lp-bcc" >"$GW_TMP/faults"
start_metersim sim --iec "$GW_TMP/sim" --addresses 1001 --mode fixed --baud 9600 \
	--reaction-ms 20 --tz Asia/Ho_Chi_Minh --load-profile --faults "$GW_TMP/faults" \
	"${clock[@]}" || { not_ok "metersim serves an IEC meter"; finish; }

cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = sub-gap
timezone = Asia/Ho_Chi_Minh
spool_dir = spool
poll_interval = 1m
retry_backoff_max = 1

[bus rs485]
type = iec62056-21
device = $GW_TMP/gw
mode = fixed
baud = 9600
timeout_ms = 1000
byte_timeout_ms = 300
backfill_after = 3m

[meter EL0001]
bus = rs485
address = 1001
INI
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" 2>"$GW_TMP/gatewayd.log" &
track_pid $!
log=$GW_TMP/gatewayd.log
wait_health 60 "$GW_TMP/spool" online EL0001 || { not_ok "the meter is read"; finish; }

# silent for 4 minutes of the gateway's clock (12 s), longer than
# backfill_after, then back
echo "* silent" >"$GW_TMP/faults"
sleep 12.5
echo "1001 lp-bcc" >"$GW_TMP/faults"
if wait_for 120 grep -q 'meter EL0001: gap .* wrong BCC .*tried again at the next read' "$log"; then
	ok "the first gap is asked for once and fails (wrong BCC)"
else
	not_ok "the first gap is asked for once and fails (wrong BCC)"
fi
echo "* silent" >"$GW_TMP/faults"
gap1=$(grep -m1 -o 'meter EL0001: gap [^ ]* \.\. [^ ]*' "$log")
# silent again for longer than backfill_after, then back
sleep 12.5
echo "1001 lp-bcc" >"$GW_TMP/faults"
wait_for 120 grep -q 'went silent again' "$log"
check_eq "$(grep -c "$gap1 not filled from its load profile: it went silent again before another try; given up, its days stay estimated" "$log")" 1 \
	"the first gap is given up, in one line naming it, when a second gap begins"
check_eq "$(grep -c 'asking for its load profile' "$log")" 2 "the meter answered again after two gaps"
second() { grep 'meter EL0001: gap .* wrong BCC' "$log" | grep -v -F "$gap1"; }
if wait_for 60 second; then
	ok "the second gap is asked for ($(second | head -1 | grep -o 'gap [^ ]* \.\. [^ ]*'))"
else
	not_ok "the second gap is asked for"
fi
grep 'gap\|answers again' "$log" | sed 's/^/# /'
finish
