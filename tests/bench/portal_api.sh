#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/portal_api.sh - the customer portal's daily endpoint at the
# size of a utility: GW_BENCH_PORTAL_METERS meters (default 100,000), two
# to a customer account, each with a year (2025) of daily rows, in one
# private PostgreSQL; 64 concurrent clients asking for one account's year.
#
#   1. The database: meters, their gateway, the account history and a
#      year of daily_registers (1.8.0 of every meter, 2.8.0 of every tenth:
#      a prosumer) written month by month as the loader would have them,
#      and meter_days computed from them by migration 007's own back-fill
#      statement (the same rows its trigger keeps). Made once and kept in
#      GW_BENCH_CACHE (default /var/tmp/gatewayd-bench) under a name with
#      the scale and a checksum of schema/*.sql and of this generator: a
#      re-run starts that cluster again instead of generating anew.
#   2. portald (threads = GW_BENCH_PORTAL_THREADS, default 8 as portald's; its
#      per-account rate limit set out of the way, rate_per_minute = rate_burst
#      = 100000, so that the service and not the limit is measured) on
#      loopback, and wrk (GW_BENCH_PORTAL_CLIENTS connections, default 64,
#      2 threads) with tests/bench/portal_api.lua: GET
#      /v1/accounts/{account}/daily?from=2025-01-01&to=2025-12-31 for an
#      account picked at random from GW_BENCH_PORTAL_ACCOUNTS accounts
#      (default 5,000, spread over all), each with its own pre-signed token.
#   3. The baseline: pgbench, the same number of clients, the transaction
#      portald runs for that endpoint (BEGIN ... READ ONLY, the set_config
#      line, the daily query, COMMIT; the SQL text taken from portal/db.c),
#      extended protocol (as libpq's PQexecParams), as the same login role,
#      over the same accounts.
#   4. GW_BENCH_REPS pairs of GW_BENCH_PORTAL_SECONDS (default 20) each,
#      alternating which goes first; requests/s and p99 latency, min /
#      median / max; the ratio portald/pgbench of the median requests/s
#      (target >= 0.7), portald's p99 (target < 50 ms). EXPLAIN (ANALYZE,
#      BUFFERS) of the query as the portal's role shows the plan.
#
# The load average of the machine is printed before and after each run:
# wrk, pgbench, portald and PostgreSQL share its cores with everything else.
set -u
. "$(dirname "$0")/../../tools/runlib.sh"
. "$(dirname "$0")/common.bash"

portald=${GW_BENCH_PORTALD:-$GW_BUILD/portald} # another build of it, to compare
meters=${GW_BENCH_PORTAL_METERS:-100000}
clients=${GW_BENCH_PORTAL_CLIENTS:-64}
threads=${GW_BENCH_PORTAL_THREADS:-8} # portald's default
seconds=${GW_BENCH_PORTAL_SECONDS:-20}
naccts=${GW_BENCH_PORTAL_ACCOUNTS:-5000}
cache=${GW_BENCH_CACHE:-/var/tmp/gatewayd-bench}
reps=$(bench_reps)
first=2025-01-01
last=2025-12-31
acct0=10000000 # account numbers: acct0 + 1 holds meters 1 and 2, ...

[ -x "$portald" ] || [ "${GW_BENCH_PORTAL_GENERATE_ONLY:-0}" = 1 ] || { echo "bench: portal_api: $portald not built (make bench)"; exit 1; }
for t in wrk pgbench; do
	command -v $t >/dev/null || { echo "bench: portal_api: $t is not installed (tools/deps.sh)"; exit 1; }
