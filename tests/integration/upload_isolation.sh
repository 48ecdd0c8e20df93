#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/upload_isolation.sh - one database shared by many
# gateways, safe from any one of them (docs/security.md), against a real
# PostgreSQL, loading as the gateways' own login roles (members of
# gw_uploader, not superusers): days and revisions bounded by the server,
# era-safe partition names, no gateway's open transaction holding up
# another's load, session limits, meters assigned by an operator (data of
# unassigned meters held, with the meter_unassigned alarm), the gateway's
# zone the operator's, batch size limits, upload_stalled and a SIGTERM
# that cancels a blocked upload losing and doubling nothing, and TLS
# verify-full by default.
. "$(dirname "$0")/../lib.sh"

gwctl=$GW_BUILD/gwctl
gen=$GW_BUILD/bench/pg_gen
GW_PG_TCP=1 start_pg pg
pgdir=$GW_TMP/pg
sock="host=$PGHOST port=$PGPORT dbname=meters"
ci_a="$sock user=gw_a"
ci_b="$sock user=gw_b"
ci_op="$sock user=op1"

# as_role ROLE SQL: SQL as ROLE over the Unix socket; output in $GW_TMP/as.out
as_role() {
	psql -XqAt -v ON_ERROR_STOP=1 -U "$1" -c "$2" >"$GW_TMP/as.out" 2>&1
}
# refused DESC ROLE SQL PATTERN: ok if the server refuses SQL for ROLE
# with a message matching PATTERN.
refused() {
	if as_role "$2" "$3"; then
		not_ok "$1 (it was allowed: $(head -c 200 "$GW_TMP/as.out"))"
	elif grep -qE "$4" "$GW_TMP/as.out"; then
		ok "$1"
	else
		not_ok "$1 (failed for another reason: $(head -c 300 "$GW_TMP/as.out"))"
	fi
}
q() { psql -XAtc "$1" 2>&1; }
# hand DAY REVISION ZONE: a hand-made empty batch of gw-a begun as gw_a
hand() {
	echo "BEGIN; SELECT gw_stage_open();
INSERT INTO pg_temp.gw_stage (k, meter_id, obis, day, v1, v2, v3, n1, n2, n3)
	VALUES ('b', 'gw-a', '$3', '$1', $2, 0, 0, 0, 0, 0);
SELECT status FROM gw_begin_batch(true); ROLLBACK"
}
# refused_file SPOOL PATTERN DESC: the spool's quarantine/ has one refused
# batch whose reason matches PATTERN.
refused_file() {
	local notes
	notes=$(cat "$1"/quarantine/*.refused 2>/dev/null)
	if grep -qE "$2" <<<"$notes"; then
		ok "$3"
	else
		not_ok "$3 (reason: '${notes:0:300}')"
	fi
}

psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/roles.out" 2>&1 <<'EOF' || not_ok "create the test roles"
CREATE ROLE gw_a LOGIN IN ROLE gw_uploader;
CREATE ROLE gw_b LOGIN IN ROLE gw_uploader;
CREATE ROLE gw_z LOGIN IN ROLE gw_uploader;
CREATE ROLE op1 LOGIN IN ROLE gw_operator;
CREATE ROLE portal LOGIN IN ROLE customer_portal;
CREATE ROLE gw_b2 LOGIN IN ROLE gw_uploader;
EOF

# --- the operator sets up gateways and meters -------------------------------
check_cmd "gwctl db gateway binds gw-a to its role, with its zone" \
	"$gwctl" db gateway gw-a --role gw_a --timezone Asia/Ho_Chi_Minh
check_cmd "gwctl db gateway binds gw-b" "$gwctl" db gateway gw-b --role gw_b --timezone Asia/Ho_Chi_Minh
check_cmd "gwctl db gateway binds gw-z (Europe/Berlin)" "$gwctl" db gateway gw-z --role gw_z --timezone Europe/Berlin
check_eq "$(q "SELECT array_to_string(s.setconfig, ',') || '/' || r.rolconnlimit FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = 'gw_a'")" \
	"statement_timeout=5min,lock_timeout=30s,idle_in_transaction_session_timeout=1min,work_mem=16MB,temp_file_limit=1GB/4" \
	"the gateway role gets the session limits and a connection limit"
for m in A-000001 A-000002 A-000003; do
	"$gwctl" db assign "$m" gw-a --conninfo "$ci_op" >>"$GW_TMP/assign.out" 2>&1 || not_ok "assign $m"
done
for m in B-000001 B-000002; do
	"$gwctl" db assign "$m" gw-b --conninfo "$ci_op" >>"$GW_TMP/assign.out" 2>&1 || not_ok "assign $m"
done
check_eq "$(grep -c 'assigned to gateway' "$GW_TMP/assign.out")/$(q "SELECT count(*) FROM meter_gateways WHERE valid_from = '-infinity' AND valid_to IS NULL")" \
	"5/5" "an operator (gw_operator, not a superuser) assigns the meters with gwctl db assign"
if "$gwctl" db gateway gw-a --timezone Mars/Olympus --conninfo "$ci_op" >"$GW_TMP/tz.out" 2>&1; then
	not_ok "an unknown zone is refused for a gateway"
else
	check_eq "$(grep -c 'is not a time zone PostgreSQL knows' "$GW_TMP/tz.out")/$(q "SELECT timezone FROM gateways WHERE gateway_id = 'gw-a'")" \
		"1/Asia/Ho_Chi_Minh" "an unknown zone is refused for a gateway"
fi

# --- 1. days near the server's own time --------------------------------------
"$gen" --gateway gw-a --prefix A- --meters 3 --day 1990-01-01 "$GW_TMP/s1" >/dev/null
"$gen" --gateway gw-a --prefix A- --meters 3 --day 2099-06-01 "$GW_TMP/s1" >/dev/null
"$gen" --gateway gw-a --prefix A- --meters 3 --day 2026-03-10 "$GW_TMP/s1" >/dev/null
"$gwctl" upload --conninfo "$ci_a" "$GW_TMP/s1" >"$GW_TMP/up1.out" 2>&1
check_eq "$?/$(ls "$GW_TMP/s1/quarantine" | grep -c '\.gwb$')/$(ls "$GW_TMP/s1/done" | wc -l)" "1/2/1" \
	"batches of 1990 and 2099 are refused and set aside; the day after them loads"
refused_file "$GW_TMP/s1" "is for day 1990-01-01, outside the days this database accepts" \
	"the refusal of a day before the history horizon says why"
refused_file "$GW_TMP/s1" "is for day 2099-06-01, outside the days this database accepts" \
	"the refusal of a day after tomorrow says why"
check_eq "$(q "SELECT count(*) FROM batch_ledger WHERE gateway_id = 'gw-a'")/$(q "SELECT count(*) FROM daily_registers WHERE day IN ('1990-01-01', '2099-06-01')")/$(q "SELECT count(*) FROM pg_class WHERE relname ~ '^interval_readings_(1989|1990|2099)'")" \
	"1/0/0" "no rows and no partitions for days far from the server's time"
refused "a BC day is refused with a clear message" gw_a "$(hand '0044-03-15 BC' 0 Asia/Ho_Chi_Minh)" \
	"is for day 0044-03-15 BC, outside the days this database accepts"
refused "year 9999 is refused with a clear message" gw_a "$(hand '9999-12-31' 0 Asia/Ho_Chi_Minh)" \
	"is for day 9999-12-31, outside the days this database accepts"
refused "a gateway role cannot make partitions for a far month" gw_a \
	"SELECT gw_prepare_batch('9999-12-01', '9999-12-01 00:00Z', '9999-12-01 01:00Z')" \
	"is for day 9999-12-01, outside"
check_eq "$(q "SELECT count(*) FROM pg_class WHERE relname ~ '^interval_readings_(9999|bc)'")" 0 \
	"no partition was made for year 9999 or BC"
check_eq "$(q "SELECT gw_ensure_interval_partition('0044-03-15 00:00+00 BC') || ',' || gw_ensure_interval_partition('0044-03-15 00:00+00')")" \
	"interval_readings_bc0044_03,interval_readings_0044_03" "partition names carry the era"
if q "INSERT INTO interval_readings (meter_id, obis, ts, value) VALUES ('A-000001', '1.8.0', '0044-03-15 00:00+00 BC', 1), ('A-000001', '1.8.0', '0044-03-15 00:00+00', 2)" | grep -q "INSERT 0 2\|^$"; then
	check_eq "$(q "SELECT string_agg(tableoid::regclass::text, ',' ORDER BY ts) FROM interval_readings WHERE ts < '0100-01-01'")" \
		"interval_readings_bc0044_03,interval_readings_0044_03" "March 44 BC and March AD 44 live in partitions of their own"
else
	not_ok "March 44 BC and March AD 44 live in partitions of their own"
fi
q "DELETE FROM interval_readings WHERE ts < '0100-01-01'; DROP TABLE interval_readings_bc0044_03, interval_readings_0044_03" >/dev/null

# --- 4. revisions ------------------------------------------------------------
refused "an absurd revision is refused" gw_a "$(hand 2026-03-20 2147483647 Asia/Ho_Chi_Minh)" \
	"has revision 2147483647, above the highest this database accepts \(1000\)"
refused "a revision cannot leap far past the day's highest" gw_a "$(hand 2026-03-20 500 Asia/Ho_Chi_Minh)" \
	"has revision 500, more than 100 above the day's highest loaded \(none\)"
if as_role gw_a "$(hand 2026-03-20 3 Asia/Ho_Chi_Minh)" && grep -q '^applied$' "$GW_TMP/as.out"; then
	ok "a plausible revision is taken"
else
	not_ok "a plausible revision is taken ($(head -c 300 "$GW_TMP/as.out"))"
fi

# --- 5. the zone is the operator's --------------------------------------------
"$gen" --gateway gw-z --prefix Z- --meters 2 --day 2026-03-10 "$GW_TMP/sz" >/dev/null
"$gwctl" upload --conninfo "$sock user=gw_z" "$GW_TMP/sz" >"$GW_TMP/upz.out" 2>&1
refused_file "$GW_TMP/sz" "batch of gateway gw-z for day 2026-03-10 is in time zone Asia/Ho_Chi_Minh, the gateway's zone is Europe/Berlin" \
	"a batch in another zone than the gateway's is refused with a message"
check_eq "$(q "SELECT timezone FROM gateways WHERE gateway_id = 'gw-z'")/$(q "SELECT count(*) FROM batch_ledger WHERE gateway_id = 'gw-z'")" \
	"Europe/Berlin/0" "the gateway's zone stays the operator's"
refused "a batch with an unknown zone is refused" gw_a "$(hand 2026-03-21 0 Mars/Olympus)" \
	"is in time zone Mars/Olympus, the gateway's zone is Asia/Ho_Chi_Minh"
if q "UPDATE gateways SET timezone = 'Nowhere/Land' WHERE gateway_id = 'gw-a'" | grep -q "gateway gw-a: Nowhere/Land is not a time zone PostgreSQL knows"; then
	ok "gateways.timezone holds only zones PostgreSQL knows"
else
	not_ok "gateways.timezone holds only zones PostgreSQL knows"
fi

# --- 6. batch size -----------------------------------------------------------
q "UPDATE gw_limits SET max_batch_interval_rows = 100" >/dev/null
"$gen" --gateway gw-a --prefix A- --meters 3 --day 2026-03-11 "$GW_TMP/s6" >/dev/null
"$gwctl" upload --conninfo "$ci_a" "$GW_TMP/s6" >"$GW_TMP/up6.out" 2>&1
refused_file "$GW_TMP/s6" "batch too large: 9 daily, 864 interval and 0 event rows \(the limits are 200000, 100 and 100000\)" \
	"a batch larger than the limits is refused with a message and set aside"
q "UPDATE gw_limits SET max_batch_interval_rows = DEFAULT" >/dev/null
check_eq "$(q "SELECT count(*) FROM batch_ledger WHERE day = '2026-03-11'")" 0 "nothing of it was loaded"

# --- 2. no gateway holds up another -------------------------------------------
# gw_a begins a batch for a month without a partition and keeps its
# transaction open (60 s); gw_b's loads, one of them for another new
# month, go through meanwhile.
cat >"$GW_TMP/hold.sql" <<'EOF'
SELECT gw_prepare_batch('2026-05-02', '2026-05-02 00:00Z', '2026-05-02 01:00Z');
BEGIN;
SELECT gw_stage_open();
INSERT INTO pg_temp.gw_stage (k, meter_id, obis, day, ts, ts2, v1, v2, v3, n1, n2, n3) VALUES
	('b', 'gw-a', 'Asia/Ho_Chi_Minh', '2026-05-02', '2026-05-02 00:00Z', '2026-05-02 01:00Z', 0, 7, 0, 0, 1, 0),
	('m', 'A-000001', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT * FROM gw_begin_batch(true);
INSERT INTO interval_readings_2026_05 (meter_id, obis, ts, value) VALUES ('A-000001', '1.8.0', '2026-05-02 00:15Z', 1);
SELECT 'holding', pg_sleep(60);
ROLLBACK;
EOF
psql -XqAt -U gw_a -f "$GW_TMP/hold.sql" >"$GW_TMP/hold.out" 2>&1 &
hold=$!
track_pid $hold
if wait_for 15 bash -c "psql -XAtc \"SELECT 1 FROM pg_stat_activity WHERE usename = 'gw_a' AND query LIKE '%pg_sleep(60)%' AND state = 'active'\" | grep -q 1"; then
	"$gen" --gateway gw-b --prefix B- --meters 2 --day 2026-06-01 "$GW_TMP/s2" >/dev/null
	"$gen" --gateway gw-b --prefix B- --meters 2 --day 2026-05-03 "$GW_TMP/s2" >/dev/null
	t0=$(date +%s)
	timeout 45 "$gwctl" upload --conninfo "$ci_b" "$GW_TMP/s2" >"$GW_TMP/up2.out" 2>&1
	rc=$?
	t=$(($(date +%s) - t0))
	check_eq "$rc/$(q "SELECT count(*) FROM batch_ledger WHERE gateway_id = 'gw-b'")/$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = 'gw_a' AND query LIKE '%pg_sleep(60)%'")" \
		"0/2/1" "while gw-a holds a batch's transaction open, gw-b's loads (one for a new month) finish (${t}s)"
else
	not_ok "gw-a's transaction is held open ($(head -c 300 "$GW_TMP/hold.out"))"
fi
kill "$hold" 2>/dev/null
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'gw_a'" >/dev/null

# A batch's transaction is bounded even when the session turned its own
# limits off: idle in the middle of a batch, it is ended by the server.
q "UPDATE gw_limits SET role_idle_timeout = '2s'" >/dev/null
cat >"$GW_TMP/idle.sql" <<EOF
SET idle_in_transaction_session_timeout = 0;
$(hand 2026-03-22 0 Asia/Ho_Chi_Minh | sed 's/ROLLBACK$//')
\\! sleep 4
SELECT 'still in the transaction';
EOF
psql -XqAt -U gw_a -f "$GW_TMP/idle.sql" >"$GW_TMP/idle.out" 2>&1
if grep -q "idle-in-transaction timeout" "$GW_TMP/idle.out" && ! grep -q "still in the transaction" "$GW_TMP/idle.out"; then
	ok "a gateway idle inside a batch's transaction is ended by the server, whatever it SET"
else
	not_ok "a gateway idle inside a batch's transaction is ended by the server ($(head -c 300 "$GW_TMP/idle.out"))"
fi
q "UPDATE gw_limits SET role_idle_timeout = DEFAULT" >/dev/null

# --- 3. an unassigned meter's data waits, with an alarm naming it ------------
"$gen" --gateway gw-b --prefix B- --meters 3 --day 2026-03-13 "$GW_TMP/s3" >/dev/null
upload_only_ini gw-b "$GW_TMP/s3" "$ci_b" >"$GW_TMP/gw3.ini"
# It is started again a simulated day later. A real clock would have the
# database's as a witness; a simulated one has none, and a day off is more
# than the default max_jump.
printf '\n[clock]\nmax_jump = 2d\n' >>"$GW_TMP/gw3.ini"
run_gatewayd "$GW_TMP/gw3.ini" "$GW_TMP/gw3.log" 2026-03-14T01:00:00Z 2026-03-14T01:03:00Z
check_eq "$(grep '^alarm=' "$GW_TMP/s3/status")/$(grep '^meters_unassigned=' "$GW_TMP/s3/status")" \
	"alarm=meter_unassigned/meters_unassigned=B-000003" "spool/status raises meter_unassigned and names the meter"
check_eq "$(ls "$GW_TMP/s3/done" | wc -l)/$(q "SELECT count(*) FROM daily_registers WHERE day = '2026-03-13'")/$(q "SELECT count(*) FROM held_daily_registers WHERE meter_id = 'B-000003'")/$(q "SELECT coalesce((SELECT gateway_id FROM meters WHERE meter_id = 'B-000003'), '-')")" \
	"1/6/3/-" "the batch loads, the unassigned meter's data is held and the meter belongs to no gateway"
"$gwctl" db claims --conninfo "$ci_op" >"$GW_TMP/claims.out" 2>&1
if grep -qE '^B-000003 +gw-b +2026-03-13 2026-03-13 -$' "$GW_TMP/claims.out"; then
	ok "gwctl db claims lists the meter and the gateway that reported it"
else
	not_ok "gwctl db claims lists the meter ($(cat "$GW_TMP/claims.out"))"
fi
check_cmd "the operator assigns it" "$gwctl" db assign B-000003 gw-b --conninfo "$ci_op"
check_eq "$(grep -c 'held rows loaded' "$GW_TMP/last.out")/$(q "SELECT count(*) FROM daily_registers WHERE meter_id = 'B-000003'")/$(q "SELECT count(*) FROM interval_readings WHERE meter_id = 'B-000003'")/$(q "SELECT count(*) FROM meter_claims")" \
	"1/3/288/0" "its held data joins the history, exactly"
"$gen" --gateway gw-b --prefix B- --meters 3 --day 2026-03-14 "$GW_TMP/s3" >/dev/null
run_gatewayd "$GW_TMP/gw3.ini" "$GW_TMP/gw3.log" 2026-03-15T02:00:00Z 2026-03-15T02:03:00Z
check_eq "$(grep '^alarm=' "$GW_TMP/s3/status")/$(q "SELECT count(*) FROM daily_registers WHERE day = '2026-03-14'")" \
	"alarm=none/9" "once assigned, the next day loads whole and the alarm ends"

# Meters nobody will assign (an installer's test meters): the operator
# discards what was held for them, one meter at a time.
"$gen" --gateway gw-a --prefix X- --meters 2 --day 2026-03-16 "$GW_TMP/sx" >/dev/null
"$gwctl" upload --conninfo "$ci_a" "$GW_TMP/sx" >"$GW_TMP/upx.out" 2>&1
check_eq "$(grep -c 'is not assigned to gateway gw-a' "$GW_TMP/upx.out")/$(q "SELECT count(*) FROM held_interval_readings WHERE meter_id LIKE 'X-%'")" \
	"2/576" "a batch of two unassigned meters loads, all of it held"
check_eq "$(psql -XqAt -U op1 -c "SELECT gw_discard_held('X-000001', 'gw-a')" 2>&1)/$(q "SELECT string_agg(DISTINCT meter_id, ',') FROM held_interval_readings WHERE meter_id LIKE 'X-%'")/$(q "SELECT string_agg(meter_id, ',') FROM meter_claims WHERE meter_id LIKE 'X-%'")" \
	"291/X-000002/X-000002" "gw_discard_held throws away one meter's held data and claim"

# An account changes holder; a gateway box is replaced.
check_cmd "gwctl db account: C-1 holds B-000001" "$gwctl" db account B-000001 C-1 --from 2026-03-01 --conninfo "$ci_op"
check_cmd "gwctl db account: C-2 from 2026-03-14" "$gwctl" db account B-000001 C-2 --from 2026-03-14 --conninfo "$ci_op"
check_eq "$(q "SELECT string_agg(customer_account || ':' || valid_from || ':' || coalesce(valid_to::text, ''), ',' ORDER BY valid_from) FROM meter_accounts WHERE meter_id = 'B-000001'")/$(q "SELECT customer_account FROM meters WHERE meter_id = 'B-000001'")" \
	"C-1:2026-03-01:2026-03-14,C-2:2026-03-14:/C-2" "the account history follows"
check_eq "$(psql -XqAt -U portal -c "SET gw.customer_account = 'C-1'; SELECT string_agg(day::text, ',' ORDER BY day) FROM daily_usage; SELECT count(*) FROM meters" 2>&1 | tr '\n' ' ')" \
	"2026-03-13 0 " "the former holder sees its own days, not the meter now"
check_eq "$(psql -XqAt -U portal -c "SET gw.customer_account = 'C-2'; SELECT string_agg(day::text, ',' ORDER BY day) FROM daily_usage; SELECT string_agg(meter_id, ',') FROM meters" 2>&1 | tr '\n' ' ')" \
	"2026-03-14,2026-05-03,2026-06-01 B-000001 " "the new holder sees its days and the meter"
check_cmd "a replaced box: gw-b is bound to a new role" "$gwctl" db gateway gw-b --role gw_b2
"$gen" --gateway gw-b --prefix B- --meters 2 --day 2026-03-15 "$GW_TMP/s3b" >/dev/null
if "$gwctl" upload --conninfo "$ci_b" "$GW_TMP/s3b" >"$GW_TMP/old.out" 2>&1 ||
	! grep -q "role gw_b may not load batches of gateway gw-b" "$GW_TMP/old.out"; then
	not_ok "the old box's role can no longer load ($(tail -1 "$GW_TMP/old.out"))"
else
	ok "the old box's role can no longer load"
fi
check_cmd "the new box's role loads" "$gwctl" upload --conninfo "$sock user=gw_b2" "$GW_TMP/s3b"

# --- 2. upload_stalled, and SIGTERM in the middle of a blocked upload ------------
# A session of the database's people holds a lock that the batch's
# transaction needs (the gateway waits: lock_timeout is 10 min here).
q "UPDATE gw_limits SET role_lock_timeout = '10min'" >/dev/null
"$gen" --gateway gw-a --prefix A- --meters 3 --day 2026-03-12 "$GW_TMP/s4" >/dev/null
upload_only_ini gw-a "$GW_TMP/s4" "$ci_a" "stall_after = 2s
lock_timeout = 600s" >"$GW_TMP/gw4.ini"
psql -XqAt -c "BEGIN; LOCK TABLE batch_ledger IN SHARE MODE; SELECT 'blocking', pg_sleep(300); ROLLBACK" >"$GW_TMP/block.out" 2>&1 &
block=$!
track_pid $block
wait_for 15 bash -c "psql -XAtc \"SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(300)%' AND state = 'active' AND pid <> pg_backend_pid()\" | grep -q 1" ||
	not_ok "the blocking session runs"
# The gateway's own [database] lock_timeout: a load that waits longer on a
# lock gives up (and is retried), rather than queueing others behind it.
upload_only_ini gw-a "$GW_TMP/s4" "$ci_a" "lock_timeout = 1s" >"$GW_TMP/gw5.ini"
run_gatewayd "$GW_TMP/gw5.ini" "$GW_TMP/gw5.log" 2026-03-13T01:00:00Z 2026-03-13T01:04:00Z
check_eq "$(grep -c 'canceling statement due to lock timeout' "$GW_TMP/gw5.log" | awk '{ print ($1 > 0) }')/$(ls "$GW_TMP/s4/ready" | wc -l)" \
	"1/1" "[database] lock_timeout bounds the gateway's wait for a lock"
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw4.ini" 2>"$GW_TMP/gw4.log" &
gw=$!
track_pid $gw
if wait_for 20 bash -c "psql -XAtc \"SELECT 1 FROM pg_stat_activity WHERE usename = 'gw_a' AND wait_event_type = 'Lock'\" | grep -q 1"; then
	ok "gatewayd's upload waits on the lock"
else
	not_ok "gatewayd's upload waits on the lock"
fi
# spool/status is rewritten about once a minute.
if wait_for 150 grep -q '^alarm=.*upload_stalled' "$GW_TMP/s4/status"; then
	ok "a pass that makes no progress raises upload_stalled ($(grep '^upload_stalled_s=' "$GW_TMP/s4/status"))"
else
	not_ok "a pass that makes no progress raises upload_stalled ($(grep '^alarm=' "$GW_TMP/s4/status" 2>/dev/null))"
fi
t0=$(date +%s%N)
kill -0 $gw 2>/dev/null || not_ok "gatewayd runs until SIGTERM"
kill -TERM $gw
if wait_pid_exit 10 $gw; then
	ok "SIGTERM stops gatewayd within a few seconds in the middle of the upload ($((($(date +%s%N) - t0) / 1000000)) ms)"
else
	not_ok "SIGTERM stops gatewayd within a few seconds in the middle of the upload"
fi
wait $gw
check_eq "$?/$(grep -c 'cancelling the upload in progress' "$GW_TMP/gw4.log")/$(grep -c 'cancelled, the gateway is stopping' "$GW_TMP/gw4.log")" \
	"0/1/1" "gatewayd cancelled the query, said so, and exited 0"
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(300)%' AND pid <> pg_backend_pid()" >/dev/null
wait_pid_exit 10 $block
check_eq "$(ls "$GW_TMP/s4/ready" | wc -l)/$(q "SELECT count(*) FROM batch_ledger WHERE day = '2026-03-12'")/$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = 'gw_a'")" \
	"1/0/0" "the cancelled batch is not in the database and still in ready/"
check_cmd "the next upload loads it" "$gwctl" upload --conninfo "$ci_a" "$GW_TMP/s4"
check_cmd "and once more changes nothing" "$gwctl" upload --conninfo "$ci_a" "$GW_TMP"/s4/done/*.gwb
check_eq "$(q "SELECT count(*) FROM batch_ledger WHERE day = '2026-03-12'")/$(q "SELECT count(*) FROM daily_registers WHERE day = '2026-03-12'")/$(q "SELECT count(*) FROM interval_readings WHERE meter_id LIKE 'A-%' AND ts >= '2026-03-11 17:00Z' AND ts < '2026-03-12 17:00Z'")" \
	"1/9/864" "nothing lost, nothing doubled"

# The same with a link that dies without a word in the middle of the
# blocked upload (a proxy stopped with SIGSTOP): the cancel request cannot
# reach the server either, and gatewayd still stops within seconds.
cert=$("$GW_TOP/tools/pgtmp.sh" cert "$pgdir" gw_a)
pport=$(free_port)
python3 "$GW_TOP/tests/integration/tcpproxy.py" "$pport" "$PGPORT" "$GW_TMP/proxy.ready" 2>"$GW_TMP/proxy.log" &
proxy=$!
track_pid $proxy
wait_for 10 test -e "$GW_TMP/proxy.ready" || not_ok "the TCP proxy runs"
"$gen" --gateway gw-a --prefix A- --meters 3 --day 2026-03-17 "$GW_TMP/s8" >/dev/null
upload_only_ini gw-a "$GW_TMP/s8" "host=127.0.0.1 port=$pport dbname=meters user=gw_a $cert sslrootcert=$pgdir/tls/ca.crt" \
	"lock_timeout = 600s" >"$GW_TMP/gw8.ini"
psql -XqAt -c "BEGIN; LOCK TABLE batch_ledger IN SHARE MODE; SELECT 'blocking', pg_sleep(301); ROLLBACK" >"$GW_TMP/block8.out" 2>&1 &
block=$!
track_pid $block
wait_for 15 bash -c "psql -XAtc \"SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(301)%' AND state = 'active' AND pid <> pg_backend_pid()\" | grep -q 1"
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw8.ini" 2>"$GW_TMP/gw8.log" &
gw=$!
track_pid $gw
if wait_for 20 bash -c "psql -XAtc \"SELECT 1 FROM pg_stat_activity WHERE usename = 'gw_a' AND wait_event_type = 'Lock'\" | grep -q 1"; then
	kill -STOP $proxy
	t0=$(date +%s%N)
	kill -TERM $gw
	if wait_pid_exit 10 $gw; then
		ok "with the link dead mid-upload, SIGTERM stops gatewayd within seconds ($((($(date +%s%N) - t0) / 1000000)) ms)"
	else
		not_ok "with the link dead mid-upload, SIGTERM stops gatewayd within seconds"
	fi
	wait $gw
	check_eq "$?" 0 "... and it exits 0"
else
	not_ok "gatewayd's upload through the proxy waits on the lock ($(tail -2 "$GW_TMP/gw8.log"))"
fi
kill -CONT $proxy
kill $proxy 2>/dev/null
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(301)%' AND pid <> pg_backend_pid()" >/dev/null
wait_pid_exit 10 $block
wait_for 20 bash -c "[ \"\$(psql -XAtc \"SELECT count(*) FROM pg_stat_activity WHERE usename = 'gw_a'\")\" = 0 ]"
check_eq "$(ls "$GW_TMP/s8/ready" | wc -l)/$(q "SELECT count(*) FROM batch_ledger WHERE day = '2026-03-17'")" \
	"1/0" "the batch cut off with the link is not in the database and still in ready/"
check_cmd "it loads afterwards" "$gwctl" upload --conninfo "$ci_a" "$GW_TMP/s8"
check_eq "$(q "SELECT count(*) FROM batch_ledger WHERE day = '2026-03-17'")/$(q "SELECT count(*) FROM daily_registers WHERE day = '2026-03-17'")" \
	"1/9" "once, whole"
q "UPDATE gw_limits SET role_lock_timeout = DEFAULT" >/dev/null

# --- 7. TLS: verify-full unless written otherwise --------------------------------
mkdir -p "$GW_TMP/home"
tcp="host=127.0.0.1 port=$PGPORT dbname=meters user=gw_a $cert"
if HOME=$GW_TMP/home "$gwctl" upload --conninfo "$tcp" "$GW_TMP"/s4/done/*.gwb >"$GW_TMP/tls1.out" 2>&1; then
	not_ok "TCP without sslmode and without a CA does not connect"
else
	check_eq "$(grep -c 'TCP connection without sslmode: verify-full is the default and needs the server' "$GW_TMP/tls1.out")/$(grep -c 'root certificate file' "$GW_TMP/tls1.out")" \
		"1/1" "TCP without sslmode and without a CA does not connect, and says why"
fi
printf '[gateway]\nid = gw-a\ntimezone = Asia/Ho_Chi_Minh\nspool_dir = %s\n[database]\nconninfo = %s\n' \
	"$GW_TMP/s4" "$tcp" >"$GW_TMP/tls.ini"
HOME=$GW_TMP/home "$GW_BUILD/gatewayd" -c "$GW_TMP/tls.ini" --check >"$GW_TMP/tls2.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && [ "$(wc -l <"$GW_TMP/tls2.out")" -eq 1 ] &&
	grep -q "tls.ini:6: conninfo: TCP connection without sslmode" "$GW_TMP/tls2.out"; then
	ok "gatewayd refuses to start with a one-line explanation"
else
	not_ok "gatewayd refuses to start with a one-line explanation (exit $rc: $(head -3 "$GW_TMP/tls2.out"))"
fi
# The [database] limits: a wrong value is named with file:line.
bad=0
for kv in "statement_timeout = 0|1s..1d" "lock_timeout = 2h|1s..1h" \
	"idle_in_transaction_timeout = soon|1s..1h" "stall_after = 2d|1s..1d"; do
	printf '[gateway]\nid = gw-a\ntimezone = Asia/Ho_Chi_Minh\nspool_dir = %s\n[database]\n%s\n' \
		"$GW_TMP/s4" "${kv%%|*}" >"$GW_TMP/bad.ini"
	"$GW_BUILD/gatewayd" -c "$GW_TMP/bad.ini" --check >"$GW_TMP/bad.out" 2>&1
	rc=$?
	key=${kv%% =*}
	if [ $rc -ne 2 ] || ! grep -q "bad.ini:6: $key: '.*' is not a duration in ${kv##*|}" "$GW_TMP/bad.out"; then
		bad=1
		echo "# $kv: exit $rc: $(head -2 "$GW_TMP/bad.out")"
	fi
done
[ $bad = 0 ] && ok "a wrong [database] limit is refused with file:line" ||
	not_ok "a wrong [database] limit is refused with file:line"
check_cmd "TCP without sslmode, with the CA, connects (verify-full)" \
	env HOME="$GW_TMP/home" "$gwctl" upload --conninfo "$tcp sslrootcert=$pgdir/tls/ca.crt" "$GW_TMP"/s4/done/*.gwb
if HOME=$GW_TMP/home "$gwctl" upload --conninfo "host=wrong-name.example hostaddr=127.0.0.1 port=$PGPORT dbname=meters user=gw_a $cert sslrootcert=$pgdir/tls/ca.crt" \
	"$GW_TMP"/s4/done/*.gwb >"$GW_TMP/tls3.out" 2>&1 || ! grep -q "does not match host name" "$GW_TMP/tls3.out"; then
	not_ok "without sslmode the server's name is checked (verify-full) ($(tail -1 "$GW_TMP/tls3.out"))"
else
	ok "without sslmode the server's name is checked (verify-full)"
fi
check_cmd "sslmode=require written explicitly connects" \
	env HOME="$GW_TMP/home" "$gwctl" upload --conninfo "$tcp sslmode=require" "$GW_TMP"/s4/done/*.gwb
if grep -q "warn: database: sslmode=require: the database server's identity is not verified; use sslmode=verify-full" "$GW_TMP/last.out"; then
	ok "... with a warning at start"
else
	not_ok "... with a warning at start ($(head -2 "$GW_TMP/last.out"))"
fi
finish
