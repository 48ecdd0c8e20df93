#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/gateways_concurrent.sh - 10 gatewayd processes, each with its
# own spool and its own login role, uploading into one private PostgreSQL
# (tools/pgtmp.sh) at once, against one gatewayd uploading alone, side by
# side in one run on the same server.
#
# Each gateway's spool holds GW_BENCH_GW_DAYS (default 1) sealed days of
# 1,000 meters x 96 intervals x 3 registers (bench/pg_gen: 291,000 rows a
# day with the daily registers). A round empties the tables (the meters and
# their assignment stay), then times from the start of the gatewayd
# processes until every batch of every spool has been loaded (moved to
# done/) and checks that the database holds every row exactly once:
#   alone: gateway 1 alone;   ten: gateways 1..10 at once.
# Rounds alternate alone / ten, GW_BENCH_REPS (default 3) pairs; the ratio
# ten gateways' rows/s / one gateway's rows/s per pair, min / median /
# max. Target: median >= 0.80.
set -u
. "$(dirname "$0")/../../tools/runlib.sh"
. "$(dirname "$0")/common.bash"
. "$GW_TOP/tests/lib.sh" >/dev/null

gen=$GW_BUILD/bench/pg_gen
reps=$(bench_reps)
ndays=${GW_BENCH_GW_DAYS:-1}
meters=1000
[ -x "$gen" ] && [ -x "$GW_BUILD/gatewayd" ] ||
	{ echo "bench: gateways_concurrent: $gen or gatewayd not built (make bench)"; exit 1; }

GW_PG_CONF=$'shared_buffers = 256MB\nmax_wal_size = 4GB\ncheckpoint_timeout = 30min' start_pg pg
q() { psql -XqAt -v ON_ERROR_STOP=1 -c "$1"; }

# sealed days ending the day before yesterday (the gateways run on the real
# clock; the server refuses days too far from its own)
first=$(date -u -d "-$((ndays + 1)) days" +%Y-%m-%d)
month=$(date -u -d "$first" +%Y-%m-01)
q "SELECT gw_create_interval_partitions('$month', 3)" >/dev/null
per_gw=$(((meters * 96 * 3 + meters * 3) * ndays))
for g in $(seq 1 10); do
	"$gen" --gateway "gw$g" --meters "$meters" --day "$first" --days "$ndays" "$GW_TMP/src$g" >/dev/null ||
		{ echo "bench: gateways_concurrent: pg_gen failed"; exit 1; }
	q "CREATE ROLE bench_gw$g LOGIN IN ROLE gw_uploader" 2>/dev/null
	q "SELECT gw_register_gateway('gw$g', 'bench_gw$g', 'Asia/Ho_Chi_Minh')" >/dev/null
	q "INSERT INTO meters (meter_id) SELECT 'M-gw$g-' || lpad(i::text, 6, '0') FROM generate_series(1, $meters) i ON CONFLICT DO NOTHING;
	   INSERT INTO meter_gateways (meter_id, gateway_id) SELECT 'M-gw$g-' || lpad(i::text, 6, '0'), 'gw$g' FROM generate_series(1, $meters) i" >/dev/null
done

reset() {
	q "TRUNCATE daily_registers, interval_readings, meter_events, batch_ledger, meter_claims, held_daily_registers, held_interval_readings, held_meter_events; CHECKPOINT" >/dev/null
}

# round N G...: the gateways G upload their spools at once; prints the
# seconds from their start until the last batch is loaded.
round() {
	local n=$1 g t0 t1 left
	local -a pids=()
	shift
	for g in "$@"; do
		rm -rf "$GW_TMP/s$g"
		cp -a "$GW_TMP/src$g" "$GW_TMP/s$g"
		upload_only_ini "gw$g" "$GW_TMP/s$g" "host=$PGHOST port=$PGPORT dbname=meters user=bench_gw$g" \
			>"$GW_TMP/gw$g.ini"
	done
	t0=$(date +%s.%N)
	for g in "$@"; do
		"$GW_BUILD/gatewayd" -c "$GW_TMP/gw$g.ini" 2>"$GW_TMP/gw$g.$n.log" &
		pids+=($!)
		track_pid $!
	done
	for _ in $(seq 1 6000); do
		left=0
		for g in "$@"; do
			compgen -G "$GW_TMP/s$g/ready/*.gwb" >/dev/null && left=1 && break
		done
		[ "$left" = 0 ] && break
		sleep 0.05
	done
	t1=$(date +%s.%N)
	for g in "${pids[@]}"; do kill -TERM "$g" 2>/dev/null; done
	for g in "${pids[@]}"; do wait "$g" 2>/dev/null; done
	[ "$left" = 0 ] || return 1
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

# check N ROWS: the tables hold ROWS rows, none twice
check_rows() {
	local got dup
	got=$(q "SELECT (SELECT count(*) FROM daily_registers) + (SELECT count(*) FROM interval_readings)")
	dup=$(q "SELECT count(*) FROM (SELECT meter_id, obis, ts FROM interval_readings GROUP BY 1, 2, 3 HAVING count(*) > 1) d")
	[ "$got" = "$1" ] && [ "$dup" = 0 ] && return 0
	echo "# the database holds $got rows ($dup doubled), expected $1" >&2
	return 1
}

: >"$GW_TMP/one"
: >"$GW_TMP/ten"
: >"$GW_TMP/ratio"
bad=0
for r in $(seq 1 "$reps"); do
	reset
	s1=$(round "a$r" 1) && check_rows "$per_gw" || { bad=1; echo "# round $r: one gateway did not load everything"; }
	reset
	s10=$(round "b$r" $(seq 1 10)) && check_rows $((10 * per_gw)) || { bad=1; echo "# round $r: ten gateways did not load everything"; }
	[ "$bad" = 0 ] || continue
	awk -v a="$s1" -v b="$s10" -v n="$per_gw" -v r="$r" -v f1="$GW_TMP/one" -v f10="$GW_TMP/ten" -v fr="$GW_TMP/ratio" 'BEGIN {
		one = n / a; ten = 10 * n / b
		printf "# pair %d: one gateway %d rows in %.2f s = %.0f rows/s; ten gateways %d rows in %.2f s = %.0f rows/s; ratio %.3f\n",
			r, n, a, one, 10 * n, b, ten, ten / one
		print one >> f1; print ten >> f10; printf "%.4f\n", ten / one >> fr }'
done
read -r o1 o2 o3 < <(mmm "$GW_TMP/one")
read -r t1 t2 t3 < <(mmm "$GW_TMP/ten")
read -r q1 q2 q3 < <(mmm "$GW_TMP/ratio")
n=$(wc -l <"$GW_TMP/ratio")
verdict=$([ "$bad" = 0 ] && [ "$n" -ge 1 ] && awk -v q="$q2" 'BEGIN { exit !(q >= 0.80) }' && echo met || echo missed)
echo "bench: gateways_10_concurrent_rows_per_s: median $t2 (min $t1, max $t3; $n pairs) (baseline one gateway alone: median $o2 rows/s (min $o1, max $o3), ratio median $q2 (min $q1, max $q3), target 0.80): $verdict"