done
[ "$meters" -ge 2 ] 2>/dev/null || { echo "bench: portal_api: GW_BENCH_PORTAL_METERS=$meters"; exit 1; }
accounts=$(((meters + 1) / 2))
[ "$naccts" -le "$accounts" ] || naccts=$accounts
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# --- 1. the database, from the cache or generated -------------------------------
# The generator's version: change it when the rows below change.
gen_version=1
# The checksum covers the migrations the rows are generated against
# (001-012: the tables, the roles and the row-level security the daily
# query reads); a later migration does not make a new database: pgtmp.sh
# applies it to the cached cluster when it starts, as on a database that
# is upgraded in place.
gen_schema=12
sum=$(for f in "$GW_TOP"/schema/[0-9]*_*.sql; do
	n=$(basename "$f")
	[ $((10#${n%%_*})) -le $gen_schema ] && cat "$f"
done | { cat; echo "generator $gen_version"; } | sha256sum | cut -c1-12)
dir=$cache/portal-$meters-$sum
mkdir -p "$cache"
chmod 755 "$cache"
exec 9>"$cache/portal-$meters.lock"
flock 9 # one bench at a time on a cached cluster
_gw_pgdirs+=("$dir/pg")
export GW_PG_CONF=$'shared_buffers = 1GB\nmax_connections = 100\nmax_wal_size = 8GB\ncheckpoint_timeout = 30min\nmaintenance_work_mem = 256MB\nwork_mem = 64MB\nautovacuum = off'
pg_settings="shared_buffers = 1GB, max_connections = 100, work_mem = 64MB, autovacuum off during the runs (the tables vacuumed and analyzed after generation), fsync on, everything else the default of PostgreSQL $(/usr/lib/postgresql/*/bin/postgres -V 2>/dev/null | awk '{ print $3 }' | sort -V | tail -1)"

start_cluster() {
	if ! "$GW_TOP/tools/pgtmp.sh" start "$dir/pg" >"$GW_TMP/pg-start.log" 2>&1; then
		echo "bench: portal_api: did not complete: the PostgreSQL in $dir/pg did not start: $(tail -3 "$GW_TMP/pg-start.log")"
		exit 1
	fi
	. "$dir/pg/env"
	pg_pid=$(head -1 "$dir/pg/data/postmaster.pid")
}
q() { psql -XqAt -v ON_ERROR_STOP=1 -c "$1"; }

generate() {
	local m from to t0 t1
	"$GW_TOP/tools/pgtmp.sh" stop "$dir/pg" >/dev/null 2>&1
	rm -rf "$dir"
	mkdir -p "$dir"
	chmod 755 "$dir"
	start_cluster
	t0=$(now)
	psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/gen.out" 2>&1 <<-EOF || return 1
		-- valid by construction: no foreign key checks, no triggers
		SET session_replication_role = replica;
		INSERT INTO gateways (gateway_id, timezone) VALUES ('bench-gw', 'Europe/Berlin');
		INSERT INTO meters (meter_id, gateway_id, first_day, last_day)
		SELECT 'M-' || lpad(i::text, 7, '0'), 'bench-gw', '$first', '$last'
		FROM generate_series(1, $meters) i;
		INSERT INTO meter_gateways (meter_id, valid_from, gateway_id, assigned_by)
		SELECT meter_id, '-infinity', 'bench-gw', 'bench' FROM meters;
		-- two meters an account; meter 3 passes from the second account to
		-- another one on 1 July (an account history, as customers move)
		INSERT INTO meter_accounts (meter_id, valid_from, valid_to, customer_account)
		SELECT 'M-' || lpad(i::text, 7, '0'), '-infinity',
		       CASE WHEN i = 3 THEN date '2025-07-01' END, ($acct0 + (i + 1) / 2)::text
		FROM generate_series(1, $meters) i;
		INSERT INTO meter_accounts (meter_id, valid_from, customer_account)
		VALUES ('M-0000003', '2025-07-01', '$((acct0 + accounts + 1))');
		UPDATE meters m SET customer_account = a.customer_account
		FROM meter_accounts a WHERE a.meter_id = m.meter_id AND a.valid_to IS NULL;
		CREATE ROLE bench_portal LOGIN IN ROLE customer_portal;
	EOF
	for m in $(seq 1 12); do
		from=$(printf '2025-%02d-01' "$m")
		to=$([ "$m" = 12 ] && echo 2026-01-01 || printf '2025-%02d-01' $((m + 1)))
		# A month of register rows (meter by meter, as the month's batches
		# leave them in the primary key), then the month's meter_days by
		# 007's back-fill: the statement that filled meter_days when the
		# migration ran on a loaded database.
		psql -Xq -v ON_ERROR_STOP=1 >>"$GW_TMP/gen.out" 2>&1 <<-EOF || return 1
			SET session_replication_role = replica;
			INSERT INTO daily_registers (meter_id, day, obis, unit, start_value, end_value,
						     consumption, quality, readings, minutes_missing, revision,
						     gateway_id)
			SELECT 'M-' || lpad(i::text, 7, '0'), d, o.obis, 'Wh', v, v + c, c,
			       CASE WHEN (i + dn) % 23 = 0 THEN 'interpolated'
				    WHEN (i * 7 + dn) % 101 = 0 THEN 'estimated' ELSE 'measured' END,
			       96, CASE WHEN (i * 7 + dn) % 101 = 0 THEN 45 ELSE 0 END, 0, 'bench-gw'
			FROM generate_series(1, $meters) i
			CROSS JOIN generate_series(date '$from', date '$to' - 1, interval '1 day') dd(ts)
			CROSS JOIN LATERAL (SELECT dd.ts::date AS d, dd.ts::date - date '$first' AS dn) k
			CROSS JOIN (VALUES (0, '1.8.0'), (1, '2.8.0')) o(r, obis)
			CROSS JOIN LATERAL (SELECT (i::bigint * 1000003 + dn * (4000 + i % 7 * 500))::bigint AS v,
						   (4000 + i % 7 * 500 + (i + dn) % 900 - o.r * 3000)::bigint AS c) x
			WHERE o.r = 0 OR i % 10 = 0
			ORDER BY i, d, o.obis;
			INSERT INTO meter_days (meter_id, day, import_wh, export_wh, import_t1_wh, import_t2_wh,
						import_t3_wh, quality, minutes_missing, registers, revision)
			SELECT d.meter_id, d.day,
			       max(d.consumption) FILTER (WHERE d.obis = '1.8.0'),
			       max(d.consumption) FILTER (WHERE d.obis = '2.8.0'),
			       max(d.consumption) FILTER (WHERE d.obis = '1.8.1'),
			       max(d.consumption) FILTER (WHERE d.obis = '1.8.2'),
			       max(d.consumption) FILTER (WHERE d.obis = '1.8.3'),
			       (ARRAY['measured', 'interpolated', 'estimated', 'incomplete'])[
				   max(array_position(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'],
						      d.quality::text))],
			       max(d.minutes_missing), count(*), max(d.revision)
			FROM daily_registers d
			WHERE d.day >= '$from' AND d.day < '$to'
			GROUP BY d.meter_id, d.day
			ORDER BY d.meter_id, d.day;
		EOF
		echo "# generated $from .. $to: $(secs "$t0" "$(now)") s so far (load $(load))"
	done
	q "VACUUM (FREEZE, ANALYZE)" >>"$GW_TMP/gen.out" 2>&1 || return 1
	q "CHECKPOINT" >/dev/null || return 1
	t1=$(now)
	echo "$(secs "$t0" "$t1")" >"$dir/generated_s"
	touch "$dir/complete"
}

if [ -f "$dir/complete" ]; then
	start_cluster
	echo "# the database from the cache: $dir (generated in $(cat "$dir/generated_s") s)"
else
	echo "# generating $meters meters x 365 days into $dir (load $(load))"
	if ! generate; then
		echo "bench: portal_api: did not complete: generating failed: $(tail -3 "$GW_TMP/gen.out")"
		"$GW_TOP/tools/pgtmp.sh" stop "$dir/pg" >/dev/null 2>&1
		rm -rf "$dir"
		exit 1
	fi
	echo "bench: portal_api_generate_s: $(cat "$dir/generated_s") ($meters meters x 365 days, $(q "SELECT count(*) FROM daily_registers") register rows, $(q "SELECT count(*) FROM meter_days") meter days; baseline none, target none): met"
fi
# GW_BENCH_PORTAL_GENERATE_ONLY=1: make the cache (or find it) and stop
if [ "${GW_BENCH_PORTAL_GENERATE_ONLY:-0}" = 1 ]; then
	echo "# the database is in $dir"
	exit 0
fi
echo "# sizes: daily_registers $(q "SELECT pg_size_pretty(pg_total_relation_size('daily_registers'))"), meter_days $(q "SELECT pg_size_pretty(pg_total_relation_size('meter_days'))") (with indexes), database $(q "SELECT pg_size_pretty(pg_database_size(current_database()))")"
echo "# PostgreSQL: $pg_settings"

# --- 2. the SQL portald runs, from portal/db.c ----------------------------------
# c_text START END: the C string literals from the line matching START to
# the line matching END of portal/db.c, joined (\" unescaped).
c_text() {
	awk -v s="$1" -v e="$2" '
		index($0, s) { on = 1 }
		on { line = $0
		     while (match(line, /"([^"\\]|\\.)*"/)) {
			     out = out substr(line, RSTART + 1, RLENGTH - 2)
			     line = substr(line, RSTART + RLENGTH)
		     } }
		on && index($0, e) { print out; exit }' "$GW_TOP/portal/db.c" | sed 's/\\"/"/g'
}
sql_begin=$(c_text '"BEGIN ' '"BEGIN ')
sql_set=$(c_text "set_config('gw.customer_account'" "set_config('statement_timeout'")
sql_daily=$(c_text '[GW_PQ_DAILY] =' 'ORDER BY d.day, d.meter_id",')
case "$sql_begin|$sql_set|$sql_daily" in
"BEGIN "*"|SELECT set_config("*'$1'*'$2'*"|SELECT "*'$1'*'$2'*'$3'*) ;;
*)
	echo "bench: portal_api: did not complete: the daily query's SQL was not found in portal/db.c"
	exit 1
	;;
