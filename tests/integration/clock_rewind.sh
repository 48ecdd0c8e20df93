#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/clock_rewind.sh - a spool a wrong clock moved forward
# is recovered by `gwctl clock rewind` without losing a reading.
#
# The damage is made the way it happens: a gateway boots with its clock
# 300 days ahead and an operator wrongly confirms it (gwctl clock trust),
# so that it seals every day up to the false date, real days early and a
# false day with readings; one false batch is then taken as uploaded, and
# the state loses its "seen" line as a spool of the version before clock
# checks had none. With the right clock the gateway holds (the spool has
# sealed days the clock has not reached), keeps collecting, refuses `gwctl
# clock trust`, and `gwctl clock rewind` refuses while it runs. Stopped,
# the rewind sets the spool back; started again, the gateway seals the real
# day anew, exactly, with every reading it ever took by a right clock.
. "$(dirname "$0")/../lib.sh"

zone=Asia/Ho_Chi_Minh
speed=8640
sim_args=(--meters 2 --profile abb_b23 --profiles-dir "$GW_TOP/profiles" --tz "$zone")
start=2026-03-02T14:00:00Z # 21:00 local
clock=(--clock-anchor "@$GW_TMP/anchor" --clock-start "$start" --clock-speed "$speed")
port=$(free_port)
start_metersim sim --tcp "127.0.0.1:$port" "${sim_args[@]}" "${clock[@]}" ||
	{ not_ok "metersim starts"; finish; }
S=$GW_TMP/spool
cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = sub-r
timezone = $zone
spool_dir = spool
profiles_dir = $GW_TOP/profiles
poll_interval = 15m

[clock]
max_jump = 1d

[bus b]
type = modbus-tcp
host = 127.0.0.1
port = $port
timeout_ms = 300

[meter M1]
bus = b
unit = 1
profile = abb_b23

[meter M2]
bus = b
unit = 2
profile = abb_b23
INI
status() { sed -n "s/^$1=//p" "$S/status" 2>/dev/null; }
days_in() { ls "$S/$1" 2>/dev/null | grep '\.gwb$' | sed -E 's/^.*_([0-9-]+)_r[0-9]+\.gwb$/\1/' | sort -u | tr '\n' ' '; }
ms() { date -d "$1" +%s000; }
simnow() { # the true (simulated) time now
	python3 -c 'import sys, time, datetime as d
a, s, x = float(sys.argv[1]), sys.argv[2], float(sys.argv[3])
t = d.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=d.timezone.utc)
print((t + d.timedelta(seconds=(time.time() - a) * x)).strftime("%Y-%m-%dT%H:%M:%SZ"))' \
		"$anchor" "$start" "$speed"
}

# the clocks stand at 21:00 until the meters have been polled once
gatewayd_released "$GW_TMP/anchor" "$S" "$GW_TMP/run1.log" M1 M2 -- \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" --stop-at 2026-03-02T18:00:00Z ||
	{ not_ok "the meters are polled"; finish; }
clock=(--clock-anchor "$anchor" --clock-start "$start" --clock-speed "$speed")
wait $gw_pid
check_eq "$?/$(days_in ready)" "0/2026-03-02 " "a first run seals 2026-03-02 by a right clock"

# The clock boots 300 days ahead: about 21:30 local on 2026-12-27, and
# 01:00 on 2026-12-28 at 3.3 s after the anchor, when the operator
# confirms it: the old behaviour, on purpose.
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" --clock-anchor "$anchor" --clock-start 2026-12-27T10:00:00Z \
	--clock-speed "$speed" 2>"$GW_TMP/run2.log" &
gw=$!
track_pid $gw
wait_for 10 grep -q '^clock=ahead' "$S/status" || not_ok "the jumped clock is held"
sleep_until "$anchor" 3.3
"$GW_BUILD/gwctl" clock trust "$S" >/dev/null
# the false day 2026-12-27 is sealed (until 00:30 local on 2026-12-29,
# 13 s after the anchor, nothing else)
wait_for 15 sh -c "ls '$S/ready' | grep -q _2026-12-27_" ||
	not_ok "the confirmed wrong clock seals its false day"
