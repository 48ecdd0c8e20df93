#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/pg_load.sh - loading speed into the real schema, side by side
# with psql's \copy of the same rows into the same tables (the COPY
# ceiling), on one private server in one run; then 10 gateways uploading
# at once.
#
#   1. a day of 10,000 meters x 96 intervals x 3 registers (2,880,000
#      interval rows + 30,000 daily rows), one batch, loaded by
#      `gwctl upload` as the gateway's own least-privileged role (ledger,
#      staging, exactly-once checks and all), against `psql \copy` of the
#      same rows from text files into daily_registers and
#      interval_readings. Each side runs GW_BENCH_ROUNDS times (default
#      2), alternating, on emptied tables with the month's partitions and
#      a checkpoint before each run; the best run of each side counts.
#      Target: the uploader reaches 80% of the \copy rate.
#   2. 10 gateways (1,000 meters each, same day) uploading at once, each
#      with its own role; then all 10 again (a replay): every row must be
#      present exactly once.
set -u
. "$(dirname "$0")/../../tools/runlib.sh"

gwctl=$GW_BUILD/gwctl
gen=$GW_BUILD/bench/pg_gen
rounds=${GW_BENCH_ROUNDS:-2}
[ -x "$gen" ] || { echo "bench: pg_load: $gen not built (make bench)"; exit 1; }

# The same server settings for both sides: enough shared buffers and WAL
# that neither waits on tiny defaults of a test cluster.
GW_PG_CONF=$'shared_buffers = 256MB\nmax_wal_size = 4GB\ncheckpoint_timeout = 30min' start_pg pg
q() { psql -XqAt -v ON_ERROR_STOP=1 -c "$1"; }

now() { date +%s.%N; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }

"$gen" --gateway bench-gw --meters 10000 --tsv "$GW_TMP" "$GW_TMP/spool" >/dev/null || exit 1
rows=$((2880000 + 30000))
q "CREATE ROLE bench_gw LOGIN IN ROLE gw_uploader" 2>/dev/null
q "SELECT gw_register_gateway('bench-gw', 'bench_gw', 'Asia/Ho_Chi_Minh')" >/dev/null

reset() {
	q "TRUNCATE daily_registers, interval_readings, meter_events, batch_ledger, meter_serials, meter_accounts, meter_gateways, meter_claims, held_daily_registers, held_interval_readings, held_meter_events; DELETE FROM meters; SELECT gw_create_interval_partitions('2026-02-01', 2); CHECKPOINT" >/dev/null
}
# assign GATEWAY N: the operator's assignment of the gateway's N meters
# (schema 006; untimed, as a utility provisions meters before they report).
assign() {
	q "INSERT INTO meters (meter_id) SELECT 'M-$1-' || lpad(i::text, 6, '0') FROM generate_series(1, $2) i ON CONFLICT DO NOTHING;
	   INSERT INTO meter_gateways (meter_id, gateway_id) SELECT 'M-$1-' || lpad(i::text, 6, '0'), '$1' FROM generate_series(1, $2) i" >/dev/null
}