esac
echo "# the transaction: $sql_begin; $sql_set; $sql_daily; COMMIT"
stride=$((accounts / naccts))
timeout_ms=2000
# pgbench's form of it: the same statements, $1.. as pgbench variables
# (sent as parameters with -M extended, as PQsendQueryParams sends them),
# in one pipeline as portald sends them (GW_BENCH_PORTAL_PIPELINE=0: one
# statement after the other, as portald did before).
{
	echo "\\set k random(0, $((naccts - 1)))"
	echo "\\set acct $((acct0 + 1)) + :k * $stride"
	[ "${GW_BENCH_PORTAL_PIPELINE:-1}" = 0 ] || echo "\\startpipeline"
	echo "$sql_begin;"
	echo "$sql_set;" | sed 's/\$1/:acct/; s/\$2/:timeout/'
	echo "$sql_daily;" | sed 's/\$1/:acct/; s/\$2/:from/; s/\$3/:to/'
	echo "COMMIT;"
	[ "${GW_BENCH_PORTAL_PIPELINE:-1}" = 0 ] || echo "\\endpipeline"
} >"$GW_TMP/daily.pgb"

# --- 3. portald and the tokens ----------------------------------------------------
key=$GW_TMP/portal.key
head -c 48 /dev/urandom | base64 >"$key"
chmod 600 "$key"
/usr/bin/python3 - "$key" "$acct0" "$naccts" "$stride" >"$GW_TMP/tokens" <<'PY' || { echo "bench: portal_api: did not complete: tokens"; exit 1; }
import base64, hashlib, hmac, json, sys, time
key = open(sys.argv[1], "rb").read().rstrip(b"\r\n")
acct0, n, stride = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
h = b64(b'{"alg":"HS256","typ":"JWT"}')
exp = int(time.time()) + 6 * 3600
for k in range(n):
    a = str(acct0 + 1 + k * stride)
    s = h + "." + b64(json.dumps({"sub": a, "aud": "gatewayd-portal", "exp": exp}, separators=(",", ":")).encode())
    print(a, s + "." + b64(hmac.new(key, s.encode(), hashlib.sha256).digest()))