kill -TERM $gw
wait $gw
next=$(sed -n 's/^next_day=//p' "$S/state")
case "$next" in
2026-12-2[89]) ok "the spool is moved forward: next_day=$next" ;;
*) not_ok "state: $(cat "$S/state")" ;;
esac
case "$(days_in ready)" in
"2026-03-02 2026-03-03 "*2026-12-27*) ok "real days sealed early and false days sealed ($(ls "$S/ready" | wc -l) batches)" ;;
*) not_ok "batches: $(days_in ready)" ;;
esac
# one false day was uploaded; the state has no "seen" (the version before)
mv "$S"/ready/sub-r_2026-12-27_r0.gwb "$S/done/"
sed -i '/^seen=/d' "$S/state"

# The clock is right: held, the spool needs a rewind.
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" 2>"$GW_TMP/run3.log" &
gw=$!
track_pid $gw
wait_for 10 grep -q '^clock=behind' "$S/status" &&
	ok "with the right clock the gateway holds: the spool has sealed days the clock has not reached" ||
	not_ok "run 3 clock: $(status clock)"
"$GW_BUILD/gwctl" status "$S" | grep -q "stop gatewayd and run gwctl clock rewind" &&
	ok "gwctl status says to run gwctl clock rewind" ||
	not_ok "gwctl status: $("$GW_BUILD/gwctl" status "$S" | grep clock)"
"$GW_BUILD/gwctl" clock trust "$S" >"$GW_TMP/trust.out" 2>&1
check_eq "$?" 1 "gwctl clock trust is refused: trusting the clock would drop every reading as late"
grep -q "gwctl clock rewind" "$GW_TMP/trust.out" && ok "and says why" ||
	not_ok "trust refusal: $(cat "$GW_TMP/trust.out")"
"$GW_BUILD/gwctl" clock rewind -c "$GW_TMP/gw.ini" --now "$(simnow)" >"$GW_TMP/busy.out" 2>&1
rc=$?
check_eq "$rc/$(grep -c 'runs on .*stop it first' "$GW_TMP/busy.out")" "1/1" \
	"gwctl clock rewind refuses while gatewayd runs on the spool"
wait_for 10 sh -c "[ \"\$(sed -n 's/^clock_withheld=//p' '$S/status')\" -gt 20 ]" &&
	ok "the gateway keeps collecting meanwhile (readings journaled, kept out of days)" ||
	not_ok "withheld: $(status clock_withheld)"
# A second gatewayd on the same spool is refused.
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" 2>"$GW_TMP/second.log"
check_eq "$?/$(grep -c 'is in use by process' "$GW_TMP/second.log")" "1/1" \
	"a second gatewayd on the same spool is refused"
# it collects on past midnight (00:36 local on 2026-03-04, 11.5 s after
# the anchor): both midnights of 2026-03-03 are in what it took
sleep_until "$anchor" 11.5
kill -TERM $gw
wait $gw
check_eq "$(days_in ready | grep -c 2026-03-03)" 1 "nothing was sealed or dropped meanwhile"

now=$(simnow)
cp "$S/state" "$GW_TMP/state.before"
"$GW_BUILD/gwctl" clock rewind -c "$GW_TMP/gw.ini" --now "$now" --dry-run >"$GW_TMP/dry.out" 2>&1
check_eq "$?" 0 "gwctl clock rewind --dry-run"
cmp -s "$S/state" "$GW_TMP/state.before" && ok "a dry run changes nothing" || not_ok "the dry run changed the state"
grep -q "days sealed again from 2026-03-03" "$GW_TMP/dry.out" &&
	ok "the plan seals again from the first day the wrong clock sealed (2026-03-03)" ||
	{ not_ok "plan"; sed 's/^/#   /' "$GW_TMP/dry.out"; }
