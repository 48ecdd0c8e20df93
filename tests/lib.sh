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

# python3 is Debian's (/usr/bin/python3, which also has python3-pymodbus)
# for the scripts' checks and the .py helpers: a python3 found earlier in
# PATH, such as a version manager's shim, can take seconds to start on a
# loaded machine, which on an accelerated clock is hours. psql is the
# server's own (the PostgreSQL that tools/pgtmp.sh runs, PGBIN or 15 or
# the newest): Debian's /usr/bin/psql is a Perl wrapper that picks it,
# 0.35 s a start on a loaded machine against 0.1 s, and the scripts run
# hundreds.
if mkdir -p "$GW_TMP/bin"; then
	[ -x /usr/bin/python3 ] && ln -sf /usr/bin/python3 "$GW_TMP/bin/python3"
	# shellcheck disable=SC2012 # version numbers, as tools/pgtmp.sh
	for _gw_d in "${PGBIN:-}" /usr/lib/postgresql/15/bin \
		$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
		if [ -x "$_gw_d/psql" ]; then
			ln -sf "$_gw_d/psql" "$GW_TMP/bin/psql"
			break
		fi
	done
	PATH=$GW_TMP/bin:$PATH
fi

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

# sleep_until ANCHOR SECONDS: sleeps until SECONDS (real) after ANCHOR (a
# `date +%s.%N` time), at once if that has passed: on an accelerated clock,
# to act at a known simulated time.
sleep_until() {
	sleep "$(awk -v a="$1" -v s="$2" -v n="$(date +%s.%N)" 'BEGIN { d = a + s - n; print (d > 0 ? d : 0) }')"
}

# clock_release FILE: writes the real time now into FILE (through a
# rename), so that every process given `--clock-anchor @FILE` starts its
# simulated clock from this instant; until then their clocks stand at
# --clock-start. Start metersim and gatewayd, wait until they are ready
# (e.g. wait_health ... online), then release: a slow start on a loaded
# machine then costs no simulated time. Prints the anchor.
clock_release() {
	local a
	a=$(date +%s.%N)
	echo "$a" >"$1.tmp" && mv "$1.tmp" "$1" && echo "$a"
}

# gatewayd_released ANCHOR-FILE SPOOL LOG METER... -- COMMAND...: starts
# COMMAND (gatewayd given `--clock-anchor @ANCHOR-FILE`, perhaps through
# env) in the background with stderr to LOG, its pid in $gw_pid (tracked),
# waits until every METER is online in SPOOL/health (polled once, at the
# standing clock) and then releases the clock: $anchor is the instant.
# Returns 1 if the meters are not online within 60 s.
gatewayd_released() {
	local file=$1 spool=$2 log=$3 meters=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		meters+=("$1")
		shift
	done
	shift
	"$@" 2>"$log" &
	gw_pid=$!
	track_pid $gw_pid
	wait_health 60 "$spool" online "${meters[@]}" || return 1
	anchor=$(clock_release "$file")
}

# health_state SPOOL METER: the state gatewayd last wrote for METER into
# SPOOL/health (online, failing, offline, unread), or nothing.
health_state() {
	awk -F'\t' -v m="$2" '$1 == m { print $3 }' "$1/health" 2>/dev/null
}

# wait_health SECONDS SPOOL STATE METER...: waits until every METER is in
# STATE in SPOOL/health (gatewayd rewrites it on each offline or online
# event and every 10 s). Returns 1 if they are not within SECONDS.
wait_health() {
	local limit=$1 spool=$2 state=$3 m
	shift 3
	for m in "$@"; do
		wait_for "$limit" _health_is "$spool" "$m" "$state" || return 1
	done
}
_health_is() { [ "$(health_state "$1" "$2")" = "$3" ]; }

# upload_only_ini ID SPOOL CONNINFO [EXTRA-DATABASE-LINES]: a gateway
# configuration for tests of the upload side: one Modbus meter on a port
# where nothing listens (it is simply offline), the spool, the database.
upload_only_ini() {
	cat <<INI
[gateway]
id = $1
timezone = Asia/Ho_Chi_Minh
spool_dir = $2
profiles_dir = $GW_TOP/profiles

[database]
conninfo = $3
upload_interval = 1
${4:-}

[bus b]
type = modbus-tcp
host = 127.0.0.1
port = $(free_port)
timeout_ms = 200

[meter M1]
bus = b
unit = 1
profile = abb_b23
INI
}

