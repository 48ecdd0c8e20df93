#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/systemd_notify.sh - gatewayd under Type=notify, with a
# listener (notify_listen.py) in systemd's place on $NOTIFY_SOCKET: READY=1
# once it runs, STATUS= lines, WATCHDOG=1 again and again while every
# thread makes progress, STOPPING=1 at SIGTERM; and when one thread hangs
# (a poll worker, the uploader: GATEWAYD_TEST_STALL, heartbeat.h) the
# pings stop and the log names the thread once.
. "$(dirname "$0")/../lib.sh"

zone=Asia/Ho_Chi_Minh
port=$(free_port)
start_metersim sim --tcp "127.0.0.1:$port" --meters 1 --first-unit 1 \
	--profile abb_b23 --profiles-dir "$GW_TOP/profiles" --tz "$zone" ||
	{ not_ok "metersim did not start"; finish; }

# conf SPOOL [DATABASE-SECTION]: one meter polled every simulated minute
# (a real second at 60x); a thread without progress for 2 s is stuck.
conf() {
	printf '[gateway]\nid = sub-n\ntimezone = %s\nspool_dir = %s\nprofiles_dir = %s\n' \
		"$zone" "$1" "$GW_TOP/profiles"
	printf 'poll_interval = 60\nstall_after = 2s\n'
	printf '%b' "${2:-}"
	printf '[bus b]\ntype = modbus-tcp\nhost = 127.0.0.1\nport = %s\ntimeout_ms = 300\n' "$port"
	printf '[meter M1]\nbus = b\nunit = 1\nprofile = abb_b23\n'
}

# listen NAME ADDRESS: a listener on ADDRESS writing $GW_TMP/NAME.msgs.
listen() {
	python3 "$GW_TOP/tests/integration/notify_listen.py" "$2" "$GW_TMP/$1.msgs" &
	track_pid $!
	wait_for 10 test -e "$GW_TMP/$1.msgs" || { not_ok "listener $1 did not start"; finish; }
}
# count NAME MESSAGE: how many datagrams were exactly MESSAGE.
count() { awk -v m="$2" '{ $1 = ""; sub(/^ /, "") } $0 == m { n++ } END { print n + 0 }' "$GW_TMP/$1.msgs"; }
# gw NAME SPOOL ENV...: gatewayd on conf SPOOL at 60x, stderr to NAME.log,
# its pid in $gw.
gw() {
	local name=$1 spool=$2
	shift 2
	env "$@" "$GW_BUILD/gatewayd" -c "$GW_TMP/$name.ini" --clock-start 2026-03-01T05:00:00Z \
		--clock-speed 60 2>"$GW_TMP/$name.log" &
	gw=$!
	track_pid $gw
}
more_pings() { [ "$(count "$1" WATCHDOG=1)" -gt "$2" ]; }

# --- healthy: READY, STATUS, pings, STOPPING ---
listen ok "$GW_TMP/notify.sock"
conf "$GW_TMP/spool" >"$GW_TMP/ok.ini"
gw ok "$GW_TMP/spool" NOTIFY_SOCKET="$GW_TMP/notify.sock" WATCHDOG_USEC=1000000
if wait_for 60 grep -q ' READY=1$' "$GW_TMP/ok.msgs"; then
	ok "READY=1 once the gateway runs"
else
	not_ok "no READY=1: $(tail -3 "$GW_TMP/ok.log")"
fi
check_eq "$(test -s "$GW_TMP/spool/status" && test -s "$GW_TMP/spool/health" && echo recovered)" \
	recovered "at READY=1 the spool is recovered and its status written"
wait_health 30 "$GW_TMP/spool" online M1 || not_ok "M1 did not come online"
if wait_for 30 grep -q ' STATUS=1 bus polling, 1/1 meters online, last readings 2026-.*, spool backlog 0 batches, alarms: none$' "$GW_TMP/ok.msgs"; then
	ok "STATUS= says buses, meters online, the last readings, the backlog, the alarms"
else
	not_ok "STATUS= line: $(grep STATUS "$GW_TMP/ok.msgs" | tail -2)"
fi
n=$(count ok WATCHDOG=1)
if wait_for 10 more_pings ok $((n + 4)); then
	ok "WATCHDOG=1 again and again while healthy ($(count ok WATCHDOG=1) so far)"
else
	not_ok "WATCHDOG=1 not repeated ($(count ok WATCHDOG=1))"
fi
# Every 250 ms (a quarter of WATCHDOG_USEC), give or take a check period:
# never twice in one quarter, never a whole period missed.
gaps=$(awk '$2 == "WATCHDOG=1" { if (t) print $1 - t; t = $1 }' "$GW_TMP/ok.msgs" |
	awk '$1 < 0.2 || $1 > 1.0 { bad++ } END { print bad + 0 }')