grep -q "in the database already: sub-r_2026-12-27_r0.gwb" "$GW_TMP/dry.out" &&
	ok "the plan names the false day already in the database" || not_ok "uploaded false day not named"

# A batch that cannot give its readings back (emptied after upload by the
# size bound) is not sealed again: asked to, the rewind refuses.
cp -a "$S" "$GW_TMP/copy"
: >"$GW_TMP/copy/ready/sub-r_2026-03-03_r0.gwb"
sed "s|^spool_dir = spool|spool_dir = copy|" "$GW_TMP/gw.ini" >"$GW_TMP/copy.ini"
"$GW_BUILD/gwctl" clock rewind -c "$GW_TMP/copy.ini" --now "$now" --to 2026-03-03 \
	>"$GW_TMP/refused.out" 2>&1
rc=$?
check_eq "$rc/$(grep -c 'cannot be sealed again without losing readings' "$GW_TMP/refused.out")" "1/1" \
	"a day whose batch lost its readings is not sealed again: refused"
cmp -s "$GW_TMP/copy/state" "$S/state" && ok "and nothing changed" || not_ok "the refused rewind changed the state"

"$GW_BUILD/gwctl" clock rewind -c "$GW_TMP/gw.ini" --now "$now" >"$GW_TMP/rewind.out" 2>&1
check_eq "$?" 0 "gwctl clock rewind"
sed 's/^/# /' "$GW_TMP/rewind.out"
check_eq "$(sed -n 's/^next_day=//p' "$S/state")/$(sed -n 's/^seen=//p' "$S/state" | cut -c1-19)" \
	"2026-03-03/${now%Z}" "the state: next_day=2026-03-03, seen the time given"
check_eq "$(days_in ready)$(days_in done)" "2026-03-02 " "only the good day stays in ready/ and done/"
ls "$S"/quarantine/*.gwb.rewound >/dev/null 2>&1 && ok "each batch set aside has a note" || not_ok "no notes"
grep -q "it is in the database: remove it there" "$S/quarantine/sub-r_2026-12-27_r0.gwb.rewound" &&
	ok "the uploaded false day's note says to remove it from the database" || not_ok "note of the uploaded day"
"$GW_BUILD/gwctl" spool ls "$S" | grep -q "sub-r_2026-03-03_r0.gwb .*rewound: its day is sealed again" &&
	ok "gwctl spool ls shows why a batch was set aside" || not_ok "spool ls"
[ ! -e "$S/rewind" ] && ok "the rewind finished (no plan left)" || not_ok "plan file left"

# Started again with the right clock: the real day is sealed again.
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" --stop-at 2026-03-03T18:00:00Z 2>"$GW_TMP/run4.log"
check_eq "$?/$(status clock)" "0/trusted" "after the rewind the clock is trusted and the gateway runs"
check_eq "$(ls "$S/ready" | tr '\n' ' ')" "sub-r_2026-03-02_r0.gwb sub-r_2026-03-03_r1.gwb " \
	"2026-03-03 is sealed again as revision 1"
f=$S/ready/sub-r_2026-03-03_r1.gwb
for u in 1 2; do
	exp=$("$GW_BUILD/metersim" "${sim_args[@]}" "${clock[@]}" --print-expected 2026-03-03 |
		awk -v u=$u '$1 == u { print $2 }')
	got=$("$GW_BUILD/gwctl" spool dump "$f" | awk -F, -v m=M$u '$4 == m && $5 == "1.8.0" { print $8 }')
	check_eq "$got" "$exp" "M$u 2026-03-03 consumption exact after the rewind"
done
python3 "$GW_TOP/tests/integration/clock_readings.py" "$GW_BUILD/gwctl" "$S" "$zone" \
	"$(ms 2026-06-01)" rewound
finish