PY
port=$(free_port)
cat >"$GW_TMP/portal.ini" <<INI
[portal]
listen = 127.0.0.1
port = $port
threads = $threads
key_file = $key
# the per-account limit out of the way: the service is measured, not it
rate_per_minute = 100000
rate_burst = 100000
rate_table = 65536
max_connections = 256
query_timeout_ms = $timeout_ms
log_level = info

[database]
conninfo = host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=bench_portal
INI
"$portald" -c "$GW_TMP/portal.ini" 2>"$GW_TMP/portald.log" &
portald_pid=$!
track_pid $portald_pid
base=http://127.0.0.1:$port
if ! wait_for 20 curl -sf "$base/v1/health"; then
	echo "bench: portal_api: did not complete: portald did not start: $(tail -3 "$GW_TMP/portald.log")"
	exit 1
fi
echo "# portald: threads = $threads (as many database connections), log_level = info (a line a request), rate limit 100000/min and burst 100000 per account"

# One account's answer: the rows the query gives under the portal's role.
read -r a t <"$GW_TMP/tokens"
code=$(curl -s -o "$GW_TMP/one.csv" -w '%{http_code}' -H "Authorization: Bearer $t" "$base/v1/accounts/$a/daily?from=$first&to=$last&format=csv")
n_http=$(($(wc -l <"$GW_TMP/one.csv") - 1))
n_sql=$(psql -XqAt -U bench_portal -c "SELECT set_config('gw.customer_account', '$a', false)" \
	-c "SELECT count(*) FROM ($(echo "$sql_daily" | sed "s/\\\$1/'$a'/; s/\\\$2/'$first'/; s/\\\$3/'$last'/")) x" | tail -1)
