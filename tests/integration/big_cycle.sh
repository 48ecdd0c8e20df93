#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A bus whose poll cycle holds more readings than the core takes from the
# scheduler's queue at once (GW_SCHED_TAKE_MAX, 512): 200 ABB B23 meters
# with all 23 registers (4,600 readings a cycle) on one Modbus TCP bus, a
# clock at 3600x (a 15-minute cycle every 0.25 s; slower where the machine
# cannot keep up: paced_speed in tests/lib.sh). The day sealed must
# hold every reading of its cycles once, in order:
#   - every (meter, register) has the same number of interval readings,
#     and the day's total is that times 200 x 23 (none lost or doubled
#     between two takes of one cycle; a cycle a slow machine stretched
#     across a midnight sets the try aside: paced_not_ok);
#   - no reading was dropped (late, bad time ...);
#   - every measured daily import and export is the simulator's exact one
#     (those read within midnight_tolerance of a midnight: the meters
#     early in the cycle: on a loaded machine a cycle takes longer and
#     fewer are, so only none wrong and one at least is asked).
. "$(dirname "$0")/../lib.sh"

paced_speed 3600
start=2026-03-01T23:00:00Z   # an hour of lead: the start-up takes a few simulated minutes
anchor=$(date +%s.%N)
clock=(--clock-anchor "$anchor" --clock-start "$start" --clock-speed "$speed")
sim=(--profile abb_b23 --profiles-dir "$GW_TOP/profiles" --tz UTC --all-registers "${clock[@]}")
port=$(free_port)
start_metersim sim --tcp "127.0.0.1:$port" --meters 200 --first-unit 1 "${sim[@]}" ||
	{ not_ok "metersim did not start"; finish; }
{
	echo "meter_id,bus,unit,profile"
	for u in $(seq 1 200); do printf 'BC%03d,line-1,%d,abb_b23\n' "$u" "$u"; done
} >"$GW_TMP/meters.csv"
cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = sub-big
timezone = UTC
spool_dir = spool
profiles_dir = $GW_TOP/profiles
meters = meters.csv
poll_interval = 15m
seal_delay = 30m

[bus line-1]
type = modbus-tcp
host = 127.0.0.1
port = $port
timeout_ms = 2000
INI
spool=$GW_TMP/spool
day=2026-03-02
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" --stop-at 2026-03-03T00:45:00Z \
	2>"$GW_TMP/gw.log" &
pid=$!
track_pid $pid
wait_pid_exit "$(paced_s 240)" $pid || not_ok "gatewayd did not reach its stop time in $(paced_s 240) s"
wait $pid
check_eq "$?" 0 "gatewayd exited 0 at its stop time"
f=$(ls "$spool"/ready/sub-big_"$day"_r*.gwb 2>/dev/null | sort -V | tail -1)
[ -n "$f" ] && ok "day $day sealed ($(basename "$f"))" || { not_ok "day $day not sealed"; finish; }
"$GW_BUILD/gwctl" spool dump --intervals "$f" >"$GW_TMP/intervals.csv"
"$GW_BUILD/gwctl" spool dump "$f" | grep -v '^gateway_id' >"$GW_TMP/daily.csv"
"$GW_BUILD/metersim" --meters 200 --first-unit 1 "${sim[@]}" --print-expected "$day" |
	sed "s/^/$day\t/" >"$GW_TMP/expected.tsv"
# "slow - ..." is a check that needs the machine to keep up with the clock
while IFS= read -r line; do
	case $line in
	"slow - "*) paced_not_ok "${line#slow - }" ;;
	*) echo "$line" ;;
	esac
done < <(/usr/bin/python3 - "$GW_TMP" <<'PY'
import collections, sys
tmp = sys.argv[1]
per = collections.Counter()
times = collections.defaultdict(list)
for i, line in enumerate(open(tmp + "/intervals.csv")):
    if i == 0:
        continue
    m, o, t = line.split(",")[:3]
    per[(m, o)] += 1
    times[(m, o)].append(int(t) if t.isdigit() else t)
counts = set(per.values())
n = len(per)
c = min(counts) if counts else 0
print(("ok" if n == 200 * 23 else "not ok") + f" - {n} series in the day (200 meters x 23 registers)")
# A cycle that a slow machine stretched across a midnight puts the meters
# read before it in one day and the rest in the other: counts one apart,
# each meter's registers alike (read at once), and in the order the meters
# are read (BC001 first) one run of each count.
by_meter = collections.defaultdict(set)
for (m, o), v in per.items():
    by_meter[m].add(v)
seq = [min(by_meter[m]) for m in sorted(by_meter)]
straddle = len(counts) == 2 and max(counts) - min(counts) == 1 and \
    all(len(v) == 1 for v in by_meter.values()) and \
    sum(1 for a, b in zip(seq, seq[1:]) if a != b) == 1
print(("ok" if len(counts) == 1 else "slow" if straddle else "not ok") +
      f" - every series has the same number of readings ({sorted(counts)[:5]})")
print(("ok" if c >= 48 else "slow") + f" - at least 48 of 96 cycles in the day ({c})")
print(f"# {c} of 96 cycles in the day (a loaded machine skips some)")
total = sum(per.values())
print(("ok" if total == c * n and total > 4096 * 2 else "slow" if straddle else "not ok") +
      f" - {total} readings in the day: {c} cycles x {n}, more than two takes a cycle")
unordered = sum(1 for k, v in times.items() if v != sorted(v) or len(set(v)) != len(v))
print(("ok" if unordered == 0 else "not ok") + f" - each series in time order, no time twice ({unordered} not)")
PY
)
daily_exact "$GW_TMP/daily.csv" \
	"$GW_TMP/expected.tsv" BC%03d 1
drops=$(grep '^dropped_' "$spool/status" | grep -v '=0$')
check_eq "${drops:-none}" none "no reading dropped (status)"
finish