check_eq "$gaps" 0 "pings a quarter of the watchdog period apart, none missing"
statuses=$(count ok READY=1)/$(grep -c ' STATUS=' "$GW_TMP/ok.msgs")
check_eq "${statuses%/*}" 1 "READY=1 is sent once"
# At most one every 5 s, but for an alarm raised or ended.
secs=$(awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%d", b - a }' "$GW_TMP/ok.msgs")
if [ "${statuses#*/}" -ge 2 ] && [ "${statuses#*/}" -le $((secs / 5 + 3)) ]; then
	ok "STATUS= as it changes, not flooding (${statuses#*/} lines in $secs s)"
else
	not_ok "STATUS= lines: ${statuses#*/} in $secs s"
fi
kill -TERM $gw
if wait_pid_exit 30 $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd stops at SIGTERM"
else
	not_ok "gatewayd did not stop at SIGTERM"
fi
check_eq "$(count ok STOPPING=1)" 1 "STOPPING=1 at SIGTERM"
check_eq "$(grep -c 'watchdog:' "$GW_TMP/ok.log")" 0 "no thread was taken for stuck"
ping_after=$(awk '$2 == "STOPPING=1" { s = 1; next } s && $2 == "WATCHDOG=1" { n++ } END { print n + 0 }' "$GW_TMP/ok.msgs")
check_eq "$ping_after" 0 "no WATCHDOG=1 after STOPPING=1"

# --- the abstract namespace; a watchdog meant for another process ---
listen abs "@gw-test-$$"
gw ok "$GW_TMP/spool" NOTIFY_SOCKET="@gw-test-$$" WATCHDOG_USEC=1000000 WATCHDOG_PID=1
if wait_for 60 grep -q ' READY=1$' "$GW_TMP/abs.msgs"; then
	ok "READY=1 through an abstract socket (@name)"
else
	not_ok "no READY=1 through @gw-test-$$: $(tail -3 "$GW_TMP/ok.log")"
fi
sleep 2
check_eq "$(count abs WATCHDOG=1)" 0 "no pings when WATCHDOG_PID names another process"
kill -TERM $gw
wait_pid_exit 30 $gw && wait $gw
check_eq "$(count abs STOPPING=1)" 1 "STOPPING=1 through an abstract socket"

# --- a poll worker that hangs ---
# stall NAME THREAD ENV...: gatewayd whose THREAD hangs 3 s after it
# started (GATEWAYD_TEST_STALL); the pings must stop and the log must name
# the thread once.
stall() {
	local name=$1 thread=$2 n
	shift 2
	listen "$name" "$GW_TMP/$name.sock"
	gw "$name" "$GW_TMP/spool-$name" NOTIFY_SOCKET="$GW_TMP/$name.sock" WATCHDOG_USEC=1000000 \
		GATEWAYD_TEST_STALL="$thread" "$@"
	wait_for 60 grep -q ' READY=1$' "$GW_TMP/$name.msgs" ||
		{ not_ok "$name: no READY=1: $(tail -3 "$GW_TMP/$name.log")"; return; }
	if wait_for 10 more_pings "$name" 2; then
		ok "$name: pings while every thread runs"
	else
		not_ok "$name: no pings before the hang"
	fi
	if wait_for 30 grep -q "watchdog: the $thread thread has made no progress" "$GW_TMP/$name.log"; then
		ok "$name: the stuck thread is named: $(grep -o "watchdog: the $thread thread.*" "$GW_TMP/$name.log" | head -1)"
	else
		not_ok "$name: stuck thread not logged: $(tail -3 "$GW_TMP/$name.log")"
	fi
	n=$(count "$name" WATCHDOG=1)
	sleep 3 # twelve ping periods
	check_eq "$(count "$name" WATCHDOG=1)" "$n" "$name: no WATCHDOG=1 while the $thread thread hangs"
	check_eq "$(grep -c 'watchdog: the' "$GW_TMP/$name.log")" 1 "$name: the stuck thread is logged once"
	pid_alive $gw && ok "$name: the gateway still runs (systemd would restart it)" ||
		not_ok "$name: the gateway ended"
	kill -KILL $gw
	wait $gw 2>/dev/null
}
conf "$GW_TMP/spool-worker" >"$GW_TMP/worker.ini"
stall worker "bus b"
# The uploader: a database that cannot be reached keeps it passing and
# backing off; it hangs in the middle of that.
conf "$GW_TMP/spool-upload" "[database]\nconninfo = host=$GW_TMP/no-such-dir port=5 dbname=meters connect_timeout=1\nupload_interval = 1\nretry_max = 1\nstall_after = 1s\n" \
	>"$GW_TMP/upload.ini"
stall upload upload
finish