if [ "$code" != 200 ] || [ "$n_http" != "$n_sql" ] || [ "$n_sql" -lt 365 ]; then
	echo "bench: portal_api: did not complete: account $a: HTTP $code with $n_http rows, the query $n_sql rows"
	exit 1
fi
echo "# account $a: $n_http daily rows over HTTP, as many as the query returns"

# ticks PID: CPU ticks (1/100 s) of PID, of its children it reaped and of
# its live children: of the postmaster, all of PostgreSQL's backends.
ticks() {
	local p t=0 v
	for p in "$1" $(ps -o pid= --ppid "$1"); do
		v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }')
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
# client_ms FILE: the CPU milliseconds of the children in bash's `times` output
client_ms() { sed -n 2p "$1" | awk '{ split($1 " " $2, f, /[ms ]/); print int((f[1] * 60 + f[2] + f[4] * 60 + f[5]) * 1000) }'; }
# cpu_line N CLIENT-MS: CPU per request of portald, PostgreSQL and the client
cpu_line() {
	awk -v n="$1" -v d="$(($(ticks "$portald_pid") - pd0))" -v g="$(($(ticks "$pg_pid") - pg0))" -v c="$2" \
		'BEGIN { if (n < 1) n = 1; printf "CPU ms a request: portald %.2f, PostgreSQL %.2f, client %.2f", d * 10 / n, g * 10 / n, c / n
			 printf "%.3f\n", (d * 10 + g * 10 + c) / n >"/dev/stderr" }' 2>"$GW_TMP/cpu.last"
}

# --- 4. the paired runs -------------------------------------------------------------
run_wrk() { # SECONDS [TAG [RATE]]: records into $GW_TMP/wrk.TAG.{rps,p99}
	local out=$GW_TMP/wrk.out l0 line
	l0=$(load)
	pd0=$(ticks "$portald_pid")
	pg0=$(ticks "$pg_pid")
	(
		wrk -t2 -c"$clients" -d"${1}s" --timeout 10s -s "$GW_TOP/tests/bench/portal_api.lua" \
			"$base" -- "$GW_TMP/tokens" "$first" "$last" ${3:+"$3" "$clients"} >"$out" 2>&1
		times >"$GW_TMP/times"
	)
	line=$(grep '^wrk: ' "$out")
	[ -n "$line" ] || { echo "bench: portal_api: did not complete: wrk: $(tail -3 "$out")"; exit 1; }
	# wrk: requests N seconds S rps R p50_ms A p99_ms B max_ms C non2xx E errors F
	read -r _ _ n _ _ _ rps _ p50 _ p99 _ max _ non2xx _ errs <<<"$line"
	echo "#   portald: $rps requests/s, p50 $p50 ms, p99 $p99 ms, max $max ms, $n requests, $non2xx not 200, $errs socket errors (load before: $l0; after: $(load))"
	echo "#     $(cpu_line "$n" "$(client_ms "$GW_TMP/times")")"
	if [ "$non2xx" != 0 ] || [ "$errs" != 0 ]; then
		echo "#   portald's answers that were not 200: $(grep 'portal: GET' "$GW_TMP/portald.log" | grep -vc ' 200 ') (last: $(grep 'portal: GET' "$GW_TMP/portald.log" | grep -v ' 200 ' | tail -1))"
		bad_runs=$((bad_runs + 1))
	fi
	if [ -n "${2:-}" ]; then
		cat "$GW_TMP/cpu.last" >>"$GW_TMP/wrk.$2.cpu"
		echo "$rps" >>"$GW_TMP/wrk.$2.rps"
		echo "$p99" >>"$GW_TMP/wrk.$2.p99"
	fi
}
run_pgbench() { # SECONDS [TAG [RATE]]: records into $GW_TMP/pgb.TAG.{rps,p99}
	local out=$GW_TMP/pgbench.out l0 tps p99
	rm -f "$GW_TMP"/pgb.log*
	l0=$(load)
	pd0=$(ticks "$portald_pid")
	pg0=$(ticks "$pg_pid")
	(
		pgbench -n -M extended -c "$clients" -j 2 -T "$1" ${3:+-R "$3"} -U bench_portal -f "$GW_TMP/daily.pgb" \
			-D from="$first" -D to="$last" -D timeout="$timeout_ms" -l --log-prefix="$GW_TMP/pgb.log" \
			"$PGDATABASE" >"$out" 2>&1
		echo $? >"$GW_TMP/pgbench.rc"
		times >"$GW_TMP/times"
	)
	[ "$(cat "$GW_TMP/pgbench.rc")" = 0 ] ||
		{ echo "bench: portal_api: did not complete: pgbench: $(grep -v '^pgbench: client' "$out" | tail -3)"; exit 1; }
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")
	p99=$(cat "$GW_TMP"/pgb.log* | awk '{ print $3 / 1000 }' | sort -g | awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; printf "%.2f", v[i] }')
	echo "#   pgbench: $tps transactions/s, p99 $p99 ms, $(sed -n 's/^number of transactions actually processed: //p' "$out") transactions, $(sed -n 's/^number of failed transactions: //p' "$out") failed (load before: $l0; after: $(load))"
	echo "#     $(cpu_line "$(sed -n 's/^number of transactions actually processed: //p' "$out" | cut -d/ -f1)" "$(client_ms "$GW_TMP/times")")"
	if [ -n "${2:-}" ]; then
		cat "$GW_TMP/cpu.last" >>"$GW_TMP/pgb.$2.cpu"
		echo "$tps" >>"$GW_TMP/pgb.$2.rps"
		echo "$p99" >>"$GW_TMP/pgb.$2.p99"
	fi
}