best_base=0 best_upl=0
for r in $(seq 1 "$rounds"); do
	# baseline: psql \copy of the same rows (meters made first, untimed)
	reset
	q "INSERT INTO meters (meter_id, gateway_id) SELECT 'M-bench-gw-' || lpad(i::text, 6, '0'), 'bench-gw' FROM generate_series(1, 10000) i; CHECKPOINT" >/dev/null
	t0=$(now)
	psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/base.out" 2>&1 <<-EOF || { echo "bench: pg_load: \\copy failed: $(tail -2 "$GW_TMP/base.out")"; exit 1; }
		\copy daily_registers (meter_id, day, obis, unit, start_value, end_value, consumption, quality, readings, minutes_missing, revision, gateway_id) FROM '$GW_TMP/daily.tsv'
		\copy interval_readings (meter_id, obis, ts, value, scale, unit) FROM '$GW_TMP/interval.tsv'
	EOF
	t1=$(now)
	b=$(rate $rows "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
	echo "# round $r: psql \\copy $b rows/s"
	[ "$b" -gt "$best_base" ] && best_base=$b

	# the uploader, as the gateway's role
	reset
	assign bench-gw 10000
	q "CHECKPOINT" >/dev/null
	mv "$GW_TMP"/spool/done/*.gwb "$GW_TMP/spool/ready/" 2>/dev/null
	t0=$(now)
	"$gwctl" upload --conninfo "host=$PGHOST port=$PGPORT dbname=meters user=bench_gw" "$GW_TMP/spool" >"$GW_TMP/upl.out" 2>&1 ||
		{ echo "bench: pg_load: gwctl upload failed: $(tail -2 "$GW_TMP/upl.out")"; exit 1; }
	t1=$(now)
	u=$(rate $rows "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
	got=$(q "SELECT (SELECT count(*) FROM daily_registers) + (SELECT count(*) FROM interval_readings)")
	[ "$got" = "$rows" ] || { echo "bench: pg_load: the upload left $got rows, expected $rows"; exit 1; }
	echo "# round $r: gwctl upload $u rows/s"
	[ "$u" -gt "$best_upl" ] && best_upl=$u
done
ratio=$(awk -v a="$best_upl" -v b="$best_base" 'BEGIN { printf "%.2f", a / b }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.80 ? "met" : "missed") }')
echo "bench: pg_load_rows_per_s: $best_upl (baseline psql \\copy $best_base rows/s, ratio $ratio, target 0.80): $verdict"

# --- 10 gateways at once -------------------------------------------------------
reset
for g in $(seq 1 10); do
	"$gen" --gateway "gw$g" --meters 1000 "$GW_TMP/s$g" >/dev/null || exit 1
	q "CREATE ROLE bench_gw$g LOGIN IN ROLE gw_uploader" 2>/dev/null
	q "SELECT gw_register_gateway('gw$g', 'bench_gw$g', 'Asia/Ho_Chi_Minh')" >/dev/null
done
for g in $(seq 1 10); do assign "gw$g" 1000; done
q "CHECKPOINT"
for pass in first replay; do
	if [ "$pass" = replay ]; then
		for g in $(seq 1 10); do cp "$GW_TMP/s$g"/done/*.gwb "$GW_TMP/s$g/ready/"; done
	fi
	t0=$(now)
	pids=()
	for g in $(seq 1 10); do
		"$gwctl" upload --retry-for 60 --conninfo "host=$PGHOST port=$PGPORT dbname=meters user=bench_gw$g" \
			"$GW_TMP/s$g" >"$GW_TMP/c$g.out" 2>&1 &
		pids+=($!)
		track_pid $!
	done
	fails=0
	for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
	t1=$(now)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	got=$(q "SELECT (SELECT count(*) FROM daily_registers) + (SELECT count(*) FROM interval_readings)")
	dup=$(q "SELECT count(*) FROM (SELECT gateway_id, day FROM batch_ledger GROUP BY 1, 2 HAVING count(*) > 1) d")
	led=$(q "SELECT count(*) FROM batch_ledger")
	per=$(q "SELECT count(*) FROM (SELECT gateway_id FROM daily_registers GROUP BY 1 HAVING count(*) = 3000) g")
	ok=$([ "$fails" = 0 ] && [ "$got" = "$rows" ] && [ "$dup" = 0 ] && [ "$led" = 10 ] && [ "$per" = 10 ] && echo met || echo missed)
	if [ "$pass" = first ]; then
		echo "bench: pg_10_gateways_rows_per_s: $(rate "$got" "$secs") (baseline one gateway $best_upl rows/s, ratio $(awk -v a="$(rate "$got" "$secs")" -v b="$best_upl" 'BEGIN { printf "%.2f", a / b }'), target none): met"
	fi
	echo "bench: pg_10_gateways_exactly_once_$pass: $got rows, $led ledger rows, $dup duplicates, $fails failed (baseline $rows rows expected, ratio $(awk -v a="$got" -v b="$rows" 'BEGIN { printf "%.2f", a / b }'), target 1.00): $ok"
done