# run_gatewayd CONFIG LOG SIMULATED-START SIMULATED-STOP [SPEED]: runs
# gatewayd on an accelerated clock (default 60x) to the stop time; not_ok
# if it does not stop within 90 s. The clock stands at the start until
# gatewayd has logged that it runs (a slow start costs no simulated time).
# Returns gatewayd's exit status.
run_gatewayd() {
	local gw n file
	file=$(mktemp -u "$GW_TMP/anchor.XXXXXX")
	n=$(_gw_started "$2")
	"$GW_BUILD/gatewayd" -c "$1" --clock-anchor "@$file" --clock-start "$3" \
		--clock-speed "${5:-60}" --stop-at "$4" 2>>"$2" &
	gw=$!
	track_pid $gw
	wait_for 60 _gw_running_or_gone "$2" "$n" $gw ||
		not_ok "gatewayd did not start within 60 s"
	clock_release "$file" >/dev/null
	if ! wait_pid_exit 90 $gw; then
		not_ok "gatewayd did not stop within 90 s"
		return 1
	fi
	wait $gw
}

# _gw_started LOG: how many times gatewayd logged in LOG that it runs.
_gw_started() {
	local c
	c=$(grep -c ' info: gateway .*: [0-9]* meters on [0-9]* buses' "$1" 2>/dev/null)
	echo "${c:-0}"
}
# _gw_running_or_gone LOG N PID: LOG has a start line more than N, or PID
# is gone (its exit status then tells).
_gw_running_or_gone() { [ "$(_gw_started "$1")" -gt "$2" ] || ! pid_alive "$3"; }

# fuzz_run WHAT TARGET SECONDS MAX_LEN SEED-DIR...: builds the libFuzzer
# targets (make fuzz-build) and runs build/fuzz/TARGET for SECONDS on a new
# corpus and the seeds; any crash, leak, undefined behaviour or timeout is
# a failure.
fuzz_run() {
	local what=$1 target=$2 secs=$3 maxlen=$4 rc runs
	shift 4
	if ! command -v "${FUZZ_CC:-clang}" >/dev/null; then
		not_ok "clang is installed (tools/deps.sh installs clang and libclang-rt-14-dev)"
		return
	fi
	# one build at a time in a build directory: fuzz tests may run side by
	# side (tests/run.sh); another tree's build is no reason to wait (nor
	# is a TMPDIR a test sets for its fuzzer)
	mkdir -p "$GW_BUILD/fuzz"
	if flock "$GW_BUILD/fuzz/build.lock" \
		make -C "$GW_TOP" --no-print-directory BUILD="$GW_BUILD" fuzz-build \
		>"$GW_TMP/build.log" 2>&1; then
		ok "the libFuzzer targets build (clang, ASan + UBSan)"
	else
		not_ok "the libFuzzer targets build"
		sed 's/^/#   /' "$GW_TMP/build.log" | tail -20
		return
	fi
	mkdir -p "$GW_TMP/corpus"
	(cd "$GW_TMP" && "$GW_BUILD/fuzz/$target" -max_total_time="$secs" \
		-max_len="$maxlen" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		"$GW_TMP/corpus" "$@" >"$GW_TMP/fuzz.log" 2>&1)
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$GW_TMP/fuzz.log")
	if [ "$rc" -eq 0 ] && ! grep -qE '^==[0-9]+==ERROR|runtime error|deadly signal|SUMMARY' "$GW_TMP/fuzz.log"; then
		ok "fuzzing $what for $secs s: no crash, leak or undefined behaviour (${runs:-?} inputs)"
	else
		not_ok "fuzzing $what (exit $rc)"
		grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$GW_TMP/fuzz.log" | head -10 | sed 's/^/#   /'
		ls "$GW_TMP"/crash-* "$GW_TMP"/leak-* 2>/dev/null | sed 's/^/#   /'
	fi
}