bad_runs=0
echo "# warm-up (the accounts' pages into the caches): pgbench and portald, 10 s each"
run_pgbench 10
run_wrk 10
# pairs TAG [RATE]: GW_BENCH_REPS pairs, alternating which goes first
pairs() {
	local r
	bad_runs=0
	for f in rps p99 cpu; do : >"$GW_TMP/wrk.$1.$f"; : >"$GW_TMP/pgb.$1.$f"; done
	for r in $(seq 1 "$reps"); do
		echo "# pair $r of $reps, $clients clients, $seconds s each${2:+, paced at $2 requests/s in all}"
		if [ $((r % 2)) = 1 ]; then
			run_wrk "$seconds" "$1" ${2:-}
			run_pgbench "$seconds" "$1" ${2:-}
		else
			run_pgbench "$seconds" "$1" ${2:-}
			run_wrk "$seconds" "$1" ${2:-}
		fi
	done
}
# verdict VALUE OP TARGET
verdict() { awk -v v="$1" -v t="$3" -v op="$2" -v e="$bad_runs" 'BEGIN { ok = op == ">=" ? v >= t : v < t; print (ok && e == 0 ? "met" : "missed") }'; }
bad_note() { [ "$bad_runs" != 0 ] && echo " ($bad_runs runs had answers that were not 200)"; }

# As fast as they can: each connection sends its next request when the
# answer to the last one is in (a closed loop). The p99 of such a run is
# about the time 64 requests take through the service one after another
# (Little's law: clients / throughput), whatever the service does.
pairs closed
read -r w1 w2 w3 <<<"$(mmm "$GW_TMP/wrk.closed.rps")"
read -r b1 b2 b3 <<<"$(mmm "$GW_TMP/pgb.closed.rps")"
read -r wp1 wp2 wp3 <<<"$(mmm "$GW_TMP/wrk.closed.p99")"
read -r bp1 bp2 bp3 <<<"$(mmm "$GW_TMP/pgb.closed.p99")"
paste "$GW_TMP/wrk.closed.rps" "$GW_TMP/pgb.closed.rps" | awk '{ print $1 / $2 }' >"$GW_TMP/ratio"
read -r q1 q2 q3 <<<"$(mmm "$GW_TMP/ratio")"
# The ratio of each pair (run one after the other, under about the same
# load of the machine), min / median / max over the pairs.
echo "bench: portal_api_daily_year_rps: median $w2 requests/s (min $w1, max $w3; $reps pairs, $clients clients, threads = $threads, $meters meters) (baseline pgbench, the same transaction: median $b2 transactions/s (min $b1, max $b3), ratio median $q2 (min $q1, max $q3), target >= 0.7): $(verdict "$q2" ">=" 0.7)$(bad_note)"
echo "bench: portal_api_daily_year_p99_ms: median $wp2 (min $wp1, max $wp3; $clients clients in a closed loop: at least about $clients / throughput = $(awk -v c="$clients" -v r="$w2" 'BEGIN { printf "%.0f", c * 1000 / r }') ms) (baseline pgbench's p99: median $bp2 ms (min $bp1, max $bp3), target < 50 ms): $(verdict "$wp2" "<" 50)$(bad_note)"

# What a shared machine does to the ratio above: each runnable process
# gets its share of the cores, and 64 backends of pgbench take more of
# them from the other users than portald's `threads` do. The CPU of a
# request in all (server, database, client) does not depend on that
# share: pgbench's over portald's is the ratio of requests per CPU second.
paste "$GW_TMP/pgb.closed.cpu" "$GW_TMP/wrk.closed.cpu" | awk '{ print $1 / $2 }' >"$GW_TMP/ratio"
read -r q1 q2 q3 <<<"$(mmm "$GW_TMP/ratio")"
read -r c1 c2 c3 <<<"$(mmm "$GW_TMP/wrk.closed.cpu")"
read -r d1 d2 d3 <<<"$(mmm "$GW_TMP/pgb.closed.cpu")"
echo "bench: portal_api_daily_year_cpu_ms: median $c2 CPU ms a request in all (min $c1, max $c3; portald, PostgreSQL and wrk) (baseline pgbench: median $d2 (min $d1, max $d3) with PostgreSQL, requests per CPU second ratio median $q2 (min $q1, max $q3), target >= 0.7): $(verdict "$q2" ">=" 0.7)"

# Paced at half the throughput portald just reached: the latency of a
# request that does not queue behind the others'.
rate=$(awk -v w="$w2" 'BEGIN { r = int(w / 2); print (r < 1 ? 1 : r) }')
pairs paced "$rate"
read -r w1 w2 w3 <<<"$(mmm "$GW_TMP/wrk.paced.rps")"
read -r wp1 wp2 wp3 <<<"$(mmm "$GW_TMP/wrk.paced.p99")"
read -r bp1 bp2 bp3 <<<"$(mmm "$GW_TMP/pgb.paced.p99")"
paste "$GW_TMP/wrk.paced.p99" "$GW_TMP/pgb.paced.p99" | awk '{ print $1 / $2 }' >"$GW_TMP/ratio"
read -r q1 q2 q3 <<<"$(mmm "$GW_TMP/ratio")"
echo "bench: portal_api_daily_year_paced_p99_ms: median $wp2 (min $wp1, max $wp3; $clients connections paced at $rate requests/s in all, reached median $w2) (baseline pgbench -R $rate, the same transaction: p99 median $bp2 ms (min $bp1, max $bp3), ratio median $q2 (min $q1, max $q3), target < 50 ms): $(verdict "$wp2" "<" 50)$(bad_note)"

# --- 5. the plan -----------------------------------------------------------------------
# The statement portald sends, prepared without types as PQexecParams'
# unnamed statement is, under the portal's role and account.
a=$(sed -n '$p' "$GW_TMP/tokens" | cut -d' ' -f1)
echo "# EXPLAIN (ANALYZE, BUFFERS) of the daily query for account $a, $first .. $last, as bench_portal:"
psql -XqAt -U bench_portal -v ON_ERROR_STOP=1 >"$GW_TMP/plan" 2>&1 <<EOF
$sql_begin;
SELECT set_config('gw.customer_account', '$a', true), set_config('statement_timeout', '$timeout_ms', true) \\g /dev/null
PREPARE daily AS $sql_daily;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE daily('$a', '$first', '$last');
COMMIT;
EOF
sed 's/^/#   /' "$GW_TMP/plan"
idx=$(grep -o 'Index[A-Za-z ]* Scan using [a-z_]*' "$GW_TMP/plan" | sed 's/.* using //' | sort -u | tr '\n' ' ')
seq=$(grep -c 'Seq Scan' "$GW_TMP/plan")
echo "bench: portal_api_daily_plan: index scans on ${idx:-nothing} and $seq sequential scans (baseline none, target index scans of meter_accounts and meter_days only): $([ "$seq" = 0 ] && case "$idx" in *meter_days*) echo met ;; *) echo missed ;; esac || echo missed)"