# midnight_quality SPOOL METER OBIS ZONE DAY TOLERANCE-S: the quality the
# batching core's rule gives METER's OBIS register on local DAY (YYYY-MM-DD
# in ZONE) from the reading times the spool holds (every batch of ready/
# and done/, and the journal): "measured" when a reading lies within the
# tolerance of both of the day's midnights, else "interpolated". On an
# accelerated clock a poll that a loaded machine delays by a few real
# milliseconds lands minutes of simulated time late; a test compares the
# quality in the batch with this rule instead of assuming every poll on
# time.
midnight_quality() {
	local spool=$1 f
	{
		for f in "$spool"/ready/*.gwb "$spool"/done/*.gwb; do
			[ -s "$f" ] && "$GW_BUILD/gwctl" spool dump --intervals "$f"
		done
		"$GW_BUILD/gwctl" spool journal "$spool"
	} 2>/dev/null | python3 -c '
import csv, sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo
meter, obis, zone, day, tol = sys.argv[1:6]
ts = []
for row in csv.reader(sys.stdin):
    if len(row) >= 5 and row[0] == "reading" and row[2] == meter and row[3] == obis:
        ts.append(int(row[4]))
    elif len(row) >= 3 and row[0] == meter and row[1] == obis:
        t = datetime.strptime(row[2], "%Y-%m-%dT%H:%M:%S.%fZ")
        ts.append(int(t.replace(tzinfo=timezone.utc).timestamp() * 1000))
d = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=ZoneInfo(zone))
mids = [int(x.timestamp() * 1000) for x in (d, (d + timedelta(days=1, hours=3)).replace(hour=0))]
near = all(any(abs(t - m) <= int(tol) * 1000 for t in ts) for m in mids)
print("measured" if near else "interpolated")
' "$2" "$3" "$4" "$5" "$6"
}

# paced_speed SPEED [cycles]: sets $speed, the simulated clock's speed of
# this try of the script: SPEED, halved on each try again (GW_PACE_TRY, at
# most GW_PACE_TRIES more, default 2). A script on an accelerated clock
# needs the machine to keep up with it: on a loaded machine the gateway
# falls behind a fast clock and skips the poll times a late or long cycle
# passed over (by design, and it says so: poll_skipped.BUS in
# <spool>/status, a warning "poll cycle overran"), and a script's own
# steps take longer in simulated time. A check that needs the machine to
# keep up reports its failure with paced_not_ok; with "cycles" (a script
# that counts every poll cycle of a day) a poll time skipped (gw_skipped)
# is such a failure too. finish then sets this try's checks aside
# (printed as comments) and runs the script again on a clock half as
# fast; on the last try they are failures. No check is loosened: each is
# judged on a run that kept up with its clock. Limits on real time scale
# with paced_s.
paced_speed() {
	_gw_try=${GW_PACE_TRY:-0}
	_gw_pace_cycles=${2:-}
	speed=$(($1 >> _gw_try))
	if [ "$_gw_try" -lt "${GW_PACE_TRIES:-2}" ]; then
		exec 3>&1 >"$GW_TMP/try.out"
		_gw_held=1
	fi
}

# paced_s SECONDS: real seconds on this try's clock that are SECONDS on the
# clock of the first try (doubled on each try, as the clock is halved):
# a limit on real time, or a time after the anchor for sleep_until.
paced_s() { awk -v s="$1" -v t="${_gw_try:-0}" 'BEGIN { print s * 2 ^ t }'; }

# gw_skipped: prints what the gateways of this script reported of poll
# times skipped (the poll_skipped.BUS lines above 0 of every status file
# under $GW_TMP, the first warning "poll cycle overran" of their logs: a
# reload restarts the counts); 1 if they skipped none.
gw_skipped() {
	{
		find "$GW_TMP" -name status -type f -exec grep -h '^poll_skipped\..*=[1-9]' {} + 2>/dev/null
		grep -h " warn: bus .*: poll cycle overran" "$GW_TMP"/*.log 2>/dev/null | head -1 |
			sed 's/.* warn: //'
	} | tr '\n' ' ' | grep .
}

# paced_not_ok DESCRIPTION: a check that failed because the run was
# slower than its clock (e.g. a storm's rounds in a simulated day, values
# read near enough to a midnight to be measured): on a try with another
# left, it sets the try aside as a skipped poll time does; on the last try
# it is not_ok.
paced_not_ok() {
	if [ -n "${_gw_held:-}" ]; then
		echo "not ok - $* (set aside: the clock was too fast for the machine)"
		_gw_slow="$*"
	else
		not_ok "$*"
	fi
}

# skipped_or_not_ok DESCRIPTION: a failed check that needs every poll
# time to have had its cycle: paced_not_ok where the gateways of this
# script counted a poll time skipped (gw_skipped), else not_ok.
skipped_or_not_ok() {
	local skipped
	if skipped=$(gw_skipped); then
		paced_not_ok "$* (the gateway skipped poll times: $skipped)"
	else
		not_ok "$*"
	fi
}

# daily_exact DAILY EXPECTED METER_FORMAT MIN_EXACT: tests/integration/
# daily_exact.py's check; too few values exact (none wrong) is paced_not_ok.
daily_exact() {
	local out
	out=$(/usr/bin/python3 "$GW_TOP/tests/integration/daily_exact.py" "$@")
	if [ $? -eq 3 ]; then
		echo "$out" | grep -v '^not ok'
		paced_not_ok "$(echo "$out" | sed -n 's/^not ok - //p')"
	else
		echo "$out"
	fi
}

finish() {
	local skipped
	if [ -n "${_gw_try:-}" ] &&
		skipped=$({ [ -n "$_gw_pace_cycles" ] && gw_skipped; } || echo "${_gw_slow:-}" | grep .); then
		if [ -n "${_gw_held:-}" ]; then
			exec 1>&3
			sed 's/^/# set aside: /' "$GW_TMP/try.out"
			echo "# at ${speed}x the run fell behind its clock: $skipped"
			echo "# again at $((speed / 2))x"
			_gw_cleanup
			trap - EXIT
			GW_PACE_TRY=$((_gw_try + 1)) exec bash "$0"
		fi
		not_ok "every poll time had its cycle at ${speed}x (try $((_gw_try + 1))): $skipped"
	fi
	if [ -n "${_gw_held:-}" ]; then
		exec 1>&3
		cat "$GW_TMP/try.out"
		_gw_held=
	fi
	exit $_gw_failed
}
